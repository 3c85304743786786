//! Changing the plan of a live subscription: previewed, reserved against the limits, paid before it is
//! granted. Stripe invoices the prorations at once (`always_invoice`) and applies the change only when that
//! invoice is paid (`pending_if_incomplete`); until then the company stays on its plan and the customer is
//! sent to the invoice's payment page (402 `payment_required`). When it is paid, Stripe applies the change
//! and says so with `customer.subscription.updated`, which the mirror applies like any other change.
//!
//! A downgrade waits for the end of the paid-for period (unless `BILLING_DOWNGRADE=immediately`): a
//! subscription schedule at Stripe renews the subscription on the lower price, and nothing is invoiced or
//! credited now. See docs/BILLING.md.

use chrono::{Duration, Utc};

use super::change_keys::{change_key, mirrored_state, stripe_state};
use super::changes::{self, BillingActor, mirror_and_audit, no_subscription, release_schedule, subscription_row};
use super::model::{
    OverLimit, PlanChangePreview, PlanChangeRequest, PreviewLine, Subscription, SubscriptionRow, Tier, TierCode,
};
use super::quote::Quotes;
use super::{service, store};
use crate::audit::model::AuditEvent;
use crate::db::{self, DbConn, DbPool, write_transaction};
use crate::error::ApiError;
use crate::ids::CompanyId;
use crate::stripe::gateway::PriceChange;
use crate::stripe::objects::{StripeSubscription, timestamp};
use crate::stripe::{StripeFailure, StripeSetup};

/// How long a plan change may be in flight at Stripe before the limits it reserved lapse (Stripe's calls
/// time out well before).
const PLAN_CHANGE_SECS: i64 = 120;

fn paid_tier_only() -> ApiError {
    ApiError::invalid_field("tier", "choose a paid tier: PRO or ENTERPRISE")
}

fn plan_unchanged(tier: TierCode) -> ApiError {
    ApiError::Conflict {
        code: "plan_unchanged",
        detail: format!("The company is on the {} plan already; there is no change to preview.", tier.as_str()),
    }
}

/// The change of the live subscription's item to `tier`'s price, or `None` when the company is on `tier`.
fn price_change<'a>(
    row: &'a SubscriptionRow,
    setup: &'a StripeSetup,
    tier: TierCode,
) -> Result<Option<PriceChange<'a>>, ApiError> {
    if !row.has_live_stripe_subscription() {
        return Err(no_subscription());
    }
    if TierCode::parse(&row.tier_code) == Some(tier) {
        return Ok(None);
    }
    match (row.stripe_subscription_id.as_deref(), row.stripe_item_id.as_deref(), setup.price_of(tier)) {
        (Some(subscription), Some(item), Some(price)) => Ok(Some(PriceChange { subscription, item, price })),
        _ => Err(no_subscription()),
    }
}

/// What moving to `tier` would be invoiced now, as Stripe previews it: the prorations of the rest of the
/// period and the amount due. Refused for FREE (that is a cancellation, which prorates nothing), without a
/// live subscription, and for the current tier.
pub async fn preview(
    pool: &DbPool,
    setup: &StripeSetup,
    quotes: &Quotes,
    company: &CompanyId,
    tier: TierCode,
) -> Result<PlanChangePreview, ApiError> {
    let gateway = setup.gateway()?;
    if tier == TierCode::Free {
        return Err(paid_tier_only());
    }
    let row = subscription_row(pool, company).await?;
    let change = price_change(&row, setup, tier)?.ok_or_else(|| plan_unchanged(tier))?;
    if waits_for_period_end(setup, &row, tier) {
        return scheduled_preview(pool, quotes, company, &row, tier).await;
    }
    let at = Utc::now().timestamp();
    let preview = gateway.preview_price_change(&change, at).await?;
    let prorations: Vec<_> = preview.lines.data.iter().filter(|line| line.is_proration()).collect();
    let when = |seconds: i64| timestamp(seconds).map(|t| t.and_utc());
    let (start, end) = (
        prorations.iter().map(|line| line.period.start).min().and_then(when),
        prorations.iter().map(|line| line.period.end).max().and_then(when),
    );
    let proration_date = when(at).unwrap_or_else(Utc::now);
    let quote = quotes.sign(company, &row, tier, at);
    Ok(PlanChangePreview {
        tier,
        amount_due: preview.amount_due,
        currency: preview.currency,
        lines: prorations
            .iter()
            .map(|line| PreviewLine { description: line.description.clone().unwrap_or_default(), amount: line.amount })
            .collect(),
        period_start: start.unwrap_or(proration_date),
        period_end: end.or_else(|| row.current_period_end.map(|t| t.and_utc())).unwrap_or(proration_date),
        proration_date,
        quote,
        takes_effect_at: proration_date,
    })
}

