//! An in-memory [`Sql`] that runs the engine's own statements over B-trees: the store the
//! browser's optimistic predictions run on (see [`crate::optimistic`]), where there is no
//! SQLite.
//!
//! It is not a SQL engine. It knows the fixed set of statements the engine issues on
//! documents, index rows and unique keys (matched by their text, whitespace-insensitive),
//! accepts the search-index bookkeeping writes as no-ops, and refuses anything else with a
//! message naming the statement — in particular full-text searches, which need FTS5: a
//! query that searches simply fails here, and the prediction leaves its result alone.
//! `tests` run the same engine operations on SQLite and on this store and compare.

use crate::storage::{Row, Sql, SqlValue, StorageError};
use std::cell::RefCell;
use std::collections::BTreeMap;
use std::ops::Bound;

type Key = (String, String, Vec<u8>);

#[derive(Clone, Default)]
struct Tables {
    /// (table, id) → (creation time, body JSON).
    docs: BTreeMap<(String, String), (f64, String)>,
    /// (table, index, key) → id.
    idx: BTreeMap<Key, String>,
    /// (table, unique key name, key) → id.
    uniq: BTreeMap<Key, String>,
    search_rid: i64,
}

/// Documents, index rows and unique keys in memory.
#[derive(Default)]
pub struct MemorySql {
    tables: RefCell<Tables>,
}

fn text(params: &[SqlValue], i: usize) -> Result<String, StorageError> {
    match params.get(i) {
        Some(SqlValue::Text(s)) => Ok(s.clone()),
        other => Err(StorageError::Unsupported(format!("parameter {} should be text, got {other:?}", i + 1))),
    }
}

fn blob(params: &[SqlValue], i: usize) -> Result<Vec<u8>, StorageError> {
    match params.get(i) {
        Some(SqlValue::Blob(b)) => Ok(b.clone()),
        other => Err(StorageError::Unsupported(format!("parameter {} should be a blob, got {other:?}", i + 1))),
    }
}

fn real(params: &[SqlValue], i: usize) -> Result<f64, StorageError> {
    match params.get(i) {
        Some(SqlValue::Real(f)) => Ok(*f),
        Some(SqlValue::Integer(n)) => Ok(*n as f64),
        other => Err(StorageError::Unsupported(format!("parameter {} should be a number, got {other:?}", i + 1))),
    }
}

/// A `(tbl, idx|ukey, key)` key from a statement's first three parameters.
fn row_key(params: &[SqlValue]) -> Result<Key, StorageError> {
    Ok((text(params, 0)?, text(params, 1)?, blob(params, 2)?))
}

const SCAN: &str = "SELECT i.key, d.id, d.creation_time, d.body FROM _idx i JOIN _docs d ON d.tbl = i.tbl AND d.id = i.id WHERE i.tbl = ? AND i.idx = ?";

impl MemorySql {
    pub fn new() -> Self {
        Self::default()
    }

    /// Number of documents held (all tables).
    pub fn document_count(&self) -> usize {
        self.tables.borrow().docs.len()
    }

    /// Loads a stored document — its id, creation time, encoded body, index rows and unique
    /// keys, as an insert would write them — without going through statement text
    /// (predictions load every document a client holds; this is their hot path). The caller
    /// computes the rows (`engine::store`), so this layer knows no document type. `false`
    /// when a document with this id is already loaded (it is left as it is).
    pub fn put_document(
        &self,
        table: &str,
        id: &str,
        (creation_time, body): (f64, String),
        indexes: impl IntoIterator<Item = (String, Vec<u8>)>,
        uniques: impl IntoIterator<Item = (String, Vec<u8>)>,
    ) -> bool {
        let mut t = self.tables.borrow_mut();
        let key = (table.to_string(), id.to_string());
        if t.docs.contains_key(&key) {
            return false;
        }
        t.docs.insert(key, (creation_time, body));
        for (name, key) in indexes {
            t.idx.insert((table.to_string(), name, key), id.to_string());
        }
        for (name, key) in uniques {
            t.uniq.insert((table.to_string(), name, key), id.to_string());
        }
        true
    }

