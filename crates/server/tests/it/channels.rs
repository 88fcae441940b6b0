//! The messaging pipeline end to end, on both engines: signed provider webhooks in, the reply
//! worker, the outbox worker delivering to wiremock fakes of the Graph API and Twilio on
//! loopback. The worker is driven pass by pass with a manual clock, so retries, leases and
//! a 10-minute provider outage play out without sleeping.

use crate::harness::test_db;
use base64::Engine as _;
use frontdesk_domain::{Clock, ManualClock, TenantSlug};
use frontdesk_server::channels::{AfricasTalkingClient, GraphClient, TwilioClient};
use frontdesk_server::http::ChannelHub;
use frontdesk_server::mailer::Mailer;
use frontdesk_server::worker::{Providers, Worker};
use frontdesk_server::{AppState, Application, demo};
use frontdesk_store::testing::{Engine, TestDb, test_keyring};
use frontdesk_store::*;
use hmac::{Hmac, KeyInit, Mac};
use jiff::SignedDuration;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::oneshot;
use wiremock::matchers::{body_partial_json, header, method, path};
use wiremock::{Mock, MockServer, Request, ResponseTemplate};

const PNID: &str = "100200300";
const APP_SECRET: &str = "test_app_secret";
const TWILIO_NUMBER: &str = "+6495550199";
const TWILIO_TOKEN: &str = "12345";
const NAIROBI: &str = "nairobi-family";
const HARBOUR: &str = "harbour-physio";
const AT_SENDER: &str = "20880";
const AT_KEY: &str = "atsk_test";
const AT_CALLBACK: &str = "cb-0123456789abcdef";

struct ChannelApp {
    base: String,
    store: Arc<dyn Store>,
    clock: Arc<ManualClock>,
    worker: Worker,
    fake: MockServer,
    smtp: SmtpSink,
    client: reqwest::Client,
    db: TestDb,
    shutdown: Option<oneshot::Sender<()>>,
}

async fn spawn(engine: Engine) -> Option<ChannelApp> {
    let db = test_db(engine).await?;
    let cfg = db.cfg.clone();
    Some(spawn_on(db, &cfg).await)
}

/// The app over `db`, with its store connected through `cfg` (`db.cfg`, or e.g. a proxy's
/// address in front of the same PostgreSQL database: see `TestDb::cfg_via`).
async fn spawn_on(db: TestDb, cfg: &DatabaseConfig) -> ChannelApp {
    let clock = Arc::new(ManualClock::new(jiff::Timestamp::now()));
    let store = frontdesk_store::open(cfg, test_keyring(), clock.clone())
        .await
        .unwrap()
        .store;
    demo::seed(store.as_ref()).await.unwrap();
    let scope = |s: &str| {
        let store = store.clone();
        let slug = TenantSlug::parse(s).unwrap();
        async move { store.operator_scope(&slug).await.unwrap() }
    };
    let wa = ChannelSecrets::new()
        .with("app_secret", APP_SECRET)
        .with("verify_token", "verify-me")
        .with("access_token", "EAAtoken");
    store
        .set_channel_account(
            scope(NAIROBI).await,
            Provider::Whatsapp,
            PNID,
            &serde_json::json!({}),
            &wa,
        )
        .await
        .unwrap();
    let at = ChannelSecrets::new()
        .with("api_key", AT_KEY)
        .with("callback_token", AT_CALLBACK);
    store
        .set_channel_account(
            scope(NAIROBI).await,
            Provider::AfricasTalking,
            AT_SENDER,
            &serde_json::json!({ "username": "sandbox" }),
            &at,
        )
        .await
        .unwrap();
    let tw = ChannelSecrets::new().with("auth_token", TWILIO_TOKEN);
    store
        .set_channel_account(
            scope(HARBOUR).await,
            Provider::Twilio,
            TWILIO_NUMBER,
            &serde_json::json!({ "account_sid": "AC123" }),
            &tw,
        )
        .await
        .unwrap();
    let fake = MockServer::start().await;
    let timeout = Duration::from_secs(2);
    let providers = Providers {
        whatsapp: GraphClient::with_base_url(&fake.uri(), timeout).unwrap(),
        twilio: TwilioClient::with_base_url(&fake.uri(), timeout).unwrap(),
        africastalking: AfricasTalkingClient::with_base_url(&fake.uri(), timeout).unwrap(),
        public_base: None,
    };
    let hub = Arc::new(ChannelHub::default());
    let state = AppState {
        store: store.clone(),
        clock: clock.clone(),
        webchat_ttl: SignedDuration::from_hours(1),
        metrics: frontdesk_server::telemetry::metrics_handle(),
        channels: hub.clone(),
        dashboard: Default::default(),
    };
    let app = Application::build(state, "127.0.0.1:0".parse().unwrap())
        .await
        .unwrap();
    let base = format!("http://{}", app.local_addr());
    let (tx, rx) = oneshot::channel::<()>();
    tokio::spawn(app.run(async move {
        let _ = rx.await;
    }));
    let smtp = SmtpSink::start().await;
    let mailer = Mailer::smtp(
        &format!("smtp://127.0.0.1:{}", smtp.port),
        "frontdesk <alerts@frontdesk.invalid>",
    )
    .unwrap();
    store
        .create_user(
            scope(NAIROBI).await,
            &NewUser {
                email: frontdesk_domain::Email::parse("owner@nairobi.example").unwrap(),
                name: "Wanjiru".into(),
                role: frontdesk_domain::Role::Owner,
            },
        )
        .await
        .unwrap();
    let worker = Worker::new(
        store.clone(),
        clock.clone(),
        providers,
        mailer,
        hub.wake.clone(),
        1000,
    );
    ChannelApp {
        base,
        store,
        clock,
        worker,
        fake,
        smtp,
        client: reqwest::Client::new(),
        db,
        shutdown: Some(tx),
    }
}

