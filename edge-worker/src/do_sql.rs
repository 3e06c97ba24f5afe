//! The shared engine's [`Sql`] trait over Durable Object SQLite.
//!
//! DO SQLite refuses `BEGIN`/`SAVEPOINT` through `sql.exec`; atomic blocks go through
//! `storage.transactionSync(fn)`, which `worker` 0.8 does not wrap, so it is called on the
//! raw storage object. A closure error makes the runtime roll back every write it made.

use js_sys::{Function, Reflect};
use roomsync_shared::storage::{Row, Sql, SqlCounters, SqlValue, StorageError};
use std::cell::{Cell, RefCell};
use wasm_bindgen::closure::Closure;
use wasm_bindgen::{JsCast, JsValue};
use worker::{SqlStorage, SqlStorageValue, Storage};

pub struct DoSql {
    sql: SqlStorage,
    storage: Storage,
    /// Rows read and written since the object woke up (what Cloudflare bills).
    rows: Cell<(u64, u64)>,
}

impl DoSql {
    pub fn new(storage: Storage) -> Self {
        Self { sql: storage.sql(), storage, rows: Cell::new((0, 0)) }
    }
}

fn to_do(value: &SqlValue) -> SqlStorageValue {
    match value {
        SqlValue::Null => SqlStorageValue::Null,
        SqlValue::Integer(i) => SqlStorageValue::Integer(*i),
        SqlValue::Real(f) => SqlStorageValue::Float(*f),
        SqlValue::Text(s) => SqlStorageValue::String(s.clone()),
        SqlValue::Blob(b) => SqlStorageValue::Blob(b.clone()),
    }
}

fn from_do(value: SqlStorageValue) -> SqlValue {
    match value {
        SqlStorageValue::Null => SqlValue::Null,
        SqlStorageValue::Boolean(b) => SqlValue::Integer(i64::from(b)),
        SqlStorageValue::Integer(i) => SqlValue::Integer(i),
        SqlStorageValue::Float(f) => SqlValue::Real(f),
        SqlStorageValue::String(s) => SqlValue::Text(s),
        SqlStorageValue::Blob(b) => SqlValue::Blob(b),
    }
}

fn js_error_text(e: &JsValue) -> String {
    e.dyn_ref::<js_sys::Error>()
        .map(|e| String::from(e.message()))
        .or_else(|| e.as_string())
        .unwrap_or_else(|| format!("{e:?}"))
}

impl Sql for DoSql {
    fn exec(&self, sql: &str, params: &[SqlValue]) -> Result<Vec<Row>, StorageError> {
        let cursor = self
            .sql
            .exec(sql, params.iter().map(to_do).collect::<Vec<_>>())
            .map_err(|e| StorageError::Driver(e.to_string()))?;
        let rows = cursor
            .raw()
            .map(|row| {
                row.map(|values| values.into_iter().map(from_do).collect())
                    .map_err(|e| StorageError::Driver(e.to_string()))
            })
            .collect();
        // The cursor's counts are final once it is drained.
        let (read, written) = self.rows.get();
        self.rows.set((read + cursor.rows_read() as u64, written + cursor.rows_written() as u64));
        rows
    }

    fn counters(&self) -> SqlCounters {
        let (rows_read, rows_written) = self.rows.get();
        SqlCounters { rows_read, rows_written, size_bytes: self.sql.database_size() as u64 }
    }

    fn atomically<T, E: From<StorageError>>(&self, body: impl FnOnce() -> Result<T, E>) -> Result<T, E> {
        let raw = self.storage.as_raw();
        let transaction_sync: Function = Reflect::get(raw, &"transactionSync".into())
            .and_then(|f| f.dyn_into::<Function>())
            .map_err(|e| StorageError::Driver(format!("transactionSync unavailable: {}", js_error_text(&e))))?;
        let body = RefCell::new(Some(body));
        let outcome: RefCell<Option<Result<T, E>>> = RefCell::new(None);
        let mut run = || -> Result<JsValue, JsValue> {
            let Some(body) = body.borrow_mut().take() else {
                return Err(JsValue::from_str("transaction body ran twice"));
            };
            let result = body();
            let failed = result.is_err();
            *outcome.borrow_mut() = Some(result);
            // Throwing makes the runtime roll back everything the body wrote.
            if failed {
                Err(JsValue::from_str("roomsync: rolled back"))
            } else {
                Ok(JsValue::UNDEFINED)
            }
        };
        let closure = Closure::<dyn FnMut() -> Result<JsValue, JsValue>>::borrow_mut(&mut run);
        let call = transaction_sync.call1(raw, closure.as_ref());
        drop(closure);
        match (outcome.into_inner(), call) {
            (Some(Ok(value)), Ok(_)) => Ok(value),
            (Some(Err(e)), _) => Err(e),
            (Some(Ok(_)), Err(e)) => Err(StorageError::Driver(format!("commit failed: {}", js_error_text(&e))).into()),
            (None, Err(e)) => Err(StorageError::Driver(format!("transaction failed: {}", js_error_text(&e))).into()),
            (None, Ok(_)) => Err(StorageError::Driver("transaction body did not run".into()).into()),
        }
    }
}
