//! Dead-socket detection for the client, sans-IO.
//!
//! A WebSocket can die silently (laptop lid, Wi-Fi switch, a proxy dropping the flow): no close
//! event for minutes. So when nothing has arrived for [`Heartbeat::idle`], the client sends
//! `ping` (answered `pong` by the Durable Object runtime itself, without waking the room); if
//! nothing at all arrives within [`Heartbeat::timeout`] after that, the socket is declared dead
//! and the client reconnects. With the defaults a dead socket is found within 5 s.

/// The text frame the client sends to probe the socket.
pub const PING: &str = "ping";
/// The runtime's answer (`setWebSocketAutoResponse`); not a protocol frame.
pub const PONG: &str = "pong";

/// What the driver should do now.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum HeartbeatAction {
    Nothing,
    SendPing,
    /// Nothing arrived in time: close the socket and reconnect.
    Dead,
}

#[derive(Clone, Debug)]
pub struct Heartbeat {
    /// Quiet time after which a ping is sent, in ms.
    pub idle: f64,
    /// Time a ping may go unanswered, in ms.
    pub timeout: f64,
    last_received: f64,
    ping_sent: Option<f64>,
}

impl Heartbeat {
    pub fn new(now_ms: f64) -> Self {
        Self { idle: 2_000.0, timeout: 3_000.0, last_received: now_ms, ping_sent: None }
    }

    /// Any frame arrived (a pong or a protocol frame): the socket is alive.
    pub fn on_receive(&mut self, now_ms: f64) {
        self.last_received = now_ms;
        self.ping_sent = None;
    }

    /// Call on every timer tick.
    pub fn tick(&mut self, now_ms: f64) -> HeartbeatAction {
        match self.ping_sent {
            Some(sent) if now_ms - sent >= self.timeout => HeartbeatAction::Dead,
            Some(_) => HeartbeatAction::Nothing,
            None if now_ms - self.last_received >= self.idle => {
                self.ping_sent = Some(now_ms);
                HeartbeatAction::SendPing
            }
            None => HeartbeatAction::Nothing,
        }
    }

    /// When the driver should tick next, in ms from now.
    #[allow(clippy::manual_clamp)]
    pub fn next_tick_in(&self, now_ms: f64) -> f64 {
        let due = match self.ping_sent {
            Some(sent) => sent + self.timeout,
            None => self.last_received + self.idle,
        };
        // Not `clamp`: its panic path formats floats (~18 KB of browser build).
        (due - now_ms).max(50.0).min(self.idle)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_silent_socket_is_declared_dead_within_five_seconds() {
        let mut hb = Heartbeat::new(0.0);
        assert_eq!(hb.tick(1_000.0), HeartbeatAction::Nothing);
        assert_eq!(hb.tick(2_000.0), HeartbeatAction::SendPing);
        assert_eq!(hb.tick(3_000.0), HeartbeatAction::Nothing);
        assert_eq!(hb.next_tick_in(3_000.0), 2_000.0);
        assert_eq!(hb.tick(5_000.0), HeartbeatAction::Dead);
    }

    #[test]
    fn traffic_keeps_it_alive() {
        let mut hb = Heartbeat::new(0.0);
        assert_eq!(hb.tick(2_000.0), HeartbeatAction::SendPing);
        hb.on_receive(2_100.0);
        assert_eq!(hb.tick(4_000.0), HeartbeatAction::Nothing);
        assert_eq!(hb.tick(4_100.0), HeartbeatAction::SendPing);
        hb.on_receive(4_150.0);
        assert_eq!(hb.tick(7_000.0), HeartbeatAction::SendPing);
    }
}
