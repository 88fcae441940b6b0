//! The diary (issue #7 item 5, begun): a day or week of live appointments per practitioner,
//! in the clinic's time zone, and cancelling one with the same store operation (and rules and
//! audit) as the receptionist. `ViewAppointments` to read, `ManageAppointments` to cancel.
//! Roles whose reach is "assigned to them" see nothing until assignments exist.

use super::AppState;
use super::dashboard::{Staff, csrf_ok_for, plain as text, store_failed as unavailable};
use askama::Template;
use axum::{
    Form,
    extract::{Path, Query, State},
    http::StatusCode,
    response::{IntoResponse, Redirect, Response},
};
use frontdesk_domain::{Access, AppointmentId, Permission};
use frontdesk_store::{Actor, StoreError};
use jiff::civil::Date;

struct Slot {
    id: String,
    day: String,
    time: String,
    service: String,
    patient: String,
    status: &'static str,
}

struct Column {
    practitioner: String,
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
    error: Option<&'static str>,
}

#[derive(serde::Deserialize, Default)]
pub struct DiaryQuery {
    date: Option<String>,
    view: Option<String>,
}

/// `GET /dashboard/diary?date=YYYY-MM-DD&view=day|week`.
pub async fn diary_page(
    State(st): State<AppState>,
    staff: Staff,
    Query(q): Query<DiaryQuery>,
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
    let mut error = None;
    let date = match q.date.as_deref().map(str::trim).filter(|d| !d.is_empty()) {
        None => today,
        Some(raw) => match raw.parse::<Date>() {
            Ok(d) => d,
            Err(_) => {
                error = Some("Enter a date as YYYY-MM-DD.");
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
            practitioner: p.name.clone(),
            slots: Vec::new(),
        })
        .collect();
    if access == Access::All {
        let entries = match st.store.diary(s.scope, from, to).await {
            Ok(e) => e,
            Err(e) => return unavailable(&e),
        };
        for e in entries {
            let a = &e.appointment;
            let Some(i) = catalog
                .practitioners
                .iter()
                .filter(|p| p.active)
                .position(|p| p.id == a.practitioner_id)
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
            });
        }
    }
    let title = if week {
        format!("Week of {}", date.strftime("%a %-d %b %Y"))
    } else {
        date.strftime("%A %-d %B %Y").to_string()
    };
    let view = if week { "week" } else { "day" };
    let status = if error.is_some() {
        StatusCode::UNPROCESSABLE_ENTITY
    } else {
        StatusCode::OK
    };
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
            can_cancel: s.role.access(Permission::ManageAppointments) == Access::All,
            csrf: staff.csrf(),
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
    staff: Staff,
    Path(raw): Path<String>,
    Form(f): Form<CancelForm>,
) -> Response {
    let s = staff.session();
    match s.role.access(Permission::ManageAppointments) {
        Access::All => {}
        Access::Assigned => return text(StatusCode::NOT_FOUND, "No such appointment."),
        Access::None => return text(StatusCode::FORBIDDEN, "Your role does not allow this."),
    }
    let Ok(id) = AppointmentId::parse(&raw) else {
        return text(StatusCode::NOT_FOUND, "No such appointment.");
    };
    if !csrf_ok_for(&staff, &f.csrf) {
        return text(
            StatusCode::FORBIDDEN,
            "This form has expired. Open the page again.",
        );
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
