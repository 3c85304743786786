//! One live subscription per company. Two completed Checkouts (two tabs, a double click) give two billed
//! subscriptions at Stripe; whenever Vigil sees that, the newest (by Stripe's `created`, then by id) is kept
//! and the others are cancelled at once with the unused time credited, audited and alerted to the owners.
//! Webhooks and the resync both come here; the decision is made on what Stripe says now, never on the
//! order events arrived in.

use chrono::Utc;

use super::mirror::{self, Applied};
use super::model::SubscriptionStatus;
use crate::alerts::model::{AlertType, NewAlert};
use crate::audit::model::{AuditActor, AuditEvent};
use crate::db::{self, DbConn, DbPool, write_transaction};
use crate::error::ApiError;
use crate::ids::CompanyId;
use crate::stripe::objects::StripeSubscription;
use crate::stripe::{StripeFailure, StripeGateway, StripeSetup};

fn is_live(subscription: &StripeSubscription) -> bool {
    SubscriptionStatus::from_stripe(&subscription.status).is_live()
}

/// The live plan subscription to keep and the live ones to cancel: the newest by `created`, then by id,
/// wins. Subscriptions that are not one of Vigil's plans ([`StripeSetup::is_plan`]) are never either.
pub fn split_live<'a>(
    setup: &StripeSetup,
    subscriptions: &'a [StripeSubscription],
) -> (Option<&'a StripeSubscription>, Vec<&'a StripeSubscription>) {
    let mut live: Vec<&StripeSubscription> = subscriptions.iter().filter(|s| is_live(s) && setup.is_plan(s)).collect();
    live.sort_by(|a, b| (a.created, a.id.as_str()).cmp(&(b.created, b.id.as_str())));
    let winner = live.pop();
    (winner, live)
}

/// Whether a losing subscription's current period was paid, so that cancelling it credits the unused time.
/// A PAST_DUE one was not: crediting it would hand the customer money never paid.
pub fn was_paid(subscription: &StripeSubscription) -> bool {
    matches!(subscription.status.as_str(), "active" | "trialing")
}

/// Cancels each loser at Stripe now, crediting the unused time of a paid period; returns the cancelled
/// subscriptions as Stripe answered, each with whether it was credited. One that Stripe refuses to cancel
/// (cancelled meanwhile by another instance, say) is skipped. Cancelling stops Stripe's automatic
/// collection of every open invoice of the customer, so it is turned back on for the kept subscription's.
pub async fn cancel_losers(
    gateway: &StripeGateway,
    kept: Option<&StripeSubscription>,
    losers: &[&StripeSubscription],
) -> Result<Vec<Cancelled>, ApiError> {
    // What Stripe collects of the kept subscription now: only that is turned back on after, never an
    // invoice whose collection was off before (paused in the Dashboard, or after Stripe's last retry).
    let collecting = match kept.filter(|_| !losers.is_empty()) {
        Some(kept) => collected_invoices(gateway, kept).await.unwrap_or_else(|error| {
            log::warn!("could not list the invoices of subscription {}: {error}", kept.id);
            Vec::new()
        }),
        None => Vec::new(),
    };
    let mut cancelled = Vec::new();
    for loser in losers {
        let credited = was_paid(loser);
        // Best effort: a failure leaves an invoice open, never the duplicate live.
        if !credited && let Err(error) = void_open_invoices(gateway, loser).await {
            log::warn!("could not void the open invoices of the duplicate subscription {}: {error}", loser.id);
        }
        match gateway.cancel_subscription_now(&loser.id, credited).await {
            Ok(done) => cancelled
                .push(Cancelled { subscription: StripeSubscription { created: loser.created, ..done }, credited }),
            Err(StripeFailure::Rejected { status, message }) => {
                log::warn!("Stripe would not cancel the duplicate subscription {} ({status}): {message}", loser.id);
            }
            Err(other) => return Err(other.into()),
        }
    }
    if !cancelled.is_empty()
        && let Err(error) = resume_collection(gateway, &collecting).await
    {
        // Left off, the invoice waits for the customer to pay it on its page.
        log::warn!("could not turn collection back on for the kept subscription's invoices: {error}");
    }
    Ok(cancelled)
}

/// The open invoices of `kept` that Stripe collects by itself.
async fn collected_invoices(gateway: &StripeGateway, kept: &StripeSubscription) -> Result<Vec<String>, ApiError> {
    let Some(customer) = kept.customer.as_deref() else { return Ok(Vec::new()) };
    let invoices = gateway.list_invoices(customer).await?;
    Ok(invoices
        .into_iter()
        .filter(|invoice| {
            invoice.subscription_id().as_deref() == Some(kept.id.as_str())
                && invoice.status.as_deref() == Some("open")
                && invoice.auto_advance == Some(true)
        })
        .map(|invoice| invoice.id)
        .collect())
}

/// Turns Stripe's automatic collection back on for `invoices` (by default, cancelling any subscription
/// turns it off for every open invoice of the customer).
async fn resume_collection(gateway: &StripeGateway, invoices: &[String]) -> Result<(), ApiError> {
    for invoice in invoices {
        let key = format!("vigil-resume-collection-{invoice}");
        match gateway.resume_collection(invoice, &key).await {
            Ok(()) => {}
            // Paid or voided meanwhile.
            Err(StripeFailure::Rejected { status, message }) => {
                log::warn!("Stripe would not collect invoice {invoice} again ({status}): {message}");
            }
            Err(other) => return Err(other.into()),
        }
    }
    Ok(())
}

