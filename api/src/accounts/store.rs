//! Queries on companies, users, refresh tokens and login failures. Functions on a company's data take its
//! `CompanyId`; the few that do not (login by email, token refresh) are how a principal is found at all.

use chrono::NaiveDateTime;
use diesel::prelude::*;

use super::model::{CompanyRow, Role, UserChanges, UserRow};
use crate::db::DbConn;
use crate::db::schema::{companies, refresh_tokens, users};
use crate::http::pagination::Slice;
use crate::ids::{CompanyId, UserId};

pub fn insert_company(conn: &mut DbConn, row: &CompanyRow) -> QueryResult<()> {
    diesel::insert_into(companies::table).values(row).execute(conn).map(drop)
}

pub fn insert_user(conn: &mut DbConn, row: &UserRow) -> QueryResult<()> {
    diesel::insert_into(users::table).values(row).execute(conn).map(drop)
}

pub use crate::companies::find_company;

/// The account an email signs in with, whichever company it belongs to (login only).
pub fn find_user_by_email_for_login(conn: &mut DbConn, email: &str) -> QueryResult<Option<UserRow>> {
    users::table.filter(users::email.eq(email)).select(UserRow::as_select()).first(conn).optional()
}

pub fn email_taken(conn: &mut DbConn, email: &str) -> QueryResult<bool> {
    diesel::select(diesel::dsl::exists(users::table.filter(users::email.eq(email)))).get_result(conn)
}

pub fn find_user(conn: &mut DbConn, company: &CompanyId, user: &UserId) -> QueryResult<UserRow> {
    users::table
        .filter(users::company_id.eq(company.as_str()))
        .filter(users::id.eq(user.as_str()))
        .select(UserRow::as_select())
        .first(conn)
}

/// When a user of the company was created: where a cursor naming them stands in the list.
pub fn user_created_at(conn: &mut DbConn, company: &CompanyId, id: &str) -> QueryResult<Option<NaiveDateTime>> {
    users::table
        .filter(users::company_id.eq(company.as_str()))
        .filter(users::id.eq(id))
        .select(users::created_at)
        .first(conn)
        .optional()
}

/// The company's users: numbered pages oldest first, cursor slices newest first.
pub fn list_users(conn: &mut DbConn, company: &CompanyId, slice: &Slice) -> QueryResult<(Vec<UserRow>, Option<i64>)> {
    let scoped = || users::table.filter(users::company_id.eq(company.as_str())).into_boxed();
    let total = if slice.is_numbered() { Some(scoped().count().get_result(conn)?) } else { None };
    let rows = crate::load_slice!(conn, scoped, slice,
        order: (users::created_at.asc(), users::id.asc()),
        keyset: (users::created_at, users::id),
        select: UserRow::as_select())?;
    Ok((rows, total))
}

/// Active owners of a company; the last one may not be demoted or disabled.
pub fn count_active_owners(conn: &mut DbConn, company: &CompanyId) -> QueryResult<i64> {
    users::table
        .filter(users::company_id.eq(company.as_str()))
        .filter(users::role.eq(Role::Owner.as_str()))
        .filter(users::disabled_at.is_null())
        .count()
        .get_result(conn)
}

/// Applies `changes` (and only those columns) and increments the version.
pub fn update_user(
    conn: &mut DbConn,
    company: &CompanyId,
    user: &UserId,
    changes: &UserChanges,
    now: NaiveDateTime,
) -> QueryResult<()> {
    diesel::update(users::table.filter(users::company_id.eq(company.as_str())).filter(users::id.eq(user.as_str())))
        .set((changes, users::version.eq(users::version + 1), users::updated_at.eq(now)))
        .execute(conn)
        .map(drop)
}

pub fn touch_last_login(conn: &mut DbConn, company: &CompanyId, user: &UserId, now: NaiveDateTime) -> QueryResult<()> {
    diesel::update(users::table.filter(users::company_id.eq(company.as_str())).filter(users::id.eq(user.as_str())))
        .set((users::last_login_at.eq(now), users::version.eq(users::version + 1)))
        .execute(conn)
        .map(drop)
}

