//! The `stripe_events` log: claiming an event for processing exactly once, recording outcomes, and
//! listing a company's events.

use chrono::NaiveDateTime;
use diesel::prelude::*;
use diesel::sql_types::{BigInt, Nullable, Text, Timestamp};
use serde::Serialize;
use utoipa::ToSchema;

use crate::db::DbConn;
use crate::db::schema::stripe_events;
use crate::error::ApiError;
use crate::http::pagination::{ListRequest, Listed, Page};
use crate::ids::CompanyId;

/// A Stripe event as delivered: the fields Vigil reads, and the raw payload.
#[derive(Debug, Clone)]
pub struct IncomingEvent {
    pub id: String,
    pub event_type: String,
    pub api_version: Option<String>,
    pub created: i64,
    /// `data.object`.
    pub object: serde_json::Value,
    pub payload: String,
}

impl IncomingEvent {
    /// Reads an event from its JSON; `None` when it is not an event at all.
    pub fn parse(payload: &str) -> Option<Self> {
        let value: serde_json::Value = serde_json::from_str(payload).ok()?;
        let id = value["id"].as_str().filter(|id| !id.is_empty())?.to_owned();
        let event_type = value["type"].as_str().filter(|t| !t.is_empty())?.to_owned();
        Some(Self {
            id,
            event_type,
            api_version: value["api_version"].as_str().map(str::to_owned),
            created: value["created"].as_i64().unwrap_or_default(),
            object: value["data"]["object"].clone(),
            payload: payload.to_owned(),
        })
    }
}

/// What became of an event.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    Processed,
    /// Acknowledged but not relevant (an event type Vigil does not use, or one for no known company).
    Ignored,
    Failed,
}

impl Outcome {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Processed => "processed",
            Self::Ignored => "ignored",
            Self::Failed => "failed",
        }
    }

    fn parse(text: &str) -> Self {
        match text {
            "processed" => Self::Processed,
            "ignored" => Self::Ignored,
            _ => Self::Failed,
        }
    }
}

/// Whether this delivery may process the event.
#[derive(Debug, PartialEq, Eq)]
pub enum Claim {
    /// First time seen, or seen and failed before: process it.
    Process,
    /// Already processed or ignored (or being processed by another delivery): acknowledge only.
    Duplicate,
}

/// Records the event as being processed, unless it was already; in the caller's transaction. The unique
/// event id decides: of two deliveries racing on two instances, the second waits for the first's commit and
/// then finds the row.
pub fn claim(conn: &mut DbConn, event: &IncomingEvent, now: NaiveDateTime) -> QueryResult<Claim> {
    let inserted = diesel::sql_query(
        "INSERT INTO stripe_events (id, event_id, event_type, api_version, stripe_created, received_at, outcome, attempts, payload) \
         VALUES ($1, $2, $3, $4, $5, $6, 'processing', 1, $7) ON CONFLICT (event_id) DO NOTHING",
    )
    .bind::<Text, _>(uuid::Uuid::now_v7().to_string())
    .bind::<Text, _>(&event.id)
    .bind::<Text, _>(&event.event_type)
    .bind::<Nullable<Text>, _>(&event.api_version)
    .bind::<BigInt, _>(event.created)
    .bind::<Timestamp, _>(now)
    .bind::<Text, _>(&event.payload)
    .execute(conn)?;
    if inserted == 1 {
        return Ok(Claim::Process);
    }
    // Seen before: only a failed event is taken up again, and only by one delivery.
    let retaken = diesel::update(
        stripe_events::table
            .filter(stripe_events::event_id.eq(&event.id))
            .filter(stripe_events::outcome.eq(Outcome::Failed.as_str())),
    )
    .set((stripe_events::outcome.eq("processing"), stripe_events::attempts.eq(stripe_events::attempts + 1)))
    .execute(conn)?;
    Ok(if retaken == 1 { Claim::Process } else { Claim::Duplicate })
}

/// Records how processing ended, in the same transaction as the processing.
pub fn finish(
    conn: &mut DbConn,
    event_id: &str,
    outcome: Outcome,
    company: Option<&CompanyId>,
    now: NaiveDateTime,
) -> QueryResult<()> {
    diesel::update(stripe_events::table.filter(stripe_events::event_id.eq(event_id)))
        .set((
            stripe_events::outcome.eq(outcome.as_str()),
            stripe_events::company_id.eq(company.map(ToString::to_string)),
            stripe_events::processed_at.eq(now),
            stripe_events::error.eq(None::<String>),
        ))
        .execute(conn)
        .map(drop)
}

/// Records a failed processing, after its transaction rolled back, so it can be replayed. `company` is the
/// company the event is about as far as it could be told, so that its admins see the failure in their log.
/// The claim's count of attempts rolled back with the processing, so a repeated failure counts it here.
pub fn record_failure(
    conn: &mut DbConn,
    event: &IncomingEvent,
    company: Option<&CompanyId>,
    error: &str,
    now: NaiveDateTime,
) -> QueryResult<()> {
    diesel::sql_query(
        "INSERT INTO stripe_events (id, event_id, event_type, api_version, stripe_created, received_at, outcome, error, attempts, payload, company_id) \
         VALUES ($1, $2, $3, $4, $5, $6, 'failed', $7, 1, $8, $9) \
         ON CONFLICT (event_id) DO UPDATE SET outcome = 'failed', error = excluded.error, processed_at = NULL, \
         attempts = stripe_events.attempts + 1, company_id = COALESCE(excluded.company_id, stripe_events.company_id) \
         WHERE stripe_events.outcome NOT IN ('processed', 'ignored')",
    )
    .bind::<Text, _>(uuid::Uuid::now_v7().to_string())
    .bind::<Text, _>(&event.id)
    .bind::<Text, _>(&event.event_type)
    .bind::<Nullable<Text>, _>(&event.api_version)
    .bind::<BigInt, _>(event.created)
    .bind::<Timestamp, _>(now)
    .bind::<Text, _>(error)
    .bind::<Text, _>(&event.payload)
    .bind::<Nullable<Text>, _>(company.map(CompanyId::as_str))
    .execute(conn)
    .map(drop)
}

