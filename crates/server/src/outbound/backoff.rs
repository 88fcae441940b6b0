//! When to try a failed delivery again: a fixed schedule (30 s, 2 min, 10 min, 1 h, 6 h,
//! then the event is dead), each wait jittered ±10 % so receivers that failed together are
//! not retried together, and a receiver's `Retry-After` honoured as a floor. Pure functions
//! (the jitter is an argument), so the worker's scheduling is tested without a clock.

use super::deliver::{Failure, Outcome};
use std::time::Duration;

/// Waits before the 2nd … 6th attempt; after the 6th failure the event is dead.
pub const RETRY_SCHEDULE: [Duration; 5] = [
    Duration::from_secs(30),
    Duration::from_secs(2 * 60),
    Duration::from_secs(10 * 60),
    Duration::from_secs(60 * 60),
    Duration::from_secs(6 * 60 * 60),
];

/// Attempts in all, the first included.
pub const MAX_ATTEMPTS: u32 = 1 + RETRY_SCHEDULE.len() as u32;

/// A receiver's `Retry-After` is honoured up to this long (the header parser,
/// `channels::http::retry_after`, clamps to the same hour).
const MAX_RETRY_AFTER: Duration = Duration::from_secs(60 * 60);

/// The wait before the next attempt after `attempts` attempts (≥ 1) have failed, or `None`
/// when the event is dead ([`MAX_ATTEMPTS`] reached). Each wait is its [`RETRY_SCHEDULE`]
/// entry ±10 % (`jitter` in `[0, 1]` picks where, so receivers that failed together do not
/// get their retries together), and never shorter than the receiver's `Retry-After`
/// (capped at an hour). A pure function: the worker passes `rand::random()` as `jitter`.
pub fn retry_delay(attempts: u32, retry_after: Option<Duration>, jitter: f64) -> Option<Duration> {
    let index = usize::try_from(attempts.checked_sub(1)?).ok()?;
    let base = *RETRY_SCHEDULE.get(index)?;
    let jitter = if jitter.is_finite() {
        jitter.clamp(0.0, 1.0)
    } else {
        0.5
    };
    // Per mille of the base, 900..=1100, so the maths on durations stays exact.
    let permille = 900 + (200.0 * jitter).round() as u32;
    let wait = base.checked_mul(permille)? / 1000;
    Some(match retry_after {
        Some(ra) => wait.max(ra.min(MAX_RETRY_AFTER)),
        None => wait,
    })
}

/// What the worker does after `attempts` attempts ended in `outcome`: `Some(wait)` to try
/// again, `None` when delivered, permanent or out of attempts.
pub fn next_attempt_in(attempts: u32, outcome: &Outcome) -> Option<Duration> {
    match outcome {
        Outcome::Retryable(f) => {
            let ra = match f {
                Failure::Http { retry_after, .. } => *retry_after,
                _ => None,
            };
            retry_delay(attempts, ra, rand::random::<f64>())
        }
        Outcome::Delivered(_) | Outcome::Permanent(_) => None,
    }
}

#[cfg(test)]
#[path = "backoff_tests.rs"]
mod tests;
