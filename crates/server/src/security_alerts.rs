//! Anomaly alerts (#12 item 4) on the worker's side: the look-back detectors run every five
//! minutes by one instance (claimed by name, like the daily passes), and each raised alert
//! is emailed to the clinic's Owners by its `notify_security_alert` job. The rules themselves
//! are in [`frontdesk_store::anomaly`]; the inline ones (sign-ins, webhook signatures, API key
//! networks) are counted where the event happens.

use crate::mailer::{MailError, Mailer};
use crate::pacing::{Pacer, Spread};
use frontdesk_domain::{Role, SecurityAlertId};
use frontdesk_store::{Job, NotifySecurityAlertJob, SecurityAlert, Store, StoreError};
use jiff::SignedDuration;

/// How often the look-back detectors run (across all instances).
pub const DETECT_EVERY: SignedDuration = SignedDuration::from_mins(5);

/// Runs the look-back detectors for every active clinic if this instance holds the pass.
/// Answers how many alerts were raised (`None`: another instance ran it recently).
pub async fn detection_pass(
    store: &dyn Store,
    holder: &str,
    pacer: &Pacer,
) -> Result<Option<usize>, StoreError> {
    let Some(lease) = store
        .claim_maintenance("anomaly_detection", holder, DETECT_EVERY, DETECT_EVERY)
        .await?
    else {
        return Ok(None);
    };
    let mut raised = 0;
    let mut ok = true;
    let mut clinics = pacer.clinics(store, Spread::FREQUENT).await?;
    while let Some(scope) = clinics.next().await {
        match store.detect_anomalies(scope).await {
            Ok(ids) => raised += ids.len(),
            Err(e) => {
                ok = false;
                tracing::warn!(tenant = %scope.tenant_id(), error = %e, "anomaly detection failed for a clinic");
            }
        }
    }
    match store.finish_maintenance(&lease, ok).await {
        Ok(()) | Err(StoreError::Conflict(_)) => Ok(Some(raised)),
        Err(e) => Err(e),
    }
}

/// Why a `notify_security_alert` job did not finish.
#[derive(Debug, thiserror::Error)]
pub enum NotifyError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Mail(#[from] MailError),
}

/// Emails one alert to the clinic's Owners, then completes the job; counts the alert in
/// `frontdesk_security_alerts_total{kind}` (once: only the job that completes counts it).
/// Without a mailer, or without an Owner with an email, the job completes unsent: the alert
/// is in the dashboard all the same.
pub async fn notify_owners(
    store: &dyn Store,
    mailer: &Mailer,
    public_base: Option<&str>,
    job: &Job,
) -> Result<(), NotifyError> {
    let scope = job.lease.scope;
    let payload: NotifySecurityAlertJob = serde_json::from_value(job.payload.clone())
        .map_err(|_| StoreError::Corrupt("security alert job payload"))?;
    let id = SecurityAlertId::from_uuid(payload.alert);
    let alert = store.security_alert(scope, id).await?;
    let owners: Vec<_> = store
        .staff_contacts(scope)
        .await?
        .into_iter()
        .filter(|c| c.role == Role::Owner)
        .map(|c| c.email)
        .collect();
    let emailed = mailer.is_enabled() && !owners.is_empty();
    if emailed {
        let clinic = store.clinic(scope).await?;
        let (subject, body) = alert_email(&clinic.profile.name, &alert, public_base);
        mailer.send(&owners, &subject, &body).await?;
    } else {
        tracing::info!(
            kind = alert.kind.as_str(),
            "security alert not emailed (no mailer or no Owner)"
        );
    }
    store
        .finish_security_alert_job(&job.lease, id, emailed)
        .await?;
    metrics::counter!("frontdesk_security_alerts_total", "kind" => alert.kind.as_str())
        .increment(1);
    Ok(())
}

/// The subject and body of an alert email: kind, subject (ids and blind-index fragments
/// only), counts and times; never an email address, a phone number or message text.
pub fn alert_email(clinic: &str, a: &SecurityAlert, base: Option<&str>) -> (String, String) {
    let mut lines = vec![
        format!("{} at {clinic}.", a.kind.title()),
        String::new(),
        format!("Kind: {}", a.kind.as_str()),
        format!("About: {}", a.subject),
        format!("First seen: {}", a.first_seen_at),
    ];
    if let Some(details) = a.details.as_object() {
        for (k, v) in details {
            lines.push(format!("{k}: {v}"));
        }
    }
    lines.push(String::new());
    match base {
        Some(base) => lines.push(format!(
            "Review and acknowledge it: {base}/dashboard/security"
        )),
        None => {
            lines.push("Review and acknowledge it in frontdesk under Security alerts.".to_owned())
        }
    }
    (
        format!("[frontdesk] Security alert: {} — {clinic}", a.kind.title()),
        lines.join("\n"),
    )
}
