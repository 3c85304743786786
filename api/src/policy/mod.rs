//! The server-driven agent policy: one per company, versioned, gated by the tier's features.

pub mod model;
pub mod routes;
pub mod service;
pub mod store;
