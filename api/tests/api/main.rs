//! Vigil's integration tests: one binary, one module per domain. Every test runs against a real server
//! on a random port, once over SQLite and once over PostgreSQL.

#![expect(clippy::expect_used, reason = "a failed expectation in the harness is a failed test, with its message")]

mod helpers;

mod accounts;
mod agent_data;
mod agents;
mod alerts;
mod api_keys;
mod architecture;
mod audit;
mod billing;
mod card_on_file;
mod conditional_requests;
mod credentials;
mod cursor_pages;
mod customer_sync;
mod demo;
mod downgrades;
mod employees;
mod faults;
mod foundation;
mod idempotency;
mod migrations;
mod one_subscription;
mod openapi;
mod operations;
mod outage;
mod outbox;
mod outgoing_webhooks;
mod plan_changes;
mod plan_upgrades;
mod policy;
mod preconditions;
mod rate_limit;
mod receiver;
mod running_totals;
mod stripe_fake;
mod tenancy;
mod web_app;
mod webhook_order;
mod webhooks;
