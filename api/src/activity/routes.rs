//! `POST /api/v1/agent/activity` (agents) and `GET /api/v1/employees/{id}/activity` (supervisors).

use actix_web::{HttpRequest, get, post, web};

use super::model::{ActivityBatch, ActivityReceipt, DayActivity, DayQuery};
use super::service;
use crate::db::{self, DbPool};
use crate::error::ApiError;
use crate::http::extract::{ValidatedJson, ValidatedQuery};
use crate::http::principal::{AgentSecret, Auth, Supervisor};
use crate::ids::EmployeeId;

/// Uploads a batch of activity records. Sending the same batch again (after a timeout, say) stores each
/// record once; `duplicates` counts the ones already stored.
#[utoipa::path(
    tag = "agent",
    operation_id = "upload_activity",
    request_body = ActivityBatch,
    security(("agent_secret" = [])),
    responses(
        (status = 200, description = "Stored (URLs dropped when website tracking is off)", body = ActivityReceipt),
        (status = 403, description = "`activity_tracking_disabled` by the policy, or `storage_limit_reached`", body = crate::error::Problem, content_type = "application/problem+json"),
    ),
)]
#[post("/agent/activity")]
pub async fn upload_activity(
    req: HttpRequest,
    secret: AgentSecret,
    batch: ValidatedJson<ActivityBatch>,
    pool: web::Data<DbPool>,
) -> Result<web::Json<ActivityReceipt>, ApiError> {
    let batch = batch.into_inner();
    let receipt = db::run(&pool, move |conn| {
        let agent = crate::agents::service::authenticate(conn, &secret.0)?;
        service::ingest(conn, &agent, &batch)
    })
    .await?;
    crate::http::principal::credential_verified(&req);
    Ok(web::Json(receipt))
}

/// An employee's day: the timeline of spans, active and idle totals, and the top applications and sites.
#[utoipa::path(
    tag = "employees",
    operation_id = "get_employee_activity",
    params(DayQuery),
    security(("bearer" = [])),
    responses((status = 200, description = "The day's activity", body = DayActivity)),
)]
#[get("/employees/{employee_id}/activity")]
pub async fn get_employee_activity(
    auth: Auth<Supervisor>,
    employee_id: web::Path<EmployeeId>,
    query: ValidatedQuery<DayQuery>,
    pool: web::Data<DbPool>,
) -> Result<web::Json<DayActivity>, ApiError> {
    let (company, employee, query) = (auth.company_id().clone(), employee_id.into_inner(), query.into_inner());
    Ok(web::Json(db::run(&pool, move |conn| service::day(conn, &company, &employee, &query)).await?))
}
