//! Data subject requests (#8 item 3) for one patient, shared by the dashboard and the CLI:
//! a copy of everything the clinic holds about them (JSON for machines, HTML for people),
//! and erasure for good.
//!
//! The copy holds the minimal record, messaging consent, every conversation with its
//! messages, appointments, and the access log (who opened their record or conversations,
//! from the audit log). Call audio is not inside: the copy lists each recording, and the
//! clinic plays or sends it from the dashboard. Making a copy is audited (`patient.exported`,
//! with the format) before it is handed over. The whole-clinic export
//! (`crate::clinic_export`) puts the same copy of every patient in its document.
//!
//! Erasure destroys the patient's key and deletes their rows in one store transaction (see
//! `frontdesk_store::DataRequestStore::erase_patient`), then deletes their recordings' audio
//! from blob storage (already unreadable: it was sealed with the destroyed key).

use crate::blobs::BlobStore;
use askama::Template;
use frontdesk_domain::PatientId;
use frontdesk_store::{
    Actor, AuditEntry, ClinicCatalog, Erasure, Sender, Store, StoreError, TenantScope,
};
use serde_json::{Value, json};

/// Everything the clinic holds about one patient, opened, as a JSON document.
pub struct PatientCopy {
    pub json: Value,
    pub counts: CopyCounts,
    clinic: String,
    exported_at: String,
}

/// How much one copy holds (for the counts a whole-clinic export records).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CopyCounts {
    pub conversations: u64,
    pub messages: u64,
    pub appointments: u64,
}

/// The most access-log entries a copy carries per target.
const ACCESS_LOG_LIMIT: u32 = 10_000;

fn access_entry(e: &AuditEntry) -> Value {
    json!({
        "at": e.at.to_string(),
        "action": e.action,
        "actor": e.actor_kind,
        "actor_id": e.actor_id,
        "target": e.target_kind,
        "target_id": e.target_id,
    })
}

/// Reads the copy of `patient` without auditing it, for callers that record the copy
/// themselves: [`export_patient`] (`patient.exported`), and the whole-clinic export, which
/// records one `clinic.exported` instead of one entry per patient. `catalog` is the clinic's
/// (read once by a caller that copies many patients) and names services and practitioners.
/// Unknown patient: `NotFound`.
pub async fn read_patient_copy(
    store: &dyn Store,
    scope: TenantScope,
    catalog: &ClinicCatalog,
    patient: PatientId,
) -> Result<PatientCopy, StoreError> {
    let record = store.patient_record(scope, patient).await?;
    let name_of_service = |id| {
        catalog
            .services
            .iter()
            .find(|s| s.id == id)
            .map(|s| s.name.clone())
    };
    let name_of_practitioner = |id| {
        catalog
            .practitioners
            .iter()
            .find(|p| p.id == id)
            .map(|p| p.name.clone())
    };
    let mut conversations = Vec::new();
    let mut counts = CopyCounts {
        conversations: record.conversations.len() as u64,
        appointments: record.appointments.len() as u64,
        ..CopyCounts::default()
    };
    let mut access = store
        .audit_about(scope, "patient", &patient.to_string(), ACCESS_LOG_LIMIT)
        .await?;
    for c in &record.conversations {
        let messages = store.messages(scope, c.id).await?;
        counts.messages += messages.len() as u64;
        access.extend(
            store
                .audit_about(scope, "conversation", &c.id.to_string(), ACCESS_LOG_LIMIT)
                .await?,
        );
        conversations.push(json!({
            "id": c.id.to_string(),
            "channel": c.channel.as_str(),
            "started_at": c.started_at.to_string(),
            "last_message_at": c.last_message_at.to_string(),
            "messages": messages.iter().map(|m| json!({
                "at": m.created_at.to_string(),
                "from": match m.sender {
                    Sender::Patient => "patient",
                    Sender::Agent => "receptionist",
                    Sender::Staff => "staff",
                    Sender::System => "automatic",
                },
                "text": m.body,
                "status": m.status,
            })).collect::<Vec<_>>(),
        }));
    }
    access.sort_by_key(|e| e.seq);
    // Deposits and fees asked for the patient's appointments (amounts, status, the provider's
    // receipt; frontdesk never holds card or account details).
    let appointment_ids: Vec<_> = record.appointments.iter().map(|a| a.id).collect();
    let payments = store.appointment_payments(scope, &appointment_ids).await?;
    let p = &record.patient;
    let exported_at = jiff::Timestamp::now().to_string();
    let json = json!({
        "format": "frontdesk.patient-copy.v1",
        "clinic": catalog.clinic.profile.name,
        "exported_at": exported_at,
        "patient": {
            "id": p.id.to_string(),
            "name": p.name,
            "phone": p.phone.as_ref().map(|x| x.as_str()),
            "email": p.email.as_ref().map(|x| x.as_str()),
            "language": p.language,
            "since": p.created_at.to_string(),
        },
        "consent": record.consents.iter().map(|(ch, c)| json!({
            "channel": ch.as_str(),
            "opted_in": c.opted_in,
            "source": c.source,
            "updated_at": c.updated_at.to_string(),
        })).collect::<Vec<_>>(),
        "conversations": conversations,
        "appointments": record.appointments.iter().map(|a| json!({
            "id": a.id.to_string(),
            "starts_at": a.starts_at.to_string(),
            "ends_at": a.ends_at.to_string(),
            "service": name_of_service(a.service_id),
            "practitioner": name_of_practitioner(a.practitioner_id),
            "status": a.status.as_str(),
        })).collect::<Vec<_>>(),
        "payments": payments.iter().filter(|pay| pay.patient == patient).map(|pay| json!({
            "appointment_id": pay.appointment.to_string(),
            "provider": pay.provider.as_str(),
            "amount_minor": pay.amount_minor,
            "currency": pay.currency,
            "status": pay.status.as_str(),
            "receipt": pay.receipt,
            "asked_at": pay.created_at.to_string(),
            "settled_at": pay.settled_at.map(|t| t.to_string()),
        })).collect::<Vec<_>>(),
        "access_log": access.iter().map(access_entry).collect::<Vec<_>>(),
    });
    Ok(PatientCopy {
        json,
        counts,
        clinic: catalog.clinic.profile.name.clone(),
        exported_at,
    })
}

