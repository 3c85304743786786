//! What agents store: the object store that holds blobs, the metering of each company's stored bytes
//! against its tier (limits and alerts through `billing::usage`), signed links to blobs, and the retention sweep.

pub mod blobs;
pub mod links;
pub mod meter;
pub mod retention;
