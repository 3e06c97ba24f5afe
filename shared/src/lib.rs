//! Roomsync's platform-free core, compiled both by the Durable Object worker and by the
//! browser client.
//!
//! Nothing here opens a socket, reads a clock or draws random numbers: time and entropy come
//! in as arguments, storage comes in through the [`storage::Sql`] trait, and outputs are
//! values ([`room::Outgoing`]) that a thin platform driver delivers. That keeps every rule
//! testable natively, in milliseconds.
//!
//! No application lives here: an app (its roles, a schema and a registry of functions) is a
//! value ([`App`]) the host hands to [`Room::open`]. The reference NGO app is the
//! `roomsync-ngo-app` crate; `tests/todo-app` is a second one. `ARCHITECTURE.md` walks the
//! layers below.

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

// The layers, bottom up; each names only the ones above it in this list.

/// Tokens: signing and verifying who a caller is (over `model`'s roles).
pub mod auth;
/// The client's sans-IO core: subscriptions, outbox, lifecycle, heartbeat, backoff.
pub mod client;
/// The reactive engine: transactions, queries, search, functions, the app as a value.
pub mod engine;
/// Values, validators, schemas, roles and access rules, ids, index keys.
pub mod model;
/// Optimistic predictions: an app's own mutation run on the results a client holds.
pub mod optimistic;
/// The wire: frames, error codes, result diffs, endpoint names (over `model`).
pub mod protocol;
/// One room: connections, subscriptions, mutations, fan-out, limits (over `engine`).
pub mod room;
/// The storage seam (`Sql`), with SQLite and in-memory implementations.
pub mod storage;

pub use engine::{App, Environment};
pub use model::ids::{ConnId, DocumentId};
pub use model::validation::ValidationError;
pub use protocol::{ClientMessage, ErrorCode, QueryId, RequestId, ServerMessage, StateVersion, Ts};
pub use room::{Outgoing, Room, RoomInput};
pub use storage::{Sql, SqlValue, StorageError};

/// The wire protocol version spoken by this build; a client and a room must agree on it.
/// 2: result hashes are over the canonical text both sides compute (`protocol::hash`), which
/// version-1 rooms do not send — a new client checking them would resync on every diff.
pub const PROTOCOL_VERSION: u32 = 2;

#[cfg(test)]
mod layering {
    /// The layers bottom up, as `lib.rs` lists them: each may name only those before it.
    const LAYERS: [&str; 8] = ["model", "auth", "protocol", "storage", "engine", "room", "client", "optimistic"];

    /// Which layer's modules a source file uses (`crate::layer::…`), outside its tests.
    fn uses(text: &str) -> Vec<&'static str> {
        let code = text.split("#[cfg(test)]").next().unwrap_or_default();
        LAYERS.into_iter().filter(|layer| code.contains(&format!("crate::{layer}::"))).collect()
    }

    #[test]
    fn dependencies_point_down_only() {
        let src = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
        let mut upward = Vec::new();
        for (rank, layer) in LAYERS.iter().enumerate() {
            let mut files = vec![src.join(format!("{layer}.rs"))];
            let mut dirs = vec![src.join(layer)];
            while let Some(dir) = dirs.pop() {
                for entry in std::fs::read_dir(&dir).into_iter().flatten().flatten() {
                    let path = entry.path();
                    if path.is_dir() {
                        dirs.push(path);
                    } else if path.extension().is_some_and(|e| e == "rs") && !path.ends_with("tests.rs") {
                        files.push(path);
                    }
                }
            }
            for file in
                files.iter().filter(|f| !f.file_name().is_some_and(|n| n.to_string_lossy().ends_with("_tests.rs")))
            {
                let text = std::fs::read_to_string(file).unwrap_or_default();
                for used in uses(&text) {
                    if LAYERS.iter().position(|l| *l == used) > Some(rank) {
                        upward.push(format!("{} uses {used}", file.display()));
                    }
                }
            }
        }
        assert!(upward.is_empty(), "a layer names one above it:\n{}", upward.join("\n"));
    }
}
