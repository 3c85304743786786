//! `/api/v1/webhook-endpoints`: where a company's events are sent, and what became of each delivery.
//! Owners and admins, and read-write API keys, manage them; read keys may look.

use actix_web::{HttpResponse, delete, get, patch, post, web};

use super::model::{
    CreateWebhookEndpointRequest, CreatedWebhookEndpoint, DeliveriesQueued, RecoverQuery, RotatedSecret,
    TestEventQueued, UpdateWebhookEndpointRequest, WebhookAttempt, WebhookEndpoint,
};
use super::service;
use crate::config::WebhookConfig;
use crate::db::{self, DbPool};
use crate::error::ApiError;
use crate::http::extract::ValidatedJson;
use crate::http::pagination::{CursorQuery, Page};
use crate::http::principal::{Admin, AdminReader, Auth};
use crate::ids::{EventId, WebhookEndpointId};

fn uuid_cursor(id: &str) -> Option<String> {
    uuid::Uuid::parse_str(id).ok().map(|uuid| uuid.hyphenated().to_string())
}

/// The company's endpoints, newest first (never their secrets).
#[utoipa::path(
    tag = "webhooks",
    operation_id = "list_webhook_endpoints",
    params(CursorQuery),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "A slice of the endpoints", body = Page<WebhookEndpoint>, headers(("Link" = String, description = "The `next` and `prev` pages, as RFC 8288 links that keep the filters"))),
        (status = 422, description = "A malformed or unknown cursor (`validation_failed`)", body = crate::error::Problem, content_type = "application/problem+json"),
    ),
)]
#[get("/webhook-endpoints")]
pub async fn list_webhook_endpoints(
    auth: Auth<AdminReader>,
    cursor: web::Query<CursorQuery>,
    pool: web::Data<DbPool>,
) -> Result<Page<WebhookEndpoint>, ApiError> {
    let cursor = cursor.into_inner().resolve(uuid_cursor)?;
    let company = auth.company_id().clone();
    db::run(&pool, move |conn| service::list(conn, &company, &cursor)).await
}

/// Creates an endpoint. The response is the only time its signing secret is shown.
#[utoipa::path(
    tag = "webhooks",
    operation_id = "create_webhook_endpoint",
    request_body = CreateWebhookEndpointRequest,
    security(("bearer" = [])),
    responses(
        (status = 201, description = "The endpoint and its secret, shown once", body = CreatedWebhookEndpoint),
        (status = 409, description = "The company has 20 endpoints already (`too_many_webhook_endpoints`)", body = crate::error::Problem, content_type = "application/problem+json"),
        (status = 422, description = "A URL that is not https, holds credentials, or points inside (`validation_failed`)", body = crate::error::Problem, content_type = "application/problem+json"),
    ),
)]
#[post("/webhook-endpoints")]
pub async fn create_webhook_endpoint(
    auth: Auth<Admin>,
    body: ValidatedJson<CreateWebhookEndpointRequest>,
    config: web::Data<WebhookConfig>,
    pool: web::Data<DbPool>,
) -> Result<HttpResponse, ApiError> {
    let principal = auth.into_principal();
    let (request, config) = (body.into_inner(), config.into_inner());
    let created = db::run(&pool, move |conn| {
        service::create(conn, &config, &principal.audit_actor(), principal.company_id(), &request)
    })
    .await?;
    Ok(HttpResponse::Created().json(created))
}

/// One endpoint.
#[utoipa::path(
    tag = "webhooks",
    operation_id = "get_webhook_endpoint",
    security(("bearer" = [])),
    responses((status = 200, description = "The endpoint", body = WebhookEndpoint)),
)]
#[get("/webhook-endpoints/{endpoint_id}")]
pub async fn get_webhook_endpoint(
    auth: Auth<AdminReader>,
    endpoint_id: web::Path<WebhookEndpointId>,
    pool: web::Data<DbPool>,
) -> Result<web::Json<WebhookEndpoint>, ApiError> {
    let (company, id) = (auth.company_id().clone(), endpoint_id.into_inner());
    Ok(web::Json(db::run(&pool, move |conn| service::get(conn, &company, &id)).await?))
}

