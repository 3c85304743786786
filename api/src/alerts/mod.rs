//! Alerts: what admins must learn at once (an agent gone dark, a failed payment, a plan running out), one
//! row per recipient, raised and resolved through one service in the transaction of the change that caused
//! them, swept for by detectors that are safe on many instances, and pushed live to browsers.

pub mod hub;
pub mod model;
pub mod routes;
pub mod service;
pub mod store;
pub mod stream;
