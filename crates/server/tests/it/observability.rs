//! Health, readiness, metrics, request ids — and the proof that patient text, phone numbers,
//! names and tokens never reach the logs.

use crate::harness::TestApp;
use frontdesk_domain::SystemClock;
use frontdesk_server::{AppState, Application};
use frontdesk_store::crypto::{Keyring, MasterKey};
use frontdesk_store::testing::{Engine, TestDb, test_keyring};
use std::sync::Arc;

crate::both_engines!(
    health_readiness_and_metrics_are_served,
    every_response_has_a_distinct_request_id_and_security_headers
);

async fn health_readiness_and_metrics_are_served(app: TestApp) {
    let r = app.client.get(app.url("/healthz")).send().await.unwrap();
    assert_eq!(
        (r.status().as_u16(), r.text().await.unwrap()),
        (200, "ok".to_owned())
    );
    let r = app.client.get(app.url("/readyz")).send().await.unwrap();
    assert_eq!(r.status(), 200);
    let (token, _) = app.start_chat("harbour-physio").await;
    assert_eq!(
        app.say("harbour-physio", &token, "hello").await.status(),
        200
    );
    let m = app
        .client
        .get(app.url("/metrics"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(m.contains("http_requests_total{route=\"/v1/webchat/{tenant_slug}/messages\",method=\"POST\",status=\"200\"}"), "{m}");
    assert!(
        m.contains(
            "http_request_duration_seconds_bucket{route=\"/v1/webchat/{tenant_slug}/messages\""
        ),
        "{m}"
    );
    assert!(
        m.contains("frontdesk_messages_total{channel=\"webchat\",direction=\"inbound\"}"),
        "{m}"
    );
    assert!(
        m.contains("frontdesk_messages_total{channel=\"webchat\",direction=\"outbound\"}"),
        "{m}"
    );
    assert!(
        !m.contains("harbour-physio"),
        "labels use route templates, never slugs or ids"
    );
    app.finish().await;
}

async fn every_response_has_a_distinct_request_id_and_security_headers(app: TestApp) {
    let mut ids = std::collections::HashSet::new();
    for path in ["/healthz", "/chat/harbour-physio", "/nope", "/metrics"] {
        let r = app.client.get(app.url(path)).send().await.unwrap();
        assert!(ids.insert(r.headers()["x-request-id"].to_str().unwrap().to_owned()));
        assert_eq!(r.headers()["x-frame-options"], "DENY", "{path}");
        assert!(
            r.headers().contains_key("content-security-policy"),
            "{path}"
        );
    }
    // A plain id from a proxy is kept; anything else is replaced by ours.
    let r = app
        .client
        .get(app.url("/healthz"))
        .header("x-request-id", "lb-1234_abc.9")
        .send()
        .await
        .unwrap();
    assert_eq!(r.headers()["x-request-id"], "lb-1234_abc.9");
    for hostile in ["+64 21 555 0199 Zebulon", &"x".repeat(65)] {
        let r = app
            .client
            .get(app.url("/healthz"))
            .header("x-request-id", hostile)
            .send()
            .await
            .unwrap();
        let id = r.headers()["x-request-id"].to_str().unwrap();
        assert!(id != hostile && id.len() == 36, "{id}");
    }
    // A wrong method gets the same JSON error shape.
    let r = app
        .client
        .delete(app.url("/v1/webchat/harbour-physio/sessions"))
        .send()
        .await
        .unwrap();
    crate::harness::assert_error(r, 405, "method_not_allowed").await;
    app.finish().await;
}

#[tokio::test]
async fn readiness_fails_with_503_when_the_database_is_gone() {
    let db = TestDb::sqlite().await.unwrap();
    let store = Arc::new(
        frontdesk_store::SqliteStore::connect(
            &db.cfg.url,
            test_keyring(),
            Arc::new(SystemClock),
            2,
        )
        .await
        .unwrap(),
    );
    let state = AppState {
        store: store.clone(),
        clock: Arc::new(SystemClock),
        webchat_ttl: jiff::SignedDuration::from_hours(1),
        metrics: None,
        channels: Default::default(),
        dashboard: Default::default(),
    };
    let app = Application::build(state, "127.0.0.1:0".parse().unwrap())
        .await
        .unwrap();
    let base = format!("http://{}", app.local_addr());
    tokio::spawn(app.run(std::future::pending()));
    assert_eq!(
        reqwest::get(format!("{base}/readyz"))
            .await
            .unwrap()
            .status(),
        200
    );
    store.close().await;
    assert_eq!(
        reqwest::get(format!("{base}/readyz"))
            .await
            .unwrap()
            .status(),
        503
    );
    assert_eq!(
        reqwest::get(format!("{base}/healthz"))
            .await
            .unwrap()
            .status(),
        200,
        "liveness is independent"
    );
    let r = reqwest::Client::new()
        .post(format!("{base}/v1/webchat/harbour-physio/sessions"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 503, "callers are told to retry");
    assert_eq!(r.headers()["retry-after"], "5");
}

/// Runs the real `serve` binary with JSON logs at TRACE for every target, drives a web chat
/// with a patient's name, phone number and symptoms in it, plus failing requests, and checks
/// that none of it (nor the token) appears anywhere in the log output.
async fn leak_check(engine: Engine) {
    let Some(db) = crate::harness::test_db(engine).await else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let key = MasterKey::generate("k1");
    {
        use std::os::unix::fs::OpenOptionsExt;
        let mut f = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(dir.path().join("master.key"))
            .unwrap();
        std::io::Write::write_all(&mut f, key.export().as_bytes()).unwrap();
    }
    let store = db
        .open(Keyring::new(key, vec![]), Arc::new(SystemClock))
        .await
        .unwrap();
    frontdesk_server::demo::seed(store.as_ref()).await.unwrap();
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_frontdesk"))
        .args(["serve", "--data-dir", dir.path().to_str().unwrap()])
        .env("FRONTDESK_DATABASE_URL", &db.cfg.url)
        .env("FRONTDESK_LISTEN", "127.0.0.1:0")
        .env("RUST_LOG", "trace")
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let stderr = child.stderr.take().unwrap();
    let (addr_tx, addr_rx) = std::sync::mpsc::channel::<String>();
    let reader = std::thread::spawn(move || {
        let mut all = String::new();
        for line in std::io::BufRead::lines(std::io::BufReader::new(stderr)).map_while(Result::ok) {
            if line.contains("frontdesk serving") {
                let v: serde_json::Value = serde_json::from_str(&line).unwrap_or_default();
                let _ = addr_tx.send(v["addr"].as_str().unwrap_or_default().to_owned());
            }
            all.push_str(&line);
            all.push('\n');
        }
        all
    });
    let Ok(addr) = addr_rx.recv_timeout(std::time::Duration::from_secs(60)) else {
        let _ = child.kill();
        panic!("serve did not start:\n{}", reader.join().unwrap());
    };
    let base = format!("http://{addr}");
    frontdesk_server::channels::install_crypto_provider();
    let client = reqwest::Client::new();
    let v: serde_json::Value = client
        .post(format!("{base}/v1/webchat/harbour-physio/sessions"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let token = v["token"].as_str().unwrap().to_owned();
    let say = |slug: &str, token: &str, text: &str| {
        client
            .post(format!("{base}/v1/webchat/{slug}/messages"))
            .bearer_auth(token)
            .json(&serde_json::json!({ "text": text }))
            .send()
    };
    let secret_text =
        "My name is Zebulon Quixote, my number is +64 21 555 0199, I have a sore knee";
    assert_eq!(
        say("harbour-physio", &token, secret_text)
            .await
            .unwrap()
            .status(),
        200
    );
    assert_eq!(
        say("harbour-physio", &token, "Quixote again, are you open")
            .await
            .unwrap()
            .status(),
        200
    );
    assert_eq!(
        say("harbour-physio", "fdw_WRONGTOKENzebulon", "Zebulon here")
            .await
            .unwrap()
            .status(),
        401
    );
    assert_eq!(
        say("nairobi-family", &token, "Zebulon here")
            .await
            .unwrap()
            .status(),
        401
    );
    let r = client
        .post(format!("{base}/v1/webchat/harbour-physio/messages"))
        .bearer_auth(&token)
        .body("{\"text\": Zebulon")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    assert!(
        std::process::Command::new("kill")
            .args(["-TERM", &child.id().to_string()])
            .status()
            .unwrap()
            .success()
    );
    assert!(child.wait().unwrap().success());
    let logs = reader.join().unwrap();
    assert!(
        logs.contains("\"route\":\"/v1/webchat/{tenant_slug}/messages\""),
        "the logs saw the requests:\n{}",
        &logs[..logs.len().min(3000)]
    );
    assert!(logs.contains("\"request_id\":"), "request ids are logged");
    for needle in [
        "Zebulon",
        "Quixote",
        "555 0199",
        "5550199",
        "sore knee",
        token.as_str(),
        "WRONGTOKEN",
        "Bearer",
    ] {
        assert!(!logs.contains(needle), "`{needle}` leaked into the logs");
    }
    db.cleanup().await;
}

#[tokio::test]
async fn sqlite_logs_never_contain_message_text_phone_or_token() {
    leak_check(Engine::Sqlite).await;
}

#[tokio::test]
async fn postgres_logs_never_contain_message_text_phone_or_token() {
    leak_check(Engine::Postgres).await;
}
