//! The background workers of a `serve` / `demo` process: the reply worker answers messages
//! that arrived through a provider webhook (a `reply` job per message), and the outbox worker
//! delivers every stored outbound message to its provider.
//!
//! Both claim rows with a lease (see `frontdesk_store::channel`), so several processes can run
//! them against one PostgreSQL and a process that dies mid-job loses nothing: its rows are
//! claimed again when the lease runs out. A reply is written together with the job's completion
//! (one transaction), so a job that runs twice replies once. Provider sends cannot be made
//! idempotent on the provider's side (none of the three accepts a key), so the outbox marks a
//! row `sending` before the call and `sent` right after it; only a crash between those two
//! points can repeat a message, which is the narrowest window the providers allow.
//!
//! Once a day the workers also apply retention, purge clinics whose termination hold has ended
//! (see [`crate::lifecycle`]) and sign audit checkpoints. Each of these daily passes is claimed
//! by name in the store ([`frontdesk_store::CoordinationStore::claim_maintenance`]), so with
//! several instances on one database one of them runs it; if that one dies mid-pass, another
//! takes it over once its lease has run out. Every pass over the clinics (these, and the
//! reminders, waitlist and hold passes each minute) runs beside the queues and pauses between
//! two clinics (see [`crate::pacing`]), so that it never competes with webhooks in a burst,
//! even right after a start when all of them are due. Outbound sends are spaced by each
//! clinic's rate in a bucket kept in the store, shared by every instance. Only active
//! clinics' queued work is claimed.

use crate::channels::{
    AfricasTalkingClient, GraphClient, Outbound, OutboundBody, SendError, Sent, TwilioClient,
    whatsapp::within_service_window,
};
use crate::config::Config;
use crate::mailer::{Mailer, alert_email, recipients};
use crate::pacing::{Pacer, Spread};
use crate::security_alerts::{NotifyError, notify_owners};
use crate::turn::{StoredMessage, answer_by};
use frontdesk_domain::Clock;
use frontdesk_store::{
    Channel, ChannelAccount, DeliveryOutcome, FETCH_RECORDING_JOB, Job, NOTIFY_SECURITY_ALERT_JOB,
    NOTIFY_STAFF_JOB, NotifyStaffJob, OutboxItem, OutboxPurpose, Provider, REPLY_JOB, ReplyJob,
    SendPermit, Store, StoreError,
};
use jiff::{SignedDuration, Timestamp};
use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::Notify;

/// How long a claimed row stays ours by default (`job_lease_seconds`): longer than any
/// provider call or agent turn.
pub const LEASE: SignedDuration = SignedDuration::from_secs(120);
/// How often workers look for due rows when nothing woke them.
const POLL: Duration = Duration::from_millis(500);
const BATCH: u32 = 16;
/// How often each worker looks for appointments due a reminder and freed times to offer.
const REMINDERS_EVERY: Duration = Duration::from_secs(60);
/// How often the queue and pool gauges are sampled.
const GAUGES_EVERY: Duration = Duration::from_secs(15);
/// What one retention pass removed, over every clinic.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RetentionPass {
    pub conversations: u64,
    pub messages: u64,
    pub recordings: u64,
    /// Expired recordings whose audio could not be deleted yet (tried again next pass).
    pub recordings_kept: u64,
    /// Audit entries older than the clinic's audit retention.
    pub audit_entries: u64,
    /// Language model usage rows past the conversation retention (and their month).
    pub llm_usage: u64,
}

/// How often each daily pass runs (over every instance together): each clinic's retention
/// policy applied, terminated clinics purged, audit chain heads signed.
const DAILY: SignedDuration = SignedDuration::from_hours(24);
/// How long an instance holds a daily pass before another may take it over (its holder is
/// then taken to have died). Longer than any pass takes.
const DAILY_LEASE: SignedDuration = SignedDuration::from_hours(1);
/// How often each worker looks for a daily pass that is due (and at start).
const DAILY_CHECK_EVERY: Duration = Duration::from_secs(60);
/// The pause between two retention batches by default (`retention_pause_ms`), so that
/// purging never holds up traffic.
pub const RETENTION_PAUSE: Duration = Duration::from_millis(50);

/// The provider clients, pointed at the real APIs or (in tests) at fakes.
#[derive(Debug, Clone)]
pub struct Providers {
    pub whatsapp: GraphClient,
    pub twilio: TwilioClient,
    pub africastalking: AfricasTalkingClient,
    /// Where Twilio sends delivery reports (`{public}/webhooks/twilio/sms`); `None`: not asked.
    pub public_base: Option<String>,
}

impl Providers {
    pub fn from_config(cfg: &Config) -> Result<Self, reqwest::Error> {
        let timeout = Duration::from_secs(cfg.provider_timeout_seconds.clamp(1, 60));
        let mut whatsapp = GraphClient::with_base_url(&cfg.whatsapp_api_base, timeout)?;
        whatsapp.api_version = cfg.whatsapp_api_version.clone();
        Ok(Self {
            whatsapp,
            twilio: TwilioClient::with_base_url(&cfg.twilio_api_base, timeout)?,
            africastalking: AfricasTalkingClient::with_base_url(
                &cfg.africastalking_api_base,
                timeout,
            )?,
            public_base: cfg.public_base(),
        })
    }
}

