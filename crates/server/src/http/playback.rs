//! Staff playback of call recordings (issue #5 item 2): a page with an audio player whose
//! source is a signed URL that
//!
//! * expires 5 minutes after it was made (a later or farther-future expiry is refused);
//! * is bound to the staff session: its signature is an HMAC keyed with the session's own
//!   secret (which only that browser's cookie holds), over the clinic, the recording and the
//!   expiry, so it works for nobody else, for no other recording, and after logout not at all;
//! * carries no secret usable elsewhere: the URL holds only the expiry and the MAC.
//!
//! The audio is read from blob storage, opened with the patient's key (a shredded patient's
//! recording cannot be played), served `no-store`, and every playback is audited
//! (`recording.played`). Who may listen is the permission matrix's `PlayRecordings`: all of
//! the clinic's recordings for those with `All`; for `Assigned` roles, the recordings of the
//! conversations assigned to them; another clinic's recording is always 404.

use super::AppState;
use super::dashboard::{Require, Staff, perm};
use askama::Template;
use axum::{
    extract::{Path, Query, State},
    http::{HeaderValue, StatusCode, header},
    response::{Html, IntoResponse, Response},
};
use base64::{Engine as _, engine::general_purpose::URL_SAFE_NO_PAD};
use frontdesk_domain::{Access, Permission, RecordingId, TenantId};
use frontdesk_store::{Actor, AuditEvent, CallRecording, RecordingStatus, StoreError};
use hmac::{Hmac, KeyInit, Mac};
use sha2::Sha256;
use subtle::ConstantTimeEq;

/// How long a playback URL works.
pub const URL_TTL_SECS: i64 = 5 * 60;

/// The signature of a playback URL: HMAC-SHA256 keyed with the session secret.
fn signature(session_secret: &str, tenant: TenantId, id: RecordingId, exp: i64) -> String {
    let Ok(mut mac) = <Hmac<Sha256> as KeyInit>::new_from_slice(session_secret.as_bytes()) else {
        return String::new(); // HMAC takes keys of any length: unreachable
    };
    mac.update(format!("frontdesk-recording\0{tenant}\0{id}\0{exp}").as_bytes());
    URL_SAFE_NO_PAD.encode(mac.finalize().into_bytes())
}

/// The playback URL of recording `id` for this session, valid for five minutes from `now`.
pub fn signed_url(session_secret: &str, tenant: TenantId, id: RecordingId, now: i64) -> String {
    let exp = now + URL_TTL_SECS;
    format!(
        "/dashboard/recordings/{id}/audio?exp={exp}&sig={}",
        signature(session_secret, tenant, id, exp)
    )
}

/// Whether a playback URL is valid for this session at `now`.
fn url_ok(
    session_secret: &str,
    tenant: TenantId,
    id: RecordingId,
    exp: i64,
    sig: &str,
    now: i64,
) -> bool {
    let fresh = exp >= now && exp <= now + URL_TTL_SECS;
    let mac_ok: bool = signature(session_secret, tenant, id, exp)
        .as_bytes()
        .ct_eq(sig.as_bytes())
        .into();
    fresh & mac_ok
}

/// Why a recording is not played; each maps to one answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Refusal {
    /// Unknown, another clinic's, not stored yet, shredded, or not assigned to this doctor.
    NotFound,
    /// The role may not listen to recordings at all.
    Role,
    /// The URL expired, was altered, or belongs to another session.
    Url,
    /// Storage could not answer (the cause is logged).
    Unavailable,
    /// No recordings storage is configured.
    NoStorage,
}

