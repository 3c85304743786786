//! `vigil stripe resync`: pulls customers' subscriptions and invoices from Stripe and repairs the mirror,
//! for when webhooks were missed. Every repair is audited (actor `system`) and reported.

use chrono::Utc;

use super::duplicates;
use super::mirror::{self, Applied};
use super::model::SubscriptionStatus;
use super::store;
use crate::audit::model::{AuditActor, AuditEvent};
use crate::db::{self, DbPool, write_transaction};
use crate::error::ApiError;
use crate::ids::CompanyId;
use crate::stripe::StripeSetup;
use crate::stripe::objects::StripeSubscription;

/// What a resync found and fixed.
#[derive(Debug, Default)]
pub struct ResyncReport {
    pub companies: usize,
    /// One line per repair.
    pub repairs: Vec<String>,
}

fn system_actor(company: &CompanyId) -> AuditActor {
    AuditActor::system(company, "resync")
}

/// The plan subscription that describes the company now: a live one if any (the newest, the one
/// [`duplicates::split_live`] keeps), else the newest. Subscriptions that are not Vigil plans are left out.
fn current(setup: &StripeSetup, subscriptions: Vec<StripeSubscription>) -> Option<StripeSubscription> {
    let live = |s: &StripeSubscription| SubscriptionStatus::from_stripe(&s.status).is_live();
    subscriptions
        .into_iter()
        .filter(|s| setup.is_plan(s))
        .max_by(|a, b| (live(a), a.created, &a.id).cmp(&(live(b), b.created, &b.id)))
}

/// Resyncs every company linked to Stripe, or only `only`.
pub async fn resync(pool: &DbPool, setup: &StripeSetup, only: Option<CompanyId>) -> Result<ResyncReport, ApiError> {
    let gateway = setup.gateway()?;
    let companies = db::run(pool, move |conn| Ok(store::companies_for_resync(conn, only.as_ref())?)).await?;
    let mut report = ResyncReport { companies: companies.len(), ..ResyncReport::default() };
    for (company, customer, email) in companies {
        let customer = match customer {
            Some(customer) => customer,
            None => match discover_customer(pool, gateway, &company, email.as_deref()).await? {
                Some(customer) => {
                    report.repairs.push(format!("company {company}: linked its Stripe customer {customer}"));
                    customer
                }
                None => continue,
            },
        };
        // What is read is stamped with the time before the reads, never with the time of the write: an
        // event applied while they were in flight is newer and is kept.
        let read_at = Utc::now().timestamp();
        let subscriptions = gateway.list_subscriptions(&customer).await?;
        let invoices = gateway.list_invoices(&customer).await?;
        let (kept, losers) = duplicates::split_live(setup, &subscriptions);
        let cancelled = duplicates::cancel_losers(gateway, kept, &losers).await?;
        // The customer itself: the email and the one tax id Vigil stores, and no other.
        // A failure here is this company's alone (say, Stripe refusing its email): reported, and the
        // sweep tries again; the subscription and the other companies are still repaired.
        match super::customer_sync::converge(pool, gateway, &company).await {
            Ok(converged) => report.repairs.extend(converged.repairs),
            Err(failure) => report
                .repairs
                .push(format!("company {company}: could not bring its customer to what Vigil stores: {failure}")),
        }
        let kept = kept.cloned();
        let subscription = current(setup, subscriptions);
        let setup = setup.clone();
        let company_id = company.clone();
        let repairs = db::run(pool, move |conn| {
            write_transaction(conn, |conn| {
                crate::db::lock_company(conn, &company)?;
                let now = read_at;
                let actor = system_actor(&company);
                let mut repairs = Vec::new();
                if let Some(kept) = &kept {
                    for loser in &cancelled {
                        repairs.push(duplicates::record_cancelled(conn, &setup, &company, &actor, loser, kept)?);
                    }
                }
                if let Some(subscription) = &subscription
                    && let Applied::Changed { before: Some(before), after } = mirror::apply_subscription(conn, &setup, &company, subscription, now, mirror::News::Fetched)?
                {
                    let summary = |row: &super::model::SubscriptionRow| (row.tier_code.clone(), row.status.clone(), row.auto_renew, row.current_period_end, row.stripe_subscription_id.clone());
                    if summary(&before) != summary(&after) {
                        let line = format!(
                            "company {company}: subscription {} was {} {} and is {} {}",
                            subscription.id, before.tier_code, before.status, after.tier_code, after.status
                        );
                        crate::audit::record(conn, &actor, AuditEvent::new("billing.resync_repaired").target("subscription", &subscription.id).details(serde_json::json!({
                            "from": {"tier": before.tier_code, "status": before.status, "auto_renew": before.auto_renew},
                            "to": {"tier": after.tier_code, "status": after.status, "auto_renew": after.auto_renew},
                        })))?;
                        repairs.push(line);
                    }
                }
                for invoice in &invoices {
                    if let Applied::Changed { before, after } = mirror::apply_invoice(conn, &company, invoice, now)? {
                        let differs = before.as_ref().is_none_or(|b| (b.status.as_str(), b.amount_paid, b.amount_due) != (after.status.as_str(), after.amount_paid, after.amount_due));
                        if differs {
                            let was = before.as_ref().map(|b| b.status.clone()).unwrap_or_else(|| "missing".to_owned());
                            crate::audit::record(conn, &actor, AuditEvent::new("billing.resync_repaired").target("invoice", &invoice.id).details(serde_json::json!({"from": was, "to": after.status})))?;
                            repairs.push(format!("company {company}: invoice {} was {was} and is {}", invoice.id, after.status));
                        }
                    }
                }
                Ok::<_, ApiError>(repairs)
            })
        })
        .await?;
        report.repairs.extend(repairs);
        // After the subscription: its default payment method is the first the card is read from.
        if let Err(error) = super::card::refresh(pool, gateway, &company_id).await {
            report.repairs.push(format!("company {company_id}: could not read its card on file: {error}"));
        }
    }
    Ok(report)
}

/// Finds a customer Vigil created for the company but never linked (a crash between the two, or a missed
/// `checkout.session.completed`) by the billing email and the company id in its metadata, and links it.
async fn discover_customer(
    pool: &DbPool,
    gateway: &crate::stripe::StripeGateway,
    company: &CompanyId,
    email: Option<&str>,
) -> Result<Option<String>, ApiError> {
    let Some(email) = email else { return Ok(None) };
    let Some(found) = gateway.find_customers(email, company.as_str()).await?.into_iter().next() else {
        return Ok(None);
    };
    let company = company.clone();
    db::run(pool, move |conn| {
        write_transaction(conn, |conn| {
            let linked = store::link_customer(conn, &company, &found)?;
            crate::audit::record(
                conn,
                &system_actor(&company),
                AuditEvent::new("billing.resync_repaired")
                    .target("company", &company)
                    .details(serde_json::json!({"linked_customer": linked})),
            )?;
            Ok(Some(linked))
        })
    })
    .await
}

/// The command line's entry: parses the company id and runs the resync.
pub async fn resync_command(pool: &DbPool, setup: &StripeSetup, company: Option<&str>) -> anyhow::Result<ResyncReport> {
    let only = match company {
        Some(text) => Some(CompanyId::parse(text).ok_or_else(|| anyhow::anyhow!("{text:?} is not a company id"))?),
        None => None,
    };
    resync(pool, setup, only)
        .await
        .map_err(|error| anyhow::anyhow!("resync failed: {error}: {}", error.problem().detail))
}
