use std::time::Duration;

use crate::{ConfigError, Env};

/// How hard a Salesforce call is tried.
///
/// Environment overrides: `SALESFORCE_MAX_ATTEMPTS`, `SALESFORCE_TIMEOUT_MS`, `SALESFORCE_RETRY_BASE_MS`,
/// `SALESFORCE_RETRY_MAX_MS`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Requests sent for one call at most (429/5xx/timeouts/connection errors), the first included.
    /// A 401 answered by a fresh credential does not count.
    pub max_attempts: u32,
    /// Backoff before the first retry; doubles for each next one.
    pub base_delay: Duration,
    /// Longest wait between two attempts (also caps `Retry-After`).
    pub max_delay: Duration,
    /// Time allowed for one request, response body included (cut to the invocation's budget).
    pub request_timeout: Duration,
    /// Time allowed to open a connection.
    pub connect_timeout: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        Self {
            max_attempts: 4,
            base_delay: Duration::from_millis(200),
            max_delay: Duration::from_secs(5),
            request_timeout: Duration::from_secs(10),
            connect_timeout: Duration::from_secs(3),
        }
    }
}

impl RetryPolicy {
    /// The defaults, with the environment's overrides.
    pub fn from_env(env: &Env) -> Result<Self, ConfigError> {
        let default = Self::default();
        let policy = Self {
            max_attempts: env
                .parse::<u32>("SALESFORCE_MAX_ATTEMPTS")?
                .unwrap_or(default.max_attempts),
            base_delay: env
                .millis("SALESFORCE_RETRY_BASE_MS")?
                .unwrap_or(default.base_delay),
            max_delay: env
                .millis("SALESFORCE_RETRY_MAX_MS")?
                .unwrap_or(default.max_delay),
            request_timeout: env
                .millis("SALESFORCE_TIMEOUT_MS")?
                .unwrap_or(default.request_timeout),
            connect_timeout: default.connect_timeout,
        };
        if policy.max_attempts == 0 {
            return Err(ConfigError::Invalid {
                name: "SALESFORCE_MAX_ATTEMPTS".into(),
                reason: "must be at least 1".into(),
            });
        }
        if policy.request_timeout.is_zero() {
            return Err(ConfigError::Invalid {
                name: "SALESFORCE_TIMEOUT_MS".into(),
                reason: "must be above 0".into(),
            });
        }
        Ok(policy)
    }

    /// The wait before retry number `retry` (1 = first retry): exponential with "equal jitter" (half fixed,
    /// half random), at least `retry_after` when the server asked for it, never above `max_delay`.
    pub fn backoff(&self, retry: u32, retry_after: Option<Duration>) -> Duration {
        let exponent = retry.saturating_sub(1).min(16);
        let ceiling = self.base_delay.saturating_mul(1 << exponent).min(self.max_delay);
        let half = ceiling / 2;
        let jitter = Duration::from_nanos(fastrand::u64(
            0..=u64::try_from(half.as_nanos()).unwrap_or(u64::MAX),
        ));
        (half + jitter)
            .max(retry_after.unwrap_or(Duration::ZERO))
            .min(self.max_delay)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_grows_with_jitter_and_is_capped() {
        let policy = RetryPolicy {
            base_delay: Duration::from_millis(100),
            max_delay: Duration::from_secs(1),
            ..RetryPolicy::default()
        };
        for _ in 0..200 {
            let first = policy.backoff(1, None);
            assert!(
                first >= Duration::from_millis(50) && first <= Duration::from_millis(100),
                "{first:?}"
            );
            let third = policy.backoff(3, None);
            assert!(
                third >= Duration::from_millis(200) && third <= Duration::from_millis(400),
                "{third:?}"
            );
            assert!(policy.backoff(30, None) <= Duration::from_secs(1));
        }
    }

    #[test]
    fn retry_after_is_honoured_up_to_the_cap() {
        let policy = RetryPolicy {
            max_delay: Duration::from_secs(2),
            ..RetryPolicy::default()
        };
        assert_eq!(
            policy.backoff(1, Some(Duration::from_millis(1500))),
            Duration::from_millis(1500)
        );
        assert_eq!(
            policy.backoff(1, Some(Duration::from_secs(60))),
            Duration::from_secs(2)
        );
    }

    #[test]
    fn env_overrides_and_names_bad_values() {
        let env = Env::from_pairs([("SALESFORCE_MAX_ATTEMPTS", "2"), ("SALESFORCE_TIMEOUT_MS", "750")]);
        let policy = RetryPolicy::from_env(&env).unwrap();
        assert_eq!(policy.max_attempts, 2);
        assert_eq!(policy.request_timeout, Duration::from_millis(750));
        let err = RetryPolicy::from_env(&Env::from_pairs([("SALESFORCE_MAX_ATTEMPTS", "0")])).unwrap_err();
        assert!(err.to_string().contains("SALESFORCE_MAX_ATTEMPTS"));
    }
}