    /// An index range scan: `WHERE i.tbl = ? AND i.idx = ?` then `AND i.key >= ?`,
    /// `AND i.key > ?`, `AND i.key < ?` in any order, `ORDER BY i.key ASC|DESC LIMIT ?`.
    fn scan(&self, rest: &str, params: &[SqlValue]) -> Result<Vec<Row>, StorageError> {
        let (table, index) = (text(params, 0)?, text(params, 1)?);
        let (mut low, mut high) = (Bound::Unbounded, Bound::Unbounded);
        let mut next = 2;
        let mut rest = rest.trim();
        while let Some(clause) = rest.strip_prefix("AND i.key ") {
            let (op, tail) = clause.split_once(" ?").unwrap_or((clause, ""));
            let key = (table.clone(), index.clone(), blob(params, next)?);
            next += 1;
            match op {
                ">=" => low = Bound::Included(key),
                ">" => low = Bound::Excluded(key),
                "<" => high = Bound::Excluded(key),
                other => {
                    return Err(StorageError::Unsupported(format!(
                        "the in-memory store cannot compare keys with {other:?}"
                    )))
                }
            }
            rest = tail.trim();
        }
        let descending = match rest {
            "ORDER BY i.key ASC LIMIT ?" => false,
            "ORDER BY i.key DESC LIMIT ?" => true,
            other => {
                return Err(StorageError::Unsupported(format!(
                    "the in-memory store cannot run a scan ending {other:?}"
                )))
            }
        };
        let limit = params.get(next).and_then(SqlValue::as_integer).unwrap_or(i64::MAX).max(0) as usize;
        // Keys of this index only: the bounds default to the index's own range ("\0" sorts
        // before every character an index name may hold).
        if let Bound::Unbounded = low {
            low = Bound::Included((table.clone(), index.clone(), Vec::new()));
        }
        if let Bound::Unbounded = high {
            high = Bound::Excluded((table.clone(), format!("{index}\0"), Vec::new()));
        }
        let tables = self.tables.borrow();
        let in_index = |(t, i, _): &Key| *t == table && *i == index;
        let rows = tables.idx.range((low, high)).filter(|(k, _)| in_index(k));
        let row = |(key, id): (&Key, &String)| -> Option<Row> {
            let (created, body) = tables.docs.get(&(table.clone(), id.clone()))?;
            Some(vec![
                SqlValue::Blob(key.2.clone()),
                SqlValue::Text(id.clone()),
                SqlValue::Real(*created),
                SqlValue::Text(body.clone()),
            ])
        };
        Ok(if descending {
            rows.rev().filter_map(row).take(limit).collect()
        } else {
            rows.filter_map(row).take(limit).collect()
        })
    }
}

impl Sql for MemorySql {
    fn exec(&self, sql: &str, params: &[SqlValue]) -> Result<Vec<Row>, StorageError> {
        // Most statements are written on one line: compare them as they are.
        let statement = match sql.contains(['\n', '\t']) || sql.contains("  ") {
            true => std::borrow::Cow::Owned(sql.split_whitespace().collect::<Vec<_>>().join(" ")),
            false => std::borrow::Cow::Borrowed(sql),
        };
        if let Some(rest) = statement.strip_prefix(SCAN) {
            return self.scan(rest, params);
        }
        let mut t = self.tables.borrow_mut();
        let none = Ok(Vec::new());
        match statement.as_ref() {
            "INSERT INTO _docs (tbl, id, creation_time, body) VALUES (?, ?, ?, ?)" => {
                t.docs.insert((text(params, 0)?, text(params, 1)?), (real(params, 2)?, text(params, 3)?));
                none
            }
            "SELECT id, creation_time, body FROM _docs WHERE tbl = ? AND id = ?" => {
                let id = text(params, 1)?;
                Ok(t.docs
                    .get(&(text(params, 0)?, id.clone()))
                    .map(|(created, body)| {
                        vec![SqlValue::Text(id), SqlValue::Real(*created), SqlValue::Text(body.clone())]
                    })
                    .into_iter()
                    .collect())
            }
            "UPDATE _docs SET body = ? WHERE tbl = ? AND id = ?" => {
                let body = text(params, 0)?;
                if let Some(doc) = t.docs.get_mut(&(text(params, 1)?, text(params, 2)?)) {
                    doc.1 = body;
                }
                none
            }
            "DELETE FROM _docs WHERE tbl = ? AND id = ?" => {
                t.docs.remove(&(text(params, 0)?, text(params, 1)?));
                none
            }
            "INSERT INTO _idx (tbl, idx, key, id) VALUES (?, ?, ?, ?)" => {
                t.idx.insert(row_key(params)?, text(params, 3)?);
                none
            }
            "DELETE FROM _idx WHERE tbl = ? AND idx = ? AND key = ?" => {
                t.idx.remove(&row_key(params)?);
                none
            }
            "INSERT INTO _uniq (tbl, ukey, key, id) VALUES (?, ?, ?, ?)" => {
                t.uniq.insert(row_key(params)?, text(params, 3)?);
                none
            }
            "DELETE FROM _uniq WHERE tbl = ? AND ukey = ? AND key = ?" => {
                t.uniq.remove(&row_key(params)?);
                none
            }
            "SELECT id FROM _uniq WHERE tbl = ? AND ukey = ? AND key = ?" => {
                Ok(t.uniq.get(&row_key(params)?).map(|id| vec![SqlValue::Text(id.clone())]).into_iter().collect())
            }
            // Search-index bookkeeping: searches do not run here, so their rows are not kept.
            s if s.starts_with("INSERT INTO _meta (key, value) VALUES ('search_rid', 1)") => {
                t.search_rid += 1;
                Ok(vec![vec![SqlValue::Integer(t.search_rid)]])
            }
            s if s.starts_with("INSERT INTO _search_words ")
                || s.starts_with("INSERT INTO _search_map ")
                || s.starts_with("DELETE FROM _search_map ")
                || s.starts_with("DELETE FROM _search_words ") =>
            {
                none
            }
            s if s.contains("FROM _search_words") => Err(StorageError::Unsupported(
                "full-text search runs in the room only, not in the in-memory store".into(),
            )),
            other => Err(StorageError::Unsupported(format!("the in-memory store does not run {other:?}"))),
        }
    }

    fn atomically<T, E: From<StorageError>>(&self, body: impl FnOnce() -> Result<T, E>) -> Result<T, E> {
        let before = self.tables.borrow().clone();
        let result = body();
        if result.is_err() {
            *self.tables.borrow_mut() = before;
        }
        result
    }
}
