//! Cal.com API v2: the client the diary uses when a clinic's calendar is Cal.com, and the
//! reading of its booking webhooks (see `docs/INTEGRATIONS.md`).
//!
//! Shapes, from Cal.com's API v2 reference (cal.com/docs/api-reference/v2) and its public
//! booking pages' `llms.txt`:
//! - `GET /v2/slots?eventTypeId=&start=YYYY-MM-DD&end=YYYY-MM-DD&timeZone=` with
//!   `cal-api-version: 2024-09-04` answers `{"status":"success","data":{"YYYY-MM-DD":
//!   [{"start":"<ISO 8601 with offset>"}]}}`.
//! - `POST /v2/bookings` with `cal-api-version: 2024-08-13`, body `{"start": "<UTC ISO>",
//!   "eventTypeId", "attendee": {"name", "timeZone", "phoneNumber"?, "language"}, "metadata"}`
//!   answers `201 {"status":"success","data":{"uid","start","end","status",…}}`; a time that
//!   is no longer free answers `400 {"status":"error","error":{"code":"BadRequestException",
//!   "message":"User either already has booking at this time or is not available"}}`.
//! - `GET /v2/bookings?eventTypeId=&afterStart=&beforeEnd=` (2024-08-13) lists bookings with
//!   their `metadata`: how a booking whose answer was lost (a timeout) is found again.
//! - `POST /v2/bookings/{uid}/cancel` (`{"cancellationReason"}`) and
//!   `POST /v2/bookings/{uid}/reschedule` (`{"start", "reschedulingReason"}`; the answer is
//!   the new booking, with a new uid).
//! - Webhooks: `X-Cal-Signature-256` is the hex HMAC-SHA256 of the raw body with the
//!   webhook's secret; the body is `{"triggerEvent": "BOOKING_CREATED" | "BOOKING_RESCHEDULED"
//!   | "BOOKING_CANCELLED" | …, "createdAt", "payload": {"uid", "eventTypeId", "startTime",
//!   "endTime", "metadata", "attendees", "rescheduleUid"?, "fromReschedule"?, …}}`.
//!
//! No request or answer body is ever logged: one line per call with the operation, status and
//! latency.

use frontdesk_domain::{PatientId, PractitionerId, ServiceId};
use frontdesk_store::{CalcomBooking, CalcomChange, CalcomEvent, CalcomRequest};
use jiff::Timestamp;
use reqwest::StatusCode;
use serde::Deserialize;
use serde_json::{Value, json};
use std::time::{Duration, Instant};

/// `cal-api-version` of the slots endpoint.
const SLOTS_VERSION: &str = "2024-09-04";
/// `cal-api-version` of the bookings endpoints.
const BOOKINGS_VERSION: &str = "2024-08-13";
/// How long one call may take.
pub const CALL_TIMEOUT: Duration = Duration::from_secs(10);
/// Answers larger than this are refused.
const MAX_ANSWER_BYTES: usize = 2 * 1024 * 1024;

/// Metadata keys carrying our ids on a Cal.com booking (Cal.com allows 50 keys of up to 40
/// characters, string values up to 500).
pub const META_KEY: &str = "frontdesk_key";
const META_PATIENT: &str = "frontdesk_patient";
const META_PRACTITIONER: &str = "frontdesk_practitioner";
const META_SERVICE: &str = "frontdesk_service";

/// Why a Cal.com call did not do what was asked.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CalcomError {
    /// Cal.com refused the time (taken meanwhile, or no longer bookable).
    #[error("the time is no longer available")]
    Taken,
    /// Cal.com could not be reached or answered with a failure; nothing is known to have
    /// changed. The code is short and stable (for logs): `timeout`, `connect`, `status_500`…
    #[error("cal.com unavailable: {0}")]
    Unavailable(String),
    /// The clinic's configuration does not work (no key, a refused key, a bad URL).
    #[error("cal.com misconfigured: {0}")]
    Config(&'static str),
}

/// One clinic's Cal.com account.
pub struct Client {
    http: reqwest::Client,
    base: String,
    key: zeroize::Zeroizing<String>,
}

impl std::fmt::Debug for Client {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Client")
            .field("base", &self.base)
            .finish_non_exhaustive()
    }
}

/// A booking to make.
#[derive(Debug, Clone)]
pub struct BookRequest<'a> {
    pub event_type: i64,
    pub start: Timestamp,
    pub name: &'a str,
    pub time_zone: &'a str,
    pub phone: Option<&'a str>,
    pub language: &'a str,
    pub ids: &'a CalcomRequest,
}

