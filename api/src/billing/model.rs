//! Tiers and what each allows.

use diesel::prelude::*;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::db::schema::tiers;
use crate::http::pagination::Page;

pub use crate::plans::{BYTES_PER_GB, LimitKind, Tier, TierCode, TierFeatures};

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = tiers)]
pub struct TierRow {
    pub code: String,
    pub name: String,
    pub max_employees: Option<i32>,
    pub max_agents: Option<i32>,
    pub max_storage_gb: Option<i32>,
    pub retention_days: i32,
    pub features: String,
    pub display_order: i32,
    pub monthly_price_minor: i64,
    pub currency: String,
}

impl From<TierRow> for Tier {
    fn from(row: TierRow) -> Self {
        Self {
            code: TierCode::parse(&row.code).unwrap_or(TierCode::Free),
            name: row.name,
            max_employees: row.max_employees.map(i64::from),
            max_agents: row.max_agents.map(i64::from),
            max_storage_gb: row.max_storage_gb.map(i64::from),
            retention_days: i64::from(row.retention_days),
            features: serde_json::from_str(&row.features).unwrap_or_default(),
            display_order: i64::from(row.display_order),
            monthly_price_minor: row.monthly_price_minor,
            currency: row.currency,
        }
    }
}

/// Where a subscription stands, as Vigil sees it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum SubscriptionStatus {
    /// Paid up (Stripe: active, trialing).
    Active,
    /// A payment failed (Stripe: past_due, unpaid); the tier holds for the grace period.
    PastDue,
    /// Not started or paused (Stripe: incomplete, incomplete_expired, paused).
    Inactive,
    /// Ended (Stripe: canceled); FREE limits apply.
    Cancelled,
}

impl SubscriptionStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Active => "ACTIVE",
            Self::PastDue => "PAST_DUE",
            Self::Inactive => "INACTIVE",
            Self::Cancelled => "CANCELLED",
        }
    }

    pub fn parse(text: &str) -> Self {
        match text {
            "ACTIVE" => Self::Active,
            "PAST_DUE" => Self::PastDue,
            "CANCELLED" => Self::Cancelled,
            _ => Self::Inactive,
        }
    }

    /// Maps Stripe's subscription status.
    pub fn from_stripe(status: &str) -> Self {
        match status {
            "active" | "trialing" => Self::Active,
            "past_due" | "unpaid" => Self::PastDue,
            "canceled" => Self::Cancelled,
            _ => Self::Inactive,
        }
    }

    /// Whether a subscription in this status is still running at Stripe (ACTIVE, or PAST_DUE while Stripe
    /// retries the payment): it can be changed or cancelled, and it wins over a finished one. Which tier
    /// applies is another question: `billing::service::effective_tier_code`.
    pub fn is_live(self) -> bool {
        matches!(self, Self::Active | Self::PastDue)
    }
}

#[derive(Debug, Clone, Queryable, Selectable, Insertable, AsChangeset)]
#[diesel(table_name = crate::db::schema::subscriptions, treat_none_as_null = true)]
pub struct SubscriptionRow {
    pub id: String,
    pub company_id: String,
    pub tier_code: String,
    pub status: String,
    pub created_at: chrono::NaiveDateTime,
    pub updated_at: chrono::NaiveDateTime,
    pub stripe_subscription_id: Option<String>,
    pub stripe_item_id: Option<String>,
    pub stripe_price_id: Option<String>,
    pub current_period_start: Option<chrono::NaiveDateTime>,
    pub current_period_end: Option<chrono::NaiveDateTime>,
    pub auto_renew: bool,
    pub default_payment_method: Option<String>,
    pub cancelled_at: Option<chrono::NaiveDateTime>,
    pub grace_period_ends_at: Option<chrono::NaiveDateTime>,
    pub stripe_updated_at: Option<i64>,
    /// When the subscription ends by a date set in the Dashboard or portal (Stripe's `cancel_at`).
    pub cancel_at: Option<chrono::NaiveDateTime>,
    /// Stripe's `created` of the mirrored subscription: of two live ones, the newest is kept.
    pub stripe_subscription_created: Option<i64>,
    /// The subscription schedule attached at Stripe, if any.
    pub stripe_schedule_id: Option<String>,
    /// A downgrade that schedule makes at the end of the period: the tier, and when.
    pub scheduled_tier_code: Option<String>,
    pub scheduled_change_at: Option<chrono::NaiveDateTime>,
}

