//! A company's events: what happened that integrators may want to know (an alert raised, an invoice paid,
//! an employee added). Each is written in the transaction of the change that caused it, with one outbox row
//! for each webhook endpoint that wants it, so that an event of a rolled-back change is never sent. The
//! events API lists the same envelopes for the last 30 days.

pub mod model;
pub mod routes;
pub mod service;
pub mod store;
