//! Payments end to end on both engines, against wiremock fakes of Stripe and Daraja that
//! answer with the providers' documented JSON: a booking made in web chat asks for the
//! deposit, the worker gets a Checkout link or sends an STK push, and the provider's signed
//! webhook (Stripe) or secret-URL callback (Daraja) settles the payment once, told to the
//! patient in the conversation. Forged, stale, future and mismatched deliveries are refused;
//! redeliveries change nothing; a patient replies PAY after a failure and is asked again.

use crate::harness::{ask_webchat, start_webchat, test_db};
use base64::Engine as _;
use frontdesk_domain::{ConversationId, PaymentId, SystemClock, TenantSlug};
use frontdesk_server::channels::{AfricasTalkingClient, GraphClient, TwilioClient};
use frontdesk_server::http::ChannelHub;
use frontdesk_server::mailer::Mailer;
use frontdesk_server::payments::PaymentClients;
use frontdesk_server::worker::{Providers, Worker};
use frontdesk_server::{AppState, Application, demo};
use frontdesk_store::testing::{Engine, TestDb};
use frontdesk_store::*;
use hmac::{Hmac, KeyInit, Mac};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;
use tokio::sync::oneshot;
use wiremock::matchers::{header, header_exists, method, path, query_param};
use wiremock::{Mock, MockServer, Request, ResponseTemplate};

const HARBOUR: &str = "harbour-physio";
const NAIROBI: &str = "nairobi-family";
const WHSEC: &str = "whsec_test_secret";
const WHSEC_2: &str = "whsec_rolled_secret";
const SHORTCODE: &str = "174379";
const PASSKEY: &str = "bfb279f9aa9bdbcf158e97dd71a467cd2e0c893059b10f78e6b72ada1ed2c919";

struct PayApp {
    base: String,
    store: Arc<dyn Store>,
    worker: Worker,
    fake: MockServer,
    client: reqwest::Client,
    db: TestDb,
    shutdown: Option<oneshot::Sender<()>>,
}

async fn spawn(engine: Engine) -> Option<PayApp> {
    let db = test_db(engine).await?;
    let store = db.open_default().await.unwrap();
    demo::seed(store.as_ref()).await.unwrap();
    let fake = MockServer::start().await;
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    drop(listener);
    let base = format!("http://127.0.0.1:{port}");
    let timeout = Duration::from_secs(2);
    let payments = Arc::new(PaymentClients::new(&fake.uri(), Some(base.clone()), timeout).unwrap());
    let hub = Arc::new(ChannelHub {
        payments: Some(payments.clone()),
        ..Default::default()
    });
    let clock: Arc<dyn frontdesk_domain::Clock> = Arc::new(SystemClock);
    let state = AppState {
        store: store.clone(),
        clock: clock.clone(),
        webchat_ttl: jiff::SignedDuration::from_hours(1),
        metrics: frontdesk_server::telemetry::metrics_handle(),
        channels: hub.clone(),
        dashboard: Default::default(),
    };
    let app = Application::build(state, format!("127.0.0.1:{port}").parse().unwrap())
        .await
        .unwrap();
    let (tx, rx) = oneshot::channel::<()>();
    tokio::spawn(app.run(async move {
        let _ = rx.await;
    }));
    let providers = Providers {
        whatsapp: GraphClient::with_base_url(&fake.uri(), timeout).unwrap(),
        twilio: TwilioClient::with_base_url(&fake.uri(), timeout).unwrap(),
        africastalking: AfricasTalkingClient::with_base_url(&fake.uri(), timeout).unwrap(),
        public_base: Some(base.clone()),
    };
    let worker = Worker::new(
        store.clone(),
        clock,
        providers,
        Mailer::Disabled,
        hub.wake.clone(),
        1000,
    )
    .with_payments(payments);
    Some(PayApp {
        base,
        store,
        worker,
        fake,
        client: reqwest::Client::new(),
        db,
        shutdown: Some(tx),
    })
}

impl PayApp {
    async fn scope(&self, slug: &str) -> TenantScope {
        self.store
            .operator_scope(&TenantSlug::parse(slug).unwrap())
            .await
            .unwrap()
    }