/// Where a Checkout session Vigil opened stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CheckoutStatus {
    Open,
    Complete,
    Expired,
}

impl CheckoutStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Open => "OPEN",
            Self::Complete => "COMPLETE",
            Self::Expired => "EXPIRED",
        }
    }
}

/// A Checkout session Vigil opened for a company.
#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = crate::db::schema::checkout_sessions)]
pub struct CheckoutSessionRow {
    pub id: String,
    pub company_id: String,
    pub stripe_session_id: String,
    pub tier_code: String,
    pub url: String,
    pub status: String,
    pub expires_at: chrono::NaiveDateTime,
    pub created_at: chrono::NaiveDateTime,
    pub updated_at: chrono::NaiveDateTime,
}

impl SubscriptionRow {
    /// Whether the company has a paid subscription running at Stripe: one is linked and its status is live.
    pub fn has_live_stripe_subscription(&self) -> bool {
        self.stripe_subscription_id.is_some() && SubscriptionStatus::parse(&self.status).is_live()
    }
}

/// The company's subscription as mirrored from Stripe.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Subscription {
    /// The subscribed tier.
    pub tier: TierCode,
    /// The tier whose limits apply now (FREE after a cancellation or an expired grace period).
    pub effective_tier: TierCode,
    pub status: SubscriptionStatus,
    pub stripe_subscription_id: Option<String>,
    #[schema(value_type = Option<String>, format = DateTime)]
    pub current_period_start: Option<chrono::DateTime<chrono::Utc>>,
    #[schema(value_type = Option<String>, format = DateTime)]
    pub current_period_end: Option<chrono::DateTime<chrono::Utc>>,
    /// False when the subscription ends at the end of the period or on a set date (`cancel_at`).
    pub auto_renew: bool,
    /// When the subscription is set to end on a date (in the Dashboard or the portal); it does not renew.
    #[schema(value_type = Option<String>, format = DateTime)]
    pub cancel_at: Option<chrono::DateTime<chrono::Utc>>,
    pub default_payment_method: Option<String>,
    #[schema(value_type = Option<String>, format = DateTime)]
    pub cancelled_at: Option<chrono::DateTime<chrono::Utc>>,
    /// While PAST_DUE: when the tier's limits stop applying unless a payment succeeds.
    #[schema(value_type = Option<String>, format = DateTime)]
    pub grace_period_ends_at: Option<chrono::DateTime<chrono::Utc>>,
    /// A downgrade that takes effect at the end of the period (a subscription schedule at Stripe).
    pub scheduled_change: Option<ScheduledChange>,
}

/// A change of plan Stripe makes at a set time: the tier applies from `at` on.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ScheduledChange {
    pub tier: TierCode,
    #[schema(value_type = String, format = DateTime)]
    pub at: chrono::DateTime<chrono::Utc>,
}

/// How an invoice stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum InvoiceStatus {
    Draft,
    Open,
    Paid,
    Void,
    Uncollectible,
}

impl InvoiceStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Draft => "DRAFT",
            Self::Open => "OPEN",
            Self::Paid => "PAID",
            Self::Void => "VOID",
            Self::Uncollectible => "UNCOLLECTIBLE",
        }
    }

    pub fn parse(text: &str) -> Self {
        match text {
            "DRAFT" => Self::Draft,
            "PAID" => Self::Paid,
            "VOID" => Self::Void,
            "UNCOLLECTIBLE" => Self::Uncollectible,
            _ => Self::Open,
        }
    }

    /// Maps Stripe's invoice status (`draft`, `open`, `paid`, `void`, `uncollectible`).
    pub fn from_stripe(status: &str) -> Self {
        Self::parse(&status.to_ascii_uppercase())
    }
}

