//! Roomsync's platform-free core, compiled both by the Durable Object worker and by the
//! browser client.
//!
//! Nothing here opens a socket, reads a clock or draws random numbers: time and entropy come
//! in as arguments, storage comes in through the [`storage::Sql`] trait, and outputs are
//! values ([`room::Outgoing`]) that a thin platform driver delivers. That keeps every rule
//! testable natively, in milliseconds.
//!
//! No application lives here: an app (a schema and a registry of functions) is a value the
//! host hands to [`Room::open_with`]. The reference NGO app is the `roomsync-ngo-app` crate.

// The reference app's sources name this crate `roomsync_shared`; the engine's own unit tests
// compile those sources in (below), where the name must resolve to this crate itself.
extern crate self as roomsync_shared;

/// The reference app, compiled into the engine's unit tests only. A dev-dependency on
/// `roomsync-ngo-app` would not do: it links its own copy of this crate, whose types are not
/// the ones the unit tests see. Nothing outside `cfg(test)` names it.
#[cfg(test)]
#[path = "../ngo-app/src/lib.rs"]
#[allow(dead_code)] // the app's codegen helpers: the engine's tests do not call them
mod app;

pub mod auth;
pub mod backoff;
pub mod client;
pub mod diff;
pub mod endpoint;
pub mod engine;
pub mod environment;
pub mod heartbeat;
pub mod ids;
pub mod index_key;
pub mod lifecycle;
pub mod memory_sql;
pub mod number_text;
pub mod optimistic;
pub mod protocol;
pub mod room;
pub mod schema;
#[cfg(any(test, feature = "native"))]
pub mod sqlite;
pub mod storage;
pub mod text;
pub mod typescript;
pub mod validation;
pub mod validator;
pub mod value;

pub use environment::Environment;
pub use ids::{ConnId, DocumentId};
pub use protocol::{ClientMessage, ErrorCode, QueryId, RequestId, ServerMessage, StateVersion, Ts};
pub use room::{Outgoing, Room, RoomInput};
pub use storage::{Sql, SqlValue, StorageError};
pub use validation::ValidationError;

/// The wire protocol version spoken by this build; a client and a room must agree on it.
pub const PROTOCOL_VERSION: u32 = 1;