pub fn set_password_hash(
    conn: &mut DbConn,
    company: &CompanyId,
    user: &UserId,
    hash: &str,
    now: NaiveDateTime,
) -> QueryResult<()> {
    diesel::update(users::table.filter(users::company_id.eq(company.as_str())).filter(users::id.eq(user.as_str())))
        .set((users::password_hash.eq(hash), users::version.eq(users::version + 1), users::updated_at.eq(now)))
        .execute(conn)
        .map(drop)
}

/// A refresh token row, as needed to rotate it.
#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = refresh_tokens)]
pub struct RefreshTokenRow {
    pub id: String,
    pub family_id: String,
    pub user_id: String,
    pub company_id: String,
    pub token_hash: String,
    pub created_at: NaiveDateTime,
    pub expires_at: NaiveDateTime,
    pub used_at: Option<NaiveDateTime>,
    pub revoked_at: Option<NaiveDateTime>,
}

pub fn insert_refresh_token(conn: &mut DbConn, row: &RefreshTokenRow) -> QueryResult<()> {
    diesel::insert_into(refresh_tokens::table).values(row).execute(conn).map(drop)
}

pub fn find_refresh_token(conn: &mut DbConn, token_hash: &str) -> QueryResult<Option<RefreshTokenRow>> {
    refresh_tokens::table
        .filter(refresh_tokens::token_hash.eq(token_hash))
        .select(RefreshTokenRow::as_select())
        .first(conn)
        .optional()
}

/// Marks a live token used. Returns false when it was already used, revoked or expired: the conditional
/// update is what makes two concurrent uses of one token impossible to both succeed.
pub fn consume_refresh_token(conn: &mut DbConn, id: &str, now: NaiveDateTime) -> QueryResult<bool> {
    let updated = diesel::update(
        refresh_tokens::table
            .filter(refresh_tokens::id.eq(id))
            .filter(refresh_tokens::used_at.is_null())
            .filter(refresh_tokens::revoked_at.is_null())
            .filter(refresh_tokens::expires_at.gt(now)),
    )
    .set(refresh_tokens::used_at.eq(now))
    .execute(conn)?;
    Ok(updated == 1)
}

pub fn revoke_refresh_family(conn: &mut DbConn, family_id: &str, now: NaiveDateTime) -> QueryResult<usize> {
    diesel::update(
        refresh_tokens::table
            .filter(refresh_tokens::family_id.eq(family_id))
            .filter(refresh_tokens::revoked_at.is_null()),
    )
    .set(refresh_tokens::revoked_at.eq(now))
    .execute(conn)
}

pub fn revoke_user_refresh_tokens(
    conn: &mut DbConn,
    company: &CompanyId,
    user: &UserId,
    now: NaiveDateTime,
) -> QueryResult<usize> {
    diesel::update(
        refresh_tokens::table
            .filter(refresh_tokens::company_id.eq(company.as_str()))
            .filter(refresh_tokens::user_id.eq(user.as_str()))
            .filter(refresh_tokens::revoked_at.is_null()),
    )
    .set(refresh_tokens::revoked_at.eq(now))
    .execute(conn)
}

/// Deletes a user and their sessions. The caller first revokes their keys and forgets them as a creator
/// elsewhere; the audit log keeps their id as text.
pub fn delete_user(conn: &mut DbConn, company: &CompanyId, user: &UserId) -> QueryResult<usize> {
    diesel::delete(
        refresh_tokens::table
            .filter(refresh_tokens::company_id.eq(company.as_str()))
            .filter(refresh_tokens::user_id.eq(user.as_str())),
    )
    .execute(conn)?;
    diesel::delete(users::table.filter(users::company_id.eq(company.as_str())).filter(users::id.eq(user.as_str())))
        .execute(conn)
}