#[derive(Debug, Clone, Queryable, Selectable, Insertable, AsChangeset)]
#[diesel(table_name = crate::db::schema::invoices, treat_none_as_null = true)]
pub struct InvoiceRow {
    pub id: String,
    pub company_id: String,
    pub stripe_invoice_id: String,
    pub stripe_subscription_id: Option<String>,
    pub number: Option<String>,
    pub status: String,
    pub amount_due: i64,
    pub amount_paid: i64,
    pub currency: String,
    pub issued_at: chrono::NaiveDateTime,
    pub due_at: Option<chrono::NaiveDateTime>,
    pub paid_at: Option<chrono::NaiveDateTime>,
    pub hosted_invoice_url: Option<String>,
    pub invoice_pdf: Option<String>,
    pub stripe_updated_at: i64,
    pub created_at: chrono::NaiveDateTime,
    pub updated_at: chrono::NaiveDateTime,
}

/// An invoice as the API shows it. Amounts are minor units of `currency`.
#[derive(Debug, Clone, Serialize, ToSchema)]
#[schema(example = json!({"id": "0193a5b2-7c4e-7d2a-9f1b-3c5d7e9f1a2b", "stripe_invoice_id": "in_1Q2w3E4r", "number": "A1B2-0001",
    "status": "PAID", "amount_due": 2900, "amount_paid": 2900, "currency": "usd", "issued_at": "2026-11-01T00:00:00Z",
    "due_at": null, "paid_at": "2026-11-01T00:00:05Z", "hosted_invoice_url": "https://invoice.stripe.com/i/…",
    "invoice_pdf": "https://pay.stripe.com/invoice/…/pdf"}))]
pub struct Invoice {
    pub id: crate::ids::InvoiceId,
    pub stripe_invoice_id: String,
    pub number: Option<String>,
    pub status: InvoiceStatus,
    pub amount_due: i64,
    pub amount_paid: i64,
    pub currency: String,
    #[schema(value_type = String, format = DateTime)]
    pub issued_at: chrono::DateTime<chrono::Utc>,
    #[schema(value_type = Option<String>, format = DateTime)]
    pub due_at: Option<chrono::DateTime<chrono::Utc>>,
    #[schema(value_type = Option<String>, format = DateTime)]
    pub paid_at: Option<chrono::DateTime<chrono::Utc>>,
    /// Stripe's page for the invoice (pay or view).
    pub hosted_invoice_url: Option<String>,
    /// The PDF.
    pub invoice_pdf: Option<String>,
}

impl crate::http::pagination::Listed for Invoice {
    fn list_id(&self) -> &str {
        self.id.as_str()
    }
}

impl From<InvoiceRow> for Invoice {
    fn from(row: InvoiceRow) -> Self {
        Self {
            id: crate::ids::InvoiceId::from_db(row.id),
            stripe_invoice_id: row.stripe_invoice_id,
            number: row.number,
            status: InvoiceStatus::parse(&row.status),
            amount_due: row.amount_due,
            amount_paid: row.amount_paid,
            currency: row.currency,
            issued_at: row.issued_at.and_utc(),
            due_at: row.due_at.map(|t| t.and_utc()),
            paid_at: row.paid_at.map(|t| t.and_utc()),
            hosted_invoice_url: row.hosted_invoice_url,
            invoice_pdf: row.invoice_pdf,
        }
    }
}

/// Totals over the invoices matching a filter, in minor units.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct InvoiceSummary {
    /// Sum of `amount_due`.
    pub total: i64,
    /// Sum of `amount_paid`.
    pub paid: i64,
    /// What is still owed on OPEN and UNCOLLECTIBLE invoices.
    pub outstanding: i64,
    pub currency: String,
    /// The same sums for each status the filter covers, with how many invoices have it.
    pub by_status: Vec<InvoiceStatusTotal>,
}

/// The invoices of one status.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct InvoiceStatusTotal {
    pub status: InvoiceStatus,
    pub count: i64,
    pub amount_due: i64,
    pub amount_paid: i64,
}

/// `GET /api/v1/billing/invoices`: a page plus the summary over the whole filter.
#[derive(Debug, Serialize, ToSchema)]
pub struct InvoicePage {
    #[serde(flatten)]
    pub page: Page<Invoice>,
    pub summary: InvoiceSummary,
}

impl actix_web::Responder for InvoicePage {
    type Body = actix_web::body::BoxBody;

