//! API keys in the dashboard (issue #10): the Owner (`ManageKeys`) makes a key for the
//! clinic's software, sees its secret once on the page that made it, revokes one or every
//! key, and rotates a key with an overlap so the integration can be switched without refused
//! calls. The same store operations as `frontdesk api-key`, audited with the Owner as the
//! actor; the list shows prefixes, never a secret.

use super::AppState;
use super::dashboard::{
    BAD_OVERLAP, Require, Staff, csrf_ok_for, form_field, overlap_hours, perm, plain as text,
    store_failed as unavailable,
};
use askama::Template;
use axum::{
    Form,
    extract::{Path, State},
    http::StatusCode,
    response::{IntoResponse, Redirect, Response},
};
use frontdesk_domain::{ApiKeyId, ApiScope, ApiScopes};
use frontdesk_store::{Actor, ApiKeyState, IssuedApiKey, NewApiKey, StoreError, api_key};

struct KeyRow {
    id: String,
    prefix: String,
    name: String,
    scopes: String,
    rate: u32,
    state: String,
    usable: bool,
    rotatable: bool,
    created: String,
    last_used: String,
}

/// A key just made or rotated: shown on this one page, then never again.
struct Shown {
    prefix: String,
    key: String,
}

#[derive(Template)]
#[template(path = "dashboard/api_keys.html")]
struct KeysPage {
    keys: Vec<KeyRow>,
    scopes: Vec<(&'static str, &'static str, bool)>,
    default_rate: u32,
    max_rate: u32,
    shown: Option<Shown>,
    csrf: String,
    error: Option<String>,
}

async fn render(
    st: &AppState,
    staff: &Staff,
    status: StatusCode,
    shown: Option<Shown>,
    error: Option<String>,
) -> Response {
    let scope = staff.session().scope;
    let keys = match st.store.api_keys(scope).await {
        Ok(k) => k,
        Err(e) => return unavailable(&e),
    };
    let now = st.clock.now();
    let rows = keys
        .into_iter()
        .map(|k| {
            let state = k.state(now);
            KeyRow {
                id: k.id.to_string(),
                prefix: k.prefix,
                name: k.name,
                scopes: k.scopes.to_stored(),
                rate: k.rate_per_minute,
                state: match state {
                    ApiKeyState::Active => "Active".to_owned(),
                    ApiKeyState::Overlap(t) => format!("Rotated: works until {t}"),
                    ApiKeyState::Expired => "Expired".to_owned(),
                    ApiKeyState::Revoked => "Revoked".to_owned(),
                },
                usable: matches!(state, ApiKeyState::Active | ApiKeyState::Overlap(_)),
                rotatable: state == ApiKeyState::Active && k.replaced_by.is_none(),
                created: k.created_at.to_string(),
                last_used: k
                    .last_used_at
                    .map_or_else(|| "never".to_owned(), |t| t.to_string()),
            }
        })
        .collect();
    let page = KeysPage {
        keys: rows,
        scopes: ApiScope::ALL
            .into_iter()
            .map(|s| (s.as_str(), s.label(), s.touches_patients()))
            .collect(),
        default_rate: api_key::DEFAULT_RATE_PER_MINUTE,
        max_rate: api_key::MAX_RATE_PER_MINUTE,
        shown,
        csrf: staff.csrf(),
        error,
    };
    super::dashboard::page(status, &page)
}

/// The page with a key just made or rotated, shown this once.
async fn show_once(st: &AppState, staff: &Staff, issued: &IssuedApiKey) -> Response {
    let shown = Shown {
        prefix: issued.info.prefix.clone(),
        key: issued.key.to_string(),
    };
    render(st, staff, StatusCode::OK, Some(shown), None).await
}

/// `GET /dashboard/api-keys`.
pub async fn keys_page(
    State(st): State<AppState>,
    Require { staff, .. }: Require<perm::ManageKeys>,
) -> Response {
    render(&st, &staff, StatusCode::OK, None, None).await
}

