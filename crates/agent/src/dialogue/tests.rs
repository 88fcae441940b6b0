//! The booking dialogue driven turn by turn against a simulated diary.

use super::*;
use crate::reply::{ClinicKnowledge, PractitionerInfo, ServiceInfo, TurnContext, reply};
use frontdesk_domain::{ClinicProfile, DayHours, FaqId, WeeklyHours};

pub(super) fn clinic() -> ClinicKnowledge {
    let wd = DayHours::parse("08:00-18:00").ok();
    let profile = ClinicProfile {
        name: "Harbour Physio".into(),
        timezone: "Pacific/Auckland".into(),
        country: "NZ".into(),
        languages: vec!["en".into()],
        emergency_numbers: vec!["111".into()],
        address: "12 Quay Street, Auckland".into(),
        phone: None,
        currency: "NZD".into(),
        hours: WeeklyHours([wd, wd, wd, wd, wd, None, None]),
        privacy_notice: String::new(),
        cancellation_policy: String::new(),
        reminder_hours: frontdesk_domain::clinic::DEFAULT_REMINDER_HOURS,
        widget_origins: vec![],
        session_idle_minutes: frontdesk_domain::clinic::DEFAULT_SESSION_IDLE_MINUTES,
        retention: Default::default(),
        ai_paused: false,
    };
    let services = vec![
        ServiceInfo {
            id: ServiceId::new(),
            name: "Initial physiotherapy consultation".into(),
            duration_min: 45,
            price_minor: Some(9500),
            practitioners: vec![],
        },
        ServiceInfo {
            id: ServiceId::new(),
            name: "Sports massage".into(),
            duration_min: 60,
            price_minor: Some(11000),
            practitioners: vec![],
        },
    ];
    let practitioners = vec![
        PractitionerInfo {
            id: PractitionerId::new(),
            name: "Aroha Ngata".into(),
            title: "Physiotherapist".into(),
        },
        PractitionerInfo {
            id: PractitionerId::new(),
            name: "Mei Chen".into(),
            title: "Massage therapist".into(),
        },
    ];
    let faqs = vec![(
        FaqId::new(),
        "What is your cancellation policy?".to_owned(),
        "Please give us 24 hours' notice.".to_owned(),
    )];
    ClinicKnowledge::new(profile, services, practitioners, faqs, vec![])
}

/// Tue 2026-11-24 10:00 in Auckland.
pub(super) fn now() -> Timestamp {
    "2026-11-23T21:00:00Z"
        .parse()
        .unwrap_or(Timestamp::UNIX_EPOCH)
}

/// Plays the server: every slot search answers three hourly slots from 14:00 on the first
/// searched day; every booking succeeds unless `taken` says so.
struct Sim {
    k: ClinicKnowledge,
    state: DialogueState,
    booked: Option<(ServiceId, Offer, String, Option<String>)>,
    searches: Vec<SlotAsk>,
    taken_once: bool,
}

impl Sim {
    fn new() -> Self {
        Sim {
            k: clinic(),
            state: DialogueState::default(),
            booked: None,
            searches: vec![],
            taken_once: false,
        }
    }

    fn tz(&self) -> TimeZone {
        TimeZone::get("Pacific/Auckland").unwrap_or(TimeZone::UTC)
    }

