//! The caller's own appointments: look them up, cancel one, move one. Each step checks again,
//! here on the server, that the channel verified the caller and that the appointment is that
//! caller's (same tenant by scope, same patient by id), whatever the dialogue state says:
//! the state is only a record of the conversation, not a permission.

use super::diary::{self, Diary, DiaryError};
use super::{Caller, Outcome};
use frontdesk_agent::dialogue::{self, DialogueContext, MoveAsk, Step};
use frontdesk_agent::{DialogueState, Held};
use frontdesk_store::{Actor, Appointment, AppointmentStatus, Store, StoreError, TenantScope};

fn held(a: &Appointment) -> Held {
    Held {
        id: a.id,
        service: a.service_id,
        practitioner: a.practitioner_id,
        start: a.starts_at,
    }
}

fn live(a: &Appointment) -> bool {
    matches!(
        a.status,
        AppointmentStatus::Booked | AppointmentStatus::Confirmed
    )
}

/// The appointment, if the verified caller owns it. Another patient's (or an unknown id)
/// answers `None`, like an appointment that does not exist.
async fn own(
    store: &dyn Store,
    scope: TenantScope,
    caller: &Caller,
    id: frontdesk_domain::AppointmentId,
) -> Result<Option<Appointment>, StoreError> {
    let Some(owner) = caller.verified else {
        return Ok(None);
    };
    match store.appointment(scope, id).await {
        Ok(a) if a.patient_id == owner => Ok(Some(a)),
        Ok(_) | Err(StoreError::NotFound) => Ok(None),
        Err(e) => Err(e),
    }
}

/// The caller's upcoming appointments, handed to the dialogue.
pub(super) async fn find(
    store: &dyn Store,
    scope: TenantScope,
    caller: &Caller,
    state: &mut DialogueState,
    ctx: &DialogueContext<'_>,
    out: &mut Outcome,
) -> Result<Option<Step>, StoreError> {
    let Some(owner) = caller.verified else {
        state.change = None;
        out.messages.push(dialogue::verification_needed(ctx));
        return Ok(None);
    };
    let list = store.patient_appointments(scope, owner, ctx.now).await?;
    // Only what can still be changed: live, and not yet started.
    let list: Vec<Held> = list
        .iter()
        .filter(|a| live(a) && a.starts_at > ctx.now)
        .map(held)
        .collect();
    Ok(Some(dialogue::found(state, &list, ctx)))
}

/// Cancels the caller's appointment. Cancelling is idempotent, so a retried turn (or an
/// appointment the clinic cancelled meanwhile) is answered truthfully as cancelled; one that
/// is no longer the caller's, or already past, is not touched.
#[allow(clippy::too_many_arguments)]
pub(super) async fn cancel(
    store: &dyn Store,
    scope: TenantScope,
    diary: &Diary,
    caller: &Caller,
    state: &mut DialogueState,
    ctx: &DialogueContext<'_>,
    target: &Held,
    out: &mut Outcome,
) -> Result<(), StoreError> {
    let cancellable = own(store, scope, caller, target.id)
        .await?
        .filter(|a| (live(a) || a.status == AppointmentStatus::Cancelled) && a.starts_at > ctx.now);
    if cancellable.is_none() {
        out.messages.extend(dialogue::not_changed(state, ctx));
        return Ok(());
    }
    match diary::cancel(store, scope, diary, target.id, Actor::Agent).await {
        Ok(a) if a.status == AppointmentStatus::Cancelled => {
            out.messages
                .extend(dialogue::cancelled(state, &held(&a), ctx));
        }
        Ok(_) | Err(DiaryError::Store(StoreError::NotFound) | DiaryError::Taken) => {
            out.messages.extend(dialogue::not_changed(state, ctx));
        }
        Err(e) => super::unavailable(e, out)?,
    }
    Ok(())
}

/// The appointment a conversation was reminded of, handed to the dialogue only while it is
/// still the verified caller's live, upcoming appointment.
pub async fn reminded(
    store: &dyn Store,
    scope: TenantScope,
    caller: &Caller,
    id: Option<frontdesk_domain::AppointmentId>,
    now: jiff::Timestamp,
) -> Result<Option<Held>, StoreError> {
    let Some(id) = id else { return Ok(None) };
    Ok(own(store, scope, caller, id)
        .await?
        .filter(|a| live(a) && a.starts_at > now)
        .as_ref()
        .map(held))
}

/// Confirms the caller's appointment (a "yes" to its reminder). Confirming twice is a no-op
/// answered as confirmed; one that is no longer the caller's live appointment is not touched.
pub(super) async fn confirm(
    store: &dyn Store,
    scope: TenantScope,
    caller: &Caller,
    state: &mut DialogueState,
    ctx: &DialogueContext<'_>,
    target: &Held,
    out: &mut Outcome,
) -> Result<(), StoreError> {
    let Some(owner) = caller.verified else {
        out.messages.extend(dialogue::not_changed(state, ctx));
        return Ok(());
    };
    if own(store, scope, caller, target.id).await?.is_none() {
        out.messages.extend(dialogue::not_changed(state, ctx));
        return Ok(());
    }
    match store
        .confirm_appointment(scope, target.id, Actor::Patient(owner))
        .await
    {
        Ok(a) => out
            .messages
            .extend(dialogue::confirmed(state, &held(&a), ctx)),
        // Cancelled, moved or started meanwhile.
        Err(StoreError::Conflict(_) | StoreError::Invalid(_) | StoreError::NotFound) => {
            out.messages.extend(dialogue::not_changed(state, ctx));
        }
        Err(e) => return Err(e),
    }
    Ok(())
}

/// Moves the caller's appointment in one store transaction. A time taken meanwhile (or no
/// longer bookable) is searched again; an appointment that is no longer the caller's live one
/// is left alone.
#[allow(clippy::too_many_arguments)]
pub(super) async fn reschedule(
    store: &dyn Store,
    scope: TenantScope,
    diary: &Diary,
    caller: &Caller,
    state: &mut DialogueState,
    ctx: &DialogueContext<'_>,
    ask: &MoveAsk,
    out: &mut Outcome,
) -> Result<Option<Step>, StoreError> {
    let id = ask.appointment.id;
    let Some(old) = own(store, scope, caller, id).await? else {
        out.messages.extend(dialogue::not_changed(state, ctx));
        return Ok(None);
    };
    // A retried turn moves once.
    let key = format!(
        "{}:move:{id}:{}:{}",
        caller.conversation,
        ask.offer.practitioner,
        ask.offer.start.as_microsecond()
    );
    let moved = diary::reschedule(
        store,
        scope,
        diary,
        ctx.clinic,
        &old,
        ask.offer.start,
        ask.offer.practitioner,
        &key,
        Actor::Agent,
    )
    .await;
    match moved {
        Ok(new) => {
            out.messages
                .extend(dialogue::rescheduled(state, &held(&old), &held(&new), ctx));
            out.booked = Some(new.id);
            Ok(None)
        }
        Err(DiaryError::Taken) => {
            let still = own(store, scope, caller, id).await?;
            if still.as_ref().is_some_and(live) {
                let (sorry, again) = dialogue::taken(state, ctx);
                out.messages.push(sorry);
                Ok(again.map(Step::FindSlots))
            } else {
                out.messages.extend(dialogue::not_changed(state, ctx));
                Ok(None)
            }
        }
        Err(e) => {
            super::unavailable(e, out)?;
            Ok(None)
        }
    }
}
