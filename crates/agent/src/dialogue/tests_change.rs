//! Checking, cancelling and moving the caller's own appointments, turn by turn, against a
//! simulated server that keeps the caller's diary.

use super::tests::{clinic, now};
use super::*;
use crate::reply::{ClinicKnowledge, TurnContext, reply};
use jiff::civil::date;

/// Plays the server for a verified (or anonymous) caller: looks up, cancels and moves the
/// caller's appointments; every slot search answers three hourly slots from 14:00 on the
/// first searched day.
pub(super) struct Sim {
    k: ClinicKnowledge,
    pub(super) state: DialogueState,
    verified: bool,
    /// The server can text codes (web chat verification); the right code is `123456`.
    pub(super) can_verify: bool,
    code_tries: u8,
    diary: Vec<Held>,
    searches: Vec<SlotAsk>,
    /// The next move finds its time taken.
    taken_once: bool,
    /// What the server was asked to do, in order.
    pub(super) done: Vec<String>,
    /// The appointment the server says this conversation was reminded of.
    pub(super) reminded: Option<Held>,
    /// A freed time the server offered this conversation from the waitlist.
    pub(super) offered: Option<Offered>,
    /// The offered time goes to someone else before this caller's yes.
    pub(super) offer_lost: bool,
    /// The waitlist entries the server made.
    pub(super) waitlist: Vec<WaitAsk>,
}

fn tz() -> TimeZone {
    TimeZone::get("Pacific/Auckland").unwrap_or(TimeZone::UTC)
}

/// Clinic-local time in Auckland, Nov 2026.
fn at(day: i8, hour: i8) -> Timestamp {
    date(2026, 11, day)
        .at(hour, 0, 0, 0)
        .to_zoned(tz())
        .map(|z| z.timestamp())
        .unwrap_or(Timestamp::UNIX_EPOCH)
}

impl Sim {
    pub(super) fn new(verified: bool) -> Self {
        Sim {
            k: clinic(),
            state: DialogueState::default(),
            verified,
            can_verify: false,
            code_tries: 0,
            diary: vec![],
            searches: vec![],
            taken_once: false,
            done: vec![],
            reminded: None,
            offered: None,
            offer_lost: false,
            waitlist: vec![],
        }
    }

    fn service(&self, i: usize) -> ServiceId {
        self.k.services[i].id
    }

    fn practitioner(&self, i: usize) -> PractitionerId {
        self.k.practitioners[i].id
    }

    /// Gives the caller an appointment: service `s` with practitioner `p` on Nov `day` at `hour`.
    pub(super) fn holds(mut self, s: usize, p: usize, day: i8, hour: i8) -> Self {
        let h = Held {
            id: AppointmentId::new(),
            service: self.service(s),
            practitioner: self.practitioner(p),
            start: at(day, hour),
        };
        self.diary.push(h);
        self
    }

    /// The server reminded this conversation of the caller's `i`th appointment (as held).
    pub(super) fn reminded_of(mut self, i: usize) -> Self {
        self.reminded = self.diary.get(i).copied();
        self
    }

    pub(super) fn knowledge(&self) -> &ClinicKnowledge {
        &self.k
    }

    pub(super) fn diary(&self) -> &[Held] {
        &self.diary
    }

