//! The outbox worker, one per instance: claims due rows for a lease, runs each through the handler of its
//! topic, and records the outcome. Handlers are plain async functions registered by `app.rs`, so that the
//! outbox imports no domain.

use std::collections::HashMap;
use std::future::Future;
use std::panic::AssertUnwindSafe;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use futures_util::FutureExt;

use super::store::{self, Claimed, Outcome};
use crate::db::{self, DbPool};
use crate::error::ApiError;

/// What a handler returns: how the attempt ended.
pub type HandlerFuture = Pin<Box<dyn Future<Output = Outcome> + Send>>;
/// A handler: the pool and the claimed row in, the outcome out. It may hold state (an HTTP client, its
/// settings). It must be idempotent: a lease that lapses (a crash mid-attempt) hands the row to another
/// attempt.
pub type Handler = Arc<dyn Fn(DbPool, Claimed) -> HandlerFuture + Send + Sync>;

/// Attempts after which a row is given up without running it again: attempts that never end (a crash, a
/// lapsed lease) would otherwise repeat for ever.
const MAX_ATTEMPTS: i32 = 20;

/// The least wait before a retry, so that a handler answering "again now" cannot spin the worker.
const MIN_RETRY_SECS: i64 = 1;

/// The handlers of an instance, by topic, and how it claims.
#[derive(Clone)]
pub struct Worker {
    /// Names this instance's claims (unique per process).
    pub instance: String,
    handlers: HashMap<&'static str, Handler>,
    /// How long a claim holds before another instance may take the row; longer than any handler runs.
    pub lease: Duration,
    /// Rows claimed at once, and the most `run_forever` runs at once.
    pub batch: i64,
    /// The most rows of one company in flight at once, across instances.
    pub per_company: i64,
}

impl Worker {
    pub fn new(lease: Duration, batch: i64) -> Self {
        Self {
            instance: format!("{}-{}", std::process::id(), uuid::Uuid::now_v7().simple()),
            handlers: HashMap::new(),
            lease,
            batch,
            // A quarter of the slots, at least one: a company's backlog leaves the rest to the others.
            per_company: (batch / 4).max(1),
        }
    }

    /// At most `n` rows of one company in flight at once (default: a quarter of the batch).
    pub fn per_company(mut self, n: i64) -> Self {
        self.per_company = n.max(1);
        self
    }

    pub fn handle(
        mut self,
        topic: &'static str,
        handler: impl Fn(DbPool, Claimed) -> HandlerFuture + Send + Sync + 'static,
    ) -> Self {
        self.handlers.insert(topic, Arc::new(handler));
        self
    }

    /// Claims one batch and runs it to the end, the handlers concurrently; returns how many ran.
    pub async fn run_once(&self, pool: &DbPool) -> Result<usize, ApiError> {
        let claimed = self.claim(pool, self.batch).await?;
        let count = claimed.len();
        futures_util::future::join_all(claimed.into_iter().map(|row| self.run_claimed(pool.clone(), row))).await;
        Ok(count)
    }

    /// Claims up to `limit` due rows of this worker's topics.
    async fn claim(&self, pool: &DbPool, limit: i64) -> Result<Vec<Claimed>, ApiError> {
        let topics: Vec<&'static str> = self.handlers.keys().copied().collect();
        if topics.is_empty() || limit == 0 {
            return Ok(Vec::new());
        }
        let (instance, per_company) = (self.instance.clone(), self.per_company);
        let lease = chrono::Duration::from_std(self.lease).unwrap_or(chrono::Duration::minutes(5));
        db::run(pool, move |conn| {
            let now = crate::db::now();
            Ok(store::claim_fairly(conn, &instance, &topics, limit, Some(per_company), now, now + lease)?)
        })
        .await
    }