#[derive(Deserialize)]
struct Envelope<T> {
    data: T,
}

#[derive(Deserialize)]
struct SlotItem {
    start: String,
}

#[derive(Deserialize)]
struct BookingData {
    uid: String,
    start: String,
    end: String,
    #[serde(default)]
    status: Option<String>,
    #[serde(default)]
    metadata: Option<Value>,
}

fn parse_time(s: &str) -> Option<Timestamp> {
    s.parse::<Timestamp>().ok()
}

impl BookingData {
    fn booking(&self) -> Option<CalcomBooking> {
        Some(CalcomBooking {
            uid: self.uid.clone(),
            start: parse_time(&self.start)?,
            end: parse_time(&self.end)?,
        })
    }
}

impl Client {
    /// `base_url` must be http(s) without credentials, query or fragment.
    pub fn new(
        base_url: &str,
        key: zeroize::Zeroizing<String>,
        timeout: Duration,
    ) -> Result<Self, CalcomError> {
        let url = reqwest::Url::parse(base_url.trim())
            .map_err(|_| CalcomError::Config("base_url is not a URL"))?;
        if !matches!(url.scheme(), "http" | "https")
            || !url.username().is_empty()
            || url.password().is_some()
            || url.query().is_some()
            || url.fragment().is_some()
        {
            return Err(CalcomError::Config("base_url must be a plain https URL"));
        }
        let http = crate::channels::build_http_client(timeout)
            .map_err(|_| CalcomError::Config("http client"))?;
        Ok(Self {
            http,
            base: url.as_str().trim_end_matches('/').to_owned(),
            key,
        })
    }

