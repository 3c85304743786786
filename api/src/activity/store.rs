//! Queries on activity records. Every function takes the company whose records it touches.

use chrono::NaiveDateTime;
use diesel::prelude::*;
use diesel::sql_types::{BigInt, Nullable, Text, Timestamp};

use super::model::ActivityRow;
use crate::db::DbConn;
use crate::db::schema::activity_records;
use crate::ids::{CompanyId, EmployeeId};

/// The size of a record that an insert stored.
#[derive(QueryableByName)]
struct StoredSize {
    #[diesel(sql_type = BigInt)]
    size_bytes: i64,
}

const COLUMNS: usize = 13;

/// Stores the records not stored before (by agent and the agent's id) and returns the sizes of those it
/// stored; the others are left as they were. One multi-row statement: a batch costs one round trip.
/// (Written as SQL because diesel's two-backend connection has no `ON CONFLICT` for batches.)
pub fn insert_new(conn: &mut DbConn, rows: &[ActivityRow]) -> QueryResult<Vec<i64>> {
    if rows.is_empty() {
        return Ok(Vec::new());
    }
    let placeholders: Vec<String> = (0..rows.len())
        .map(|row| {
            let params: Vec<String> = (1..=COLUMNS).map(|column| format!("${}", row * COLUMNS + column)).collect();
            format!("({})", params.join(", "))
        })
        .collect();
    let sql = format!(
        "INSERT INTO activity_records (id, company_id, agent_id, employee_id, client_id, state, application, \
         window_title, url, started_at, ended_at, size_bytes, received_at) VALUES {} \
         ON CONFLICT (agent_id, client_id) DO NOTHING RETURNING size_bytes",
        placeholders.join(", ")
    );
    let mut query = diesel::sql_query(sql).into_boxed::<<DbConn as diesel::Connection>::Backend>();
    for row in rows {
        query = query
            .bind::<Text, _>(&row.id)
            .bind::<Text, _>(&row.company_id)
            .bind::<Text, _>(&row.agent_id)
            .bind::<Nullable<Text>, _>(&row.employee_id)
            .bind::<Text, _>(&row.client_id)
            .bind::<Text, _>(&row.state)
            .bind::<Text, _>(&row.application)
            .bind::<Nullable<Text>, _>(&row.window_title)
            .bind::<Nullable<Text>, _>(&row.url)
            .bind::<Timestamp, _>(row.started_at)
            .bind::<Timestamp, _>(row.ended_at)
            .bind::<BigInt, _>(row.size_bytes)
            .bind::<Timestamp, _>(row.received_at);
    }
    Ok(query.load::<StoredSize>(conn)?.into_iter().map(|stored| stored.size_bytes).collect())
}

/// The records of an employee that overlap `[from, to)`, in order. Spans last at most a day, so the
/// search starts a day early and stays on the (company, employee, started_at) index.
pub fn overlapping(
    conn: &mut DbConn,
    company: &CompanyId,
    employee: &EmployeeId,
    from: NaiveDateTime,
    to: NaiveDateTime,
) -> QueryResult<Vec<ActivityRow>> {
    activity_records::table
        .filter(activity_records::company_id.eq(company.as_str()))
        .filter(activity_records::employee_id.eq(employee.as_str()))
        .filter(activity_records::started_at.gt(from - chrono::Duration::days(1)))
        .filter(activity_records::started_at.lt(to))
        .filter(activity_records::ended_at.gt(from))
        .order((activity_records::started_at, activity_records::id))
        .select(ActivityRow::as_select())
        .load(conn)
}

/// Deletes up to `batch` records that started before `cutoff` and returns their total size.
pub fn delete_older_than(
    conn: &mut DbConn,
    company: &CompanyId,
    cutoff: NaiveDateTime,
    batch: i64,
) -> QueryResult<(usize, i64)> {
    let expired: Vec<String> = activity_records::table
        .filter(activity_records::company_id.eq(company.as_str()))
        .filter(activity_records::started_at.lt(cutoff))
        .select(activity_records::id)
        .limit(batch)
        .load(conn)?;
    if expired.is_empty() {
        return Ok((0, 0));
    }
    let sizes: Vec<i64> = diesel::delete(
        activity_records::table
            .filter(activity_records::company_id.eq(company.as_str()))
            .filter(activity_records::id.eq_any(&expired)),
    )
    .returning(activity_records::size_bytes)
    .get_results(conn)?;
    Ok((sizes.len(), sizes.iter().sum()))
}
