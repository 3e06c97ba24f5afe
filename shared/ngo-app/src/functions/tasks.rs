//! `tasks:*` — the team's to-do list.

use super::{docs, fields, id_arg, str_arg};
use roomsync_shared::engine::{FnError, Order, Registry, Tx};
use roomsync_shared::model::validator::{v, Validator};
use roomsync_shared::model::value::Value;

const TABLE: &str = "tasks";
/// Most tasks one list returns.
const LIST_LIMIT: usize = 200;

fn priority() -> Validator {
    v::enumeration(["low", "normal", "high", "urgent"])
}

fn status() -> Validator {
    v::enumeration(["pending", "in_progress", "completed", "cancelled"])
}

pub fn register(registry: Registry) -> Registry {
    let editable = || {
        vec![
            ("title", v::optional(v::string())),
            ("description", v::optional(v::string())),
            ("assigned_to", v::optional(v::id("users"))),
            ("priority", v::optional(priority())),
            ("status", v::optional(status())),
            ("due_date", v::optional(v::string())),
            ("category", v::optional(v::string())),
            ("tags", v::optional(v::array(v::string()))),
        ]
    };
    let mut create_args = editable();
    create_args[0] = ("title", v::string());
    create_args.push(("created_by", v::id("users")));
    let mut update_args = editable();
    update_args.push(("id", v::id(TABLE)));
    update_args.push(("is_read", v::optional(v::boolean())));
    registry
        .query(
            "tasks:list",
            v::object([("status", v::optional(status())), ("assigned_to", v::optional(v::id("users")))]),
            list,
        )
        .query(
            "tasks:page",
            v::object([
                (
                    "paginationOpts",
                    v::object([("numItems", v::number()), ("cursor", v::optional(v::union([v::string(), v::null()])))]),
                ),
                ("status", v::optional(status())),
            ]),
            page,
        )
        .mutation("tasks:create", v::object(create_args), create)
        .mutation("tasks:update", v::object(update_args), update)
        .mutation("tasks:remove", v::object([("id", v::id(TABLE))]), remove)
}

/// Tasks, newest first, optionally only one status and/or one assignee.
fn list(tx: &mut Tx<'_>, args: &Value) -> Result<Value, FnError> {
    let status = str_arg(args, "status").map(str::to_string);
    let assignee = str_arg(args, "assigned_to").map(str::to_string);
    let query = match (&status, &assignee) {
        (_, Some(user)) => tx.query(TABLE).with_index("by_assigned_to").eq(user.as_str()),
        (Some(s), None) => tx.query(TABLE).with_index("by_status").eq(s.as_str()),
        (None, None) => tx.query(TABLE),
    };
    let wanted = status.clone();
    let tasks = query
        .order(Order::Desc)
        .filter(move |d| wanted.as_deref().is_none_or(|s| d.fields.get("status").and_then(Value::as_str) == Some(s)))
        .take(LIST_LIMIT)?;
    Ok(docs(tasks))
}

/// Most tasks one page holds.
const MAX_PAGE: usize = 100;

/// One live cursor page of tasks, newest first: `{page, isDone, continueCursor}`. Pages stay
/// gap-free while tasks come and go (each keeps the end of its first run).
fn page(tx: &mut Tx<'_>, args: &Value) -> Result<Value, FnError> {
    let opts = args.as_object().and_then(|a| a.get("paginationOpts")).cloned().unwrap_or(Value::Null);
    let num_items = super::count_arg(&opts, "numItems", 20, MAX_PAGE)?.max(1);
    let cursor = str_arg(&opts, "cursor").map(str::to_string);
    let query = match str_arg(args, "status") {
        Some(s) => tx.query(TABLE).with_index("by_status").eq(s),
        None => tx.query(TABLE),
    };
    let page = query.order(Order::Desc).paginate(roomsync_shared::engine::query::PageRequest { num_items, cursor })?;
    Ok(super::object([
        ("page", docs(page.page)),
        ("isDone", Value::Boolean(page.is_done)),
        ("continueCursor", Value::String(page.continue_cursor)),
    ]))
}

fn create(tx: &mut Tx<'_>, args: &Value) -> Result<Value, FnError> {
    let mut task = fields(args);
    task.entry("priority".into()).or_insert_with(|| Value::from("normal"));
    task.entry("status".into()).or_insert_with(|| Value::from("pending"));
    task.insert("is_read".into(), Value::Boolean(false));
    if let Some(Value::String(title)) = task.get_mut("title") {
        *title = title.trim().to_string();
        if title.is_empty() {
            return Err(roomsync_shared::model::validation::ValidationError::new(
                "tasks.title",
                "a non-empty string",
                "an empty string",
            )
            .into());
        }
    }
    Ok(Value::String(tx.insert(TABLE, Value::Object(task))?.to_string()))
}

fn update(tx: &mut Tx<'_>, args: &Value) -> Result<Value, FnError> {
    let id = id_arg(args)?;
    let mut changes = fields(args);
    changes.remove("id");
    tx.patch(TABLE, &id, Value::Object(changes))?;
    Ok(Value::Null)
}

fn remove(tx: &mut Tx<'_>, args: &Value) -> Result<Value, FnError> {
    tx.delete(TABLE, &id_arg(args)?)?;
    Ok(Value::Null)
}
