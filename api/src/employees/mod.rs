//! Employees: the people a company monitors. The number of ACTIVE employees is what tiers limit.

pub mod model;
pub mod routes;
pub mod service;
pub mod store;
