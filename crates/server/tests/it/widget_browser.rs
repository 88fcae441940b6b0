//! The embeddable widget in a real headless Chromium, driven over WebDriver (W3C) with a tiny
//! client of our own: keyboard only, a phone-sized window, resume after a reload, patient text
//! never parsed as HTML, a staff member's reply reaching the open chat after a takeover, and
//! not one CSP violation on a host page with a strict policy of its own, served from a
//! different site than frontdesk.
//!
//! Needs `chromedriver` and `chromium` (Debian packages). Without them the test says so loudly
//! and passes, unless `FRONTDESK_REQUIRE_BROWSER` is set (CI), in which case it fails.

use crate::harness::spawn_app;
use frontdesk_store::testing::Engine;
use serde_json::{Value, json};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Mutex;
use std::time::{Duration, Instant};

const SLUG: &str = "harbour-physio";
const QUESTION: &str = "What are your opening hours?";
const PRIVACY: &str = "stored encrypted";
const HOURS: &str = "Mon–Fri 08:00–18:00";
const HOSTILE: &str = "<img src=x onerror=alert(1)>hi";
const STAFF_REPLY: &str = "Kia ora, <b>Ana</b> from reception here.";
/// The longest any one step may take before the test gives up and says what it saw.
pub(crate) const WAIT: Duration = Duration::from_secs(15);
/// The W3C web element identifier key.
const ELEMENT: &str = "element-6066-11e4-a52e-4f735466cecf";
pub(crate) const TAB: &str = "\u{E004}";
pub(crate) const ENTER: &str = "\u{E007}";
const ESCAPE: &str = "\u{E00C}";
const WINDOW_WIDTH: u32 = 390;
/// Console messages we log ourselves, in the host page and in the frame, to prove that the
/// console log we check really covers both documents.
const PROBE_HOST: &str = "frontdesk-widget-test-probe-host";
const PROBE_FRAME: &str = "frontdesk-widget-test-probe-frame";

/// Host-page state, as `s`. Followed by `return { ok: <condition on s>, seen: s };`.
const HOST_STATE: &str = r#"
const s = (() => {
  const b = document.getElementById('frontdesk-launcher');
  const f = document.getElementById('frontdesk-frame');
  const shown = (el) => {
    if (!el) return false;
    const st = getComputedStyle(el);
    const r = el.getBoundingClientRect();
    return !el.hidden && st.display !== 'none' && st.visibility !== 'hidden' && r.width > 0 && r.height > 0;
  };
  const a = document.activeElement;
  return {
    url: location.href,
    launcher: b ? {
      tag: b.tagName, type: b.getAttribute('type'), expanded: b.getAttribute('aria-expanded'),
      controls: b.getAttribute('aria-controls'), text: b.textContent.trim(),
      label: b.getAttribute('aria-label'),
    } : null,
    frame: f ? { tag: f.tagName, title: f.getAttribute('title'), src: f.getAttribute('src'), shown: shown(f), width: f.getBoundingClientRect().width } : null,
    active: a ? (a.id || a.tagName) : null,
    hasFocus: document.hasFocus(),
    innerWidth: window.innerWidth,
  };
})();
"#;

