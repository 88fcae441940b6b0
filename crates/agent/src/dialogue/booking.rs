//! The booking draft: collect what is missing, offer real free slots, book the one chosen.
//! The same draft finds the new time of a move ([`BookingDraft::moving`]): then no name or
//! phone is asked, and the chosen time is confirmed before the server moves the appointment.

use super::{
    Awaiting, BookAsk, BookingDraft, DialogueContext, DialogueState, OFFERS, Offer, SEARCH_DAYS,
    SlotAsk, Step, appointment_text, practitioner_name, service_name, when_text,
};
use crate::reply::ClinicKnowledge;
use crate::understand::{Intent, Understanding};
use frontdesk_domain::{PractitionerId, ServiceId};
use jiff::{Timestamp, tz::TimeZone};

fn ask_details(d: &BookingDraft, k: &ClinicKnowledge, tz: &TimeZone) -> Option<String> {
    if let Some(h) = &d.moving {
        return (d.from.is_none() && d.earliest.is_none()).then(|| {
            format!(
                "When would you like to move your {} to?",
                appointment_text(k, h, tz)
            )
        });
    }
    let mut parts = Vec::new();
    if d.service.is_none() {
        let names: Vec<&str> = k.services.iter().map(|s| s.name.as_str()).collect();
        parts.push(format!("which service you'd like ({})", names.join(", ")));
    }
    if d.practitioner.is_none() && !d.any_practitioner && k.practitioners.len() > 1 {
        let names: Vec<&str> = k.practitioners.iter().map(|p| p.name.as_str()).collect();
        parts.push(format!(
            "who you'd like to see ({}, or anyone)",
            names.join(", ")
        ));
    }
    if d.from.is_none() && d.earliest.is_none() {
        parts.push("when suits you".to_owned());
    }
    match parts.len() {
        0 => None,
        1 => Some(format!(
            "Happy to help you book. Please tell me {}.",
            parts[0]
        )),
        _ => {
            let last = parts.pop().unwrap_or_default();
            Some(format!(
                "Happy to help you book. Please tell me {}, and {last}.",
                parts.join(", ")
            ))
        }
    }
}

pub(super) fn slot_ask(
    d: &BookingDraft,
    k: &ClinicKnowledge,
    ctx: &DialogueContext<'_>,
) -> Option<SlotAsk> {
    let service = d.service?;
    // "Anyone" means anyone who provides this service.
    let providers = k
        .services
        .iter()
        .find(|s| s.id == service)
        .map(|s| s.practitioners.clone())
        .unwrap_or_default();
    let practitioners = match d.practitioner {
        Some(p) => vec![p],
        None if !providers.is_empty() => providers,
        None => k.practitioners.iter().map(|p| p.id).collect(),
    };
    let today = ctx.now.to_zoned(ctx.tz.clone()).date();
    let from = d.from.unwrap_or(today).max(today);
    let to =
        d.to.unwrap_or_else(|| {
            from.checked_add(jiff::Span::new().days(SEARCH_DAYS - 1))
                .unwrap_or(from)
        })
        .max(from);
    Some(SlotAsk {
        service,
        practitioners,
        from,
        to,
        earliest: d.earliest,
        latest: d.latest,
    })
}

