//! Replies to an appointment reminder. The server tells the dialogue which appointment the
//! conversation was last reminded of ([`DialogueContext::reminded`]), and only while it is
//! still the verified caller's live, upcoming appointment. With no other dialogue under way:
//!
//! - "yes" / "confirm" asks the server to confirm it ([`Step::Confirm`] → [`confirmed`]);
//! - "I need to cancel" goes straight to "Cancel your …? (yes/no)" for that appointment;
//! - "can I move it?" (or "move it to Thursday") starts the move of that appointment;
//! - "no" / "I can't make it" asks whether to cancel or move it; nothing changes on a "no".
//!
//! Words that name a different appointment ("cancel my Friday one") are left to the usual
//! look-up of the caller's appointments.

use super::change::{ChangeDraft, ChangeKind, chose};
use super::hints::Hints;
use super::{DialogueContext, DialogueState, Held, Step, appointment_text};
use crate::reply::ClinicKnowledge;
use crate::understand::{Intent, Understanding};
use jiff::tz::TimeZone;

/// The reminder itself: `Reminder from Harbour Physio: Sports massage with Mei Chen on Wed 25
/// Nov at 12:00. Reply YES to confirm, …`. It never suggests an opt-out keyword (CANCEL and
/// STOP unsubscribe on SMS), so a patient who wants to cancel says so in their own words.
pub fn reminder_text(k: &ClinicKnowledge, h: &Held, tz: &TimeZone) -> String {
    format!(
        "Reminder from {}: {}. Reply YES to confirm, or tell us if you need to cancel or change it.",
        k.profile.name,
        appointment_text(k, h, tz)
    )
}

/// Starts a reply to the reminder. `None`: no reminder is pending, another dialogue is under
/// way, or the message is about something else.
pub(super) fn advance(
    state: &mut DialogueState,
    u: &Understanding,
    ctx: &DialogueContext<'_>,
) -> Option<Step> {
    let h = ctx.reminded?;
    if !ctx.identity_verified
        || state.booking.is_some()
        || state.change.is_some()
        || state.verify.is_some()
    {
        return None;
    }
    let hints = Hints::of(u);
    // "Cancel my Friday one" when the reminder was for Wednesday: the usual look-up decides.
    let names_other = hints.without_when().select(&[h], ctx.tz).is_none()
        && (hints.service.is_some() || hints.practitioner.is_some());
    match u.intent {
        Intent::Affirm if u.entities.when.is_none() => {
            state.misunderstood = 0;
            Some(Step::Confirm(h))
        }
        Intent::Cancel
            if !names_other && (!hints.has_when() || hints.select(&[h], ctx.tz).is_some()) =>
        {
            state.change = Some(ChangeDraft {
                kind: ChangeKind::Cancel,
                held: vec![h],
                hints,
                ..ChangeDraft::default()
            });
            Some(chose(state, h, ctx))
        }
        Intent::Reschedule if !names_other => {
            // A time that is not the reminded appointment's own is the new time.
            let new_time = hints.has_when() && hints.select(&[h], ctx.tz).is_none();
            state.change = Some(ChangeDraft {
                kind: ChangeKind::Reschedule,
                held: vec![h],
                hints,
                new_time,
                ..ChangeDraft::default()
            });
            Some(chose(state, h, ctx))
        }
        Intent::Deny => {
            state.misunderstood = 0;
            Some(Step::Say(vec![format!(
                "No problem. Would you like to cancel your {}, or move it to another time? Nothing has changed \
                 yet.",
                appointment_text(ctx.clinic, &h, ctx.tz)
            )]))
        }
        _ => None,
    }
}

/// The store confirmed the appointment: the thanks, built from what the store returned.
pub fn confirmed(state: &mut DialogueState, h: &Held, ctx: &DialogueContext<'_>) -> Vec<String> {
    state.misunderstood = 0;
    vec![format!(
        "Thank you, your {} is confirmed. See you then! If anything changes, just message us here.",
        appointment_text(ctx.clinic, h, ctx.tz)
    )]
}