impl ChannelApp {
    async fn scope(&self, slug: &str) -> TenantScope {
        self.store
            .operator_scope(&TenantSlug::parse(slug).unwrap())
            .await
            .unwrap()
    }

    async fn post_whatsapp(&self, body: &str, signature: Option<String>) -> reqwest::Response {
        let mut req = self
            .client
            .post(format!("{}/webhooks/whatsapp", self.base))
            .body(body.to_owned());
        if let Some(sig) = signature {
            req = req.header("x-hub-signature-256", sig);
        }
        req.send().await.unwrap()
    }

    async fn post_twilio(&self, params: &[(&str, &str)]) -> reqwest::Response {
        self.post_twilio_at("/webhooks/twilio/sms", params).await
    }

    /// A form webhook signed as Twilio signs it: over the full URL (query included).
    async fn post_twilio_at(&self, path: &str, params: &[(&str, &str)]) -> reqwest::Response {
        let url = format!("{}{path}", self.base);
        let owned: Vec<(String, String)> = params
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        self.client
            .post(&url)
            .header(
                "x-twilio-signature",
                twilio_signature(TWILIO_TOKEN, &url, &owned),
            )
            .form(params)
            .send()
            .await
            .unwrap()
    }

    /// The SMS bodies Twilio was asked to send to `to`, oldest first.
    async fn texts_to(&self, to: &str) -> Vec<String> {
        let mut out = Vec::new();
        for r in self.fake.received_requests().await.unwrap() {
            if !r.url.path().ends_with("/Messages.json") {
                continue;
            }
            let form = String::from_utf8(r.body.clone()).unwrap();
            let parsed = reqwest::Url::parse(&format!("http://x/?{form}")).unwrap();
            let pairs: std::collections::HashMap<String, String> =
                parsed.query_pairs().into_owned().collect();
            if pairs.get("To").map(String::as_str) == Some(to) {
                out.push(pairs["Body"].clone());
            }
        }
        out
    }

    /// Runs worker passes until both queues are idle.
    async fn drain(&self) {
        self.drain_with(&self.worker).await;
    }

    async fn drain_with(&self, worker: &Worker) {
        for _ in 0..20 {
            if worker.run_once().await.unwrap() == 0 {
                return;
            }
        }
        panic!("the worker never went idle");
    }

    /// A second worker on the same store and fakes, whose provider calls give up after
    /// `timeout`.
    fn worker_with_timeout(&self, timeout: Duration) -> Worker {
        let base = self.fake.uri();
        let providers = Providers {
            whatsapp: GraphClient::with_base_url(&base, timeout).unwrap(),
            twilio: TwilioClient::with_base_url(&base, timeout).unwrap(),
            africastalking: AfricasTalkingClient::with_base_url(&base, timeout).unwrap(),
            public_base: None,
        };
        let mailer = Mailer::smtp(
            &format!("smtp://127.0.0.1:{}", self.smtp.port),
            "frontdesk <alerts@frontdesk.invalid>",
        )
        .unwrap();
        Worker::new(
            self.store.clone(),
            self.clock.clone(),
            providers,
            mailer,
            Arc::new(tokio::sync::Notify::new()),
            1000,
        )
    }

