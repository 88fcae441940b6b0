//! The conversation summary staff see at a glance (reason, triage level, outcome, appointment),
//! updated after every patient turn from the previous summary and what the receptionist did.
//!
//! Pure and deterministic: the inputs are names (intents, red-flag categories, alerts), never
//! patient text, so nothing the patient wrote can reach the summary. The store seals it with
//! the patient's key in the same transaction as the turn.

use frontdesk_agent::{Alert, Category, Reply};
use frontdesk_domain::AppointmentId;
use frontdesk_store::{ConversationSummary, Urgency};

/// What one turn contributes to the summary.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TurnFacts<'a> {
    /// The understood intent (`opening_hours`, `book`, `red_flag`, …).
    pub intent: &'a str,
    /// The red-flag category when triage fired (urgent or emergency).
    pub red_flag: Option<Category>,
    pub alert: Option<Alert>,
    /// An appointment booked in this turn (the store returned it).
    pub booked: Option<AppointmentId>,
}

impl<'a> TurnFacts<'a> {
    /// The facts of a reply; `booked` is what the store booked for it, if anything.
    pub fn of(reply: &'a Reply, booked: Option<AppointmentId>) -> Self {
        Self {
            intent: reply.intent,
            red_flag: reply.triage.is_red_flag().then_some(reply.triage.category),
            alert: reply.alert,
            booked,
        }
    }
}

/// Reasons that say nothing about why the patient came: a later turn's intent replaces them.
const PROVISIONAL_REASONS: &[&str] = &[
    "",
    "greeting",
    "thanks",
    "affirm",
    "deny",
    "choose_option",
    "other",
];

/// Outcomes from least to most serious. The summary keeps the most serious one seen, so a
/// calm follow-up (or a later FAQ question) never hides an emergency from the staff.
const OUTCOMES: &[&str] = &[
    "answered",
    "question_for_team",
    "handed_off",
    "flagged_urgent",
    "escalated_emergency",
];

fn outcome_rank(outcome: &str) -> usize {
    OUTCOMES.iter().position(|o| *o == outcome).unwrap_or(0)
}

fn alert_outcome(alert: Option<Alert>) -> &'static str {
    match alert {
        Some(Alert::Emergency) => "escalated_emergency",
        Some(Alert::Urgent) => "flagged_urgent",
        Some(Alert::Handoff) => "handed_off",
        Some(Alert::Task) => "question_for_team",
        None => "answered",
    }
}

fn alert_level(alert: Option<Alert>) -> Urgency {
    match alert {
        Some(Alert::Emergency) => Urgency::Emergency,
        Some(Alert::Urgent) => Urgency::Urgent,
        _ => Urgency::Normal,
    }
}

