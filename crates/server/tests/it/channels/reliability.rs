//! Reliability (issue #6), see docs/RELIABILITY.md:
//!
//! - on both engines, a whole booking dialogue whose every inbound delivery arrives three
//!   times at once, over WhatsApp (Graph API fake) and SMS (Twilio fake): each message stored
//!   once, each turn answered once, one appointment;
//! - on PostgreSQL only, the database becomes unavailable (a TCP proxy in the test refuses
//!   and cuts connections; the shared server itself is never stopped), in the middle of a turn
//!   and between deliveries: webhooks answer 503 with `Retry-After`, nothing is half written,
//!   and once it is back the same app accepts the providers' retries and replies once.

use super::*;
use frontdesk_domain::ConversationId;

channel_tests!(
    a_whatsapp_booking_dialogue_delivered_three_times_at_once_books_once,
    an_sms_booking_dialogue_delivered_three_times_at_once_books_once,
);

/// The text bodies sent to the Graph API fake, oldest first.
async fn whatsapp_texts(app: &ChannelApp) -> Vec<String> {
    graph_requests(&app.fake)
        .await
        .iter()
        .map(|r| {
            let v: serde_json::Value = serde_json::from_slice(&r.body).unwrap();
            v["text"]["body"].as_str().unwrap_or_default().to_owned()
        })
        .collect()
}

/// The conversation every `message.received` entry of this clinic names (exactly one).
async fn only_conversation(app: &ChannelApp, slug: &str) -> ConversationId {
    let scope = app.scope(slug).await;
    let mut ids: Vec<String> = app
        .store
        .audit_entries(scope, 0, 10_000)
        .await
        .unwrap()
        .iter()
        .filter(|e| e.action == "message.received")
        .map(|e| {
            let d: serde_json::Value = serde_json::from_str(&e.details).unwrap();
            d["conversation"].as_str().unwrap().to_owned()
        })
        .collect();
    ids.dedup();
    assert_eq!(ids.len(), 1, "{ids:?}");
    ConversationId::parse(&ids[0]).unwrap()
}

/// What one dialogue must look like once every turn has been answered.
struct Expect {
    slug: &'static str,
    /// Patient turns, and what the one answer to each starts with (or contains).
    turns: &'static [(&'static str, &'static str)],
    /// E.164 number of the patient.
    phone: &'static str,
}

/// Part of the privacy notice that goes with the first answer, once.
const NOTICE: &str = "stored encrypted";

/// Checks, after the dialogue: each inbound message stored once, each turn answered once
/// (`sent`: the texts the provider fake was asked to send, in order), every outbox entry sent
/// in one attempt, and exactly one appointment in the clinic's diary, the patient's.
async fn assert_answered_once_and_booked_once(app: &ChannelApp, e: &Expect, sent: &[String]) {
    let scope = app.scope(e.slug).await;
    let conv = only_conversation(app, e.slug).await;
    let messages = app.store.messages(scope, conv).await.unwrap();
    let inbound: Vec<&str> = messages
        .iter()
        .filter(|m| m.direction == Direction::Inbound)
        .map(|m| m.body.as_str())
        .collect();
    let said: Vec<&str> = e.turns.iter().map(|(t, _)| *t).collect();
    assert_eq!(inbound, said, "each inbound message stored exactly once");
    assert_eq!(row_count(app, e.slug).await, e.turns.len());
    for (turn, answer) in e.turns {
        let n = sent.iter().filter(|s| s.contains(answer)).count();
        assert_eq!(n, 1, "{turn:?} answered {n} times: {sent:?}");
    }
    let notices = sent.iter().filter(|s| s.contains(NOTICE)).count();
    assert_eq!(notices, 1, "{sent:?}");
    assert_eq!(
        sent.len(),
        e.turns.len() + 1,
        "one answer per turn and the notice: {sent:?}"
    );
    let mut unique = sent.to_vec();
    unique.sort();
    unique.dedup();
    assert_eq!(unique.len(), sent.len(), "nothing sent twice: {sent:?}");
    let outbox = app.store.outbox_entries(scope, 100).await.unwrap();
    assert_eq!(outbox.len(), sent.len(), "one send per reply: {outbox:?}");
    assert!(
        outbox.iter().all(|o| o.status == "sent" && o.attempts == 1),
        "{outbox:?}"
    );
    let booked = app
        .store
        .audit_entries(scope, 0, 10_000)
        .await
        .unwrap()
        .iter()
        .filter(|a| a.action == "appointment.booked")
        .count();
    assert_eq!(booked, 1, "exactly one appointment in the diary");
    let phone = frontdesk_domain::E164Phone::parse(e.phone).unwrap();
    let patient = app
        .store
        .find_patient_by_phone(scope, &phone)
        .await
        .unwrap()
        .unwrap();
    let appts = app
        .store
        .patient_appointments(scope, patient.id, jiff::Timestamp::UNIX_EPOCH)
        .await
        .unwrap();
    assert_eq!(appts.len(), 1, "{appts:?}");
}

