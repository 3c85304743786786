//! `GET /api/v1/audit-logs`.

use actix_web::{get, web};

use super::model::{AuditFilter, AuditLogEntry};
use crate::db::{self, DbPool};
use crate::error::ApiError;
use crate::http::pagination::{CursorQuery, ListRequest, Page, PageQuery};
use crate::http::principal::{AdminReader, Auth};

/// The company's audit log, newest first, filtered by action, actor and time range.
#[utoipa::path(
    tag = "audit",
    operation_id = "list_audit_logs",
    params(AuditFilter, PageQuery, CursorQuery),
    security(("bearer" = [])),
    responses((status = 200, description = "One page of audit entries", body = Page<AuditLogEntry>, headers(("Link" = String, description = "The `next` and `prev` pages, as RFC 8288 links that keep the filters")))),
)]
#[get("/audit-logs")]
pub async fn list_audit_logs(
    auth: Auth<AdminReader>,
    filter: web::Query<AuditFilter>,
    page: web::Query<PageQuery>,
    cursor: web::Query<CursorQuery>,
    pool: web::Data<DbPool>,
) -> Result<Page<AuditLogEntry>, ApiError> {
    let page = ListRequest::choose(page.into_inner(), cursor.into_inner())?;
    let company = auth.company_id().clone();
    let filter = filter.into_inner();
    filter.check()?;
    let entries = db::run(&pool, move |conn| super::store::list(conn, &company, &filter, &page)).await?;
    Ok(entries)
}
