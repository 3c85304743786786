//! Changing the plan of a live subscription: previewed, reserved against the limits, paid before it is
//! granted. Stripe invoices the prorations at once (`always_invoice`) and applies the change only when that
//! invoice is paid (`pending_if_incomplete`); until then the company stays on its plan and the customer is
//! sent to the invoice's payment page (402 `payment_required`). When it is paid, Stripe applies the change
//! and says so with `customer.subscription.updated`, which the mirror applies like any other change.
//!
//! A downgrade waits for the end of the paid-for period (unless `BILLING_DOWNGRADE=immediately`): a
//! subscription schedule at Stripe renews the subscription on the lower price, and nothing is invoiced or
//! credited now. See docs/BILLING.md.

use chrono::{DateTime, Duration, Utc};

use super::changes::{self, BillingActor, mirror_and_audit, no_subscription, release_schedule, subscription_row};
use super::model::{
    OverLimit, PlanChangePreview, PlanChangeRequest, PreviewLine, Subscription, SubscriptionRow, Tier, TierCode,
};
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

/// How old a preview's `proration_date` may be when the change is made: a quote holds for an hour. (A date
/// further back would prorate over time already used, a larger credit on a downgrade.)
const QUOTE_SECS: i64 = 3600;

/// How long the Idempotency-Key of a change stays the same for the same change of the same state.
const KEY_WINDOW_SECS: i64 = 300;

/// Clock skew allowed for a `proration_date` that lies slightly ahead of this server's clock.
const SKEW_SECS: i64 = 300;

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
        return scheduled_preview(pool, setup, company, &row, tier).await;
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
    let quote = quote(setup, company, &row, tier, at);
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
    setup: &StripeSetup,
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
        quote: quote(setup, company, row, tier, now.timestamp()),
        takes_effect_at: end,
    })
}

/// A preview's `proration_date` the change may be prorated as of: within the last hour (not before the
/// period began), or a few minutes ahead for clock skew.
fn checked_proration_date(date: DateTime<Utc>, row: &SubscriptionRow, now: DateTime<Utc>) -> Result<i64, ApiError> {
    let period_start = row.current_period_start.map(|t| t.and_utc());
    let too_old = date < now - Duration::seconds(QUOTE_SECS) || period_start.is_some_and(|start| date < start);
    if too_old || date > now + Duration::seconds(SKEW_SECS) {
        return Err(ApiError::invalid_field(
            "proration_date",
            "use the proration_date of a preview made in the last hour, in the current period",
        ));
    }
    Ok(date.timestamp())
}

/// The signature of a preview's `proration_date` for this company, subscription and tier. Without it a
/// client could pick any `proration_date` in the hour the window allows and be prorated as of then (more
/// credit for an immediate downgrade); with it, a change is prorated only as of a moment the server quoted.
fn quote(setup: &StripeSetup, company: &CompanyId, subscription: &SubscriptionRow, tier: TierCode, at: i64) -> String {
    use hmac::Mac;
    hex::encode(quote_mac(setup, company, subscription, tier, at).finalize().into_bytes())
}

/// Over the company, the subscription and the price it is on (a quote made before another change of plan
/// does not hold after it), the tier and the date.
fn quote_mac(
    setup: &StripeSetup,
    company: &CompanyId,
    subscription: &SubscriptionRow,
    tier: TierCode,
    at: i64,
) -> hmac::Hmac<sha2::Sha256> {
    use hmac::Mac;
    let mut mac = setup.quote_mac();
    let (id, price) = (
        subscription.stripe_subscription_id.as_deref().unwrap_or_default(),
        subscription.stripe_price_id.as_deref().unwrap_or_default(),
    );
    mac.update(format!("{company}\n{id}\n{price}\n{}\n{at}", tier.as_str()).as_bytes());
    mac
}

/// The `proration_date` of a change, checked: recent enough (see [`checked_proration_date`]) and quoted
/// by this server for this company, subscription and tier.
fn quoted_proration_date(
    setup: &StripeSetup,
    company: &CompanyId,
    row: &SubscriptionRow,
    tier: TierCode,
    request: &PlanChangeRequest,
) -> Result<Option<i64>, ApiError> {
    use hmac::Mac;
    let Some(date) = request.proration_date else { return Ok(None) };
    let at = checked_proration_date(date, row, Utc::now())?;
    let genuine = request
        .quote
        .as_deref()
        .and_then(|quote| hex::decode(quote).ok())
        .is_some_and(|signature| quote_mac(setup, company, row, tier, at).verify_slice(&signature).is_ok());
    if !genuine {
        return Err(ApiError::invalid_field(
            "quote",
            "send the quote that came with this proration_date from GET /api/v1/billing/subscription/preview",
        ));
    }
    Ok(Some(at))
}

