//! The transactional outbox: work that must happen outside the database because of a change in it (an
//! outgoing webhook, a notification, a call to Stripe), written as a row in the transaction of that change.
//! A change that rolls back leaves nothing to send; one that commits is sent at least once, even across a
//! crash, by whichever instance claims the row. Our own diesel tables, on both backends: the job-queue crates
//! that serve both need sqlx, a second database stack.
//!
//! - [`store::enqueue`] in the caller's transaction; the same `(company, topic, dedup_key)` twice is one row.
//! - [`worker`] on every instance claims due rows (`FOR UPDATE SKIP LOCKED` on PostgreSQL, one
//!   `BEGIN IMMEDIATE` writer on SQLite) for a lease, hands each to the handler of its topic, and records
//!   the outcome: done, again at a later time, or given up. A lease that lapses (the instance died) makes
//!   the row due again, so handlers must be idempotent (an outgoing webhook keeps its `webhook-id`).
//!
//! The outbox imports no domain: handlers are registered by `app.rs`.

pub mod store;
pub mod worker;