/// Splits `rows` into groups by `key`, keeping the order of rows within each group and of the
/// groups' first rows.
fn in_order_groups<T>(rows: Vec<T>, key: impl Fn(&T) -> String) -> Vec<Vec<T>> {
    let mut index: HashMap<String, usize> = HashMap::new();
    let mut groups: Vec<Vec<T>> = Vec::new();
    for row in rows {
        let k = key(&row);
        match index.get(&k) {
            Some(&i) => groups[i].push(row),
            None => {
                index.insert(k, groups.len());
                groups.push(vec![row]);
            }
        }
    }
    groups
}

/// Exponential backoff with jitter: 5 s doubling per attempt, capped at 5 minutes, each wait
/// drawn between half and all of that (so a recovering provider is not hit by a thundering
/// herd), and never sooner than the provider's own `Retry-After`.
pub fn backoff(attempt: i32, retry_after: Option<Duration>) -> Duration {
    let exp = 5u64.saturating_mul(1u64 << attempt.clamp(1, 16).saturating_sub(1));
    let cap = exp.min(300) * 1000;
    let jittered = cap / 2 + rand::random_range(0..=cap / 2);
    Duration::from_millis(jittered).max(retry_after.unwrap_or_default())
}

/// One of the daily maintenance passes, each claimed on its own (see [`Worker::daily_maintenance`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DailyPass {
    Retention,
    TerminatedPurge,
    AuditCheckpoints,
}

impl DailyPass {
    pub const ALL: [DailyPass; 3] = [
        DailyPass::Retention,
        DailyPass::TerminatedPurge,
        DailyPass::AuditCheckpoints,
    ];

    /// The name its lease is stored under (`maintenance_runs.name`).
    pub fn name(self) -> &'static str {
        match self {
            DailyPass::Retention => "retention",
            DailyPass::TerminatedPurge => "terminated_purge",
            DailyPass::AuditCheckpoints => "audit_checkpoints",
        }
    }
}

pub struct Worker {
    store: Arc<dyn Store>,
    /// Where call recordings go (see [`crate::recordings`]); `None`: recording jobs wait.
    blobs: Option<Arc<dyn crate::blobs::BlobStore>>,
    clock: Arc<dyn Clock>,
    providers: Providers,
    mailer: Mailer,
    public_base: Option<String>,
    id: String,
    wake: Arc<Notify>,
    /// Each clinic's outbound sends per second, over every instance (a bucket in the store).
    outbound_per_second: u32,
    /// How long a claimed job or outbox row stays this worker's (`job_lease_seconds`).
    lease: SignedDuration,
    /// How long a terminated clinic is kept before the daily pass purges it.
    termination_hold: jiff::SignedDuration,
    /// The pause after each retention (and re-encryption) batch (`retention_pause_ms`).
    retention_pause: Duration,
    /// Sends the clinics' outbound webhooks (see [`crate::outbound::worker`]).
    webhooks: Option<crate::outbound::worker::WebhookWorker>,
    /// The clinics' language models for replies (see [`crate::llm::settings`]).
    models: Arc<crate::llm::settings::ModelDirectory>,
    /// Stripe and Daraja (see [`crate::payments`]); `None`: payment jobs wait.
    payments: Option<Arc<crate::payments::PaymentClients>>,
    /// Spaces the passes over every clinic and stops them on shutdown.
    pacer: Pacer,
}

impl Worker {
    pub fn new(
        store: Arc<dyn Store>,
        clock: Arc<dyn Clock>,
        providers: Providers,
        mailer: Mailer,
        wake: Arc<Notify>,
        outbound_per_second: u32,
    ) -> Self {
        Self {
            store,
            blobs: None,
            clock,
            public_base: providers.public_base.clone(),
            providers,
            mailer,
            // The process id tells an operator (and the multi-instance test) which process
            // holds a lease.
            id: format!("worker-{}-{}", std::process::id(), uuid::Uuid::now_v7()),
            wake,
            outbound_per_second: outbound_per_second.max(1),
            lease: LEASE,
            termination_hold: jiff::SignedDuration::from_hours(24 * 30),
            retention_pause: RETENTION_PAUSE,
            webhooks: None,
            models: Default::default(),
            payments: None,
            pacer: Pacer::default(),
        }
    }

    /// Sends outbound webhooks with `client` (its SSRF policy from `webhook_allowlist`).
    pub fn with_webhooks(mut self, client: crate::outbound::WebhookClient) -> Self {
        self.webhooks = Some(crate::outbound::worker::WebhookWorker::new(
            self.store.clone(),
            self.clock.clone(),
            client,
        ));
        self
    }

    /// How long a claimed job or outbox row stays this worker's before another worker may
    /// take it (`job_lease_seconds`; default [`LEASE`]).
    pub fn with_job_lease(mut self, lease: SignedDuration) -> Self {
        self.lease = lease;
        self
    }

    /// This worker's id, as stored in the rows and leases it holds (`worker-<pid>-<uuid>`).
    pub fn id(&self) -> &str {
        &self.id
    }

    /// How long a terminated clinic is kept before it is purged (`termination_hold_days`).
    pub fn with_termination_hold(mut self, hold: jiff::SignedDuration) -> Self {
        self.termination_hold = hold;
        self
    }