    pub(super) fn say(&mut self, text: &str) -> Vec<String> {
        let ctx = TurnContext {
            clinic: &self.k,
            now: now(),
            first_contact: false,
            needs_phone: !self.verified,
            identity_verified: self.verified,
            can_verify: self.can_verify,
            reminded: self.reminded,
            offered: self.offered,
        };
        let r = reply(ctx, text, &mut self.state);
        if r.alert == Some(crate::reply::Alert::Handoff) {
            self.done.push("handoff".into());
        }
        let mut out = r.messages;
        let mut next = r.next;
        let tz = tz();
        let dctx = DialogueContext {
            clinic: &self.k,
            tz: &tz,
            now: now(),
            needs_phone: !self.verified,
            identity_verified: self.verified,
            can_verify: self.can_verify,
            reminded: self.reminded,
            offered: self.offered,
        };
        while let Some(step) = next.take() {
            match step {
                Step::Say(s) => out.extend(s),
                Step::Handoff(s) => {
                    self.done.push("handoff".into());
                    out.push(s);
                }
                Step::FindAppointments => {
                    assert!(self.verified, "an anonymous caller's diary was asked for");
                    self.done.push("find".into());
                    next = Some(found(&mut self.state, &self.diary, &dctx));
                }
                Step::FindSlots(ask) => {
                    let slots: Vec<Offer> = (0..3)
                        .filter_map(|h| {
                            let t = ask.from.at(14 + h, 0, 0, 0).to_zoned(tz.clone()).ok()?;
                            Some(Offer {
                                practitioner: ask.practitioners[0],
                                start: t.timestamp(),
                            })
                        })
                        .collect();
                    self.searches.push(ask);
                    next = Some(offer(&mut self.state, &slots, false, &dctx));
                }
                Step::Cancel(h) => {
                    self.done.push("cancel".into());
                    self.diary.retain(|x| x.id != h.id);
                    if self.reminded.is_some_and(|r| r.id == h.id) {
                        self.reminded = None;
                    }
                    out.extend(cancelled(&mut self.state, &h, &dctx));
                }
                Step::Reschedule(m) => {
                    if std::mem::take(&mut self.taken_once) {
                        self.done.push("move refused".into());
                        let (sorry, again) = taken(&mut self.state, &dctx);
                        out.push(sorry);
                        next = again.map(Step::FindSlots);
                        continue;
                    }
                    self.done.push("move".into());
                    let new = Held {
                        id: AppointmentId::new(),
                        service: m.appointment.service,
                        practitioner: m.offer.practitioner,
                        start: m.offer.start,
                    };
                    self.diary.retain(|x| x.id != m.appointment.id);
                    if self.reminded.is_some_and(|r| r.id == m.appointment.id) {
                        self.reminded = None;
                    }
                    self.diary.push(new);
                    out.extend(rescheduled(&mut self.state, &m.appointment, &new, &dctx));
                }
                Step::Confirm(h) => {
                    self.done.push("confirm".into());
                    out.extend(confirmed(&mut self.state, &h, &dctx));
                }
                Step::JoinWaitlist(ask) => {
                    assert!(self.verified, "an anonymous caller joined the waitlist");
                    self.done.push("waitlist".into());
                    out.extend(waitlisted(&mut self.state, &ask, &dctx));
                    self.waitlist.push(ask);
                }
                Step::TakeHold(o) => {
                    self.offered = None;
                    if self.offer_lost {
                        self.done.push("hold gone".into());
                        out.extend(hold_gone(&mut self.state));
                    } else {
                        self.done.push("hold taken".into());
                        self.diary.push(Held {
                            id: AppointmentId::new(),
                            service: o.service,
                            practitioner: o.practitioner,
                            start: o.start,
                        });
                        out.extend(booked(
                            &mut self.state,
                            o.service,
                            o.practitioner,
                            o.start,
                            &dctx,
                        ));
                    }
                }
                Step::Book(b) => panic!("a change booked {b:?}"),
                Step::SendCode(phone) => {
                    self.done.push(format!("code to {}", phone.as_str()));
                    out.extend(code_sent(&mut self.state));
                }
                Step::CheckCode(code) => {
                    if code.as_str() == "123456" {
                        self.verified = true;
                        self.done.push("verified".into());
                        next = Some(verified(&mut self.state));
                    } else {
                        self.code_tries += 1;
                        let again = self.code_tries < 2;
                        out.extend(code_refused(&mut self.state, again, &dctx));
                    }
                }
            }
        }
        out
    }
}

pub(super) fn one(r: &[String]) -> &str {
    assert_eq!(r.len(), 1, "{r:?}");
    &r[0]
}

#[test]
fn check_lists_the_callers_own_appointments_or_says_there_are_none() {
    let mut sim = Sim::new(true);
    let r = sim.say("when is my appointment?");
    assert!(
        one(&r).starts_with("I can't see any upcoming appointments for you."),
        "{r:?}"
    );
    let mut sim = Sim::new(true).holds(1, 1, 25, 12);
    let r = sim.say("when is my appointment?");
    assert_eq!(
        one(&r),
        "Your next appointment: Sports massage with Mei Chen on Wed 25 Nov at 12:00. If you need to move or \
         cancel it, just say so."
    );
    let mut sim = Sim::new(true).holds(0, 0, 27, 9).holds(1, 1, 25, 12);
    let r = sim.say("do I have an appointment booked?");
    assert!(
        one(&r).starts_with(
            "You have 2 upcoming appointments: 1) Sports massage with Mei Chen on Wed 25 Nov at 12:00, \
             2) Initial physiotherapy consultation with Aroha Ngata on Fri 27 Nov at 09:00."
        ),
        "{r:?}"
    );
    assert_eq!(sim.state, DialogueState::default(), "nothing left pending");
}