    async fn ask(&self, slug: &str, token: &str, text: &str) -> Vec<String> {
        ask_webchat(&self.client, &self.base, slug, token, text).await
    }

    /// Books in web chat; returns (token, conversation).
    async fn book(&self, slug: &str, steps: &[&str]) -> (String, ConversationId, Vec<String>) {
        let (token, conv) = start_webchat(&self.client, &self.base, slug).await;
        let mut last = Vec::new();
        for s in steps {
            last = self.ask(slug, &token, s).await;
        }
        assert!(last[0].starts_with("You're booked"), "{last:?}");
        (token, ConversationId::parse(&conv).unwrap(), last)
    }

    async fn bodies(&self, slug: &str, conv: ConversationId) -> Vec<String> {
        let scope = self.scope(slug).await;
        let msgs = self.store.messages(scope, conv).await.unwrap();
        msgs.into_iter().map(|m| m.body).collect()
    }

    async fn payment(&self, slug: &str, conv: ConversationId) -> Payment {
        let scope = self.scope(slug).await;
        self.store
            .latest_conversation_payment(scope, conv)
            .await
            .unwrap()
            .expect("a payment")
    }

    async fn audit_count(&self, slug: &str, action: &str) -> usize {
        let scope = self.scope(slug).await;
        let all = self.store.audit_entries(scope, 0, 10_000).await.unwrap();
        all.iter().filter(|e| e.action == action).count()
    }

    async fn post_stripe(&self, slug: &str, body: &str, sig: Option<String>) -> reqwest::Response {
        let mut req = self
            .client
            .post(format!("{}/webhooks/stripe/{slug}", self.base))
            .header("content-type", "application/json")
            .body(body.to_owned());
        if let Some(s) = sig {
            req = req.header("Stripe-Signature", s);
        }
        req.send().await.unwrap()
    }

    async fn finish(mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        self.db.cleanup().await;
    }
}

/// `t=…,v1=…` as Stripe signs: HMAC-SHA256 over `"{t}.{body}"` with the endpoint secret.
fn stripe_sig(secret: &str, t: i64, body: &str) -> String {
    let mut mac = <Hmac<sha2::Sha256> as KeyInit>::new_from_slice(secret.as_bytes()).unwrap();
    mac.update(format!("{t}.{body}").as_bytes());
    let hex: String = mac
        .finalize()
        .into_bytes()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    format!("t={t},v1={hex}")
}

fn now() -> i64 {
    jiff::Timestamp::now().as_second()
}

/// A Checkout event as Stripe sends it (trimmed to the fields a session has in payment mode).
fn checkout_event(kind: &str, session: &str, payment_status: &str, amount: i64) -> String {
    serde_json::json!({
        "id": format!("evt_{session}_{kind}"),
        "object": "event",
        "api_version": "2024-06-20",
        "created": now(),
        "livemode": false,
        "type": kind,
        "data": { "object": {
            "id": session,
            "object": "checkout.session",
            "amount_subtotal": amount,
            "amount_total": amount,
            "currency": "nzd",
            "client_reference_id": "ignored-here",
            "metadata": {},
            "mode": "payment",
            "payment_intent": format!("pi_{session}"),
            "payment_status": payment_status,
            "status": if kind == "checkout.session.expired" { "expired" } else { "complete" },
            "url": null
        }}
    })
    .to_string()
}

/// Stripe's fake: each new payment (idempotency key) gets its own session.
async fn fake_stripe(fake: &MockServer) {
    Mock::given(method("POST"))
        .and(path("/v1/checkout/sessions"))
        .and(header("authorization", "Bearer sk_test_frontdesk"))
        .and(header_exists("idempotency-key"))
        .respond_with(|req: &Request| {
            let key = req.headers["idempotency-key"].to_str().unwrap();
            let id = format!("cs_test_{}", key.rsplit('-').next().unwrap());
            ResponseTemplate::new(200).set_body_json(serde_json::json!({
                "id": id,
                "object": "checkout.session",
                "amount_total": 2500,
                "currency": "nzd",
                "mode": "payment",
                "payment_status": "unpaid",
                "status": "open",
                "url": format!("https://checkout.stripe.com/c/pay/{id}#fidkdWxOYHwnPyd1blpxYHZxWjA0"),
            }))
        })
        .mount(fake)
        .await;
}

