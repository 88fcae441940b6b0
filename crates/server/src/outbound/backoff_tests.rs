//! The retry schedule: its steps, jitter bounds, `Retry-After`, and when an event is dead.

use super::*;

#[test]
fn the_retry_schedule_backs_off_with_jitter_then_gives_up() {
    let mins = |m: u64| Duration::from_secs(m * 60);
    let expected = [
        Duration::from_secs(30),
        mins(2),
        mins(10),
        mins(60),
        mins(360),
    ];
    for (i, base) in expected.iter().enumerate() {
        let attempts = u32::try_from(i + 1).unwrap();
        assert_eq!(retry_delay(attempts, None, 0.5), Some(*base));
        assert_eq!(retry_delay(attempts, None, 0.0), Some(*base * 9 / 10));
        assert_eq!(retry_delay(attempts, None, 1.0), Some(*base * 11 / 10));
        assert_eq!(
            retry_delay(attempts, None, 7.0),
            Some(*base * 11 / 10),
            "clamped"
        );
        assert_eq!(retry_delay(attempts, None, f64::NAN), Some(*base));
    }
    assert_eq!(MAX_ATTEMPTS, 6);
    assert_eq!(
        retry_delay(6, None, 0.5),
        None,
        "dead after the sixth attempt"
    );
    assert_eq!(retry_delay(0, None, 0.5), None);
    assert_eq!(
        retry_delay(1, Some(mins(5)), 0.5),
        Some(mins(5)),
        "Retry-After is a floor"
    );
    assert_eq!(retry_delay(4, Some(mins(5)), 0.5), Some(mins(60)));
    assert_eq!(
        retry_delay(1, Some(mins(100_000)), 0.5),
        Some(mins(60)),
        "capped at an hour"
    );
}

#[test]
fn only_retryable_outcomes_are_scheduled_again() {
    let retryable = Outcome::Retryable(Failure::Timeout);
    let first = next_attempt_in(1, &retryable).unwrap();
    assert!(first >= Duration::from_secs(27) && first <= Duration::from_secs(33));
    assert_eq!(next_attempt_in(MAX_ATTEMPTS, &retryable), None);
    assert_eq!(next_attempt_in(1, &Outcome::Delivered(200)), None);
    assert_eq!(
        next_attempt_in(1, &Outcome::Permanent(Failure::TooManyRedirects)),
        None
    );
    let limited = Outcome::Retryable(Failure::Http {
        status: 429,
        retry_after: Some(Duration::from_secs(600)),
    });
    assert!(next_attempt_in(1, &limited).unwrap() >= Duration::from_secs(600));
}
