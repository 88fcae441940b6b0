//! `frontdesk eval FILE`: scripted conversations run through the real turn path (agent,
//! store, escalation, audit) against a throwaway SQLite database seeded with the demo clinics,
//! with the clock frozen, so a run is reproducible and touches no real clinic's data.
//!
//! A file is a YAML list of cases of two kinds:
//!
//! ```yaml
//! # a labelled message: the red-flag level triage must give it
//! - text: "my dad has crushing chest pain"
//!   level: emergency            # emergency | urgent | none
//!   tenant: nairobi-family      # optional, default harbour-physio
//! # a dialogue: turns with expectations
//! - name: asks for parking
//!   tenant: harbour-physio
//!   turns:
//!     - say: "where can I park?"
//!       expect:
//!         intent: faq           # the intent audited for the reply
//!         triage: none          # none | urgent | emergency
//!         alert: none           # none | emergency | urgent | handoff | task
//!         reply_contains: ["two patient parks"]
//!         reply_not_contains: ["booked"]
//!   booked: false               # optional: whether the patient ends with an appointment
//! ```
//!
//! What happened is read back from the store (the audit entries and staff alerts the turn
//! wrote), not from the agent's return value, so the harness checks what a clinic would see.

use crate::{demo, turn};
use frontdesk_domain::{ManualClock, TenantSlug};
use frontdesk_store::{Channel, NewPatient, Store, StoreError, TenantScope, testing::TestDb};
use serde::Deserialize;
use std::collections::BTreeMap;
use std::sync::Arc;

/// Tue 2026-11-24 10:00 in Auckland (Mon 23:00 UTC): a working day for both demo clinics.
pub const DEFAULT_NOW: &str = "2026-11-23T21:00:00Z";

