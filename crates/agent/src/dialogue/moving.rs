//! The last step of a move (reschedule): "Move your … to …? (yes/no)". Nothing is moved
//! before a yes; a no keeps the appointment and asks for another time.

use super::booking::forget_time;
use super::{BookingDraft, DialogueContext, Held, MoveAsk, Offer, Step, appointment_text};
use super::{practitioner_name, when_text};
use crate::reply::ClinicKnowledge;
use crate::understand::{Intent, Understanding};
use jiff::tz::TimeZone;

/// `Move your Sports massage with Mei Chen on Wed 25 Nov at 12:00 to Fri 27 Nov at 14:00 with
/// Mei Chen? (yes/no)`
pub(super) fn move_question(k: &ClinicKnowledge, h: &Held, to: &Offer, tz: &TimeZone) -> String {
    format!(
        "Move your {} to {} with {}? (yes/no)",
        appointment_text(k, h, tz),
        when_text(to.start, tz),
        practitioner_name(k, to.practitioner)
    )
}

/// The answer to "Move your … to …? (yes/no)". `None`: not a yes, a no or another pick (a new
/// time preference, say), so the draft takes the message as usual.
pub(super) fn confirm_move(
    d: &mut BookingDraft,
    u: &Understanding,
    ctx: &DialogueContext<'_>,
) -> Option<Step> {
    let (h, chosen) = (d.moving?, d.chosen?);
    let picked = match u.intent {
        Intent::ChooseOption(n) => d.offers.get(usize::from(n).saturating_sub(1)).copied(),
        _ => None,
    };
    let yes = matches!(u.intent, Intent::Affirm | Intent::Reschedule) || picked == Some(chosen);
    if yes && u.entities.when.is_none() {
        return Some(Step::Reschedule(MoveAsk {
            appointment: h,
            offer: chosen,
        }));
    }
    if u.intent == Intent::Deny {
        forget_time(d);
        return Some(Step::Say(vec![format!(
            "No problem, I haven't changed anything: your {} stands. When else would suit you?",
            appointment_text(ctx.clinic, &h, ctx.tz)
        )]));
    }
    let other = picked?;
    d.chosen = Some(other);
    Some(Step::Say(vec![move_question(
        ctx.clinic, &h, &other, ctx.tz,
    )]))
}