async fn stripe_clinic(app: &PayApp) {
    let scope = app.scope(HARBOUR).await;
    app.store
        .set_payment_settings(
            scope,
            &PaymentSettings {
                provider: PaymentProvider::Stripe,
                amount_minor: 2_500,
                currency: "NZD".into(),
                config: serde_json::json!({}),
            },
            &ChannelSecrets::new()
                .with("secret_key", "sk_test_frontdesk")
                .with("webhook_secret", WHSEC)
                .with("webhook_secret_2", WHSEC_2),
            Actor::Operator,
        )
        .await
        .unwrap();
    fake_stripe(&app.fake).await;
}

const HARBOUR_BOOKING: [&str; 3] = [
    "I'd like to book a sports massage with Mei, anytime next week",
    "the first one",
    "Zebulon Quixote, 021 555 0199",
];

macro_rules! both {
    ($($name:ident),* $(,)?) => {
        mod sqlite { $(
            #[tokio::test]
            async fn $name() { super::$name(super::spawn(frontdesk_store::testing::Engine::Sqlite).await.unwrap()).await; }
        )* }
        mod postgres { $(
            #[tokio::test]
            async fn $name() {
                let Some(app) = super::spawn(frontdesk_store::testing::Engine::Postgres).await else { return };
                super::$name(app).await;
            }
        )* }
    };
}

both!(
    a_stripe_deposit_is_linked_after_a_web_chat_booking_and_paid_once,
    stripe_webhooks_with_forged_stale_or_future_signatures_are_refused,
    an_expired_stripe_link_is_told_and_pay_asks_again,
    an_mpesa_prompt_is_sent_cancelled_asked_again_and_paid_once,
    mpesa_callbacks_with_a_wrong_secret_or_request_are_refused,
);

async fn a_stripe_deposit_is_linked_after_a_web_chat_booking_and_paid_once(app: PayApp) {
    stripe_clinic(&app).await;
    let (_, conv, done) = app.book(HARBOUR, &HARBOUR_BOOKING).await;
    assert!(
        done.iter()
            .any(|m| m.contains("deposit of NZD 25.00") && m.contains("payment link follows")),
        "{done:?}"
    );
    let p = app.payment(HARBOUR, conv).await;
    assert_eq!(p.status, PaymentStatus::Pending);
    assert_eq!(p.reference, None);

    app.worker.run_once().await.unwrap();
    let sent = app.fake.received_requests().await.unwrap();
    let create = sent
        .iter()
        .find(|r| r.url.path() == "/v1/checkout/sessions")
        .expect("a Checkout Session was created");
    let body = String::from_utf8(create.body.clone()).unwrap();
    let form: std::collections::HashMap<String, String> =
        reqwest::Url::parse(&format!("http://form.invalid/?{body}"))
            .unwrap()
            .query_pairs()
            .into_owned()
            .collect();
    let id = p.id.to_string();
    assert_eq!(form["mode"], "payment");
    assert_eq!(form["line_items[0][price_data][currency]"], "nzd");
    assert_eq!(form["line_items[0][price_data][unit_amount]"], "2500");
    assert_eq!(form["line_items[0][quantity]"], "1");
    assert_eq!(form["metadata[payment_id]"], id);
    assert_eq!(form["client_reference_id"], id);
    assert!(form["success_url"].starts_with(&app.base));
    assert!(form["expires_at"].parse::<i64>().unwrap() > now() + 3600);
    assert!(!form.keys().any(|k| k.contains("card")), "never card data");

    let session = format!("cs_test_{}", id.rsplit('-').next().unwrap());
    let p = app.payment(HARBOUR, conv).await;
    assert_eq!(p.reference.as_deref(), Some(session.as_str()));
    let bodies = app.bodies(HARBOUR, conv).await;
    let link = format!("https://checkout.stripe.com/c/pay/{session}");
    assert!(bodies.last().unwrap().contains(&link), "{bodies:?}");

    let event = checkout_event("checkout.session.completed", &session, "paid", 2500);
    for _ in 0..3 {
        let r = app
            .post_stripe(HARBOUR, &event, Some(stripe_sig(WHSEC, now(), &event)))
            .await;
        assert_eq!(r.status(), 200);
    }
    let p = app.payment(HARBOUR, conv).await;
    assert_eq!(p.status, PaymentStatus::Paid);
    assert_eq!(p.receipt.as_deref(), Some(format!("pi_{session}").as_str()));
    let bodies = app.bodies(HARBOUR, conv).await;
    let thanks = bodies
        .iter()
        .filter(|b| b.contains("we have received your payment of NZD 25.00"))
        .count();
    assert_eq!(thanks, 1, "told once: {bodies:?}");
    assert_eq!(app.audit_count(HARBOUR, "payment.paid").await, 1);
    assert_eq!(app.audit_count(HARBOUR, "payment.requested").await, 1);
    assert_eq!(app.audit_count(HARBOUR, "payment.started").await, 1);
    // The patient's copy of their data holds the payment, with the receipt.
    let scope = app
        .store
        .operator_scope(&frontdesk_domain::TenantSlug::parse(HARBOUR).unwrap())
        .await
        .unwrap();
    let catalog = app.store.clinic_catalog(scope).await.unwrap();
    let copy = frontdesk_server::data_requests::read_patient_copy(
        app.store.as_ref(),
        scope,
        &catalog,
        p.patient,
    )
    .await
    .unwrap();
    let paid = &copy.json["payments"];
    assert_eq!(paid.as_array().map(Vec::len), Some(1), "{paid}");
    assert_eq!(paid[0]["status"], "paid");
    assert_eq!(paid[0]["amount_minor"], 2500);
    assert_eq!(paid[0]["receipt"], format!("pi_{session}"));
    let page = copy.html().unwrap();
    assert!(
        page.contains("NZD 25.00 by stripe") && page.contains(&format!("pi_{session}")),
        "{page}"
    );
    // Unrelated events, signed with the second secret of a rotation: 200, nothing done.
    let other = r#"{"id":"evt_1","object":"event","type":"customer.created","data":{"object":{"id":"cus_1","object":"customer"}}}"#;
    let r = app
        .post_stripe(HARBOUR, other, Some(stripe_sig(WHSEC_2, now(), other)))
        .await;
    assert_eq!(r.status(), 200);
    app.finish().await;
}