impl IntoResponse for Refusal {
    fn into_response(self) -> Response {
        let (status, text) = match self {
            Refusal::NotFound => (StatusCode::NOT_FOUND, "No such recording."),
            Refusal::Role => (
                StatusCode::FORBIDDEN,
                "Your role may not listen to recordings.",
            ),
            Refusal::Url => (
                StatusCode::FORBIDDEN,
                "This playback link has expired or belongs to another session. Open the recording again.",
            ),
            Refusal::Unavailable => (StatusCode::SERVICE_UNAVAILABLE, "Please try again shortly."),
            Refusal::NoStorage => (
                StatusCode::SERVICE_UNAVAILABLE,
                "Recordings storage is not configured.",
            ),
        };
        let mut resp = (status, text).into_response();
        resp.headers_mut()
            .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
        resp
    }
}

/// The stored recording `raw_id` if this staff member may listen to it. Who may: the
/// clinic's recordings with `All`; with `Assigned`, the recordings of conversations assigned
/// to them (any other is 404, like an unknown id).
async fn listenable(st: &AppState, staff: &Staff, raw_id: &str) -> Result<CallRecording, Refusal> {
    let access = staff.session().role.access(Permission::PlayRecordings);
    if access == Access::None {
        return Err(Refusal::Role);
    }
    let id = RecordingId::parse(raw_id).map_err(|_| Refusal::NotFound)?;
    if access == Access::Assigned {
        let s = staff.session();
        match st
            .store
            .is_assigned(s.scope, s.user, frontdesk_store::Assignable::Recording(id))
            .await
        {
            Ok(true) => {}
            Ok(false) => return Err(Refusal::NotFound),
            Err(e) => {
                tracing::error!(error = ?e, "recording assignment check failed");
                return Err(Refusal::Unavailable);
            }
        }
    }
    match st.store.recording(staff.session().scope, id).await {
        Ok(r) if r.status == RecordingStatus::Stored && r.blob_key.is_some() => Ok(r),
        Ok(_) | Err(StoreError::NotFound) => Err(Refusal::NotFound),
        Err(e) => {
            tracing::error!(error = ?e, "recording read failed");
            Err(Refusal::Unavailable)
        }
    }
}

#[derive(Template)]
#[template(path = "dashboard/recording.html")]
struct RecordingPage {
    id: String,
    when: String,
    duration: String,
    src: String,
}

/// `GET /dashboard/recordings/{id}`: the player, with a fresh signed URL.
pub async fn recording_page(
    State(st): State<AppState>,
    Require { staff, .. }: Require<perm::PlayRecordings>,
    Path(id): Path<String>,
) -> Response {
    let rec = match listenable(&st, &staff, &id).await {
        Ok(r) => r,
        Err(refusal) => return refusal.into_response(),
    };
    let (id, scope) = (rec.id, staff.session().scope);
    let tz = match st.store.clinic(scope).await {
        Ok(c) => c.profile.timezone,
        Err(_) => "UTC".to_owned(),
    };
    let now = st.clock.now().as_second();
    let page = RecordingPage {
        id: id.to_string(),
        when: rec
            .created_at
            .in_tz(&tz)
            .map(|z| z.strftime("%a %-d %b %Y, %H:%M").to_string())
            .unwrap_or_else(|_| rec.created_at.to_string()),
        duration: rec
            .duration_secs
            .map(|s| format!("{}:{:02}", s / 60, s % 60))
            .unwrap_or_else(|| "unknown length".into()),
        src: signed_url(staff.secret(), scope.tenant_id(), id, now),
    };
    match page.render() {
        Ok(html) => {
            let mut resp = Html(html).into_response();
            let h = resp.headers_mut();
            h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
            // The player needs media from our own origin; everything else stays as strict.
            let csp = format!("{}; media-src 'self'", super::CSP);
            if let Ok(v) = HeaderValue::from_str(&csp) {
                h.insert(header::CONTENT_SECURITY_POLICY, v);
            }
            resp
        }
        Err(e) => {
            tracing::error!(error = %e, "recording page failed");
            (
                StatusCode::INTERNAL_SERVER_ERROR,
                "Something went wrong on our side.",
            )
                .into_response()
        }
    }
}

