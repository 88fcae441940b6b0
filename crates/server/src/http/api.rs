//! The public REST API, `/v1` (issue #10): what a clinic's own software reaches with an API
//! key made in the dashboard or by `frontdesk api-key create`.
//!
//! Every call names its key in `Authorization: Bearer fdk_…`. [`ApiCaller`] checks it (in
//! constant time, against the stored hash), counts it against the key's rate (shared by every
//! instance, in the database) and gives the handler the key's clinic as a `TenantScope`:
//! there is no other way to reach data here, so another clinic's ids answer 404 exactly like
//! ids that do not exist. A scope the key lacks answers 403 before anything is read.
//!
//! Errors have the one shape `{"error": {"code", "message", "request_id"}}`. Lists are pages
//! `{"data": [...], "next_cursor": "…" | null}`; a cursor is opaque and valid only for the
//! same list. Reading a patient or a conversation is audited (`patient.viewed`,
//! `conversation.viewed`) with the key as the actor, so `frontdesk audit access-report
//! --api-key fdk_…` lists what an integration touched. Booking takes an `Idempotency-Key`:
//! the same key again answers the first booking, never a second one.

use super::AppState;
use super::error::AppError;
use crate::booking::diary::{self, Diary, DiaryError};
use axum::{
    Json,
    extract::{ConnectInfo, FromRequestParts, Path, Query, State},
    http::{HeaderMap, StatusCode, header, request::Parts},
    response::{IntoResponse, Response},
};
use base64::Engine as _;
use frontdesk_domain::{
    ApiScope, AppointmentId, ConversationId, MessageId, PatientId, PractitionerId, ServiceId,
};
use frontdesk_store::{
    Actor, ApiKeyCheck, ApiPrincipal, Appointment, AuditEvent, NewAppointment, SlotSearch,
    StoreError, TenantScope,
};
use serde::Deserialize;
use serde_json::{Value, json};

/// Most entries in one page, and the default.
pub const MAX_PAGE: u32 = 200;
pub const DEFAULT_PAGE: u32 = 50;
/// The widest appointment listing asked at once, and the widest free-time search.
const MAX_RANGE_DAYS: i64 = 92;
const MAX_AVAILABILITY_DAYS: i64 = 31;

/// A verified API key, for one call.
pub struct ApiCaller {
    pub principal: ApiPrincipal,
}

impl ApiCaller {
    pub fn scope(&self) -> TenantScope {
        self.principal.scope
    }

    /// 403 `insufficient_scope` unless the key holds `scope`.
    pub fn require(&self, scope: ApiScope) -> Result<TenantScope, AppError> {
        if self.principal.scopes.contains(scope) {
            Ok(self.principal.scope)
        } else {
            Err(AppError::client(
                StatusCode::FORBIDDEN,
                "insufficient_scope",
                "This API key does not have the scope this call needs.",
            ))
        }
    }

    pub(super) fn actor(&self) -> Actor {
        Actor::ApiKey(self.principal.key)
    }
}

impl FromRequestParts<AppState> for ApiCaller {
    type Rejection = AppError;

    async fn from_request_parts(parts: &mut Parts, st: &AppState) -> Result<Self, AppError> {
        let token = parts
            .headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| {
                v.strip_prefix("Bearer ")
                    .or_else(|| v.strip_prefix("bearer "))
            })
            .map(str::trim)
            .filter(|t| !t.is_empty());
        let Some(token) = token else {
            return Err(invalid_key());
        };
        match st.store.check_api_key(token).await {
            Ok(ApiKeyCheck::Allowed(principal)) => {
                metrics::counter!("api_calls_total", "outcome" => "allowed").increment(1);
                note_network(parts, st, &principal).await;
                Ok(Self { principal })
            }
            Ok(ApiKeyCheck::RateLimited { retry_after_secs }) => {
                metrics::counter!("api_calls_total", "outcome" => "rate_limited").increment(1);
                Err(AppError::RateLimited { retry_after_secs })
            }
            Err(StoreError::Unauthorized) => {
                metrics::counter!("api_calls_total", "outcome" => "invalid_key").increment(1);
                Err(invalid_key())
            }
            Err(e) => Err(e.into()),
        }
    }
}

