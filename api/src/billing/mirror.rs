//! Applying Stripe's state to the local mirror. API calls, resyncs and (later) webhooks all go through
//! here, so the rules (tier from price, status mapping, grace period, order-safety) live in one place.

use chrono::Duration;

use super::model::{InvoiceRow, InvoiceStatus, SubscriptionRow, SubscriptionStatus};
use super::store;
use crate::db::DbConn;
use crate::error::ApiError;
use crate::ids::{CompanyId, InvoiceId};
use crate::stripe::StripeSetup;
use crate::stripe::objects::{StripeInvoice, StripeSubscription, timestamp};

/// What applying an object did.
#[derive(Debug, Clone)]
pub enum Applied<T> {
    /// The mirror changed from `before` (`None`: it did not exist) to `after`.
    Changed { before: Option<T>, after: T },
    /// Nothing to do: the mirror already reflects newer (or the same) state.
    Stale,
}

impl<T> Applied<T> {
    pub fn changed(&self) -> bool {
        matches!(self, Self::Changed { .. })
    }
}

/// What kind of news an object is. Stripe's `created` has one-second resolution, so two events about one
/// object can carry the same time; their kind orders them then.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum News {
    /// `*.created`: never newer than other news of the same second.
    Created,
    /// `*.updated` and the like.
    Updated,
    /// `customer.subscription.deleted`: final.
    Deleted,
    /// Read from Stripe's API just now.
    Fetched,
}

/// Whether news of `subscription`, which is not the mirrored one, replaces the mirrored one. Of two
/// subscriptions the newer by Stripe's `created` (then by id) wins, whatever order their events arrive in,
/// except that a subscription that is not live (not started, or ended) never replaces a live one, and a
/// live one read from Stripe just now replaces one that is not live.
fn replaces_other(before: &SubscriptionRow, subscription: &StripeSubscription, stripe_time: i64, news: News) -> bool {
    let Some(mirrored) = before.stripe_subscription_id.as_deref() else { return true };
    let (mirrored_live, incoming_live) = (
        SubscriptionStatus::parse(&before.status).is_live(),
        SubscriptionStatus::from_stripe(&subscription.status).is_live(),
    );
    if mirrored_live && !incoming_live {
        return false;
    }
    if !mirrored_live && incoming_live && news == News::Fetched {
        return true;
    }
    match before.stripe_subscription_created {
        Some(created) => (subscription.created, subscription.id.as_str()) > (created, mirrored),
        // Mirrored before Vigil kept `created`: only the times of the news can order them.
        None => before.stripe_updated_at.is_none_or(|seen| seen <= stripe_time),
    }
}

/// The mirrored subscription, when news of another live one arrives while it may still be live itself: the
/// company may have two live subscriptions, which [`super::duplicates`] checks at Stripe and repairs.
pub fn rival(
    conn: &mut DbConn,
    setup: &StripeSetup,
    company: &CompanyId,
    subscription: &StripeSubscription,
) -> Result<Option<String>, ApiError> {
    if !SubscriptionStatus::from_stripe(&subscription.status).is_live() || !setup.is_plan(subscription) {
        return Ok(None);
    }
    let row = store::find_subscription(conn, company)?;
    let ended = SubscriptionStatus::parse(&row.status) == SubscriptionStatus::Cancelled;
    Ok(row.stripe_subscription_id.filter(|mirrored| *mirrored != subscription.id && !ended))
}

