//! Coordination between the `serve` instances that share one database (#12 item 1): what would
//! otherwise live in each process's memory and so be counted once per instance.
//!
//! - **The outbound send rate** of each clinic is one bucket in the database
//!   (`outbound_rates`), taken with one atomic upsert, so three instances together send at
//!   the clinic's rate, not three times it. The bucket is kept as a single time (the
//!   generic cell rate algorithm, as the `governor` crate does in memory): `tat`, when the
//!   bucket will next be full again. A send is granted when `tat - now` is within the burst
//!   tolerance, and moves `tat` on by one interval. On SQLite, which one `serve` process
//!   uses at a time (it holds [`crate::SqliteStore::lock_for_serving`]), the same bucket is
//!   kept in that process's memory instead ([`LocalSendBuckets`]): the answer is the same and
//!   the one SQLite writer is spared a transaction per outbound message.
//! - **Daily maintenance passes** (retention, the purge of terminated clinics, audit
//!   checkpoints) are claimed by name (`maintenance_runs`): the first instance to find a pass
//!   due takes a lease on it and runs it; the others see it leased or done and skip it. A
//!   holder that dies leaves a lease that runs out, and the next instance to look takes over.

use jiff::{SignedDuration, Timestamp};
use std::collections::HashMap;
use std::sync::Mutex;
use uuid::Uuid;

/// What the clinic's shared send bucket answered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SendPermit {
    /// Send now (one token taken).
    Granted,
    /// Over the clinic's rate: nothing taken; try again after this long.
    Wait(SignedDuration),
}

/// A claimed maintenance pass: the holder runs it, then finishes it with this lease.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MaintenanceLease {
    /// The pass, e.g. `retention`.
    pub name: String,
    /// Who holds it (a worker id).
    pub holder: String,
    /// When the lease runs out and another instance may take the pass over.
    pub until: Timestamp,
}

/// A maintenance pass as stored (for operators and tests).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MaintenanceRun {
    pub name: String,
    /// The worker holding the pass now, if any.
    pub holder: Option<String>,
    pub leased_until: Option<Timestamp>,
    /// When it last completed.
    pub last_done_at: Option<Timestamp>,
    /// How many times it has completed, over every instance.
    pub runs: i64,
}

/// The generic cell rate algorithm of one clinic's bucket, in microseconds: the rules the
/// shared SQL upsert applies, here for a bucket kept in memory.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Gcra {
    /// One send every `interval` µs.
    pub interval: i64,
    /// How far ahead of now the bucket may run: a burst of `rate` sends.
    pub tolerance: i64,
}

impl Gcra {
    pub(crate) fn per_second(per_second: u32) -> Self {
        let rate = i64::from(per_second).clamp(1, crate::sql::coordination::MAX_PER_SECOND);
        let interval = 1_000_000 / rate;
        Gcra {
            interval,
            tolerance: interval * (rate - 1),
        }
    }

    /// Takes a token from a bucket whose theoretical arrival time is `tat` (`None`: a new,
    /// full bucket): the new `tat` and the answer.
    pub(crate) fn take(self, tat: Option<i64>, now: i64) -> (i64, SendPermit) {
        match tat {
            Some(tat) if tat - now > self.tolerance => (
                tat,
                SendPermit::Wait(SignedDuration::from_micros(
                    (tat - now - self.tolerance).max(1),
                )),
            ),
            Some(tat) if tat > now => (tat + self.interval, SendPermit::Granted),
            _ => (now + self.interval, SendPermit::Granted),
        }
    }
}

/// Every clinic's send bucket in this process's memory (SQLite; see the module notes).
#[derive(Debug, Default)]
pub(crate) struct LocalSendBuckets {
    tat: Mutex<HashMap<Uuid, i64>>,
}

impl LocalSendBuckets {
    pub(crate) fn take(&self, tenant: Uuid, per_second: u32, now: i64) -> SendPermit {
        let mut tats = self
            .tat
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let (tat, permit) = Gcra::per_second(per_second).take(tats.get(&tenant).copied(), now);
        tats.insert(tenant, tat);
        permit
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_burst_of_the_rate_is_granted_then_sends_wait_one_interval_each() {
        let buckets = LocalSendBuckets::default();
        let (a, b) = (Uuid::from_u128(1), Uuid::from_u128(2));
        let now = 1_000_000_000;
        for _ in 0..4 {
            assert_eq!(buckets.take(a, 4, now), SendPermit::Granted);
        }
        assert_eq!(
            buckets.take(a, 4, now),
            SendPermit::Wait(SignedDuration::from_millis(250))
        );
        // Another clinic has its own bucket.
        assert_eq!(buckets.take(b, 4, now), SendPermit::Granted);
        // A quarter of a second later one more token is there, and only one.
        assert_eq!(buckets.take(a, 4, now + 250_000), SendPermit::Granted);
        assert!(matches!(
            buckets.take(a, 4, now + 250_000),
            SendPermit::Wait(_)
        ));
        // After a long pause the bucket is full again, not fuller.
        for _ in 0..4 {
            assert_eq!(buckets.take(a, 4, now + 60_000_000), SendPermit::Granted);
        }
        assert!(matches!(
            buckets.take(a, 4, now + 60_000_000),
            SendPermit::Wait(_)
        ));
    }
}
