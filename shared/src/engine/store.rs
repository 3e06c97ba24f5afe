//! The SQL layout of a room and the low-level reads and writes on it.
//!
//! ```text
//! _docs(tbl, id, creation_time, body)   one row per document; body = JSON of its fields
//! _idx(tbl, idx, key, id)               one row per document per index; key = encoded
//!                                       (indexed fields…, _creationTime, _id)
//! _uniq(tbl, ukey, key, id)             one row per document per unique key it fills
//! ```
//!
//! Index keys use the order-preserving encoding of [`crate::model::index_key`], so a range scan is a
//! BLOB range in SQLite, and the same bytes are what read sets and write sets compare.
//! Every table has the built-in index `by_creation_time` (key: `_creationTime, _id`).

use crate::model::ids::DocumentId;
use crate::model::index_key::encode_value;
use crate::model::schema::{TableDef, UniqueDef};
use crate::model::value::Value;
use crate::storage::{Sql, SqlValue, StorageError};
use std::collections::BTreeMap;

/// The built-in index every table has.
pub const BY_CREATION_TIME: &str = "by_creation_time";

pub const MIGRATIONS: &[&str] = &[
    "CREATE TABLE IF NOT EXISTS _meta (key TEXT PRIMARY KEY, value INTEGER NOT NULL)",
    "CREATE TABLE IF NOT EXISTS _docs (
        tbl TEXT NOT NULL, id TEXT NOT NULL, creation_time REAL NOT NULL, body TEXT NOT NULL,
        PRIMARY KEY (tbl, id)) WITHOUT ROWID",
    "CREATE TABLE IF NOT EXISTS _idx (
        tbl TEXT NOT NULL, idx TEXT NOT NULL, key BLOB NOT NULL, id TEXT NOT NULL,
        PRIMARY KEY (tbl, idx, key)) WITHOUT ROWID",
    "CREATE TABLE IF NOT EXISTS _uniq (
        tbl TEXT NOT NULL, ukey TEXT NOT NULL, key BLOB NOT NULL, id TEXT NOT NULL,
        PRIMARY KEY (tbl, ukey, key)) WITHOUT ROWID",
];

/// A stored document: system fields plus user fields.
#[derive(Clone, Debug, PartialEq)]
pub struct Document {
    pub id: DocumentId,
    pub creation_time: f64,
    pub fields: BTreeMap<String, Value>,
}

impl Document {
    /// The document as one value, with `_id` and `_creationTime`.
    pub fn to_value(&self) -> Value {
        let mut fields = self.fields.clone();
        fields.insert("_id".into(), Value::String(self.id.to_string()));
        fields.insert("_creationTime".into(), Value::Number(self.creation_time));
        Value::Object(fields)
    }

    /// The value at a dotted path, system fields included; `None` when absent.
    pub fn get_path(&self, path: &str) -> Option<Value> {
        match path {
            "_id" => return Some(Value::String(self.id.to_string())),
            "_creationTime" => return Some(Value::Number(self.creation_time)),
            _ => {}
        }
        let mut parts = path.split('.');
        let mut current = self.fields.get(parts.next()?)?;
        for part in parts {
            current = current.as_object()?.get(part)?;
        }
        Some(current.clone())
    }
}

/// The key of `doc` in an index over `fields` (then `_creationTime`, `_id`), plus the byte
/// offsets where each element ends (used to find every prefix of the key).
pub fn index_key(doc: &Document, fields: &[String]) -> (Vec<u8>, Vec<usize>) {
    let mut key = Vec::with_capacity(32);
    let mut ends = Vec::with_capacity(fields.len() + 2);
    for field in fields {
        match doc.get_path(field) {
            Some(v) => encode_value(&v, &mut key),
            None => key.push(0x01), // undefined: sorts first
        }
        ends.push(key.len());
    }
    encode_value(&Value::Number(doc.creation_time), &mut key);
    ends.push(key.len());
    encode_value(&Value::String(doc.id.to_string()), &mut key);
    ends.push(key.len());
    (key, ends)
}

/// The key of `doc` in a unique constraint, or `None` when it lacks one of the fields.
pub fn unique_key(doc: &Document, unique: &UniqueDef) -> Option<Vec<u8>> {
    let mut key = Vec::new();
    for field in &unique.fields {
        encode_value(&doc.get_path(field)?, &mut key);
    }
    Some(key)
}

pub fn unique_name(unique: &UniqueDef) -> String {
    unique.fields.join("+")
}

/// Every index of a table, built-in ones included: (name, fields).
pub fn indexes(table: &TableDef) -> Vec<(String, Vec<String>)> {
    let mut all = vec![(BY_CREATION_TIME.to_string(), Vec::new())];
    all.extend(table.indexes.iter().map(|i| (i.name.clone(), i.fields.clone())));
    all
}

/// Every index row of a document: (index name, key).
pub fn index_rows<'a>(table: &'a TableDef, doc: &'a Document) -> impl Iterator<Item = (String, Vec<u8>)> + 'a {
    indexes(table).into_iter().map(move |(name, fields)| (name, index_key(doc, &fields).0))
}

