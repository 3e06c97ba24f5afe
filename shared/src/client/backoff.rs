//! Reconnect delays: capped exponential backoff with full jitter.
//!
//! Pure arithmetic over an attempt count and a random number supplied by the caller, so it
//! runs the same natively and in a browser (where `Instant::now()` panics) and is testable.
//! Full jitter (a uniform draw in `[0, ceiling]`) spreads a crowd of clients that all lost
//! their socket at once — every deploy drops every socket — instead of letting them herd.
//!
//! Times are milliseconds as `f64` (what browser timers take): `Duration`'s float
//! arithmetic costs the browser build half a kilobyte of checks.

/// Backoff parameters, in ms.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Backoff {
    /// Ceiling of the first retry.
    pub initial_ms: f64,
    /// Largest ceiling, reached after a few doublings.
    pub max_ms: f64,
}

impl Default for Backoff {
    fn default() -> Self {
        Self { initial_ms: 500.0, max_ms: 16_000.0 }
    }
}

impl Backoff {
    /// The ceiling for retry number `attempt` (0-based): `initial · 2^attempt`, capped.
    #[allow(clippy::manual_clamp)]
    pub fn ceiling(&self, attempt: u32) -> f64 {
        (self.initial_ms * f64::from(1u32 << attempt.min(20))).min(self.max_ms)
    }

    /// The delay before retry number `attempt`, given `random` uniform in `[0, 1)`.
    /// Out-of-range randoms are clamped, never trusted.
    pub fn delay(&self, attempt: u32, random: f64) -> f64 {
        self.ceiling(attempt) * unit(random)
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
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum CloseReason {
    /// The network or the server dropped it (a deploy, a lost connection).
    Lost,
    /// The client closed it itself (to resync, or because the heartbeat found it dead):
    /// the server is probably fine, so the first retry comes quickly.
    ClosedByClient,
    /// The room shed the connection and said when to come back (in ms).
    Overloaded { retry_after_ms: f64 },
}

/// Ceiling of the first retry after the client closed its own socket, in ms.
const QUICK_RETRY_MS: f64 = 100.0;

impl Backoff {
    /// The delay before retry number `attempt` after a socket ended for `reason`:
    /// a quick first retry after a client-side close, never sooner than an overloaded
    /// room's hint (plus jitter, so the shed crowd does not come back at one instant).
    pub fn next_delay(&self, attempt: u32, random: f64, reason: CloseReason) -> f64 {
        match reason {
            CloseReason::ClosedByClient if attempt == 0 => QUICK_RETRY_MS * unit(random),
            CloseReason::Overloaded { retry_after_ms } => retry_after_ms + self.delay(attempt, random),
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
        assert_eq!(b.next_delay(0, 1.0, CloseReason::ClosedByClient), 100.0);
        assert_eq!(b.next_delay(2, 1.0, CloseReason::ClosedByClient), 2000.0);
        let hint = CloseReason::Overloaded { retry_after_ms: 3000.0 };
        assert_eq!(b.next_delay(0, 0.0, hint), 3000.0);
        assert_eq!(b.next_delay(1, 1.0, hint), 4000.0);
        assert_eq!(b.next_delay(1, 0.5, CloseReason::Lost), 500.0);
    }

    #[test]
    fn ceiling_doubles_then_caps() {
        let b = Backoff::default();
        assert_eq!(b.ceiling(0), 500.0);
        assert_eq!(b.ceiling(1), 1000.0);
        assert_eq!(b.ceiling(4), 8000.0);
        assert_eq!(b.ceiling(5), 16_000.0);
        assert_eq!(b.ceiling(1000), 16_000.0);
    }

    #[test]
    fn delay_is_a_jittered_fraction_of_the_ceiling() {
        let b = Backoff::default();
        assert_eq!(b.delay(3, 0.0), 0.0);
        assert_eq!(b.delay(3, 0.5), 2000.0);
        assert_eq!(b.delay(3, 7.0), 4000.0);
        assert_eq!(b.delay(3, f64::NAN), 2000.0);
        assert_eq!(b.next_delay(0, f64::NAN, CloseReason::ClosedByClient), QUICK_RETRY_MS / 2.0, "never a panic");
    }
}
