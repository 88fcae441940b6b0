//! Load generator: `cargo bench -p frontdesk-server --bench load`.
//!
//! Signed WhatsApp and Twilio SMS webhooks (real signatures, distinct message ids) from many
//! patients of many clinics, with a realistic mix — booking dialogues, questions, now and then a
//! red flag — into a real `frontdesk` server on loopback whose workers answer through fake
//! provider APIs (a small HTTP server on loopback that notes when each reply arrives).
//!
//! For each engine (SQLite, then PostgreSQL when reachable) it reports:
//! 1. **closed loop** (maximum throughput): `CONCURRENCY` patients at a time, each sending its
//!    next message as soon as the previous one was answered at the provider;
//! 2. **open loop** at a fixed rate (default: half the closed-loop maximum), so latency is
//!    measured without the generator slowing down when the server does;
//! 3. **the physical limit** in the same run: the same rows a message costs (inbound message,
//!    its job and audit entry; the reply, its outbox row, the job's completion and audit entry;
//!    the outbox row marked sent) written straight into the same engine with the same
//!    durability settings — no HTTP, no crypto, no agent — and frontdesk's throughput as a
//!    ratio of it;
//! 4. the process's peak resident memory (server, workers and generator together).
//!
//! Settings (environment): `FRONTDESK_LOAD_ENGINES` (`sqlite,postgres`), `FRONTDESK_LOAD_TENANTS`
//! (20), `FRONTDESK_LOAD_PATIENTS` per clinic (20), `FRONTDESK_LOAD_CONCURRENCY` (64),
//! `FRONTDESK_LOAD_SECONDS` per phase (8), `FRONTDESK_LOAD_RATE` (messages/s of the open loop;
//! default half the closed-loop result). Loopback only, bounded in time. Timings are reported,
//! never asserted. Results: docs/PERFORMANCE.md.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use common::{env_num, percentile};

use axum::{Router, body::Bytes, http::HeaderMap, response::IntoResponse, routing::post};
use frontdesk_domain::{Clock, SystemClock, TenantSlug};
use frontdesk_server::demo;
use frontdesk_store::testing::{Engine, TestDb, pg_admin_url, test_keyring};
use frontdesk_store::{ChannelSecrets, Provider, Store};
use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::sync::oneshot;

const APP_SECRET: &str = "load_app_secret";
const TWILIO_TOKEN: &str = "load_auth_token";

fn fmt_lat(mut v: Vec<Duration>) -> String {
    v.sort();
    format!(
        "p50 {:.2} ms  p99 {:.2} ms  p99.9 {:.2} ms",
        percentile(&v, 0.50).as_secs_f64() * 1e3,
        percentile(&v, 0.99).as_secs_f64() * 1e3,
        percentile(&v, 0.999).as_secs_f64() * 1e3,
    )
}

fn peak_rss_mb() -> f64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<f64>().ok())
        .map_or(0.0, |kb| kb / 1024.0)
}

/// What a patient says, in order, again and again: a question, a booking dialogue, more
/// questions. One message in `RED_FLAG_EVERY` is an emergency instead.
const SCRIPT: [&str; 6] = [
    "Kia ora, what time are you open today?",
    "Hi, can I book a sports massage with Mei tomorrow afternoon?",
    "the first one",
    "Tama Rangi",
    "where can I park?",
    "how much notice do you need if I cancel?",
];
const RED_FLAG: &str = "I have crushing chest pain and I can't breathe properly";
const RED_FLAG_EVERY: u64 = 50;

#[derive(Clone, Copy, PartialEq)]
enum Via {
    WhatsApp,
    Sms,
}

struct Patient {
    via: Via,
    tenant: usize,
    /// Digits only (WhatsApp `from`; Twilio with a leading `+`).
    phone: String,
    step: usize,
}

/// Replies reaching the fake providers, matched to the patient waiting for one.
#[derive(Default)]
struct Waiting {
    by_phone: HashMap<String, oneshot::Sender<Instant>>,
    unmatched: u64,
}

struct Rig {
    base: String,
    client: reqwest::Client,
    waiting: Arc<Mutex<Waiting>>,
    idle: Mutex<VecDeque<Patient>>,
    seq: std::sync::atomic::AtomicU64,
}