    /// The pause after each batch of the retention purge and of a data key's re-encryption
    /// (`retention_pause_ms`; default [`RETENTION_PAUSE`]).
    pub fn with_retention_pause(mut self, pause: Duration) -> Self {
        self.retention_pause = pause;
        self
    }

    /// Shares the HTTP server's cache of the clinics' language models, so that a settings
    /// change made in the dashboard reaches replies at once.
    pub fn with_models(mut self, models: Arc<crate::llm::settings::ModelDirectory>) -> Self {
        self.models = models;
        self
    }

    /// The payment providers' clients, for `payment.request` jobs.
    pub fn with_payments(mut self, payments: Arc<crate::payments::PaymentClients>) -> Self {
        self.payments = Some(payments);
        self
    }

    /// The blob store call recordings are written to.
    pub fn with_blobs(mut self, blobs: Arc<dyn crate::blobs::BlobStore>) -> Self {
        self.blobs = Some(blobs);
        self
    }

    /// Works until `shutdown` resolves; woken early by webhooks that queued work.
    ///
    /// The queues (replies, outbox, outbound webhooks) and the periodic passes over every
    /// clinic run side by side, so a long pass never holds up a reply; each pass is spread out
    /// by [`Self::pacer`] (see [`crate::pacing`]). On shutdown a pass under way finishes
    /// without its pauses, then everything stops.
    pub async fn run(self, shutdown: impl std::future::Future<Output = ()>) {
        let queues = async {
            self.work_queues(shutdown).await;
            self.pacer.stop();
        };
        tokio::join!(
            queues,
            self.every(GAUGES_EVERY, || async {
                if let Err(e) = self.sample_gauges().await {
                    tracing::warn!(error = %e, "queue gauges not sampled; retrying");
                }
            }),
            self.every(REMINDERS_EVERY, || self.frequent_passes()),
            self.every(DAILY_CHECK_EVERY, || async {
                if let Err(e) = self.daily_maintenance().await {
                    tracing::warn!(error = %e, "daily maintenance check failed; retrying");
                }
            }),
        );
    }

    /// Runs `pass` now and then every `period` (from the start of one run to the start of
    /// the next, or at once if it ran longer) until the worker stops.
    async fn every<F: std::future::Future<Output = ()>>(
        &self,
        period: Duration,
        mut pass: impl FnMut() -> F,
    ) {
        while !self.pacer.is_stopping() {
            let next = tokio::time::Instant::now() + period;
            pass().await;
            tokio::select! {
                () = tokio::time::sleep_until(next) => {}
                () = self.pacer.stopped() => {}
            }
        }
    }

    /// The reply, outbox and outbound webhook queues, until `shutdown` resolves.
    async fn work_queues(&self, shutdown: impl std::future::Future<Output = ()>) {
        tokio::pin!(shutdown);
        loop {
            let hooks = match &self.webhooks {
                Some(w) => match w.run_once().await {
                    Ok(n) => n,
                    Err(e) => {
                        tracing::warn!(error = %e, "webhook pass failed; retrying");
                        0
                    }
                },
                None => 0,
            };
            match self.run_once().await {
                // More may be waiting: go again at once.
                Ok(n) if n + hooks > 0 => continue,
                Ok(_) => {}
                Err(e) => tracing::warn!(error = %e, "worker pass failed; retrying"),
            }
            tokio::select! {
                _ = &mut shutdown => break,
                _ = self.wake.notified() => {}
                _ = tokio::time::sleep(POLL) => {}
            }
        }
    }

    /// The passes run each minute: reminders, expired holds, re-encryption after a key
    /// rotation, anomaly detection (when due) and waitlist offers.
    async fn frequent_passes(&self) {
        match self.send_reminders().await {
            Ok(p) if p.sent > 0 => {
                tracing::info!(sent = p.sent, skipped = p.skipped, "reminders queued")
            }
            Ok(_) => {}
            Err(e) => tracing::warn!(error = %e, "reminder pass failed; retrying"),
        }
        match self.expire_holds().await {
            Ok(n) if n > 0 => tracing::info!(
                conversations = n,
                "staff holds expired; the AI answers again"
            ),
            Ok(_) => {}
            Err(e) => tracing::warn!(error = %e, "hold expiry pass failed; retrying"),
        }
        match self.reencrypt_keys().await {
            Ok(n) if n > 0 => {
                tracing::info!(values = n, "clinic data re-encrypted under a rotated key")
            }
            Ok(_) => {}
            Err(e) => tracing::warn!(error = %e, "re-encryption pass failed; retrying"),
        }
        let detection =
            crate::security_alerts::detection_pass(self.store.as_ref(), &self.id, &self.pacer);
        match detection.await {
            Ok(Some(n)) if n > 0 => tracing::warn!(alerts = n, "anomaly alerts raised"),
            Ok(_) => {}
            Err(e) => tracing::warn!(error = %e, "anomaly detection failed; retrying"),
        }
        match self.offer_waitlist().await {
            Ok(p) if p.offered > 0 => tracing::info!(
                offered = p.offered,
                patients = p.patients,
                "waitlist offers queued"
            ),
            Ok(_) => {}
            Err(e) => tracing::warn!(error = %e, "waitlist pass failed; retrying"),
        }
    }

    /// The pauses of this worker's passes over every clinic (counted; see [`crate::pacing`]).
    pub fn pacer(&self) -> &Pacer {
        &self.pacer
    }

