//! Deliveries to a wiremock receiver on loopback (the loopback range allowlisted, as a
//! deployment would allowlist its own network): what the receiver gets and can verify, how
//! answers are classified, redirects re-checked and DNS rebinding refused at connect time.

use super::*;
use crate::outbound::event::EventData;
use crate::outbound::ranges::Allowlist;
use crate::outbound::resolver::StaticLookup;
use crate::outbound::sign::verify;
use frontdesk_domain::TenantSlug;
use std::net::IpAddr;
use std::str::FromStr;
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

fn ip(s: &str) -> IpAddr {
    IpAddr::from_str(s).unwrap()
}

fn loopback_policy() -> SsrfPolicy {
    SsrfPolicy {
        allowlist: Allowlist::parse(&["127.0.0.0/8"]).unwrap(),
        allow_http: false,
    }
}

fn client_with(lookup: StaticLookup, timeout: Duration) -> (WebhookClient, Arc<StaticLookup>) {
    let lookup = Arc::new(lookup);
    let client = WebhookClient::with_lookup(loopback_policy(), lookup.clone(), timeout).unwrap();
    (client, lookup)
}

fn client() -> WebhookClient {
    client_with(StaticLookup::new(), Duration::from_secs(5)).0
}

fn envelope() -> Envelope {
    Envelope::new(
        TenantSlug::parse("harbour-physio").unwrap(),
        EventData::Ping,
        Timestamp::now(),
    )
    .unwrap()
}

fn dest(server: &MockServer, p: &str) -> Destination {
    Destination::parse(&format!("{}{p}", server.uri())).unwrap()
}

fn secrets() -> Vec<WebhookSecret> {
    vec![WebhookSecret::generate()]
}

async fn answer(status: u16) -> (MockServer, Outcome) {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(status).insert_header("Retry-After", "120"))
        .mount(&server)
        .await;
    let outcome = deliver(
        &client(),
        &dest(&server, "/hook"),
        &envelope(),
        &secrets(),
        Timestamp::now(),
    )
    .await;
    (server, outcome)
}

#[tokio::test]
async fn the_receiver_gets_a_body_and_headers_it_can_verify() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/hook"))
        .respond_with(ResponseTemplate::new(204))
        .expect(1)
        .mount(&server)
        .await;
    let (current, old) = (WebhookSecret::generate(), WebhookSecret::generate());
    let env = envelope();
    let now = Timestamp::now();
    let outcome = deliver(
        &client(),
        &dest(&server, "/hook?token=abc"),
        &env,
        &[current.clone(), old.clone()],
        now,
    )
    .await;
    assert_eq!(outcome, Outcome::Delivered(204));
    let got = &server.received_requests().await.unwrap()[0];
    assert_eq!(
        got.body,
        env.to_body().unwrap(),
        "the stored body, byte for byte"
    );
    let header = |name: &str| got.headers.get(name).unwrap().to_str().unwrap().to_owned();
    let signature = header("frontdesk-signature");
    for held in [&current, &old] {
        assert_eq!(
            verify(&signature, &got.body, std::slice::from_ref(held), now),
            Ok(()),
            "a receiver holding either secret accepts it"
        );
    }
    assert_eq!(header("frontdesk-event-id"), env.id().to_string());
    assert_eq!(header("frontdesk-event-type"), "ping");
    assert_eq!(header("content-type"), "application/json");
    assert_eq!(
        header("user-agent"),
        concat!("frontdesk-webhooks/", env!("CARGO_PKG_VERSION"))
    );
    assert_eq!(got.url.query(), Some("token=abc"));
}

#[tokio::test]
async fn answers_are_classified_as_delivered_retryable_or_permanent() {
    assert_eq!(answer(200).await.1, Outcome::Delivered(200));
    let retry = Some(Duration::from_secs(120));
    for status in [500, 502, 503, 429, 408] {
        assert_eq!(
            answer(status).await.1,
            Outcome::Retryable(Failure::Http {
                status,
                retry_after: retry
            }),
            "{status}"
        );
    }
    for status in [400, 401, 403, 404, 410, 413, 422, 300, 304] {
        let (_, outcome) = answer(status).await;
        assert!(
            matches!(outcome, Outcome::Permanent(Failure::Http { status: s, .. }) if s == status),
            "{status}: {outcome:?}"
        );
        assert_eq!(outcome.code(), "http_status");
        assert_eq!(outcome.status(), Some(status));
    }
}

