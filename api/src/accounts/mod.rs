//! Who is who: companies, users and roles, sessions (JWT access tokens and rotating refresh tokens), and
//! API keys for integrators.

pub mod model;
pub mod password;
pub mod routes;
pub mod service;
pub mod store;
pub mod throttle;