/// The fake Graph API and Twilio: notes each reply's recipient and arrival, answers as the
/// real APIs do.
async fn fake_providers(waiting: Arc<Mutex<Waiting>>) -> String {
    let handler = move |headers: HeaderMap, body: Bytes| {
        let waiting = waiting.clone();
        async move {
            let at = Instant::now();
            let json = headers
                .get("content-type")
                .and_then(|v| v.to_str().ok())
                .is_some_and(|v| v.starts_with("application/json"));
            let to = if json {
                serde_json::from_slice::<serde_json::Value>(&body)
                    .ok()
                    .and_then(|v| v["to"].as_str().map(str::to_owned))
            } else {
                serde_urlencoded::from_bytes::<Vec<(String, String)>>(&body)
                    .ok()
                    .and_then(|p| p.into_iter().find(|(k, _)| k == "To").map(|(_, v)| v))
            };
            if let Some(to) = to {
                let phone = to.trim_start_matches('+').to_owned();
                let mut w = waiting.lock().unwrap();
                match w.by_phone.remove(&phone) {
                    Some(tx) => {
                        let _ = tx.send(at);
                    }
                    None => w.unmatched += 1,
                }
            }
            if json {
                axum::Json(serde_json::json!({ "messages": [{ "id": "wamid.out" }] }))
                    .into_response()
            } else {
                (
                    axum::http::StatusCode::CREATED,
                    axum::Json(serde_json::json!({ "sid": "SMout", "status": "queued" })),
                )
                    .into_response()
            }
        }
    };
    let app = Router::new().route("/{*rest}", post(handler));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    base
}

fn pnid(tenant: usize) -> String {
    format!("9100{tenant:06}")
}

fn twilio_number(tenant: usize) -> String {
    format!("+6495{tenant:06}")
}