/// Advances the booking (or move) draft with one understood message. `None`: not a booking
/// conversation (the caller answers normally). Information questions in the middle of a
/// booking are left to the caller too (`None`), and the draft is kept for the next message.
pub(super) fn advance(
    state: &mut DialogueState,
    u: &Understanding,
    text: &str,
    ctx: &DialogueContext<'_>,
) -> Option<Step> {
    let k = ctx.clinic;
    let (service, practitioner) = (u.entities.service(), u.entities.practitioner());
    if state.booking.is_none() && u.intent != Intent::Book {
        state.mentioned_service = service.or(state.mentioned_service);
        state.mentioned_practitioner = practitioner.or(state.mentioned_practitioner);
        return None;
    }
    let (earlier_service, earlier_practitioner) =
        (state.mentioned_service, state.mentioned_practitioner);
    let d = state.booking.get_or_insert_with(|| BookingDraft {
        service: earlier_service,
        practitioner: earlier_practitioner,
        ..BookingDraft::default()
    });
    if k.services.len() == 1 && d.service.is_none() {
        d.service = k.services.first().map(|s| s.id);
    }
    if k.practitioners.len() == 1 && d.practitioner.is_none() {
        d.practitioner = k.practitioners.first().map(|p| p.id);
    }
    if d.awaiting == Awaiting::Confirm
        && let Some(step) = super::moving::confirm_move(d, u, ctx)
    {
        state.misunderstood = 0;
        return Some(step);
    }
    let learned = super::collect::merge(d, u, text, ctx);
    if let Some(h) = d.moving {
        // A move keeps its service; only the time (and perhaps the practitioner) changes.
        d.service = Some(h.service);
    }
    let info = super::change::is_question(u.intent);
    if !learned && info {
        return None;
    }
    if !learned && let Some(step) = turned_down(state, u, ctx) {
        return Some(step);
    }
    if learned || u.intent == Intent::Book {
        state.misunderstood = 0;
    } else {
        state.misunderstood += 1;
        if state.misunderstood >= 2 {
            let moving = state.booking.as_ref().is_some_and(|d| d.moving.is_some());
            let what = if moving { "appointment" } else { "booking" };
            state.booking = None;
            state.misunderstood = 0;
            return Some(Step::Handoff(format!(
                "I'm sorry, I'm not getting this right. I've asked the {} team to help you with your {what} here.",
                k.profile.name
            )));
        }
    }
    let sorry = if learned || u.intent == Intent::Book {
        ""
    } else {
        "Sorry, I didn't catch that. "
    };
    let d = state.booking.get_or_insert_with(BookingDraft::default);
    next_step(d, learned, sorry, ctx)
}

/// "No" (or "a different time") to the offers asks again; "no, leave it" to a move before
/// any new time was offered leaves the appointment as it is. Only for messages that taught
/// the draft nothing.
fn turned_down(
    state: &mut DialogueState,
    u: &Understanding,
    ctx: &DialogueContext<'_>,
) -> Option<Step> {
    let d = state.booking.as_mut()?;
    if matches!(u.intent, Intent::Deny | Intent::Reschedule) && d.awaiting == Awaiting::Choice {
        forget_time(d);
        state.misunderstood = 0;
        return Some(Step::Say(vec![
            "No problem. When else would suit you?".to_owned(),
        ]));
    }
    let h = d.moving?;
    if u.intent == Intent::Deny && d.awaiting == Awaiting::Details {
        state.booking = None;
        state.misunderstood = 0;
        return Some(Step::Say(vec![format!(
            "Okay, I've left your appointment as it is: {}.",
            appointment_text(ctx.clinic, &h, ctx.tz)
        )]));
    }
    None
}

/// What the draft needs next once the message is merged: a confirmation (a move), the name
/// or phone, the booking itself, a missing detail, or a slot search.
fn next_step(
    d: &mut BookingDraft,
    learned: bool,
    sorry: &str,
    ctx: &DialogueContext<'_>,
) -> Option<Step> {
    let k = ctx.clinic;
    if d.waitlist {
        return Some(match super::waitlist::join_step(d, ctx) {
            Step::Say(words) => {
                Step::Say(words.into_iter().map(|w| format!("{sorry}{w}")).collect())
            }
            step => step,
        });
    }
    if let (Some(chosen), Some(h)) = (d.chosen, d.moving) {
        d.awaiting = Awaiting::Confirm;
        return Some(Step::Say(vec![format!(
            "{sorry}{}",
            super::moving::move_question(k, &h, &chosen, ctx.tz)
        )]));
    }
    if let Some(chosen) = d.chosen {
        let service = d.service?;
        let Some(name) = d.name.clone() else {
            d.awaiting = Awaiting::Name;
            let extra = if ctx.needs_phone && d.phone.is_none() {
                " and a mobile number we can reach you on"
            } else {
                ""
            };
            return Some(Step::Say(vec![format!(
                "{} with {} it is. To book it, please tell me your full name{extra}.",
                when_text(chosen.start, ctx.tz),
                practitioner_name(k, chosen.practitioner)
            )]));
        };
        if ctx.needs_phone && d.phone.is_none() {
            d.awaiting = Awaiting::Phone;
            return Some(Step::Say(vec![
                "Thanks. And a mobile number we can reach you on?".to_owned(),
            ]));
        }
        return Some(Step::Book(BookAsk {
            service,
            offer: chosen,
            name,
            phone: d.phone.clone(),
        }));
    }
    if let Some(question) = ask_details(d, k, ctx.tz) {
        d.awaiting = Awaiting::Details;
        return Some(Step::Say(vec![format!("{sorry}{question}")]));
    }
    if !d.offers.is_empty() && !learned {
        return Some(Step::Say(vec![format!(
            "Sorry, I didn't catch which one. {}",
            offers_text(&d.offers, k, ctx.tz)
        )]));
    }
    slot_ask(d, k, ctx).map(Step::FindSlots)
}