/// Whether a change to `tier` is a downgrade that waits for the end of the period (`BILLING_DOWNGRADE`).
fn waits_for_period_end(setup: &StripeSetup, row: &SubscriptionRow, tier: TierCode) -> bool {
    setup.downgrade_at_period_end && TierCode::parse(&row.tier_code).is_some_and(|current| tier < current)
}

/// The preview of a downgrade at the end of the period: nothing is invoiced now, and nothing is credited
/// (the paid-for period is used in full); the next renewal bills the lower price.
async fn scheduled_preview(
    pool: &DbPool,
    quotes: &Quotes,
    company: &CompanyId,
    row: &SubscriptionRow,
    tier: TierCode,
) -> Result<PlanChangePreview, ApiError> {
    let currency = db::run(pool, move |conn| Ok(store::find_tier(conn, tier)?.currency)).await?;
    let now = Utc::now();
    let end = row.current_period_end.map(|t| t.and_utc()).unwrap_or(now);
    Ok(PlanChangePreview {
        tier,
        amount_due: 0,
        currency,
        lines: Vec::new(),
        period_start: end,
        period_end: end,
        proration_date: now,
        quote: quotes.sign(company, row, tier, now.timestamp()),
        takes_effect_at: end,
    })
}

/// Under the company lock: refuses a change to `target` that current usage would exceed, naming what is
/// over, and otherwise marks the change in flight, so that nothing added before Stripe answers can exceed
/// the new limits (`service::limiting_tier`).
fn reserve(conn: &mut DbConn, company: &CompanyId, target: TierCode) -> Result<(), ApiError> {
    write_transaction(conn, |conn| {
        crate::db::lock_company(conn, company)?;
        let tier: Tier = store::find_tier(conn, target)?.into();
        let usage = super::usage::usage(conn, company, &tier)?;
        if let Some(over) = OverLimit::of(&usage, &tier) {
            let listed: Vec<String> = over
                .excess
                .iter()
                .map(|e| {
                    format!("{} (the {} plan allows {})", e.limit.quantity(e.used), tier.name, e.limit.quantity(e.max))
                })
                .collect();
            return Err(ApiError::Conflict {
                code: "downgrade_exceeds_limits",
                detail: format!(
                    "The company uses more than the {} plan allows: {}.",
                    target.as_str(),
                    listed.join("; ")
                ),
            });
        }
        let until = crate::db::now() + Duration::seconds(PLAN_CHANGE_SECS);
        Ok(store::set_plan_change(conn, company, Some((target, until)))?)
    })
}