/// Clinics `load-000…` (alternately like the two demo clinics), each on WhatsApp and Twilio.
async fn seed(store: &dyn Store, tenants: usize) {
    for t in 0..tenants {
        let slug = TenantSlug::parse(&format!("load-{t:03}")).unwrap();
        let template = &demo::DEMO_CLINICS[t % demo::DEMO_CLINICS.len()];
        let scope = demo::seed_clinic(store, template, &slug).await.unwrap();
        let wa = ChannelSecrets::new()
            .with("app_secret", APP_SECRET)
            .with("verify_token", "v")
            .with("access_token", "load");
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
        let tw = ChannelSecrets::new().with("auth_token", TWILIO_TOKEN);
        store
            .set_channel_account(
                scope,
                Provider::Twilio,
                &twilio_number(t),
                &serde_json::json!({ "account_sid": "ACload" }),
                &tw,
            )
            .await
            .unwrap();
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

impl Rig {
    /// One signed webhook for `p`'s next message; returns how long the acknowledgement took.
    async fn send(&self, p: &mut Patient) -> Duration {
        use base64::Engine as _;
        use hmac::{Hmac, KeyInit, Mac};
        let n = self.seq.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let text = if n % RED_FLAG_EVERY == RED_FLAG_EVERY - 1 {
            RED_FLAG
        } else {
            SCRIPT[p.step % SCRIPT.len()]
        };
        p.step += 1;
        let started = Instant::now();
        let resp = match p.via {
            Via::WhatsApp => {
                let body = serde_json::json!({
                    "object": "whatsapp_business_account",
                    "entry": [{ "id": "W", "changes": [{ "field": "messages", "value": {
                        "messaging_product": "whatsapp",
                        "metadata": { "display_phone_number": "64", "phone_number_id": pnid(p.tenant) },
                        "contacts": [{ "profile": { "name": "Load" }, "wa_id": p.phone }],
                        "messages": [{ "from": p.phone, "id": format!("wamid.load{n}"), "timestamp": "1764547200",
                                       "type": "text", "text": { "body": text } }]
                    }}]}]
                })
                .to_string();
                let mut mac = Hmac::<sha2::Sha256>::new_from_slice(APP_SECRET.as_bytes()).unwrap();
                mac.update(body.as_bytes());
                let sig = format!("sha256={}", hex(&mac.finalize().into_bytes()));
                self.client
                    .post(format!("{}/webhooks/whatsapp", self.base))
                    .header("content-type", "application/json")
                    .header("x-hub-signature-256", sig)
                    .body(body)
                    .send()
                    .await
            }
            Via::Sms => {
                let url = format!("{}/webhooks/twilio/sms", self.base);
                let from = format!("+{}", p.phone);
                let to = twilio_number(p.tenant);
                let sid = format!("SM{n:032}");
                let mut params = vec![
                    ("AccountSid", "ACload"),
                    ("Body", text),
                    ("From", from.as_str()),
                    ("MessageSid", sid.as_str()),
                    ("NumMedia", "0"),
                    ("To", to.as_str()),
                ];
                params.sort();
                let mut signed = url.clone();
                for (k, v) in &params {
                    signed.push_str(k);
                    signed.push_str(v);
                }
                let mut mac = Hmac::<sha1::Sha1>::new_from_slice(TWILIO_TOKEN.as_bytes()).unwrap();
                mac.update(signed.as_bytes());
                let sig =
                    base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes());
                self.client
                    .post(url)
                    .header("x-twilio-signature", sig)
                    .form(&params)
                    .send()
                    .await
            }
        };
        let resp = resp.unwrap();
        assert!(
            resp.status().is_success(),
            "webhook answered {}",
            resp.status()
        );
        resp.bytes().await.unwrap();
        started.elapsed()
    }

    /// Sends `p`'s next message and waits (up to 30 s) for its first reply at the provider.
    /// Returns (ack, webhook in → reply at provider), or `None` if no reply came.
    async fn exchange(&self, mut p: Patient) -> (Patient, Duration, Option<Duration>) {
        let (tx, rx) = oneshot::channel();
        self.waiting
            .lock()
            .unwrap()
            .by_phone
            .insert(p.phone.clone(), tx);
        let started = Instant::now();
        let ack = self.send(&mut p).await;
        let e2e = match tokio::time::timeout(Duration::from_secs(30), rx).await {
            Ok(Ok(at)) => Some(at.duration_since(started)),
            _ => None,
        };
        (p, ack, e2e)
    }

    fn take_idle(&self) -> Option<Patient> {
        self.idle.lock().unwrap().pop_front()
    }

    fn give_back(&self, p: Patient) {
        self.idle.lock().unwrap().push_back(p);
    }
}

#[derive(Default)]
struct Tally {
    ack: Vec<Duration>,
    e2e: Vec<Duration>,
    lost: usize,
}

async fn closed_loop(rig: Arc<Rig>, concurrency: usize, secs: u64) -> (Tally, f64) {
    let until = Instant::now() + Duration::from_secs(secs);
    let started = Instant::now();
    let mut tasks = Vec::new();
    for _ in 0..concurrency {
        let rig = rig.clone();
        tasks.push(tokio::spawn(async move {
            let mut t = Tally::default();
            while Instant::now() < until {
                let Some(p) = rig.take_idle() else {
                    tokio::task::yield_now().await;
                    continue;
                };
                let (p, ack, e2e) = rig.exchange(p).await;
                t.ack.push(ack);
                match e2e {
                    Some(d) => t.e2e.push(d),
                    None => t.lost += 1,
                }
                rig.give_back(p);
            }
            t
        }));
    }
    let mut all = Tally::default();
    for task in tasks {
        let t = task.await.unwrap();
        all.ack.extend(t.ack);
        all.e2e.extend(t.e2e);
        all.lost += t.lost;
    }
    let elapsed = started.elapsed().as_secs_f64();
    (all, elapsed)
}

async fn open_loop(rig: Arc<Rig>, rate: f64, secs: u64) -> (Tally, usize, f64) {
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel::<(Duration, Option<Duration>)>();
    let mut ticker = tokio::time::interval(Duration::from_secs_f64(1.0 / rate));
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Burst);
    let total = (rate * secs as f64) as usize;
    let started = Instant::now();
    let mut busy = 0;
    let mut inflight = Vec::with_capacity(total);
    for _ in 0..total {
        ticker.tick().await;
        let Some(p) = rig.take_idle() else {
            // Every patient is waiting for a reply: the server is behind.
            busy += 1;
            continue;
        };
        let rig = rig.clone();
        let tx = tx.clone();
        inflight.push(tokio::spawn(async move {
            let (p, ack, e2e) = rig.exchange(p).await;
            rig.give_back(p);
            let _ = tx.send((ack, e2e));
        }));
    }
    let offered = started.elapsed().as_secs_f64();
    for t in inflight {
        t.await.unwrap();
    }
    drop(tx);
    let mut tally = Tally::default();
    while let Some((ack, e2e)) = rx.recv().await {
        tally.ack.push(ack);
        match e2e {
            Some(d) => tally.e2e.push(d),
            None => tally.lost += 1,
        }
    }
    (tally, busy, offered)
}

