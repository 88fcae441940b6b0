//! Calendar feeds (#11): `GET /calendar/{token}.ics` answers a practitioner's or the whole
//! clinic's appointments as iCalendar (see [`crate::ical`]) to any calendar app that has the
//! URL; the dashboard page `/dashboard/calendar-feeds` (`ManageSchedule`) makes a feed (its URL
//! shown once), lists them with when each was last read, and revokes one at once.
//!
//! A feed URL is a bearer secret: whoever has it sees the diary's times, services and
//! practitioners (never a patient's name or phone). Any token that is not a live feed answers
//! the same `404`, so the route tells a guesser nothing.

use super::AppState;
use super::dashboard::{
    Require, Staff, csrf_ok_for, form_field, perm, plain as text, store_failed as unavailable,
};
use crate::ical::{FEED_AHEAD_DAYS, FEED_PAST_DAYS, FeedOf, render as render_ical};
use askama::Template;
use axum::{
    Form,
    extract::{Path, State},
    http::{HeaderMap, HeaderValue, StatusCode, header},
    response::{IntoResponse, Redirect, Response},
};
use frontdesk_domain::{CalendarFeedId, PractitionerId};
use frontdesk_store::{Actor, StoreError};

fn no_such_feed() -> Response {
    text(StatusCode::NOT_FOUND, "No such calendar.")
}

/// `GET /calendar/{file}`: `file` is `fdcal_…_….ics`.
pub async fn feed(State(st): State<AppState>, Path(file): Path<String>) -> Response {
    let Some(token) = file.strip_suffix(".ics") else {
        return no_such_feed();
    };
    let opened = match st.store.open_calendar_feed(token).await {
        Ok(o) => o,
        Err(StoreError::Unauthorized) => return no_such_feed(),
        Err(e) => {
            tracing::error!(error = ?e, "calendar feed could not be opened");
            return text(StatusCode::SERVICE_UNAVAILABLE, "Please try again shortly.");
        }
    };
    let now = st.clock.now();
    let from = now - jiff::SignedDuration::from_hours(24 * FEED_PAST_DAYS);
    let to = now + jiff::SignedDuration::from_hours(24 * FEED_AHEAD_DAYS);
    let (catalog, appointments) = match (
        st.store.clinic_catalog(opened.scope).await,
        st.store
            .appointments_between(opened.scope, opened.practitioner, from, to)
            .await,
    ) {
        (Ok(c), Ok(a)) => (c, a),
        (Err(e), _) | (_, Err(e)) => {
            tracing::error!(error = ?e, "calendar feed could not be read");
            return text(StatusCode::SERVICE_UNAVAILABLE, "Please try again shortly.");
        }
    };
    let of = match opened.practitioner {
        None => FeedOf::Clinic,
        Some(p) => match catalog.practitioners.iter().find(|x| x.id == p) {
            Some(x) => FeedOf::Practitioner(&x.name),
            None => FeedOf::Clinic,
        },
    };
    let body = render_ical(&catalog, of, &appointments, now);
    let mut resp = (StatusCode::OK, body).into_response();
    let h = resp.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/calendar; charset=utf-8"),
    );
    h.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("private, max-age=300"),
    );
    h.insert(
        header::CONTENT_DISPOSITION,
        HeaderValue::from_static("inline; filename=\"appointments.ics\""),
    );
    resp
}

struct FeedRow {
    id: String,
    prefix: String,
    of: String,
    created: String,
    last_used: String,
    live: bool,
}

#[derive(Template)]
#[template(path = "dashboard/calendar_feeds.html")]
struct FeedsPage {
    feeds: Vec<FeedRow>,
    practitioners: Vec<(String, String)>,
    /// A feed just made: its whole URL, shown on this one page.
    shown: Option<String>,
    csrf: String,
    error: Option<String>,
}

