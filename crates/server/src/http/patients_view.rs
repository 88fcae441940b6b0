//! Patients (issue #7 item 5, begun): find a patient by mobile number (through the blind
//! index; the number is never queried in clear) and read their minimal record: contact
//! details, messaging consent per channel, conversations and appointments. `ViewPatients`;
//! roles whose reach is "assigned to them" find and open only the patients assigned to them
//! (a conversation of theirs assigned to them, or booked with their practitioner), and see
//! only those of the patient's conversations assigned to them; anyone else is 404.
//! Exports and erasure (data requests) belong to #8 and are not offered here yet.

use super::AppState;
use super::dashboard::{Require, perm, plain as text, store_failed as unavailable};
use askama::Template;
use axum::{
    extract::{Path, Query, State},
    http::StatusCode,
    response::{IntoResponse, Redirect, Response},
};
use frontdesk_domain::{Access, E164Phone, PatientId};
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
    };
    super::dashboard::page(StatusCode::OK, &page)
}
