//! The staff inbox and conversation takeover (issue #7 item 4).
//!
//! `GET /dashboard/inbox` lists the clinic's conversations across channels (urgency, triage
//! level, who holds each, unread for this staff member), searchable by phone (blind index) or
//! name. `GET /dashboard/conversations/{id}` shows one conversation with its takeover events;
//! staff who may reply take it over, reply (through the same outbox as the AI) and give it
//! back. The hold itself is enforced by the store and the outbox, not by these pages: while
//! someone holds a conversation the AI sends nothing on any channel.
//!
//! Roles: `ViewConversations` to read, `ReplyToPatients` to take over and reply, `DraftReply`
//! to suggest a reply someone else sends. Roles whose reach is "assigned to them" (Doctors,
//! Read-Only Doctors) see only the conversations assigned to them; any other conversation's
//! page answers 404 to them, like another clinic's. Staff who work the whole inbox (reply
//! with reach over everything) assign conversations to them.

use super::AppState;
use super::dashboard::{
    Require, Staff, csrf_ok_for, perm, plain as text, store_failed as unavailable,
};
use askama::Template;
use axum::{
    Form,
    extract::{Path, Query, State},
    http::{HeaderValue, StatusCode, header},
    response::{IntoResponse, Redirect, Response},
};
use frontdesk_domain::{Access, ConversationId, DraftId, E164Phone, Permission, UserId};
use frontdesk_store::{
    Actor, Assignable, DRAFT_DECIDED, Direction, HELD_BY_ANOTHER, InboxQuery, NOT_HOLDING,
    OWN_DRAFT, Sender, StaffSession, StoreError,
};

const PAGE: u32 = 100;

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
            Refusal::Csrf => super::dashboard::form_expired(),
        }
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
    assignee: Option<String>,
    unread: bool,
    last: String,
}

#[derive(Template)]
#[template(path = "dashboard/inbox.html")]
struct InboxPage {
    rows: Vec<Row>,
    assigned_only: bool,
    searched: bool,
    phone: String,
    name: String,
    live_url: String,
    error: Option<&'static str>,
}

/// The inbox's live region alone (what a live update replaces).
#[derive(Template)]
#[template(path = "dashboard/inbox_list.html")]
struct InboxList {
    rows: Vec<Row>,
    assigned_only: bool,
    searched: bool,
}

#[derive(serde::Deserialize, Default, Clone)]
pub struct Search {
    #[serde(default)]
    phone: String,
    #[serde(default)]
    name: String,
}

impl Search {
    /// The phone searched for; `Err` when one was given and is not a phone number.
    fn phone(&self) -> Result<Option<E164Phone>, &'static str> {
        let raw = self.phone.trim();
        if raw.is_empty() {
            return Ok(None);
        }
        E164Phone::parse(raw)
            .map(Some)
            .map_err(|_| "Enter the phone number in international form, e.g. +64 21 555 0101.")
    }

    fn searched(&self) -> bool {
        !self.phone.trim().is_empty() || !self.name.trim().is_empty()
    }

    /// This search as a query string (for the live-update URL).
    fn query_string(&self) -> String {
        fn enc(v: &str) -> String {
            v.bytes()
                .map(|b| {
                    if b.is_ascii_alphanumeric() || b"-_.~".contains(&b) {
                        (b as char).to_string()
                    } else {
                        format!("%{b:02X}")
                    }
                })
                .collect()
        }
        format!("phone={}&name={}", enc(&self.phone), enc(&self.name))
    }
}

