//! The waitlist. "Put me on the waitlist" (or "let me know if something opens up") joins it
//! for a service, with a practitioner or anyone, for the days the patient gave (the next two
//! weeks by default). The service, practitioner and days already said in a booking are used,
//! never asked again. Only a caller the channel verified can join: the offer is sent to their
//! phone.
//!
//! When a time comes free, the server offers it to the waitlisted patients in the order they
//! joined ([`waitlist_offer_text`]); a "yes" while the offer is open asks the server to take
//! it ([`Step::TakeHold`]). The first yes wins; the others are told it has gone
//! ([`hold_gone`]) and stay on the waitlist.

use super::{
    BookingDraft, DialogueContext, DialogueState, MONTHS, SEARCH_DAYS, Step, WaitAsk,
    practitioner_name, service_name, when_text,
};
use crate::reply::{ClinicKnowledge, contact_hint};
use crate::understand::{Intent, Understanding};
use frontdesk_domain::{PractitionerId, ServiceId};
use jiff::{Timestamp, civil::Date, tz::TimeZone};

/// The message that offers a freed time to the waitlist. Like the reminder, it never
/// suggests an opt-out keyword.
pub fn waitlist_offer_text(
    k: &ClinicKnowledge,
    service: ServiceId,
    practitioner: PractitionerId,
    start: Timestamp,
    tz: &TimeZone,
    minutes: i64,
) -> String {
    format!(
        "Good news from {}: a {} with {} on {} has come free. Reply YES within {minutes} minutes to take it; \
         the first to reply gets it.",
        k.profile.name,
        service_name(k, service),
        practitioner_name(k, practitioner),
        when_text(start, tz)
    )
}

/// "Yes" (or "no") to a freed time offered from the waitlist. `None`: no open offer, another
/// dialogue under way, or a message about something else.
pub(super) fn reply_to_offer(
    state: &mut DialogueState,
    u: &Understanding,
    ctx: &DialogueContext<'_>,
) -> Option<Step> {
    let offered = ctx.offered?;
    if !ctx.identity_verified
        || state.booking.is_some()
        || state.change.is_some()
        || state.verify.is_some()
    {
        return None;
    }
    match u.intent {
        Intent::Affirm | Intent::Book if u.entities.when.is_none() => {
            state.misunderstood = 0;
            Some(Step::TakeHold(offered))
        }
        Intent::Deny => {
            state.misunderstood = 0;
            Some(Step::Say(vec![
                "No problem, I'll leave that one. You're still on the waitlist, and I'll message you if another time \
                 comes free."
                    .to_owned(),
            ]))
        }
        _ => None,
    }
}

/// Starts joining the waitlist. `None` unless the patient asked for it.
pub(super) fn advance(
    state: &mut DialogueState,
    u: &Understanding,
    text: &str,
    ctx: &DialogueContext<'_>,
) -> Option<Step> {
    if u.intent != Intent::Waitlist {
        return None;
    }
    state.misunderstood = 0;
    if !ctx.identity_verified {
        return Some(Step::Say(vec![format!(
            "I can put you on the waitlist once I can reach you on your phone: please text or WhatsApp us from \
             your mobile and ask again; otherwise {}.",
            contact_hint(&ctx.clinic.profile)
        )]));
    }
    // What the patient already said in a booking (or earlier in the chat) carries over.
    let d = state.booking.take().unwrap_or_else(|| BookingDraft {
        service: state.mentioned_service,
        practitioner: state.mentioned_practitioner,
        ..BookingDraft::default()
    });
    let mut d = BookingDraft {
        waitlist: true,
        offers: vec![],
        chosen: None,
        moving: None,
        ..d
    };
    super::collect::merge(&mut d, u, text, ctx);
    if ctx.clinic.services.len() == 1 && d.service.is_none() {
        d.service = ctx.clinic.services.first().map(|s| s.id);
    }
    let step = join_step(&mut d, ctx);
    state.booking = Some(d);
    Some(step)
}

/// The next step of a waitlist draft: ask for the service, or join.
pub(super) fn join_step(d: &mut BookingDraft, ctx: &DialogueContext<'_>) -> Step {
    let k = ctx.clinic;
    let Some(service) = d.service else {
        let names: Vec<&str> = k.services.iter().map(|s| s.name.as_str()).collect();
        d.awaiting = super::Awaiting::Details;
        return Step::Say(vec![format!(
            "Happy to put you on the waitlist. Which service is it for ({})?",
            names.join(", ")
        )]);
    };
    let today = ctx.now.to_zoned(ctx.tz.clone()).date();
    let from = d.from.unwrap_or(today).max(today);
    let to =
        d.to.unwrap_or_else(|| {
            if d.from.is_some() {
                from
            } else {
                from.checked_add(jiff::Span::new().days(SEARCH_DAYS - 1))
                    .unwrap_or(from)
            }
        })
        .max(from);
    Step::JoinWaitlist(WaitAsk {
        service,
        practitioner: d.practitioner,
        from,
        to,
        earliest: d.earliest,
        latest: d.latest,
    })
}

fn date_text(d: Date) -> String {
    let day = frontdesk_domain::clinic::DAY_NAMES
        [usize::try_from(d.weekday().to_monday_zero_offset()).unwrap_or(0)];
    let month = MONTHS[usize::try_from(d.month() - 1).unwrap_or(0)];
    format!("{day} {} {month}", d.day())
}

/// The store put the caller on the waitlist.
pub fn waitlisted(
    state: &mut DialogueState,
    ask: &WaitAsk,
    ctx: &DialogueContext<'_>,
) -> Vec<String> {
    let k = ctx.clinic;
    state.booking = None;
    state.misunderstood = 0;
    let who = ask
        .practitioner
        .map_or_else(|| "any of our team".to_owned(), |p| practitioner_name(k, p));
    let days = if ask.from == ask.to {
        format!("on {}", date_text(ask.from))
    } else {
        format!("between {} and {}", date_text(ask.from), date_text(ask.to))
    };
    let hours = match (ask.earliest, ask.latest) {
        (Some(e), Some(l)) if e != l => {
            format!(
                ", {:02}:{:02}-{:02}:{:02}",
                e.hour(),
                e.minute(),
                l.hour(),
                l.minute()
            )
        }
        (Some(e), _) => format!(", at {:02}:{:02}", e.hour(), e.minute()),
        _ => String::new(),
    };
    vec![format!(
        "You're on the waitlist for {} with {who} {days}{hours}. If a time comes free I'll message you here, \
         and the first to reply YES gets it.",
        service_name(k, ask.service)
    )]
}

/// The offered time went to someone else first, or the offer ended: nothing was booked.
pub fn hold_gone(state: &mut DialogueState) -> Vec<String> {
    state.misunderstood = 0;
    vec![
        "Sorry, that time has already gone (someone else replied first, or the offer ended), so nothing was \
         booked. You're still on the waitlist, and I'll message you if another time comes free."
            .to_owned(),
    ]
}