/// Changes an endpoint's URL, description, event types, or whether it is enabled.
#[utoipa::path(
    tag = "webhooks",
    operation_id = "update_webhook_endpoint",
    request_body = UpdateWebhookEndpointRequest,
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The endpoint as changed", body = WebhookEndpoint),
        (status = 422, description = "A URL that is not https, holds credentials, or points inside (`validation_failed`)", body = crate::error::Problem, content_type = "application/problem+json"),
    ),
)]
#[patch("/webhook-endpoints/{endpoint_id}")]
pub async fn update_webhook_endpoint(
    auth: Auth<Admin>,
    endpoint_id: web::Path<WebhookEndpointId>,
    body: ValidatedJson<UpdateWebhookEndpointRequest>,
    config: web::Data<WebhookConfig>,
    pool: web::Data<DbPool>,
) -> Result<web::Json<WebhookEndpoint>, ApiError> {
    let principal = auth.into_principal();
    let (id, request, config) = (endpoint_id.into_inner(), body.into_inner(), config.into_inner());
    Ok(web::Json(
        db::run(&pool, move |conn| {
            service::update(conn, &config, &principal.audit_actor(), principal.company_id(), &id, &request)
        })
        .await?,
    ))
}

/// Deletes an endpoint and its delivery log; nothing more is sent to it.
#[utoipa::path(
    tag = "webhooks",
    operation_id = "delete_webhook_endpoint",
    security(("bearer" = [])),
    responses((status = 204, description = "Deleted")),
)]
#[delete("/webhook-endpoints/{endpoint_id}")]
pub async fn delete_webhook_endpoint(
    auth: Auth<Admin>,
    endpoint_id: web::Path<WebhookEndpointId>,
    pool: web::Data<DbPool>,
) -> Result<HttpResponse, ApiError> {
    let principal = auth.into_principal();
    let id = endpoint_id.into_inner();
    db::run(&pool, move |conn| service::delete(conn, &principal.audit_actor(), principal.company_id(), &id)).await?;
    Ok(HttpResponse::NoContent().finish())
}

/// A new signing secret, shown once. For 24 hours deliveries carry a signature of each secret, so the
/// receiver can switch without missing one.
#[utoipa::path(
    tag = "webhooks",
    operation_id = "rotate_webhook_endpoint_secret",
    security(("bearer" = [])),
    responses((status = 200, description = "The new secret, shown once", body = RotatedSecret)),
)]
#[post("/webhook-endpoints/{endpoint_id}/rotate-secret")]
pub async fn rotate_webhook_endpoint_secret(
    auth: Auth<Admin>,
    endpoint_id: web::Path<WebhookEndpointId>,
    pool: web::Data<DbPool>,
) -> Result<web::Json<RotatedSecret>, ApiError> {
    let principal = auth.into_principal();
    let id = endpoint_id.into_inner();
    Ok(web::Json(
        db::run(&pool, move |conn| service::rotate_secret(conn, &principal.audit_actor(), principal.company_id(), &id))
            .await?,
    ))
}

/// Sends the endpoint a `ping` event.
#[utoipa::path(
    tag = "webhooks",
    operation_id = "test_webhook_endpoint",
    security(("bearer" = [])),
    responses(
        (status = 202, description = "The ping is queued", body = TestEventQueued),
        (status = 409, description = "The endpoint is disabled (`webhook_endpoint_disabled`)", body = crate::error::Problem, content_type = "application/problem+json"),
    ),
)]
#[post("/webhook-endpoints/{endpoint_id}/test")]
pub async fn test_webhook_endpoint(
    auth: Auth<Admin>,
    endpoint_id: web::Path<WebhookEndpointId>,
    pool: web::Data<DbPool>,
) -> Result<HttpResponse, ApiError> {
    let principal = auth.into_principal();
    let id = endpoint_id.into_inner();
    let queued =
        db::run(&pool, move |conn| service::send_test(conn, &principal.audit_actor(), principal.company_id(), &id))
            .await?;
    Ok(HttpResponse::Accepted().json(queued))
}

