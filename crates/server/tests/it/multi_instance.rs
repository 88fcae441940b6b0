//! Three real `frontdesk serve` processes on one PostgreSQL database (#12 item 1), PostgreSQL
//! only: signed WhatsApp webhooks from 150 new patients, sent round-robin across the three;
//! replies go to a fake Graph API (wiremock on loopback) that records every send. Midway, one
//! instance is killed with SIGKILL while it holds work; the other two take its jobs and
//! outbound messages over once their lease (`job_lease_seconds`, 4 s here) has run out.
//!
//! Checked afterwards, from the database (as its owner) and the fake's records: every
//! acknowledged message is stored once; there is one reply job per message, and every job and
//! outbound message is finished; every reply the agent wrote reached the provider exactly once,
//! except that one whose send the killed process had in flight may have gone twice (the one
//! window no provider lets us close: see docs/RELIABILITY.md); the killed instance's rows were
//! finished by the others; the clinic's send rate held over the three instances together (one
//! bucket in the database); each daily maintenance pass ran once, not three times, and the
//! scheduled backup once over the two instances that have `backup_dir`; and
//! `frontdesk audit verify --all` finds every audit chain intact.
//!
//! Without PostgreSQL the test says so loudly and passes, unless `FRONTDESK_REQUIRE_PG` (or
//! `CI`) is set: then it fails.