    async fn finish(mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        self.db.cleanup().await;
    }
}

/// A minimal SMTP server on loopback that accepts everything and keeps each message's DATA.
struct SmtpSink {
    port: u16,
    received: Arc<std::sync::Mutex<Vec<String>>>,
}

impl SmtpSink {
    async fn start() -> SmtpSink {
        use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let received = Arc::new(std::sync::Mutex::new(Vec::new()));
        let store = received.clone();
        tokio::spawn(async move {
            while let Ok((sock, _)) = listener.accept().await {
                let store = store.clone();
                tokio::spawn(async move {
                    let (r, mut w) = sock.into_split();
                    let mut lines = BufReader::new(r).lines();
                    w.write_all(b"220 sink ESMTP\r\n").await.unwrap();
                    while let Ok(Some(line)) = lines.next_line().await {
                        let verb = line
                            .split_whitespace()
                            .next()
                            .unwrap_or("")
                            .to_ascii_uppercase();
                        let reply: &[u8] = match verb.as_str() {
                            "EHLO" => b"250-sink\r\n250 8BITMIME\r\n",
                            "DATA" => {
                                w.write_all(b"354 go ahead\r\n").await.unwrap();
                                let mut data = String::new();
                                while let Ok(Some(l)) = lines.next_line().await {
                                    if l == "." {
                                        break;
                                    }
                                    data.push_str(&l);
                                    data.push('\n');
                                }
                                store.lock().unwrap().push(data);
                                b"250 queued\r\n"
                            }
                            "QUIT" => {
                                let _ = w.write_all(b"221 bye\r\n").await;
                                break;
                            }
                            _ => b"250 OK\r\n",
                        };
                        w.write_all(reply).await.unwrap();
                    }
                });
            }
        });
        SmtpSink { port, received }
    }

    fn messages(&self) -> Vec<String> {
        self.received.lock().unwrap().clone()
    }
}

fn wa_signature(secret: &str, body: &str) -> String {
    let mut mac = Hmac::<sha2::Sha256>::new_from_slice(secret.as_bytes()).unwrap();
    mac.update(body.as_bytes());
    let hex: String = mac
        .finalize()
        .into_bytes()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    format!("sha256={hex}")
}

/// Twilio's scheme, written out here independently of the server's validator.
fn twilio_signature(token: &str, url: &str, params: &[(String, String)]) -> String {
    let mut sorted = params.to_vec();
    sorted.sort();
    let mut data = url.to_owned();
    for (k, v) in sorted {
        data.push_str(&k);
        data.push_str(&v);
    }
    let mut mac = Hmac::<sha1::Sha1>::new_from_slice(token.as_bytes()).unwrap();
    mac.update(data.as_bytes());
    base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes())
}

fn wa_text(id: &str, from: &str, text: &str) -> String {
    serde_json::json!({
        "object": "whatsapp_business_account",
        "entry": [{ "id": "WABA1", "changes": [{ "field": "messages", "value": {
            "messaging_product": "whatsapp",
            "metadata": { "display_phone_number": "254700100200", "phone_number_id": PNID },
            "contacts": [{ "profile": { "name": "Amina" }, "wa_id": from }],
            "messages": [{ "from": from, "id": id, "timestamp": "1700000000", "type": "text", "text": { "body": text } }]
        }}]}]
    })
    .to_string()
}

fn graph_ok(id: &str) -> ResponseTemplate {
    ResponseTemplate::new(200).set_body_json(serde_json::json!({
        "messaging_product": "whatsapp",
        "contacts": [{ "input": "254711000001", "wa_id": "254711000001" }],
        "messages": [{ "id": id }]
    }))
}

fn graph_path() -> String {
    format!("/{}/{PNID}/messages", GraphClient::DEFAULT_API_VERSION)
}

async fn mount_graph_ok(fake: &MockServer) {
    Mock::given(method("POST"))
        .and(path(graph_path()))
        .and(header("authorization", "Bearer EAAtoken"))
        .and(body_partial_json(
            serde_json::json!({ "messaging_product": "whatsapp", "to": "254711000001" }),
        ))
        .respond_with(graph_ok("wamid.reply"))
        .mount(fake)
        .await;
}