/// Applies a subscription as Stripe reported it at `stripe_time` (epoch seconds): the event's `created`, or
/// for a read from Stripe's API the time taken just before the request was sent (never the time of the
/// write, which would let a snapshot overwrite an event applied while it was in flight). Older news than
/// what the mirror holds is ignored, and so is news of another subscription that loses to the mirrored one
/// (see [`replaces_other`]).
pub fn apply_subscription(
    conn: &mut DbConn,
    setup: &StripeSetup,
    company: &CompanyId,
    subscription: &StripeSubscription,
    stripe_time: i64,
    news: News,
) -> Result<Applied<SubscriptionRow>, ApiError> {
    let before = store::find_subscription(conn, company)?;
    let status = SubscriptionStatus::from_stripe(&subscription.status);
    let same = before.stripe_subscription_id.as_deref() == Some(subscription.id.as_str());
    if same && let Some(seen) = before.stripe_updated_at {
        let cancelled = SubscriptionStatus::parse(&before.status) == SubscriptionStatus::Cancelled;
        let older = seen > stripe_time
            || seen == stripe_time && (news == News::Created || cancelled && status != SubscriptionStatus::Cancelled);
        if older {
            return Ok(Applied::Stale);
        }
    }
    // Another subscription on the customer that is not one of Vigil's plans (an add-on sold in the
    // Dashboard) is not the company's plan, whatever its dates.
    if !same && (!setup.is_plan(subscription) || !replaces_other(&before, subscription, stripe_time, news)) {
        return Ok(Applied::Stale);
    }
    let now = crate::db::now();
    // The grace period runs from when Stripe saw the failure, not from when it was processed: a replay days
    // later must not hand out a fresh period.
    let grace_ends = timestamp(stripe_time).unwrap_or(now) + Duration::days(setup.grace_days);
    let tier = match subscription.price_id().map(|price| (price, setup.tier_of_price(price))) {
        Some((_, Some(tier))) => tier.as_str().to_owned(),
        Some((price, None)) => {
            log::warn!(
                "subscription {} has price {price}, which is no configured tier; keeping the tier",
                subscription.id
            );
            before.tier_code.clone()
        }
        None => before.tier_code.clone(),
    };
    let (period_start, period_end) = subscription.period();
    let was_past_due = SubscriptionStatus::parse(&before.status) == SubscriptionStatus::PastDue && same;
    let kept_schedule = subscription.schedule.is_some() && subscription.schedule == before.stripe_schedule_id;
    // Stripe releases a schedule only when its last phase ends, a period after the downgrade took effect:
    // once the subscription is on the scheduled tier, or its period began at the scheduled time, the
    // change has happened and is no longer shown as coming.
    let period_began = period_start.and_then(timestamp);
    let taken_effect = before.scheduled_tier_code.as_deref() == Some(tier.as_str())
        || matches!((period_began, before.scheduled_change_at), (Some(began), Some(at)) if began >= at);
    // A subscription that ends by the scheduled time renews on no price: the cancellation drops the
    // downgrade. One that ends later (a schedule set to cancel after its lower phase) still takes it.
    let scheduled_at = before.scheduled_change_at.map(|at| at.and_utc().timestamp());
    let ends = subscription.cancel_at_period_end
        || subscription.cancel_at.is_some_and(|ends_at| scheduled_at.is_none_or(|at| ends_at <= at));
    let still_scheduled = same && kept_schedule && !taken_effect && !ends;
    let after = SubscriptionRow {
        tier_code: tier,
        status: status.as_str().to_owned(),
        updated_at: now,
        stripe_subscription_id: Some(subscription.id.clone()),
        stripe_item_id: subscription.item().map(|item| item.id.clone()).filter(|id| !id.is_empty()),
        stripe_price_id: subscription.price_id().map(str::to_owned),
        current_period_start: period_start.and_then(timestamp),
        current_period_end: period_end.and_then(timestamp),
        // A date set in the Dashboard or portal (`cancel_at`) ends it as surely as `cancel_at_period_end`.
        auto_renew: !subscription.cancel_at_period_end
            && subscription.cancel_at.is_none()
            && status != SubscriptionStatus::Cancelled,
        cancel_at: subscription.cancel_at.and_then(timestamp).filter(|_| status != SubscriptionStatus::Cancelled),
        stripe_subscription_created: match subscription.created {
            0 => before.stripe_subscription_created.filter(|_| same),
            created => Some(created),
        },
        default_payment_method: subscription.default_payment_method.clone().or(before.default_payment_method.clone()),
        cancelled_at: match status {
            SubscriptionStatus::Cancelled => subscription.canceled_at.and_then(timestamp).or(Some(now)),
            _ => None,
        },
        grace_period_ends_at: match status {
            SubscriptionStatus::PastDue if was_past_due => before.grace_period_ends_at.or(Some(grace_ends)),
            SubscriptionStatus::PastDue => Some(grace_ends),
            _ => None,
        },
        stripe_updated_at: Some(stripe_time),
        // A change scheduled by the schedule Vigil made holds while Stripe's subscription still has that
        // schedule; without one (the phase changed, or it was released) nothing is scheduled.
        stripe_schedule_id: subscription.schedule.clone(),
        scheduled_tier_code: before.scheduled_tier_code.clone().filter(|_| still_scheduled),
        scheduled_change_at: before.scheduled_change_at.filter(|_| still_scheduled),
        ..before.clone()
    };
    save(conn, company, &before, &after)?;
    plan_may_have_changed(conn, setup, company)?;
    Ok(Applied::Changed { before: Some(before), after })
}

