//! The diary (issue #7 item 5): a day or week of live appointments per practitioner, in the
//! clinic's time zone; booking, moving and cancelling with the same store operations (and so
//! the same rules: opening hours, notice, no double booking, idempotency, audit) as the
//! receptionist, with the staff member as the actor. `ViewAppointments` to read,
//! `ManageAppointments` to change. Roles whose reach is "assigned to them" see (and a Doctor
//! changes) only the diary of the practitioner their account is linked to; another
//! practitioner's appointment is 404 to them. Each booking form carries a one-time key, so a
//! double submit books once.

use super::AppState;
use super::dashboard::{
    Require, Staff, csrf_ok_for, perm, plain as text, store_failed as unavailable,
};
use askama::Template;
use axum::{
    Form,
    extract::{Path, Query, State},
    http::StatusCode,
    response::{IntoResponse, Redirect, Response},
};
use frontdesk_domain::{Access, AppointmentId, E164Phone, Permission, PractitionerId, ServiceId};
use frontdesk_store::{Actor, Assignable, NewAppointment, NewPatient, StoreError};
use jiff::civil::{Date, Time};

struct Slot {
    id: String,
    day: String,
    time: String,
    service: String,
    patient: String,
    status: &'static str,
    /// The deposit's state (`paid`, `pending`…), empty when none was asked for. No amounts:
    /// roles that may not see revenue see the diary too.
    payment: &'static str,
}

struct Column {
    id: String,
    practitioner: String,
    /// The services this practitioner provides: (id, name).
    services: Vec<(String, String)>,
    slots: Vec<Slot>,
}

#[derive(Template)]
#[template(path = "dashboard/diary.html")]
struct DiaryPage {
    title: String,
    week: bool,
    date: String,
    prev: String,
    next: String,
    tz: String,
    columns: Vec<Column>,
    assigned_only: bool,
    can_cancel: bool,
    csrf: String,
    /// A fresh key for each booking form (idempotency).
    nonce: String,
    error: Option<String>,
}

#[derive(serde::Deserialize, Default, Clone)]
pub struct DiaryQuery {
    date: Option<String>,
    view: Option<String>,
}

/// `GET /dashboard/diary?date=YYYY-MM-DD&view=day|week`.
pub async fn diary_page(
    State(st): State<AppState>,
    Require { staff, .. }: Require<perm::ViewAppointments>,
    Query(q): Query<DiaryQuery>,
) -> Response {
    render(&st, &staff, &q, StatusCode::OK, None).await
}

