//! `POST /api/v1/agent/screenshots` (agents), the screenshot lists and links (supervisors), and the signed
//! image itself.

use actix_multipart::Multipart;
use actix_web::http::header::{self, CacheControl, CacheDirective};
use actix_web::{HttpRequest, HttpResponse, delete, get, post, web};

use super::model::{Screenshot, ScreenshotFilter, ScreenshotReceipt, ScreenshotUpload};
use super::service;
use crate::config::Config;
use crate::db::{self, DbPool};
use crate::error::ApiError;
use crate::http::extract::ValidatedQuery;
use crate::http::pagination::{CursorQuery, ListRequest, Page, PageQuery};
use crate::http::principal::{AgentSecret, Auth, Manager, Supervisor};
use crate::ids::{EmployeeId, ScreenshotId};
use crate::storage::blobs::BlobStore;
use crate::storage::links::{LinkSigner, SignedQuery};

/// Uploads a screenshot (PNG, JPEG or WebP) when the plan and the policy have screenshots on. Sending the
/// same `id` again stores it once.
#[utoipa::path(
    tag = "agent",
    operation_id = "upload_screenshot",
    request_body(content = ScreenshotUpload, content_type = "multipart/form-data"),
    security(("agent_secret" = [])),
    responses(
        (status = 201, description = "Stored", body = ScreenshotReceipt),
        (status = 200, description = "Stored before: this upload was a resend", body = ScreenshotReceipt),
        (status = 403, description = "`feature_not_in_plan`, `screenshots_disabled` by the policy, or `storage_limit_reached`", body = crate::error::Problem, content_type = "application/problem+json"),
        (status = 413, description = "The image is larger than SCREENSHOT_MAX_BYTES (`payload_too_large`)", body = crate::error::Problem, content_type = "application/problem+json"),
        (status = 415, description = "Not a multipart form, or the file is not a PNG, JPEG or WebP image", body = crate::error::Problem, content_type = "application/problem+json"),
        (status = 503, description = "The image store (`object_store_unavailable`) or the database (`database_unavailable`) cannot be reached; retry after `Retry-After` seconds", body = crate::error::Problem, content_type = "application/problem+json"),
    ),
)]
#[post("/agent/screenshots")]
pub async fn upload_screenshot(
    secret: AgentSecret,
    req: HttpRequest,
    payload: web::Payload,
    pool: web::Data<DbPool>,
    blobs: web::Data<BlobStore>,
    config: web::Data<Config>,
) -> Result<HttpResponse, ApiError> {
    let multipart = req
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|value| value.to_str().ok())
        .is_some_and(|value| value.to_ascii_lowercase().starts_with("multipart/form-data"));
    if !multipart {
        return Err(ApiError::UnsupportedMediaType(
            "Send the screenshot as multipart/form-data with the parts id, taken_at and file.".to_owned(),
        ));
    }
    // Who is uploading is settled before the image is read.
    let agent = db::run(&pool, move |conn| crate::agents::service::authenticate(conn, &secret.0)).await?;
    crate::http::principal::credential_verified(&req);
    let upload = service::read_upload(Multipart::new(req.headers(), payload), config.screenshot_max_bytes).await?;
    let receipt = service::upload(&pool, &blobs, agent, upload).await?;
    Ok(if receipt.duplicate { HttpResponse::Ok() } else { HttpResponse::Created() }.json(receipt))
}

/// An employee's screenshots, newest first; each carries a link to the image that works for five minutes.
#[utoipa::path(
    tag = "employees",
    operation_id = "list_employee_screenshots",
    params(ScreenshotFilter, PageQuery, CursorQuery),
    security(("bearer" = [])),
    responses((status = 200, description = "One page of screenshots", body = Page<Screenshot>, headers(("Link" = String, description = "The `next` and `prev` pages, as RFC 8288 links that keep the filters")))),
)]
#[get("/employees/{employee_id}/screenshots")]
pub async fn list_employee_screenshots(
    auth: Auth<Supervisor>,
    employee_id: web::Path<EmployeeId>,
    filter: ValidatedQuery<ScreenshotFilter>,
    page: web::Query<PageQuery>,
    cursor: web::Query<CursorQuery>,
    pool: web::Data<DbPool>,
    signer: web::Data<LinkSigner>,
) -> Result<Page<Screenshot>, ApiError> {
    let page = ListRequest::choose(page.into_inner(), cursor.into_inner())?;
    let (company, employee, filter) = (auth.company_id().clone(), employee_id.into_inner(), filter.into_inner());
    db::run(&pool, move |conn| service::list(conn, &signer, &company, &employee, &filter, &page)).await
}

/// One screenshot with a fresh link to its image.
#[utoipa::path(
    tag = "employees",
    operation_id = "get_screenshot",
    security(("bearer" = [])),
    responses((status = 200, description = "The screenshot", body = Screenshot)),
)]
#[get("/screenshots/{screenshot_id}")]
pub async fn get_screenshot(
    auth: Auth<Supervisor>,
    screenshot_id: web::Path<ScreenshotId>,
    pool: web::Data<DbPool>,
    signer: web::Data<LinkSigner>,
) -> Result<web::Json<Screenshot>, ApiError> {
    let (company, id) = (auth.company_id().clone(), screenshot_id.into_inner());
    Ok(web::Json(db::run(&pool, move |conn| service::get(conn, &signer, &company, &id)).await?))
}

/// Deletes a screenshot (image included) and frees its storage.
#[utoipa::path(
    tag = "employees",
    operation_id = "delete_screenshot",
    security(("bearer" = [])),
    responses((status = 204, description = "Deleted")),
)]
#[delete("/screenshots/{screenshot_id}")]
pub async fn delete_screenshot(
    auth: Auth<Manager>,
    screenshot_id: web::Path<ScreenshotId>,
    pool: web::Data<DbPool>,
    blobs: web::Data<BlobStore>,
) -> Result<HttpResponse, ApiError> {
    let (actor, company) = (auth.audit_actor(), auth.company_id().clone());
    service::delete(&pool, &blobs, actor, company, screenshot_id.into_inner()).await?;
    Ok(HttpResponse::NoContent().finish())
}

/// The image behind a signed link from the screenshot endpoints. The link is the credential: it names the
/// screenshot, expires after five minutes, and any change to it is refused.
#[utoipa::path(
    tag = "employees",
    operation_id = "get_screenshot_content",
    params(SignedQuery),
    security(()),
    responses(
        (status = 200, description = "The image", content_type = "image/png"),
        (status = 403, description = "`invalid_link` or `link_expired`", body = crate::error::Problem, content_type = "application/problem+json"),
        (status = 503, description = "The image store (`object_store_unavailable`) or the database (`database_unavailable`) cannot be reached; retry after `Retry-After` seconds", body = crate::error::Problem, content_type = "application/problem+json"),
    ),
)]
#[get("/screenshots/{screenshot_id}/content")]
pub async fn get_screenshot_content(
    screenshot_id: web::Path<ScreenshotId>,
    query: web::Query<SignedQuery>,
    pool: web::Data<DbPool>,
    blobs: web::Data<BlobStore>,
    signer: web::Data<LinkSigner>,
) -> Result<HttpResponse, ApiError> {
    let (content_type, image) =
        service::content(&pool, &blobs, &signer, screenshot_id.into_inner(), &query.into_inner()).await?;
    Ok(HttpResponse::Ok()
        .insert_header((header::CONTENT_TYPE, content_type))
        .insert_header(CacheControl(vec![CacheDirective::Private, CacheDirective::MaxAge(300)]))
        .body(image))
}
