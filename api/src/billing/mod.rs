//! Billing: tiers, each company's subscription, and the limits a tier sets.

pub mod model;
pub mod routes;
pub mod service;
pub mod store;