/// `POST /dashboard/api-keys`: `csrf`, `name`, `scope` (repeated), `rate`.
pub async fn create(
    State(st): State<AppState>,
    Require { staff, .. }: Require<perm::ManageKeys>,
    Form(fields): Form<Vec<(String, String)>>,
) -> Response {
    if !csrf_ok_for(&staff, form_field(&fields, "csrf")) {
        return super::dashboard::form_expired();
    }
    let refuse = |msg: String| {
        render(
            &st,
            &staff,
            StatusCode::UNPROCESSABLE_ENTITY,
            None,
            Some(msg),
        )
    };
    let chosen = fields
        .iter()
        .filter(|(k, _)| k == "scope")
        .map(|(_, v)| ApiScope::parse(v))
        .collect::<Result<Vec<_>, _>>();
    let scopes = match chosen.map(ApiScopes::from_scopes) {
        Ok(Ok(s)) => s,
        _ => return refuse("Choose at least one thing the key may do.".into()).await,
    };
    let Ok(rate) = form_field(&fields, "rate").trim().parse::<u32>() else {
        return refuse("Write the rate as a whole number of calls a minute.".into()).await;
    };
    let s = staff.session();
    let new = NewApiKey {
        name: form_field(&fields, "name").to_owned(),
        scopes,
        rate_per_minute: rate,
    };
    match st
        .store
        .create_api_key(s.scope, &new, Actor::Staff(s.user))
        .await
    {
        Ok(issued) => show_once(&st, &staff, &issued).await,
        Err(StoreError::Invalid(d)) => refuse(format!("Not made: {d}.")).await,
        Err(e) => unavailable(&e),
    }
}

#[derive(serde::Deserialize)]
pub struct KeyForm {
    csrf: String,
    #[serde(default)]
    overlap_hours: Option<String>,
}

fn key_id(raw: &str) -> Option<ApiKeyId> {
    ApiKeyId::parse(raw).ok()
}

/// `POST /dashboard/api-keys/{id}/revoke`.
pub async fn revoke(
    State(st): State<AppState>,
    Require { staff, .. }: Require<perm::ManageKeys>,
    Path(raw): Path<String>,
    Form(f): Form<KeyForm>,
) -> Response {
    if !csrf_ok_for(&staff, &f.csrf) {
        return super::dashboard::form_expired();
    }
    let Some(id) = key_id(&raw) else {
        return text(StatusCode::NOT_FOUND, "No such key.");
    };
    let s = staff.session();
    match st
        .store
        .revoke_api_key(s.scope, id, Actor::Staff(s.user))
        .await
    {
        Ok(_) => Redirect::to("/dashboard/api-keys").into_response(),
        Err(StoreError::NotFound) => text(StatusCode::NOT_FOUND, "No such key."),
        Err(e) => unavailable(&e),
    }
}

/// `POST /dashboard/api-keys/revoke-all`: every usable key of the clinic, at once.
pub async fn revoke_all(
    State(st): State<AppState>,
    Require { staff, .. }: Require<perm::ManageKeys>,
    Form(f): Form<KeyForm>,
) -> Response {
    if !csrf_ok_for(&staff, &f.csrf) {
        return super::dashboard::form_expired();
    }
    let s = staff.session();
    match st
        .store
        .revoke_all_api_keys(s.scope, Actor::Staff(s.user))
        .await
    {
        Ok(_) => Redirect::to("/dashboard/api-keys").into_response(),
        Err(e) => unavailable(&e),
    }
}

/// `POST /dashboard/api-keys/{id}/rotate`: `overlap_hours` (0 to 720, default 24).
pub async fn rotate(
    State(st): State<AppState>,
    Require { staff, .. }: Require<perm::ManageKeys>,
    Path(raw): Path<String>,
    Form(f): Form<KeyForm>,
) -> Response {
    if !csrf_ok_for(&staff, &f.csrf) {
        return super::dashboard::form_expired();
    }
    let Some(id) = key_id(&raw) else {
        return text(StatusCode::NOT_FOUND, "No such key.");
    };
    let Some(hours) = overlap_hours(f.overlap_hours.as_deref()) else {
        let msg = BAD_OVERLAP.to_owned();
        return render(
            &st,
            &staff,
            StatusCode::UNPROCESSABLE_ENTITY,
            None,
            Some(msg),
        )
        .await;
    };
    let s = staff.session();
    match st
        .store
        .rotate_api_key(s.scope, id, hours, Actor::Staff(s.user))
        .await
    {
        Ok(issued) => show_once(&st, &staff, &issued).await,
        Err(StoreError::NotFound) => text(StatusCode::NOT_FOUND, "No such key."),
        Err(StoreError::Conflict(m)) => {
            render(
                &st,
                &staff,
                StatusCode::CONFLICT,
                None,
                Some(format!("Not rotated: {m}.")),
            )
            .await
        }
        Err(e) => unavailable(&e),
    }
}