/// Notes the network (IPv4 /24, IPv6 /48) the key was used from, for the `api_key_network`
/// anomaly alert. The client address is the TCP peer unless it is a trusted proxy (see
/// [`super::client_ip`]). A failure here is logged, never the caller's problem.
async fn note_network(parts: &Parts, st: &AppState, principal: &ApiPrincipal) {
    let Some(ConnectInfo(peer)) = parts.extensions.get::<ConnectInfo<std::net::SocketAddr>>()
    else {
        return;
    };
    let ip = super::client_ip::client_ip(peer.ip(), &parts.headers, &st.dashboard.trusted_proxies);
    let network = frontdesk_store::network_of(ip);
    if let Err(e) = st
        .store
        .note_api_key_network(principal.scope, principal.key, &network)
        .await
    {
        tracing::warn!(error = %e, "API key network not noted");
    }
}

/// `Query<T>` whose refusal has the API's error shape (axum's own answers in plain text).
pub struct ApiQuery<T>(pub T);

impl<T: serde::de::DeserializeOwned, S: Send + Sync> FromRequestParts<S> for ApiQuery<T> {
    type Rejection = AppError;

    async fn from_request_parts(parts: &mut Parts, st: &S) -> Result<Self, AppError> {
        match Query::<T>::from_request_parts(parts, st).await {
            Ok(Query(q)) => Ok(Self(q)),
            Err(_) => Err(bad_request(
                "invalid_query",
                "The query string has an unknown, missing or malformed parameter.",
            )),
        }
    }
}

fn invalid_key() -> AppError {
    AppError::client(
        StatusCode::UNAUTHORIZED,
        "invalid_api_key",
        "A valid API key is required: Authorization: Bearer fdk_…",
    )
}

fn bad_request(code: &'static str, message: &'static str) -> AppError {
    AppError::client(StatusCode::BAD_REQUEST, code, message)
}

fn not_found() -> AppError {
    AppError::Store(StoreError::NotFound)
}

/// Parses a path id; a malformed id is simply one that does not exist.
fn path_id<T>(
    raw: &str,
    parse: impl Fn(&str) -> Result<T, frontdesk_domain::DomainError>,
) -> Result<T, AppError> {
    parse(raw).map_err(|_| not_found())
}

fn page_limit(limit: Option<u32>) -> Result<usize, AppError> {
    match limit.unwrap_or(DEFAULT_PAGE) {
        0 => Err(bad_request("invalid_limit", "limit must be 1 to 200.")),
        n if n > MAX_PAGE => Err(bad_request("invalid_limit", "limit must be 1 to 200.")),
        n => Ok(n as usize),
    }
}

/// An opaque cursor: which list it belongs to, then the sort key of the last entry given.
pub(super) fn encode_cursor(list: &str, key: &str) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(format!("{list}|{key}"))
}

pub(super) fn decode_cursor(list: &str, cursor: &str) -> Result<String, AppError> {
    let bad = || bad_request("invalid_cursor", "The cursor is not one this list gave.");
    let raw = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(cursor)
        .map_err(|_| bad())?;
    let text = String::from_utf8(raw).map_err(|_| bad())?;
    let (kind, key) = text.split_once('|').ok_or_else(bad)?;
    if kind != list {
        return Err(bad());
    }
    Ok(key.to_owned())
}

fn page(data: Vec<Value>, next: Option<String>) -> Response {
    Json(json!({ "data": data, "next_cursor": next })).into_response()
}

// ----------------------------------------------------------------------------- schedule

/// `GET /v1/practitioners` (`schedule:read`).
pub async fn practitioners(
    State(st): State<AppState>,
    caller: ApiCaller,
) -> Result<Response, AppError> {
    let scope = caller.require(ApiScope::ScheduleRead)?;
    let list = st.store.list_practitioners(scope).await?;
    let data = list
        .into_iter()
        .map(|p| json!({ "id": p.id.to_string(), "name": p.name, "title": p.title, "active": p.active }))
        .collect();
    Ok(page(data, None))
}

