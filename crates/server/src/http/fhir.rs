//! A FHIR R4 read API (#11) under `/fhir/r4/`, for the clinical software a clinic already
//! runs: `Practitioner`, `HealthcareService`, `Schedule` (one per practitioner), `Slot` (free
//! times), `Appointment` and a minimal `Patient`, as `application/fhir+json`, with a
//! `CapabilityStatement` at `/fhir/r4/metadata`. Calls carry a clinic's API key (#10) and
//! need the same scopes as the REST API; another clinic's ids answer 404. Every error is an
//! `OperationOutcome` with the REST API's stable code in `issue[0].details.coding`.
//!
//! Searches: `Appointment?date=&practitioner=&patient=&status=&_lastUpdated=&_count=`,
//! `Slot?schedule=&start=&service-type=&_count=`, and the plain lists of practitioners,
//! services and schedules. Search parameters this server does not know are ignored (as FHIR
//! asks by default); the `self` link lists those it applied. Pages continue through the
//! `next` link (`_cursor`).

use super::AppState;
use super::api::{ApiCaller, decode_cursor, encode_cursor};
use super::error::AppError;
use axum::{
    extract::{Path, Query, State},
    http::{HeaderMap, HeaderValue, StatusCode, header},
    response::{IntoResponse, Response},
};
use frontdesk_domain::{ApiScope, AppointmentId, PatientId, PractitionerId, ServiceId};
use frontdesk_store::{
    Appointment, AppointmentSearch, AppointmentStatus, AuditEvent, ClinicCatalog, SlotSearch,
    StoreError,
};
use serde_json::{Value, json};

/// The FHIR version served.
pub const FHIR_VERSION: &str = "4.0.1";
/// The media type of every answer.
pub const FHIR_JSON: &str = "application/fhir+json; charset=utf-8";
/// The code system of a service's id in `serviceType` codings.
pub const SERVICE_SYSTEM: &str = "urn:frontdesk:service";
const DEFAULT_COUNT: u32 = 50;
const MAX_COUNT: u32 = 200;
/// The widest free-time search, in days.
const MAX_SLOT_DAYS: i64 = 31;

/// An error answered as an `OperationOutcome`, with the status and headers the REST API
/// would give it.
pub struct FhirError(AppError);

impl From<AppError> for FhirError {
    fn from(e: AppError) -> Self {
        Self(e)
    }
}

impl From<StoreError> for FhirError {
    fn from(e: StoreError) -> Self {
        Self(AppError::Store(e))
    }
}

fn invalid(code: &'static str, message: &'static str) -> FhirError {
    FhirError(AppError::client(StatusCode::BAD_REQUEST, code, message))
}

impl IntoResponse for FhirError {
    fn into_response(self) -> Response {
        let (status, code, message) = self.0.parts();
        let issue_code = match status.as_u16() {
            400 | 422 => "invalid",
            401 => "login",
            403 => "forbidden",
            404 => "not-found",
            409 => "conflict",
            429 => "throttled",
            503 => "transient",
            _ => "exception",
        };
        let body = json!({
            "resourceType": "OperationOutcome",
            "issue": [{
                "severity": if status.is_server_error() { "fatal" } else { "error" },
                "code": issue_code,
                "details": {
                    "coding": [{ "system": "urn:frontdesk:error", "code": code }],
                    "text": message,
                },
            }],
        });
        let mut resp = fhir_json(status, &body);
        self.0.add_headers(resp.headers_mut());
        resp
    }
}

fn fhir_json(status: StatusCode, body: &Value) -> Response {
    let mut resp = (status, body.to_string()).into_response();
    resp.headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static(FHIR_JSON));
    resp
}

type Answer = Result<Response, FhirError>;

/// The key, checked: a refusal is an `OperationOutcome`.
fn caller(
    c: Result<ApiCaller, AppError>,
    scope: ApiScope,
) -> Result<(ApiCaller, frontdesk_store::TenantScope), FhirError> {
    let c = c?;
    let s = c.require(scope)?;
    Ok((c, s))
}