async fn stripe_webhooks_with_forged_stale_or_future_signatures_are_refused(app: PayApp) {
    stripe_clinic(&app).await;
    let (_, conv, _) = app.book(HARBOUR, &HARBOUR_BOOKING).await;
    app.worker.run_once().await.unwrap();
    let p = app.payment(HARBOUR, conv).await;
    let session = p.reference.clone().unwrap();
    let event = checkout_event("checkout.session.completed", &session, "paid", 2500);
    let t = now();
    let mut several = stripe_sig("whsec_not_ours", t, &event);
    several.push_str(&format!(",v1={}", "0".repeat(64)));
    for sig in [
        None,
        Some(stripe_sig("whsec_not_ours", t, &event)),
        Some(several),
        // Clearly outside the 300 s window (the exact edges are unit-tested): a second may
        // tick between this clock and the server's.
        Some(stripe_sig(WHSEC, t - 330, &event)),
        Some(stripe_sig(WHSEC, t + 330, &event)),
        Some(stripe_sig(WHSEC, t, &event.replace("2500", "2501"))),
        Some(format!("t={t}")),
    ] {
        let r = app.post_stripe(HARBOUR, &event, sig.clone()).await;
        assert_eq!(r.status(), 401, "{sig:?}");
        let v: serde_json::Value = r.json().await.unwrap();
        assert_eq!(v["error"]["code"], "invalid_signature");
    }
    assert_eq!(
        app.payment(HARBOUR, conv).await.status,
        PaymentStatus::Pending
    );
    // Several v1 values, one of them right (Stripe during a secret roll): accepted.
    let good = stripe_sig(WHSEC, t, &event);
    let mixed = format!(
        "{},v1={}",
        stripe_sig("whsec_old", t, &event),
        good.rsplit("v1=").next().unwrap()
    );
    assert_eq!(
        app.post_stripe(HARBOUR, &event, Some(mixed)).await.status(),
        200
    );
    assert_eq!(app.payment(HARBOUR, conv).await.status, PaymentStatus::Paid);
    // A clinic that does not exist, or takes no Stripe payments.
    let r = app
        .post_stripe("no-such-clinic", &event, Some(good.clone()))
        .await;
    assert_eq!(r.status(), 404);
    let r = app.post_stripe(NAIROBI, &event, Some(good)).await;
    assert_eq!(r.status(), 404);
    app.finish().await;
}

