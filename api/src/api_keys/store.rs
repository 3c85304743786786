//! Queries on API keys. Company-facing functions take the `CompanyId`; `find_live_by_hash` is how a key
//! finds its company in the first place.

use chrono::NaiveDateTime;
use diesel::prelude::*;

use super::model::ApiKeyRow;
use crate::db::DbConn;
use crate::db::schema::api_keys;
use crate::http::pagination::PageRequest;
use crate::ids::{ApiKeyId, CompanyId};

pub fn insert(conn: &mut DbConn, row: &ApiKeyRow) -> QueryResult<()> {
    diesel::insert_into(api_keys::table).values(row).execute(conn).map(drop)
}

pub fn list(conn: &mut DbConn, company: &CompanyId, page: PageRequest) -> QueryResult<(Vec<ApiKeyRow>, i64)> {
    let scoped = || api_keys::table.filter(api_keys::company_id.eq(company.as_str()));
    let total = scoped().count().get_result(conn)?;
    let rows = scoped()
        .order((api_keys::created_at.desc(), api_keys::id.desc()))
        .limit(page.limit())
        .offset(page.offset())
        .select(ApiKeyRow::as_select())
        .load(conn)?;
    Ok((rows, total))
}

pub fn find(conn: &mut DbConn, company: &CompanyId, id: &ApiKeyId) -> QueryResult<Option<ApiKeyRow>> {
    api_keys::table
        .filter(api_keys::company_id.eq(company.as_str()))
        .filter(api_keys::id.eq(id.as_str()))
        .select(ApiKeyRow::as_select())
        .first(conn)
        .optional()
}

/// Revokes a live key; 0 when it was revoked already.
pub fn revoke(conn: &mut DbConn, company: &CompanyId, id: &ApiKeyId, now: NaiveDateTime) -> QueryResult<usize> {
    diesel::update(
        api_keys::table
            .filter(api_keys::company_id.eq(company.as_str()))
            .filter(api_keys::id.eq(id.as_str()))
            .filter(api_keys::revoked_at.is_null()),
    )
    .set(api_keys::revoked_at.eq(now))
    .execute(conn)
}

/// The live key with this hash, whichever company it belongs to.
pub fn find_live_by_hash(conn: &mut DbConn, key_hash: &str) -> QueryResult<Option<ApiKeyRow>> {
    api_keys::table
        .filter(api_keys::key_hash.eq(key_hash))
        .filter(api_keys::revoked_at.is_null())
        .select(ApiKeyRow::as_select())
        .first(conn)
        .optional()
}

pub fn touch_last_used(conn: &mut DbConn, company: &CompanyId, id: &ApiKeyId, now: NaiveDateTime) -> QueryResult<()> {
    diesel::update(
        api_keys::table.filter(api_keys::company_id.eq(company.as_str())).filter(api_keys::id.eq(id.as_str())),
    )
    .set(api_keys::last_used_at.eq(now))
    .execute(conn)
    .map(drop)
}
