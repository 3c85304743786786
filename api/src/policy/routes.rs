//! `GET`/`PUT /api/v1/policy`.

use actix_web::{get, put, web};

use super::model::{Policy, PolicySettings};
use super::service;
use crate::db::{self, DbPool};
use crate::error::ApiError;
use crate::http::extract::ValidatedJson;
use crate::http::precondition::{IfMatch, IfMatchParam, Tagged};
use crate::http::principal::{Admin, Auth, Member};

/// The company's agent policy and its version.
#[utoipa::path(
    tag = "policy",
    operation_id = "get_policy",
    security(("bearer" = [])),
    responses((status = 200, description = "The policy", body = Policy, headers(("ETag" = String, description = "The policy's version; send it back in `If-Match` to replace it")))),
)]
#[get("/policy")]
pub async fn get_policy(auth: Auth<Member>, pool: web::Data<DbPool>) -> Result<Tagged<Policy>, ApiError> {
    let company = auth.company_id().clone();
    db::run(&pool, move |conn| service::get(conn, &company)).await
}

/// Replaces the policy. Agents pick it up with their next heartbeat; the version goes up by one. With
/// `If-Match`, only if the policy is still the version read.
#[utoipa::path(
    tag = "policy",
    operation_id = "update_policy",
    request_body = PolicySettings,
    params(IfMatchParam),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The new policy", body = Policy, headers(("ETag" = String, description = "The policy's new version"))),
        (status = 412, description = "The policy changed since the `If-Match` version was read (`precondition_failed`); nothing changed", body = crate::error::Problem, content_type = "application/problem+json"),
        (status = 403, description = "The role or key scope does not allow this (`forbidden`), or a setting needs a higher plan (`feature_not_in_plan`, per setting in `errors`)", body = crate::error::Problem, content_type = "application/problem+json"),
    ),
)]
#[put("/policy")]
pub async fn update_policy(
    auth: Auth<Admin>,
    if_match: IfMatch,
    body: ValidatedJson<PolicySettings>,
    pool: web::Data<DbPool>,
) -> Result<Tagged<Policy>, ApiError> {
    let (principal, settings) = (auth.into_principal(), body.into_inner());
    db::run(&pool, move |conn| {
        service::update(conn, &principal.audit_actor(), principal.company_id(), &settings, &if_match)
    })
    .await
}
