//! The whole-clinic export (#8 item 3): everything one clinic holds here, as one JSON document
//! the clinic can take away (on leaving, or for its auditor). `frontdesk export` writes it.
//!
//! The document (`frontdesk.clinic-export.v1`) holds the clinic (slug, status, profile),
//! practitioners with their hours, services, FAQs, red-flag rules, staff (name, email, role,
//! status, created; never a token hash, TOTP secret or session), channel accounts (provider,
//! address and the names of the secrets set; never a secret value), the language model
//! settings (never the API key) and usage totals, every patient's copy —
//! the same document a one-patient export gives (`crate::data_requests`) — the erasure
//! ledger (ids and counts), the audit log as stored, and the counts.
//!
//! It is written as it is read, one patient at a time (never every patient in memory), into
//! a private temporary file (mode 0600) beside the destination, and linked into place only
//! when complete and recorded: a failed or interrupted export leaves no file, and an existing
//! file is never replaced. The export is audited once, `clinic.exported` with the counts only,
//! before the file appears; the per-patient `patient.exported` is not written.
//!
//! It works for a clinic of any status (a terminated clinic may still take its data away): the
//! caller's scope comes from the operator, and nothing here checks the status.

use crate::data_requests::read_patient_copy;
use frontdesk_domain::TenantSlug;
use frontdesk_store::{
    Actor, AuditEvent, ClinicCatalog, Provider, Store, StoreError, TenantScope, hex,
};
use serde::Serialize;
use serde_json::{Value, json};
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

/// The document's format name.
pub const FORMAT: &str = "frontdesk.clinic-export.v1";
/// Audit entries read per page.
const AUDIT_PAGE: u32 = 1_000;

/// What an export holds, as `clinic.exported` records it.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct ExportCounts {
    pub patients: u64,
    pub conversations: u64,
    pub messages: u64,
    pub appointments: u64,
    pub audit_entries: u64,
}

/// A finished export: where, how large, what it holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Exported {
    pub path: PathBuf,
    pub bytes: u64,
    pub counts: ExportCounts,
}

