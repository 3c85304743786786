//! Billing changes that go through Stripe. Each one calls Stripe first and changes the mirror only once
//! Stripe has confirmed, so a failed call leaves nothing half-written; each change is audited.

use chrono::Utc;

use super::mirror::{self, Applied};
use super::model::{CheckoutSessionRow, CheckoutStatus, RedirectUrl, Subscription, SubscriptionRow, TierCode};
use super::{service, store};
use crate::audit::model::{AuditActor, AuditEvent};
use crate::db::{self, DbPool, write_transaction};
use crate::error::ApiError;
use crate::ids::CompanyId;
use crate::stripe::objects::{StripeInvoice, StripeSubscription};
use crate::stripe::{StripeFailure, StripeSetup};

/// Who is changing billing, for what company, and where the browser comes back to.
pub struct BillingActor {
    pub company: CompanyId,
    pub audit: AuditActor,
}

/// A fresh idempotency key for one operation; retries of that operation reuse it.
pub(super) fn operation_key(operation: &str, company: &CompanyId) -> String {
    format!("vigil-{operation}-{company}-{}", uuid::Uuid::new_v4().simple())
}

pub(super) fn no_subscription() -> ApiError {
    ApiError::Conflict {
        code: "no_subscription",
        detail:
            "The company has no paid subscription; start one through Checkout (POST /api/v1/billing/checkout-session)."
                .to_owned(),
    }
}

pub(super) async fn subscription_row(pool: &DbPool, company: &CompanyId) -> Result<SubscriptionRow, ApiError> {
    let company = company.clone();
    db::run(pool, move |conn| Ok(store::find_subscription(conn, &company)?)).await
}

/// The company's Stripe customer, created the first time it is needed (email, name, company id in metadata).
pub async fn ensure_customer(pool: &DbPool, setup: &StripeSetup, actor: &BillingActor) -> Result<String, ApiError> {
    let gateway = setup.gateway()?;
    let company = actor.company.clone();
    let row = db::run(pool, move |conn| Ok(crate::companies::find_company(conn, &company)?)).await?;
    if let Some(customer) = row.stripe_customer_id {
        return Ok(customer);
    }
    let email = row.billing_email.clone().unwrap_or_default();
    // The same key for the same request: two simultaneous first uses get one customer from Stripe. The
    // parameters are part of it, since Stripe refuses a key reused with other parameters.
    let key = format!(
        "vigil-customer-{}-{}",
        actor.company,
        &crate::crypto::sha256_hex(&format!("{email}\n{}", row.name))[..16]
    );
    let created = gateway.create_customer(&row.id, &email, &row.name, &key).await?;
    let (company, audit) = (actor.company.clone(), actor.audit.clone());
    db::run(pool, move |conn| {
        write_transaction(conn, |conn| {
            let linked = store::link_customer(conn, &company, &created)?;
            if linked == created {
                crate::audit::record(
                    conn,
                    &audit,
                    AuditEvent::new("billing.customer_created")
                        .target("company", &company)
                        .details(serde_json::json!({"stripe_customer_id": created})),
                )?;
            }
            Ok(linked)
        })
    })
    .await
}

