//! A clock that tests move forward.

use std::{
    sync::{Mutex, PoisonError},
    time::{Duration, SystemTime},
};

use scv_core::Clock;

/// Real time plus an offset that only grows.
#[derive(Debug, Default)]
pub struct ManualClock {
    offset: Mutex<Duration>,
}

impl ManualClock {
    /// Moves the clock forward by `by`.
    pub fn advance(&self, by: Duration) {
        *self.offset.lock().unwrap_or_else(PoisonError::into_inner) += by;
    }
}

impl Clock for ManualClock {
    fn now(&self) -> SystemTime {
        SystemTime::now() + *self.offset.lock().unwrap_or_else(PoisonError::into_inner)
    }
}
