//! Output a client has not yet said it read: what bounds a slow consumer.
//!
//! A Durable Object cannot see how much of what it sent a socket is still buffered: `send`
//! never blocks, so a client that stops reading while writes continue makes the runtime
//! buffer without end (206 MB in one test, past an isolate's 128 MB, which resets the room for
//! everyone). So the client says how far it got: after every few frames it sends
//! `{"type": "ack", "frames": n}` (the browser client every 32 frames or 128 K characters),
//! and the room keeps, per connection, the sizes of the frames sent since. When a connection
//! has more than [`RoomLimits::unread_bytes_per_socket`](super::RoomLimits) bytes (before
//! the frame just sent) or [`MAX_UNREAD_FRAMES`] frames unacknowledged, the room sheds it: `OVERLOADED` with a retry
//! hint, then the host closes the socket. The client reconnects and resumes by hash — what it
//! already holds is confirmed, not sent again — so a consumer that fell behind is resynced
//! from the room's current state instead of the backlog.
//!
//! Memory only, like the allowances: a Durable Object that hibernates forgets the counts, and
//! acknowledgements of frames it no longer counts are absorbed (never below zero).

use super::{Outgoing, Room};
use crate::model::ids::ConnId;
use crate::protocol::{ErrorCode, ServerMessage};
use crate::storage::Sql;
use std::collections::{HashMap, VecDeque};

/// Frames a connection may leave unacknowledged, whatever their size (a client that never
/// acknowledges is cut off after this many small frames too).
pub const MAX_UNREAD_FRAMES: usize = 4096;

/// How long a shed slow consumer waits before it reconnects, at least (plus its backoff): it
/// was behind, so its network or its tab is slow; the room's state will be there.
const SLOW_RETRY_MS: u64 = 2_000;

impl<S: Sql> Room<S> {
    /// The host sent `conn` a frame whose JSON text is `bytes` long. When the connection had
    /// already left more unacknowledged than its bound before this frame (one frame alone,
    /// however big, never sheds a client that reads), the room forgets it and returns the
    /// frame to send before closing the socket (`OVERLOADED`, with a retry hint:
    /// [`Outgoing::closes_connection`]); frames still queued for it may be dropped.
    pub fn sent(&mut self, conn: &ConnId, bytes: usize) -> Option<Outgoing> {
        let (unread, frames) = self.unread.sent(conn, bytes);
        let most = self.limits.unread_bytes_per_socket;
        let before = unread.saturating_sub(bytes as u64);
        if (before as f64) <= most && frames <= MAX_UNREAD_FRAMES {
            return None;
        }
        self.activity.slow_consumers_shed += 1;
        let _ = self.close_connection(conn);
        let message = format!(
            "this socket has not acknowledged {frames} frames ({unread} bytes) the room sent it, over its bound \
             ({most} bytes or {MAX_UNREAD_FRAMES} frames): the room closes it; reconnect to resync"
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

/// The unacknowledged frames of each connection: their sizes, oldest first, and their sum.
#[derive(Default)]
pub(super) struct Unread {
    by_conn: HashMap<ConnId, (VecDeque<u32>, u64)>,
}

impl Unread {
    /// Counts a frame of `bytes` sent to `conn`; returns the unread bytes and frames after it.
    pub(super) fn sent(&mut self, conn: &ConnId, bytes: usize) -> (u64, usize) {
        let (sizes, total) = self.by_conn.entry(conn.clone()).or_default();
        let bytes = u32::try_from(bytes).unwrap_or(u32::MAX);
        sizes.push_back(bytes);
        *total += u64::from(bytes);
        (*total, sizes.len())
    }

    /// The client read `frames` more frames (the oldest first).
    pub(super) fn acknowledged(&mut self, conn: &ConnId, frames: u32) {
        let Some((sizes, total)) = self.by_conn.get_mut(conn) else { return };
        for _ in 0..frames {
            let Some(bytes) = sizes.pop_front() else { break };
            *total -= u64::from(bytes);
        }
        if sizes.is_empty() {
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
        assert_eq!(unread.sent(&a, 100), (100, 1));
        assert_eq!(unread.sent(&a, 50), (150, 2));
        assert_eq!(unread.sent(&a, 7), (157, 3));
        unread.acknowledged(&a, 2);
        assert_eq!(unread.bytes(&a), 7);
        // Acknowledging more than was counted (the room forgot counts when it hibernated).
        unread.acknowledged(&a, 1_000);
        assert_eq!(unread.bytes(&a), 0);
        assert_eq!(unread.sent(&a, 1), (1, 1));
        unread.forget(&a);
        assert_eq!(unread.bytes(&a), 0);
    }
}
