//! Write-behind for a socket's burst of control frames. In the Durable Object a frame that
//! writes pays for a storage commit before its answer may leave — about 0.4 ms under
//! `wrangler dev`, several times what the rest of a `subscribe` costs — and a socket may send
//! 400 control frames at once, which every other socket's frames then wait behind. So when the
//! host drives [`Room::continue_work`] (it yields between events), what `subscribe`,
//! `unsubscribe` and a same-identity token refresh change about their connection is kept in
//! memory — the memory copies of its rows are already the ones read — and written by
//! [`Room::save_connection_state`] in one transaction:
//!
//! - before any other input (another socket's frame, this socket's mutation, an identity
//!   change, a socket opening or closing, an HTTP call): everything that reads `_subs` or
//!   `_conns` from storage sees it written;
//! - at the next step of the work left for later, which the host runs as soon as it yields.
//!
//! Only one connection's state is unsaved at a time: another socket's control frame writes
//! the first one's before its own. Memory-only state never outlives the process unwritten:
//! the pending step keeps the host busy (no hibernation), and a crash drops the sockets too,
//! whose clients then connect and subscribe again.

use super::*;

/// What a connection's burst changed and storage does not hold yet.
pub(super) struct Unsaved {
    conn: ConnId,
    /// New subscriptions, in order.
    new: Vec<NewSubscription>,
    /// Stored subscriptions unsubscribed: their ids and the bytes of their arguments.
    removed: Vec<(QueryId, usize)>,
    /// A refreshed identity to store (JSON text, or null when signed out).
    caller: Option<SqlValue>,
}

/// A subscription answered but not written yet.
pub(super) struct NewSubscription {
    pub query_id: QueryId,
    pub udf_path: String,
    pub args: String,
}

impl<S: Sql> Room<S> {
    /// Whether control frames write behind (the host yields between events and drives
    /// [`Room::continue_work`]).
    pub(super) fn writes_behind(&self) -> bool {
        self.limits.reruns_per_step.is_finite()
    }

    /// Writes another connection's unsaved state, so that only `conn`'s may stay in memory.
    pub(super) fn save_others(&mut self, conn: &ConnId) -> Result<(), StorageError> {
        if self.unsaved.as_ref().is_some_and(|u| &u.conn != conn) {
            self.save_connection_state()?;
        }
        Ok(())
    }

    /// Forgets what a closed connection's burst kept in memory.
    pub(super) fn forget_unsaved(&mut self, conn: &ConnId) {
        if self.unsaved.as_ref().is_some_and(|u| &u.conn == conn) {
            self.unsaved = None;
        }
    }

    /// The unsaved state of `conn`, writing another connection's first.
    pub(super) fn unsaved_of(&mut self, conn: &ConnId) -> Result<&mut Unsaved, StorageError> {
        self.save_others(conn)?;
        Ok(self.unsaved.get_or_insert_with(|| Unsaved {
            conn: conn.clone(),
            new: Vec::new(),
            removed: Vec::new(),
            caller: None,
        }))
    }

    /// What `conn`'s burst added and removed and storage does not hold yet.
    pub(super) fn unsaved_changes(&self, conn: &ConnId) -> (&[NewSubscription], &[(QueryId, usize)]) {
        match self.unsaved.as_ref().filter(|u| &u.conn == conn) {
            Some(u) => (&u.new, &u.removed),
            None => (&[], &[]),
        }
    }

    /// Records a new subscription in memory.
    pub(super) fn add_unsaved(&mut self, conn: &ConnId, new: NewSubscription) -> Result<(), StorageError> {
        let row = rows::SubRow {
            udf_path: new.udf_path.clone(),
            args: new.args.clone(),
            journal: None,
            result_hash: String::new(),
        };
        self.rows.set_sub((conn.clone(), new.query_id), row);
        self.unsaved_of(conn)?.new.push(new);
        Ok(())
    }

