//! The work every instance runs on a timer, above the domains it spans: the alert detectors (agents gone
//! silent, subscriptions about to end, grace periods that ended) and the retention sweep that deletes what the
//! plan no longer keeps. Each is safe when several instances run it at once (see each module). They sit here,
//! not in `alerts` or `storage`, because they read billing, the policy, activity and screenshots, and those
//! domains raise alerts and store blobs: inside either folder they would close a cycle.

pub mod alerts;
pub mod retention;
