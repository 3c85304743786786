//! Vigil's integration tests: one binary, one module per domain. Every test runs against a real server
//! on a random port, once over SQLite and once over PostgreSQL.

// A failed expectation in the harness is a failed test; panicking with a message is the point.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod helpers;

mod accounts;
mod agents;
mod api_keys;
mod audit;
mod employees;
mod foundation;
mod migrations;
mod openapi;
mod policy;
mod tenancy;
