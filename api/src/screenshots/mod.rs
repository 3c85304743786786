//! Screenshots that agents take: uploaded as multipart, the image in the object store and its metadata in
//! the database, metered, and shown to supervisors through short-lived signed links.

pub mod model;
pub mod routes;
pub mod service;
pub mod store;