/// Where this server's FHIR base is, for `fullUrl` and links.
fn base(st: &AppState, headers: &HeaderMap) -> String {
    format!(
        "{}/fhir/r4",
        super::webhooks::public_base(st, headers).trim_end_matches('/')
    )
}

/// A path id: a malformed one is one that does not exist.
fn id_of<T>(
    raw: &str,
    parse: impl Fn(&str) -> Result<T, frontdesk_domain::DomainError>,
) -> Result<T, FhirError> {
    parse(raw).map_err(|_| FhirError::from(StoreError::NotFound))
}

/// The entry of `list` that `hit` picks, or 404.
fn found<T>(list: &[T], hit: impl Fn(&T) -> bool) -> Result<&T, FhirError> {
    list.iter()
        .find(|x| hit(x))
        .ok_or_else(|| StoreError::NotFound.into())
}

/// A reference parameter's id: `Type/<id>` or `<id>`.
fn reference<'a>(raw: &'a str, kind: &str) -> &'a str {
    raw.strip_prefix(kind)
        .and_then(|r| r.strip_prefix('/'))
        .unwrap_or(raw)
}

fn searchset(base: &str, self_url: String, next: Option<String>, entries: Vec<Value>) -> Response {
    let mut links = vec![json!({ "relation": "self", "url": self_url })];
    if let Some(n) = next {
        links.push(json!({ "relation": "next", "url": n }));
    }
    let entry: Vec<Value> = entries
        .into_iter()
        .map(|r| {
            let url = format!(
                "{base}/{}/{}",
                r["resourceType"].as_str().unwrap_or_default(),
                r["id"].as_str().unwrap_or_default()
            );
            json!({ "fullUrl": url, "resource": r, "search": { "mode": "match" } })
        })
        .collect();
    fhir_json(
        StatusCode::OK,
        &json!({ "resourceType": "Bundle", "type": "searchset", "link": links, "entry": entry }),
    )
}

fn count(params: &[(String, String)]) -> Result<u32, FhirError> {
    match params.iter().find(|(k, _)| k == "_count") {
        None => Ok(DEFAULT_COUNT),
        Some((_, v)) => match v.parse::<u32>() {
            Ok(n) if (1..=MAX_COUNT).contains(&n) => Ok(n),
            _ => Err(invalid("invalid_count", "_count must be 1 to 200.")),
        },
    }
}

fn instant(t: jiff::Timestamp) -> String {
    t.strftime("%Y-%m-%dT%H:%M:%SZ").to_string()
}

fn service_concept(catalog: &ClinicCatalog, id: ServiceId) -> Value {
    let name = catalog
        .services
        .iter()
        .find(|s| s.id == id)
        .map_or("Appointment", |s| s.name.as_str());
    json!({ "coding": [{ "system": SERVICE_SYSTEM, "code": id.to_string(), "display": name }], "text": name })
}

fn practitioner_ref(catalog: &ClinicCatalog, id: PractitionerId) -> Value {
    match catalog.practitioners.iter().find(|p| p.id == id) {
        Some(p) => json!({ "reference": format!("Practitioner/{id}"), "display": p.name }),
        None => json!({ "reference": format!("Practitioner/{id}") }),
    }
}

fn practitioner_resource(p: &frontdesk_store::Practitioner) -> Value {
    let mut r = json!({
        "resourceType": "Practitioner",
        "id": p.id.to_string(),
        "active": p.active,
        "name": [{ "text": p.name }],
    });
    if !p.title.trim().is_empty() {
        r["qualification"] = json!([{ "code": { "text": p.title } }]);
    }
    r
}

fn service_resource(s: &frontdesk_store::Service) -> Value {
    let mut r = json!({
        "resourceType": "HealthcareService",
        "id": s.id.to_string(),
        "active": s.active,
        "name": s.name,
        "type": [{ "coding": [{ "system": SERVICE_SYSTEM, "code": s.id.to_string(), "display": s.name }] }],
        "comment": format!("{} minutes.", s.duration_min),
    });
    if let Some(price) = s.price_minor {
        r["extraDetails"] =
            Value::String(format!("Price: {price} (minor units of {}).", s.currency));
    }
    r
}

