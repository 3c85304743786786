//! Public billing information.

use actix_web::{HttpResponse, delete, get, patch, post, put, web};

use super::changes::{self, BillingActor};
use super::customer_changes;
use super::model::{
    BillingDashboard, BillingSettings, BillingSettingsRequest, Invoice, InvoiceFilter, InvoicePage, PlanChangePreview,
    PlanChangeRequest, PlanPreviewQuery, RedirectUrl, Subscription, TaxId, Tier, TierRequest,
};
use super::quote::Quotes;
use super::{plan_change, service};
use crate::config::Config;
use crate::db::{self, DbPool};
use crate::error::ApiError;
use crate::http::extract::{ValidatedJson, ValidatedQuery};
use crate::http::pagination::{CursorQuery, ListRequest, PageQuery};
use crate::http::precondition::{IfMatch, IfMatchParam, Tagged};
use crate::http::principal::{AdminReader, AdminUser, Auth};
use crate::ids::InvoiceId;
use crate::stripe::StripeSetup;

/// Invoices shown per page unless asked otherwise (the payment history shows 10).
const INVOICES_PER_PAGE: u32 = 10;

/// The plans with their limits, features and prices, cheapest first. Public, for the pricing page.
#[utoipa::path(
    tag = "billing",
    operation_id = "list_tiers",
    responses((status = 200, description = "All tiers", body = Vec<Tier>)),
)]
#[get("/tiers")]
pub async fn list_tiers(pool: web::Data<DbPool>) -> Result<web::Json<Vec<Tier>>, ApiError> {
    Ok(web::Json(db::run(&pool, super::service::list_tiers).await?))
}

/// The billing dashboard: plan, status, renewal, usage against limits, and the latest invoices.
#[utoipa::path(
    tag = "billing",
    operation_id = "get_billing",
    security(("bearer" = [])),
    responses((status = 200, description = "The dashboard", body = BillingDashboard)),
)]
#[get("/billing")]
pub async fn get_billing(
    auth: Auth<AdminReader>,
    pool: web::Data<DbPool>,
    stripe: web::Data<StripeSetup>,
) -> Result<web::Json<BillingDashboard>, ApiError> {
    let (company, configured, hold) = (auth.company_id().clone(), stripe.is_configured(), stripe.retention_hold_days);
    Ok(web::Json(db::run(&pool, move |conn| service::dashboard(conn, &company, configured, hold)).await?))
}

/// The subscription mirror, for integrators.
#[utoipa::path(
    tag = "billing",
    operation_id = "get_subscription",
    security(("bearer" = [])),
    responses((status = 200, description = "The subscription", body = Subscription)),
)]
#[get("/billing/subscription")]
pub async fn get_subscription(
    auth: Auth<AdminReader>,
    pool: web::Data<DbPool>,
) -> Result<web::Json<Subscription>, ApiError> {
    let company = auth.company_id().clone();
    Ok(web::Json(db::run(&pool, move |conn| service::get_subscription(conn, &company)).await?))
}

/// Invoices, newest first, 10 a page by default, with totals over the whole filter.
#[utoipa::path(
    tag = "billing",
    operation_id = "list_invoices",
    params(InvoiceFilter, PageQuery, CursorQuery),
    security(("bearer" = [])),
    responses((status = 200, description = "One page of invoices and the summary", body = InvoicePage, headers(("Link" = String, description = "The `next` and `prev` pages, as RFC 8288 links that keep the filters")))),
)]
#[get("/billing/invoices")]
pub async fn list_invoices(
    auth: Auth<AdminReader>,
    filter: web::Query<InvoiceFilter>,
    page: web::Query<PageQuery>,
    cursor: web::Query<CursorQuery>,
    pool: web::Data<DbPool>,
) -> Result<InvoicePage, ApiError> {
    let page = ListRequest::choose_with_default(page.into_inner(), cursor.into_inner(), INVOICES_PER_PAGE)?;
    let (company, filter) = (auth.company_id().clone(), filter.into_inner());
    db::run(&pool, move |conn| service::list_invoices(conn, &company, &filter, &page)).await
}

