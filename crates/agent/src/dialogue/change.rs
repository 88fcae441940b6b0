//! The caller's existing appointments: "when is my appointment?", cancel, and choosing the
//! appointment to move (the new time is then found by the booking draft, see
//! [`BookingDraft::moving`]).
//!
//! Only a caller whose identity the channel verified gets here: on SMS and WhatsApp the
//! conversation's patient was found by the sender's phone, so "my appointments" are that
//! patient's. On web chat (anonymous) nothing is looked up, shown or changed; the visitor is
//! told how to reach us from their own phone instead.
//!
//! The server looks the appointments up ([`Step::FindAppointments`] → [`found`]) and does
//! every change; the words "cancelled" and "moved" come only from its answer.

use super::booking::slot_ask;
use super::hints::{Hints, ordinal};
use super::{
    Awaiting, BookingDraft, DialogueContext, DialogueState, Held, Step, appointment_text, when_text,
};
use crate::reply::contact_hint;
use crate::understand::{Intent, Understanding};
use jiff::tz::TimeZone;
use serde::{Deserialize, Serialize};

/// What the patient wants done with an appointment they already have.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub enum ChangeKind {
    #[default]
    Check,
    Cancel,
    Reschedule,
}

impl ChangeKind {
    fn verb(self) -> &'static str {
        match self {
            ChangeKind::Check => "see",
            ChangeKind::Cancel => "cancel",
            ChangeKind::Reschedule => "move",
        }
    }
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub enum ChangeAwaiting {
    /// The server is looking the appointments up (within the same turn).
    #[default]
    Lookup,
    /// Several appointments were listed: which one?
    Pick,
    /// "Cancel your …? (yes/no)"
    Confirm,
}

/// A check, cancellation or move in progress.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChangeDraft {
    pub kind: ChangeKind,
    /// The caller's upcoming appointments as last listed, soonest first.
    #[serde(default)]
    pub held: Vec<Held>,
    /// The appointment to cancel, awaiting a yes or no.
    #[serde(default)]
    pub chosen: Option<Held>,
    #[serde(default)]
    pub awaiting: ChangeAwaiting,
    #[serde(default)]
    pub hints: Hints,
    /// For a move: the time in the hints is the new time (it picked no appointment).
    #[serde(default)]
    pub new_time: bool,
}

fn kind_of(intent: Intent) -> Option<ChangeKind> {
    match intent {
        Intent::CheckAppointment => Some(ChangeKind::Check),
        Intent::Cancel => Some(ChangeKind::Cancel),
        Intent::Reschedule => Some(ChangeKind::Reschedule),
        _ => None,
    }
}

/// Messages that are answered normally without ending a dialogue.
pub(super) fn is_aside(intent: Intent) -> bool {
    is_question(intent) || matches!(intent, Intent::Greeting | Intent::Thanks)
}

/// A question about the clinic (or a request for a person), answered beside any dialogue.
pub(super) fn is_question(intent: Intent) -> bool {
    matches!(
        intent,
        Intent::OpeningHours
            | Intent::Address
            | Intent::Prices
            | Intent::Services
            | Intent::PractitionerInfo
            | Intent::Faq
            | Intent::Human
    )
}

/// Why nothing is shown or changed on an anonymous channel, and where to go instead.
pub fn verification_needed(ctx: &DialogueContext<'_>) -> String {
    format!(
        "For your privacy, I can only look up, move or cancel an appointment once I know it's you. Please \
         text or WhatsApp us from the mobile number on your appointment; otherwise {}. I can still help you \
         book a new appointment here.",
        contact_hint(&ctx.clinic.profile)
    )
}

/// Starts or continues a change. `None`: not about an existing appointment (or a question
/// asked on the way, answered by the caller while the change waits).
pub(super) fn advance(
    state: &mut DialogueState,
    u: &Understanding,
    text: &str,
    ctx: &DialogueContext<'_>,
) -> Option<Step> {
    match state.change.as_ref().map(|c| c.awaiting) {
        Some(ChangeAwaiting::Pick | ChangeAwaiting::Confirm) => {
            if let Some(step) = continue_change(state, u, text, ctx) {
                return Some(step);
            }
        }
        // A lookup is answered within its turn; one left over from a failed turn is dropped.
        Some(ChangeAwaiting::Lookup) => state.change = None,
        None => {}
    }
    let kind = kind_of(u.intent)?;
    if let Some(d) = &state.booking {
        // Inside a booking, "a different time" or "Thursday instead" refines that booking,
        // and a move under way takes "move it to …" itself.
        let refines = kind == ChangeKind::Reschedule
            && (d.moving.is_some() || u.entities.when.is_some() || d.awaiting == Awaiting::Choice);
        if refines {
            return None;
        }
    }
    let mut said = Vec::new();
    if kind != ChangeKind::Check
        && let Some(d) = state.booking.take()
        && d.moving.is_none()
    {
        said.push("Okay, I've stopped the new booking; nothing was booked.".to_owned());
    }
    state.misunderstood = 0;
    state.change = None;
    if !ctx.identity_verified {
        let step = if ctx.can_verify {
            super::verify::start(state, kind, u)
        } else {
            Step::Say(vec![verification_needed(ctx)])
        };
        return Some(match step {
            Step::Say(words) => Step::Say(said.into_iter().chain(words).collect()),
            other => other,
        });
    }
    state.change = Some(ChangeDraft {
        kind,
        hints: Hints::of(u),
        ..ChangeDraft::default()
    });
    Some(Step::FindAppointments)
}