    /// Runs one claimed row through its handler and records the outcome.
    async fn run_claimed(&self, pool: DbPool, row: Claimed) {
        // A handler may take at most most of the lease: past it, another instance may run the row too.
        let deadline = self.lease.mul_f64(0.8);
        let instance = self.instance.clone();
        let outcome = match self.handlers.get(row.topic.as_str()).cloned() {
            _ if row.attempts > MAX_ATTEMPTS => {
                Outcome::GiveUp(format!("gave up after {MAX_ATTEMPTS} attempts that did not end"))
            }
            Some(handler) => attempt(&handler, pool.clone(), row.clone(), deadline).await,
            None => Outcome::GiveUp(format!("no handler for topic {}", row.topic)),
        };
        let recorded = db::run(&pool, move |conn| Ok(store::finish(conn, &instance, &row, &outcome)?)).await;
        match recorded {
            Ok(true) => {}
            Ok(false) => log::warn!("an outbox lease lapsed before its attempt ended; the later one counts"),
            Err(error) => {
                log::warn!("could not record an outbox attempt (the lease lapses, and it runs again): {error}")
            }
        }
    }

    /// The topics this worker handles.
    pub fn topics(&self) -> Vec<&'static str> {
        self.handlers.keys().copied().collect()
    }

    /// Runs rows until `shutdown` turns true (or its sender goes), up to `batch` at once: a slot that frees
    /// is filled by the next claim, so one slow row (an endpoint that answers only at its timeout) holds up
    /// its own slot and no other. Claims again at once while there is work, every `poll` when there is none,
    /// and after a back-off when the database fails. On shutdown it claims nothing more and returns once the
    /// rows in flight have ended.
    pub async fn run_forever(self, pool: DbPool, poll: Duration, mut shutdown: tokio::sync::watch::Receiver<bool>) {
        let worker = Arc::new(self);
        let slots_total = u32::try_from(worker.batch).unwrap_or(1).max(1);
        let slots = Arc::new(tokio::sync::Semaphore::new(slots_total as usize));
        while !*shutdown.borrow() {
            // Wait for one free slot, then claim as many rows as there are free slots.
            tokio::select! {
                permit = slots.clone().acquire_owned() => drop(permit),
                _ = shutdown.changed() => break,
            }
            let free = i64::try_from(slots.available_permits()).unwrap_or(1);
            let pause = match worker.claim(&pool, free).await {
                Ok(rows) if rows.is_empty() => Some(poll),
                Ok(rows) => {
                    for row in rows {
                        let Ok(permit) = slots.clone().acquire_owned().await else { return };
                        let (worker, pool) = (worker.clone(), pool.clone());
                        tokio::spawn(async move {
                            worker.run_claimed(pool, row).await;
                            drop(permit);
                        });
                    }
                    None
                }
                Err(error) => {
                    log::warn!("outbox worker: {error}");
                    Some(poll * 4)
                }
            };
            if let Some(pause) = pause {
                tokio::select! {
                    () = tokio::time::sleep(pause) => {}
                    _ = shutdown.changed() => break,
                }
            }
        }
        // Every slot free again: whatever was in flight has ended and been recorded.
        drop(slots.acquire_many(slots_total).await);
    }
}

/// One run of a handler: a panic is a retry, not the end of the worker, and so is a run past `deadline`.
async fn attempt(handler: &Handler, pool: DbPool, row: Claimed, deadline: Duration) -> Outcome {
    let retry = |why: String| Outcome::RetryAt(crate::db::now() + chrono::Duration::seconds(30), why);
    let run = AssertUnwindSafe(handler(pool, row)).catch_unwind();
    match tokio::time::timeout(deadline, run).await {
        Ok(Ok(Outcome::RetryAt(at, why))) => {
            Outcome::RetryAt(at.max(crate::db::now() + chrono::Duration::seconds(MIN_RETRY_SECS)), why)
        }
        Ok(Ok(outcome)) => outcome,
        Ok(Err(_)) => retry("the handler panicked".to_owned()),
        Err(_) => retry(format!("the handler ran past {} s", deadline.as_secs())),
    }
}