    fn respond_to(self, req: &actix_web::HttpRequest) -> actix_web::HttpResponse {
        let links = self.page.links(req);
        crate::http::pagination::respond_with_links(&self, links)
    }
}

/// Filter of the invoice list.
#[derive(Debug, Clone, Default, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct InvoiceFilter {
    pub status: Option<InvoiceStatus>,
}

/// One measured resource against its limit.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct UsageItem {
    pub used: i64,
    /// `null` when the tier has no limit.
    pub limit: Option<i64>,
    /// `used / limit` in percent, rounded down; `null` when unlimited.
    pub percent: Option<i64>,
}

impl UsageItem {
    pub fn new(used: i64, limit: Option<i64>) -> Self {
        let percent = limit.map(|limit| if limit <= 0 { 100 } else { used.saturating_mul(100) / limit });
        Self { used, limit, percent }
    }
}

/// What the company uses of its tier.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Usage {
    pub active_employees: UsageItem,
    pub agents: UsageItem,
    /// Bytes of activity and screenshots stored, against `max_storage_gb` in bytes.
    pub storage_bytes: UsageItem,
}

impl Usage {
    /// Each measured resource with the limit it counts against.
    pub fn items(&self) -> [(LimitKind, &UsageItem); 3] {
        [
            (LimitKind::MaxEmployees, &self.active_employees),
            (LimitKind::MaxAgents, &self.agents),
            (LimitKind::MaxStorageGb, &self.storage_bytes),
        ]
    }
}

/// One limit that current usage exceeds.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Excess {
    pub limit: LimitKind,
    pub used: i64,
    /// The limit of the plan that applies now (bytes for storage).
    pub max: i64,
    /// How much to remove to be within the limit.
    pub over_by: i64,
}

/// Usage above the limits of the plan that applies now (after a downgrade, a cancellation, the end of a grace
/// period). Writes that add usage are refused and the agents past the agent limit are suspended until the
/// company removes what is over or upgrades.
#[derive(Debug, Clone, Serialize, ToSchema)]
#[schema(example = json!({"summary": "3 employees and 2 agents over the Free plan's limits", "tier": "FREE",
    "excess": [{"limit": "max_employees", "used": 8, "max": 5, "over_by": 3}, {"limit": "max_agents", "used": 7, "max": 5, "over_by": 2}],
    "suspended_agents": 2}))]
pub struct OverLimit {
    /// What to remove, as the dashboard says it.
    pub summary: String,
    pub tier: TierCode,
    pub excess: Vec<Excess>,
    /// Agents past the agent limit, which record nothing until the company is within it.
    pub suspended_agents: i64,
}

impl OverLimit {
    /// The limits of `tier` that `usage` exceeds; `None` when it is within all of them.
    pub fn of(usage: &Usage, tier: &Tier) -> Option<Self> {
        let excess: Vec<Excess> = usage
            .items()
            .into_iter()
            .filter_map(|(limit, item)| {
                let max = item.limit.filter(|max| item.used > *max)?;
                Some(Excess { limit, used: item.used, max, over_by: item.used - max })
            })
            .collect();
        if excess.is_empty() {
            return None;
        }
        let phrases: Vec<String> = excess.iter().map(|e| e.limit.excess_phrase(e.over_by)).collect();
        let listed = match phrases.split_last() {
            Some((last, [])) => last.clone(),
            Some((last, rest)) => format!("{} and {last}", rest.join(", ")),
            None => String::new(),
        };
        let suspended_agents = excess.iter().find(|e| e.limit == LimitKind::MaxAgents).map_or(0, |e| e.over_by);
        Some(Self {
            summary: format!("{listed} over the {} plan's limits", tier.name),
            tier: tier.code,
            excess,
            suspended_agents,
        })
    }
}

/// The PAST_DUE grace period.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct GracePeriod {
    #[schema(value_type = String, format = DateTime)]
    pub ends_at: chrono::DateTime<chrono::Utc>,
    pub days_left: i64,
}