/// `GET /v1/services` (`schedule:read`).
pub async fn services(State(st): State<AppState>, caller: ApiCaller) -> Result<Response, AppError> {
    let scope = caller.require(ApiScope::ScheduleRead)?;
    let list = st.store.list_services(scope).await?;
    let data = list
        .into_iter()
        .map(|s| {
            json!({
                "id": s.id.to_string(),
                "name": s.name,
                "duration_min": s.duration_min,
                "price_minor": s.price_minor,
                "currency": s.currency,
                "active": s.active,
                "practitioner_ids": s.practitioners.iter().map(ToString::to_string).collect::<Vec<_>>(),
            })
        })
        .collect();
    Ok(page(data, None))
}

#[derive(Deserialize)]
pub struct AvailabilityQuery {
    practitioner: String,
    service: String,
    /// First day, `YYYY-MM-DD` in the clinic's time zone; today when absent.
    from: Option<String>,
    /// How many days from `from` (1 to 31, default 7).
    days: Option<i64>,
    limit: Option<u32>,
}

/// `GET /v1/availability?practitioner=…&service=…[&from=YYYY-MM-DD&days=7&limit=50]`
/// (`schedule:read`): free start times, soonest first, with at least an hour's notice.
pub async fn availability(
    State(st): State<AppState>,
    caller: ApiCaller,
    ApiQuery(q): ApiQuery<AvailabilityQuery>,
) -> Result<Response, AppError> {
    let scope = caller.require(ApiScope::ScheduleRead)?;
    let practitioner = PractitionerId::parse(&q.practitioner).map_err(|_| {
        bad_request(
            "invalid_practitioner",
            "practitioner must be a practitioner id.",
        )
    })?;
    let service = ServiceId::parse(&q.service)
        .map_err(|_| bad_request("invalid_service", "service must be a service id."))?;
    let days = q.days.unwrap_or(7);
    if !(1..=MAX_AVAILABILITY_DAYS).contains(&days) {
        return Err(bad_request("invalid_days", "days must be 1 to 31."));
    }
    let limit = page_limit(q.limit)?;
    let clinic = st.store.clinic(scope).await?;
    let tz = jiff::tz::TimeZone::get(clinic.profile.timezone.as_str())
        .map_err(|_| AppError::Store(StoreError::Corrupt("clinic time zone")))?;
    let from = match q.from.as_deref() {
        Some(d) => d
            .parse::<jiff::civil::Date>()
            .map_err(|_| bad_request("invalid_date", "from must be a date, YYYY-MM-DD."))?,
        None => st.clock.now().to_zoned(tz.clone()).date(),
    };
    let to = from
        .checked_add(jiff::Span::new().days(days - 1))
        .map_err(|_| bad_request("invalid_date", "from must be a date, YYYY-MM-DD."))?;
    let search = SlotSearch {
        practitioner,
        service,
        from,
        to,
        min_notice: jiff::SignedDuration::from_hours(1),
        day_start: None,
        day_end: None,
        limit,
    };
    // From the clinic's diary: the built-in scheduler, or its Cal.com.
    let diary = Diary::load(st.store.as_ref(), scope).await?;
    let slots = diary::free_slots(st.store.as_ref(), scope, &diary, &search, st.clock.now())
        .await
        .map_err(diary_error)?;
    let data = slots
        .into_iter()
        .map(|(start, end)| {
            json!({
                "starts_at": start.to_string(),
                "ends_at": end.to_string(),
                "practitioner_id": practitioner.to_string(),
                "service_id": service.to_string(),
            })
        })
        .collect();
    Ok(page(data, None))
}

// ------------------------------------------------------------------------- appointments

fn appointment_json(a: &Appointment) -> Value {
    json!({
        "id": a.id.to_string(),
        "patient_id": a.patient_id.to_string(),
        "practitioner_id": a.practitioner_id.to_string(),
        "service_id": a.service_id.to_string(),
        "starts_at": a.starts_at.to_string(),
        "ends_at": a.ends_at.to_string(),
        "status": a.status.as_str(),
    })
}

