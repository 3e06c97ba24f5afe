//! Connections: a socket opening and closing, `connect` (protocol and schema checks, the
//! session for exactly-once), control frames refused over their allowance, and each
//! connection's version.

use super::*;

/// When to try a socket refused for its address again: sockets close when tabs do, so soon.
const SOCKET_RETRY_MS: u64 = 5_000;

impl<S: Sql> Room<S> {
    pub(super) fn open_connection(&mut self, conn: &ConnId) -> Result<(), StorageError> {
        self.sql
            .exec("INSERT OR IGNORE INTO _conns (conn_id, query_set, ts) VALUES (?, 0, 0)", &[conn.as_str().into()])?;
        self.rows.forget_conn_row(conn);
        Ok(())
    }

    /// Drops the rows of every connection whose socket is gone — `live` are the connections
    /// the host still holds sockets for. Sockets can vanish without a close event (a
    /// restart, a crash); the host calls this when it starts, so rows of dead sockets do not
    /// outlive it. Returns how many connections were dropped.
    pub fn retain_connections(&mut self, live: &[ConnId]) -> Result<usize, StorageError> {
        self.save_connection_state()?;
        let rows = self.sql.exec("SELECT conn_id FROM _conns", &[])?;
        let mut dropped = 0;
        for row in rows {
            let conn = ConnId::from_stored(text_at(&row, 0)?);
            if !live.contains(&conn) {
                self.close_connection(&conn)?;
                dropped += 1;
            }
        }
        // Subscriptions of connections that have no row (left by a crash mid-close).
        self.sql.exec("DELETE FROM _subs WHERE conn_id NOT IN (SELECT conn_id FROM _conns)", &[])?;
        Ok(dropped)
    }

    /// Whether one more socket may open from a client address that already holds `open`
    /// sockets to this room ([`RoomLimits::sockets_per_address`]). The host counts them (the
    /// Durable Object tags each socket with its address) and answers the refusal instead of
    /// upgrading: `LIMIT_EXCEEDED` (HTTP 429) with a retry hint.
    ///
    /// Sockets opened from one address are also limited per second
    /// ([`RoomLimits::socket_opens_per_second`]): each costs the room an upgrade and a row,
    /// and other clients wait behind a burst of them.
    pub fn admit_socket(&mut self, address: &str, open: usize, now_ms: f64) -> Result<(), HttpReply> {
        let most = self.limits.sockets_per_address;
        let (message, retry_after_ms) = if (open as f64) >= most {
            let message = format!(
                "this address holds {open} open sockets to the room, the most one address may hold ({most}): \
                 close some (other tabs?) or retry later"
            );
            (message, SOCKET_RETRY_MS)
        } else {
            let Err(wait_ms) = self.allowances.socket_open(&self.limits, address, now_ms) else { return Ok(()) };
            let (rate, burst) = (self.limits.socket_opens_per_second, self.limits.socket_open_burst);
            let message = format!(
                "too many sockets opened from this address (at most {rate} per second, bursts of {burst}); retry in {wait_ms} ms"
            );
            (message, wait_ms)
        };
        let mut reply = HttpReply::error(ErrorCode::LimitExceeded, message);
        reply.body["retryAfterMs"] = retry_after_ms.into();
        Err(reply)
    }

    /// Records the client address a socket came from (kept with its row: a room rebuilt after
    /// hibernation still knows it).
    pub(super) fn set_address(&mut self, conn: &ConnId, address: &str) -> Result<(), StorageError> {
        let address: String = address.chars().take(80).collect();
        self.sql.exec("UPDATE _conns SET address = ? WHERE conn_id = ?", &[address.into(), conn.as_str().into()])?;
        self.rows.forget_conn_row(conn);
        Ok(())
    }

    pub(super) fn close_connection(&mut self, conn: &ConnId) -> Result<(), StorageError> {
        // What its last burst kept in memory goes with it (never written for a closed socket).
        self.forget_unsaved(conn);
        self.allowances.forget_socket(conn);
        self.unread.forget(conn);
        self.pending.retain(|(c, _)| c != conn);
        let ids = self.sql.exec("SELECT query_id FROM _subs WHERE conn_id = ?", &[conn.as_str().into()])?;
        self.sql.atomically(|| {
            self.sql.exec("DELETE FROM _subs WHERE conn_id = ?", &[conn.as_str().into()])?;
            self.sql.exec("DELETE FROM _conns WHERE conn_id = ?", &[conn.as_str().into()])?;
            Ok::<(), StorageError>(())
        })?;
        self.rows.forget_conn(conn);
        let index = &mut self.subscriptions;
        let results = &mut self.results;
        for row in ids {
            let key = (conn.clone(), int_at(&row, 0) as QueryId);
            index.remove(&key);
            results.forget(&key);
        }
        Ok(())
    }

