//! The reference application: the NGO admin panel Roomsync is built for (beneficiaries,
//! donations, tasks, meetings, notifications and their users).
//!
//! An app is its roles, a schema and a registry of functions, handed to the engine as one
//! value ([`App`]); nothing in `roomsync-shared` names this one. The worker, the optimistic
//! predictor and the TypeScript codegen bind it through [`app`] and [`open_room`] — the one
//! place each host says which app it serves.

pub mod functions;
pub mod roles;
pub mod schema;

use roomsync_shared::engine::{App, DefineError, Registry};
use roomsync_shared::model::schema::Schema;
use roomsync_shared::{Room, Sql, StorageError};
use std::sync::{Arc, OnceLock};

/// Defines the app: its roles, schema and functions, checked together.
pub fn define() -> Result<App, DefineError> {
    Ok(App::new(schema::define()?, functions::registry())?)
}

/// The reference app, defined once per process and shared by every room of the host. The
/// definition is a constant of this crate; `the_reference_app_is_valid` proves it.
pub fn app() -> Arc<App> {
    the_app().clone()
}

fn the_app() -> &'static Arc<App> {
    static APP: OnceLock<Arc<App>> = OnceLock::new();
    APP.get_or_init(|| Arc::new(define().unwrap_or_else(|e| panic!("{e}"))))
}

/// The app's schema (of [`app`]).
pub fn schema() -> &'static Schema {
    the_app().schema()
}

/// The app's functions (of [`app`]).
pub fn registry() -> &'static Registry {
    the_app().registry()
}

/// Where the demo panel imports the generated TypeScript types, from the repository root.
pub const TYPESCRIPT_PATH: &str = "www/src/generated/schema.ts";
/// What writes them (`--check` only reports when the committed file is stale).
pub const CODEGEN_COMMAND: &str = "cargo run -p roomsync-ngo-app --bin codegen";

/// The TypeScript types of this app's schema, as [`TYPESCRIPT_PATH`] must hold them.
pub fn typescript() -> String {
    roomsync_shared::model::typescript::generate(schema(), CODEGEN_COMMAND)
}

/// Opens this app's room over `sql`, creating or migrating its tables on first use.
pub fn open_room<S: Sql>(sql: S) -> Result<Room<S>, StorageError> {
    Room::open(sql, app())
}