async fn render(
    st: &AppState,
    staff: &Staff,
    q: &DiaryQuery,
    status: StatusCode,
    mut error: Option<String>,
) -> Response {
    let s = staff.session();
    let access = s.role.access(Permission::ViewAppointments);
    if access == Access::None {
        return text(StatusCode::FORBIDDEN, "Your role does not allow this.");
    }
    let catalog = match st.store.clinic_catalog(s.scope).await {
        Ok(c) => c,
        Err(e) => return unavailable(&e),
    };
    let Ok(tz) = jiff::tz::TimeZone::get(catalog.clinic.profile.timezone.as_str()) else {
        tracing::error!("the clinic's time zone is unknown");
        return text(StatusCode::SERVICE_UNAVAILABLE, "Please try again shortly.");
    };
    let today = st.clock.now().to_zoned(tz.clone()).date();
    let mut status = status;
    let date = match q.date.as_deref().map(str::trim).filter(|d| !d.is_empty()) {
        None => today,
        Some(raw) => match raw.parse::<Date>() {
            Ok(d) => d,
            Err(_) => {
                error = Some("Enter a date as YYYY-MM-DD.".into());
                status = StatusCode::UNPROCESSABLE_ENTITY;
                today
            }
        },
    };
    let week = q.view.as_deref() == Some("week");
    let days = if week { 7 } else { 1 };
    let span = jiff::Span::new().days(days);
    let bounds = (|| {
        let from = date.to_zoned(tz.clone()).ok()?.timestamp();
        let end = date.checked_add(span).ok()?;
        let to = end.to_zoned(tz.clone()).ok()?.timestamp();
        let prev = date.checked_sub(span).ok()?;
        Some((from, to, prev, end))
    })();
    let Some((from, to, prev, next)) = bounds else {
        return text(
            StatusCode::UNPROCESSABLE_ENTITY,
            "That date is out of range.",
        );
    };
    let mut columns: Vec<Column> = catalog
        .practitioners
        .iter()
        .filter(|p| p.active)
        .map(|p| Column {
            id: p.id.to_string(),
            practitioner: p.name.clone(),
            services: catalog
                .services
                .iter()
                .filter(|sv| {
                    sv.active && (sv.practitioners.is_empty() || sv.practitioners.contains(&p.id))
                })
                .map(|sv| (sv.id.to_string(), sv.name.clone()))
                .collect(),
            slots: Vec::new(),
        })
        .collect();
    // "Assigned to them": the diary of the practitioner their account is linked to.
    let own = s.practitioner.filter(|_| access == Access::Assigned);
    if access == Access::Assigned {
        columns.retain(|c| own.is_some_and(|p| p.to_string() == c.id));
    }
    if access == Access::All || own.is_some() {
        let entries = match st.store.diary(s.scope, from, to).await {
            Ok(e) => e,
            Err(e) => return unavailable(&e),
        };
        let ids: Vec<AppointmentId> = entries.iter().map(|e| e.appointment.id).collect();
        // Newest first: the first payment found for an appointment is its current one.
        let payments = match st.store.appointment_payments(s.scope, &ids).await {
            Ok(p) => p,
            Err(e) => return unavailable(&e),
        };
        for e in entries {
            let a = &e.appointment;
            let payment = payments
                .iter()
                .find(|p| p.appointment == a.id)
                .map_or("", |p| p.status.as_str());
            let Some(i) = columns
                .iter()
                .position(|c| c.id == a.practitioner_id.to_string())
            else {
                continue;
            };
            let start = a.starts_at.to_zoned(tz.clone());
            let end = a.ends_at.to_zoned(tz.clone());
            columns[i].slots.push(Slot {
                id: a.id.to_string(),
                day: start.strftime("%a %-d %b").to_string(),
                time: format!("{}–{}", start.strftime("%H:%M"), end.strftime("%H:%M")),
                service: catalog
                    .services
                    .iter()
                    .find(|sv| sv.id == a.service_id)
                    .map_or_else(|| "—".to_owned(), |sv| sv.name.clone()),
                patient: e
                    .patient_name
                    .clone()
                    .unwrap_or_else(|| "Unnamed patient".into()),
                status: a.status.as_str(),
                payment,
            });
        }
    }
    let title = if week {
        format!("Week of {}", date.strftime("%a %-d %b %Y"))
    } else {
        date.strftime("%A %-d %B %Y").to_string()
    };
    let view = if week { "week" } else { "day" };
    super::dashboard::page(
        status,
        &DiaryPage {
            title,
            week,
            date: date.to_string(),
            prev: format!("/dashboard/diary?date={prev}&view={view}"),
            next: format!("/dashboard/diary?date={next}&view={view}"),
            tz: catalog.clinic.profile.timezone.as_str().to_owned(),
            columns,
            assigned_only: access == Access::Assigned,
            can_cancel: s.role.can(Permission::ManageAppointments),
            csrf: staff.csrf(),
            nonce: uuid::Uuid::now_v7().to_string(),
            error,
        },
    )
}

#[derive(serde::Deserialize)]
pub struct CancelForm {
    csrf: String,
}

/// `POST /dashboard/appointments/{id}/cancel`: cancels as this staff member (audited).
pub async fn cancel(
    State(st): State<AppState>,
    Require { staff, access, .. }: Require<perm::ManageAppointments>,
    Path(raw): Path<String>,
    Form(f): Form<CancelForm>,
) -> Response {
    if let Some(r) = may_change(&staff, &f.csrf) {
        return r;
    }
    let s = staff.session();
    let Ok(id) = AppointmentId::parse(&raw) else {
        return text(StatusCode::NOT_FOUND, "No such appointment.");
    };
    if let Some(r) = appointment_reach(&st, &staff, access, id).await {
        return r;
    }
    match st
        .store
        .cancel_appointment(s.scope, id, Actor::Staff(s.user))
        .await
    {
        Ok(a) => {
            let date = st
                .store
                .clinic(s.scope)
                .await
                .ok()
                .and_then(|c| jiff::tz::TimeZone::get(c.profile.timezone.as_str()).ok())
                .map(|tz| a.starts_at.to_zoned(tz).date().to_string())
                .unwrap_or_default();
            Redirect::to(&format!("/dashboard/diary?date={date}")).into_response()
        }
        Err(StoreError::NotFound) => text(StatusCode::NOT_FOUND, "No such appointment."),
        Err(StoreError::Conflict(_) | StoreError::Invalid(_)) => text(
            StatusCode::CONFLICT,
            "This appointment can no longer be cancelled (it has started or changed).",
        ),
        Err(e) => unavailable(&e),
    }
}

