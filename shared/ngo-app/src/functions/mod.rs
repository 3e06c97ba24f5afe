//! The reference app's queries and mutations, registered by name (`tasks:list`, …).

pub mod beneficiaries;
pub mod donations;
pub mod meetings;
pub mod notifications;
pub mod tasks;
pub mod users;

use super::roles::{MANAGER, ROLES};
use roomsync_shared::auth::Access;
use roomsync_shared::engine::store::Document;
use roomsync_shared::engine::{FnError, Registry};
use roomsync_shared::model::validation::ValidationError;
use roomsync_shared::model::value::Value;
use std::collections::BTreeMap;

/// Every function of the reference app.
pub fn registry() -> Registry {
    let registry = Registry::new(ROLES);
    let registry = users::register(registry);
    let registry = tasks::register(registry);
    let registry = donations::register(registry);
    let registry = meetings::register(registry);
    let registry = notifications::register(registry);
    let registry = beneficiaries::register(registry);
    // Approving money and removing people's records are managers' decisions.
    let managers = Access::AtLeast(MANAGER);
    registry
        .allow("donations:approve", managers)
        .allow("donations:remove", managers)
        .allow("beneficiaries:remove", managers)
}

/// The arguments object (the registry has already checked it against the validator).
pub(crate) fn fields(args: &Value) -> BTreeMap<String, Value> {
    args.as_object().cloned().unwrap_or_default()
}

pub(crate) fn str_arg<'v>(args: &'v Value, name: &str) -> Option<&'v str> {
    args.as_object()?.get(name)?.as_str()
}

pub(crate) fn num_arg(args: &Value, name: &str) -> Option<f64> {
    match args.as_object()?.get(name)? {
        Value::Number(n) => Some(*n),
        Value::Int64(i) => Some(*i as f64),
        _ => None,
    }
}

/// A required id argument (present: the validator ran).
pub(crate) fn id_arg(args: &Value) -> Result<String, FnError> {
    str_arg(args, "id")
        .map(str::to_string)
        .ok_or_else(|| ValidationError::new("args.id", "a document id", "nothing").into())
}

pub(crate) fn docs(documents: Vec<Document>) -> Value {
    Value::Array(documents.iter().map(Document::to_value).collect())
}

/// A whole number argument within `[min, max]`, or the default.
pub(crate) fn count_arg(args: &Value, name: &str, default: usize, max: usize) -> Result<usize, FnError> {
    match num_arg(args, name) {
        None => Ok(default),
        Some(n) if n.fract() == 0.0 && n >= 0.0 && n <= max as f64 => Ok(n as usize),
        Some(n) => Err(ValidationError::new(
            format!("args.{name}"),
            format!("a whole number from 0 to {max}"),
            format!("number {n}"),
        )
        .into()),
    }
}

/// `{ documents, total }`, the list shape the reference app's screens expect.
pub(crate) fn documents_and_total(page: roomsync_shared::engine::query::OffsetPage) -> Value {
    let mut out = BTreeMap::new();
    out.insert("documents".to_string(), docs(page.documents));
    out.insert("total".to_string(), Value::Number(page.total as f64));
    Value::Object(out)
}

/// Splits `{ id, …changes }` into the id and the changes (for `*:update` mutations).
pub(crate) fn id_and_changes(args: &Value, table: &str) -> Result<(String, Value), FnError> {
    let mut changes = fields(args);
    match changes.remove("id") {
        Some(Value::String(id)) => Ok((id, Value::Object(changes))),
        other => {
            let found = other
                .map(|v| roomsync_shared::model::validator::describe_value(&v))
                .unwrap_or_else(|| "nothing".into());
            Err(ValidationError::new("args.id", format!("id of a {table} document"), found).into())
        }
    }
}

/// Builds an object value from `(field, value)` pairs.
pub(crate) fn object<const N: usize>(pairs: [(&str, Value); N]) -> Value {
    Value::Object(pairs.into_iter().map(|(k, v)| (k.to_string(), v)).collect())
}
