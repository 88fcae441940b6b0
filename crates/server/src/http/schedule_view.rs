//! The schedule (issue #7 item 5): the clinic's practitioners, its services and who provides
//! them, and each practitioner's weekly hours. `ManageSchedule`: the Owner and the Reception
//! Head. Every change goes through the same store operations and validation as the CLI, in
//! one transaction each, audited with the staff member as the actor. The receptionist offers
//! the new hours and services from its next turn.

use super::AppState;
use super::dashboard::{
    Require, Staff, csrf_ok_for, perm, plain as text, store_failed as unavailable,
};
use askama::Template;
use axum::{
    Form,
    extract::{Path, State},
    http::StatusCode,
    response::{IntoResponse, Redirect, Response},
};
use frontdesk_domain::{PractitionerId, WeeklyHours};
use frontdesk_store::{Actor, NewService, StoreError};

struct PractitionerRow {
    id: String,
    name: String,
    title: String,
    /// The hours as an editable spec (`Mon-Fri 08:00-18:00; Sat 09:00-13:00`).
    spec: String,
    /// The hours in words.
    hours: String,
}

struct ServiceRow {
    name: String,
    minutes: u16,
    price: String,
    providers: String,
}

#[derive(Template)]
#[template(path = "dashboard/schedule.html")]
struct SchedulePage {
    practitioners: Vec<PractitionerRow>,
    services: Vec<ServiceRow>,
    currency: String,
    csrf: String,
    error: Option<String>,
}

/// A price in minor units as the clinic writes it: `95` or `95.50` (two decimals).
fn price_text(minor: i64) -> String {
    format!("{}.{:02}", minor / 100, minor % 100)
}

/// Reads `95`, `95.5` or `95.50` as minor units (cents); empty is "not stated".
fn parse_price(raw: &str) -> Result<Option<i64>, &'static str> {
    let raw = raw.trim();
    if raw.is_empty() {
        return Ok(None);
    }
    let bad = "Write the price as a number, e.g. 95 or 95.50.";
    let (whole, frac) = raw.split_once('.').unwrap_or((raw, ""));
    if whole.is_empty()
        || whole.len() > 9
        || frac.len() > 2
        || !whole
            .bytes()
            .chain(frac.bytes())
            .all(|b| b.is_ascii_digit())
    {
        return Err(bad);
    }
    let whole: i64 = whole.parse().map_err(|_| bad)?;
    let frac: i64 = format!("{frac:0<2}").parse().map_err(|_| bad)?;
    Ok(Some(whole * 100 + frac))
}

async fn render(
    st: &AppState,
    staff: &Staff,
    status: StatusCode,
    error: Option<String>,
) -> Response {
    let scope = staff.session().scope;
    let catalog = match st.store.clinic_catalog(scope).await {
        Ok(c) => c,
        Err(e) => return unavailable(&e),
    };
    let mut practitioners = Vec::new();
    for p in catalog.practitioners.iter().filter(|p| p.active) {
        let hours = match st.store.practitioner_hours(scope, p.id).await {
            Ok(h) => h,
            Err(e) => return unavailable(&e),
        };
        practitioners.push(PractitionerRow {
            id: p.id.to_string(),
            name: p.name.clone(),
            title: p.title.clone(),
            spec: hours.spec(),
            hours: hours.describe(),
        });
    }
    let name_of = |id: PractitionerId| {
        catalog
            .practitioners
            .iter()
            .find(|p| p.id == id)
            .map_or_else(|| "—".to_owned(), |p| p.name.clone())
    };
    let services = catalog
        .services
        .iter()
        .filter(|s| s.active)
        .map(|s| ServiceRow {
            name: s.name.clone(),
            minutes: s.duration_min,
            price: s.price_minor.map(price_text).unwrap_or_default(),
            providers: if s.practitioners.is_empty() {
                "Anyone".to_owned()
            } else {
                s.practitioners
                    .iter()
                    .map(|p| name_of(*p))
                    .collect::<Vec<_>>()
                    .join(", ")
            },
        })
        .collect();
    let page = SchedulePage {
        practitioners,
        services,
        currency: catalog.clinic.profile.currency.clone(),
        csrf: staff.csrf(),
        error,
    };
    super::dashboard::page(status, &page)
}

/// After a change: back to the page, or the page again saying what the validation refused.
async fn saved<T>(st: &AppState, staff: &Staff, done: Result<T, StoreError>) -> Response {
    match done {
        Ok(_) => Redirect::to("/dashboard/schedule").into_response(),
        Err(StoreError::Invalid(d)) => {
            let msg = Some(format!("Not saved: {d}."));
            render(st, staff, StatusCode::UNPROCESSABLE_ENTITY, msg).await
        }
        Err(StoreError::NotFound) => text(StatusCode::NOT_FOUND, "No such practitioner."),
        Err(e) => unavailable(&e),
    }
}

/// `GET /dashboard/schedule`.
pub async fn schedule_page(
    State(st): State<AppState>,
    Require { staff, .. }: Require<perm::ManageSchedule>,
) -> Response {
    render(&st, &staff, StatusCode::OK, None).await
}

#[derive(serde::Deserialize)]
pub struct PractitionerForm {
    csrf: String,
    name: String,
    #[serde(default)]
    title: String,
}