/// A Checkout Session for a paid tier; refused while a paid subscription is live (change the plan instead).
/// One Checkout is open per company at a time: an open session for the same tier is handed out again, and
/// one for another tier is expired at Stripe first, so two tabs or a double click cannot pay twice.
pub async fn start_checkout(
    pool: &DbPool,
    setup: &StripeSetup,
    public_url: &str,
    actor: &BillingActor,
    tier: TierCode,
) -> Result<RedirectUrl, ApiError> {
    let gateway = setup.gateway()?;
    let price =
        setup.price_of(tier).ok_or_else(|| ApiError::invalid_field("tier", "choose a paid tier: PRO or ENTERPRISE"))?;
    if subscription_row(pool, &actor.company).await?.has_live_stripe_subscription() {
        return Err(subscription_exists());
    }
    let customer = ensure_customer(pool, setup, actor).await?;
    // The mirror may lag: a Checkout completed in another tab whose events have not arrived yet, or whose
    // processing failed. Stripe knows; a second payment page would bill twice.
    let read_at = Utc::now().timestamp();
    let at_stripe = gateway.list_subscriptions(&customer).await?;
    if let Some(live) = super::duplicates::split_live(setup, &at_stripe).0.cloned() {
        // Mirrored now (stamped before the read, under the lock), so that the answer's advice to change the
        // plan instead works at once rather than after the missing events or a resync.
        let (setup, company) = (setup.clone(), actor.company.clone());
        db::run(pool, move |conn| {
            write_transaction(conn, |conn| {
                crate::db::lock_company(conn, &company)?;
                mirror::apply_subscription(conn, &setup, &company, &live, read_at, mirror::News::Fetched)?;
                Ok::<_, ApiError>(())
            })
        })
        .await?;
        return Err(subscription_exists());
    }
    if let Some(url) = settle_open_checkouts(pool, gateway, &actor.company, tier).await? {
        return Ok(RedirectUrl { url });
    }
    let company = actor.company.to_string();
    let success_url = format!("{public_url}/billing/success?session_id={{CHECKOUT_SESSION_ID}}");
    let cancel_url = format!("{public_url}/billing/upgrade?checkout=cancelled");
    let request = crate::stripe::gateway::CheckoutRequest {
        customer: &customer,
        price,
        company_id: &company,
        success_url: &success_url,
        cancel_url: &cancel_url,
    };
    let session = gateway.create_checkout_session(&request, &operation_key("checkout", &actor.company)).await?;
    let (company, audit, url) = (actor.company.clone(), actor.audit.clone(), session.url.clone());
    db::run(pool, move |conn| {
        write_transaction(conn, |conn| {
            let now = crate::db::now();
            let expires_at = session
                .expires_at
                .and_then(crate::stripe::objects::timestamp)
                .unwrap_or(now + chrono::Duration::hours(24));
            store::insert_checkout_session(
                conn,
                &CheckoutSessionRow {
                    id: uuid::Uuid::now_v7().to_string(),
                    company_id: company.to_string(),
                    stripe_session_id: session.id.clone(),
                    tier_code: tier.as_str().to_owned(),
                    url: session.url.clone(),
                    status: CheckoutStatus::Open.as_str().to_owned(),
                    expires_at,
                    created_at: now,
                    updated_at: now,
                },
            )?;
            crate::audit::record(
                conn,
                &audit,
                AuditEvent::new("billing.checkout_started")
                    .target("checkout_session", session.id.clone())
                    .details(serde_json::json!({"tier": tier})),
            )?;
            Ok::<_, ApiError>(())
        })
    })
    .await?;
    Ok(RedirectUrl { url })
}

fn subscription_exists() -> ApiError {
    ApiError::Conflict {
        code: "subscription_exists",
        detail: "The company already has a paid subscription; change the plan with PUT /api/v1/billing/subscription."
            .to_owned(),
    }
}

/// Deals with the company's open Checkout sessions before a new one: returns the URL of an open one for
/// `tier`, after expiring at Stripe those for another tier. A session that completed meanwhile means a
/// subscription is on its way: that is a conflict, not a second Checkout.
async fn settle_open_checkouts(
    pool: &DbPool,
    gateway: &crate::stripe::StripeGateway,
    company: &CompanyId,
    tier: TierCode,
) -> Result<Option<String>, ApiError> {
    let scoped = company.clone();
    let open = db::run(pool, move |conn| Ok(store::open_checkout_sessions(conn, &scoped, crate::db::now())?)).await?;
    let mut reusable = None;
    for session in open {
        if session.tier_code == tier.as_str() && reusable.is_none() {
            reusable = Some(session.url);
            continue;
        }
        let key = format!("vigil-checkout-expire-{}", session.stripe_session_id);
        let status = match gateway.expire_checkout_session(&session.stripe_session_id, &key).await {
            Ok(_) => CheckoutStatus::Expired,
            // Only an open session can be expired: see what became of it.
            Err(StripeFailure::Rejected { .. }) => {
                match gateway.retrieve_checkout_session(&session.stripe_session_id).await?.status.as_str() {
                    "complete" => CheckoutStatus::Complete,
                    "expired" => CheckoutStatus::Expired,
                    _ => return Err(ApiError::StripeUnavailable(anyhow::anyhow!("could not expire an open Checkout"))),
                }
            }
            Err(other) => return Err(other.into()),
        };
        let (scoped, stripe_id) = (company.clone(), session.stripe_session_id.clone());
        db::run(pool, move |conn| {
            Ok(store::close_checkout_session(conn, &scoped, &stripe_id, status, crate::db::now())?)
        })
        .await?;
        if status == CheckoutStatus::Complete {
            return Err(subscription_exists());
        }
    }
    Ok(reusable)
}

/// A Stripe Billing Portal session (payment method, invoices), returning to the billing settings.
pub async fn open_portal(
    pool: &DbPool,
    setup: &StripeSetup,
    public_url: &str,
    actor: &BillingActor,
) -> Result<RedirectUrl, ApiError> {
    let gateway = setup.gateway()?;
    let customer = ensure_customer(pool, setup, actor).await?;
    let return_url = format!("{public_url}/billing/settings");
    let url = gateway.create_portal_session(&customer, &return_url, &operation_key("portal", &actor.company)).await?;
    Ok(RedirectUrl { url })
}

