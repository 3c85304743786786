//! Admin routes for agents and enrollment tokens, and the two routes desktop agents call.

use actix_web::{HttpRequest, HttpResponse, delete, get, post, web};

use super::model::{
    Agent, AgentFilter, CreateEnrollmentTokenRequest, CreatedEnrollmentToken, EnrollRequest, Enrollment,
    EnrollmentToken, HeartbeatRequest, HeartbeatResponse,
};
use super::service;
use crate::db::{self, DbPool};
use crate::error::ApiError;
use crate::http::extract::{OptionalJson, ValidatedJson};
use crate::http::pagination::{CursorQuery, ListRequest, Page, PageQuery};
use crate::http::principal::{Admin, AgentSecret, Auth, Member, RequestOrigin};
use crate::ids::{AgentId, EnrollmentTokenId};

/// The company's agents with their status: ONLINE, OFFLINE (silent past the policy's threshold), REVOKED.
#[utoipa::path(
    tag = "agents",
    operation_id = "list_agents",
    params(AgentFilter, PageQuery, CursorQuery),
    security(("bearer" = [])),
    responses((status = 200, description = "One page of agents", body = Page<Agent>, headers(("Link" = String, description = "The `next` and `prev` pages, as RFC 8288 links that keep the filters")))),
)]
#[get("/agents")]
pub async fn list_agents(
    auth: Auth<Member>,
    filter: web::Query<AgentFilter>,
    page: web::Query<PageQuery>,
    cursor: web::Query<CursorQuery>,
    pool: web::Data<DbPool>,
) -> Result<Page<Agent>, ApiError> {
    let page = ListRequest::choose(page.into_inner(), cursor.into_inner())?;
    let (company, filter) = (auth.company_id().clone(), filter.into_inner());
    db::run(&pool, move |conn| service::list_agents(conn, &company, &filter, &page)).await
}

/// One agent.
#[utoipa::path(
    tag = "agents",
    operation_id = "get_agent",
    security(("bearer" = [])),
    responses((status = 200, description = "The agent", body = Agent)),
)]
#[get("/agents/{agent_id}")]
pub async fn get_agent(
    auth: Auth<Member>,
    agent_id: web::Path<AgentId>,
    pool: web::Data<DbPool>,
) -> Result<web::Json<Agent>, ApiError> {
    let (company, id) = (auth.company_id().clone(), agent_id.into_inner());
    Ok(web::Json(db::run(&pool, move |conn| service::get_agent(conn, &company, &id)).await?))
}

/// Revokes an agent: its secret stops working at once.
#[utoipa::path(
    tag = "agents",
    operation_id = "revoke_agent",
    security(("bearer" = [])),
    responses((status = 200, description = "The agent, now REVOKED", body = Agent)),
)]
#[post("/agents/{agent_id}/revoke")]
pub async fn revoke_agent(
    auth: Auth<Admin>,
    agent_id: web::Path<AgentId>,
    pool: web::Data<DbPool>,
) -> Result<web::Json<Agent>, ApiError> {
    let (principal, id) = (auth.into_principal(), agent_id.into_inner());
    let agent =
        db::run(&pool, move |conn| service::revoke_agent(conn, &principal.audit_actor(), principal.company_id(), &id))
            .await?;
    Ok(web::Json(agent))
}

/// The company's enrollment tokens (never the tokens themselves).
#[utoipa::path(
    tag = "agents",
    operation_id = "list_enrollment_tokens",
    params(PageQuery, CursorQuery),
    security(("bearer" = [])),
    responses((status = 200, description = "One page of enrollment tokens", body = Page<EnrollmentToken>, headers(("Link" = String, description = "The `next` and `prev` pages, as RFC 8288 links that keep the filters")))),
)]
#[get("/enrollment-tokens")]
pub async fn list_enrollment_tokens(
    auth: Auth<Admin>,
    page: web::Query<PageQuery>,
    cursor: web::Query<CursorQuery>,
    pool: web::Data<DbPool>,
) -> Result<Page<EnrollmentToken>, ApiError> {
    let page = ListRequest::choose(page.into_inner(), cursor.into_inner())?;
    let company = auth.company_id().clone();
    db::run(&pool, move |conn| service::list_tokens(conn, &company, &page)).await
}