#[tokio::test]
async fn a_slow_receiver_is_a_retryable_timeout() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(200).set_delay(Duration::from_secs(5)))
        .mount(&server)
        .await;
    let (client, _) = client_with(StaticLookup::new(), Duration::from_millis(200));
    let outcome = deliver(
        &client,
        &dest(&server, "/"),
        &envelope(),
        &secrets(),
        Timestamp::now(),
    )
    .await;
    assert_eq!(outcome, Outcome::Retryable(Failure::Timeout));
}

#[tokio::test]
async fn a_closed_port_is_a_retryable_connect_failure() {
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let d = Destination::parse(&format!("http://127.0.0.1:{port}/hook")).unwrap();
    let outcome = deliver(&client(), &d, &envelope(), &secrets(), Timestamp::now()).await;
    assert_eq!(outcome, Outcome::Retryable(Failure::Connect));
}

#[tokio::test]
async fn nothing_is_sent_unsigned() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(200))
        .expect(0)
        .mount(&server)
        .await;
    let outcome = deliver(
        &client(),
        &dest(&server, "/"),
        &envelope(),
        &[],
        Timestamp::now(),
    )
    .await;
    assert_eq!(outcome, Outcome::Permanent(Failure::NoSecret));
}

#[tokio::test]
async fn refused_destinations_are_permanent_and_never_contacted() {
    let (client, _) = client_with(
        StaticLookup::new().with("intranet.clinic.test", &[ip("10.0.0.1")]),
        Duration::from_secs(2),
    );
    let cases = [
        ("https://10.0.0.1/hook", "address_refused"),
        ("https://[::ffff:169.254.169.254]/", "address_refused"),
        ("https://intranet.clinic.test/", "address_refused"),
        ("http://93.184.216.34/", "scheme_not_allowed"),
        ("https://93.184.216.34:25/", "port_not_allowed"),
    ];
    for (url, code) in cases {
        let d = Destination::parse(url).unwrap();
        let outcome = deliver(&client, &d, &envelope(), &secrets(), Timestamp::now()).await;
        assert!(
            matches!(outcome, Outcome::Permanent(_)),
            "{url}: {outcome:?}"
        );
        assert_eq!(outcome.code(), code, "{url}");
    }
    let d = Destination::parse("https://unknown.clinic.test/").unwrap();
    let outcome = deliver(&client, &d, &envelope(), &secrets(), Timestamp::now()).await;
    assert_eq!(
        outcome,
        Outcome::Retryable(Failure::Destination(SsrfError::Dns)),
        "a name that does not resolve may resolve later"
    );
}

#[tokio::test]
async fn connections_use_the_checked_resolver() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(200))
        .expect(1)
        .mount(&server)
        .await;
    let port = server.address().port();
    let (client, lookup) = client_with(
        StaticLookup::new().with("hooks.clinic.test", &[ip("127.0.0.1")]),
        Duration::from_secs(5),
    );
    let d = Destination::parse(&format!("http://hooks.clinic.test:{port}/hook")).unwrap();
    let outcome = deliver(&client, &d, &envelope(), &secrets(), Timestamp::now()).await;
    assert_eq!(outcome, Outcome::Delivered(200));
    assert_eq!(
        lookup.calls("hooks.clinic.test"),
        2,
        "once to validate, once by the client to connect"
    );
}

#[tokio::test]
async fn dns_rebinding_between_the_check_and_the_connection_is_refused() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(200))
        .expect(0)
        .mount(&server)
        .await;
    let port = server.address().port();
    // First answer permitted (allowlisted loopback), the second private and not allowlisted.
    let (client, lookup) = client_with(
        StaticLookup::new().with_sequence(
            "rebind.clinic.test",
            vec![vec![ip("127.0.0.1")], vec![ip("10.0.0.1")]],
        ),
        Duration::from_secs(2),
    );
    let d = Destination::parse(&format!("http://rebind.clinic.test:{port}/")).unwrap();
    let outcome = deliver(&client, &d, &envelope(), &secrets(), Timestamp::now()).await;
    assert_eq!(
        outcome,
        Outcome::Permanent(Failure::Destination(SsrfError::Refused {
            ip: ip("10.0.0.1"),
            refusal: Refusal::Private
        }))
    );
    assert_eq!(lookup.calls("rebind.clinic.test"), 2);

    // The classic form: public when checked, the metadata service when connecting.
    let (client, _) = client_with(
        StaticLookup::new().with_sequence(
            "public.clinic.test",
            vec![vec![ip("93.184.216.34")], vec![ip("169.254.169.254")]],
        ),
        Duration::from_secs(2),
    );
    let d = Destination::parse("https://public.clinic.test/hook").unwrap();
    let outcome = deliver(&client, &d, &envelope(), &secrets(), Timestamp::now()).await;
    assert_eq!(outcome.code(), "address_refused");
    assert!(matches!(
        outcome,
        Outcome::Permanent(Failure::Destination(SsrfError::Refused {
            refusal: Refusal::CloudMetadata,
            ..
        }))
    ));
}