/// Saves the mirrored subscription, and tells the company's webhooks when what it shows of the
/// subscription changed (not for a newer version of the same state).
fn save(
    conn: &mut DbConn,
    company: &CompanyId,
    before: &SubscriptionRow,
    after: &SubscriptionRow,
) -> Result<(), ApiError> {
    store::save_subscription(conn, company, after)?;
    announce(conn, company, before, after)
}

/// Records the downgrade a subscription schedule just made (schedule, tier, when), telling the webhooks.
pub fn record_scheduled_change(
    conn: &mut DbConn,
    company: &CompanyId,
    schedule: &str,
    tier: crate::plans::TierCode,
    at: chrono::NaiveDateTime,
) -> Result<SubscriptionRow, ApiError> {
    let before = store::find_subscription(conn, company)?;
    store::set_scheduled_change(conn, company, schedule, tier, at)?;
    let after = store::find_subscription(conn, company)?;
    announce(conn, company, &before, &after)?;
    Ok(after)
}

/// Emits `subscription.updated` when what the API shows of the subscription differs between the rows.
fn announce(
    conn: &mut DbConn,
    company: &CompanyId,
    before: &SubscriptionRow,
    after: &SubscriptionRow,
) -> Result<(), ApiError> {
    let now = crate::db::now();
    let shown = |row| serde_json::to_value(super::service::subscription_view(row, now));
    let (before, after) = (shown(before), shown(after));
    match after {
        Ok(after) if before.ok().as_ref() != Some(&after) => {
            let data = serde_json::json!({"subscription": after});
            crate::events::service::emit(conn, company, crate::events::model::EventType::SubscriptionUpdated, data)?;
            Ok(())
        }
        Ok(_) => Ok(()),
        Err(error) => Err(ApiError::Internal(error.into())),
    }
}

/// What follows from a change of the plan that applies, whatever caused it (the API, the Billing Portal,
/// a payment): the retention in force (a hold when it shortens), and the usage alerts, OVER_PLAN_LIMIT
/// among them.
fn plan_may_have_changed(conn: &mut DbConn, setup: &StripeSetup, company: &CompanyId) -> Result<(), ApiError> {
    let tier = super::service::effective_tier(conn, company)?;
    super::retention::reconcile(conn, company, &tier, setup.retention_hold_days, crate::db::now())?;
    super::usage::check_current_usage(conn, company, &tier)
}

/// Applies an invoice as Stripe reported it at `stripe_time`, inserting it the first time.
pub fn apply_invoice(
    conn: &mut DbConn,
    company: &CompanyId,
    invoice: &StripeInvoice,
    stripe_time: i64,
) -> Result<Applied<InvoiceRow>, ApiError> {
    let existing = store::find_invoice_by_stripe_id(conn, &invoice.id)?;
    let status = invoice.status.as_deref().map(InvoiceStatus::from_stripe).unwrap_or(InvoiceStatus::Draft);
    // An invoice only moves forward (draft, open, then paid, void or uncollectible), which orders two
    // events of the same second.
    let older = |row: &InvoiceRow| {
        row.stripe_updated_at > stripe_time
            || row.stripe_updated_at == stripe_time && progress(InvoiceStatus::parse(&row.status)) > progress(status)
    };
    if existing.as_ref().is_some_and(|row| older(row) || row.company_id != company.as_str()) {
        return Ok(Applied::Stale);
    }
    let now = crate::db::now();
    let after = InvoiceRow {
        id: existing.as_ref().map(|row| row.id.clone()).unwrap_or_else(|| InvoiceId::generate().to_string()),
        company_id: company.to_string(),
        stripe_invoice_id: invoice.id.clone(),
        stripe_subscription_id: invoice.subscription_id(),
        number: invoice.number.clone(),
        status: status.as_str().to_owned(),
        amount_due: invoice.amount_due,
        amount_paid: invoice.amount_paid,
        currency: if invoice.currency.is_empty() { "usd".to_owned() } else { invoice.currency.clone() },
        issued_at: timestamp(invoice.issued_at()).unwrap_or(now),
        due_at: invoice.due_date.and_then(timestamp),
        paid_at: match status {
            InvoiceStatus::Paid => invoice.status_transitions.paid_at.and_then(timestamp).or(Some(now)),
            _ => None,
        },
        hosted_invoice_url: invoice.hosted_invoice_url.clone(),
        invoice_pdf: invoice.invoice_pdf.clone(),
        stripe_updated_at: stripe_time,
        created_at: existing.as_ref().map(|row| row.created_at).unwrap_or(now),
        updated_at: now,
    };
    match &existing {
        Some(_) => store::update_invoice(conn, company, &after)?,
        None => store::insert_invoice(conn, &after)?,
    }
    // However it became paid (its own event, another of its events first, the answer to a plan change, a
    // resync), that is news once.
    if status == InvoiceStatus::Paid && existing.as_ref().is_none_or(|row| row.status != InvoiceStatus::Paid.as_str()) {
        let invoice = serde_json::to_value(super::model::Invoice::from(after.clone()))
            .map_err(|error| ApiError::Internal(error.into()))?;
        let data = serde_json::json!({"invoice": invoice});
        crate::events::service::emit(conn, company, crate::events::model::EventType::InvoicePaid, data)?;
    }
    Ok(Applied::Changed { before: existing, after })
}