#[test]
fn one_appointment_is_confirmed_with_the_policy_then_cancelled_from_the_stores_answer() {
    let mut sim = Sim::new(true).holds(1, 1, 25, 12);
    let r = sim.say("I need to cancel my appointment");
    assert_eq!(
        one(&r),
        "Cancel your Sports massage with Mei Chen on Wed 25 Nov at 12:00? (yes/no) Our cancellation policy: \
         Please give us 24 hours' notice."
    );
    assert_eq!(sim.done, vec!["find"]);
    let r = sim.say("yes please");
    assert_eq!(
        one(&r),
        "Done: your Sports massage with Mei Chen on Wed 25 Nov at 12:00 is cancelled. If you'd like to book a \
         new time, just ask."
    );
    assert_eq!(sim.done, vec!["find", "cancel"]);
    assert!(sim.diary.is_empty());
    assert_eq!(sim.state, DialogueState::default());
}

#[test]
fn saying_no_leaves_the_appointment_as_it_is() {
    let mut sim = Sim::new(true).holds(1, 1, 25, 12);
    sim.say("can't make it, please cancel");
    let r = sim.say("no actually");
    assert!(one(&r).starts_with("Okay, nothing has changed"), "{r:?}");
    assert_eq!(sim.done, vec!["find"]);
    assert_eq!(sim.diary.len(), 1);
}

#[test]
fn several_appointments_are_offered_numbered_and_picked_by_number_day_or_time() {
    for (answer, want) in [
        ("2", "Fri 27 Nov at 09:00"),
        ("the second one", "Fri 27 Nov at 09:00"),
        ("the Friday one", "Fri 27 Nov at 09:00"),
        ("the 12:00 one", "Wed 25 Nov at 12:00"),
        ("the sports massage", "Wed 25 Nov at 12:00"),
    ] {
        let mut sim = Sim::new(true).holds(0, 0, 27, 9).holds(1, 1, 25, 12);
        let r = sim.say("please cancel my appointment");
        assert!(
            one(&r).starts_with("You have 2 upcoming appointments: 1) Sports massage")
                && r[0].ends_with("Which one would you like to cancel?"),
            "{r:?}"
        );
        let r = sim.say(answer);
        assert!(
            one(&r).starts_with("Cancel your") && r[0].contains(want),
            "{answer}: {r:?}"
        );
        let r = sim.say("yes");
        assert!(one(&r).contains(&format!("{want} is cancelled")), "{r:?}");
        assert_eq!(sim.diary.len(), 1);
    }
}

#[test]
fn a_day_named_in_the_request_picks_the_appointment_at_once() {
    let mut sim = Sim::new(true).holds(0, 0, 27, 9).holds(1, 1, 25, 12);
    let r = sim.say("I can't make my appointment on Friday, please cancel it");
    assert!(
        one(&r).starts_with(
            "Cancel your Initial physiotherapy consultation with Aroha Ngata on Fri 27 Nov at 09:00?"
        ),
        "{r:?}"
    );
}

#[test]
fn a_move_offers_real_times_for_the_same_service_and_practitioner_and_confirms_first() {
    let mut sim = Sim::new(true).holds(1, 1, 25, 12);
    let r = sim.say("can I move my appointment to Friday afternoon?");
    assert!(
        one(&r).starts_with("I can move it to: 1) Fri 27 Nov at 14:00 with Mei Chen"),
        "{r:?}"
    );
    let ask = &sim.searches[0];
    assert_eq!(
        (ask.service, ask.practitioners.clone(), ask.from),
        (
            sim.service(1),
            vec![sim.practitioner(1)],
            date(2026, 11, 27)
        )
    );
    let r = sim.say("2");
    assert_eq!(
        one(&r),
        "Move your Sports massage with Mei Chen on Wed 25 Nov at 12:00 to Fri 27 Nov at 15:00 with Mei Chen? \
         (yes/no)"
    );
    assert_eq!(sim.done, vec!["find"], "nothing moved before the yes");
    let r = sim.say("yes");
    assert_eq!(
        one(&r),
        "Done: your Sports massage is moved to Fri 27 Nov at 15:00 with Mei Chen (it was Wed 25 Nov at 12:00)."
    );
    assert_eq!(sim.done, vec!["find", "move"]);
    assert_eq!(sim.diary[0].start, at(27, 15));
    assert_eq!(sim.state, DialogueState::default());
}

#[test]
fn a_move_asks_when_and_anyone_widens_to_every_provider() {
    let mut sim = Sim::new(true).holds(0, 0, 27, 9).holds(1, 1, 25, 12);
    let r = sim.say("I need to reschedule my Friday appointment");
    assert_eq!(
        one(&r),
        "When would you like to move your Initial physiotherapy consultation with Aroha Ngata on Fri 27 Nov at \
         09:00 to?"
    );
    let r = sim.say("next monday, anyone is fine");
    assert!(one(&r).starts_with("I can move it to: "), "{r:?}");
    let ask = &sim.searches[0];
    assert_eq!(ask.from, date(2026, 11, 30));
    assert_eq!(
        ask.practitioners,
        vec![sim.practitioner(0), sim.practitioner(1)],
        "no providers listed: anyone"
    );
}

