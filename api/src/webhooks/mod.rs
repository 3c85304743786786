//! Outgoing webhooks, the Standard Webhooks way: a company's endpoints, each with a `whsec_` secret that
//! signs every delivery; deliveries from the outbox on every instance, retried on Svix's schedule, to public
//! addresses only; and a delivery log of every attempt. What is sent is [`crate::events`].

pub mod address;
pub mod delivery;
pub mod model;
pub mod routes;
pub mod service;
pub mod signing;
pub mod store;