/// One invoice with its hosted page and PDF links.
#[utoipa::path(
    tag = "billing",
    operation_id = "get_invoice",
    security(("bearer" = [])),
    responses((status = 200, description = "The invoice", body = Invoice)),
)]
#[get("/billing/invoices/{invoice_id}")]
pub async fn get_invoice(
    auth: Auth<AdminReader>,
    invoice_id: web::Path<InvoiceId>,
    pool: web::Data<DbPool>,
) -> Result<web::Json<Invoice>, ApiError> {
    let (company, id) = (auth.company_id().clone(), invoice_id.into_inner());
    Ok(web::Json(db::run(&pool, move |conn| service::get_invoice(conn, &company, &id)).await?))
}

fn billing_actor(auth: &Auth<AdminUser>) -> BillingActor {
    BillingActor { company: auth.company_id().clone(), audit: auth.audit_actor() }
}

/// Starts a Stripe Checkout for a paid tier; the browser goes to the returned URL. Refused while a paid
/// subscription is live. One Checkout is open per company: asking again for the same tier returns the open
/// session's URL, and asking for another tier expires the open session at Stripe first.
#[utoipa::path(
    tag = "billing",
    operation_id = "create_checkout_session",
    request_body = TierRequest,
    security(("bearer" = [])),
    responses(
        (status = 200, description = "Where to send the browser", body = RedirectUrl),
        (status = 409, description = "A paid subscription exists, or the open Checkout was just completed (`subscription_exists`)", body = crate::error::Problem, content_type = "application/problem+json"),
        (status = 502, description = "Stripe refused the request (`stripe_error`); nothing changed", body = crate::error::Problem, content_type = "application/problem+json"),
        (status = 503, description = "Billing is not configured (`billing_not_configured`), Stripe is unreachable (`stripe_unavailable`) or the database is (`database_unavailable`)", body = crate::error::Problem, content_type = "application/problem+json"),
    ),
)]
#[post("/billing/checkout-session")]
pub async fn create_checkout_session(
    auth: Auth<AdminUser>,
    body: ValidatedJson<TierRequest>,
    pool: web::Data<DbPool>,
    stripe: web::Data<StripeSetup>,
    config: web::Data<Config>,
) -> Result<web::Json<RedirectUrl>, ApiError> {
    let actor = billing_actor(&auth);
    Ok(web::Json(changes::start_checkout(&pool, &stripe, &config.public_url, &actor, body.tier).await?))
}

/// A Stripe Billing Portal session for the payment method and invoices.
#[utoipa::path(
    tag = "billing",
    operation_id = "create_portal_session",
    security(("bearer" = [])),
    responses(
        (status = 200, description = "Where to send the browser", body = RedirectUrl),
        (status = 502, description = "Stripe refused the request (`stripe_error`)", body = crate::error::Problem, content_type = "application/problem+json"),
        (status = 503, description = "Billing is not configured (`billing_not_configured`), or Stripe or the database is unreachable", body = crate::error::Problem, content_type = "application/problem+json"),
    ),
)]
#[post("/billing/portal-session")]
pub async fn create_portal_session(
    auth: Auth<AdminUser>,
    pool: web::Data<DbPool>,
    stripe: web::Data<StripeSetup>,
    config: web::Data<Config>,
) -> Result<web::Json<RedirectUrl>, ApiError> {
    let actor = billing_actor(&auth);
    Ok(web::Json(changes::open_portal(&pool, &stripe, &config.public_url, &actor).await?))
}

/// Changes the plan of the live subscription. The prorations of the rest of the period are invoiced and
/// charged at once, and the new plan applies only once that invoice is paid: when the payment fails, the
/// company stays on its plan and the answer is 402 `payment_required` with the invoice's payment page
/// (`hosted_invoice_url`); paying there applies the change. FREE cancels at the end of the period; a
/// downgrade the current usage would exceed is refused. Changing to the current tier changes nothing.
#[utoipa::path(
    tag = "billing",
    operation_id = "change_plan",
    request_body = PlanChangeRequest,
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The subscription after the change", body = Subscription),
        (status = 402, description = "The change waits for its invoice to be paid (`payment_required`, with `hosted_invoice_url`: the page to pay it on); nothing changed. Or Stripe declined the card outright (`payment_failed`, Stripe's message)", body = crate::error::Problem, content_type = "application/problem+json"),
        (status = 409, description = "`no_subscription`, `downgrade_exceeds_limits`, or `subscription_ending` (a downgrade of a cancelled subscription: resume it first)", body = crate::error::Problem, content_type = "application/problem+json"),
        (status = 422, description = "An unknown tier, or a `proration_date` that is not from a preview of the last hour (`validation_failed`)", body = crate::error::Problem, content_type = "application/problem+json"),
        (status = 502, description = "Stripe refused the request (`stripe_error`); nothing changed", body = crate::error::Problem, content_type = "application/problem+json"),
        (status = 503, description = "Billing is not configured, or Stripe or the database is unreachable", body = crate::error::Problem, content_type = "application/problem+json"),
    ),
)]
#[put("/billing/subscription")]
pub async fn change_plan(
    auth: Auth<AdminUser>,
    body: ValidatedJson<PlanChangeRequest>,
    pool: web::Data<DbPool>,
    stripe: web::Data<StripeSetup>,
    quotes: web::Data<Quotes>,
) -> Result<web::Json<Subscription>, ApiError> {
    let actor = billing_actor(&auth);
    Ok(web::Json(plan_change::change_plan(&pool, &stripe, &quotes, &actor, body.into_inner()).await?))
}

