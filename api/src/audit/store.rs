//! Writing and reading audit entries. There is no update or delete here, on purpose.

use diesel::prelude::*;

use super::model::{AuditActor, AuditEvent, AuditFilter, AuditLogEntry, AuditRow};
use crate::db::DbConn;
use crate::db::schema::audit_logs;
use crate::error::ApiError;
use crate::http::pagination::{ListRequest, Page};
use crate::ids::CompanyId;

/// Appends one entry. Call it inside the transaction of the change it records, so both or neither land.
pub fn record(conn: &mut DbConn, actor: &AuditActor, event: AuditEvent<'_>) -> QueryResult<()> {
    let row = AuditRow {
        id: uuid::Uuid::now_v7().to_string(),
        company_id: actor.company_id.as_ref().map(ToString::to_string),
        actor_type: actor.actor_type.as_str().to_owned(),
        actor_id: actor.actor_id.clone(),
        action: event.action.to_owned(),
        target_type: event.target_type.map(str::to_owned),
        target_id: event.target_id,
        details: event.details.to_string(),
        client_ip: actor.client_ip.clone(),
        request_id: actor.request_id.clone(),
        created_at: crate::db::now(),
    };
    diesel::insert_into(audit_logs::table).values(&row).execute(conn)?;
    Ok(())
}

/// One page of a company's entries, newest first.
pub fn list(
    conn: &mut DbConn,
    company: &CompanyId,
    filter: &AuditFilter,
    list: &ListRequest,
) -> Result<Page<AuditLogEntry>, ApiError> {
    let query = || {
        let mut query = audit_logs::table.filter(audit_logs::company_id.eq(company.as_str())).into_boxed();
        if let Some(action) = &filter.action {
            query = query.filter(audit_logs::action.eq(action.clone()));
        }
        if let Some(actor_type) = filter.actor_type {
            query = query.filter(audit_logs::actor_type.eq(actor_type.as_str()));
        }
        if let Some(actor_id) = &filter.actor_id {
            query = query.filter(audit_logs::actor_id.eq(actor_id.clone()));
        }
        if let Some(from) = filter.from {
            query = query.filter(audit_logs::created_at.ge(from.naive_utc()));
        }
        if let Some(to) = filter.to {
            query = query.filter(audit_logs::created_at.lt(to.naive_utc()));
        }
        query
    };
    let slice = list.slice(|id| {
        Ok(audit_logs::table
            .filter(audit_logs::company_id.eq(company.as_str()))
            .filter(audit_logs::id.eq(id))
            .select(audit_logs::created_at)
            .first(conn)
            .optional()?)
    })?;
    let total: Option<i64> = if slice.is_numbered() { Some(query().count().get_result(conn)?) } else { None };
    let rows: Vec<AuditRow> = crate::load_slice!(conn, query, &slice,
        order: (audit_logs::created_at.desc(), audit_logs::id.desc()),
        keyset: (audit_logs::created_at, audit_logs::id),
        select: AuditRow::as_select())?;
    Ok(list.page(rows.into_iter().map(Into::into).collect(), total))
}
