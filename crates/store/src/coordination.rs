//! Coordination between the `serve` instances that share one database (#12 item 1): what would
//! otherwise live in each process's memory and so be counted once per instance.
//!
//! - **The outbound send rate** of each clinic is one bucket in the database
//!   (`outbound_rates`), taken with one atomic upsert, so three instances together send at
//!   the clinic's rate, not three times it. The bucket is kept as a single time (the
//!   generic cell rate algorithm, as the `governor` crate does in memory): `tat`, when the
//!   bucket will next be full again. A send is granted when `tat - now` is within the burst
//!   tolerance, and moves `tat` on by one interval.
//! - **Daily maintenance passes** (retention, the purge of terminated clinics, audit
//!   checkpoints) are claimed by name (`maintenance_runs`): the first instance to find a pass
//!   due takes a lease on it and runs it; the others see it leased or done and skip it. A
//!   holder that dies leaves a lease that runs out, and the next instance to look takes over.

use jiff::{SignedDuration, Timestamp};

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