const WHATSAPP_DIALOGUE: Expect = Expect {
    slug: NAIROBI,
    turns: &[
        (
            "Hello, I'd like to book a GP consultation with Dr. Kamau next week",
            "I have: 1) ",
        ),
        ("the first one", "To book it, please tell me your full name"),
        (
            "Amina Wanjiru",
            "You're booked: GP consultation with Dr. Wanjiku Kamau",
        ),
    ],
    phone: "+254711000001",
};

async fn a_whatsapp_booking_dialogue_delivered_three_times_at_once_books_once(app: ChannelApp) {
    mount_graph_ok(&app.fake).await;
    for (i, (text, _)) in WHATSAPP_DIALOGUE.turns.iter().enumerate() {
        app.clock.advance(SignedDuration::from_secs(30));
        let body = wa_text(&format!("wamid.BOOK{i}"), "254711000001", text);
        let sig = wa_signature(APP_SECRET, &body);
        let (a, b, c) = tokio::join!(
            app.post_whatsapp(&body, Some(sig.clone())),
            app.post_whatsapp(&body, Some(sig.clone())),
            app.post_whatsapp(&body, Some(sig.clone()))
        );
        assert_eq!([a.status(), b.status(), c.status()], [200, 200, 200]);
        app.drain().await;
    }
    let sent = whatsapp_texts(&app).await;
    assert_answered_once_and_booked_once(&app, &WHATSAPP_DIALOGUE, &sent).await;
    app.finish().await;
}

const SMS_DIALOGUE: Expect = Expect {
    slug: HARBOUR,
    turns: &[
        (
            "Hi, I'd like to book a sports massage with Mei, anytime next week",
            "I have: 1) ",
        ),
        ("the first one", "To book it, please tell me your full name"),
        (
            "Zebulon Quixote",
            "You're booked: Sports massage with Mei Chen",
        ),
    ],
    phone: "+64215550142",
};

async fn an_sms_booking_dialogue_delivered_three_times_at_once_books_once(app: ChannelApp) {
    mount_twilio_ok(&app.fake).await;
    let from = SMS_DIALOGUE.phone;
    for (i, (text, _)) in SMS_DIALOGUE.turns.iter().enumerate() {
        app.clock.advance(SignedDuration::from_secs(30));
        let sid = format!("SMbook{i}");
        let params = [
            ("MessageSid", sid.as_str()),
            ("From", from),
            ("To", TWILIO_NUMBER),
            ("Body", text),
        ];
        let (a, b, c) = tokio::join!(
            app.post_twilio(&params),
            app.post_twilio(&params),
            app.post_twilio(&params)
        );
        assert_eq!([a.status(), b.status(), c.status()], [200, 200, 200]);
        app.drain().await;
    }
    let sent = app.texts_to(from).await;
    assert_answered_once_and_booked_once(&app, &SMS_DIALOGUE, &sent).await;
    app.finish().await;
}

/// A TCP proxy on loopback between the app and PostgreSQL that plays a database outage:
/// [`stop`](Self::stop) closes its port (new connections are refused) and cuts every open
/// connection; [`start`](Self::start) listens on the same port again.
struct DbProxy {
    addr: std::net::SocketAddr,
    upstream: String,
    acceptor: Option<tokio::task::JoinHandle<()>>,
    links: Arc<std::sync::Mutex<Vec<tokio::task::JoinHandle<()>>>>,
}

