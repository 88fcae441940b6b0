//! The delivery loop of outbound webhooks: claims due deliveries from the store (leased, so
//! several instances never send one twice at once), signs and posts each with
//! [`deliver`](super::deliver), and records the attempt: delivered, retried later by the
//! [`backoff`](super::backoff) schedule with the same event id and body, or dead (a permanent
//! refusal, a URL that is no longer acceptable, or out of attempts). The body stored at
//! enqueue time is sent on every attempt, so a receiver deduplicates on the event id.

use super::{Destination, Envelope, Outcome, WebhookClient, WebhookSecret, deliver};
use frontdesk_domain::Clock;
use frontdesk_store::{Store, StoreError, WebhookJob, WebhookSettle};
use std::sync::Arc;

/// How long a claimed delivery is ours: one attempt with three redirects at the 10 s timeout,
/// with a wide margin.
pub const LEASE: jiff::SignedDuration = jiff::SignedDuration::from_secs(120);
/// Deliveries claimed at once.
pub const BATCH: u32 = 16;

/// Sends due webhook deliveries.
#[derive(Clone)]
pub struct WebhookWorker {
    store: Arc<dyn Store>,
    clock: Arc<dyn Clock>,
    client: WebhookClient,
    name: String,
}

impl std::fmt::Debug for WebhookWorker {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WebhookWorker")
            .field("name", &self.name)
            .finish_non_exhaustive()
    }
}

impl WebhookWorker {
    pub fn new(store: Arc<dyn Store>, clock: Arc<dyn Clock>, client: WebhookClient) -> Self {
        Self {
            store,
            clock,
            client,
            name: format!("webhooks-{}", uuid::Uuid::new_v4()),
        }
    }

    /// Claims and sends one batch; answers how many deliveries were attempted.
    pub async fn run_once(&self) -> Result<usize, StoreError> {
        let jobs = self
            .store
            .claim_webhook_deliveries(&self.name, LEASE, BATCH)
            .await?;
        let n = jobs.len();
        for job in jobs {
            let settle = self.attempt(&job).await;
            match self
                .store
                .settle_webhook_delivery(&job.lease, &settle)
                .await
            {
                Ok(()) => {
                    if let WebhookSettle::Dead { error, .. } = &settle {
                        // Given up on (audited `webhook.delivery_failed` by the store): the
                        // reason is one of a fixed set of codes, safe as a label.
                        metrics::counter!(
                            "frontdesk_webhook_deliveries_dead_total",
                            "reason" => dead_reason(error)
                        )
                        .increment(1);
                        tracing::warn!(
                            delivery = %job.lease.id,
                            event_type = %job.event_type,
                            reason = %error,
                            "webhook delivery given up"
                        );
                    }
                }
                // The lease ran out and another worker took it, or the endpoint was
                // disabled meanwhile: theirs to record, nothing to retry here.
                Err(StoreError::Conflict(_)) => {
                    tracing::warn!(delivery = %job.lease.id, "webhook delivery lease lost")
                }
                Err(e) => return Err(e),
            }
        }
        Ok(n)
    }

    async fn attempt(&self, job: &WebhookJob) -> WebhookSettle {
        let dead = |error: &str| WebhookSettle::Dead {
            status: None,
            error: error.to_owned(),
        };
        let Ok(dest) = Destination::parse(&job.url) else {
            return dead("invalid_url");
        };
        let Ok(envelope) = Envelope::from_body(&job.body) else {
            return dead("invalid_body");
        };
        let mut secrets = Vec::with_capacity(2);
        for s in std::iter::once(&job.secret).chain(job.previous_secret.as_ref()) {
            match WebhookSecret::parse(s) {
                Ok(secret) => secrets.push(secret),
                Err(_) => return dead("invalid_secret"),
            }
        }
        let now = self.clock.now();
        let outcome = deliver(&self.client, &dest, &envelope, &secrets, now).await;
        metrics::counter!("frontdesk_webhook_attempts_total", "outcome" => outcome_label(&outcome))
            .increment(1);
        settle_for(job.attempt, &outcome, now)
    }
}

/// A dead delivery's error code as a metric label, from a fixed set (anything else `other`).
fn dead_reason(error: &str) -> &'static str {
    const KNOWN: &[&str] = &[
        "http_status",
        "timeout",
        "connect",
        "transport",
        "too_many_redirects",
        "bad_redirect",
        "no_secret",
        "encode",
        "out_of_attempts",
        "invalid_url",
        "invalid_body",
        "invalid_secret",
        "scheme_not_allowed",
        "credentials_in_url",
        "no_host",
        "port_not_allowed",
        "address_refused",
        "address_not_allowlisted",
        "dns_failed",
        "no_address",
    ];
    KNOWN
        .iter()
        .find(|k| **k == error)
        .copied()
        .unwrap_or("other")
}

fn outcome_label(outcome: &Outcome) -> &'static str {
    match outcome {
        Outcome::Delivered(_) => "delivered",
        Outcome::Retryable(_) => "retryable",
        Outcome::Permanent(_) => "permanent",
    }
}

/// What to record after attempt number `attempt` (1 on the first) ended in `outcome`.
pub fn settle_for(attempt: u32, outcome: &Outcome, now: jiff::Timestamp) -> WebhookSettle {
    match outcome {
        Outcome::Delivered(status) => WebhookSettle::Delivered { status: *status },
        Outcome::Permanent(_) => WebhookSettle::Dead {
            status: outcome.status(),
            error: outcome.code().to_owned(),
        },
        Outcome::Retryable(_) => match super::next_attempt_in(attempt, outcome)
            .and_then(|wait| jiff::SignedDuration::try_from(wait).ok())
            .and_then(|wait| now.checked_add(wait).ok())
        {
            Some(at) => WebhookSettle::Retry {
                at,
                status: outcome.status(),
                error: outcome.code().to_owned(),
            },
            None => WebhookSettle::Dead {
                status: outcome.status(),
                error: "out_of_attempts".to_owned(),
            },
        },
    }
}

#[cfg(test)]
#[path = "worker_tests.rs"]
mod tests;
