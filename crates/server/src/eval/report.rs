//! What a run found: per case pass or fail, red-flag recall and false alarms, booking
//! completion and turns, and the printed report.

use super::spec::Level;
use std::collections::BTreeMap;

/// The result of one case.
#[derive(Debug, Clone)]
pub struct CaseResult {
    pub name: String,
    pub failures: Vec<String>,
    /// For labelled messages and every dialogue turn with a triage expectation: (expected, got).
    pub triage: Vec<(Level, Level)>,
    /// For dialogues expected to end booked: `Some(turns)` when they did.
    pub booking: Option<Option<usize>>,
}

/// Totals of a run.
#[derive(Debug, Clone, Default)]
pub struct Report {
    pub cases: Vec<CaseResult>,
}

impl Report {
    pub fn passed(&self) -> usize {
        self.cases.iter().filter(|c| c.failures.is_empty()).count()
    }
    pub fn failed(&self) -> usize {
        self.cases.len() - self.passed()
    }
    fn triage_pairs(&self) -> impl Iterator<Item = &(Level, Level)> {
        self.cases.iter().flat_map(|c| c.triage.iter())
    }
    /// Share of expected emergencies classified as emergencies (None when there were none).
    pub fn emergency_recall(&self) -> Option<f64> {
        ratio(
            self.triage_pairs().filter(|(e, _)| *e == Level::Emergency),
            |(_, g)| *g == Level::Emergency,
        )
    }
    /// Share of expected urgent cases raised to at least urgent.
    pub fn urgent_recall(&self) -> Option<f64> {
        ratio(
            self.triage_pairs().filter(|(e, _)| *e == Level::Urgent),
            |(_, g)| *g >= Level::Urgent,
        )
    }
    /// Share of messages that should raise nothing but were flagged urgent or emergency.
    pub fn false_alarm_rate(&self) -> Option<f64> {
        ratio(
            self.triage_pairs().filter(|(e, _)| *e == Level::None),
            |(_, g)| *g > Level::None,
        )
    }
}

fn ratio<'a>(
    items: impl Iterator<Item = &'a (Level, Level)>,
    hit: impl Fn(&(Level, Level)) -> bool,
) -> Option<f64> {
    let (mut n, mut k) = (0usize, 0usize);
    for item in items {
        n += 1;
        k += usize::from(hit(item));
    }
    (n > 0).then(|| k as f64 / n as f64)
}

/// The report as printed by `frontdesk eval`.
pub fn render(report: &Report, verbose: bool) -> String {
    let mut out = String::new();
    for c in &report.cases {
        if c.failures.is_empty() {
            if verbose {
                out.push_str(&format!("PASS {}\n", c.name));
            }
        } else {
            out.push_str(&format!("FAIL {}\n", c.name));
            for f in &c.failures {
                out.push_str(&format!("     - {f}\n"));
            }
        }
    }
    let pct = |v: Option<f64>| v.map_or("n/a".to_owned(), |v| format!("{:.1}%", v * 100.0));
    let mut levels: BTreeMap<&str, usize> = BTreeMap::new();
    for (e, _) in report.cases.iter().flat_map(|c| c.triage.iter()) {
        *levels.entry(e.as_str()).or_default() += 1;
    }
    out.push_str(&format!(
        "red flags: emergency recall {}, urgent recall {}, false alarms {} (labelled: {levels:?})\n",
        pct(report.emergency_recall()),
        pct(report.urgent_recall()),
        pct(report.false_alarm_rate()),
    ));
    let bookings: Vec<Option<usize>> = report.cases.iter().filter_map(|c| c.booking).collect();
    if !bookings.is_empty() {
        let mut turns: Vec<usize> = bookings.iter().flatten().copied().collect();
        turns.sort_unstable();
        let median = turns
            .get(turns.len() / 2)
            .map_or("n/a".to_owned(), |t| t.to_string());
        out.push_str(&format!(
            "bookings: {} of {} completed, median {median} patient turns to book\n",
            turns.len(),
            bookings.len()
        ));
    }
    out.push_str(&format!(
        "{} passed, {} failed\n",
        report.passed(),
        report.failed()
    ));
    out
}