impl DbProxy {
    async fn new(upstream: String) -> DbProxy {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let mut proxy = DbProxy {
            addr: listener.local_addr().unwrap(),
            upstream,
            acceptor: None,
            links: Arc::default(),
        };
        proxy.serve(listener);
        proxy
    }

    fn serve(&mut self, listener: tokio::net::TcpListener) {
        let (upstream, links) = (self.upstream.clone(), self.links.clone());
        self.acceptor = Some(tokio::spawn(async move {
            while let Ok((mut client, _)) = listener.accept().await {
                let upstream = upstream.clone();
                let link = tokio::spawn(async move {
                    if let Ok(mut server) = tokio::net::TcpStream::connect(&upstream).await {
                        let _ = tokio::io::copy_bidirectional(&mut client, &mut server).await;
                    }
                });
                links.lock().unwrap().push(link);
            }
        }));
    }

    /// The database "stops": once this returns, the port is closed and every connection
    /// through the proxy is cut (both sockets dropped).
    async fn stop(&mut self) {
        if let Some(acceptor) = self.acceptor.take() {
            acceptor.abort();
            let _ = acceptor.await;
        }
        let links: Vec<_> = self.links.lock().unwrap().drain(..).collect();
        for link in links {
            link.abort();
            let _ = link.await;
        }
    }

    /// The database is back, at the same address.
    async fn start(&mut self) {
        let listener = tokio::net::TcpListener::bind(self.addr).await.unwrap();
        self.serve(listener);
    }
}

