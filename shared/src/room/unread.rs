//! Output a client has not yet said it read: what bounds a slow consumer.
//!
//! A Durable Object cannot see how much of what it sent a socket is still buffered: `send`
//! never blocks, so a client that stops reading while writes continue makes the runtime
//! buffer without end (206 MB in one test, past an isolate's 128 MB, which resets the room for
//! everyone). So the client says how far it got: after every few frames it sends
//! `{"type": "ack", "frames": n}` (the browser client every 32 frames or 128 K characters),
//! and the room keeps, per connection, the size and time of each frame sent since.
//!
//! A client that reads acknowledges within a round trip, but a burst (a reconnect
//! re-subscribing fifteen large queries, one commit changing five of them) can put many
//! megabytes on the wire before the first acknowledgement is back. So what counts against
//! [`RoomLimits::unread_bytes_per_socket`](super::RoomLimits) is only what has stayed
//! unacknowledged for longer than [`GRACE_MS`]; a hard bound of [`HARD_FACTOR`] times as
//! much, and [`MAX_UNREAD_FRAMES`] frames, hold whatever their age. Past either, the room
//! sheds the connection: `OVERLOADED` with a retry hint, then the host closes the socket.
//! The client reconnects and resumes by hash — what it already holds is confirmed, not sent
//! again — so a consumer that fell behind is resynced from the room's current state instead
//! of the backlog.
//!
//! Memory only, like the allowances: a Durable Object that hibernates forgets the counts, and
//! acknowledgements of frames it no longer counts are absorbed (never below zero).

use super::{Outgoing, Room};
use crate::model::ids::ConnId;
use crate::protocol::{ErrorCode, ServerMessage};
use crate::storage::Sql;
use std::collections::{HashMap, VecDeque};

/// Frames a connection may leave unacknowledged, whatever their size and age (a client that
/// never acknowledges is cut off after this many small frames too).
pub const MAX_UNREAD_FRAMES: usize = 4096;
/// How long a frame may wait for its acknowledgement before it counts against the bound: far
/// more than a round trip, so that only a client that stopped reading (or a link too slow for
/// the room's traffic) is shed.
pub const GRACE_MS: f64 = 10_000.0;
/// Unacknowledged bytes of any age past which a connection is shed: this many times the bound.
pub const HARD_FACTOR: f64 = 8.0;

/// How long a shed slow consumer waits before it reconnects, at least (plus its backoff): it
/// was behind, so its network or its tab is slow; the room's state will be there.
const SLOW_RETRY_MS: u64 = 2_000;

impl<S: Sql> Room<S> {
    /// The host sent `conn` a frame whose JSON text is `bytes` long, at `now_ms`. When the
    /// connection left more unacknowledged than its bound — counting only frames older than
    /// [`GRACE_MS`], or everything past the hard bound or [`MAX_UNREAD_FRAMES`] — the room
    /// forgets it and returns the frame to send before closing the socket (`OVERLOADED`, with
    /// a retry hint: [`Outgoing::closes_connection`]).
    pub fn sent(&mut self, conn: &ConnId, bytes: usize, now_ms: f64) -> Option<Outgoing> {
        let most = self.limits.unread_bytes_per_socket;
        let backlog = self.unread.sent(conn, bytes, now_ms);
        let over = (backlog.old_bytes as f64) > most
            || (backlog.bytes as f64) > most * HARD_FACTOR
            || backlog.frames > MAX_UNREAD_FRAMES;
        if !over {
            return None;
        }
        self.activity.slow_consumers_shed += 1;
        let _ = self.close_connection(conn);
        let message = format!(
            "this socket has not acknowledged {} frames ({} bytes, {} of them sent over {} s ago) the room sent it, \
             over its bound ({most} bytes unacknowledged for {} s, or {} bytes or {MAX_UNREAD_FRAMES} frames in all): \
             the room closes it; reconnect to resync",
            backlog.frames,
            backlog.bytes,
            backlog.old_bytes,
            GRACE_MS / 1000.0,
            GRACE_MS / 1000.0,
            most * HARD_FACTOR,
        );
        let message =
            ServerMessage::Error { code: ErrorCode::Overloaded, message, retry_after_ms: Some(SLOW_RETRY_MS) };
        Some(Outgoing { to: conn.clone(), message })
    }

    /// Bytes sent to `conn` that its client has not acknowledged.
    pub fn unread_bytes(&self, conn: &ConnId) -> u64 {
        self.unread.bytes(conn)
    }
}

/// What a connection has left unacknowledged.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(super) struct Backlog {
    pub(super) frames: usize,
    pub(super) bytes: u64,
    /// Of `bytes`, those sent more than [`GRACE_MS`] ago.
    pub(super) old_bytes: u64,
}

/// The unacknowledged frames of each connection: (size, when sent), oldest first, and their
/// total size.
#[derive(Default)]
pub(super) struct Unread {
    by_conn: HashMap<ConnId, (VecDeque<(u32, f64)>, u64)>,
}

impl Unread {
    /// Counts a frame of `bytes` sent to `conn` at `now_ms`; returns the backlog after it.
    pub(super) fn sent(&mut self, conn: &ConnId, bytes: usize, now_ms: f64) -> Backlog {
        let (frames, total) = self.by_conn.entry(conn.clone()).or_default();
        let bytes = u32::try_from(bytes).unwrap_or(u32::MAX);
        frames.push_back((bytes, now_ms));
        *total += u64::from(bytes);
        // Oldest first: the old ones are a prefix (a clock that went back only shortens it).
        let old_bytes =
            frames.iter().take_while(|(_, at)| now_ms - at > GRACE_MS).map(|(size, _)| u64::from(*size)).sum();
        Backlog { frames: frames.len(), bytes: *total, old_bytes }
    }

    /// The client read `frames` more frames (the oldest first).
    pub(super) fn acknowledged(&mut self, conn: &ConnId, frames: u32) {
        let Some((sent, total)) = self.by_conn.get_mut(conn) else { return };
        for _ in 0..frames {
            let Some((bytes, _)) = sent.pop_front() else { break };
            *total -= u64::from(bytes);
        }
        if sent.is_empty() {
            self.by_conn.remove(conn);
        }
    }

    pub(super) fn forget(&mut self, conn: &ConnId) {
        self.by_conn.remove(conn);
    }

    pub(super) fn bytes(&self, conn: &ConnId) -> u64 {
        self.by_conn.get(conn).map_or(0, |(_, total)| *total)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn acknowledgements_release_the_oldest_frames_and_never_go_below_zero() {
        let mut unread = Unread::default();
        let a = ConnId::from_stored("a".into());
        assert_eq!(unread.sent(&a, 100, 0.0), Backlog { frames: 1, bytes: 100, old_bytes: 0 });
        assert_eq!(unread.sent(&a, 50, 1.0), Backlog { frames: 2, bytes: 150, old_bytes: 0 });
        // Eleven seconds later, the first two are old.
        assert_eq!(unread.sent(&a, 7, 11_000.0), Backlog { frames: 3, bytes: 157, old_bytes: 150 });
        unread.acknowledged(&a, 2);
        assert_eq!(unread.bytes(&a), 7);
        // Acknowledging more than was counted (the room forgot counts when it hibernated).
        unread.acknowledged(&a, 1_000);
        assert_eq!(unread.bytes(&a), 0);
        assert_eq!(unread.sent(&a, 1, 12_000.0), Backlog { frames: 1, bytes: 1, old_bytes: 0 });
        unread.forget(&a);
        assert_eq!(unread.bytes(&a), 0);
    }
}