/// `POST /dashboard/schedule/practitioners`: a new practitioner (closed all week until their
/// hours are set, so the receptionist offers no time with them yet).
pub async fn add_practitioner(
    State(st): State<AppState>,
    Require { staff, .. }: Require<perm::ManageSchedule>,
    Form(f): Form<PractitionerForm>,
) -> Response {
    if !csrf_ok_for(&staff, &f.csrf) {
        return super::dashboard::form_expired();
    }
    let (name, title) = (f.name.trim(), f.title.trim());
    if name.is_empty() || name.chars().count() > 200 || title.chars().count() > 200 {
        let msg = Some("A practitioner needs a name (up to 200 characters).".to_owned());
        return render(&st, &staff, StatusCode::UNPROCESSABLE_ENTITY, msg).await;
    }
    let s = staff.session();
    let done = st
        .store
        .add_practitioner_by(s.scope, name, title, Actor::Staff(s.user))
        .await;
    saved(&st, &staff, done).await
}

#[derive(serde::Deserialize)]
pub struct HoursForm {
    csrf: String,
    #[serde(default)]
    hours: String,
}

/// `POST /dashboard/schedule/practitioners/{id}/hours`: replaces their weekly hours.
pub async fn set_hours(
    State(st): State<AppState>,
    Require { staff, .. }: Require<perm::ManageSchedule>,
    Path(raw): Path<String>,
    Form(f): Form<HoursForm>,
) -> Response {
    if !csrf_ok_for(&staff, &f.csrf) {
        return super::dashboard::form_expired();
    }
    let Ok(id) = PractitionerId::parse(&raw) else {
        return text(StatusCode::NOT_FOUND, "No such practitioner.");
    };
    let hours = match WeeklyHours::parse_spec(&f.hours) {
        Ok(h) => h,
        Err(e) => {
            let msg = Some(format!("Not saved: {e}."));
            return render(&st, &staff, StatusCode::UNPROCESSABLE_ENTITY, msg).await;
        }
    };
    let s = staff.session();
    let done = st
        .store
        .set_practitioner_hours_by(s.scope, id, &hours, Actor::Staff(s.user))
        .await;
    saved(&st, &staff, done).await
}

/// `POST /dashboard/schedule/services`: a new service and who provides it (the form's
/// repeated `provider` fields; none ticked: any practitioner). One transaction.
pub async fn add_service(
    State(st): State<AppState>,
    Require { staff, .. }: Require<perm::ManageSchedule>,
    Form(fields): Form<Vec<(String, String)>>,
) -> Response {
    let field = |name: &str| {
        fields
            .iter()
            .find(|(k, _)| k == name)
            .map_or("", |(_, v)| v.as_str())
            .trim()
    };
    if !csrf_ok_for(&staff, field("csrf")) {
        return super::dashboard::form_expired();
    }
    let bad = |msg: &str| Some(msg.to_owned());
    let name = field("name");
    if name.is_empty() || name.chars().count() > 200 {
        let msg = bad("A service needs a name (up to 200 characters).");
        return render(&st, &staff, StatusCode::UNPROCESSABLE_ENTITY, msg).await;
    }
    let minutes = match field("minutes").parse::<u16>() {
        Ok(m) if (5..=480).contains(&m) => m,
        _ => {
            let msg = bad("A service lasts between 5 and 480 minutes.");
            return render(&st, &staff, StatusCode::UNPROCESSABLE_ENTITY, msg).await;
        }
    };
    let buffer = match field("buffer") {
        "" => 0,
        raw => match raw.parse::<u16>() {
            Ok(b) if b <= 120 => b,
            _ => {
                let msg = bad("The gap after a service is 0 to 120 minutes.");
                return render(&st, &staff, StatusCode::UNPROCESSABLE_ENTITY, msg).await;
            }
        },
    };
    let price = match parse_price(field("price")) {
        Ok(p) => p,
        Err(msg) => {
            return render(&st, &staff, StatusCode::UNPROCESSABLE_ENTITY, bad(msg)).await;
        }
    };
    let mut providers = Vec::new();
    for (_, v) in fields.iter().filter(|(k, _)| k == "provider") {
        match PractitionerId::parse(v.trim()) {
            Ok(p) => providers.push(p),
            Err(_) => return text(StatusCode::NOT_FOUND, "No such practitioner."),
        }
    }
    let s = staff.session();
    let new = NewService {
        name: name.to_owned(),
        duration_min: minutes,
        buffer_min: buffer,
        price_minor: price,
    };
    let done = st
        .store
        .add_service_by(s.scope, &new, &providers, Actor::Staff(s.user))
        .await;
    saved(&st, &staff, done).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prices_are_read_in_minor_units_and_shown_back() {
        assert_eq!(parse_price(""), Ok(None));
        assert_eq!(parse_price("95"), Ok(Some(9500)));
        assert_eq!(parse_price("95.5"), Ok(Some(9550)));
        assert_eq!(parse_price(" 95.05 "), Ok(Some(9505)));
        for bad in ["-1", "9,50", "1.234", ".5", "abc", "1e3", "9999999999"] {
            assert!(parse_price(bad).is_err(), "{bad}");
        }
        assert_eq!(price_text(9505), "95.05");
        assert_eq!(parse_price(&price_text(12_345)), Ok(Some(12_345)));
    }
}