/// Frame-page state, as `s`. Followed by `return { ok: <condition on s>, seen: s };`.
const FRAME_STATE: &str = r#"
const s = (() => {
  const texts = (sel) => Array.from(document.querySelectorAll(sel)).map((p) => p.textContent);
  const a = document.activeElement;
  const log = document.getElementById('log');
  const label = document.querySelector('label[for="text"]');
  return {
    url: location.href,
    ready: document.readyState,
    active: a ? (a.id || a.tagName) : null,
    hasFocus: document.hasFocus(),
    text: !!document.querySelector('form#composer textarea#text'),
    label: label ? label.textContent.trim() : null,
    live: log ? log.getAttribute('aria-live') : null,
    patient: texts('#log li.msg.patient p'),
    agent: texts('#log li.msg.agent p'),
    staff: texts('#log li.msg.staff p'),
    items: log ? log.querySelectorAll('li').length : null,
    imgs: log ? log.querySelectorAll('img').length : null,
  };
})();
"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn widget_works_in_a_real_browser_under_a_strict_csp() {
    let Some((chromedriver, chromium)) = browser_or_skip() else {
        return;
    };
    let app = spawn_app(Engine::Sqlite).await.unwrap();

    // The clinic's own website: another site (localhost, not 127.0.0.1) with a strict CSP that
    // lets in frontdesk's script and frame and nothing else.
    let host = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let host_origin = format!("http://localhost:{}", host.local_addr().unwrap().port());
    let host_url = format!("{host_origin}/");
    let host_server = tokio::spawn(serve_host_page(host, app.base.clone()));

    let scope = app.scope(SLUG).await;
    let mut clinic = app.store.clinic(scope).await.unwrap();
    clinic.profile.widget_origins = vec![host_origin.clone()];
    app.store
        .update_profile(scope, &clinic.profile)
        .await
        .unwrap();

    let profile_dir = tempfile::tempdir().unwrap();
    let driver = Driver::start(&chromedriver).await;
    let b = Browser::open(driver, &chromium, profile_dir.path()).await;

    // 1. Keyboard only: Tab reaches the launcher, Enter opens the panel.
    b.navigate(&host_url).await;
    let seen = b
        .wait_host(
            "the loader to add the launcher and a hidden frame",
            "s.launcher !== null && s.frame !== null && !s.frame.shown",
        )
        .await;
    assert_eq!(seen["launcher"]["tag"], "BUTTON", "{seen}");
    assert_eq!(seen["launcher"]["type"], "button", "{seen}");
    assert_eq!(seen["launcher"]["expanded"], "false", "{seen}");
    assert_eq!(seen["launcher"]["controls"], "frontdesk-frame", "{seen}");
    assert!(
        seen["launcher"]["text"]
            .as_str()
            .is_some_and(|t| !t.is_empty())
            || seen["launcher"]["label"]
                .as_str()
                .is_some_and(|t| !t.is_empty()),
        "the launcher has an accessible name: {seen}"
    );
    assert!(
        seen["frame"]["title"]
            .as_str()
            .is_some_and(|t| !t.trim().is_empty()),
        "the frame has a title: {seen}"
    );
    b.press(TAB).await;
    b.wait_host(
        "Tab to focus the launcher (the only focusable thing on the page)",
        "s.active === 'frontdesk-launcher'",
    )
    .await;
    let launcher = b.find("#frontdesk-launcher").await.unwrap();
    assert_eq!(
        b.active_element().await,
        launcher,
        "WebDriver agrees the launcher is focused"
    );
    b.press(ENTER).await;
    b.wait_host(
        "Enter on the launcher to open the panel",
        "s.launcher.expanded === 'true' && s.frame.shown",
    )
    .await;
    b.script(&format!("console.error('{PROBE_HOST}'); return null;"), &[])
        .await
        .unwrap();

    // 2. Focus is in the message box; a question is answered (streamed) into the log.
    b.enter_frame().await;
    let seen = b
        .wait_frame(
            "focus to move into the frame's message box",
            "s.text && s.active === 'text' && s.hasFocus",
        )
        .await;
    assert!(
        seen["label"].as_str().is_some_and(|l| !l.is_empty()),
        "the message box has a <label for=\"text\">: {seen}"
    );
    assert!(
        seen["live"]
            .as_str()
            .is_some_and(|l| !l.is_empty() && l != "off"),
        "the log is an aria-live region: {seen}"
    );
    b.script(
        &format!("console.error('{PROBE_FRAME}'); return null;"),
        &[],
    )
    .await
    .unwrap();
    let text = b.find("#text").await.unwrap();
    b.send_keys(&text, QUESTION).await;
    b.send_keys(&text, ENTER).await;
    b.wait_frame_with(
        "the question and both replies (privacy notice, opening hours) in the log",
        "s.patient.includes(arguments[0]) && s.agent.length >= 2 \
         && s.agent.some((t) => t.includes(arguments[1])) \
         && s.agent.some((t) => t.includes(arguments[2]))",
        &[json!(QUESTION), json!(PRIVACY), json!(HOURS)],
    )
    .await;

    // 3. On a phone the open panel takes the full width.
    b.to_parent().await;
    let width = b
        .script(
            "return document.getElementById('frontdesk-frame').getBoundingClientRect().width;",
            &[],
        )
        .await
        .unwrap();
    let seen = b.wait_host("(state)", "true").await;
    assert!(
        width.as_f64().is_some_and(|w| w >= 360.0),
        "the open frame is {width} px wide in a {WINDOW_WIDTH} px window: {seen}"
    );

    // 4. Escape closes the panel and gives focus back to the launcher.
    b.enter_frame().await;
    let text = b.find("#text").await.unwrap();
    b.send_keys(&text, ESCAPE).await;
    b.to_parent().await;
    b.wait_host(
        "Escape to close the panel and return focus to the launcher",
        "!s.frame.shown && s.launcher.expanded === 'false' \
         && s.active === 'frontdesk-launcher' && s.hasFocus",
    )
    .await;
    let launcher = b.find("#frontdesk-launcher").await.unwrap();
    assert_eq!(
        b.active_element().await,
        launcher,
        "WebDriver agrees focus is back on the launcher"
    );
    b.collect_logs().await;

    // 5. After a reload, reopening shows the earlier conversation (resumed from the server).
    b.navigate(&host_url).await;
    b.wait_host(
        "the launcher after a reload",
        "s.launcher !== null && s.launcher.expanded === 'false' && s.frame !== null && !s.frame.shown",
    )
    .await;
    let launcher = b.find("#frontdesk-launcher").await.unwrap();
    b.click(&launcher).await;
    b.wait_host(
        "a click on the launcher to open the panel",
        "s.launcher.expanded === 'true' && s.frame.shown",
    )
    .await;
    b.enter_frame().await;
    b.wait_frame_with(
        "the earlier question and hours reply to be shown again after the reload",
        "s.patient.includes(arguments[0]) && s.agent.some((t) => t.includes(arguments[1])) \
         && s.active === 'text'",
        &[json!(QUESTION), json!(HOURS)],
    )
    .await;

    // 6. Text is text: markup typed by the patient is shown literally, never parsed.
    let before = b.wait_frame("(state)", "true").await["agent"]
        .as_array()
        .map_or(0, Vec::len);
    let text = b.find("#text").await.unwrap();
    b.send_keys(&text, HOSTILE).await;
    b.send_keys(&text, ENTER).await;
    let seen = b
        .wait_frame_with(
            "the markup to be shown as a literal patient message, and answered",
            "s.patient.includes(arguments[0]) && s.agent.length > arguments[1]",
            &[json!(HOSTILE), json!(before)],
        )
        .await;
    assert_eq!(seen["imgs"], 0, "no <img> was created in the log: {seen}");
    assert!(
        b.get("/alert/text").await.is_err(),
        "no alert() dialog is open"
    );

    // 6b. A staff member takes the chat over in the dashboard and replies: the open chat shows
    // the reply (it asks for staff replies every few seconds), once, as text.
    let staff = app
        .store
        .create_user(
            scope,
            &frontdesk_store::NewUser {
                email: frontdesk_domain::Email::parse("ana@harbour.test").unwrap(),
                name: "Ana".into(),
                role: frontdesk_domain::Role::Reception,
            },
        )
        .await
        .unwrap();
    let listed = frontdesk_store::InboxQuery {
        limit: 50,
        ..Default::default()
    };
    let conv = app
        .store
        .inbox(scope, staff, &listed)
        .await
        .unwrap()
        .into_iter()
        .find(|e| e.channel == frontdesk_store::Channel::Webchat)
        .expect("the widget's conversation is in the inbox")
        .conversation;
    let hold = jiff::SignedDuration::from_mins(15);
    app.store.take_over(scope, conv, staff, hold).await.unwrap();
    app.store
        .staff_reply(scope, conv, staff, STAFF_REPLY, hold)
        .await
        .unwrap();
    b.wait_frame_with(
        "the staff reply to reach the open chat",
        "s.staff.includes(arguments[0])",
        &[json!(STAFF_REPLY)],
    )
    .await;
    tokio::time::sleep(Duration::from_millis(4500)).await;
    let seen = b.wait_frame("(state)", "true").await;
    assert_eq!(seen["staff"], json!([STAFF_REPLY]), "shown once: {seen}");
    assert_eq!(seen["imgs"], 0, "{seen}");

    // 7. Not one CSP refusal or script error in either page load, host page or frame.
    b.to_parent().await;
    b.collect_logs().await;
    let logs = b.logs();
    let all = logs
        .iter()
        .map(|e| format!("  [{}] {}", e["level"], e["message"]))
        .collect::<Vec<_>>()
        .join("\n");
    eprintln!("browser console ({} entries):\n{all}", logs.len());
    for probe in [PROBE_HOST, PROBE_FRAME] {
        assert!(
            logs.iter()
                .any(|e| e["message"].as_str().is_some_and(|m| m.contains(probe))),
            "the browser log should cover both documents; {probe} is missing from:\n{all}"
        );
    }
    let bad = logs
        .iter()
        .filter_map(|e| e["message"].as_str())
        .filter(|m| {
            m.contains("Content Security Policy")
                || m.contains("Refused to")
                || m.contains("Uncaught")
        })
        .collect::<Vec<_>>();
    assert!(
        bad.is_empty(),
        "CSP refusals or script errors in the browser console: {bad:#?}\nthe whole log:\n{all}"
    );

    // 8. Clean up.
    b.quit().await;
    drop(profile_dir);
    host_server.abort();
    app.finish().await;
}

