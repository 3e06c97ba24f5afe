//! The storage seams, two of them:
//!
//! - [`DocStore`] (`docs.rs`): the typed store of documents, index rows, unique keys and
//!   search words that transactions read and write. Every [`Sql`] store is one
//!   (`sql_docs.rs` holds the statements); [`memory::MemoryStore`] is another, for the
//!   browser's predictions. One conformance suite runs over both.
//! - [`Sql`]: "a SQLite connection that executes statements", for the room's own tables
//!   (connections, subscriptions, the commit counter) and migrations. Natively it runs on
//!   `rusqlite` (tests, benchmarks); in the Durable Object on DO SQLite. DO SQLite refuses
//!   `BEGIN`/`COMMIT`, so atomicity is a method of its own ([`Sql::atomically`]) that each
//!   platform implements with what it has.

#[cfg(test)]
mod conformance;
pub mod docs;
pub mod memory;
pub mod sql_docs;
#[cfg(any(test, feature = "native"))]
pub mod sqlite;

pub use docs::{DocStore, IndexScan, StoredDoc};

use thiserror::Error;

/// A value bound to, or read from, a statement.
#[derive(Clone, Debug, PartialEq)]
pub enum SqlValue {
    Null,
    Integer(i64),
    Real(f64),
    Text(String),
    Blob(Vec<u8>),
}

impl SqlValue {
    pub fn as_text(&self) -> Option<&str> {
        match self {
            SqlValue::Text(s) => Some(s),
            _ => None,
        }
    }

    /// SQLite may hand back an integer column as a float through some drivers
    /// (DO SQLite returns JS numbers); accept both when the value is integral.
    pub fn as_integer(&self) -> Option<i64> {
        match self {
            SqlValue::Integer(i) => Some(*i),
            SqlValue::Real(f) if f.fract() == 0.0 && f.abs() < 9.0e15 => Some(*f as i64),
            _ => None,
        }
    }
}

impl From<&str> for SqlValue {
    fn from(v: &str) -> Self {
        SqlValue::Text(v.to_string())
    }
}

impl From<String> for SqlValue {
    fn from(v: String) -> Self {
        SqlValue::Text(v)
    }
}

impl From<i64> for SqlValue {
    fn from(v: i64) -> Self {
        SqlValue::Integer(v)
    }
}

impl From<f64> for SqlValue {
    fn from(v: f64) -> Self {
        SqlValue::Real(v)
    }
}

/// A row as positional column values.
pub type Row = Vec<SqlValue>;

/// Storage failed, and why: the driver (retrying may help), the data (no retry will), or the
/// store (a statement it does not run). The message says what we were doing.
#[derive(Clone, Debug, PartialEq, Error)]
pub enum StorageError {
    /// SQLite or the platform's storage failed (I/O, a transaction that did not commit).
    #[error("storage failed: {0}")]
    Driver(String),
    /// What is stored is not what this build writes: a column of another type, a document
    /// that does not decode, a row that should exist and does not.
    #[error("stored data is corrupt: {0}")]
    Corrupt(String),
    /// The store cannot do this (the in-memory store has no full-text search).
    #[error("the store cannot run this: {0}")]
    Unsupported(String),
}

impl StorageError {
    /// Whether trying again may succeed (a driver failure); corrupt data stays corrupt.
    pub fn is_transient(&self) -> bool {
        matches!(self, StorageError::Driver(_))
    }
}

/// What a storage has done since it was opened, for the room's stats endpoint.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SqlCounters {
    /// Rows SQLite visited (what Cloudflare bills as rows read); 0 when unknown.
    pub rows_read: u64,
    /// Rows SQLite wrote, index rows included; 0 when unknown.
    pub rows_written: u64,
    /// Size of the database file in bytes.
    pub size_bytes: u64,
}

/// A SQLite connection that executes statements.
pub trait Sql {
    /// Rows read and written since opening, and the database size. Drivers that cannot
    /// count rows report 0.
    fn counters(&self) -> SqlCounters {
        let pragma = |name: &str| {
            self.exec(&format!("PRAGMA {name}"), &[])
                .ok()
                .and_then(|rows| rows.first().and_then(|r| r.first()).and_then(SqlValue::as_integer))
                .unwrap_or(0) as u64
        };
        SqlCounters { size_bytes: pragma("page_count") * pragma("page_size"), ..SqlCounters::default() }
    }

    /// Runs one statement with positional `?` parameters and returns every row it yields.
    fn exec(&self, sql: &str, params: &[SqlValue]) -> Result<Vec<Row>, StorageError>;

    /// Runs `body` so that either all of its writes commit or none do. An `Err` from `body`
    /// rolls back every write it made and is returned as is.
    fn atomically<T, E: From<StorageError>>(&self, body: impl FnOnce() -> Result<T, E>) -> Result<T, E>
    where
        Self: Sized;
}
