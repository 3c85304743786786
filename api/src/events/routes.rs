//! `/api/v1/events`: an integrator that was down catches up without a webhook.

use actix_web::{get, web};

use super::model::{Event, EventFilter};
use super::service;
use crate::db::{self, DbPool};
use crate::error::ApiError;
use crate::http::pagination::{CursorQuery, Page};
use crate::http::principal::{AdminReader, Auth};
use crate::ids::EventId;

/// The company's events of the last 30 days, newest first, with the payloads its webhooks send.
#[utoipa::path(
    tag = "events",
    operation_id = "list_events",
    params(EventFilter, CursorQuery),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "A slice of the events", body = Page<Event>, headers(("Link" = String, description = "The `next` and `prev` pages, as RFC 8288 links that keep the filters"))),
        (status = 422, description = "A malformed or unknown cursor, or a limit out of range", body = crate::error::Problem, content_type = "application/problem+json"),
    ),
)]
#[get("/events")]
pub async fn list_events(
    auth: Auth<AdminReader>,
    filter: web::Query<EventFilter>,
    cursor: web::Query<CursorQuery>,
    pool: web::Data<DbPool>,
) -> Result<Page<Event>, ApiError> {
    let cursor = cursor.into_inner().resolve(|id| EventId::parse(id).map(String::from))?;
    let (company, filter) = (auth.company_id().clone(), filter.into_inner());
    db::run(&pool, move |conn| service::list(conn, &company, &filter, &cursor)).await
}