/// Creates an enrollment token for agent installers. The token is shown only in this response.
#[utoipa::path(
    tag = "agents",
    operation_id = "create_enrollment_token",
    request_body = CreateEnrollmentTokenRequest,
    security(("bearer" = [])),
    responses((status = 201, description = "The token, shown once", body = CreatedEnrollmentToken)),
)]
#[post("/enrollment-tokens")]
pub async fn create_enrollment_token(
    auth: Auth<Admin>,
    body: ValidatedJson<CreateEnrollmentTokenRequest>,
    pool: web::Data<DbPool>,
) -> Result<HttpResponse, ApiError> {
    let (principal, request) = (auth.into_principal(), body.into_inner());
    let created = db::run(&pool, move |conn| {
        service::create_token(conn, &principal.audit_actor(), principal.company_id(), principal.user_id(), &request)
    })
    .await?;
    Ok(HttpResponse::Created().json(created))
}

/// Revokes an enrollment token; agents already enrolled with it are not affected.
#[utoipa::path(
    tag = "agents",
    operation_id = "revoke_enrollment_token",
    security(("bearer" = [])),
    responses((status = 204, description = "Revoked")),
)]
#[delete("/enrollment-tokens/{enrollment_token_id}")]
pub async fn revoke_enrollment_token(
    auth: Auth<Admin>,
    enrollment_token_id: web::Path<EnrollmentTokenId>,
    pool: web::Data<DbPool>,
) -> Result<HttpResponse, ApiError> {
    let (principal, id) = (auth.into_principal(), enrollment_token_id.into_inner());
    db::run(&pool, move |conn| service::revoke_token(conn, &principal.audit_actor(), principal.company_id(), &id))
        .await?;
    Ok(HttpResponse::NoContent().finish())
}

/// Called once by a desktop agent: trades an enrollment token for the agent's id and secret.
#[utoipa::path(
    tag = "agent",
    operation_id = "enroll_agent",
    request_body = EnrollRequest,
    responses(
        (status = 201, description = "Enrolled: store `agent_secret`", body = Enrollment),
        (status = 401, description = "`invalid_enrollment_token`, `enrollment_token_expired` or `enrollment_token_used_up`", body = crate::error::Problem, content_type = "application/problem+json"),
        (status = 403, description = "The plan's agent limit is reached (`plan_limit_reached`)", body = crate::error::Problem, content_type = "application/problem+json"),
    ),
)]
#[post("/agent/enroll")]
pub async fn enroll_agent(
    body: ValidatedJson<EnrollRequest>,
    origin: RequestOrigin,
    pool: web::Data<DbPool>,
) -> Result<HttpResponse, ApiError> {
    let request = body.into_inner();
    let enrollment = db::run(&pool, move |conn| service::enroll(conn, &origin.anonymous(), &request)).await?;
    Ok(HttpResponse::Created().json(enrollment))
}

/// Called by every agent every 30 to 60 seconds: records the contact and answers with the policy version,
/// plus the policy when the agent's copy is stale. The body is optional.
#[utoipa::path(
    tag = "agent",
    operation_id = "agent_heartbeat",
    request_body(content = Option<HeartbeatRequest>, description = "Optional: the policy version the agent has"),
    security(("agent_secret" = [])),
    responses((status = 200, description = "Contact recorded", body = HeartbeatResponse)),
)]
#[post("/agent/heartbeat")]
pub async fn agent_heartbeat(
    req: HttpRequest,
    secret: AgentSecret,
    OptionalJson(body): OptionalJson<HeartbeatRequest>,
    pool: web::Data<DbPool>,
) -> Result<web::Json<HeartbeatResponse>, ApiError> {
    let request = body.unwrap_or_default();
    let answer = db::run(&pool, move |conn| service::heartbeat(conn, &secret.0, &request)).await?;
    crate::http::principal::credential_verified(&req);
    Ok(web::Json(answer))
}