async fn an_expired_stripe_link_is_told_and_pay_asks_again(app: PayApp) {
    stripe_clinic(&app).await;
    let (token, conv, _) = app.book(HARBOUR, &HARBOUR_BOOKING).await;
    app.worker.run_once().await.unwrap();
    let first = app.payment(HARBOUR, conv).await;
    let session = first.reference.clone().unwrap();
    let event = checkout_event("checkout.session.expired", &session, "unpaid", 2500);
    let r = app
        .post_stripe(HARBOUR, &event, Some(stripe_sig(WHSEC, now(), &event)))
        .await;
    assert_eq!(r.status(), 200);
    assert_eq!(
        app.payment(HARBOUR, conv).await.status,
        PaymentStatus::Expired
    );
    let bodies = app.bodies(HARBOUR, conv).await;
    assert!(bodies.last().unwrap().contains("Reply PAY"), "{bodies:?}");

    let again = app.ask(HARBOUR, &token, "pay").await;
    assert_eq!(again, ["A new payment link follows in a moment."]);
    let second = app.payment(HARBOUR, conv).await;
    assert_ne!(second.id, first.id);
    assert_eq!(second.appointment, first.appointment);
    app.worker.run_once().await.unwrap();
    let second = app.payment(HARBOUR, conv).await;
    let new_session = second.reference.clone().unwrap();
    assert_ne!(new_session, session);
    let bodies = app.bodies(HARBOUR, conv).await;
    assert!(bodies.last().unwrap().contains(&new_session), "{bodies:?}");
    // While it is open, PAY asks nothing new.
    let open = app.ask(HARBOUR, &token, "PAY").await;
    assert!(open[0].contains("still open"), "{open:?}");
    assert_eq!(app.audit_count(HARBOUR, "payment.requested").await, 2);
    app.finish().await;
}

/// Daraja's fake: OAuth, STK push (a new CheckoutRequestID per push) and STK query (paid).
async fn fake_daraja(fake: &MockServer) {
    let basic = base64::engine::general_purpose::STANDARD.encode("ck_frontdesk:cs_frontdesk");
    Mock::given(method("GET"))
        .and(path("/oauth/v1/generate"))
        .and(query_param("grant_type", "client_credentials"))
        .and(header("authorization", format!("Basic {basic}").as_str()))
        .respond_with(ResponseTemplate::new(200).set_body_json(serde_json::json!({
            "access_token": "SGWcJPtNtYNPGm6uSYR9yPYrAI3Bm",
            "expires_in": "3599"
        })))
        .expect(1)
        .mount(fake)
        .await;
    let pushes = Arc::new(AtomicUsize::new(0));
    Mock::given(method("POST"))
        .and(path("/mpesa/stkpush/v1/processrequest"))
        .and(header(
            "authorization",
            "Bearer SGWcJPtNtYNPGm6uSYR9yPYrAI3Bm",
        ))
        .respond_with(move |_: &Request| {
            let n = pushes.fetch_add(1, Ordering::SeqCst);
            ResponseTemplate::new(200).set_body_json(serde_json::json!({
                "MerchantRequestID": format!("29115-34620561-{n}"),
                "CheckoutRequestID": format!("ws_CO_19122019102036392{n}"),
                "ResponseCode": "0",
                "ResponseDescription": "Success. Request accepted for processing",
                "CustomerMessage": "Success. Request accepted for processing"
            }))
        })
        .mount(fake)
        .await;
    Mock::given(method("POST"))
        .and(path("/mpesa/stkpushquery/v1/query"))
        .respond_with(|req: &Request| {
            let v: serde_json::Value = serde_json::from_slice(&req.body).unwrap();
            ResponseTemplate::new(200).set_body_json(serde_json::json!({
                "ResponseCode": "0",
                "ResponseDescription": "The service request has been accepted successsfully",
                "MerchantRequestID": "29115-34620561-1",
                "CheckoutRequestID": v["CheckoutRequestID"],
                "ResultCode": "0",
                "ResultDesc": "The service request is processed successfully."
            }))
        })
        .mount(fake)
        .await;
}

