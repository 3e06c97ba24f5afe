//! Who each connection is: the identity its token proved, kept in `_conns` so it survives
//! hibernation, and how it changes on a live socket.
//!
//! A connection starts signed out. `authenticate` with a valid token for this room makes it
//! that user; another `authenticate` (a refreshed token, another user, or `null` to sign
//! out) replaces the identity without dropping any subscription: every query of the
//! connection re-runs under the new identity and the client gets one transition whose
//! `identity` moved by one, carrying the results that changed. An expired token counts as
//! signed out from the moment it expires — queries re-run by later commits fail with
//! `UNAUTHENTICATED` until the client authenticates again.
//!
//! A host that can yield between events (the Durable Object) sets
//! [`RoomLimits::reruns_per_step`](super::RoomLimits): an identity change then re-runs that
//! many queries at once and leaves the rest for [`Room::continue_work`], which the host calls
//! after letting other sockets' frames in — so a socket with 256 queries cannot hold the room
//! for everyone while they all re-run. The later results go out as transitions at the
//! connection's version of the moment (the query set unchanged, the timestamp the room's), after
//! the one that moved its identity.

use super::fanout::transition_frames;
use super::{error_to, AuthPolicy, HttpReply, Outgoing, PendingRun, Room, SharedRuns};
use crate::auth::Identity;
use crate::engine::environment::Environment;
use crate::engine::FnError;
use crate::model::ids::ConnId;
use crate::protocol::{ErrorCode, QueryId, ServerMessage, StateVersion};
use crate::storage::{Sql, SqlValue, StorageError};

/// What `_conns.caller` holds for a connection.
enum Stored {
    SignedOut,
    Valid(Identity),
    Expired(Identity),
}

impl<S: Sql> Room<S> {
    fn stored_caller(&mut self, conn: &ConnId, now_ms: f64) -> Result<Stored, StorageError> {
        if let AuthPolicy::TrustAll = self.auth {
            return Ok(Stored::Valid(Identity::trusted(self.app.roles())));
        }
        let stored = self.rows.conn(&self.sql, conn)?.and_then(|row| row.caller);
        Ok(match stored {
            None => Stored::SignedOut,
            Some(identity) if identity.is_expired(now_ms) => Stored::Expired(identity),
            Some(identity) => Stored::Valid(identity),
        })
    }

    /// The identity a connection's calls run under now (`None`: signed out or expired).
    pub(super) fn caller_of(&mut self, conn: &ConnId, now_ms: f64) -> Result<Option<Identity>, StorageError> {
        Ok(match self.stored_caller(conn, now_ms)? {
            Stored::Valid(identity) => Some(identity),
            Stored::SignedOut | Stored::Expired(_) => None,
        })
    }

    /// The caller of a mutation; an expired token is refused with a message that says so
    /// (rather than running the mutation signed out).
    pub(super) fn mutation_caller(
        &mut self,
        conn: &ConnId,
        now_ms: f64,
    ) -> Result<Result<Option<Identity>, FnError>, StorageError> {
        Ok(match self.stored_caller(conn, now_ms)? {
            Stored::Valid(identity) => Ok(Some(identity)),
            Stored::SignedOut => Ok(None),
            Stored::Expired(identity) => Err(FnError::Unauthenticated(format!(
                "the token of {} expired at {}; refresh it",
                identity.subject,
                crate::model::text::iso_timestamp(identity.expires_at_ms.unwrap_or_default())
            ))),
        })
    }

    /// The caller of a one-shot HTTP call, from its `Authorization: Bearer <token>` header.
    pub(super) fn http_caller(
        &mut self,
        authorization: Option<&str>,
        now_ms: f64,
    ) -> Result<Option<Identity>, HttpReply> {
        let verifier = match &self.auth {
            AuthPolicy::TrustAll => return Ok(Some(Identity::trusted(self.app.roles()))),
            AuthPolicy::Tokens(verifier) => verifier.clone(),
        };
        let Some(header) = authorization.map(str::trim).filter(|h| !h.is_empty()) else { return Ok(None) };
        let Some(token) = header.strip_prefix("Bearer ").map(str::trim) else {
            return Err(HttpReply::error(
                ErrorCode::Unauthenticated,
                "the Authorization header must be \"Bearer <token>\"".into(),
            ));
        };
        verifier
            .verify(token, now_ms)
            .map(Some)
            .map_err(|e| HttpReply::error(ErrorCode::Unauthenticated, e.to_string()))
    }

