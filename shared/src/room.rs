//! The room engine: one tenant's database plus the live queries of everyone connected to it.
//!
//! Sans-IO: the driver (the Durable Object) feeds it [`RoomInput`]s with the current time and
//! fresh entropy, and delivers the [`Outgoing`] frames it returns. All state that must
//! survive the driver being evicted — documents, the commit timestamp, every connection's
//! subscriptions and version — lives in SQL, so a freshly constructed `Room` over the same
//! storage carries on exactly where the last one stopped.

use crate::ids::{ConnId, DocumentId};
use crate::protocol::{
    ClientMessage, ErrorCode, MutationOutcome, QueryId, QueryModification, RequestId,
    ServerMessage, StateVersion, Ts,
};
use crate::storage::{Sql, SqlValue, StorageError};
use crate::tasks::{self, NewTask};
use crate::validation::ValidationError;
use serde_json::{json, Map, Value};
use thiserror::Error;

/// Every table the engine needs, created idempotently when a room opens.
const MIGRATIONS: &[&str] = &[
    "CREATE TABLE IF NOT EXISTS _meta (key TEXT PRIMARY KEY, value INTEGER NOT NULL)",
    "CREATE TABLE IF NOT EXISTS _documents (
        tbl TEXT NOT NULL, id TEXT NOT NULL, creation_time REAL NOT NULL, body TEXT NOT NULL,
        PRIMARY KEY (tbl, id))",
    "CREATE INDEX IF NOT EXISTS _documents_by_creation ON _documents (tbl, creation_time, id)",
    "CREATE TABLE IF NOT EXISTS _connections (
        conn_id TEXT PRIMARY KEY, query_set INTEGER NOT NULL, ts INTEGER NOT NULL)",
    "CREATE TABLE IF NOT EXISTS _subscriptions (
        conn_id TEXT NOT NULL, query_id INTEGER NOT NULL, udf_path TEXT NOT NULL, args TEXT NOT NULL,
        PRIMARY KEY (conn_id, query_id))",
];

/// Per-input facts the platform supplies: the engine reads no clock and draws no randomness.
#[derive(Clone, Copy, Debug)]
pub struct Context {
    /// Wall-clock milliseconds since the Unix epoch, used for `_creationTime`.
    pub now_ms: f64,
    /// 128 fresh random bits, used for ids minted while handling this input.
    pub random: u128,
}

