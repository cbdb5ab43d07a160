//! How a queued call is retried: the verb's `+retry` policy, else
//! `[ingress.delivery]`.

use std::time::Duration;

use crate::project::DeliverySettings;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Policy {
    /// The first wait after a failed attempt, doubling.
    pub backoff: Duration,
    pub max_backoff: Duration,
    /// Attempts in all before the delivery fails.
    pub max_attempts: u32,
    /// How long after acceptance it may still be tried.
    pub max_age: Duration,
}

impl Default for Policy {
    fn default() -> Policy {
        Policy {
            backoff: Duration::from_secs(1),
            max_backoff: Duration::from_secs(60),
            max_attempts: 20,
            max_age: Duration::from_secs(24 * 3600),
        }
    }
}

impl Policy {
    pub fn from_settings(s: &DeliverySettings) -> Policy {
        let d = Policy::default();
        let backoff = s.backoff.unwrap_or(d.backoff);
        Policy {
            backoff,
            max_backoff: s.max_backoff.unwrap_or(d.max_backoff).max(backoff),
            max_attempts: s.max_attempts.unwrap_or(d.max_attempts).max(1),
            max_age: s.max_age.unwrap_or(d.max_age),
        }
    }

    /// The wait after the `attempt`th failed attempt (1 = the first).
    pub fn wait(&self, attempt: u32) -> Duration {
        let doublings = attempt.saturating_sub(1).min(30);
        self.backoff
            .saturating_mul(1u32 << doublings)
            .min(self.max_backoff)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn waits_double_up_to_the_most() {
        let p = Policy {
            backoff: Duration::from_millis(100),
            max_backoff: Duration::from_millis(500),
            ..Policy::default()
        };
        let waits: Vec<u128> = (1..=5).map(|a| p.wait(a).as_millis()).collect();
        assert_eq!(waits, [100, 200, 400, 500, 500]);
        assert_eq!(p.wait(u32::MAX), Duration::from_millis(500));
    }
}