#[tokio::test]
async fn a_url_permitted_by_the_allowlist_cannot_rebind_to_the_internet() {
    // Plain http on a high port is permitted only because the name resolved into the
    // allowlist; at connect time it answers with a public address.
    let (client, lookup) = client_with(
        StaticLookup::new().with_sequence(
            "bridge.clinic.test",
            vec![vec![ip("127.0.0.1")], vec![ip("93.184.216.34")]],
        ),
        Duration::from_secs(2),
    );
    let d = Destination::parse("http://bridge.clinic.test:8080/hook").unwrap();
    let outcome = deliver(&client, &d, &envelope(), &secrets(), Timestamp::now()).await;
    assert_eq!(
        outcome,
        Outcome::Permanent(Failure::Destination(SsrfError::NotAllowlisted {
            ip: ip("93.184.216.34")
        }))
    );
    assert_eq!(outcome.code(), "address_not_allowlisted");
    assert_eq!(lookup.calls("bridge.clinic.test"), 2);
}

async fn redirecting_to(location: &str) -> MockServer {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/hook"))
        .respond_with(ResponseTemplate::new(302).insert_header("Location", location))
        .mount(&server)
        .await;
    server
}

#[tokio::test]
async fn redirects_to_refused_addresses_are_not_followed() {
    let (client, lookup) = client_with(
        StaticLookup::new().with("intranet.clinic.test", &[ip("10.0.0.1")]),
        Duration::from_secs(2),
    );
    let cases = [
        (
            "http://169.254.169.254/latest/meta-data/",
            Refusal::CloudMetadata,
        ),
        ("http://[fd00:ec2::254]/latest/", Refusal::CloudMetadata),
        ("https://intranet.clinic.test/admin", Refusal::Private),
        ("http://[::1]/", Refusal::Loopback),
        ("http://0x0a000001/", Refusal::Private),
    ];
    for (location, want) in cases {
        let server = redirecting_to(location).await;
        let outcome = deliver(
            &client,
            &dest(&server, "/hook"),
            &envelope(),
            &secrets(),
            Timestamp::now(),
        )
        .await;
        assert!(
            matches!(&outcome, Outcome::Permanent(f) if f.refusal() == Some(want)),
            "{location}: {outcome:?}"
        );
        assert_eq!(server.received_requests().await.unwrap().len(), 1);
    }
    assert_eq!(
        lookup.calls("intranet.clinic.test"),
        1,
        "checked, never connected"
    );
}

#[tokio::test]
async fn permitted_redirects_are_followed_with_the_same_signed_post() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/old"))
        .respond_with(ResponseTemplate::new(308).insert_header("Location", "/new#frag"))
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path("/new"))
        .respond_with(ResponseTemplate::new(200))
        .mount(&server)
        .await;
    let now = Timestamp::now();
    let secret = WebhookSecret::generate();
    let outcome = deliver(
        &client(),
        &dest(&server, "/old"),
        &envelope(),
        std::slice::from_ref(&secret),
        now,
    )
    .await;
    assert_eq!(outcome, Outcome::Delivered(200));
    let got = server.received_requests().await.unwrap();
    assert_eq!(got.len(), 2);
    assert_eq!(got[1].method.as_str(), "POST");
    assert_eq!(got[0].body, got[1].body);
    let sig = got[1]
        .headers
        .get("frontdesk-signature")
        .unwrap()
        .to_str()
        .unwrap();
    assert_eq!(verify(sig, &got[1].body, &[secret], now), Ok(()));
}

#[tokio::test]
async fn redirect_loops_and_redirects_without_location_are_permanent() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/loop"))
        .respond_with(ResponseTemplate::new(302).insert_header("Location", "/loop"))
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path("/nowhere"))
        .respond_with(ResponseTemplate::new(301))
        .mount(&server)
        .await;
    let c = client();
    let outcome = deliver(
        &c,
        &dest(&server, "/loop"),
        &envelope(),
        &secrets(),
        Timestamp::now(),
    )
    .await;
    assert_eq!(outcome, Outcome::Permanent(Failure::TooManyRedirects));
    assert_eq!(
        server.received_requests().await.unwrap().len(),
        1 + MAX_REDIRECTS
    );
    let outcome = deliver(
        &c,
        &dest(&server, "/nowhere"),
        &envelope(),
        &secrets(),
        Timestamp::now(),
    )
    .await;
    assert_eq!(outcome, Outcome::Permanent(Failure::BadRedirect));
}

