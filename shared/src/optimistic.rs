//! Automatic optimistic updates: what a mutation will do to the results a client shows,
//! predicted by running the application's own Rust mutation and queries on the client.
//!
//! The client holds query results, not tables. So the prediction
//! 1. loads every document found in the cached results (objects with an `_id` of a schema
//!    table and a `_creationTime`) into an in-memory store ([`MemoryStore`]);
//! 2. re-runs each cached query there and keeps only those it *reproduces exactly*: a query
//!    whose result depends on documents the client does not hold (a count, a total, an
//!    offset page, a search) does not reproduce and is left alone — a guess is never worse
//!    than the room's last word;
//! 3. runs the mutation (same validators, unique keys, access rules, as the caller the token
//!    names) and re-runs the reproduced queries as the room re-runs live ones: an insert lands
//!    at its place in index order (a live cursor page keeps its end, so it grows, as the
//!    room's does), a patch changes the row in every result, a delete removes it.
//!
//! Cursor pages are recognised by their shape (`{page, isDone, continueCursor}`, what
//! `paginate` returns): one that grew or shrank since its first run is reproduced pinned to
//! the end it shows, as the room's subscription is.
//!
//! The driver shows the predictions until the room answers the mutation (they are replayed on
//! top of every transition meanwhile); a mutation that fails locally predicts nothing.

use crate::auth::Identity;
use crate::engine::tx::Caller;
use crate::engine::{store, App, FnError, FunctionKind, Tx};
use crate::model::ids::{table_code, table_code_of, DocumentId};
use crate::model::schema::{Schema, TableDef};
use crate::model::value::Value;
use crate::storage::memory::MemoryStore;
use crate::storage::DocStore;
use crate::Environment;
use serde_json::Value as Json;
use std::collections::BTreeMap;

/// A query result the client shows.
#[derive(Clone, Debug, PartialEq, serde::Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CachedQuery {
    pub udf_path: String,
    #[serde(default)]
    pub args: Json,
    pub value: Json,
}

/// A predicted result for `cached[index]`.
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct Prediction {
    pub index: usize,
    pub value: Json,
}

/// Predicts the results `mutation(udf_path, args)` leads to, for the cached queries the
/// client's documents reproduce. `Err` says why nothing can be predicted (the mutation fails
/// locally: unknown, refused, invalid, or it needs documents the client does not hold).
pub fn predict(
    app: &App,
    identity: Option<&Identity>,
    cached: &[CachedQuery],
    udf_path: &str,
    args: &Json,
    env: &mut dyn Environment,
) -> Result<Vec<Prediction>, FnError> {
    let (schema, registry) = (app.schema(), app.registry());
    let store = MemoryStore::new();
    let tables = tables_by_code(schema);
    for query in cached {
        load_documents(&store, &tables, &query.value);
    }
    // A query run: its result and the journal it pinned (a live page's end).
    let run = |query: &CachedQuery, journal: Option<String>| -> Option<(Json, Option<String>)> {
        let (def, args) = registry.resolve(&query.udf_path, FunctionKind::Query, &query.args, identity).ok()?;
        let mut tx = Tx::reader(&store, schema, journal).for_caller(Caller::Client(identity.cloned()));
        let value = (def.handler)(&mut tx, &args).ok()?.to_json();
        Some((value, tx.finish().2))
    };
    // Reproduce each result as the room keeps it live: a fresh run, or (a cursor page that
    // grew or shrank since its first run) a run pinned to the end it shows.
    let reproduce = |query: &CachedQuery| -> Option<Option<String>> {
        let fresh = run(query, None)?;
        if same(&fresh.0, &query.value) {
            return Some(fresh.1);
        }
        let live = query.value.get("isDone").and_then(Json::as_bool) == Some(false);
        let end = query.value.get("continueCursor").and_then(Json::as_str).filter(|_| live)?.to_string();
        let pinned = run(query, Some(end))?;
        same(&pinned.0, &query.value).then_some(pinned.1)
    };
    let reproduced: Vec<(usize, Option<String>)> =
        (0..cached.len()).filter_map(|i| reproduce(&cached[i]).map(|journal| (i, journal))).collect();
    if reproduced.is_empty() {
        return Ok(Vec::new());
    }
    let (def, args) = registry.resolve(udf_path, FunctionKind::Mutation, args, identity)?;
    store.atomically(|| {
        let mut tx = Tx::writer(&store, schema, env).for_caller(Caller::Client(identity.cloned()));
        (def.handler)(&mut tx, &args).map(|_| ())
    })?;
    Ok(reproduced
        .into_iter()
        .filter_map(|(index, journal)| {
            let (value, _) = run(&cached[index], journal)?;
            (!same(&value, &cached[index].value)).then_some(Prediction { index, value })
        })
        .collect())
}

