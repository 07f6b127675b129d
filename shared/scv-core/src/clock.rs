//! Wall-clock time, behind a trait so that token expiry can be tested without waiting.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// A source of wall-clock time (JWT `iat`/`exp` are wall-clock seconds).
pub trait Clock: Send + Sync + std::fmt::Debug {
    fn now(&self) -> SystemTime;

    /// Seconds since the Unix epoch.
    fn unix_seconds(&self) -> u64 {
        self.now()
            .duration_since(UNIX_EPOCH)
            .unwrap_or(Duration::ZERO)
            .as_secs()
    }
}

/// The real clock.
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> SystemTime {
        SystemTime::now()
    }
}