fn parse_time(raw: &str, field: &'static str) -> Result<jiff::Timestamp, AppError> {
    raw.parse::<jiff::Timestamp>().map_err(|_| {
        AppError::client(
            StatusCode::BAD_REQUEST,
            field,
            "Times are RFC 3339 with an offset, e.g. 2026-12-07T09:30:00+13:00.",
        )
    })
}

#[derive(Deserialize)]
pub struct AppointmentsQuery {
    /// Start of the window (RFC 3339); default now.
    from: Option<String>,
    /// End of the window (RFC 3339); default `from` + 7 days; at most 92 days after `from`.
    to: Option<String>,
    limit: Option<u32>,
    cursor: Option<String>,
}

/// `GET /v1/appointments?from=…&to=…&limit=…&cursor=…` (`appointments:read`): live
/// appointments overlapping the window, in start order, a page at a time. Patients appear by
/// id only.
pub async fn appointments(
    State(st): State<AppState>,
    caller: ApiCaller,
    ApiQuery(q): ApiQuery<AppointmentsQuery>,
) -> Result<Response, AppError> {
    let scope = caller.require(ApiScope::AppointmentsRead)?;
    let limit = page_limit(q.limit)?;
    let from = match q.from.as_deref() {
        Some(raw) => parse_time(raw, "invalid_from")?,
        None => st.clock.now(),
    };
    let to = match q.to.as_deref() {
        Some(raw) => parse_time(raw, "invalid_to")?,
        None => from + jiff::SignedDuration::from_hours(24 * 7),
    };
    if to <= from || to.duration_since(from) > jiff::SignedDuration::from_hours(24 * MAX_RANGE_DAYS)
    {
        return Err(bad_request(
            "invalid_range",
            "to must be after from, and at most 92 days later.",
        ));
    }
    // The cursor is the (start, id) of the last appointment given; the next page reads on
    // from that start, so a page never depends on how many came before it.
    let after: Option<(jiff::Timestamp, String)> = match q.cursor.as_deref() {
        Some(c) => {
            let key = decode_cursor("appointments", c)?;
            let (t, id) = key.split_once(',').ok_or_else(|| {
                bad_request("invalid_cursor", "The cursor is not one this list gave.")
            })?;
            let t = t
                .parse::<i64>()
                .ok()
                .and_then(|us| jiff::Timestamp::from_microsecond(us).ok())
                .ok_or_else(|| {
                    bad_request("invalid_cursor", "The cursor is not one this list gave.")
                })?;
            Some((t, id.to_owned()))
        }
        None => None,
    };
    let read_from = after.as_ref().map_or(from, |(t, _)| (*t).max(from));
    // Appointments only: no patient's data is opened for a list that shows ids.
    let entries = st
        .store
        .appointments_between(scope, None, read_from, to)
        .await?;
    let mut rows: Vec<&Appointment> = entries
        .iter()
        .filter(|a| match &after {
            Some((t, id)) => (a.starts_at, a.id.to_string()) > (*t, id.clone()),
            None => true,
        })
        .collect();
    rows.sort_by_key(|a| (a.starts_at, a.id.to_string()));
    let more = rows.len() > limit;
    rows.truncate(limit);
    let next = match rows.last() {
        Some(last) if more => Some(encode_cursor(
            "appointments",
            &format!("{},{}", last.starts_at.as_microsecond(), last.id),
        )),
        _ => None,
    };
    Ok(page(rows.into_iter().map(appointment_json).collect(), next))
}