/// The copy of `patient`, audited `patient.exported` (with `format`) before it is returned:
/// a copy that cannot be recorded is not handed over. Unknown patient: `NotFound`.
pub async fn export_patient(
    store: &dyn Store,
    scope: TenantScope,
    patient: PatientId,
    actor: Actor,
    format: &str,
) -> Result<PatientCopy, StoreError> {
    let catalog = store.clinic_catalog(scope).await?;
    let copy = read_patient_copy(store, scope, &catalog, patient).await?;
    store
        .record_patient_export(scope, patient, actor, format)
        .await?;
    Ok(copy)
}

struct Line {
    at: String,
    from: String,
    text: String,
}

struct Conv {
    channel: String,
    started: String,
    lines: Vec<Line>,
}

#[derive(Template)]
#[template(path = "export/patient.html")]
struct CopyPage<'a> {
    clinic: &'a str,
    exported_at: &'a str,
    fields: Vec<(&'static str, String)>,
    consent: Vec<String>,
    conversations: Vec<Conv>,
    appointments: Vec<String>,
    payments: Vec<String>,
    access: Vec<String>,
}

fn s(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Null => "—".to_owned(),
        other => other.to_string(),
    }
}

impl PatientCopy {
    /// The copy as a standalone HTML page for the patient to read (every value escaped).
    pub fn html(&self) -> Result<String, askama::Error> {
        let j = &self.json;
        let p = &j["patient"];
        let list = |key: &str| j[key].as_array().cloned().unwrap_or_default();
        CopyPage {
            clinic: &self.clinic,
            exported_at: &self.exported_at,
            fields: vec![
                ("Name", s(&p["name"])),
                ("Mobile", s(&p["phone"])),
                ("Email", s(&p["email"])),
                ("Language", s(&p["language"])),
                ("Known since", s(&p["since"])),
            ],
            consent: list("consent")
                .iter()
                .map(|c| {
                    let state = if c["opted_in"] == json!(true) {
                        "agreed to messages"
                    } else {
                        "opted out"
                    };
                    format!(
                        "{}: {state} ({}, {})",
                        s(&c["channel"]),
                        s(&c["source"]),
                        s(&c["updated_at"])
                    )
                })
                .collect(),
            conversations: list("conversations")
                .iter()
                .map(|c| Conv {
                    channel: s(&c["channel"]),
                    started: s(&c["started_at"]),
                    lines: c["messages"]
                        .as_array()
                        .map(|ms| {
                            ms.iter()
                                .map(|m| Line {
                                    at: s(&m["at"]),
                                    from: s(&m["from"]),
                                    text: s(&m["text"]),
                                })
                                .collect()
                        })
                        .unwrap_or_default(),
                })
                .collect(),
            appointments: list("appointments")
                .iter()
                .map(|a| {
                    format!(
                        "{} to {}: {} with {} ({})",
                        s(&a["starts_at"]),
                        s(&a["ends_at"]),
                        s(&a["service"]),
                        s(&a["practitioner"]),
                        s(&a["status"])
                    )
                })
                .collect(),
            payments: list("payments")
                .iter()
                .map(|p| {
                    let amount = p["amount_minor"].as_i64().unwrap_or(0);
                    format!(
                        "{} {}.{:02} by {} for the appointment {}, asked {}: {} (receipt {})",
                        s(&p["currency"]),
                        amount / 100,
                        amount % 100,
                        s(&p["provider"]),
                        s(&p["appointment_id"]),
                        s(&p["asked_at"]),
                        s(&p["status"]),
                        s(&p["receipt"])
                    )
                })
                .collect(),
            access: list("access_log")
                .iter()
                .map(|e| format!("{}: {} by {}", s(&e["at"]), s(&e["action"]), s(&e["actor"])))
                .collect(),
        }
        .render()
    }
}

/// Erases `patient` (see the module documentation), then deletes their recordings' audio
/// from blob storage. A blob that cannot be deleted now is logged (by key, no personal data)
/// and stays unreadable; the erasure itself has happened either way.
pub async fn erase_patient(
    store: &dyn Store,
    blobs: Option<&dyn BlobStore>,
    scope: TenantScope,
    patient: PatientId,
    actor: Actor,
) -> Result<Erasure, StoreError> {
    let erased = store.erase_patient(scope, patient, actor).await?;
    for key in &erased.recording_blobs {
        let deleted = match blobs {
            Some(b) => b.delete(key).await.map_err(|e| e.to_string()),
            None => Err("no blob storage configured".to_owned()),
        };
        if let Err(e) = deleted {
            tracing::warn!(error = %e, blob = %key, "an erased patient's recording audio was not deleted; it stays unreadable");
        }
    }
    Ok(erased)
}
