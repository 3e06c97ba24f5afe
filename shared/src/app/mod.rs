//! The reference application: the NGO admin panel Roomsync is built for.

pub mod functions;
pub mod schema;
