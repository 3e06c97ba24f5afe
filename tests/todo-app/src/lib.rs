//! A second app, unlike the reference one: shared to-do lists with three roles of its own
//! (`guest` reads, `editor` writes, `owner` also archives lists and reads private notes).
//!
//! It exists to prove that nothing in the engine, the worker or the property tests is
//! welded to the NGO app: the same `Room` serves it natively (`tests/tests/model.rs`,
//! `tests/tests/network.rs`) and the same worker build path serves it under `wrangler dev`
//! (built with `--features todo-app`).

use roomsync_shared::auth::{Access, Role, Roles};
use roomsync_shared::engine::{App, DefineError, Document, FnError, Order, Registry, Tx};
use roomsync_shared::model::schema::{define_schema_with_rules, table, AccessRule, TableDef};
use roomsync_shared::model::validation::ValidationError;
use roomsync_shared::model::validator::v;
use roomsync_shared::model::value::Value;
use roomsync_shared::{Room, Sql, StorageError};
use std::sync::{Arc, OnceLock};

pub const GUEST: Role = Role::new(0, "guest");
pub const EDITOR: Role = Role::new(1, "editor");
pub const OWNER: Role = Role::new(2, "owner");
/// Guests read; editors and owners write.
pub const ROLES: Roles = Roles::new(&[GUEST, EDITOR, OWNER]).writers_from(EDITOR);

/// Most items one list query returns (a to-do list is short; the bound keeps a query's
/// cost fixed).
pub const MAX_ITEMS: usize = 500;

fn tables() -> Vec<TableDef> {
    vec![
        table(
            "lists",
            [
                ("name", v::string()),
                ("archived", v::boolean()),
                ("note", v::optional(v::string())),
                // How often the list was bumped: a counter, for the chaos suite's exactly-once check.
                ("bumps", v::optional(v::number())),
            ],
        )
        .index("by_archived", ["archived"])
        .unique(["name"]),
        table("items", [("list", v::id("lists")), ("text", v::string()), ("done", v::boolean())])
            .index("by_list", ["list", "done"])
            .search_index("by_text", "text", ["list"]),
    ]
}

/// A list's private note is for its owners only.
const RULES: &[AccessRule] = &[("lists", |t| t.field_access("note", Access::AtLeast(OWNER)))];

fn registry() -> Registry {
    let list_id = || v::id("lists");
    Registry::new(ROLES)
        .query("lists:all", v::object([("archived", v::optional(v::boolean()))]), all_lists)
        .query("items:ofList", v::object([("list", list_id()), ("done", v::optional(v::boolean()))]), items_of_list)
        .query("items:search", v::object([("text", v::string()), ("list", v::optional(list_id()))]), search_items)
        .query("items:openCount", v::object([("list", list_id())]), open_count)
        .mutation("lists:create", v::object([("name", v::string()), ("note", v::optional(v::string()))]), create_list)
        .mutation("lists:archive", v::object([("id", list_id())]), archive_list)
        .mutation("lists:bump", v::object([("id", list_id())]), bump_list)
        .mutation("items:add", v::object([("list", list_id()), ("text", v::string())]), add_item)
        .mutation("items:toggle", v::object([("id", v::id("items"))]), toggle_item)
        .mutation("items:remove", v::object([("id", v::id("items"))]), remove_item)
        .allow("lists:archive", Access::AtLeast(OWNER))
}

/// Defines the app.
pub fn define() -> Result<App, DefineError> {
    Ok(App::new(define_schema_with_rules(ROLES, tables(), RULES)?, registry())?)
}

/// The app, defined once per process. Its definition is a constant of this crate;
/// `the_app_is_valid` proves it.
pub fn app() -> Arc<App> {
    static APP: OnceLock<Arc<App>> = OnceLock::new();
    APP.get_or_init(|| Arc::new(define().unwrap_or_else(|e| panic!("{e}")))).clone()
}

/// Opens a room of this app over `sql`.
pub fn open_room<S: Sql>(sql: S) -> Result<Room<S>, StorageError> {
    Room::open(sql, app())
}

fn arg<'v>(args: &'v Value, name: &str) -> Option<&'v Value> {
    args.as_object()?.get(name)
}

fn text(args: &Value, name: &str) -> Result<String, FnError> {
    match arg(args, name).and_then(Value::as_str).map(str::trim) {
        Some(t) if !t.is_empty() => Ok(t.to_string()),
        _ => Err(ValidationError::new(format!("args.{name}"), "a non-empty string", "an empty string").into()),
    }
}

fn list(documents: Vec<Document>) -> Value {
    Value::Array(documents.iter().map(Document::to_value).collect())
}