/// Marks a recorded event for processing again (`vigil stripe replay EVENT_ID`).
pub fn requeue(conn: &mut DbConn, event_id: &str) -> QueryResult<Option<IncomingEvent>> {
    diesel::update(stripe_events::table.filter(stripe_events::event_id.eq(event_id)))
        .set(stripe_events::outcome.eq(Outcome::Failed.as_str()))
        .execute(conn)?;
    load(conn, event_id)
}

pub fn load(conn: &mut DbConn, event_id: &str) -> QueryResult<Option<IncomingEvent>> {
    let payload: Option<String> = stripe_events::table
        .filter(stripe_events::event_id.eq(event_id))
        .select(stripe_events::payload)
        .first(conn)
        .optional()?;
    Ok(payload.and_then(|payload| IncomingEvent::parse(&payload)))
}

/// Ids of the events whose processing failed, oldest first.
pub fn failed_event_ids(conn: &mut DbConn) -> QueryResult<Vec<String>> {
    stripe_events::table
        .filter(stripe_events::outcome.eq(Outcome::Failed.as_str()))
        .order(stripe_events::stripe_created.asc())
        .select(stripe_events::event_id)
        .load(conn)
}

/// The newest Stripe `created` recorded, where catch-up starts.
pub fn newest_created(conn: &mut DbConn) -> QueryResult<Option<i64>> {
    stripe_events::table.select(diesel::dsl::max(stripe_events::stripe_created)).first(conn)
}

pub fn is_recorded(conn: &mut DbConn, event_id: &str) -> QueryResult<bool> {
    diesel::select(diesel::dsl::exists(stripe_events::table.filter(stripe_events::event_id.eq(event_id))))
        .get_result(conn)
}

/// A recorded event as admins see it.
#[derive(Debug, Serialize, ToSchema)]
pub struct StripeEvent {
    pub event_id: String,
    #[serde(rename = "type")]
    pub event_type: String,
    pub api_version: Option<String>,
    /// When Stripe created the event.
    #[schema(value_type = String, format = DateTime)]
    pub created: chrono::DateTime<chrono::Utc>,
    #[schema(value_type = String, format = DateTime)]
    pub received_at: chrono::DateTime<chrono::Utc>,
    #[schema(value_type = Option<String>, format = DateTime)]
    pub processed_at: Option<chrono::DateTime<chrono::Utc>>,
    pub outcome: Outcome,
    pub error: Option<String>,
    pub attempts: i32,
}

type EventColumns =
    (String, String, Option<String>, i64, NaiveDateTime, Option<NaiveDateTime>, String, Option<String>, i32);

impl Listed for StripeEvent {
    fn list_id(&self) -> &str {
        &self.event_id
    }
}

const EVENT_COLUMNS: (
    stripe_events::event_id,
    stripe_events::event_type,
    stripe_events::api_version,
    stripe_events::stripe_created,
    stripe_events::received_at,
    stripe_events::processed_at,
    stripe_events::outcome,
    stripe_events::error,
    stripe_events::attempts,
) = (
    stripe_events::event_id,
    stripe_events::event_type,
    stripe_events::api_version,
    stripe_events::stripe_created,
    stripe_events::received_at,
    stripe_events::processed_at,
    stripe_events::outcome,
    stripe_events::error,
    stripe_events::attempts,
);

impl From<EventColumns> for StripeEvent {
    fn from(
        (event_id, event_type, api_version, created, received_at, processed_at, outcome, error, attempts): EventColumns,
    ) -> Self {
        Self {
            event_id,
            event_type,
            api_version,
            created: chrono::DateTime::from_timestamp(created, 0).unwrap_or_default(),
            received_at: received_at.and_utc(),
            processed_at: processed_at.map(|t| t.and_utc()),
            outcome: Outcome::parse(&outcome),
            error,
            attempts,
        }
    }
}

/// The company's events, newest first.
pub fn list(conn: &mut DbConn, company: &CompanyId, list: &ListRequest) -> Result<Page<StripeEvent>, ApiError> {
    let scoped = || stripe_events::table.filter(stripe_events::company_id.eq(company.as_str())).into_boxed();
    let slice = list.slice(|id| {
        Ok(scoped().filter(stripe_events::event_id.eq(id)).select(stripe_events::received_at).first(conn).optional()?)
    })?;
    let total: Option<i64> = if slice.is_numbered() { Some(scoped().count().get_result(conn)?) } else { None };
    let rows: Vec<EventColumns> = crate::load_slice!(conn, scoped, &slice,
        order: (stripe_events::received_at.desc(), stripe_events::event_id.desc()),
        keyset: (stripe_events::received_at, stripe_events::event_id),
        select: EVENT_COLUMNS)?;
    Ok(list.page(rows.into_iter().map(StripeEvent::from).collect(), total))
}

/// One of the company's events.
pub fn find(conn: &mut DbConn, company: &CompanyId, event_id: &str) -> QueryResult<Option<StripeEvent>> {
    let row: Option<EventColumns> = stripe_events::table
        .filter(stripe_events::company_id.eq(company.as_str()))
        .filter(stripe_events::event_id.eq(event_id))
        .select(EVENT_COLUMNS)
        .first(conn)
        .optional()?;
    Ok(row.map(StripeEvent::from))
}