/// The practitioner's schedule: one per practitioner, with the services they provide.
fn schedule_resource(catalog: &ClinicCatalog, p: &frontdesk_store::Practitioner) -> Value {
    let services: Vec<Value> = catalog
        .services
        .iter()
        .filter(|s| s.active && (s.practitioners.is_empty() || s.practitioners.contains(&p.id)))
        .map(|s| service_concept(catalog, s.id))
        .collect();
    let mut r = json!({
        "resourceType": "Schedule",
        "id": p.id.to_string(),
        "active": p.active,
        "actor": [practitioner_ref(catalog, p.id)],
    });
    if !services.is_empty() {
        r["serviceType"] = Value::Array(services);
    }
    r
}

/// Our status as FHIR's (`confirmed` is still `booked` there: the patient said yes).
fn fhir_status(s: AppointmentStatus) -> &'static str {
    match s {
        AppointmentStatus::Booked | AppointmentStatus::Confirmed => "booked",
        AppointmentStatus::Cancelled => "cancelled",
        AppointmentStatus::Completed => "fulfilled",
        AppointmentStatus::NoShow => "noshow",
    }
}

fn appointment_resource(
    catalog: &ClinicCatalog,
    a: &Appointment,
    updated: jiff::Timestamp,
) -> Value {
    let minutes = a.ends_at.duration_since(a.starts_at).as_mins();
    json!({
        "resourceType": "Appointment",
        "id": a.id.to_string(),
        "meta": { "lastUpdated": instant(updated) },
        "status": fhir_status(a.status),
        "serviceType": [service_concept(catalog, a.service_id)],
        "start": instant(a.starts_at),
        "end": instant(a.ends_at),
        "minutesDuration": minutes,
        "participant": [
            { "actor": { "reference": format!("Patient/{}", a.patient_id) }, "status": "accepted" },
            { "actor": practitioner_ref(catalog, a.practitioner_id), "status": "accepted" },
        ],
    })
}

/// `GET /fhir/r4/metadata`: what this server does (no key needed, as FHIR clients expect).
pub async fn metadata(State(st): State<AppState>, headers: HeaderMap) -> Response {
    let search = |name: &str, kind: &str, doc: &str| json!({ "name": name, "type": kind, "documentation": doc });
    let read_search = json!([{ "code": "read" }, { "code": "search-type" }]);
    let body = json!({
        "resourceType": "CapabilityStatement",
        "status": "active",
        "date": st.clock.now().strftime("%Y-%m-%d").to_string(),
        "publisher": "frontdesk",
        "kind": "instance",
        "software": { "name": "frontdesk", "version": env!("CARGO_PKG_VERSION") },
        "implementation": { "description": "frontdesk: a clinic's appointments, read only", "url": base(&st, &headers) },
        "fhirVersion": FHIR_VERSION,
        "format": ["application/fhir+json", "json"],
        "rest": [{
            "mode": "server",
            "security": { "description": "A clinic's API key: Authorization: Bearer fdk_…. Practitioner, HealthcareService, Schedule and Slot need schedule:read; Appointment appointments:read; Patient patients:read (each read audited). See docs/INTEGRATIONS.md." },
            "resource": [
                { "type": "Practitioner", "interaction": read_search },
                { "type": "HealthcareService", "interaction": read_search },
                { "type": "Schedule", "interaction": read_search },
                { "type": "Slot", "interaction": [{ "code": "search-type" }], "searchParam": [
                    search("schedule", "reference", "Required: Schedule/<practitioner id>."),
                    search("start", "date", "ge / gt / le / lt bounds, at most 31 days; default the next 7 days."),
                    search("service-type", "token", "A HealthcareService id (urn:frontdesk:service|<id>); default every service of the practitioner."),
                ]},
                { "type": "Appointment", "interaction": read_search, "searchParam": [
                    search("date", "date", "The start: eq / ge / gt / le / lt with a date (the clinic's day) or a dateTime."),
                    search("practitioner", "reference", "Practitioner/<id>."),
                    search("patient", "reference", "Patient/<id>."),
                    search("status", "token", "booked, cancelled, fulfilled, noshow (comma-separated for several)."),
                    search("_lastUpdated", "date", "When it last changed: ge / gt / le / lt."),
                ]},
                { "type": "Patient", "interaction": [{ "code": "read" }] },
            ],
        }],
    });
    fhir_json(StatusCode::OK, &body)
}

