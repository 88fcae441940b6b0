//! Server-rendered pages. Templates are askama (compile-checked, auto-escaped); scripts and
//! styles are our own static files, so the strict CSP needs no `unsafe-inline`.

use super::{AppState, error::AppError};
use askama::Template;
use axum::{
    extract::{Path, State},
    http::{HeaderName, HeaderValue, StatusCode, header},
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
    /// Inside the website widget's iframe: a close button, and the page may be framed.
    embedded: bool,
}

fn not_found() -> AppError {
    AppError::client(
        StatusCode::NOT_FOUND,
        "unknown_tenant",
        "No clinic with this address.",
    )
}

/// Renders the chat page for the clinic with this slug; also returns who may frame it.
async fn render_chat(
    st: &AppState,
    raw_slug: &str,
    embedded: bool,
) -> Result<(String, Vec<String>), AppError> {
    let slug = TenantSlug::parse(raw_slug).map_err(|_| not_found())?;
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
        embedded,
    };
    let html = page.render().map_err(|e| {
        tracing::error!(error = %e, "template render failed");
        AppError::client(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal",
            "Something went wrong on our side.",
        )
    })?;
    Ok((html, clinic.profile.widget_origins))
}

pub async fn chat_page(
    State(st): State<AppState>,
    Path(raw_slug): Path<String>,
) -> Result<Response, AppError> {
    let (html, _) = render_chat(&st, &raw_slug, false).await?;
    Ok(Html(html).into_response())
}

/// The page inside the website widget's iframe. Only the clinic's own sites (its
/// `widget_origins`, checked by [`frontdesk_domain::clinic::parse_widget_origin`] so they
/// cannot inject CSP syntax) may frame it; with none, nobody may.
pub async fn widget_page(
    State(st): State<AppState>,
    Path(raw_slug): Path<String>,
) -> Result<Response, AppError> {
    let (html, origins) = render_chat(&st, &raw_slug, true).await?;
    let ancestors = if origins.is_empty() {
        "'none'".to_owned()
    } else {
        origins.join(" ")
    };
    let csp = super::CSP.replace(
        "frame-ancestors 'none'",
        &format!("frame-ancestors {ancestors}"),
    );
    let mut resp = Html(html).into_response();
    let headers = resp.headers_mut();
    headers.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_str(&csp).map_err(|_| not_found())?,
    );
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    Ok(resp)
}

/// The loader a clinic puts on its own site. It may be loaded from any origin (and from pages
/// that require `Cross-Origin-Resource-Policy`).
pub async fn widget_js() -> Response {
    (
        [
            (header::CONTENT_TYPE, "text/javascript; charset=utf-8"),
            (header::CACHE_CONTROL, "public, max-age=300"),
            (
                HeaderName::from_static("cross-origin-resource-policy"),
                "cross-origin",
            ),
        ],
        include_str!("../../static/widget.js"),
    )
        .into_response()
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