/// `GET /api/v1/billing`: everything the billing dashboard shows.
#[derive(Debug, Serialize, ToSchema)]
pub struct BillingDashboard {
    /// The tier whose limits apply now.
    pub tier: Tier,
    pub subscription: Subscription,
    /// Price per month in minor units of `currency`.
    pub price_minor: i64,
    pub currency: String,
    /// The next renewal, when the subscription renews.
    #[schema(value_type = Option<String>, format = DateTime)]
    pub renews_at: Option<chrono::DateTime<chrono::Utc>>,
    /// When a subscription set not to renew ends.
    #[schema(value_type = Option<String>, format = DateTime)]
    pub ends_at: Option<chrono::DateTime<chrono::Utc>>,
    pub grace_period: Option<GracePeriod>,
    pub usage: Usage,
    /// How long activity and screenshots are kept, and when a deletion after a shortened retention is due.
    pub retention: Retention,
    /// Set while usage is above the limits of the plan that applies now: what to remove.
    pub over_limit: Option<OverLimit>,
    pub recent_invoices: Vec<Invoice>,
    pub billing_email: Option<String>,
    pub tax_id: Option<TaxId>,
    /// The card Stripe charges invoices with, as last read from Stripe; none when no card is on file.
    pub card: Option<CardOnFile>,
    /// False when the server has no Stripe keys: plan changes are unavailable.
    pub billing_configured: bool,
}

/// A tax id on the company's invoices.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema, validator::Validate)]
#[schema(example = json!({"type": "eu_vat", "value": "DE123456789"}))]
pub struct TaxId {
    /// Stripe's tax id type, e.g. `eu_vat`, `us_ein`, `gb_vat`.
    #[serde(rename = "type")]
    #[validate(
        custom(function = "crate::http::validation::not_blank"),
        length(max = 20, message = "must be at most 20 characters long")
    )]
    #[schema(min_length = 1, max_length = 20, pattern = "\\S")]
    pub kind: String,
    #[validate(
        custom(function = "crate::http::validation::not_blank"),
        length(max = 64, message = "must be at most 64 characters long")
    )]
    #[schema(min_length = 1, max_length = 64, pattern = "\\S")]
    pub value: String,
}

/// `POST /api/v1/billing/checkout-session` and `PUT /api/v1/billing/subscription`.
#[derive(Debug, Clone, Deserialize, ToSchema, validator::Validate)]
#[schema(example = json!({"tier": "PRO"}))]
pub struct TierRequest {
    pub tier: TierCode,
}

/// `PUT /api/v1/billing/subscription`: the tier to move to and, to be invoiced exactly what a preview
/// showed, that preview's `proration_date` and `quote`.
#[derive(Debug, Clone, Deserialize, ToSchema, validator::Validate)]
#[schema(example = json!({"tier": "ENTERPRISE", "proration_date": "2026-12-03T14:00:00Z",
    "quote": "4f3c2a9e0d6b8c1f7a5e3d2b9c0f1e4a6b8d7c5e3f2a1b0c9d8e7f6a5b4c3d2e1f"}))]
pub struct PlanChangeRequest {
    pub tier: TierCode,
    /// The `proration_date` of `GET /api/v1/billing/subscription/preview`: the change is prorated as of
    /// then. At most an hour old; without it, the change is prorated as of now.
    #[serde(default)]
    #[schema(value_type = Option<String>, format = DateTime)]
    pub proration_date: Option<chrono::DateTime<chrono::Utc>>,
    /// The `quote` of that preview; required with `proration_date`, which it signs.
    #[serde(default)]
    #[validate(length(max = 128))]
    #[schema(max_length = 128)]
    pub quote: Option<String>,
}

/// `GET /api/v1/billing/subscription/preview?tier=…`.
#[derive(Debug, Clone, Deserialize, utoipa::IntoParams, validator::Validate)]
#[into_params(parameter_in = Query)]
pub struct PlanPreviewQuery {
    /// The paid tier to move to.
    pub tier: TierCode,
}

/// One line of a previewed invoice: a credit (negative) for the unused time on the current plan, or the
/// charge for the rest of the period on the new one.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct PreviewLine {
    pub description: String,
    /// Minor units of `currency`; negative for a credit.
    pub amount: i64,
}

