//! Billing: tiers, each company's subscription, and the limits a tier sets (counted in [`usage`]).

pub mod card;
pub mod change_keys;
pub mod changes;
pub mod customer_changes;
pub mod customer_sync;
pub mod duplicates;
pub mod mirror;
pub mod model;
pub mod plan_change;
pub mod quote;
pub mod resync;
pub mod retention;
pub mod routes;
pub mod service;
pub mod store;
pub mod usage;
