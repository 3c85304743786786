//! The live alert stream of one browser tab: Server-Sent Events, woken by the hub, resuming after
//! `Last-Event-ID`, with keep-alive comments so proxies keep it open.
//!
//! The stream walks the recipient's alerts with a keyset cursor on `(created_at, id)` that only moves
//! forward: a wake-up reads the rows after it, page by page, and nothing it has handled before.
//!
//! One thing a forward cursor alone would miss: on PostgreSQL an alert's `created_at` (and its id) is
//! taken when it is inserted, but other sessions see the row only when its transaction commits. A longer
//! transaction (or another instance whose clock runs behind) can commit an alert whose key is older than
//! rows the cursor has already passed. So the stream keeps the keys it has handled from the last
//! [`LATE_COMMIT`] (by this instance's clock) and, on each wake-up, asks the database only *how many*
//! alerts lie between that horizon and its cursor. The same number means nothing arrived late and no row is read again; a
//! different one (rare) reads that short stretch once and sends what is new in it. On SQLite, writers are
//! serialised and commit in the order they take the lock, so the check almost never finds anything; it
//! costs one indexed count.

use std::collections::BTreeSet;
use std::time::Duration;

use actix_web_lab::sse;
use prometheus::IntGauge;
use tokio::sync::mpsc;

use super::hub::{AlertHub, EVERYONE};
use super::model::{Alert, AlertKey, AlertRow};
use super::store;
use crate::db::{self, DbPool};
use crate::error::ApiError;
use crate::ids::{CompanyId, UserId};

/// How often an idle stream sends a keep-alive comment. Besides keeping proxies from timing out, this is
/// how a stream learns that its browser left: actix-web does not end a streaming response when the client
/// closes its side (HTTP/1.1 allows a half-close), so a gone client shows only as a failed write, which
/// comes on the second write after it left. At this period the task ends, and frees its database work,
/// within a second of the browser leaving; the price is a 14-byte comment per open tab every 400 ms.
const KEEP_ALIVE: Duration = Duration::from_millis(400);
/// Alerts read per query.
const BATCH: i64 = 100;
/// How long after its `created_at` an alert may still commit and be streamed: longer than any transaction
/// that raises alerts, plus the clock difference between instances. (The design before the keyset cursor
/// re-read a window of this length on every wake-up; now it is only counted.)
const LATE_COMMIT: Duration = Duration::from_secs(10);
/// The first retry after a failed read, doubled after each failure up to [`BACKOFF_CAP`].
const BACKOFF_START: Duration = Duration::from_millis(250);
const BACKOFF_CAP: Duration = Duration::from_secs(15);

/// What a stream's task needs from the application.
pub struct StreamContext {
    pub pool: DbPool,
    pub hub: AlertHub,
    /// `vigil_alert_streams_open`: raised while the stream's task runs.
    pub open_streams: IntGauge,
}

/// Opens the stream for a user, starting after `last_event_id` (a reconnecting browser) or after the newest
/// alert (a new one).
pub fn open(
    context: StreamContext,
    company: CompanyId,
    user: UserId,
    last_event_id: Option<String>,
) -> impl actix_web::Responder {
    let (sender, receiver) = mpsc::channel(16);
    let StreamContext { pool, hub, open_streams } = context;
    let watcher = sender.clone();
    tokio::spawn(async move {
        let _counted = Counted::new(open_streams);
        let stream = Stream { pool, company, user, sender };
        // Ending the task drops the senders, which ends the response: the browser sees the stream close and
        // reconnects (to another instance) after the retry duration. When the browser goes first, the
        // response drops the receiver and `closed` ends the task at once, wherever the pump is (waiting
        // for news, between pages, or backing off from a database outage), so an idle stream holds nothing.
        tokio::select! {
            () = stream.pump(hub.clone(), last_event_id) => {}
            () = hub.shutting_down() => {}
            () = watcher.closed() => {}
        }
    });
    sse::Sse::from_infallible_receiver(receiver).with_keep_alive(KEEP_ALIVE).with_retry_duration(Duration::from_secs(3))
}

/// Holds the open-streams gauge up for as long as it lives.
struct Counted(IntGauge);

impl Counted {
    fn new(gauge: IntGauge) -> Self {
        gauge.inc();
        Self(gauge)
    }
}

