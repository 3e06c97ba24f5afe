//! What the platform supplies to the core: the time and randomness. The core reads no clock
//! and draws no random numbers itself, so tests can fix both.

/// Time and entropy, supplied per input by the driver.
pub trait Environment {
    /// Wall-clock milliseconds since the Unix epoch.
    fn now_ms(&self) -> f64;
    /// 128 fresh bits from a cryptographic source (ids must be unguessable).
    fn random_u128(&mut self) -> u128;
}

/// A deterministic environment for tests: a fixed clock and counting "randomness".
#[derive(Clone, Debug)]
pub struct TestEnvironment {
    pub now_ms: f64,
    pub next_random: u128,
}

impl TestEnvironment {
    pub fn new(now_ms: f64) -> Self {
        Self { now_ms, next_random: 1 }
    }
}

impl Environment for TestEnvironment {
    fn now_ms(&self) -> f64 {
        self.now_ms
    }

    fn random_u128(&mut self) -> u128 {
        // Spread the counter over all 128 bits so ids look like real ones.
        let n = self.next_random;
        self.next_random += 1;
        n.wrapping_mul(0x9E37_79B9_7F4A_7C15_F39C_C060_5CED_C835)
    }
}