/// Stripe's preview of what changing to `tier` would invoice now: the prorations of the rest of the
/// period (a credit for the unused time on the current plan, the charge for the new one) and the amount
/// due. Send its `proration_date` with the change to be invoiced exactly this.
#[utoipa::path(
    tag = "billing",
    operation_id = "preview_plan_change",
    params(PlanPreviewQuery),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The prorated amount", body = PlanChangePreview),
        (status = 409, description = "No paid subscription (`no_subscription`), or the company is on that tier already (`plan_unchanged`)", body = crate::error::Problem, content_type = "application/problem+json"),
        (status = 422, description = "A missing or unknown tier, or FREE (a cancellation prorates nothing) (`validation_failed`)", body = crate::error::Problem, content_type = "application/problem+json"),
        (status = 502, description = "Stripe refused the request (`stripe_error`)", body = crate::error::Problem, content_type = "application/problem+json"),
        (status = 503, description = "Billing is not configured, or Stripe or the database is unreachable", body = crate::error::Problem, content_type = "application/problem+json"),
    ),
)]
#[get("/billing/subscription/preview")]
pub async fn preview_plan_change(
    auth: Auth<AdminUser>,
    query: ValidatedQuery<PlanPreviewQuery>,
    pool: web::Data<DbPool>,
    stripe: web::Data<StripeSetup>,
    quotes: web::Data<Quotes>,
) -> Result<web::Json<PlanChangePreview>, ApiError> {
    Ok(web::Json(plan_change::preview(&pool, &stripe, &quotes, auth.company_id(), query.into_inner().tier).await?))
}

/// Cancels the subscription at the end of the current period.
#[utoipa::path(
    tag = "billing",
    operation_id = "cancel_subscription",
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The subscription, set to end at the period's end", body = Subscription),
        (status = 409, description = "No paid subscription (`no_subscription`)", body = crate::error::Problem, content_type = "application/problem+json"),
        (status = 502, description = "Stripe refused the request (`stripe_error`)", body = crate::error::Problem, content_type = "application/problem+json"),
        (status = 503, description = "Billing is not configured, or Stripe or the database is unreachable", body = crate::error::Problem, content_type = "application/problem+json"),
    ),
)]
#[post("/billing/subscription/cancel")]
pub async fn cancel_subscription(
    auth: Auth<AdminUser>,
    pool: web::Data<DbPool>,
    stripe: web::Data<StripeSetup>,
) -> Result<web::Json<Subscription>, ApiError> {
    Ok(web::Json(changes::cancel(&pool, &stripe, &billing_actor(&auth)).await?))
}

/// Undoes a cancellation at period end: the subscription renews again.
#[utoipa::path(
    tag = "billing",
    operation_id = "resume_subscription",
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The subscription, renewing", body = Subscription),
        (status = 409, description = "No paid subscription (`no_subscription`)", body = crate::error::Problem, content_type = "application/problem+json"),
        (status = 502, description = "Stripe refused the request (`stripe_error`)", body = crate::error::Problem, content_type = "application/problem+json"),
        (status = 503, description = "Billing is not configured, or Stripe or the database is unreachable", body = crate::error::Problem, content_type = "application/problem+json"),
    ),
)]
#[post("/billing/subscription/resume")]
pub async fn resume_subscription(
    auth: Auth<AdminUser>,
    pool: web::Data<DbPool>,
    stripe: web::Data<StripeSetup>,
) -> Result<web::Json<Subscription>, ApiError> {
    Ok(web::Json(changes::resume(&pool, &stripe, &billing_actor(&auth)).await?))
}

