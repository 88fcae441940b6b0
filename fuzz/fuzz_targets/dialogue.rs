//! The whole receptionist turn, `frontdesk_agent::reply`, over a conversation: each line of
//! the input is one patient message at a demo clinic, with the dialogue state carried from
//! turn to turn through its stored JSON form, as the server does. A small fake server answers
//! the dialogue's steps (finds slots, books, finds one upcoming appointment, cancels, moves,
//! confirms, texts codes), so booking and change dialogues are reached.
//!
//! Input: the messages, one per line (arbitrary UTF-8; the seeds are the scripted dialogues of
//! eval/dialogues.yaml). The clinic, channel flags and clock come from the input's hash.
//!
//! Properties: nothing panics; every turn answers with at least one message; the dialogue
//! state survives its JSON round trip unchanged (else the server would silently start over).
#![no_main]

#[path = "../common/clinics.rs"]
mod clinics;

use frontdesk_agent::dialogue::{self, DialogueContext, Held, Offer, Step};
use frontdesk_agent::{DialogueState, TurnContext, reply};
use frontdesk_domain::AppointmentId;
use jiff::{SignedDuration, Timestamp};
use libfuzzer_sys::fuzz_target;
use std::sync::LazyLock;

static CLINICS: LazyLock<Vec<clinics::Clinic>> = LazyLock::new(clinics::demo_clinics);
const MAX_TURNS: usize = 12;
const MAX_STEPS: usize = 8;

/// Free slots for an ask: the asked day (at the asked time, else 09:00), plus one and two
/// hours later, in the clinic's zone.
fn slots(ask: &dialogue::SlotAsk, c: &clinics::Clinic, tz: &jiff::tz::TimeZone) -> Vec<Offer> {
    let practitioner = match ask.practitioners.first() {
        Some(p) => *p,
        None => c.knowledge.practitioners[0].id,
    };
    let time = ask.earliest.unwrap_or(jiff::civil::time(9, 0, 0, 0));
    let Ok(start) = ask.from.to_datetime(time).to_zoned(tz.clone()) else {
        return Vec::new();
    };
    let start = start.timestamp();
    [0, 1, 2]
        .iter()
        .filter_map(|h| start.checked_add(SignedDuration::from_hours(*h)).ok())
        .map(|start| Offer {
            practitioner,
            start,
        })
        .collect()
}

fn held(c: &clinics::Clinic, now: Timestamp) -> Held {
    Held {
        id: AppointmentId::parse("00000000-0000-7000-8000-000000000001").expect("id"),
        service: c.knowledge.services[0].id,
        practitioner: c.knowledge.practitioners[0].id,
        start: now + SignedDuration::from_hours(26),
    }
}

/// Plays the server's part for `first` and what it leads to; returns the words.
fn serve(
    first: Step,
    state: &mut DialogueState,
    ctx: &mut DialogueContext<'_>,
    c: &clinics::Clinic,
    refuse: bool,
) -> Vec<String> {
    let mut out = Vec::new();
    let mut next = Some(first);
    for _ in 0..MAX_STEPS {
        let Some(step) = next.take() else { break };
        match step {
            Step::Say(words) => out.extend(words),
            Step::Handoff(words) => out.push(words),
            Step::FindSlots(ask) => {
                let found = if refuse {
                    Vec::new()
                } else {
                    slots(&ask, c, ctx.tz)
                };
                next = Some(dialogue::offer(state, &found, refuse, ctx));
            }
            Step::Book(b) => {
                if refuse {
                    let (sorry, again) = dialogue::taken(state, ctx);
                    out.push(sorry);
                    next = again.map(Step::FindSlots);
                } else {
                    out.extend(dialogue::booked(
                        state,
                        b.service,
                        b.offer.practitioner,
                        b.offer.start,
                        ctx,
                    ));
                }
            }
            Step::FindAppointments => {
                let mine = if refuse {
                    vec![]
                } else {
                    vec![held(c, ctx.now)]
                };
                next = Some(dialogue::found(state, &mine, ctx));
            }
            Step::Cancel(h) => out.extend(if refuse {
                dialogue::not_changed(state, ctx)
            } else {
                dialogue::cancelled(state, &h, ctx)
            }),
            Step::Confirm(h) => out.extend(if refuse {
                dialogue::not_changed(state, ctx)
            } else {
                dialogue::confirmed(state, &h, ctx)
            }),
            Step::JoinWaitlist(ask) => out.extend(dialogue::waitlisted(state, &ask, ctx)),
            Step::TakeHold(o) => {
                if refuse {
                    out.extend(dialogue::hold_gone(state));
                } else {
                    out.extend(dialogue::booked(
                        state,
                        o.service,
                        o.practitioner,
                        o.start,
                        ctx,
                    ));
                }
            }
            Step::Reschedule(m) => {
                let to = Held {
                    practitioner: m.offer.practitioner,
                    start: m.offer.start,
                    ..m.appointment
                };
                out.extend(dialogue::rescheduled(state, &m.appointment, &to, ctx));
            }
            Step::SendCode(_) => out.extend(if refuse {
                dialogue::code_not_sent(state, ctx)
            } else {
                dialogue::code_sent(state)
            }),
            Step::CheckCode(_) => {
                if refuse {
                    out.extend(dialogue::code_refused(state, true, ctx));
                } else {
                    ctx.identity_verified = true;
                    next = Some(dialogue::verified(state));
                }
            }
        }
    }
    out
}

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let bits = clinics::hash(data);
    let c = &CLINICS[(bits & 1) as usize];
    let tz = c.profile.time_zone().expect("demo zone");
    let mut now = clinics::now_for(data);
    let mut stored: Option<String> = None;
    for (i, line) in text.split('\n').take(MAX_TURNS).enumerate() {
        // The state as the server reads it back.
        let mut state: DialogueState = stored
            .as_deref()
            .map(|s| serde_json::from_str(s).expect("stored state parses"))
            .unwrap_or_default();
        let identity_verified = bits & 2 != 0;
        let turn = TurnContext {
            clinic: &c.knowledge,
            now,
            first_contact: i == 0,
            needs_phone: bits & 4 != 0,
            identity_verified,
            can_verify: !identity_verified && bits & 8 != 0,
            reminded: (bits & 16 != 0).then(|| held(c, now)),
            offered: None,
        };
        let mut r = reply(turn, line, &mut state);
        assert!((0.0..=1.0).contains(&r.confidence));
        if let Some(step) = r.next.take() {
            let mut ctx = DialogueContext {
                clinic: &c.knowledge,
                tz: &tz,
                now,
                needs_phone: turn.needs_phone,
                identity_verified,
                can_verify: turn.can_verify,
                reminded: turn.reminded,
                offered: None,
            };
            let refuse = (bits >> (8 + i)) & 1 != 0;
            r.messages
                .extend(serve(step, &mut state, &mut ctx, c, refuse));
        }
        assert!(
            r.messages.iter().any(|m| !m.trim().is_empty()),
            "turn {i} ({:?}) got no answer",
            r.intent
        );
        let json = serde_json::to_string(&state).expect("state serialises");
        let back: DialogueState = serde_json::from_str(&json).expect("state parses back");
        assert_eq!(back, state, "the stored state round-trips");
        stored = Some(json);
        now += SignedDuration::from_mins(2);
    }
});
