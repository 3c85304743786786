//! Operations endpoints: liveness, readiness and metrics.

pub mod routes;
