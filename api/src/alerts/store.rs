//! Queries on alerts and stream tickets. Alerts are read by their recipient; conditions are resolved for the
//! whole company.

use chrono::NaiveDateTime;
use diesel::prelude::*;
use diesel::sql_types::{Bool, Nullable, Text, Timestamp};

use super::model::{AlertFilter, AlertKey, AlertRow, AlertType};
use crate::auth::Role;
use crate::db::DbConn;
use crate::db::schema::{alert_counts, alerts, stream_tickets, users};
use crate::http::pagination::Slice;
use crate::ids::{AlertId, CompanyId, UserId};

/// The active users of the company with one of `roles`.
pub fn recipients(conn: &mut DbConn, company: &CompanyId, roles: &[Role]) -> QueryResult<Vec<String>> {
    users::table
        .filter(users::company_id.eq(company.as_str()))
        .filter(users::disabled_at.is_null())
        .filter(users::role.eq_any(roles.iter().map(|role| role.as_str())))
        // One order for every fan-out, so two at once lock the recipients' running counts in the same order.
        .order(users::id.asc())
        .select(users::id)
        .load(conn)
}

/// Inserts the alert for one recipient unless an unresolved one of the same condition exists (the partial
/// unique index decides, also between instances). True when inserted.
pub fn insert_unless_open(conn: &mut DbConn, row: &AlertRow) -> QueryResult<bool> {
    let inserted = diesel::sql_query(
        "INSERT INTO alerts (id, company_id, recipient_user_id, alert_type, severity, title, message, related_employee_id, \
         related_data, dedup_key, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11) \
         ON CONFLICT (recipient_user_id, dedup_key) WHERE resolved_at IS NULL DO NOTHING",
    )
    .bind::<Text, _>(&row.id)
    .bind::<Text, _>(&row.company_id)
    .bind::<Text, _>(&row.recipient_user_id)
    .bind::<Text, _>(&row.alert_type)
    .bind::<Text, _>(&row.severity)
    .bind::<Text, _>(&row.title)
    .bind::<Text, _>(&row.message)
    .bind::<Nullable<Text>, _>(&row.related_employee_id)
    .bind::<Text, _>(&row.related_data)
    .bind::<Text, _>(&row.dedup_key)
    .bind::<Timestamp, _>(row.created_at)
    .execute(conn)?;
    Ok(inserted == 1)
}

/// Resolves every unresolved alert of a condition in the company; returns the type of each it resolved.
pub fn resolve_condition(
    conn: &mut DbConn,
    company: &CompanyId,
    dedup_key: &str,
    now: NaiveDateTime,
) -> QueryResult<Vec<String>> {
    diesel::update(
        alerts::table
            .filter(alerts::company_id.eq(company.as_str()))
            .filter(alerts::dedup_key.eq(dedup_key))
            .filter(alerts::resolved_at.is_null()),
    )
    .set(alerts::resolved_at.eq(now))
    .returning(alerts::alert_type)
    .get_results(conn)
}

/// Whether an alert of this condition was ever raised in the company, resolved or not.
pub fn condition_ever_raised(conn: &mut DbConn, company: &CompanyId, dedup_key: &str) -> QueryResult<bool> {
    diesel::select(diesel::dsl::exists(
        alerts::table.filter(alerts::company_id.eq(company.as_str())).filter(alerts::dedup_key.eq(dedup_key)),
    ))
    .get_result(conn)
}

/// Whether a condition has an unresolved alert in the company (for anyone).
pub fn condition_open(conn: &mut DbConn, company: &CompanyId, dedup_key: &str) -> QueryResult<bool> {
    diesel::select(diesel::dsl::exists(
        alerts::table
            .filter(alerts::company_id.eq(company.as_str()))
            .filter(alerts::dedup_key.eq(dedup_key))
            .filter(alerts::resolved_at.is_null()),
    ))
    .get_result(conn)
}

/// Unresolved conditions of a type in the company (their dedup keys).
pub fn open_conditions(conn: &mut DbConn, company: &CompanyId, kind: AlertType) -> QueryResult<Vec<String>> {
    alerts::table
        .filter(alerts::company_id.eq(company.as_str()))
        .filter(alerts::alert_type.eq(kind.as_str()))
        .filter(alerts::resolved_at.is_null())
        .select(alerts::dedup_key)
        .distinct()
        .load(conn)
}

pub fn find(conn: &mut DbConn, company: &CompanyId, recipient: &UserId, id: &AlertId) -> QueryResult<Option<AlertRow>> {
    alerts::table
        .filter(alerts::company_id.eq(company.as_str()))
        .filter(alerts::recipient_user_id.eq(recipient.as_str()))
        .filter(alerts::id.eq(id.as_str()))
        .select(AlertRow::as_select())
        .first(conn)
        .optional()
}

