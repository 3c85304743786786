//! The audit log: an append-only record of every state change, who made it, from where, and why.

pub mod model;
pub mod routes;
pub mod store;

pub use store::record;
