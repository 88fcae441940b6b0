//! The clinic's diary, wherever it is kept: the built-in scheduler (the store's slots and
//! bookings) or Cal.com (#11 item 3). The dialogue and the language model's tools ask it for
//! free times and to book, cancel and move, the same way for both.
//!
//! With Cal.com, Cal.com decides: free times are its slots; a booking, cancellation or move
//! happens there first and is mirrored into our appointments only once Cal.com accepted it
//! (one local transaction with its audit entry), so nothing is ever claimed that Cal.com did
//! not accept. A time Cal.com refuses is `Taken` (the dialogue re-offers the next times). A
//! clinic whose Cal.com cannot be reached (or is enabled but not usable) is never served
//! from the built-in diary instead: that could double-book; the turn is handed to the team.

use super::MIN_NOTICE;
use crate::calcom::{self, BookRequest, CalcomError};
use frontdesk_agent::ClinicKnowledge;
use frontdesk_agent::dialogue::SlotAsk;
use frontdesk_domain::{AppointmentId, PatientId, PractitionerId, ServiceId};
use frontdesk_store::{
    Actor, Appointment, CalcomRequest, CalcomRuntime, NewAppointment, SlotSearch, Store,
    StoreError, TenantScope,
};

/// Why the diary did not do what was asked.
#[derive(Debug, thiserror::Error)]
pub enum DiaryError {
    /// The time is no longer free (or no longer bookable).
    #[error("the time is no longer free")]
    Taken,
    /// The clinic's Cal.com cannot be used now; nothing changed that we know of.
    #[error("the calendar is unavailable")]
    Unavailable,
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Where a clinic's diary is kept, read once per turn (or tool call).
pub enum Diary {
    Builtin,
    Calcom(Box<(calcom::Client, CalcomRuntime)>),
    /// Cal.com is enabled but cannot be used (no API key, a bad URL).
    Broken,
}

impl Diary {
    pub async fn load(store: &dyn Store, scope: TenantScope) -> Result<Self, StoreError> {
        let Some(rt) = store.calcom_runtime(scope).await? else {
            return Ok(Self::Builtin);
        };
        if !rt.enabled {
            return Ok(Self::Builtin);
        }
        let Some(key) = rt.api_key.clone() else {
            tracing::warn!(
                code = "calcom_no_key",
                "cal.com is enabled without an API key"
            );
            return Ok(Self::Broken);
        };
        match calcom::Client::new(&rt.base_url, key, calcom::CALL_TIMEOUT) {
            Ok(c) => Ok(Self::Calcom(Box::new((c, rt)))),
            Err(e) => {
                tracing::warn!(error = %e, "cal.com is enabled but unusable");
                Ok(Self::Broken)
            }
        }
    }

    /// The diary in `cell`, read on first use.
    pub async fn lazy<'a>(
        cell: &'a mut Option<Self>,
        store: &dyn Store,
        scope: TenantScope,
    ) -> Result<&'a Self, StoreError> {
        if cell.is_none() {
            *cell = Some(Self::load(store, scope).await?);
        }
        cell.as_ref().ok_or(StoreError::Corrupt("diary"))
    }

    fn calcom(&self) -> Result<Option<(&calcom::Client, &CalcomRuntime)>, DiaryError> {
        match self {
            Self::Builtin => Ok(None),
            Self::Calcom(b) => Ok(Some((&b.0, &b.1))),
            Self::Broken => Err(DiaryError::Unavailable),
        }
    }
}

fn from_calcom(e: CalcomError) -> DiaryError {
    match e {
        CalcomError::Taken => DiaryError::Taken,
        CalcomError::Unavailable(_) | CalcomError::Config(_) => DiaryError::Unavailable,
    }
}

/// A store refusal of a booking or move: taken (or no longer bookable), or a real failure.
fn taken_or(e: StoreError) -> DiaryError {
    match e {
        StoreError::Conflict(_) | StoreError::Invalid(_) => DiaryError::Taken,
        other => DiaryError::Store(other),
    }
}

