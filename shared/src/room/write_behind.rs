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
//! Several connections' state may be unsaved at once — a user's tabs, or a crowd of sockets,
//! sending control frames in turn — and each check that reads across connections (a user's
//! subscriptions over all their sockets) counts it from memory. Memory-only state never
//! outlives the process unwritten:
//! the pending step keeps the host busy (no hibernation), and a crash drops the sockets too,
//! whose clients then connect and subscribe again.

use super::*;

/// What a connection's burst changed and storage does not hold yet.
#[derive(Default)]
pub(super) struct Unsaved {
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

    /// Forgets what a closed connection's burst kept in memory.
    pub(super) fn forget_unsaved(&mut self, conn: &ConnId) {
        self.unsaved.remove(conn);
    }

    /// The unsaved state of `conn`.
    pub(super) fn unsaved_of(&mut self, conn: &ConnId) -> &mut Unsaved {
        self.unsaved.entry(conn.clone()).or_default()
    }

    /// What `conn`'s burst added and removed and storage does not hold yet.
    pub(super) fn unsaved_changes(&self, conn: &ConnId) -> (&[NewSubscription], &[(QueryId, usize)]) {
        match self.unsaved.get(conn) {
            Some(u) => (&u.new, &u.removed),
            None => (&[], &[]),
        }
    }

    /// Subscriptions that connections signed in as `subject`, other than `conn`, gained (or,
    /// negative, dropped) and storage does not hold yet.
    pub(super) fn unsaved_of_user(&mut self, conn: &ConnId, subject: &str) -> Result<i64, StorageError> {
        let others: Vec<(ConnId, i64)> = self
            .unsaved
            .iter()
            .filter(|(c, _)| *c != conn)
            .map(|(c, u)| (c.clone(), u.new.len() as i64 - u.removed.len() as i64))
            .collect();
        let mut total = 0;
        for (other, delta) in others {
            let caller = self.rows.conn(&self.sql, &other)?.and_then(|row| row.caller);
            if caller.is_some_and(|c| c.subject == subject) {
                total += delta;
            }
        }
        Ok(total)
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
        self.unsaved_of(conn).new.push(new);
        Ok(())
    }

    /// Records an unsubscribe in memory; `false` if `conn` does not hold `query_id`.
    pub(super) fn remove_unsaved(&mut self, conn: &ConnId, query_id: QueryId) -> Result<bool, StorageError> {
        let key = (conn.clone(), query_id);
        let unsaved = self.unsaved_of(conn);
        if let Some(at) = unsaved.new.iter().position(|s| s.query_id == query_id) {
            // Never written: forgotten (its first run, if still waiting, finds no row).
            unsaved.new.remove(at);
        } else if unsaved.removed.iter().any(|(q, _)| *q == query_id) {
            return Ok(false);
        } else {
            let Some(row) = self.rows.sub(&self.sql, &key)? else { return Ok(false) };
            self.unsaved_of(conn).removed.push((query_id, row.args.len()));
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
        self.unsaved_of(conn).caller = Some(stored);
        self.rows.set_caller(conn, identity);
        Ok(())
    }

    /// Writes what connections' bursts kept in memory — subscriptions removed and added (a
    /// few statements for 256), a refreshed identity and each connection's version — in one
    /// transaction.
    ///
    /// If the write fails, the state stays in memory (the next input tries again) and the
    /// error goes to whoever's input needed it written.
    pub fn save_connection_state(&mut self) -> Result<(), StorageError> {
        if self.unsaved.is_empty() {
            return Ok(());
        }
        let unsaved = std::mem::take(&mut self.unsaved);
        let written = self.write_unsaved(&unsaved);
        if written.is_err() {
            self.unsaved = unsaved;
        }
        written
    }

    fn write_unsaved(&mut self, unsaved: &BTreeMap<ConnId, Unsaved>) -> Result<(), StorageError> {
        // A connection closed meanwhile has no row: nothing of it is written back.
        let mut versions = Vec::new();
        for conn in unsaved.keys() {
            if let Some(row) = self.rows.conn(&self.sql, conn)? {
                versions.push((conn, row.version));
            }
        }
        // Durable Object SQLite binds at most 100 parameters a statement.
        const ROWS: usize = 24;
        let sql = &self.sql;
        sql.atomically(|| {
            for (conn, version) in versions {
                let Some(Unsaved { new, removed, caller }) = unsaved.get(conn) else { continue };
                for chunk in removed.chunks(ROWS * 4) {
                    let marks = vec!["?"; chunk.len()].join(", ");
                    let mut params: Vec<SqlValue> = vec![conn.as_str().into()];
                    params.extend(chunk.iter().map(|(q, _)| SqlValue::from(i64::from(*q))));
                    sql.exec(&format!("DELETE FROM _subs WHERE conn_id = ? AND query_id IN ({marks})"), &params)?;
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
                    sql.exec(
                        &format!(
                            "INSERT INTO _subs (conn_id, query_id, udf_path, args, read_set, journal, result_hash) VALUES {marks}"
                        ),
                        &params,
                    )?;
                }
                if let Some(caller) = caller {
                    sql.exec("UPDATE _conns SET caller = ? WHERE conn_id = ?", &[caller.clone(), conn.as_str().into()])?;
                }
                sql.exec(
                    "UPDATE _conns SET query_set = ?, identity = ?, ts = ? WHERE conn_id = ?",
                    &[
                        i64::from(version.query_set).into(),
                        i64::from(version.identity).into(),
                        (version.ts.0 as i64).into(),
                        conn.as_str().into(),
                    ],
                )?;
            }
            Ok::<(), StorageError>(())
        })
    }

    /// Subscriptions answered and not written yet (the room's stats count them).
    pub(super) fn unsaved_subscriptions(&self) -> i64 {
        self.unsaved.values().map(|u| u.new.len() as i64 - u.removed.len() as i64).sum()
    }
}