/// Voids the open invoices of an unpaid duplicate before it is cancelled: what it asked to be paid is owed
/// no more, and an invoice left open would stay payable (and its PAYMENT_FAILED alert would keep asking).
async fn void_open_invoices(gateway: &StripeGateway, loser: &StripeSubscription) -> Result<(), ApiError> {
    let Some(customer) = loser.customer.as_deref() else { return Ok(()) };
    let open = gateway.list_invoices(customer).await?.into_iter().filter(|invoice| {
        invoice.subscription_id().as_deref() == Some(loser.id.as_str()) && invoice.status.as_deref() == Some("open")
    });
    for invoice in open {
        let key = format!("vigil-void-duplicate-{}", invoice.id);
        match gateway.void_invoice(&invoice.id, &key).await {
            Ok(()) => {}
            // Paid or voided meanwhile: nothing left to void.
            Err(StripeFailure::Rejected { status, message }) => {
                log::warn!("Stripe would not void invoice {} of the duplicate ({status}): {message}", invoice.id);
            }
            Err(other) => return Err(other.into()),
        }
    }
    Ok(())
}

/// A duplicate cancelled at Stripe, and whether its unused time was credited.
#[derive(Debug, Clone)]
pub struct Cancelled {
    pub subscription: StripeSubscription,
    pub credited: bool,
}

/// Audits a cancelled duplicate and alerts the owners, in the caller's transaction; returns a one-line summary.
pub fn record_cancelled(
    conn: &mut DbConn,
    setup: &StripeSetup,
    company: &CompanyId,
    actor: &AuditActor,
    loser: &Cancelled,
    kept: &StripeSubscription,
) -> Result<String, ApiError> {
    let cancelled = &loser.subscription;
    let tier = |s: &StripeSubscription| {
        s.price_id().and_then(|price| setup.tier_of_price(price)).map(|tier| tier.as_str()).unwrap_or("unknown")
    };
    crate::audit::record(
        conn,
        actor,
        AuditEvent::new("billing.duplicate_subscription_cancelled").target("subscription", &cancelled.id).details(
            serde_json::json!({
                "cancelled": {"subscription": cancelled.id, "tier": tier(cancelled), "created": cancelled.created},
                "kept": {"subscription": kept.id, "tier": tier(kept), "created": kept.created},
                "prorated": loser.credited,
            }),
        ),
    )?;
    crate::alerts::service::raise(
        conn,
        company,
        NewAlert {
            kind: AlertType::DuplicateSubscriptionCancelled,
            title: "A duplicate subscription was cancelled".to_owned(),
            message: format!(
                "The company had two paid subscriptions. The older one ({}) was cancelled{}; the newer one ({}) is kept.",
                tier(cancelled),
                if loser.credited { " and its unused time credited" } else { " (its unpaid period is not credited)" },
                tier(kept)
            ),
            employee: None,
            data: serde_json::json!({
                "cancelled_subscription_id": cancelled.id,
                "kept_subscription_id": kept.id,
                "tier": tier(kept),
            }),
            dedup_key: format!("duplicate_subscription_cancelled:{}", cancelled.id),
        },
    )?;
    Ok(format!("company {company}: cancelled the duplicate subscription {} and kept {}", cancelled.id, kept.id))
}

/// Reads `candidates` from Stripe and, if more than one is live, keeps the newest and cancels the others,
/// then mirrors the kept one as read (stamped with the time before the read, under the company lock).
pub async fn resolve(
    pool: &DbPool,
    setup: &StripeSetup,
    company: &CompanyId,
    candidates: &[String],
) -> Result<Vec<String>, ApiError> {
    let gateway = setup.gateway()?;
    let read_at = Utc::now().timestamp();
    let mut subscriptions = Vec::new();
    for id in candidates {
        subscriptions.push(gateway.retrieve_subscription(id).await?);
    }
    let (Some(kept), losers) = split_live(setup, &subscriptions) else { return Ok(Vec::new()) };
    if losers.is_empty() {
        return Ok(Vec::new());
    }
    let cancelled = cancel_losers(gateway, Some(kept), &losers).await?;
    let (setup, company, kept) = (setup.clone(), company.clone(), kept.clone());
    db::run(pool, move |conn| {
        write_transaction(conn, |conn| {
            crate::db::lock_company(conn, &company)?;
            let applied = mirror::apply_subscription(conn, &setup, &company, &kept, read_at, mirror::News::Fetched)?;
            let actor = AuditActor::system(&company, "billing");
            let mut lines = Vec::new();
            for loser in &cancelled {
                lines.push(record_cancelled(conn, &setup, &company, &actor, loser, &kept)?);
            }
            if let Applied::Changed { .. } = applied {
                let tier = crate::billing::service::effective_tier(conn, &company)?;
                crate::billing::usage::check_current_usage(conn, &company, &tier)?;
            }
            Ok(lines)
        })
    })
    .await
}
