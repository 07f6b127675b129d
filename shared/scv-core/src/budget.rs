//! The time an invocation has left: every retry loop stops before the Lambda deadline.

use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// How long work may go on. `Budget::unbounded()` has no deadline (bounded only by attempts).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Budget {
    deadline: Option<Instant>,
}

impl Budget {
    /// No deadline.
    pub fn unbounded() -> Self {
        Self { deadline: None }
    }

    /// Ends `duration` from now.
    pub fn within(duration: Duration) -> Self {
        Self {
            deadline: Instant::now().checked_add(duration),
        }
    }

    /// Ends at a deadline given in milliseconds since the Unix epoch, as the Lambda Runtime API gives it
    /// (`Lambda-Runtime-Deadline-Ms`, `lambda_runtime::Context::deadline`), less `margin` kept for the
    /// function to report its result.
    ///
    /// Some emulators send the function's timeout instead of a point in time (`cargo lambda watch` sends
    /// `600000`): a value before 2001 is taken as milliseconds from now, and 0 as no deadline at all.
    pub fn from_epoch_ms(deadline_ms: u64, margin: Duration) -> Self {
        const YEAR_2001_MS: u64 = 978_307_200_000;
        if deadline_ms == 0 {
            return Self::unbounded();
        }
        if deadline_ms < YEAR_2001_MS {
            return Self::within(Duration::from_millis(deadline_ms).saturating_sub(margin));
        }
        let now_ms = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap_or(Duration::ZERO)
            .as_millis();
        let left =
            Duration::from_millis(u64::try_from(u128::from(deadline_ms).saturating_sub(now_ms)).unwrap_or(0));
        Self::within(left.saturating_sub(margin))
    }

    /// The deadline of a Lambda invocation, keeping `margin` to send the response.
    pub fn from_lambda(context: &lambda_runtime::Context, margin: Duration) -> Self {
        Self::from_epoch_ms(context.deadline, margin)
    }

    /// Time left; `None` when unbounded.
    pub fn remaining(&self) -> Option<Duration> {
        self.deadline.map(|d| d.saturating_duration_since(Instant::now()))
    }

    /// Whether the deadline has passed.
    pub fn is_expired(&self) -> bool {
        self.remaining().is_some_and(|left| left.is_zero())
    }

    /// `wanted`, cut to the time left.
    pub fn clamp(&self, wanted: Duration) -> Duration {
        self.remaining().map_or(wanted, |left| left.min(wanted))
    }

    /// Whether `needed` still fits before the deadline.
    pub fn allows(&self, needed: Duration) -> bool {
        self.remaining().is_none_or(|left| left > needed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unbounded_budget_allows_everything() {
        let budget = Budget::unbounded();
        assert!(budget.allows(Duration::from_secs(3600)));
        assert_eq!(budget.clamp(Duration::from_secs(7)), Duration::from_secs(7));
        assert!(!budget.is_expired());
    }

    #[test]
    fn deadline_from_epoch_ms_keeps_the_margin() {
        let now_ms = SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_millis() as u64;
        let budget = Budget::from_epoch_ms(now_ms + 10_000, Duration::from_secs(2));
        let left = budget.remaining().unwrap();
        assert!(
            left <= Duration::from_secs(8) && left > Duration::from_secs(7),
            "{left:?}"
        );
        assert!(budget.clamp(Duration::from_secs(30)) <= Duration::from_secs(8));
    }

    #[test]
    fn emulators_that_send_a_timeout_instead_of_a_deadline_are_understood() {
        let budget = Budget::from_epoch_ms(600_000, Duration::from_secs(1));
        let left = budget.remaining().unwrap();
        assert!(
            left <= Duration::from_secs(599) && left > Duration::from_secs(598),
            "{left:?}"
        );
        assert_eq!(Budget::from_epoch_ms(0, Duration::ZERO), Budget::unbounded());
    }

    #[test]
    fn a_deadline_in_the_past_is_expired() {
        let budget = Budget::from_epoch_ms(1_700_000_000_000, Duration::ZERO);
        assert!(budget.is_expired());
        assert!(!budget.allows(Duration::from_millis(1)));
    }
}
