//! Patients (issue #7 item 5, begun): find a patient by mobile number (through the blind
//! index; the number is never queried in clear) and read their minimal record: contact
//! details, messaging consent per channel, conversations and appointments. `ViewPatients`;
//! roles whose reach is "assigned to them" find and open only the patients assigned to them
//! (a conversation of theirs assigned to them, or booked with their practitioner), and see
//! only those of the patient's conversations assigned to them; anyone else is 404.
//! The Owner (`ManageRetention`) also answers data requests here: a copy of everything held
//! about the patient (HTML or JSON, audited `patient.exported`) and erasure for good (see
//! `crate::data_requests`).

use super::AppState;
use super::dashboard::{Require, perm, plain as text, store_failed as unavailable};
use askama::Template;
use axum::{
    extract::{Path, Query, State},
    http::StatusCode,
    response::{IntoResponse, Redirect, Response},
};
use frontdesk_domain::{Access, E164Phone, PatientId, Permission};
use frontdesk_store::{Assignable, StaffSession, StoreError};

/// Whether staff with `access` to patients reach this one (unknown ids are not reached).
async fn reaches(
    st: &AppState,
    s: &StaffSession,
    access: Access,
    id: PatientId,
) -> Result<bool, StoreError> {
    match access {
        Access::All => Ok(true),
        Access::Assigned => {
            st.store
                .is_assigned(s.scope, s.user, Assignable::Patient(id))
                .await
        }
        Access::None => Ok(false),
    }
}

#[derive(serde::Deserialize, Default)]
pub struct PatientSearch {
    #[serde(default)]
    phone: String,
}

#[derive(Template)]
#[template(path = "dashboard/patients.html")]
struct SearchPage {
    phone: String,
    assigned_only: bool,
    not_found: bool,
    error: Option<&'static str>,
}

/// `GET /dashboard/patients?phone=…`: the search; a match opens the record.
pub async fn patients_page(
    State(st): State<AppState>,
    Require { staff, access, .. }: Require<perm::ViewPatients>,
    Query(q): Query<PatientSearch>,
) -> Response {
    let raw = q.phone.trim();
    let mut page = SearchPage {
        phone: q.phone.clone(),
        assigned_only: access == Access::Assigned,
        not_found: false,
        error: None,
    };
    let mut status = StatusCode::OK;
    if !raw.is_empty() {
        match E164Phone::parse(raw) {
            Err(_) => {
                page.error =
                    Some("Enter the mobile number in international form, e.g. +64 21 555 0101.");
                status = StatusCode::UNPROCESSABLE_ENTITY;
            }
            Ok(phone) => match st
                .store
                .find_patient_by_phone(staff.session().scope, &phone)
                .await
            {
                Ok(Some(p)) => match reaches(&st, staff.session(), access, p.id).await {
                    Ok(true) => {
                        return Redirect::to(&format!("/dashboard/patients/{}", p.id))
                            .into_response();
                    }
                    // Not theirs: the same answer as a number nobody has.
                    Ok(false) => page.not_found = true,
                    Err(e) => return unavailable(&e),
                },
                Ok(None) => page.not_found = true,
                Err(e) => return unavailable(&e),
            },
        }
    }
    super::dashboard::page(status, &page)
}

struct ConvRow {
    id: String,
    channel: &'static str,
    urgency: String,
    last: String,
}

struct ApptRow {
    when: String,
    service: String,
    practitioner: String,
    status: &'static str,
}

struct ConsentRow {
    channel: &'static str,
    opted_in: bool,
    source: String,
    when: String,
}

#[derive(Template)]
#[template(path = "dashboard/patient.html")]
struct RecordPage {
    name: String,
    phone: String,
    email: String,
    language: String,
    since: String,
    tz: String,
    consents: Vec<ConsentRow>,
    conversations: Vec<ConvRow>,
    appointments: Vec<ApptRow>,
    id: String,
    /// The Owner: offer a copy and erasure.
    data_requests: bool,
    csrf: String,
}