    /// Binds the connection to a client session (for exactly-once mutations).
    pub(super) fn connect(
        &mut self,
        conn: &ConnId,
        session_id: &str,
        protocol_version: Option<u32>,
        schema_hash: Option<&str>,
        now_ms: f64,
    ) -> Result<Vec<Outgoing>, StorageError> {
        if let Some(version) = protocol_version.filter(|v| *v != crate::PROTOCOL_VERSION) {
            return Ok(vec![error_to(
                conn,
                ErrorCode::ProtocolMismatch,
                format!(
                    "this client speaks protocol {version} but the room speaks {}: reload the page to get the current client",
                    crate::PROTOCOL_VERSION
                ),
            )]);
        }
        let ours = &self.schema_hash;
        if let Some(theirs) = schema_hash.filter(|h| *h != ours) {
            return Ok(vec![error_to(
                conn,
                ErrorCode::SchemaMismatch,
                format!(
                    "this client was built for schema {theirs} but the room runs schema {ours}: reload the page to get the matching client"
                ),
            )]);
        }
        let valid = (16..=64).contains(&session_id.len())
            && session_id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
        if !valid {
            return Ok(vec![error_to(
                conn,
                ErrorCode::BadFrame,
                format!(
                    "sessionId must be 16 to 64 letters, digits, '-' or '_'; got {:?}",
                    crate::model::text::elide(session_id, 80)
                ),
            )]);
        }
        if self.session_of(conn)?.is_some() {
            // Once per socket: a repeat spends nothing of the room-wide allowance.
            return Ok(vec![error_to(conn, ErrorCode::BadFrame, "this socket already sent connect".into())]);
        }
        let allowed = self.allowances.connect(&self.limits, now_ms);
        if let Err(wait_ms) = allowed {
            self.activity.connects_refused += 1;
            // Spread the retries: a full second of jitter on top of the wait.
            let retry_after_ms = wait_ms + 1000 + (now_ms as u64 % 1000);
            self.close_connection(conn)?;
            return Ok(vec![Outgoing {
                to: conn.clone(),
                message: ServerMessage::Error {
                    code: ErrorCode::Overloaded,
                    message: format!(
                        "the room is accepting at most {} new connections per second (everyone is reconnecting); retry in {retry_after_ms} ms",
                        self.limits.connects_per_second
                    ),
                    retry_after_ms: Some(retry_after_ms),
                },
            }]);
        }
        self.open_connection(conn)?;
        self.sql
            .exec("UPDATE _conns SET session_id = ? WHERE conn_id = ?", &[session_id.into(), conn.as_str().into()])?;
        self.rows.forget_conn_row(conn);
        Ok(Vec::new())
    }

    /// The answer to a frame over an allowance (`text` says which, and when to retry): a
    /// subscription fails for that query (its `onError`), a mutation for that request, the
    /// rest get an error frame.
    pub(super) fn frame_refused(
        &mut self,
        conn: &ConnId,
        message: &ClientMessage,
        text: String,
        wait_ms: u64,
    ) -> Vec<Outgoing> {
        let failed = |query_id: QueryId| QueryModification::QueryFailed {
            query_id,
            code: ErrorCode::LimitExceeded,
            message: text.clone(),
        };
        let modifications = match message {
            ClientMessage::Subscribe { query_id, .. } => vec![failed(*query_id)],
            ClientMessage::SubscribeMany { queries } => queries.iter().map(|q| failed(q.query_id)).collect(),
            ClientMessage::Mutation { request_id, .. } => {
                let outcome = MutationOutcome::Failure { code: ErrorCode::LimitExceeded, message: text };
                let message = ServerMessage::MutationResponse { request_id: *request_id, outcome };
                return vec![Outgoing { to: conn.clone(), message }];
            }
            _ => Vec::new(),
        };
        match modifications.is_empty() {
            false => {
                // No version moves: nothing of the connection changed.
                let version = self.rows.conn(&self.sql, conn).ok().flatten().map(|r| r.version).unwrap_or_default();
                vec![Outgoing {
                    to: conn.clone(),
                    message: ServerMessage::Transition { start_version: version, end_version: version, modifications },
                }]
            }
            _ => vec![Outgoing {
                to: conn.clone(),
                message: ServerMessage::Error {
                    code: ErrorCode::LimitExceeded,
                    message: text,
                    retry_after_ms: Some(wait_ms),
                },
            }],
        }
    }

    pub(super) fn session_of(&mut self, conn: &ConnId) -> Result<Option<String>, StorageError> {
        Ok(self.rows.conn(&self.sql, conn)?.and_then(|row| row.session))
    }

    pub(super) fn connection_version(&mut self, conn: &ConnId) -> Result<StateVersion, StorageError> {
        let row = match self.rows.conn(&self.sql, conn)? {
            Some(row) => row,
            None => {
                // A frame can arrive for a connection the room has not seen (a socket
                // accepted by an older build): register it on first use.
                self.open_connection(conn)?;
                self.rows
                    .conn(&self.sql, conn)?
                    .ok_or_else(|| StorageError::Corrupt(format!("connection {conn} vanished")))?
            }
        };
        Ok(row.version)
    }

    pub(super) fn set_connection_version(&mut self, conn: &ConnId, version: StateVersion) -> Result<(), StorageError> {
        self.sql.exec(
            "UPDATE _conns SET query_set = ?, ts = ? WHERE conn_id = ?",
            &[i64::from(version.query_set).into(), (version.ts.0 as i64).into(), conn.as_str().into()],
        )?;
        self.rows.set_version(conn, version);
        Ok(())
    }
}
