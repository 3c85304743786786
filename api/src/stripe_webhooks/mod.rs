//! The events Stripe sends: the signed webhook endpoint, the log of what arrived and how it was processed
//! (`GET /api/v1/stripe/events`, with replay), and their processing into the billing mirror.

pub mod events;
pub mod routes;
pub mod service;