/// The Idempotency-Key of a change at Stripe: the same for the same change asked of the same state of the
/// subscription (a client retrying after a lost answer, a double click), so Stripe makes it once; another
/// as soon as anything it starts from differs (a later change, the invoice of an earlier one paid or voided).
///
/// The key also names the five minutes it is made in. Stripe replays whatever it answered first for a key,
/// a 500 included, for 24 hours: a change that failed so is tried afresh once those minutes have passed.
fn change_key(operation: &str, company: &CompanyId, change: &PriceChange<'_>, state: &str, now: i64) -> String {
    let window = now.div_euclid(KEY_WINDOW_SECS);
    let fingerprint =
        crate::crypto::sha256_hex(&format!("{}\n{}\n{state}\n{window}", change.subscription, change.price));
    format!("vigil-{operation}-{company}-{}", &fingerprint[..32])
}

/// What a change starts from, as Stripe said it just now: the price, the newest invoice and where it
/// stands, and the change waiting for payment.
fn stripe_state(subscription: &StripeSubscription, proration_date: Option<i64>) -> String {
    let invoice = subscription.latest_invoice.as_ref();
    let invoice_id = invoice.and_then(|i| i.as_str().or_else(|| i["id"].as_str())).unwrap_or_default();
    let invoice_status = invoice.and_then(|i| i["status"].as_str()).unwrap_or_default();
    format!(
        "{}\n{invoice_id}\n{invoice_status}\n{}\n{}",
        subscription.price_id().unwrap_or_default(),
        subscription.pending_price_id().unwrap_or_default(),
        proration_date.map(|at| at.to_string()).unwrap_or_default(),
    )
}

/// What a change starts from, as the mirror holds it, when Stripe could not be read first.
fn mirrored_state(row: &SubscriptionRow, proration_date: Option<i64>) -> String {
    format!(
        "{}\n{}\n{}\n{}",
        row.stripe_price_id.as_deref().unwrap_or_default(),
        row.stripe_updated_at.unwrap_or_default(),
        row.stripe_schedule_id.as_deref().unwrap_or_default(),
        proration_date.map(|at| at.to_string()).unwrap_or_default(),
    )
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
    let proration_date = quoted_proration_date(setup, &actor.company, &row, tier, &request)?;
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

#[cfg(test)]
mod tests {
    use super::*;

    fn subscription(price: &str, invoice: serde_json::Value) -> StripeSubscription {
        StripeSubscription::from_json(&serde_json::json!({
            "id": "sub_1", "status": "active", "latest_invoice": invoice,
            "items": {"data": [{"id": "si_1", "price": {"id": price}}]},
        }))
        .expect("a subscription")
    }

    #[test]
    fn a_change_retried_from_the_same_state_reuses_its_key_and_any_other_state_gets_another() {
        let company = CompanyId::from_db("0193a5b2-7c4e-7d2a-9f1b-3c5d7e9f1a2b".to_owned());
        let change = PriceChange { subscription: "sub_1", item: "si_1", price: "price_enterprise" };
        let key = |at_stripe: &StripeSubscription, proration_date| {
            change_key("plan", &company, &change, &stripe_state(at_stripe, proration_date), 1_796_000_100)
        };
        let paid = subscription("price_pro", serde_json::json!({"id": "in_1", "status": "paid"}));

        let first = key(&paid, Some(1_796_000_000));

        assert_eq!(first, key(&paid, Some(1_796_000_000)), "a retry is the same request to Stripe");
        assert!(first.len() <= 255, "Stripe takes keys of up to 255 characters");
        let voided = subscription("price_pro", serde_json::json!({"id": "in_1", "status": "void"}));
        let others = [
            key(&paid, None),
            key(&paid, Some(1_796_000_060)),
            key(&voided, Some(1_796_000_000)),
            key(&subscription("price_pro", serde_json::json!({"id": "in_2", "status": "paid"})), Some(1_796_000_000)),
            key(&subscription("price_other", serde_json::json!({"id": "in_1", "status": "paid"})), Some(1_796_000_000)),
        ];
        for other in &others {
            assert_ne!(&first, other);
        }
        let later = change_key("plan", &company, &change, &stripe_state(&paid, Some(1_796_000_000)), 1_796_000_400);
        assert_ne!(first, later, "a change Stripe failed is tried afresh after the window");
    }
}