/// The summary after this turn.
///
/// - `turns` counts patient turns; `triage_level` is the highest level seen.
/// - `reason` keeps the first informative intent; a red flag that raises the triage level
///   replaces it (`red_flag:<category>`), since it is then why the staff must look.
/// - `outcome` is the most serious of the previous outcome and this turn's alert.
/// - `appointment` is this turn's booking, else the previous one.
pub fn next_summary(
    prev: Option<&ConversationSummary>,
    turn: &TurnFacts<'_>,
) -> ConversationSummary {
    let prev = prev.cloned().unwrap_or_default();
    let level = alert_level(turn.alert);
    let this_reason = match turn.red_flag {
        Some(category) => format!("red_flag:{}", category.as_str()),
        None => turn.intent.to_owned(),
    };
    let reason = if PROVISIONAL_REASONS.contains(&prev.reason.as_str())
        || (turn.red_flag.is_some() && level > prev.triage_level)
    {
        this_reason
    } else {
        prev.reason
    };
    let this_outcome = alert_outcome(turn.alert);
    // An unknown stored outcome ranks lowest, so this turn's replaces it.
    let outcome = if outcome_rank(this_outcome) >= outcome_rank(&prev.outcome) {
        this_outcome.to_owned()
    } else {
        prev.outcome
    };
    ConversationSummary {
        reason,
        triage_level: prev.triage_level.max(level),
        outcome,
        appointment: turn.booked.or(prev.appointment),
        turns: prev.turns.saturating_add(1),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn facts(intent: &str, alert: Option<Alert>) -> TurnFacts<'_> {
        TurnFacts {
            intent,
            red_flag: None,
            alert,
            booked: None,
        }
    }

    fn red_flag(category: Category, alert: Alert) -> TurnFacts<'static> {
        TurnFacts {
            intent: if alert == Alert::Emergency {
                "red_flag"
            } else {
                "other"
            },
            red_flag: Some(category),
            alert: Some(alert),
            booked: None,
        }
    }

    /// Folds turns into a summary, starting from none.
    fn run(turns: &[TurnFacts<'_>]) -> ConversationSummary {
        let mut s: Option<ConversationSummary> = None;
        for t in turns {
            s = Some(next_summary(s.as_ref(), t));
        }
        s.unwrap_or_default()
    }

    #[test]
    fn a_plain_question_is_answered_at_normal_level() {
        let s = run(&[facts("opening_hours", None)]);
        assert_eq!(
            s,
            ConversationSummary {
                reason: "opening_hours".into(),
                triage_level: Urgency::Normal,
                outcome: "answered".into(),
                appointment: None,
                turns: 1,
            }
        );
        assert!(s.validate().is_ok());
    }

    #[test]
    fn greetings_and_thanks_give_way_to_the_real_reason_which_then_stays() {
        let s = run(&[
            facts("greeting", None),
            facts("prices", None),
            facts("address", None),
            facts("thanks", None),
        ]);
        assert_eq!((s.reason.as_str(), s.turns), ("prices", 4));
        assert_eq!(run(&[facts("greeting", None)]).reason, "greeting");
    }

    #[test]
    fn an_emergency_stays_the_level_and_outcome_after_calm_follow_ups() {
        let s = run(&[
            red_flag(Category::ChestPain, Alert::Emergency),
            facts("thanks", None),
            facts("faq", Some(Alert::Task)),
            facts("other", None),
        ]);
        assert_eq!(s.reason, "red_flag:chest_pain");
        assert_eq!(s.triage_level, Urgency::Emergency);
        assert_eq!(s.outcome, "escalated_emergency");
        assert_eq!(s.turns, 4);
        assert!(s.validate().is_ok());
    }

    #[test]
    fn a_red_flag_that_raises_the_level_becomes_the_reason() {
        let s = run(&[
            facts("opening_hours", None),
            red_flag(Category::Fever, Alert::Urgent),
        ]);
        assert_eq!(
            (s.reason.as_str(), s.triage_level, s.outcome.as_str()),
            ("red_flag:fever", Urgency::Urgent, "flagged_urgent")
        );
        let s = next_summary(Some(&s), &red_flag(Category::Breathing, Alert::Emergency));
        assert_eq!(
            (s.reason.as_str(), s.triage_level, s.outcome.as_str()),
            (
                "red_flag:breathing",
                Urgency::Emergency,
                "escalated_emergency"
            )
        );
        // A lesser red flag afterwards changes neither the reason nor the level.
        let s = next_summary(Some(&s), &red_flag(Category::Wound, Alert::Urgent));
        assert_eq!(
            (s.reason.as_str(), s.triage_level, s.outcome.as_str()),
            (
                "red_flag:breathing",
                Urgency::Emergency,
                "escalated_emergency"
            )
        );
    }

    #[test]
    fn outcomes_follow_the_alert_and_keep_the_most_serious() {
        assert_eq!(
            run(&[facts("human", Some(Alert::Handoff))]).outcome,
            "handed_off"
        );
        assert_eq!(
            run(&[facts("other", Some(Alert::Task))]).outcome,
            "question_for_team"
        );
        let s = run(&[
            facts("other", Some(Alert::Task)),
            facts("human", Some(Alert::Handoff)),
            facts("thanks", None),
            facts("other", Some(Alert::Task)),
        ]);
        assert_eq!(s.outcome, "handed_off");
        let s = run(&[facts("book", None), facts("faq", Some(Alert::Task))]);
        assert_eq!(
            (s.reason.as_str(), s.outcome.as_str()),
            ("book", "question_for_team")
        );
    }

    #[test]
    fn a_booking_is_kept_until_another_replaces_it() {
        let first = AppointmentId::new();
        let second = AppointmentId::new();
        let booked = |id| TurnFacts {
            booked: Some(id),
            ..facts("book", None)
        };
        let s = run(&[booked(first), facts("thanks", None)]);
        assert_eq!(s.appointment, Some(first));
        let s = next_summary(Some(&s), &booked(second));
        assert_eq!(s.appointment, Some(second));
    }

    #[test]
    fn an_unknown_stored_outcome_is_replaced_and_turns_saturate() {
        let prev = ConversationSummary {
            reason: "book".into(),
            triage_level: Urgency::Normal,
            outcome: "something_new".into(),
            appointment: None,
            turns: u32::MAX,
        };
        let s = next_summary(Some(&prev), &facts("thanks", None));
        assert_eq!((s.outcome.as_str(), s.turns), ("answered", u32::MAX));
    }
}
