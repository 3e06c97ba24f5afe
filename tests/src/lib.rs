//! Test harness for Roomsync's system tests: starts the built worker under `wrangler dev` on
//! free loopback ports, talks to rooms over real WebSockets, and stops everything it started
//! by process group — never by name.

pub mod wrangler;
pub mod ws_client;

pub use wrangler::WranglerDev;
pub use ws_client::RoomSocket;

use std::path::PathBuf;

/// The repository root (this crate lives in `tests/`).
pub fn repo_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..")
}