    /// `authenticate`: verifies the token, stores the new identity, re-runs the
    /// connection's queries under it and sends one transition with what changed.
    pub(super) fn authenticate(
        &mut self,
        conn: &ConnId,
        token: Option<&str>,
        now_ms: f64,
    ) -> Result<Vec<Outgoing>, StorageError> {
        let identity = match (&self.auth, token) {
            (_, None) => None,
            (AuthPolicy::TrustAll, Some(_)) => Some(Identity::trusted(self.app.roles())),
            (AuthPolicy::Tokens(verifier), Some(token)) => match verifier.verify(token, now_ms) {
                Ok(identity) => Some(identity),
                Err(e) => return Ok(vec![error_to(conn, ErrorCode::Unauthenticated, e.to_string())]),
            },
        };
        // A refresh (the same person, role and name, still valid) changes what no query sees:
        // its results stand. Anything else re-runs every query of the socket, so it is limited.
        let unchanged = match (self.stored_caller(conn, now_ms)?, &identity) {
            (Stored::Valid(old), Some(new)) => {
                (&old.subject, old.role, &old.name) == (&new.subject, new.role, &new.name)
            }
            (Stored::SignedOut, None) => true,
            _ => false,
        };
        if !unchanged {
            // What follows reads the connection's subscriptions from storage.
            self.save_connection_state()?;
        }
        if let Some(new) = identity.as_ref().filter(|_| !unchanged) {
            // Signing in brings the connection's subscriptions to that user's count.
            if let Some(refusal) = self.subscriptions_of(conn, &new.subject, 0)? {
                return Ok(vec![error_to(conn, ErrorCode::LimitExceeded, refusal)]);
            }
        }
        if !unchanged {
            if let Err(wait_ms) = self.allowances.identity_change(&self.limits, conn, now_ms) {
                let message = format!(
                    "too many sign-ins with another identity on this connection (at most {} at once, then one every {} s); retry in {wait_ms} ms",
                    self.limits.identity_change_burst,
                    1.0 / self.limits.identity_changes_per_second
                );
                return Ok(vec![Outgoing {
                    to: conn.clone(),
                    message: ServerMessage::Error {
                        code: ErrorCode::LimitExceeded,
                        message,
                        retry_after_ms: Some(wait_ms),
                    },
                }]);
            }
        }
        let start = self.connection_version(conn)?;
        let end = StateVersion { identity: start.identity + 1, ts: self.current_ts()?, ..start };
        let stored =
            identity.as_ref().and_then(|i| serde_json::to_string(i).ok()).map_or(SqlValue::Null, SqlValue::Text);
        if unchanged && self.writes_behind() {
            // A refresh is written behind, like subscribes (`write_behind`).
            self.refresh_unsaved(conn, identity, stored)?;
            self.rows.set_version(conn, end);
        } else {
            self.sql.exec(
                "UPDATE _conns SET caller = ?, identity = ? WHERE conn_id = ?",
                &[stored, i64::from(end.identity).into(), conn.as_str().into()],
            )?;
            self.rows.forget_conn_row(conn);
            self.set_connection_version(conn, end)?;
        }
        if unchanged {
            return Ok(vec![Outgoing {
                to: conn.clone(),
                message: ServerMessage::Transition {
                    start_version: start,
                    end_version: end,
                    modifications: Vec::new(),
                },
            }]);
        }
        let rows =
            self.sql.exec("SELECT query_id FROM _subs WHERE conn_id = ? ORDER BY query_id", &[conn.as_str().into()])?;
        let mut query_ids: Vec<PendingRun> =
            rows.iter().map(|row| PendingRun { query_id: super::int_at(row, 0) as QueryId, resumed: None }).collect();
        // Re-runs left from an earlier change are replaced by this one's.
        self.pending.retain(|(c, _)| c != conn);
        let step = self.limits.reruns_per_step.max(1.0);
        if (query_ids.len() as f64) > step {
            let later = query_ids.split_off(step as usize);
            self.pending.push_back((conn.clone(), later));
        }
        let modifications = self.rerun_all(conn, &query_ids, now_ms)?;
        Ok(transition_frames(conn, start, end, modifications))
    }

    /// Re-runs `runs` of `conn` under its identity now; the modifications to send.
    fn rerun_all(
        &mut self,
        conn: &ConnId,
        runs: &[PendingRun],
        now_ms: f64,
    ) -> Result<Vec<(crate::protocol::QueryModification, usize)>, StorageError> {
        let caller = self.caller_of(conn, now_ms)?;
        let mut modifications = Vec::new();
        let mut shared = SharedRuns::default();
        for run in runs {
            let resumed = run.resumed.as_deref();
            if let Some(modification) = self.rerun(conn, run.query_id, caller.as_ref(), &mut shared, resumed)? {
                modifications.push(modification);
            }
        }
        self.flush_runs(&mut shared)?;
        Ok(modifications)
    }

    /// Whether re-runs wait for [`Room::continue_work`].
    pub fn has_pending_work(&self) -> bool {
        !self.pending.is_empty() || !self.unsaved.is_empty()
    }

    /// The next step of the runs left for later (identity changes' re-runs, subscriptions'
    /// first runs): at most `reruns_per_step` queries, the oldest first. The host calls it
    /// after yielding to other events, while [`Room::has_pending_work`] holds.
    ///
    /// A step's results are sent at the room's current timestamp: that is the data they read,
    /// and the connection's other results are current too (a commit re-runs what it touches
    /// before it returns).
    pub fn continue_work(&mut self, env: &mut dyn Environment) -> Vec<Outgoing> {
        let mut budget = self.limits.reruns_per_step.max(1.0).min(usize::MAX as f64) as usize;
        let mut out = Vec::new();
        if let Err(e) = self.save_connection_state() {
            if let Some((conn, _)) = self.pending.front() {
                out.push(error_to(conn, ErrorCode::Internal, e.to_string()));
            }
            return out;
        }
        while budget > 0 {
            let Some((conn, mut query_ids)) = self.pending.pop_front() else { break };
            let rest = query_ids.split_off(budget.min(query_ids.len()));
            budget -= query_ids.len();
            if !rest.is_empty() {
                self.pending.push_front((conn.clone(), rest));
            }
            let step = self.rerun_all(&conn, &query_ids, env.now_ms()).and_then(|modifications| {
                if modifications.is_empty() {
                    return Ok(Vec::new());
                }
                let start = self.connection_version(&conn)?;
                let end = StateVersion { ts: self.current_ts()?.max(start.ts), ..start };
                self.set_connection_version(&conn, end)?;
                Ok(transition_frames(&conn, start, end, modifications))
            });
            match step {
                Ok(frames) => out.extend(frames),
                Err(e) => out.push(error_to(&conn, ErrorCode::Internal, e.to_string())),
            }
        }
        out
    }
}
