//! `notifications:*` — workflow notifications for one user (meetings, tasks, reports).

use super::{id_arg, object, str_arg};
use roomsync_shared::engine::{FnError, Order, Registry, Tx};
use roomsync_shared::model::text;
use roomsync_shared::model::validator::v;
use roomsync_shared::model::value::Value;

const TABLE: &str = "workflow_notifications";

pub fn register(registry: Registry) -> Registry {
    registry
        .query(
            "notifications:forUser",
            v::object([
                ("recipient", v::id("users")),
                ("status", v::optional(v::enumeration(["beklemede", "gonderildi", "okundu"]))),
            ]),
            for_user,
        )
        .mutation("notifications:markRead", v::object([("id", v::id(TABLE))]), mark_read)
}

/// A user's notifications, newest first, optionally of one status (`okundu` = read).
fn for_user(tx: &mut Tx<'_>, args: &Value) -> Result<Value, FnError> {
    let recipient = str_arg(args, "recipient").unwrap_or_default().to_string();
    let status = str_arg(args, "status").map(str::to_string);
    let found = tx
        .query(TABLE)
        .with_index("by_recipient")
        .eq(recipient.as_str())
        .order(Order::Desc)
        .filter(move |d| status.as_deref().is_none_or(|s| d.fields.get("status").and_then(Value::as_str) == Some(s)))
        .take(200)?;
    Ok(super::docs(found))
}

fn mark_read(tx: &mut Tx<'_>, args: &Value) -> Result<Value, FnError> {
    let now = text::iso_timestamp(tx.now_ms()?);
    tx.patch(TABLE, &id_arg(args)?, object([("status", Value::from("okundu")), ("read_at", Value::String(now))]))?;
    Ok(Value::Null)
}

/// Notifies `recipient` (used by other mutations, inside their transaction).
pub(crate) fn notify(
    tx: &mut Tx<'_>,
    recipient: &str,
    triggered_by: &str,
    category: &str,
    title: String,
    reference: Value,
) -> Result<(), FnError> {
    let now = text::iso_timestamp(tx.now_ms()?);
    let notification = object([
        ("recipient", Value::from(recipient)),
        ("triggered_by", Value::from(triggered_by)),
        ("category", Value::from(category)),
        ("title", Value::String(title)),
        ("status", Value::from("beklemede")),
        ("created_at", Value::String(now)),
        ("reference", reference),
    ]);
    tx.insert(TABLE, notification)?;
    Ok(())
}