/// What a change of plan would be invoiced now, as Stripe computed it.
#[derive(Debug, Clone, Serialize, ToSchema)]
#[schema(example = json!({"tier": "ENTERPRISE", "amount_due": 4667, "currency": "usd",
    "lines": [{"description": "Unused time on Pro after 03 Dec 2026", "amount": -1933},
              {"description": "Remaining time on Enterprise after 03 Dec 2026", "amount": 6600}],
    "period_start": "2026-12-03T14:00:00Z", "period_end": "2027-01-01T00:00:00Z",
    "proration_date": "2026-12-03T14:00:00Z",
    "quote": "4f3c2a9e0d6b8c1f7a5e3d2b9c0f1e4a6b8d7c5e3f2a1b0c9d8e7f6a5b4c3d2e1f",
    "takes_effect_at": "2026-12-03T14:00:00Z"}))]
pub struct PlanChangePreview {
    pub tier: TierCode,
    /// What the change charges at once, in minor units of `currency` (0 when the credit covers it).
    pub amount_due: i64,
    pub currency: String,
    /// The prorations.
    pub lines: Vec<PreviewLine>,
    /// The part of the period the prorations cover.
    #[schema(value_type = String, format = DateTime)]
    pub period_start: chrono::DateTime<chrono::Utc>,
    #[schema(value_type = String, format = DateTime)]
    pub period_end: chrono::DateTime<chrono::Utc>,
    /// The moment the amounts are computed for; send it with the change, with `quote`, to be invoiced
    /// exactly this.
    #[schema(value_type = String, format = DateTime)]
    pub proration_date: chrono::DateTime<chrono::Utc>,
    /// The server's signature of this preview's `proration_date` for this company, subscription and tier:
    /// a change sent with a `proration_date` must carry the `quote` that came with it.
    pub quote: String,
    /// When the new plan applies: at once once paid, or, for a downgrade that waits for the end of the
    /// period, then (nothing is invoiced now; the next renewal is at the new price).
    #[schema(value_type = String, format = DateTime)]
    pub takes_effect_at: chrono::DateTime<chrono::Utc>,
}

/// `GET /api/v1/billing/settings`: what `PATCH /api/v1/billing/settings` changes.
#[derive(Debug, Clone, Serialize, ToSchema)]
#[schema(example = json!({"auto_renewal": true, "billing_email": "billing@acme.test"}))]
pub struct BillingSettings {
    /// Whether the subscription renews at the end of the period (Stripe's `cancel_at_period_end`, negated).
    pub auto_renewal: bool,
    pub billing_email: Option<String>,
}

/// `PATCH /api/v1/billing/settings`.
#[derive(Debug, Clone, Default, Deserialize, ToSchema, validator::Validate)]
#[schema(example = json!({"auto_renewal": false, "billing_email": "billing@acme.test"}))]
pub struct BillingSettingsRequest {
    /// False cancels at the end of the period; true resumes.
    pub auto_renewal: Option<bool>,
    #[validate(email(message = "must be a valid email address"), length(max = 254))]
    #[schema(format = Email, max_length = 254)]
    pub billing_email: Option<String>,
}

/// A Stripe-hosted page to send the browser to.
#[derive(Debug, Serialize, ToSchema)]
#[schema(example = json!({"url": "https://checkout.stripe.com/c/pay/cs_test_…"}))]
pub struct RedirectUrl {
    pub url: String,
}

/// How long the company's data is kept, as the billing dashboard shows it.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Retention {
    /// Days the plan that applies now keeps data.
    pub plan_days: i64,
    /// Days data is kept now: the plan's, or the longer retention held after it shortened.
    pub kept_days: i64,
    /// When data older than `plan_days` will be deleted, unless the company upgrades or pays first;
    /// `null` when nothing is scheduled.
    #[schema(value_type = Option<String>, format = DateTime)]
    pub deletion_scheduled_at: Option<chrono::DateTime<chrono::Utc>>,
}

/// The card Stripe charges the company's invoices with, as last read from Stripe.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[schema(example = json!({"brand": "visa", "last4": "4242", "exp_month": 12, "exp_year": 2030}))]
pub struct CardOnFile {
    /// Stripe's brand, lower case: `visa`, `mastercard`, `amex`, …
    pub brand: String,
    pub last4: String,
    pub exp_month: i32,
    pub exp_year: i32,
}
