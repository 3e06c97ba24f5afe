//! Documents as the engine sees them, and the rows each one keeps in the store: an index
//! row per index, a unique-key claim per unique key it fills, a search entry per search
//! index (`engine::search`). The rows go to a [`DocStore`] (SQLite in a room, memory in the
//! browser's predictions); this module decides what they hold.
//!
//! Index keys use the order-preserving encoding of [`crate::model::index_key`], so a range scan is a
//! byte range in the store, and the same bytes are what read sets and write sets compare.
//! Every table has the built-in index `by_creation_time` (key: `_creationTime, _id`).

use crate::model::ids::DocumentId;
use crate::model::index_key::encode_value;
use crate::model::schema::{TableDef, UniqueDef};
use crate::model::value::Value;
use crate::storage::{DocStore, StorageError, StoredDoc};
use std::collections::BTreeMap;

/// The built-in index every table has.
pub const BY_CREATION_TIME: &str = "by_creation_time";

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

/// The document a stored row holds; what does not decode is corrupt data.
pub fn decode_document(stored: StoredDoc) -> Result<Document, StorageError> {
    let StoredDoc { id, creation_time, body } = stored;
    let id = DocumentId::from_stored(id);
    let json: serde_json::Value =
        serde_json::from_str(&body).map_err(|e| StorageError::Corrupt(format!("document {id} is not JSON: {e}")))?;
    let fields = match Value::from_json(&json, id.as_str()) {
        Ok(Value::Object(fields)) => fields,
        Ok(other) => return Err(StorageError::Corrupt(format!("document {id} is a {}", other.type_name()))),
        Err(e) => return Err(StorageError::Corrupt(format!("document {id} does not decode: {e}"))),
    };
    Ok(Document { id, creation_time, fields })
}

/// The row a document is stored as.
pub fn encode_document(doc: &Document) -> StoredDoc {
    StoredDoc { id: doc.id.to_string(), creation_time: doc.creation_time, body: encode_body(&doc.fields) }
}

pub fn encode_body(fields: &BTreeMap<String, Value>) -> String {
    Value::Object(fields.clone()).to_json().to_string()
}

/// Reads one document.
pub fn load(store: &dyn DocStore, table: &str, id: &str) -> Result<Option<Document>, StorageError> {
    store.document(table, id)?.map(decode_document).transpose()
}

/// Writes the index rows of a document (after insert or update). Its search-index rows are
/// `search::add_entries`' (the transaction writes both).
pub fn add_index_entries(store: &dyn DocStore, table: &TableDef, doc: &Document) -> Result<(), StorageError> {
    for (name, key) in index_rows(table, doc) {
        store.put_index_row(&table.name, &name, &key, doc.id.as_str())?;
    }
    Ok(())
}

/// Removes the index and unique-key rows of a document (before update or delete); its
/// search-index rows are `search::remove_entries`'.
pub fn remove_index_entries(store: &dyn DocStore, table: &TableDef, doc: &Document) -> Result<(), StorageError> {
    for (name, key) in index_rows(table, doc) {
        store.delete_index_row(&table.name, &name, &key)?;
    }
    for (name, key) in unique_rows(table, doc) {
        store.delete_unique(&table.name, &name, &key)?;
    }
    Ok(())
}

/// Which document already holds `doc`'s value of a unique key, if another one does.
pub fn unique_conflict(
    store: &dyn DocStore,
    table: &TableDef,
    doc: &Document,
) -> Result<Option<(UniqueDef, DocumentId)>, StorageError> {
    for unique in &table.uniques {
        let Some(key) = unique_key(doc, unique) else {
            continue;
        };
        if let Some(other) = store.unique_holder(&table.name, &unique_name(unique), &key)? {
            if other != doc.id.as_str() {
                return Ok(Some((unique.clone(), DocumentId::from_stored(other))));
            }
        }
    }
    Ok(None)
}

/// Claims `doc`'s unique keys (call after [`unique_conflict`] found none).
pub fn add_unique_entries(store: &dyn DocStore, table: &TableDef, doc: &Document) -> Result<(), StorageError> {
    for (name, key) in unique_rows(table, doc) {
        store.put_unique(&table.name, &name, &key, doc.id.as_str())?;
    }
    Ok(())
}
