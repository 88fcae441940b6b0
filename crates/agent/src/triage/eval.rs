//! The labelled evaluation sets in `eval/triage_*.yaml` (issue #3, item 8), run as a test:
//! prints recall, false alarms and timing, and asserts the targets — every emergency is
//! classified Emergency (none downgraded), every urgent case is flagged (Urgent, or Emergency
//! on the safe side), and fewer than 3% of non-red-flag messages are flagged at all.

use super::{TriageLevel, triage};
use serde::Deserialize;
use std::time::Instant;

#[derive(Debug, Deserialize)]
struct Case {
    text: String,
    level: String,
}

const SETS: &[(&str, &str)] = &[
    ("en", include_str!("../../../../eval/triage_en.yaml")),
    ("sw", include_str!("../../../../eval/triage_sw.yaml")),
    ("mixed", include_str!("../../../../eval/triage_mixed.yaml")),
];

#[derive(Debug, Default)]
struct Tally {
    emergencies: usize,
    emergencies_hit: usize,
    urgents: usize,
    urgents_hit: usize,
    /// Urgent cases raised to Emergency: allowed (safe side), counted for the report.
    urgents_raised: usize,
    nones: usize,
    false_alarms: usize,
}

fn load(name: &str, yaml: &str) -> Vec<(String, TriageLevel)> {
    let cases: Vec<Case> = match serde_norway::from_str(yaml) {
        Ok(c) => c,
        Err(e) => panic!("eval/triage_{name}.yaml does not parse: {e}"),
    };
    cases
        .into_iter()
        .map(|c| match TriageLevel::parse(&c.level) {
            Ok(l) => (c.text, l),
            Err(_) => panic!("bad level {:?} in triage_{name}.yaml", c.level),
        })
        .collect()
}

fn pct(n: usize, d: usize) -> f64 {
    if d == 0 {
        100.0
    } else {
        100.0 * n as f64 / d as f64
    }
}

#[test]
fn red_flag_eval_sets_meet_the_targets() {
    let mut total = Tally::default();
    let mut failures = Vec::new();
    let mut all_texts = Vec::new();
    for (name, yaml) in SETS {
        let cases = load(name, yaml);
        let mut t = Tally::default();
        for (text, expected) in &cases {
            let got = triage(text, &[]);
            all_texts.push(text.clone());
            match expected {
                TriageLevel::Emergency => {
                    t.emergencies += 1;
                    if got.level == TriageLevel::Emergency {
                        t.emergencies_hit += 1;
                    } else {
                        failures.push(format!("MISSED emergency [{name}] {text:?} → {got:?}"));
                    }
                }
                TriageLevel::Urgent => {
                    t.urgents += 1;
                    match got.level {
                        TriageLevel::Urgent => t.urgents_hit += 1,
                        TriageLevel::Emergency => t.urgents_raised += 1,
                        TriageLevel::None => {
                            failures.push(format!("missed urgent [{name}] {text:?}"))
                        }
                    }
                }
                TriageLevel::None => {
                    t.nones += 1;
                    if got.is_red_flag() {
                        t.false_alarms += 1;
                        failures.push(format!("false alarm [{name}] {text:?} → {got:?}"));
                    }
                }
            }
        }
        println!(
            "triage eval [{name}]: {} cases — emergency recall {}/{} ({:.1}%), urgent recall \
             {}/{} ({:.1}%; {} raised to emergency), false alarms {}/{} ({:.1}%)",
            cases.len(),
            t.emergencies_hit,
            t.emergencies,
            pct(t.emergencies_hit, t.emergencies),
            t.urgents_hit + t.urgents_raised,
            t.urgents,
            pct(t.urgents_hit + t.urgents_raised, t.urgents),
            t.urgents_raised,
            t.false_alarms,
            t.nones,
            pct(t.false_alarms, t.nones),
        );
        total.emergencies += t.emergencies;
        total.emergencies_hit += t.emergencies_hit;
        total.urgents += t.urgents;
        total.urgents_hit += t.urgents_hit;
        total.urgents_raised += t.urgents_raised;
        total.nones += t.nones;
        total.false_alarms += t.false_alarms;
    }
    for f in &failures {
        println!("  {f}");
    }
    // Timing (printed, never asserted: see CONVENTIONS.md). Debug builds are ~10x slower.
    let rounds = 20;
    let start = Instant::now();
    for _ in 0..rounds {
        for text in &all_texts {
            std::hint::black_box(triage(std::hint::black_box(text), &[]));
        }
    }
    let per = start.elapsed().as_secs_f64() * 1e6 / (rounds * all_texts.len()) as f64;
    println!(
        "triage eval [all]: {} cases, average {per:.1} µs per message (this build profile)",
        all_texts.len()
    );
    let false_alarm_rate = pct(total.false_alarms, total.nones);
    println!(
        "triage eval [all]: emergency recall {:.1}%, urgent recall {:.1}% (exact {:.1}%), \
         false alarms {false_alarm_rate:.1}%",
        pct(total.emergencies_hit, total.emergencies),
        pct(total.urgents_hit + total.urgents_raised, total.urgents),
        pct(total.urgents_hit, total.urgents),
    );
    assert_eq!(
        total.emergencies_hit, total.emergencies,
        "every emergency must be classified Emergency"
    );
    assert_eq!(
        total.urgents_hit + total.urgents_raised,
        total.urgents,
        "no urgent case may be left unflagged"
    );
    assert!(
        false_alarm_rate < 3.0,
        "false-alarm rate {false_alarm_rate:.1}% ≥ 3%"
    );
}