/// Refuses an appointment outside the role's reach (as if it did not exist), or `None`.
async fn appointment_reach(
    st: &AppState,
    staff: &Staff,
    access: Access,
    id: AppointmentId,
) -> Option<Response> {
    if access == Access::All {
        return None;
    }
    let s = staff.session();
    match st
        .store
        .is_assigned(s.scope, s.user, Assignable::Appointment(id))
        .await
    {
        Ok(true) => None,
        Ok(false) => Some(text(StatusCode::NOT_FOUND, "No such appointment.")),
        Err(e) => Some(unavailable(&e)),
    }
}

/// Refuses a change to the diary whose form lacks this session's CSRF token (the extractor
/// already checked the role holds the permission).
fn may_change(staff: &Staff, csrf: &str) -> Option<Response> {
    (!csrf_ok_for(staff, csrf)).then(super::dashboard::form_expired)
}

/// A one-time form key: what makes a double submit book (or move) once.
fn nonce_ok(n: &str) -> bool {
    (8..=100).contains(&n.len()) && n.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
}

/// The instant `date` at `time` in the clinic's time zone.
async fn clinic_instant(
    st: &AppState,
    staff: &Staff,
    date: &str,
    time: &str,
) -> Result<jiff::Timestamp, String> {
    let date: Date = date
        .trim()
        .parse()
        .map_err(|_| "Enter a date as YYYY-MM-DD.".to_owned())?;
    let time: Time = time
        .trim()
        .parse()
        .map_err(|_| "Enter a time as HH:MM.".to_owned())?;
    let clinic = st
        .store
        .clinic(staff.session().scope)
        .await
        .map_err(|_| "Please try again shortly.".to_owned())?;
    date.to_datetime(time)
        .in_tz(clinic.profile.timezone.as_str())
        .map(|z| z.timestamp())
        .map_err(|_| "That time does not exist in the clinic's time zone.".to_owned())
}

/// The answer to a booking or a move, as the receptionist's rules decided it.
async fn booking_outcome(
    st: &AppState,
    staff: &Staff,
    date: &str,
    done: Result<frontdesk_store::Appointment, StoreError>,
) -> Response {
    let q = DiaryQuery {
        date: Some(date.to_owned()),
        view: None,
    };
    match done {
        Ok(_) => Redirect::to(&format!("/dashboard/diary?date={}", date.trim())).into_response(),
        Err(StoreError::NotFound) => text(
            StatusCode::NOT_FOUND,
            "No such appointment, service or practitioner.",
        ),
        Err(StoreError::Conflict(_)) => {
            let msg = "That time is not free (booked meanwhile, or the appointment changed). Choose another time.";
            render(st, staff, &q, StatusCode::CONFLICT, Some(msg.into())).await
        }
        Err(StoreError::Invalid(e)) => {
            let msg = format!("That booking is not possible: {e}.");
            render(st, staff, &q, StatusCode::UNPROCESSABLE_ENTITY, Some(msg)).await
        }
        Err(e) => unavailable(&e),
    }
}

#[derive(serde::Deserialize)]
pub struct BookForm {
    csrf: String,
    nonce: String,
    practitioner: String,
    service: String,
    date: String,
    time: String,
    phone: String,
    #[serde(default)]
    name: String,
}