/// Mirrors what Stripe answered and records the change, in one transaction under the company lock. The
/// answer is stamped `read_at`, taken before the call: an event Stripe sent meanwhile is newer and wins.
/// The subscription's newest invoice is mirrored too when Stripe sent it expanded (the invoice of a plan
/// change), so the payment history shows it at once.
/// `scheduled` records the downgrade a subscription schedule just made (schedule, tier, when).
pub(super) async fn mirror_and_audit(
    pool: &DbPool,
    setup: &StripeSetup,
    actor: &BillingActor,
    (subscription, read_at): (StripeSubscription, i64),
    scheduled: Option<(String, TierCode, chrono::NaiveDateTime)>,
    event: AuditEvent<'static>,
) -> Result<Subscription, ApiError> {
    let (setup, company, audit) = (setup.clone(), actor.company.clone(), actor.audit.clone());
    db::run(pool, move |conn| {
        write_transaction(conn, |conn| {
            crate::db::lock_company(conn, &company)?;
            let row = match mirror::apply_subscription(
                conn,
                &setup,
                &company,
                &subscription,
                read_at,
                mirror::News::Fetched,
            )? {
                Applied::Changed { after, .. } => after,
                Applied::Stale => store::find_subscription(conn, &company)?,
            };
            if let Some(invoice) = subscription.latest_invoice.as_ref().and_then(StripeInvoice::from_json) {
                mirror::apply_invoice(conn, &company, &invoice, read_at)?;
            }
            let row = match &scheduled {
                Some((schedule, tier, at)) => mirror::record_scheduled_change(conn, &company, schedule, *tier, *at)?,
                None => row,
            };
            store::set_plan_change(conn, &company, None)?;
            crate::audit::record(conn, &audit, event.target("subscription", subscription.id.clone()))?;
            if row.auto_renew {
                crate::alerts::service::resolve_all_of(
                    conn,
                    &company,
                    crate::alerts::model::AlertType::SubscriptionExpiring,
                )?;
            }
            let tier = crate::billing::service::effective_tier(conn, &company)?;
            crate::billing::usage::check_current_usage(conn, &company, &tier)?;
            Ok(service::subscription_view(&row, crate::db::now()))
        })
    })
    .await
}

/// Releases the subscription's schedule, dropping the downgrade it would make: any other change of the plan
/// replaces a scheduled one. A cancellation the schedule makes is kept (a customer who cancelled is not
/// renewed by a later change). One Stripe already released (by another request, or in the Dashboard) is done.
pub(super) async fn release_schedule(
    gateway: &crate::stripe::StripeGateway,
    row: &SubscriptionRow,
) -> Result<(), ApiError> {
    release_schedule_ending(gateway, row, true).await
}

/// Releases the schedule, keeping the cancellation date it set (`preserve_cancel_date`) or not.
async fn release_schedule_ending(
    gateway: &crate::stripe::StripeGateway,
    row: &SubscriptionRow,
    preserve_cancel_date: bool,
) -> Result<(), ApiError> {
    let Some(schedule) = row.stripe_schedule_id.as_deref() else { return Ok(()) };
    let key = format!("vigil-schedule-release-{schedule}-{preserve_cancel_date}");
    match gateway.release_schedule(schedule, preserve_cancel_date, &key).await {
        Ok(()) | Err(StripeFailure::Rejected { status: 400 | 404, .. }) => Ok(()),
        Err(other) => Err(other.into()),
    }
}