    /// Runs each daily pass that is due and that no other instance holds (see
    /// [`frontdesk_store::CoordinationStore::claim_maintenance`]): claimed, run, then recorded
    /// done, or released undone when it failed so that the next check (on any instance)
    /// tries again. Answers the passes this worker completed.
    pub async fn daily_maintenance(&self) -> Result<Vec<DailyPass>, StoreError> {
        let mut done = Vec::new();
        for pass in DailyPass::ALL {
            let Some(lease) = self
                .store
                .claim_maintenance(pass.name(), &self.id, DAILY, DAILY_LEASE)
                .await?
            else {
                continue;
            };
            let ok = self.daily_pass(pass).await;
            match self.store.finish_maintenance(&lease, ok).await {
                Ok(()) if ok => done.push(pass),
                Ok(()) => {}
                Err(StoreError::Conflict(_)) => {
                    tracing::warn!(
                        pass = pass.name(),
                        "daily pass overran its lease; another instance took it over"
                    )
                }
                Err(e) => return Err(e),
            }
        }
        Ok(done)
    }

    /// Runs one daily pass and logs its counts; `false` when it failed (tried again soon).
    async fn daily_pass(&self, pass: DailyPass) -> bool {
        match pass {
            DailyPass::Retention => match self.purge_retention().await {
                Ok(p) => {
                    if p.conversations
                        + p.recordings
                        + p.recordings_kept
                        + p.audit_entries
                        + p.llm_usage
                        > 0
                    {
                        tracing::info!(
                            conversations = p.conversations,
                            messages = p.messages,
                            recordings = p.recordings,
                            recordings_kept = p.recordings_kept,
                            audit_entries = p.audit_entries,
                            llm_usage = p.llm_usage,
                            "retention purge done"
                        )
                    }
                    true
                }
                Err(e) => {
                    tracing::warn!(error = %e, "retention purge failed; retrying soon");
                    false
                }
            },
            DailyPass::TerminatedPurge => match self.purge_terminated().await {
                Ok(n) => {
                    if n > 0 {
                        tracing::info!(clinics = n, "terminated clinics purged after their hold")
                    }
                    true
                }
                Err(e) => {
                    tracing::warn!(error = %e, "terminated clinics purge failed; retrying soon");
                    false
                }
            },
            DailyPass::AuditCheckpoints => match self.take_checkpoints().await {
                Ok(n) => {
                    tracing::info!(clinics = n, "signed audit checkpoints taken");
                    true
                }
                Err(e) => {
                    tracing::warn!(error = %e, "audit checkpoints failed; retrying soon");
                    false
                }
            },
        }
    }

    /// Sets the operator's gauges from [`frontdesk_store::Health::queue_stats`]: due jobs and
    /// outbound messages and how long the oldest has waited, dead letters, and this
    /// instance's connection pool (docs/OPERATIONS.md, "Monitoring").
    pub async fn sample_gauges(&self) -> Result<frontdesk_store::QueueStats, StoreError> {
        let q = self.store.queue_stats().await?;
        let now = self.clock.now();
        let waited =
            |t: Option<Timestamp>| t.map_or(0.0, |t| now.duration_since(t).as_secs_f64().max(0.0));
        metrics::gauge!("frontdesk_jobs_due").set(q.jobs_due as f64);
        metrics::gauge!("frontdesk_jobs_oldest_due_seconds").set(waited(q.jobs_oldest_due));
        metrics::gauge!("frontdesk_outbox_due").set(q.outbox_due as f64);
        metrics::gauge!("frontdesk_outbox_oldest_due_seconds").set(waited(q.outbox_oldest_due));
        metrics::gauge!("frontdesk_outbox_dead_letters").set(q.outbox_dead as f64);
        let busy = q.pool_size.saturating_sub(q.pool_idle);
        metrics::gauge!("frontdesk_db_pool_connections", "state" => "busy").set(f64::from(busy));
        metrics::gauge!("frontdesk_db_pool_connections", "state" => "idle")
            .set(f64::from(q.pool_idle));
        metrics::gauge!("frontdesk_db_pool_max_connections").set(f64::from(q.pool_max));
        Ok(q)
    }

    /// Queues every due appointment reminder (see [`crate::reminders`]).
    pub async fn send_reminders(&self) -> Result<crate::reminders::ReminderPass, StoreError> {
        crate::reminders::send_due(self.store.as_ref(), self.clock.as_ref(), &self.pacer).await
    }

    /// Purges every clinic whose termination hold has ended, and finishes any purge that
    /// stopped midway (see [`crate::lifecycle`]). Answers how many clinics were purged.
    pub async fn purge_terminated(&self) -> Result<usize, StoreError> {
        let certs = crate::lifecycle::purge_due(
            self.store.as_ref(),
            self.blobs.as_deref(),
            self.termination_hold,
            self.clock.now(),
        )
        .await?;
        Ok(certs.len())
    }