#[derive(Debug, Deserialize)]
#[serde(untagged)]
enum Case {
    Labelled {
        text: String,
        level: Level,
        tenant: Option<String>,
    },
    Dialogue(Dialogue),
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Dialogue {
    name: String,
    tenant: Option<String>,
    turns: Vec<DialogueTurn>,
    booked: Option<bool>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct DialogueTurn {
    say: String,
    #[serde(default)]
    expect: Expect,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct Expect {
    intent: Option<String>,
    triage: Option<Level>,
    alert: Option<String>,
    #[serde(default)]
    reply_contains: Vec<String>,
    #[serde(default)]
    reply_not_contains: Vec<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Level {
    None,
    Urgent,
    Emergency,
}

impl Level {
    fn as_str(self) -> &'static str {
        match self {
            Level::None => "none",
            Level::Urgent => "urgent",
            Level::Emergency => "emergency",
        }
    }
}

/// What one turn did, as recorded in the store.
#[derive(Debug)]
struct Observed {
    replies: Vec<String>,
    intent: String,
    triage: Level,
    alert: String,
}

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

#[derive(Debug, thiserror::Error)]
pub enum EvalError {
    #[error("{0}: {1}")]
    Parse(String, String),
    #[error("store: {0}")]
    Store(#[from] StoreError),
}

/// Parses a YAML file of cases (see the module docs).
fn parse(name: &str, yaml: &str) -> Result<Vec<Case>, EvalError> {
    serde_norway::from_str(yaml).map_err(|e| EvalError::Parse(name.to_owned(), e.to_string()))
}

struct Harness {
    store: Arc<dyn Store>,
    clock: Arc<ManualClock>,
    _db: TestDb,
}

impl Harness {
    async fn new(now: jiff::Timestamp) -> Result<Self, EvalError> {
        let db = TestDb::sqlite().await?;
        let clock = Arc::new(ManualClock::new(now));
        let store = db
            .open(frontdesk_store::testing::test_keyring(), clock.clone())
            .await?;
        demo::seed(store.as_ref()).await?;
        Ok(Self {
            store,
            clock,
            _db: db,
        })
    }

    async fn scope(&self, tenant: Option<&str>) -> Result<TenantScope, String> {
        let slug =
            TenantSlug::parse(tenant.unwrap_or("harbour-physio")).map_err(|e| e.to_string())?;
        self.store
            .operator_scope(&slug)
            .await
            .map_err(|_| format!("no demo clinic `{slug}`"))
    }

    /// One message through the real turn path, and what the store recorded for it.
    async fn say(
        &self,
        scope: TenantScope,
        conv: frontdesk_domain::ConversationId,
        patient: frontdesk_domain::PatientId,
        text: &str,
    ) -> Result<Observed, EvalError> {
        let before = self
            .store
            .audit_entries(scope, 0, u32::MAX)
            .await?
            .last()
            .map_or(0, |e| e.seq);
        let alerts_before = self
            .store
            .pending_notifications(scope, u32::MAX)
            .await?
            .len();
        let replies = turn::handle_patient_message(
            self.store.as_ref(),
            self.clock.as_ref(),
            scope,
            conv,
            patient,
            text,
        )
        .await?;
        let entries = self.store.audit_entries(scope, before, u32::MAX).await?;
        let detail = |action: &str, key: &str| -> Option<String> {
            entries.iter().filter(|e| e.action == action).find_map(|e| {
                serde_json::from_str::<serde_json::Value>(&e.details)
                    .ok()
                    .and_then(|v| v[key].as_str().map(str::to_owned))
            })
        };
        let triage = match detail("triage.red_flag", "level").as_deref() {
            Some("emergency") => Level::Emergency,
            Some("urgent") => Level::Urgent,
            _ => Level::None,
        };
        let alerts = self.store.pending_notifications(scope, u32::MAX).await?;
        let alert = if alerts.len() > alerts_before {
            alerts
                .first()
                .map_or("none".to_owned(), |n| n.kind.as_str().to_owned())
        } else {
            "none".to_owned()
        };
        // Each turn is one minute after the last, like a real exchange.
        self.clock.advance(jiff::SignedDuration::from_mins(1));
        Ok(Observed {
            replies,
            intent: detail("agent.replied", "intent").unwrap_or_default(),
            triage,
            alert,
        })
    }

    async fn conversation(
        &self,
        scope: TenantScope,
    ) -> Result<
        (
            frontdesk_domain::ConversationId,
            frontdesk_domain::PatientId,
        ),
        EvalError,
    > {
        let patient = self
            .store
            .create_patient(scope, &NewPatient::default())
            .await?;
        Ok((
            self.store
                .start_conversation(scope, patient, Channel::Webchat)
                .await?,
            patient,
        ))
    }
}

fn check(turn_no: usize, expect: &Expect, got: &Observed, failures: &mut Vec<String>) {
    let all = got.replies.join("\n");
    if let Some(intent) = &expect.intent
        && *intent != got.intent
    {
        failures.push(format!(
            "turn {turn_no}: intent `{}`, expected `{intent}`",
            got.intent
        ));
    }
    if let Some(level) = expect.triage
        && level != got.triage
    {
        failures.push(format!(
            "turn {turn_no}: triage {}, expected {}",
            got.triage.as_str(),
            level.as_str()
        ));
    }
    if let Some(alert) = &expect.alert
        && *alert != got.alert
    {
        failures.push(format!(
            "turn {turn_no}: alert {}, expected {alert}",
            got.alert
        ));
    }
    for needle in &expect.reply_contains {
        if !all.contains(needle.as_str()) {
            failures.push(format!(
                "turn {turn_no}: reply lacks {needle:?}; it was: {all:?}"
            ));
        }
    }
    for needle in &expect.reply_not_contains {
        if all.contains(needle.as_str()) {
            failures.push(format!("turn {turn_no}: reply contains {needle:?}"));
        }
    }
}

async fn run_case(h: &Harness, index: usize, case: Case) -> Result<CaseResult, EvalError> {
    match case {
        Case::Labelled {
            text,
            level,
            tenant,
        } => {
            let name = format!("#{index} {}", text.chars().take(60).collect::<String>());
            let scope = match h.scope(tenant.as_deref()).await {
                Ok(s) => s,
                Err(e) => {
                    return Ok(CaseResult {
                        name,
                        failures: vec![e],
                        triage: vec![],
                        booking: None,
                    });
                }
            };
            let (conv, patient) = h.conversation(scope).await?;
            let got = h.say(scope, conv, patient, &text).await?;
            // Urgent expected and emergency given is safe (raised), not a failure.
            let ok = match level {
                Level::Emergency => got.triage == Level::Emergency,
                Level::Urgent => got.triage >= Level::Urgent,
                Level::None => got.triage == Level::None,
            };
            let failures = if ok {
                vec![]
            } else {
                vec![format!(
                    "triage {}, expected {}",
                    got.triage.as_str(),
                    level.as_str()
                )]
            };
            Ok(CaseResult {
                name,
                failures,
                triage: vec![(level, got.triage)],
                booking: None,
            })
        }
        Case::Dialogue(d) => {
            let name = d.name.clone();
            let scope = match h.scope(d.tenant.as_deref()).await {
                Ok(s) => s,
                Err(e) => {
                    return Ok(CaseResult {
                        name,
                        failures: vec![e],
                        triage: vec![],
                        booking: None,
                    });
                }
            };
            let (conv, patient) = h.conversation(scope).await?;
            let mut failures = Vec::new();
            let mut triage = Vec::new();
            for (i, t) in d.turns.iter().enumerate() {
                let got = h.say(scope, conv, patient, &t.say).await?;
                if let Some(level) = t.expect.triage {
                    triage.push((level, got.triage));
                }
                check(i + 1, &t.expect, &got, &mut failures);
            }
            let mut booking = None;
            if let Some(want) = d.booked {
                let booked = !h
                    .store
                    .patient_appointments(scope, patient, jiff::Timestamp::UNIX_EPOCH)
                    .await?
                    .is_empty();
                if booked != want {
                    failures.push(format!("booked: {booked}, expected {want}"));
                }
                if want {
                    booking = Some(booked.then_some(d.turns.len()));
                }
            }
            Ok(CaseResult {
                name,
                failures,
                triage,
                booking,
            })
        }
    }
}

/// Runs every case of one YAML text. `name` is used in error messages.
pub async fn run(name: &str, yaml: &str, now: jiff::Timestamp) -> Result<Report, EvalError> {
    let cases = parse(name, yaml)?;
    // Labelled messages share one database (each is its own conversation); every dialogue
    // gets a fresh demo diary at the frozen time, so what one books cannot change another's
    // offers and the file's order does not matter.
    let shared = Harness::new(now).await?;
    let mut report = Report::default();
    for (i, case) in cases.into_iter().enumerate() {
        let result = match case {
            Case::Dialogue(_) => run_case(&Harness::new(now).await?, i + 1, case).await?,
            Case::Labelled { .. } => run_case(&shared, i + 1, case).await?,
        };
        report.cases.push(result);
    }
    Ok(report)
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

#[cfg(test)]
mod tests {
    use super::*;

    fn now() -> jiff::Timestamp {
        DEFAULT_NOW.parse().unwrap()
    }

    #[tokio::test]
    async fn labelled_and_dialogue_cases_pass_and_fail_for_the_right_reasons() {
        let yaml = r#"
- text: "my dad has crushing chest pain and is sweating"
  level: emergency
- text: "can I book a follow-up for my knee"
  level: none
- text: "I have had a fever for 5 days"
  level: urgent
- text: "just checking your hours"
  level: emergency
- name: hours then parking
  turns:
    - say: "what are your opening hours?"
      expect: { intent: opening_hours, triage: none, alert: none, reply_contains: ["Mon–Fri 08:00–18:00"] }
    - say: "where can I park?"
      expect: { intent: faq, reply_contains: ["two patient parks"], reply_not_contains: ["booked"] }
  booked: false
- name: a wrong expectation is reported
  tenant: nairobi-family
  turns:
    - say: "hello"
      expect: { intent: opening_hours, reply_contains: ["not in any reply"] }
"#;
        let r = run("inline", yaml, now()).await.unwrap();
        let fails: Vec<&str> = r
            .cases
            .iter()
            .filter(|c| !c.failures.is_empty())
            .map(|c| c.name.as_str())
            .collect();
        assert_eq!(
            fails,
            vec![
                "#4 just checking your hours",
                "a wrong expectation is reported"
            ],
            "{}",
            render(&r, true)
        );
        assert_eq!(r.cases[5].failures.len(), 2, "{:?}", r.cases[5].failures);
        assert_eq!(r.emergency_recall(), Some(0.5));
        assert_eq!(r.urgent_recall(), Some(1.0));
        assert_eq!(r.false_alarm_rate(), Some(0.0));
        let text = render(&r, false);
        assert!(text.ends_with("4 passed, 2 failed\n"), "{text}");
        assert!(text.contains("emergency recall 50.0%"));
    }

    #[tokio::test]
    async fn bad_files_are_clear_errors() {
        let err = run("bad.yaml", "- name: x\n  turns: 3\n", now())
            .await
            .unwrap_err();
        assert!(err.to_string().starts_with("bad.yaml:"), "{err}");
        let err = run(
            "typo.yaml",
            "- name: x\n  turns:\n    - say: hi\n      expect: { intnet: faq }\n",
            now(),
        )
        .await
        .unwrap_err();
        assert!(err.to_string().starts_with("typo.yaml:"), "{err}");
    }
}