/// Lists by name order of creation, the archived ones only when asked.
fn all_lists(tx: &mut Tx<'_>, args: &Value) -> Result<Value, FnError> {
    let archived = matches!(arg(args, "archived"), Some(Value::Boolean(true)));
    Ok(list(tx.query("lists").with_index("by_archived").eq(archived).take(MAX_ITEMS)?))
}

/// A list's items, oldest first, optionally only the done (or open) ones.
fn items_of_list(tx: &mut Tx<'_>, args: &Value) -> Result<Value, FnError> {
    let id = arg(args, "list").and_then(Value::as_str).unwrap_or_default().to_string();
    let query = tx.query("items").with_index("by_list").eq(id.as_str());
    let query = match arg(args, "done") {
        Some(Value::Boolean(done)) => query.eq(*done),
        _ => query,
    };
    Ok(list(query.order(Order::Asc).take(MAX_ITEMS)?))
}

fn search_items(tx: &mut Tx<'_>, args: &Value) -> Result<Value, FnError> {
    let text = arg(args, "text").and_then(Value::as_str).unwrap_or_default().to_string();
    let search = tx.search("items", "by_text", &text);
    let search = match arg(args, "list").and_then(Value::as_str) {
        Some(list_id) => search.eq("list", list_id),
        None => search,
    };
    Ok(list(search.take(50)?))
}

fn open_count(tx: &mut Tx<'_>, args: &Value) -> Result<Value, FnError> {
    let id = arg(args, "list").and_then(Value::as_str).unwrap_or_default().to_string();
    let open = tx.query("items").with_index("by_list").eq(id.as_str()).eq(false).take(MAX_ITEMS)?;
    Ok(Value::Number(open.len() as f64))
}

fn create_list(tx: &mut Tx<'_>, args: &Value) -> Result<Value, FnError> {
    let mut fields = args.as_object().cloned().unwrap_or_default();
    fields.insert("name".into(), Value::String(text(args, "name")?));
    fields.insert("archived".into(), Value::Boolean(false));
    Ok(Value::String(tx.insert("lists", Value::Object(fields))?.to_string()))
}

fn archive_list(tx: &mut Tx<'_>, args: &Value) -> Result<Value, FnError> {
    let id = arg(args, "id").and_then(Value::as_str).unwrap_or_default().to_string();
    let changes = [("archived".to_string(), Value::Boolean(true))].into_iter().collect();
    tx.patch("lists", &id, Value::Object(changes))?;
    Ok(Value::Null)
}

/// Adds one to the list's counter and returns the new count: not idempotent, so a write
/// applied twice (or lost) shows in the count and in the values returned.
fn bump_list(tx: &mut Tx<'_>, args: &Value) -> Result<Value, FnError> {
    let id = arg(args, "id").and_then(Value::as_str).unwrap_or_default().to_string();
    let Some(list) = tx.get("lists", &id)? else {
        return Err(FnError::NotFound { table: "lists".into(), id });
    };
    let bumps = match list.fields.get("bumps") {
        Some(Value::Number(n)) => *n + 1.0,
        _ => 1.0,
    };
    let changes = [("bumps".to_string(), Value::Number(bumps))].into_iter().collect();
    tx.patch("lists", &id, Value::Object(changes))?;
    Ok(Value::Number(bumps))
}

fn add_item(tx: &mut Tx<'_>, args: &Value) -> Result<Value, FnError> {
    let list_id = arg(args, "list").and_then(Value::as_str).unwrap_or_default().to_string();
    let Some(owner) = tx.get("lists", &list_id)? else {
        return Err(FnError::NotFound { table: "lists".into(), id: list_id });
    };
    if owner.fields.get("archived") == Some(&Value::Boolean(true)) {
        return Err(FnError::Application(format!("list {list_id} is archived: it takes no new items")));
    }
    let fields = [
        ("list".to_string(), Value::String(list_id)),
        ("text".to_string(), Value::String(text(args, "text")?)),
        ("done".to_string(), Value::Boolean(false)),
    ];
    Ok(Value::String(tx.insert("items", Value::Object(fields.into_iter().collect()))?.to_string()))
}

fn toggle_item(tx: &mut Tx<'_>, args: &Value) -> Result<Value, FnError> {
    let id = arg(args, "id").and_then(Value::as_str).unwrap_or_default().to_string();
    let Some(item) = tx.get("items", &id)? else {
        return Err(FnError::NotFound { table: "items".into(), id });
    };
    let done = item.fields.get("done") == Some(&Value::Boolean(true));
    let changes = [("done".to_string(), Value::Boolean(!done))].into_iter().collect();
    tx.patch("items", &id, Value::Object(changes))?;
    Ok(Value::Boolean(!done))
}

fn remove_item(tx: &mut Tx<'_>, args: &Value) -> Result<Value, FnError> {
    let id = arg(args, "id").and_then(Value::as_str).unwrap_or_default().to_string();
    tx.delete("items", &id)?;
    Ok(Value::Null)
}
