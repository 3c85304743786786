//! The outbox worker, one per instance: claims due rows for a lease, runs each through the handler of its
//! topic, and records the outcome. Handlers are plain async functions registered by `app.rs`, so that the
//! outbox imports no domain.

use std::collections::HashMap;
use std::future::Future;
use std::pin::Pin;
use std::time::Duration;

use super::store::{self, Claimed, Outcome};
use crate::db::{self, DbPool};
use crate::error::ApiError;

/// What a handler returns: how the attempt ended.
pub type HandlerFuture = Pin<Box<dyn Future<Output = Outcome> + Send>>;
/// A handler: the pool and the claimed row in, the outcome out. It must be idempotent: a lease that lapses
/// (a crash mid-attempt) hands the row to another attempt.
pub type Handler = fn(DbPool, Claimed) -> HandlerFuture;

/// The handlers of an instance, by topic, and how it claims.
#[derive(Clone)]
pub struct Worker {
    /// Names this instance's claims (unique per process).
    pub instance: String,
    handlers: HashMap<&'static str, Handler>,
    /// How long a claim holds before another instance may take the row; longer than any handler runs.
    pub lease: Duration,
    /// Rows claimed at once.
    pub batch: i64,
}

impl Worker {
    pub fn new(lease: Duration, batch: i64) -> Self {
        Self {
            instance: format!("{}-{}", std::process::id(), uuid::Uuid::now_v7().simple()),
            handlers: HashMap::new(),
            lease,
            batch,
        }
    }

    pub fn handle(mut self, topic: &'static str, handler: Handler) -> Self {
        self.handlers.insert(topic, handler);
        self
    }

    /// Claims one batch and runs it to the end, the handlers concurrently; returns how many ran.
    pub async fn run_once(&self, pool: &DbPool) -> Result<usize, ApiError> {
        let topics: Vec<&'static str> = self.handlers.keys().copied().collect();
        if topics.is_empty() {
            return Ok(0);
        }
        let (instance, batch) = (self.instance.clone(), self.batch);
        let lease = chrono::Duration::from_std(self.lease).unwrap_or(chrono::Duration::minutes(5));
        let claimed = db::run(pool, move |conn| {
            let now = crate::db::now();
            Ok(store::claim(conn, &instance, &topics, batch, now, now + lease)?)
        })
        .await?;
        let count = claimed.len();
        let attempts = claimed.into_iter().map(|row| {
            let (pool, instance) = (pool.clone(), self.instance.clone());
            let handler = self.handlers.get(row.topic.as_str()).copied();
            async move {
                let outcome = match handler {
                    Some(handler) => handler(pool.clone(), row.clone()).await,
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
        });
        futures_util::future::join_all(attempts).await;
        Ok(count)
    }

    /// Runs batches for ever: at once while there is work, every `poll` when there is none, and after a
    /// back-off when the database fails.
    pub async fn run_forever(self, pool: DbPool, poll: Duration) {
        loop {
            match self.run_once(&pool).await {
                Ok(0) => tokio::time::sleep(poll).await,
                Ok(_) => {}
                Err(error) => {
                    log::warn!("outbox worker: {error}");
                    tokio::time::sleep(poll * 4).await;
                }
            }
        }
    }
}
