//! The outbox table: enqueue, claim, and record how an attempt ended.

use chrono::NaiveDateTime;
use diesel::prelude::*;
use diesel::sql_types::{Text, Timestamp};

use crate::db::schema::outbox_messages;
use crate::db::{DbConn, write_transaction};
use crate::ids::CompanyId;

/// Work to enqueue.
#[derive(Debug, Clone)]
pub struct NewMessage {
    pub company: CompanyId,
    /// What kind of work, and so which handler does it (`webhook.deliver`, `notify.email`, …).
    pub topic: &'static str,
    /// Makes the same work enqueued twice one row (an event id; an alert, a recipient and a channel).
    pub dedup_key: String,
    /// The handler's input, JSON.
    pub payload: serde_json::Value,
    /// Not before (a delay, such as an alert's wait before it leaves the app).
    pub available_at: NaiveDateTime,
}

/// A row claimed for one attempt.
#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = outbox_messages)]
pub struct Claimed {
    pub id: String,
    pub company_id: String,
    pub topic: String,
    pub dedup_key: String,
    pub payload: String,
    pub created_at: NaiveDateTime,
    /// Including this one.
    pub attempts: i32,
}

/// Enqueues `message` in the caller's transaction; returns whether it is new (false: the same work is
/// already there, done or not).
pub fn enqueue(conn: &mut DbConn, message: &NewMessage) -> QueryResult<bool> {
    let inserted = diesel::sql_query(
        "INSERT INTO outbox_messages (id, company_id, topic, dedup_key, payload, created_at, available_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT (company_id, topic, dedup_key) DO NOTHING",
    )
    .bind::<Text, _>(uuid::Uuid::now_v7().to_string())
    .bind::<Text, _>(message.company.as_str())
    .bind::<Text, _>(message.topic)
    .bind::<Text, _>(&message.dedup_key)
    .bind::<Text, _>(message.payload.to_string())
    .bind::<Timestamp, _>(crate::db::now())
    .bind::<Timestamp, _>(message.available_at)
    .execute(conn)?;
    Ok(inserted == 1)
}

/// Claims up to `limit` due rows of `topics` for `instance` until `lease_until`: rows neither done nor given
/// up, available by `now`, and not under another live lease. Each row goes to one claimer: on PostgreSQL the
/// rows are locked and those another transaction holds are skipped (`FOR UPDATE SKIP LOCKED`); SQLite has
/// one writer at a time (`BEGIN IMMEDIATE`).
pub fn claim(
    conn: &mut DbConn,
    instance: &str,
    topics: &[&str],
    limit: i64,
    now: NaiveDateTime,
    lease_until: NaiveDateTime,
) -> QueryResult<Vec<Claimed>> {
    claim_fairly(conn, instance, topics, limit, None, now, lease_until)
}

/// The advisory lock that serialises fair claims on PostgreSQL (an arbitrary constant of Vigil's).
const FAIR_CLAIM_LOCK: i64 = 0x7669_6769_6c00_0001;