/// `(chromedriver, chromium)`, or `None` after a loud banner when either is missing.
/// Panics instead when `FRONTDESK_REQUIRE_BROWSER` is set.
pub(crate) fn browser_or_skip() -> Option<(PathBuf, PathBuf)> {
    let driver = find_binary("chromedriver");
    let chromium = find_binary("chromium");
    if let (Some(d), Some(c)) = (&driver, &chromium) {
        return Some((d.clone(), c.clone()));
    }
    let missing = [("chromedriver", &driver), ("chromium", &chromium)]
        .iter()
        .filter(|(_, p)| p.is_none())
        .map(|(n, _)| *n)
        .collect::<Vec<_>>()
        .join(" and ");
    if std::env::var_os("FRONTDESK_REQUIRE_BROWSER").is_some_and(|v| !v.is_empty()) {
        panic!(
            "FRONTDESK_REQUIRE_BROWSER is set but {missing} was not found on PATH or in \
             /usr/bin: install the Debian packages `chromium` and `chromedriver`"
        );
    }
    eprintln!(
        "\n\
         ################################################################\n\
         ##                                                            ##\n\
         ##   BROWSER TEST SKIPPED                                     ##\n\
         ##   widget_works_in_a_real_browser_under_a_strict_csp        ##\n\
         ##                                                            ##\n\
         ##   not found on PATH or in /usr/bin: {missing:<23}##\n\
         ##   install the Debian packages `chromium` `chromedriver`;   ##\n\
         ##   set FRONTDESK_REQUIRE_BROWSER=1 to make this a failure.  ##\n\
         ##                                                            ##\n\
         ################################################################\n"
    );
    None
}

