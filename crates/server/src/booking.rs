//! Runs the dialogue's requests against the diary: slot searches across the asked
//! practitioners (widened to two weeks when nothing fits the patient's words), bookings, and
//! the caller's own appointments (look-up, cancel, move; see [`changes`]). Every reply that
//! claims a booking, cancellation or move is built by the agent from the appointment the
//! store returned; a time taken meanwhile is re-offered, never claimed.

mod changes;
pub mod diary;
mod waitlist;

pub use changes::reminded;
pub use waitlist::offered;

use diary::{Diary, DiaryError};
use frontdesk_agent::dialogue::{self, DialogueContext, Offer, SEARCH_DAYS, SlotAsk, Step};
use frontdesk_agent::{ClinicKnowledge, DialogueState};
use frontdesk_domain::{AppointmentId, ConversationId, E164Phone, PatientId};
use frontdesk_store::{Actor, CodeCheck, Store, StoreError, TenantScope};

/// Who is speaking in this turn, and what the channel proves about them.
#[derive(Debug, Clone, Copy)]
pub struct Caller {
    pub conversation: ConversationId,
    /// The conversation's patient.
    pub patient: PatientId,
    /// Web chat: a phone number is asked for when booking.
    pub needs_phone: bool,
    /// Whose appointments the caller may see and change. SMS, WhatsApp, voice: the
    /// conversation's patient, found by the sender's phone. Web chat: the patient whose phone
    /// the visitor proved with a texted code (while that proof lasts), otherwise nobody.
    pub verified: Option<PatientId>,
    /// Web chat with an SMS provider connected: the visitor can be sent a code.
    pub can_verify: bool,
    /// The appointment this conversation was last reminded of, if it is still the verified
    /// caller's live, upcoming appointment (see [`changes::reminded`]).
    pub reminded: Option<frontdesk_agent::Held>,
    /// A freed time offered to this conversation from the waitlist (see [`waitlist::offered`]).
    pub offered: Option<frontdesk_agent::dialogue::Offered>,
}

/// How long a texted code can be used, and how long the proof lasts once it is.
pub const CODE_TTL: jiff::SignedDuration = jiff::SignedDuration::from_mins(10);
pub const VERIFIED_FOR: jiff::SignedDuration = jiff::SignedDuration::from_mins(30);

/// Shortest notice for a booking made in conversation.
pub(crate) const MIN_NOTICE: jiff::SignedDuration = jiff::SignedDuration::from_hours(1);
/// Guards the step loop (a search, a taken slot, a search again).
const MAX_STEPS: usize = 4;

/// What the diary work of one turn produced.
#[derive(Debug, Default)]
pub struct Outcome {
    pub messages: Vec<String>,
    pub booked: Option<AppointmentId>,
    pub handoff: bool,
}

/// Free times for `ask` (soonest first, spread; see [`spread`]) from the clinic's diary
/// (built-in or Cal.com), also used by the language model's `find_slots` tool.
pub(crate) async fn search(
    store: &dyn Store,
    scope: TenantScope,
    diary: &Diary,
    knowledge: &ClinicKnowledge,
    now: jiff::Timestamp,
    ask: &SlotAsk,
    widened: bool,
) -> Result<Vec<Offer>, DiaryError> {
    let (from, to) = if widened {
        (
            ask.from,
            ask.from
                .checked_add(jiff::Span::new().days(SEARCH_DAYS - 1))
                .unwrap_or(ask.to),
        )
    } else {
        (ask.from, ask.to)
    };
    let exact = ask.earliest.is_some() && ask.earliest == ask.latest;
    let day_start = if widened { None } else { ask.earliest };
    // An exact time ("at 3") looks from that time on; a window ("afternoon") ends with it.
    let day_end = if widened || exact { None } else { ask.latest };
    let mut found = Vec::new();
    for &practitioner in &ask.practitioners {
        let starts = diary::free_times(
            store,
            scope,
            diary,
            knowledge,
            ask,
            practitioner,
            now,
            (from, to),
            (day_start, day_end),
        )
        .await?;
        found.extend(starts.into_iter().map(|start| Offer {
            practitioner,
            start,
        }));
    }
    Ok(spread(found))
}

/// Words for a clinic whose Cal.com cannot be reached: the team takes over.
pub(crate) const CALENDAR_UNAVAILABLE: &str =
    "Sorry, I can't reach the clinic's calendar just now. I've asked the team to get back to you.";

