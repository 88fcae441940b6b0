//! The staff inbox and conversation takeover (issue #7 item 4).
//!
//! `GET /dashboard/inbox` lists the clinic's conversations across channels (urgency, triage
//! level, who holds each, unread for this staff member), searchable by phone (blind index) or
//! name. `GET /dashboard/conversations/{id}` shows one conversation with its takeover events;
//! staff who may reply take it over, reply (through the same outbox as the AI) and give it
//! back. The hold itself is enforced by the store and the outbox, not by these pages: while
//! someone holds a conversation the AI sends nothing on any channel.
//!
//! Roles: `ViewConversations` to read, `ReplyToPatients` to take over and reply. Roles whose
//! reach is "assigned to them" (Doctors, Read-Only Doctors) see no conversation until
//! assignments exist (a conversation's page answers 404 to them, like another clinic's).

use super::AppState;
use super::dashboard::{Staff, csrf_ok_for};
use askama::Template;
use axum::{
    Form,
    extract::{Path, Query, State},
    http::{HeaderValue, StatusCode, header},
    response::{IntoResponse, Redirect, Response},
};
use frontdesk_domain::{Access, ConversationId, E164Phone, Permission};
use frontdesk_store::{
    Direction, HELD_BY_ANOTHER, InboxQuery, NOT_HOLDING, Sender, StoreError, TenantScope,
};

const PAGE: u32 = 100;

fn text(status: StatusCode, msg: &'static str) -> Response {
    let mut r = (status, msg).into_response();
    r.headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    r
}

fn unavailable(e: &StoreError) -> Response {
    tracing::error!(error = ?e, "inbox store call failed");
    text(StatusCode::SERVICE_UNAVAILABLE, "Please try again shortly.")
}

/// Why a request is refused before the store is asked.
enum Refusal {
    /// The role lacks the permission: 403.
    Role,
    /// Unknown id, or not within the role's reach (which must not confirm the id): 404.
    NotFound,
    /// A form without this session's CSRF token: 403.
    Csrf,
}

impl Refusal {
    fn response(self) -> Response {
        match self {
            Refusal::Role => text(StatusCode::FORBIDDEN, "Your role does not allow this."),
            Refusal::NotFound => text(StatusCode::NOT_FOUND, "No such conversation."),
            Refusal::Csrf => text(
                StatusCode::FORBIDDEN,
                "This form has expired. Open the page again.",
            ),
        }
    }
}

/// The role's reach for `p`; no permission at all is refused (403). "Assigned only" is for
/// the caller to handle (nothing is assigned yet).
fn reach(staff: &Staff, p: Permission) -> Result<Access, Refusal> {
    match staff.session().role.access(p) {
        Access::None => Err(Refusal::Role),
        a => Ok(a),
    }
}

fn local(ts: jiff::Timestamp, tz: &str) -> String {
    ts.in_tz(tz)
        .map(|z| z.strftime("%a %-d %b %H:%M").to_string())
        .unwrap_or_else(|_| ts.to_string())
}

struct Row {
    id: String,
    name: String,
    channel: &'static str,
    urgency: String,
    triage: &'static str,
    reason: String,
    holder: Option<String>,
    unread: bool,
    last: String,
}

#[derive(Template)]
#[template(path = "dashboard/inbox.html")]
struct InboxPage {
    rows: Vec<Row>,
    phone: String,
    name: String,
    assigned_only: bool,
    error: Option<&'static str>,
}

#[derive(serde::Deserialize, Default)]
pub struct Search {
    #[serde(default)]
    phone: String,
    #[serde(default)]
    name: String,
}