/// `GET /fhir/r4/Practitioner`.
pub async fn practitioners(
    State(st): State<AppState>,
    headers: HeaderMap,
    c: Result<ApiCaller, AppError>,
) -> Answer {
    let (_, scope) = caller(c, ApiScope::ScheduleRead)?;
    let list = st.store.list_practitioners(scope).await?;
    let base = base(&st, &headers);
    let entries = list.iter().map(practitioner_resource).collect();
    Ok(searchset(
        &base,
        format!("{base}/Practitioner"),
        None,
        entries,
    ))
}

/// `GET /fhir/r4/Practitioner/{id}`.
pub async fn practitioner(
    State(st): State<AppState>,
    c: Result<ApiCaller, AppError>,
    Path(raw): Path<String>,
) -> Answer {
    let (_, scope) = caller(c, ApiScope::ScheduleRead)?;
    let id = id_of(&raw, PractitionerId::parse)?;
    let list = st.store.list_practitioners(scope).await?;
    let p = found(&list, |p| p.id == id)?;
    Ok(fhir_json(StatusCode::OK, &practitioner_resource(p)))
}

/// `GET /fhir/r4/HealthcareService`.
pub async fn services(
    State(st): State<AppState>,
    headers: HeaderMap,
    c: Result<ApiCaller, AppError>,
) -> Answer {
    let (_, scope) = caller(c, ApiScope::ScheduleRead)?;
    let list = st.store.list_services(scope).await?;
    let base = base(&st, &headers);
    let entries = list.iter().map(service_resource).collect();
    Ok(searchset(
        &base,
        format!("{base}/HealthcareService"),
        None,
        entries,
    ))
}

/// `GET /fhir/r4/HealthcareService/{id}`.
pub async fn service(
    State(st): State<AppState>,
    c: Result<ApiCaller, AppError>,
    Path(raw): Path<String>,
) -> Answer {
    let (_, scope) = caller(c, ApiScope::ScheduleRead)?;
    let id = id_of(&raw, ServiceId::parse)?;
    let list = st.store.list_services(scope).await?;
    let s = found(&list, |s| s.id == id)?;
    Ok(fhir_json(StatusCode::OK, &service_resource(s)))
}

/// `GET /fhir/r4/Schedule`.
pub async fn schedules(
    State(st): State<AppState>,
    headers: HeaderMap,
    c: Result<ApiCaller, AppError>,
) -> Answer {
    let (_, scope) = caller(c, ApiScope::ScheduleRead)?;
    let catalog = st.store.clinic_catalog(scope).await?;
    let base = base(&st, &headers);
    let entries = catalog
        .practitioners
        .iter()
        .map(|p| schedule_resource(&catalog, p))
        .collect();
    Ok(searchset(&base, format!("{base}/Schedule"), None, entries))
}

/// `GET /fhir/r4/Schedule/{id}` (the practitioner's id).
pub async fn schedule(
    State(st): State<AppState>,
    c: Result<ApiCaller, AppError>,
    Path(raw): Path<String>,
) -> Answer {
    let (_, scope) = caller(c, ApiScope::ScheduleRead)?;
    let id = id_of(&raw, PractitionerId::parse)?;
    let catalog = st.store.clinic_catalog(scope).await?;
    let p = found(&catalog.practitioners, |p| p.id == id)?;
    Ok(fhir_json(StatusCode::OK, &schedule_resource(&catalog, p)))
}

