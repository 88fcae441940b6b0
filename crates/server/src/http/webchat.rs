//! The web chat API, the first channel end to end.
//!
//! - `POST /v1/webchat/{tenant_slug}/sessions` → `201 {"token", "conversation_id", "expires_at"}`
//! - `POST /v1/webchat/{tenant_slug}/messages` with `Authorization: Bearer <token>` and
//!   `{"text": "…"}` → `200 {"replies": [{"text": "…"}]}`; with `Accept: text/event-stream`
//!   the answer is a server-sent event stream instead: `received` at once, one `reply`
//!   (`{"text"}`) per reply as it is ready, then `done` (or `error` with `{"error": {…}}`).
//! - `GET /v1/webchat/{tenant_slug}/messages` (same token) → `200 {"messages": [{"from",
//!   "text", "at"}]}`: the conversation so far, so a page reload resumes it.
//!
//! Errors use the one JSON shape `{"error": {"code", "message"}}`: unknown clinic 404,
//! missing / invalid / other clinic's token 401, non-JSON 400, wrong shape or empty text 422,
//! text over 4 KiB or body over 16 KiB 413.

use super::{AppState, error::AppError};
use crate::turn::{MAX_TEXT_BYTES, handle_patient_message_with};
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::{
    Json,
    body::Body,
    extract::{Path, State},
    http::{HeaderMap, HeaderValue, StatusCode, header},
    response::{IntoResponse, Response},
};
use frontdesk_domain::TenantSlug;
use frontdesk_store::{Sender, StoreError, WebchatAuth};
use serde::Deserialize;
use serde_json::json;
use std::convert::Infallible;
use tracing::Instrument;

/// The most recent messages a resumed chat shows.
const HISTORY_LIMIT: usize = 200;

/// Whole request body cap (JSON overhead and escapes included).
const MAX_BODY_BYTES: usize = 16 * 1024;

fn slug(raw: &str) -> Result<TenantSlug, AppError> {
    TenantSlug::parse(raw).map_err(|_| AppError::unknown_tenant())
}

fn tenant_errors(e: StoreError) -> AppError {
    match e {
        StoreError::NotFound => AppError::unknown_tenant(),
        StoreError::Unauthorized => AppError::invalid_token(),
        other => other.into(),
    }
}

fn no_store(mut resp: Response) -> Response {
    resp.headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    resp
}

pub async fn create_session(
    State(st): State<AppState>,
    Path(raw_slug): Path<String>,
) -> Result<Response, AppError> {
    let slug = slug(&raw_slug)?;
    let start = st
        .store
        .start_webchat(&slug, st.webchat_ttl)
        .await
        .map_err(tenant_errors)?;
    let body = json!({
        "token": start.token.as_str(),
        "conversation_id": start.conversation_id,
        "expires_at": start.expires_at.to_string(),
    });
    Ok(no_store((StatusCode::CREATED, Json(body)).into_response()))
}

fn bearer(headers: &HeaderMap) -> Option<&str> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.split_once(' ')?;
    (scheme.eq_ignore_ascii_case("bearer") && !token.trim().is_empty()).then(|| token.trim())
}

async fn authenticate(
    st: &AppState,
    raw_slug: &str,
    headers: &HeaderMap,
) -> Result<WebchatAuth, AppError> {
    let slug = slug(raw_slug)?;
    let token = bearer(headers).ok_or_else(AppError::invalid_token)?;
    st.store
        .authenticate_webchat(&slug, token)
        .await
        .map_err(tenant_errors)
}

/// The conversation so far (patient, receptionist and staff messages; the last
/// [`HISTORY_LIMIT`]), for a page that was reloaded, and polled by the chat page for the
/// replies of staff who took the conversation over (those reach the patient only here).
pub async fn history(
    State(st): State<AppState>,
    Path(raw_slug): Path<String>,
    headers: HeaderMap,
) -> Result<Response, AppError> {
    let auth = authenticate(&st, &raw_slug, &headers).await?;
    let messages = st.store.messages(auth.scope, auth.conversation_id).await?;
    let shown: Vec<_> = messages
        .iter()
        .filter(|m| matches!(m.sender, Sender::Patient | Sender::Agent | Sender::Staff))
        .collect();
    let shown: Vec<_> = shown[shown.len().saturating_sub(HISTORY_LIMIT)..]
        .iter()
        .map(|m| {
            json!({
                "id": m.id.to_string(),
                "from": m.sender.as_str(),
                "text": m.body,
                "at": m.created_at.to_string(),
            })
        })
        .collect();
    Ok(no_store(Json(json!({ "messages": shown })).into_response()))
}

