//! Web chat verification by a one-time code, against the simulated server of
//! [`super::tests_change`] (it texts codes; the right one is `123456`).

use super::tests_change::{Sim, one};

fn web_chat() -> Sim {
    let mut sim = Sim::new(false).holds(1, 1, 25, 12);
    sim.can_verify = true;
    sim
}

#[test]
fn a_visitor_verified_by_code_then_sees_their_appointment() {
    let mut sim = web_chat();
    let r = sim.say("when is my appointment?");
    assert!(one(&r).contains("text a 6-digit code"), "{r:?}");
    assert!(!r[0].contains("Wed 25 Nov"));
    let r = sim.say("it's 021 555 0101");
    assert!(one(&r).starts_with("I've texted a 6-digit code"), "{r:?}");
    assert_eq!(sim.done, vec!["code to +64215550101"]);
    let r = sim.say("123 456");
    assert_eq!(
        one(&r),
        "Your next appointment: Sports massage with Mei Chen on Wed 25 Nov at 12:00. If you need to move or \
         cancel it, just say so."
    );
    assert_eq!(sim.done, vec!["code to +64215550101", "verified", "find"]);
    assert!(sim.state.verify.is_none());
}

#[test]
fn a_number_in_the_request_sends_the_code_at_once_and_the_request_resumes() {
    let mut sim = web_chat();
    let r = sim.say("please cancel my appointment, my number is 021 555 0101");
    assert!(one(&r).starts_with("I've texted"), "{r:?}");
    let r = sim.say("my code is 123456");
    assert!(one(&r).starts_with("Cancel your Sports massage"), "{r:?}");
}

#[test]
fn wrong_codes_are_refused_and_nothing_is_shown() {
    let mut sim = web_chat();
    sim.say("when is my appointment? 021 555 0101");
    let r = sim.say("111111");
    assert!(one(&r).starts_with("That code doesn't match."), "{r:?}");
    let r = sim.say("222222");
    assert!(one(&r).starts_with("I couldn't verify that code"), "{r:?}");
    assert!(!r[0].contains("Wed 25 Nov"));
    assert!(sim.state.verify.is_none());
    assert!(!sim.done.iter().any(|d| d == "find" || d == "verified"));
}

#[test]
fn without_code_support_nothing_is_offered_or_claimed() {
    let mut sim = Sim::new(false).holds(1, 1, 25, 12);
    let r = sim.say("when is my appointment? my number is 021 555 0101");
    assert!(one(&r).contains("text or WhatsApp us"), "{r:?}");
    assert!(!r[0].contains("code"), "{r:?}");
    assert!(sim.done.is_empty());
}
