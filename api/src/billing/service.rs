//! Which tier applies to a company, the dashboard and the invoices. (Usage against the tier's limits is
//! in `billing::usage`; changes that go through Stripe are in `billing::changes`.)

use chrono::NaiveDateTime;

use super::model::{
    BillingDashboard, BillingSettings, GracePeriod, Invoice, InvoiceFilter, InvoicePage, InvoiceStatus,
    InvoiceStatusTotal, InvoiceSummary, OverLimit, ScheduledChange, Subscription, SubscriptionRow, SubscriptionStatus,
    TaxId, Tier, TierCode,
};
use super::store;
use crate::db::DbConn;
use crate::error::ApiError;
use crate::http::pagination::ListRequest;
use crate::http::precondition::{ETag, Tagged};
use crate::ids::{CompanyId, InvoiceId};

/// How many recent invoices the dashboard shows.
const DASHBOARD_INVOICES: i64 = 5;

/// The tier whose limits apply at `now`: the subscribed tier while ACTIVE, and while PAST_DUE until the
/// grace period ends; FREE otherwise.
pub fn effective_tier_code(row: &SubscriptionRow, now: NaiveDateTime) -> TierCode {
    match keeps_subscribed_tier(SubscriptionStatus::parse(&row.status), row.grace_period_ends_at, now) {
        true => TierCode::parse(&row.tier_code).unwrap_or(TierCode::Free),
        false => TierCode::Free,
    }
}

/// Whether a subscription of this status (and grace period) has its tier's limits at `now`.
pub fn keeps_subscribed_tier(
    status: SubscriptionStatus,
    grace_ends: Option<NaiveDateTime>,
    now: NaiveDateTime,
) -> bool {
    match status {
        SubscriptionStatus::Active => true,
        SubscriptionStatus::PastDue => grace_ends.is_some_and(|ends| ends > now),
        SubscriptionStatus::Inactive | SubscriptionStatus::Cancelled => false,
    }
}

/// The tier whose limits apply to the company now.
pub fn effective_tier(conn: &mut DbConn, company: &CompanyId) -> Result<Tier, ApiError> {
    let subscription = store::find_subscription(conn, company)?;
    let code = effective_tier_code(&subscription, crate::db::now());
    Ok(store::find_tier(conn, code)?.into())
}

/// The tier whose limits additions (employees, agents) are checked against: the effective tier, or the
/// lower tier of a plan change in flight at Stripe, so that a downgrade checked before the call still holds
/// when Stripe's answer is applied.
pub fn limiting_tier(conn: &mut DbConn, company: &CompanyId) -> Result<Tier, ApiError> {
    let tier = effective_tier(conn, company)?;
    let Some(changing_to) = store::plan_change_in_flight(conn, company, crate::db::now())? else { return Ok(tier) };
    let changing_to: Tier = store::find_tier(conn, changing_to)?.into();
    Ok(if changing_to.display_order < tier.display_order { changing_to } else { tier })
}

/// The subscription as the API shows it.
pub fn subscription_view(row: &SubscriptionRow, now: NaiveDateTime) -> Subscription {
    let status = SubscriptionStatus::parse(&row.status);
    Subscription {
        tier: TierCode::parse(&row.tier_code).unwrap_or(TierCode::Free),
        effective_tier: effective_tier_code(row, now),
        status,
        stripe_subscription_id: row.stripe_subscription_id.clone(),
        current_period_start: row.current_period_start.map(|t| t.and_utc()),
        current_period_end: row.current_period_end.map(|t| t.and_utc()),
        auto_renew: row.auto_renew,
        cancel_at: row.cancel_at.map(|t| t.and_utc()),
        default_payment_method: row.default_payment_method.clone(),
        cancelled_at: row.cancelled_at.map(|t| t.and_utc()),
        grace_period_ends_at: (status == SubscriptionStatus::PastDue)
            .then_some(row.grace_period_ends_at)
            .flatten()
            .map(|t| t.and_utc()),
        scheduled_change: match (row.scheduled_tier_code.as_deref().and_then(TierCode::parse), row.scheduled_change_at)
        {
            (Some(tier), Some(at)) => Some(ScheduledChange { tier, at: at.and_utc() }),
            _ => None,
        },
    }
}

pub fn get_subscription(conn: &mut DbConn, company: &CompanyId) -> Result<Subscription, ApiError> {
    Ok(subscription_view(&store::find_subscription(conn, company)?, crate::db::now()))
}

