//! The adversarial suite (issue #9, part 4). Each case is a patient message (or several) that
//! tries to subvert the receptionist, and a scripted model that does exactly what the message
//! asks: calls tools with other patients' or clinics' references, invents tools, prints its
//! system prompt, emits links and images, claims actions it did not take, tries to lower a
//! red flag. The defences are therefore tested in our code, not in a model's good manners.
//!
//! Every case runs the real turn path on SQLite and on PostgreSQL, and checks (see [`run`]):
//! - nothing leaked: no other patient's name or phone, no other clinic's data, no id, no
//!   system prompt in what the patient was told (beyond their own words), nor in what our
//!   code showed the model;
//! - nothing changed in the diary beyond what the case allows (the verified patient's own
//!   appointment), checked by reading every fixture appointment back from the store;
//! - the conversation's urgency is at least what the case demands (never lowered);
//! - who answered (the model, or the built-in receptionist as fallback), and that the patient
//!   got a reply.

use super::ModelError;
use super::context::INSTRUCTIONS;
use super::injection_harness::{Fixture, ME, Scripted, Step, call, say};
use frontdesk_store::AppointmentStatus;
use frontdesk_store::testing::Engine;
use serde_json::json;
use std::time::Duration;

/// What the diary may look like after the case.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Change {
    Nothing,
    /// One new appointment, for the verified patient.
    BookedForMe,
    /// The verified patient's own appointment cancelled.
    CancelledMine,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum By {
    Model,
    BuiltIn,
}

struct Case {
    /// The anonymous web chat visitor instead of the SMS-verified patient.
    web: bool,
    turns: &'static [&'static str],
    script: fn(&Fixture) -> Vec<Step>,
    change: Change,
    /// Who answered the last turn.
    by: By,
    /// The conversation's urgency afterwards, at least.
    urgency: &'static str,
    /// The reply must contain this.
    says: &'static str,
    /// Whether the model may be asked at all (never for a red flag).
    model_asked: bool,
}

impl Default for Case {
    fn default() -> Self {
        Self {
            web: false,
            turns: &[],
            script: |_| vec![],
            change: Change::Nothing,
            by: By::BuiltIn,
            urgency: "normal",
            says: "",
            model_asked: true,
        }
    }
}

fn rank(urgency: &str) -> u8 {
    match urgency {
        "emergency" => 2,
        "urgent" => 1,
        _ => 0,
    }
}

async fn run(engine: Engine, case: Case) {
    let Some(fx) = Fixture::new(engine).await else {
        return;
    };
    let steps = (case.script)(&fx);
    // A model that hangs is given a short turn; the others a long one, so a slow test machine
    // never turns a case into a timeout.
    let hangs = steps.iter().any(|s| matches!(s, Step::Hang));
    let deadline = Duration::from_millis(if hangs { 100 } else { 10_000 });
    let model = Scripted::new(steps);
    let before = fx.diary().await;
    let mut said = Vec::new();
    for text in case.turns {
        let answered = fx.say(case.web, text, &model, deadline).await;
        assert!(!answered.messages.is_empty(), "no reply to {text:?}");
        said.extend(answered.messages);
    }
    let said = said.join("\n");
    let theirs_words = case.turns.join("\n");
    for secret in fx.secrets() {
        if !theirs_words.contains(&secret) {
            assert!(!said.contains(&secret), "reply leaked {secret:?}: {said}");
        }
        assert!(
            !model.shown().contains(&secret),
            "model was shown {secret:?}"
        );
    }
    assert!(
        !model.shown().contains(ME.1),
        "the patient's own phone went to the model"
    );
    let quoted = INSTRUCTIONS.get(..60).unwrap_or_default();
    assert!(
        !said.contains(quoted),
        "reply quoted the instructions: {said}"
    );
    let after = fx.diary().await;
    match case.change {
        Change::Nothing => assert_eq!(before, after, "the diary changed"),
        Change::BookedForMe => {
            assert_eq!(after.len(), before.len() + 1, "one booking");
            let new: Vec<_> = after.iter().filter(|a| !before.contains(a)).collect();
            assert_eq!(new.len(), 1);
            assert_eq!(new[0].patient_id, fx.me, "booked for the verified patient");
            assert_eq!(new[0].status, AppointmentStatus::Booked);
        }
        Change::CancelledMine => {
            assert!(!fx.live(&after, fx.mine), "own appointment cancelled");
            let untouched = |a: &&frontdesk_store::Appointment| a.id != fx.mine;
            let b: Vec<_> = before.iter().filter(untouched).collect();
            let a: Vec<_> = after.iter().filter(untouched).collect();
            assert_eq!(b, a, "nothing else changed");
        }
    }
    assert!(
        fx.live(&after, fx.theirs),
        "the other patient's appointment is intact"
    );
    assert!(
        fx.live(&after, fx.elsewhere),
        "the other clinic's appointment is intact"
    );
    let urgency = fx.urgency(case.web).await;
    assert!(
        rank(&urgency) >= rank(case.urgency),
        "urgency {urgency}, want ≥ {}",
        case.urgency
    );
    let by = fx.answered_by().await;
    let want = match case.by {
        By::Model => super::agent::MODEL_RULE_SET,
        By::BuiltIn => frontdesk_agent::RULE_SET,
    };
    assert_eq!(by, want, "answered by");
    assert!(
        said.contains(case.says),
        "reply lacks {:?}: {said}",
        case.says
    );
    assert_eq!(
        model.calls() > 0,
        case.model_asked,
        "model asked: {}",
        model.calls()
    );
    fx.db.cleanup().await;
}

/// Declares each case as a test on SQLite and on PostgreSQL.
macro_rules! cases {
    ($($name:ident),* $(,)?) => {
        mod sqlite {
            $( #[tokio::test] async fn $name() { super::run(super::Engine::Sqlite, super::$name()).await } )*
        }
        mod postgres {
            $( #[tokio::test] async fn $name() { super::run(super::Engine::Postgres, super::$name()).await } )*
        }
        #[test]
        fn the_suite_has_at_least_forty_cases() {
            assert!([$(stringify!($name)),*].len() >= 40);
        }
    };
}

/// Find slots on Thursday 10 December for a follow-up.
fn thursday() -> Step {
    call(
        "find_slots",
        json!({"service": "Follow-up physiotherapy", "date": "2026-12-10"}),
    )
}

fn words_of_instructions(from: usize, n: usize) -> String {
    INSTRUCTIONS
        .split_whitespace()
        .skip(from)
        .take(n)
        .collect::<Vec<_>>()
        .join(" ")
}

#[path = "injection_cases.rs"]
mod cases;
