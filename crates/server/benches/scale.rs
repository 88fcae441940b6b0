//! Scale test on PostgreSQL (#12 item 2): `scripts/scale.sh`, or
//! `cargo bench -p frontdesk-server --bench scale`.
//!
//! 1. **Generates** `TENANTS` clinics (like the demo clinics, each with an Owner), `PATIENTS`
//!    patients per clinic (each with a phone, a name and one WhatsApp conversation) through the
//!    store's own API, then `MESSAGES` messages per conversation in one `COPY` per clinic, each
//!    sealed with its patient's key as a real turn is (`PgStore::bench_load_messages`), each
//!    inbound one with its provider id and each outbound one with its sent outbox row, as in a
//!    clinic's real history (5 million outbox rows at the defaults). In each
//!    clinic the first `EXPIRED` conversations are dated well past the clinic's retention
//!    (90 days), the rest in the last 60 days. Defaults: 1,000 × 100 × 100 = 10 million
//!    messages, of which 1,000 × 10 × 100 = 1 million expired.
//! 2. **Reads** as staff and the webhook path do, sequentially, in random clinics: the inbox
//!    (first page of 50), a patient found by phone, and a conversation opened (the
//!    conversation and all its messages, decrypted). p50 / p99 / max of each, and the
//!    PostgreSQL plan of each statement (`EXPLAIN (ANALYZE, BUFFERS)`, as the application
//!    role under row-level security).
//! 3. **Purge under traffic**: signed WhatsApp webhooks at a fixed rate (`RATE`/s, open loop)
//!    into a real server on loopback with its workers, first alone (baseline), then while the
//!    retention pass (`Worker::purge_retention`, as the daily maintenance runs it) deletes
//!    the expired million; the ack latency of both phases and how long the purge took.
//!
//! Settings (environment): `FRONTDESK_SCALE_TENANTS` (1000), `FRONTDESK_SCALE_PATIENTS` (100),
//! `FRONTDESK_SCALE_MESSAGES` (100), `FRONTDESK_SCALE_EXPIRED` (10), `FRONTDESK_SCALE_SAMPLES`
//! (2000 per read), `FRONTDESK_SCALE_RATE` (100 webhooks/s), `FRONTDESK_SCALE_STARTUP_SECS`
//! (20: the first seconds after the server starts, reported apart), `FRONTDESK_SCALE_BASELINE_SECS`
//! (20), `FRONTDESK_SCALE_PURGE_PAUSE_MS` (the worker's `retention_pause_ms`, default 50).
//! `FRONTDESK_SCALE_PHASES` (`generate,measure`): `generate` alone makes the database
//! and keeps it, writing how to reopen it (database, connection, generated master key; mode
//! 0600) to `FRONTDESK_SCALE_STATE` (`/tmp/frontdesk-scale.json`); `measure` alone reopens
//! that database and measures (so the slow generation and the measurement can run at
//! different times, the latter on an idle machine), then drops it unless
//! `FRONTDESK_SCALE_KEEP=1`. The purge consumes the expired history: measure once per
//! generation. Needs PostgreSQL (`FRONTDESK_TEST_PG_URL` or the default 127.0.0.1:5432).
//! Loopback only, bounded in count.
//! Timings are reported, never asserted. Results: docs/PERFORMANCE.md.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use common::{env_num, percentile};

use frontdesk_domain::{Clock, E164Phone, Email, Role, SystemClock, TenantSlug};
use frontdesk_server::{channels, demo, mailer::Mailer, worker};
use frontdesk_store::crypto::{Keyring, MasterKey};
use frontdesk_store::testing::{TestDb, pg_admin_url};
use frontdesk_store::{
    Channel, ChannelSecrets, DatabaseConfig, InboxQuery, NewPatient, NewUser, PgStore, Provider,
    Store, TenantScope,
};
use std::sync::Arc;
use std::time::{Duration, Instant};

const APP_SECRET: &str = "scale_app_secret";
/// Clinics that receive webhooks in the purge phase.
const WEBHOOK_CLINICS: usize = 20;

