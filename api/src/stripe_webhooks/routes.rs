//! The webhook endpoint Stripe delivers to (at the versioned path and at the path existing deployments
//! were told to configure), and the admin view of a company's events.

use actix_web::{HttpRequest, get, post, web};
use serde::Serialize;
use utoipa::ToSchema;

use super::events::{self, IncomingEvent, StripeEvent};
use super::service::{self as webhook, Receipt};
use crate::db::{self, DbPool};
use crate::error::ApiError;
use crate::http::pagination::{CursorQuery, ListRequest, Page, PageQuery};
use crate::http::principal::{Admin, AdminReader, Auth};
use crate::stripe::{StripeSetup, signature};

/// The answer to a delivery.
#[derive(Debug, Serialize, ToSchema)]
#[schema(example = json!({"received": true, "outcome": "processed"}))]
pub struct WebhookReceipt {
    pub received: bool,
    pub outcome: Receipt,
}

/// Verifies the signature on the raw body, then processes the event once.
async fn receive(
    req: &HttpRequest,
    body: &[u8],
    pool: &DbPool,
    setup: &StripeSetup,
) -> Result<web::Json<WebhookReceipt>, ApiError> {
    if setup.webhook_secrets.is_empty() {
        return Err(ApiError::BillingNotConfigured);
    }
    let header = req.headers().get("stripe-signature").and_then(|value| value.to_str().ok());
    signature::verify(
        header,
        body,
        &setup.webhook_secrets,
        setup.webhook_tolerance_secs,
        chrono::Utc::now().timestamp(),
    )
    .map_err(|error| ApiError::InvalidSignature(error.to_string()))?;
    let event = std::str::from_utf8(body)
        .ok()
        .and_then(IncomingEvent::parse)
        .ok_or_else(|| ApiError::MalformedJson("The body is not a Stripe event.".to_owned()))?;
    let outcome = webhook::process(pool, setup, event).await?;
    Ok(web::Json(WebhookReceipt { received: true, outcome }))
}

/// Stripe's deliveries. No user authentication: the `Stripe-Signature` header proves the sender. Answers
/// 2xx once the event is applied (or was before), 5xx when processing failed so that Stripe retries.
#[utoipa::path(
    tag = "stripe",
    operation_id = "receive_stripe_webhook",
    request_body(content = Object, description = "A Stripe event, exactly as Stripe sent it", content_type = "application/json"),
    params(("Stripe-Signature" = String, Header, description = "`t=…,v1=…`: HMAC-SHA256 of `{t}.{body}` with the endpoint secret")),
    responses(
        (status = 200, description = "Received: processed, ignored (irrelevant) or a duplicate", body = WebhookReceipt),
        (status = 400, description = "Missing or bad signature, or a stale timestamp (`invalid_signature`); nothing was written", body = crate::error::Problem, content_type = "application/problem+json"),
        (status = 503, description = "No webhook secret configured (`billing_not_configured`), or the database is unavailable", body = crate::error::Problem, content_type = "application/problem+json"),
    ),
)]
#[post("/stripe/webhook")]
pub async fn receive_stripe_webhook(
    req: HttpRequest,
    body: web::Bytes,
    pool: web::Data<DbPool>,
    stripe: web::Data<StripeSetup>,
) -> Result<web::Json<WebhookReceipt>, ApiError> {
    receive(&req, &body, &pool, &stripe).await
}

/// The same endpoint at the path existing deployments configured in their Stripe dashboards.
#[utoipa::path(
    tag = "stripe",
    operation_id = "receive_stripe_webhook_legacy",
    request_body(content = Object, description = "A Stripe event, exactly as Stripe sent it", content_type = "application/json"),
    params(("Stripe-Signature" = String, Header, description = "`t=…,v1=…`")),
    responses(
        (status = 200, description = "Received", body = WebhookReceipt),
        (status = 400, description = "Bad signature (`invalid_signature`)", body = crate::error::Problem, content_type = "application/problem+json"),
    ),
)]
#[post("/api/stripe/webhook/")]
pub async fn receive_stripe_webhook_legacy(
    req: HttpRequest,
    body: web::Bytes,
    pool: web::Data<DbPool>,
    stripe: web::Data<StripeSetup>,
) -> Result<web::Json<WebhookReceipt>, ApiError> {
    receive(&req, &body, &pool, &stripe).await
}

/// The company's recent Stripe events and what became of them.
#[utoipa::path(
    tag = "stripe",
    operation_id = "list_stripe_events",
    params(PageQuery, CursorQuery),
    security(("bearer" = [])),
    responses((status = 200, description = "One page of events, newest first", body = Page<StripeEvent>, headers(("Link" = String, description = "The `next` and `prev` pages, as RFC 8288 links that keep the filters")))),
)]
#[get("/stripe/events")]
pub async fn list_stripe_events(
    auth: Auth<AdminReader>,
    page: web::Query<PageQuery>,
    cursor: web::Query<CursorQuery>,
    pool: web::Data<DbPool>,
) -> Result<Page<StripeEvent>, ApiError> {
    let page = ListRequest::choose(page.into_inner(), cursor.into_inner())?;
    let company = auth.company_id().clone();
    db::run(&pool, move |conn| events::list(conn, &company, &page)).await
}

/// Processes a failed event again, once its cause is fixed (a Stripe outage, a bug fixed by a deploy). Only
/// the company's own failed events; the replay is audited. Answers the event as it stands afterwards:
/// `processed`, or `failed` again with the new reason in `error`.
#[utoipa::path(
    tag = "stripe",
    operation_id = "replay_stripe_event",
    params(("event_id" = String, Path, description = "Stripe's event id (`evt_…`)", max_length = 255)),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The event after the replay", body = StripeEvent),
        (status = 403, description = "Needs the OWNER or ADMIN role, or a read_write API key (`forbidden`)", body = crate::error::Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such event for this company (`not_found`)", body = crate::error::Problem, content_type = "application/problem+json"),
        (status = 409, description = "The event did not fail (`event_not_failed`)", body = crate::error::Problem, content_type = "application/problem+json"),
    ),
)]
#[post("/stripe/events/{event_id}/replay")]
pub async fn replay_stripe_event(
    auth: Auth<Admin>,
    event_id: web::Path<String>,
    pool: web::Data<DbPool>,
    stripe: web::Data<StripeSetup>,
) -> Result<web::Json<StripeEvent>, ApiError> {
    let event_id = event_id.into_inner();
    if event_id.is_empty() || event_id.len() > 255 {
        return Err(ApiError::NotFound("Stripe event"));
    }
    let replayed = webhook::replay_for_company(&pool, &stripe, auth.audit_actor(), event_id).await?;
    Ok(web::Json(replayed))
}