pub fn list(
    conn: &mut DbConn,
    company: &CompanyId,
    recipient: &UserId,
    filter: &AlertFilter,
    slice: &Slice,
) -> QueryResult<(Vec<AlertRow>, Option<i64>)> {
    let query = || {
        let mut query = alerts::table
            .filter(alerts::company_id.eq(company.as_str()))
            .filter(alerts::recipient_user_id.eq(recipient.as_str()))
            .into_boxed();
        if filter.unread == Some(true) {
            query = query.filter(alerts::read_at.is_null());
        }
        if let Some(kind) = filter.kind {
            query = query.filter(alerts::alert_type.eq(kind.as_str()));
        }
        if let Some(severity) = filter.severity {
            query = query.filter(alerts::severity.eq(severity.as_str()));
        }
        match filter.resolved {
            Some(true) => query = query.filter(alerts::resolved_at.is_not_null()),
            Some(false) => query = query.filter(alerts::resolved_at.is_null()),
            None => {}
        }
        query
    };
    // The web app's two lists, all alerts and the unread ones, read their totals from the running counts;
    // a narrower filter counts its rows.
    let total = match slice {
        Slice::Keyset { .. } => None,
        Slice::Numbered(_) => {
            let narrowed = filter.kind.is_some() || filter.severity.is_some() || filter.resolved.is_some();
            Some(match (narrowed, filter.unread == Some(true)) {
                (false, false) => counts(conn, company, recipient)?.0,
                (false, true) => counts(conn, company, recipient)?.1,
                (true, _) => query().count().get_result(conn)?,
            })
        }
    };
    let rows = crate::load_slice!(conn, query, slice,
        order: (alerts::created_at.desc(), alerts::id.desc()),
        keyset: (alerts::created_at, alerts::id),
        select: AlertRow::as_select())?;
    Ok((rows, total))
}

/// When an alert of the recipient was raised: where a cursor naming it stands in the list.
pub fn created_at_of(
    conn: &mut DbConn,
    company: &CompanyId,
    recipient: &UserId,
    id: &str,
) -> QueryResult<Option<NaiveDateTime>> {
    alerts::table
        .filter(alerts::company_id.eq(company.as_str()))
        .filter(alerts::recipient_user_id.eq(recipient.as_str()))
        .filter(alerts::id.eq(id))
        .select(alerts::created_at)
        .first(conn)
        .optional()
}

/// The recipient's running counts: all alerts, and the unread ones (table `alert_counts`, kept by
/// triggers on every write of an alert).
pub fn counts(conn: &mut DbConn, company: &CompanyId, recipient: &UserId) -> QueryResult<(i64, i64)> {
    Ok(alert_counts::table
        .filter(alert_counts::company_id.eq(company.as_str()))
        .filter(alert_counts::recipient_user_id.eq(recipient.as_str()))
        .select((alert_counts::alert_count, alert_counts::unread_count))
        .first(conn)
        .optional()?
        .unwrap_or((0, 0)))
}

pub fn unread_count(conn: &mut DbConn, company: &CompanyId, recipient: &UserId) -> QueryResult<i64> {
    Ok(counts(conn, company, recipient)?.1)
}

/// Marks read (one alert, or all of the recipient's unread ones); returns how many changed.
pub fn mark_read(
    conn: &mut DbConn,
    company: &CompanyId,
    recipient: &UserId,
    only: Option<&AlertId>,
    now: NaiveDateTime,
) -> QueryResult<usize> {
    let mut target = alerts::table
        .filter(alerts::company_id.eq(company.as_str()))
        .filter(alerts::recipient_user_id.eq(recipient.as_str()))
        .filter(alerts::read_at.is_null())
        .into_boxed();
    if let Some(id) = only {
        target = target.filter(alerts::id.eq(id.as_str()));
    }
    let ids: Vec<String> = target.select(alerts::id).load(conn)?;
    diesel::update(alerts::table.filter(alerts::id.eq_any(ids))).set(alerts::read_at.eq(now)).execute(conn)
}

/// A condition on alerts, boxed so the keyset comparisons below are written once.
type Condition = Box<dyn BoxableExpression<alerts::table, <DbConn as Connection>::Backend, SqlType = Bool>>;

/// Alerts after `key` in stream order.
fn after_key(key: &AlertKey) -> Condition {
    Box::new(
        alerts::created_at
            .gt(key.created_at)
            .or(alerts::created_at.eq(key.created_at).and(alerts::id.gt(key.id.clone()))),
    )
}

/// Alerts at or before `key` in stream order.
fn upto_key(key: &AlertKey) -> Condition {
    Box::new(
        alerts::created_at
            .lt(key.created_at)
            .or(alerts::created_at.eq(key.created_at).and(alerts::id.le(key.id.clone()))),
    )
}

/// The recipient's alerts after `after` in stream order (`(created_at, id)`), and at or before `upto` when
/// given, oldest first: one page of the live stream. The index on `(recipient_user_id, created_at)` serves
/// it.
pub fn stream_page(
    conn: &mut DbConn,
    company: &CompanyId,
    recipient: &UserId,
    after: &AlertKey,
    upto: Option<&AlertKey>,
    limit: i64,
) -> QueryResult<Vec<AlertRow>> {
    let mut query = alerts::table
        .filter(alerts::company_id.eq(company.as_str()))
        .filter(alerts::recipient_user_id.eq(recipient.as_str()))
        .filter(after_key(after))
        .into_boxed();
    if let Some(upto) = upto {
        query = query.filter(upto_key(upto));
    }
    query.order((alerts::created_at.asc(), alerts::id.asc())).limit(limit).select(AlertRow::as_select()).load(conn)
}

