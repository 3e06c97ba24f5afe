//! [`DocStore`] over any [`Sql`] store: the tables below and the statements on them. The
//! only place the engine's document layout is written as SQL.
//!
//! ```text
//! _meta(key, value)                      counters (the commit timestamp, search row ids, …)
//! _docs(tbl, id, creation_time, body)    one row per document; body = JSON of its fields
//! _idx(tbl, idx, key, id)                one row per document per index
//! _uniq(tbl, ukey, key, id)              one row per document per unique key it fills
//! _search_words(body)                    FTS5: a document's folded words, per search index
//! _search_map(tbl, idx, id, rid)         which FTS5 row holds which document's words
//! ```
//!
//! Keys are BLOBs in an order-preserving encoding (the engine's), so a range scan is a BLOB
//! range here and SQLite compares them with `memcmp`.

use super::docs::{DocStore, IndexScan, StoredDoc};
use super::{Sql, SqlValue, StorageError};
use std::ops::Bound;

/// The stored layout of search rows; a change rebuilds every search index (the engine's
/// migration compares it).
pub const SEARCH_LAYOUT: &str = "words-v2";

/// Creates the document tables (idempotent).
pub const DOCUMENT_TABLES: &[&str] = &[
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
    // The tagged search layout before `words-v2`: its rows are rebuilt into `_search_words`.
    "DROP TABLE IF EXISTS _search",
    "CREATE VIRTUAL TABLE IF NOT EXISTS _search_words USING fts5(body, tokenize = 'unicode61')",
    "CREATE TABLE IF NOT EXISTS _search_map (
        tbl TEXT NOT NULL, idx TEXT NOT NULL, id TEXT NOT NULL, rid INTEGER NOT NULL,
        PRIMARY KEY (tbl, idx, id)) WITHOUT ROWID",
];

/// Runs [`DOCUMENT_TABLES`].
pub fn create_document_tables(sql: &(impl Sql + ?Sized)) -> Result<(), StorageError> {
    for statement in DOCUMENT_TABLES {
        sql.exec(statement, &[])?;
    }
    Ok(())
}

fn text_column(row: &[SqlValue], i: usize, what: &str) -> Result<String, StorageError> {
    match row.get(i) {
        Some(SqlValue::Text(s)) => Ok(s.clone()),
        other => Err(StorageError::Corrupt(format!("{what} column holds {other:?}"))),
    }
}

/// A `(id, creation_time, body)` row.
fn stored_doc(row: &[SqlValue]) -> Result<StoredDoc, StorageError> {
    let id = text_column(row, 0, "document id")?;
    let creation_time = match row.get(1) {
        Some(SqlValue::Real(f)) => *f,
        Some(SqlValue::Integer(i)) => *i as f64,
        other => return Err(StorageError::Corrupt(format!("creation time column of {id} holds {other:?}"))),
    };
    let body = text_column(row, 2, "document body")?;
    Ok(StoredDoc { id, creation_time, body })
}

/// `word` as an FTS5 string: typed text is never read as FTS5 syntax.
fn quoted(word: &str) -> String {
    format!("\"{}\"", word.replace('"', "\"\""))
}

fn blob(key: &[u8]) -> SqlValue {
    SqlValue::Blob(key.to_vec())
}

impl<S: Sql + ?Sized> DocStore for S {
    fn document(&self, table: &str, id: &str) -> Result<Option<StoredDoc>, StorageError> {
        let rows = self
            .exec("SELECT id, creation_time, body FROM _docs WHERE tbl = ? AND id = ?", &[table.into(), id.into()])?;
        rows.first().map(|row| stored_doc(row)).transpose()
    }

    fn documents(&self, table: &str) -> Result<Vec<StoredDoc>, StorageError> {
        self.exec("SELECT id, creation_time, body FROM _docs WHERE tbl = ? ORDER BY id", &[table.into()])?
            .iter()
            .map(|row| stored_doc(row))
            .collect()
    }