async fn run_engine(engine: Engine) {
    let Some((label, db)) = common::bench_db(engine).await else {
        return;
    };
    let tenants = env_num("FRONTDESK_LOAD_TENANTS", 20);
    let per_tenant = env_num("FRONTDESK_LOAD_PATIENTS", 20);
    let concurrency = env_num("FRONTDESK_LOAD_CONCURRENCY", 64);
    let secs = env_num("FRONTDESK_LOAD_SECONDS", 8) as u64;

    // The production pool size (database_max_connections default 8).
    let mut cfg = db.cfg.clone();
    cfg.max_connections = 8;
    let clock: Arc<dyn Clock> = Arc::new(SystemClock);
    let store = frontdesk_store::open(&cfg, test_keyring(), clock.clone())
        .await
        .unwrap()
        .store;
    let t = Instant::now();
    seed(store.as_ref(), tenants).await;
    println!(
        "{label}: {tenants} clinics seeded in {:.1} s; {} patients",
        t.elapsed().as_secs_f64(),
        tenants * per_tenant
    );

    let waiting = Arc::new(Mutex::new(Waiting::default()));
    let fake = fake_providers(waiting.clone()).await;
    let base = common::serve_with_workers(store.clone(), &fake).await;

    let mut idle = VecDeque::new();
    for t in 0..tenants {
        for i in 0..per_tenant {
            // Six in ten on WhatsApp, the rest by SMS.
            let via = if (t * per_tenant + i) % 10 < 6 {
                Via::WhatsApp
            } else {
                Via::Sms
            };
            idle.push_back(Patient {
                via,
                tenant: t,
                phone: format!("6421{t:03}{i:05}"),
                step: 0,
            });
        }
    }
    let rig = Arc::new(Rig {
        base,
        client: reqwest::Client::builder()
            .pool_max_idle_per_host(1024)
            .build()
            .unwrap(),
        waiting,
        idle: Mutex::new(idle),
        seq: Default::default(),
    });

    let writer_before = store.writer_stats().await;
    let (closed, elapsed) = closed_loop(rig.clone(), concurrency, secs).await;
    let max = closed.e2e.len() as f64 / elapsed;
    if let (Some(a), Some(b)) = (writer_before, store.writer_stats().await) {
        // SQLite's one writer: how busy it was, and how much each answered message cost it.
        let answered = closed.e2e.len().max(1) as f64;
        let (ops, commits) = (b.operations - a.operations, b.commits - a.commits);
        let busy = (b.busy - a.busy).as_secs_f64();
        println!(
            "{label}: writer connection busy {:.0}% of the closed loop; per answered message {:.1} write \
             transactions, {:.0} µs of writer time; {:.1} transactions per durable commit (largest {})",
            100.0 * busy / elapsed,
            ops as f64 / answered,
            1e6 * busy / answered,
            ops as f64 / commits.max(1) as f64,
            b.largest_batch
        );
    }
    println!(
        "{label}: closed loop, {concurrency} patients at a time, {elapsed:.1} s: {} messages answered \
         end to end = {max:.0} /s ({} without a reply within 30 s)",
        closed.e2e.len(),
        closed.lost
    );
    println!(
        "{label}:   ack                      {}",
        fmt_lat(closed.ack)
    );
    println!(
        "{label}:   webhook → reply at fake  {}",
        fmt_lat(closed.e2e)
    );

    let rate = std::env::var("FRONTDESK_LOAD_RATE")
        .ok()
        .and_then(|v| v.parse::<f64>().ok())
        .unwrap_or((max / 2.0).max(1.0));
    let (open, busy, offered) = open_loop(rig.clone(), rate, secs).await;
    println!(
        "{label}: open loop at {rate:.0} /s for {offered:.1} s: {} answered, {} without a reply within 30 s, \
         {busy} not sent (every patient still waiting)",
        open.e2e.len(),
        open.lost,
    );
    println!("{label}:   ack                      {}", fmt_lat(open.ack));
    println!("{label}:   webhook → reply at fake  {}", fmt_lat(open.e2e));
    println!(
        "{label}:   replies not matched to a waiting patient (privacy notices, second replies): {}",
        rig.waiting.lock().unwrap().unmatched
    );

    let raw = raw_limit(engine, &db, concurrency, secs).await;
    println!(
        "{label}: physical limit (same rows, same durability, no HTTP/crypto/agent): {raw:.0} messages/s; \
         frontdesk closed loop = {:.0}% of it",
        100.0 * max / raw
    );
    println!("{label}: peak RSS so far {:.0} MB", peak_rss_mb());
    db.cleanup().await;
}

