//! Roomsync's platform-free core, compiled both by the Durable Object worker and by the
//! browser client.
//!
//! Nothing here opens a socket, reads a clock or draws random numbers: time and entropy come
//! in as arguments, storage comes in through the [`storage::DocStore`] and [`storage::Sql`]
//! traits, and outputs are values ([`room::Outgoing`]) that a thin platform driver delivers.
//! That keeps every rule testable natively, in milliseconds.
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
/// The storage seams: `DocStore` (documents, index rows, unique keys, search words; SQLite
/// and in-memory, one conformance suite) and `Sql` (the room's own tables).
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
    /// The layers bottom up, as the table of contents above lists them: each may name only
    /// those before it.
    const LAYERS: [&str; 8] = ["model", "auth", "protocol", "storage", "engine", "room", "client", "optimistic"];

    /// The crate-root re-exports (`crate::Room`, …) and the layer each comes from.
    const ROOT: [(&str, &str); 16] = [
        ("ConnId", "model"),
        ("DocumentId", "model"),
        ("ValidationError", "model"),
        ("ClientMessage", "protocol"),
        ("ErrorCode", "protocol"),
        ("QueryId", "protocol"),
        ("RequestId", "protocol"),
        ("ServerMessage", "protocol"),
        ("StateVersion", "protocol"),
        ("Ts", "protocol"),
        ("Sql", "storage"),
        ("StorageError", "storage"),
        ("App", "engine"),
        ("Environment", "engine"),
        ("Room", "room"),
        ("Outgoing", "room"),
    ];

    /// Which layers a source file names outside its test modules: `crate::layer::…`,
    /// `roomsync_shared::layer::…`, `use crate::layer;` and the root re-exports. A test
    /// module (`#[cfg(test)] mod name {`) runs to the end of its file by the house layout.
    fn code_of(text: &str) -> String {
        // Up to the first inline test module (`mod tests;` declarations do not end the code).
        let inline = text
            .match_indices("#[cfg(test)]\nmod ")
            .find(|(i, _)| text[*i..].lines().nth(1).is_some_and(|line| line.trim_end().ends_with('{')));
        let code = &text[..inline.map_or(text.len(), |(i, _)| i)];
        code.lines().filter(|l| !l.trim_start().starts_with("//")).collect::<Vec<_>>().join("\n")
    }

    fn uses(text: &str) -> Vec<&'static str> {
        let code = code_of(text);
        let names = |prefix: &str, name: &str| {
            [format!("{prefix}::{name}::"), format!("{prefix}::{name};"), format!("{prefix}::{{{name}::")]
        };
        let mut used: Vec<&'static str> = LAYERS
            .into_iter()
            .filter(|layer| {
                ["crate", "roomsync_shared"].iter().any(|p| names(p, layer).iter().any(|n| code.contains(n.as_str())))
            })
            .collect();
        for (item, layer) in ROOT {
            let named = ["crate", "roomsync_shared"].iter().any(|p| {
                let at = format!("{p}::{item}");
                code.match_indices(&at).any(|(i, _)| {
                    !code[i + at.len()..].starts_with(|c: char| c.is_alphanumeric() || c == '_' || c == ':')
                })
            });
            if named && !used.contains(&layer) {
                used.push(layer);
            }
        }
        used
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
                    let name = path.file_name().map(|n| n.to_string_lossy().to_string()).unwrap_or_default();
                    if path.is_dir() {
                        dirs.push(path);
                    } else if name.ends_with(".rs") && name != "tests.rs" && !name.ends_with("_tests.rs") {
                        files.push(path);
                    }
                }
            }
            for file in &files {
                let text = std::fs::read_to_string(file).unwrap_or_default();
                assert!(
                    !code_of(&text).contains("super::super::"),
                    "{}: name the layer (crate::…), not super::super",
                    file.display()
                );
                for used in uses(&text) {
                    if LAYERS.iter().position(|l| *l == used) > Some(rank) {
                        upward.push(format!("{} uses {used}", file.display()));
                    }
                }
            }
        }
        assert!(upward.is_empty(), "a layer names one above it:\n{}", upward.join("\n"));
    }

    #[test]
    fn the_check_sees_every_way_of_naming_a_layer() {
        for text in [
            "use crate::room::Room;",
            "use crate::room;",
            "x: crate::Room<S>",
            "roomsync_shared::room::Outgoing",
            "use crate::{room::X};",
        ] {
            assert!(uses(text).contains(&"room"), "{text}");
        }
        assert!(uses("crate::RoomInput").is_empty(), "another name");
        assert!(uses("#[cfg(test)]\nmod tests {\n use crate::room::Room;\n}").is_empty(), "test modules");
        assert!(
            uses("#[cfg(test)]\nmod tests;\npub use crate::room::Room;").contains(&"room"),
            "code after a test mod declaration"
        );
        assert!(uses("// crate::room::Room").is_empty(), "comments");
    }
}