/// Offers a patient can tell apart: soonest first, and for one practitioner at least an hour
/// between offered starts (rather than 10:00, 10:15 and 10:30).
fn spread(mut found: Vec<Offer>) -> Vec<Offer> {
    const GAP: jiff::SignedDuration = jiff::SignedDuration::from_hours(1);
    found.sort_by_key(|o| o.start);
    let mut chosen: Vec<Offer> = Vec::new();
    for o in found {
        let too_close = chosen.iter().any(|c| {
            c.practitioner == o.practitioner && o.start.duration_since(c.start).abs() < GAP
        }) || chosen.iter().any(|c| c.start == o.start);
        if !too_close {
            chosen.push(o);
        }
        if chosen.len() == dialogue::OFFERS {
            break;
        }
    }
    chosen
}

/// Runs `first` and whatever it leads to; returns the words and the booking (or the new
/// appointment of a move), if any.
pub async fn run(
    store: &dyn Store,
    scope: TenantScope,
    caller: &Caller,
    knowledge: &ClinicKnowledge,
    state: &mut DialogueState,
    now: jiff::Timestamp,
    first: Step,
) -> Result<Outcome, StoreError> {
    let (conversation, patient) = (caller.conversation, caller.patient);
    // A code confirmed in this turn verifies the caller for the steps after it.
    let mut caller = *caller;
    let tz = knowledge.profile.time_zone()?;
    let mut ctx = DialogueContext {
        clinic: knowledge,
        tz: &tz,
        now,
        needs_phone: caller.needs_phone,
        identity_verified: caller.verified.is_some(),
        can_verify: caller.can_verify,
        reminded: caller.reminded,
        offered: caller.offered,
    };
    let mut out = Outcome::default();
    // Read when a step needs the diary (most turns never do).
    let mut diary_cell: Option<Diary> = None;
    let mut next = Some(first);
    for _ in 0..MAX_STEPS {
        let Some(step) = next.take() else { break };
        match step {
            Step::Say(words) => out.messages.extend(words),
            Step::Handoff(words) => {
                out.messages.push(words);
                out.handoff = true;
            }
            Step::FindSlots(ask) => {
                let diary = Diary::lazy(&mut diary_cell, store, scope).await?;
                let found = match search(store, scope, diary, knowledge, now, &ask, false).await {
                    Ok(slots)
                        if slots.is_empty() && (ask.earliest.is_some() || ask.from == ask.to) =>
                    {
                        search(store, scope, diary, knowledge, now, &ask, true)
                            .await
                            .map(|s| (s, true))
                    }
                    other => other.map(|s| (s, false)),
                };
                match found {
                    Ok((slots, widened)) => {
                        next = Some(dialogue::offer(state, &slots, widened, &ctx));
                    }
                    Err(e) => unavailable(e, &mut out)?,
                }
            }
            Step::Book(b) => {
                let phone = b.phone.as_deref().and_then(|p| E164Phone::parse(p).ok());
                store
                    .update_patient_contact(scope, patient, Some(&b.name), phone.as_ref())
                    .await?;
                let diary = Diary::lazy(&mut diary_cell, store, scope).await?;
                let new = diary::Booking {
                    patient,
                    practitioner: b.offer.practitioner,
                    service: b.service,
                    start: b.offer.start,
                    // A retried turn books once.
                    key: format!(
                        "{conversation}:{}:{}",
                        b.offer.practitioner,
                        b.offer.start.as_microsecond()
                    ),
                    actor: Actor::Agent,
                };
                match diary::book(store, scope, diary, knowledge, &new).await {
                    Ok(appt) => booked(&appt, state, &ctx, &mut out),
                    // Taken meanwhile, or no longer bookable (e.g. the notice has passed).
                    Err(DiaryError::Taken) => {
                        let (sorry, again) = dialogue::taken(state, &ctx);
                        out.messages.push(sorry);
                        next = again.map(Step::FindSlots);
                    }
                    Err(e) => unavailable(e, &mut out)?,
                }
            }
            Step::FindAppointments => {
                next = changes::find(store, scope, &caller, state, &ctx, &mut out).await?;
            }
            Step::Cancel(held) => {
                let diary = Diary::lazy(&mut diary_cell, store, scope).await?;
                changes::cancel(store, scope, diary, &caller, state, &ctx, &held, &mut out).await?;
            }
            Step::Confirm(held) => {
                changes::confirm(store, scope, &caller, state, &ctx, &held, &mut out).await?;
            }
            Step::JoinWaitlist(ask) => {
                waitlist::join(store, scope, &caller, state, &ctx, &ask, &mut out).await?;
            }
            Step::TakeHold(offer) => {
                let diary = Diary::lazy(&mut diary_cell, store, scope).await?;
                waitlist::take(store, scope, diary, &caller, state, &ctx, &offer, &mut out).await?;
            }
            Step::SendCode(phone) => {
                let sent = if caller.can_verify {
                    store
                        .send_verification_code(
                            scope,
                            conversation,
                            &phone,
                            CODE_TTL,
                            &knowledge.profile.name,
                        )
                        .await
                } else {
                    Err(StoreError::NotFound)
                };
                match sent {
                    Ok(()) => out.messages.extend(dialogue::code_sent(state)),
                    // Not web chat, no SMS provider, or too many codes: the plain way.
                    Err(
                        StoreError::Invalid(_) | StoreError::NotFound | StoreError::Conflict(_),
                    ) => {
                        out.messages.extend(dialogue::code_not_sent(state, &ctx));
                    }
                    Err(e) => return Err(e),
                }
            }
            Step::CheckCode(code) => {
                match store
                    .confirm_verification_code(scope, conversation, code.as_str(), VERIFIED_FOR)
                    .await?
                {
                    CodeCheck::Verified(owner) => {
                        caller.verified = Some(owner);
                        ctx.identity_verified = true;
                        next = Some(dialogue::verified(state));
                    }
                    CodeCheck::Wrong { .. } => {
                        out.messages
                            .extend(dialogue::code_refused(state, true, &ctx));
                    }
                    CodeCheck::ExpiredOrLocked => {
                        out.messages
                            .extend(dialogue::code_refused(state, false, &ctx));
                    }
                }
            }
            Step::Reschedule(ask) => {
                let diary = Diary::lazy(&mut diary_cell, store, scope).await?;
                next =
                    changes::reschedule(store, scope, diary, &caller, state, &ctx, &ask, &mut out)
                        .await?;
            }
        }
    }
    Ok(out)
}

