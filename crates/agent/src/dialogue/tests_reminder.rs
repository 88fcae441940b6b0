//! Replies to an appointment reminder: "yes" confirms that appointment, "cancel" and "move it"
//! go straight to it, "no" asks which; words about another appointment take the usual route.

use super::tests_change::{Sim, one};
use super::*;

const SPORTS: &str = "Sports massage with Mei Chen on Wed 25 Nov at 12:00";

/// A verified caller with a Friday consultation and a Wednesday sports massage, reminded of
/// the Wednesday one.
fn reminded() -> Sim {
    Sim::new(true)
        .holds(0, 0, 27, 9)
        .holds(1, 1, 25, 12)
        .reminded_of(1)
}

#[test]
fn the_reminder_names_the_appointment_and_never_suggests_an_opt_out_keyword() {
    let sim = reminded();
    let tz = jiff::tz::TimeZone::get("Pacific/Auckland").unwrap_or(jiff::tz::TimeZone::UTC);
    let text = reminder_text(sim.knowledge(), &sim.diary()[1], &tz);
    assert_eq!(
        text,
        format!(
            "Reminder from Harbour Physio: {SPORTS}. Reply YES to confirm, or tell us if you need to cancel or \
             change it."
        )
    );
    // CANCEL, STOP (and friends) unsubscribe a number on SMS.
    for keyword in ["CANCEL", "STOP", "END", "QUIT", "UNSUBSCRIBE"] {
        assert!(!text.contains(keyword), "{text}");
    }
}

#[test]
fn yes_confirms_the_reminded_appointment_only() {
    for yes in ["Yes", "yes please", "confirm", "yep"] {
        let mut sim = reminded();
        let r = sim.say(yes);
        assert_eq!(sim.done, vec!["confirm"], "{yes}");
        assert_eq!(
            one(&r),
            format!(
                "Thank you, your {SPORTS} is confirmed. See you then! If anything changes, just message us here."
            )
        );
        assert_eq!(sim.state, DialogueState::default());
    }
    // Without a reminder a bare "yes" confirms nothing.
    let mut sim = Sim::new(true).holds(1, 1, 25, 12);
    let r = sim.say("yes");
    assert!(sim.done.is_empty(), "{r:?}");
    assert!(!r.iter().any(|m| m.contains("confirmed")), "{r:?}");
}

#[test]
fn an_anonymous_caller_confirms_nothing_even_with_a_reminder() {
    let mut sim = Sim::new(false).holds(1, 1, 25, 12).reminded_of(0);
    let r = sim.say("yes");
    assert!(sim.done.is_empty(), "{r:?}");
}

#[test]
fn cancel_goes_straight_to_the_reminded_appointment_and_asks_first() {
    let mut sim = reminded();
    let r = sim.say("I need to cancel it, sorry");
    assert!(
        one(&r).starts_with(&format!("Cancel your {SPORTS}? (yes/no)")),
        "{r:?}"
    );
    assert!(sim.done.is_empty(), "nothing looked up or cancelled yet");
    let r = sim.say("yes");
    assert_eq!(sim.done, vec!["cancel"]);
    assert!(one(&r).contains(&format!("{SPORTS} is cancelled")), "{r:?}");
    // The Friday consultation is untouched.
    assert_eq!(sim.diary().len(), 1);
    assert_eq!(sim.diary()[0].service, sim.knowledge().services[0].id);
}

#[test]
fn no_asks_whether_to_cancel_or_move_and_changes_nothing() {
    let mut sim = reminded();
    let r = sim.say("no");
    assert_eq!(
        one(&r),
        format!(
            "No problem. Would you like to cancel your {SPORTS}, or move it to another time? Nothing has \
             changed yet."
        )
    );
    assert!(sim.done.is_empty());
    let r = sim.say("move it please");
    assert_eq!(
        one(&r),
        format!("When would you like to move your {SPORTS} to?")
    );
    assert!(sim.done.is_empty());
}

#[test]
fn move_it_to_a_day_finds_times_for_the_reminded_appointment() {
    let mut sim = reminded();
    let r = sim.say("can I move it to Thursday afternoon?");
    assert!(
        one(&r).starts_with("I can move it to: 1) Thu 26 Nov at 14:00 with Mei Chen"),
        "{r:?}"
    );
    sim.say("1");
    let r = sim.say("yes");
    assert_eq!(sim.done, vec!["move"]);
    assert_eq!(
        one(&r),
        "Done: your Sports massage is moved to Thu 26 Nov at 14:00 with Mei Chen (it was Wed 25 Nov at 12:00)."
    );
}

#[test]
fn words_about_another_appointment_take_the_usual_look_up() {
    let mut sim = reminded();
    let r = sim.say("I can't make my appointment on Friday, please cancel it");
    assert_eq!(sim.done, vec!["find"]);
    assert!(
        one(&r).starts_with(
            "Cancel your Initial physiotherapy consultation with Aroha Ngata on Fri 27 Nov at 09:00?"
        ),
        "{r:?}"
    );
}