/// Clears the time preference and the offers (the patient wants another time).
pub(super) fn forget_time(d: &mut BookingDraft) {
    d.offers.clear();
    d.chosen = None;
    d.from = None;
    d.to = None;
    d.earliest = None;
    d.latest = None;
    d.awaiting = Awaiting::Details;
}

fn offers_text(offers: &[Offer], k: &ClinicKnowledge, tz: &TimeZone) -> String {
    let items: Vec<String> = offers
        .iter()
        .enumerate()
        .map(|(i, o)| {
            format!(
                "{}) {} with {}",
                i + 1,
                when_text(o.start, tz),
                practitioner_name(k, o.practitioner)
            )
        })
        .collect();
    format!("{}. Which one would you like?", items.join(", "))
}

/// An urgent (not emergency) message: offer the soonest times for the service the patient
/// named or asked about, else the clinic's first service, with anyone. `None` when a booking
/// is already under way (it continues as it was) or the clinic has no services.
pub fn start_urgent(
    state: &mut DialogueState,
    u: &Understanding,
    ctx: &DialogueContext<'_>,
) -> Option<Step> {
    let k = ctx.clinic;
    if state.booking.is_some() {
        return None;
    }
    let service = u
        .entities
        .service()
        .or(state.mentioned_service)
        .or_else(|| k.services.first().map(|s| s.id))?;
    let practitioner = u.entities.practitioner().or(state.mentioned_practitioner);
    let d = state.booking.insert(BookingDraft {
        service: Some(service),
        practitioner,
        any_practitioner: practitioner.is_none(),
        urgent: true,
        ..BookingDraft::default()
    });
    slot_ask(d, k, ctx).map(Step::FindSlots)
}

/// The server found these free slots (soonest first) for the last [`SlotAsk`]; `widened`
/// when nothing was free in the asked window and the search was widened.
pub fn offer(
    state: &mut DialogueState,
    slots: &[Offer],
    widened: bool,
    ctx: &DialogueContext<'_>,
) -> Step {
    let k = ctx.clinic;
    let d = state.booking.get_or_insert_with(BookingDraft::default);
    d.offers = slots.iter().take(OFFERS).copied().collect();
    if d.offers.is_empty() {
        d.awaiting = Awaiting::Details;
        d.from = None;
        d.to = None;
        d.earliest = None;
        d.latest = None;
        return Step::Say(vec![format!(
            "Sorry, I can't find a free time for {} in the next two weeks. Another day or practitioner, perhaps? Or call the clinic and the team will help.",
            d.service
                .map_or_else(|| "that".to_owned(), |s| service_name(k, s))
        )]);
    }
    d.awaiting = Awaiting::Choice;
    let lead = if d.moving.is_some() {
        "I can move it to: "
    } else if d.urgent {
        "The earliest times I can offer are: "
    } else if widened {
        "Nothing is free at that time. The nearest times I have are: "
    } else {
        "I have: "
    };
    Step::Say(vec![format!("{lead}{}", offers_text(&d.offers, k, ctx.tz))])
}

/// The store booked it: the confirmation, built from what the store returned.
pub fn booked(
    state: &mut DialogueState,
    service: ServiceId,
    practitioner: PractitionerId,
    start: Timestamp,
    ctx: &DialogueContext<'_>,
) -> Vec<String> {
    let k = ctx.clinic;
    state.booking = None;
    state.misunderstood = 0;
    state.mentioned_service = None;
    state.mentioned_practitioner = None;
    let mut msg = format!(
        "You're booked: {} with {} on {}.",
        service_name(k, service),
        practitioner_name(k, practitioner),
        when_text(start, ctx.tz)
    );
    msg.push(' ');
    msg.push_str(&k.cancellation_policy());
    vec![msg]
}

/// The chosen time was taken meanwhile: search again (the server then calls [`offer`]).
pub fn taken(state: &mut DialogueState, ctx: &DialogueContext<'_>) -> (String, Option<SlotAsk>) {
    let k = ctx.clinic;
    let d = state.booking.get_or_insert_with(BookingDraft::default);
    d.chosen = None;
    d.offers.clear();
    (
        "Sorry, that time has just been taken.".to_owned(),
        slot_ask(d, k, ctx),
    )
}