#[tokio::test]
async fn a_destination_can_be_checked_without_sending() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(200))
        .expect(0)
        .mount(&server)
        .await;
    let (client, _) = client_with(
        StaticLookup::new().with("intranet.clinic.test", &[ip("10.0.0.1")]),
        Duration::from_secs(2),
    );
    assert_eq!(client.check(&dest(&server, "/hook")).await, Ok(()));
    let intranet = Destination::parse("https://intranet.clinic.test/").unwrap();
    assert_eq!(
        client.check(&intranet).await,
        Err(SsrfError::Refused {
            ip: ip("10.0.0.1"),
            refusal: Refusal::Private
        })
    );
    let plain = Destination::parse("http://93.184.216.34/").unwrap();
    assert_eq!(client.check(&plain).await, Err(SsrfError::Scheme));
}

#[test]
fn destinations_parse_and_show_only_their_host() {
    let d = Destination::parse(" https://hooks.example.com/t/SECRET?k=SECRET#x ").unwrap();
    assert_eq!(d.host(), "hooks.example.com");
    assert_eq!(d.url().fragment(), None);
    let shown = format!("{d:?}");
    assert!(!shown.contains("SECRET"), "{shown}");
    assert!(shown.contains("https://hooks.example.com:443"), "{shown}");
    assert_eq!(Destination::parse("not a url"), Err(SsrfError::InvalidUrl));
    let long = format!(
        "https://hooks.example.com/{}",
        "a".repeat(Destination::MAX_LEN)
    );
    assert_eq!(Destination::parse(&long), Err(SsrfError::InvalidUrl));
    let fits = format!(
        "https://hooks.example.com/{}",
        "a".repeat(Destination::MAX_LEN - 26)
    );
    assert!(Destination::parse(&fits).is_ok());
    assert_eq!(
        Destination::parse("ftp://example.com/"),
        Err(SsrfError::Scheme)
    );
    assert_eq!(
        Destination::parse("https://u:p@example.com/"),
        Err(SsrfError::Credentials)
    );
}

/// Log output of this thread (a `#[tokio::test]` runs on one) until the guard drops.
#[derive(Clone, Default)]
struct LogCapture(Arc<std::sync::Mutex<Vec<u8>>>);

impl std::io::Write for LogCapture {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl LogCapture {
    fn text(&self) -> String {
        String::from_utf8_lossy(&self.0.lock().unwrap()).into_owned()
    }
}

fn capture_logs() -> (LogCapture, tracing::subscriber::DefaultGuard) {
    let capture = LogCapture::default();
    let writer = capture.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_writer(move || writer.clone())
        .with_max_level(tracing::Level::INFO)
        .with_ansi(false)
        .finish();
    (capture, tracing::subscriber::set_default(subscriber))
}

#[tokio::test]
async fn logs_name_the_host_and_outcome_but_no_path_query_body_or_secret() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/t/PATHTOKEN"))
        .respond_with(ResponseTemplate::new(500).set_body_string("RESPONSEBODY"))
        .mount(&server)
        .await;
    let secret = WebhookSecret::generate();
    let env = envelope();
    let (logs, guard) = capture_logs();
    let outcome = deliver(
        &client(),
        &dest(&server, "/t/PATHTOKEN?key=QUERYTOKEN"),
        &env,
        std::slice::from_ref(&secret),
        Timestamp::now(),
    )
    .await;
    let refused = Destination::parse("https://169.254.169.254/latest/meta-data/IAMROLE").unwrap();
    deliver(
        &client(),
        &refused,
        &env,
        std::slice::from_ref(&secret),
        Timestamp::now(),
    )
    .await;
    drop(guard);
    assert!(matches!(outcome, Outcome::Retryable(_)));
    let text = logs.text();
    assert!(text.contains("webhook not delivered"), "{text}");
    assert!(text.contains("host=\"127.0.0.1\""), "{text}");
    assert!(text.contains(&env.id().to_string()), "{text}");
    assert!(text.contains("status=500"), "{text}");
    assert!(text.contains("refusal=\"cloud_metadata\""), "{text}");
    for secret_text in [
        "PATHTOKEN",
        "QUERYTOKEN",
        "RESPONSEBODY",
        "IAMROLE",
        "\"test\"",
        &secret.expose()[6..],
    ] {
        assert!(!text.contains(secret_text), "{secret_text} in {text}");
    }
}