/// `POST /dashboard/appointments`: books for the patient with this mobile number (a new
/// patient record if the clinic has none), with the receptionist's rules.
pub async fn book(
    State(st): State<AppState>,
    Require { staff, access, .. }: Require<perm::ManageAppointments>,
    Form(f): Form<BookForm>,
) -> Response {
    if let Some(r) = may_change(&staff, &f.csrf) {
        return r;
    }
    let s = staff.session();
    let q = DiaryQuery {
        date: Some(f.date.clone()),
        view: None,
    };
    let bad = |msg: String| render(&st, &staff, &q, StatusCode::UNPROCESSABLE_ENTITY, Some(msg));
    let (Ok(practitioner), Ok(service)) = (
        PractitionerId::parse(f.practitioner.trim()),
        ServiceId::parse(f.service.trim()),
    ) else {
        return text(StatusCode::NOT_FOUND, "No such service or practitioner.");
    };
    // "Assigned to them": only into the diary their account is linked to.
    if access == Access::Assigned && s.practitioner != Some(practitioner) {
        return text(StatusCode::NOT_FOUND, "No such service or practitioner.");
    }
    if !nonce_ok(&f.nonce) {
        return bad("This form has expired. Open the page again.".into()).await;
    }
    let Ok(phone) = E164Phone::parse(f.phone.trim()) else {
        return bad(
            "Enter the patient's mobile number in international form, e.g. +64 21 555 0101.".into(),
        )
        .await;
    };
    let name = f.name.trim();
    if name.chars().count() > 200 {
        return bad("A name is at most 200 characters.".into()).await;
    }
    let starts_at = match clinic_instant(&st, &staff, &f.date, &f.time).await {
        Ok(t) => t,
        Err(msg) => return bad(msg).await,
    };
    let patient = match st.store.find_patient_by_phone(s.scope, &phone).await {
        Ok(Some(p)) => p.id,
        Ok(None) => {
            let new = NewPatient {
                name: (!name.is_empty()).then(|| name.to_owned()),
                phone: Some(phone),
                ..Default::default()
            };
            match st.store.create_patient(s.scope, &new).await {
                Ok(id) => id,
                Err(e) => return unavailable(&e),
            }
        }
        Err(e) => return unavailable(&e),
    };
    let new = NewAppointment {
        patient,
        practitioner,
        service,
        starts_at,
        idempotency_key: format!("staff-book:{}", f.nonce),
        actor: Actor::Staff(s.user),
    };
    let done = st.store.book_appointment(s.scope, &new).await;
    booking_outcome(&st, &staff, &f.date, done).await
}

#[derive(serde::Deserialize)]
pub struct MoveForm {
    csrf: String,
    nonce: String,
    date: String,
    time: String,
}

/// `POST /dashboard/appointments/{id}/move`: the same practitioner and service at a new time.
pub async fn move_to(
    State(st): State<AppState>,
    Require { staff, access, .. }: Require<perm::ManageAppointments>,
    Path(raw): Path<String>,
    Form(f): Form<MoveForm>,
) -> Response {
    if let Some(r) = may_change(&staff, &f.csrf) {
        return r;
    }
    let s = staff.session();
    let Ok(id) = AppointmentId::parse(&raw) else {
        return text(StatusCode::NOT_FOUND, "No such appointment.");
    };
    if let Some(r) = appointment_reach(&st, &staff, access, id).await {
        return r;
    }
    let q = DiaryQuery {
        date: Some(f.date.clone()),
        view: None,
    };
    if !nonce_ok(&f.nonce) {
        let msg = "This form has expired. Open the page again.".into();
        return render(&st, &staff, &q, StatusCode::UNPROCESSABLE_ENTITY, Some(msg)).await;
    }
    let starts_at = match clinic_instant(&st, &staff, &f.date, &f.time).await {
        Ok(t) => t,
        Err(msg) => {
            return render(&st, &staff, &q, StatusCode::UNPROCESSABLE_ENTITY, Some(msg)).await;
        }
    };
    let current = match st.store.appointment(s.scope, id).await {
        Ok(a) => a,
        Err(StoreError::NotFound) => return text(StatusCode::NOT_FOUND, "No such appointment."),
        Err(e) => return unavailable(&e),
    };
    let done = st
        .store
        .reschedule_appointment(
            s.scope,
            id,
            starts_at,
            current.practitioner_id,
            Actor::Staff(s.user),
            &format!("staff-move:{}", f.nonce),
        )
        .await;
    booking_outcome(&st, &staff, &f.date, done).await
}
