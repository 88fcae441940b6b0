//! Joining the waitlist, and answering a freed time offered from it.

use super::tests_change::{Sim, one};
use super::*;
use jiff::civil::date;

#[test]
fn joining_asks_only_for_the_service_and_defaults_to_two_weeks_with_anyone() {
    let mut sim = Sim::new(true);
    let r = sim.say("can you put me on the waitlist?");
    assert!(
        one(&r).starts_with("Happy to put you on the waitlist. Which service is it for ("),
        "{r:?}"
    );
    assert!(sim.done.is_empty());
    let r = sim.say("sports massage");
    assert_eq!(sim.done, vec!["waitlist"]);
    let ask = &sim.waitlist[0];
    assert_eq!(ask.service, sim.knowledge().services[1].id);
    assert_eq!(ask.practitioner, None);
    // Today is Tue 24 Nov in the clinic; two weeks is to Mon 7 Dec.
    assert_eq!((ask.from, ask.to), (date(2026, 11, 24), date(2026, 12, 7)));
    assert_eq!(
        one(&r),
        "You're on the waitlist for Sports massage with any of our team between Tue 24 Nov and Mon 7 Dec. If a \
         time comes free I'll message you here, and the first to reply YES gets it."
    );
    assert_eq!(sim.state.booking, None);
}

#[test]
fn what_the_booking_already_said_is_not_asked_again() {
    let mut sim = Sim::new(true);
    sim.say("I'd like a sports massage with Mei on Friday afternoon");
    let r = sim.say("none of those, can you put me on the waitlist instead?");
    assert_eq!(sim.done, vec!["waitlist"], "{r:?}");
    let ask = &sim.waitlist[0];
    assert_eq!(
        (ask.service, ask.practitioner, ask.from, ask.to),
        (
            sim.knowledge().services[1].id,
            Some(sim.knowledge().practitioners[1].id),
            date(2026, 11, 27),
            date(2026, 11, 27)
        )
    );
    assert!(ask.earliest.is_some() && ask.latest.is_some());
    assert!(
        one(&r)
            .starts_with("You're on the waitlist for Sports massage with Mei Chen on Fri 27 Nov, "),
        "{r:?}"
    );
}

#[test]
fn an_anonymous_caller_is_told_how_to_join() {
    let mut sim = Sim::new(false);
    let r = sim.say("put me on the waitlist for a sports massage");
    assert!(sim.done.is_empty());
    assert!(
        one(&r).starts_with("I can put you on the waitlist once I can reach you on your phone"),
        "{r:?}"
    );
}

fn offered(sim: Sim) -> Sim {
    let k = sim.knowledge();
    let o = Offered {
        hold: frontdesk_domain::SlotHoldId::new(),
        service: k.services[1].id,
        practitioner: k.practitioners[1].id,
        start: "2026-11-25T23:00:00Z"
            .parse()
            .unwrap_or(Timestamp::UNIX_EPOCH),
    };
    let mut sim = sim;
    sim.offered = Some(o);
    sim
}

#[test]
fn yes_to_an_offer_takes_the_freed_time_and_books_it() {
    let mut sim = offered(Sim::new(true));
    let r = sim.say("Yes!");
    assert_eq!(sim.done, vec!["hold taken"]);
    assert!(
        one(&r).starts_with("You're booked: Sports massage with Mei Chen on Thu 26 Nov at 12:00."),
        "{r:?}"
    );
}

#[test]
fn a_yes_after_someone_else_took_it_books_nothing_and_stays_on_the_list() {
    let mut sim = offered(Sim::new(true));
    sim.offer_lost = true;
    let r = sim.say("yes please");
    assert_eq!(sim.done, vec!["hold gone"]);
    assert!(
        one(&r).starts_with("Sorry, that time has already gone"),
        "{r:?}"
    );
    assert!(sim.diary().is_empty());
}

#[test]
fn no_to_an_offer_changes_nothing_and_an_anonymous_yes_takes_nothing() {
    let mut sim = offered(Sim::new(true));
    let r = sim.say("no thanks");
    assert!(sim.done.is_empty());
    assert!(
        one(&r).starts_with("No problem, I'll leave that one."),
        "{r:?}"
    );
    let mut sim = offered(Sim::new(false));
    sim.say("yes");
    assert!(sim.done.is_empty());
}

#[test]
fn the_offer_text_never_suggests_an_opt_out_keyword() {
    let sim = Sim::new(true);
    let k = sim.knowledge();
    let tz = jiff::tz::TimeZone::get("Pacific/Auckland").unwrap_or(jiff::tz::TimeZone::UTC);
    let start: Timestamp = "2026-11-25T23:00:00Z"
        .parse()
        .unwrap_or(Timestamp::UNIX_EPOCH);
    let text = waitlist_offer_text(k, k.services[1].id, k.practitioners[1].id, start, &tz, 30);
    assert_eq!(
        text,
        "Good news from Harbour Physio: a Sports massage with Mei Chen on Thu 26 Nov at 12:00 has come free. \
         Reply YES within 30 minutes to take it; the first to reply gets it."
    );
    for keyword in ["CANCEL", "STOP", "END", "QUIT", "UNSUBSCRIBE"] {
        assert!(!text.contains(keyword), "{text}");
    }
}
