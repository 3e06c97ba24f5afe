//! A [`DocStore`] in memory, over B-trees: the store the browser's optimistic predictions
//! run on (see [`crate::optimistic`]), where there is no SQLite.
//!
//! It keeps documents, index rows, unique keys and search words exactly as the SQL store
//! does (the conformance suite in `storage/conformance.rs` runs the same operations on both
//! and compares), but it has no full-text engine: [`DocStore::search`] answers
//! [`StorageError::Unsupported`], so a query that searches fails here and the prediction
//! leaves its result alone (BM25 ranking could not be reproduced anyway).

use super::docs::{DocStore, IndexScan, StoredDoc};
use super::StorageError;
use std::cell::RefCell;
use std::collections::BTreeMap;
use std::ops::Bound;

/// (table, index or unique key name, key).
type Key = (String, String, Vec<u8>);

#[derive(Clone, Default)]
struct Tables {
    /// (table, id) → (creation time, body JSON).
    docs: BTreeMap<(String, String), (f64, String)>,
    /// (table, index, key) → id.
    idx: BTreeMap<Key, String>,
    /// (table, unique key name, key) → id.
    uniq: BTreeMap<Key, String>,
    /// (table, search index, id) → words.
    words: BTreeMap<(String, String, String), String>,
}

/// Documents, index rows, unique keys and search words in memory.
#[derive(Default)]
pub struct MemoryStore {
    tables: RefCell<Tables>,
}

/// Inserts under a key not yet taken, as a primary key refuses a second row (`taken` says
/// what was refused).
fn insert_new<K: Ord, V>(
    map: &mut BTreeMap<K, V>,
    at: K,
    value: V,
    taken: impl FnOnce() -> String,
) -> Result<(), StorageError> {
    match map.entry(at) {
        std::collections::btree_map::Entry::Occupied(_) => Err(StorageError::Driver(taken())),
        std::collections::btree_map::Entry::Vacant(slot) => {
            slot.insert(value);
            Ok(())
        }
    }
}

fn key(table: &str, name: &str, key: &[u8]) -> Key {
    (table.to_string(), name.to_string(), key.to_vec())
}

/// Every key of one index or unique key sorts between these two ("\0" sorts before every
/// character a name may hold).
fn name_range(table: &str, name: &str) -> (Key, Key) {
    (key(table, name, &[]), key(table, &format!("{name}\0"), &[]))
}

impl MemoryStore {
    pub fn new() -> Self {
        Self::default()
    }

    /// Number of documents held (all tables).
    pub fn document_count(&self) -> usize {
        self.tables.borrow().docs.len()
    }

    /// Runs `body` so that either all of its writes stay or none do: an `Err` restores the
    /// store as it was.
    pub fn atomically<T, E>(&self, body: impl FnOnce() -> Result<T, E>) -> Result<T, E> {
        let before = self.tables.borrow().clone();
        let result = body();
        if result.is_err() {
            *self.tables.borrow_mut() = before;
        }
        result
    }

    /// Whether a document with this id is held (without copying it, as `document` would).
    pub fn has_document(&self, table: &str, id: &str) -> bool {
        self.tables.borrow().docs.contains_key(&(table.to_string(), id.to_string()))
    }

    fn clear(map: &mut BTreeMap<Key, String>, table: &str, name: &str) {
        let (low, high) = name_range(table, name);
        let doomed: Vec<Key> = map.range(low..high).map(|(k, _)| k.clone()).collect();
        for k in doomed {
            map.remove(&k);
        }
    }
}

impl DocStore for MemoryStore {
    fn document(&self, table: &str, id: &str) -> Result<Option<StoredDoc>, StorageError> {
        let tables = self.tables.borrow();
        Ok(tables.docs.get(&(table.to_string(), id.to_string())).map(|(creation_time, body)| StoredDoc {
            id: id.to_string(),
            creation_time: *creation_time,
            body: body.clone(),
        }))
    }

    fn documents(&self, table: &str) -> Result<Vec<StoredDoc>, StorageError> {
        let tables = self.tables.borrow();
        let low = (table.to_string(), String::new());
        Ok(tables
            .docs
            .range(low..)
            .take_while(|((t, _), _)| t == table)
            .map(|((_, id), (creation_time, body))| StoredDoc {
                id: id.clone(),
                creation_time: *creation_time,
                body: body.clone(),
            })
            .collect())
    }

    fn insert_document(&self, table: &str, doc: &StoredDoc) -> Result<(), StorageError> {
        let docs = &mut self.tables.borrow_mut().docs;
        let at = (table.to_string(), doc.id.clone());
        insert_new(docs, at, (doc.creation_time, doc.body.clone()), || format!("document {} is already stored", doc.id))
    }