/// The settings `PATCH /api/v1/billing/settings` changes, with their `ETag`.
#[utoipa::path(
    tag = "billing",
    operation_id = "get_billing_settings",
    security(("bearer" = [])),
    responses((status = 200, description = "The billing settings", body = BillingSettings, headers(("ETag" = String, description = "The settings' version; send it back in `If-Match` to change them")))),
)]
#[get("/billing/settings")]
pub async fn get_billing_settings(
    auth: Auth<AdminReader>,
    pool: web::Data<DbPool>,
) -> Result<Tagged<BillingSettings>, ApiError> {
    let company = auth.company_id().clone();
    db::run(&pool, move |conn| service::settings(conn, &company)).await
}

/// Auto-renewal and the billing email (synced to the Stripe customer): only the fields sent. With
/// `If-Match`, only if the settings are still the version read.
#[utoipa::path(
    tag = "billing",
    operation_id = "update_billing_settings",
    request_body = BillingSettingsRequest,
    params(IfMatchParam),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The dashboard after the change", body = BillingDashboard, headers(("ETag" = String, description = "The billing settings' new version (as on `GET /api/v1/billing/settings`)"))),
        (status = 409, description = "Auto-renewal without a paid subscription (`no_subscription`)", body = crate::error::Problem, content_type = "application/problem+json"),
        (status = 412, description = "The settings changed since the `If-Match` version was read (`precondition_failed`); nothing changed", body = crate::error::Problem, content_type = "application/problem+json"),
        (status = 502, description = "Stripe refused the request (`stripe_error`)", body = crate::error::Problem, content_type = "application/problem+json"),
        (status = 503, description = "Billing is not configured, or Stripe or the database is unreachable", body = crate::error::Problem, content_type = "application/problem+json"),
    ),
)]
#[patch("/billing/settings")]
pub async fn update_billing_settings(
    auth: Auth<AdminUser>,
    if_match: IfMatch,
    body: ValidatedJson<BillingSettingsRequest>,
    pool: web::Data<DbPool>,
    stripe: web::Data<StripeSetup>,
) -> Result<Tagged<BillingDashboard>, ApiError> {
    customer_changes::update_settings(&pool, &stripe, &billing_actor(&auth), body.into_inner(), if_match).await
}

/// Sets the tax id shown on invoices (replacing the previous one).
#[utoipa::path(
    tag = "billing",
    operation_id = "set_tax_id",
    request_body = TaxId,
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The tax id", body = TaxId),
        (status = 502, description = "Stripe refused the request (`stripe_error`)", body = crate::error::Problem, content_type = "application/problem+json"),
        (status = 503, description = "Billing is not configured, or Stripe or the database is unreachable", body = crate::error::Problem, content_type = "application/problem+json"),
    ),
)]
#[put("/billing/tax-id")]
pub async fn set_tax_id(
    auth: Auth<AdminUser>,
    body: ValidatedJson<TaxId>,
    pool: web::Data<DbPool>,
    stripe: web::Data<StripeSetup>,
) -> Result<web::Json<TaxId>, ApiError> {
    Ok(web::Json(customer_changes::set_tax_id(&pool, &stripe, &billing_actor(&auth), body.into_inner()).await?))
}

/// Removes the tax id.
#[utoipa::path(
    tag = "billing",
    operation_id = "remove_tax_id",
    security(("bearer" = [])),
    responses(
        (status = 204, description = "Removed"),
        (status = 502, description = "Stripe refused the request (`stripe_error`)", body = crate::error::Problem, content_type = "application/problem+json"),
        (status = 503, description = "Billing is not configured, or Stripe or the database is unreachable", body = crate::error::Problem, content_type = "application/problem+json"),
    ),
)]
#[delete("/billing/tax-id")]
pub async fn remove_tax_id(
    auth: Auth<AdminUser>,
    pool: web::Data<DbPool>,
    stripe: web::Data<StripeSetup>,
) -> Result<HttpResponse, ApiError> {
    customer_changes::remove_tax_id(&pool, &stripe, &billing_actor(&auth)).await?;
    Ok(HttpResponse::NoContent().finish())
}
