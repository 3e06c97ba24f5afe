//! Test harness for Roomsync's system tests: starts the built worker under `wrangler dev` on
//! free loopback ports, talks to rooms over real WebSockets, and stops everything it started
//! by process group — never by name. [`workload`] holds what the app-generic property tests
//! (`tests/model.rs`, `tests/network.rs`) do with each app.

pub mod chaos;
pub mod dice;
pub mod workload;
pub mod wrangler;
pub mod ws_client;

pub use wrangler::WranglerDev;
pub use ws_client::{failure_code, Next, RoomSocket};

use roomsync_shared::auth::{sign, Claims};
use std::path::PathBuf;

/// The token secret every test worker runs with (`--var ROOMSYNC_JWT_SECRET:…`).
pub const TEST_SECRET: &str = "roomsync-test-secret-0123456789abcdef";

/// A token for `sub` with `role` in `room`, valid for an hour.
pub fn token(room: &str, sub: &str, role: &str) -> String {
    token_for(room, sub, role, 3600.0)
}

/// A token valid for `ttl_seconds` (negative: already expired).
pub fn token_for(room: &str, sub: &str, role: &str, ttl_seconds: f64) -> String {
    let now =
        std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_secs_f64()).unwrap_or(0.0);
    let claims = Claims { sub: sub.into(), role: role.into(), room: room.into(), exp: now + ttl_seconds, name: None };
    sign(&claims, TEST_SECRET.as_bytes())
}

/// The repository root (this crate lives in `tests/`).
pub fn repo_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..")
}