/// Twilio's Messages API accepting every send.
async fn mount_twilio_ok(fake: &MockServer) {
    Mock::given(method("POST"))
        .and(path("/2010-04-01/Accounts/AC123/Messages.json"))
        .respond_with(
            ResponseTemplate::new(201)
                .set_body_json(serde_json::json!({ "sid": "SM_code", "status": "queued" })),
        )
        .mount(fake)
        .await;
}

async fn graph_requests(fake: &MockServer) -> Vec<Request> {
    let p = graph_path();
    fake.received_requests()
        .await
        .unwrap()
        .into_iter()
        .filter(|r| r.url.path() == p)
        .collect()
}

async fn row_count(app: &ChannelApp, slug: &str) -> usize {
    let scope = app.scope(slug).await;
    app.store
        .audit_entries(scope, 0, 10_000)
        .await
        .unwrap()
        .iter()
        .filter(|e| e.action == "message.received")
        .count()
}

/// Each test once per engine, on its own database, fake provider and server.
/// A clinic's language model settings for a fake OpenAI-compatible server at `base`: routine
/// turns to `fast_model` at 10 currency units a million input tokens, sensitive ones to a
/// strong model.
fn compatible_llm(base: &str, fast_model: &str) -> LlmSettingsInput {
    LlmSettingsInput {
        provider: LlmProvider::OpenAiCompatible,
        base_url: Some(base.to_owned()),
        fast_model: fast_model.into(),
        strong_model: "qwen2.5:32b".into(),
        routine: LlmRoute::Fast,
        sensitive: LlmRoute::Strong,
        monthly_budget_cents: None,
        fast_prices: LlmPrices {
            input_per_mtok: 10_000_000,
            output_per_mtok: 0,
        },
        strong_prices: LlmPrices::default(),
        enabled: true,
        limits: Default::default(),
    }
}

/// Makes the fake OpenAI-compatible server `model` the clinic's language model (routine turns
/// to `qwen2.5:7b`).
async fn use_model(app: &ChannelApp, slug: &str, model: &MockServer) -> TenantScope {
    let scope = app.scope(slug).await;
    app.store
        .set_llm_settings(
            scope,
            &compatible_llm(&model.uri(), "qwen2.5:7b"),
            LlmKeyChange::Keep,
            Actor::Operator,
        )
        .await
        .unwrap();
    scope
}

/// The clinic's language model usage this month, up to now.
async fn month_usage(app: &ChannelApp, scope: TenantScope) -> LlmUsageSummary {
    let now = app.clock.now();
    app.store
        .llm_usage_summary(scope, month_start(now), now + SignedDuration::from_secs(1))
        .await
        .unwrap()
}

/// An OpenAI Chat Completions answer saying `text`, as an OpenAI-compatible server sends it.
fn chat_completion(model: &str, text: &str) -> serde_json::Value {
    serde_json::json!({
        "id": "chatcmpl-1",
        "object": "chat.completion",
        "created": 1741569952,
        "model": model,
        "choices": [{
            "index": 0,
            "message": {"role": "assistant", "content": text},
            "finish_reason": "stop"
        }],
        "usage": {"prompt_tokens": 700, "completion_tokens": 30, "total_tokens": 730}
    })
}

/// The same answer streamed, as the phone line asks for it (`"stream": true`): server-sent
/// `chat.completion.chunk` events, the usage chunk, `[DONE]`.
fn chat_completion_stream(model: &str, text: &str) -> ResponseTemplate {
    let chunk = |delta: serde_json::Value, finish: Option<&str>| {
        serde_json::json!({"id": "chatcmpl-1", "object": "chat.completion.chunk",
            "created": 1741569952, "model": model,
            "choices": [{"index": 0, "delta": delta, "finish_reason": finish}]})
    };
    let (first, rest) = text.split_at(text.len() / 2);
    let events = [
        chunk(
            serde_json::json!({"role": "assistant", "content": ""}),
            None,
        ),
        chunk(serde_json::json!({"content": first}), None),
        chunk(serde_json::json!({"content": rest}), None),
        chunk(serde_json::json!({}), Some("stop")),
        serde_json::json!({"id": "chatcmpl-1", "object": "chat.completion.chunk",
            "created": 1741569952, "model": model, "choices": [],
            "usage": {"prompt_tokens": 700, "completion_tokens": 30, "total_tokens": 730}}),
    ];
    let mut body: String = events.iter().map(|e| format!("data: {e}\n\n")).collect();
    body.push_str("data: [DONE]\n\n");
    ResponseTemplate::new(200).set_body_raw(body, "text/event-stream")
}