fn wants_stream(headers: &HeaderMap) -> bool {
    headers
        .get_all(header::ACCEPT)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .any(|v| v.contains("text/event-stream"))
}

/// Answers a turn as server-sent events. The turn runs in its own task: if the visitor goes
/// away mid-turn it still completes (message and replies are stored in one transaction) and
/// the replies are there when the chat is resumed.
fn stream_turn(st: AppState, auth: WebchatAuth, text: String) -> Response {
    let (tx, rx) = tokio::sync::mpsc::channel::<Event>(8);
    let turn = async move {
        let _ = tx.send(Event::default().event("received").data("{}")).await;
        let events = match handle_patient_message_with(
            st.store.as_ref(),
            st.clock.as_ref(),
            &st.channels.models,
            auth.scope,
            auth.conversation_id,
            auth.patient_id,
            &text,
        )
        .await
        {
            Ok(replies) => replies
                .into_iter()
                .map(|t| {
                    Event::default()
                        .event("reply")
                        .data(json!({ "text": t }).to_string())
                })
                .collect(),
            Err(e) => vec![error_event(e.into()).await],
        };
        for ev in events
            .into_iter()
            .chain([Event::default().event("done").data("{}")])
        {
            if tx.send(ev).await.is_err() {
                return; // the visitor left; what was stored stays stored
            }
        }
    };
    tokio::spawn(turn.instrument(tracing::Span::current()));
    let stream = futures_util::stream::unfold(rx, |mut rx| async move {
        rx.recv().await.map(|ev| (Ok::<_, Infallible>(ev), rx))
    });
    no_store(
        Sse::new(stream)
            .keep_alive(KeepAlive::default())
            .into_response(),
    )
}

/// The same `{"error": {"code", "message"}}` a JSON answer would carry (the cause is logged
/// by [`AppError`]'s own mapping).
async fn error_event(e: AppError) -> Event {
    let body = axum::body::to_bytes(e.into_response().into_body(), 16 * 1024)
        .await
        .unwrap_or_default();
    let data = String::from_utf8(body.to_vec()).unwrap_or_else(|_| "{}".to_owned());
    Event::default().event("error").data(data)
}

#[derive(Deserialize)]
struct MessageIn {
    text: String,
}

pub async fn post_message(
    State(st): State<AppState>,
    Path(raw_slug): Path<String>,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, AppError> {
    let auth = authenticate(&st, &raw_slug, &headers).await?;
    let bytes = axum::body::to_bytes(body, MAX_BODY_BYTES)
        .await
        .map_err(|_| {
            AppError::client(
                StatusCode::PAYLOAD_TOO_LARGE,
                "payload_too_large",
                "The request body is too large.",
            )
        })?;
    let invalid_body = || {
        AppError::client(
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_body",
            "Send a JSON object with a \"text\" string.",
        )
    };
    let value: serde_json::Value = serde_json::from_slice(&bytes).map_err(|_| {
        AppError::client(
            StatusCode::BAD_REQUEST,
            "invalid_json",
            "The request body is not valid JSON.",
        )
    })?;
    // Only an object: serde would otherwise accept `["…"]` as a struct.
    if !value.is_object() {
        return Err(invalid_body());
    }
    let msg: MessageIn = serde_json::from_value(value).map_err(|_| invalid_body())?;
    if msg.text.trim().is_empty() {
        return Err(AppError::client(
            StatusCode::UNPROCESSABLE_ENTITY,
            "empty_text",
            "The message is empty.",
        ));
    }
    if msg.text.len() > MAX_TEXT_BYTES {
        return Err(AppError::client(
            StatusCode::PAYLOAD_TOO_LARGE,
            "text_too_long",
            "The message is longer than 4 KiB.",
        ));
    }
    if wants_stream(&headers) {
        return Ok(stream_turn(st, auth, msg.text));
    }
    let replies = handle_patient_message_with(
        st.store.as_ref(),
        st.clock.as_ref(),
        &st.channels.models,
        auth.scope,
        auth.conversation_id,
        auth.patient_id,
        &msg.text,
    )
    .await?;
    let replies: Vec<_> = replies
        .into_iter()
        .map(|text| json!({ "text": text }))
        .collect();
    Ok(no_store(
        Json(json!({ "replies": replies })).into_response(),
    ))
}