fn fmt_lat(mut v: Vec<Duration>) -> String {
    v.sort();
    format!(
        "p50 {:.2} ms  p99 {:.2} ms  max {:.2} ms  ({} samples)",
        percentile(&v, 0.50).as_secs_f64() * 1e3,
        percentile(&v, 0.99).as_secs_f64() * 1e3,
        v.last().copied().unwrap_or_default().as_secs_f64() * 1e3,
        v.len()
    )
}

/// A small deterministic generator (xorshift), so runs pick the same clinics.
struct Rng(u64);
impl Rng {
    fn below(&mut self, n: usize) -> usize {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        (self.0 % n as u64) as usize
    }
}

fn phone(tenant: usize, patient: usize) -> E164Phone {
    E164Phone::parse(&format!("+2547{tenant:04}{patient:04}")).unwrap()
}

fn pnid(tenant: usize) -> String {
    format!("8200{tenant:06}")
}

struct Clinic {
    scope: TenantScope,
    owner: frontdesk_domain::UserId,
    conversations: Vec<frontdesk_domain::ConversationId>,
}

async fn seed_clinic(store: &dyn Store, t: usize, patients: usize) -> Clinic {
    let slug = TenantSlug::parse(&format!("scale-{t:04}")).unwrap();
    let template = &demo::DEMO_CLINICS[t % demo::DEMO_CLINICS.len()];
    let scope = demo::seed_clinic(store, template, &slug).await.unwrap();
    let owner = store
        .create_user(
            scope,
            &NewUser {
                email: Email::parse(&format!("owner@scale-{t:04}.example")).unwrap(),
                name: format!("Owner {t}"),
                role: Role::Owner,
            },
        )
        .await
        .unwrap();
    if t < WEBHOOK_CLINICS {
        let wa = ChannelSecrets::new()
            .with("app_secret", APP_SECRET)
            .with("verify_token", "v")
            .with("access_token", "scale");
        store
            .set_channel_account(
                scope,
                Provider::Whatsapp,
                &pnid(t),
                &serde_json::json!({}),
                &wa,
            )
            .await
            .unwrap();
    }
    let mut conversations = Vec::with_capacity(patients);
    for p in 0..patients {
        let patient = store
            .create_patient(
                scope,
                &NewPatient {
                    name: Some(format!("Patient {t}-{p}")),
                    phone: Some(phone(t, p)),
                    email: None,
                    language: None,
                },
            )
            .await
            .unwrap();
        conversations.push(
            store
                .start_conversation(scope, patient, Channel::Whatsapp)
                .await
                .unwrap(),
        );
    }
    Clinic {
        scope,
        owner,
        conversations,
    }
}

/// Signed webhooks at `rate`/s from existing patients of the webhook clinics until `stop`
/// resolves; the ack latency of each.
async fn webhooks_at_rate(
    base: &str,
    rate: f64,
    (expired, patients): (usize, usize),
    label: &'static str,
    stop: impl std::future::Future<Output = ()>,
) -> Vec<Duration> {
    let client = reqwest::Client::new();
    let url = format!("{base}/webhooks/whatsapp");
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel::<Duration>();
    let mut tick = tokio::time::interval(Duration::from_secs_f64(1.0 / rate));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Burst);
    tokio::pin!(stop);
    let mut n = 0usize;
    let mut rng = Rng(0x5eed_0000 + label.len() as u64);
    loop {
        tokio::select! {
            () = &mut stop => break,
            _ = tick.tick() => {
                let t = rng.below(WEBHOOK_CLINICS);
                // A live conversation: an expired one may be purged under the message.
                let p = expired + rng.below(patients - expired);
                let from = phone(t, p).as_str().trim_start_matches('+').to_owned();
                let (body, sig) = common::signed_whatsapp(&pnid(t), APP_SECRET, &format!("wamid.scale.{label}.{n}"), &from, "are you open today?");
                n += 1;
                let (client, url, tx) = (client.clone(), url.clone(), tx.clone());
                tokio::spawn(async move {
                    let start = Instant::now();
                    let r = client
                        .post(&url)
                        .header("x-hub-signature-256", sig)
                        .body(body)
                        .send()
                        .await
                        .unwrap();
                    assert_eq!(r.status(), 200);
                    let _ = tx.send(start.elapsed());
                });
            }
        }
    }
    drop(tx);
    let mut out = Vec::with_capacity(n);
    while let Some(d) = rx.recv().await {
        out.push(d);
    }
    out
}