/// The rows one answered message costs, written in the three transactions frontdesk uses:
/// the webhook's (message, job, audit link), the reply's (reply, outbox row, job done, audit
/// link) and the send's (outbox row sent).
macro_rules! one_message {
    ($pool:expr, $begin:expr) => {{
        let a = RAW_SEQ.fetch_add(2, std::sync::atomic::Ordering::Relaxed);
        let b = a + 1;
        let tenant = a % 20;
        let mut tx = $begin($pool).await;
        sqlx::query("INSERT INTO raw_messages VALUES ($1, $2, $3, $4, $5, $6)")
            .bind(tenant)
            .bind(a)
            .bind(a % 400)
            .bind(format!("wamid.{a}"))
            .bind(&SEALED[..])
            .bind(a)
            .execute(&mut *tx)
            .await
            .unwrap();
        sqlx::query("INSERT INTO raw_jobs VALUES ($1, $2, 'queued', $3, $4)")
            .bind(tenant)
            .bind(a)
            .bind(format!("{{\"message\":\"{a}\"}}"))
            .bind(a)
            .execute(&mut *tx)
            .await
            .unwrap();
        sqlx::query("INSERT INTO raw_audit VALUES ($1, $2, 'message.received', '{}', $3, $4, $5)")
            .bind(tenant)
            .bind(a)
            .bind(&HASH[..])
            .bind(&HASH[..])
            .bind(a)
            .execute(&mut *tx)
            .await
            .unwrap();
        tx.commit().await.unwrap();
        let mut tx = $begin($pool).await;
        sqlx::query("INSERT INTO raw_messages VALUES ($1, $2, $3, $4, $5, $6)")
            .bind(tenant)
            .bind(b)
            .bind(a % 400)
            .bind(format!("out.{b}"))
            .bind(&SEALED[..])
            .bind(b)
            .execute(&mut *tx)
            .await
            .unwrap();
        sqlx::query("INSERT INTO raw_outbox VALUES ($1, $2, 'queued', $3, $4)")
            .bind(tenant)
            .bind(b)
            .bind(b)
            .bind(b)
            .execute(&mut *tx)
            .await
            .unwrap();
        sqlx::query("UPDATE raw_jobs SET status = 'done' WHERE tenant_id = $1 AND id = $2")
            .bind(tenant)
            .bind(a)
            .execute(&mut *tx)
            .await
            .unwrap();
        sqlx::query("INSERT INTO raw_audit VALUES ($1, $2, 'message.replied', '{}', $3, $4, $5)")
            .bind(tenant)
            .bind(b)
            .bind(&HASH[..])
            .bind(&HASH[..])
            .bind(b)
            .execute(&mut *tx)
            .await
            .unwrap();
        tx.commit().await.unwrap();
        let mut tx = $begin($pool).await;
        sqlx::query("UPDATE raw_outbox SET status = 'sent' WHERE tenant_id = $1 AND id = $2")
            .bind(tenant)
            .bind(b)
            .execute(&mut *tx)
            .await
            .unwrap();
        tx.commit().await.unwrap();
    }};
}