    /// Signs every active clinic's audit chain head (see
    /// [`frontdesk_store::CheckpointStore`]): the daily checkpoints the operator exports with
    /// `frontdesk audit checkpoints`. Answers how many clinics got one.
    pub async fn take_checkpoints(&self) -> Result<u32, StoreError> {
        let mut taken = 0;
        let mut clinics = self
            .pacer
            .clinics(self.store.as_ref(), Spread::DAILY)
            .await?;
        while let Some(scope) = clinics.next().await {
            match self.store.take_audit_checkpoint(scope).await {
                Ok(_) => taken += 1,
                Err(StoreError::NotFound) => {}
                Err(e) => {
                    tracing::warn!(tenant = %scope.tenant_id(), error = %e, "audit checkpoint failed for a clinic")
                }
            }
        }
        Ok(taken)
    }

    /// Moves every clinic whose data key was rotated along, batch after batch (each one short
    /// transaction, a pause between them) until the old key version is destroyed (see
    /// [`frontdesk_store::KeyRotationStore::reencrypt_tenant_batch`]). Clinics with no rotation
    /// under way cost one small query. Answers how many values were re-encrypted.
    pub async fn reencrypt_keys(&self) -> Result<u64, StoreError> {
        let mut total = 0;
        let mut clinics = self
            .pacer
            .clinics(self.store.as_ref(), Spread::FREQUENT)
            .await?;
        while let Some(scope) = clinics.next().await {
            loop {
                match self.store.reencrypt_tenant_batch(scope, 500).await {
                    Ok(b) => {
                        total += b.reencrypted;
                        if !b.destroyed.is_empty() {
                            tracing::info!(tenant = %scope.tenant_id(), destroyed = ?b.destroyed, "old data key version destroyed");
                        }
                        if b.reencrypted == 0 || !b.destroyed.is_empty() || b.wait_until.is_some() {
                            break;
                        }
                    }
                    Err(e) => {
                        tracing::warn!(tenant = %scope.tenant_id(), error = %e, "re-encryption failed for a clinic");
                        break;
                    }
                }
                self.pacer.pause(self.retention_pause).await;
            }
        }
        Ok(total)
    }

    /// Applies every clinic's retention policy, batch after batch (each one short transaction,
    /// audited with counts) with a pause between them: expired recordings first (their audio
    /// deleted from blob storage before their rows, so none is left behind; audio that cannot
    /// be deleted now keeps its row and is tried again next pass), then expired conversations.
    pub async fn purge_retention(&self) -> Result<RetentionPass, StoreError> {
        let mut total = RetentionPass::default();
        let mut clinics = self
            .pacer
            .clinics(self.store.as_ref(), Spread::DAILY)
            .await?;
        while let Some(scope) = clinics.next().await {
            if let Err(e) = self.purge_clinic(scope, &mut total).await {
                tracing::warn!(tenant = %scope.tenant_id(), error = %e, "retention purge failed for a clinic");
            }
        }
        Ok(total)
    }

    async fn purge_clinic(
        &self,
        scope: frontdesk_store::TenantScope,
        total: &mut RetentionPass,
    ) -> Result<(), StoreError> {
        loop {
            let expired = self.store.expired_recordings(scope).await?;
            let mut deleted = Vec::with_capacity(expired.len());
            for (id, key) in &expired {
                let gone = match (key, &self.blobs) {
                    (None, _) => Ok(()),
                    (Some(k), Some(b)) => b.delete(k).await.map_err(|e| e.to_string()),
                    (Some(_), None) => Err("no blob storage configured".to_owned()),
                };
                match gone {
                    Ok(()) => deleted.push(*id),
                    Err(e) => {
                        tracing::warn!(recording = %id, error = %e, "expired recording audio not deleted; kept for the next pass")
                    }
                }
            }
            total.recordings += self.store.purge_recordings(scope, &deleted).await?;
            total.recordings_kept += (expired.len() - deleted.len()) as u64;
            if expired.len() < 100 || deleted.is_empty() {
                break;
            }
            self.pacer.pause(self.retention_pause).await;
        }
        loop {
            let batch = self.store.purge_expired(scope).await?;
            total.conversations += batch.conversations;
            total.messages += batch.messages;
            total.llm_usage += batch.llm_usage;
            if !batch.more {
                break;
            }
            // Between two batches of one clinic; the pacer spaces one clinic from the next.
            self.pacer.pause(self.retention_pause).await;
        }
        loop {
            let batch = self.store.purge_audit(scope).await?;
            total.audit_entries += batch.entries;
            if !batch.more {
                return Ok(());
            }
            self.pacer.pause(self.retention_pause).await;
        }
    }

    /// Gives every conversation whose staff hold ran out back to the AI, with an audited
    /// event (the AI already answers from the moment the hold ends; this makes it visible).
    pub async fn expire_holds(&self) -> Result<u32, StoreError> {
        let mut expired = 0;
        let mut clinics = self
            .pacer
            .clinics(self.store.as_ref(), Spread::FREQUENT)
            .await?;
        while let Some(scope) = clinics.next().await {
            match self.store.expire_holds(scope).await {
                Ok(n) => expired += n,
                Err(e) => {
                    tracing::warn!(tenant = %scope.tenant_id(), error = %e, "hold expiry failed for a clinic")
                }
            }
        }
        Ok(expired)
    }

    /// Offers every freed time to the waitlist (see [`crate::waitlist`]).
    pub async fn offer_waitlist(&self) -> Result<crate::waitlist::WaitlistPass, StoreError> {
        crate::waitlist::offer_freed(self.store.as_ref(), self.clock.as_ref(), &self.pacer).await
    }