/// One bound of a `date`-type search parameter, as a half-open range of instants.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Bound {
    /// Instants from here on (inclusive)…
    pub from: Option<jiff::Timestamp>,
    /// …and before here (exclusive).
    pub before: Option<jiff::Timestamp>,
}

/// Parses `[eq|ge|gt|le|lt]value` where value is `YYYY-MM-DD` (that day in `tz`) or a full
/// dateTime with an offset (that second).
pub fn date_bound(raw: &str, tz: &jiff::tz::TimeZone) -> Option<Bound> {
    let (prefix, value) = match raw.get(..2) {
        Some(p @ ("eq" | "ge" | "gt" | "le" | "lt")) => (p, &raw[2..]),
        _ => ("eq", raw),
    };
    let (lo, hi) = if value.len() == 10 {
        let day: jiff::civil::Date = value.parse().ok()?;
        let lo = day.to_zoned(tz.clone()).ok()?.timestamp();
        let hi = day.tomorrow().ok()?.to_zoned(tz.clone()).ok()?.timestamp();
        (lo, hi)
    } else {
        let t: jiff::Timestamp = value.parse().ok()?;
        (t, t + jiff::SignedDuration::from_secs(1))
    };
    Some(match prefix {
        "ge" => Bound {
            from: Some(lo),
            before: None,
        },
        "gt" => Bound {
            from: Some(hi),
            before: None,
        },
        "le" => Bound {
            from: None,
            before: Some(hi),
        },
        "lt" => Bound {
            from: None,
            before: Some(lo),
        },
        _ => Bound {
            from: Some(lo),
            before: Some(hi),
        },
    })
}

/// Every value of a `date` parameter, intersected.
fn date_range(
    params: &[(String, String)],
    name: &str,
    tz: &jiff::tz::TimeZone,
    code: &'static str,
    message: &'static str,
) -> Result<Bound, FhirError> {
    let mut out = Bound {
        from: None,
        before: None,
    };
    for (_, v) in params.iter().filter(|(k, _)| k == name) {
        let b = date_bound(v, tz).ok_or_else(|| invalid(code, message))?;
        out.from = out.from.max(b.from);
        out.before = match (out.before, b.before) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        };
    }
    Ok(out)
}

fn clinic_tz(catalog: &ClinicCatalog) -> Result<jiff::tz::TimeZone, FhirError> {
    jiff::tz::TimeZone::get(catalog.clinic.profile.timezone.as_str())
        .map_err(|_| FhirError::from(StoreError::Corrupt("clinic time zone")))
}

/// The query string again, for `self` and `next` links (only the parameters applied).
fn link(
    base: &str,
    kind: &str,
    params: &[(String, String)],
    applied: &[&str],
    cursor: Option<&str>,
) -> String {
    let mut q: Vec<String> = params
        .iter()
        .filter(|(k, _)| applied.contains(&k.as_str()))
        .map(|(k, v)| format!("{}={}", urlencode(k), urlencode(v)))
        .collect();
    if let Some(c) = cursor {
        q.push(format!("_cursor={c}"));
    }
    if q.is_empty() {
        format!("{base}/{kind}")
    } else {
        format!("{base}/{kind}?{}", q.join("&"))
    }
}