/// Moves the subscription to another tier. An upgrade (and, with `BILLING_DOWNGRADE=immediately`, a
/// downgrade) invoices the prorations at once and applies when paid: when the invoice is not paid, nothing
/// changes and the answer is 402 `payment_required` with the invoice's payment page. A downgrade otherwise
/// waits for the end of the period (a subscription schedule at Stripe); choosing the current plan again
/// undoes it. Going to FREE cancels at the end of the period. A downgrade that current usage would exceed
/// is refused, naming what is over. A change that waits for its payment is given up by any other choice:
/// its invoice is voided, so that neither the customer nor Stripe's retries can pay for it later.
pub async fn change_plan(
    pool: &DbPool,
    setup: &StripeSetup,
    quotes: &Quotes,
    actor: &BillingActor,
    request: PlanChangeRequest,
) -> Result<Subscription, ApiError> {
    let gateway = setup.gateway()?;
    let tier = request.tier;
    let row = subscription_row(pool, &actor.company).await?;
    if tier == TierCode::Free {
        return match row.has_live_stripe_subscription() {
            true => changes::cancel(pool, setup, actor).await,
            false => Ok(service::subscription_view(&row, crate::db::now())),
        };
    }
    let current = TierCode::parse(&row.tier_code).unwrap_or(TierCode::Free);
    let Some(change) = price_change(&row, setup, tier)? else {
        return stay_on_current_plan(pool, setup, actor, &row).await;
    };
    if row.scheduled_tier_code.as_deref() == Some(tier.as_str()) {
        return Ok(service::subscription_view(&row, crate::db::now()));
    }
    let proration_date = quotes.proration_date(&actor.company, &row, tier, &request)?;
    if !row.auto_renew && waits_for_period_end(setup, &row, tier) {
        // A downgrade at the period's end of a subscription that ends then anyway would only renew, on a
        // schedule, what the customer cancelled.
        return Err(ApiError::Conflict {
            code: "subscription_ending",
            detail: "The subscription is cancelled and ends at the period's end; resume it before changing \
                     to a lower plan."
                .to_owned(),
        });
    }
    let mut details = serde_json::json!({"from": current, "to": tier});
    let mut state = mirrored_state(&row, proration_date);
    let mut waiting = None;
    if !waits_for_period_end(setup, &row, tier) {
        let read_at = Utc::now().timestamp();
        match gateway.retrieve_subscription_and_invoice(change.subscription).await {
            // The same change asked for again (a second click, a client's retry) while the first waits for
            // its payment: hand back that invoice. Another update would replace it with a second invoice.
            Ok(at_stripe) if at_stripe.pending_price_id() == Some(change.price) => {
                let waiting = (at_stripe, read_at);
                return Err(payment_required(pool, setup, actor, waiting, details, (current, tier)).await?);
            }
            Ok(at_stripe) => {
                state = stripe_state(&at_stripe, proration_date);
                waiting = Some(at_stripe);
            }
            // Unreadable: the change itself is the judge (Stripe refuses it, makes it, or is as unreachable).
            Err(failure) => {
                log::warn!("could not read subscription {} before a plan change: {failure}", change.subscription);
            }
        }
    }
    let company = actor.company.clone();
    db::run(pool, move |conn| reserve(conn, &company, tier)).await?;
    // Another change waits for its payment: once this one is allowed, that one is given up first.
    if let Some(at_stripe) = &waiting
        && let Some(voided) = changes::void_pending_invoice(gateway, at_stripe).await?
    {
        details["abandoned_invoice"] = serde_json::json!(voided);
    }
    let read_at = Utc::now().timestamp();
    let outcome = match waits_for_period_end(setup, &row, tier) {
        true => {
            schedule_downgrade(
                gateway,
                &row,
                &change,
                &change_key("downgrade", &actor.company, &change, &state, Utc::now().timestamp()),
                tier,
            )
            .await
        }
        false => match release_schedule(gateway, &row).await {
            Ok(()) => gateway
                .change_price(
                    &change,
                    proration_date,
                    &change_key("plan", &actor.company, &change, &state, Utc::now().timestamp()),
                )
                .await
                .map(|updated| (updated, None))
                .map_err(Refusal::Stripe),
            Err(error) => Err(Refusal::Api(error)),
        },
    };
    let (updated, scheduled) = match outcome {
        Ok(outcome) => outcome,
        Err(refusal) => {
            // Refused: nothing changed at Stripe, so the reservation goes. Unreachable or unreadable: the
            // change may have been made, so the reservation stays until it lapses and the webhook tells.
            if refusal.changed_nothing() {
                let company = actor.company.clone();
                db::run(pool, move |conn| Ok(store::set_plan_change(conn, &company, None)?)).await?;
            }
            return Err(refusal.into());
        }
    };
    if let Some((_, _, at)) = &scheduled {
        details["at"] = serde_json::json!(at.and_utc());
        let event = AuditEvent::new("billing.downgrade_scheduled").details(details);
        return mirror_and_audit(pool, setup, actor, (updated, read_at), scheduled, event).await;
    }
    if updated.pending_update.as_ref().is_some_and(serde_json::Value::is_object) {
        return Err(payment_required(pool, setup, actor, (updated, read_at), details, (current, tier)).await?);
    }
    let event = AuditEvent::new("billing.plan_changed").details(details);
    mirror_and_audit(pool, setup, actor, (updated, read_at), None, event).await
}

/// Choosing the plan the company is on: a change waiting for its payment is given up (its invoice voided),
/// and a downgrade Vigil scheduled is undone. A schedule made in the Dashboard is left alone.
async fn stay_on_current_plan(
    pool: &DbPool,
    setup: &StripeSetup,
    actor: &BillingActor,
    row: &SubscriptionRow,
) -> Result<Subscription, ApiError> {
    let gateway = setup.gateway()?;
    let Some(subscription) = row.stripe_subscription_id.as_deref() else { return Err(no_subscription()) };
    let read_at = Utc::now().timestamp();
    // Unreadable: nothing is known to wait, and staying changes nothing, as before.
    let at_stripe = match gateway.retrieve_subscription_and_invoice(subscription).await {
        Ok(at_stripe) => Some(at_stripe),
        Err(failure) => {
            log::warn!("could not read subscription {subscription} for a change waiting for payment: {failure}");
            None
        }
    };
    let voided = match &at_stripe {
        Some(at_stripe) => changes::void_pending_invoice(gateway, at_stripe).await?,
        None => None,
    };
    if let (Some(at_stripe), Some(voided)) = (at_stripe, voided) {
        let after = gateway.retrieve_subscription_and_invoice(subscription).await?;
        if after.pending_update.as_ref().is_some_and(serde_json::Value::is_object) {
            // Stripe discards a pending update whose invoice is voided; should it not, the update can no
            // longer be paid for and lapses when it expires.
            log::warn!("subscription {subscription} still has a pending update after its invoice {voided} was voided");
        }
        let event = AuditEvent::new("billing.plan_change_abandoned").details(serde_json::json!({
            "tier": row.tier_code,
            "abandoned": at_stripe.pending_price_id().and_then(|price| setup.tier_of_price(price)),
            "invoice": voided,
        }));
        mirror_and_audit(pool, setup, actor, (after, read_at), None, event).await?;
    }
    match row.scheduled_tier_code.is_some() {
        true => cancel_scheduled_change(pool, setup, actor, row).await,
        false => Ok(service::subscription_view(&subscription_row(pool, &actor.company).await?, crate::db::now())),
    }
}