/// Polls `sql` (a count of the app role's sessions, the role bound as `$1`) until it answers
/// `want`: bounded, and what is awaited is PostgreSQL's state, not a duration.
async fn wait_for_count(conn: &mut sqlx::PgConnection, sql: &'static str, want: i64) {
    for _ in 0..1500 {
        let (n,): (i64,) = sqlx::query_as(sql)
            .bind(frontdesk_store::testing::TEST_APP_ROLE)
            .fetch_one(&mut *conn)
            .await
            .unwrap();
        if n == want {
            return;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    panic!("never reached {want}: {sql}");
}

/// Asserts a 503 that tells the provider to retry: `Retry-After` and the JSON error shape.
async fn assert_retry_later(resp: reqwest::Response) {
    assert!(resp.headers().contains_key("retry-after"), "{resp:?}");
    crate::harness::assert_error(resp, 503, "unavailable").await;
}

/// The app's own PostgreSQL sessions on this database (the app role's, not the test's).
const APP_SESSIONS: &str = "SELECT count(*) FROM pg_stat_activity \
     WHERE datname = current_database() AND usename = $1";
/// An app session waiting for the lock on a clinic's audit chain head.
const APP_WAITING_FOR_THE_AUDIT_HEAD: &str = "SELECT count(*) FROM pg_stat_activity \
     WHERE datname = current_database() AND usename = $1 AND wait_event_type = 'Lock' \
     AND query LIKE 'UPDATE audit_heads%'";

/// Committed rows of every inbound turn of a clinic, read as the owner: (inbound messages,
/// reply jobs, `message.received` audit entries, patients, conversations).
async fn turn_rows(conn: &mut sqlx::PgConnection, tenant: uuid::Uuid) -> [i64; 5] {
    let mut out = [0; 5];
    for (i, sql) in [
        "SELECT count(*) FROM messages WHERE tenant_id = $1 AND direction = 'inbound'",
        "SELECT count(*) FROM jobs WHERE tenant_id = $1 AND idempotency_key LIKE 'reply:%'",
        "SELECT count(*) FROM audit_log WHERE tenant_id = $1 AND action = 'message.received'",
        "SELECT count(*) FROM patients WHERE tenant_id = $1",
        "SELECT count(*) FROM conversations WHERE tenant_id = $1",
    ]
    .into_iter()
    .enumerate()
    {
        (out[i],) = sqlx::query_as(sql)
            .bind(tenant)
            .fetch_one(&mut *conn)
            .await
            .unwrap();
    }
    out
}

/// The audit chain of a clinic has no gap and no broken link, and its head is its last entry.
async fn assert_audit_chain_whole(app: &ChannelApp, conn: &mut sqlx::PgConnection, slug: &str) {
    let scope = app.scope(slug).await;
    let entries = app.store.audit_entries(scope, 0, 10_000).await.unwrap();
    for (i, pair) in entries.windows(2).enumerate() {
        assert_eq!(pair[1].seq, pair[0].seq + 1, "gap after entry {i}");
        assert_eq!(
            pair[1].prev_hash, pair[0].hash,
            "broken link after entry {i}"
        );
    }
    let (seq, hash): (i64, Vec<u8>) =
        sqlx::query_as("SELECT seq, hash FROM audit_heads WHERE tenant_id = $1")
            .bind(scope.tenant_id().as_uuid())
            .fetch_one(&mut *conn)
            .await
            .unwrap();
    let last = entries.last().unwrap();
    assert_eq!((seq, &hash), (last.seq, &last.hash));
}

/// PostgreSQL only: an embedded SQLite file has no server to stop, no connections to cut and
/// no port to refuse (a full or unreadable disk is another failure, not this one).
#[tokio::test]
async fn postgres_outage_answers_503_writes_no_half_turn_and_recovers_without_restart() {
    use sqlx::Connection as _;
    let Some(db) = crate::harness::test_db(Engine::Postgres).await else {
        return;
    };
    let pg: sqlx::postgres::PgConnectOptions = db.cfg.url.parse().unwrap();
    let mut proxy = DbProxy::new(format!("{}:{}", pg.get_host(), pg.get_port())).await;
    let cfg = db.cfg_via(&proxy.addr.to_string());
    let app = spawn_on(db, &cfg).await;
    mount_graph_ok(&app.fake).await;
    mount_twilio_ok(&app.fake).await;
    let owner_url = app.db.owner_url.clone().unwrap();
    let mut owner = sqlx::PgConnection::connect(&owner_url).await.unwrap();
    let nairobi = app.scope(NAIROBI).await.tenant_id().as_uuid();
    let harbour = app.scope(HARBOUR).await.tenant_id().as_uuid();
    let patient = "254711000001";

    // Before: a first message, answered (so the next one is an ordinary turn).
    let hello = wa_text("wamid.UP1", patient, "Hello");
    let r = app
        .post_whatsapp(&hello, Some(wa_signature(APP_SECRET, &hello)))
        .await;
    assert_eq!(r.status(), 200);
    app.drain().await;
    let before = turn_rows(&mut owner, nairobi).await;
    assert_eq!(before, [1, 1, 1, 1, 1]);

    // The database dies in the middle of a turn: the turn's transaction has written its
    // message and job and waits on the audit chain's head (held here), when every connection
    // is cut and the port closes.
    let mut holder = sqlx::PgConnection::connect(&owner_url).await.unwrap();
    let mut held = holder.begin().await.unwrap();
    sqlx::query("SELECT seq FROM audit_heads WHERE tenant_id = $1 FOR UPDATE")
        .bind(nairobi)
        .execute(&mut *held)
        .await
        .unwrap();
    let cut = wa_text("wamid.CUT", patient, "Do you have parking?");
    let cut_sig = wa_signature(APP_SECRET, &cut);
    let in_flight = tokio::spawn(
        app.client
            .post(format!("{}/webhooks/whatsapp", app.base))
            .header("x-hub-signature-256", cut_sig.clone())
            .body(cut.clone())
            .send(),
    );
    wait_for_count(&mut owner, APP_WAITING_FOR_THE_AUDIT_HEAD, 1).await;
    proxy.stop().await;
    assert_retry_later(in_flight.await.unwrap().unwrap()).await;
    held.rollback().await.unwrap();
    // The cut session ends without committing (PostgreSQL rolls back a session whose client
    // has gone), and nothing connects again while the port is closed.
    wait_for_count(&mut owner, APP_SESSIONS, 0).await;

    // While down: new deliveries on both providers are refused with 503 + Retry-After so the
    // providers retry, readiness fails, and a worker pass fails without doing anything.
    let down = wa_text("wamid.DOWN", patient, "What time do you open?");
    let sms = [
        ("MessageSid", "SMdown"),
        ("From", "+64215550143"),
        ("To", TWILIO_NUMBER),
        ("Body", "Do you take ACC claims?"),
    ];
    let (wa, tw, ready, pass) = tokio::join!(
        app.post_whatsapp(&down, Some(wa_signature(APP_SECRET, &down))),
        app.post_twilio(&sms),
        app.client.get(format!("{}/readyz", app.base)).send(),
        app.worker.run_once(),
    );
    assert_retry_later(wa).await;
    assert_retry_later(tw).await;
    assert_eq!(ready.unwrap().status(), 503);
    assert!(pass.is_err(), "{pass:?}");
    assert_eq!(
        turn_rows(&mut owner, nairobi).await,
        before,
        "no half-written turn: no message without its job or audit entry"
    );
    assert_eq!(turn_rows(&mut owner, harbour).await, [0; 5]);

    // The database is back; the app was never restarted. Each provider retries its delivery
    // (the pool may take a moment to reconnect: bounded polling, no timing asserted).
    proxy.start().await;
    let mut status = 0;
    for _ in 0..50 {
        status = app
            .post_whatsapp(&cut, Some(cut_sig.clone()))
            .await
            .status()
            .as_u16();
        if status == 200 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(
        status, 200,
        "the retried delivery is accepted after recovery"
    );
    let r = app
        .post_whatsapp(&down, Some(wa_signature(APP_SECRET, &down)))
        .await;
    assert_eq!(r.status(), 200);
    assert_eq!(app.post_twilio(&sms).await.status(), 200);
    let ready = app
        .client
        .get(format!("{}/readyz", app.base))
        .send()
        .await
        .unwrap();
    assert_eq!(ready.status(), 200);
    // A further redelivery of the interrupted message is a no-op.
    let again = app.post_whatsapp(&cut, Some(cut_sig)).await;
    assert_eq!(again.status(), 200);
    assert_eq!(turn_rows(&mut owner, nairobi).await, [3, 3, 3, 1, 1]);
    assert_eq!(turn_rows(&mut owner, harbour).await, [1, 1, 1, 1, 1]);

    // Every reply is delivered, each exactly once.
    app.drain().await;
    let texts = whatsapp_texts(&app).await;
    let scope = app.scope(NAIROBI).await;
    let outbox = app.store.outbox_entries(scope, 100).await.unwrap();
    assert_eq!(
        outbox.len(),
        4,
        "notice + one answer per message: {texts:?}"
    );
    assert!(
        outbox.iter().all(|o| o.status == "sent" && o.attempts == 1),
        "{outbox:?}"
    );
    assert_eq!(texts.len(), outbox.len(), "each reply sent once: {texts:?}");
    let conv = only_conversation(&app, NAIROBI).await;
    let inbound: Vec<String> = app
        .store
        .messages(scope, conv)
        .await
        .unwrap()
        .into_iter()
        .filter(|m| m.direction == Direction::Inbound)
        .map(|m| m.body)
        .collect();
    assert_eq!(
        inbound,
        ["Hello", "Do you have parking?", "What time do you open?"]
    );
    let sms_replies = app.texts_to("+64215550143").await;
    assert_eq!(sms_replies.len(), 2, "notice + answer: {sms_replies:?}");
    let harbour_outbox = app
        .store
        .outbox_entries(app.scope(HARBOUR).await, 100)
        .await
        .unwrap();
    assert!(
        harbour_outbox
            .iter()
            .all(|o| o.status == "sent" && o.attempts == 1),
        "{harbour_outbox:?}"
    );
    assert_audit_chain_whole(&app, &mut owner, NAIROBI).await;
    assert_audit_chain_whole(&app, &mut owner, HARBOUR).await;
    owner.close().await.unwrap();
    holder.close().await.unwrap();
    app.finish().await;
}