/// Reads every table and index of the database once into the operating system's cache
/// (`pg_prewarm`, mode `read`): a server whose database fits in its memory has it there, but
/// this VM drops its page cache over time, and a measurement right after a long generation
/// would otherwise read from disk (docs/PERFORMANCE.md, "Scale", sixth round). Skipped, and said so,
/// where the extension is not installed.
async fn prewarm(db: &Target) {
    use sqlx::Connection;
    let mut conn = sqlx::PgConnection::connect(&db.owner_url).await.unwrap();
    let s = Instant::now();
    if let Err(e) = sqlx::raw_sql("CREATE EXTENSION IF NOT EXISTS pg_prewarm")
        .execute(&mut conn)
        .await
    {
        println!("prewarm: skipped, pg_prewarm is not available ({e})");
        return;
    }
    let blocks: i64 = sqlx::query_scalar(
        "SELECT COALESCE(sum(pg_prewarm(c.oid, 'read')), 0)::bigint FROM pg_class c \
         WHERE c.relkind IN ('r', 'i', 't') AND c.relnamespace IN ('public'::regnamespace, 'pg_toast'::regnamespace) \
         AND c.relpersistence = 'p'",
    )
    .fetch_one(&mut conn)
    .await
    .unwrap();
    println!(
        "prewarm: {blocks} blocks ({:.1} GB) read into the OS cache in {:.1} s",
        blocks as f64 * 8192.0 / 1e9,
        s.elapsed().as_secs_f64()
    );
}

/// PostgreSQL's WAL counters (records, full-page images, bytes, syncs), for the purge's share.
async fn wal_stats() -> (i64, i64, i64, i64) {
    use sqlx::Connection;
    let mut conn = sqlx::PgConnection::connect(&pg_admin_url()).await.unwrap();
    sqlx::query_as("SELECT wal_records, wal_fpi, wal_bytes::bigint, wal_sync FROM pg_stat_wal")
        .fetch_one(&mut conn)
        .await
        .unwrap()
}

/// The plan PostgreSQL chooses for `sql`, run as the application role inside `scope`'s
/// clinic (row-level security applies), with `EXPLAIN (ANALYZE, BUFFERS)`.
async fn explain(db: &Target, tenant: uuid::Uuid, sql: &str) -> String {
    use sqlx::Connection;
    let mut conn = sqlx::PgConnection::connect(&db.owner_url).await.unwrap();
    let role = &db.app_role;
    let mut tx = conn.begin().await.unwrap();
    sqlx::raw_sql(sqlx::AssertSqlSafe(format!("SET LOCAL ROLE {role}")))
        .execute(&mut *tx)
        .await
        .unwrap();
    sqlx::query("SELECT set_config('app.tenant_id', $1, true)")
        .bind(tenant.to_string())
        .execute(&mut *tx)
        .await
        .unwrap();
    let rows: Vec<(String,)> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "EXPLAIN (ANALYZE, BUFFERS, COSTS OFF) {sql}"
    )))
    .fetch_all(&mut *tx)
    .await
    .unwrap();
    tx.rollback().await.unwrap();
    rows.into_iter()
        .map(|(l,)| l)
        .collect::<Vec<_>>()
        .join("\n")
}

/// The database under test, and how to reopen it.
#[derive(serde::Serialize, serde::Deserialize)]
struct Target {
    /// The database's name.
    name: String,
    /// The schema owner's connection (bypasses row-level security: loading and plans only).
    owner_url: String,
    /// The application role's connection.
    url: String,
    app_role: String,
    /// The master key the data was encrypted under (a throw-away key made for this run).
    master_key: String,
    tenants: usize,
    patients: usize,
    per_conv: u32,
    expired: usize,
}

fn state_path() -> std::path::PathBuf {
    std::env::var_os("FRONTDESK_SCALE_STATE")
        .map(Into::into)
        .unwrap_or_else(|| "/tmp/frontdesk-scale.json".into())
}