/// The appointment a reply to a numbered list picks.
fn pick(c: &ChangeDraft, u: &Understanding, text: &str, tz: &TimeZone) -> Option<Held> {
    let n = match u.intent {
        Intent::ChooseOption(n) => Some(usize::from(n)),
        _ => ordinal(text),
    };
    match n {
        Some(n) => c.held.get(n.checked_sub(1)?).copied(),
        None => Hints::of(u).select(&c.held, tz),
    }
}

fn continue_change(
    state: &mut DialogueState,
    u: &Understanding,
    text: &str,
    ctx: &DialogueContext<'_>,
) -> Option<Step> {
    let c = state.change.as_mut()?;
    let (k, tz) = (ctx.clinic, ctx.tz);
    let picked = pick(c, u, text, tz);
    match (c.awaiting, c.chosen) {
        (ChangeAwaiting::Confirm, Some(h)) => {
            let yes = u.intent == Intent::Affirm
                || (u.intent == Intent::Cancel && picked.is_none_or(|p| p == h));
            if yes {
                state.misunderstood = 0;
                return Some(Step::Cancel(h));
            }
            if u.intent == Intent::Deny {
                state.change = None;
                state.misunderstood = 0;
                return Some(Step::Say(vec![format!(
                    "Okay, nothing has changed: your {} stays as it is.",
                    appointment_text(k, &h, tz)
                )]));
            }
            if let Some(other) = picked.filter(|p| *p != h) {
                return Some(chose(state, other, ctx));
            }
        }
        _ => {
            if let Some(h) = picked {
                return Some(chose(state, h, ctx));
            }
            if u.intent == Intent::Deny {
                state.change = None;
                state.misunderstood = 0;
                return Some(Step::Say(vec![
                    "Okay, I've left your appointments as they are.".to_owned(),
                ]));
            }
        }
    }
    if is_aside(u.intent) {
        return None;
    }
    if u.intent == Intent::Book || kind_of(u.intent).is_some() {
        // Something else now: a new booking, or another look at the appointments.
        state.change = None;
        return None;
    }
    misunderstood(state, ctx)
}

fn misunderstood(state: &mut DialogueState, ctx: &DialogueContext<'_>) -> Option<Step> {
    let k = ctx.clinic;
    state.misunderstood += 1;
    if state.misunderstood >= 2 {
        state.change = None;
        state.misunderstood = 0;
        return Some(Step::Handoff(format!(
            "I'm sorry, I'm not getting this right. I've asked the {} team to help you with your appointment here.",
            k.profile.name
        )));
    }
    let c = state.change.as_ref()?;
    let again = match (c.awaiting, c.chosen) {
        (ChangeAwaiting::Confirm, Some(h)) => cancel_question(ctx, &h),
        _ => list_question(ctx, c),
    };
    Some(Step::Say(vec![format!(
        "Sorry, I didn't catch that. {again}"
    )]))
}

fn numbered(ctx: &DialogueContext<'_>, held: &[Held]) -> String {
    let items: Vec<String> = held
        .iter()
        .enumerate()
        .map(|(i, h)| format!("{}) {}", i + 1, appointment_text(ctx.clinic, h, ctx.tz)))
        .collect();
    items.join(", ")
}

fn list_question(ctx: &DialogueContext<'_>, c: &ChangeDraft) -> String {
    format!(
        "You have {} upcoming appointments: {}. Which one would you like to {}?",
        c.held.len(),
        numbered(ctx, &c.held),
        c.kind.verb()
    )
}

fn cancel_question(ctx: &DialogueContext<'_>, h: &Held) -> String {
    format!(
        "Cancel your {}? (yes/no) Our cancellation policy: {}",
        appointment_text(ctx.clinic, h, ctx.tz),
        ctx.clinic.cancellation_policy()
    )
}

/// What "when is my appointment?" is answered with.
fn check_text(ctx: &DialogueContext<'_>, held: &[Held]) -> String {
    match held {
        [] => "I can't see any upcoming appointments for you. If you'd like to book one, just tell me what for \
               and when."
            .to_owned(),
        [h] => format!(
            "Your next appointment: {}. If you need to move or cancel it, just say so.",
            appointment_text(ctx.clinic, h, ctx.tz)
        ),
        _ => format!(
            "You have {} upcoming appointments: {}. If you need to move or cancel one, just say so.",
            held.len(),
            numbered(ctx, held)
        ),
    }
}