/// `GET /dashboard/patients/{id}`.
pub async fn patient_page(
    State(st): State<AppState>,
    Require { staff, access, .. }: Require<perm::ViewPatients>,
    Path(raw): Path<String>,
) -> Response {
    let not_found = || text(StatusCode::NOT_FOUND, "No such patient.");
    let Ok(id) = PatientId::parse(&raw) else {
        return not_found();
    };
    match reaches(&st, staff.session(), access, id).await {
        Ok(true) => {}
        Ok(false) => return not_found(),
        Err(e) => return unavailable(&e),
    }
    let scope = staff.session().scope;
    let (record, catalog) = match (
        st.store.patient_record(scope, id).await,
        st.store.clinic_catalog(scope).await,
    ) {
        (Ok(r), Ok(c)) => (r, c),
        (Err(StoreError::NotFound), _) => return not_found(),
        (Err(e), _) | (_, Err(e)) => return unavailable(&e),
    };
    let tz = catalog.clinic.profile.timezone.as_str().to_owned();
    let local = |t: jiff::Timestamp| {
        t.in_tz(&tz)
            .map(|z| z.strftime("%a %-d %b %Y %H:%M").to_string())
            .unwrap_or_else(|_| t.to_string())
    };
    // Who read which patient's record, for the clinic's access report. No audit entry, no
    // page: a view that cannot be recorded is not shown.
    let ev = frontdesk_store::AuditEvent::new(
        frontdesk_store::Actor::Staff(staff.session().user),
        "patient.viewed",
    )
    .target("patient", id);
    if let Err(e) = st.store.append_audit(scope, &ev).await {
        return unavailable(&e);
    }
    let p = &record.patient;
    let page = RecordPage {
        name: p.name.clone().unwrap_or_else(|| "(no name given)".into()),
        phone: p
            .phone
            .as_ref()
            .map_or_else(|| "—".into(), |x| x.as_str().to_owned()),
        email: p
            .email
            .as_ref()
            .map_or_else(|| "—".into(), |x| x.as_str().to_owned()),
        language: p.language.clone().unwrap_or_else(|| "—".into()),
        since: local(p.created_at),
        consents: record
            .consents
            .iter()
            .map(|(ch, c)| ConsentRow {
                channel: ch.as_str(),
                opted_in: c.opted_in,
                source: c.source.clone(),
                when: local(c.updated_at),
            })
            .collect(),
        conversations: record
            .conversations
            .iter()
            .filter(|c| access == Access::All || c.assignee == Some(staff.session().user))
            .map(|c| ConvRow {
                id: c.id.to_string(),
                channel: c.channel.as_str(),
                urgency: c.urgency.clone(),
                last: local(c.last_message_at),
            })
            .collect(),
        appointments: record
            .appointments
            .iter()
            .map(|a| ApptRow {
                when: local(a.starts_at),
                service: catalog
                    .services
                    .iter()
                    .find(|s| s.id == a.service_id)
                    .map_or_else(|| "—".into(), |s| s.name.clone()),
                practitioner: catalog
                    .practitioners
                    .iter()
                    .find(|x| x.id == a.practitioner_id)
                    .map_or_else(|| "—".into(), |x| x.name.clone()),
                status: a.status.as_str(),
            })
            .collect(),
        tz: tz.clone(),
        id: id.to_string(),
        data_requests: staff.session().role.access(Permission::ManageRetention) == Access::All,
        csrf: staff.csrf(),
    };
    super::dashboard::page(StatusCode::OK, &page)
}

#[derive(serde::Deserialize)]
pub struct ExportQuery {
    #[serde(default)]
    format: String,
}

