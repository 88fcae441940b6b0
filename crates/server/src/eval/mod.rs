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
//! # a dialogue on a verified channel, with a diary set up first
//! - name: moves a massage
//!   channel: sms                # webchat (default) | sms | whatsapp | voice | cli
//!   phone: "+64215550101"       # the caller (SMS, WhatsApp and voice need one)
//!   appointments:               # the caller's own, booked before the first turn
//!     - { service: "Sports massage", practitioner: "Mei Chen", at: "2026-11-25 12:00" }
//!   turns:
//!     - say: "can I move my massage to Friday?"
//!       meanwhile:              # another patient books this just before the turn
//!         - { service: "Sports massage", practitioner: "Mei Chen", at: "2026-11-27 08:00" }
//!       expect: { reply_contains: ["I can move it to"] }
//!   appointments_after:         # exactly the caller's live appointments at the end
//!     - { practitioner: "Mei Chen", at: "2026-11-27 09:00" }
//! ```
//!
//! Times in `at` are clinic-local. Each dialogue runs on a fresh copy of the demo clinics.
//!
//! What happened is read back from the store (the audit entries and staff alerts the turn
//! wrote), not from the agent's return value, so the harness checks what a clinic would see.

mod diary;
mod report;
mod spec;

use crate::{demo, turn};
use diary::Diary;
use frontdesk_domain::{ConversationId, E164Phone, ManualClock, PatientId, TenantSlug};
use frontdesk_store::{Channel, NewPatient, Store, StoreError, TenantScope, testing::TestDb};
pub use report::{CaseResult, Report, render};
pub use spec::Level;
use spec::{Case, Dialogue, Expect, parse};
use std::sync::Arc;

/// Tue 2026-11-24 10:00 in Auckland (Mon 23:00 UTC): a working day for both demo clinics.
pub const DEFAULT_NOW: &str = "2026-11-23T21:00:00Z";

/// What one turn did, as recorded in the store.
#[derive(Debug)]
struct Observed {
    replies: Vec<String>,
    intent: String,
    triage: Level,
    alert: String,
}

#[derive(Debug, thiserror::Error)]
pub enum EvalError {
    #[error("{0}: {1}")]
    Parse(String, String),
    #[error("store: {0}")]
    Store(#[from] StoreError),
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

    /// A labelled message: a new anonymous web chat visitor.
    async fn conversation(
        &self,
        scope: TenantScope,
    ) -> Result<(ConversationId, PatientId), EvalError> {
        let patient = self
            .store
            .create_patient(scope, &NewPatient::default())
            .await?;
        let conv = self
            .store
            .start_conversation(scope, patient, Channel::Webchat)
            .await?;
        Ok((conv, patient))
    }

    /// A dialogue's caller on its channel. On SMS, WhatsApp and voice the patient record is
    /// the one of `phone` (as the channel's webhook would have found or created it). An
    /// unusable phone is a failure of the case, not of the run.
    async fn caller(
        &self,
        scope: TenantScope,
        d: &Dialogue,
    ) -> Result<Result<(ConversationId, PatientId), String>, EvalError> {
        let phone = match d.phone.as_deref().map(E164Phone::parse).transpose() {
            Ok(phone) => phone,
            Err(e) => return Ok(Err(format!("phone: {e}"))),
        };
        let verified = matches!(d.channel, Channel::Sms | Channel::Whatsapp | Channel::Voice);
        if verified && phone.is_none() {
            let channel = d.channel.as_str();
            return Ok(Err(format!(
                "channel `{channel}` needs the caller's `phone`"
            )));
        }
        let new = NewPatient {
            phone,
            ..NewPatient::default()
        };
        let patient = self.store.create_patient(scope, &new).await?;
        let conv = self
            .store
            .start_conversation(scope, patient, d.channel)
            .await?;
        Ok(Ok((conv, patient)))
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
        Case::Dialogue(d) => run_dialogue(h, d).await,
    }
}

fn setup_failed(name: String, why: String) -> CaseResult {
    CaseResult {
        name,
        failures: vec![why],
        triage: vec![],
        booking: None,
    }
}

async fn run_dialogue(h: &Harness, d: Dialogue) -> Result<CaseResult, EvalError> {
    let name = d.name.clone();
    let scope = match h.scope(d.tenant.as_deref()).await {
        Ok(s) => s,
        Err(e) => return Ok(setup_failed(name, e)),
    };
    let diary = match Diary::open(h.store.as_ref(), scope).await {
        Ok(diary) => diary,
        Err(e) => return Ok(setup_failed(name, e)),
    };
    let (conv, patient) = match h.caller(scope, &d).await? {
        Ok(found) => found,
        Err(e) => return Ok(setup_failed(name, e)),
    };
    for (i, seed) in d.appointments.iter().enumerate() {
        if let Err(e) = diary.book(patient, seed, &format!("eval-seed-{i}")).await {
            return Ok(setup_failed(name, e));
        }
    }
    let mut failures = Vec::new();
    let mut triage = Vec::new();
    for (i, t) in d.turns.iter().enumerate() {
        for (j, seed) in t.meanwhile.iter().enumerate() {
            let other = h
                .store
                .create_patient(scope, &NewPatient::default())
                .await?;
            if let Err(e) = diary
                .book(other, seed, &format!("eval-meanwhile-{i}-{j}"))
                .await
            {
                failures.push(format!("turn {}: meanwhile: {e}", i + 1));
            }
        }
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
    if let Some(want) = &d.appointments_after {
        match diary.differs(patient, want).await {
            Ok(None) => {}
            Ok(Some(why)) | Err(why) => failures.push(why),
        }
    }
    Ok(CaseResult {
        name,
        failures,
        triage,
        booking,
    })
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

#[cfg(test)]
mod tests;
