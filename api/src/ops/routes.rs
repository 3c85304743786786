//! `/healthz`, `/readyz` and `/metrics`: what load balancers, orchestrators and Prometheus poll.

use actix_web::{HttpResponse, get, web};
use serde::Serialize;
use utoipa::ToSchema;

use crate::db::{self, DbPool};
use crate::error::ApiError;
use crate::http::metrics::Metrics;

/// The answer of the health and readiness probes.
#[derive(Debug, Serialize, serde::Deserialize, ToSchema)]
#[schema(example = json!({"status": "ok"}))]
pub struct HealthStatus {
    /// Always `ok`; failures are problem+json documents.
    pub status: String,
}

/// The process is alive. Never touches the database, so a database outage does not get it restarted.
#[utoipa::path(
    tag = "operations",
    operation_id = "get_health",
    responses((status = 200, description = "The process is alive", body = HealthStatus)),
)]
#[get("/healthz")]
pub async fn healthz() -> web::Json<HealthStatus> {
    web::Json(HealthStatus { status: "ok".to_owned() })
}

/// The database answers and every migration is applied: this instance can take traffic.
#[utoipa::path(
    tag = "operations",
    operation_id = "get_readiness",
    responses(
        (status = 200, description = "Ready to serve", body = HealthStatus),
        (status = 503, description = "The database is unreachable (`database_unavailable`) or not migrated (`not_ready`); see `Retry-After`",
            body = crate::error::Problem, content_type = "application/problem+json"),
    ),
)]
#[get("/readyz")]
pub async fn readyz(pool: web::Data<DbPool>) -> Result<web::Json<HealthStatus>, ApiError> {
    db::run(&pool, |conn| db::check_ready(conn).map_err(ApiError::NotReady)).await?;
    Ok(web::Json(HealthStatus { status: "ok".to_owned() }))
}

/// Request counts and latency histograms per route, in Prometheus text format.
#[utoipa::path(
    tag = "operations",
    operation_id = "get_metrics",
    responses((status = 200, description = "Prometheus text exposition", content_type = "text/plain; version=0.0.4",
        body = String, example = "vigil_http_requests_total{method=\"GET\",route=\"/healthz\",status=\"200\"} 1")),
)]
#[get("/metrics")]
pub async fn metrics(metrics: web::Data<Metrics>, pool: web::Data<DbPool>) -> Result<HttpResponse, ApiError> {
    // The parked deletions are the queue's state, shared by every instance: read at each scrape. Without a
    // database the gauge keeps its last value; the other metrics are served all the same.
    match db::run(&pool, crate::sweeps::retention::parked_deletions).await {
        Ok(parked) => metrics.set_parked_blob_deletions(parked),
        Err(error) => log::warn!("metrics: cannot count parked blob deletions: {error}"),
    }
    let text = metrics.render()?;
    Ok(HttpResponse::Ok().content_type("text/plain; version=0.0.4; charset=utf-8").body(text))
}