/// The endpoint's delivery attempts of the last 30 days, newest first.
#[utoipa::path(
    tag = "webhooks",
    operation_id = "list_webhook_attempts",
    params(CursorQuery),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "A slice of the attempts", body = Page<WebhookAttempt>, headers(("Link" = String, description = "The `next` and `prev` pages, as RFC 8288 links that keep the filters"))),
        (status = 422, description = "A malformed or unknown cursor (`validation_failed`)", body = crate::error::Problem, content_type = "application/problem+json"),
    ),
)]
#[get("/webhook-endpoints/{endpoint_id}/attempts")]
pub async fn list_webhook_attempts(
    auth: Auth<AdminReader>,
    endpoint_id: web::Path<WebhookEndpointId>,
    cursor: web::Query<CursorQuery>,
    pool: web::Data<DbPool>,
) -> Result<Page<WebhookAttempt>, ApiError> {
    let cursor = cursor.into_inner().resolve(uuid_cursor)?;
    let (company, id) = (auth.company_id().clone(), endpoint_id.into_inner());
    db::run(&pool, move |conn| service::list_attempts(conn, &company, &id, &cursor)).await
}

/// Sends one event (the message `message_id`: its `webhook-id`) to the endpoint again.
#[utoipa::path(
    tag = "webhooks",
    operation_id = "retry_webhook_message",
    security(("bearer" = [])),
    responses(
        (status = 202, description = "The delivery is queued", body = DeliveriesQueued),
        (status = 409, description = "The endpoint is disabled (`webhook_endpoint_disabled`), or does not subscribe to the event's type (`event_not_subscribed`)", body = crate::error::Problem, content_type = "application/problem+json"),
    ),
)]
#[post("/webhook-endpoints/{endpoint_id}/messages/{message_id}/retry")]
pub async fn retry_webhook_message(
    auth: Auth<Admin>,
    path: web::Path<(WebhookEndpointId, EventId)>,
    pool: web::Data<DbPool>,
) -> Result<HttpResponse, ApiError> {
    let principal = auth.into_principal();
    let (id, event) = path.into_inner();
    let queued = db::run(&pool, move |conn| {
        service::retry_message(conn, &principal.audit_actor(), principal.company_id(), &id, &event)
    })
    .await?;
    Ok(HttpResponse::Accepted().json(queued))
}

/// Sends again every event since a time that the endpoint wants and did not receive.
#[utoipa::path(
    tag = "webhooks",
    operation_id = "recover_webhook_endpoint",
    params(RecoverQuery),
    security(("bearer" = [])),
    responses(
        (status = 202, description = "The deliveries are queued", body = DeliveriesQueued),
        (status = 409, description = "The endpoint is disabled (`webhook_endpoint_disabled`)", body = crate::error::Problem, content_type = "application/problem+json"),
        (status = 422, description = "`since` is more than 30 days ago (`validation_failed`)", body = crate::error::Problem, content_type = "application/problem+json"),
    ),
)]
#[post("/webhook-endpoints/{endpoint_id}/recover")]
pub async fn recover_webhook_endpoint(
    auth: Auth<Admin>,
    endpoint_id: web::Path<WebhookEndpointId>,
    query: web::Query<RecoverQuery>,
    pool: web::Data<DbPool>,
) -> Result<HttpResponse, ApiError> {
    let principal = auth.into_principal();
    let (id, since) = (endpoint_id.into_inner(), query.into_inner().since);
    let queued = db::run(&pool, move |conn| {
        service::recover(conn, &principal.audit_actor(), principal.company_id(), &id, since)
    })
    .await?;
    Ok(HttpResponse::Accepted().json(queued))
}