#[derive(serde::Deserialize)]
pub struct AudioQuery {
    exp: i64,
    sig: String,
}

/// `GET /dashboard/recordings/{id}/audio?exp=…&sig=…`: the audio, for this session only.
pub async fn recording_audio(
    State(st): State<AppState>,
    Require { staff, .. }: Require<perm::PlayRecordings>,
    Path(id): Path<String>,
    Query(q): Query<AudioQuery>,
) -> Response {
    match play(&st, &staff, &id, &q).await {
        Ok(audio) => (
            [
                (header::CONTENT_TYPE, "audio/mpeg"),
                (header::CACHE_CONTROL, "no-store"),
                (header::CONTENT_DISPOSITION, "inline"),
            ],
            audio.to_vec(),
        )
            .into_response(),
        Err(refusal) => refusal.into_response(),
    }
}

/// Checks the URL, reads and opens the audio, and audits the playback.
async fn play(
    st: &AppState,
    staff: &Staff,
    raw_id: &str,
    q: &AudioQuery,
) -> Result<zeroize::Zeroizing<Vec<u8>>, Refusal> {
    let scope = staff.session().scope;
    let now = st.clock.now().as_second();
    let id = RecordingId::parse(raw_id).map_err(|_| Refusal::NotFound)?;
    if !url_ok(staff.secret(), scope.tenant_id(), id, q.exp, &q.sig, now) {
        return Err(Refusal::Url);
    }
    let rec = listenable(st, staff, raw_id).await?;
    let blobs = st.dashboard.blobs.as_ref().ok_or(Refusal::NoStorage)?;
    let key = rec.blob_key.as_deref().ok_or(Refusal::NotFound)?;
    let sealed = blobs.get(key).await.map_err(|e| {
        tracing::error!(error = %e, "recording blob read failed");
        Refusal::Unavailable
    })?;
    let audio = match st.store.open_recording(scope, id, &sealed).await {
        Ok(a) => a,
        // The patient's key destroyed (erased), or the blob is not this recording's.
        Err(StoreError::NotFound | StoreError::Crypto(_)) => return Err(Refusal::NotFound),
        Err(e) => {
            tracing::error!(error = ?e, "recording open failed");
            return Err(Refusal::Unavailable);
        }
    };
    let user = staff.session().user;
    let ev = AuditEvent::new(Actor::Staff(user), "recording.played").target("recording", id);
    st.store.append_audit(scope, &ev).await.map_err(|e| {
        // No playback that the audit log does not show.
        tracing::error!(error = ?e, "recording playback not audited; refused");
        Refusal::Unavailable
    })?;
    Ok(audio)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_are_bound_to_session_recording_and_time() {
        let (t, id) = (TenantId::new(), RecordingId::new());
        let now = 1_900_000_000;
        let url = signed_url("session-a", t, id, now);
        let exp = now + URL_TTL_SECS;
        let sig = url.split("sig=").nth(1).unwrap();
        assert!(url.contains(&format!("exp={exp}")));
        assert!(!url.contains("session-a"));
        assert!(url_ok("session-a", t, id, exp, sig, now));
        assert!(
            url_ok("session-a", t, id, exp, sig, exp),
            "valid up to its expiry"
        );
        assert!(!url_ok("session-a", t, id, exp, sig, exp + 1), "expired");
        assert!(
            !url_ok("session-b", t, id, exp, sig, now),
            "another session"
        );
        assert!(
            !url_ok("session-a", t, RecordingId::new(), exp, sig, now),
            "another recording"
        );
        assert!(
            !url_ok("session-a", TenantId::new(), id, exp, sig, now),
            "another clinic"
        );
        // An expiry pushed further out breaks the MAC; one signed further out is refused.
        assert!(!url_ok("session-a", t, id, exp + 600, sig, now));
        let far = signature("session-a", t, id, now + 3600);
        assert!(!url_ok("session-a", t, id, now + 3600, &far, now));
    }
}
