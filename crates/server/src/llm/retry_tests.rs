//! Tests of the retry policy without a network: which errors are retried, how long it waits,
//! and when it gives up.

use super::*;
use crate::llm::test_support::{recording_policy, waits};
use std::sync::atomic::{AtomicU32, Ordering};

fn rate_limited(secs: u64) -> ModelError {
    ModelError::RateLimited {
        retry_after: Some(Duration::from_secs(secs)),
    }
}

#[test]
fn waits_double_with_jitter_up_to_the_cap() {
    let (p, _) = recording_policy(10);
    for _ in 0..50 {
        let first = p.delay_after(1, &ModelError::Timeout).unwrap();
        assert!(first >= Duration::from_millis(50) && first <= Duration::from_millis(100));
        let second = p.delay_after(2, &ModelError::Connection).unwrap();
        assert!(second >= Duration::from_millis(100) && second <= Duration::from_millis(200));
        let late = p.delay_after(9, &ModelError::Timeout).unwrap();
        assert!(
            late >= Duration::from_millis(500) && late <= p.max_delay,
            "{late:?}"
        );
    }
}

#[test]
fn retry_after_is_a_floor_and_too_long_a_wait_gives_up() {
    let (p, _) = recording_policy(3);
    assert!(p.delay_after(1, &rate_limited(7)).unwrap() >= Duration::from_secs(7));
    assert_eq!(
        p.delay_after(1, &rate_limited(11)),
        None,
        "beyond max_retry_after"
    );
    let overloaded = ModelError::Overloaded {
        status: 529,
        retry_after: Some(Duration::from_secs(2)),
    };
    assert!(p.delay_after(1, &overloaded).unwrap() >= Duration::from_secs(2));
}

#[test]
fn final_errors_and_the_last_attempt_are_not_retried() {
    let (p, _) = recording_policy(3);
    for e in [
        ModelError::Unauthorized { status: 401 },
        ModelError::BadRequest { status: 400 },
        ModelError::QuotaExhausted { status: 429 },
        ModelError::MalformedResponse("x"),
    ] {
        assert_eq!(p.delay_after(1, &e), None, "{}", e.code());
    }
    assert!(p.delay_after(2, &ModelError::Timeout).is_some());
    assert_eq!(p.delay_after(3, &ModelError::Timeout), None);
    assert_eq!(
        RetryPolicy::none().delay_after(1, &ModelError::Timeout),
        None
    );
}

#[tokio::test]
async fn run_retries_until_success_and_sleeps_between_attempts() {
    let (p, w) = recording_policy(3);
    let calls = AtomicU32::new(0);
    let got = p
        .run(|attempt| {
            calls.fetch_add(1, Ordering::SeqCst);
            async move {
                if attempt < 3 {
                    Err(ModelError::Connection)
                } else {
                    Ok(attempt)
                }
            }
        })
        .await;
    assert_eq!(got, Ok(3));
    assert_eq!(calls.load(Ordering::SeqCst), 3);
    assert_eq!(waits(&w).len(), 2);
}

#[tokio::test]
async fn run_returns_the_last_error_when_attempts_run_out() {
    let (p, w) = recording_policy(2);
    let got: Result<(), _> = p.run(|_| async { Err(ModelError::Timeout) }).await;
    assert_eq!(got, Err(ModelError::Timeout));
    assert_eq!(waits(&w).len(), 1);
}
