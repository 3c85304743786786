//! `/api/v1/api-keys`: owners and admins manage the keys integrators use.

use actix_web::{HttpResponse, delete, get, post, web};

use super::model::{ApiKey, CreateApiKeyRequest, CreatedApiKey};
use super::service;
use crate::db::{self, DbPool};
use crate::error::ApiError;
use crate::http::extract::ValidatedJson;
use crate::http::pagination::{CursorQuery, ListRequest, Page, PageQuery};
use crate::http::principal::{AdminUser, Auth};
use crate::ids::ApiKeyId;

/// The company's API keys (never their secrets).
#[utoipa::path(
    tag = "api-keys",
    operation_id = "list_api_keys",
    params(PageQuery, CursorQuery),
    security(("bearer" = [])),
    responses((status = 200, description = "One page of API keys", body = Page<ApiKey>, headers(("Link" = String, description = "The `next` and `prev` pages, as RFC 8288 links that keep the filters")))),
)]
#[get("/api-keys")]
pub async fn list_api_keys(
    auth: Auth<AdminUser>,
    page: web::Query<PageQuery>,
    cursor: web::Query<CursorQuery>,
    pool: web::Data<DbPool>,
) -> Result<Page<ApiKey>, ApiError> {
    let page = ListRequest::choose(page.into_inner(), cursor.into_inner())?;
    let company = auth.company_id().clone();
    db::run(&pool, move |conn| service::list(conn, &company, &page)).await
}

/// Creates an API key. The response is the only time the key itself is shown.
#[utoipa::path(
    tag = "api-keys",
    operation_id = "create_api_key",
    request_body = CreateApiKeyRequest,
    security(("bearer" = [])),
    responses((status = 201, description = "The key, shown once", body = CreatedApiKey)),
)]
#[post("/api-keys")]
pub async fn create_api_key(
    auth: Auth<AdminUser>,
    body: ValidatedJson<CreateApiKeyRequest>,
    pool: web::Data<DbPool>,
) -> Result<HttpResponse, ApiError> {
    let principal = auth.into_principal();
    let request = body.into_inner();
    let (creator, _) = principal.acting_user()?;
    let created = db::run(&pool, move |conn| {
        service::create(conn, &principal.audit_actor(), principal.company_id(), &creator, &request)
    })
    .await?;
    Ok(HttpResponse::Created().json(created))
}

/// Revokes an API key; requests with it fail from now on.
#[utoipa::path(
    tag = "api-keys",
    operation_id = "revoke_api_key",
    security(("bearer" = [])),
    responses((status = 204, description = "Revoked")),
)]
#[delete("/api-keys/{api_key_id}")]
pub async fn revoke_api_key(
    auth: Auth<AdminUser>,
    api_key_id: web::Path<ApiKeyId>,
    pool: web::Data<DbPool>,
) -> Result<HttpResponse, ApiError> {
    let principal = auth.into_principal();
    let key = api_key_id.into_inner();
    db::run(&pool, move |conn| service::revoke(conn, &principal.audit_actor(), principal.company_id(), &key)).await?;
    Ok(HttpResponse::NoContent().finish())
}
