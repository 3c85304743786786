//! The queries of webhook endpoints and their delivery log. Every function takes the company.

use chrono::NaiveDateTime;
use diesel::prelude::*;
use diesel::sql_types::{Text, Timestamp};

use super::model::{AttemptRow, EndpointRow};
use crate::db::DbConn;
use crate::db::schema::{webhook_attempts, webhook_endpoints};
use crate::http::pagination::Anchor;
use crate::ids::{CompanyId, WebhookEndpointId};

pub fn insert_endpoint(conn: &mut DbConn, row: &EndpointRow) -> QueryResult<()> {
    diesel::insert_into(webhook_endpoints::table).values(row).execute(conn).map(drop)
}

/// One endpoint of one company, as a query to read or change.
type ScopedEndpoint<'a> = diesel::dsl::Filter<
    diesel::dsl::Filter<webhook_endpoints::table, diesel::dsl::Eq<webhook_endpoints::company_id, &'a str>>,
    diesel::dsl::Eq<webhook_endpoints::id, &'a str>,
>;

fn scoped<'a>(company: &'a CompanyId, id: &'a str) -> ScopedEndpoint<'a> {
    webhook_endpoints::table
        .filter(webhook_endpoints::company_id.eq(company.as_str()))
        .filter(webhook_endpoints::id.eq(id))
}

pub fn find_endpoint(
    conn: &mut DbConn,
    company: &CompanyId,
    id: &WebhookEndpointId,
) -> QueryResult<Option<EndpointRow>> {
    scoped(company, id.as_str()).select(EndpointRow::as_select()).first(conn).optional()
}

/// The endpoint, locked until the transaction ends (PostgreSQL; SQLite's write transaction already holds
/// the one writer), so that a read-modify-write of it cannot lose a concurrent one (a rotation, Vigil
/// disabling it).
pub fn lock_endpoint(
    conn: &mut DbConn,
    company: &CompanyId,
    id: &WebhookEndpointId,
) -> QueryResult<Option<EndpointRow>> {
    let query = scoped(company, id.as_str());
    match conn {
        DbConn::Pg(pg) => query.select(EndpointRow::as_select()).for_update().first(pg).optional(),
        DbConn::Sqlite(sqlite) => query.select(EndpointRow::as_select()).first(sqlite).optional(),
    }
}

pub fn count_endpoints(conn: &mut DbConn, company: &CompanyId) -> QueryResult<i64> {
    webhook_endpoints::table.filter(webhook_endpoints::company_id.eq(company.as_str())).count().get_result(conn)
}

pub fn endpoint_created_at(conn: &mut DbConn, company: &CompanyId, id: &str) -> QueryResult<Option<NaiveDateTime>> {
    scoped(company, id).select(webhook_endpoints::created_at).first(conn).optional()
}

pub fn list_endpoints(
    conn: &mut DbConn,
    company: &CompanyId,
    anchor: (Anchor, Option<String>),
    limit: i64,
) -> QueryResult<Vec<EndpointRow>> {
    let mut query = webhook_endpoints::table
        .filter(webhook_endpoints::company_id.eq(company.as_str()))
        .select(EndpointRow::as_select())
        .into_boxed();
    crate::keyset!(query, webhook_endpoints::created_at, webhook_endpoints::id, anchor);
    query.limit(limit).load(conn)
}

/// Writes an endpoint's editable fields and state (the row as the service changed it).
pub fn save_endpoint(conn: &mut DbConn, company: &CompanyId, row: &EndpointRow) -> QueryResult<()> {
    diesel::update(scoped(company, &row.id))
        .set((
            webhook_endpoints::url.eq(&row.url),
            webhook_endpoints::description.eq(&row.description),
            webhook_endpoints::event_types.eq(&row.event_types),
            webhook_endpoints::enabled.eq(row.enabled),
            webhook_endpoints::disabled_reason.eq(&row.disabled_reason),
            webhook_endpoints::failing_since.eq(row.failing_since),
            webhook_endpoints::secret.eq(&row.secret),
            webhook_endpoints::previous_secret.eq(&row.previous_secret),
            webhook_endpoints::previous_secret_expires_at.eq(row.previous_secret_expires_at),
            webhook_endpoints::updated_at.eq(row.updated_at),
        ))
        .execute(conn)
        .map(drop)
}

pub fn delete_endpoint(conn: &mut DbConn, company: &CompanyId, id: &WebhookEndpointId) -> QueryResult<bool> {
    diesel::delete(
        webhook_attempts::table
            .filter(webhook_attempts::company_id.eq(company.as_str()))
            .filter(webhook_attempts::endpoint_id.eq(id.as_str())),
    )
    .execute(conn)?;
    Ok(diesel::delete(scoped(company, id.as_str())).execute(conn)? == 1)
}

pub fn insert_attempt(conn: &mut DbConn, row: &AttemptRow) -> QueryResult<()> {
    diesel::insert_into(webhook_attempts::table).values(row).execute(conn).map(drop)
}

/// A success ends a run of failures.
pub fn mark_succeeding(conn: &mut DbConn, company: &CompanyId, id: &str) -> QueryResult<()> {
    diesel::update(scoped(company, id).filter(webhook_endpoints::failing_since.is_not_null()))
        .set(webhook_endpoints::failing_since.eq(None::<NaiveDateTime>))
        .execute(conn)
        .map(drop)
}