    fn insert_document(&self, table: &str, doc: &StoredDoc) -> Result<(), StorageError> {
        self.exec(
            "INSERT INTO _docs (tbl, id, creation_time, body) VALUES (?, ?, ?, ?)",
            &[table.into(), doc.id.as_str().into(), doc.creation_time.into(), doc.body.as_str().into()],
        )?;
        Ok(())
    }

    fn update_body(&self, table: &str, id: &str, body: &str) -> Result<(), StorageError> {
        self.exec("UPDATE _docs SET body = ? WHERE tbl = ? AND id = ?", &[body.into(), table.into(), id.into()])?;
        Ok(())
    }

    fn delete_document(&self, table: &str, id: &str) -> Result<(), StorageError> {
        self.exec("DELETE FROM _docs WHERE tbl = ? AND id = ?", &[table.into(), id.into()])?;
        Ok(())
    }

    fn put_index_row(&self, table: &str, index: &str, key: &[u8], id: &str) -> Result<(), StorageError> {
        self.exec(
            "INSERT INTO _idx (tbl, idx, key, id) VALUES (?, ?, ?, ?)",
            &[table.into(), index.into(), blob(key), id.into()],
        )?;
        Ok(())
    }

    fn delete_index_row(&self, table: &str, index: &str, key: &[u8]) -> Result<(), StorageError> {
        self.exec("DELETE FROM _idx WHERE tbl = ? AND idx = ? AND key = ?", &[table.into(), index.into(), blob(key)])?;
        Ok(())
    }

    fn clear_index(&self, table: &str, index: &str) -> Result<(), StorageError> {
        self.exec("DELETE FROM _idx WHERE tbl = ? AND idx = ?", &[table.into(), index.into()])?;
        Ok(())
    }

    fn scan(&self, scan: &IndexScan<'_>) -> Result<Vec<(Vec<u8>, StoredDoc)>, StorageError> {
        let mut sql = String::from(
            "SELECT i.key, d.id, d.creation_time, d.body FROM _idx i \
             JOIN _docs d ON d.tbl = i.tbl AND d.id = i.id WHERE i.tbl = ? AND i.idx = ?",
        );
        let mut params: Vec<SqlValue> = vec![scan.table.into(), scan.index.into()];
        for (bound, op) in [(scan.low, ">"), (scan.high, "<")] {
            let (key, or_equal) = match bound {
                Bound::Included(key) => (key, "="),
                Bound::Excluded(key) => (key, ""),
                Bound::Unbounded => continue,
            };
            sql.push_str(&format!(" AND i.key {op}{or_equal} ?"));
            params.push(blob(key));
        }
        sql.push_str(if scan.descending { " ORDER BY i.key DESC LIMIT ?" } else { " ORDER BY i.key ASC LIMIT ?" });
        params.push(SqlValue::Integer(i64::try_from(scan.limit).unwrap_or(i64::MAX)));
        self.exec(&sql, &params)?
            .into_iter()
            .map(|row| match row.first() {
                Some(SqlValue::Blob(key)) => Ok((key.clone(), stored_doc(&row[1..])?)),
                other => Err(StorageError::Corrupt(format!("index key column holds {other:?}"))),
            })
            .collect()
    }

    fn put_unique(&self, table: &str, name: &str, key: &[u8], id: &str) -> Result<(), StorageError> {
        self.exec(
            "INSERT INTO _uniq (tbl, ukey, key, id) VALUES (?, ?, ?, ?)",
            &[table.into(), name.into(), blob(key), id.into()],
        )?;
        Ok(())
    }

    fn delete_unique(&self, table: &str, name: &str, key: &[u8]) -> Result<(), StorageError> {
        self.exec("DELETE FROM _uniq WHERE tbl = ? AND ukey = ? AND key = ?", &[table.into(), name.into(), blob(key)])?;
        Ok(())
    }