fn progress(status: InvoiceStatus) -> u8 {
    match status {
        InvoiceStatus::Draft => 0,
        InvoiceStatus::Open => 1,
        InvoiceStatus::Paid | InvoiceStatus::Void | InvoiceStatus::Uncollectible => 2,
    }
}

/// Whether news of this time about this subscription cannot be ordered against what the mirror holds
/// (another update of the same second): then the subscription should be read from Stripe.
pub fn in_doubt(
    conn: &mut DbConn,
    company: &CompanyId,
    subscription: &str,
    stripe_time: i64,
) -> Result<bool, ApiError> {
    let row = store::find_subscription(conn, company)?;
    Ok(row.stripe_subscription_id.as_deref() == Some(subscription) && row.stripe_updated_at == Some(stripe_time))
}

/// A failed payment of the live subscription makes it PAST_DUE, starting the grace period.
pub fn mark_past_due(
    conn: &mut DbConn,
    setup: &StripeSetup,
    company: &CompanyId,
    subscription: &str,
    stripe_time: i64,
) -> Result<(), ApiError> {
    let mut row = store::find_subscription(conn, company)?;
    let before = row.clone();
    let current = SubscriptionStatus::parse(&row.status);
    if row.stripe_subscription_id.as_deref() != Some(subscription)
        || current != SubscriptionStatus::Active
        || row.stripe_updated_at.is_some_and(|seen| seen > stripe_time)
    {
        return Ok(());
    }
    let now = crate::db::now();
    row.status = SubscriptionStatus::PastDue.as_str().to_owned();
    row.grace_period_ends_at = Some(timestamp(stripe_time).unwrap_or(now) + Duration::days(setup.grace_days));
    row.stripe_updated_at = Some(stripe_time);
    row.updated_at = now;
    save(conn, company, &before, &row)?;
    plan_may_have_changed(conn, setup, company)
}

/// A successful payment of a PAST_DUE subscription makes it ACTIVE again.
pub fn mark_paid_up(
    conn: &mut DbConn,
    setup: &StripeSetup,
    company: &CompanyId,
    subscription: &str,
    stripe_time: i64,
) -> Result<(), ApiError> {
    let mut row = store::find_subscription(conn, company)?;
    let before = row.clone();
    if row.stripe_subscription_id.as_deref() != Some(subscription)
        || SubscriptionStatus::parse(&row.status) != SubscriptionStatus::PastDue
        || row.stripe_updated_at.is_some_and(|seen| seen > stripe_time)
    {
        return Ok(());
    }
    row.status = SubscriptionStatus::Active.as_str().to_owned();
    row.grace_period_ends_at = None;
    row.stripe_updated_at = Some(stripe_time);
    row.updated_at = crate::db::now();
    save(conn, company, &before, &row)?;
    plan_may_have_changed(conn, setup, company)
}
