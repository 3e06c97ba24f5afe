//! [`Sql`] over a native SQLite connection (`rusqlite`), for tests, benchmarks and native hosts.

use crate::storage::{Row, Sql, SqlValue, StorageError};
use rusqlite::types::{Value as RValue, ValueRef};
use rusqlite::Connection;

/// A native SQLite database.
pub struct NativeSql {
    conn: Connection,
}

impl NativeSql {
    /// A fresh in-memory database.
    pub fn in_memory() -> Result<Self, StorageError> {
        Connection::open_in_memory().map(|conn| Self { conn }).map_err(storage_error)
    }

    /// A database file, created if missing.
    pub fn open(path: &std::path::Path) -> Result<Self, StorageError> {
        Connection::open(path).map(|conn| Self { conn }).map_err(storage_error)
    }
}

fn storage_error(e: rusqlite::Error) -> StorageError {
    StorageError::Driver(e.to_string())
}

fn to_sqlite(value: &SqlValue) -> RValue {
    match value {
        SqlValue::Null => RValue::Null,
        SqlValue::Integer(i) => RValue::Integer(*i),
        SqlValue::Real(f) => RValue::Real(*f),
        SqlValue::Text(s) => RValue::Text(s.clone()),
        SqlValue::Blob(b) => RValue::Blob(b.clone()),
    }
}

fn from_sqlite(value: ValueRef<'_>) -> SqlValue {
    match value {
        ValueRef::Null => SqlValue::Null,
        ValueRef::Integer(i) => SqlValue::Integer(i),
        ValueRef::Real(f) => SqlValue::Real(f),
        ValueRef::Text(t) => SqlValue::Text(String::from_utf8_lossy(t).into_owned()),
        ValueRef::Blob(b) => SqlValue::Blob(b.to_vec()),
    }
}

impl Sql for NativeSql {
    fn exec(&self, sql: &str, params: &[SqlValue]) -> Result<Vec<Row>, StorageError> {
        let mut statement = self.conn.prepare_cached(sql).map_err(storage_error)?;
        let columns = statement.column_count();
        let params = rusqlite::params_from_iter(params.iter().map(to_sqlite));
        let mut rows = statement.query(params).map_err(storage_error)?;
        let mut out = Vec::new();
        while let Some(row) = rows.next().map_err(storage_error)? {
            let mut values = Vec::with_capacity(columns);
            for i in 0..columns {
                values.push(from_sqlite(row.get_ref(i).map_err(storage_error)?));
            }
            out.push(values);
        }
        Ok(out)
    }

    /// A savepoint, so that atomic blocks nest.
    fn atomically<T, E: From<StorageError>>(&self, body: impl FnOnce() -> Result<T, E>) -> Result<T, E> {
        self.conn.execute_batch("SAVEPOINT roomsync_atomic").map_err(storage_error)?;
        match body() {
            Ok(value) => {
                self.conn.execute_batch("RELEASE roomsync_atomic").map_err(storage_error)?;
                Ok(value)
            }
            Err(e) => {
                self.conn
                    .execute_batch("ROLLBACK TO roomsync_atomic; RELEASE roomsync_atomic")
                    .map_err(storage_error)?;
                Err(e)
            }
        }
    }
}
