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
//! - A handler runs under a deadline inside the lease; a panic or an overrun is a retry, and a row whose
//!   attempts never end is given up after a bound.
//! - Leases are compared with each instance's clock: instances keep their clocks in sync (NTP), as they must
//!   for tokens and Stripe signatures anyway.
//! - A row is deduplicated while it is kept; `store::forget_finished` ends that for old rows.
//!
//! The outbox imports no domain: handlers are registered by whoever starts the worker (`app.rs`).

pub mod store;
pub mod worker;