async fn mpesa_clinic(app: &PayApp) {
    let scope = app.scope(NAIROBI).await;
    app.store
        .set_payment_settings(
            scope,
            &PaymentSettings {
                provider: PaymentProvider::Mpesa,
                amount_minor: 50_000,
                currency: "KES".into(),
                config: serde_json::json!({ "shortcode": SHORTCODE, "api_base": app.fake.uri() }),
            },
            &ChannelSecrets::new()
                .with("consumer_key", "ck_frontdesk")
                .with("consumer_secret", "cs_frontdesk")
                .with("passkey", PASSKEY),
            Actor::Operator,
        )
        .await
        .unwrap();
    fake_daraja(&app.fake).await;
}

const NAIROBI_BOOKING: [&str; 3] = [
    "Hello, I'd like to book a GP consultation with Dr. Kamau next week",
    "the first one",
    "Achieng Otieno, 0712 345 678",
];

/// The STK pushes the fake received, newest last.
async fn pushes(app: &PayApp) -> Vec<serde_json::Value> {
    app.fake
        .received_requests()
        .await
        .unwrap()
        .iter()
        .filter(|r| r.url.path() == "/mpesa/stkpush/v1/processrequest")
        .map(|r| serde_json::from_slice(&r.body).unwrap())
        .collect()
}

fn stk_callback(checkout: &str, code: i64, amount: i64) -> String {
    let mut cb = serde_json::json!({ "Body": { "stkCallback": {
        "MerchantRequestID": "29115-34620561-1",
        "CheckoutRequestID": checkout,
        "ResultCode": code,
        "ResultDesc": if code == 0 { "The service request is processed successfully." } else { "Request cancelled by user" },
    }}});
    if code == 0 {
        cb["Body"]["stkCallback"]["CallbackMetadata"] = serde_json::json!({ "Item": [
            { "Name": "Amount", "Value": amount },
            { "Name": "MpesaReceiptNumber", "Value": "NLJ7RT61SV" },
            { "Name": "Balance" },
            { "Name": "TransactionDate", "Value": 20191219102115_i64 },
            { "Name": "PhoneNumber", "Value": 254712345678_i64 }
        ]});
    }
    cb.to_string()
}

async fn post_json(app: &PayApp, url: &str, body: &str) -> reqwest::Response {
    app.client
        .post(url)
        .header("content-type", "application/json")
        .body(body.to_owned())
        .send()
        .await
        .unwrap()
}