/// Why a change did not reach Stripe's answer.
enum Refusal {
    Stripe(StripeFailure),
    Api(ApiError),
}

impl Refusal {
    /// Whether Stripe refused outright, so that nothing changed there.
    fn changed_nothing(&self) -> bool {
        matches!(self, Self::Stripe(StripeFailure::Rejected { .. } | StripeFailure::Payment { .. }))
    }
}

impl From<Refusal> for ApiError {
    fn from(refusal: Refusal) -> Self {
        match refusal {
            Refusal::Stripe(failure) => failure.into(),
            Refusal::Api(error) => error,
        }
    }
}

/// A downgrade for the end of the period: a subscription schedule (replacing any earlier one), then the
/// subscription read back, for the mirror.
async fn schedule_downgrade(
    gateway: &crate::stripe::StripeGateway,
    row: &SubscriptionRow,
    change: &PriceChange<'_>,
    key: &str,
    tier: TierCode,
) -> Result<(StripeSubscription, Option<(String, TierCode, chrono::NaiveDateTime)>), Refusal> {
    let (Some(current_price), Some(_)) = (row.stripe_price_id.as_deref(), row.current_period_end) else {
        return Err(Refusal::Api(no_subscription()));
    };
    release_schedule(gateway, row).await.map_err(Refusal::Api)?;
    let scheduled = gateway.schedule_price_change(change, current_price, key).await.map_err(Refusal::Stripe)?;
    let at = timestamp(scheduled.at).or(row.current_period_end).ok_or_else(|| Refusal::Api(no_subscription()))?;
    let subscription = gateway.retrieve_subscription(change.subscription).await.map_err(Refusal::Stripe)?;
    Ok((subscription, Some((scheduled.schedule, tier, at))))
}

/// Choosing the current plan again while a downgrade is scheduled: the schedule is released, and the plan
/// renews as it is.
async fn cancel_scheduled_change(
    pool: &DbPool,
    setup: &StripeSetup,
    actor: &BillingActor,
    row: &SubscriptionRow,
) -> Result<Subscription, ApiError> {
    let gateway = setup.gateway()?;
    let (Some(subscription), Some(scheduled)) =
        (row.stripe_subscription_id.as_deref(), row.scheduled_tier_code.clone())
    else {
        return Err(no_subscription());
    };
    let read_at = Utc::now().timestamp();
    release_schedule(gateway, row).await?;
    let updated = gateway.retrieve_subscription(subscription).await?;
    let event = AuditEvent::new("billing.downgrade_cancelled")
        .details(serde_json::json!({"tier": row.tier_code, "scheduled": scheduled}));
    mirror_and_audit(pool, setup, actor, (updated, read_at), None, event).await
}

/// A change that waits for its invoice to be paid (Stripe's pending update): what Stripe says is mirrored
/// (the subscription as it was, the open invoice), the reservation goes, and the customer is sent to the
/// invoice's page.
async fn payment_required(
    pool: &DbPool,
    setup: &StripeSetup,
    actor: &BillingActor,
    (updated, read_at): (StripeSubscription, i64),
    mut details: serde_json::Value,
    (current, tier): (TierCode, TierCode),
) -> Result<ApiError, ApiError> {
    let invoice = updated.pending_invoice();
    let hosted_invoice_url = invoice.as_ref().and_then(|invoice| invoice.hosted_invoice_url.clone());
    details["invoice"] = serde_json::json!(invoice.as_ref().map(|invoice| invoice.id.clone()));
    let event = AuditEvent::new("billing.plan_change_payment_required").details(details);
    mirror_and_audit(pool, setup, actor, (updated, read_at), None, event).await?;
    Ok(ApiError::PaymentRequired {
        detail: format!(
            "The payment for the change to {} did not go through, so the company stays on {}. Pay the invoice on \
             its page (hosted_invoice_url) and the change takes effect.",
            tier.as_str(),
            current.as_str()
        ),
        hosted_invoice_url,
    })
}
