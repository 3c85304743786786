//! Billing: tiers and each company's subscription.

pub mod store;
