//! `GET /api/v1/audit-logs`.

use actix_web::{get, web};

use super::model::{AuditFilter, AuditLogEntry};
use crate::db::{self, DbPool};
use crate::error::ApiError;
use crate::http::pagination::{Page, PageQuery};
use crate::http::principal::{AdminReader, Auth};

/// The company's audit log, newest first, filtered by action, actor and time range.
#[utoipa::path(
    tag = "audit",
    operation_id = "list_audit_logs",
    params(AuditFilter, PageQuery),
    security(("bearer" = [])),
    responses((status = 200, description = "One page of audit entries", body = Page<AuditLogEntry>)),
)]
#[get("/audit-logs")]
pub async fn list_audit_logs(
    auth: Auth<AdminReader>,
    filter: web::Query<AuditFilter>,
    page: web::Query<PageQuery>,
    pool: web::Data<DbPool>,
) -> Result<web::Json<Page<AuditLogEntry>>, ApiError> {
    let page = page.into_inner().resolve()?;
    let company = auth.company_id().clone();
    let filter = filter.into_inner();
    filter.check()?;
    let entries = db::run(&pool, move |conn| super::store::list(conn, &company, &filter, page)).await?;
    Ok(web::Json(entries))
}