async fn an_mpesa_prompt_is_sent_cancelled_asked_again_and_paid_once(app: PayApp) {
    mpesa_clinic(&app).await;
    let (token, conv, done) = app.book(NAIROBI, &NAIROBI_BOOKING).await;
    assert!(
        done.iter()
            .any(|m| m.contains("KES 500") && m.contains("M-Pesa prompt is on its way")),
        "{done:?}"
    );
    app.worker.run_once().await.unwrap();
    let push = pushes(&app).await.pop().expect("an STK push");
    let ts = push["Timestamp"].as_str().unwrap();
    assert_eq!(ts.len(), 14);
    let password =
        base64::engine::general_purpose::STANDARD.encode(format!("{SHORTCODE}{PASSKEY}{ts}"));
    assert_eq!(push["Password"], password);
    assert_eq!(push["BusinessShortCode"], SHORTCODE);
    assert_eq!(push["PartyB"], SHORTCODE);
    assert_eq!(push["TransactionType"], "CustomerPayBillOnline");
    assert_eq!(push["Amount"], 500);
    assert_eq!(push["PhoneNumber"], "254712345678");
    assert_eq!(push["PartyA"], "254712345678");
    assert!(push["AccountReference"].as_str().unwrap().len() <= 12);
    let callback = push["CallBackURL"].as_str().unwrap().to_owned();
    let p = app.payment(NAIROBI, conv).await;
    assert!(callback.starts_with(&format!("{}/webhooks/mpesa/{NAIROBI}/{}/", app.base, p.id)));
    let checkout = p.reference.clone().unwrap();
    assert!(checkout.starts_with("ws_CO_"));

    // The patient cancels on the phone: told, and PAY asks again.
    let r = post_json(&app, &callback, &stk_callback(&checkout, 1032, 0)).await;
    assert_eq!(r.status(), 200);
    assert_eq!(
        r.json::<serde_json::Value>().await.unwrap(),
        serde_json::json!({"ResultCode": 0, "ResultDesc": "Accepted"})
    );
    assert_eq!(
        app.payment(NAIROBI, conv).await.status,
        PaymentStatus::Cancelled
    );
    let bodies = app.bodies(NAIROBI, conv).await;
    assert!(
        bodies.last().unwrap().contains("cancelled")
            && bodies.last().unwrap().contains("Reply PAY"),
        "{bodies:?}"
    );
    let again = app.ask(NAIROBI, &token, "PAY").await;
    assert!(again[0].contains("M-Pesa prompt"), "{again:?}");
    app.worker.run_once().await.unwrap();
    let second = app.payment(NAIROBI, conv).await;
    assert_ne!(second.id, p.id);
    let push = pushes(&app).await.pop().unwrap();
    let callback2 = push["CallBackURL"].as_str().unwrap().to_owned();
    assert_ne!(callback2, callback, "a new secret per payment");
    let checkout2 = second.reference.clone().unwrap();
    assert_ne!(checkout2, checkout);

    // Paid: confirmed with the STK query, told once; redeliveries are acknowledged no-ops.
    let paid = stk_callback(&checkout2, 0, 500);
    for _ in 0..3 {
        let r = post_json(&app, &callback2, &paid).await;
        assert_eq!(r.status(), 200);
    }
    let second = app.payment(NAIROBI, conv).await;
    assert_eq!(second.status, PaymentStatus::Paid);
    assert_eq!(second.receipt.as_deref(), Some("NLJ7RT61SV"));
    let bodies = app.bodies(NAIROBI, conv).await;
    assert_eq!(
        bodies
            .iter()
            .filter(|b| b.contains("receipt NLJ7RT61SV"))
            .count(),
        1,
        "{bodies:?}"
    );
    let queried = app
        .fake
        .received_requests()
        .await
        .unwrap()
        .iter()
        .filter(|r| r.url.path() == "/mpesa/stkpushquery/v1/query")
        .count();
    assert_eq!(queried, 1, "the success was confirmed once");
    assert_eq!(app.audit_count(NAIROBI, "payment.cancelled").await, 1);
    assert_eq!(app.audit_count(NAIROBI, "payment.paid").await, 1);
    // The old request's callback cannot touch the new payment.
    let r = post_json(&app, &callback, &stk_callback(&checkout2, 0, 500)).await;
    assert_eq!(r.status(), 404);
    app.finish().await;
}

async fn mpesa_callbacks_with_a_wrong_secret_or_request_are_refused(app: PayApp) {
    mpesa_clinic(&app).await;
    let (_, conv, _) = app.book(NAIROBI, &NAIROBI_BOOKING).await;
    app.worker.run_once().await.unwrap();
    let push = pushes(&app).await.pop().unwrap();
    let callback = push["CallBackURL"].as_str().unwrap().to_owned();
    let p = app.payment(NAIROBI, conv).await;
    let checkout = p.reference.clone().unwrap();
    let (prefix, secret) = callback.rsplit_once('/').unwrap();
    let mut wrong = secret.to_owned();
    let last = wrong.pop().unwrap();
    wrong.push(if last == 'A' { 'B' } else { 'A' });
    let paid = stk_callback(&checkout, 0, 500);
    let r = post_json(&app, &format!("{prefix}/{wrong}"), &paid).await;
    assert_eq!(r.status(), 401);
    let r = post_json(
        &app,
        &callback,
        &stk_callback("ws_CO_000000000000000000", 0, 500),
    )
    .await;
    assert_eq!(r.status(), 404, "an unknown CheckoutRequestID");
    let other = format!(
        "{}/webhooks/mpesa/{NAIROBI}/{}/{secret}",
        app.base,
        PaymentId::new()
    );
    assert_eq!(post_json(&app, &other, &paid).await.status(), 404);
    let r = post_json(&app, &callback.replace(NAIROBI, HARBOUR), &paid).await;
    assert_eq!(r.status(), 404, "another clinic");
    assert_eq!(post_json(&app, &callback, "{}").await.status(), 400);
    assert_eq!(
        app.payment(NAIROBI, conv).await.status,
        PaymentStatus::Pending
    );
    // The wrong amount is not a payment.
    let r = post_json(&app, &callback, &stk_callback(&checkout, 0, 1)).await;
    assert_eq!(r.status(), 200);
    let p = app.payment(NAIROBI, conv).await;
    assert_eq!(p.status, PaymentStatus::Failed);
    assert_eq!(p.reason.as_deref(), Some("amount_mismatch"));
    app.finish().await;
}