/// The inbox rows `s` may see for this search: everything, or what is assigned to them.
async fn inbox_rows(
    st: &AppState,
    s: &StaffSession,
    search: &Search,
    phone: Option<E164Phone>,
) -> Result<Vec<Row>, StoreError> {
    let assignee = match s.role.access(Permission::ViewConversations) {
        Access::All => None,
        Access::Assigned => Some(s.user),
        Access::None => return Ok(Vec::new()),
    };
    let tz = st.store.clinic(s.scope).await?.profile.timezone;
    let query = InboxQuery {
        phone,
        name: Some(search.name.clone()).filter(|n| !n.trim().is_empty()),
        assignee,
        limit: PAGE,
    };
    let list = st.store.inbox(s.scope, s.user, &query).await?;
    Ok(list
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
            assignee: e.assignee.map(|(user, name)| {
                if user == s.user {
                    "you".to_owned()
                } else {
                    name
                }
            }),
            unread: e.unread,
            last: local(e.last_message_at, tz.as_str()),
        })
        .collect())
}

/// `GET /dashboard/inbox`.
pub async fn inbox_page(
    State(st): State<AppState>,
    Require { staff, access, .. }: Require<perm::ViewConversations>,
    Query(q): Query<Search>,
) -> Response {
    let (rows, error) = match q.phone() {
        Ok(phone) => match inbox_rows(&st, staff.session(), &q, phone).await {
            Ok(rows) => (rows, None),
            Err(e) => return unavailable(&e),
        },
        Err(msg) => (Vec::new(), Some(msg)),
    };
    let status = if error.is_some() {
        StatusCode::UNPROCESSABLE_ENTITY
    } else {
        StatusCode::OK
    };
    super::dashboard::page(
        status,
        &InboxPage {
            rows,
            assigned_only: access == Access::Assigned,
            searched: q.searched(),
            live_url: format!("/dashboard/inbox/live?{}", q.query_string()),
            phone: q.phone,
            name: q.name,
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

/// What a conversation's page shows that live updates refresh.
struct Live {
    channel: &'static str,
    urgency: String,
    lines: Vec<Line>,
    events: Vec<Event>,
    /// Who holds it (their name, or "you") and until when.
    holder: Option<(String, String)>,
    mine: bool,
    /// Who the conversation is assigned to ("you", or their name).
    assignee: Option<String>,
    drafts: Vec<DraftLine>,
    /// For the drafts' forms: the conversation, this session's CSRF token, and whether this
    /// staff member may send drafts (they reply here, and hold the conversation).
    id: String,
    csrf: String,
    can_send: bool,
}

struct DraftLine {
    id: String,
    author: String,
    text: String,
    at: String,
    own: bool,
}

/// Whether staff with `access` to `permission` reach this conversation: everything, or the
/// conversations assigned to them. Outside their reach it does not exist (404).
async fn reach(
    st: &AppState,
    s: &StaffSession,
    access: Access,
    id: ConversationId,
) -> Result<(), Response> {
    match access {
        Access::All => Ok(()),
        Access::None => Err(Refusal::Role.response()),
        Access::Assigned => match st
            .store
            .is_assigned(s.scope, s.user, Assignable::Conversation(id))
            .await
        {
            Ok(true) => Ok(()),
            Ok(false) => Err(Refusal::NotFound.response()),
            Err(e) => Err(unavailable(&e)),
        },
    }
}

#[derive(Template)]
#[template(path = "dashboard/conversation.html")]
struct ConversationPage {
    id: String,
    live: Live,
    can_reply: bool,
    replies_here: bool,
    /// May suggest a reply for someone else to send (and cannot reply themselves).
    can_draft: bool,
    /// May assign the conversation: the staff who can be chosen, and who is chosen now.
    assign: Option<Vec<(String, String, bool)>>,
    csrf: String,
    error: Option<&'static str>,
}

/// The conversation's live region alone.
#[derive(Template)]
#[template(path = "dashboard/conversation_live.html")]
struct ConversationLive {
    live: Live,
}

fn conversation_id(raw: &str) -> Option<ConversationId> {
    ConversationId::parse(raw).ok()
}

/// The conversation as `s` sees it now, whether staff may reply on its channel, and who it
/// is assigned to.
async fn conversation_live(
    st: &AppState,
    s: &StaffSession,
    id: ConversationId,
    csrf: String,
) -> Result<(Live, bool, Option<UserId>), StoreError> {
    let scope = s.scope;
    let conv = st.store.conversation(scope, id).await?;
    let clinic = st.store.clinic(scope).await?;
    let messages = st.store.messages(scope, id).await?;
    let holder = st.store.holder(scope, id).await?;
    let events = st.store.conversation_events(scope, id, 50).await?;
    let drafts = st.store.drafts(scope, id).await?;
    let assignee = match conv.assignee {
        Some(u) if u == s.user => Some("you".to_owned()),
        Some(u) => Some(
            st.store
                .list_users(scope)
                .await?
                .into_iter()
                .find(|m| m.id == u)
                .map_or_else(|| "a former colleague".to_owned(), |m| m.name),
        ),
        None => None,
    };
    let tz = clinic.profile.timezone.as_str();
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
    let replies_here = matches!(
        conv.channel,
        frontdesk_store::Channel::Whatsapp
            | frontdesk_store::Channel::Sms
            | frontdesk_store::Channel::Webchat
    );
    let drafts = drafts
        .into_iter()
        .map(|d| DraftLine {
            id: d.id.to_string(),
            own: d.author == s.user,
            author: d.author_name,
            text: d.text,
            at: local(d.created_at, tz),
        })
        .collect();
    let live = Live {
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
        assignee,
        drafts,
        id: id.to_string(),
        csrf,
        can_send: mine && replies_here && s.role.can(Permission::ReplyToPatients),
    };
    Ok((live, replies_here, conv.assignee))
}

async fn render(
    st: &AppState,
    staff: &Staff,
    id: ConversationId,
    status: StatusCode,
    error: Option<&'static str>,
) -> Response {
    let s = staff.session();
    let (live, replies_here, current) = match conversation_live(st, s, id, staff.csrf()).await {
        Ok(v) => v,
        Err(StoreError::NotFound) => return Refusal::NotFound.response(),
        Err(e) => return unavailable(&e),
    };
    if let Err(e) = st.store.mark_read(s.scope, s.user, id).await {
        tracing::warn!(error = ?e, "could not mark a conversation read");
    }
    let assign = if s.role.access(Permission::ReplyToPatients) == Access::All {
        let staff_list = match st.store.list_users(s.scope).await {
            Ok(list) => list,
            Err(e) => return unavailable(&e),
        };
        Some(
            staff_list
                .into_iter()
                .filter(|m| {
                    m.active && m.role.access(Permission::ViewConversations) == Access::Assigned
                })
                .map(|m| {
                    let label = format!("{} ({})", m.name, m.role.label());
                    (m.id.to_string(), label, current == Some(m.id))
                })
                .collect(),
        )
    } else {
        None
    };
    let page = ConversationPage {
        id: id.to_string(),
        live,
        // Reaching this page means the conversation is within the role's reach.
        can_reply: s.role.can(Permission::ReplyToPatients),
        replies_here,
        can_draft: s.role.can(Permission::DraftReply) && !s.role.can(Permission::ReplyToPatients),
        assign,
        csrf: staff.csrf(),
        error,
    };
    super::dashboard::page(status, &page)
}

/// `GET /dashboard/conversations/{id}`.
pub async fn conversation_page(
    State(st): State<AppState>,
    Require { staff, access, .. }: Require<perm::ViewConversations>,
    Path(raw): Path<String>,
) -> Response {
    let Some(id) = conversation_id(&raw) else {
        return text(StatusCode::NOT_FOUND, "No such conversation.");
    };
    if let Err(r) = reach(&st, staff.session(), access, id).await {
        return r;
    }
    let page = render(&st, &staff, id, StatusCode::OK, None).await;
    if page.status() == StatusCode::OK {
        // Who read which patient's conversation, for the clinic's access report. No audit
        // entry, no page: a view that cannot be recorded is not shown.
        let s = staff.session();
        let ev = frontdesk_store::AuditEvent::new(
            frontdesk_store::Actor::Staff(s.user),
            "conversation.viewed",
        )
        .target("conversation", id);
        if let Err(e) = st.store.append_audit(s.scope, &ev).await {
            return unavailable(&e);
        }
    }
    page
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

/// Checks the id, the role's reach and the CSRF token for an action on a conversation;
/// answers the conversation id.
async fn action_guard(
    st: &AppState,
    access: Access,
    staff: &Staff,
    raw: &str,
    csrf: &str,
) -> Result<ConversationId, Response> {
    let id = conversation_id(raw).ok_or_else(|| Refusal::NotFound.response())?;
    reach(st, staff.session(), access, id).await?;
    if !csrf_ok_for(staff, csrf) {
        return Err(Refusal::Csrf.response());
    }
    Ok(id)
}

async fn after(
    st: &AppState,
    staff: &Staff,
    id: ConversationId,
    done: Result<(), StoreError>,
) -> Response {
    match done {
        Ok(()) => Redirect::to(&format!("/dashboard/conversations/{id}")).into_response(),
        Err(StoreError::NotFound) => text(StatusCode::NOT_FOUND, "No such conversation."),
        Err(StoreError::Conflict(HELD_BY_ANOTHER)) => {
            let msg = "Someone else holds this conversation. Only they can reply until they give it back or their hold expires.";
            render(st, staff, id, StatusCode::CONFLICT, Some(msg)).await
        }
        Err(StoreError::Conflict(DRAFT_DECIDED)) => {
            let msg = "That suggested reply was already sent or discarded by someone else.";
            render(st, staff, id, StatusCode::CONFLICT, Some(msg)).await
        }
        Err(StoreError::Conflict(OWN_DRAFT)) => {
            let msg = "A suggested reply is sent by someone other than the person who wrote it.";
            render(st, staff, id, StatusCode::CONFLICT, Some(msg)).await
        }
        Err(StoreError::Conflict(NOT_HOLDING)) => {
            let msg = "You no longer hold this conversation (it was given back or your hold expired). Take it over again to reply.";
            render(st, staff, id, StatusCode::CONFLICT, Some(msg)).await
        }
        Err(StoreError::Invalid(e)) => {
            let msg = if e.code() == "invalid_channel" {
                "Replies from staff go out by WhatsApp, SMS or web chat; this conversation is a phone call."
            } else if e.code() == "invalid_assignee" {
                "Choose an active Doctor or Read-Only Doctor of this clinic."
            } else {
                "Write a reply of up to 4,096 characters."
            };
            render(st, staff, id, StatusCode::UNPROCESSABLE_ENTITY, Some(msg)).await
        }
        Err(e) => unavailable(&e),
    }
}

/// `POST /dashboard/conversations/{id}/takeover`: take it from the AI (or renew one's hold).
pub async fn take_over(
    State(st): State<AppState>,
    Require { staff, access, .. }: Require<perm::ReplyToPatients>,
    Path(raw): Path<String>,
    Form(f): Form<CsrfOnly>,
) -> Response {
    let id = match action_guard(&st, access, &staff, &raw, &f.csrf).await {
        Ok(id) => id,
        Err(r) => return r,
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
    Require { staff, access, .. }: Require<perm::ReplyToPatients>,
    Path(raw): Path<String>,
    Form(f): Form<CsrfOnly>,
) -> Response {
    let id = match action_guard(&st, access, &staff, &raw, &f.csrf).await {
        Ok(id) => id,
        Err(r) => return r,
    };
    let s = staff.session();
    let done = st.store.release(s.scope, id, s.user).await;
    after(&st, &staff, id, done).await
}

/// `POST /dashboard/conversations/{id}/reply`: a staff reply, through the outbox.
pub async fn reply(
    State(st): State<AppState>,
    Require { staff, access, .. }: Require<perm::ReplyToPatients>,
    Path(raw): Path<String>,
    Form(f): Form<ReplyForm>,
) -> Response {
    let id = match action_guard(&st, access, &staff, &raw, &f.csrf).await {
        Ok(id) => id,
        Err(r) => return r,
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

// ----- live updates (server-sent events) -----

/// How often a live stream looks for changes (one small indexed read, and the session check).
const LIVE_POLL: std::time::Duration = std::time::Duration::from_secs(2);
/// A stream ends after this long; the browser reconnects, which checks everything afresh.
const LIVE_FOR: std::time::Duration = std::time::Duration::from_secs(600);

enum LiveTarget {
    Inbox(Search, Option<E164Phone>),
    Conversation(ConversationId),
}

impl LiveTarget {
    fn conversation(&self) -> Option<ConversationId> {
        match self {
            LiveTarget::Inbox(..) => None,
            LiveTarget::Conversation(id) => Some(*id),
        }
    }

    /// The live region's HTML as `s` sees it now (escaped like the page itself).
    async fn render(
        &self,
        st: &AppState,
        s: &StaffSession,
        csrf: &str,
    ) -> Result<String, StoreError> {
        let html = match self {
            LiveTarget::Inbox(search, phone) => InboxList {
                rows: inbox_rows(st, s, search, phone.clone()).await?,
                assigned_only: s.role.access(Permission::ViewConversations) == Access::Assigned,
                searched: search.searched(),
            }
            .render(),
            LiveTarget::Conversation(id) => ConversationLive {
                live: conversation_live(st, s, *id, csrf.to_owned()).await?.0,
            }
            .render(),
        };
        html.map_err(|e| {
            tracing::error!(error = %e, "live fragment template failed");
            StoreError::Corrupt("live fragment template")
        })
    }
}

struct LiveState {
    st: AppState,
    live: super::dashboard::LiveSession,
    target: LiveTarget,
    last: i64,
    started: std::time::Instant,
    done: bool,
}

/// The session for a live stream, checked without refreshing its idle clock, and the role's
/// reach; or the refusal (a dead session is 401 so the browser stops reconnecting).
async fn live_session(
    st: &AppState,
    headers: &axum::http::HeaderMap,
) -> Result<super::dashboard::LiveSession, Response> {
    match super::dashboard::LiveSession::from_headers(headers, st).await {
        Ok(Some(live)) => {
            if live.session.role.access(Permission::ViewConversations) == Access::None {
                return Err(Refusal::Role.response());
            }
            Ok(live)
        }
        Ok(None) => Err(text(StatusCode::UNAUTHORIZED, "Please sign in again.")),
        Err(e) => Err(unavailable(&e)),
    }
}

/// Streams `changed` events carrying the live region's fresh HTML whenever what it shows
/// changes, `signed-out` when the session ends, `gone` if the conversation disappears.
async fn live_stream(
    st: AppState,
    live: super::dashboard::LiveSession,
    target: LiveTarget,
) -> Response {
    use axum::response::sse::{Event as SseEvent, KeepAlive, Sse};
    // The starting point is read before answering, so any change after the page loaded is sent.
    let last = match st
        .store
        .inbox_version(live.session.scope, target.conversation())
        .await
    {
        Ok(v) => v,
        Err(StoreError::NotFound) => return Refusal::NotFound.response(),
        Err(e) => return unavailable(&e),
    };
    let state = LiveState {
        st,
        live,
        target,
        last,
        started: std::time::Instant::now(),
        done: false,
    };
    let stream = futures_util::stream::unfold(state, |mut s| async move {
        loop {
            if s.done || s.started.elapsed() >= LIVE_FOR {
                return None;
            }
            tokio::time::sleep(LIVE_POLL).await;
            if !s.live.still_valid(&s.st).await {
                s.done = true;
                let ev = SseEvent::default().event("signed-out").data("");
                return Some((Ok::<_, std::convert::Infallible>(ev), s));
            }
            let scope = s.live.session.scope;
            // A conversation assigned away from this staff member leaves their reach.
            if let Some(id) = s.target.conversation()
                && s.live.session.role.access(Permission::ViewConversations) == Access::Assigned
            {
                let user = s.live.session.user;
                match s
                    .st
                    .store
                    .is_assigned(scope, user, Assignable::Conversation(id))
                    .await
                {
                    Ok(true) => {}
                    Ok(false) => {
                        s.done = true;
                        return Some((Ok(SseEvent::default().event("gone").data("")), s));
                    }
                    Err(e) => tracing::warn!(error = ?e, "live assignment check failed; retrying"),
                }
            }
            match s
                .st
                .store
                .inbox_version(scope, s.target.conversation())
                .await
            {
                Ok(v) if v != s.last => match s
                    .target
                    .render(&s.st, &s.live.session, &s.live.csrf())
                    .await
                {
                    Ok(html) => {
                        s.last = v;
                        let ev = SseEvent::default().event("changed").data(html);
                        return Some((Ok(ev), s));
                    }
                    Err(e) => tracing::warn!(error = ?e, "live update not rendered; retrying"),
                },
                Ok(_) => {}
                Err(StoreError::NotFound) => {
                    s.done = true;
                    return Some((Ok(SseEvent::default().event("gone").data("")), s));
                }
                Err(e) => tracing::warn!(error = ?e, "live update poll failed; retrying"),
            }
        }
    });
    let mut resp = Sse::new(stream)
        .keep_alive(KeepAlive::default())
        .into_response();
    resp.headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    resp.headers_mut()
        .insert("x-accel-buffering", HeaderValue::from_static("no"));
    resp
}

/// `GET /dashboard/inbox/live`: the inbox list, live.
pub async fn inbox_live(
    State(st): State<AppState>,
    headers: axum::http::HeaderMap,
    Query(q): Query<Search>,
) -> Response {
    let live = match live_session(&st, &headers).await {
        Ok(l) => l,
        Err(r) => return r,
    };
    let Ok(phone) = q.phone() else {
        return text(StatusCode::UNPROCESSABLE_ENTITY, "Not a phone number.");
    };
    live_stream(st, live, LiveTarget::Inbox(q, phone)).await
}

/// `GET /dashboard/conversations/{id}/live`: one conversation, live.
pub async fn conversation_live_events(
    State(st): State<AppState>,
    headers: axum::http::HeaderMap,
    Path(raw): Path<String>,
) -> Response {
    let live = match live_session(&st, &headers).await {
        Ok(l) => l,
        Err(r) => return r,
    };
    let Some(id) = conversation_id(&raw) else {
        return Refusal::NotFound.response();
    };
    let access = live.session.role.access(Permission::ViewConversations);
    if let Err(r) = reach(&st, &live.session, access, id).await {
        return r;
    }
    live_stream(st, live, LiveTarget::Conversation(id)).await
}

#[derive(serde::Deserialize)]
pub struct AssignForm {
    csrf: String,
    /// A staff member's id, or empty to take the assignment away.
    #[serde(default)]
    assignee: String,
}

/// `POST /dashboard/conversations/{id}/assign`: assigns the conversation to a Doctor or a
/// Read-Only Doctor (who then see it, its patient and its recordings), or unassigns it. For
/// staff who reply with reach over the whole inbox.
pub async fn assign(
    State(st): State<AppState>,
    Require { staff, access, .. }: Require<perm::ReplyToPatients>,
    Path(raw): Path<String>,
    Form(f): Form<AssignForm>,
) -> Response {
    if access != Access::All {
        return Refusal::Role.response();
    }
    let id = match action_guard(&st, access, &staff, &raw, &f.csrf).await {
        Ok(id) => id,
        Err(r) => return r,
    };
    let s = staff.session();
    let assignee = match f.assignee.trim() {
        "" => None,
        raw => match UserId::parse(raw) {
            Ok(u) => Some(u),
            Err(_) => {
                let msg = "Choose an active Doctor or Read-Only Doctor of this clinic.";
                return render(&st, &staff, id, StatusCode::UNPROCESSABLE_ENTITY, Some(msg)).await;
            }
        },
    };
    // Only staff whose reach is "assigned to them" are offered; anyone else would see the
    // conversation anyway, so assigning to them is refused as a mistake.
    if let Some(u) = assignee {
        let ok = match st.store.list_users(s.scope).await {
            Ok(list) => list.iter().any(|m| {
                m.id == u
                    && m.active
                    && m.role.access(Permission::ViewConversations) == Access::Assigned
            }),
            Err(e) => return unavailable(&e),
        };
        if !ok {
            let msg = "Choose an active Doctor or Read-Only Doctor of this clinic.";
            return render(&st, &staff, id, StatusCode::UNPROCESSABLE_ENTITY, Some(msg)).await;
        }
    }
    let done = st
        .store
        .assign_conversation(s.scope, id, assignee, Actor::Staff(s.user))
        .await;
    after(&st, &staff, id, done).await
}

/// `POST /dashboard/conversations/{id}/drafts`: suggests a reply for someone else to send.
pub async fn write_draft(
    State(st): State<AppState>,
    Require { staff, access, .. }: Require<perm::DraftReply>,
    Path(raw): Path<String>,
    Form(f): Form<ReplyForm>,
) -> Response {
    let id = match action_guard(&st, access, &staff, &raw, &f.csrf).await {
        Ok(id) => id,
        Err(r) => return r,
    };
    let s = staff.session();
    let done = st
        .store
        .write_draft(s.scope, id, s.user, &f.text)
        .await
        .map(|_| ());
    after(&st, &staff, id, done).await
}

fn draft_id(raw: &str) -> Option<DraftId> {
    DraftId::parse(raw).ok()
}

enum DraftAction {
    Send,
    Discard,
}

/// Sends or discards a suggested reply, after the same checks as every conversation action.
async fn draft_action(
    st: AppState,
    staff: Staff,
    access: Access,
    (raw, raw_draft): (String, String),
    csrf: &str,
    action: DraftAction,
) -> Response {
    let id = match action_guard(&st, access, &staff, &raw, csrf).await {
        Ok(id) => id,
        Err(r) => return r,
    };
    let Some(draft) = draft_id(&raw_draft) else {
        return text(StatusCode::NOT_FOUND, "No such suggested reply.");
    };
    let s = staff.session();
    let done = match action {
        DraftAction::Send => {
            let sent = st
                .store
                .send_draft(s.scope, id, draft, s.user, st.dashboard.staff_hold)
                .await
                .map(|_| ());
            if sent.is_ok() {
                // The outbox worker sends it now rather than at its next poll.
                st.channels.wake.notify_one();
            }
            sent
        }
        DraftAction::Discard => st.store.discard_draft(s.scope, id, draft, s.user).await,
    };
    after(&st, &staff, id, done).await
}

/// `POST /dashboard/conversations/{id}/drafts/{draft}/send`: sends a suggested reply as
/// this staff member's own (they must hold the conversation), through the outbox.
pub async fn send_draft(
    State(st): State<AppState>,
    Require { staff, access, .. }: Require<perm::ReplyToPatients>,
    Path(ids): Path<(String, String)>,
    Form(f): Form<CsrfOnly>,
) -> Response {
    draft_action(st, staff, access, ids, &f.csrf, DraftAction::Send).await
}

/// `POST /dashboard/conversations/{id}/drafts/{draft}/discard`.
pub async fn discard_draft(
    State(st): State<AppState>,
    Require { staff, access, .. }: Require<perm::ReplyToPatients>,
    Path(ids): Path<(String, String)>,
    Form(f): Form<CsrfOnly>,
) -> Response {
    draft_action(st, staff, access, ids, &f.csrf, DraftAction::Discard).await
}
