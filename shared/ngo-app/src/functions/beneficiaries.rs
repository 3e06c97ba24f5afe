//! `beneficiaries:*` — the people and families the NGO helps.
//!
//! Lists take `limit` (default 50) and `skip`, optional `status` and `city` filters and a
//! free-text `search` on the name (Turkish rules, last word as a prefix), and return
//! `{ documents, total }` as the reference app's screens expect. The TC number (Turkish
//! national id) must be exactly 11 digits and is unique.

use super::{count_arg, documents_and_total, fields, id_and_changes, id_arg, str_arg};
use roomsync_shared::engine::query::OffsetPage;
use roomsync_shared::engine::store::Document;
use roomsync_shared::engine::{FnError, Order, Registry, Tx};
use roomsync_shared::model::validation::ValidationError;
use roomsync_shared::model::validator::{v, Validator};
use roomsync_shared::model::value::Value;
use std::collections::BTreeMap;

const TABLE: &str = "beneficiaries";
const DEFAULT_LIMIT: usize = 50;
const MAX_LIMIT: usize = 500;

fn status() -> Validator {
    v::enumeration(["TASLAK", "AKTIF", "PASIF", "SILINDI"])
}

pub fn register(registry: Registry) -> Registry {
    registry
        .query(
            "beneficiaries:list",
            v::object([
                ("limit", v::optional(v::number())),
                ("skip", v::optional(v::number())),
                ("status", v::optional(status())),
                ("city", v::optional(v::string())),
                ("search", v::optional(v::string())),
            ]),
            list,
        )
        .query("beneficiaries:get", v::object([("id", v::id(TABLE))]), get)
        .mutation("beneficiaries:create", v::any(), create)
        .mutation("beneficiaries:update", v::any(), update)
        .mutation("beneficiaries:remove", v::object([("id", v::id(TABLE))]), remove)
}

fn list(tx: &mut Tx<'_>, args: &Value) -> Result<Value, FnError> {
    let limit = count_arg(args, "limit", DEFAULT_LIMIT, MAX_LIMIT)?;
    let skip = count_arg(args, "skip", 0, usize::MAX >> 11)?;
    let status = str_arg(args, "status").map(str::to_string);
    let city = str_arg(args, "city").map(str::to_string);
    let field_is = |d: &Document, name: &str, wanted: &Option<String>| {
        wanted.as_deref().is_none_or(|w| d.fields.get(name).and_then(Value::as_str) == Some(w))
    };
    // A search goes through the full-text index (most relevant first, then newest).
    if let Some(search) = str_arg(args, "search").filter(|s| !s.trim().is_empty()) {
        let matches: Vec<Document> = tx
            .search(TABLE, "by_search", search)
            .collect()?
            .into_iter()
            .filter(|d| field_is(d, "status", &status) && field_is(d, "city", &city))
            .collect();
        let total = matches.len();
        let documents = matches.into_iter().skip(skip).take(limit).collect();
        return Ok(documents_and_total(OffsetPage { documents, total }));
    }
    let query = match (&status, &city) {
        (Some(s), _) => tx.query(TABLE).with_index("by_status").eq(s.as_str()),
        (None, Some(c)) => tx.query(TABLE).with_index("by_city").eq(c.as_str()),
        (None, None) => tx.query(TABLE),
    };
    let page = query.order(Order::Desc).filter(move |d| field_is(d, "city", &city)).offset_page(skip, limit)?;
    Ok(documents_and_total(page))
}

fn get(tx: &mut Tx<'_>, args: &Value) -> Result<Value, FnError> {
    Ok(tx.get(TABLE, &id_arg(args)?)?.map(|d| d.to_value()).unwrap_or(Value::Null))
}

/// A TC number is exactly 11 digits.
fn check_tc_no(fields: &BTreeMap<String, Value>) -> Result<(), FnError> {
    match fields.get("tc_no") {
        Some(Value::String(tc)) if tc.len() == 11 && tc.bytes().all(|b| b.is_ascii_digit()) => Ok(()),
        Some(Value::String(tc)) => Err(ValidationError::new(
            "beneficiaries.tc_no",
            "a TC number of exactly 11 digits",
            roomsync_shared::model::validator::describe_value(&Value::String(tc.clone())),
        )
        .into()),
        _ => Ok(()), // missing or not a string: the schema check names it
    }
}

fn create(tx: &mut Tx<'_>, args: &Value) -> Result<Value, FnError> {
    let doc = fields(args);
    check_tc_no(&doc)?;
    Ok(Value::String(tx.insert(TABLE, Value::Object(doc))?.to_string()))
}

fn update(tx: &mut Tx<'_>, args: &Value) -> Result<Value, FnError> {
    let (id, changes) = id_and_changes(args, TABLE)?;
    if let Value::Object(fields) = &changes {
        check_tc_no(fields)?;
    }
    tx.patch(TABLE, &id, changes)?;
    Ok(Value::Null)
}

fn remove(tx: &mut Tx<'_>, args: &Value) -> Result<Value, FnError> {
    tx.delete(TABLE, &id_arg(args)?)?;
    Ok(Value::Null)
}
