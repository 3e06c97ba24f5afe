//! `donations:*` — gifts received, their receipts, and their approval into the books.
//!
//! `donations:approve` is the multi-table mutation: it marks the donation approved and writes
//! its income record in `finance_records` in the same transaction — both or neither.

use super::{count_arg, documents_and_total, fields, id_and_changes, id_arg, object, str_arg};
use roomsync_shared::engine::store::Document;
use roomsync_shared::engine::{FnError, Order, Registry, Tx};
use roomsync_shared::model::text;
use roomsync_shared::model::validator::{v, Validator};
use roomsync_shared::model::value::Value;
use std::collections::BTreeMap;

const TABLE: &str = "donations";
const CURRENCIES: [&str; 3] = ["TRY", "USD", "EUR"];

fn status() -> Validator {
    v::enumeration(["pending", "approved", "completed", "cancelled", "rejected"])
}

pub fn register(registry: Registry) -> Registry {
    registry
        .query(
            "donations:list",
            v::object([
                ("limit", v::optional(v::number())),
                ("skip", v::optional(v::number())),
                ("status", v::optional(status())),
                ("search", v::optional(v::string())),
            ]),
            list,
        )
        .query("donations:get", v::object([("id", v::id(TABLE))]), get)
        .query("donations:byReceipt", v::object([("receipt_number", v::string())]), by_receipt)
        .query("donations:totals", v::object([("status", v::optional(status()))]), totals)
        .mutation("donations:create", v::any(), create)
        .mutation("donations:update", v::any(), update)
        .mutation("donations:remove", v::object([("id", v::id(TABLE))]), remove)
        .mutation("donations:approve", v::object([("id", v::id(TABLE)), ("approved_by", v::id("users"))]), approve)
}

/// Newest first; `search` matches the donor's name (Turkish rules, last word as a prefix).
fn list(tx: &mut Tx<'_>, args: &Value) -> Result<Value, FnError> {
    let limit = count_arg(args, "limit", 50, 500)?;
    let skip = count_arg(args, "skip", 0, usize::MAX >> 11)?;
    let search = str_arg(args, "search").map(str::to_string).filter(|s| !s.trim().is_empty());
    let query = match str_arg(args, "status") {
        Some(s) => tx.query(TABLE).with_index("by_status").eq(s),
        None => tx.query(TABLE),
    };
    let page = query
        .order(Order::Desc)
        .filter(move |d| search.as_deref().is_none_or(|s| text::matches(field_str(d, "donor_name"), s)))
        .offset_page(skip, limit)?;
    Ok(documents_and_total(page))
}

fn field_str<'d>(doc: &'d Document, name: &str) -> &'d str {
    doc.fields.get(name).and_then(Value::as_str).unwrap_or("")
}

fn get(tx: &mut Tx<'_>, args: &Value) -> Result<Value, FnError> {
    Ok(tx.get(TABLE, &id_arg(args)?)?.map(|d| d.to_value()).unwrap_or(Value::Null))
}

/// The donation with this receipt number (unique), or null.
fn by_receipt(tx: &mut Tx<'_>, args: &Value) -> Result<Value, FnError> {
    let receipt = str_arg(args, "receipt_number").unwrap_or_default().to_string();
    let found = tx.query(TABLE).with_index("by_receipt_number").eq(receipt.as_str()).unique()?;
    Ok(found.map(|d| d.to_value()).unwrap_or(Value::Null))
}

/// Sum of amounts per currency, e.g. `{ "TRY": 1250, "USD": 40, "EUR": 0 }`.
fn totals(tx: &mut Tx<'_>, args: &Value) -> Result<Value, FnError> {
    let donations = match str_arg(args, "status") {
        Some(s) => tx.query(TABLE).with_index("by_status").eq(s).collect()?,
        None => tx.query(TABLE).collect()?,
    };
    let mut sums: BTreeMap<String, Value> = CURRENCIES.iter().map(|c| (c.to_string(), Value::Number(0.0))).collect();
    for d in donations {
        let (Some(Value::String(currency)), Some(Value::Number(amount))) =
            (d.fields.get("currency"), d.fields.get("amount"))
        else {
            continue;
        };
        if let Some(Value::Number(sum)) = sums.get_mut(currency) {
            *sum += amount;
        }
    }
    Ok(Value::Object(sums))
}

fn create(tx: &mut Tx<'_>, args: &Value) -> Result<Value, FnError> {
    let mut donation = fields(args);
    donation.entry("status".into()).or_insert_with(|| Value::from("pending"));
    Ok(Value::String(tx.insert(TABLE, Value::Object(donation))?.to_string()))
}

fn update(tx: &mut Tx<'_>, args: &Value) -> Result<Value, FnError> {
    let (id, changes) = id_and_changes(args, TABLE)?;
    tx.patch(TABLE, &id, changes)?;
    Ok(Value::Null)
}

fn remove(tx: &mut Tx<'_>, args: &Value) -> Result<Value, FnError> {
    tx.delete(TABLE, &id_arg(args)?)?;
    Ok(Value::Null)
}

/// Approves a pending donation and books it as income; returns the finance record's id.
fn approve(tx: &mut Tx<'_>, args: &Value) -> Result<Value, FnError> {
    let id = id_arg(args)?;
    let approver = str_arg(args, "approved_by").unwrap_or_default().to_string();
    let donation = tx.get(TABLE, &id)?.ok_or_else(|| FnError::NotFound { table: TABLE.into(), id: id.clone() })?;
    let status = field_str(&donation, "status");
    if status != "pending" {
        return Err(FnError::Application(format!("only a pending donation can be approved; {TABLE} {id} is {status}")));
    }
    tx.patch(TABLE, &id, object([("status", Value::from("approved"))]))?;
    let now = text::iso_timestamp(tx.now_ms()?);
    let get = |name: &str| donation.fields.get(name).cloned().unwrap_or(Value::Null);
    let description =
        format!("Bağış: {} ({})", field_str(&donation, "donor_name"), field_str(&donation, "receipt_number"));
    let record = object([
        ("record_type", Value::from("income")),
        ("category", Value::from("donation")),
        ("amount", get("amount")),
        ("currency", get("currency")),
        ("description", Value::String(description)),
        ("transaction_date", Value::String(now)),
        ("receipt_number", get("receipt_number")),
        ("related_to", Value::String(format!("{TABLE}:{id}"))),
        ("created_by", Value::String(approver.clone())),
        ("approved_by", Value::String(approver)),
        ("status", Value::from("approved")),
    ]);
    Ok(Value::String(tx.insert("finance_records", record)?.to_string()))
}
