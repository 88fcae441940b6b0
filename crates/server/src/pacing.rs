//! Spreading the workers' passes over every clinic out in time.
//!
//! Reminders, waitlist offers, hold expiry, re-encryption and anomaly detection go over every
//! active clinic each minute (or five); retention and audit checkpoints once a day. Run back to
//! back, a pass over 1,000 clinics is thousands of short transactions in a few seconds, and
//! webhooks wait behind them: the first seconds after a start, when every pass is due at
//! once, had an ack p99 of 192 ms in the scale test (docs/PERFORMANCE.md, "Scale"). So each
//! pass pauses between two clinics, long enough that the pass over all of them takes about
//! its [`Spread::budget`], never more than [`Spread::max_pause`] per clinic (a small
//! deployment's pass stays short). On shutdown the pauses end at once, so a pass finishes
//! quickly and nothing is left half done.

use frontdesk_store::{Store, StoreError, TenantScope};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;
use tokio::sync::watch;

/// How one kind of pass is spread over its clinics.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Spread {
    /// About how long the pauses of one pass add up to, over all clinics.
    pub budget: Duration,
    /// The longest pause between two clinics.
    pub max_pause: Duration,
}

impl Spread {
    /// The passes run each minute (five of them one after the other): each takes about 6 s
    /// of pauses, so together they leave half of the minute free.
    pub const FREQUENT: Spread = Spread {
        budget: Duration::from_secs(6),
        max_pause: Duration::from_millis(20),
    };
    /// The daily passes: 50 ms between clinics (1,000 clinics: under a minute), and at most
    /// ten minutes of pauses with many more, well inside the pass's lease of an hour.
    pub const DAILY: Spread = Spread {
        budget: Duration::from_secs(600),
        max_pause: Duration::from_millis(50),
    };

    /// The pause between two clinics of a pass over `clinics`.
    pub fn pause_for(self, clinics: usize) -> Duration {
        let per = self
            .budget
            .checked_div(u32::try_from(clinics).unwrap_or(u32::MAX).max(1))
            .unwrap_or_default();
        per.min(self.max_pause)
    }
}

/// The pauses of one worker's passes, and its shutdown signal for them.
#[derive(Debug)]
pub struct Pacer {
    stop: watch::Sender<bool>,
    pauses: AtomicU64,
}

impl Default for Pacer {
    fn default() -> Self {
        Self {
            stop: watch::Sender::new(false),
            pauses: AtomicU64::new(0),
        }
    }
}

impl Pacer {
    /// Ends every pause now and from now on (the worker is shutting down).
    pub fn stop(&self) {
        self.stop.send_replace(true);
    }

    pub fn is_stopping(&self) -> bool {
        *self.stop.borrow()
    }

    /// Resolves once [`Self::stop`] was called.
    pub async fn stopped(&self) {
        let mut rx = self.stop.subscribe();
        // The sender lives as long as `self`: `wait_for` cannot fail while we hold it.
        let _ = rx.wait_for(|stop| *stop).await;
    }

    /// Waits `pause`, or less if the worker stops meanwhile; counted in [`Self::pauses`].
    pub async fn pause(&self, pause: Duration) {
        if pause.is_zero() || self.is_stopping() {
            return;
        }
        self.pauses.fetch_add(1, Ordering::Relaxed);
        tokio::select! {
            () = tokio::time::sleep(pause) => {}
            () = self.stopped() => {}
        }
    }

    /// How many pauses were taken so far (what the tests pin: a pass over n clinics pauses
    /// n − 1 times).
    pub fn pauses(&self) -> u64 {
        self.pauses.load(Ordering::Relaxed)
    }

    /// Every active clinic (one query), handed out with a pause before each but the first.
    pub async fn clinics(
        &self,
        store: &dyn Store,
        spread: Spread,
    ) -> Result<PacedClinics<'_>, StoreError> {
        let scopes = store.active_scopes().await?;
        Ok(PacedClinics {
            pacer: self,
            pause: spread.pause_for(scopes.len()),
            scopes: scopes.into_iter(),
            first: true,
        })
    }
}

/// The clinics of one pass (see [`Pacer::clinics`]).
#[derive(Debug)]
pub struct PacedClinics<'a> {
    pacer: &'a Pacer,
    scopes: std::vec::IntoIter<TenantScope>,
    pause: Duration,
    first: bool,
}

impl PacedClinics<'_> {
    /// The next clinic, after the pause that spaces it from the one before.
    pub async fn next(&mut self) -> Option<TenantScope> {
        let scope = self.scopes.next()?;
        if !std::mem::take(&mut self.first) {
            self.pacer.pause(self.pause).await;
        }
        Some(scope)
    }

    /// The pause between two clinics of this pass.
    pub fn pause(&self) -> Duration {
        self.pause
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pauses_fill_the_budget_over_many_clinics_and_are_capped_over_few() {
        let s = Spread::FREQUENT;
        assert_eq!(s.pause_for(1000), Duration::from_millis(6));
        assert_eq!(s.pause_for(10_000), Duration::from_micros(600));
        assert_eq!(s.pause_for(3), s.max_pause);
        assert_eq!(s.pause_for(0), s.max_pause);
        assert_eq!(Spread::DAILY.pause_for(1000), Duration::from_millis(50));
        assert_eq!(Spread::DAILY.pause_for(100_000), Duration::from_millis(6));
    }

    #[tokio::test]
    async fn a_stopped_pacer_ends_the_pause_under_way_and_takes_no_more() {
        let pacer = Pacer::default();
        // `join!` polls the pause first (it starts waiting), then stops the pacer.
        let both = async {
            tokio::join!(pacer.pause(Duration::from_secs(3600)), async {
                pacer.stop()
            })
        };
        // The hour's pause ends at once; the timeout only keeps a broken pacer from hanging.
        tokio::time::timeout(Duration::from_secs(60), both)
            .await
            .unwrap();
        pacer.pause(Duration::from_secs(3600)).await;
        assert_eq!(pacer.pauses(), 1);
        assert!(pacer.is_stopping());
    }
}