/// `GET /dashboard/inbox`.
pub async fn inbox_page(
    State(st): State<AppState>,
    staff: Staff,
    Query(q): Query<Search>,
) -> Response {
    let access = match reach(&staff, Permission::ViewConversations) {
        Ok(a) => a,
        Err(r) => return r.response(),
    };
    let s = staff.session();
    let phone_raw = q.phone.trim();
    let mut error = None;
    let phone = if phone_raw.is_empty() {
        None
    } else {
        match E164Phone::parse(phone_raw) {
            Ok(p) => Some(p),
            Err(_) => {
                error = Some("Enter the phone number in international form, e.g. +64 21 555 0101.");
                None
            }
        }
    };
    let mut rows = Vec::new();
    if access == Access::All && error.is_none() {
        let tz = match st.store.clinic(s.scope).await {
            Ok(c) => c.profile.timezone,
            Err(e) => return unavailable(&e),
        };
        let query = InboxQuery {
            phone,
            name: Some(q.name.clone()).filter(|n| !n.trim().is_empty()),
            limit: PAGE,
        };
        let list = match st.store.inbox(s.scope, s.user, &query).await {
            Ok(l) => l,
            Err(e) => return unavailable(&e),
        };
        rows = list
            .into_iter()
            .map(|e| Row {
                id: e.conversation.to_string(),
                name: e.patient_name.unwrap_or_else(|| "Unnamed visitor".into()),
                channel: e.channel.as_str(),
                urgency: e.urgency,
                triage: e.triage.map_or("—", |t| t.as_str()),
                reason: e.reason.unwrap_or_default(),
                holder: e.holder.map(|h| {
                    if h.user == s.user {
                        "you".to_owned()
                    } else {
                        h.name
                    }
                }),
                unread: e.unread,
                last: local(e.last_message_at, tz.as_str()),
            })
            .collect();
    }
    let status = if error.is_some() {
        StatusCode::UNPROCESSABLE_ENTITY
    } else {
        StatusCode::OK
    };
    super::dashboard::page(
        status,
        &InboxPage {
            rows,
            phone: q.phone,
            name: q.name,
            assigned_only: access == Access::Assigned,
            error,
        },
    )
}

struct Line {
    who: &'static str,
    inbound: bool,
    body: String,
    at: String,
    status: String,
}

struct Event {
    what: &'static str,
    at: String,
}

#[derive(Template)]
#[template(path = "dashboard/conversation.html")]
struct ConversationPage {
    id: String,
    channel: &'static str,
    urgency: String,
    lines: Vec<Line>,
    events: Vec<Event>,
    /// Who holds it (their name, or "you") and until when.
    holder: Option<(String, String)>,
    mine: bool,
    can_reply: bool,
    replies_here: bool,
    csrf: String,
    error: Option<&'static str>,
}

fn conversation_id(raw: &str) -> Option<ConversationId> {
    ConversationId::parse(raw).ok()
}

async fn render(
    st: &AppState,
    staff: &Staff,
    scope: TenantScope,
    id: ConversationId,
    status: StatusCode,
    error: Option<&'static str>,
) -> Response {
    let s = staff.session();
    let conv = match st.store.conversation(scope, id).await {
        Ok(c) => c,
        Err(StoreError::NotFound) => return text(StatusCode::NOT_FOUND, "No such conversation."),
        Err(e) => return unavailable(&e),
    };
    let (clinic, messages, holder, events) = match (
        st.store.clinic(scope).await,
        st.store.messages(scope, id).await,
        st.store.holder(scope, id).await,
        st.store.conversation_events(scope, id, 50).await,
    ) {
        (Ok(c), Ok(m), Ok(h), Ok(ev)) => (c, m, h, ev),
        (Err(e), ..) | (_, Err(e), ..) | (_, _, Err(e), _) | (.., Err(e)) => {
            return unavailable(&e);
        }
    };
    let tz = clinic.profile.timezone.as_str();
    if let Err(e) = st.store.mark_read(scope, s.user, id).await {
        tracing::warn!(error = ?e, "could not mark a conversation read");
    }
    let lines = messages
        .into_iter()
        .map(|m| Line {
            who: match m.sender {
                Sender::Patient => "Patient",
                Sender::Agent => "AI receptionist",
                Sender::Staff => "Staff",
                Sender::System => "Automatic message",
            },
            inbound: m.direction == Direction::Inbound,
            body: m.body,
            at: local(m.created_at, tz),
            status: m.status,
        })
        .collect();
    let events = events
        .into_iter()
        .map(|e| Event {
            what: match e.action.as_str() {
                "conversation.taken_over" => "Taken over by staff",
                "conversation.released" => "Given back to the AI",
                _ => "Hold expired: back to the AI",
            },
            at: local(e.at, tz),
        })
        .collect();
    let mine = holder.as_ref().is_some_and(|h| h.user == s.user);
    let page = ConversationPage {
        id: id.to_string(),
        channel: conv.channel.as_str(),
        urgency: conv.urgency,
        lines,
        events,
        holder: holder.map(|h| {
            let who = if h.user == s.user {
                "you".to_owned()
            } else {
                h.name
            };
            (who, local(h.expires_at, tz))
        }),
        mine,
        can_reply: s.role.access(Permission::ReplyToPatients) == Access::All,
        replies_here: matches!(
            conv.channel,
            frontdesk_store::Channel::Whatsapp | frontdesk_store::Channel::Sms
        ),
        csrf: staff.csrf(),
        error,
    };
    super::dashboard::page(status, &page)
}