    fn update_body(&self, table: &str, id: &str, body: &str) -> Result<(), StorageError> {
        if let Some(doc) = self.tables.borrow_mut().docs.get_mut(&(table.to_string(), id.to_string())) {
            doc.1 = body.to_string();
        }
        Ok(())
    }

    fn delete_document(&self, table: &str, id: &str) -> Result<(), StorageError> {
        self.tables.borrow_mut().docs.remove(&(table.to_string(), id.to_string()));
        Ok(())
    }

    fn put_index_row(&self, table: &str, index: &str, k: &[u8], id: &str) -> Result<(), StorageError> {
        let idx = &mut self.tables.borrow_mut().idx;
        insert_new(idx, key(table, index, k), id.to_string(), || {
            format!("index {table}.{index} already holds this key")
        })
    }

    fn delete_index_row(&self, table: &str, index: &str, k: &[u8]) -> Result<(), StorageError> {
        self.tables.borrow_mut().idx.remove(&key(table, index, k));
        Ok(())
    }

    fn clear_index(&self, table: &str, index: &str) -> Result<(), StorageError> {
        Self::clear(&mut self.tables.borrow_mut().idx, table, index);
        Ok(())
    }

    fn scan(&self, scan: &IndexScan<'_>) -> Result<Vec<(Vec<u8>, StoredDoc)>, StorageError> {
        let (first, last) = name_range(scan.table, scan.index);
        let at = |k: &[u8]| key(scan.table, scan.index, k);
        let low = match scan.low {
            Bound::Included(k) => Bound::Included(at(k)),
            Bound::Excluded(k) => Bound::Excluded(at(k)),
            Bound::Unbounded => Bound::Included(first),
        };
        let high = match scan.high {
            Bound::Included(k) => Bound::Included(at(k)),
            Bound::Excluded(k) => Bound::Excluded(at(k)),
            Bound::Unbounded => Bound::Excluded(last),
        };
        // An empty or inverted range: `BTreeMap::range` would panic on it.
        let empty = match (&low, &high) {
            (Bound::Included(l), Bound::Included(h)) => l > h,
            (Bound::Included(l) | Bound::Excluded(l), Bound::Included(h) | Bound::Excluded(h)) => l >= h,
            _ => false,
        };
        if empty {
            return Ok(Vec::new());
        }
        let tables = self.tables.borrow();
        let row = |(k, id): (&Key, &String)| -> Option<(Vec<u8>, StoredDoc)> {
            let (creation_time, body) = tables.docs.get(&(scan.table.to_string(), id.clone()))?;
            Some((k.2.clone(), StoredDoc { id: id.clone(), creation_time: *creation_time, body: body.clone() }))
        };
        let rows = tables.idx.range((low, high));
        Ok(if scan.descending {
            rows.rev().filter_map(row).take(scan.limit).collect()
        } else {
            rows.filter_map(row).take(scan.limit).collect()
        })
    }

    fn put_unique(&self, table: &str, name: &str, k: &[u8], id: &str) -> Result<(), StorageError> {
        let uniq = &mut self.tables.borrow_mut().uniq;
        insert_new(uniq, key(table, name, k), id.to_string(), || {
            format!("unique key {table}.{name} is already claimed")
        })
    }

    fn delete_unique(&self, table: &str, name: &str, k: &[u8]) -> Result<(), StorageError> {
        self.tables.borrow_mut().uniq.remove(&key(table, name, k));
        Ok(())
    }

    fn clear_unique(&self, table: &str, name: &str) -> Result<(), StorageError> {
        Self::clear(&mut self.tables.borrow_mut().uniq, table, name);
        Ok(())
    }

    fn unique_holder(&self, table: &str, name: &str, k: &[u8]) -> Result<Option<String>, StorageError> {
        Ok(self.tables.borrow().uniq.get(&key(table, name, k)).cloned())
    }

    fn put_search_entry(&self, table: &str, index: &str, id: &str, words: &str) -> Result<(), StorageError> {
        let words_of = &mut self.tables.borrow_mut().words;
        let at = (table.to_string(), index.to_string(), id.to_string());
        insert_new(words_of, at, words.to_string(), || format!("search index {table}.{index} already holds {id}"))
    }

    fn delete_search_entry(&self, table: &str, index: &str, id: &str) -> Result<(), StorageError> {
        self.tables.borrow_mut().words.remove(&(table.to_string(), index.to_string(), id.to_string()));
        Ok(())
    }

    fn clear_search_index(&self, table: &str, index: &str) -> Result<(), StorageError> {
        self.tables.borrow_mut().words.retain(|(t, i, _), _| !(t == table && i == index));
        Ok(())
    }

    fn search(&self, _: &str, _: &str, _: &[String], _: usize) -> Result<Vec<StoredDoc>, StorageError> {
        Err(StorageError::Unsupported("full-text search runs in the room only, not in the in-memory store".into()))
    }
}