impl Drop for Counted {
    fn drop(&mut self) {
        self.0.dec();
    }
}

/// The browser went away.
struct Closed;

/// Why a round of reading stopped early.
enum Stop {
    Closed,
    Database,
}

impl From<ApiError> for Stop {
    fn from(_: ApiError) -> Self {
        Self::Database
    }
}

/// One recipient's stream.
struct Stream {
    pool: DbPool,
    company: CompanyId,
    user: UserId,
    sender: mpsc::Sender<sse::Event>,
}

/// Where a stream stands.
struct Cursor {
    /// The newest alert handled (sent, or already had by the client): everything read after it is new.
    head: AlertKey,
    /// The keys handled, at or before `head`, created within [`LATE_COMMIT`]: what the late check counts
    /// against. Older keys are forgotten, so this is at most one short window's worth.
    recent: BTreeSet<AlertKey>,
}

impl Stream {
    async fn pump(self, hub: AlertHub, last_event_id: Option<String>) {
        // Subscribed before the starting point is read, so nothing raised in between goes unnoticed.
        let mut wakes = hub.subscribe();
        let mut backoff = Backoff::default();
        let mut cursor = loop {
            match self.start(last_event_id.as_deref()).await {
                Ok(cursor) => break cursor,
                Err(_) => tokio::time::sleep(backoff.next_delay()).await,
            }
        };
        if self.sender.send(sse::Event::Comment("connected".into())).await.is_err() {
            return;
        }
        loop {
            match self.catch_up(&mut cursor).await {
                Ok(()) => backoff = Backoff::default(),
                Err(Stop::Closed) => return,
                // The database is busy or away: try again after a growing pause rather than wait for the
                // next wake-up (which may never come) or hammer it.
                Err(Stop::Database) => {
                    tokio::time::sleep(backoff.next_delay()).await;
                    continue;
                }
            }
            // Wait for news of this company (or for everyone).
            loop {
                match wakes.recv().await {
                    Ok(payload) if payload == self.company.as_str() || payload == EVERYONE => break,
                    Ok(_) => {}
                    // Missed some wake-ups: look anyway.
                    Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => break,
                    Err(tokio::sync::broadcast::error::RecvError::Closed) => return,
                }
            }
        }
    }

    /// The cursor of a new stream: after `last_event_id` when it is one of the user's alerts, else after
    /// the newest. A reconnecting client has everything up to its last event, so the recent keys up to
    /// there count as handled (read once, at connect).
    async fn start(&self, last_event_id: Option<&str>) -> Result<Cursor, ApiError> {
        let (company, user, resume) = (self.company.clone(), self.user.clone(), last_event_id.map(str::to_owned));
        let head = db::run(&self.pool, move |conn| {
            let resumed = match resume {
                Some(id) => store::key_of(conn, &company, &user, &id)?,
                None => None,
            };
            Ok(match resumed {
                Some(key) => Some(key),
                None => store::newest_key(conn, &company, &user)?,
            })
        })
        .await?;
        let Some(head) = head else {
            // Before any alert (the epoch, not `NaiveDateTime::MIN`, which PostgreSQL's timestamp cannot hold).
            let origin = chrono::DateTime::UNIX_EPOCH.naive_utc();
            return Ok(Cursor { head: AlertKey::at(origin), recent: BTreeSet::new() });
        };
        let recent = self.read_between(horizon(), &head).await?.iter().map(AlertKey::of).collect();
        Ok(Cursor { head, recent })
    }