async fn render(
    st: &AppState,
    staff: &Staff,
    status: StatusCode,
    shown: Option<String>,
    error: Option<String>,
) -> Response {
    let scope = staff.session().scope;
    let (feeds, catalog) = match (
        st.store.calendar_feeds(scope).await,
        st.store.clinic_catalog(scope).await,
    ) {
        (Ok(f), Ok(c)) => (f, c),
        (Err(e), _) | (_, Err(e)) => return unavailable(&e),
    };
    let name_of = |p: Option<PractitionerId>| match p {
        None => "Everyone (the whole clinic)".to_owned(),
        Some(p) => catalog
            .practitioners
            .iter()
            .find(|x| x.id == p)
            .map_or_else(|| "A former practitioner".to_owned(), |x| x.name.clone()),
    };
    let page = FeedsPage {
        feeds: feeds
            .into_iter()
            .map(|f| FeedRow {
                id: f.id.to_string(),
                prefix: f.prefix,
                of: name_of(f.practitioner),
                created: f.created_at.to_string(),
                last_used: f
                    .last_used_at
                    .map_or_else(|| "never".to_owned(), |t| t.to_string()),
                live: f.revoked_at.is_none(),
            })
            .collect(),
        practitioners: catalog
            .practitioners
            .iter()
            .filter(|p| p.active)
            .map(|p| (p.id.to_string(), p.name.clone()))
            .collect(),
        shown,
        csrf: staff.csrf(),
        error,
    };
    super::dashboard::page(status, &page)
}

/// `GET /dashboard/calendar-feeds`.
pub async fn feeds_page(
    State(st): State<AppState>,
    Require { staff, .. }: Require<perm::ManageSchedule>,
) -> Response {
    render(&st, &staff, StatusCode::OK, None, None).await
}

/// `POST /dashboard/calendar-feeds`: `csrf`, `practitioner` (an id, or `all`).
pub async fn create(
    State(st): State<AppState>,
    headers: HeaderMap,
    Require { staff, .. }: Require<perm::ManageSchedule>,
    Form(fields): Form<Vec<(String, String)>>,
) -> Response {
    if !csrf_ok_for(&staff, form_field(&fields, "csrf")) {
        return super::dashboard::form_expired();
    }
    let practitioner = match form_field(&fields, "practitioner") {
        "all" => None,
        raw => match PractitionerId::parse(raw) {
            Ok(p) => Some(p),
            Err(_) => {
                return render(
                    &st,
                    &staff,
                    StatusCode::UNPROCESSABLE_ENTITY,
                    None,
                    Some("Choose a practitioner, or the whole clinic.".into()),
                )
                .await;
            }
        },
    };
    let s = staff.session();
    match st
        .store
        .create_calendar_feed(s.scope, practitioner, Actor::Staff(s.user))
        .await
    {
        Ok(made) => {
            let base = super::webhooks::public_base(&st, &headers);
            let url = format!(
                "{}/calendar/{}.ics",
                base.trim_end_matches('/'),
                *made.token
            );
            render(&st, &staff, StatusCode::OK, Some(url), None).await
        }
        Err(StoreError::NotFound) => {
            render(
                &st,
                &staff,
                StatusCode::UNPROCESSABLE_ENTITY,
                None,
                Some("That practitioner is not one of this clinic's.".into()),
            )
            .await
        }
        Err(e) => unavailable(&e),
    }
}

#[derive(serde::Deserialize)]
pub struct RevokeForm {
    csrf: String,
}

/// `POST /dashboard/calendar-feeds/{id}/revoke`.
pub async fn revoke(
    State(st): State<AppState>,
    Require { staff, .. }: Require<perm::ManageSchedule>,
    Path(raw): Path<String>,
    Form(f): Form<RevokeForm>,
) -> Response {
    if !csrf_ok_for(&staff, &f.csrf) {
        return super::dashboard::form_expired();
    }
    let Ok(id) = CalendarFeedId::parse(&raw) else {
        return text(StatusCode::NOT_FOUND, "No such calendar feed.");
    };
    let s = staff.session();
    match st
        .store
        .revoke_calendar_feed(s.scope, id, Actor::Staff(s.user))
        .await
    {
        Ok(_) => Redirect::to("/dashboard/calendar-feeds").into_response(),
        Err(StoreError::NotFound) => text(StatusCode::NOT_FOUND, "No such calendar feed."),
        Err(e) => unavailable(&e),
    }
}
