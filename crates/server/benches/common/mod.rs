//! Shared by the benches: a real server on loopback with its reply and outbox workers, whose
//! providers (Graph API, Twilio, Africa's Talking) are all the fake at `fake_base`.

#[allow(dead_code)]
pub mod fake_model;
#[allow(dead_code)]
pub mod steps;

use frontdesk_domain::{Clock, SystemClock};
use frontdesk_server::channels::{AfricasTalkingClient, GraphClient, TwilioClient};
use frontdesk_server::{AppState, Application, http::ChannelHub, mailer::Mailer, worker};
use frontdesk_store::Store;
use std::sync::Arc;
use std::time::Duration;

/// Starts the server (port 0) and returns its base URL, e.g. `http://127.0.0.1:40123`.
#[allow(dead_code)]
pub async fn serve_with_workers(store: Arc<dyn Store>, fake_base: &str) -> String {
    let timeout = Duration::from_secs(10);
    let providers = worker::Providers {
        whatsapp: GraphClient::with_base_url(fake_base, timeout).unwrap(),
        twilio: TwilioClient::with_base_url(fake_base, timeout).unwrap(),
        africastalking: AfricasTalkingClient::with_base_url(fake_base, timeout).unwrap(),
        public_base: None,
    };
    let hub = Arc::new(ChannelHub::default());
    let clock: Arc<dyn Clock> = Arc::new(SystemClock);
    let state = AppState {
        store: store.clone(),
        clock: clock.clone(),
        webchat_ttl: jiff::SignedDuration::from_hours(1),
        metrics: None,
        channels: hub.clone(),
        dashboard: Default::default(),
    };
    // No per-clinic send limit: the benches measure frontdesk, not the rate limiter.
    let w = worker::Worker::new(
        store,
        clock,
        providers,
        Mailer::Disabled,
        hub.wake.clone(),
        1_000_000,
    );
    let app = Application::build(state, "127.0.0.1:0".parse().unwrap())
        .await
        .unwrap()
        .with_worker(w);
    let base = format!("http://{}", app.local_addr());
    tokio::spawn(app.run(std::future::pending()));
    base
}

/// A fresh database of `engine` and its name, or `None` (said on stdout) when PostgreSQL is
/// not reachable.
#[allow(dead_code)]
pub async fn bench_db(
    engine: frontdesk_store::testing::Engine,
) -> Option<(&'static str, frontdesk_store::testing::TestDb)> {
    use frontdesk_store::testing::{Engine, TestDb};
    match engine {
        Engine::Sqlite => Some(("SQLite", TestDb::sqlite().await.unwrap())),
        Engine::Postgres => match TestDb::postgres().await.unwrap() {
            Some(db) => Some(("PostgreSQL", db)),
            None => {
                println!("PostgreSQL: not reachable, skipped");
                None
            }
        },
    }
}

/// Runs `run` once per engine named in the environment variable `var` (comma-separated,
/// default `sqlite,postgres`), on a multi-threaded runtime, after a line naming the bench.
#[allow(dead_code)]
pub fn for_each_engine<F, Fut>(bench: &str, var: &str, run: F)
where
    F: Fn(frontdesk_store::testing::Engine) -> Fut,
    Fut: std::future::Future<Output = ()>,
{
    use frontdesk_store::testing::Engine;
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    let engines = std::env::var(var).unwrap_or("sqlite,postgres".into());
    println!(
        "frontdesk {bench}: {} cores; engines {engines}",
        std::thread::available_parallelism().map_or(0, |n| n.get())
    );
    for e in engines.split(',') {
        let engine = match e.trim() {
            "sqlite" => Engine::Sqlite,
            "postgres" => Engine::Postgres,
            other => panic!("unknown engine {other:?} (sqlite, postgres)"),
        };
        rt.block_on(run(engine));
    }
}

/// An environment variable as a number, or `default`.
#[allow(dead_code)]
pub fn env_num(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// The `p` quantile (0–1) of sorted durations; zero for none.
#[allow(dead_code)]
pub fn percentile(sorted: &[Duration], p: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}

/// A WhatsApp Cloud API text message webhook for the number `pnid`, and its
/// `X-Hub-Signature-256` with the app secret `secret`.
#[allow(dead_code)]
pub fn signed_whatsapp(
    pnid: &str,
    secret: &str,
    id: &str,
    from: &str,
    text: &str,
) -> (String, String) {
    use hmac::{Hmac, KeyInit, Mac};
    let body = serde_json::json!({
        "object": "whatsapp_business_account",
        "entry": [{ "id": "W", "changes": [{ "field": "messages", "value": {
            "messaging_product": "whatsapp",
            "metadata": { "display_phone_number": "254700100200", "phone_number_id": pnid },
            "messages": [{ "from": from, "id": id, "timestamp": "1700000000", "type": "text", "text": { "body": text } }]
        }}]}]
    })
    .to_string();
    let mut mac = Hmac::<sha2::Sha256>::new_from_slice(secret.as_bytes()).unwrap();
    mac.update(body.as_bytes());
    let hex: String = mac
        .finalize()
        .into_bytes()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    (body, format!("sha256={hex}"))
}
