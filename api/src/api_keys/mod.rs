//! API keys for integrators: named, scoped, shown once, stored as a hash, revocable.

pub mod model;
pub mod routes;
pub mod service;
pub mod store;
