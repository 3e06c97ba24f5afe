//! Memory copies of the rows a fan-out (and every mutation) reads: each connection's version,
//! identity and session (`_conns`) and each subscription's function, arguments, journal and result
//! hash (`_subs`). SQLite stays the source of truth — every write goes there first — and the
//! copies are filled lazily, so a room rebuilt after hibernation starts empty and reads each
//! row once. Without them a commit seen by a thousand subscribers costs three thousand
//! extra `SELECT`s through the Durable Object's SQL boundary.

use super::{int_at, text_at, SubKey};
use crate::auth::{Identity, Roles};
use crate::model::ids::ConnId;
use crate::protocol::{StateVersion, Ts};
use crate::storage::{Sql, SqlValue, StorageError};
use std::collections::HashMap;

/// A connection's row.
#[derive(Clone, Debug)]
pub(super) struct ConnRow {
    pub version: StateVersion,
    /// The stored identity (possibly expired), `None` when signed out.
    pub caller: Option<Identity>,
    /// The client session named in `connect` (for exactly-once mutations).
    pub session: Option<String>,
    /// The client address the host saw the socket come from.
    pub address: Option<String>,
}

/// A subscription's row (what a re-run needs).
#[derive(Clone, Debug)]
pub(super) struct SubRow {
    pub udf_path: String,
    pub args: String,
    pub journal: Option<String>,
    pub result_hash: String,
}

pub(super) struct Rows {
    conns: HashMap<ConnId, ConnRow>,
    subs: HashMap<SubKey, SubRow>,
    /// The app's roles, to read stored identities back.
    roles: Roles,
}

impl Rows {
    pub fn new(roles: Roles) -> Self {
        Self { conns: HashMap::new(), subs: HashMap::new(), roles }
    }

    /// The connection's row, read from SQLite on first use; `None` if there is none.
    pub fn conn(&mut self, sql: &dyn Sql, conn: &ConnId) -> Result<Option<ConnRow>, StorageError> {
        if let Some(row) = self.conns.get(conn) {
            return Ok(Some(row.clone()));
        }
        let rows = sql.exec(
            "SELECT query_set, ts, identity, caller, session_id, address FROM _conns WHERE conn_id = ?",
            &[conn.as_str().into()],
        )?;
        let Some(row) = rows.first() else { return Ok(None) };
        let version = StateVersion {
            query_set: int_at(row, 0) as u32,
            identity: int_at(row, 2) as u32,
            ts: Ts(int_at(row, 1) as u64),
        };
        // An unreadable identity (written by another build) counts as signed out.
        let caller = row.get(3).and_then(SqlValue::as_text).and_then(|text| Identity::from_stored(text, &self.roles));
        let session = row.get(4).and_then(SqlValue::as_text).map(str::to_string);
        let address = row.get(5).and_then(SqlValue::as_text).map(str::to_string);
        let row = ConnRow { version, caller, session, address };
        self.conns.insert(conn.clone(), row.clone());
        Ok(Some(row))
    }

    /// Records a version just written to SQLite.
    pub fn set_version(&mut self, conn: &ConnId, version: StateVersion) {
        if let Some(row) = self.conns.get_mut(conn) {
            row.version = version;
        }
    }

    /// Records an identity kept in memory until it is written (`write_behind`).
    pub fn set_caller(&mut self, conn: &ConnId, caller: Option<Identity>) {
        if let Some(row) = self.conns.get_mut(conn) {
            row.caller = caller;
        }
    }

    /// Drops the copy of a connection's row (written in another way).
    pub fn forget_conn_row(&mut self, conn: &ConnId) {
        self.conns.remove(conn);
    }

    /// Drops every copy of a closed connection's rows.
    pub fn forget_conn(&mut self, conn: &ConnId) {
        self.conns.remove(conn);
        self.subs.retain(|(c, _), _| c != conn);
    }

    /// The subscription's row, read from SQLite on first use; `None` if there is none.
    pub fn sub(&mut self, sql: &dyn Sql, key: &SubKey) -> Result<Option<SubRow>, StorageError> {
        if let Some(row) = self.subs.get(key) {
            return Ok(Some(row.clone()));
        }
        let rows = sql.exec(
            "SELECT udf_path, args, journal, result_hash FROM _subs WHERE conn_id = ? AND query_id = ?",
            &[key.0.as_str().into(), i64::from(key.1).into()],
        )?;
        let Some(row) = rows.first() else { return Ok(None) };
        let sub = SubRow {
            udf_path: text_at(row, 0)?,
            args: text_at(row, 1)?,
            journal: row.get(2).and_then(SqlValue::as_text).map(str::to_string),
            result_hash: text_at(row, 3)?,
        };
        self.subs.insert(key.clone(), sub.clone());
        Ok(Some(sub))
    }

    /// Records a re-run's journal and hash just written to SQLite.
    pub fn set_run(&mut self, key: &SubKey, journal: Option<String>, result_hash: &str) {
        if let Some(row) = self.subs.get_mut(key) {
            row.journal = journal;
            row.result_hash = result_hash.to_string();
        }
    }

    /// Records a subscription's row before it is written (the room writes it before
    /// anything else reads it).
    pub fn set_sub(&mut self, key: SubKey, row: SubRow) {
        self.subs.insert(key, row);
    }

    pub fn forget_sub(&mut self, key: &SubKey) {
        self.subs.remove(key);
    }
}