/// The physical limit: `writers` tasks writing [`one_message!`] rows for `secs` seconds into
/// the same engine with the same durability settings; returns messages per second.
async fn raw_limit(engine: Engine, db: &TestDb, writers: usize, secs: u64) -> f64 {
    match engine {
        Engine::Sqlite => {
            let dir = tempfile::tempdir().unwrap();
            let url = format!("sqlite://{}", dir.path().join("raw.db").display());
            let opts: sqlx::sqlite::SqliteConnectOptions = url.parse().unwrap();
            let opts = opts
                .create_if_missing(true)
                .journal_mode(sqlx::sqlite::SqliteJournalMode::Wal)
                .synchronous(sqlx::sqlite::SqliteSynchronous::Full)
                .busy_timeout(Duration::from_secs(10));
            // One writer connection with group commit, as the store writes (SQLite has one
            // writer at a time; writes queued together share one durable commit).
            use sqlx::ConnectOptions;
            let mut conn = opts.connect().await.unwrap();
            sqlx::raw_sql(RAW_SCHEMA).execute(&mut conn).await.unwrap();
            let writer = frontdesk_store::testing::GroupWriter::new(conn);
            let begin = |w: &frontdesk_store::testing::GroupWriter| {
                let w = w.clone();
                async move { w.begin().await.unwrap() }
            };
            let limit = raw_run(writers, secs, move || {
                let writer = writer.clone();
                async move { one_message!(&writer, begin) }
            })
            .await;
            // For reference: the same rows with one commit (one fsync) per transaction.
            let dir = tempfile::tempdir().unwrap();
            let url = format!("sqlite://{}", dir.path().join("raw1.db").display());
            let opts: sqlx::sqlite::SqliteConnectOptions = url.parse().unwrap();
            let pool = sqlx::sqlite::SqlitePoolOptions::new()
                .max_connections(1)
                .connect_with(
                    opts.create_if_missing(true)
                        .journal_mode(sqlx::sqlite::SqliteJournalMode::Wal)
                        .synchronous(sqlx::sqlite::SqliteSynchronous::Full),
                )
                .await
                .unwrap();
            sqlx::raw_sql(RAW_SCHEMA).execute(&pool).await.unwrap();
            let begin = |p: &sqlx::SqlitePool| {
                let p = p.clone();
                async move { p.begin_with("BEGIN IMMEDIATE").await.unwrap() }
            };
            let single = raw_run(writers, secs, move || {
                let pool = pool.clone();
                async move { one_message!(&pool, begin) }
            })
            .await;
            println!(
                "sqlite: physical limit without group commit (one fsync per transaction): {single:.0} messages/s"
            );
            limit
        }
        Engine::Postgres => {
            let url = db.owner_url.clone().unwrap_or_else(pg_admin_url);
            let pool = sqlx::postgres::PgPoolOptions::new()
                .max_connections(8)
                .connect(&url)
                .await
                .unwrap();
            sqlx::raw_sql(RAW_SCHEMA).execute(&pool).await.unwrap();
            let begin = |p: &sqlx::PgPool| {
                let p = p.clone();
                async move { p.begin().await.unwrap() }
            };
            raw_run(writers, secs, move || {
                let pool = pool.clone();
                async move { one_message!(&pool, begin) }
            })
            .await
        }
    }
}

/// Tables shaped like frontdesk's messages, jobs, outbox and audit log (ids, tenant, times,
/// a body the size of a sealed message, hashes the size of an audit link), with their keys.
const RAW_SCHEMA: &str = "
CREATE TABLE raw_messages (tenant_id BIGINT NOT NULL, id BIGINT NOT NULL, conversation_id BIGINT NOT NULL,
  provider_id TEXT, body BYTEA NOT NULL, created_at BIGINT NOT NULL, PRIMARY KEY (tenant_id, id));
CREATE UNIQUE INDEX raw_messages_provider ON raw_messages (tenant_id, provider_id);
CREATE TABLE raw_jobs (tenant_id BIGINT NOT NULL, id BIGINT NOT NULL, status TEXT NOT NULL, payload TEXT NOT NULL,
  run_at BIGINT NOT NULL, PRIMARY KEY (tenant_id, id));
CREATE INDEX raw_jobs_due ON raw_jobs (status, run_at);
CREATE TABLE raw_outbox (tenant_id BIGINT NOT NULL, id BIGINT NOT NULL, status TEXT NOT NULL, message_id BIGINT NOT NULL,
  run_at BIGINT NOT NULL, PRIMARY KEY (tenant_id, id));
CREATE INDEX raw_outbox_due ON raw_outbox (status, run_at);
CREATE TABLE raw_audit (tenant_id BIGINT NOT NULL, seq BIGINT NOT NULL, action TEXT NOT NULL, details TEXT NOT NULL,
  prev_hash BYTEA NOT NULL, hash BYTEA NOT NULL, at BIGINT NOT NULL, PRIMARY KEY (tenant_id, seq));
";

static RAW_SEQ: std::sync::atomic::AtomicI64 = std::sync::atomic::AtomicI64::new(1);
const SEALED: [u8; 160] = [7u8; 160];
const HASH: [u8; 32] = [9u8; 32];

async fn raw_run<F, Fut>(writers: usize, secs: u64, one: F) -> f64
where
    F: Fn() -> Fut + Clone + Send + 'static,
    Fut: std::future::Future<Output = ()> + Send,
{
    let until = Instant::now() + Duration::from_secs(secs);
    let started = Instant::now();
    let mut tasks = Vec::new();
    for _ in 0..writers {
        let one = one.clone();
        tasks.push(tokio::spawn(async move {
            let mut n = 0usize;
            while Instant::now() < until {
                one().await;
                n += 1;
            }
            n
        }));
    }
    let mut total = 0;
    for t in tasks {
        total += t.await.unwrap();
    }
    total as f64 / started.elapsed().as_secs_f64()
}

fn main() {
    common::for_each_engine("load", "FRONTDESK_LOAD_ENGINES", run_engine);
}