/// Tells the patient about the booking the diary answered.
fn booked(
    appt: &frontdesk_store::Appointment,
    state: &mut DialogueState,
    ctx: &DialogueContext<'_>,
    out: &mut Outcome,
) {
    out.messages.extend(dialogue::booked(
        state,
        appt.service_id,
        appt.practitioner_id,
        appt.starts_at,
        ctx,
    ));
    out.booked = Some(appt.id);
}

/// A diary failure that is not a taken time: a store failure fails the turn as before; a
/// Cal.com that cannot be used hands the conversation to the team, claiming nothing.
pub(crate) fn unavailable(e: DiaryError, out: &mut Outcome) -> Result<(), StoreError> {
    match e {
        DiaryError::Store(e) => Err(e),
        DiaryError::Taken | DiaryError::Unavailable => {
            out.messages.push(CALENDAR_UNAVAILABLE.to_owned());
            out.handoff = true;
            Ok(())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn offers_are_spread_an_hour_apart_per_practitioner() {
        let (a, b) = (
            frontdesk_domain::PractitionerId::new(),
            frontdesk_domain::PractitionerId::new(),
        );
        let t = |h: i64, m: i64| {
            jiff::Timestamp::from_second(1_800_000_000 + h * 3600 + m * 60)
                .unwrap_or(jiff::Timestamp::UNIX_EPOCH)
        };
        let found = vec![
            Offer {
                practitioner: a,
                start: t(0, 0),
            },
            Offer {
                practitioner: a,
                start: t(0, 15),
            },
            Offer {
                practitioner: b,
                start: t(0, 15),
            },
            Offer {
                practitioner: a,
                start: t(1, 0),
            },
            Offer {
                practitioner: a,
                start: t(1, 30),
            },
        ];
        let got: Vec<(bool, jiff::Timestamp)> = spread(found)
            .iter()
            .map(|o| (o.practitioner == a, o.start))
            .collect();
        assert_eq!(
            got,
            vec![(true, t(0, 0)), (false, t(0, 15)), (true, t(1, 0))]
        );
    }
}