/// Free start times of one practitioner for `ask` over `[from, to]` (days, clinic time).
#[allow(clippy::too_many_arguments)]
pub(super) async fn free_times(
    store: &dyn Store,
    scope: TenantScope,
    diary: &Diary,
    knowledge: &ClinicKnowledge,
    ask: &SlotAsk,
    practitioner: PractitionerId,
    now: jiff::Timestamp,
    (from, to): (jiff::civil::Date, jiff::civil::Date),
    (day_start, day_end): (Option<jiff::civil::Time>, Option<jiff::civil::Time>),
) -> Result<Vec<jiff::Timestamp>, DiaryError> {
    let Some((client, rt)) = diary.calcom()? else {
        let search = SlotSearch {
            practitioner,
            service: ask.service,
            from,
            to,
            min_notice: MIN_NOTICE,
            day_start,
            day_end,
            limit: 48,
        };
        return match store.free_slots(scope, &search).await {
            Ok(slots) => Ok(slots.into_iter().map(|s| s.start).collect()),
            // A practitioner without hours for this service simply has no slots.
            Err(StoreError::NotFound) => Ok(Vec::new()),
            Err(e) => Err(e.into()),
        };
    };
    // Not booked through Cal.com for this service: no slots, like a practitioner without hours.
    let Some(event_type) = rt.event_type(practitioner, ask.service) else {
        return Ok(Vec::new());
    };
    let tz = knowledge.profile.time_zone().map_err(StoreError::from)?;
    let tz_name = tz.iana_name().unwrap_or("UTC").to_owned();
    let starts = client
        .slots(event_type, from, to, &tz_name)
        .await
        .map_err(from_calcom)?;
    let duration = knowledge
        .services
        .iter()
        .find(|s| s.id == ask.service)
        .map_or(0, |s| i64::from(s.duration_min));
    let earliest = now + MIN_NOTICE;
    Ok(starts
        .into_iter()
        .filter(|t| *t >= earliest)
        .filter(|t| {
            let local = t.to_zoned(tz.clone());
            let date_ok = local.date() >= from && local.date() <= to;
            let time = local.time();
            let end = local
                .checked_add(jiff::SignedDuration::from_mins(duration))
                .map(|z| z.time())
                .unwrap_or(time);
            date_ok
                && day_start.is_none_or(|s| time >= s)
                && day_end.is_none_or(|e| end <= e && end >= time)
        })
        .take(48)
        .collect())
}

/// Free times of one practitioner and service for the REST API and FHIR (`search`'s dates are
/// the clinic's days): the built-in diary's slots, or the clinic's Cal.com slots (each as long
/// as the service), with `search.min_notice` from `now`, soonest first, at most
/// `search.limit`. A practitioner and service not booked through Cal.com has none.
pub async fn free_slots(
    store: &dyn Store,
    scope: TenantScope,
    diary: &Diary,
    search: &SlotSearch,
    now: jiff::Timestamp,
) -> Result<Vec<(jiff::Timestamp, jiff::Timestamp)>, DiaryError> {
    let Some((client, rt)) = diary.calcom()? else {
        return Ok(store
            .free_slots(scope, search)
            .await?
            .into_iter()
            .map(|s| (s.start, s.end))
            .collect());
    };
    let Some(event_type) = rt.event_type(search.practitioner, search.service) else {
        return Ok(Vec::new());
    };
    let catalog = store.clinic_catalog(scope).await?;
    let tz = catalog
        .clinic
        .profile
        .time_zone()
        .map_err(StoreError::from)?;
    let length = catalog
        .services
        .iter()
        .find(|s| s.id == search.service)
        .map(|s| jiff::SignedDuration::from_mins(i64::from(s.duration_min)))
        .ok_or(StoreError::NotFound)?;
    let starts = client
        .slots(
            event_type,
            search.from,
            search.to,
            tz.iana_name().unwrap_or("UTC"),
        )
        .await
        .map_err(from_calcom)?;
    let earliest = now + search.min_notice;
    Ok(starts
        .into_iter()
        .filter(|t| *t >= earliest)
        .filter(|t| {
            let day = t.to_zoned(tz.clone()).date();
            day >= search.from && day <= search.to
        })
        .take(search.limit)
        .map(|t| (t, t + length))
        .collect())
}

/// The patient as Cal.com's attendee: the name and phone on record, the clinic's time zone.
async fn attendee(
    store: &dyn Store,
    scope: TenantScope,
    knowledge: &ClinicKnowledge,
    patient: PatientId,
) -> Result<(String, Option<String>, String, String), DiaryError> {
    let p = store.patient(scope, patient).await?;
    let tz = knowledge.profile.time_zone().map_err(StoreError::from)?;
    // Cal.com needs a name; a patient who never gave one is booked as "Patient".
    let name = p
        .name
        .filter(|n| !n.trim().is_empty())
        .unwrap_or_else(|| "Patient".to_owned());
    let language = p
        .language
        .as_deref()
        .and_then(|l| l.get(..2))
        .filter(|l| l.chars().all(|c| c.is_ascii_alphabetic()))
        .map_or_else(|| "en".to_owned(), str::to_ascii_lowercase);
    Ok((
        name,
        p.phone.map(|ph| ph.as_str().to_owned()),
        tz.iana_name().unwrap_or("UTC").to_owned(),
        language,
    ))
}

