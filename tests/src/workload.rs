//! What the app-generic property tests do with an app: which queries clients keep live,
//! which mutations they make, and which documents are counted for exactly-once.
//!
//! The tests (`tests/model.rs`, `tests/network.rs`) know nothing of any app: they drive real
//! [`roomsync_shared::client::ClientCore`]s against a real `Room` and check that every live
//! result equals a fresh run and every counted write landed exactly once. A [`Workload`]
//! supplies the app-specific part; [`ngo`] and [`todo`] are the two apps of this repository.

pub mod ngo;
pub mod todo;

use roomsync_shared::engine::App;
use serde_json::Value as Json;
use std::sync::Arc;

/// Runs a query on the room as a trusted caller (the oracle's view).
pub type Lookup<'a> = &'a dyn Fn(&str, &Json) -> Json;

/// The app-specific part of a property test.
pub trait Workload {
    /// The app under test.
    fn app(&self) -> Arc<App>;

    /// Mutations made once by a trusted caller before the test starts (`mutate` returns
    /// each result); returns the ids queries and mutations may name (a user, a list).
    fn setup(&self, mutate: &mut dyn FnMut(&str, Json) -> Json) -> Vec<String>;

    /// The live queries clients pick from; a fresh run of each is its oracle.
    fn queries(&self, context: &[String]) -> Vec<(&'static str, Json)>;

    /// A mutation that creates one counted document carrying `label` (`variant` picks its
    /// other fields): these must land exactly once however often the network makes the
    /// client re-send them.
    fn create(&self, context: &[String], label: &str, variant: usize) -> (&'static str, Json);

    /// Every counted document in the room: its id and its label.
    fn counted(&self, room: Lookup<'_>) -> Vec<(Json, String)>;

    /// What a successful mutation at `path` does to the number of counted documents.
    fn count_delta(&self, path: &str) -> i64;

    /// How many kinds of other mutations [`Workload::other`] makes.
    fn other_kinds(&self) -> usize;

    /// Another mutation: `kind` (below [`Workload::other_kinds`]) picks what, `pick` which
    /// existing document and `variant` which value; `None` when there is nothing to act on.
    /// They may fail (a unique key taken, a document already gone); only creates must not.
    fn other(
        &self,
        context: &[String],
        kind: usize,
        pick: usize,
        variant: usize,
        room: Lookup<'_>,
    ) -> Option<(&'static str, Json)>;
}

/// The `n`th id (wrapping) of the documents a list query returns (`[…]` or
/// `{documents: […]}`), if there are any.
pub fn nth_id(list: &Json, n: usize) -> Option<Json> {
    let docs = list.get("documents").unwrap_or(list).as_array().filter(|a| !a.is_empty())?;
    Some(docs[n % docs.len()]["_id"].clone())
}
