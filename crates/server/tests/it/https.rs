//! `serve` terminating HTTPS itself (#12 item 5): with a certificate made at test time by the
//! `openssl` CLI, the server answers HTTPS to a client that trusts only that certificate,
//! refuses plain HTTP on the same port, and after a reload presents the new certificate to
//! new connections. A pair that does not load is refused with the file named.

use frontdesk_domain::SystemClock;
use frontdesk_server::http::dashboard::Dashboard;
use frontdesk_server::tls::Tls;
use frontdesk_server::{AppState, Application, telemetry};
use frontdesk_store::testing::TestDb;
use std::path::Path;
use std::sync::Arc;

/// A self-signed certificate for 127.0.0.1 and localhost, written to `cert` and `key`.
fn self_signed(cert: &Path, key: &Path, name: &str) -> Vec<u8> {
    let status = std::process::Command::new("openssl")
        .args([
            "req",
            "-x509",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:prime256v1",
        ])
        .args(["-nodes", "-days", "2", "-subj", &format!("/CN={name}")])
        .args(["-addext", "subjectAltName=IP:127.0.0.1,DNS:localhost"])
        // A leaf, not a CA (webpki refuses a CA certificate as the server's own).
        .args(["-addext", "basicConstraints=critical,CA:FALSE"])
        .args(["-addext", "extendedKeyUsage=serverAuth"])
        .arg("-keyout")
        .arg(key)
        .arg("-out")
        .arg(cert)
        .stderr(std::process::Stdio::null())
        .status()
        .expect("the openssl CLI");
    assert!(status.success());
    std::fs::read(cert).unwrap()
}

fn trusting(pem: &[u8]) -> reqwest::Client {
    reqwest::Client::builder()
        .tls_certs_only([reqwest::Certificate::from_pem(pem).unwrap()])
        .build()
        .unwrap()
}

#[tokio::test]
async fn serve_answers_https_with_its_certificate_and_reloads_a_new_one() {
    let dir = tempfile::tempdir().unwrap();
    let (cert, key) = (dir.path().join("cert.pem"), dir.path().join("key.pem"));
    let first = self_signed(&cert, &key, "first");
    let db = TestDb::sqlite().await.unwrap();
    let state = AppState {
        store: db.open_default().await.unwrap(),
        clock: Arc::new(SystemClock),
        webchat_ttl: jiff::SignedDuration::from_hours(1),
        metrics: telemetry::metrics_handle(),
        channels: Default::default(),
        dashboard: Arc::new(Dashboard::default()),
    };
    let tls = Tls::load(&cert, &key).unwrap();
    let app = Application::build(state, "127.0.0.1:0".parse().unwrap())
        .await
        .unwrap()
        .with_tls(tls.clone());
    let port = app.port();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(app.run(async move {
        let _ = stopped.await;
    }));

    let url = format!("https://127.0.0.1:{port}/healthz");
    let resp = trusting(&first).get(&url).send().await.unwrap();
    assert_eq!(resp.status(), 200);
    assert_eq!(resp.version(), reqwest::Version::HTTP_11);
    assert_eq!(resp.text().await.unwrap(), "ok");
    // Plain HTTP on the TLS port gets no HTTP answer.
    let plain = reqwest::Client::new()
        .get(format!("http://127.0.0.1:{port}/healthz"))
        .send()
        .await;
    assert!(plain.is_err() || plain.unwrap().status() != 200);

    // A new pair: refused by its clients until reloaded, then served to new connections.
    let spare = tempfile::tempdir().unwrap();
    let second = self_signed(
        &spare.path().join("cert.pem"),
        &spare.path().join("key.pem"),
        "second",
    );
    assert!(trusting(&second).get(&url).send().await.is_err());
    std::fs::copy(spare.path().join("cert.pem"), &cert).unwrap();
    std::fs::copy(spare.path().join("key.pem"), &key).unwrap();
    tls.reload().unwrap();
    assert_eq!(
        trusting(&second).get(&url).send().await.unwrap().status(),
        200
    );
    assert!(trusting(&first).get(&url).send().await.is_err());

    // A broken file on reload keeps the pair in use.
    std::fs::write(&key, "not a key").unwrap();
    let err = tls.reload().unwrap_err().to_string();
    assert!(err.contains("tls_key") && err.contains("key.pem"), "{err}");
    assert_eq!(
        trusting(&second).get(&url).send().await.unwrap().status(),
        200
    );

    let _ = stop.send(());
    server.await.unwrap().unwrap();
    db.cleanup().await;
}

#[test]
fn a_certificate_file_without_a_certificate_is_refused_with_its_name() {
    let dir = tempfile::tempdir().unwrap();
    let (cert, key) = (dir.path().join("chain.pem"), dir.path().join("key.pem"));
    self_signed(&cert, &key, "x");
    std::fs::write(&cert, "").unwrap();
    let err = Tls::load(&cert, &key).err().unwrap().to_string();
    assert!(err.contains("chain.pem"), "{err}");
}