/// [`claim`], with at most `per_company` rows of one company in flight at once (across instances): one
/// company's backlog (a slow endpoint, a recovery of a thousand events) then cannot fill every slot while
/// other companies' work waits.
pub fn claim_fairly(
    conn: &mut DbConn,
    instance: &str,
    topics: &[&str],
    limit: i64,
    per_company: Option<i64>,
    now: NaiveDateTime,
    lease_until: NaiveDateTime,
) -> QueryResult<Vec<Claimed>> {
    use outbox_messages::dsl as m;
    // An idle poll is one indexed read: no write transaction (on SQLite, the one writer's lock) and no
    // advisory lock unless there is something to claim.
    let anything_due = diesel::select(diesel::dsl::exists(
        m::outbox_messages
            .filter(m::done_at.is_null())
            .filter(m::failed_at.is_null())
            .filter(m::available_at.le(now))
            .filter(m::claimed_until.is_null().or(m::claimed_until.lt(now)))
            .filter(m::topic.eq_any(topics)),
    ))
    .get_result::<bool>(conn)?;
    if !anything_due {
        return Ok(Vec::new());
    }
    write_transaction(conn, |conn| {
        // What each company has in flight, and so which are at their share. On PostgreSQL the claims of all
        // instances are serialised for this (briefly: a claim is two short statements), or each would count
        // only what the others had committed; SQLite's one writer serialises them already.
        let in_flight: std::collections::HashMap<String, i64> = match per_company {
            None => std::collections::HashMap::new(),
            Some(_) => {
                if let DbConn::Pg(_) = conn {
                    diesel::sql_query("SELECT pg_advisory_xact_lock($1)")
                        .bind::<diesel::sql_types::BigInt, _>(FAIR_CLAIM_LOCK)
                        .execute(conn)?;
                }
                m::outbox_messages
                    .filter(m::done_at.is_null())
                    .filter(m::failed_at.is_null())
                    .filter(m::claimed_until.ge(now))
                    .filter(m::topic.eq_any(topics))
                    .group_by(m::company_id)
                    .select((m::company_id, diesel::dsl::count_star()))
                    .load::<(String, i64)>(conn)?
                    .into_iter()
                    .collect()
            }
        };
        let cap = per_company.unwrap_or(i64::MAX);
        let saturated: Vec<&String> =
            in_flight.iter().filter(|(_, running)| **running >= cap).map(|(company, _)| company).collect();
        // More candidates than wanted, so that rows of other companies are among them.
        let candidates = if per_company.is_some() { limit.saturating_mul(4) } else { limit };
        let due = m::outbox_messages
            .filter(m::done_at.is_null())
            .filter(m::failed_at.is_null())
            .filter(m::available_at.le(now))
            .filter(m::claimed_until.is_null().or(m::claimed_until.lt(now)))
            .filter(m::topic.eq_any(topics))
            .filter(m::company_id.ne_all(saturated))
            .order((m::available_at, m::id))
            .limit(candidates)
            .select((m::id, m::company_id));
        let due: Vec<(String, String)> = match conn {
            DbConn::Pg(pg) => due.for_update().skip_locked().load(pg)?,
            DbConn::Sqlite(sqlite) => due.load(sqlite)?,
        };
        let mut running = in_flight.clone();
        let ids: Vec<String> = due
            .into_iter()
            .filter(|(_, company)| {
                let running = running.entry(company.clone()).or_insert(0);
                *running += 1;
                *running <= cap
            })
            .map(|(id, _)| id)
            .take(usize::try_from(limit).unwrap_or(0))
            .collect();
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        diesel::update(m::outbox_messages.filter(m::id.eq_any(&ids)))
            .set((m::claimed_by.eq(instance), m::claimed_until.eq(lease_until), m::attempts.eq(m::attempts + 1)))
            .execute(conn)?;
        m::outbox_messages
            .filter(m::id.eq_any(&ids))
            .order((m::available_at, m::id))
            .select(Claimed::as_select())
            .load(conn)
    })
}

/// How an attempt ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    Done,
    /// Try again at that time (a transient failure), noting why.
    RetryAt(NaiveDateTime, String),
    /// Stop trying (a permanent failure, or the retries ran out), noting why.
    GiveUp(String),
}

/// Records how the attempt `claimed` by `instance` ended, and releases the lease. Returns false when the
/// lease was lost meanwhile (it lapsed and another instance claimed the row): that one's outcome counts.
pub fn finish(conn: &mut DbConn, instance: &str, claimed: &Claimed, outcome: &Outcome) -> QueryResult<bool> {
    use outbox_messages::dsl as m;
    let now = crate::db::now();
    let mine = m::outbox_messages
        .filter(m::id.eq(&claimed.id))
        .filter(m::claimed_by.eq(instance))
        .filter(m::attempts.eq(claimed.attempts))
        .filter(m::done_at.is_null())
        .filter(m::failed_at.is_null());
    let release = (m::claimed_by.eq(None::<String>), m::claimed_until.eq(None::<NaiveDateTime>));
    let updated = match outcome {
        Outcome::Done => diesel::update(mine).set((release, m::done_at.eq(now))).execute(conn)?,
        Outcome::RetryAt(at, error) => {
            diesel::update(mine).set((release, m::available_at.eq(at), m::last_error.eq(error))).execute(conn)?
        }
        Outcome::GiveUp(error) => {
            diesel::update(mine).set((release, m::failed_at.eq(now), m::last_error.eq(error))).execute(conn)?
        }
    };
    Ok(updated == 1)
}

/// Forgets up to `limit` rows done or given up before `before` (the delivery log keeps its own record).
pub fn forget_finished(conn: &mut DbConn, before: NaiveDateTime, limit: i64) -> QueryResult<usize> {
    use outbox_messages::dsl as m;
    // Each of the two partial indexes serves its own half.
    let mut finished: Vec<String> =
        m::outbox_messages.filter(m::done_at.lt(before)).select(m::id).limit(limit).load(conn)?;
    finished
        .extend(m::outbox_messages.filter(m::failed_at.lt(before)).select(m::id).limit(limit).load::<String>(conn)?);
    diesel::delete(m::outbox_messages.filter(m::id.eq_any(&finished))).execute(conn)
}