/// What happened on a connection.
#[derive(Clone, Copy, Debug)]
pub enum RoomInput<'a> {
    /// A socket was accepted.
    Open { conn: &'a ConnId },
    /// A text frame arrived.
    Frame { conn: &'a ConnId, text: &'a str },
    /// A socket closed or failed; its subscriptions are dropped.
    Close { conn: &'a ConnId },
}

/// A frame to deliver to one connection.
#[derive(Clone, Debug, PartialEq)]
pub struct Outgoing {
    pub to: ConnId,
    pub message: ServerMessage,
}

/// Why a function call failed; each maps to one wire [`ErrorCode`].
#[derive(Debug, Error)]
enum CallError {
    #[error("{0}")]
    Validation(#[from] ValidationError),
    #[error("no {kind} named {path:?}; available: {available}")]
    UnknownFunction {
        kind: &'static str,
        path: String,
        available: &'static str,
    },
    #[error(transparent)]
    Storage(#[from] StorageError),
}

impl CallError {
    fn code(&self) -> ErrorCode {
        match self {
            CallError::Validation(_) => ErrorCode::Validation,
            CallError::UnknownFunction { .. } => ErrorCode::UnknownFunction,
            CallError::Storage(_) => ErrorCode::Internal,
        }
    }
}

const QUERIES: &str = "tasks:list";
const MUTATIONS: &str = "tasks:create";

/// One room's engine over its storage.
pub struct Room<S: Sql> {
    sql: S,
}

impl<S: Sql> Room<S> {
    /// Opens the room, creating its tables if this is the first time.
    pub fn open(sql: S) -> Result<Self, StorageError> {
        for statement in MIGRATIONS {
            sql.exec(statement, &[])?;
        }
        Ok(Self { sql })
    }

    pub fn storage(&self) -> &S {
        &self.sql
    }

    /// Handles one input and returns the frames to deliver, in order.
    pub fn handle(&self, input: RoomInput<'_>, cx: Context) -> Vec<Outgoing> {
        let result = match input {
            RoomInput::Open { conn } => self.open_connection(conn).map(|()| Vec::new()),
            RoomInput::Close { conn } => self.close_connection(conn).map(|()| Vec::new()),
            RoomInput::Frame { conn, text } => match ClientMessage::parse(text) {
                Ok(message) => self.handle_message(conn, message, cx),
                Err(message) => Ok(vec![error_to(conn, ErrorCode::BadFrame, message)]),
            },
        };
        match (result, input) {
            (Ok(out), _) => out,
            (Err(e), RoomInput::Frame { conn, .. } | RoomInput::Open { conn }) => {
                vec![error_to(conn, ErrorCode::Internal, e.to_string())]
            }
            (Err(_), RoomInput::Close { .. }) => Vec::new(),
        }
    }

    /// The room's latest commit timestamp.
    pub fn current_ts(&self) -> Result<Ts, StorageError> {
        let rows = self
            .sql
            .exec("SELECT value FROM _meta WHERE key = 'ts'", &[])?;
        Ok(Ts(rows
            .first()
            .and_then(|r| r.first())
            .and_then(SqlValue::as_integer)
            .unwrap_or(0) as u64))
    }

    fn open_connection(&self, conn: &ConnId) -> Result<(), StorageError> {
        self.sql.exec(
            "INSERT OR IGNORE INTO _connections (conn_id, query_set, ts) VALUES (?, 0, 0)",
            &[conn.as_str().into()],
        )?;
        Ok(())
    }

    fn close_connection(&self, conn: &ConnId) -> Result<(), StorageError> {
        self.sql.atomically(|| {
            self.sql.exec(
                "DELETE FROM _subscriptions WHERE conn_id = ?",
                &[conn.as_str().into()],
            )?;
            self.sql.exec(
                "DELETE FROM _connections WHERE conn_id = ?",
                &[conn.as_str().into()],
            )?;
            Ok(())
        })
    }

    fn handle_message(
        &self,
        conn: &ConnId,
        message: ClientMessage,
        cx: Context,
    ) -> Result<Vec<Outgoing>, StorageError> {
        match message {
            ClientMessage::Subscribe {
                query_id,
                udf_path,
                args,
            } => self.subscribe(conn, query_id, udf_path, args),
            ClientMessage::Unsubscribe { query_id } => self.unsubscribe(conn, query_id),
            ClientMessage::Mutation {
                request_id,
                udf_path,
                args,
            } => self.mutate(conn, request_id, &udf_path, &args, cx),
        }
    }

    fn connection_version(&self, conn: &ConnId) -> Result<StateVersion, StorageError> {
        // A frame can arrive for a connection the room has not seen (e.g. a socket accepted
        // by an older build): register it on first use.
        self.open_connection(conn)?;
        let rows = self.sql.exec(
            "SELECT query_set, ts FROM _connections WHERE conn_id = ?",
            &[conn.as_str().into()],
        )?;
        let row = rows
            .first()
            .ok_or_else(|| StorageError(format!("connection {conn} vanished")))?;
        Ok(StateVersion {
            query_set: row.first().and_then(SqlValue::as_integer).unwrap_or(0) as u32,
            ts: Ts(row.get(1).and_then(SqlValue::as_integer).unwrap_or(0) as u64),
        })
    }

    fn set_connection_version(
        &self,
        conn: &ConnId,
        version: StateVersion,
    ) -> Result<(), StorageError> {
        self.sql.exec(
            "UPDATE _connections SET query_set = ?, ts = ? WHERE conn_id = ?",
            &[
                i64::from(version.query_set).into(),
                (version.ts.0 as i64).into(),
                conn.as_str().into(),
            ],
        )?;
        Ok(())
    }

    fn subscribe(
        &self,
        conn: &ConnId,
        query_id: QueryId,
        udf_path: String,
        args: Value,
    ) -> Result<Vec<Outgoing>, StorageError> {
        let exists = self.sql.exec(
            "SELECT 1 FROM _subscriptions WHERE conn_id = ? AND query_id = ?",
            &[conn.as_str().into(), i64::from(query_id).into()],
        )?;
        if !exists.is_empty() {
            return Ok(vec![error_to(
                conn,
                ErrorCode::BadQueryId,
                format!("queryId {query_id} is already subscribed on this connection"),
            )]);
        }
        let start = self.connection_version(conn)?;
        let end = StateVersion {
            query_set: start.query_set + 1,
            ts: self.current_ts()?,
        };
        let modification = match self.run_query(&udf_path, &args) {
            Ok(value) => {
                self.sql.exec(
                    "INSERT INTO _subscriptions (conn_id, query_id, udf_path, args) VALUES (?, ?, ?, ?)",
                    &[conn.as_str().into(), i64::from(query_id).into(), udf_path.into(), args.to_string().into()],
                )?;
                QueryModification::QueryUpdated { query_id, value }
            }
            Err(e) => QueryModification::QueryFailed {
                query_id,
                code: e.code(),
                message: e.to_string(),
            },
        };
        self.set_connection_version(conn, end)?;
        Ok(vec![Outgoing {
            to: conn.clone(),
            message: ServerMessage::Transition {
                start_version: start,
                end_version: end,
                modifications: vec![modification],
            },
        }])
    }

    fn unsubscribe(&self, conn: &ConnId, query_id: QueryId) -> Result<Vec<Outgoing>, StorageError> {
        let removed = self.sql.exec(
            "DELETE FROM _subscriptions WHERE conn_id = ? AND query_id = ? RETURNING query_id",
            &[conn.as_str().into(), i64::from(query_id).into()],
        )?;
        if removed.is_empty() {
            return Ok(vec![error_to(
                conn,
                ErrorCode::BadQueryId,
                format!("queryId {query_id} is not subscribed on this connection"),
            )]);
        }
        let start = self.connection_version(conn)?;
        let end = StateVersion {
            query_set: start.query_set + 1,
            ts: start.ts,
        };
        self.set_connection_version(conn, end)?;
        Ok(vec![Outgoing {
            to: conn.clone(),
            message: ServerMessage::Transition {
                start_version: start,
                end_version: end,
                modifications: vec![QueryModification::QueryRemoved { query_id }],
            },
        }])
    }

    fn mutate(
        &self,
        conn: &ConnId,
        request_id: RequestId,
        udf_path: &str,
        args: &Value,
        cx: Context,
    ) -> Result<Vec<Outgoing>, StorageError> {
        let committed = self.sql.atomically(|| -> Result<(Value, Ts), CallError> {
            let result = self.run_mutation(udf_path, args, cx)?;
            let ts = self.current_ts()?.next();
            self.sql.exec(
                "INSERT INTO _meta (key, value) VALUES ('ts', ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value",
                &[(ts.0 as i64).into()],
            )?;
            Ok((result, ts))
        });
        let (result, ts) = match committed {
            Ok(done) => done,
            Err(e) => {
                let outcome = MutationOutcome::Failure {
                    code: e.code(),
                    message: e.to_string(),
                };
                return Ok(vec![Outgoing {
                    to: conn.clone(),
                    message: ServerMessage::MutationResponse {
                        request_id,
                        outcome,
                    },
                }]);
            }
        };
        // Transitions first, response last: when the caller's promise resolves, the write
        // is already in what it shows.
        let mut out = self.fan_out(ts)?;
        out.push(Outgoing {
            to: conn.clone(),
            message: ServerMessage::MutationResponse {
                request_id,
                outcome: MutationOutcome::Success { result, ts },
            },
        });
        Ok(out)
    }

    /// Recomputes every subscription and sends each subscribed connection one transition to `ts`.
    fn fan_out(&self, ts: Ts) -> Result<Vec<Outgoing>, StorageError> {
        let rows = self.sql.exec(
            "SELECT s.conn_id, s.query_id, s.udf_path, s.args, c.query_set, c.ts
             FROM _subscriptions s JOIN _connections c ON c.conn_id = s.conn_id
             ORDER BY s.conn_id, s.query_id",
            &[],
        )?;
        let mut out: Vec<Outgoing> = Vec::new();
        for row in rows {
            let conn = ConnId::from_stored(text_at(&row, 0)?);
            let query_id = row.get(1).and_then(SqlValue::as_integer).unwrap_or(0) as QueryId;
            let udf_path = text_at(&row, 2)?;
            let args: Value = serde_json::from_str(&text_at(&row, 3)?).unwrap_or(Value::Null);
            let modification = match self.run_query(&udf_path, &args) {
                Ok(value) => QueryModification::QueryUpdated { query_id, value },
                Err(e) => QueryModification::QueryFailed {
                    query_id,
                    code: e.code(),
                    message: e.to_string(),
                },
            };
            match out.last_mut() {
                Some(Outgoing {
                    to,
                    message: ServerMessage::Transition { modifications, .. },
                }) if *to == conn => {
                    modifications.push(modification);
                }
                _ => {
                    let start = StateVersion {
                        query_set: row.get(4).and_then(SqlValue::as_integer).unwrap_or(0) as u32,
                        ts: Ts(row.get(5).and_then(SqlValue::as_integer).unwrap_or(0) as u64),
                    };
                    let end = StateVersion {
                        query_set: start.query_set,
                        ts,
                    };
                    self.set_connection_version(&conn, end)?;
                    out.push(Outgoing {
                        to: conn,
                        message: ServerMessage::Transition {
                            start_version: start,
                            end_version: end,
                            modifications: vec![modification],
                        },
                    });
                }
            }
        }
        Ok(out)
    }

    fn run_query(&self, udf_path: &str, args: &Value) -> Result<Value, CallError> {
        match udf_path {
            "tasks:list" => {
                expect_no_args(udf_path, args)?;
                self.list_documents(tasks::TABLE)
            }
            _ => Err(CallError::UnknownFunction {
                kind: "query",
                path: udf_path.to_string(),
                available: QUERIES,
            }),
        }
    }

    fn run_mutation(&self, udf_path: &str, args: &Value, cx: Context) -> Result<Value, CallError> {
        match udf_path {
            "tasks:create" => {
                let task = NewTask::from_json(args)?;
                let id = self.insert(tasks::TABLE, task.to_json(), cx)?;
                Ok(Value::String(id.to_string()))
            }
            _ => Err(CallError::UnknownFunction {
                kind: "mutation",
                path: udf_path.to_string(),
                available: MUTATIONS,
            }),
        }
    }

    fn insert(&self, table: &str, body: Value, cx: Context) -> Result<DocumentId, StorageError> {
        let id = DocumentId::new(table, cx.random);
        self.sql.exec(
            "INSERT INTO _documents (tbl, id, creation_time, body) VALUES (?, ?, ?, ?)",
            &[
                table.into(),
                id.as_str().into(),
                cx.now_ms.into(),
                body.to_string().into(),
            ],
        )?;
        Ok(id)
    }

    fn list_documents(&self, table: &str) -> Result<Value, CallError> {
        let rows = self.sql.exec(
            "SELECT id, creation_time, body FROM _documents WHERE tbl = ? ORDER BY creation_time, id",
            &[table.into()],
        )?;
        let mut documents = Vec::with_capacity(rows.len());
        for row in rows {
            let mut doc: Map<String, Value> =
                serde_json::from_str(&text_at(&row, 2)?).map_err(|e| {
                    StorageError(format!(
                        "stored document in {table} is not a JSON object: {e}"
                    ))
                })?;
            doc.insert("_id".into(), Value::String(text_at(&row, 0)?));
            let creation = match row.get(1) {
                Some(SqlValue::Real(f)) => json!(f),
                Some(SqlValue::Integer(i)) => json!(i),
                _ => Value::Null,
            };
            doc.insert("_creationTime".into(), creation);
            documents.push(Value::Object(doc));
        }
        Ok(Value::Array(documents))
    }
}

fn expect_no_args(udf_path: &str, args: &Value) -> Result<(), ValidationError> {
    match args {
        Value::Null => Ok(()),
        Value::Object(map) if map.is_empty() => Ok(()),
        other => Err(ValidationError::at(
            format!("{udf_path}.args"),
            "no arguments ({} or null)",
            other,
        )),
    }
}

fn text_at(row: &[SqlValue], column: usize) -> Result<String, StorageError> {
    row.get(column)
        .and_then(SqlValue::as_text)
        .map(str::to_string)
        .ok_or_else(|| {
            StorageError(format!(
                "expected text in column {column}, found {:?}",
                row.get(column)
            ))
        })
}

fn error_to(conn: &ConnId, code: ErrorCode, message: String) -> Outgoing {
    Outgoing {
        to: conn.clone(),
        message: ServerMessage::Error { code, message },
    }
}

#[cfg(test)]
mod tests;