/// `GET /dashboard/conversations/{id}`.
pub async fn conversation_page(
    State(st): State<AppState>,
    staff: Staff,
    Path(raw): Path<String>,
) -> Response {
    match reach(&staff, Permission::ViewConversations) {
        Ok(Access::All) => {}
        Ok(_) => return Refusal::NotFound.response(),
        Err(r) => return r.response(),
    }
    let Some(id) = conversation_id(&raw) else {
        return text(StatusCode::NOT_FOUND, "No such conversation.");
    };
    render(&st, &staff, staff.session().scope, id, StatusCode::OK, None).await
}

#[derive(serde::Deserialize)]
pub struct CsrfOnly {
    csrf: String,
}

#[derive(serde::Deserialize)]
pub struct ReplyForm {
    csrf: String,
    text: String,
}

/// Checks role, id and CSRF for a takeover action; answers the conversation id.
fn action_guard(staff: &Staff, raw: &str, csrf: &str) -> Result<ConversationId, Refusal> {
    if reach(staff, Permission::ReplyToPatients)? != Access::All {
        return Err(Refusal::NotFound);
    }
    let id = conversation_id(raw).ok_or(Refusal::NotFound)?;
    if !csrf_ok_for(staff, csrf) {
        return Err(Refusal::Csrf);
    }
    Ok(id)
}

async fn after(
    st: &AppState,
    staff: &Staff,
    id: ConversationId,
    done: Result<(), StoreError>,
) -> Response {
    let scope = staff.session().scope;
    match done {
        Ok(()) => Redirect::to(&format!("/dashboard/conversations/{id}")).into_response(),
        Err(StoreError::NotFound) => text(StatusCode::NOT_FOUND, "No such conversation."),
        Err(StoreError::Conflict(HELD_BY_ANOTHER)) => {
            let msg = "Someone else holds this conversation. Only they can reply until they give it back or their hold expires.";
            render(st, staff, scope, id, StatusCode::CONFLICT, Some(msg)).await
        }
        Err(StoreError::Conflict(NOT_HOLDING)) => {
            let msg = "You no longer hold this conversation (it was given back or your hold expired). Take it over again to reply.";
            render(st, staff, scope, id, StatusCode::CONFLICT, Some(msg)).await
        }
        Err(StoreError::Invalid(e)) => {
            let msg = if e.code() == "invalid_channel" {
                "Replies from staff go out by WhatsApp or SMS; this conversation is on another channel."
            } else {
                "Write a reply of up to 4,096 characters."
            };
            render(
                st,
                staff,
                scope,
                id,
                StatusCode::UNPROCESSABLE_ENTITY,
                Some(msg),
            )
            .await
        }
        Err(e) => unavailable(&e),
    }
}

/// `POST /dashboard/conversations/{id}/takeover`: take it from the AI (or renew one's hold).
pub async fn take_over(
    State(st): State<AppState>,
    staff: Staff,
    Path(raw): Path<String>,
    Form(f): Form<CsrfOnly>,
) -> Response {
    let id = match action_guard(&staff, &raw, &f.csrf) {
        Ok(id) => id,
        Err(r) => return r.response(),
    };
    let s = staff.session();
    let done = st
        .store
        .take_over(s.scope, id, s.user, st.dashboard.staff_hold)
        .await
        .map(|_| ());
    after(&st, &staff, id, done).await
}

/// `POST /dashboard/conversations/{id}/release`: give it back to the AI.
pub async fn release(
    State(st): State<AppState>,
    staff: Staff,
    Path(raw): Path<String>,
    Form(f): Form<CsrfOnly>,
) -> Response {
    let id = match action_guard(&staff, &raw, &f.csrf) {
        Ok(id) => id,
        Err(r) => return r.response(),
    };
    let s = staff.session();
    let done = st.store.release(s.scope, id, s.user).await;
    after(&st, &staff, id, done).await
}

/// `POST /dashboard/conversations/{id}/reply`: a staff reply, through the outbox.
pub async fn reply(
    State(st): State<AppState>,
    staff: Staff,
    Path(raw): Path<String>,
    Form(f): Form<ReplyForm>,
) -> Response {
    let id = match action_guard(&staff, &raw, &f.csrf) {
        Ok(id) => id,
        Err(r) => return r.response(),
    };
    let s = staff.session();
    let done = st
        .store
        .staff_reply(s.scope, id, s.user, &f.text, st.dashboard.staff_hold)
        .await
        .map(|_| ());
    if done.is_ok() {
        // The outbox worker sends it now rather than at its next poll.
        st.channels.wake.notify_one();
    }
    after(&st, &staff, id, done).await
}
