//! Queries on screenshots. Every function takes the company whose screenshots it touches.

use chrono::NaiveDateTime;
use diesel::prelude::*;
use diesel::sql_types::{BigInt, Nullable, Text, Timestamp};

use super::model::ScreenshotRow;
use crate::db::DbConn;
use crate::db::schema::{blob_deletions, screenshots};
use crate::http::pagination::Slice;
use crate::ids::{AgentId, CompanyId, EmployeeId, ScreenshotId};

/// Stores the row unless the agent sent this screenshot before; true when it was stored now.
pub fn insert_new(conn: &mut DbConn, row: &ScreenshotRow) -> QueryResult<bool> {
    let stored = diesel::sql_query(
        "INSERT INTO screenshots (id, company_id, agent_id, employee_id, client_id, taken_at, content_type, \
         size_bytes, object_key, received_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) \
         ON CONFLICT (agent_id, client_id) DO NOTHING",
    )
    .bind::<Text, _>(&row.id)
    .bind::<Text, _>(&row.company_id)
    .bind::<Text, _>(&row.agent_id)
    .bind::<Nullable<Text>, _>(&row.employee_id)
    .bind::<Text, _>(&row.client_id)
    .bind::<Timestamp, _>(row.taken_at)
    .bind::<Text, _>(&row.content_type)
    .bind::<BigInt, _>(row.size_bytes)
    .bind::<Text, _>(&row.object_key)
    .bind::<Timestamp, _>(row.received_at)
    .execute(conn)?;
    Ok(stored == 1)
}

/// The screenshot an agent sent under its own id, if it did.
pub fn find_by_client_id(
    conn: &mut DbConn,
    company: &CompanyId,
    agent: &AgentId,
    client_id: &str,
) -> QueryResult<Option<String>> {
    screenshots::table
        .filter(screenshots::company_id.eq(company.as_str()))
        .filter(screenshots::agent_id.eq(agent.as_str()))
        .filter(screenshots::client_id.eq(client_id))
        .select(screenshots::id)
        .first(conn)
        .optional()
}

pub fn find(conn: &mut DbConn, company: &CompanyId, id: &ScreenshotId) -> QueryResult<Option<ScreenshotRow>> {
    screenshots::table
        .filter(screenshots::company_id.eq(company.as_str()))
        .filter(screenshots::id.eq(id.as_str()))
        .select(ScreenshotRow::as_select())
        .first(conn)
        .optional()
}

/// An employee's screenshots, newest first, optionally within `[from, to)`.
pub fn list_for_employee(
    conn: &mut DbConn,
    company: &CompanyId,
    employee: &EmployeeId,
    window: Option<(NaiveDateTime, NaiveDateTime)>,
    slice: &Slice,
) -> QueryResult<(Vec<ScreenshotRow>, Option<i64>)> {
    let query = || {
        let mut query = screenshots::table
            .filter(screenshots::company_id.eq(company.as_str()))
            .filter(screenshots::employee_id.eq(employee.as_str()))
            .into_boxed();
        if let Some((from, to)) = window {
            query = query.filter(screenshots::taken_at.ge(from)).filter(screenshots::taken_at.lt(to));
        }
        query
    };
    let total = if slice.is_numbered() { Some(query().count().get_result(conn)?) } else { None };
    let rows = crate::load_slice!(conn, query, slice,
        order: (screenshots::taken_at.desc(), screenshots::id.desc()),
        keyset: (screenshots::taken_at, screenshots::id),
        select: ScreenshotRow::as_select())?;
    Ok((rows, total))
}

/// When a screenshot of the employee was taken: where a cursor naming it stands in the list.
pub fn taken_at_of(
    conn: &mut DbConn,
    company: &CompanyId,
    employee: &EmployeeId,
    id: &str,
) -> QueryResult<Option<NaiveDateTime>> {
    screenshots::table
        .filter(screenshots::company_id.eq(company.as_str()))
        .filter(screenshots::employee_id.eq(employee.as_str()))
        .filter(screenshots::id.eq(id))
        .select(screenshots::taken_at)
        .first(conn)
        .optional()
}

/// Deletes up to `batch` screenshots taken before `cutoff`, queues their blobs for deletion, and returns
/// how many went and their total size.
pub fn delete_older_than(
    conn: &mut DbConn,
    company: &CompanyId,
    cutoff: NaiveDateTime,
    batch: i64,
    now: NaiveDateTime,
) -> QueryResult<(usize, i64)> {
    let expired: Vec<String> = screenshots::table
        .filter(screenshots::company_id.eq(company.as_str()))
        .filter(screenshots::taken_at.lt(cutoff))
        .select(screenshots::id)
        .limit(batch)
        .load(conn)?;
    if expired.is_empty() {
        return Ok((0, 0));
    }
    let deleted: Vec<(i64, String)> = diesel::delete(
        screenshots::table
            .filter(screenshots::company_id.eq(company.as_str()))
            .filter(screenshots::id.eq_any(&expired)),
    )
    .returning((screenshots::size_bytes, screenshots::object_key))
    .get_results(conn)?;
    // Object keys are unique, so each deleted row queues its own blob exactly once.
    for (_, key) in &deleted {
        diesel::insert_into(blob_deletions::table)
            .values((blob_deletions::object_key.eq(key), blob_deletions::queued_at.eq(now)))
            .execute(conn)?;
    }
    Ok((deleted.len(), deleted.iter().map(|(size, _)| size).sum()))
}

