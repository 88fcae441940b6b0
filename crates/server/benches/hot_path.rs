//! The hot path, measured: `cargo bench -p frontdesk-server --bench hot_path`.
//!
//! 1. The agent alone (text in → reply out), no IO.
//! 2. One web chat turn end to end over loopback HTTP: authenticate the token, load the
//!    clinic, run the agent, and commit patient message + replies + audit in one transaction
//!    (SQLite in WAL mode with synchronous=FULL; PostgreSQL when reachable), sequentially for
//!    latency and with concurrent clients for throughput.
//!
//! Bounded in count; loopback only. Results and the machine they came from are recorded in
//! docs/PERFORMANCE.md. Timings are reported here, never asserted.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use frontdesk_agent::{TurnContext, reply};
use frontdesk_domain::SystemClock;
use frontdesk_server::{AppState, Application, demo};
use frontdesk_store::testing::TestDb;
use std::sync::Arc;
use std::time::{Duration, Instant};

const SEQUENTIAL_TURNS: usize = 400;
const CONCURRENT_CLIENTS: usize = 16;
const TURNS_PER_CLIENT: usize = 50;

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}

/// One turn: send `text`, wait for the whole answer, return how long it took.
async fn timed_turn(client: &reqwest::Client, url: &str, token: &str, text: String) -> Duration {
    let t = Instant::now();
    let r = client
        .post(url)
        .bearer_auth(token)
        .json(&serde_json::json!({ "text": text }))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    r.bytes().await.unwrap();
    t.elapsed()
}

fn agent_alone(rt: &tokio::runtime::Runtime) {
    // The demo clinic's real knowledge (services, team, FAQ), as the server builds it.
    let knowledge = rt.block_on(async {
        let db = TestDb::sqlite().await.unwrap();
        let store = db.open_default().await.unwrap();
        demo::seed(store.as_ref()).await.unwrap();
        let slug = frontdesk_domain::TenantSlug::parse("harbour-physio").unwrap();
        let scope = store.operator_scope(&slug).await.unwrap();
        frontdesk_server::turn::clinic_knowledge(store.as_ref(), scope)
            .await
            .unwrap()
    });
    let texts = [
        "hello",
        "What are your opening hours?",
        "where can I park?",
        "how much is a sports massage",
        "can I book with Aroha next Tuesday at 3",
        "my dad has crushing chest pain and is sweating",
        "no chest pain, I just want a follow-up for my knee",
        "I've had a fever for 5 days",
        "do you sell dog food",
        "thanks!",
    ];
    let now = jiff::Timestamp::now();
    let rounds = 2_000;
    let mut per_reply = Vec::with_capacity(rounds * texts.len());
    for _ in 0..rounds {
        for text in texts {
            let t = Instant::now();
            let r = reply(
                TurnContext {
                    clinic: &knowledge,
                    now,
                    first_contact: false,
                    needs_phone: true,
                },
                text,
                &mut frontdesk_agent::DialogueState::default(),
            );
            per_reply.push(t.elapsed());
            assert!(!r.messages.is_empty());
        }
    }
    per_reply.sort();
    println!(
        "agent reply (triage + understanding + FAQ, no IO): p50 {:?}  p99 {:?}  ({} replies over {} texts)",
        percentile(&per_reply, 0.50),
        percentile(&per_reply, 0.99),
        per_reply.len(),
        texts.len()
    );
}

async fn turn_bench(label: &str, db: TestDb) {
    let store = db.open_default().await.unwrap();
    demo::seed(store.as_ref()).await.unwrap();
    let state = AppState {
        store,
        clock: Arc::new(SystemClock),
        webchat_ttl: jiff::SignedDuration::from_hours(1),
        metrics: None,
        channels: Default::default(),
    };
    let app = Application::build(state, "127.0.0.1:0".parse().unwrap())
        .await
        .unwrap();
    let base = format!("http://{}", app.local_addr());
    tokio::spawn(app.run(std::future::pending()));
    let client = reqwest::Client::new();
    let start_chat = || async {
        let v: serde_json::Value = client
            .post(format!("{base}/v1/webchat/harbour-physio/sessions"))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        v["token"].as_str().unwrap().to_owned()
    };
    let url = format!("{base}/v1/webchat/harbour-physio/messages");

    let token = start_chat().await;
    let mut lat = Vec::with_capacity(SEQUENTIAL_TURNS);
    for i in 0..SEQUENTIAL_TURNS {
        lat.push(timed_turn(&client, &url, &token, format!("are you open today? {i}")).await);
    }
    lat.sort();
    println!(
        "{label:<8} web chat turn, 1 client      : p50 {:?}  p99 {:?}  max {:?}  ({SEQUENTIAL_TURNS} turns)",
        percentile(&lat, 0.50),
        percentile(&lat, 0.99),
        lat[lat.len() - 1]
    );

    let mut tokens = Vec::new();
    for _ in 0..CONCURRENT_CLIENTS {
        tokens.push(start_chat().await);
    }
    let started = Instant::now();
    let mut tasks = Vec::new();
    for token in tokens {
        let client = client.clone();
        let url = url.clone();
        tasks.push(tokio::spawn(async move {
            let mut lat = Vec::with_capacity(TURNS_PER_CLIENT);
            for i in 0..TURNS_PER_CLIENT {
                lat.push(timed_turn(&client, &url, &token, format!("where are you? {i}")).await);
            }
            lat
        }));
    }
    let mut lat = Vec::new();
    for t in tasks {
        lat.extend(t.await.unwrap());
    }
    let elapsed = started.elapsed();
    lat.sort();
    let n = lat.len();
    println!(
        "{label:<8} web chat turn, {CONCURRENT_CLIENTS} clients     : {:.0} turns/s  p50 {:?}  p99 {:?}  ({n} turns in {elapsed:?})",
        n as f64 / elapsed.as_secs_f64(),
        percentile(&lat, 0.50),
        percentile(&lat, 0.99),
    );
    db.cleanup().await;
}

fn main() {
    println!(
        "frontdesk hot path — {} cores",
        std::thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(1)
    );
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    agent_alone(&rt);
    rt.block_on(async {
        turn_bench("sqlite", TestDb::sqlite().await.unwrap()).await;
        match TestDb::postgres().await.unwrap() {
            Some(db) => turn_bench("postgres", db).await,
            None => println!("postgres : skipped (no PostgreSQL at FRONTDESK_TEST_PG_URL)"),
        }
    });
}