    fn say(&mut self, text: &str) -> Vec<String> {
        let ctx = TurnContext {
            clinic: &self.k,
            now: now(),
            first_contact: false,
            needs_phone: true,
            identity_verified: false,
            can_verify: false,
            reminded: None,
            offered: None,
        };
        let r = reply(ctx, text, &mut self.state);
        let mut out = r.messages;
        let mut next = r.next;
        let tz = self.tz();
        while let Some(step) = next.take() {
            let dctx = DialogueContext {
                clinic: &self.k,
                tz: &tz,
                now: now(),
                needs_phone: true,
                identity_verified: false,
                can_verify: false,
                reminded: None,
                offered: None,
            };
            match step {
                Step::FindSlots(ask) => {
                    let slots: Vec<Offer> = (0..3)
                        .filter_map(|h| {
                            let t = ask
                                .from
                                .at(14 + h, 0, 0, 0)
                                .to_zoned(tz.clone())
                                .ok()?
                                .timestamp();
                            Some(Offer {
                                practitioner: ask.practitioners[0],
                                start: t,
                            })
                        })
                        .collect();
                    self.searches.push(ask);
                    if let Step::Say(s) = offer(&mut self.state, &slots, false, &dctx) {
                        out.extend(s);
                    }
                }
                Step::Book(b) => {
                    if self.taken_once {
                        self.taken_once = false;
                        let (sorry, again) = taken(&mut self.state, &dctx);
                        out.push(sorry);
                        next = again.map(Step::FindSlots);
                    } else {
                        out.extend(booked(
                            &mut self.state,
                            b.service,
                            b.offer.practitioner,
                            b.offer.start,
                            &dctx,
                        ));
                        self.booked = Some((b.service, b.offer, b.name, b.phone));
                    }
                }
                Step::Say(s) => out.extend(s),
                Step::Handoff(s) => out.push(s),
                other => panic!("a booking asked for {other:?}"),
            }
        }
        out
    }
}

#[test]
fn a_cooperative_booking_completes_in_four_turns_and_is_confirmed_from_the_booking() {
    let mut sim = Sim::new();
    let r = sim.say("Hi, can I book a sports massage with Mei tomorrow afternoon?");
    assert!(
        r[0].starts_with("I have: 1) Wed 25 Nov at 14:00 with Mei Chen"),
        "{r:?}"
    );
    let r = sim.say("the second one please");
    assert!(
        r[0].contains("Wed 25 Nov at 15:00 with Mei Chen it is") && r[0].contains("full name"),
        "{r:?}"
    );
    let r = sim.say("Tama Rangi");
    assert!(r[0].contains("mobile number"), "{r:?}");
    let r = sim.say("021 555 0199");
    assert_eq!(r, vec!["You're booked: Sports massage with Mei Chen on Wed 25 Nov at 15:00. Please give us 24 hours' notice.".to_owned()]);
    let (_, offer, name, phone) = sim.booked.clone().unwrap_or_else(|| {
        (
            ServiceId::new(),
            Offer {
                practitioner: PractitionerId::new(),
                start: now(),
            },
            String::new(),
            None,
        )
    });
    assert_eq!(
        (name.as_str(), phone.as_deref()),
        ("Tama Rangi", Some("+64215550199"))
    );
    assert_eq!(when_text(offer.start, &sim.tz()), "Wed 25 Nov at 15:00");
    assert!(
        sim.state.booking.is_none(),
        "the draft is cleared once booked"
    );
}

#[test]
fn what_was_already_said_is_never_asked_again() {
    let mut sim = Sim::new();
    let r = sim.say("I'd like to make a booking please");
    assert!(
        r[0].contains("which service")
            && r[0].contains("who you'd like to see")
            && r[0].contains("when suits you"),
        "{r:?}"
    );
    let r = sim.say("sports massage, anyone is fine");
    assert!(
        !r[0].contains("which service") && !r[0].contains("who you'd like"),
        "{r:?}"
    );
    assert!(r[0].contains("when suits you"), "{r:?}");
    let r = sim.say("my name is Tama Rangi, Friday morning");
    assert!(r[0].starts_with("I have:"), "{r:?}");
    let r = sim.say("2");
    assert!(
        r[0].contains("mobile number") && !r[0].contains("full name"),
        "the name was given earlier: {r:?}"
    );
    assert_eq!(sim.searches.len(), 1);
}

#[test]
fn a_taken_slot_is_offered_again_and_never_claimed() {
    let mut sim = Sim::new();
    sim.taken_once = true;
    sim.say(
        "book an initial consultation with Aroha tomorrow, my name is Tama Rangi, 021 555 0199",
    );
    let r = sim.say("1");
    assert_eq!(r[0], "Sorry, that time has just been taken.");
    assert!(r[1].starts_with("I have:"), "{r:?}");
    assert!(!r.iter().any(|m| m.contains("You're booked")));
    assert!(sim.booked.is_none());
    let r = sim.say("the first one");
    assert!(
        r[0].starts_with("You're booked: Initial physiotherapy consultation with Aroha Ngata"),
        "{r:?}"
    );
}