impl Target {
    fn keyring(&self) -> Keyring {
        Keyring::new(MasterKey::parse(&self.master_key).unwrap(), vec![])
    }

    async fn open(&self) -> Arc<dyn Store> {
        let cfg = DatabaseConfig {
            url: self.url.clone(),
            owner_url: None,
            app_role: Some(self.app_role.clone()),
            max_connections: 16,
        };
        frontdesk_store::open(&cfg, self.keyring(), Arc::new(SystemClock))
            .await
            .unwrap()
            .store
    }

    async fn drop_database(&self) {
        use sqlx::Connection;
        let mut conn = sqlx::PgConnection::connect(&pg_admin_url()).await.unwrap();
        sqlx::raw_sql(sqlx::AssertSqlSafe(format!(
            "DROP DATABASE IF EXISTS {} WITH (FORCE)",
            self.name
        )))
        .execute(&mut conn)
        .await
        .unwrap();
        println!("database {} dropped", self.name);
    }
}

fn main() {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(run());
}

async fn run() {
    let tenants = env_num("FRONTDESK_SCALE_TENANTS", 1000).max(WEBHOOK_CLINICS);
    let patients = env_num("FRONTDESK_SCALE_PATIENTS", 100).max(2);
    let per_conv = env_num("FRONTDESK_SCALE_MESSAGES", 100).max(2) as u32;
    let expired = env_num("FRONTDESK_SCALE_EXPIRED", 10).min(patients - 1);
    let samples = env_num("FRONTDESK_SCALE_SAMPLES", 2000).max(1);
    let rate = env_num("FRONTDESK_SCALE_RATE", 100).max(1) as f64;
    let baseline_secs = env_num("FRONTDESK_SCALE_BASELINE_SECS", 20).max(1) as u64;
    let phases = std::env::var("FRONTDESK_SCALE_PHASES").unwrap_or("generate,measure".into());
    let (generate_phase, measure_phase) = (phases.contains("generate"), phases.contains("measure"));
    println!(
        "frontdesk scale: {} cores; phases {phases}",
        std::thread::available_parallelism().map_or(0, |n| n.get()),
    );
    let target = if generate_phase {
        println!(
            "{tenants} clinics × {patients} patients × {per_conv} messages = {} messages ({} expired)",
            tenants * patients * per_conv as usize,
            tenants * expired * per_conv as usize,
        );
        let Some(db) = TestDb::postgres().await.unwrap() else {
            println!("PostgreSQL: not reachable; the scale test needs it");
            return;
        };
        let owner_url = db.owner_url.clone().unwrap();
        let target = Target {
            name: owner_url.rsplit('/').next().unwrap().to_owned(),
            owner_url,
            url: db.cfg.url.clone(),
            app_role: db.cfg.app_role.clone().unwrap(),
            master_key: MasterKey::generate("scale1").export().to_string(),
            tenants,
            patients,
            per_conv,
            expired,
        };
        println!("database: {}", target.name);
        // The database outlives `db` (dropping a `TestDb` does not remove it).
        generate(&target).await;
        if !measure_phase {
            use std::io::Write as _;
            use std::os::unix::fs::OpenOptionsExt;
            let mut f = std::fs::OpenOptions::new()
                .create(true)
                .truncate(true)
                .write(true)
                .mode(0o600)
                .open(state_path())
                .unwrap();
            f.write_all(serde_json::to_string(&target).unwrap().as_bytes())
                .unwrap();
            println!(
                "kept; measure it with FRONTDESK_SCALE_PHASES=measure (state in {})",
                state_path().display()
            );
            return;
        }
        target
    } else {
        let state = std::fs::read(state_path()).expect("no state: run the generate phase first");
        let target: Target = serde_json::from_slice(&state).unwrap();
        println!(
            "reopened {}: {} clinics × {} patients × {} messages ({} expired conversations each)",
            target.name, target.tenants, target.patients, target.per_conv, target.expired
        );
        target
    };
    measure(&target, samples, rate, baseline_secs).await;
    if std::env::var("FRONTDESK_SCALE_KEEP").as_deref() == Ok("1") {
        println!("database {} kept", target.name);
    } else {
        target.drop_database().await;
        let _ = std::fs::remove_file(state_path());
    }
}