/// How many of the recipient's alerts lie after `after` and at or before `upto` in stream order: the live
/// stream's check for alerts that committed behind its cursor, which transfers one number, not the rows.
/// `None` when the recipient is no longer an active user of the company (disabled or removed), in the same
/// statement, so that checking costs the stream nothing extra.
pub fn count_between(
    conn: &mut DbConn,
    company: &CompanyId,
    recipient: &UserId,
    after: &AlertKey,
    upto: &AlertKey,
) -> QueryResult<Option<i64>> {
    let active = diesel::dsl::exists(
        users::table
            .filter(users::company_id.eq(company.as_str()))
            .filter(users::id.eq(recipient.as_str()))
            .filter(users::disabled_at.is_null()),
    );
    let behind = alerts::table
        .filter(alerts::company_id.eq(company.as_str()))
        .filter(alerts::recipient_user_id.eq(recipient.as_str()))
        .filter(after_key(after))
        .filter(upto_key(upto))
        .count()
        .single_value();
    let (active, behind): (bool, Option<i64>) = diesel::select((active, behind)).get_result(conn)?;
    Ok(active.then(|| behind.unwrap_or(0)))
}

/// The stream position of the recipient's newest alert, where a fresh stream starts.
pub fn newest_key(conn: &mut DbConn, company: &CompanyId, recipient: &UserId) -> QueryResult<Option<AlertKey>> {
    alerts::table
        .filter(alerts::company_id.eq(company.as_str()))
        .filter(alerts::recipient_user_id.eq(recipient.as_str()))
        .order((alerts::created_at.desc(), alerts::id.desc()))
        .select((alerts::created_at, alerts::id))
        .first::<(NaiveDateTime, String)>(conn)
        .optional()
        .map(|key| key.map(|(created_at, id)| AlertKey { created_at, id }))
}

/// The stream position of one of the recipient's alerts (a reconnecting browser's `Last-Event-ID`).
pub fn key_of(conn: &mut DbConn, company: &CompanyId, recipient: &UserId, id: &str) -> QueryResult<Option<AlertKey>> {
    alerts::table
        .filter(alerts::company_id.eq(company.as_str()))
        .filter(alerts::recipient_user_id.eq(recipient.as_str()))
        .filter(alerts::id.eq(id))
        .select((alerts::created_at, alerts::id))
        .first::<(NaiveDateTime, String)>(conn)
        .optional()
        .map(|key| key.map(|(created_at, id)| AlertKey { created_at, id }))
}

pub fn insert_ticket(
    conn: &mut DbConn,
    company: &CompanyId,
    user: &UserId,
    ticket_hash: &str,
    expires_at: NaiveDateTime,
) -> QueryResult<()> {
    diesel::insert_into(stream_tickets::table)
        .values((
            stream_tickets::id.eq(uuid::Uuid::now_v7().to_string()),
            stream_tickets::ticket_hash.eq(ticket_hash),
            stream_tickets::user_id.eq(user.as_str()),
            stream_tickets::company_id.eq(company.as_str()),
            stream_tickets::expires_at.eq(expires_at),
        ))
        .execute(conn)
        .map(drop)
}

/// Uses a live ticket of an active user once; returns whose it was. A ticket taken just before its user was
/// disabled opens no stream.
pub fn redeem_ticket(
    conn: &mut DbConn,
    ticket_hash: &str,
    now: NaiveDateTime,
) -> QueryResult<Option<(String, String)>> {
    let active_users = users::table.filter(users::disabled_at.is_null()).select(users::id);
    diesel::update(
        stream_tickets::table
            .filter(stream_tickets::ticket_hash.eq(ticket_hash))
            .filter(stream_tickets::used_at.is_null())
            .filter(stream_tickets::expires_at.gt(now))
            .filter(stream_tickets::user_id.eq_any(active_users)),
    )
    .set(stream_tickets::used_at.eq(now))
    .returning((stream_tickets::company_id, stream_tickets::user_id))
    .get_result(conn)
    .optional()
}

/// Deletes a user's own alerts and stream tickets, before the user row is removed. Alerts are per recipient,
/// so nobody else loses anything.
pub fn forget_recipient(conn: &mut DbConn, company: &CompanyId, user: &UserId) -> QueryResult<()> {
    diesel::delete(
        alerts::table
            .filter(alerts::company_id.eq(company.as_str()))
            .filter(alerts::recipient_user_id.eq(user.as_str())),
    )
    .execute(conn)?;
    diesel::delete(
        stream_tickets::table
            .filter(stream_tickets::company_id.eq(company.as_str()))
            .filter(stream_tickets::user_id.eq(user.as_str())),
    )
    .execute(conn)
    .map(drop)
}