use frontdesk_domain::{E164Phone, SystemClock, TenantSlug};
use frontdesk_server::channels::GraphClient;
use frontdesk_server::demo::channels::{
    WHATSAPP_APP_SECRET, WHATSAPP_CLINIC, WHATSAPP_PHONE_NUMBER_ID,
};
use frontdesk_store::crypto::{Keyring, MasterKey};
use frontdesk_store::testing::TestDb;
use frontdesk_store::{Direction, Store};
use hmac::{Hmac, KeyInit, Mac};
use sqlx::{Connection, PgConnection};
use std::collections::{BTreeMap, BTreeSet};
use std::io::BufRead;
use std::process::{Child, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use wiremock::{Mock, MockServer, Request, ResponseTemplate, matchers};

const PATIENTS: usize = 150;
const LEASE_SECONDS: &str = "4";
/// The clinic's outbound rate, shared by the three instances.
const PER_SECOND: usize = 25;
/// How long the fake Graph API takes to answer: sends are in flight when the kill comes.
const GRAPH_DELAY: Duration = Duration::from_millis(150);

/// One send the fake Graph API received: when, to whom, which text.
type Sent = (Instant, String, String);

/// The three `serve` processes; killed when the test ends, however it ends.
struct Instances(Vec<Child>);

impl Drop for Instances {
    fn drop(&mut self) {
        for c in &mut self.0 {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

fn patient_phone(i: usize) -> String {
    format!("2547{:08}", 11_000_000 + i)
}

fn whatsapp_webhook(i: usize) -> String {
    let from = patient_phone(i);
    serde_json::json!({
        "object": "whatsapp_business_account",
        "entry": [{ "id": "WABA1", "changes": [{ "field": "messages", "value": {
            "messaging_product": "whatsapp",
            "metadata": { "display_phone_number": "254700000100", "phone_number_id": WHATSAPP_PHONE_NUMBER_ID },
            "contacts": [{ "profile": { "name": "Patient" }, "wa_id": from }],
            "messages": [{ "from": from, "id": format!("wamid.MULTI{i}"), "timestamp": "1764547200",
                           "type": "text", "text": { "body": "Hi, when are you open on Saturday?" } }]
        }}]}]
    })
    .to_string()
}

/// `X-Hub-Signature-256` as Meta computes it: HMAC-SHA256 of the raw body with the app secret.
fn signature(body: &str) -> String {
    let mut mac = Hmac::<sha2::Sha256>::new_from_slice(WHATSAPP_APP_SECRET.as_bytes()).unwrap();
    mac.update(body.as_bytes());
    let hex: String = mac
        .finalize()
        .into_bytes()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    format!("sha256={hex}")
}

/// The master key the three instances read from `dir`, and a keyring of it for the test.
fn master_key(dir: &std::path::Path) -> Keyring {
    use std::os::unix::fs::OpenOptionsExt;
    let key = MasterKey::generate("k1");
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(dir.join("master.key"))
        .unwrap();
    std::io::Write::write_all(&mut f, key.export().as_bytes()).unwrap();
    Keyring::new(key, vec![])
}

/// A fake Graph API that accepts every send after [`GRAPH_DELAY`] and records it.
async fn fake_graph(sent: Arc<Mutex<Vec<Sent>>>) -> MockServer {
    let fake = MockServer::start().await;
    let path = format!(
        "/{}/{WHATSAPP_PHONE_NUMBER_ID}/messages",
        GraphClient::DEFAULT_API_VERSION
    );
    Mock::given(matchers::method("POST"))
        .and(matchers::path(path))
        .and(matchers::header(
            "authorization",
            "Bearer demo-access-token",
        ))
        .respond_with(move |req: &Request| {
            let v: serde_json::Value = serde_json::from_slice(&req.body).unwrap_or_default();
            let to = v["to"].as_str().unwrap_or_default().trim_start_matches('+');
            let text = v["text"]["body"].as_str().unwrap_or_default();
            let mut sent = sent.lock().unwrap();
            sent.push((Instant::now(), to.to_owned(), text.to_owned()));
            ResponseTemplate::new(200)
                .set_body_json(serde_json::json!({
                    "messaging_product": "whatsapp",
                    "contacts": [{ "input": to, "wa_id": to }],
                    "messages": [{ "id": format!("wamid.OUT{}", sent.len()) }]
                }))
                .set_delay(GRAPH_DELAY)
        })
        .mount(&fake)
        .await;
    fake
}

/// Starts one `serve` on a loopback port of its choosing, taking scheduled backups into
/// `backups` if given; answers it and its base URL.
fn start_serve(
    db: &TestDb,
    dir: &std::path::Path,
    graph: &str,
    backups: Option<&std::path::Path>,
) -> (Child, String) {
    let mut cmd = crate::cli::frontdesk(&["serve", "--data-dir", dir.to_str().unwrap()]);
    if let Some(b) = backups {
        cmd.env("FRONTDESK_BACKUP_DIR", b);
    }
    cmd.env("FRONTDESK_DATABASE_URL", &db.cfg.url)
        .env(
            "FRONTDESK_DATABASE_OWNER_URL",
            db.owner_url.as_deref().unwrap(),
        )
        .env("FRONTDESK_LISTEN", "127.0.0.1:0")
        .env("FRONTDESK_WHATSAPP_API_BASE", graph)
        .env("FRONTDESK_JOB_LEASE_SECONDS", LEASE_SECONDS)
        .env("FRONTDESK_PROVIDER_TIMEOUT_SECONDS", "2")
        .env("FRONTDESK_OUTBOUND_PER_SECOND", PER_SECOND.to_string())
        .env("FRONTDESK_LOG_LEVEL", "warn,frontdesk=info")
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
    let mut child = cmd.spawn().unwrap();
    let stderr = child.stderr.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel::<String>();
    // Reads the log to its end, so that a full pipe never blocks the server.
    std::thread::spawn(move || {
        for line in std::io::BufReader::new(stderr)
            .lines()
            .map_while(Result::ok)
        {
            if line.contains("frontdesk serving") {
                let v: serde_json::Value = serde_json::from_str(&line).unwrap_or_default();
                let _ = tx.send(v["addr"].as_str().unwrap_or_default().to_owned());
            } else if line.contains("\"ERROR\"") || line.contains("panicked") {
                eprintln!("serve {}: {line}", std::process::id());
            }
        }
    });
    let Ok(addr) = rx.recv_timeout(Duration::from_secs(60)) else {
        let _ = child.kill();
        panic!("serve did not start");
    };
    (child, format!("http://{addr}"))
}

/// Posts patient `i`'s webhook to instance `i % 3`, and on to the next instance while one
/// does not answer 200 (as a load balancer, and Meta's retries, would). Answers when it was
/// acknowledged.
async fn deliver(client: &reqwest::Client, bases: &[String], i: usize) {
    let body = whatsapp_webhook(i);
    let sig = signature(&body);
    for attempt in 0..30 {
        let base = &bases[(i + attempt) % bases.len()];
        let r = client
            .post(format!("{base}/webhooks/whatsapp"))
            .header("content-type", "application/json")
            .header("x-hub-signature-256", &sig)
            .body(body.clone())
            .timeout(Duration::from_secs(10))
            .send()
            .await;
        if matches!(&r, Ok(r) if r.status() == 200) {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("message {i} was never acknowledged");
}

/// Rows the process with `pid` holds: (running job ids, sending outbox ids).
async fn held_by(owner: &mut PgConnection, pid: u32) -> (Vec<uuid::Uuid>, Vec<uuid::Uuid>) {
    let worker = format!("worker-{pid}-%");
    let jobs =
        sqlx::query_scalar("SELECT id FROM jobs WHERE status = 'running' AND locked_by LIKE $1")
            .bind(&worker)
            .fetch_all(&mut *owner)
            .await
            .unwrap();
    let outbox =
        sqlx::query_scalar("SELECT id FROM outbox WHERE status = 'sending' AND locked_by LIKE $1")
            .bind(&worker)
            .fetch_all(&mut *owner)
            .await
            .unwrap();
    (jobs, outbox)
}

/// Waits (bounded) until every job is done and every outbound message sent.
async fn settled(owner: &mut PgConnection) {
    let until = Instant::now() + Duration::from_secs(45);
    loop {
        let (open,): (i64,) = sqlx::query_as(
            "SELECT (SELECT count(*) FROM jobs WHERE status <> 'done') + \
                    (SELECT count(*) FROM outbox WHERE status <> 'sent')",
        )
        .fetch_one(&mut *owner)
        .await
        .unwrap();
        if open == 0 {
            return;
        }
        assert!(
            Instant::now() < until,
            "{open} jobs or outbound messages never finished"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_serve_instances_share_the_work_once_and_finish_a_killed_ones_jobs() {
    let Some(db) = TestDb::postgres().await.unwrap() else {
        eprintln!(
            "SKIPPED three_serve_instances…: no PostgreSQL. Set FRONTDESK_REQUIRE_PG=1 to make this a failure."
        );
        return;
    };
    let started = Instant::now();
    frontdesk_server::channels::install_crypto_provider();
    let dir = tempfile::tempdir().unwrap();
    let keyring = master_key(dir.path());
    let store = db.open(keyring, Arc::new(SystemClock)).await.unwrap();
    frontdesk_server::demo::seed(store.as_ref()).await.unwrap();
    frontdesk_server::demo::channels::seed(store.as_ref())
        .await
        .unwrap();
    let sent = Arc::new(Mutex::new(Vec::<Sent>::new()));
    let fake = fake_graph(sent.clone()).await;

    let mut instances = Instances(Vec::new());
    let mut bases = Vec::new();
    // The two that survive also take scheduled backups, into one shared directory.
    let backups = dir.path().join("backups");
    for n in 0..3 {
        let (child, base) = start_serve(&db, dir.path(), &fake.uri(), (n > 0).then_some(&*backups));
        instances.0.push(child);
        bases.push(base);
    }
    let victim = instances.0[0].id();
    let mut owner = PgConnection::connect(db.owner_url.as_deref().unwrap())
        .await
        .unwrap();

    // Traffic: eight senders, round-robin over the three instances.
    let client = reqwest::Client::new();
    let next = Arc::new(AtomicUsize::new(0));
    let acked = Arc::new(AtomicUsize::new(0));
    let senders: Vec<_> = (0..8)
        .map(|_| {
            let (client, bases, next, acked) =
                (client.clone(), bases.clone(), next.clone(), acked.clone());
            tokio::spawn(async move {
                loop {
                    let i = next.fetch_add(1, Ordering::SeqCst);
                    if i >= PATIENTS {
                        return;
                    }
                    deliver(&client, &bases, i).await;
                    acked.fetch_add(1, Ordering::SeqCst);
                }
            })
        })
        .collect();

    // Mid-traffic, SIGKILL the first instance at a moment it holds work.
    let deadline = Instant::now() + Duration::from_secs(30);
    while acked.load(Ordering::SeqCst) < PATIENTS / 3 {
        assert!(Instant::now() < deadline, "traffic stalled");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    loop {
        let (jobs, outbox) = held_by(&mut owner, victim).await;
        if !jobs.is_empty() || !outbox.is_empty() {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the first instance never held any work"
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    instances.0[0].kill().unwrap();
    instances.0[0].wait().unwrap();
    let killed_at = acked.load(Ordering::SeqCst);
    let (held_jobs, held_outbox) = held_by(&mut owner, victim).await;
    assert!(
        !held_jobs.is_empty() || !held_outbox.is_empty(),
        "killed while holding work"
    );
    for s in senders {
        s.await.unwrap();
    }
    assert_eq!(acked.load(Ordering::SeqCst), PATIENTS);
    settled(&mut owner).await;
    let settled_after = started.elapsed();

    check_stored_once_and_one_job_each(&mut owner).await;
    check_killed_work_finished_by_others(&mut owner, victim, &held_jobs, &held_outbox).await;
    let twice = check_each_reply_sent_once(&mut owner, store.as_ref(), &sent, &held_outbox).await;
    check_shared_send_rate(&sent);
    check_daily_passes_ran_once(&mut owner).await;
    let mut files: Vec<String> = std::fs::read_dir(&backups)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    files.sort();
    assert!(
        files.len() == 2 && files[0].ends_with(".enc") && files[1].ends_with(".json"),
        "one scheduled backup over the two instances that take them: {files:?}"
    );

    let out = crate::cli::frontdesk(&[
        "audit",
        "verify",
        "--all",
        "--data-dir",
        dir.path().to_str().unwrap(),
    ])
    .env("FRONTDESK_DATABASE_URL", &db.cfg.url)
    .output()
    .unwrap();
    let (ok, text, err) = crate::cli::outcome(out);
    assert!(
        ok && text.matches(", intact (head seq ").count() == 2,
        "{text}{err}"
    );

    drop(instances);
    owner.close().await.unwrap();
    db.cleanup().await;
    eprintln!(
        "three instances: {PATIENTS} messages, instance 1 killed after {killed_at} acknowledgements holding \
         {} jobs and {} outbound messages; {} replies sent, {twice} of them twice; settled after {:.1} s, \
         whole test {:.1} s",
        held_jobs.len(),
        held_outbox.len(),
        sent.lock().unwrap().len(),
        settled_after.as_secs_f64(),
        started.elapsed().as_secs_f64()
    );
}

/// Every acknowledged message is stored exactly once, with exactly one reply job, done.
async fn check_stored_once_and_one_job_each(owner: &mut PgConnection) {
    let stored: Vec<(String, i64)> = sqlx::query_as(
        "SELECT provider_message_id, count(*) FROM messages WHERE direction = 'inbound' \
         GROUP BY provider_message_id ORDER BY 1",
    )
    .fetch_all(&mut *owner)
    .await
    .unwrap();
    let want: BTreeSet<String> = (0..PATIENTS).map(|i| format!("wamid.MULTI{i}")).collect();
    let got: BTreeSet<String> = stored.iter().map(|(id, _)| id.clone()).collect();
    assert_eq!(got, want, "every acknowledged message is stored");
    assert!(
        stored.iter().all(|(_, n)| *n == 1),
        "stored once: {stored:?}"
    );
    let jobs: Vec<(Option<String>, i64, i64)> = sqlx::query_as(
        "SELECT payload->>'message', count(*), count(*) FILTER (WHERE status = 'done') FROM jobs \
         WHERE kind = 'reply' GROUP BY 1",
    )
    .fetch_all(&mut *owner)
    .await
    .unwrap();
    assert_eq!(jobs.len(), PATIENTS, "one reply job per message");
    assert!(
        jobs.iter()
            .all(|(m, n, done)| m.is_some() && *n == 1 && *done == 1),
        "no duplicate jobs, all done: {jobs:?}"
    );
}

/// What the killed process held was finished by the two others, after its lease ran out.
async fn check_killed_work_finished_by_others(
    owner: &mut PgConnection,
    victim: u32,
    jobs: &[uuid::Uuid],
    outbox: &[uuid::Uuid],
) {
    let dead = format!("worker-{victim}-");
    for id in jobs {
        let (status, by, attempts): (String, Option<String>, i32) =
            sqlx::query_as("SELECT status, locked_by, attempts FROM jobs WHERE id = $1")
                .bind(id)
                .fetch_one(&mut *owner)
                .await
                .unwrap();
        assert_eq!(status, "done");
        assert!(attempts >= 2, "claimed again after the lease: {attempts}");
        let by = by.unwrap_or_default();
        assert!(by.starts_with("worker-") && !by.starts_with(&dead), "{by}");
    }
    for id in outbox {
        let (status, attempts): (String, i32) =
            sqlx::query_as("SELECT status, attempts FROM outbox WHERE id = $1")
                .bind(id)
                .fetch_one(&mut *owner)
                .await
                .unwrap();
        assert_eq!(status, "sent");
        assert!(attempts >= 2, "claimed again after the lease: {attempts}");
    }
}

/// Each patient got exactly the replies the agent wrote them, each once; only a reply whose
/// outbound row the killed process held may have reached the provider twice. Answers how
/// many went twice.
async fn check_each_reply_sent_once(
    owner: &mut PgConnection,
    store: &dyn Store,
    sent: &Mutex<Vec<Sent>>,
    held_outbox: &[uuid::Uuid],
) -> usize {
    let held_messages: BTreeSet<uuid::Uuid> = sqlx::query_scalar(
        "SELECT message_id FROM outbox WHERE id = ANY($1) AND message_id IS NOT NULL",
    )
    .bind(held_outbox)
    .fetch_all(&mut *owner)
    .await
    .unwrap()
    .into_iter()
    .collect();
    let mut received: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for (_, to, text) in sent.lock().unwrap().iter() {
        received.entry(to.clone()).or_default().push(text.clone());
    }
    let scope = store
        .operator_scope(&TenantSlug::parse(WHATSAPP_CLINIC).unwrap())
        .await
        .unwrap();
    let mut twice = 0;
    for i in 0..PATIENTS {
        let phone = patient_phone(i);
        let patient = store
            .find_patient_by_phone(scope, &E164Phone::parse(&format!("+{phone}")).unwrap())
            .await
            .unwrap()
            .expect("the patient was stored");
        let record = store.patient_record(scope, patient.id).await.unwrap();
        assert_eq!(record.conversations.len(), 1, "patient {i}");
        let messages = store
            .messages(scope, record.conversations[0].id)
            .await
            .unwrap();
        let replies: Vec<_> = messages
            .iter()
            .filter(|m| m.direction == Direction::Outbound)
            .collect();
        assert!(!replies.is_empty(), "patient {i} was answered");
        let mut got = received.remove(&phone).unwrap_or_default();
        for reply in &replies {
            let n = got.iter().filter(|t| **t == reply.body).count();
            let in_flight = held_messages.contains(&reply.id.as_uuid());
            assert!(
                n == 1 || (n == 2 && in_flight),
                "patient {i}: a reply reached the provider {n} times (in flight at the kill: {in_flight})"
            );
            twice += n - 1;
            for _ in 0..n {
                let at = got.iter().position(|t| *t == reply.body).unwrap();
                got.remove(at);
            }
        }
        assert!(
            got.is_empty(),
            "patient {i}: sends nobody wrote: {}",
            got.len()
        );
    }
    assert!(
        received.is_empty(),
        "sends to unknown numbers: {:?}",
        received.keys()
    );
    twice
}

/// The three instances together kept to the clinic's one rate: within any second, at most
/// the burst plus a second's worth (a little slack for the fake's own timing), where three
/// buckets in memory would have let through up to three times that.
fn check_shared_send_rate(sent: &Mutex<Vec<Sent>>) {
    let mut times: Vec<Instant> = sent.lock().unwrap().iter().map(|s| s.0).collect();
    times.sort();
    let mut busiest = 0;
    for (i, t) in times.iter().enumerate() {
        let within = times[i..]
            .iter()
            .take_while(|u| u.duration_since(*t) < Duration::from_secs(1))
            .count();
        busiest = busiest.max(within);
    }
    assert!(
        busiest <= 2 * PER_SECOND + PER_SECOND / 2,
        "{busiest} sends within one second at {PER_SECOND}/s over three instances"
    );
}

/// Each daily pass (and the scheduled backup, and the five-minute anomaly detection, well
/// within its first five minutes here) ran once over the instances, and nobody holds one.
async fn check_daily_passes_ran_once(owner: &mut PgConnection) {
    let runs: Vec<(String, Option<String>, i64)> =
        sqlx::query_as("SELECT name, holder, runs FROM maintenance_runs ORDER BY name")
            .fetch_all(&mut *owner)
            .await
            .unwrap();
    assert_eq!(
        runs,
        [
            ("anomaly_detection".to_owned(), None, 1),
            ("audit_checkpoints".to_owned(), None, 1),
            ("backup".to_owned(), None, 1),
            ("retention".to_owned(), None, 1),
            ("terminated_purge".to_owned(), None, 1),
        ]
    );
}
