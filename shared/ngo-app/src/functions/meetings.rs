//! `meetings:*` — meetings with their decisions and action items.
//!
//! `meetings:get` returns a meeting with its decisions and action items (three tables, one
//! consistent read). Adding an action item notifies its assignee in the same transaction;
//! removing a meeting removes its decisions and action items with it.

use super::{docs, fields, id_and_changes, id_arg, object, str_arg};
use roomsync_shared::engine::{FnError, Order, Registry, Tx};
use roomsync_shared::model::text;
use roomsync_shared::model::validator::{v, Validator};
use roomsync_shared::model::value::Value;

const TABLE: &str = "meetings";
const DECISIONS: &str = "meeting_decisions";
const ACTIONS: &str = "meeting_action_items";

fn action_status() -> Validator {
    v::enumeration(["beklemede", "devam", "hazir", "iptal"])
}

pub fn register(registry: Registry) -> Registry {
    registry
        .query(
            "meetings:list",
            v::object([("status", v::optional(v::enumeration(["scheduled", "ongoing", "completed", "cancelled"])))]),
            list,
        )
        .query("meetings:get", v::object([("id", v::id(TABLE))]), get)
        .mutation("meetings:create", v::any(), create)
        .mutation("meetings:update", v::any(), update)
        .mutation("meetings:remove", v::object([("id", v::id(TABLE))]), remove)
        .mutation(
            "meetings:addDecision",
            v::object([
                ("meeting_id", v::id(TABLE)),
                ("title", v::string()),
                ("summary", v::optional(v::string())),
                ("owner", v::optional(v::id("users"))),
                ("created_by", v::id("users")),
                ("due_date", v::optional(v::string())),
            ]),
            add_decision,
        )
        .mutation(
            "meetings:addActionItem",
            v::object([
                ("meeting_id", v::id(TABLE)),
                ("decision_id", v::optional(v::id(DECISIONS))),
                ("title", v::string()),
                ("description", v::optional(v::string())),
                ("assigned_to", v::id("users")),
                ("created_by", v::id("users")),
                ("due_date", v::optional(v::string())),
            ]),
            add_action_item,
        )
        .mutation(
            "meetings:setActionItemStatus",
            v::object([("id", v::id(ACTIONS)), ("status", action_status()), ("changed_by", v::id("users"))]),
            set_action_item_status,
        )
}

/// Meetings by date, latest first.
fn list(tx: &mut Tx<'_>, args: &Value) -> Result<Value, FnError> {
    let status = str_arg(args, "status").map(str::to_string);
    let found = tx
        .query(TABLE)
        .with_index("by_meeting_date")
        .order(Order::Desc)
        .filter(move |d| status.as_deref().is_none_or(|s| d.fields.get("status").and_then(Value::as_str) == Some(s)))
        .take(500)?;
    Ok(docs(found))
}

/// `{ meeting, decisions, actionItems }`, or null when the meeting does not exist.
fn get(tx: &mut Tx<'_>, args: &Value) -> Result<Value, FnError> {
    let id = id_arg(args)?;
    let Some(meeting) = tx.get(TABLE, &id)? else { return Ok(Value::Null) };
    let decisions = tx.query(DECISIONS).with_index("by_meeting").eq(id.as_str()).collect()?;
    let actions = tx.query(ACTIONS).with_index("by_meeting").eq(id.as_str()).collect()?;
    Ok(object([("meeting", meeting.to_value()), ("decisions", docs(decisions)), ("actionItems", docs(actions))]))
}

fn create(tx: &mut Tx<'_>, args: &Value) -> Result<Value, FnError> {
    let mut meeting = fields(args);
    meeting.entry("status".into()).or_insert_with(|| Value::from("scheduled"));
    meeting.entry("participants".into()).or_insert_with(|| Value::Array(Vec::new()));
    Ok(Value::String(tx.insert(TABLE, Value::Object(meeting))?.to_string()))
}

fn update(tx: &mut Tx<'_>, args: &Value) -> Result<Value, FnError> {
    let (id, changes) = id_and_changes(args, TABLE)?;
    tx.patch(TABLE, &id, changes)?;
    Ok(Value::Null)
}

/// Removes a meeting with its decisions and action items.
fn remove(tx: &mut Tx<'_>, args: &Value) -> Result<Value, FnError> {
    let id = id_arg(args)?;
    for table in [ACTIONS, DECISIONS] {
        for doc in tx.query(table).with_index("by_meeting").eq(id.as_str()).collect()? {
            tx.delete(table, doc.id.as_str())?;
        }
    }
    tx.delete(TABLE, &id)?;
    Ok(Value::Null)
}

fn require_meeting(tx: &mut Tx<'_>, id: &str) -> Result<(), FnError> {
    match tx.get(TABLE, id)? {
        Some(_) => Ok(()),
        None => Err(FnError::NotFound { table: TABLE.into(), id: id.into() }),
    }
}

fn add_decision(tx: &mut Tx<'_>, args: &Value) -> Result<Value, FnError> {
    let mut decision = fields(args);
    require_meeting(tx, str_arg(args, "meeting_id").unwrap_or_default())?;
    decision.insert("created_at".into(), Value::String(text::iso_timestamp(tx.now_ms()?)));
    decision.insert("status".into(), Value::from("acik"));
    Ok(Value::String(tx.insert(DECISIONS, Value::Object(decision))?.to_string()))
}

/// Adds an action item and notifies its assignee, in one transaction.
fn add_action_item(tx: &mut Tx<'_>, args: &Value) -> Result<Value, FnError> {
    let meeting_id = str_arg(args, "meeting_id").unwrap_or_default().to_string();
    require_meeting(tx, &meeting_id)?;
    let mut item = fields(args);
    item.insert("created_at".into(), Value::String(text::iso_timestamp(tx.now_ms()?)));
    item.insert("status".into(), Value::from("beklemede"));
    let id = tx.insert(ACTIONS, Value::Object(item))?;
    let assignee = str_arg(args, "assigned_to").unwrap_or_default();
    let creator = str_arg(args, "created_by").unwrap_or_default();
    let title = format!("Yeni görev: {}", str_arg(args, "title").unwrap_or_default());
    let reference = object([("type", Value::from("meeting_action_item")), ("id", Value::String(id.to_string()))]);
    super::notifications::notify(tx, assignee, creator, "meeting", title, reference)?;
    Ok(Value::String(id.to_string()))
}

/// Changes an action item's status and appends the change to its history.
fn set_action_item_status(tx: &mut Tx<'_>, args: &Value) -> Result<Value, FnError> {
    let id = id_arg(args)?;
    let item = tx.get(ACTIONS, &id)?.ok_or_else(|| FnError::NotFound { table: ACTIONS.into(), id: id.clone() })?;
    let status = str_arg(args, "status").unwrap_or_default().to_string();
    let now = Value::String(text::iso_timestamp(tx.now_ms()?));
    let mut history = match item.fields.get("status_history") {
        Some(Value::Array(entries)) => entries.clone(),
        _ => Vec::new(),
    };
    history.push(object([
        ("status", Value::String(status.clone())),
        ("changed_at", now.clone()),
        ("changed_by", Value::from(str_arg(args, "changed_by").unwrap_or_default())),
    ]));
    let mut changes = vec![("status", Value::String(status.clone())), ("status_history", Value::Array(history))];
    if status == "hazir" {
        changes.push(("completed_at", now));
    }
    let changes = Value::Object(changes.into_iter().map(|(k, v)| (k.to_string(), v)).collect());
    tx.patch(ACTIONS, &id, changes)?;
    Ok(Value::Null)
}