#[test]
fn info_questions_mid_booking_are_answered_and_the_draft_is_kept() {
    let mut sim = Sim::new();
    sim.say("can I book a sports massage tomorrow afternoon with Mei?");
    let r = sim.say("where are you located?");
    assert!(r[0].contains("12 Quay Street"), "{r:?}");
    let r = sim.say("the first one");
    assert!(r[0].contains("14:00 with Mei Chen it is"), "{r:?}");
}

#[test]
fn two_turns_that_add_nothing_hand_off_to_the_staff() {
    let mut sim = Sim::new();
    sim.say("I want to book a sports massage with Mei");
    let r = sim.say("blorp");
    assert!(r[0].starts_with("Sorry, I didn't catch that."), "{r:?}");
    let ctx = TurnContext {
        clinic: &sim.k,
        now: now(),
        first_contact: false,
        needs_phone: true,
        identity_verified: false,
        can_verify: false,
        reminded: None,
        offered: None,
    };
    let r = reply(ctx, "zzzz qqq", &mut sim.state);
    assert_eq!(r.alert, Some(crate::Alert::Handoff));
    assert!(
        r.messages[0].contains("asked the Harbour Physio team"),
        "{:?}",
        r.messages
    );
    assert!(sim.state.booking.is_none());
}

#[test]
fn saying_no_to_the_offers_asks_for_another_time() {
    let mut sim = Sim::new();
    sim.say("book a sports massage with Mei tomorrow");
    let r = sim.say("no, none of those work");
    assert_eq!(r, vec!["No problem. When else would suit you?".to_owned()]);
    let r = sim.say("Thursday morning");
    assert!(r[0].starts_with("I have:"), "{r:?}");
}

#[test]
fn the_state_survives_a_round_trip_through_json() {
    let mut sim = Sim::new();
    sim.say("book a sports massage with Mei tomorrow, I'm Tama");
    let json = serde_json::to_string(&sim.state).unwrap_or_default();
    let back: DialogueState = serde_json::from_str(&json).unwrap_or_default();
    assert_eq!(back, sim.state);
    assert!(
        !json.contains("Tama") || json.contains("\"name\":\"Tama\""),
        "the name is in the state, which the store encrypts"
    );
}

#[test]
fn a_service_asked_about_earlier_is_not_asked_again() {
    let mut sim = Sim::new();
    let r = sim.say("how much is a sports massage?");
    assert!(r[0].contains("Sports massage (60 min, NZD 110)"), "{r:?}");
    let r = sim.say("ok can I book one with Mei on Friday morning");
    // Straight to the diary (the simulated one answers from 14:00), no "which service?".
    assert!(
        r[0].starts_with("I have: 1) Fri 27 Nov at 14:00 with Mei Chen"),
        "{r:?}"
    );
    assert_eq!(
        sim.searches[0].service, sim.k.services[1].id,
        "the sports massage asked about earlier"
    );
}

#[test]
fn an_urgent_message_is_flagged_and_offered_the_soonest_times_which_can_be_booked() {
    let mut sim = Sim::new();
    let r = sim.say("my knee is getting more swollen and painful since the operation");
    assert!(r[0].contains("flagged your message"), "{r:?}");
    assert!(
        r[1].starts_with("The earliest times I can offer are: 1) Tue 24 Nov at 14:00"),
        "{r:?}"
    );
    assert_eq!(
        sim.searches[0].service, sim.k.services[0].id,
        "no service named: the clinic's first"
    );
    assert_eq!(sim.searches[0].practitioners.len(), 2, "with anyone");
    let r = sim.say("yes the first one");
    assert!(r[0].contains("full name"), "{r:?}");
    let r = sim.say("Tama Rangi, 021 555 0199");
    assert!(
        r[0].starts_with("You're booked: Initial physiotherapy consultation"),
        "{r:?}"
    );
}
