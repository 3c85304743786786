//! Queries on API keys. Company-facing functions take the `CompanyId`; `find_live_by_hash` is how a key
//! finds its company in the first place.

use chrono::NaiveDateTime;
use diesel::prelude::*;

use super::model::{ApiKeyRow, CreatorColumns};
use crate::db::DbConn;
use crate::db::schema::{api_keys, users};
use crate::http::pagination::Slice;
use crate::ids::{ApiKeyId, CompanyId, UserId};

pub fn insert(conn: &mut DbConn, row: &ApiKeyRow) -> QueryResult<()> {
    diesel::insert_into(api_keys::table).values(row).execute(conn).map(drop)
}

/// A key and its creator's columns, while that user exists.
pub type KeyWithCreator = (ApiKeyRow, Option<CreatorColumns>);

/// One page of the company's keys, each with its creator while that user exists.
pub fn list(conn: &mut DbConn, company: &CompanyId, slice: &Slice) -> QueryResult<(Vec<KeyWithCreator>, Option<i64>)> {
    let scoped = || api_keys::table.filter(api_keys::company_id.eq(company.as_str()));
    let total = if slice.is_numbered() { Some(scoped().count().get_result(conn)?) } else { None };
    let with_creator = || {
        scoped()
            .left_join(users::table.on(
                users::id.nullable().eq(api_keys::created_by_user_id).and(users::company_id.eq(api_keys::company_id)),
            ))
            .into_boxed()
    };
    let rows = crate::load_slice!(conn, with_creator, slice,
        order: (api_keys::created_at.desc(), api_keys::id.desc()),
        keyset: (api_keys::created_at, api_keys::id),
        select: (ApiKeyRow::as_select(), (users::id, users::name, users::email).nullable()))?;
    Ok((rows, total))
}

/// When a key of the company was created: where a cursor naming it stands in the list.
pub fn created_at_of(conn: &mut DbConn, company: &CompanyId, id: &str) -> QueryResult<Option<NaiveDateTime>> {
    api_keys::table
        .filter(api_keys::company_id.eq(company.as_str()))
        .filter(api_keys::id.eq(id))
        .select(api_keys::created_at)
        .first(conn)
        .optional()
}

/// An active user of the company: id, role, name, email. Read under the company lock when a key is
/// created, so the creator cannot be disabled or demoted in between.
pub fn active_user(
    conn: &mut DbConn,
    company: &CompanyId,
    user: &UserId,
) -> QueryResult<Option<(String, String, String, String)>> {
    users::table
        .filter(users::company_id.eq(company.as_str()))
        .filter(users::id.eq(user.as_str()))
        .filter(users::disabled_at.is_null())
        .select((users::id, users::role, users::name, users::email))
        .first(conn)
        .optional()
}

/// The live keys a user created.
pub fn live_created_by(conn: &mut DbConn, company: &CompanyId, creator: &UserId) -> QueryResult<Vec<ApiKeyRow>> {
    api_keys::table
        .filter(api_keys::company_id.eq(company.as_str()))
        .filter(api_keys::created_by_user_id.eq(creator.as_str()))
        .filter(api_keys::revoked_at.is_null())
        .order((api_keys::created_at.asc(), api_keys::id.asc()))
        .select(ApiKeyRow::as_select())
        .load(conn)
}

/// Forgets a user as the creator of their keys, before the user row is deleted.
pub fn forget_creator(conn: &mut DbConn, company: &CompanyId, creator: &UserId) -> QueryResult<usize> {
    diesel::update(
        api_keys::table
            .filter(api_keys::company_id.eq(company.as_str()))
            .filter(api_keys::created_by_user_id.eq(creator.as_str())),
    )
    .set(api_keys::created_by_user_id.eq(None::<String>))
    .execute(conn)
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

/// Records a use unless one was recorded since `stale_before`. The condition is in the statement, so
/// concurrent first uses within a minute write the row once rather than once each.
pub fn touch_last_used(
    conn: &mut DbConn,
    company: &CompanyId,
    id: &ApiKeyId,
    now: NaiveDateTime,
    stale_before: NaiveDateTime,
) -> QueryResult<usize> {
    diesel::update(
        api_keys::table
            .filter(api_keys::company_id.eq(company.as_str()))
            .filter(api_keys::id.eq(id.as_str()))
            .filter(api_keys::last_used_at.is_null().or(api_keys::last_used_at.lt(stale_before))),
    )
    .set(api_keys::last_used_at.eq(now))
    .execute(conn)
}