    /// One wake-up: alerts that committed late behind the cursor, then everything after it.
    async fn catch_up(&self, cursor: &mut Cursor) -> Result<(), Stop> {
        let horizon = horizon();
        cursor.recent = cursor.recent.split_off(&horizon);
        let (company, user, from, upto) =
            (self.company.clone(), self.user.clone(), horizon.clone(), cursor.head.clone());
        // A user disabled or removed since the stream opened ends it (their disabling wakes the company's
        // streams, and the count says so).
        let behind = db::run(&self.pool, move |conn| Ok(store::count_between(conn, &company, &user, &from, &upto)?));
        let Some(behind) = behind.await? else { return Err(Stop::Closed) };
        if usize::try_from(behind).ok() != Some(cursor.recent.len()) {
            let rows = self.read_between(horizon, &cursor.head).await?;
            let mut seen = BTreeSet::new();
            for row in rows {
                let key = AlertKey::of(&row);
                if !cursor.recent.contains(&key) {
                    // The event id is the stream's position, not this older alert's id, so that a browser
                    // reconnecting after it resumes where the stream is.
                    let position = cursor.head.id.clone();
                    self.send(row, position).await.map_err(|Closed| Stop::Closed)?;
                }
                seen.insert(key);
            }
            // What the database holds now (alerts deleted meanwhile drop out too).
            cursor.recent = seen;
        }
        loop {
            let rows = self.page(cursor.head.clone(), None).await?;
            let full = rows.len() as i64 == BATCH;
            for row in rows {
                let key = AlertKey::of(&row);
                self.send(row, key.id.clone()).await.map_err(|Closed| Stop::Closed)?;
                cursor.head.clone_from(&key);
                cursor.recent.insert(key);
            }
            if !full {
                return Ok(());
            }
        }
    }

    /// The alerts after `from` and at or before `upto`, every page of them (one short window).
    async fn read_between(&self, mut from: AlertKey, upto: &AlertKey) -> Result<Vec<AlertRow>, ApiError> {
        let mut rows = Vec::new();
        loop {
            let page = self.page(from.clone(), Some(upto.clone())).await?;
            let full = page.len() as i64 == BATCH;
            if let Some(last) = page.last() {
                from = AlertKey::of(last);
            }
            rows.extend(page);
            if !full {
                return Ok(rows);
            }
        }
    }

    async fn page(&self, after: AlertKey, upto: Option<AlertKey>) -> Result<Vec<AlertRow>, ApiError> {
        let (company, user) = (self.company.clone(), self.user.clone());
        db::run(&self.pool, move |conn| Ok(store::stream_page(conn, &company, &user, &after, upto.as_ref(), BATCH)?))
            .await
    }

    async fn send(&self, row: AlertRow, event_id: String) -> Result<(), Closed> {
        let Ok(data) = sse::Data::new_json(Alert::from(row)) else { return Ok(()) };
        self.sender.send(sse::Event::Data(data.id(event_id).event("alert"))).await.map_err(|_| Closed)
    }
}

/// The oldest position an alert can still commit at: [`LATE_COMMIT`] before now. A cursor that has been
/// idle for longer has nothing behind it left to watch (the horizon passes it), so an idle stream's check
/// counts an empty range.
fn horizon() -> AlertKey {
    let now = db::now();
    AlertKey::at(now.checked_sub_signed(chrono::Duration::from_std(LATE_COMMIT).unwrap_or_default()).unwrap_or(now))
}

/// Pauses between retries while the database is away: doubling from [`BACKOFF_START`] to [`BACKOFF_CAP`],
/// each drawn from its upper half so that the streams of an instance do not all retry in step.
struct Backoff {
    ceiling: Duration,
}

impl Default for Backoff {
    fn default() -> Self {
        Self { ceiling: BACKOFF_START }
    }
}

impl Backoff {
    fn next_delay(&mut self) -> Duration {
        let ceiling = self.ceiling;
        self.ceiling = (ceiling * 2).min(BACKOFF_CAP);
        ceiling.mul_f64(rand::random_range(0.5..=1.0))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retries_back_off_doubling_up_to_the_cap() {
        let mut backoff = Backoff::default();
        let ceilings: Vec<Duration> = (0..9)
            .map(|_| {
                let before = backoff.ceiling;
                let delay = backoff.next_delay();
                assert!(delay >= before / 2 && delay <= before, "{delay:?} within the upper half of {before:?}");
                before
            })
            .collect();
        let millis: Vec<u128> = ceilings.iter().map(Duration::as_millis).collect();
        assert_eq!(millis, [250, 500, 1000, 2000, 4000, 8000, 15000, 15000, 15000]);
    }

    #[test]
    fn the_horizon_lies_the_late_commit_window_behind_now() {
        let before = db::now();
        let horizon = horizon();
        let late = chrono::Duration::from_std(LATE_COMMIT).unwrap_or_default();
        assert!(horizon.created_at >= before - late && horizon.created_at <= db::now() - late);
        assert!(
            horizon < AlertKey { created_at: horizon.created_at, id: "0".into() },
            "before every alert of that instant"
        );
    }
}
