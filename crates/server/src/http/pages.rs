//! Server-rendered pages. Templates are askama (compile-checked, auto-escaped); scripts and
//! styles are our own static files, so the strict CSP needs no `unsafe-inline`.

use super::{AppState, error::AppError};
use askama::Template;
use axum::{
    extract::{Path, State},
    http::{StatusCode, header},
    response::{Html, IntoResponse, Response},
};
use frontdesk_domain::TenantSlug;
use frontdesk_store::StoreError;

#[derive(Template)]
#[template(path = "chat.html")]
struct ChatPage<'a> {
    slug: &'a str,
    clinic_name: &'a str,
    lang: &'a str,
    emergency: String,
}

pub async fn chat_page(
    State(st): State<AppState>,
    Path(raw_slug): Path<String>,
) -> Result<Response, AppError> {
    let not_found = || {
        AppError::client(
            StatusCode::NOT_FOUND,
            "unknown_tenant",
            "No clinic with this address.",
        )
    };
    let slug = TenantSlug::parse(&raw_slug).map_err(|_| not_found())?;
    // The chat page is public: it reads only the clinic's public profile, by slug.
    let clinic = st.store.public_clinic(&slug).await.map_err(|e| match e {
        StoreError::NotFound => not_found(),
        e => e.into(),
    })?;
    let page = ChatPage {
        slug: clinic.slug.as_str(),
        clinic_name: &clinic.profile.name,
        lang: clinic
            .profile
            .languages
            .first()
            .map(String::as_str)
            .unwrap_or("en"),
        emergency: clinic.profile.emergency_phrase(),
    };
    let html = page.render().map_err(|e| {
        tracing::error!(error = %e, "template render failed");
        AppError::client(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal",
            "Something went wrong on our side.",
        )
    })?;
    Ok(Html(html).into_response())
}

pub async fn webchat_js() -> Response {
    (
        [
            (header::CONTENT_TYPE, "text/javascript; charset=utf-8"),
            (header::CACHE_CONTROL, "public, max-age=300"),
        ],
        include_str!("../../static/webchat.js"),
    )
        .into_response()
}

pub async fn webchat_css() -> Response {
    (
        [
            (header::CONTENT_TYPE, "text/css; charset=utf-8"),
            (header::CACHE_CONTROL, "public, max-age=300"),
        ],
        include_str!("../../static/webchat.css"),
    )
        .into_response()
}
