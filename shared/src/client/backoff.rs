//! Reconnect delays: capped exponential backoff with full jitter.
//!
//! Pure arithmetic over an attempt count and a random number supplied by the caller, so it
//! runs the same natively and in a browser (where `Instant::now()` panics) and is testable.
//! Full jitter (a uniform draw in `[0, ceiling]`) spreads a crowd of clients that all lost
//! their socket at once — every deploy drops every socket — instead of letting them herd.

use std::time::Duration;

/// Backoff parameters.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Backoff {
    /// Ceiling of the first retry.
    pub initial: Duration,
    /// Largest ceiling, reached after a few doublings.
    pub max: Duration,
}

impl Default for Backoff {
    fn default() -> Self {
        Self { initial: Duration::from_millis(500), max: Duration::from_secs(16) }
    }
}

impl Backoff {
    /// The ceiling for retry number `attempt` (0-based): `initial · 2^attempt`, capped.
    pub fn ceiling(&self, attempt: u32) -> Duration {
        let factor = 1u32.checked_shl(attempt.min(20)).unwrap_or(u32::MAX);
        self.initial.saturating_mul(factor).min(self.max)
    }

    /// The delay before retry number `attempt`, given `random` uniform in `[0, 1)`.
    /// Out-of-range randoms are clamped, never trusted.
    pub fn delay(&self, attempt: u32, random: f64) -> Duration {
        self.ceiling(attempt).mul_f64(unit(random))
    }
}

/// `random` forced into `[0, 1]` (0.5 when not a number). `max`/`min` rather than `clamp`:
/// `clamp`'s panic message formats floats, which costs the browser build ~18 KB.
#[allow(clippy::manual_clamp)]
fn unit(random: f64) -> f64 {
    if random.is_finite() {
        random.max(0.0).min(1.0)
    } else {
        0.5
    }
}

/// Why the last socket ended: it decides how soon the next attempt may start.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CloseReason {
    /// The network or the server dropped it (a deploy, a lost connection).
    Lost,
    /// The client closed it itself (to resync, or because the heartbeat found it dead):
    /// the server is probably fine, so the first retry comes quickly.
    ClosedByClient,
    /// The room shed the connection and said when to come back.
    Overloaded { retry_after: Duration },
}

/// Ceiling of the first retry after the client closed its own socket.
const QUICK_RETRY: Duration = Duration::from_millis(100);

impl Backoff {
    /// The delay before retry number `attempt` after a socket ended for `reason`:
    /// a quick first retry after a client-side close, never sooner than an overloaded
    /// room's hint (plus jitter, so the shed crowd does not come back at one instant).
    pub fn next_delay(&self, attempt: u32, random: f64, reason: CloseReason) -> Duration {
        match reason {
            CloseReason::ClosedByClient if attempt == 0 => QUICK_RETRY.mul_f64(unit(random)),
            CloseReason::Overloaded { retry_after } => retry_after.saturating_add(self.delay(attempt, random)),
            CloseReason::Lost | CloseReason::ClosedByClient => self.delay(attempt, random),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_reason_shapes_the_next_delay() {
        let b = Backoff::default();
        assert_eq!(b.next_delay(0, 1.0, CloseReason::ClosedByClient), Duration::from_millis(100));
        assert_eq!(b.next_delay(2, 1.0, CloseReason::ClosedByClient), Duration::from_secs(2));
        let hint = CloseReason::Overloaded { retry_after: Duration::from_secs(3) };
        assert_eq!(b.next_delay(0, 0.0, hint), Duration::from_secs(3));
        assert_eq!(b.next_delay(1, 1.0, hint), Duration::from_secs(4));
        assert_eq!(b.next_delay(1, 0.5, CloseReason::Lost), Duration::from_millis(500));
    }

    #[test]
    fn ceiling_doubles_then_caps() {
        let b = Backoff::default();
        assert_eq!(b.ceiling(0), Duration::from_millis(500));
        assert_eq!(b.ceiling(1), Duration::from_secs(1));
        assert_eq!(b.ceiling(4), Duration::from_secs(8));
        assert_eq!(b.ceiling(5), Duration::from_secs(16));
        assert_eq!(b.ceiling(1000), Duration::from_secs(16));
    }

    #[test]
    fn delay_is_a_jittered_fraction_of_the_ceiling() {
        let b = Backoff::default();
        assert_eq!(b.delay(3, 0.0), Duration::ZERO);
        assert_eq!(b.delay(3, 0.5), Duration::from_secs(2));
        assert_eq!(b.delay(3, 7.0), Duration::from_secs(4));
        assert_eq!(b.delay(3, f64::NAN), Duration::from_secs(2));
        assert_eq!(b.next_delay(0, f64::NAN, CloseReason::ClosedByClient), QUICK_RETRY / 2, "never a panic");
    }
}