    /// One pass over both queues; returns how many rows it handled. Claimed rows of different
    /// conversations (jobs) or recipients (outbox) are handled concurrently; those of one
    /// conversation or recipient one after the other, in the order they were claimed, so a
    /// patient's turns are answered in order and their replies arrive in order.
    pub async fn run_once(&self) -> Result<usize, StoreError> {
        let jobs = self.store.claim_jobs(&self.id, self.lease, BATCH).await?;
        let mut handled = jobs.len();
        let groups = in_order_groups(jobs, |job| {
            job.payload
                .get("conversation")
                .and_then(|c| c.as_str())
                .map_or_else(|| job.lease.id.to_string(), str::to_owned)
        });
        futures_util::future::join_all(groups.into_iter().map(|group| async move {
            for job in group {
                self.run_job(job).await;
            }
        }))
        .await;
        let items = self.store.claim_outbox(&self.id, self.lease, BATCH).await?;
        handled += items.len();
        let groups = in_order_groups(items, |item| {
            format!("{}:{}", item.channel.as_str(), item.to.as_str())
        });
        futures_util::future::join_all(groups.into_iter().map(|group| async move {
            for item in group {
                self.deliver(item).await;
            }
        }))
        .await;
        Ok(handled)
    }

    async fn run_job(&self, job: Job) {
        let result = match job.kind.as_str() {
            REPLY_JOB => self.reply(&job).await,
            NOTIFY_STAFF_JOB => match self.notify_staff(&job).await {
                Ok(()) => Ok(()),
                Err(JobError::Store(e)) => Err(e),
                Err(JobError::Mail(e)) => return self.mail_failed(&job, e).await,
            },
            NOTIFY_SECURITY_ALERT_JOB => {
                let public_base = self.public_base.as_deref();
                match notify_owners(self.store.as_ref(), &self.mailer, public_base, &job).await {
                    Ok(()) => Ok(()),
                    Err(NotifyError::Store(e)) => Err(e),
                    Err(NotifyError::Mail(e)) => return self.mail_failed(&job, e).await,
                }
            }
            FETCH_RECORDING_JOB => {
                self.fetch_recording(&job).await;
                return;
            }
            frontdesk_store::PAYMENT_REQUEST_JOB => {
                self.request_payment(&job).await;
                return;
            }
            _ => Err(StoreError::Corrupt("unknown job kind")),
        };
        let retry = match result {
            Ok(()) => return,
            // Someone else finished it (our lease ran out): nothing to do, nothing to undo.
            Err(StoreError::Conflict(_)) => return,
            Err(e @ (StoreError::Corrupt(_) | StoreError::NotFound)) => {
                tracing::error!(job = %job.lease.id, kind = %job.kind, error = %e, "job failed for good");
                None
            }
            Err(e) => {
                tracing::warn!(job = %job.lease.id, kind = %job.kind, error = %e, "job failed; will retry");
                Some(self.clock.now() + backoff(job.lease.attempt, None))
            }
        };
        if let Err(e) = self.store.retry_job(&job.lease, retry, "job_error").await {
            tracing::warn!(job = %job.lease.id, error = %e, "could not record the job's failure");
        }
    }

    /// Asks Stripe or Daraja for one payment (see [`crate::payments::run_request`]).
    async fn request_payment(&self, job: &Job) {
        let Some(clients) = &self.payments else {
            return self.retry_later(job, "no_payment_clients").await;
        };
        let result =
            crate::payments::run_request(self.store.as_ref(), clients, self.clock.as_ref(), job)
                .await;
        match result {
            Ok(()) => self.wake.notify_one(),
            Err(crate::payments::RequestError::Store(StoreError::Conflict(_))) => {}
            Err(crate::payments::RequestError::Retry(code)) => {
                tracing::warn!(job = %job.lease.id, code, "payment provider unavailable; will retry");
                self.retry_later(job, "payment_provider").await;
            }
            Err(crate::payments::RequestError::Store(e)) => {
                tracing::warn!(job = %job.lease.id, error = %e, "payment request failed; will retry");
                self.retry_later(job, "job_error").await;
            }
        }
    }

    async fn retry_later(&self, job: &Job, code: &str) {
        let at = self.clock.now() + backoff(job.lease.attempt, None);
        if let Err(e) = self.store.retry_job(&job.lease, Some(at), code).await {
            tracing::warn!(job = %job.lease.id, error = %e, "could not record the job's failure");
        }
    }

    /// An alert email not sent: the job is tried again later if the failure may pass.
    async fn mail_failed(&self, job: &Job, e: crate::mailer::MailError) {
        tracing::warn!(job = %job.lease.id, code = e.code, "alert email not sent");
        let retry = e
            .retryable
            .then(|| self.clock.now() + backoff(job.lease.attempt, None));
        if let Err(e) = self.store.retry_job(&job.lease, retry, e.code).await {
            tracing::warn!(job = %job.lease.id, error = %e, "could not record the job's failure");
        }
    }