async fn set_renewal(
    pool: &DbPool,
    setup: &StripeSetup,
    actor: &BillingActor,
    renew: bool,
) -> Result<Subscription, ApiError> {
    let gateway = setup.gateway()?;
    let row = subscription_row(pool, &actor.company).await?;
    let Some(subscription) = row.stripe_subscription_id.as_deref().filter(|_| row.has_live_stripe_subscription())
    else {
        return Err(no_subscription());
    };
    if renew && row.auto_renew {
        // Renewing already: nothing to resume, and a scheduled downgrade stays as it is.
        return Ok(service::subscription_view(&row, crate::db::now()));
    }
    let operation = if renew { "resume" } else { "cancel" };
    let key = operation_key(operation, &actor.company);
    let mut details = serde_json::json!({"at_period_end": !renew});
    let read_at = Utc::now().timestamp();
    let updated = match (renew, row.stripe_schedule_id.as_deref()) {
        // Stripe refuses `cancel_at_period_end` on a subscription a schedule manages. The schedule ends it
        // instead, in one call that also drops a scheduled downgrade: two calls (release, then cancel)
        // could stop halfway and leave the subscription renewing on the higher plan.
        (false, Some(schedule)) => {
            let read = abandon_pending_change(gateway, subscription, &mut details).await?;
            // The period as Stripe says it now; the mirror's may lag a renewal.
            let period_end = read
                .and_then(|at_stripe| at_stripe.period().1)
                .or(row.current_period_end.map(|end| end.and_utc().timestamp()));
            match gateway.cancel_through_schedule(schedule, period_end, &key).await {
                Ok(()) => gateway.retrieve_subscription(subscription).await?,
                // Released meanwhile (in the Dashboard, by another request): the subscription is free again.
                Err(StripeFailure::Rejected { status: 400 | 404, .. }) => {
                    gateway.set_cancel_at_period_end(subscription, true, false, &format!("{key}-subscription")).await?
                }
                Err(other) => return Err(other.into()),
            }
        }
        (false, None) => {
            abandon_pending_change(gateway, subscription, &mut details).await?;
            gateway.set_cancel_at_period_end(subscription, true, false, &key).await?
        }
        // A schedule that ends the subscription (a cancellation made through it) is released first, its
        // cancellation date with it; the subscription then renews once that date is cleared.
        (true, _) => {
            release_schedule_ending(gateway, &row, false).await?;
            let clear_cancel_at = row.cancel_at.is_some() || row.stripe_schedule_id.is_some();
            gateway.set_cancel_at_period_end(subscription, false, clear_cancel_at, &key).await?
        }
    };
    // The voided invoice of a change given up is mirrored at once, so that nothing shows as payable.
    let updated = match details.get("abandoned_invoice") {
        Some(_) => gateway.retrieve_subscription_and_invoice(subscription).await?,
        None => updated,
    };
    let action = if renew { "billing.subscription_resumed" } else { "billing.subscription_cancelled" };
    let event = AuditEvent::new(action).details(details);
    mirror_and_audit(pool, setup, actor, (updated, read_at), None, event).await
}

/// Gives up, for a cancellation, a plan change that waits for its payment, noting its voided invoice in
/// `details`: a subscription that ends must not be upgraded by a late payment.
async fn abandon_pending_change(
    gateway: &crate::stripe::StripeGateway,
    subscription: &str,
    details: &mut serde_json::Value,
) -> Result<Option<StripeSubscription>, ApiError> {
    // A cancellation is never refused: when Stripe cannot be read, it goes ahead as it did before.
    let at_stripe = match gateway.retrieve_subscription_and_invoice(subscription).await {
        Ok(at_stripe) => at_stripe,
        Err(failure) => {
            log::warn!("could not read subscription {subscription} before cancelling it: {failure}");
            return Ok(None);
        }
    };
    if let Some(voided) = void_pending_invoice(gateway, &at_stripe).await? {
        details["abandoned_invoice"] = serde_json::json!(voided);
    }
    Ok(Some(at_stripe))
}

/// Voids the invoice a pending update of `subscription` (read with its latest invoice expanded) waits for,
/// which gives the update up: Stripe applies a pending update only when that invoice is paid, and would go
/// on trying to collect it. Returns the voided invoice. One paid or voided meanwhile is left as it is.
pub(super) async fn void_pending_invoice(
    gateway: &crate::stripe::StripeGateway,
    subscription: &StripeSubscription,
) -> Result<Option<String>, ApiError> {
    // Only the invoice of the change itself: around the period's end the newest one may be the renewal's.
    let Some(invoice) = subscription
        .pending_invoice()
        .filter(|i| i.status.as_deref() == Some("open") && i.billing_reason.as_deref() == Some("subscription_update"))
    else {
        return Ok(None);
    };
    match gateway.void_invoice(&invoice.id, &format!("vigil-void-pending-{}", invoice.id)).await {
        Ok(()) => Ok(Some(invoice.id)),
        Err(StripeFailure::Rejected { status, message }) => {
            log::warn!("Stripe would not void the pending update's invoice {} ({status}): {message}", invoice.id);
            Ok(None)
        }
        Err(other) => Err(other.into()),
    }
}

/// Cancels at the end of the current period; the tier holds until then.
pub async fn cancel(pool: &DbPool, setup: &StripeSetup, actor: &BillingActor) -> Result<Subscription, ApiError> {
    set_renewal(pool, setup, actor, false).await
}

/// Undoes a cancellation at period end.
pub async fn resume(pool: &DbPool, setup: &StripeSetup, actor: &BillingActor) -> Result<Subscription, ApiError> {
    set_renewal(pool, setup, actor, true).await
}
