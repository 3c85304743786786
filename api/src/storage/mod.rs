//! What agents store: the object store that holds blobs, the metering of each company's stored bytes
//! against its tier (limits and alerts through `billing::usage`) and signed links to blobs (the
//! retention sweep that deletes them is `sweeps::retention`).

pub mod blobs;
pub mod links;
pub mod meter;