macro_rules! channel_tests {
    ($($name:ident),* $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test]
                async fn $name() {
                    super::$name(super::spawn(frontdesk_store::testing::Engine::Sqlite).await.unwrap()).await;
                }
            )*
        }
        mod postgres {
            $(
                #[tokio::test]
                async fn $name() {
                    let Some(app) = super::spawn(frontdesk_store::testing::Engine::Postgres).await else { return };
                    super::$name(app).await;
                }
            )*
        }
    };
}

mod llm;
mod recordings;
mod reliability;
mod reminders;
mod rotation;
mod security;
mod sms;
mod termination;
mod verify;
mod voice;
mod waitlist;

channel_tests!(
    whatsapp_handshake_echoes_the_challenge_only_for_the_right_token,
    whatsapp_message_arriving_three_times_at_once_is_answered_once,
    whatsapp_rejections_get_the_right_status_and_store_nothing,
    twilio_sms_is_verified_answered_and_stop_opts_the_number_out,
    a_crash_between_ack_and_reply_loses_nothing_and_replies_once,
    a_ten_minute_provider_outage_loses_and_duplicates_nothing,
    a_provider_that_times_out_for_ten_minutes_loses_and_duplicates_nothing,
    an_emergency_on_whatsapp_emails_the_staff_without_patient_details,
    two_first_messages_answered_later_carry_the_privacy_notice_once,
);

async fn whatsapp_handshake_echoes_the_challenge_only_for_the_right_token(app: ChannelApp) {
    let get = |token: &str| {
        app.client
            .get(format!("{}/webhooks/whatsapp", app.base))
            .query(&[
                ("hub.mode", "subscribe"),
                ("hub.verify_token", token),
                ("hub.challenge", "1158201444"),
            ])
            .send()
    };
    let ok = get("verify-me").await.unwrap();
    assert_eq!(ok.status(), 200);
    assert_eq!(ok.text().await.unwrap(), "1158201444");
    let wrong = get("verify-you").await.unwrap();
    assert_eq!(wrong.status(), 403);
    assert!(!wrong.text().await.unwrap().contains("1158201444"));
    app.finish().await;
}

async fn whatsapp_message_arriving_three_times_at_once_is_answered_once(app: ChannelApp) {
    mount_graph_ok(&app.fake).await;
    // Non-ASCII text, signed over the exact bytes sent.
    let body = wa_text(
        "wamid.ONE",
        "254711000001",
        "Habari, ninahitaji miadi kesho — asante",
    );
    let sig = wa_signature(APP_SECRET, &body);
    let (a, b, c) = tokio::join!(
        app.post_whatsapp(&body, Some(sig.clone())),
        app.post_whatsapp(&body, Some(sig.clone())),
        app.post_whatsapp(&body, Some(sig.clone()))
    );
    assert_eq!([a.status(), b.status(), c.status()], [200, 200, 200]);
    assert_eq!(row_count(&app, NAIROBI).await, 1);
    app.drain().await;
    let scope = app.scope(NAIROBI).await;
    let outbox = app.store.outbox_entries(scope, 100).await.unwrap();
    assert!(!outbox.is_empty());
    assert!(
        outbox.iter().all(|o| o.status == "sent" && o.attempts == 1),
        "{outbox:?}"
    );
    let sent = graph_requests(&app.fake).await;
    assert_eq!(sent.len(), outbox.len(), "one send per reply");
    // A fourth copy later is still a no-op, and nothing more is sent.
    assert_eq!(app.post_whatsapp(&body, Some(sig)).await.status(), 200);
    app.drain().await;
    assert_eq!(graph_requests(&app.fake).await.len(), outbox.len());
    // The reply went out as WhatsApp text with the receptionist's answer.
    let first: serde_json::Value = serde_json::from_slice(&sent[0].body).unwrap();
    assert_eq!(first["type"], "text");
    assert!(!first["text"]["body"].as_str().unwrap().is_empty());
    // A delivery report moves the message forward.
    let status = serde_json::json!({
        "object": "whatsapp_business_account",
        "entry": [{ "id": "WABA1", "changes": [{ "field": "messages", "value": {
            "messaging_product": "whatsapp",
            "metadata": { "display_phone_number": "254700100200", "phone_number_id": PNID },
            "statuses": [{ "id": "wamid.reply", "status": "delivered", "timestamp": "1700000100", "recipient_id": "254711000001" }]
        }}]}]
    })
    .to_string();
    let r = app
        .post_whatsapp(&status, Some(wa_signature(APP_SECRET, &status)))
        .await;
    assert_eq!(r.status(), 200);
    app.finish().await;
}

