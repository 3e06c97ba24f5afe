//! What a room is doing, for operators: `GET /rooms/:room/stats` (admins only).
//!
//! Connection and subscription counts come from SQLite (they survive hibernation); commit
//! and fan-out counters are kept in memory since the room last woke up, which is what an
//! operator looking at a live incident wants; the commit timestamp counts every commit ever.

use super::{HttpReply, Outgoing, Room};
use crate::auth::Access;
use crate::protocol::{ErrorCode, Ts};
use crate::storage::{Sql, StorageError};
use serde::Serialize;

/// The last commit that reached subscribers.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct FanOut {
    /// Wall-clock time of the fan-out (ms since the epoch).
    pub at_ms: f64,
    /// The commit it carried.
    pub ts: Ts,
    /// Subscriptions whose read sets the commit touched (re-run).
    pub rerun: usize,
    /// Connections that got a transition.
    pub transitions: usize,
}

/// Counters since the room last woke up.
#[derive(Debug, Default)]
pub(super) struct Activity {
    /// When this engine handled its first input: the room's wake-up (or start) time.
    pub woke_at_ms: Option<f64>,
    pub commits: u64,
    pub fan_outs: u64,
    pub connects_refused: u64,
    /// Sockets closed for sending too many refused frames.
    pub sockets_closed_for_refusals: u64,
    /// Sockets shed for leaving too much of what they were sent unread.
    pub slow_consumers_shed: u64,
    pub last_fan_out: Option<FanOut>,
}

impl Activity {
    pub(super) fn record_fan_out(&mut self, at_ms: f64, ts: Ts, rerun: usize, out: &[Outgoing]) {
        self.fan_outs += 1;
        self.last_fan_out = Some(FanOut { at_ms, ts, rerun, transitions: out.len() });
    }
}

/// A room's statistics, as the stats endpoint returns them.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct RoomStats {
    pub connections: u64,
    pub subscriptions: u64,
    /// The room's commit timestamp: commits ever made.
    pub commit_ts: Ts,
    /// When the room last woke (or started): a hibernated room is rebuilt from SQLite.
    pub woke_at_ms: Option<f64>,
    pub commits_since_wake: u64,
    pub fan_outs_since_wake: u64,
    pub connects_refused_since_wake: u64,
    pub sockets_closed_for_refusals_since_wake: u64,
    pub slow_consumers_shed_since_wake: u64,
    pub last_fan_out: Option<FanOut>,
    pub sqlite_bytes: u64,
    pub rows_read: u64,
    pub rows_written: u64,
}

impl<S: Sql> Room<S> {
    pub fn stats(&self) -> Result<RoomStats, StorageError> {
        let count = |table: &str| -> Result<u64, StorageError> {
            let rows = self.sql.exec(&format!("SELECT COUNT(*) FROM {table}"), &[])?;
            Ok(rows.first().map(|r| super::int_at(r, 0)).unwrap_or(0) as u64)
        };
        let activity = &self.activity;
        let counters = self.sql.counters();
        Ok(RoomStats {
            connections: count("_conns")?,
            // With those a burst answered and has not written yet.
            subscriptions: (count("_subs")? as i64 + self.unsaved_subscriptions()).max(0) as u64,
            commit_ts: self.current_ts()?,
            woke_at_ms: activity.woke_at_ms,
            commits_since_wake: activity.commits,
            fan_outs_since_wake: activity.fan_outs,
            connects_refused_since_wake: activity.connects_refused,
            sockets_closed_for_refusals_since_wake: activity.sockets_closed_for_refusals,
            slow_consumers_shed_since_wake: activity.slow_consumers_shed,
            last_fan_out: activity.last_fan_out.clone(),
            sqlite_bytes: counters.size_bytes,
            rows_read: counters.rows_read,
            rows_written: counters.rows_written,
        })
    }

    /// `GET /rooms/:room/stats`: the stats for an admin of this room, a 401/403 otherwise.
    pub fn stats_http(&mut self, authorization: Option<&str>, now_ms: f64) -> HttpReply {
        self.activity.woke_at_ms.get_or_insert(now_ms);
        let caller = match self.http_caller(authorization, now_ms) {
            Ok(caller) => caller,
            Err(reply) => return reply,
        };
        let roles = self.app.roles();
        let admins = Access::AtLeast(roles.strongest());
        if !admins.allows(caller.as_ref()) {
            let e = crate::engine::FnError::denied(admins, caller.as_ref(), "reading the room's stats", roles);
            return HttpReply::error(e.code(), e.to_string());
        }
        match self.stats() {
            Ok(stats) => HttpReply { status: 200, body: serde_json::to_value(stats).unwrap_or_default() },
            Err(e) => HttpReply::error(ErrorCode::Internal, e.to_string()),
        }
    }
}
