//! Desktop agents: enrollment with tokens, the heartbeat (the hottest path in the system), and the admin
//! view of agents with their ONLINE/OFFLINE status.

pub mod model;
pub mod routes;
pub mod service;
pub mod store;
