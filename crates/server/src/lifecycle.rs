//! The end of a clinic (#8 item 2): after termination a clinic is kept for a hold (default 30
//! days, `termination_hold_days`) so it can be exported, then purged: its recordings' audio is
//! deleted from blob storage and every row of it from the database, its keys included, and a
//! deletion certificate is kept (see `frontdesk_store::TenantLifecycleStore`).
//!
//! Shared by `frontdesk tenant purge` and the daily pass of `serve`'s worker. A purge that
//! stops midway (a blob store that cannot be reached, a crash) leaves the clinic `purging`:
//! unreadable, and finished by the next run.

use crate::blobs::BlobStore;
use frontdesk_domain::TenantSlug;
use frontdesk_store::{DeletionCertificate, Store, StoreError};
use jiff::{SignedDuration, Timestamp};

/// Why a purge did not finish.
#[derive(Debug, thiserror::Error)]
pub enum PurgeError {
    #[error(transparent)]
    Store(#[from] StoreError),
    /// Some recording audio could not be deleted; the clinic stays `purging` (unreadable) and
    /// the next run tries again. Never names the blob.
    #[error("{failed} of {total} recording(s) could not be deleted from blob storage: {reason}")]
    Blobs {
        failed: usize,
        total: usize,
        reason: String,
    },
}

/// Purges the clinic `slug` (see the module documentation) and answers its certificate. It
/// must be terminated and its `hold` over, unless `before_hold_ends`; a clinic already purged
/// answers its certificate again.
pub async fn purge_clinic(
    store: &dyn Store,
    blobs: Option<&dyn BlobStore>,
    slug: &TenantSlug,
    hold: SignedDuration,
    before_hold_ends: bool,
) -> Result<DeletionCertificate, PurgeError> {
    let plan = store
        .begin_tenant_purge(slug, hold, before_hold_ends)
        .await?;
    if plan.already_purged {
        return Ok(store.deletion_certificate(slug).await?);
    }
    let mut failed = 0;
    let mut reason = String::new();
    for key in &plan.blob_keys {
        let deleted = match blobs {
            Some(b) => b.delete(key).await.map_err(|e| e.to_string()),
            None => Err("no blob storage configured".to_owned()),
        };
        if let Err(e) = deleted {
            failed += 1;
            reason = e;
        }
    }
    if failed > 0 {
        tracing::warn!(tenant = %plan.tenant, failed, error = %reason, "purge paused: recording audio not deleted; the next run finishes it");
        return Err(PurgeError::Blobs {
            failed,
            total: plan.blob_keys.len(),
            reason,
        });
    }
    Ok(store
        .finish_tenant_purge(plan.tenant, hold, plan.blob_keys.len() as u64)
        .await?)
}

/// When a terminated clinic's hold ends (and its purge is due).
pub fn purge_due_at(terminated_at: Timestamp, hold: SignedDuration) -> Timestamp {
    terminated_at.saturating_add(hold).unwrap_or(terminated_at)
}

/// The daily pass: purges every clinic whose hold ended by `now`, and finishes every purge
/// that stopped midway. One clinic's failure does not stop the others. Answers the
/// certificates of the clinics purged.
pub async fn purge_due(
    store: &dyn Store,
    blobs: Option<&dyn BlobStore>,
    hold: SignedDuration,
    now: Timestamp,
) -> Result<Vec<DeletionCertificate>, StoreError> {
    let mut done = Vec::new();
    for t in store.list_tenants().await? {
        let due = match (t.status.as_str(), t.terminated_at) {
            ("purging", _) => true,
            ("terminated", Some(at)) => purge_due_at(at, hold) <= now,
            _ => false,
        };
        if !due {
            continue;
        }
        match purge_clinic(store, blobs, &t.slug, hold, false).await {
            Ok(cert) => done.push(cert),
            Err(e) => {
                tracing::warn!(tenant = %t.id, error = %e, "clinic purge failed; the next pass retries")
            }
        }
    }
    Ok(done)
}
