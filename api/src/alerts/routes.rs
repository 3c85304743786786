//! `/api/v1/alerts`: a user's alerts, read and resolve, and the live stream.

use actix_web::{HttpRequest, Responder, get, post, web};
use serde::Deserialize;
use utoipa::IntoParams;

use super::hub::AlertHub;
use super::model::{Alert, AlertFilter, MarkedRead, StreamTicket, UnreadCount};
use super::{service, stream};
use crate::db::{self, DbPool};
use crate::error::ApiError;
use crate::http::metrics::Metrics;
use crate::http::pagination::{CursorQuery, ListRequest, Page, PageQuery};
use crate::http::principal::{Auth, SignedInUser};
use crate::ids::AlertId;

/// The signed-in user's alerts, newest first.
#[utoipa::path(
    tag = "alerts",
    operation_id = "list_alerts",
    params(AlertFilter, PageQuery, CursorQuery),
    security(("bearer" = [])),
    responses((status = 200, description = "One page of alerts", body = Page<Alert>, headers(("Link" = String, description = "The `next` and `prev` pages, as RFC 8288 links that keep the filters")))),
)]
#[get("/alerts")]
pub async fn list_alerts(
    auth: Auth<SignedInUser>,
    filter: web::Query<AlertFilter>,
    page: web::Query<PageQuery>,
    cursor: web::Query<CursorQuery>,
    pool: web::Data<DbPool>,
) -> Result<Page<Alert>, ApiError> {
    let page = ListRequest::choose(page.into_inner(), cursor.into_inner())?;
    let ((user, _), company, filter) = (auth.acting_user()?, auth.company_id().clone(), filter.into_inner());
    db::run(&pool, move |conn| service::list(conn, &company, &user, &filter, &page)).await
}

/// How many of the user's alerts are unread, for the badge.
#[utoipa::path(
    tag = "alerts",
    operation_id = "get_unread_alert_count",
    security(("bearer" = [])),
    responses((status = 200, description = "The unread count", body = UnreadCount)),
)]
#[get("/alerts/unread-count")]
pub async fn unread_count(
    auth: Auth<SignedInUser>,
    pool: web::Data<DbPool>,
) -> Result<web::Json<UnreadCount>, ApiError> {
    let ((user, _), company) = (auth.acting_user()?, auth.company_id().clone());
    Ok(web::Json(db::run(&pool, move |conn| service::unread_count(conn, &company, &user)).await?))
}

/// Marks one alert read.
#[utoipa::path(
    tag = "alerts",
    operation_id = "mark_alert_read",
    security(("bearer" = [])),
    responses((status = 200, description = "The alert, read", body = Alert)),
)]
#[post("/alerts/{alert_id}/read")]
pub async fn mark_read(
    auth: Auth<SignedInUser>,
    alert_id: web::Path<AlertId>,
    pool: web::Data<DbPool>,
) -> Result<web::Json<Alert>, ApiError> {
    let ((user, _), company, id) = (auth.acting_user()?, auth.company_id().clone(), alert_id.into_inner());
    Ok(web::Json(db::run(&pool, move |conn| service::mark_read(conn, &company, &user, &id)).await?))
}

/// Marks every unread alert of the user read.
#[utoipa::path(
    tag = "alerts",
    operation_id = "mark_all_alerts_read",
    security(("bearer" = [])),
    responses((status = 200, description = "How many were marked", body = MarkedRead)),
)]
#[post("/alerts/read-all")]
pub async fn mark_all_read(
    auth: Auth<SignedInUser>,
    pool: web::Data<DbPool>,
) -> Result<web::Json<MarkedRead>, ApiError> {
    let ((user, _), company) = (auth.acting_user()?, auth.company_id().clone());
    Ok(web::Json(db::run(&pool, move |conn| service::mark_all_read(conn, &company, &user)).await?))
}

/// Resolves the alert's condition, for everyone it was raised for.
#[utoipa::path(
    tag = "alerts",
    operation_id = "resolve_alert",
    security(("bearer" = [])),
    responses((status = 200, description = "The alert, resolved", body = Alert)),
)]
#[post("/alerts/{alert_id}/resolve")]
pub async fn resolve(
    auth: Auth<SignedInUser>,
    alert_id: web::Path<AlertId>,
    pool: web::Data<DbPool>,
) -> Result<web::Json<Alert>, ApiError> {
    let ((user, _), company, id) = (auth.acting_user()?, auth.company_id().clone(), alert_id.into_inner());
    Ok(web::Json(db::run(&pool, move |conn| service::resolve_alert(conn, &company, &user, &id)).await?))
}

/// A short-lived, single-use ticket for opening the stream with `EventSource`, which cannot send headers.
#[utoipa::path(
    tag = "alerts",
    operation_id = "create_stream_ticket",
    security(("bearer" = [])),
    responses((status = 200, description = "The ticket", body = StreamTicket)),
)]
#[post("/alerts/stream-tickets")]
pub async fn create_stream_ticket(
    auth: Auth<SignedInUser>,
    pool: web::Data<DbPool>,
) -> Result<web::Json<StreamTicket>, ApiError> {
    let ((user, _), company) = (auth.acting_user()?, auth.company_id().clone());
    Ok(web::Json(db::run(&pool, move |conn| service::issue_ticket(conn, &company, &user)).await?))
}

/// How the stream is opened.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct StreamQuery {
    /// A ticket from `POST /api/v1/alerts/stream-tickets`.
    #[param(max_length = 200)]
    pub ticket: Option<String>,
    /// Resume after this alert id: what a browser passes when it reopens the stream with a new ticket
    /// (the `Last-Event-ID` header works too). Anything that is not an alert id is ignored.
    #[param(max_length = 100)]
    pub last_event_id: Option<String>,
}

/// New alerts as Server-Sent Events (`event: alert`, `id:` the alert id, `data:` the alert as JSON), with
/// keep-alive comments; reconnecting with `Last-Event-ID` resumes after that alert.
#[utoipa::path(
    tag = "alerts",
    operation_id = "stream_alerts",
    params(StreamQuery, ("Last-Event-ID" = Option<String>, Header, description = "Resume after this alert id")),
    responses(
        (status = 200, description = "The event stream", content_type = "text/event-stream", body = String),
        (status = 401, description = "Missing, used or expired ticket (`unauthenticated`)", body = crate::error::Problem, content_type = "application/problem+json"),
    ),
)]
#[get("/alerts/stream")]
pub async fn stream_alerts(
    req: HttpRequest,
    query: web::Query<StreamQuery>,
    pool: web::Data<DbPool>,
    hub: web::Data<AlertHub>,
    metrics: web::Data<Metrics>,
) -> Result<impl Responder, ApiError> {
    let query = query.into_inner();
    let resume_from = query.last_event_id;
    let ticket = query.ticket.filter(|ticket| ticket.len() <= 200).ok_or_else(|| {
        ApiError::Unauthenticated("Open the stream with ?ticket= from POST /api/v1/alerts/stream-tickets.".to_owned())
    })?;
    let (company, user) = db::run(&pool, move |conn| service::redeem_ticket(conn, &ticket)).await?;
    let last_event_id = req
        .headers()
        .get("last-event-id")
        .and_then(|value| value.to_str().ok())
        .map(str::to_owned)
        .or(resume_from)
        .and_then(|id| AlertId::try_from(id).ok())
        .map(String::from);
    let context = stream::StreamContext {
        pool: pool.get_ref().clone(),
        hub: hub.get_ref().clone(),
        open_streams: metrics.alert_streams_open(),
    };
    Ok(stream::open(context, company, user, last_event_id))
}
