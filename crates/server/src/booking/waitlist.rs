//! The waitlist steps of a turn: join it, take a freed time offered from it. Both only for a
//! caller the channel verified (the offer goes to their phone), checked here again whatever
//! the dialogue state says.

use super::diary::{self, Diary, DiaryError};
use super::{Caller, Outcome};
use frontdesk_agent::DialogueState;
use frontdesk_agent::dialogue::{self, DialogueContext, Offered, WaitAsk};
use frontdesk_domain::SlotHoldId;
use frontdesk_store::{
    Actor, HoldStatus, NewWaitlistEntry, Store, StoreError, TakeOutcome, TenantScope,
};
use jiff::civil::Time;

/// How long after an offer closed a "yes" is still taken as an answer to it.
const ANSWERS_FOR: jiff::SignedDuration = jiff::SignedDuration::from_hours(12);

/// The freed time this conversation was offered, for the verified caller (the store checks
/// again when it is taken that it was offered to them and is still open). An offer someone
/// else took, or that ended, is still passed for [`ANSWERS_FOR`] after it closed, so a late
/// "yes" is told the time has gone rather than being ignored.
pub async fn offered(
    store: &dyn Store,
    scope: TenantScope,
    caller: &Caller,
    hold: Option<SlotHoldId>,
    now: jiff::Timestamp,
) -> Result<Option<Offered>, StoreError> {
    let (Some(id), Some(_)) = (hold, caller.verified) else {
        return Ok(None);
    };
    let h = match store.hold(scope, id).await {
        Ok(h) => h,
        Err(StoreError::NotFound) => return Ok(None),
        Err(e) => return Err(e),
    };
    let offered = matches!(
        h.status,
        HoldStatus::Offered | HoldStatus::Taken | HoldStatus::Expired
    );
    let recent = h.expires_at.is_some_and(|t| now < t + ANSWERS_FOR);
    Ok((offered && recent && h.starts_at > now).then_some(Offered {
        hold: h.id,
        service: h.service,
        practitioner: h.practitioner,
        start: h.starts_at,
    }))
}

/// Puts the verified caller on the waitlist for the asked days (clinic time).
pub(super) async fn join(
    store: &dyn Store,
    scope: TenantScope,
    caller: &Caller,
    state: &mut DialogueState,
    ctx: &DialogueContext<'_>,
    ask: &WaitAsk,
    out: &mut Outcome,
) -> Result<(), StoreError> {
    let Some(owner) = caller.verified else {
        state.booking = None;
        out.messages.push(dialogue::verification_needed(ctx));
        return Ok(());
    };
    let start = ask
        .from
        .to_datetime(ask.earliest.unwrap_or(Time::midnight()));
    let end = ask.to.to_datetime(ask.latest.unwrap_or(Time::MAX));
    let zoned = |dt: jiff::civil::DateTime| {
        dt.to_zoned(ctx.tz.clone())
            .map(|z| z.timestamp())
            .map_err(|_| StoreError::Corrupt("waitlist window"))
    };
    let entry = NewWaitlistEntry {
        patient: owner,
        service: ask.service,
        practitioner: ask.practitioner,
        window_start: zoned(start)?.max(ctx.now),
        window_end: zoned(end)?,
        actor: Actor::Agent,
    };
    match store.join_waitlist(scope, &entry).await {
        Ok(_) => out.messages.extend(dialogue::waitlisted(state, ask, ctx)),
        // The days asked have passed, or the service is gone: say so, claim nothing.
        Err(StoreError::Invalid(_) | StoreError::NotFound) => {
            state.booking = None;
            out.messages.push(
                "Sorry, I couldn't put you on the waitlist for that. Which days would suit you?"
                    .to_owned(),
            );
        }
        Err(e) => return Err(e),
    }
    Ok(())
}

/// Takes the offered time through its hold: booked for the first "yes", gone for the rest.
/// With Cal.com the time is booked there (and mirrored) like any other booking: Cal.com
/// decides whether it is still free.
#[allow(clippy::too_many_arguments)]
pub(super) async fn take(
    store: &dyn Store,
    scope: TenantScope,
    diary: &Diary,
    caller: &Caller,
    state: &mut DialogueState,
    ctx: &DialogueContext<'_>,
    offer: &Offered,
    out: &mut Outcome,
) -> Result<(), StoreError> {
    let Some(owner) = caller.verified else {
        out.messages.extend(dialogue::hold_gone(state));
        return Ok(());
    };
    if matches!(diary, Diary::Calcom(_) | Diary::Broken) {
        let b = diary::Booking {
            patient: owner,
            practitioner: offer.practitioner,
            service: offer.service,
            start: offer.start,
            key: format!("{}:hold:{}", caller.conversation, offer.hold),
            actor: Actor::Agent,
        };
        match diary::book(store, scope, diary, ctx.clinic, &b).await {
            Ok(appt) => super::booked(&appt, state, ctx, out),
            Err(DiaryError::Taken) => out.messages.extend(dialogue::hold_gone(state)),
            Err(e) => super::unavailable(e, out)?,
        }
        return Ok(());
    }
    match store
        .take_hold(scope, offer.hold, owner, Actor::Agent)
        .await?
    {
        TakeOutcome::Booked(appt) => super::booked(&appt, state, ctx, out),
        TakeOutcome::Gone | TakeOutcome::NotOffered => {
            out.messages.extend(dialogue::hold_gone(state));
        }
    }
    Ok(())
}