    /// Sends one request; answers the status and body (capped), or a transport failure.
    async fn call(
        &self,
        op: &'static str,
        req: reqwest::RequestBuilder,
        version: &str,
    ) -> Result<(StatusCode, Vec<u8>), CalcomError> {
        let started = Instant::now();
        let sent = req
            .bearer_auth(self.key.as_str())
            .header("cal-api-version", version)
            .send()
            .await;
        let outcome = match sent {
            Ok(mut resp) => {
                let status = resp.status();
                let mut body = Vec::new();
                loop {
                    match resp.chunk().await {
                        Ok(Some(chunk)) => {
                            if body.len() + chunk.len() > MAX_ANSWER_BYTES {
                                break Err(CalcomError::Unavailable("too_large".into()));
                            }
                            body.extend_from_slice(&chunk);
                        }
                        Ok(None) => break Ok((status, body)),
                        Err(e) => break Err(transport(&e)),
                    }
                }
            }
            Err(e) => Err(transport(&e)),
        };
        let ms = u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX);
        match &outcome {
            Ok((status, _)) => tracing::info!(op, status = status.as_u16(), ms, "cal.com call"),
            Err(e) => tracing::warn!(op, error = %e, ms, "cal.com call failed"),
        }
        outcome
    }

    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// Free start times of `event_type` on the days `from..=to` (clinic time `tz`).
    pub async fn slots(
        &self,
        event_type: i64,
        from: jiff::civil::Date,
        to: jiff::civil::Date,
        tz: &str,
    ) -> Result<Vec<Timestamp>, CalcomError> {
        let req = self.http.get(self.url("/v2/slots")).query(&[
            ("eventTypeId", event_type.to_string()),
            ("start", from.to_string()),
            ("end", to.to_string()),
            ("timeZone", tz.to_owned()),
        ]);
        let (status, body) = self.call("slots", req, SLOTS_VERSION).await?;
        check(status)?;
        let parsed: Envelope<std::collections::BTreeMap<String, Vec<SlotItem>>> =
            serde_json::from_slice(&body)
                .map_err(|_| CalcomError::Unavailable("malformed".into()))?;
        let mut out: Vec<Timestamp> = parsed
            .data
            .values()
            .flatten()
            .filter_map(|s| parse_time(&s.start))
            .collect();
        out.sort();
        out.dedup();
        Ok(out)
    }

    /// Books, once: a request whose answer was lost (a timeout, a server error) is looked
    /// up by its key before it is sent again, and sent again at most once.
    pub async fn book(&self, b: &BookRequest<'_>) -> Result<CalcomBooking, CalcomError> {
        match self.try_book(b).await {
            Err(CalcomError::Unavailable(first)) => {
                if let Some(found) = self.find_by_key(b.event_type, b.start, &b.ids.key).await? {
                    return Ok(found);
                }
                tracing::info!(error = %first, "cal.com booking not found after a failure; sending it again");
                self.try_book(b).await
            }
            other => other,
        }
    }

    async fn try_book(&self, b: &BookRequest<'_>) -> Result<CalcomBooking, CalcomError> {
        let mut attendee = json!({
            "name": b.name,
            "timeZone": b.time_zone,
            "language": b.language,
        });
        if let Some(phone) = b.phone {
            attendee["phoneNumber"] = json!(phone);
        }
        let body = json!({
            "start": b.start.to_string(),
            "eventTypeId": b.event_type,
            "attendee": attendee,
            "metadata": metadata(b.ids),
        });
        let req = self.http.post(self.url("/v2/bookings")).json(&body);
        let (status, answer) = self.call("book", req, BOOKINGS_VERSION).await?;
        check(status)?;
        let parsed: Envelope<BookingData> = serde_json::from_slice(&answer)
            .map_err(|_| CalcomError::Unavailable("malformed".into()))?;
        if parsed
            .data
            .status
            .as_deref()
            .is_some_and(|s| !s.eq_ignore_ascii_case("accepted"))
        {
            // Pending (the event type needs confirmation) or refused: not a booking we may
            // tell the patient about.
            return Err(CalcomError::Config(
                "event type does not confirm bookings at once",
            ));
        }
        parsed
            .data
            .booking()
            .ok_or(CalcomError::Unavailable("malformed".into()))
    }

    /// The booking made with our request `key` for `event_type` at `start`, if Cal.com has it.
    pub async fn find_by_key(
        &self,
        event_type: i64,
        start: Timestamp,
        key: &str,
    ) -> Result<Option<CalcomBooking>, CalcomError> {
        let day = jiff::SignedDuration::from_hours(24);
        let req = self.http.get(self.url("/v2/bookings")).query(&[
            ("eventTypeId", event_type.to_string()),
            ("afterStart", (start - day).to_string()),
            ("beforeEnd", (start + day).to_string()),
        ]);
        let (status, body) = self.call("find_booking", req, BOOKINGS_VERSION).await?;
        check(status)?;
        let parsed: Envelope<Vec<BookingData>> = serde_json::from_slice(&body)
            .map_err(|_| CalcomError::Unavailable("malformed".into()))?;
        Ok(parsed
            .data
            .iter()
            .filter(|d| {
                d.status
                    .as_deref()
                    .is_none_or(|s| s.eq_ignore_ascii_case("accepted"))
            })
            .find(|d| {
                d.metadata
                    .as_ref()
                    .and_then(|m| m.get(META_KEY))
                    .and_then(Value::as_str)
                    == Some(key)
            })
            .and_then(BookingData::booking))
    }

    /// Cancels a booking. Cal.com answering that it does not know the booking (404) counts
    /// as cancelled: it holds no time.
    pub async fn cancel(&self, uid: &str) -> Result<(), CalcomError> {
        let path = format!("/v2/bookings/{}/cancel", path_segment(uid)?);
        let req = self
            .http
            .post(self.url(&path))
            .json(&json!({ "cancellationReason": "Cancelled by the patient through frontdesk" }));
        let (status, _) = self.call("cancel", req, BOOKINGS_VERSION).await?;
        if status == StatusCode::NOT_FOUND {
            return Ok(());
        }
        check(status)
    }

    /// Moves a booking; answers the new booking (Cal.com gives it a new uid).
    pub async fn reschedule(
        &self,
        uid: &str,
        start: Timestamp,
    ) -> Result<CalcomBooking, CalcomError> {
        let path = format!("/v2/bookings/{}/reschedule", path_segment(uid)?);
        let req = self.http.post(self.url(&path)).json(&json!({
            "start": start.to_string(),
            "reschedulingReason": "Moved by the patient through frontdesk",
        }));
        let (status, body) = self.call("reschedule", req, BOOKINGS_VERSION).await?;
        check(status)?;
        let parsed: Envelope<BookingData> = serde_json::from_slice(&body)
            .map_err(|_| CalcomError::Unavailable("malformed".into()))?;
        parsed
            .data
            .booking()
            .ok_or(CalcomError::Unavailable("malformed".into()))
    }
}

/// A uid as one path segment: Cal.com uids are URL-safe; anything else is refused.
fn path_segment(uid: &str) -> Result<&str, CalcomError> {
    let ok = !uid.is_empty()
        && uid.len() <= 200
        && uid
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
    ok.then_some(uid)
        .ok_or(CalcomError::Config("booking uid is not URL-safe"))
}

fn metadata(ids: &CalcomRequest) -> Value {
    json!({
        META_KEY: ids.key,
        META_PATIENT: ids.patient.to_string(),
        META_PRACTITIONER: ids.practitioner.to_string(),
        META_SERVICE: ids.service.to_string(),
    })
}

