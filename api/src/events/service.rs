//! Emitting events in the transaction of their change, and listing them.

use chrono::Duration;

use super::model::{DELIVERY_TOPIC, ENVELOPE_VERSION, Event, EventFilter, EventRow, EventType};
use super::store;
use crate::db::DbConn;
use crate::error::ApiError;
use crate::http::pagination::{CursorRequest, Page};
use crate::ids::{CompanyId, EventId, WebhookEndpointId};
use crate::outbox::store::{NewMessage, enqueue};

/// How long events are kept and listed.
pub const RETENTION_DAYS: i64 = 30;

/// Records that `kind` happened, with its object `data`, and queues its delivery to every enabled endpoint
/// of the company that wants it. Call inside the transaction of the change: if it rolls back, so does the
/// event and every delivery of it.
pub fn emit(
    conn: &mut DbConn,
    company: &CompanyId,
    kind: EventType,
    data: serde_json::Value,
) -> Result<EventId, ApiError> {
    let event = record(conn, company, kind, data)?;
    for (endpoint, wanted) in store::enabled_endpoints(conn, company)? {
        if wants(&wanted, kind) {
            queue_delivery(conn, company, &event, &WebhookEndpointId::from_db(endpoint), "")?;
        }
    }
    Ok(event)
}

/// Records an event meant for one endpoint only (a `ping`), and queues its delivery there.
pub fn emit_to(
    conn: &mut DbConn,
    company: &CompanyId,
    endpoint: &WebhookEndpointId,
    kind: EventType,
    data: serde_json::Value,
) -> Result<EventId, ApiError> {
    let event = record(conn, company, kind, data)?;
    queue_delivery(conn, company, &event, endpoint, "")?;
    Ok(event)
}

/// Queues one delivery of `event` to `endpoint`. `again` makes it a new delivery of an event already sent
/// there (a manual retry or a recovery): empty for the first one, which is queued once however often this
/// is called.
pub fn queue_delivery(
    conn: &mut DbConn,
    company: &CompanyId,
    event: &EventId,
    endpoint: &WebhookEndpointId,
    again: &str,
) -> Result<(), ApiError> {
    let message = NewMessage {
        company: company.clone(),
        topic: DELIVERY_TOPIC,
        dedup_key: format!("{event}:{endpoint}{again}"),
        payload: serde_json::json!({"event_id": event, "endpoint_id": endpoint}),
        available_at: crate::db::now(),
    };
    enqueue(conn, &message)?;
    Ok(())
}

fn record(
    conn: &mut DbConn,
    company: &CompanyId,
    kind: EventType,
    data: serde_json::Value,
) -> Result<EventId, ApiError> {
    let id = EventId::generate();
    let created_at = crate::db::now();
    let envelope = Event {
        id: id.clone(),
        event_type: kind,
        api_version: ENVELOPE_VERSION.to_owned(),
        created_at: created_at.and_utc(),
        data,
    };
    let payload = serde_json::to_string(&envelope).map_err(|error| ApiError::Internal(error.into()))?;
    store::insert(
        conn,
        &EventRow {
            id: id.to_string(),
            company_id: company.to_string(),
            event_type: kind.as_str().to_owned(),
            payload,
            created_at,
        },
    )?;
    Ok(id)
}

/// Whether an endpoint's list of wanted types (a JSON array; empty: all) includes `kind`. A list that
/// does not read wants nothing.
pub fn wants(wanted: &str, kind: EventType) -> bool {
    match serde_json::from_str::<Vec<String>>(wanted) {
        Ok(types) => types.is_empty() || types.iter().any(|wanted| wanted == kind.as_str()),
        Err(_) => false,
    }
}

/// The company's events of the last 30 days, newest first.
pub fn list(
    conn: &mut DbConn,
    company: &CompanyId,
    filter: &EventFilter,
    cursor: &CursorRequest,
) -> Result<Page<Event>, ApiError> {
    let anchor = cursor.anchor(|id| Ok(store::created_at_of(conn, company, id)?))?;
    let since = crate::db::now() - Duration::days(RETENTION_DAYS);
    let rows = store::list(conn, company, filter.event_type, since, anchor, cursor.fetch())?;
    let events = rows.iter().map(envelope).collect::<Result<Vec<_>, _>>()?;
    Ok(cursor.page(events))
}

/// The envelope of a stored event, as it was sent.
pub fn envelope(row: &EventRow) -> Result<Event, ApiError> {
    serde_json::from_str(&row.payload)
        .map_err(|error| ApiError::Internal(anyhow::anyhow!("stored event {}: {error}", row.id)))
}