/// `GET /v1/appointments/{id}` (`appointments:read`).
pub async fn appointment(
    State(st): State<AppState>,
    caller: ApiCaller,
    Path(raw): Path<String>,
) -> Result<Response, AppError> {
    let scope = caller.require(ApiScope::AppointmentsRead)?;
    let id = path_id(&raw, AppointmentId::parse)?;
    let a = st.store.appointment(scope, id).await?;
    Ok(Json(appointment_json(&a)).into_response())
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BookBody {
    patient_id: String,
    practitioner_id: String,
    service_id: String,
    starts_at: String,
}

/// The `Idempotency-Key` header: required on POSTs that create, 1 to 200 visible characters.
fn idempotency_key(headers: &HeaderMap) -> Result<String, AppError> {
    let bad = || {
        bad_request(
            "idempotency_key_required",
            "Send an Idempotency-Key header (1 to 200 visible characters) so a retry cannot book twice.",
        )
    };
    let v = headers.get("idempotency-key").ok_or_else(bad)?;
    let s = v.to_str().map_err(|_| bad())?;
    if s.is_empty() || s.len() > 200 || !s.bytes().all(|b| b.is_ascii_graphic()) {
        return Err(bad());
    }
    Ok(s.to_owned())
}

/// `POST /v1/appointments` (`appointments:write`) with an `Idempotency-Key`: books the time
/// for the patient with every rule of the diary (hours, exceptions, notice, no double
/// booking). The same key again answers the appointment booked first (201); the same key
/// with a different request is refused (422).
pub async fn book(
    State(st): State<AppState>,
    caller: ApiCaller,
    headers: HeaderMap,
    body: Result<Json<BookBody>, axum::extract::rejection::JsonRejection>,
) -> Result<Response, AppError> {
    let scope = caller.require(ApiScope::AppointmentsWrite)?;
    let key = idempotency_key(&headers)?;
    let Json(b) = body.map_err(|_| {
        bad_request(
            "invalid_body",
            "The body must be JSON: patient_id, practitioner_id, service_id, starts_at.",
        )
    })?;
    let invalid = |code: &'static str| bad_request(code, "An id in the body is not well formed.");
    let new = NewAppointment {
        patient: PatientId::parse(&b.patient_id).map_err(|_| invalid("invalid_patient_id"))?,
        practitioner: PractitionerId::parse(&b.practitioner_id)
            .map_err(|_| invalid("invalid_practitioner_id"))?,
        service: ServiceId::parse(&b.service_id).map_err(|_| invalid("invalid_service_id"))?,
        starts_at: parse_time(&b.starts_at, "invalid_starts_at")?,
        // Namespaced by key: two integrations' keys never collide.
        idempotency_key: format!("api:{}:{key}", caller.principal.key),
        actor: caller.actor(),
    };
    // The patient must be this clinic's (an unknown id is 404, like any other).
    st.store.patient(scope, new.patient).await?;
    let diary = Diary::load(st.store.as_ref(), scope).await?;
    let a = if matches!(diary, Diary::Builtin) {
        st.store.book_appointment(scope, &new).await?
    } else {
        // The clinic's calendar is Cal.com: booked there first, then mirrored.
        let knowledge = crate::turn::clinic_knowledge(st.store.as_ref(), scope).await?;
        let b = diary::Booking {
            patient: new.patient,
            practitioner: new.practitioner,
            service: new.service,
            start: new.starts_at,
            key: new.idempotency_key.clone(),
            actor: new.actor,
        };
        diary::book(st.store.as_ref(), scope, &diary, &knowledge, &b)
            .await
            .map_err(diary_error)?
    };
    if (a.patient_id, a.practitioner_id, a.service_id, a.starts_at)
        != (new.patient, new.practitioner, new.service, new.starts_at)
    {
        return Err(AppError::client(
            StatusCode::UNPROCESSABLE_ENTITY,
            "idempotency_key_reused",
            "This Idempotency-Key was already used for a different booking.",
        ));
    }
    Ok((StatusCode::CREATED, Json(appointment_json(&a))).into_response())
}

/// `POST /v1/appointments/{id}/cancel` (`appointments:write`): idempotent by nature (a
/// cancelled appointment answers as it is).
pub async fn cancel(
    State(st): State<AppState>,
    caller: ApiCaller,
    Path(raw): Path<String>,
) -> Result<Response, AppError> {
    let scope = caller.require(ApiScope::AppointmentsWrite)?;
    let id = path_id(&raw, AppointmentId::parse)?;
    let diary = Diary::load(st.store.as_ref(), scope).await?;
    let a = diary::cancel(st.store.as_ref(), scope, &diary, id, caller.actor())
        .await
        .map_err(diary_error)?;
    Ok(Json(appointment_json(&a)).into_response())
}

/// A diary failure as an answer: a refused time is the built-in diary's `409 conflict`; a
/// clinic calendar (Cal.com) that cannot be used is `503 calendar_unavailable` (nothing was
/// booked or cancelled; try again later).
pub(crate) fn diary_error(e: DiaryError) -> AppError {
    match e {
        DiaryError::Store(e) => e.into(),
        DiaryError::Taken => StoreError::Conflict("that time is no longer free").into(),
        DiaryError::Unavailable => AppError::client(
            StatusCode::SERVICE_UNAVAILABLE,
            "calendar_unavailable",
            "The clinic's calendar cannot be reached; nothing was changed. Try again later.",
        ),
    }
}

// ------------------------------------------------------------- patients, conversations

/// `GET /v1/patients/{id}` (`patients:read`): the minimal record (no phone or email), audited
/// `patient.viewed` with the key as the actor before it is answered.
pub async fn patient(
    State(st): State<AppState>,
    caller: ApiCaller,
    Path(raw): Path<String>,
) -> Result<Response, AppError> {
    let scope = caller.require(ApiScope::PatientsRead)?;
    let id = path_id(&raw, PatientId::parse)?;
    let p = st.store.patient(scope, id).await?;
    let ev = AuditEvent::new(caller.actor(), "patient.viewed").target("patient", id);
    st.store.append_audit(scope, &ev).await?;
    Ok(Json(json!({
        "id": p.id.to_string(),
        "name": p.name,
        "language": p.language,
        "created_at": p.created_at.to_string(),
    }))
    .into_response())
}

/// `GET /v1/conversations/{id}` (`conversations:read`).
pub async fn conversation(
    State(st): State<AppState>,
    caller: ApiCaller,
    Path(raw): Path<String>,
) -> Result<Response, AppError> {
    let scope = caller.require(ApiScope::ConversationsRead)?;
    let id = path_id(&raw, ConversationId::parse)?;
    let c = st.store.conversation(scope, id).await?;
    Ok(Json(json!({
        "id": c.id.to_string(),
        "patient_id": c.patient_id.to_string(),
        "channel": c.channel.as_str(),
        "status": c.status,
        "urgency": c.urgency,
        "created_at": c.created_at.to_string(),
        "last_message_at": c.last_message_at.to_string(),
    }))
    .into_response())
}

fn message_json(m: &frontdesk_store::Message) -> Value {
    json!({
        "id": m.id.to_string(),
        "direction": m.direction.as_str(),
        "sender": m.sender.as_str(),
        "channel": m.channel.as_str(),
        "body": m.body,
        "status": m.status,
        "created_at": m.created_at.to_string(),
    })
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SendBody {
    text: String,
}

/// `POST /v1/conversations/{id}/messages` (`messages:write`) with an `Idempotency-Key`: a
/// message to the conversation's patient from the clinic (sender `staff`), sent through the
/// outbox like a staff reply and audited `message.api_sent` with the key as the actor. The
/// same key and text again answer the message sent first (201, `Idempotent-Replayed: true`);
/// a conversation a staff member holds answers 409.
pub async fn send_message(
    State(st): State<AppState>,
    caller: ApiCaller,
    Path(raw): Path<String>,
    headers: HeaderMap,
    body: Result<Json<SendBody>, axum::extract::rejection::JsonRejection>,
) -> Result<Response, AppError> {
    let scope = caller.require(ApiScope::MessagesWrite)?;
    let id = path_id(&raw, ConversationId::parse)?;
    let key = idempotency_key(&headers)?;
    let Json(b) =
        body.map_err(|_| bad_request("invalid_body", "The body must be JSON: {\"text\": \"…\"}."))?;
    let send = || {
        st.store
            .api_send_message(scope, id, caller.principal.key, &key, &b.text)
    };
    // Two calls with one key at the same moment: the second meets the first's unique row and
    // is asked again, now finding the message sent.
    let sent = match send().await {
        Err(StoreError::Duplicate) => send().await,
        other => other,
    }
    .map_err(|e| match e {
        StoreError::Conflict(frontdesk_store::IDEMPOTENCY_KEY_REUSED) => AppError::client(
            StatusCode::UNPROCESSABLE_ENTITY,
            "idempotency_key_reused",
            "This Idempotency-Key was already used for a different request.",
        ),
        other => other.into(),
    })?;
    let m = st.store.message(scope, id, sent.message).await?;
    let mut resp = (StatusCode::CREATED, Json(message_json(&m))).into_response();
    if sent.replayed {
        resp.headers_mut().insert(
            "idempotent-replayed",
            axum::http::HeaderValue::from_static("true"),
        );
    }
    Ok(resp)
}

#[derive(Deserialize)]
pub struct DataRequestsQuery {
    limit: Option<u32>,
    cursor: Option<String>,
}

/// `GET /v1/data-requests` (`data_requests:read`): the clinic's completed erasures, newest
/// first, from the erasure ledger (ids, time, who, counts; the patient's data is gone).
pub async fn data_requests(
    State(st): State<AppState>,
    caller: ApiCaller,
    ApiQuery(q): ApiQuery<DataRequestsQuery>,
) -> Result<Response, AppError> {
    let scope = caller.require(ApiScope::DataRequestsRead)?;
    let limit = page_limit(q.limit)?;
    let after = q
        .cursor
        .as_deref()
        .map(|c| decode_cursor("data_requests", c))
        .transpose()?;
    let mut all = st.store.erasure_ledger(scope).await?;
    let sort_key = |e: &frontdesk_store::ErasureEntry| {
        format!("{:020},{}", e.erased_at.as_microsecond(), e.patient)
    };
    all.sort_by_key(|e| std::cmp::Reverse(sort_key(e)));
    let rest: Vec<_> = all
        .iter()
        .filter(|e| after.as_ref().is_none_or(|a| sort_key(e) < *a))
        .collect();
    let more = rest.len() > limit;
    let shown = &rest[..limit.min(rest.len())];
    let next = match shown.last() {
        Some(e) if more => Some(encode_cursor("data_requests", &sort_key(e))),
        _ => None,
    };
    let data = shown
        .iter()
        .map(|e| {
            json!({
                "kind": "erasure",
                "status": "completed",
                "patient_id": e.patient.to_string(),
                "completed_at": e.erased_at.to_string(),
                "actor_kind": e.actor_kind,
                "counts": {
                    "conversations": e.counts.conversations,
                    "messages": e.counts.messages,
                    "appointments": e.counts.appointments,
                    "calls": e.counts.calls,
                    "recordings": e.counts.recordings,
                    "consents": e.counts.consents,
                },
            })
        })
        .collect();
    Ok(page(data, next))
}

#[derive(Deserialize)]
pub struct MessagesQuery {
    limit: Option<u32>,
    cursor: Option<String>,
}

/// `GET /v1/conversations/{id}/messages` (`conversations:read`): oldest first, a page at a
/// time; audited `conversation.viewed` with the key as the actor (patient text is read).
pub async fn messages(
    State(st): State<AppState>,
    caller: ApiCaller,
    Path(raw): Path<String>,
    ApiQuery(q): ApiQuery<MessagesQuery>,
) -> Result<Response, AppError> {
    let scope = caller.require(ApiScope::ConversationsRead)?;
    let id = path_id(&raw, ConversationId::parse)?;
    let limit = page_limit(q.limit)?;
    let after = q
        .cursor
        .as_deref()
        .map(|c| decode_cursor(&format!("messages:{id}"), c))
        .transpose()?;
    let after = after
        .map(|last| {
            MessageId::parse(&last)
                .map_err(|_| bad_request("invalid_cursor", "The cursor is not one this list gave."))
        })
        .transpose()?;
    // One more than a page: whether there is a next page, without reading the rest.
    let read = u32::try_from(limit + 1).unwrap_or(u32::MAX);
    let rows = st.store.messages_page(scope, id, after, read).await?;
    let more = rows.len() > limit;
    let shown = &rows[..limit.min(rows.len())];
    let ev = AuditEvent::new(caller.actor(), "conversation.viewed")
        .target("conversation", id)
        .details(json!({ "messages": shown.len() }));
    st.store.append_audit(scope, &ev).await?;
    let next = match shown.last() {
        Some(m) if more => Some(encode_cursor(&format!("messages:{id}"), &m.id.to_string())),
        _ => None,
    };
    let data = shown.iter().map(message_json).collect();
    Ok(page(data, next))
}
