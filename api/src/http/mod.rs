//! HTTP plumbing shared by every route: stamping the request id (kept in `crate::request_id`, which the
//! database and error layers read too), metrics and access logs, JSON extraction with validation, the
//! `Principal` extractor, and the problem+json fallback for errors raised outside our handlers.

pub mod bounds;
pub mod catch_panic;
pub mod conditional;
pub mod extract;
pub mod headers;
pub mod idempotency;
pub mod metrics;
pub mod observe;
pub mod pagination;
pub mod precondition;
pub mod principal;
pub mod rate_limit;
pub mod routes_table;
pub mod validation;