/// Every unique key a document fills: (unique key name, key).
pub fn unique_rows<'a>(table: &'a TableDef, doc: &'a Document) -> impl Iterator<Item = (String, Vec<u8>)> + 'a {
    table.uniques.iter().filter_map(move |unique| unique_key(doc, unique).map(|key| (unique_name(unique), key)))
}

pub fn decode_document(row: &[SqlValue]) -> Result<Document, StorageError> {
    let id = match row.first() {
        Some(SqlValue::Text(id)) => DocumentId::from_stored(id.clone()),
        other => return Err(StorageError::Corrupt(format!("document id column holds {other:?}"))),
    };
    let creation_time = match row.get(1) {
        Some(SqlValue::Real(f)) => *f,
        Some(SqlValue::Integer(i)) => *i as f64,
        other => return Err(StorageError::Corrupt(format!("creation time column holds {other:?}"))),
    };
    let body = match row.get(2) {
        Some(SqlValue::Text(body)) => body,
        other => return Err(StorageError::Corrupt(format!("body column holds {other:?}"))),
    };
    let json: serde_json::Value =
        serde_json::from_str(body).map_err(|e| StorageError::Corrupt(format!("document {id} is not JSON: {e}")))?;
    let fields = match Value::from_json(&json, id.as_str()) {
        Ok(Value::Object(fields)) => fields,
        Ok(other) => return Err(StorageError::Corrupt(format!("document {id} is a {}", other.type_name()))),
        Err(e) => return Err(StorageError::Corrupt(format!("document {id} does not decode: {e}"))),
    };
    Ok(Document { id, creation_time, fields })
}

pub fn encode_body(fields: &BTreeMap<String, Value>) -> String {
    Value::Object(fields.clone()).to_json().to_string()
}

/// Reads one document.
pub fn load(sql: &dyn Sql, table: &str, id: &str) -> Result<Option<Document>, StorageError> {
    let rows =
        sql.exec("SELECT id, creation_time, body FROM _docs WHERE tbl = ? AND id = ?", &[table.into(), id.into()])?;
    rows.first().map(|row| decode_document(row)).transpose()
}

/// Writes the index rows of a document (after insert or update). Its search-index rows are
/// `search::add_entries`' (the transaction writes both).
pub fn add_index_entries(sql: &dyn Sql, table: &TableDef, doc: &Document) -> Result<(), StorageError> {
    for (name, key) in index_rows(table, doc) {
        sql.exec(
            "INSERT INTO _idx (tbl, idx, key, id) VALUES (?, ?, ?, ?)",
            &[table.name.as_str().into(), name.into(), SqlValue::Blob(key), doc.id.as_str().into()],
        )?;
    }
    Ok(())
}

/// Removes the index and unique-key rows of a document (before update or delete); its
/// search-index rows are `search::remove_entries`'.
pub fn remove_index_entries(sql: &dyn Sql, table: &TableDef, doc: &Document) -> Result<(), StorageError> {
    for (name, key) in index_rows(table, doc) {
        sql.exec(
            "DELETE FROM _idx WHERE tbl = ? AND idx = ? AND key = ?",
            &[table.name.as_str().into(), name.into(), SqlValue::Blob(key)],
        )?;
    }
    for (name, key) in unique_rows(table, doc) {
        sql.exec(
            "DELETE FROM _uniq WHERE tbl = ? AND ukey = ? AND key = ?",
            &[table.name.as_str().into(), name.into(), SqlValue::Blob(key)],
        )?;
    }
    Ok(())
}

/// Which document already holds `doc`'s value of a unique key, if another one does.
pub fn unique_conflict(
    sql: &dyn Sql,
    table: &TableDef,
    doc: &Document,
) -> Result<Option<(UniqueDef, DocumentId)>, StorageError> {
    for unique in &table.uniques {
        let Some(key) = unique_key(doc, unique) else {
            continue;
        };
        let rows = sql.exec(
            "SELECT id FROM _uniq WHERE tbl = ? AND ukey = ? AND key = ?",
            &[table.name.as_str().into(), unique_name(unique).into(), SqlValue::Blob(key)],
        )?;
        if let Some(SqlValue::Text(other)) = rows.first().and_then(|r| r.first()) {
            if *other != doc.id.as_str() {
                return Ok(Some((unique.clone(), DocumentId::from_stored(other.clone()))));
            }
        }
    }
    Ok(None)
}

/// Claims `doc`'s unique keys (call after [`unique_conflict`] found none).
pub fn add_unique_entries(sql: &dyn Sql, table: &TableDef, doc: &Document) -> Result<(), StorageError> {
    for (name, key) in unique_rows(table, doc) {
        sql.exec(
            "INSERT INTO _uniq (tbl, ukey, key, id) VALUES (?, ?, ?, ?)",
            &[table.name.as_str().into(), name.into(), SqlValue::Blob(key), doc.id.as_str().into()],
        )?;
    }
    Ok(())
}