/// `GET /dashboard/patients/{id}/export?format=html|json`: the patient's copy, as a download.
/// Owner only (`ManageRetention`); audited before a byte is sent.
pub async fn export(
    State(st): State<AppState>,
    Require { staff, access, .. }: Require<perm::ManageRetention>,
    Path(raw): Path<String>,
    Query(q): Query<ExportQuery>,
) -> Response {
    if access != Access::All {
        return text(StatusCode::FORBIDDEN, "Your role does not allow this.");
    }
    let Ok(id) = PatientId::parse(&raw) else {
        return text(StatusCode::NOT_FOUND, "No such patient.");
    };
    let (format, content_type) = match q.format.as_str() {
        "json" => ("json", "application/json"),
        "html" | "" => ("html", "text/html; charset=utf-8"),
        _ => {
            return text(
                StatusCode::UNPROCESSABLE_ENTITY,
                "Ask for format=html or format=json.",
            );
        }
    };
    let s = staff.session();
    let copy = match crate::data_requests::export_patient(
        st.store.as_ref(),
        s.scope,
        id,
        frontdesk_store::Actor::Staff(s.user),
        format,
    )
    .await
    {
        Ok(c) => c,
        Err(StoreError::NotFound) => return text(StatusCode::NOT_FOUND, "No such patient."),
        Err(e) => return unavailable(&e),
    };
    let body = if format == "json" {
        serde_json::to_string_pretty(&copy.json).map_err(|e| e.to_string())
    } else {
        copy.html().map_err(|e| e.to_string())
    };
    let body = match body {
        Ok(b) => b,
        Err(e) => {
            tracing::error!(error = %e, "patient copy not rendered");
            return text(
                StatusCode::INTERNAL_SERVER_ERROR,
                "Something went wrong on our side.",
            );
        }
    };
    let disposition = format!("attachment; filename=\"patient-{id}.{format}\"");
    let mut resp = (StatusCode::OK, body).into_response();
    let h = resp.headers_mut();
    h.insert(
        axum::http::header::CONTENT_TYPE,
        axum::http::HeaderValue::from_static(content_type),
    );
    h.insert(
        axum::http::header::CACHE_CONTROL,
        axum::http::HeaderValue::from_static("no-store"),
    );
    if let Ok(v) = axum::http::HeaderValue::from_str(&disposition) {
        h.insert(axum::http::header::CONTENT_DISPOSITION, v);
    }
    resp
}

#[derive(serde::Deserialize)]
pub struct EraseForm {
    csrf: String,
    #[serde(default)]
    confirm: String,
}

/// `POST /dashboard/patients/{id}/erase`: erases the patient for good (Owner only), once the
/// form says ERASE. Answers what was erased.
pub async fn erase(
    State(st): State<AppState>,
    Require { staff, access, .. }: Require<perm::ManageRetention>,
    Path(raw): Path<String>,
    axum::Form(f): axum::Form<EraseForm>,
) -> Response {
    if access != Access::All {
        return text(StatusCode::FORBIDDEN, "Your role does not allow this.");
    }
    if !super::dashboard::csrf_ok_for(&staff, &f.csrf) {
        return super::dashboard::form_expired();
    }
    let Ok(id) = PatientId::parse(&raw) else {
        return text(StatusCode::NOT_FOUND, "No such patient.");
    };
    if f.confirm.trim() != "ERASE" {
        return super::dashboard::message(
            StatusCode::UNPROCESSABLE_ENTITY,
            "Not erased",
            "Type ERASE in the box to confirm. Nothing was changed.",
            Some((&format!("/dashboard/patients/{id}"), "Back to the patient")),
        );
    }
    let s = staff.session();
    let erased = match crate::data_requests::erase_patient(
        st.store.as_ref(),
        st.dashboard.blobs.as_deref(),
        s.scope,
        id,
        frontdesk_store::Actor::Staff(s.user),
    )
    .await
    {
        Ok(e) => e,
        Err(StoreError::NotFound) => return text(StatusCode::NOT_FOUND, "No such patient."),
        Err(e) => return unavailable(&e),
    };
    let c = erased.counts;
    let summary = format!(
        "The patient's key was destroyed and their rows deleted: {} conversations with {} messages, {} appointments, {} calls with {} recordings, {} consent records. The erasure is kept in the clinic's erasure ledger (ids only), so a restored backup erases them again.",
        c.conversations, c.messages, c.appointments, c.calls, c.recordings, c.consents
    );
    super::dashboard::message(
        StatusCode::OK,
        "Patient erased",
        &summary,
        Some(("/dashboard/patients", "Find another patient")),
    )
}