#[test]
fn a_time_taken_meanwhile_is_offered_again_and_never_claimed() {
    let mut sim = Sim::new(true).holds(1, 1, 25, 12);
    sim.taken_once = true;
    sim.say("could I change my appointment to thursday?");
    sim.say("the first one");
    let r = sim.say("yes");
    assert_eq!(r[0], "Sorry, that time has just been taken.");
    assert!(r[1].starts_with("I can move it to: 1) Thu 26 Nov"), "{r:?}");
    assert!(!r.iter().any(|m| m.contains("moved")), "{r:?}");
    assert_eq!(sim.diary[0].start, at(25, 12), "still where it was");
    sim.say("1");
    let r = sim.say("yes");
    assert!(
        one(&r).starts_with("Done: your Sports massage is moved"),
        "{r:?}"
    );
    assert_eq!(sim.done, vec!["find", "move refused", "move"]);
}

#[test]
fn no_appointments_means_nothing_to_move_or_cancel() {
    for (text, verb) in [
        ("I want to reschedule my appointment", "move"),
        ("cancel my booking please", "cancel"),
    ] {
        let mut sim = Sim::new(true);
        let r = sim.say(text);
        assert!(
            one(&r).contains(&format!("there's nothing to {verb}")),
            "{r:?}"
        );
        assert_eq!(sim.state, DialogueState::default());
    }
}

#[test]
fn an_anonymous_caller_is_never_shown_or_offered_changes() {
    for text in [
        "when is my appointment?",
        "cancel my appointment on Wednesday",
        "move my appointment to Friday",
    ] {
        let mut sim = Sim::new(false).holds(1, 1, 25, 12);
        let r = sim.say(text);
        assert!(one(&r).contains("once I know it's you"), "{r:?}");
        assert!(!r[0].contains("Wed 25 Nov"), "{r:?}");
        assert!(sim.done.is_empty());
        assert!(sim.state.change.is_none());
    }
}

#[test]
fn cancel_in_the_middle_of_a_new_booking_stops_it_without_claiming_anything() {
    let mut sim = Sim::new(false);
    sim.say("can I book a sports massage with Mei tomorrow");
    assert!(sim.state.booking.is_some());
    let r = sim.say("actually cancel that");
    assert!(
        r[0].starts_with("Okay, I've stopped the new booking; nothing was booked."),
        "{r:?}"
    );
    assert!(sim.state.booking.is_none());
}

#[test]
fn a_question_on_the_way_is_answered_and_two_misunderstandings_hand_off() {
    let mut sim = Sim::new(true).holds(0, 0, 27, 9).holds(1, 1, 25, 12);
    sim.say("I need to cancel an appointment");
    let r = sim.say("what are your opening hours?");
    assert!(one(&r).contains("Mon–Fri 08:00–18:00"), "{r:?}");
    assert!(sim.state.change.is_some(), "the pick is still open");
    let r = sim.say("the first one");
    assert!(one(&r).starts_with("Cancel your Sports massage"), "{r:?}");
    let r = sim.say("purple monkey");
    assert!(
        one(&r).starts_with("Sorry, I didn't catch that. Cancel your"),
        "{r:?}"
    );
    let r = sim.say("zzz");
    assert!(one(&r).contains("asked the Harbour Physio team"), "{r:?}");
    assert_eq!(sim.done.last().map(String::as_str), Some("handoff"));
    assert_eq!(sim.diary.len(), 2, "nothing cancelled");
}

#[test]
fn states_saved_before_changes_existed_still_load() {
    let old = r#"{"booking":{"service":null,"practitioner":null,"any_practitioner":false,"from":null,"to":null,
        "earliest":null,"latest":null,"name":null,"phone":null,"offers":[],"chosen":null,"awaiting":"Details"},
        "misunderstood":1}"#;
    let s: DialogueState = serde_json::from_str(old).unwrap_or_default();
    assert_eq!(s.misunderstood, 1);
    assert!(s.change.is_none());
    assert!(s.booking.is_some_and(|b| b.moving.is_none()));
    let mut sim = Sim::new(true).holds(1, 1, 25, 12);
    sim.say("I need to cancel my appointment");
    let json = serde_json::to_string(&sim.state).unwrap_or_default();
    let back: DialogueState = serde_json::from_str(&json).unwrap_or_default();
    assert_eq!(back, sim.state);
}