/// Everything the billing dashboard shows, in one round of queries; `hold_days` is how long a shortened
/// retention is held off (shown as the date of the deletion).
pub fn dashboard(
    conn: &mut DbConn,
    company: &CompanyId,
    billing_configured: bool,
    hold_days: i64,
) -> Result<BillingDashboard, ApiError> {
    let now = crate::db::now();
    let row = store::find_subscription(conn, company)?;
    let subscription = subscription_view(&row, now);
    let tier: Tier = store::find_tier(conn, subscription.effective_tier)?.into();
    let subscribed: Tier = store::find_tier(conn, subscription.tier)?.into();
    let usage = super::usage::usage(conn, company, &tier)?;
    let invoices = store::recent_invoices(conn, company, DASHBOARD_INVOICES)?;
    let company_row = crate::companies::find_company(conn, company)?;
    let paid = subscription.stripe_subscription_id.is_some() && subscription.status != SubscriptionStatus::Cancelled;
    let grace_period = subscription
        .grace_period_ends_at
        .map(|ends_at| GracePeriod { ends_at, days_left: (ends_at - now.and_utc()).num_days().max(0) });
    Ok(BillingDashboard {
        price_minor: subscribed.monthly_price_minor,
        currency: subscribed.currency.clone(),
        renews_at: if paid && subscription.auto_renew { subscription.current_period_end } else { None },
        ends_at: if paid && !subscription.auto_renew {
            subscription.cancel_at.or(subscription.current_period_end)
        } else {
            None
        },
        grace_period,
        over_limit: OverLimit::of(&usage, &tier),
        usage,
        retention: super::retention::current(conn, company, &tier, hold_days, now)?,
        recent_invoices: invoices.into_iter().map(Into::into).collect(),
        billing_email: company_row.billing_email,
        tax_id: company_row.tax_id_type.zip(company_row.tax_id_value).map(|(kind, value)| TaxId { kind, value }),
        card: store::find_card(conn, company)?,
        billing_configured,
        tier,
        subscription,
    })
}

/// The billing settings and their tag: the billing email's version, and the renewal flag that Stripe's
/// mirror keeps (a flag flipped and flipped back gives the same tag, and the same settings, so no change
/// can be lost through it).
pub fn settings(conn: &mut DbConn, company: &CompanyId) -> Result<Tagged<BillingSettings>, ApiError> {
    let (billing_email, version) = store::find_billing_email(conn, company)?;
    let auto_renewal = store::find_subscription(conn, company)?.auto_renew;
    let etag =
        ETag::of_company(company.as_str(), &[&format!("v{version}"), if auto_renewal { "renews" } else { "ends" }]);
    Ok(Tagged::new(BillingSettings { auto_renewal, billing_email }, etag))
}

pub fn list_invoices(
    conn: &mut DbConn,
    company: &CompanyId,
    filter: &InvoiceFilter,
    list: &ListRequest,
) -> Result<InvoicePage, ApiError> {
    let slice = list.slice(|id| Ok(store::invoice_issued_at(conn, company, id)?))?;
    let rows = store::list_invoices(conn, company, filter, &slice)?;
    let by_status: Vec<InvoiceStatusTotal> = store::invoice_totals(conn, company, filter.status)?
        .into_iter()
        .map(|(status, count, amount_due, amount_paid)| InvoiceStatusTotal {
            status: InvoiceStatus::parse(&status),
            count,
            amount_due,
            amount_paid,
        })
        .collect();
    let owed = |total: &InvoiceStatusTotal| matches!(total.status, InvoiceStatus::Open | InvoiceStatus::Uncollectible);
    let summary = InvoiceSummary {
        total: by_status.iter().map(|total| total.amount_due).sum(),
        paid: by_status.iter().map(|total| total.amount_paid).sum(),
        outstanding: by_status
            .iter()
            .filter(|total| owed(total))
            .map(|total| total.amount_due - total.amount_paid)
            .sum(),
        currency: rows.first().map(|row| row.currency.clone()).unwrap_or_else(|| "usd".to_owned()),
        by_status,
    };
    let count = summary.by_status.iter().map(|total| total.count).sum();
    let page = list.page(rows.into_iter().map(Into::into).collect(), Some(count));
    Ok(InvoicePage { page, summary })
}

pub fn get_invoice(conn: &mut DbConn, company: &CompanyId, id: &InvoiceId) -> Result<Invoice, ApiError> {
    store::find_invoice(conn, company, id)?.map(Into::into).ok_or(ApiError::NotFound("invoice"))
}

/// All tiers, cheapest first.
pub fn list_tiers(conn: &mut DbConn) -> Result<Vec<Tier>, ApiError> {
    Ok(store::list_tiers(conn)?.into_iter().map(Into::into).collect())
}

/// The smallest tier whose features satisfy `wanted`, for upgrade hints.
pub fn cheapest_tier_with(conn: &mut DbConn, wanted: impl Fn(&Tier) -> bool) -> Result<Option<TierCode>, ApiError> {
    Ok(list_tiers(conn)?.into_iter().find(|tier| wanted(tier)).map(|tier| tier.code))
}