fn urlencode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// `GET /fhir/r4/Appointment?…`.
pub async fn appointments(
    State(st): State<AppState>,
    headers: HeaderMap,
    c: Result<ApiCaller, AppError>,
    Query(params): Query<Vec<(String, String)>>,
) -> Answer {
    let (_, scope) = caller(c, ApiScope::AppointmentsRead)?;
    let catalog = st.store.clinic_catalog(scope).await?;
    let tz = clinic_tz(&catalog)?;
    let limit = count(&params)?;
    let date = date_range(
        &params,
        "date",
        &tz,
        "invalid_date",
        "date must be [eq|ge|gt|le|lt] and YYYY-MM-DD or a dateTime with an offset.",
    )?;
    let updated = date_range(
        &params,
        "_lastUpdated",
        &tz,
        "invalid_last_updated",
        "_lastUpdated must be [eq|ge|gt|le|lt] and YYYY-MM-DD or a dateTime with an offset.",
    )?;
    let one = |name: &str| {
        params
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    };
    let practitioner = match one("practitioner") {
        None => None,
        Some(r) => Some(
            PractitionerId::parse(reference(r, "Practitioner")).map_err(|_| {
                invalid(
                    "invalid_practitioner",
                    "practitioner must be Practitioner/<id>.",
                )
            })?,
        ),
    };
    let patient = match one("patient") {
        None => None,
        Some(r) => Some(
            PatientId::parse(reference(r, "Patient"))
                .map_err(|_| invalid("invalid_patient", "patient must be Patient/<id>."))?,
        ),
    };
    let mut statuses = Vec::new();
    let mut no_match = false;
    if let Some(list) = one("status") {
        for s in list.split(',') {
            match s.trim() {
                "booked" => {
                    statuses.extend([AppointmentStatus::Booked, AppointmentStatus::Confirmed])
                }
                "cancelled" => statuses.push(AppointmentStatus::Cancelled),
                "fulfilled" => statuses.push(AppointmentStatus::Completed),
                "noshow" => statuses.push(AppointmentStatus::NoShow),
                // Valid FHIR statuses this clinic's appointments never have.
                "proposed" | "pending" | "arrived" | "entered-in-error" | "checked-in"
                | "waitlist" => {}
                _ => {
                    return Err(invalid(
                        "invalid_status",
                        "status must be booked, cancelled, fulfilled, noshow (or another FHIR appointment status).",
                    ));
                }
            }
        }
        no_match = statuses.is_empty();
    }
    let after = match one("_cursor") {
        None => None,
        Some(c) => {
            let key = decode_cursor("fhir_appointments", c).map_err(FhirError)?;
            let bad = || invalid("invalid_cursor", "The cursor is not one this search gave.");
            let (t, id) = key.split_once(',').ok_or_else(bad)?;
            let t = t
                .parse::<i64>()
                .ok()
                .and_then(|us| jiff::Timestamp::from_microsecond(us).ok())
                .ok_or_else(bad)?;
            Some((t, AppointmentId::parse(id).map_err(|_| bad())?))
        }
    };
    let base = base(&st, &headers);
    let applied = [
        "date",
        "practitioner",
        "patient",
        "status",
        "_lastUpdated",
        "_count",
    ];
    let self_url = link(&base, "Appointment", &params, &applied, one("_cursor"));
    if no_match {
        return Ok(searchset(&base, self_url, None, Vec::new()));
    }
    let q = AppointmentSearch {
        id: None,
        starts_from: date.from,
        starts_before: date.before,
        practitioner,
        patient,
        statuses,
        updated_from: updated.from,
        updated_before: updated.before,
        after,
        limit: limit + 1,
    };
    let mut rows = st.store.search_appointments(scope, &q).await?;
    let more = rows.len() > limit as usize;
    rows.truncate(limit as usize);
    let next = match rows.last() {
        Some((a, _)) if more => {
            let c = encode_cursor(
                "fhir_appointments",
                &format!("{},{}", a.starts_at.as_microsecond(), a.id),
            );
            Some(link(&base, "Appointment", &params, &applied, Some(&c)))
        }
        _ => None,
    };
    let entries = rows
        .iter()
        .map(|(a, u)| appointment_resource(&catalog, a, *u))
        .collect();
    Ok(searchset(&base, self_url, next, entries))
}

/// `GET /fhir/r4/Appointment/{id}`.
pub async fn appointment(
    State(st): State<AppState>,
    c: Result<ApiCaller, AppError>,
    Path(raw): Path<String>,
) -> Answer {
    let (_, scope) = caller(c, ApiScope::AppointmentsRead)?;
    let id = id_of(&raw, AppointmentId::parse)?;
    // One read: the appointment with its change time.
    let q = AppointmentSearch {
        id: Some(id),
        limit: 1,
        ..AppointmentSearch::default()
    };
    let (a, updated) = st
        .store
        .search_appointments(scope, &q)
        .await?
        .pop()
        .ok_or(StoreError::NotFound)?;
    let catalog = st.store.clinic_catalog(scope).await?;
    Ok(fhir_json(
        StatusCode::OK,
        &appointment_resource(&catalog, &a, updated),
    ))
}