    fn clear_unique(&self, table: &str, name: &str) -> Result<(), StorageError> {
        self.exec("DELETE FROM _uniq WHERE tbl = ? AND ukey = ?", &[table.into(), name.into()])?;
        Ok(())
    }

    fn unique_holder(&self, table: &str, name: &str, key: &[u8]) -> Result<Option<String>, StorageError> {
        let rows = self.exec(
            "SELECT id FROM _uniq WHERE tbl = ? AND ukey = ? AND key = ?",
            &[table.into(), name.into(), blob(key)],
        )?;
        rows.first().map(|row| text_column(row, 0, "unique key holder")).transpose()
    }

    fn put_search_entry(&self, table: &str, index: &str, id: &str, words: &str) -> Result<(), StorageError> {
        let rows = self.exec(
            "INSERT INTO _meta (key, value) VALUES ('search_rid', 1)
             ON CONFLICT (key) DO UPDATE SET value = value + 1 RETURNING value",
            &[],
        )?;
        let rid = rows
            .first()
            .and_then(|r| r.first())
            .and_then(SqlValue::as_integer)
            .ok_or_else(|| StorageError::Corrupt("the search row counter did not count".into()))?;
        // The map row first: an entry the index already holds is refused before any words
        // are written (the row id drawn is only skipped).
        self.exec(
            "INSERT INTO _search_map (tbl, idx, id, rid) VALUES (?, ?, ?, ?)",
            &[table.into(), index.into(), id.into(), rid.into()],
        )?;
        self.exec("INSERT INTO _search_words (rowid, body) VALUES (?, ?)", &[rid.into(), words.into()])?;
        Ok(())
    }

    fn delete_search_entry(&self, table: &str, index: &str, id: &str) -> Result<(), StorageError> {
        let rows = self.exec(
            "DELETE FROM _search_map WHERE tbl = ? AND idx = ? AND id = ? RETURNING rid",
            &[table.into(), index.into(), id.into()],
        )?;
        delete_search_words(self, rows)
    }

    fn clear_search_index(&self, table: &str, index: &str) -> Result<(), StorageError> {
        let rows = self
            .exec("DELETE FROM _search_map WHERE tbl = ? AND idx = ? RETURNING rid", &[table.into(), index.into()])?;
        delete_search_words(self, rows)
    }

    fn search(&self, table: &str, index: &str, terms: &[String], limit: usize) -> Result<Vec<StoredDoc>, StorageError> {
        let Some((last, rest)) = terms.split_last() else { return Ok(Vec::new()) };
        let mut query: Vec<String> = rest.iter().map(|w| quoted(w)).collect();
        query.push(format!("{}*", quoted(last)));
        self.exec(
            "SELECT d.id, d.creation_time, d.body FROM _search_words s
             JOIN _search_map m ON m.rid = s.rowid
             JOIN _docs d ON d.tbl = m.tbl AND d.id = m.id
             WHERE _search_words MATCH ? AND m.tbl = ? AND m.idx = ?
             ORDER BY bm25(_search_words), d.creation_time DESC LIMIT ?",
            &[query.join(" ").into(), table.into(), index.into(), i64::try_from(limit).unwrap_or(i64::MAX).into()],
        )?
        .iter()
        .map(|row| stored_doc(row))
        .collect()
    }
}

/// Deletes the FTS5 rows whose ids `rows` (from `… RETURNING rid`) hold.
fn delete_search_words(sql: &(impl Sql + ?Sized), rows: Vec<super::Row>) -> Result<(), StorageError> {
    for row in rows {
        let rid = row
            .first()
            .and_then(SqlValue::as_integer)
            .ok_or_else(|| StorageError::Corrupt(format!("a search row id holds {:?}", row.first())))?;
        sql.exec("DELETE FROM _search_words WHERE rowid = ?", &[rid.into()])?;
    }
    Ok(())
}
