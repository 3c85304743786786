//! The events table, and which endpoints an event fans out to. Every function takes the company.

use chrono::NaiveDateTime;
use diesel::prelude::*;

use super::model::{EventRow, EventType};
use crate::db::DbConn;
use crate::db::schema::{events, webhook_endpoints};
use crate::http::pagination::Anchor;
use crate::ids::CompanyId;

pub fn insert(conn: &mut DbConn, row: &EventRow) -> QueryResult<()> {
    diesel::insert_into(events::table).values(row).execute(conn).map(drop)
}

/// The company's enabled endpoints with the event types each wants (a JSON array; empty: all).
pub fn enabled_endpoints(conn: &mut DbConn, company: &CompanyId) -> QueryResult<Vec<(String, String)>> {
    webhook_endpoints::table
        .filter(webhook_endpoints::company_id.eq(company.as_str()))
        .filter(webhook_endpoints::enabled.eq(true))
        .select((webhook_endpoints::id, webhook_endpoints::event_types))
        .load(conn)
}

pub fn find(conn: &mut DbConn, company: &CompanyId, id: &str) -> QueryResult<Option<EventRow>> {
    events::table
        .filter(events::company_id.eq(company.as_str()))
        .filter(events::id.eq(id))
        .select(EventRow::as_select())
        .first(conn)
        .optional()
}

/// Where an event sits in the list's order, when it is one of the company's listed events.
pub fn created_at_of(conn: &mut DbConn, company: &CompanyId, id: &str) -> QueryResult<Option<NaiveDateTime>> {
    events::table
        .filter(events::company_id.eq(company.as_str()))
        .filter(events::id.eq(id))
        .filter(events::event_type.ne(EventType::Ping.as_str()))
        .select(events::created_at)
        .first(conn)
        .optional()
}

/// Up to `limit` of the company's events since `since` on the anchor's side, in the keyset order.
pub fn list(
    conn: &mut DbConn,
    company: &CompanyId,
    kind: Option<EventType>,
    since: NaiveDateTime,
    anchor: (Anchor, Option<String>),
    limit: i64,
) -> QueryResult<Vec<EventRow>> {
    let mut query = events::table
        .filter(events::company_id.eq(company.as_str()))
        .filter(events::created_at.ge(since))
        .filter(events::event_type.ne(EventType::Ping.as_str()))
        .select(EventRow::as_select())
        .into_boxed();
    if let Some(kind) = kind {
        query = query.filter(events::event_type.eq(kind.as_str()));
    }
    crate::keyset!(query, events::created_at, events::id, anchor);
    query.limit(limit).load(conn)
}

/// Forgets up to `limit` events older than `before`, across companies (the events API keeps 30 days).
pub fn forget_before(conn: &mut DbConn, before: NaiveDateTime, limit: i64) -> QueryResult<usize> {
    let oldest =
        events::table.filter(events::created_at.lt(before)).select(events::id).limit(limit).load::<String>(conn)?;
    diesel::delete(events::table.filter(events::id.eq_any(&oldest))).execute(conn)
}