async fn whatsapp_rejections_get_the_right_status_and_store_nothing(app: ChannelApp) {
    let body = wa_text("wamid.BAD", "254711000002", "Hello");
    let cases: Vec<(String, Option<String>, u16)> = vec![
        (body.clone(), Some(wa_signature("wrong_secret", &body)), 401),
        (body.clone(), None, 401),
        (body.clone(), Some("sha256=zz".into()), 401),
        (
            "{not json".into(),
            Some(wa_signature(APP_SECRET, "{not json")),
            400,
        ),
        (
            r#"{"object":"page","entry":[]}"#.into(),
            Some(wa_signature(APP_SECRET, r#"{"object":"page","entry":[]}"#)),
            400,
        ),
        (
            wa_text("wamid.X", "254711000002", "Hi").replace(PNID, "999"),
            None,
            401,
        ),
        (
            body.replace(PNID, "999"),
            Some(wa_signature(APP_SECRET, &body.replace(PNID, "999"))),
            404,
        ),
        (
            "x".repeat(300 * 1024),
            Some(wa_signature(APP_SECRET, &"x".repeat(300 * 1024))),
            413,
        ),
    ];
    for (i, (payload, sig, want)) in cases.into_iter().enumerate() {
        let r = app.post_whatsapp(&payload, sig).await;
        assert_eq!(r.status().as_u16(), want, "case {i}");
        let v: serde_json::Value = r.json().await.unwrap();
        assert!(v["error"]["code"].is_string(), "case {i}: {v}");
    }
    assert_eq!(row_count(&app, NAIROBI).await, 0);
    assert_eq!(app.worker.run_once().await.unwrap(), 0, "no job was queued");
    app.finish().await;
}

async fn twilio_sms_is_verified_answered_and_stop_opts_the_number_out(app: ChannelApp) {
    Mock::given(method("POST"))
        .and(path("/2010-04-01/Accounts/AC123/Messages.json"))
        .respond_with(
            ResponseTemplate::new(201)
                .set_body_json(serde_json::json!({ "sid": "SM_out", "status": "queued" })),
        )
        .mount(&app.fake)
        .await;
    let from = "+64211234567";
    let hello = [
        ("MessageSid", "SM1"),
        ("From", from),
        ("To", TWILIO_NUMBER),
        ("Body", "What are your opening hours?"),
    ];
    let r = app.post_twilio(&hello).await;
    assert_eq!(r.status(), 200);
    assert!(r.text().await.unwrap().contains("<Response"));
    // Tampered body: refused, nothing stored.
    let url = format!("{}/webhooks/twilio/sms", app.base);
    let sig = twilio_signature(TWILIO_TOKEN, &url, &[("Body".into(), "a".into())]);
    let forged = app
        .client
        .post(&url)
        .header("x-twilio-signature", sig)
        .form(&[
            ("MessageSid", "SM9"),
            ("From", from),
            ("To", TWILIO_NUMBER),
            ("Body", "b"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(forged.status(), 401);
    app.drain().await;
    let scope = app.scope(HARBOUR).await;
    let replies = app.store.outbox_entries(scope, 100).await.unwrap();
    assert!(!replies.is_empty() && replies.iter().all(|o| o.status == "sent"));
    let before = app.fake.received_requests().await.unwrap().len();
    // STOP: recorded, confirmed once; afterwards nothing more is sent to that number.
    assert_eq!(
        app.post_twilio(&[
            ("MessageSid", "SM2"),
            ("From", from),
            ("To", TWILIO_NUMBER),
            ("Body", " stop ")
        ])
        .await
        .status(),
        200
    );
    app.drain().await;
    let consent = app
        .store
        .consent(
            scope,
            Channel::Sms,
            &frontdesk_domain::E164Phone::parse(from).unwrap(),
        )
        .await
        .unwrap();
    assert!(!consent.unwrap().opted_in);
    let sent = app.fake.received_requests().await.unwrap();
    assert_eq!(sent.len(), before + 1, "only the opt-out confirmation");
    let confirmation = String::from_utf8_lossy(&sent.last().unwrap().body).to_string();
    assert!(confirmation.contains("START"), "{confirmation}");
    assert_eq!(
        app.post_twilio(&[
            ("MessageSid", "SM3"),
            ("From", from),
            ("To", TWILIO_NUMBER),
            ("Body", "Can I book?")
        ])
        .await
        .status(),
        200
    );
    app.drain().await;
    assert_eq!(
        app.fake.received_requests().await.unwrap().len(),
        before + 1
    );
    // A delivery report from Twilio for our reply (From = our number).
    assert_eq!(
        app.post_twilio(&[
            ("MessageSid", "SM_out"),
            ("MessageStatus", "delivered"),
            ("From", TWILIO_NUMBER),
            ("To", from)
        ])
        .await
        .status(),
        200
    );
    app.finish().await;
}

async fn a_crash_between_ack_and_reply_loses_nothing_and_replies_once(app: ChannelApp) {
    mount_graph_ok(&app.fake).await;
    let body = wa_text("wamid.CRASH", "254711000001", "What time do you open?");
    assert_eq!(
        app.post_whatsapp(&body, Some(wa_signature(APP_SECRET, &body)))
            .await
            .status(),
        200
    );
    // A worker claims the job and dies before replying.
    let claimed = app
        .store
        .claim_jobs("doomed-worker", frontdesk_server::worker::LEASE, 10)
        .await
        .unwrap();
    assert_eq!(claimed.len(), 1);
    assert_eq!(
        app.worker.run_once().await.unwrap(),
        0,
        "the job is leased to the dead worker"
    );
    app.clock.advance(SignedDuration::from_secs(121));
    app.drain().await;
    let scope = app.scope(NAIROBI).await;
    let outbox = app.store.outbox_entries(scope, 100).await.unwrap();
    assert!(!outbox.is_empty() && outbox.iter().all(|o| o.status == "sent"));
    assert_eq!(graph_requests(&app.fake).await.len(), outbox.len());
    // The dead worker's late completion is refused.
    let late = Turn {
        inbound: None,
        job: Some(claimed[0].lease.clone()),
        replies: vec![NewMessage::agent_reply("late")],
        audit: vec![],
        escalation: None,
        summary: None,
        dialogue_state: None,
        llm_usage: None,
    };
    let conv: ReplyJob = serde_json::from_value(claimed[0].payload.clone()).unwrap();
    assert!(matches!(
        app.store.record_turn(scope, conv.conversation, &late).await,
        Err(StoreError::Conflict(_))
    ));
    app.finish().await;
}

async fn a_ten_minute_provider_outage_loses_and_duplicates_nothing(app: ChannelApp) {
    let worker = app.worker_with_timeout(Duration::from_secs(2));
    provider_outage(app, &worker, None).await;
}

async fn a_provider_that_times_out_for_ten_minutes_loses_and_duplicates_nothing(app: ChannelApp) {
    // The provider holds every request past the client's timeout, processing none of them
    // (a hung upstream); each attempt ends as a "timeout" on our side.
    let worker = app.worker_with_timeout(Duration::from_millis(200));
    provider_outage(app, &worker, Some(Duration::from_millis(700))).await;
}

/// The Graph API fails for ten minutes of clock time (500, or no answer in time when `hang`
/// is given), then recovers: every message is delivered, each exactly once.
async fn provider_outage(app: ChannelApp, worker: &Worker, hang: Option<Duration>) {
    let down = Arc::new(std::sync::atomic::AtomicBool::new(true));
    let flag = down.clone();
    Mock::given(method("POST"))
        .and(path(graph_path()))
        .respond_with(move |_: &Request| {
            if flag.load(std::sync::atomic::Ordering::SeqCst) {
                let failed = ResponseTemplate::new(500).set_body_json(
                    serde_json::json!({ "error": { "code": 1, "message": "down" } }),
                );
                match hang {
                    Some(delay) => failed.set_delay(delay),
                    None => failed,
                }
            } else {
                graph_ok("wamid.after")
            }
        })
        .mount(&app.fake)
        .await;
    for i in 0..3 {
        let body = wa_text(
            &format!("wamid.OUT{i}"),
            "254711000001",
            &format!("Do you have parking? {i}"),
        );
        assert_eq!(
            app.post_whatsapp(&body, Some(wa_signature(APP_SECRET, &body)))
                .await
                .status(),
            200
        );
    }
    let started = app.clock.now();
    while app.clock.now().duration_since(started) < SignedDuration::from_mins(10) {
        app.drain_with(worker).await;
        app.clock.advance(SignedDuration::from_secs(15));
    }
    let scope = app.scope(NAIROBI).await;
    let during = app.store.outbox_entries(scope, 100).await.unwrap();
    assert!(during.iter().all(|o| o.status == "pending"), "{during:?}");
    assert!(
        during.iter().all(|o| o.attempts > 3 && o.attempts < 20),
        "{during:?}"
    );
    // The operator sees it: nothing dead yet, each failed call timed, the pool sampled.
    let q = worker.sample_gauges().await.unwrap();
    assert_eq!(q.outbox_dead, 0);
    assert!(q.pool_max >= 1 && q.pool_size <= q.pool_max, "{q:?}");
    let metrics = app
        .client
        .get(format!("{}/metrics", app.base))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    for name in [
        "frontdesk_outbox_due ",
        "frontdesk_outbox_oldest_due_seconds ",
        "frontdesk_outbox_dead_letters ",
        "frontdesk_db_pool_connections{state=\"idle\"}",
        "frontdesk_provider_request_duration_seconds_bucket{channel=\"whatsapp\"",
        "frontdesk_outbox_attempts_total{channel=\"whatsapp\",outcome=\"retry\"}",
    ] {
        assert!(metrics.contains(name), "{name} in /metrics:\n{metrics}");
    }
    down.store(false, std::sync::atomic::Ordering::SeqCst);
    for _ in 0..40 {
        app.clock.advance(SignedDuration::from_secs(15));
        app.drain_with(worker).await;
    }
    let after = app.store.outbox_entries(scope, 100).await.unwrap();
    assert!(after.iter().all(|o| o.status == "sent"), "{after:?}");
    let q = worker.sample_gauges().await.unwrap();
    assert_eq!((q.outbox_due, q.outbox_dead), (0, 0), "{q:?}");
    let ok_sends = graph_requests(&app.fake).await.len()
        - during.iter().map(|o| o.attempts as usize).sum::<usize>();
    assert_eq!(
        ok_sends,
        after.len(),
        "each message sent successfully exactly once"
    );
    assert!(
        app.store
            .pending_notifications(scope, 10)
            .await
            .unwrap()
            .iter()
            .all(|n| n.kind != NotificationKind::DeliveryFailure)
    );
    app.finish().await;
}

async fn an_emergency_on_whatsapp_emails_the_staff_without_patient_details(app: ChannelApp) {
    mount_graph_ok(&app.fake).await;
    let body = wa_text(
        "wamid.RED",
        "254711000001",
        "crushing chest pain and I can't breathe properly",
    );
    assert_eq!(
        app.post_whatsapp(&body, Some(wa_signature(APP_SECRET, &body)))
            .await
            .status(),
        200
    );
    app.drain().await;
    // The patient was answered (emergency number first) through the Graph API ...
    let sent = graph_requests(&app.fake).await;
    let first: serde_json::Value = serde_json::from_slice(&sent[0].body).unwrap();
    assert!(
        first["text"]["body"].as_str().unwrap().contains("999"),
        "{first}"
    );
    // ... and the clinic owner got one email that says what and where, not who or what was said.
    let mails = app.smtp.messages();
    assert_eq!(mails.len(), 1, "{mails:?}");
    let mail = &mails[0];
    assert!(mail.contains("To: owner@nairobi.example"), "{mail}");
    assert!(mail.contains("Emergency red flag"), "{mail}");
    for private in ["crushing", "breathe", "254711000001", "Amina"] {
        assert!(
            !mail.contains(private),
            "{private} leaked into the email: {mail}"
        );
    }
    let scope = app.scope(NAIROBI).await;
    assert!(
        app.store
            .pending_notifications(scope, 10)
            .await
            .unwrap()
            .is_empty(),
        "marked sent"
    );
    app.finish().await;
}

async fn two_first_messages_answered_later_carry_the_privacy_notice_once(app: ChannelApp) {
    mount_graph_ok(&app.fake).await;
    // Both arrive before the worker answers either.
    for (id, text) in [
        ("wamid.Q1", "Hello"),
        ("wamid.Q2", "Where are you located?"),
    ] {
        let body = wa_text(id, "254711000001", text);
        assert_eq!(
            app.post_whatsapp(&body, Some(wa_signature(APP_SECRET, &body)))
                .await
                .status(),
            200
        );
    }
    app.drain().await;
    let notices = graph_requests(&app.fake)
        .await
        .iter()
        .filter(|r| String::from_utf8_lossy(&r.body).contains("stored encrypted"))
        .count();
    assert_eq!(notices, 1);
    app.finish().await;
}