#[test]
fn payments_are_set_shown_and_disabled_from_the_command_line_without_echoing_secrets() {
    use crate::cli::{frontdesk, outcome, run, seed_demo, with_stdin};
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    seed_demo(&data);
    let d = data.to_str().unwrap();
    let stripe = [
        "payments",
        "set-stripe",
        "--tenant",
        HARBOUR,
        "--amount",
        "25",
        "--currency",
        "nzd",
        "--data-dir",
        d,
    ];
    // A missing secret, or one this provider does not take: refused, nothing stored.
    let (ok, out, err) = outcome(with_stdin(
        frontdesk(&stripe),
        b"secret_key=sk_test_cli_123\n",
    ));
    assert!(!ok && err.contains("missing secrets"), "{out}{err}");
    let (ok, _, err) = outcome(with_stdin(frontdesk(&stripe), b"passkey=x\n"));
    assert!(!ok && err.contains("unknown secret `passkey`"), "{err}");
    let (_, out, _) = run(&["payments", "show", "--tenant", HARBOUR, "--data-dir", d]);
    assert!(out.contains("asks for no payments"), "{out}");

    // One secret from stdin, one from the environment.
    let mut cmd = frontdesk(&stripe);
    cmd.env("FRONTDESK_PAYMENT_WEBHOOK_SECRET", "whsec_cli_456");
    let (ok, out, err) = outcome(with_stdin(cmd, b"secret_key=sk_test_cli_123\n"));
    assert!(
        ok && out.contains("NZD 25.00") && out.contains("stripe"),
        "{out}{err}"
    );
    let (ok, out, err) = run(&["payments", "show", "--tenant", HARBOUR, "--data-dir", d]);
    assert!(ok, "{err}");
    assert!(
        out.contains("provider: stripe") && out.contains("enabled:  yes"),
        "{out}"
    );
    assert!(out.contains("secret_key, webhook_secret"), "{out}");
    assert!(out.contains("/webhooks/stripe/harbour-physio"), "{out}");
    let (ok, out, err) = outcome(with_stdin(
        frontdesk(&[
            "payments",
            "set-mpesa",
            "--tenant",
            NAIROBI,
            "--amount",
            "500",
            "--shortcode",
            SHORTCODE,
            "--data-dir",
            d,
        ]),
        b"consumer_key=ck_cli\nconsumer_secret=cs_cli_789\npasskey=pk_cli_000\n",
    ));
    assert!(ok && out.contains("KES 500"), "{out}{err}");
    let (_, shown, _) = run(&["payments", "show", "--tenant", NAIROBI, "--data-dir", d]);
    assert!(
        shown.contains("sandbox.safaricom.co.ke") && shown.contains(SHORTCODE),
        "{shown}"
    );
    for secret in [
        "sk_test_cli_123",
        "whsec_cli_456",
        "cs_cli_789",
        "pk_cli_000",
    ] {
        assert!(
            !out.contains(secret) && !shown.contains(secret),
            "never echoed"
        );
    }

    let (ok, out, _) = run(&["payments", "disable", "--tenant", HARBOUR, "--data-dir", d]);
    assert!(ok && out.contains("no longer asks"), "{out}");
    let (ok, out, _) = run(&["payments", "disable", "--tenant", HARBOUR, "--data-dir", d]);
    assert!(ok && out.contains("was not asking"), "{out}");
    let (_, out, _) = run(&["payments", "show", "--tenant", HARBOUR, "--data-dir", d]);
    assert!(out.contains("enabled:  no"), "{out}");
}
