//! Bounded retries with exponential backoff and jitter for language model calls.
//!
//! Only [retryable](super::ModelError::is_retryable) errors are retried (timeouts, 429, 5xx
//! and 529, connection failures); a bad key or a bad request fails on the first attempt. A
//! provider's `Retry-After` is honoured: the wait is never shorter than it, and when it asks
//! for longer than [`RetryPolicy::max_retry_after`] the call gives up at once instead of
//! holding a patient's conversation, so the caller can answer without the model.
//!
//! The sleep is a [`Sleeper`], so tests can record the waits instead of taking them.

use super::ModelError;
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

/// The future a [`Sleeper`] returns.
type SleepFuture = Pin<Box<dyn Future<Output = ()> + Send>>;

/// Waits for the given time. The default is `tokio::time::sleep`.
#[derive(Clone)]
pub struct Sleeper(Arc<dyn Fn(Duration) -> SleepFuture + Send + Sync>);

impl Sleeper {
    /// A sleeper from any function returning a future, e.g. one that records the waits.
    pub fn new<F, Fut>(f: F) -> Self
    where
        F: Fn(Duration) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = ()> + Send + 'static,
    {
        Self(Arc::new(move |d| Box::pin(f(d))))
    }

    /// Real time: `tokio::time::sleep`.
    pub fn tokio() -> Self {
        Self::new(tokio::time::sleep)
    }

    async fn sleep(&self, d: Duration) {
        (self.0)(d).await;
    }
}

impl fmt::Debug for Sleeper {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Sleeper")
    }
}

/// How often and how patiently to retry.
#[derive(Debug, Clone)]
pub struct RetryPolicy {
    /// Attempts in all, the first included; at least 1.
    pub max_attempts: u32,
    /// The wait before the second attempt; doubled for each further one.
    pub base_delay: Duration,
    /// The cap on the doubled wait (before jitter).
    pub max_delay: Duration,
    /// The longest `Retry-After` still waited for; a longer one ends the call.
    pub max_retry_after: Duration,
    pub sleeper: Sleeper,
}

impl Default for RetryPolicy {
    /// 3 attempts, 0.5 s then 1 s (jittered), `Retry-After` up to 10 s.
    fn default() -> Self {
        Self {
            max_attempts: 3,
            base_delay: Duration::from_millis(500),
            max_delay: Duration::from_secs(4),
            max_retry_after: Duration::from_secs(10),
            sleeper: Sleeper::tokio(),
        }
    }
}

impl RetryPolicy {
    /// One attempt only.
    pub fn none() -> Self {
        Self {
            max_attempts: 1,
            ..Self::default()
        }
    }

    /// The wait after failed attempt number `attempt` (1-based) with error `err`, or `None`
    /// when the call should end with `err`: not retryable, attempts used up, or a
    /// `Retry-After` longer than [`max_retry_after`](Self::max_retry_after).
    pub fn delay_after(&self, attempt: u32, err: &ModelError) -> Option<Duration> {
        if !err.is_retryable() || attempt >= self.max_attempts {
            return None;
        }
        let retry_after = err.retry_after().unwrap_or_default();
        if retry_after > self.max_retry_after {
            return None;
        }
        let doubled = self
            .base_delay
            .saturating_mul(1u32 << attempt.clamp(1, 16).saturating_sub(1))
            .min(self.max_delay);
        // Between half and all of it, so clients that failed together do not return together.
        let half = doubled / 2;
        let jitter_ms = u64::try_from((doubled - half).as_millis()).unwrap_or(u64::MAX);
        let jittered = half + Duration::from_millis(rand::random_range(0..=jitter_ms));
        Some(jittered.max(retry_after))
    }

    /// Runs `op` (given the 1-based attempt number) until it succeeds, fails for good or the
    /// attempts are used up; returns the last result.
    pub async fn run<T, F, Fut>(&self, mut op: F) -> Result<T, ModelError>
    where
        F: FnMut(u32) -> Fut,
        Fut: Future<Output = Result<T, ModelError>>,
    {
        let mut attempt = 1;
        loop {
            let err = match op(attempt).await {
                Ok(v) => return Ok(v),
                Err(e) => e,
            };
            match self.delay_after(attempt, &err) {
                Some(wait) => self.sleeper.sleep(wait).await,
                None => return Err(err),
            }
            attempt += 1;
        }
    }
}

#[cfg(test)]
#[path = "retry_tests.rs"]
mod tests;