#[derive(Debug, thiserror::Error)]
pub enum ExportError {
    #[error("{} exists already; choose a new file", .0.display())]
    Exists(PathBuf),
    #[error("could not write the export: {0}")]
    Io(#[from] std::io::Error),
    #[error("could not encode the export: {0}")]
    Json(#[from] serde_json::Error),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// `SLUG-export-YYYYMMDDTHHMMSSZ.json`.
pub fn default_file_name(slug: &TenantSlug, now: jiff::Timestamp) -> String {
    format!("{slug}-export-{}.json", now.strftime("%Y%m%dT%H%M%SZ"))
}

/// Writes the clinic's export to `out` (see the module documentation), calling
/// `progress(done, total)` as patients are written. `out` existing: `Exists`, before anything
/// is read.
pub async fn export_clinic(
    store: &dyn Store,
    scope: TenantScope,
    out: &Path,
    progress: &mut dyn FnMut(u64, u64),
) -> Result<Exported, ExportError> {
    let exists = |p: &Path| p.symlink_metadata().is_ok();
    if exists(out) {
        return Err(ExportError::Exists(out.to_owned()));
    }
    let dir = match out.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    };
    // Removed on drop: an export that fails or is interrupted leaves nothing behind.
    let tmp = tempfile::Builder::new()
        .prefix(".frontdesk-export-")
        .suffix(".part")
        .permissions(private())
        .tempfile_in(dir)?;
    let counts = {
        let mut doc = JsonOut::new(BufWriter::with_capacity(1 << 16, tmp.as_file()));
        let counts = write_document(store, scope, &mut doc, progress).await?;
        doc.finish()?.flush()?;
        counts
    };
    tmp.as_file().sync_all()?;
    let bytes = tmp.as_file().metadata()?.len();
    if exists(out) {
        return Err(ExportError::Exists(out.to_owned()));
    }
    // Recorded before it is handed over: an export that cannot be recorded does not appear.
    let ev = AuditEvent::new(Actor::Operator, "clinic.exported")
        .target("clinic", scope.tenant_id())
        .details(serde_json::to_value(counts)?);
    store.append_audit(scope, &ev).await?;
    tmp.persist_noclobber(out)
        .map_err(|e| match e.error.kind() {
            std::io::ErrorKind::AlreadyExists => ExportError::Exists(out.to_owned()),
            _ => ExportError::Io(e.error),
        })?;
    // The new name survives a power cut once the directory is synced. The file is in place
    // and recorded by now, so a directory that cannot be synced does not fail the export.
    let _ = std::fs::File::open(dir).and_then(|d| d.sync_all());
    Ok(Exported {
        path: out.to_owned(),
        bytes,
        counts,
    })
}

/// Readable and writable by its owner only: the export holds patients' data.
fn private() -> std::fs::Permissions {
    std::os::unix::fs::PermissionsExt::from_mode(0o600)
}

/// Reads the clinic and writes the document into `doc`. The writes are plain blocking
/// writes into a buffer: the export runs alone in the CLI, a runtime thread to itself.
async fn write_document<W: Write>(
    store: &dyn Store,
    scope: TenantScope,
    doc: &mut JsonOut<W>,
    progress: &mut dyn FnMut(u64, u64),
) -> Result<ExportCounts, ExportError> {
    let catalog = store.clinic_catalog(scope).await?;
    let tenant = store
        .list_tenants()
        .await?
        .into_iter()
        .find(|t| t.id == scope.tenant_id())
        .ok_or(StoreError::NotFound)?;
    doc.field("format", &FORMAT)?;
    doc.field("exported_at", &jiff::Timestamp::now().to_string())?;
    let clinic = &catalog.clinic;
    doc.field(
        "clinic",
        &json!({
            "id": clinic.id.to_string(),
            "slug": clinic.slug.as_str(),
            "status": tenant.status,
            "created_at": tenant.created_at.to_string(),
            "profile": clinic.profile,
        }),
    )?;
    write_catalog(store, scope, &catalog, doc).await?;
    write_people(store, scope, doc).await?;
    write_language_model(store, scope, doc).await?;
    let mut counts = ExportCounts::default();
    let ids = store.patient_ids(scope).await?;
    let total = ids.len() as u64;
    progress(0, total);
    doc.begin_array("patients")?;
    for (n, id) in ids.into_iter().enumerate() {
        match read_patient_copy(store, scope, &catalog, id).await {
            Ok(copy) => {
                doc.item(&copy.json)?;
                counts.patients += 1;
                counts.conversations += copy.counts.conversations;
                counts.messages += copy.counts.messages;
                counts.appointments += copy.counts.appointments;
            }
            // Erased while the export ran: gone, and in the erasure ledger below.
            Err(StoreError::NotFound) => {}
            Err(e) => return Err(e.into()),
        }
        progress(n as u64 + 1, total);
    }
    doc.end_array()?;
    doc.begin_array("erasures")?;
    for e in store.erasure_ledger(scope).await? {
        doc.item(&json!({
            "patient_id": e.patient.to_string(),
            "erased_at": e.erased_at.to_string(),
            "actor": e.actor_kind,
            "actor_id": e.actor_id,
            "counts": e.counts,
        }))?;
    }
    doc.end_array()?;
    counts.audit_entries = write_audit_log(store, scope, doc).await?;
    doc.field("counts", &counts)?;
    Ok(counts)
}

/// Practitioners (with their hours), services, FAQs and red-flag rules.
async fn write_catalog<W: Write>(
    store: &dyn Store,
    scope: TenantScope,
    catalog: &ClinicCatalog,
    doc: &mut JsonOut<W>,
) -> Result<(), ExportError> {
    doc.begin_array("practitioners")?;
    for p in &catalog.practitioners {
        let hours = store.practitioner_hours(scope, p.id).await?;
        doc.item(&json!({
            "id": p.id.to_string(),
            "name": p.name,
            "title": p.title,
            "active": p.active,
            "hours": hours.spec(),
        }))?;
    }
    doc.end_array()?;
    doc.begin_array("services")?;
    for s in &catalog.services {
        doc.item(&json!({
            "id": s.id.to_string(),
            "name": s.name,
            "duration_min": s.duration_min,
            "buffer_min": s.buffer_min,
            "price_minor": s.price_minor,
            "currency": s.currency,
            "active": s.active,
            "practitioners": s.practitioners.iter().map(ToString::to_string).collect::<Vec<_>>(),
        }))?;
    }
    doc.end_array()?;
    doc.begin_array("faqs")?;
    for f in &catalog.faqs {
        doc.item(&json!({ "id": f.id.to_string(), "question": f.question, "answer": f.answer }))?;
    }
    doc.end_array()?;
    doc.begin_array("red_flag_rules")?;
    for r in &catalog.red_flag_rules {
        doc.item(&json!({
            "id": r.id.to_string(),
            "level": r.level.as_str(),
            "language": r.language,
            "phrases": r.phrases,
        }))?;
    }
    doc.end_array()?;
    Ok(())
}

/// Staff (no credentials of any kind) and channel accounts (secret names, never values).
async fn write_people<W: Write>(
    store: &dyn Store,
    scope: TenantScope,
    doc: &mut JsonOut<W>,
) -> Result<(), ExportError> {
    doc.begin_array("staff")?;
    for u in store.list_users(scope).await? {
        doc.item(&json!({
            "id": u.id.to_string(),
            "name": u.name,
            "email": u.email.as_str(),
            "role": u.role.as_str(),
            "status": if u.active { "active" } else { "disabled" },
            "two_factor": u.mfa_enrolled,
            "practitioner_id": u.practitioner.map(|p| p.to_string()),
            "created_at": u.created_at.to_string(),
        }))?;
    }
    doc.end_array()?;
    doc.begin_array("channel_accounts")?;
    for p in Provider::ALL {
        let account = match store.channel_account(scope, p).await {
            Ok(a) => a,
            Err(StoreError::NotFound) => continue,
            Err(e) => return Err(e.into()),
        };
        // Only the names of the secrets that hold a value leave this function.
        let secrets_set: Vec<&str> = account
            .secrets
            .names()
            .into_iter()
            .filter(|n| account.secrets.get(n).is_some_and(|v| !v.is_empty()))
            .collect();
        doc.item(&json!({
            "provider": p.as_str(),
            "address": account.address,
            "secrets_set": secrets_set,
        }))?;
    }
    doc.end_array()?;
    Ok(())
}

/// The clinic's language model settings (never the API key: only when one was set) and its
/// usage as kept (counts, tokens, cost in micro-units, fallbacks by reason); `null` without
/// settings.
async fn write_language_model<W: Write>(
    store: &dyn Store,
    scope: TenantScope,
    doc: &mut JsonOut<W>,
) -> Result<(), ExportError> {
    let Some(s) = store.llm_settings(scope).await? else {
        return doc.field("language_model", &Value::Null);
    };
    let usage = store
        .llm_usage_summary(scope, jiff::Timestamp::UNIX_EPOCH, jiff::Timestamp::now())
        .await?;
    let i = &s.settings;
    doc.field(
        "language_model",
        &json!({
            "provider": i.provider.as_str(),
            "base_url": i.base_url,
            "fast_model": i.fast_model,
            "strong_model": i.strong_model,
            "routine": i.routine.as_str(),
            "sensitive": i.sensitive.as_str(),
            "monthly_budget_cents": i.monthly_budget_cents,
            "fast_prices_micros_per_mtok": i.fast_prices,
            "strong_prices_micros_per_mtok": i.strong_prices,
            "limits": i.limits,
            "enabled": i.enabled,
            "api_key_set_at": s.api_key_set_at.map(|t| t.to_string()),
            "updated_at": s.updated_at.to_string(),
            "usage": {
                "turns": usage.turns,
                "answered": usage.answered,
                "input_tokens": usage.input_tokens,
                "output_tokens": usage.output_tokens,
                "cost_micros": usage.cost_micros,
                "fallbacks": usage.fallbacks,
            },
        }),
    )?;
    Ok(())
}

/// The audit log as stored, oldest first, page by page; answers how many entries.
async fn write_audit_log<W: Write>(
    store: &dyn Store,
    scope: TenantScope,
    doc: &mut JsonOut<W>,
) -> Result<u64, ExportError> {
    doc.begin_array("audit_log")?;
    let (mut after, mut n) = (0, 0u64);
    loop {
        let page = store.audit_entries(scope, after, AUDIT_PAGE).await?;
        let Some(last) = page.last() else { break };
        after = last.seq;
        for e in &page {
            doc.item(&json!({
                "seq": e.seq,
                "at": e.at.to_string(),
                "actor": e.actor_kind,
                "actor_id": e.actor_id,
                "action": e.action,
                "target": e.target_kind,
                "target_id": e.target_id,
                // The stored text, unchanged: with the hashes, the chain can be checked.
                "details": e.details,
                "prev_hash": hex(&e.prev_hash),
                "hash": hex(&e.hash),
            }))?;
            n += 1;
        }
    }
    doc.end_array()?;
    Ok(n)
}

/// A JSON object written field by field, its arrays item by item (one item a line), so a
/// document of any size is written without being held in memory.
struct JsonOut<W: Write> {
    w: W,
    fields: usize,
    items: usize,
}

impl<W: Write> JsonOut<W> {
    fn new(w: W) -> Self {
        Self {
            w,
            fields: 0,
            items: 0,
        }
    }

    fn key(&mut self, name: &str) -> Result<(), ExportError> {
        self.w
            .write_all(if self.fields == 0 { b"{\n" } else { b",\n" })?;
        self.fields += 1;
        serde_json::to_writer(&mut self.w, name)?;
        self.w.write_all(b": ")?;
        Ok(())
    }

    fn field(&mut self, name: &str, value: &impl Serialize) -> Result<(), ExportError> {
        self.key(name)?;
        serde_json::to_writer(&mut self.w, value)?;
        Ok(())
    }

    fn begin_array(&mut self, name: &str) -> Result<(), ExportError> {
        self.key(name)?;
        self.w.write_all(b"[")?;
        self.items = 0;
        Ok(())
    }

    fn item(&mut self, value: &Value) -> Result<(), ExportError> {
        self.w
            .write_all(if self.items == 0 { b"\n" } else { b",\n" })?;
        self.items += 1;
        serde_json::to_writer(&mut self.w, value)?;
        Ok(())
    }

    fn end_array(&mut self) -> Result<(), ExportError> {
        self.w
            .write_all(if self.items == 0 { b"]" } else { b"\n]" })?;
        Ok(())
    }

    fn finish(mut self) -> Result<W, ExportError> {
        self.w
            .write_all(if self.fields == 0 { b"{}\n" } else { b"\n}\n" })?;
        Ok(self.w)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_default_file_name_carries_the_slug_and_the_utc_time() {
        let slug = TenantSlug::parse("harbour-physio").unwrap();
        let at: jiff::Timestamp = "2026-12-02T17:05:09Z".parse().unwrap();
        assert_eq!(
            default_file_name(&slug, at),
            "harbour-physio-export-20261202T170509Z.json"
        );
    }

    #[test]
    fn the_streamed_document_is_one_json_object() -> Result<(), ExportError> {
        let mut doc = JsonOut::new(Vec::new());
        doc.field("format", &FORMAT)?;
        doc.begin_array("empty")?;
        doc.end_array()?;
        doc.begin_array("items")?;
        doc.item(&json!({ "a": 1 }))?;
        doc.item(&json!("two"))?;
        doc.end_array()?;
        doc.field("counts", &ExportCounts::default())?;
        let bytes = doc.finish()?;
        let v: Value = serde_json::from_slice(&bytes)?;
        assert_eq!(v["format"], FORMAT);
        assert_eq!(v["empty"], json!([]));
        assert_eq!(v["items"], json!([{ "a": 1 }, "two"]));
        assert_eq!(v["counts"]["audit_entries"], 0);
        let empty: Value = serde_json::from_slice(&JsonOut::new(Vec::new()).finish()?)?;
        assert_eq!(empty, json!({}));
        Ok(())
    }
}