/// What a deleted screenshot was, for the audit log and the meter.
pub struct DeletedScreenshot {
    pub employee_id: Option<String>,
    pub taken_at: NaiveDateTime,
    pub size_bytes: i64,
    pub object_key: String,
}

/// Deletes one screenshot and queues its blob; what was deleted, if anything.
pub fn delete_one(
    conn: &mut DbConn,
    company: &CompanyId,
    id: &ScreenshotId,
    now: NaiveDateTime,
) -> QueryResult<Option<DeletedScreenshot>> {
    let deleted: Option<(Option<String>, NaiveDateTime, i64, String)> = diesel::delete(
        screenshots::table.filter(screenshots::company_id.eq(company.as_str())).filter(screenshots::id.eq(id.as_str())),
    )
    .returning((screenshots::employee_id, screenshots::taken_at, screenshots::size_bytes, screenshots::object_key))
    .get_result(conn)
    .optional()?;
    let Some((employee_id, taken_at, size_bytes, object_key)) = deleted else { return Ok(None) };
    diesel::insert_into(blob_deletions::table)
        .values((blob_deletions::object_key.eq(&object_key), blob_deletions::queued_at.eq(now)))
        .execute(conn)?;
    Ok(Some(DeletedScreenshot { employee_id, taken_at, size_bytes, object_key }))
}

/// A blob waiting to be deleted.
#[derive(Debug, Queryable)]
pub struct QueuedBlobDeletion {
    pub object_key: String,
    pub attempts: i32,
    pub only_if_unreferenced: bool,
}

/// Blobs due for deletion now (not parked, not backing off), oldest first.
pub fn due_blob_deletions(conn: &mut DbConn, now: NaiveDateTime, limit: i64) -> QueryResult<Vec<QueuedBlobDeletion>> {
    blob_deletions::table
        .filter(blob_deletions::parked_at.is_null())
        .filter(blob_deletions::next_attempt_at.is_null().or(blob_deletions::next_attempt_at.le(now)))
        .order((blob_deletions::queued_at, blob_deletions::object_key))
        .select((blob_deletions::object_key, blob_deletions::attempts, blob_deletions::only_if_unreferenced))
        .limit(limit)
        .load(conn)
}

pub fn forget_blob_deletion(conn: &mut DbConn, key: &str) -> QueryResult<()> {
    diesel::delete(blob_deletions::table.filter(blob_deletions::object_key.eq(key))).execute(conn).map(drop)
}

/// What a failed deletion attempt leaves for the next one.
pub struct DeletionFailure {
    pub attempts: i32,
    pub next_attempt_at: NaiveDateTime,
    /// Set when the key is given up on.
    pub parked_at: Option<NaiveDateTime>,
    pub error: String,
}

pub fn record_blob_deletion_failure(conn: &mut DbConn, key: &str, failure: &DeletionFailure) -> QueryResult<()> {
    diesel::update(blob_deletions::table.filter(blob_deletions::object_key.eq(key)))
        .set((
            blob_deletions::attempts.eq(failure.attempts),
            blob_deletions::next_attempt_at.eq(failure.next_attempt_at),
            blob_deletions::parked_at.eq(failure.parked_at),
            blob_deletions::last_error.eq(failure.error.chars().take(1000).collect::<String>()),
        ))
        .execute(conn)
        .map(drop)
}

pub fn parked_blob_deletions(conn: &mut DbConn) -> QueryResult<i64> {
    blob_deletions::table.filter(blob_deletions::parked_at.is_not_null()).count().get_result(conn)
}

/// Queues a blob to be deleted only if no screenshot references it once `not_before` has passed: for an
/// upload whose commit outcome is unknown, whose row may exist.
pub fn queue_unless_referenced(
    conn: &mut DbConn,
    key: &str,
    now: NaiveDateTime,
    not_before: NaiveDateTime,
) -> QueryResult<()> {
    diesel::insert_into(blob_deletions::table)
        .values((
            blob_deletions::object_key.eq(key),
            blob_deletions::queued_at.eq(now),
            blob_deletions::next_attempt_at.eq(not_before),
            blob_deletions::only_if_unreferenced.eq(true),
        ))
        .execute(conn)
        .map(drop)
}

/// Whether any screenshot (of any company: keys are unique) stores its image under `key`.
pub fn blob_is_referenced(conn: &mut DbConn, key: &str) -> QueryResult<bool> {
    diesel::select(diesel::dsl::exists(screenshots::table.filter(screenshots::object_key.eq(key)))).get_result(conn)
}