/// Notes a failure; returns since when the endpoint has been failing (now, when this is the first).
pub fn mark_failing(
    conn: &mut DbConn,
    company: &CompanyId,
    id: &str,
    now: NaiveDateTime,
) -> QueryResult<NaiveDateTime> {
    diesel::update(scoped(company, id).filter(webhook_endpoints::failing_since.is_null()))
        .set(webhook_endpoints::failing_since.eq(now))
        .execute(conn)?;
    let since: Option<Option<NaiveDateTime>> =
        scoped(company, id).select(webhook_endpoints::failing_since).first(conn).optional()?;
    Ok(since.flatten().unwrap_or(now))
}

/// Disables an enabled endpoint, saying why; false when it was not enabled (or is gone).
pub fn disable(conn: &mut DbConn, company: &CompanyId, id: &str, reason: &str) -> QueryResult<bool> {
    let changed = diesel::update(scoped(company, id).filter(webhook_endpoints::enabled.eq(true)))
        .set((
            webhook_endpoints::enabled.eq(false),
            webhook_endpoints::disabled_reason.eq(reason),
            webhook_endpoints::updated_at.eq(crate::db::now()),
        ))
        .execute(conn)?;
    Ok(changed == 1)
}

pub fn attempt_at(
    conn: &mut DbConn,
    company: &CompanyId,
    endpoint: &str,
    id: &str,
) -> QueryResult<Option<NaiveDateTime>> {
    webhook_attempts::table
        .filter(webhook_attempts::company_id.eq(company.as_str()))
        .filter(webhook_attempts::endpoint_id.eq(endpoint))
        .filter(webhook_attempts::id.eq(id))
        .select(webhook_attempts::attempted_at)
        .first(conn)
        .optional()
}

/// The endpoint's attempts since `since`, on the anchor's side, in the keyset order (newest first).
pub fn list_attempts(
    conn: &mut DbConn,
    company: &CompanyId,
    endpoint: &str,
    since: NaiveDateTime,
    anchor: (Anchor, Option<String>),
    limit: i64,
) -> QueryResult<Vec<AttemptRow>> {
    let mut query = webhook_attempts::table
        .filter(webhook_attempts::company_id.eq(company.as_str()))
        .filter(webhook_attempts::endpoint_id.eq(endpoint))
        .filter(webhook_attempts::attempted_at.ge(since))
        .select(AttemptRow::as_select())
        .into_boxed();
    crate::keyset!(query, webhook_attempts::attempted_at, webhook_attempts::id, anchor);
    query.limit(limit).load(conn)
}

#[derive(QueryableByName)]
pub struct UndeliveredEvent {
    #[diesel(sql_type = Text)]
    pub id: String,
    #[diesel(sql_type = Text)]
    pub event_type: String,
}

/// The events since `since` (and since the endpoint was made) of the `types` it wants (empty: all) that it
/// has not received: no attempt there succeeded, and no delivery of it there is still queued (sending it
/// again would only send it twice). Oldest first, at most `limit`.
pub fn undelivered_events(
    conn: &mut DbConn,
    company: &CompanyId,
    endpoint: &EndpointRow,
    types: &[&str],
    since: NaiveDateTime,
    limit: i64,
) -> QueryResult<Vec<String>> {
    // SQLite numbers `$n` by first appearance: they first appear in order here, and a later `$5` is the same.
    let type_filter = match types.len() {
        0 => String::new(),
        n => format!(" AND e.event_type IN ({})", (0..n).map(|i| format!("${}", i + 8)).collect::<Vec<_>>().join(", ")),
    };
    let sql = format!(
        "SELECT e.id AS id FROM events e \
         WHERE e.company_id = $1 AND e.created_at >= $2 AND e.created_at >= $3 AND e.event_type <> $4 \
         AND NOT EXISTS (SELECT 1 FROM webhook_attempts a WHERE a.endpoint_id = $5 AND a.event_id = e.id \
             AND a.succeeded) \
         AND NOT EXISTS (SELECT 1 FROM outbox_messages m WHERE m.company_id = $6 AND m.topic = $7 \
             AND m.done_at IS NULL AND m.failed_at IS NULL \
             AND substr(m.dedup_key, 1, length(e.id) + 1 + length($5)) = e.id || ':' || $5){type_filter} \
         ORDER BY e.created_at, e.id LIMIT {limit}"
    );
    let mut query = diesel::sql_query(sql)
        .into_boxed::<<DbConn as diesel::Connection>::Backend>()
        .bind::<Text, _>(company.as_str())
        .bind::<Timestamp, _>(since)
        .bind::<Timestamp, _>(endpoint.created_at)
        .bind::<Text, _>(crate::events::model::EventType::Ping.as_str())
        .bind::<Text, _>(&endpoint.id)
        .bind::<Text, _>(company.as_str())
        .bind::<Text, _>(crate::events::model::DELIVERY_TOPIC);
    for kind in types {
        query = query.bind::<Text, _>(*kind);
    }
    let rows: Vec<EventIdRow> = query.load(conn)?;
    Ok(rows.into_iter().map(|row| row.id).collect())
}

#[derive(QueryableByName)]
struct EventIdRow {
    #[diesel(sql_type = Text)]
    id: String,
}

/// Forgets up to `limit` delivery attempts older than `before`, across companies (the log keeps 30 days).
pub fn forget_attempts_before(conn: &mut DbConn, before: NaiveDateTime, limit: i64) -> QueryResult<usize> {
    let oldest = webhook_attempts::table
        .filter(webhook_attempts::attempted_at.lt(before))
        .select(webhook_attempts::id)
        .limit(limit)
        .load::<String>(conn)?;
    diesel::delete(webhook_attempts::table.filter(webhook_attempts::id.eq_any(&oldest))).execute(conn)
}