    /// Fetches, seals, stores and deletes at Twilio one call recording.
    async fn fetch_recording(&self, job: &Job) {
        let result = match &self.blobs {
            Some(blobs) => {
                crate::recordings::fetch(
                    self.store.as_ref(),
                    blobs.as_ref(),
                    &self.providers.twilio,
                    job,
                )
                .await
            }
            None => Err(crate::recordings::FetchError::NoBlobStore),
        };
        let retry = match result {
            Ok(()) => return,
            Err(crate::recordings::FetchError::Store(StoreError::Conflict(_))) => return,
            Err(e) if e.is_retryable() => {
                tracing::warn!(job = %job.lease.id, code = e.code(), "recording not fetched yet; will retry");
                Some(self.clock.now() + backoff(job.lease.attempt, None))
            }
            Err(e) => {
                tracing::error!(job = %job.lease.id, code = e.code(), "recording fetch failed for good");
                None
            }
        };
        let code = "recording_fetch";
        if let Err(e) = self.store.retry_job(&job.lease, retry, code).await {
            tracing::warn!(job = %job.lease.id, error = %e, "could not record the job's failure");
        }
    }

    async fn reply(&self, job: &Job) -> Result<(), StoreError> {
        let scope = job.lease.scope;
        let payload: ReplyJob = serde_json::from_value(job.payload.clone())
            .map_err(|_| StoreError::Corrupt("reply job payload"))?;
        let conv = self.store.conversation(scope, payload.conversation).await?;
        let inbound = self
            .store
            .message(scope, payload.conversation, payload.message)
            .await?;
        let first_contact = payload.first_contact;
        answer_by(
            &*self.store,
            &*self.clock,
            &self.models,
            scope,
            payload.conversation,
            conv.patient_id,
            &inbound.body,
            Some(StoredMessage {
                job: job.lease.clone(),
                first_contact,
            }),
        )
        .await?;
        Ok(())
    }

    /// Emails the staff who act on this kind of alert, then marks it sent with the job.
    async fn notify_staff(&self, job: &Job) -> Result<(), JobError> {
        let scope = job.lease.scope;
        let payload: NotifyStaffJob = serde_json::from_value(job.payload.clone())
            .map_err(|_| StoreError::Corrupt("notify job payload"))?;
        if !self.mailer.is_enabled() {
            // No email configured: the alert stays pending for staff to see in frontdesk.
            return Ok(self.store.finish_job(&job.lease).await?);
        }
        let alert = self.store.notification(scope, payload.notification).await?;
        let to = recipients(alert.kind, &self.store.staff_contacts(scope).await?);
        if to.is_empty() {
            tracing::warn!(
                kind = alert.kind.as_str(),
                "no staff to email this alert to"
            );
            return Ok(self.store.finish_job(&job.lease).await?);
        }
        let clinic = self.store.clinic(scope).await?;
        let (subject, body) =
            alert_email(&clinic.profile.name, &alert, self.public_base.as_deref());
        self.mailer.send(&to, &subject, &body).await?;
        metrics::counter!("frontdesk_alert_emails_total", "kind" => alert.kind.as_str())
            .increment(to.len() as u64);
        Ok(self
            .store
            .mark_notification_sent(&job.lease, payload.notification)
            .await?)
    }

    async fn deliver(&self, item: OutboxItem) {
        let now = self.clock.now();
        let permit = self
            .store
            .take_send_token(item.lease.scope, self.outbound_per_second)
            .await;
        let outcome = match permit {
            Ok(SendPermit::Wait(wait)) => DeliveryOutcome::Deferred { at: now + wait },
            Err(e) => {
                // Not sent, and no attempt used: the row goes back for another pass (or, if
                // the database is gone, its lease runs out).
                tracing::warn!(outbox = %item.lease.id, error = %e, "send rate not read; sending later");
                DeliveryOutcome::Deferred {
                    at: now + SignedDuration::from_secs(1),
                }
            }
            Ok(SendPermit::Granted) => {
                let started = std::time::Instant::now();
                let outcome = self.send(&item, now).await;
                metrics::histogram!("frontdesk_provider_request_duration_seconds", "channel" => item.channel.as_str())
                    .record(started.elapsed().as_secs_f64());
                outcome
            }
        };
        let label = match &outcome {
            DeliveryOutcome::Sent { .. } => "sent",
            DeliveryOutcome::Retry { .. } => "retry",
            DeliveryOutcome::Deferred { .. } => "deferred",
            DeliveryOutcome::Permanent { .. } => "failed",
        };
        metrics::counter!("frontdesk_outbox_attempts_total", "channel" => item.channel.as_str(), "outcome" => label)
            .increment(1);
        if let Err(e) = self.store.settle_outbox(&item.lease, &outcome).await {
            tracing::warn!(outbox = %item.lease.id, error = %e, "could not record a delivery attempt");
        }
    }

    async fn send(&self, item: &OutboxItem, now: Timestamp) -> DeliveryOutcome {
        let result = match item.channel {
            Channel::Whatsapp => self.send_whatsapp(item, now).await,
            Channel::Sms => self.send_sms(item).await,
            _ => Err(SendError::Permanent {
                code: "channel_not_deliverable".into(),
            }),
        };
        match result {
            Ok(Sent {
                provider_message_id,
            }) => DeliveryOutcome::Sent {
                provider_message_id,
            },
            Err(SendError::Retryable { code, retry_after }) => DeliveryOutcome::Retry {
                at: now + backoff(item.lease.attempt, retry_after),
                error_code: code,
            },
            Err(SendError::Permanent { code }) => DeliveryOutcome::Permanent { error_code: code },
        }
    }