/// What to book.
#[derive(Debug, Clone)]
pub struct Booking {
    pub patient: PatientId,
    pub practitioner: PractitionerId,
    pub service: ServiceId,
    pub start: jiff::Timestamp,
    /// One per request: a retried turn books once.
    pub key: String,
    pub actor: Actor,
}

/// Books: in the store, or on Cal.com and then mirrored.
pub async fn book(
    store: &dyn Store,
    scope: TenantScope,
    diary: &Diary,
    knowledge: &ClinicKnowledge,
    b: &Booking,
) -> Result<Appointment, DiaryError> {
    let Some((client, rt)) = diary.calcom()? else {
        let new = NewAppointment {
            patient: b.patient,
            practitioner: b.practitioner,
            service: b.service,
            starts_at: b.start,
            idempotency_key: b.key.clone(),
            actor: b.actor,
        };
        return store.book_appointment(scope, &new).await.map_err(taken_or);
    };
    // A retried request answers what its first attempt booked, without asking again.
    if let Some(done) = store.appointment_by_request_key(scope, &b.key).await? {
        return Ok(done);
    }
    let Some(event_type) = rt.event_type(b.practitioner, b.service) else {
        return Err(DiaryError::Taken);
    };
    let ids = CalcomRequest {
        key: b.key.clone(),
        patient: b.patient,
        practitioner: b.practitioner,
        service: b.service,
    };
    let (name, phone, tz, language) = attendee(store, scope, knowledge, b.patient).await?;
    let req = BookRequest {
        event_type,
        start: b.start,
        name: &name,
        time_zone: &tz,
        phone: phone.as_deref(),
        language: &language,
        ids: &ids,
    };
    let accepted = client.book(&req).await.map_err(from_calcom)?;
    Ok(store
        .mirror_calcom_booking(scope, &ids, &accepted, b.actor)
        .await?)
}

/// Cancels: on Cal.com first when the appointment mirrors a Cal.com booking.
pub async fn cancel(
    store: &dyn Store,
    scope: TenantScope,
    diary: &Diary,
    id: AppointmentId,
    actor: Actor,
) -> Result<Appointment, DiaryError> {
    if let Some((client, _)) = diary.calcom()?
        && let Some(uid) = store.appointment_calcom_uid(scope, id).await?
    {
        client.cancel(&uid).await.map_err(from_calcom)?;
    }
    Ok(store.cancel_appointment(scope, id, actor).await?)
}

/// Moves `id` to `start` with `practitioner`. On Cal.com: the booking is rescheduled when it
/// keeps its event type, otherwise the new time is booked and the old booking cancelled;
/// then the move is mirrored in one transaction.
#[allow(clippy::too_many_arguments)]
pub async fn reschedule(
    store: &dyn Store,
    scope: TenantScope,
    diary: &Diary,
    knowledge: &ClinicKnowledge,
    old: &Appointment,
    start: jiff::Timestamp,
    practitioner: PractitionerId,
    key: &str,
    actor: Actor,
) -> Result<Appointment, DiaryError> {
    let Some((client, rt)) = diary.calcom()? else {
        return store
            .reschedule_appointment(scope, old.id, start, practitioner, actor, key)
            .await
            .map_err(|e| match e {
                StoreError::NotFound => DiaryError::Taken,
                other => taken_or(other),
            });
    };
    if let Some(done) = store.appointment_by_request_key(scope, key).await? {
        return Ok(done);
    }
    let Some(event_type) = rt.event_type(practitioner, old.service_id) else {
        return Err(DiaryError::Taken);
    };
    let ids = CalcomRequest {
        key: key.to_owned(),
        patient: old.patient_id,
        practitioner,
        service: old.service_id,
    };
    let old_uid = store.appointment_calcom_uid(scope, old.id).await?;
    let same_type = rt.event_type(old.practitioner_id, old.service_id) == Some(event_type);
    let accepted = match old_uid {
        Some(uid) if same_type => client.reschedule(&uid, start).await.map_err(from_calcom)?,
        old_uid => {
            let (name, phone, tz, language) =
                attendee(store, scope, knowledge, old.patient_id).await?;
            let req = BookRequest {
                event_type,
                start,
                name: &name,
                time_zone: &tz,
                phone: phone.as_deref(),
                language: &language,
                ids: &ids,
            };
            let booked = client.book(&req).await.map_err(from_calcom)?;
            if let Some(uid) = old_uid
                && let Err(e) = client.cancel(&uid).await
            {
                // The new booking stands; the old one is cancelled here and its Cal.com
                // cancellation is left to the team (logged without ids).
                tracing::warn!(error = %e, code = "calcom_old_not_cancelled", "cal.com move: the old booking could not be cancelled");
            }
            booked
        }
    };
    Ok(store
        .mirror_calcom_move(scope, old.id, &ids, &accepted, actor)
        .await?)
}