/// The schema's tables by the code their document ids end with.
fn tables_by_code(schema: &Schema) -> BTreeMap<String, &TableDef> {
    schema.tables().iter().map(|t| (table_code(&t.name), t)).collect()
}

/// Loads every document found in `value` (not descending into documents themselves).
fn load_documents(store: &MemoryStore, tables: &BTreeMap<String, &TableDef>, value: &Json) {
    match value {
        Json::Array(items) => items.iter().for_each(|v| load_documents(store, tables, v)),
        Json::Object(fields) => {
            let id = fields.get("_id").and_then(Json::as_str);
            let table = id.and_then(table_code_of).and_then(|code| tables.get(code));
            match (id, table, fields.get("_creationTime").and_then(Json::as_f64)) {
                (Some(id), Some(table), Some(created)) => load_document(store, table, id, created, fields),
                _ => fields.values().for_each(|v| load_documents(store, tables, v)),
            }
        }
        _ => {}
    }
}

fn load_document(
    store: &MemoryStore,
    table: &TableDef,
    id: &str,
    created: f64,
    fields: &serde_json::Map<String, Json>,
) {
    let user: serde_json::Map<String, Json> =
        fields.iter().filter(|(k, _)| !k.starts_with('_')).map(|(k, v)| (k.clone(), v.clone())).collect();
    // Not decodable as a document: skip it.
    if let Ok(Value::Object(user)) = Value::from_json(&Json::Object(user), id) {
        let doc = store::Document { id: DocumentId::from_stored(id.to_string()), creation_time: created, fields: user };
        // A document found in two results is loaded once; one whose unique value another
        // loaded document claims (results of different moments) is left out, and queries
        // that show it then do not reproduce. Index rows are keyed by the id, so nothing
        // else can refuse it (and no atomic block — a copy of the store per document — is
        // needed). No search entries: searches do not run here (a write's removal of a
        // missing entry is a no-op).
        let claimed = store::unique_rows(table, &doc)
            .any(|(name, key)| !matches!(store.unique_holder(&table.name, &name, &key), Ok(None)));
        if claimed || store.has_document(&table.name, id) {
            return;
        }
        let _ = store
            .insert_document(&table.name, &store::encode_document(&doc))
            .and_then(|()| store::add_index_entries(store, table, &doc))
            .and_then(|()| store::add_unique_entries(store, table, &doc));
    }
}

/// Equal as JSON values, numbers compared as numbers (a result that went through a
/// browser's `JSON.parse` holds `1`, the room's own encoding may hold `1.0`).
fn same(a: &Json, b: &Json) -> bool {
    match (a, b) {
        (Json::Number(x), Json::Number(y)) => x.as_f64() == y.as_f64(),
        (Json::Array(x), Json::Array(y)) => x.len() == y.len() && x.iter().zip(y).all(|(a, b)| same(a, b)),
        (Json::Object(x), Json::Object(y)) => {
            x.len() == y.len() && x.iter().all(|(k, v)| y.get(k).is_some_and(|w| same(v, w)))
        }
        _ => a == b,
    }
}

#[cfg(test)]
mod tests;
