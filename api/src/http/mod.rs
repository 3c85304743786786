//! HTTP plumbing shared by every route: request ids, metrics and access logs, JSON extraction with
//! validation, and the problem+json fallback for errors raised outside our handlers.

pub mod extract;
pub mod headers;
pub mod metrics;
pub mod observe;
pub mod pagination;
pub mod precondition;
pub mod principal;
pub mod rate_limit;
pub mod request_id;
pub mod routes_table;
pub mod validation;