fn find_binary(name: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .map(|dir| dir.join(name))
        .chain([Path::new("/usr/bin").join(name)])
        .find(|p| p.is_file())
}

/// Serves the clinic's own website: one page with our widget and a strict CSP of its own.
async fn serve_host_page(listener: tokio::net::TcpListener, base: String) {
    use axum::http::header;
    let csp = format!("default-src 'none'; script-src {base}; frame-src {base}; style-src 'self'");
    let html = format!(
        "<!doctype html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n\
         <title>Harbour Physio</title>\n</head>\n<body>\n<h1>Harbour Physio</h1>\n\
         <p>Sports injuries, back pain and rehabilitation on the harbour front.</p>\n\
         <script src=\"{base}/widget.js\" data-clinic=\"{SLUG}\" defer></script>\n\
         </body>\n</html>\n"
    );
    let page = axum::routing::get(move || async move {
        (
            [
                (header::CONTENT_SECURITY_POLICY, csp),
                (header::CONTENT_TYPE, "text/html; charset=utf-8".to_owned()),
                (header::CACHE_CONTROL, "no-store".to_owned()),
            ],
            html,
        )
    });
    let router = axum::Router::new().route("/", page);
    axum::serve(listener, router).await.unwrap();
}

/// The chromedriver child process; killed when dropped (also when the test panics).
pub(crate) struct Driver {
    child: Child,
    url: String,
    addr: String,
}

