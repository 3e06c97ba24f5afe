//! The reference application: the NGO admin panel Roomsync is built for (beneficiaries,
//! donations, tasks, meetings, notifications and their users).
//!
//! An app is a schema and a registry of functions handed to the engine as values; nothing in
//! `roomsync-shared` names this one. The worker, the optimistic predictor and the TypeScript
//! codegen bind it through [`schema`], [`registry`] and [`open_room`] — the one place each
//! host says which app it serves.

pub mod functions;
pub mod schema;

pub use functions::registry;
pub use schema::schema;

use roomsync_shared::{Room, Sql, StorageError};

/// Where the demo panel imports the generated TypeScript types, from the repository root.
pub const TYPESCRIPT_PATH: &str = "www/src/generated/schema.ts";
/// What writes them (`--check` only reports when the committed file is stale).
pub const CODEGEN_COMMAND: &str = "cargo run -p roomsync-ngo-app --bin codegen";

/// The TypeScript types of this app's schema, as [`TYPESCRIPT_PATH`] must hold them.
pub fn typescript() -> String {
    roomsync_shared::typescript::generate(schema(), CODEGEN_COMMAND)
}

/// Opens this app's room over `sql`, creating or migrating its tables on first use.
pub fn open_room<S: Sql>(sql: S) -> Result<Room<S>, StorageError> {
    Room::open_with(sql, schema(), registry())
}
