//! Vigil's server: billing and real-time alerts for an employee-monitoring SaaS.
//!
//! Start at [`app`]: it registers every route; each domain lives in its own module.

pub mod accounts;
pub mod activity;
pub mod agents;
pub mod alerts;
pub mod api_keys;
pub mod app;
pub mod audit;
pub mod auth;
pub mod billing;
pub mod companies;
pub mod config;
pub mod crypto;
pub mod db;
pub mod demo;
pub mod employees;
pub mod error;
pub mod events;
pub mod http;
pub mod ids;
pub mod logging;
pub mod money;
pub mod openapi;
pub mod ops;
pub mod outbox;
pub mod plans;
pub mod policy;
pub mod request_id;
pub mod screenshots;
pub mod storage;
pub mod stripe;
pub mod stripe_webhooks;
pub mod sweeps;
pub mod web_app;
pub mod webhooks;

pub use app::Application;
pub use config::Config;
