//! The typed store the engine keeps documents in: documents, index rows, unique keys and
//! search words, each operation a method, none of them SQL text.
//!
//! Two implementations pass one conformance suite (`storage/conformance.rs`): every [`Sql`]
//! store (SQLite natively, DO SQLite in the worker: `storage/sql_docs.rs`) and the in-memory
//! [`MemoryStore`](super::memory::MemoryStore) the browser's predictions run on. The layer
//! knows no document type: a document is its id, creation time and encoded body
//! ([`StoredDoc`]); the engine (`engine::store`) decides what the body and the keys hold.
//!
//! [`Sql`]: super::Sql

use super::StorageError;
use std::ops::Bound;

/// A document as stored: the engine encodes and decodes the body.
#[derive(Clone, Debug, PartialEq)]
pub struct StoredDoc {
    pub id: String,
    /// Milliseconds since the epoch, as the commit's clock gave it.
    pub creation_time: f64,
    /// The user fields as JSON text.
    pub body: String,
}

/// A range of one index, in key order or backwards, at most `limit` rows.
#[derive(Clone, Debug)]
pub struct IndexScan<'k> {
    pub table: &'k str,
    pub index: &'k str,
    pub low: Bound<&'k [u8]>,
    pub high: Bound<&'k [u8]>,
    /// Highest key first.
    pub descending: bool,
    pub limit: usize,
}

/// Documents, index rows, unique keys and search words of a room. Writes inside an
/// atomic block of the implementation ([`Sql::atomically`](super::Sql::atomically),
/// [`MemoryStore::atomically`](super::memory::MemoryStore::atomically)) commit together.
pub trait DocStore {
    /// One document, if stored.
    fn document(&self, table: &str, id: &str) -> Result<Option<StoredDoc>, StorageError>;
    /// Every document of a table, by id (migrations check and re-index them).
    fn documents(&self, table: &str) -> Result<Vec<StoredDoc>, StorageError>;
    /// Stores a new document (its id is new: the engine draws it).
    fn insert_document(&self, table: &str, doc: &StoredDoc) -> Result<(), StorageError>;
    /// Replaces a stored document's body; the id and creation time stay.
    fn update_body(&self, table: &str, id: &str, body: &str) -> Result<(), StorageError>;
    fn delete_document(&self, table: &str, id: &str) -> Result<(), StorageError>;

    /// Records that `key` of `index` points at document `id`.
    fn put_index_row(&self, table: &str, index: &str, key: &[u8], id: &str) -> Result<(), StorageError>;
    fn delete_index_row(&self, table: &str, index: &str, key: &[u8]) -> Result<(), StorageError>;
    /// Drops every row of one index (before it is rebuilt, or when it is removed).
    fn clear_index(&self, table: &str, index: &str) -> Result<(), StorageError>;
    /// The rows of a range of one index with their documents, in the scan's order. A row
    /// whose document is gone is skipped.
    fn scan(&self, scan: &IndexScan<'_>) -> Result<Vec<(Vec<u8>, StoredDoc)>, StorageError>;

    /// Claims `key` of the unique key `name` for document `id`.
    fn put_unique(&self, table: &str, name: &str, key: &[u8], id: &str) -> Result<(), StorageError>;
    fn delete_unique(&self, table: &str, name: &str, key: &[u8]) -> Result<(), StorageError>;
    /// Drops every claim of one unique key.
    fn clear_unique(&self, table: &str, name: &str) -> Result<(), StorageError>;
    /// The document holding `key` of the unique key `name`, if one does.
    fn unique_holder(&self, table: &str, name: &str, key: &[u8]) -> Result<Option<String>, StorageError>;

    /// Indexes document `id` in search index `index` under `words` (folded words, spaces
    /// between).
    fn put_search_entry(&self, table: &str, index: &str, id: &str, words: &str) -> Result<(), StorageError>;
    fn delete_search_entry(&self, table: &str, index: &str, id: &str) -> Result<(), StorageError>;
    fn clear_search_index(&self, table: &str, index: &str) -> Result<(), StorageError>;
    /// Documents whose words hold every term, the last one as a prefix: most relevant
    /// first, newest first among equals, at most `limit`. Stores without a full-text engine
    /// answer [`StorageError::Unsupported`].
    fn search(&self, table: &str, index: &str, terms: &[String], limit: usize) -> Result<Vec<StoredDoc>, StorageError>;
}