/// 1. Generates the clinics and their history, eight clinics at a time.
async fn generate(db: &Target) {
    let (tenants, patients, per_conv, expired) = (db.tenants, db.patients, db.per_conv, db.expired);
    let clock: Arc<dyn Clock> = Arc::new(SystemClock);
    let store = db.open().await;
    // The history is loaded with `COPY`, which PostgreSQL refuses under row-level security:
    // through the schema owner's connection (everything measured goes through the
    // application role).
    let bulk = Arc::new(
        PgStore::connect(&db.owner_url, db.keyring(), clock, 8)
            .await
            .unwrap(),
    );
    let started = Instant::now();
    let now = jiff::Timestamp::now();
    let live_from = now - jiff::SignedDuration::from_hours(24 * 60);
    let old_from = now - jiff::SignedDuration::from_hours(24 * 400);
    let span = jiff::SignedDuration::from_hours(24 * 55);
    let step = span / i32::try_from(per_conv).unwrap();
    let next = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let mut tasks = Vec::new();
    for _ in 0..8 {
        let (store, bulk, next) = (store.clone(), bulk.clone(), next.clone());
        tasks.push(tokio::spawn(async move {
            loop {
                let t = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                if t >= tenants {
                    return;
                }
                let c = seed_clinic(store.as_ref(), t, patients).await;
                let (old, live) = c.conversations.split_at(expired);
                bulk.bench_load_messages(c.scope, old, per_conv, old_from, step)
                    .await
                    .unwrap();
                bulk.bench_load_messages(c.scope, live, per_conv, live_from, step)
                    .await
                    .unwrap();
                if t % 50 == 49 {
                    println!(
                        "  generated {} clinics ({:.0} s)",
                        t + 1,
                        started.elapsed().as_secs_f64()
                    );
                }
            }
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    println!("generated in {:.0} s", started.elapsed().as_secs_f64());
    use sqlx::Connection;
    let mut conn = sqlx::PgConnection::connect(&db.owner_url).await.unwrap();
    sqlx::raw_sql("VACUUM ANALYZE")
        .execute(&mut conn)
        .await
        .unwrap();
    let (messages, size): (i64, String) = sqlx::query_as(
        "SELECT (SELECT COUNT(*) FROM messages), pg_size_pretty(pg_database_size(current_database()))",
    )
    .fetch_one(&mut conn)
    .await
    .unwrap();
    println!("database: {messages} messages, {size}");
}

/// The clinics as generated: scope, Owner and conversations (in the order they were made:
/// the expired ones first).
async fn reopen_clinics(db: &Target, store: &dyn Store) -> Vec<Clinic> {
    use sqlx::Connection;
    let mut conn = sqlx::PgConnection::connect(&db.owner_url).await.unwrap();
    let mut clinics = Vec::with_capacity(db.tenants);
    for t in 0..db.tenants {
        let scope = store
            .operator_scope(&TenantSlug::parse(&format!("scale-{t:04}")).unwrap())
            .await
            .unwrap();
        let email = Email::parse(&format!("owner@scale-{t:04}.example")).unwrap();
        let owner = store
            .find_user_by_email(scope, &email)
            .await
            .unwrap()
            .unwrap()
            .id;
        let ids: Vec<(uuid::Uuid,)> =
            sqlx::query_as("SELECT id FROM conversations WHERE tenant_id = $1 ORDER BY id")
                .bind(scope.tenant_id().as_uuid())
                .fetch_all(&mut conn)
                .await
                .unwrap();
        clinics.push(Clinic {
            scope,
            owner,
            conversations: ids
                .into_iter()
                .map(|(id,)| frontdesk_domain::ConversationId::from_uuid(id))
                .collect(),
        });
    }
    clinics
}

/// 2 and 3: the reads and their plans, then the purge under webhook traffic.
async fn measure(db: &Target, samples: usize, rate: f64, baseline_secs: u64) {
    let startup_secs = env_num("FRONTDESK_SCALE_STARTUP_SECS", 20).max(1) as u64;
    let (tenants, patients, per_conv, expired) = (db.tenants, db.patients, db.per_conv, db.expired);
    let clock: Arc<dyn Clock> = Arc::new(SystemClock);
    let store = db.open().await;
    let clinics = reopen_clinics(db, store.as_ref()).await;
    prewarm(db).await;

    // 2. Reads.
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    let (mut inbox, mut lookup, mut open) = (Vec::new(), Vec::new(), Vec::new());
    for _ in 0..samples {
        let t = rng.below(tenants);
        let c = &clinics[t];
        let q = InboxQuery {
            phone: None,
            name: None,
            assignee: None,
            limit: 50,
        };
        let s = Instant::now();
        let page = store.inbox(c.scope, c.owner, &q).await.unwrap();
        inbox.push(s.elapsed());
        assert_eq!(page.len(), 50.min(patients));

        let p = rng.below(patients);
        let s = Instant::now();
        let found = store
            .find_patient_by_phone(c.scope, &phone(t, p))
            .await
            .unwrap();
        lookup.push(s.elapsed());
        assert!(found.is_some());

        let conv = c.conversations[expired + rng.below(patients - expired)];
        let s = Instant::now();
        store.conversation(c.scope, conv).await.unwrap();
        let messages = store.messages(c.scope, conv).await.unwrap();
        open.push(s.elapsed());
        assert_eq!(messages.len(), per_conv as usize);
    }
    println!("inbox, first 50              : {}", fmt_lat(inbox));
    println!("patient by phone             : {}", fmt_lat(lookup));
    println!("conversation + its messages  : {}", fmt_lat(open));

    let t = tenants / 2;
    let c = &clinics[t];
    let tenant = c.scope.tenant_id().as_uuid();
    let bidx_sql = {
        // The blind index of one phone, as the store computes it, read back from its row.
        use sqlx::Connection;
        let mut conn = sqlx::PgConnection::connect(&db.owner_url).await.unwrap();
        let p = store
            .find_patient_by_phone(c.scope, &phone(t, 7))
            .await
            .unwrap()
            .unwrap();
        let (bidx,): (Vec<u8>,) =
            sqlx::query_as("SELECT phone_bidx FROM patients WHERE tenant_id = $1 AND id = $2")
                .bind(tenant)
                .bind(p.id.as_uuid())
                .fetch_one(&mut conn)
                .await
                .unwrap();
        bidx.iter().map(|b| format!("{b:02x}")).collect::<String>()
    };
    let conv = c.conversations[expired].as_uuid();
    let owner = c.owner.as_uuid();
    // The statements of `sql/inbox.rs` (`inbox`), `sql/people.rs` (`find_patient_by_phone`)
    // and `sql/conversations.rs` (`messages`), with this clinic's values.
    let plans = [
        (
            "inbox",
            format!(
                "SELECT c.id, c.patient_id, c.channel, c.urgency, c.summary_ct, c.owner_user_id, c.hold_expires_at, c.last_message_at, \
                        r.read_at, p.name_ct, k.wrapped, u.name_ct, c.assignee_user_id, au.name_ct \
                 FROM conversations c \
                 JOIN patients p ON p.tenant_id = c.tenant_id AND p.id = c.patient_id \
                 LEFT JOIN patient_keys k ON k.tenant_id = c.tenant_id AND k.patient_id = c.patient_id \
                 LEFT JOIN conversation_reads r ON r.tenant_id = c.tenant_id AND r.conversation_id = c.id AND r.user_id = '{owner}' \
                 LEFT JOIN users u ON u.tenant_id = c.tenant_id AND u.id = c.owner_user_id \
                 LEFT JOIN users au ON au.tenant_id = c.tenant_id AND au.id = c.assignee_user_id \
                 WHERE c.tenant_id = '{tenant}' \
                 ORDER BY c.last_message_at DESC, c.id DESC LIMIT 50"
            ),
        ),
        (
            "patient by phone",
            format!(
                "SELECT id FROM patients WHERE tenant_id = '{tenant}' AND phone_bidx = '\\x{bidx_sql}'::bytea"
            ),
        ),
        (
            "conversation messages",
            format!(
                "SELECT id, direction, sender, body_ct, status, created_at FROM messages \
                 WHERE tenant_id = '{tenant}' AND conversation_id = '{conv}' ORDER BY id"
            ),
        ),
    ];
    for (name, sql) in plans {
        println!("\nplan: {name}\n{}", explain(db, tenant, &sql).await);
    }

    // 3. The retention purge under webhook traffic.
    let fake = {
        use wiremock::{Mock, MockServer, ResponseTemplate, matchers::method};
        let fake = MockServer::start().await;
        Mock::given(method("POST"))
            .respond_with(
                ResponseTemplate::new(200)
                    .set_body_json(serde_json::json!({ "messages": [{ "id": "wamid.out" }] })),
            )
            .mount(&fake)
            .await;
        fake
    };
    // The server's worker would run the daily retention pass as soon as it starts: hold that
    // pass here, so the purge runs when this bench says, with traffic measured around it.
    store
        .claim_maintenance(
            "retention",
            "scale-bench",
            jiff::SignedDuration::from_hours(24),
            jiff::SignedDuration::from_hours(6),
        )
        .await
        .unwrap()
        .expect("the retention pass is free in a new database");
    let base = common::serve_with_workers(store.clone(), &fake.uri()).await;
    // The first seconds after a start, while the worker's other daily passes (audit
    // checkpoints, anomaly detection, …) go over every clinic: reported apart.
    let startup = webhooks_at_rate(
        &base,
        rate,
        (expired, patients),
        "start",
        tokio::time::sleep(Duration::from_secs(startup_secs)),
    )
    .await;
    println!(
        "\nwebhook ack at {rate}/s, first {startup_secs} s    : {}",
        fmt_lat(startup)
    );
    let baseline = webhooks_at_rate(
        &base,
        rate,
        (expired, patients),
        "base",
        tokio::time::sleep(Duration::from_secs(baseline_secs)),
    )
    .await;
    println!(
        "webhook ack at {rate}/s, no purge       : {}",
        fmt_lat(baseline)
    );
    let timeout = Duration::from_secs(10);
    let pause_ms = env_num(
        "FRONTDESK_SCALE_PURGE_PAUSE_MS",
        worker::RETENTION_PAUSE.as_millis() as usize,
    );
    let purger = worker::Worker::new(
        store.clone(),
        clock.clone(),
        worker::Providers {
            whatsapp: channels::GraphClient::with_base_url(&fake.uri(), timeout).unwrap(),
            twilio: channels::TwilioClient::with_base_url(&fake.uri(), timeout).unwrap(),
            africastalking: channels::AfricasTalkingClient::with_base_url(&fake.uri(), timeout)
                .unwrap(),
            public_base: None,
        },
        Mailer::Disabled,
        Default::default(),
        1_000_000,
    )
    .with_retention_pause(Duration::from_millis(pause_ms as u64));
    let wal_before = wal_stats().await;
    let (done_tx, done_rx) = tokio::sync::oneshot::channel();
    let purge = tokio::spawn(async move {
        let s = Instant::now();
        let pass = purger.purge_retention().await.unwrap();
        let took = s.elapsed();
        let _ = done_tx.send(());
        (pass, took)
    });
    let during = webhooks_at_rate(&base, rate, (expired, patients), "purge", async {
        let _ = done_rx.await;
    })
    .await;
    let (pass, took) = purge.await.unwrap();
    let wal_after = wal_stats().await;
    println!(
        "retention pass: {} conversations, {} messages purged in {:.1} s (pause {} ms)",
        pass.conversations,
        pass.messages,
        took.as_secs_f64(),
        pause_ms
    );
    println!(
        "WAL during the purge (whole cluster, webhooks included): {} records, {} full-page images, {:.1} MB, {} syncs",
        wal_after.0 - wal_before.0,
        wal_after.1 - wal_before.1,
        (wal_after.2 - wal_before.2) as f64 / 1e6,
        wal_after.3 - wal_before.3
    );
    println!(
        "webhook ack at {rate}/s, during purge   : {}",
        fmt_lat(during)
    );
}
