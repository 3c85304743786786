//! Vigil's integration tests: one binary, one module per domain. Every test runs against a real server
//! on a random port, once over SQLite and once over PostgreSQL.

mod helpers;

mod accounts;
mod api_keys;
mod audit;
mod foundation;
mod migrations;
mod openapi;
mod tenancy;