/// Our ids in a booking's metadata, when all of them are there and parse.
fn request_of(meta: Option<&Value>) -> Option<CalcomRequest> {
    let m = meta?;
    let s = |k: &str| m.get(k).and_then(Value::as_str);
    let uuid = |k: &str| s(k).and_then(|v| uuid::Uuid::parse_str(v).ok());
    let key = s(META_KEY)?;
    (!key.is_empty() && key.len() <= 500).then_some(())?;
    Some(CalcomRequest {
        key: key.to_owned(),
        patient: PatientId::from_uuid(uuid(META_PATIENT)?),
        practitioner: PractitionerId::from_uuid(uuid(META_PRACTITIONER)?),
        service: ServiceId::from_uuid(uuid(META_SERVICE)?),
    })
}

fn transport(e: &reqwest::Error) -> CalcomError {
    CalcomError::Unavailable(
        if e.is_timeout() {
            "timeout"
        } else if e.is_connect() {
            "connect"
        } else {
            "transport"
        }
        .into(),
    )
}

/// Maps a status: 2xx fine; 400, 409 and 422 a refused time; 401 and 403 a refused key;
/// anything else (404 of an endpoint, 429, 5xx) unavailable.
fn check(status: StatusCode) -> Result<(), CalcomError> {
    match status.as_u16() {
        200..=299 => Ok(()),
        400 | 409 | 422 => Err(CalcomError::Taken),
        401 | 403 => Err(CalcomError::Config("the API key was refused")),
        other => Err(CalcomError::Unavailable(format!("status_{other}"))),
    }
}

/// Checks `X-Cal-Signature-256` (hex HMAC-SHA256 of the raw body with the clinic's webhook
/// secret) in constant time. Missing, malformed or wrong: `false`.
pub fn verify_signature(secret: &[u8], raw_body: &[u8], header: Option<&str>) -> bool {
    header.is_some_and(|h| crate::channels::whatsapp::hex_hmac_sha256_matches(secret, raw_body, h))
}

#[derive(Deserialize)]
struct Webhook {
    #[serde(rename = "triggerEvent")]
    trigger: String,
    #[serde(default)]
    payload: Option<WebhookPayload>,
}

#[derive(Deserialize)]
struct WebhookPayload {
    uid: Option<String>,
    #[serde(rename = "eventTypeId", default)]
    event_type_id: Option<i64>,
    #[serde(rename = "startTime")]
    start_time: Option<String>,
    #[serde(rename = "endTime")]
    end_time: Option<String>,
    #[serde(default)]
    metadata: Option<Value>,
    #[serde(rename = "rescheduleUid", default)]
    reschedule_uid: Option<String>,
    #[serde(rename = "fromReschedule", default)]
    from_reschedule: Option<String>,
}

/// A webhook body that could not be read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Malformed;

/// Reads a verified webhook body: `Ok(None)` for a trigger frontdesk does not reflect
/// (`MEETING_ENDED`, `PING`, …), `Err` for a booking trigger missing what it needs.
pub fn parse_webhook(raw: &[u8]) -> Result<Option<CalcomEvent>, Malformed> {
    let w: Webhook = serde_json::from_slice(raw).map_err(|_| Malformed)?;
    let Some(p) = w.payload else {
        return match w.trigger.as_str() {
            "BOOKING_CREATED" | "BOOKING_RESCHEDULED" | "BOOKING_CANCELLED" => Err(Malformed),
            _ => Ok(None),
        };
    };
    let change = match w.trigger.as_str() {
        "BOOKING_CREATED" => CalcomChange::Created,
        "BOOKING_CANCELLED" => CalcomChange::Cancelled,
        "BOOKING_RESCHEDULED" => CalcomChange::Rescheduled {
            from_uid: p
                .reschedule_uid
                .clone()
                .or(p.from_reschedule.clone())
                .filter(|u| !u.is_empty())
                .ok_or(Malformed)?,
        },
        _ => return Ok(None),
    };
    let time = |t: &Option<String>| t.as_deref().and_then(parse_time).ok_or(Malformed);
    Ok(Some(CalcomEvent {
        change,
        uid: p.uid.clone().filter(|u| !u.is_empty()).ok_or(Malformed)?,
        event_type_id: p.event_type_id,
        start: time(&p.start_time)?,
        end: time(&p.end_time)?,
        request: request_of(p.metadata.as_ref()),
    }))
}

#[cfg(test)]
#[path = "calcom_tests.rs"]
mod tests;