impl Driver {
    pub(crate) async fn start(path: &Path) -> Self {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let child = Command::new(path)
            .arg(format!("--port={port}"))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("could not start {}: {e}", path.display()));
        let addr = format!("127.0.0.1:{port}");
        let mut driver = Self {
            child,
            url: format!("http://{addr}"),
            addr,
        };
        let http = reqwest::Client::new();
        let deadline = Instant::now() + WAIT;
        loop {
            if let Some(status) = driver.child.try_wait().unwrap() {
                panic!("chromedriver exited before it was ready: {status}");
            }
            if let Ok(r) = http.get(format!("{}/status", driver.url)).send().await
                && let Ok(v) = r.json::<Value>().await
                && v["value"]["ready"] == true
            {
                return driver;
            }
            assert!(
                Instant::now() < deadline,
                "chromedriver was not ready at {} within {WAIT:?}",
                driver.url
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
}

impl Drop for Driver {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// One WebDriver session. Dropped without `quit` (a panic), it still ends the session, so
/// Chromium does not outlive the test, before the driver process is killed.
pub(crate) struct Browser {
    http: reqwest::Client,
    /// `/session/{id}`
    path: String,
    open: bool,
    logs: Mutex<Vec<Value>>,
    driver: Driver,
}

impl Browser {
    pub(crate) async fn open(driver: Driver, chromium: &Path, profile: &Path) -> Self {
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(60))
            .build()
            .unwrap();
        let caps = json!({ "capabilities": { "alwaysMatch": {
            "browserName": "chrome",
            "goog:chromeOptions": {
                "binary": chromium,
                "args": [
                    "--headless=new",
                    "--no-sandbox",
                    "--disable-gpu",
                    "--disable-dev-shm-usage",
                    // The frame stays cross-site (origin, storage, CSP are unchanged) but runs
                    // in the host page's process, where chromedriver can read its console.
                    "--disable-site-isolation-trials",
                    format!("--window-size={WINDOW_WIDTH},844"),
                    format!("--user-data-dir={}", profile.display()),
                ],
            },
            "goog:loggingPrefs": { "browser": "ALL" },
        }}});
        let r = http
            .post(format!("{}/session", driver.url))
            .json(&caps)
            .send()
            .await
            .unwrap();
        let status = r.status();
        let v: Value = r.json().await.unwrap();
        let id = v["value"]["sessionId"]
            .as_str()
            .unwrap_or_else(|| panic!("chromedriver could not start Chromium: {status} {v}"))
            .to_owned();
        let b = Self {
            http,
            path: format!("/session/{id}"),
            open: true,
            logs: Mutex::new(Vec::new()),
            driver,
        };
        b.post("/timeouts", json!({ "pageLoad": 30_000, "script": 15_000 }))
            .await
            .unwrap();
        b
    }

    async fn call(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<Value>,
    ) -> Result<Value, String> {
        let url = format!("{}{}{path}", self.driver.url, self.path);
        let mut req = self.http.request(method.clone(), &url);
        if let Some(body) = body {
            req = req.json(&body);
        }
        let r = req
            .send()
            .await
            .map_err(|e| format!("{method} {path}: {e}"))?;
        let status = r.status();
        let v: Value = r
            .json()
            .await
            .map_err(|e| format!("{method} {path}: {status}: {e}"))?;
        if status.is_success() {
            Ok(v["value"].clone())
        } else {
            Err(format!(
                "{method} {path}: {status}: {}: {}",
                v["value"]["error"], v["value"]["message"]
            ))
        }
    }

    pub(crate) async fn post(&self, path: &str, body: Value) -> Result<Value, String> {
        self.call(reqwest::Method::POST, path, Some(body)).await
    }

    pub(crate) async fn get(&self, path: &str) -> Result<Value, String> {
        self.call(reqwest::Method::GET, path, None).await
    }

    pub(crate) async fn navigate(&self, url: &str) {
        self.post("/url", json!({ "url": url })).await.unwrap();
    }

    /// The element reference of the first match in the current frame.
    pub(crate) async fn find(&self, css: &str) -> Result<String, String> {
        let v = self
            .post("/element", json!({ "using": "css selector", "value": css }))
            .await?;
        element_ref(&v)
    }

    pub(crate) async fn active_element(&self) -> String {
        element_ref(&self.get("/element/active").await.unwrap()).unwrap()
    }

    pub(crate) async fn click(&self, element: &str) {
        self.post(&format!("/element/{element}/click"), json!({}))
            .await
            .unwrap();
    }

    pub(crate) async fn send_keys(&self, element: &str, text: &str) {
        self.post(
            &format!("/element/{element}/value"),
            json!({ "text": text }),
        )
        .await
        .unwrap();
    }

    /// One key press, as from the keyboard: it goes to whatever has focus.
    pub(crate) async fn press(&self, key: &str) {
        let actions = json!({ "actions": [{
            "type": "key",
            "id": "keyboard",
            "actions": [{ "type": "keyDown", "value": key }, { "type": "keyUp", "value": key }],
        }]});
        self.post("/actions", actions).await.unwrap();
    }

    /// Switches into the widget's frame (from the host page).
    async fn enter_frame(&self) {
        let frame = self.find("#frontdesk-frame").await.unwrap();
        self.post("/frame", json!({ "id": { ELEMENT: frame } }))
            .await
            .unwrap();
    }

    async fn to_parent(&self) {
        self.post("/frame/parent", json!({})).await.unwrap();
    }

    pub(crate) async fn script(&self, script: &str, args: &[Value]) -> Result<Value, String> {
        self.post("/execute/sync", json!({ "script": script, "args": args }))
            .await
    }

    async fn wait_host(&self, what: &str, condition: &str) -> Value {
        self.wait(what, HOST_STATE, condition, &[]).await
    }

    async fn wait_frame(&self, what: &str, condition: &str) -> Value {
        self.wait(what, FRAME_STATE, condition, &[]).await
    }

    async fn wait_frame_with(&self, what: &str, condition: &str, args: &[Value]) -> Value {
        self.wait(what, FRAME_STATE, condition, args).await
    }

    /// Polls `condition` (JS on the state `s`) until true; returns the state. On timeout,
    /// panics with the last state, the document and the browser log so far.
    pub(crate) async fn wait(
        &self,
        what: &str,
        state: &str,
        condition: &str,
        args: &[Value],
    ) -> Value {
        let script = format!("{state}\nreturn {{ ok: !!({condition}), seen: s }};");
        let deadline = Instant::now() + WAIT;
        loop {
            let last = match self.script(&script, args).await {
                Ok(v) if v["ok"] == true => return v["seen"].clone(),
                Ok(v) => v["seen"].to_string(),
                Err(e) => e,
            };
            if Instant::now() >= deadline {
                let html = self
                    .script(
                        "return (document.body || document.documentElement).outerHTML.slice(0, 3000);",
                        &[],
                    )
                    .await
                    .unwrap_or_else(Value::String);
                self.collect_logs().await;
                let logs = self
                    .logs()
                    .iter()
                    .map(|e| format!("  [{}] {}", e["level"], e["message"]))
                    .collect::<Vec<_>>()
                    .join("\n");
                panic!(
                    "timed out after {WAIT:?} waiting for {what}\n\
                     last state: {last}\ndocument: {}\nbrowser log:\n{logs}",
                    html.as_str().unwrap_or_default()
                );
            }
            tokio::time::sleep(Duration::from_millis(150)).await;
        }
    }

    /// Moves chromedriver's browser log (which it clears on every read) into `self.logs`.
    pub(crate) async fn collect_logs(&self) {
        let entries = match self.post("/se/log", json!({ "type": "browser" })).await {
            Ok(v) => v,
            Err(_) => self
                .post("/log", json!({ "type": "browser" }))
                .await
                .unwrap(),
        };
        let entries = entries.as_array().cloned().unwrap_or_default();
        self.logs.lock().unwrap().extend(entries);
    }

    pub(crate) fn logs(&self) -> Vec<Value> {
        self.logs.lock().unwrap().clone()
    }

    pub(crate) async fn quit(mut self) {
        let path = self.path.clone();
        self.call(reqwest::Method::DELETE, "", None)
            .await
            .unwrap_or_else(|e| panic!("DELETE {path}: {e}"));
        self.open = false;
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        if !self.open {
            return;
        }
        // Blocking and best effort: we may be unwinding, and inside the async runtime.
        use std::io::{Read, Write};
        let Ok(mut conn) = std::net::TcpStream::connect(&self.driver.addr) else {
            return;
        };
        let _ = conn.set_read_timeout(Some(WAIT));
        let _ = conn.set_write_timeout(Some(WAIT));
        let _ = write!(
            conn,
            "DELETE {} HTTP/1.1\r\nHost: {}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
            self.path, self.driver.addr
        );
        let _ = conn.read_to_end(&mut Vec::new());
    }
}

fn element_ref(v: &Value) -> Result<String, String> {
    v[ELEMENT]
        .as_str()
        .map(str::to_owned)
        .ok_or_else(|| format!("not an element: {v}"))
}
