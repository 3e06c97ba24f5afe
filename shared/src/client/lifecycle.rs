//! The client's connection lifecycle, sans-IO: `Disconnected | Connecting | Connected |
//! Reconnecting`, the attempt count, and when the next attempt is due.
//!
//! The driver reports what happened (a socket is being opened, it opened, it ended, the
//! browser woke up) with the time and a random number; the lifecycle answers with the state
//! to show and how long to wait before the next attempt ([`Backoff`] rules: capped exponential
//! with full jitter, a quick first retry after the client closed its own socket, never before
//! an overloaded room's hint).

use crate::client::backoff::{Backoff, CloseReason};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ConnectionState {
    Disconnected,
    Connecting,
    Connected,
    Reconnecting,
}

impl ConnectionState {
    pub fn as_str(self) -> &'static str {
        match self {
            ConnectionState::Disconnected => "Disconnected",
            ConnectionState::Connecting => "Connecting",
            ConnectionState::Connected => "Connected",
            ConnectionState::Reconnecting => "Reconnecting",
        }
    }
}

/// One client's connection lifecycle.
#[derive(Clone, Debug)]
pub struct Lifecycle {
    state: ConnectionState,
    /// Attempts since the last socket that opened.
    attempts: u32,
    next_retry_at: Option<f64>,
    /// Why the current socket will end (decides the next delay); `Lost` unless told otherwise.
    reason: CloseReason,
    closed: bool,
    backoff: Backoff,
}

impl Default for Lifecycle {
    fn default() -> Self {
        Self {
            state: ConnectionState::Disconnected,
            attempts: 0,
            next_retry_at: None,
            reason: CloseReason::Lost,
            closed: false,
            backoff: Backoff::default(),
        }
    }
}

impl Lifecycle {
    pub fn state(&self) -> ConnectionState {
        self.state
    }

    pub fn attempts(&self) -> u32 {
        self.attempts
    }

    /// When the next attempt is due (ms since the epoch) while one is waiting.
    pub fn next_retry_at(&self) -> Option<f64> {
        self.next_retry_at
    }

    pub fn is_closed(&self) -> bool {
        self.closed
    }

    /// A socket is about to be opened; `false` once the client is closed (open nothing).
    pub fn connecting(&mut self) -> bool {
        if self.closed {
            return false;
        }
        self.next_retry_at = None;
        self.state = if self.attempts == 0 { ConnectionState::Connecting } else { ConnectionState::Reconnecting };
        true
    }

    /// The socket opened: the attempt count starts again.
    pub fn opened(&mut self) {
        self.attempts = 0;
        self.reason = CloseReason::Lost;
        self.state = ConnectionState::Connected;
    }

    /// The client is ending the socket itself (a resync, a dead heartbeat): the server is
    /// probably fine, so the first retry comes quickly.
    pub fn closing_by_client(&mut self) {
        self.reason = CloseReason::ClosedByClient;
    }

    /// The room shed the connection: come back no sooner than `retry_after_ms`.
    pub fn overloaded(&mut self, retry_after_ms: u64) {
        self.reason = CloseReason::Overloaded { retry_after_ms: retry_after_ms as f64 };
    }

    /// The socket ended (or could not be opened) at `now_ms`: the delay in ms before the next
    /// attempt (`random` uniform in `[0, 1)`), or `None` when the client is closed.
    pub fn ended(&mut self, now_ms: f64, random: f64) -> Option<f64> {
        if self.closed {
            self.state = ConnectionState::Disconnected;
            return None;
        }
        let attempt = self.attempts;
        self.attempts = attempt.saturating_add(1);
        self.state = ConnectionState::Reconnecting;
        let reason = std::mem::replace(&mut self.reason, CloseReason::Lost);
        let delay = self.backoff.next_delay(attempt, random, reason).floor();
        self.next_retry_at = Some(now_ms + delay);
        Some(delay)
    }

    /// The browser came back online or the tab became visible: whether to connect now
    /// rather than wait out the backoff.
    pub fn wake(&self, hidden: bool, has_socket: bool) -> bool {
        !hidden && !has_socket && !self.closed && self.state == ConnectionState::Reconnecting
    }

    /// `reconnect()`: the next socket opens at once and counts as a first attempt.
    pub fn restart(&mut self) {
        self.attempts = 0;
    }

    /// Closed for good: no further attempts.
    pub fn close(&mut self) {
        self.closed = true;
        self.next_retry_at = None;
        self.state = ConnectionState::Disconnected;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ConnectionState::*;

    #[test]
    fn attempts_back_off_until_a_socket_opens_and_then_start_again() {
        let mut life = Lifecycle::default();
        assert!(life.connecting());
        assert_eq!(life.state(), Connecting);
        let first = life.ended(1_000.0, 0.5).unwrap();
        assert_eq!((life.state(), life.attempts(), life.next_retry_at()), (Reconnecting, 1, Some(1_000.0 + first)));
        assert!(life.connecting());
        assert_eq!(life.state(), Reconnecting, "a retry is a reconnect");
        assert_eq!(life.next_retry_at(), None);
        let second = life.ended(2_000.0, 0.5).unwrap();
        assert!(second > first, "exponential: {first} then {second}");
        life.connecting();
        life.opened();
        assert_eq!((life.state(), life.attempts()), (Connected, 0));
        let again = life.ended(3_000.0, 0.5).unwrap();
        assert_eq!(again, first, "after an open the backoff starts over");
    }

    #[test]
    fn a_client_side_close_retries_quickly_and_an_overloaded_room_is_waited_for() {
        let mut life = Lifecycle::default();
        life.connecting();
        life.opened();
        life.closing_by_client();
        assert!(life.ended(0.0, 0.9).unwrap() <= 100.0, "quick first retry");
        life.connecting();
        life.opened();
        life.overloaded(5_000);
        assert!(life.ended(0.0, 0.0).unwrap() >= 5_000.0, "never before the room's hint");
        life.connecting();
        life.opened();
        assert!(life.ended(0.0, 0.0).unwrap() < 5_000.0, "the hint applies once");
    }

    #[test]
    fn wake_events_connect_only_a_waiting_client_and_close_is_final() {
        let mut life = Lifecycle::default();
        life.connecting();
        assert!(!life.wake(false, true), "connecting: nothing to do");
        life.ended(0.0, 0.5);
        assert!(life.wake(false, false));
        assert!(!life.wake(true, false), "not while the tab is hidden");
        life.close();
        assert!(!life.wake(false, false));
        assert!(!life.connecting());
        assert_eq!(life.ended(0.0, 0.5), None);
        assert_eq!((life.state(), life.next_retry_at()), (Disconnected, None));
    }
}
