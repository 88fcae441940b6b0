//! The steps of a phone turn, timed: the server and the store emit a `frontdesk::step` trace
//! event at each step of a turn (`voice.request`, `voice.read`, `model.send`, `turn.begun`,
//! `turn.committed`, …; nothing but the step's name). With `FRONTDESK_BENCH_STEPS=1` the
//! bench notes each one with the time it was seen and prints, for each step (from one event to
//! the next), the median over all turns and the mean and maximum over the slowest turns: where
//! a turn's time goes, and what the slow ones spend it on. Meaningful for one request at a time
//! (the bench's turns run one after another). A server never records them unless its log
//! filter asks for `frontdesk::step=trace`.

use std::sync::{Mutex, PoisonError};
use std::time::{Duration, Instant};
use tracing_subscriber::Layer;
use tracing_subscriber::filter::Targets;
use tracing_subscriber::layer::{Context, SubscriberExt};
use tracing_subscriber::util::SubscriberInitExt;

static STEPS: Mutex<Vec<(String, Instant)>> = Mutex::new(Vec::new());

struct StepLayer;

impl<S: tracing::Subscriber> Layer<S> for StepLayer {
    fn on_event(&self, event: &tracing::Event<'_>, _: Context<'_, S>) {
        let at = Instant::now();
        struct Name(String);
        impl tracing::field::Visit for Name {
            fn record_debug(&mut self, field: &tracing::field::Field, value: &dyn std::fmt::Debug) {
                if field.name() == "message" {
                    self.0 = format!("{value:?}");
                }
            }
        }
        let mut name = Name(String::new());
        event.record(&mut name);
        note(&name.0, at);
    }
}

/// Whether the steps are to be recorded (`FRONTDESK_BENCH_STEPS=1`); if so, installs the
/// recorder as the process's subscriber.
pub fn record() -> bool {
    if std::env::var("FRONTDESK_BENCH_STEPS").as_deref() != Ok("1") {
        return false;
    }
    let only_steps = Targets::new().with_target("frontdesk::step", tracing::Level::TRACE);
    // A filter for the whole subscriber, not for the layer alone: per-layer filtering lost
    // some of the steps once sqlx's own (filtered out) events ran on the same threads.
    let _ = tracing_subscriber::registry()
        .with(only_steps)
        .with(StepLayer)
        .try_init();
    true
}

/// Notes a step of the bench's own (the request sent, the fake model's start and end).
pub fn note(step: &str, at: Instant) {
    let mut steps = STEPS.lock().unwrap_or_else(PoisonError::into_inner);
    steps.push((step.to_owned(), at));
}

/// The steps noted since the last call, as (from → to, time between), in time order.
pub fn take() -> Vec<(String, Duration)> {
    let mut steps = std::mem::take(&mut *STEPS.lock().unwrap_or_else(PoisonError::into_inner));
    steps.sort_by_key(|s| s.1);
    steps
        .windows(2)
        .map(|w| (format!("{} → {}", w[0].0, w[1].0), w[1].1 - w[0].1))
        .collect()
}

/// Prints, for each step, the median over all `turns` (each: its time, its steps) and the mean
/// and maximum over the slowest 3%.
pub fn report(label: &str, turns: &mut [(Duration, Vec<(String, Duration)>)]) {
    if turns.is_empty() {
        return;
    }
    turns.sort_by_key(|t| t.0);
    let slow = &turns[turns.len() - (turns.len() / 33).max(1)..];
    let mut names: Vec<&str> = Vec::new();
    for (_, steps) in turns.iter() {
        for (name, _) in steps {
            if !names.contains(&name.as_str()) {
                names.push(name);
            }
        }
    }
    let us = |d: Duration| d.as_secs_f64() * 1e6;
    let of = |set: &[(Duration, Vec<(String, Duration)>)], name: &str| -> Vec<Duration> {
        set.iter()
            .filter_map(|(_, s)| s.iter().find(|(n, _)| n == name).map(|(_, d)| *d))
            .collect()
    };
    println!(
        "{label:<8} steps: {:<34} {:>9} {:>14} {:>9}   (µs; slowest {} turns)",
        "step",
        "median",
        "slowest mean",
        "max",
        slow.len()
    );
    for name in names {
        let mut all = of(turns, name);
        all.sort();
        let slowest = of(slow, name);
        let mean = slowest.iter().map(|d| us(*d)).sum::<f64>() / slowest.len().max(1) as f64;
        let max = slowest.iter().map(|d| us(*d)).fold(0.0, f64::max);
        println!(
            "{label:<8} steps: {name:<34} {:>9.0} {mean:>14.0} {max:>9.0}   ({} turns)",
            us(all[all.len() / 2]),
            all.len()
        );
    }
}
