//! `users:*` — the people who use the panel.

use super::{docs, id_arg, str_arg};
use roomsync_shared::auth::Access;
use roomsync_shared::engine::{FnError, Registry, Tx};
use roomsync_shared::model::validator::v;
use roomsync_shared::model::value::Value;
use std::collections::BTreeMap;

const TABLE: &str = "users";

pub fn register(registry: Registry) -> Registry {
    registry
        .query("auth:whoami", v::object([]), whoami)
        .allow("auth:whoami", Access::Public)
        .query("users:list", v::object([]), list)
        .query("users:get", v::object([("id", v::id(TABLE))]), get)
        .mutation(
            "users:ensure",
            v::object([("name", v::string()), ("email", v::string()), ("role", v::string())]),
            ensure,
        )
}

/// Who the caller is (`null` when signed out): `{subject, role, name?}`. Public, so a
/// signed-out panel can ask; it re-runs when the connection's identity changes.
fn whoami(tx: &mut Tx<'_>, _args: &Value) -> Result<Value, FnError> {
    Ok(match tx.identity() {
        None => Value::Null,
        Some(identity) => {
            let mut out = BTreeMap::new();
            out.insert("subject".to_string(), Value::from(identity.subject.as_str()));
            out.insert("role".to_string(), Value::from(identity.role.as_str()));
            if let Some(name) = &identity.name {
                out.insert("name".to_string(), Value::from(name.as_str()));
            }
            Value::Object(out)
        }
    })
}

fn list(tx: &mut Tx<'_>, _args: &Value) -> Result<Value, FnError> {
    Ok(docs(tx.query(TABLE).collect()?))
}

fn get(tx: &mut Tx<'_>, args: &Value) -> Result<Value, FnError> {
    Ok(tx.get(TABLE, &id_arg(args)?)?.map(|d| d.to_value()).unwrap_or(Value::Null))
}

/// The id of the user with this email, created (active) if there is none: email is unique.
fn ensure(tx: &mut Tx<'_>, args: &Value) -> Result<Value, FnError> {
    let email = str_arg(args, "email").unwrap_or_default().trim().to_lowercase();
    if let Some(existing) = tx.query(TABLE).with_index("by_email").eq(email.as_str()).unique()? {
        return Ok(Value::String(existing.id.to_string()));
    }
    let mut user = BTreeMap::new();
    user.insert("name".to_string(), Value::from(str_arg(args, "name").unwrap_or_default()));
    user.insert("email".to_string(), Value::String(email));
    user.insert("role".to_string(), Value::from(str_arg(args, "role").unwrap_or_default()));
    user.insert("isActive".to_string(), Value::Boolean(true));
    Ok(Value::String(tx.insert(TABLE, Value::Object(user))?.to_string()))
}