    async fn account(&self, item: &OutboxItem, provider: Provider) -> Option<ChannelAccount> {
        self.store
            .channel_account(item.lease.scope, provider)
            .await
            .ok()
    }

    async fn send_whatsapp(&self, item: &OutboxItem, now: Timestamp) -> Result<Sent, SendError> {
        let Some(account) = self.account(item, Provider::Whatsapp).await else {
            return Err(permanent("whatsapp_not_configured"));
        };
        let body = match whatsapp_body(item, &account, now) {
            Ok(body) => body,
            Err(e) => return self.sms_fallback(item, e).await,
        };
        let token = account.secrets.get("access_token").unwrap_or_default();
        let msg = outbound(item, body);
        match self
            .providers
            .whatsapp
            .send(&account.address, token, &msg)
            .await
        {
            Err(e @ SendError::Permanent { .. }) => self.sms_fallback(item, e).await,
            other => other,
        }
    }

    /// WhatsApp refused for good: clinics that also have Africa's Talking (Kenya) get the
    /// message by SMS instead; others keep WhatsApp's error.
    async fn sms_fallback(&self, item: &OutboxItem, error: SendError) -> Result<Sent, SendError> {
        let Some(at) = self.account(item, Provider::AfricasTalking).await else {
            return Err(error);
        };
        tracing::info!(outbox = %item.lease.id, whatsapp_error = error.code(), "falling back to SMS");
        self.send_africastalking(item, &at).await
    }

    async fn send_sms(&self, item: &OutboxItem) -> Result<Sent, SendError> {
        if let Some(account) = self.account(item, Provider::Twilio).await {
            let sid = account.config["account_sid"].as_str().unwrap_or_default();
            let token = account.secrets.get("auth_token").unwrap_or_default();
            let callback = self
                .providers
                .public_base
                .as_ref()
                .map(|b| format!("{b}/webhooks/twilio/sms"));
            let msg = outbound(item, OutboundBody::Text(item.body.clone()));
            return self
                .providers
                .twilio
                .send(sid, token, &account.address, callback.as_deref(), &msg)
                .await;
        }
        match self.account(item, Provider::AfricasTalking).await {
            Some(at) => self.send_africastalking(item, &at).await,
            None => Err(permanent("sms_not_configured")),
        }
    }

    async fn send_africastalking(
        &self,
        item: &OutboxItem,
        account: &ChannelAccount,
    ) -> Result<Sent, SendError> {
        let username = account.config["username"].as_str().unwrap_or_default();
        let key = account.secrets.get("api_key").unwrap_or_default();
        let msg = outbound(item, OutboundBody::Text(item.body.clone()));
        self.providers
            .africastalking
            .send(username, key, Some(&account.address), &msg)
            .await
    }
}

#[derive(Debug, thiserror::Error)]
enum JobError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Mail(#[from] crate::mailer::MailError),
}

fn permanent(code: &str) -> SendError {
    SendError::Permanent { code: code.into() }
}

fn outbound(item: &OutboxItem, body: OutboundBody) -> Outbound {
    Outbound {
        to: item.to.as_str().to_owned(),
        body,
        idempotency_key: item.idempotency_key.clone(),
    }
}

/// What WhatsApp may carry now: free text inside the 24-hour customer-service window; outside
/// it only the clinic's approved template for this purpose (configured per clinic as
/// `templates.<purpose>` = name, with `template_language`), with the text as its parameter.
fn whatsapp_body(
    item: &OutboxItem,
    account: &ChannelAccount,
    now: Timestamp,
) -> Result<OutboundBody, SendError> {
    let last = item.last_inbound_at.map(|t| t.as_second());
    if within_service_window(last, now.as_second()) {
        return Ok(OutboundBody::Text(item.body.clone()));
    }
    let purpose = item.purpose.as_str();
    let template = match item.purpose {
        OutboxPurpose::Reminder | OutboxPurpose::FollowUp | OutboxPurpose::Notice => {
            account.config["templates"][purpose].as_str()
        }
        OutboxPurpose::Reply | OutboxPurpose::OptoutConfirmation => None,
    };
    match template {
        Some(name) => Ok(OutboundBody::Template {
            name: name.to_owned(),
            language: account.config["template_language"]
                .as_str()
                .unwrap_or("en")
                .to_owned(),
            params: vec![item.body.clone()],
        }),
        None => Err(permanent("outside_service_window")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rows_are_grouped_by_key_keeping_their_order() {
        let rows = vec![("a", 1), ("b", 2), ("a", 3), ("c", 4), ("b", 5)];
        let groups = in_order_groups(rows, |r| r.0.to_owned());
        assert_eq!(
            groups,
            vec![
                vec![("a", 1), ("a", 3)],
                vec![("b", 2), ("b", 5)],
                vec![("c", 4)]
            ]
        );
    }

    #[test]
    fn backoff_doubles_with_jitter_caps_and_honours_retry_after() {
        for attempt in 1..=20 {
            let d = backoff(attempt, None).as_millis();
            let full = (5_000u128 << (attempt - 1).min(15)).min(300_000);
            assert!(d >= full / 2 && d <= full, "attempt {attempt}: {d} ms");
        }
        assert!(backoff(1, Some(Duration::from_secs(60))) >= Duration::from_secs(60));
    }
}