/// The server found the verified caller's upcoming appointments for the change under way.
pub fn found(state: &mut DialogueState, held: &[Held], ctx: &DialogueContext<'_>) -> Step {
    let Some(c) = state.change.as_mut() else {
        return Step::Say(vec![]);
    };
    let mut held = held.to_vec();
    held.sort_by_key(|h| h.start);
    if c.kind == ChangeKind::Check {
        state.change = None;
        return Step::Say(vec![check_text(ctx, &held)]);
    }
    if held.is_empty() {
        let verb = c.kind.verb();
        state.change = None;
        return Step::Say(vec![format!(
            "I can't find any upcoming appointments for you, so there's nothing to {verb}. If you'd like to book \
             one, just tell me what for and when."
        )]);
    }
    c.held.clone_from(&held);
    let hints = c.hints;
    // A time that fits one of the appointments picks it; otherwise (for a move) it is the
    // new time: "move my Friday appointment" vs "move my appointment to Friday".
    let (picked, when_picked) = if let Some(h) = hints.select(&held, ctx.tz) {
        (Some(h), hints.has_when())
    } else if let Some(h) = hints.without_when().select(&held, ctx.tz) {
        (Some(h), false)
    } else {
        (held.first().copied().filter(|_| held.len() == 1), false)
    };
    c.new_time = hints.has_when() && !when_picked;
    match picked {
        Some(h) => chose(state, h, ctx),
        None => {
            c.awaiting = ChangeAwaiting::Pick;
            Step::Say(vec![list_question(ctx, c)])
        }
    }
}

/// The appointment is known: confirm a cancellation, or start finding the new time of a move.
pub(super) fn chose(state: &mut DialogueState, h: Held, ctx: &DialogueContext<'_>) -> Step {
    state.misunderstood = 0;
    let Some(c) = state.change.as_mut() else {
        return Step::Say(vec![]);
    };
    if c.kind != ChangeKind::Reschedule {
        c.chosen = Some(h);
        c.awaiting = ChangeAwaiting::Confirm;
        return Step::Say(vec![cancel_question(ctx, &h)]);
    }
    let (hints, new_time) = (c.hints, c.new_time);
    state.change = None;
    let mut d = BookingDraft {
        service: Some(h.service),
        practitioner: (!hints.any_practitioner)
            .then(|| hints.practitioner.unwrap_or(h.practitioner)),
        any_practitioner: hints.any_practitioner,
        moving: Some(h),
        ..BookingDraft::default()
    };
    if new_time {
        d.from = hints.date;
        d.to = hints.until.or(hints.date);
        d.earliest = hints.earliest;
        d.latest = hints.latest;
    }
    let ask = (d.from.is_some() || d.earliest.is_some())
        .then(|| slot_ask(&d, ctx.clinic, ctx))
        .flatten();
    state.booking = Some(d);
    match ask {
        Some(ask) => Step::FindSlots(ask),
        None => Step::Say(vec![format!(
            "When would you like to move your {} to?",
            appointment_text(ctx.clinic, &h, ctx.tz)
        )]),
    }
}

/// The store cancelled it: the confirmation, built from what the store returned.
pub fn cancelled(state: &mut DialogueState, h: &Held, ctx: &DialogueContext<'_>) -> Vec<String> {
    state.change = None;
    state.misunderstood = 0;
    vec![format!(
        "Done: your {} is cancelled. If you'd like to book a new time, just ask.",
        appointment_text(ctx.clinic, h, ctx.tz)
    )]
}

/// The store moved it: the confirmation, built from the appointment the store returned.
pub fn rescheduled(
    state: &mut DialogueState,
    from: &Held,
    to: &Held,
    ctx: &DialogueContext<'_>,
) -> Vec<String> {
    state.booking = None;
    state.change = None;
    state.misunderstood = 0;
    state.mentioned_service = None;
    state.mentioned_practitioner = None;
    let k = ctx.clinic;
    vec![format!(
        "Done: your {} is moved to {} with {} (it was {}).",
        super::service_name(k, to.service),
        when_text(to.start, ctx.tz),
        super::practitioner_name(k, to.practitioner),
        when_text(from.start, ctx.tz)
    )]
}

/// The appointment to change is no longer the caller's live appointment (cancelled or moved
/// meanwhile, e.g. by the clinic): nothing was changed.
pub fn not_changed(state: &mut DialogueState, ctx: &DialogueContext<'_>) -> Vec<String> {
    state.booking = None;
    state.change = None;
    state.misunderstood = 0;
    vec![format!(
        "Sorry, that appointment has changed since we spoke, so I haven't changed anything. Ask me \"when is \
         my appointment?\" to see where things stand, or {}.",
        contact_hint(&ctx.clinic.profile)
    )]
}