    /// Records an unsubscribe in memory; `false` if `conn` does not hold `query_id`.
    pub(super) fn remove_unsaved(&mut self, conn: &ConnId, query_id: QueryId) -> Result<bool, StorageError> {
        let key = (conn.clone(), query_id);
        let unsaved = self.unsaved_of(conn)?;
        if let Some(at) = unsaved.new.iter().position(|s| s.query_id == query_id) {
            // Never written: forgotten (its first run, if still waiting, finds no row).
            unsaved.new.remove(at);
        } else if unsaved.removed.iter().any(|(q, _)| *q == query_id) {
            return Ok(false);
        } else {
            let Some(row) = self.rows.sub(&self.sql, &key)? else { return Ok(false) };
            let unsaved = self.unsaved_of(conn)?;
            unsaved.removed.push((query_id, row.args.len()));
        }
        self.rows.forget_sub(&key);
        Ok(true)
    }

    /// Records a refreshed identity in memory (`stored`: its JSON text, or null).
    pub(super) fn refresh_unsaved(
        &mut self,
        conn: &ConnId,
        identity: Option<Identity>,
        stored: SqlValue,
    ) -> Result<(), StorageError> {
        self.unsaved_of(conn)?.caller = Some(stored);
        self.rows.set_caller(conn, identity);
        Ok(())
    }

    /// Writes what a connection's burst kept in memory — subscriptions removed and added (a
    /// few statements for 256), a refreshed identity and the connection's version — in one
    /// transaction.
    ///
    /// If the write fails, the state stays in memory (the next input tries again) and the
    /// error goes to whoever's input needed it written.
    pub fn save_connection_state(&mut self) -> Result<(), StorageError> {
        let Some(unsaved) = self.unsaved.take() else { return Ok(()) };
        let written = self.write_unsaved(&unsaved);
        if written.is_err() {
            self.unsaved = Some(unsaved);
        }
        written
    }

    fn write_unsaved(&mut self, unsaved: &Unsaved) -> Result<(), StorageError> {
        let Unsaved { conn, new, removed, caller } = unsaved;
        // A connection closed meanwhile has no row: nothing of it is written back.
        let Some(version) = self.rows.conn(&self.sql, conn)?.map(|row| row.version) else { return Ok(()) };
        // Durable Object SQLite binds at most 100 parameters a statement.
        const ROWS: usize = 24;
        self.sql.atomically(|| {
            for chunk in removed.chunks(ROWS * 4) {
                let marks = vec!["?"; chunk.len()].join(", ");
                let mut params: Vec<SqlValue> = vec![conn.as_str().into()];
                params.extend(chunk.iter().map(|(q, _)| SqlValue::from(i64::from(*q))));
                self.sql.exec(&format!("DELETE FROM _subs WHERE conn_id = ? AND query_id IN ({marks})"), &params)?;
            }
            for chunk in new.chunks(ROWS) {
                let marks = vec!["(?, ?, ?, ?, '[]', NULL, '')"; chunk.len()].join(", ");
                let params: Vec<SqlValue> = chunk
                    .iter()
                    .flat_map(|s| {
                        [
                            conn.as_str().into(),
                            i64::from(s.query_id).into(),
                            s.udf_path.as_str().into(),
                            s.args.as_str().into(),
                        ]
                    })
                    .collect();
                self.sql.exec(
                    &format!(
                        "INSERT INTO _subs (conn_id, query_id, udf_path, args, read_set, journal, result_hash) VALUES {marks}"
                    ),
                    &params,
                )?;
            }
            if let Some(caller) = caller {
                self.sql.exec("UPDATE _conns SET caller = ? WHERE conn_id = ?", &[caller.clone(), conn.as_str().into()])?;
            }
            self.sql.exec(
                "UPDATE _conns SET query_set = ?, identity = ?, ts = ? WHERE conn_id = ?",
                &[
                    i64::from(version.query_set).into(),
                    i64::from(version.identity).into(),
                    (version.ts.0 as i64).into(),
                    conn.as_str().into(),
                ],
            )?;
            Ok::<(), StorageError>(())
        })
    }

    /// Subscriptions answered and not written yet (the room's stats count them).
    pub(super) fn unsaved_subscriptions(&self) -> i64 {
        self.unsaved.as_ref().map_or(0, |u| u.new.len() as i64 - u.removed.len() as i64)
    }
}
