//! Activity that agents record (applications, window titles, sites; active or idle spans), uploaded in
//! batches, stored once per agent-generated id, metered, and read back as an employee's day.

pub mod model;
pub mod routes;
pub mod service;
pub mod store;