/// `GET /fhir/r4/Patient/{id}`: the minimal record (name and language; no phone or email),
/// audited `patient.viewed` with the key as the actor before it is answered.
pub async fn patient(
    State(st): State<AppState>,
    c: Result<ApiCaller, AppError>,
    Path(raw): Path<String>,
) -> Answer {
    let (c, scope) = caller(c, ApiScope::PatientsRead)?;
    let id = id_of(&raw, PatientId::parse)?;
    let p = st.store.patient(scope, id).await?;
    let ev = AuditEvent::new(c.actor(), "patient.viewed")
        .target("patient", id)
        .details(json!({ "via": "fhir" }));
    st.store.append_audit(scope, &ev).await?;
    let mut r = json!({ "resourceType": "Patient", "id": p.id.to_string(), "active": true });
    if let Some(name) = p.name.filter(|n| !n.trim().is_empty()) {
        r["name"] = json!([{ "text": name }]);
    }
    if let Some(lang) = p.language.filter(|l| !l.trim().is_empty()) {
        r["communication"] =
            json!([{ "language": { "coding": [{ "system": "urn:ietf:bcp:47", "code": lang }] } }]);
    }
    Ok(fhir_json(StatusCode::OK, &r))
}

/// `GET /fhir/r4/Slot?schedule=Schedule/<practitioner>[&start=ge…&start=lt…][&service-type=…]`:
/// free times with at least an hour's notice, soonest first.
pub async fn slots(
    State(st): State<AppState>,
    headers: HeaderMap,
    c: Result<ApiCaller, AppError>,
    Query(params): Query<Vec<(String, String)>>,
) -> Answer {
    let (_, scope) = caller(c, ApiScope::ScheduleRead)?;
    let catalog = st.store.clinic_catalog(scope).await?;
    let tz = clinic_tz(&catalog)?;
    let limit = count(&params)? as usize;
    let one = |name: &str| {
        params
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    };
    let Some(schedule) = one("schedule") else {
        return Err(invalid(
            "missing_schedule",
            "schedule is required: Schedule/<practitioner id>.",
        ));
    };
    let practitioner = PractitionerId::parse(reference(schedule, "Schedule")).map_err(|_| {
        invalid(
            "invalid_schedule",
            "schedule must be Schedule/<practitioner id>.",
        )
    })?;
    let p = found(&catalog.practitioners, |p| p.id == practitioner)?;
    let range = date_range(
        &params,
        "start",
        &tz,
        "invalid_start",
        "start must be [ge|gt|le|lt] and YYYY-MM-DD or a dateTime with an offset.",
    )?;
    let now = st.clock.now();
    let from = range.from.unwrap_or(now).max(now);
    let before = range
        .before
        .unwrap_or(from + jiff::SignedDuration::from_hours(24 * 7));
    if before <= from
        || before.duration_since(from) > jiff::SignedDuration::from_hours(24 * MAX_SLOT_DAYS)
    {
        return Err(invalid(
            "invalid_range",
            "start's range must be at most 31 days, and not all in the past.",
        ));
    }
    let wanted: Option<ServiceId> = match one("service-type") {
        None => None,
        Some(v) => Some(
            ServiceId::parse(
                v.strip_prefix(SERVICE_SYSTEM)
                    .and_then(|r| r.strip_prefix('|'))
                    .unwrap_or(v),
            )
            .map_err(|_| {
                invalid(
                    "invalid_service_type",
                    "service-type must be a HealthcareService id.",
                )
            })?,
        ),
    };
    let services: Vec<&frontdesk_store::Service> = catalog
        .services
        .iter()
        .filter(|s| {
            s.active && (s.practitioners.is_empty() || s.practitioners.contains(&practitioner))
        })
        .filter(|s| wanted.is_none_or(|w| w == s.id))
        .collect();
    if wanted.is_some() && services.is_empty() {
        return Err(FhirError::from(StoreError::NotFound));
    }
    // From the clinic's diary: the built-in scheduler, or its Cal.com.
    let diary = crate::booking::diary::Diary::load(st.store.as_ref(), scope).await?;
    let mut found: Vec<(jiff::Timestamp, jiff::Timestamp, ServiceId)> = Vec::new();
    for s in services {
        let search = SlotSearch {
            practitioner,
            service: s.id,
            from: from.to_zoned(tz.clone()).date(),
            to: before.to_zoned(tz.clone()).date(),
            min_notice: jiff::SignedDuration::from_hours(1),
            day_start: None,
            day_end: None,
            limit: limit + 1,
        };
        let slots = crate::booking::diary::free_slots(
            st.store.as_ref(),
            scope,
            &diary,
            &search,
            st.clock.now(),
        )
        .await
        .map_err(|e| FhirError::from(super::api::diary_error(e)))?;
        for (start, end) in slots {
            if start >= from && start < before {
                found.push((start, end, s.id));
            }
        }
    }
    found.sort();
    found.truncate(limit);
    let base = base(&st, &headers);
    let entries = found
        .into_iter()
        .map(|(start, end, service)| {
            json!({
                "resourceType": "Slot",
                "id": format!("{}-{}-{}", practitioner.as_uuid().simple(), &service.as_uuid().simple().to_string()[..16], start.as_second()),
                "schedule": { "reference": format!("Schedule/{}", p.id), "display": p.name },
                "serviceType": [service_concept(&catalog, service)],
                "status": "free",
                "start": instant(start),
                "end": instant(end),
            })
        })
        .collect();
    let self_url = link(
        &base,
        "Slot",
        &params,
        &["schedule", "start", "service-type", "_count"],
        None,
    );
    Ok(searchset(&base, self_url, None, entries))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn date_bounds_take_the_clinics_day_or_the_exact_second() {
        let tz = jiff::tz::TimeZone::get("Pacific/Auckland").unwrap();
        let day_lo: jiff::Timestamp = "2026-12-06T11:00:00Z".parse().unwrap();
        let day_hi: jiff::Timestamp = "2026-12-07T11:00:00Z".parse().unwrap();
        assert_eq!(
            date_bound("2026-12-07", &tz),
            Some(Bound {
                from: Some(day_lo),
                before: Some(day_hi)
            })
        );
        assert_eq!(
            date_bound("ge2026-12-07", &tz),
            Some(Bound {
                from: Some(day_lo),
                before: None
            })
        );
        assert_eq!(
            date_bound("gt2026-12-07", &tz),
            Some(Bound {
                from: Some(day_hi),
                before: None
            })
        );
        assert_eq!(
            date_bound("lt2026-12-07", &tz),
            Some(Bound {
                from: None,
                before: Some(day_lo)
            })
        );
        assert_eq!(
            date_bound("le2026-12-07", &tz),
            Some(Bound {
                from: None,
                before: Some(day_hi)
            })
        );
        let t: jiff::Timestamp = "2026-12-07T09:30:00Z".parse().unwrap();
        assert_eq!(
            date_bound("ge2026-12-07T22:30:00+13:00", &tz),
            Some(Bound {
                from: Some(t),
                before: None
            })
        );
        for bad in [
            "",
            "ne2026-12-07",
            "2026-13-01",
            "yesterday",
            "ge2026-12-07T09:30:00",
        ] {
            assert_eq!(date_bound(bad, &tz), None, "{bad}");
        }
    }

    #[test]
    fn statuses_map_to_fhirs() {
        assert_eq!(fhir_status(AppointmentStatus::Confirmed), "booked");
        assert_eq!(fhir_status(AppointmentStatus::Completed), "fulfilled");
        assert_eq!(fhir_status(AppointmentStatus::NoShow), "noshow");
    }
}
