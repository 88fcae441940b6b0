//! Staff sign-in over HTTP (issue #7): the emailed link, the browser it is bound to, CSRF on
//! every form, the session cookie's flags, logout and logout everywhere, another clinic's
//! session, and the same answer for addresses with and without an account.

use crate::harness::{TestApp, spawn_app_with};
use frontdesk_domain::{Email, Role};
use frontdesk_server::blobs::{BlobStore, LocalBlobStore};
use frontdesk_server::http::dashboard::{Dashboard, LOGIN_COOKIE, SESSION_COOKIE};
use frontdesk_server::mailer::Mailer;
use frontdesk_store::NewUser;
use frontdesk_store::testing::Engine;
use frontdesk_store::totp;
use std::collections::BTreeMap;
use std::path::PathBuf;

macro_rules! dashboard_tests {
    ($($name:ident),* $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test]
                async fn $name() {
                    let (app, mail) = super::spawn(super::Engine::Sqlite).await.unwrap();
                    super::$name(app, mail).await;
                }
            )*
        }
        mod postgres {
            $(
                #[tokio::test]
                async fn $name() {
                    let Some((app, mail)) = super::spawn(super::Engine::Postgres).await else { return };
                    super::$name(app, mail).await;
                }
            )*
        }
    };
}

dashboard_tests!(
    a_staff_member_signs_in_by_link_and_logs_out,
    known_and_unknown_addresses_get_the_same_answer,
    a_link_works_only_in_its_browser_and_every_form_needs_its_csrf_token,
    the_dashboard_needs_a_live_session_of_its_own_clinic,
    logging_out_everywhere_ends_every_session,
    an_optional_second_factor_once_set_up_is_required,
    a_recording_plays_through_a_short_lived_url_bound_to_the_session,
    the_owner_reads_the_audit_log_and_its_verification_status,
    the_owner_invites_changes_roles_and_disables_users,
    every_route_answers_every_role_as_the_matrix_says,
    staff_names_are_escaped_and_pages_are_not_cached,
    staff_take_over_reply_and_give_back_and_patient_text_stays_text,
    the_inbox_and_a_conversation_update_live_and_stop_at_sign_out,
    the_diary_shows_each_practitioners_day_and_reception_cancels,
    analytics_chart_the_clinics_days_and_show_money_only_to_those_who_may,
    a_patient_record_is_found_by_phone_with_consent_conversations_and_appointments,
    the_owner_edits_the_clinic_profile_and_faq_and_each_change_is_audited,
    a_doctor_reaches_only_the_conversations_and_patients_assigned_to_them,
    a_doctor_linked_to_a_practitioner_works_in_that_diary_only,
    a_read_only_doctor_drafts_a_reply_that_a_colleague_sends_once,
    the_reception_head_manages_practitioners_hours_and_services,
    the_owner_connects_channels_and_secrets_stay_write_only,
    the_owner_makes_rotates_and_revokes_api_keys_and_sees_each_secret_once,
    the_owner_connects_a_webhook_endpoint_sends_a_test_and_reads_the_log,
    the_reception_head_makes_a_calendar_feed_that_apps_read_until_it_is_revoked,
    the_owner_adds_red_flags_on_top_of_the_built_in_ones,
    the_owner_answers_a_patients_data_requests,
    the_owner_sets_how_long_information_is_kept_and_can_pause_the_receptionist,
);

const CLINIC: &str = "harbour-physio";
const LINK_BASE: &str = "https://frontdesk.test";

/// Where the dev mailer writes (and recordings are kept), alive as long as the test.
struct Mail {
    path: PathBuf,
    blobs: std::sync::Arc<LocalBlobStore>,
    _dir: tempfile::TempDir,
}

impl Mail {
    /// The mail file with quoted-printable bodies decoded (long lines, like a link, are
    /// sent quoted-printable: soft line breaks and `=3D` for `=`).
    fn text(&self) -> String {
        let raw = std::fs::read_to_string(&self.path).unwrap_or_default();
        let joined = raw.replace("=\r\n", "").replace("=\n", "");
        let mut out = String::new();
        let mut rest = joined.as_str();
        while let Some(i) = rest.find('=') {
            out.push_str(&rest[..i]);
            let hex = rest
                .get(i + 1..i + 3)
                .and_then(|h| u8::from_str_radix(h, 16).ok());
            match hex {
                Some(b) => {
                    out.push(b as char);
                    rest = &rest[i + 3..];
                }
                None => {
                    out.push('=');
                    rest = &rest[i + 1..];
                }
            }
        }
        out.push_str(rest);
        out
    }

    /// Waits for the `n`th sign-in link (emails go out in the background) and returns its
    /// path and query, to be asked of the test server.
    async fn link(&self, n: usize) -> String {
        for _ in 0..100 {
            let text = self.text();
            let links: Vec<&str> = text
                .split_whitespace()
                .filter(|w| w.starts_with(&format!("{LINK_BASE}/dashboard/auth?link=")))
                .collect();
            if let Some(l) = links.get(n - 1) {
                return l.trim_start_matches(LINK_BASE).to_owned();
            }
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
        panic!("no sign-in link number {n} in the mail:\n{}", self.text());
    }
}

async fn spawn(engine: Engine) -> Option<(TestApp, Mail)> {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("mail.txt");
    let blobs = std::sync::Arc::new(LocalBlobStore::new(dir.path().join("recordings")));
    let dashboard = Dashboard {
        mailer: Mailer::dev_file(path.clone(), "frontdesk <noreply@frontdesk.test>").unwrap(),
        link_base: Some(LINK_BASE.into()),
        blobs: Some(blobs.clone()),
        // Webhook receivers in these tests are wiremock servers on loopback.
        webhook_policy: loopback_webhooks(),
        ..Default::default()
    };
    let app = spawn_app_with(engine, dashboard).await?;
    Some((
        app,
        Mail {
            path,
            blobs,
            _dir: dir,
        },
    ))
}

fn loopback_webhooks() -> frontdesk_server::outbound::SsrfPolicy {
    frontdesk_server::outbound::SsrfPolicy {
        allowlist: frontdesk_server::outbound::Allowlist::parse(&["127.0.0.0/8"]).unwrap(),
        allow_http: true,
    }
}

async fn add_user(app: &TestApp, email: &str, name: &str, role: Role) -> frontdesk_domain::UserId {
    let scope = app.scope(CLINIC).await;
    app.store
        .create_user(
            scope,
            &NewUser {
                email: Email::parse(email).unwrap(),
                name: name.into(),
                role,
            },
        )
        .await
        .unwrap()
}

/// A browser: its own cookie jar, no automatic redirects.
struct Browser {
    client: reqwest::Client,
    base: String,
    cookies: BTreeMap<String, String>,
}

impl Browser {
    fn new(app: &TestApp) -> Self {
        Self {
            client: reqwest::Client::builder()
                .redirect(reqwest::redirect::Policy::none())
                .build()
                .unwrap(),
            base: app.base.clone(),
            cookies: BTreeMap::new(),
        }
    }

    /// A browser whose requests carry `X-Forwarded-For: ip`, as if through a reverse proxy.
    fn forwarded_for(app: &TestApp, ip: &str) -> Self {
        let mut headers = reqwest::header::HeaderMap::new();
        headers.insert("x-forwarded-for", ip.parse().unwrap());
        Self {
            client: reqwest::Client::builder()
                .redirect(reqwest::redirect::Policy::none())
                .default_headers(headers)
                .build()
                .unwrap(),
            base: app.base.clone(),
            cookies: BTreeMap::new(),
        }
    }

    fn keep_cookies(&mut self, r: &reqwest::Response) {
        for v in r.headers().get_all("set-cookie") {
            let v = v.to_str().unwrap();
            let (pair, _) = v.split_once(';').unwrap_or((v, ""));
            let (name, value) = pair.split_once('=').unwrap();
            if v.contains("Max-Age=0") {
                self.cookies.remove(name);
            } else {
                self.cookies.insert(name.to_owned(), value.to_owned());
            }
        }
    }

    fn cookie_header(&self) -> String {
        self.cookies
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect::<Vec<_>>()
            .join("; ")
    }

    async fn get(&mut self, path: &str) -> (u16, String, reqwest::header::HeaderMap) {
        let r = self
            .client
            .get(format!("{}{path}", self.base))
            .header("cookie", self.cookie_header())
            .send()
            .await
            .unwrap();
        self.keep_cookies(&r);
        let (status, headers) = (r.status().as_u16(), r.headers().clone());
        (status, r.text().await.unwrap(), headers)
    }

    async fn post(
        &mut self,
        path: &str,
        form: &[(&str, &str)],
    ) -> (u16, String, reqwest::header::HeaderMap) {
        let r = self
            .client
            .post(format!("{}{path}", self.base))
            .header("cookie", self.cookie_header())
            .form(form)
            .send()
            .await
            .unwrap();
        self.keep_cookies(&r);
        let (status, headers) = (r.status().as_u16(), r.headers().clone());
        (status, r.text().await.unwrap(), headers)
    }

    /// The value of the hidden input `name` in `html`.
    fn hidden(html: &str, name: &str) -> String {
        let marker = format!("name=\"{name}\" value=\"");
        let start = html
            .find(&marker)
            .unwrap_or_else(|| panic!("no {name} in {html}"))
            + marker.len();
        html[start..][..html[start..].find('"').unwrap()].to_owned()
    }

    async fn ask_for_link(&mut self, email: &str) -> (u16, String) {
        let (status, html, _) = self.get("/dashboard/login").await;
        assert_eq!(status, 200);
        let csrf = Self::hidden(&html, "csrf");
        let (status, body, _) = self
            .post(
                "/dashboard/login",
                &[("csrf", &csrf), ("clinic", CLINIC), ("email", email)],
            )
            .await;
        (status, body)
    }

    /// Opens an emailed link and confirms it; returns the final status.
    async fn use_link(&mut self, link: &str) -> (u16, String, reqwest::header::HeaderMap) {
        let (status, html, _) = self.get(link).await;
        if status != 200 {
            return (status, html, Default::default());
        }
        let csrf = Self::hidden(&html, "csrf");
        let link_value = Self::hidden(&html, "link");
        self.post("/dashboard/auth", &[("csrf", &csrf), ("link", &link_value)])
            .await
    }

    /// Sets up TOTP from the session's MFA pages and returns the secret.
    async fn set_up_totp(&mut self) -> Vec<u8> {
        let (_, intro, _) = self.get("/dashboard/mfa").await;
        let csrf = Self::hidden(&intro, "csrf");
        let (_, setup, _) = self.post("/dashboard/mfa/setup", &[("csrf", &csrf)]).await;
        let secret = base32_decode(between(&setup, "id=\"secret\">", "<"));
        let code = totp::code_at_step(&secret, totp::step_of(jiff::Timestamp::now().as_second()));
        let (status, _, _) = self
            .post(
                "/dashboard/mfa/confirm",
                &[("csrf", &csrf), ("code", &code)],
            )
            .await;
        assert_eq!(status, 200);
        secret
    }

    /// Opens a server-sent event stream with this browser's cookies.
    async fn stream(&self, path: &str) -> reqwest::Response {
        self.client
            .get(format!("{}{path}", self.base))
            .header("cookie", self.cookie_header())
            .header("accept", "text/event-stream")
            .send()
            .await
            .unwrap()
    }

    async fn sign_in(&mut self, mail: &Mail, n: usize, email: &str) {
        let (status, _) = self.ask_for_link(email).await;
        assert_eq!(status, 200);
        let link = mail.link(n).await;
        let (status, _, headers) = self.use_link(&link).await;
        assert_eq!(status, 303);
        assert_eq!(headers["location"], "/dashboard");
    }
}

async fn a_staff_member_signs_in_by_link_and_logs_out(app: TestApp, mail: Mail) {
    add_user(&app, "mere@harbour.test", "Mere Tane", Role::Reception).await;
    let mut b = Browser::new(&app);
    let (status, body) = b.ask_for_link("mere@harbour.test").await;
    assert_eq!(status, 200);
    assert!(body.contains("Check your email"), "{body}");
    let link = mail.link(1).await;
    assert!(link.starts_with("/dashboard/auth?link="), "{link}");
    // Opening the link only shows a confirmation: fetching it (a mail scanner) spends nothing.
    let (status, html, _) = b.get(&link).await;
    assert_eq!(status, 200);
    assert!(html.contains("Finish signing in"));
    let (status, html, _) = b.get(&link).await;
    assert_eq!(status, 200, "still usable after two fetches");
    let csrf = Browser::hidden(&html, "csrf");
    let value = Browser::hidden(&html, "link");
    let (status, _, headers) = b
        .post("/dashboard/auth", &[("csrf", &csrf), ("link", &value)])
        .await;
    assert_eq!(status, 303);
    let set: Vec<&str> = headers
        .get_all("set-cookie")
        .iter()
        .map(|v| v.to_str().unwrap())
        .collect();
    let session = set
        .iter()
        .find(|c| c.starts_with(&format!("{SESSION_COOKIE}=")))
        .expect("a session cookie");
    for flag in ["HttpOnly", "Secure", "SameSite=Strict", "Path=/"] {
        assert!(session.contains(flag), "{session} lacks {flag}");
    }
    assert!(
        set.iter()
            .any(|c| c.starts_with(&format!("{LOGIN_COOKIE}=")) && c.contains("Max-Age=0")),
        "the binding cookie is cleared: {set:?}"
    );
    let (status, home, _) = b.get("/dashboard").await;
    assert_eq!(status, 200);
    assert!(
        home.contains("Mere Tane") && home.contains("Reception"),
        "{home}"
    );
    // The same link again, even in the same browser: spent.
    let (status, html, _) = b
        .post("/dashboard/auth", &[("csrf", &csrf), ("link", &value)])
        .await;
    assert_eq!(status, 401, "{html}");

    let csrf = Browser::hidden(&home, "csrf");
    let (status, _, headers) = b.post("/dashboard/logout", &[("csrf", &csrf)]).await;
    assert_eq!(status, 303);
    assert_eq!(headers["location"], "/dashboard/login");
    let (status, _, headers) = b.get("/dashboard").await;
    assert_eq!(status, 303);
    assert_eq!(headers["location"], "/dashboard/login");
    app.finish().await;
}

async fn known_and_unknown_addresses_get_the_same_answer(app: TestApp, mail: Mail) {
    add_user(&app, "ana@harbour.test", "Ana", Role::Doctor).await;
    let mut b = Browser::new(&app);
    let known = b.ask_for_link("ana@harbour.test").await;
    let unknown = b.ask_for_link("nobody@harbour.test").await;
    let mut c = Browser::new(&app);
    let (status, html, _) = c.get("/dashboard/login").await;
    assert_eq!(status, 200);
    let csrf = Browser::hidden(&html, "csrf");
    let (s, body, _) = c
        .post(
            "/dashboard/login",
            &[
                ("csrf", &csrf),
                ("clinic", "no-such-clinic"),
                ("email", "ana@harbour.test"),
            ],
        )
        .await;
    assert_eq!(known, unknown, "the answer never reveals an account");
    assert_eq!((s, body), known, "nor a clinic");
    mail.link(1).await;
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    assert_eq!(
        mail.text()
            .matches(&format!("{LINK_BASE}/dashboard/auth?link="))
            .count(),
        1,
        "only the account's address got an email"
    );
    // Malformed input is an error on the form, not a different "sent" page.
    let (status, html, _) = b.get("/dashboard/login").await;
    assert_eq!(status, 200);
    let csrf = Browser::hidden(&html, "csrf");
    let (status, html, _) = b
        .post(
            "/dashboard/login",
            &[
                ("csrf", &csrf),
                ("clinic", CLINIC),
                ("email", "not an email"),
            ],
        )
        .await;
    assert_eq!(status, 422);
    assert!(
        html.contains("not valid") && html.contains("value=\"not an email\""),
        "{html}"
    );
    app.finish().await;
}

async fn a_link_works_only_in_its_browser_and_every_form_needs_its_csrf_token(
    app: TestApp,
    mail: Mail,
) {
    add_user(&app, "tui@harbour.test", "Tui", Role::Reception).await;
    // Without the login form's token (a cross-site form post): refused, nothing sent.
    let mut b = Browser::new(&app);
    b.get("/dashboard/login").await;
    let (status, _, _) = b
        .post(
            "/dashboard/login",
            &[
                ("csrf", "forged"),
                ("clinic", CLINIC),
                ("email", "tui@harbour.test"),
            ],
        )
        .await;
    assert_eq!(status, 403);
    // Without the binding cookie at all.
    let mut no_cookie = Browser::new(&app);
    let (status, _, _) = no_cookie
        .post(
            "/dashboard/login",
            &[
                ("csrf", "x"),
                ("clinic", CLINIC),
                ("email", "tui@harbour.test"),
            ],
        )
        .await;
    assert_eq!(status, 400);

    b.ask_for_link("tui@harbour.test").await;
    let link = mail.link(1).await;
    // Another browser (it has its own binding cookie): refused, and the link is spent.
    let mut other = Browser::new(&app);
    other.get("/dashboard/login").await;
    let (status, _, _) = other.use_link(&link).await;
    assert_eq!(status, 401);
    let (status, _, _) = b.use_link(&link).await;
    assert_eq!(status, 401, "spent by the failed attempt");

    // A fresh link; confirming it with a wrong token is refused and does not spend it.
    b.ask_for_link("tui@harbour.test").await;
    let link = mail.link(2).await;
    let (_, html, _) = b.get(&link).await;
    let value = Browser::hidden(&html, "link");
    let (status, _, _) = b
        .post("/dashboard/auth", &[("csrf", "forged"), ("link", &value)])
        .await;
    assert_eq!(status, 403);
    let (status, _, _) = b.use_link(&link).await;
    assert_eq!(status, 303);

    // Session forms need the session's token.
    let (_, home, _) = b.get("/dashboard").await;
    let (status, _, _) = b.post("/dashboard/logout", &[("csrf", "forged")]).await;
    assert_eq!(status, 403);
    let (status, _, _) = b.get("/dashboard").await;
    assert_eq!(status, 200, "still signed in");
    let login_csrf = Browser::hidden(&home, "csrf");
    assert!(!login_csrf.is_empty());
    app.finish().await;
}

async fn the_dashboard_needs_a_live_session_of_its_own_clinic(app: TestApp, mail: Mail) {
    add_user(&app, "sam@harbour.test", "Sam", Role::ReceptionHead).await;
    let mut b = Browser::new(&app);
    let (status, _, headers) = b.get("/dashboard").await;
    assert_eq!(
        (status, headers["location"].to_str().unwrap()),
        (303, "/dashboard/login")
    );
    b.sign_in(&mail, 1, "sam@harbour.test").await;
    let (status, _, _) = b.get("/dashboard").await;
    assert_eq!(status, 200);
    // The same secret presented as another clinic's session: refused.
    let value = b.cookies[SESSION_COOKIE].clone();
    let (_, secret) = value.split_once('.').unwrap();
    let other = app.scope("nairobi-family").await.tenant_id();
    let mut forged = Browser::new(&app);
    forged
        .cookies
        .insert(SESSION_COOKIE.into(), format!("{other}.{secret}"));
    let (status, _, headers) = forged.get("/dashboard").await;
    assert_eq!(status, 303);
    assert!(
        headers
            .get_all("set-cookie")
            .iter()
            .any(|c| c.to_str().unwrap().contains("Max-Age=0")),
        "a dead session cookie is cleared"
    );
    for junk in ["", "nonsense", "not-a-uuid.secret", &format!("{other}.")] {
        let mut j = Browser::new(&app);
        j.cookies.insert(SESSION_COOKIE.into(), junk.to_owned());
        let (status, _, _) = j.get("/dashboard").await;
        assert_eq!(status, 303, "{junk:?}");
    }
    app.finish().await;
}

fn base32_decode(s: &str) -> Vec<u8> {
    let mut out = Vec::new();
    let (mut buf, mut bits) = (0u32, 0);
    for c in s.chars().filter(|c| !c.is_whitespace()) {
        let v = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567".find(c).unwrap() as u32;
        buf = (buf << 5) | v;
        bits += 5;
        if bits >= 8 {
            bits -= 8;
            out.push((buf >> bits) as u8);
        }
    }
    out
}

fn between<'a>(html: &'a str, start: &str, end: &str) -> &'a str {
    let i = html
        .find(start)
        .unwrap_or_else(|| panic!("no {start} in {html}"))
        + start.len();
    &html[i..][..html[i..].find(end).unwrap()]
}

async fn logging_out_everywhere_ends_every_session(app: TestApp, mail: Mail) {
    add_user(&app, "owner@harbour.test", "Olive", Role::Owner).await;
    let mut phone = Browser::new(&app);
    let mut laptop = Browser::new(&app);

    // An Owner must set up a second factor before seeing anything.
    phone.sign_in(&mail, 1, "owner@harbour.test").await;
    let (status, _, headers) = phone.get("/dashboard").await;
    assert_eq!(
        (status, headers["location"].to_str().unwrap()),
        (303, "/dashboard/mfa")
    );
    let (status, intro, _) = phone.get("/dashboard/mfa").await;
    assert_eq!(status, 200);
    assert!(
        intro.contains("Your role must sign in with a second step"),
        "{intro}"
    );
    let csrf = Browser::hidden(&intro, "csrf");
    let (status, setup, _) = phone.post("/dashboard/mfa/setup", &[("csrf", &csrf)]).await;
    assert_eq!(status, 200);
    let secret = base32_decode(between(&setup, "id=\"secret\">", "<"));
    assert_eq!(secret.len(), 20);
    assert!(setup.contains("otpauth://totp/"), "{setup}");
    let code = |at: i64| totp::code_at_step(&secret, totp::step_of(at));
    let now = || jiff::Timestamp::now().as_second();
    let (status, page, _) = phone
        .post(
            "/dashboard/mfa/confirm",
            &[("csrf", &csrf), ("code", "000000")],
        )
        .await;
    assert_eq!(status, 422, "{page}");
    // (The wrong code did not replace the pending key.)
    let (status, codes, _) = phone
        .post(
            "/dashboard/mfa/confirm",
            &[("csrf", &csrf), ("code", &code(now()))],
        )
        .await;
    assert_eq!(status, 200, "{codes}");
    let recovery: Vec<&str> = between(&codes, "id=\"recovery\">", "</ol>")
        .split("<code>")
        .skip(1)
        .map(|c| &c[..c.find('<').unwrap()])
        .collect();
    assert_eq!(recovery.len(), 10, "{codes}");
    let (status, home, _) = phone.get("/dashboard").await;
    assert_eq!(status, 200);
    assert!(
        !home.contains("Set up two-step sign-in"),
        "no offer once set up"
    );

    // Another device: the link, then the second factor (here a recovery code).
    laptop.sign_in(&mail, 2, "owner@harbour.test").await;
    let (status, _, headers) = laptop.get("/dashboard").await;
    assert_eq!(
        (status, headers["location"].to_str().unwrap()),
        (303, "/dashboard/mfa")
    );
    let (_, verify, _) = laptop.get("/dashboard/mfa").await;
    let lcsrf = Browser::hidden(&verify, "csrf");
    let (status, _, _) = laptop
        .post(
            "/dashboard/mfa/verify",
            &[("csrf", &lcsrf), ("code", "123456")],
        )
        .await;
    assert_eq!(status, 422);
    let (status, _, headers) = laptop
        .post(
            "/dashboard/mfa/verify",
            &[("csrf", &lcsrf), ("code", recovery[0])],
        )
        .await;
    assert_eq!(
        (status, headers["location"].to_str().unwrap()),
        (303, "/dashboard")
    );
    let (status, home, _) = laptop.get("/dashboard").await;
    assert_eq!(status, 200);

    // Log out on every device.
    let csrf = Browser::hidden(&home, "csrf");
    let (status, _, _) = laptop
        .post("/dashboard/logout-everywhere", &[("csrf", &csrf)])
        .await;
    assert_eq!(status, 303);
    for b in [&mut phone, &mut laptop] {
        let (status, _, headers) = b.get("/dashboard").await;
        assert_eq!(
            (status, headers["location"].to_str().unwrap()),
            (303, "/dashboard/login")
        );
    }
    let scope = app.scope(CLINIC).await;
    let audit = app.store.audit_entries(scope, 0, 500).await.unwrap();
    let actions: Vec<&str> = audit.iter().map(|e| e.action.as_str()).collect();
    for a in [
        "staff.sign_in_link_sent",
        "staff.signed_in",
        "staff.mfa_enabled",
        "staff.recovery_code_used",
        "staff.sessions_ended",
    ] {
        assert!(actions.contains(&a), "{a} audited: {actions:?}");
    }
    app.finish().await;
}

async fn staff_names_are_escaped_and_pages_are_not_cached(app: TestApp, mail: Mail) {
    add_user(
        &app,
        "x@harbour.test",
        "<script>alert(1)</script><img src=x onerror=alert(2)>",
        Role::Doctor,
    )
    .await;
    let mut b = Browser::new(&app);
    let (_, _, headers) = b.get("/dashboard/login").await;
    assert_eq!(headers["cache-control"], "no-store");
    let csp = headers["content-security-policy"].to_str().unwrap();
    assert!(
        csp.contains("frame-ancestors 'none'") && !csp.contains("unsafe-inline"),
        "{csp}"
    );
    assert!(headers.contains_key("strict-transport-security"));
    assert_eq!(headers["x-content-type-options"], "nosniff");
    assert_eq!(headers["referrer-policy"], "no-referrer");
    b.sign_in(&mail, 1, "x@harbour.test").await;
    let (status, home, headers) = b.get("/dashboard").await;
    assert_eq!(status, 200);
    assert_eq!(headers["cache-control"], "no-store");
    assert!(
        !home.contains("<script>alert") && !home.contains("<img src=x"),
        "{home}"
    );
    assert!(
        home.contains("&#60;script&#62;") || home.contains("&lt;script&gt;"),
        "shown as text: {home}"
    );
    // A doctor sees their reach in the matrix: assigned work only, no administration.
    assert!(home.contains("Only what is assigned to you"));
    app.finish().await;
}

async fn an_optional_second_factor_once_set_up_is_required(app: TestApp, mail: Mail) {
    add_user(&app, "rua@harbour.test", "Rua", Role::Reception).await;
    let mut b = Browser::new(&app);
    b.sign_in(&mail, 1, "rua@harbour.test").await;
    let (status, home, _) = b.get("/dashboard").await;
    assert_eq!(status, 200, "reception needs no second factor");
    assert!(home.contains("Set up two-step sign-in"));
    let csrf = Browser::hidden(&home, "csrf");
    let (_, setup, _) = b.post("/dashboard/mfa/setup", &[("csrf", &csrf)]).await;
    let secret = base32_decode(between(&setup, "id=\"secret\">", "<"));
    let code = totp::code_at_step(&secret, totp::step_of(jiff::Timestamp::now().as_second()));
    let (status, _, _) = b
        .post(
            "/dashboard/mfa/confirm",
            &[("csrf", &csrf), ("code", &code)],
        )
        .await;
    assert_eq!(status, 200);
    // From now on this user's new sessions need it too.
    let mut other = Browser::new(&app);
    other.sign_in(&mail, 2, "rua@harbour.test").await;
    let (status, _, headers) = other.get("/dashboard").await;
    assert_eq!(
        (status, headers["location"].to_str().unwrap()),
        (303, "/dashboard/mfa")
    );
    // Forged form tokens are refused on the second-factor forms too.
    let (status, _, _) = other
        .post(
            "/dashboard/mfa/verify",
            &[("csrf", "forged"), ("code", &code)],
        )
        .await;
    assert_eq!(status, 403);
    app.finish().await;
}

const AUDIO: &[u8] = b"ID3\x04 pretend this is an MP3 of a caller asking for an appointment";

/// A stored recording of a call to `slug`, as the worker leaves it.
async fn stored_recording(app: &TestApp, mail: &Mail, slug: &str) -> frontdesk_domain::RecordingId {
    let scope = app.scope(slug).await;
    let phone = frontdesk_domain::E164Phone::parse("+64215550123").unwrap();
    app.store
        .start_call(scope, "CA00dash", &phone, "Hello")
        .await
        .unwrap();
    let id = app
        .store
        .note_recording(scope, "CA00dash", "RE00dash", Some(75))
        .await
        .unwrap()
        .unwrap();
    let sealed = app.store.seal_recording(scope, id, AUDIO).await.unwrap();
    let key = frontdesk_server::recordings::blob_key(scope.tenant_id(), id);
    mail.blobs.put(&key, &sealed).await.unwrap();
    let sha = {
        use sha2::Digest;
        sha2::Sha256::digest(&sealed)
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect::<String>()
    };
    app.store
        .recording_stored(scope, id, &key, sealed.len() as i64, &sha)
        .await
        .unwrap();
    id
}

async fn a_recording_plays_through_a_short_lived_url_bound_to_the_session(
    app: TestApp,
    mail: Mail,
) {
    add_user(&app, "desk@harbour.test", "Desk", Role::Reception).await;
    add_user(&app, "desk2@harbour.test", "Desk Two", Role::Reception).await;
    add_user(&app, "doc@harbour.test", "Doc", Role::Doctor).await;
    let id = stored_recording(&app, &mail, CLINIC).await;
    let mut b = Browser::new(&app);
    b.sign_in(&mail, 1, "desk@harbour.test").await;
    let (status, html, headers) = b.get(&format!("/dashboard/recordings/{id}")).await;
    assert_eq!(status, 200, "{html}");
    assert_eq!(headers["cache-control"], "no-store");
    let csp = headers["content-security-policy"].to_str().unwrap();
    assert!(
        csp.contains("media-src 'self'") && csp.contains("default-src 'none'"),
        "{csp}"
    );
    let audio = &html[html.find("<audio").expect("an audio element")..];
    let src = between(audio, "src=\"", "\"")
        .replace("&amp;", "&")
        .replace("&#38;", "&");
    assert!(
        src.starts_with(&format!("/dashboard/recordings/{id}/audio?exp=")),
        "{src}"
    );
    let r = b
        .client
        .get(format!("{}{src}", b.base))
        .header("cookie", b.cookie_header())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["content-type"], "audio/mpeg");
    assert_eq!(r.headers()["cache-control"], "no-store");
    assert_eq!(&r.bytes().await.unwrap()[..], AUDIO);

    // The same URL in another staff member's session, or with no session: refused.
    let mut other = Browser::new(&app);
    other.sign_in(&mail, 2, "desk2@harbour.test").await;
    let (status, _, _) = other.get(&src).await;
    assert_eq!(status, 403);
    let (status, _, _) = Browser::new(&app).get(&src).await;
    assert_eq!(status, 303, "no session: to the sign-in page");
    // Tampered expiry, or an expiry in the past: refused.
    let exp: i64 = between(&src, "exp=", "&").parse().unwrap();
    let (status, _, _) = b
        .get(&src.replace(&format!("exp={exp}"), &format!("exp={}", exp + 3600)))
        .await;
    assert_eq!(status, 403);
    let (status, _, _) = b.get(&src.replace(&format!("exp={exp}"), "exp=1000")).await;
    assert_eq!(status, 403);
    // A doctor has nothing assigned yet; another clinic's recording does not exist here.
    let mut doc = Browser::new(&app);
    doc.sign_in(&mail, 3, "doc@harbour.test").await;
    let (status, _, _) = doc.get(&format!("/dashboard/recordings/{id}")).await;
    assert_eq!(status, 404);
    let elsewhere = stored_recording(&app, &mail, "nairobi-family").await;
    let (status, _, _) = b.get(&format!("/dashboard/recordings/{elsewhere}")).await;
    assert_eq!(status, 404);
    // After logout the URL is dead.
    let (_, home, _) = b.get("/dashboard").await;
    let csrf = Browser::hidden(&home, "csrf");
    b.post("/dashboard/logout", &[("csrf", &csrf)]).await;
    let (status, _, _) = b.get(&src).await;
    assert_eq!(status, 303);

    let scope = app.scope(CLINIC).await;
    let audit = app.store.audit_entries(scope, 0, 500).await.unwrap();
    assert_eq!(
        audit
            .iter()
            .filter(|e| e.action == "recording.played")
            .count(),
        1,
        "each playback is audited"
    );
    app.finish().await;
}

async fn the_owner_reads_the_audit_log_and_its_verification_status(app: TestApp, mail: Mail) {
    add_user(&app, "boss@harbour.test", "Boss", Role::Owner).await;
    add_user(&app, "front@harbour.test", "Front", Role::ReceptionHead).await;
    let mut owner = Browser::new(&app);
    owner.sign_in(&mail, 1, "boss@harbour.test").await;
    // Before the second factor, not even the Owner reads it.
    let (status, _, headers) = owner.get("/dashboard/audit").await;
    assert_eq!(
        (status, headers["location"].to_str().unwrap()),
        (303, "/dashboard/mfa")
    );
    owner.set_up_totp().await;
    let (status, home, _) = owner.get("/dashboard").await;
    assert_eq!(status, 200);
    assert!(home.contains("href=\"/dashboard/audit\""));
    let (status, page, headers) = owner.get("/dashboard/audit").await;
    assert_eq!(status, 200, "{page}");
    assert_eq!(headers["cache-control"], "no-store");
    assert!(
        between(&page, "id=\"chain-status\">", "</p>").contains("intact"),
        "{page}"
    );
    for action in ["staff.signed_in", "staff.mfa_enabled", "user.created"] {
        assert!(page.contains(action), "{action} listed: {page}");
    }
    // Only the Owner.
    let mut front = Browser::new(&app);
    front.sign_in(&mail, 2, "front@harbour.test").await;
    let (status, home, _) = front.get("/dashboard").await;
    assert_eq!(status, 200);
    assert!(!home.contains("/dashboard/audit"));
    let (status, _, _) = front.get("/dashboard/audit").await;
    assert_eq!(status, 403);
    app.finish().await;
}

async fn the_owner_invites_changes_roles_and_disables_users(app: TestApp, mail: Mail) {
    add_user(&app, "own@harbour.test", "Owen Owner", Role::Owner).await;
    add_user(&app, "rec@harbour.test", "Rex Reception", Role::Reception).await;
    let mut owner = Browser::new(&app);
    owner.sign_in(&mail, 1, "own@harbour.test").await;
    owner.set_up_totp().await;
    let (status, page, _) = owner.get("/dashboard/users").await;
    assert_eq!(status, 200, "{page}");
    assert!(
        page.contains("Owen Owner") && page.contains("(you)") && page.contains("Rex Reception")
    );
    let csrf = Browser::hidden(&page, "csrf");
    let invite = |csrf: String, email: &'static str| {
        vec![
            ("csrf", csrf),
            ("name", "Nia <b>New</b>".to_owned()),
            ("email", email.to_owned()),
            ("role", "reception".to_owned()),
        ]
    };
    let form = invite(csrf.clone(), "nia@harbour.test");
    let form: Vec<(&str, &str)> = form.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let (status, _, headers) = owner.post("/dashboard/users", &form).await;
    assert_eq!(
        (status, headers["location"].to_str().unwrap()),
        (303, "/dashboard/users")
    );
    // The new staff member is emailed how to sign in (no secret in it: a link still has to be
    // asked for from their own browser).
    let mut invitation = String::new();
    for _ in 0..100 {
        invitation = mail.text();
        if invitation.contains("has added you to frontdesk") {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    let start = invitation
        .find("To: nia@harbour.test")
        .unwrap_or_else(|| panic!("no invitation to Nia in:\n{invitation}"));
    let invitation = &invitation[start..];
    assert!(
        invitation.contains("Owen Owner has added you to frontdesk")
            && invitation.contains(&format!("{LINK_BASE}/dashboard/login?clinic={CLINIC}"))
            && !invitation.contains("/dashboard/auth?link="),
        "{invitation}"
    );
    let (status, _, _) = owner.post("/dashboard/users", &form).await;
    assert_eq!(status, 409, "the same address twice");
    let (_, page, _) = owner.get("/dashboard/users").await;
    assert!(
        page.contains("Nia &#60;b&#62;New&#60;/b&#62;") || page.contains("Nia &lt;b&gt;New"),
        "{page}"
    );
    let nia = app
        .store
        .list_users(app.scope(CLINIC).await)
        .await
        .unwrap()
        .into_iter()
        .find(|u| u.email.as_str() == "nia@harbour.test")
        .unwrap()
        .id;

    // The new user signs in; a role change ends her session at once.
    let mut nia_b = Browser::new(&app);
    nia_b.sign_in(&mail, 2, "nia@harbour.test").await;
    assert_eq!(nia_b.get("/dashboard").await.0, 200);
    let (status, _, _) = owner
        .post(
            &format!("/dashboard/users/{nia}/role"),
            &[("csrf", &csrf), ("role", "reception_head")],
        )
        .await;
    assert_eq!(status, 303);
    assert_eq!(nia_b.get("/dashboard").await.0, 303);
    nia_b.sign_in(&mail, 3, "nia@harbour.test").await;
    let (_, home, _) = nia_b.get("/dashboard").await;
    assert!(home.contains("Reception Head"), "{home}");
    // Disabled: her session ends and she gets no more links.
    let (status, _, _) = owner
        .post(
            &format!("/dashboard/users/{nia}/active"),
            &[("csrf", &csrf), ("active", "false")],
        )
        .await;
    assert_eq!(status, 303);
    assert_eq!(nia_b.get("/dashboard").await.0, 303);
    let (status, _) = nia_b.ask_for_link("nia@harbour.test").await;
    assert_eq!(status, 200);
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    assert_eq!(
        mail.text()
            .matches(&format!("{LINK_BASE}/dashboard/auth?link="))
            .count(),
        3,
        "no link for a disabled user"
    );

    // Not on oneself, not with a forged token, not another clinic's user, not as reception.
    let me = app.store.list_users(app.scope(CLINIC).await).await.unwrap();
    let me = me.iter().find(|u| u.role == Role::Owner).unwrap().id;
    let (status, _, _) = owner
        .post(
            &format!("/dashboard/users/{me}/role"),
            &[("csrf", &csrf), ("role", "reception")],
        )
        .await;
    assert_eq!(status, 409);
    let (status, _, _) = owner
        .post(
            &format!("/dashboard/users/{nia}/active"),
            &[("csrf", "forged"), ("active", "true")],
        )
        .await;
    assert_eq!(status, 403);
    let other_scope = app.scope("nairobi-family").await;
    let stranger = app
        .store
        .invite_user(
            other_scope,
            &NewUser {
                email: Email::parse("x@nairobi.test").unwrap(),
                name: "X".into(),
                role: Role::Reception,
            },
            frontdesk_store::Actor::Operator,
        )
        .await
        .unwrap();
    let (status, _, _) = owner
        .post(
            &format!("/dashboard/users/{stranger}/active"),
            &[("csrf", &csrf), ("active", "false")],
        )
        .await;
    assert_eq!(status, 404);
    let mut rec = Browser::new(&app);
    rec.sign_in(&mail, 4, "rec@harbour.test").await;
    assert_eq!(rec.get("/dashboard/users").await.0, 403);
    let (_, rhome, _) = rec.get("/dashboard").await;
    let rcsrf = Browser::hidden(&rhome, "csrf");
    let (status, _, _) = rec
        .post(
            &format!("/dashboard/users/{nia}/active"),
            &[("csrf", &rcsrf), ("active", "true")],
        )
        .await;
    assert_eq!(status, 403);
    let audit = app
        .store
        .audit_entries(app.scope(CLINIC).await, 0, 500)
        .await
        .unwrap();
    for a in ["user.created", "user.role_changed", "user.disabled"] {
        assert!(
            audit
                .iter()
                .any(|e| e.action == a && e.actor_kind == "staff"),
            "{a} by staff"
        );
    }
    app.finish().await;
}

/// Every dashboard route that shows or changes clinic data, for every role, in its own clinic
/// and with another clinic's ids: the status must follow `Role::access` exactly (another
/// clinic's data is always 404). Grows with every route.
/// A WhatsApp conversation of clinic `slug` with one patient message, for the inbox pages.
/// A new patient of clinic `slug` with this name and mobile number.
async fn new_patient(
    app: &TestApp,
    slug: &str,
    name: &str,
    phone: &str,
) -> frontdesk_domain::PatientId {
    app.store
        .create_patient(
            app.scope(slug).await,
            &frontdesk_store::NewPatient {
                name: Some(name.into()),
                phone: Some(frontdesk_domain::E164Phone::parse(phone).unwrap()),
                ..Default::default()
            },
        )
        .await
        .unwrap()
}

async fn whatsapp_conversation(
    app: &TestApp,
    slug: &str,
    name: &str,
    phone: &str,
    text: &str,
) -> frontdesk_domain::ConversationId {
    let scope = app.scope(slug).await;
    let patient = new_patient(app, slug, name, phone).await;
    let conv = app
        .store
        .start_conversation(scope, patient, frontdesk_store::Channel::Whatsapp)
        .await
        .unwrap();
    let turn = frontdesk_store::Turn {
        inbound: Some(frontdesk_store::NewMessage::inbound(text)),
        job: None,
        replies: Vec::new(),
        audit: Vec::new(),
        escalation: None,
        summary: None,
        dialogue_state: None,
        llm_usage: None,
    };
    app.store.record_turn(scope, conv, &turn).await.unwrap();
    conv
}

async fn staff_take_over_reply_and_give_back_and_patient_text_stays_text(app: TestApp, mail: Mail) {
    let conv = whatsapp_conversation(
        &app,
        CLINIC,
        "<script>alert('name')</script> Mere",
        "+64215550177",
        "<img src=x onerror=alert(1)> see <a href=\"javascript:alert(2)\">this</a>",
    )
    .await;
    add_user(&app, "ana@harbour.test", "Ana Aroha", Role::Reception).await;
    add_user(
        &app,
        "ben@harbour.test",
        "Ben <i>Brown</i>",
        Role::ReceptionHead,
    )
    .await;
    let mut ana = Browser::new(&app);
    ana.sign_in(&mail, 1, "ana@harbour.test").await;
    let mut ben = Browser::new(&app);
    ben.sign_in(&mail, 2, "ben@harbour.test").await;

    // The inbox lists it, unread, with the patient's name as text.
    let (status, inbox, _) = ana.get("/dashboard/inbox").await;
    assert_eq!(status, 200, "{inbox}");
    assert!(
        inbox.contains("&#60;script&#62;") && inbox.contains("Mere"),
        "{inbox}"
    );
    assert!(!inbox.contains("<script>"));
    assert!(inbox.contains(">new<"), "unread for Ana");
    let path = format!("/dashboard/conversations/{conv}");
    assert!(inbox.contains(&path));
    // Search by phone (any spacing) and by name; a bad number is a clear 422.
    let (_, found, _) = ana.get("/dashboard/inbox?phone=%2B64+21+555+0177").await;
    assert!(found.contains(&path));
    let (_, none, _) = ana.get("/dashboard/inbox?phone=%2B64215550999").await;
    assert!(!none.contains(&path) && none.contains("No conversations match"));
    let (_, by_name, _) = ana.get("/dashboard/inbox?name=mere").await;
    assert!(by_name.contains(&path));
    let (status, _, _) = ana.get("/dashboard/inbox?phone=call+me").await;
    assert_eq!(status, 422);

    // The message is shown as text; opening it marks it read.
    let (status, page, _) = ana.get(&path).await;
    assert_eq!(status, 200);
    assert!(
        page.contains("&#60;img src=x onerror=alert(1)&#62;"),
        "{page}"
    );
    assert!(!page.contains("<img") && !page.contains("<a href=\"javascript"));
    let audit = app
        .store
        .audit_entries(app.scope(CLINIC).await, 0, 10_000)
        .await
        .unwrap();
    assert!(
        audit.iter().any(|e| e.action == "conversation.viewed"
            && e.actor_kind == "staff"
            && e.target_id.as_deref() == Some(conv.to_string().as_str())),
        "opening a conversation is audited"
    );
    assert!(page.contains("The AI receptionist is answering"));
    let (_, inbox, _) = ana.get("/dashboard/inbox").await;
    assert!(!inbox.contains(">new<"), "read now");
    let csrf = Browser::hidden(&page, "csrf");

    // Ana takes over; Ben sees who holds it and can neither take it nor reply.
    let (status, _, headers) = ana
        .post(&format!("{path}/takeover"), &[("csrf", &csrf)])
        .await;
    assert_eq!(
        (status, headers["location"].to_str().unwrap()),
        (303, path.as_str())
    );
    let (_, page, _) = ben.get(&path).await;
    assert!(
        page.contains("Held by <strong>Ana Aroha</strong>"),
        "{page}"
    );
    assert!(!page.contains("/takeover\""), "no takeover button for Ben");
    let ben_csrf = Browser::hidden(&ben.get("/dashboard").await.1, "csrf");
    let (status, page, _) = ben
        .post(&format!("{path}/takeover"), &[("csrf", &ben_csrf)])
        .await;
    assert_eq!(status, 409);
    assert!(page.contains("Someone else holds this conversation"));
    let (status, _, _) = ben
        .post(
            &format!("{path}/reply"),
            &[("csrf", &ben_csrf), ("text", "Ben here")],
        )
        .await;
    assert_eq!(status, 409);
    // Without the CSRF token nothing happens.
    let (status, _, _) = ana
        .post(
            &format!("{path}/reply"),
            &[("csrf", "forged"), ("text", "x")],
        )
        .await;
    assert_eq!(status, 403);

    // Ana replies: stored as a staff message and queued in the outbox like any reply.
    let (status, _, _) = ana
        .post(
            &format!("{path}/reply"),
            &[("csrf", &csrf), ("text", "Kia ora, Ana here.")],
        )
        .await;
    assert_eq!(status, 303);
    let (status, _, _) = ana
        .post(
            &format!("{path}/reply"),
            &[("csrf", &csrf), ("text", "   ")],
        )
        .await;
    assert_eq!(status, 422);
    let scope = app.scope(CLINIC).await;
    let messages = app.store.messages(scope, conv).await.unwrap();
    let last = messages.last().unwrap();
    assert_eq!(
        (last.sender, last.body.as_str()),
        (frontdesk_store::Sender::Staff, "Kia ora, Ana here.")
    );
    let outbox = app.store.outbox_entries(scope, 10).await.unwrap();
    assert!(outbox.iter().any(|o| o.message == Some(last.id)));

    // Ana gives it back; the history shows both events; Ben may now take it.
    let (status, _, _) = ana
        .post(&format!("{path}/release"), &[("csrf", &csrf)])
        .await;
    assert_eq!(status, 303);
    let (_, page, _) = ben.get(&path).await;
    assert!(page.contains("Taken over by staff") && page.contains("Given back to the AI"));
    assert!(page.contains("The AI receptionist is answering"));
    let (status, _, _) = ben
        .post(&format!("{path}/takeover"), &[("csrf", &ben_csrf)])
        .await;
    assert_eq!(status, 303);
    app.finish().await;
}

/// Reads `stream` until an event named `name` arrives (at most 20 s); answers its data.
async fn next_event(stream: &mut reqwest::Response, name: &str) -> String {
    let mut buf = String::new();
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(20);
    loop {
        // Events end with a blank line; look at each complete one.
        while let Some(end) = buf.find("\n\n") {
            let event: String = buf.drain(..end + 2).collect();
            if event.lines().any(|l| l == format!("event: {name}")) {
                return event
                    .lines()
                    .filter_map(|l| l.strip_prefix("data: ").or(l.strip_prefix("data:")))
                    .collect::<Vec<_>>()
                    .join("\n");
            }
        }
        let chunk = tokio::time::timeout_at(deadline, stream.chunk())
            .await
            .unwrap_or_else(|_| panic!("no `{name}` event within 20 s; got {buf:?}"))
            .unwrap()
            .unwrap_or_else(|| panic!("the stream ended before a `{name}` event"));
        buf.push_str(&String::from_utf8_lossy(&chunk));
    }
}

async fn the_inbox_and_a_conversation_update_live_and_stop_at_sign_out(app: TestApp, mail: Mail) {
    let conv = whatsapp_conversation(&app, CLINIC, "Hemi", "+64215550166", "hello").await;
    add_user(&app, "ana@harbour.test", "Ana Aroha", Role::Reception).await;
    add_user(&app, "doc@harbour.test", "Dr Doc", Role::Doctor).await;
    let mut ana = Browser::new(&app);
    ana.sign_in(&mail, 1, "ana@harbour.test").await;
    let scope = app.scope(CLINIC).await;
    let other = app
        .store
        .create_user(
            scope,
            &NewUser {
                email: Email::parse("rangi@harbour.test").unwrap(),
                name: "Rangi <b>P</b>".into(),
                role: Role::Reception,
            },
        )
        .await
        .unwrap();

    // The pages name their stream and load our script (no inline code).
    let (_, page, _) = ana.get("/dashboard/inbox").await;
    assert!(
        page.contains("data-live=\"/dashboard/inbox/live?phone="),
        "{page}"
    );
    assert!(page.contains("<script src=\"/static/dashboard.js\" defer></script>"));
    let (status, js, _) = ana.get("/static/dashboard.js").await;
    assert!(status == 200 && js.contains("EventSource"));

    // The inbox stream sends the fresh list when someone else takes a conversation over.
    let mut inbox = ana.stream("/dashboard/inbox/live?phone=&name=").await;
    assert_eq!(inbox.status(), 200);
    assert!(
        inbox.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/event-stream")
    );
    app.store
        .take_over(scope, conv, other, jiff::SignedDuration::from_mins(15))
        .await
        .unwrap();
    let html = next_event(&mut inbox, "changed").await;
    assert!(html.contains("Rangi &#60;b&#62;P&#60;/b&#62;"), "{html}");
    assert!(html.contains(&format!("/dashboard/conversations/{conv}")));

    // The conversation stream sends new messages as escaped text.
    let path = format!("/dashboard/conversations/{conv}/live");
    let mut one = ana.stream(&path).await;
    assert_eq!(one.status(), 200);
    let turn = frontdesk_store::Turn {
        inbound: Some(frontdesk_store::NewMessage::inbound(
            "<img src=x onerror=alert(1)> still there?",
        )),
        job: None,
        replies: Vec::new(),
        audit: Vec::new(),
        escalation: None,
        summary: None,
        dialogue_state: None,
        llm_usage: None,
    };
    app.store.record_turn(scope, conv, &turn).await.unwrap();
    let html = next_event(&mut one, "changed").await;
    assert!(
        html.contains("&#60;img src=x onerror=alert(1)&#62; still there?"),
        "{html}"
    );
    assert!(!html.contains("<img"));

    // Signing out ends the streams.
    let (_, home, _) = ana.get("/dashboard").await;
    let csrf = Browser::hidden(&home, "csrf");
    assert_eq!(
        ana.post("/dashboard/logout", &[("csrf", &csrf)]).await.0,
        303
    );
    next_event(&mut one, "signed-out").await;
    next_event(&mut inbox, "signed-out").await;
    // No session: 401 (the browser stops reconnecting); a Doctor (assigned only) gets no
    // conversation stream.
    assert_eq!(
        Browser::new(&app)
            .stream("/dashboard/inbox/live")
            .await
            .status(),
        401
    );
    let mut doc = Browser::new(&app);
    doc.sign_in(&mail, 2, "doc@harbour.test").await;
    assert_eq!(doc.stream(&path).await.status(), 404);
    assert_eq!(doc.stream("/dashboard/inbox/live").await.status(), 200);
    app.finish().await;
}

/// Books the first free time of clinic `slug` in the next two weeks for a new patient called
/// `name`; answers the appointment and its clinic-local date.
async fn booked(
    app: &TestApp,
    slug: &str,
    name: &str,
    phone: &str,
) -> (frontdesk_store::Appointment, String) {
    let patient = new_patient(app, slug, name, phone).await;
    book_first_free(app, slug, patient).await
}

/// Books the first free time with practitioner `p` for `service` in the next two weeks;
/// answers the appointment and its clinic-local date, or `None` if there is no free time.
async fn first_free_with(
    app: &TestApp,
    slug: &str,
    patient: frontdesk_domain::PatientId,
    p: frontdesk_domain::PractitionerId,
    service: frontdesk_domain::ServiceId,
) -> Option<(frontdesk_store::Appointment, String)> {
    use frontdesk_store::{NewAppointment, SlotSearch};
    let scope = app.scope(slug).await;
    let catalog = app.store.clinic_catalog(scope).await.unwrap();
    let tz = jiff::tz::TimeZone::get(catalog.clinic.profile.timezone.as_str()).unwrap();
    let today = jiff::Timestamp::now().to_zoned(tz.clone()).date();
    let search = SlotSearch {
        practitioner: p,
        service,
        from: today,
        to: today.checked_add(jiff::Span::new().days(14)).unwrap(),
        min_notice: jiff::SignedDuration::from_hours(2),
        day_start: None,
        day_end: None,
        limit: 1,
    };
    let slot = app
        .store
        .free_slots(scope, &search)
        .await
        .unwrap()
        .first()?
        .start;
    let a = app
        .store
        .book_appointment(
            scope,
            &NewAppointment {
                patient,
                practitioner: p,
                service,
                starts_at: slot,
                idempotency_key: format!("diary-{patient}"),
                actor: frontdesk_store::Actor::Agent,
            },
        )
        .await
        .unwrap();
    let date = a.starts_at.to_zoned(tz).date().to_string();
    Some((a, date))
}

/// Books the first free time of clinic `slug` in the next two weeks for `patient`; answers the
/// appointment and its clinic-local date.
async fn book_first_free(
    app: &TestApp,
    slug: &str,
    patient: frontdesk_domain::PatientId,
) -> (frontdesk_store::Appointment, String) {
    let catalog = app
        .store
        .clinic_catalog(app.scope(slug).await)
        .await
        .unwrap();
    for service in &catalog.services {
        for p in &catalog.practitioners {
            if let Some(booked) = first_free_with(app, slug, patient, p.id, service.id).await {
                return booked;
            }
        }
    }
    panic!("no free time in two weeks at {slug}");
}

async fn the_diary_shows_each_practitioners_day_and_reception_cancels(app: TestApp, mail: Mail) {
    let (appt, date) = booked(&app, CLINIC, "<b>Kahu</b> Tipene", "+64215550155").await;
    add_user(&app, "ana@harbour.test", "Ana Aroha", Role::Reception).await;
    add_user(&app, "ro@harbour.test", "Dr Read", Role::ReadOnlyDoctor).await;
    let mut ana = Browser::new(&app);
    ana.sign_in(&mail, 1, "ana@harbour.test").await;
    let scope = app.scope(CLINIC).await;
    let catalog = app.store.clinic_catalog(scope).await.unwrap();
    let practitioner = catalog
        .practitioners
        .iter()
        .find(|p| p.id == appt.practitioner_id)
        .unwrap();

    let (status, day, _) = ana.get(&format!("/dashboard/diary?date={date}")).await;
    assert_eq!(status, 200, "{day}");
    assert!(day.contains(&practitioner.name), "{day}");
    assert!(day.contains("&#60;b&#62;Kahu&#60;/b&#62; Tipene"), "{day}");
    assert!(!day.contains("<b>Kahu"));
    let cancel = format!("/dashboard/appointments/{}/cancel", appt.id);
    assert!(day.contains(&cancel));
    let (_, week, _) = ana
        .get(&format!("/dashboard/diary?date={date}&view=week"))
        .await;
    assert!(week.contains("Tipene") && week.contains("Week of"));
    // Another day does not list it; a bad date is a clear 422.
    let (_, other, _) = ana.get("/dashboard/diary?date=2001-01-01").await;
    assert!(!other.contains("Tipene"), "{other}");
    assert_eq!(ana.get("/dashboard/diary?date=31/12/2026").await.0, 422);

    // Cancelled by the receptionist, with the store's own rules and audit.
    let csrf = Browser::hidden(&day, "csrf");
    assert_eq!(ana.post(&cancel, &[("csrf", "forged")]).await.0, 403);
    let (status, _, headers) = ana.post(&cancel, &[("csrf", &csrf)]).await;
    assert_eq!(
        (status, headers["location"].to_str().unwrap()),
        (303, format!("/dashboard/diary?date={date}").as_str())
    );
    let now = app.store.appointment(scope, appt.id).await.unwrap();
    assert_eq!(now.status.as_str(), "cancelled");
    let audit = app.store.audit_entries(scope, 0, 10_000).await.unwrap();
    let ev = audit
        .iter()
        .rev()
        .find(|e| e.action == "appointment.cancelled")
        .expect("audited");
    assert_eq!(ev.actor_kind, "staff");
    let (_, day, _) = ana.get(&format!("/dashboard/diary?date={date}")).await;
    assert!(
        !day.contains("Tipene"),
        "a cancelled appointment leaves the diary"
    );

    // Booked again from the diary at the freed time, for the patient found by phone; a double
    // submit of the same form books once; the same time for someone else is refused.
    let tz = jiff::tz::TimeZone::get(catalog.clinic.profile.timezone.as_str()).unwrap();
    let time = appt
        .starts_at
        .to_zoned(tz.clone())
        .strftime("%H:%M")
        .to_string();
    let nonce = Browser::hidden(&day, "nonce");
    let practitioner_id = appt.practitioner_id.to_string();
    let service_id = appt.service_id.to_string();
    let book = |nonce: String, phone: &'static str| {
        vec![
            ("csrf", csrf.clone()),
            ("nonce", nonce),
            ("practitioner", practitioner_id.clone()),
            ("service", service_id.clone()),
            ("date", date.clone()),
            ("time", time.clone()),
            ("phone", phone.to_owned()),
            ("name", "Someone New".to_owned()),
        ]
    };
    async fn send(b: &mut Browser, path: &str, f: Vec<(&'static str, String)>) -> (u16, String) {
        let f: Vec<(&str, &str)> = f.iter().map(|(k, v)| (*k, v.as_str())).collect();
        let (status, body, _) = b.post(path, &f).await;
        (status, body)
    }
    let p = "/dashboard/appointments";
    assert_eq!(
        send(&mut ana, p, book(nonce.clone(), "+64 21 555 0155"))
            .await
            .0,
        303
    );
    assert_eq!(
        send(&mut ana, p, book(nonce.clone(), "+64 21 555 0155"))
            .await
            .0,
        303,
        "the same form again"
    );
    let (status, page) = send(&mut ana, p, book(format!("{nonce}-2"), "+64215550999")).await;
    assert_eq!(status, 409, "{page}");
    assert!(page.contains("That time is not free"));
    let (status, page) = send(&mut ana, p, book(format!("{nonce}-3"), "not a phone")).await;
    assert_eq!(status, 422, "{page}");
    let from = appt.starts_at - jiff::SignedDuration::from_hours(1);
    let to = appt.starts_at + jiff::SignedDuration::from_hours(24);
    let live = app.store.diary(scope, from, to).await.unwrap();
    let rebooked: Vec<_> = live
        .iter()
        .filter(|e| e.appointment.starts_at == appt.starts_at)
        .map(|e| e.appointment.clone())
        .collect();
    assert_eq!(rebooked.len(), 1, "booked once");
    assert_eq!(rebooked[0].patient_id, appt.patient_id, "found by phone");
    let rebooked = rebooked[0].clone();

    // Moved from the diary: outside opening hours is refused with the rule; a free time works.
    let move_path = format!("/dashboard/appointments/{}/move", rebooked.id);
    let mv = |nonce: String, date: String, time: String| {
        vec![
            ("csrf", csrf.clone()),
            ("nonce", nonce),
            ("date", date),
            ("time", time),
        ]
    };
    let (status, page) = send(
        &mut ana,
        &move_path,
        mv(format!("{nonce}-m1"), date.clone(), "03:00".into()),
    )
    .await;
    assert_eq!(status, 422, "{page}");
    assert!(page.contains("That booking is not possible"));
    let day0 = appt.starts_at.to_zoned(tz.clone()).date();
    let search = frontdesk_store::SlotSearch {
        practitioner: appt.practitioner_id,
        service: appt.service_id,
        from: day0,
        to: day0.checked_add(jiff::Span::new().days(14)).unwrap(),
        min_notice: jiff::SignedDuration::from_hours(2),
        day_start: None,
        day_end: None,
        limit: 1,
    };
    let next_free = app.store.free_slots(scope, &search).await.unwrap()[0]
        .start
        .to_zoned(tz.clone());
    let new_date = next_free.date().to_string();
    let new_time = next_free.strftime("%H:%M").to_string();
    let (status, _) = send(
        &mut ana,
        &move_path,
        mv(format!("{nonce}-m2"), new_date.clone(), new_time.clone()),
    )
    .await;
    assert_eq!(status, 303);
    assert_eq!(
        app.store
            .appointment(scope, rebooked.id)
            .await
            .unwrap()
            .status
            .as_str(),
        "cancelled",
        "a move cancels the old time"
    );
    let (_, moved, _) = ana.get(&format!("/dashboard/diary?date={new_date}")).await;
    assert!(
        moved.contains("Tipene") && moved.contains(&new_time),
        "{moved}"
    );

    // A read-only doctor (assigned only) sees no appointments and cannot cancel.
    let (appt2, date2) = booked(&app, CLINIC, "Second Patient", "+64215550156").await;
    let mut ro = Browser::new(&app);
    ro.sign_in(&mail, 2, "ro@harbour.test").await;
    let (status, page, _) = ro.get(&format!("/dashboard/diary?date={date2}")).await;
    assert_eq!(status, 200);
    assert!(
        page.contains("Yours is not linked to one yet") && !page.contains("Second Patient"),
        "an unlinked read-only doctor sees no diary"
    );
    let ro_csrf = Browser::hidden(&ro.get("/dashboard").await.1, "csrf");
    let path = format!("/dashboard/appointments/{}/cancel", appt2.id);
    assert_eq!(ro.post(&path, &[("csrf", &ro_csrf)]).await.0, 403);
    app.finish().await;
}

async fn analytics_chart_the_clinics_days_and_show_money_only_to_those_who_may(
    app: TestApp,
    mail: Mail,
) {
    let scope = app.scope(CLINIC).await;
    let first = whatsapp_conversation(&app, CLINIC, "One", "+64215550141", "hello").await;
    whatsapp_conversation(&app, CLINIC, "Two", "+64215550142", "kia ora").await;
    let turn = frontdesk_store::Turn {
        inbound: Some(frontdesk_store::NewMessage::inbound("chest pain")),
        job: None,
        replies: vec![frontdesk_store::NewMessage::agent_reply("Call 111 now.")],
        audit: Vec::new(),
        escalation: Some(frontdesk_store::Escalation {
            urgency: frontdesk_store::Urgency::Emergency,
            notify: frontdesk_store::NotificationKind::Emergency,
            details: serde_json::json!({ "rule": "test" }),
        }),
        summary: None,
        dialogue_state: None,
        llm_usage: None,
    };
    app.store.record_turn(scope, first, &turn).await.unwrap();
    booked(&app, CLINIC, "Three", "+64215550143").await;
    // Another clinic's activity never counts here.
    whatsapp_conversation(&app, "nairobi-family", "Far", "+254700000091", "habari").await;

    add_user(&app, "own@harbour.test", "Owen Owner", Role::Owner).await;
    add_user(&app, "head@harbour.test", "Hana Head", Role::ReceptionHead).await;
    add_user(&app, "rec@harbour.test", "Rex Reception", Role::Reception).await;
    let mut owner = Browser::new(&app);
    owner.sign_in(&mail, 1, "own@harbour.test").await;
    owner.set_up_totp().await;
    let (status, page, _) = owner.get("/dashboard/analytics").await;
    assert_eq!(status, 200, "{page}");
    assert_eq!(page.matches("<svg").count(), 6, "six charts");
    assert!(page.contains("role=\"img\""));
    for figure in [
        "Conversations started: 2",
        "Red flags (emergency or urgent): 1",
        "Appointments booked: 1",
        "Handed to staff: 0",
    ] {
        assert!(page.contains(figure), "{figure} in {page}");
    }
    assert!(
        page.contains("Value of appointments booked"),
        "the Owner sees money"
    );
    assert!(page.contains("<strong aria-current=\"page\">30 days</strong>"));
    let (_, week, _) = owner.get("/dashboard/analytics?days=7").await;
    assert!(week.contains("<strong aria-current=\"page\">7 days</strong>"));
    let (_, odd, _) = owner.get("/dashboard/analytics?days=5").await;
    assert!(odd.contains("<strong aria-current=\"page\">30 days</strong>"));

    let mut head = Browser::new(&app);
    head.sign_in(&mail, 2, "head@harbour.test").await;
    let (status, page, _) = head.get("/dashboard/analytics").await;
    assert_eq!(status, 200);
    assert!(page.contains("Conversations started: 2"));
    assert!(
        !page.contains("Value of appointments"),
        "no revenue for reception"
    );
    let mut rec = Browser::new(&app);
    rec.sign_in(&mail, 3, "rec@harbour.test").await;
    assert_eq!(rec.get("/dashboard/analytics").await.0, 403);
    app.finish().await;
}

async fn a_patient_record_is_found_by_phone_with_consent_conversations_and_appointments(
    app: TestApp,
    mail: Mail,
) {
    let conv =
        whatsapp_conversation(&app, CLINIC, "<i>Hine</i> Walker", "+64215550122", "hi").await;
    let scope = app.scope(CLINIC).await;
    let phone = frontdesk_domain::E164Phone::parse("+64215550122").unwrap();
    app.store
        .record_consent(
            scope,
            frontdesk_store::Channel::Whatsapp,
            &phone,
            frontdesk_store::ConsentChange::OptOut,
            "keyword",
        )
        .await
        .unwrap();
    let patient = app
        .store
        .conversation(scope, conv)
        .await
        .unwrap()
        .patient_id;
    let (appt, _) = book_first_free(&app, CLINIC, patient).await;
    let catalog = app.store.clinic_catalog(scope).await.unwrap();
    let service = catalog
        .services
        .iter()
        .find(|s| s.id == appt.service_id)
        .unwrap();
    add_user(&app, "rec@harbour.test", "Rex Reception", Role::Reception).await;
    add_user(&app, "doc@harbour.test", "Dr Doc", Role::Doctor).await;
    let mut rec = Browser::new(&app);
    rec.sign_in(&mail, 1, "rec@harbour.test").await;

    // Found by phone (any spacing), through the blind index: straight to the record.
    let (status, _, headers) = rec.get("/dashboard/patients?phone=%2B64+21+555+0122").await;
    assert_eq!(
        (status, headers["location"].to_str().unwrap()),
        (303, format!("/dashboard/patients/{patient}").as_str())
    );
    let (status, page, _) = rec.get(&format!("/dashboard/patients/{patient}")).await;
    assert_eq!(status, 200, "{page}");
    assert!(
        page.contains("&#60;i&#62;Hine&#60;/i&#62; Walker"),
        "{page}"
    );
    assert!(!page.contains("<i>Hine"));
    assert!(page.contains("+64215550122"));
    assert!(
        page.contains("Opted out") && page.contains("keyword"),
        "{page}"
    );
    assert!(page.contains(&format!("/dashboard/conversations/{conv}")));
    assert!(
        page.contains(&service.name) && page.contains("booked"),
        "{page}"
    );
    // The view is in the audit log, for the clinic's access report.
    let audit = app.store.audit_entries(scope, 0, 10_000).await.unwrap();
    let viewed = audit
        .iter()
        .rev()
        .find(|e| e.action == "patient.viewed")
        .expect("the view is audited");
    assert_eq!(viewed.actor_kind, "staff");
    assert_eq!(
        viewed.target_id.as_deref(),
        Some(patient.to_string().as_str())
    );
    // No match, and a malformed number.
    let (status, page, _) = rec.get("/dashboard/patients?phone=%2B64215550999").await;
    assert_eq!(status, 200);
    assert!(page.contains("No patient of this clinic has that number"));
    assert_eq!(rec.get("/dashboard/patients?phone=hello").await.0, 422);
    assert_eq!(
        rec.get(&format!("/dashboard/patients/{}", uuid::Uuid::now_v7()))
            .await
            .0,
        404
    );

    // A Doctor (assigned only) finds nobody unassigned and opens no record of theirs.
    let mut doc = Browser::new(&app);
    doc.sign_in(&mail, 2, "doc@harbour.test").await;
    let (status, page, _) = doc.get("/dashboard/patients?phone=%2B64215550122").await;
    assert_eq!(status, 200);
    assert!(
        page.contains("No patient assigned to you has that number"),
        "{page}"
    );
    assert_eq!(
        doc.get(&format!("/dashboard/patients/{patient}")).await.0,
        404
    );
    app.finish().await;
}

async fn the_owner_edits_the_clinic_profile_and_faq_and_each_change_is_audited(
    app: TestApp,
    mail: Mail,
) {
    add_user(&app, "own@harbour.test", "Owen Owner", Role::Owner).await;
    add_user(&app, "rec@harbour.test", "Rex Reception", Role::Reception).await;
    let mut owner = Browser::new(&app);
    owner.sign_in(&mail, 1, "own@harbour.test").await;
    owner.set_up_totp().await;
    let (status, page, _) = owner.get("/dashboard/settings").await;
    assert_eq!(status, 200, "{page}");
    assert!(page.contains("Harbour Physio"));
    let csrf = Browser::hidden(&page, "csrf");
    let profile = |csrf: &str, name: &str, idle: &str| {
        vec![
            ("csrf", csrf.to_owned()),
            ("name", name.to_owned()),
            ("phone", "+64 9 555 0100".to_owned()),
            ("address", "12 Quay Street".to_owned()),
            (
                "privacy_notice",
                "We keep your messages encrypted for 90 days.".to_owned(),
            ),
            (
                "cancellation_policy",
                "Please give 24 hours' notice.".to_owned(),
            ),
            ("reminder_hours", "24".to_owned()),
            ("session_idle_minutes", idle.to_owned()),
        ]
    };
    async fn send(b: &mut Browser, path: &str, f: Vec<(&'static str, String)>) -> (u16, String) {
        let f: Vec<(&str, &str)> = f.iter().map(|(k, v)| (*k, v.as_str())).collect();
        let (status, body, _) = b.post(path, &f).await;
        (status, body)
    }
    let p = "/dashboard/settings/profile";
    assert_eq!(
        send(&mut owner, p, profile("forged", "X", "30")).await.0,
        403
    );
    let (status, page) = send(&mut owner, p, profile(&csrf, "   ", "30")).await;
    assert_eq!(status, 422);
    assert!(page.contains("Not saved"), "{page}");
    assert_eq!(
        send(&mut owner, p, profile(&csrf, "Harbour", "soon"))
            .await
            .0,
        422
    );
    let (status, _) = send(
        &mut owner,
        p,
        profile(&csrf, "Harbour Physio & <b>Rehab</b>", "45"),
    )
    .await;
    assert_eq!(status, 303);
    let scope = app.scope(CLINIC).await;
    let saved = app.store.clinic(scope).await.unwrap().profile;
    assert_eq!(saved.name, "Harbour Physio & <b>Rehab</b>");
    assert_eq!(saved.session_idle_minutes, 45);
    assert_eq!(
        saved.privacy_notice,
        "We keep your messages encrypted for 90 days."
    );
    let (_, page, _) = owner.get("/dashboard/settings").await;
    assert!(
        page.contains("Harbour Physio &#38; &#60;b&#62;Rehab&#60;/b&#62;"),
        "{page}"
    );

    let faq = vec![
        ("csrf", csrf.clone()),
        ("question", "Do you have <i>parking</i>?".to_owned()),
        ("answer", "Yes, behind the building.".to_owned()),
    ];
    assert_eq!(
        send(&mut owner, "/dashboard/settings/faq", faq).await.0,
        303
    );
    let (_, page, _) = owner.get("/dashboard/settings").await;
    assert!(
        page.contains("Do you have &#60;i&#62;parking&#60;/i&#62;?"),
        "{page}"
    );
    let empty = vec![
        ("csrf", csrf.clone()),
        ("question", " ".to_owned()),
        ("answer", "x".to_owned()),
    ];
    assert_eq!(
        send(&mut owner, "/dashboard/settings/faq", empty).await.0,
        422
    );

    // Both changes are audited with the Owner as the actor.
    let audit = app.store.audit_entries(scope, 0, 10_000).await.unwrap();
    for action in ["clinic.profile_updated", "faq.created"] {
        let e = audit.iter().rev().find(|e| e.action == action).unwrap();
        assert_eq!(e.actor_kind, "staff", "{action}");
    }
    let mut rec = Browser::new(&app);
    rec.sign_in(&mail, 2, "rec@harbour.test").await;
    assert_eq!(rec.get("/dashboard/settings").await.0, 403);
    app.finish().await;
}

async fn every_route_answers_every_role_as_the_matrix_says(app: TestApp, mail: Mail) {
    use frontdesk_domain::{Access, Permission};
    let own = stored_recording(&app, &mail, CLINIC).await;
    let own_conv = whatsapp_conversation(&app, CLINIC, "Own", "+64215550188", "hi").await;
    let foreign_conv =
        whatsapp_conversation(&app, "nairobi-family", "Far", "+254700000077", "habari").await;
    let (foreign_appt, _) = booked(&app, "nairobi-family", "Far Away", "+254700000078").await;
    let own_patient = app
        .store
        .conversation(app.scope(CLINIC).await, own_conv)
        .await
        .unwrap()
        .patient_id;
    let foreign = {
        let scope = app.scope("nairobi-family").await;
        let phone = frontdesk_domain::E164Phone::parse("+254700000001").unwrap();
        app.store
            .start_call(scope, "CA00frgn", &phone, "Hello")
            .await
            .unwrap();
        app.store
            .note_recording(scope, "CA00frgn", "RE00frgn", Some(5))
            .await
            .unwrap()
            .unwrap()
    };
    let foreign_user = app
        .store
        .invite_user(
            app.scope("nairobi-family").await,
            &NewUser {
                email: Email::parse("far@nairobi.test").unwrap(),
                name: "Far".into(),
                role: Role::Reception,
            },
            frontdesk_store::Actor::Operator,
        )
        .await
        .unwrap();
    let foreign_key = app
        .store
        .create_api_key(
            app.scope("nairobi-family").await,
            &frontdesk_store::NewApiKey {
                name: "far".into(),
                scopes: frontdesk_domain::ApiScopes::parse("schedule:read").unwrap(),
                rate_per_minute: 60,
            },
            frontdesk_store::Actor::Operator,
        )
        .await
        .unwrap()
        .info
        .id;
    let foreign_hook = app
        .store
        .create_webhook_endpoint(
            app.scope("nairobi-family").await,
            &frontdesk_store::NewWebhookEndpoint {
                url: "https://hooks.nairobi.example/in".into(),
                host: "hooks.nairobi.example".into(),
                events: vec!["ping".into()],
                secret: "whsec_far".to_owned().into(),
            },
            frontdesk_store::Actor::Operator,
        )
        .await
        .unwrap()
        .id;
    let foreign_feed = app
        .store
        .create_calendar_feed(
            app.scope("nairobi-family").await,
            None,
            frontdesk_store::Actor::Operator,
        )
        .await
        .unwrap()
        .info
        .id;
    let foreign_alert = app
        .store
        .raise_security_alert(
            app.scope("nairobi-family").await,
            frontdesk_store::AlertKind::RecordReads,
            "user:far",
            &serde_json::json!({}),
        )
        .await
        .unwrap()
        .unwrap();
    let scope = app.scope(CLINIC).await;
    let author = add_user(&app, "author@harbour.test", "Author", Role::ReadOnlyDoctor).await;
    let foreign_draft = app
        .store
        .write_draft(
            app.scope("nairobi-family").await,
            foreign_conv,
            foreign_user,
            "far",
        )
        .await
        .unwrap();
    let mut n = 0;
    for role in Role::ALL {
        let address = format!("{}@harbour.test", role.as_str());
        let me = add_user(&app, &address, role.label(), role).await;
        // A conversation assigned to this staff member (only roles that reach what is
        // assigned to them need one; for the others it is one more of the clinic's), and a
        // colleague's draft waiting on the unassigned conversation.
        let assigned = whatsapp_conversation(
            &app,
            CLINIC,
            "Assigned",
            &format!("+6421555091{n}"),
            "hello",
        )
        .await;
        if role.access(Permission::ViewConversations) == Access::Assigned {
            app.store
                .assign_conversation(scope, assigned, Some(me), frontdesk_store::Actor::Operator)
                .await
                .unwrap();
        }
        let draft = app
            .store
            .write_draft(scope, own_conv, author, "a suggestion")
            .await
            .unwrap();
        let mut b = Browser::new(&app);
        n += 1;
        b.sign_in(&mail, n, &address).await;
        if role.requires_mfa() {
            assert_eq!(
                b.get("/dashboard").await.0,
                303,
                "{role:?} needs the second factor first"
            );
            b.set_up_totp().await;
        }
        let (status, home, _) = b.get("/dashboard").await;
        assert_eq!(status, 200, "{role:?} home");
        let csrf = Browser::hidden(&home, "csrf");
        let want = |p: Permission, ok: u16| match role.access(p) {
            Access::All => ok,
            Access::Assigned => 404,
            Access::None => 403,
        };
        let only_all = |p: Permission, ok: u16| {
            if role.access(p) == Access::All {
                ok
            } else {
                403
            }
        };
        let reach = |p: Permission, ok: u16, outside: u16| {
            if role.can(p) { ok } else { outside }
        };
        let checks: Vec<(&str, u16, u16)> = vec![
            (
                "/dashboard/conversations/{assigned to me}",
                b.get(&format!("/dashboard/conversations/{assigned}"))
                    .await
                    .0,
                reach(Permission::ViewConversations, 200, 403),
            ),
            (
                "/dashboard/conversations/{assigned to me}/live",
                b.stream(&format!("/dashboard/conversations/{assigned}/live"))
                    .await
                    .status()
                    .as_u16(),
                reach(Permission::ViewConversations, 200, 403),
            ),
            (
                "POST /dashboard/conversations/{own}/assign",
                b.post(
                    &format!("/dashboard/conversations/{own_conv}/assign"),
                    &[("csrf", &csrf), ("assignee", "")],
                )
                .await
                .0,
                only_all(Permission::ReplyToPatients, 303),
            ),
            (
                "POST /dashboard/conversations/{foreign}/assign",
                b.post(
                    &format!("/dashboard/conversations/{foreign_conv}/assign"),
                    &[("csrf", &csrf), ("assignee", "")],
                )
                .await
                .0,
                only_all(Permission::ReplyToPatients, 404),
            ),
            (
                "POST /dashboard/conversations/{own}/drafts",
                b.post(
                    &format!("/dashboard/conversations/{own_conv}/drafts"),
                    &[("csrf", &csrf), ("text", "x")],
                )
                .await
                .0,
                want(Permission::DraftReply, 303),
            ),
            (
                "POST /dashboard/conversations/{assigned to me}/drafts",
                b.post(
                    &format!("/dashboard/conversations/{assigned}/drafts"),
                    &[("csrf", &csrf), ("text", "x")],
                )
                .await
                .0,
                reach(Permission::DraftReply, 303, 403),
            ),
            (
                "POST /dashboard/conversations/{foreign}/drafts",
                b.post(
                    &format!("/dashboard/conversations/{foreign_conv}/drafts"),
                    &[("csrf", &csrf), ("text", "x")],
                )
                .await
                .0,
                reach(Permission::DraftReply, 404, 403),
            ),
            (
                "POST /dashboard/conversations/{own}/drafts/{d}/send (not holding)",
                b.post(
                    &format!("/dashboard/conversations/{own_conv}/drafts/{draft}/send"),
                    &[("csrf", &csrf)],
                )
                .await
                .0,
                want(Permission::ReplyToPatients, 409),
            ),
            (
                "POST /dashboard/conversations/{own}/drafts/{d}/discard",
                b.post(
                    &format!("/dashboard/conversations/{own_conv}/drafts/{draft}/discard"),
                    &[("csrf", &csrf)],
                )
                .await
                .0,
                want(Permission::ReplyToPatients, 303),
            ),
            (
                "POST /dashboard/conversations/{foreign}/drafts/{foreign}/discard",
                b.post(
                    &format!(
                        "/dashboard/conversations/{foreign_conv}/drafts/{foreign_draft}/discard"
                    ),
                    &[("csrf", &csrf)],
                )
                .await
                .0,
                reach(Permission::ReplyToPatients, 404, 403),
            ),
            (
                "POST /dashboard/users/{me}/practitioner",
                b.post(
                    &format!("/dashboard/users/{me}/practitioner"),
                    &[("csrf", &csrf), ("practitioner", "")],
                )
                .await
                .0,
                only_all(Permission::ManageUsers, 303),
            ),
            (
                "POST /dashboard/users/{foreign}/practitioner",
                b.post(
                    &format!("/dashboard/users/{foreign_user}/practitioner"),
                    &[("csrf", &csrf), ("practitioner", "")],
                )
                .await
                .0,
                only_all(Permission::ManageUsers, 404),
            ),
            (
                "/dashboard/audit",
                b.get("/dashboard/audit").await.0,
                only_all(Permission::ViewAuditLog, 200),
            ),
            (
                "/dashboard/security",
                b.get("/dashboard/security").await.0,
                only_all(Permission::ViewAuditLog, 200),
            ),
            (
                "POST /dashboard/security/{foreign}/acknowledge",
                b.post(
                    &format!("/dashboard/security/{foreign_alert}/acknowledge"),
                    &[("csrf", &csrf)],
                )
                .await
                .0,
                only_all(Permission::ViewAuditLog, 404),
            ),
            (
                "/dashboard/users",
                b.get("/dashboard/users").await.0,
                only_all(Permission::ManageUsers, 200),
            ),
            (
                "/dashboard/recordings/{own}",
                b.get(&format!("/dashboard/recordings/{own}")).await.0,
                want(Permission::PlayRecordings, 200),
            ),
            (
                "/dashboard/recordings/{foreign}",
                b.get(&format!("/dashboard/recordings/{foreign}")).await.0,
                if role.access(Permission::PlayRecordings) == Access::None {
                    403
                } else {
                    404
                },
            ),
            (
                "/dashboard/inbox",
                b.get("/dashboard/inbox").await.0,
                if role.can(Permission::ViewConversations) {
                    200
                } else {
                    403
                },
            ),
            (
                "/dashboard/patients/{own}/export",
                b.get(&format!(
                    "/dashboard/patients/{own_patient}/export?format=json"
                ))
                .await
                .0,
                only_all(Permission::ManageRetention, 200),
            ),
            (
                "POST /dashboard/patients/{foreign}/erase",
                b.post(
                    &format!("/dashboard/patients/{}/erase", foreign_appt.patient_id),
                    &[("csrf", &csrf), ("confirm", "ERASE")],
                )
                .await
                .0,
                only_all(Permission::ManageRetention, 404),
            ),
            (
                "POST /dashboard/settings/ai (answering)",
                b.post(
                    "/dashboard/settings/ai",
                    &[("csrf", csrf.as_str()), ("paused", "false")],
                )
                .await
                .0,
                only_all(Permission::ManageClinicProfile, 303),
            ),
            (
                "POST /dashboard/settings/retention (out of range)",
                b.post(
                    "/dashboard/settings/retention",
                    &[
                        ("csrf", csrf.as_str()),
                        ("conversation_days", "0"),
                        ("recording_days", "30"),
                        ("audit_years", "7"),
                    ],
                )
                .await
                .0,
                only_all(Permission::ManageRetention, 422),
            ),
            (
                "/dashboard/schedule",
                b.get("/dashboard/schedule").await.0,
                only_all(Permission::ManageSchedule, 200),
            ),
            (
                "POST /dashboard/schedule/practitioners/{foreign}/hours",
                b.post(
                    &format!(
                        "/dashboard/schedule/practitioners/{}/hours",
                        foreign_appt.practitioner_id
                    ),
                    &[("csrf", &csrf), ("hours", "Mon 09:00-10:00")],
                )
                .await
                .0,
                only_all(Permission::ManageSchedule, 404),
            ),
            (
                "/dashboard/channels",
                b.get("/dashboard/channels").await.0,
                only_all(Permission::ManageChannels, 200),
            ),
            (
                "/dashboard/api-keys",
                b.get("/dashboard/api-keys").await.0,
                only_all(Permission::ManageKeys, 200),
            ),
            (
                "POST /dashboard/api-keys (no scope)",
                b.post(
                    "/dashboard/api-keys",
                    &[("csrf", &csrf), ("name", "x"), ("rate", "60")],
                )
                .await
                .0,
                only_all(Permission::ManageKeys, 422),
            ),
            (
                "POST /dashboard/api-keys/{foreign}/revoke",
                b.post(
                    &format!("/dashboard/api-keys/{foreign_key}/revoke"),
                    &[("csrf", &csrf)],
                )
                .await
                .0,
                only_all(Permission::ManageKeys, 404),
            ),
            (
                "POST /dashboard/api-keys/{foreign}/rotate",
                b.post(
                    &format!("/dashboard/api-keys/{foreign_key}/rotate"),
                    &[("csrf", &csrf), ("overlap_hours", "1")],
                )
                .await
                .0,
                only_all(Permission::ManageKeys, 404),
            ),
            (
                "/dashboard/webhooks",
                b.get("/dashboard/webhooks").await.0,
                only_all(Permission::ManageKeys, 200),
            ),
            (
                "/dashboard/calendar-feeds",
                b.get("/dashboard/calendar-feeds").await.0,
                only_all(Permission::ManageSchedule, 200),
            ),
            (
                "POST /dashboard/calendar-feeds (bad practitioner)",
                b.post(
                    "/dashboard/calendar-feeds",
                    &[("csrf", &csrf), ("practitioner", "nobody")],
                )
                .await
                .0,
                only_all(Permission::ManageSchedule, 422),
            ),
            (
                "POST /dashboard/calendar-feeds/{foreign}/revoke",
                b.post(
                    &format!("/dashboard/calendar-feeds/{foreign_feed}/revoke"),
                    &[("csrf", &csrf)],
                )
                .await
                .0,
                only_all(Permission::ManageSchedule, 404),
            ),
            (
                "/dashboard/llm",
                b.get("/dashboard/llm").await.0,
                only_all(Permission::ManageKeys, 200),
            ),
            (
                "POST /dashboard/llm/disable (none set up)",
                b.post("/dashboard/llm/disable", &[("csrf", &csrf)]).await.0,
                only_all(Permission::ManageKeys, 404),
            ),
            (
                "POST /dashboard/webhooks/{foreign}/disable",
                b.post(
                    &format!("/dashboard/webhooks/{foreign_hook}/disable"),
                    &[("csrf", &csrf)],
                )
                .await
                .0,
                only_all(Permission::ManageKeys, 404),
            ),
            (
                "POST /dashboard/webhooks/{foreign}/test",
                b.post(
                    &format!("/dashboard/webhooks/{foreign_hook}/test"),
                    &[("csrf", &csrf)],
                )
                .await
                .0,
                only_all(Permission::ManageKeys, 404),
            ),
            (
                "POST /dashboard/channels/whatsapp (no secrets)",
                b.post(
                    "/dashboard/channels/whatsapp",
                    &[("csrf", &csrf), ("address", "")],
                )
                .await
                .0,
                only_all(Permission::ManageChannels, 422),
            ),
            (
                "POST /dashboard/settings/red-flags (no phrases)",
                b.post(
                    "/dashboard/settings/red-flags",
                    &[("csrf", &csrf), ("phrases", ""), ("level", "urgent")],
                )
                .await
                .0,
                only_all(Permission::ManageClinicProfile, 422),
            ),
            (
                "/dashboard/settings",
                b.get("/dashboard/settings").await.0,
                only_all(Permission::ManageClinicProfile, 200),
            ),
            (
                "/dashboard/patients",
                b.get("/dashboard/patients").await.0,
                if role.can(Permission::ViewPatients) {
                    200
                } else {
                    403
                },
            ),
            (
                "/dashboard/patients/{own}",
                b.get(&format!("/dashboard/patients/{own_patient}")).await.0,
                want(Permission::ViewPatients, 200),
            ),
            (
                "/dashboard/patients/{foreign}",
                b.get(&format!("/dashboard/patients/{}", foreign_appt.patient_id))
                    .await
                    .0,
                if role.can(Permission::ViewPatients) {
                    404
                } else {
                    403
                },
            ),
            (
                "/dashboard/analytics",
                b.get("/dashboard/analytics").await.0,
                only_all(Permission::ViewAnalytics, 200),
            ),
            (
                "/dashboard/diary",
                b.get("/dashboard/diary").await.0,
                if role.can(Permission::ViewAppointments) {
                    200
                } else {
                    403
                },
            ),
            (
                "POST /dashboard/appointments/{foreign}/cancel",
                b.post(
                    &format!("/dashboard/appointments/{}/cancel", foreign_appt.id),
                    &[("csrf", &csrf)],
                )
                .await
                .0,
                match role.access(Permission::ManageAppointments) {
                    Access::None => 403,
                    _ => 404,
                },
            ),
            (
                "/dashboard/inbox/live",
                b.stream("/dashboard/inbox/live").await.status().as_u16(),
                if role.can(Permission::ViewConversations) {
                    200
                } else {
                    403
                },
            ),
            (
                "/dashboard/conversations/{own}/live",
                b.stream(&format!("/dashboard/conversations/{own_conv}/live"))
                    .await
                    .status()
                    .as_u16(),
                want(Permission::ViewConversations, 200),
            ),
            (
                "/dashboard/conversations/{foreign}/live",
                b.stream(&format!("/dashboard/conversations/{foreign_conv}/live"))
                    .await
                    .status()
                    .as_u16(),
                if role.can(Permission::ViewConversations) {
                    404
                } else {
                    403
                },
            ),
            (
                "/dashboard/conversations/{own}",
                b.get(&format!("/dashboard/conversations/{own_conv}"))
                    .await
                    .0,
                want(Permission::ViewConversations, 200),
            ),
            (
                "/dashboard/conversations/{foreign}",
                b.get(&format!("/dashboard/conversations/{foreign_conv}"))
                    .await
                    .0,
                if role.can(Permission::ViewConversations) {
                    404
                } else {
                    403
                },
            ),
            (
                "POST /dashboard/conversations/{own}/takeover",
                b.post(
                    &format!("/dashboard/conversations/{own_conv}/takeover"),
                    &[("csrf", &csrf)],
                )
                .await
                .0,
                want(Permission::ReplyToPatients, 303),
            ),
            (
                "POST /dashboard/conversations/{own}/release",
                b.post(
                    &format!("/dashboard/conversations/{own_conv}/release"),
                    &[("csrf", &csrf)],
                )
                .await
                .0,
                want(Permission::ReplyToPatients, 303),
            ),
            (
                "POST /dashboard/conversations/{own}/reply (not holding)",
                b.post(
                    &format!("/dashboard/conversations/{own_conv}/reply"),
                    &[("csrf", &csrf), ("text", "hello")],
                )
                .await
                .0,
                want(Permission::ReplyToPatients, 409),
            ),
            (
                "POST /dashboard/conversations/{foreign}/takeover",
                b.post(
                    &format!("/dashboard/conversations/{foreign_conv}/takeover"),
                    &[("csrf", &csrf)],
                )
                .await
                .0,
                if role.can(Permission::ReplyToPatients) {
                    404
                } else {
                    403
                },
            ),
            (
                "POST /dashboard/users/{foreign}/active",
                b.post(
                    &format!("/dashboard/users/{foreign_user}/active"),
                    &[("csrf", &csrf), ("active", "false")],
                )
                .await
                .0,
                only_all(Permission::ManageUsers, 404),
            ),
        ];
        for (route, got, expected) in checks {
            assert_eq!(got, expected, "{role:?} {route}");
        }
    }
    app.finish().await;
}

// ----- the dashboard in a real browser (issue #7 item 7) -----

/// axe-core's source: `FRONTDESK_AXE_JS`, or where `.ci/run` installs it
/// (`~/.cache/frontdesk/axe/node_modules/axe-core/axe.min.js`). `None` after a loud banner when
/// missing, unless `FRONTDESK_REQUIRE_BROWSER` is set (CI), which makes it a failure.
fn axe_source_or_skip() -> Option<String> {
    let path = std::env::var_os("FRONTDESK_AXE_JS")
        .map(PathBuf::from)
        .or_else(|| {
            std::env::var_os("HOME").map(|h| {
                PathBuf::from(h).join(".cache/frontdesk/axe/node_modules/axe-core/axe.min.js")
            })
        })?;
    match std::fs::read_to_string(&path) {
        Ok(src) => Some(src),
        Err(e) => {
            if std::env::var_os("FRONTDESK_REQUIRE_BROWSER").is_some_and(|v| !v.is_empty()) {
                panic!(
                    "FRONTDESK_REQUIRE_BROWSER is set but axe-core is missing at {}: {e} \
                     (npm install axe-core@4 there, or set FRONTDESK_AXE_JS)",
                    path.display()
                );
            }
            eprintln!(
                "\n########\n#  axe-core not found at {} ({e}): the dashboard's browser and \
                 accessibility test is SKIPPED. CI installs it.\n########\n",
                path.display()
            );
            None
        }
    }
}

/// Runs axe-core on the current page (WCAG 2.0, 2.1 and 2.2, levels A and AA) and fails the
/// test with every violation found.
async fn assert_accessible(b: &crate::widget_browser::Browser, axe: &str, page: &str) {
    let script = format!(
        "{axe}\n;const done = arguments[arguments.length - 1];\n\
         axe.run(document, {{ runOnly: {{ type: 'tag', values: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa', 'wcag22a', 'wcag22aa'] }} }})\n\
           .then((r) => done({{ checked: r.passes.length, violations: r.violations.map((v) => ({{ id: v.id, impact: v.impact, help: v.help, nodes: v.nodes.slice(0, 5).map((n) => n.target.join(' ') + ' :: ' + n.html.slice(0, 120)) }})) }}))\n\
           .catch((e) => done({{ error: String(e) }}));"
    );
    let r = b
        .post(
            "/execute/async",
            serde_json::json!({ "script": script, "args": [] }),
        )
        .await
        .unwrap_or_else(|e| panic!("axe did not run on {page}: {e}"));
    assert!(r["error"].is_null(), "axe failed on {page}: {r}");
    assert!(
        r["checked"].as_u64().is_some_and(|n| n > 0),
        "axe checked nothing on {page}: {r}"
    );
    let violations = r["violations"].as_array().cloned().unwrap_or_default();
    assert!(
        violations.is_empty(),
        "WCAG 2.2 A/AA violations on {page}:\n{}",
        serde_json::to_string_pretty(&violations).unwrap()
    );
}

/// Tabs through the page (every `<details>` opened first) and fails if any visible link,
/// button, field or summary is never reached by the keyboard.
async fn assert_keyboard_reachable(b: &crate::widget_browser::Browser, page: &str) {
    let count = b
        .script(
            r#"
            document.querySelectorAll('details').forEach((d) => { d.open = true; });
            const sel = 'a[href], button, input:not([type=hidden]), select, textarea, summary, [tabindex]:not([tabindex="-1"])';
            const shown = (el) => {
              const r = el.getBoundingClientRect();
              const st = getComputedStyle(el);
              return r.width > 0 && r.height > 0 && st.visibility !== 'hidden' && st.display !== 'none' && !el.disabled;
            };
            const all = Array.from(document.querySelectorAll(sel)).filter(shown);
            all.forEach((el, i) => el.setAttribute('data-kb', String(i)));
            window.__kbSeen = [];
            document.addEventListener('focusin', (e) => {
              const k = e.target.getAttribute && e.target.getAttribute('data-kb');
              if (k !== null) window.__kbSeen.push(k);
            });
            if (document.activeElement) document.activeElement.blur();
            window.scrollTo(0, 0);
            return all.length;
            "#,
            &[],
        )
        .await
        .unwrap()
        .as_u64()
        .unwrap();
    // Date and time fields have a tab stop per part: press more than enough.
    for _ in 0..count * 3 + 5 {
        b.press(crate::widget_browser::TAB).await;
    }
    let missed = b
        .script(
            r#"
            const seen = new Set(window.__kbSeen);
            return Array.from(document.querySelectorAll('[data-kb]'))
              .filter((el) => !seen.has(el.getAttribute('data-kb')))
              .map((el) => el.outerHTML.slice(0, 120));
            "#,
            &[],
        )
        .await
        .unwrap();
    assert!(
        missed.as_array().is_some_and(Vec::is_empty),
        "not reachable by Tab on {page} ({count} controls): {missed}"
    );
}

/// The page's visible text.
async fn page_text(b: &crate::widget_browser::Browser) -> String {
    b.script("return document.body.innerText;", &[])
        .await
        .unwrap()
        .as_str()
        .unwrap_or_default()
        .to_owned()
}

/// Waits until the page's text contains `needle`.
async fn wait_text(b: &crate::widget_browser::Browser, needle: &str) -> String {
    let deadline = std::time::Instant::now() + crate::widget_browser::WAIT;
    loop {
        let text = page_text(b).await;
        if text.contains(needle) {
            return text;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "timed out waiting for {needle:?}; the page says:\n{text}"
        );
        tokio::time::sleep(std::time::Duration::from_millis(150)).await;
    }
}

/// Signs in through the login form and the emailed link, in this browser.
async fn browser_sign_in(
    b: &crate::widget_browser::Browser,
    app: &TestApp,
    mail: &Mail,
    n: usize,
    email: &str,
) {
    b.navigate(&format!("{}/dashboard/login?clinic={CLINIC}", app.base))
        .await;
    let field = b.find("#email").await.unwrap();
    b.send_keys(&field, email).await;
    b.send_keys(&field, crate::widget_browser::ENTER).await;
    wait_text(b, "Check your email").await;
    let link = mail.link(n).await;
    b.navigate(&format!("{}{link}", app.base)).await;
    let button = b
        .find("form[action='/dashboard/auth'] button")
        .await
        .unwrap();
    b.click(&button).await;
    wait_text(b, "Log out").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_dashboard_in_a_real_browser_is_accessible_keyboard_usable_and_shows_text_as_text() {
    use crate::widget_browser::{Browser as Chrome, Driver, browser_or_skip};
    let Some((chromedriver, chromium)) = browser_or_skip() else {
        return;
    };
    let Some(axe) = axe_source_or_skip() else {
        return;
    };
    let (app, mail) = spawn(Engine::Sqlite).await.unwrap();
    let hostile = "<script>alert(1)</script><img src=x onerror=alert(2)> see <a href=\"javascript:alert(3)\">this</a>";
    let conv =
        whatsapp_conversation(&app, CLINIC, "<b>Mere</b> Tane", "+64215550111", hostile).await;
    add_user(&app, "ana@harbour.test", "Ana Aroha", Role::Reception).await;
    add_user(&app, "ben@harbour.test", "Ben Brown", Role::ReceptionHead).await;

    let (p1, p2) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let ana = Chrome::open(Driver::start(&chromedriver).await, &chromium, p1.path()).await;
    let ben = Chrome::open(Driver::start(&chromedriver).await, &chromium, p2.path()).await;

    // The login page, then sign-in by the emailed link in the same browser.
    ana.navigate(&format!("{}/dashboard/login?clinic={CLINIC}", app.base))
        .await;
    assert_accessible(&ana, &axe, "the login page").await;
    assert_keyboard_reachable(&ana, "the login page").await;
    browser_sign_in(&ana, &app, &mail, 1, "ana@harbour.test").await;
    browser_sign_in(&ben, &app, &mail, 2, "ben@harbour.test").await;

    // The inbox: the patient's name is text.
    ana.navigate(&format!("{}/dashboard/inbox", app.base)).await;
    let text = wait_text(&ana, "<b>Mere</b> Tane").await;
    assert!(text.contains("new"), "{text}");
    assert_accessible(&ana, &axe, "the inbox").await;
    assert_keyboard_reachable(&ana, "the inbox").await;

    // The conversation: hostile text is shown literally and never runs.
    let path = format!("{}/dashboard/conversations/{conv}", app.base);
    ana.navigate(&path).await;
    wait_text(&ana, "onerror=alert(2)").await;
    let dom = ana
        .script(
            "return { imgs: document.querySelectorAll('main img').length, \
                      scripts: document.querySelectorAll('main script').length, \
                      js_links: document.querySelectorAll('a[href^=\"javascript:\"]').length, \
                      body: Array.from(document.querySelectorAll('.messages .body')).map((p) => p.textContent) };",
            &[],
        )
        .await
        .unwrap();
    assert_eq!(dom["imgs"], 0, "{dom}");
    assert_eq!(dom["scripts"], 0, "{dom}");
    assert_eq!(dom["js_links"], 0, "{dom}");
    assert!(dom["body"][0].as_str() == Some(hostile), "{dom}");
    assert!(ana.get("/alert/text").await.is_err(), "no alert() ran");
    assert_accessible(&ana, &axe, "a conversation").await;
    assert_keyboard_reachable(&ana, "a conversation").await;

    // The takeover race: both press "Take over" at once; exactly one holds it.
    ben.navigate(&path).await;
    ana.navigate(&path).await;
    let (a_btn, b_btn) = (
        ana.find("form[action$='/takeover'] button").await.unwrap(),
        ben.find("form[action$='/takeover'] button").await.unwrap(),
    );
    tokio::join!(ana.click(&a_btn), ben.click(&b_btn));
    let (a_text, b_text) = (
        wait_text(&ana, "Held by").await,
        wait_text(&ben, "Held by").await,
    );
    let a_won = a_text.contains("Held by you");
    let b_won = b_text.contains("Held by you");
    assert!(
        a_won ^ b_won,
        "exactly one holds it:\nAna: {a_text}\nBen: {b_text}"
    );
    let (winner, loser) = if a_won { (&ana, &ben) } else { (&ben, &ana) };
    let loser_text = page_text(loser).await;
    assert!(
        loser_text.contains("Someone else holds this conversation")
            || loser_text.contains("Held by"),
        "{loser_text}"
    );

    // The holder replies (keyboard into the reply box); it goes through the outbox.
    let reply = "Kia ora, this is the front desk. <b>Not bold</b>";
    let box_ = winner.find("#reply-text").await.unwrap();
    winner.send_keys(&box_, reply).await;
    let send = winner.find("form.reply button").await.unwrap();
    winner.click(&send).await;
    wait_text(winner, "Not bold</b>").await;
    let scope = app.scope(CLINIC).await;
    let last = app
        .store
        .messages(scope, conv)
        .await
        .unwrap()
        .pop()
        .unwrap();
    assert_eq!(
        (last.sender, last.body.as_str()),
        (frontdesk_store::Sender::Staff, reply)
    );
    // The other staff member's page shows who holds it (live or on reload).
    loser.navigate(&path).await;
    wait_text(loser, "Held by").await;

    // Booking from the diary, for a new patient, at a free time.
    let catalog = app.store.clinic_catalog(scope).await.unwrap();
    let tz = jiff::tz::TimeZone::get(catalog.clinic.profile.timezone.as_str()).unwrap();
    let today = jiff::Timestamp::now().to_zoned(tz.clone()).date();
    let mut found = None;
    'search: for service in &catalog.services {
        for p in &catalog.practitioners {
            let search = frontdesk_store::SlotSearch {
                practitioner: p.id,
                service: service.id,
                from: today,
                to: today.checked_add(jiff::Span::new().days(14)).unwrap(),
                min_notice: jiff::SignedDuration::from_hours(2),
                day_start: None,
                day_end: None,
                limit: 1,
            };
            if let Some(slot) = app.store.free_slots(scope, &search).await.unwrap().first() {
                found = Some((p.id, service.id, slot.start.to_zoned(tz.clone())));
                break 'search;
            }
        }
    }
    let (practitioner, service, start) = found.expect("a free time in two weeks");
    ana.navigate(&format!(
        "{}/dashboard/diary?date={}",
        app.base,
        start.date()
    ))
    .await;
    wait_text(&ana, "Diary").await;
    assert_accessible(&ana, &axe, "the diary").await;
    assert_keyboard_reachable(&ana, "the diary").await;
    let form = format!("form.book:has(input[name=practitioner][value='{practitioner}'])");
    ana.script(
        "const f = document.querySelector(arguments[0]); \
         f.closest('details').open = true; \
         f.querySelector('select[name=service]').value = arguments[1]; \
         f.querySelector('input[name=time]').value = arguments[2]; return null;",
        &[
            serde_json::json!(form),
            serde_json::json!(service.to_string()),
            serde_json::json!(start.strftime("%H:%M").to_string()),
        ],
    )
    .await
    .unwrap();
    let phone = ana
        .find(&format!("{form} input[name=phone]"))
        .await
        .unwrap();
    ana.send_keys(&phone, "+64 21 555 0199").await;
    let name = ana.find(&format!("{form} input[name=name]")).await.unwrap();
    ana.send_keys(&name, "Wiremu Booked").await;
    let book = ana.find(&format!("{form} button")).await.unwrap();
    ana.click(&book).await;
    wait_text(&ana, "Wiremu Booked").await;
    let booked = app
        .store
        .diary(
            scope,
            start.timestamp(),
            start.timestamp() + jiff::SignedDuration::from_mins(1),
        )
        .await
        .unwrap();
    assert!(
        booked
            .iter()
            .any(|e| e.patient_name.as_deref() == Some("Wiremu Booked")),
        "booked from the diary"
    );

    // A patient's record.
    let patient = app
        .store
        .conversation(scope, conv)
        .await
        .unwrap()
        .patient_id;
    ana.navigate(&format!("{}/dashboard/patients/{patient}", app.base))
        .await;
    wait_text(&ana, "<b>Mere</b> Tane").await;
    assert_accessible(&ana, &axe, "a patient record").await;
    assert_keyboard_reachable(&ana, "a patient record").await;

    // The other pages a clinic uses: the home page (settings of the session), analytics.
    ben.navigate(&format!("{}/dashboard", app.base)).await;
    assert_accessible(&ben, &axe, "the dashboard home").await;
    assert_keyboard_reachable(&ben, "the dashboard home").await;
    ben.navigate(&format!("{}/dashboard/analytics", app.base))
        .await;
    wait_text(&ben, "Analytics").await;
    assert_accessible(&ben, &axe, "analytics").await;

    // The Owner: two-step set-up in the browser, then the clinic settings.
    add_user(&app, "own@harbour.test", "Owen Owner", Role::Owner).await;
    let p3 = tempfile::tempdir().unwrap();
    let own = Chrome::open(Driver::start(&chromedriver).await, &chromium, p3.path()).await;
    own.navigate(&format!("{}/dashboard/login?clinic={CLINIC}", app.base))
        .await;
    let field = own.find("#email").await.unwrap();
    own.send_keys(&field, "own@harbour.test").await;
    own.send_keys(&field, crate::widget_browser::ENTER).await;
    wait_text(&own, "Check your email").await;
    let link = mail.link(3).await;
    own.navigate(&format!("{}{link}", app.base)).await;
    let button = own
        .find("form[action='/dashboard/auth'] button")
        .await
        .unwrap();
    own.click(&button).await;
    wait_text(&own, "Your role must sign in with a second step").await;
    assert_accessible(&own, &axe, "the two-step introduction").await;
    let setup = own
        .find("form[action='/dashboard/mfa/setup'] button")
        .await
        .unwrap();
    own.click(&setup).await;
    wait_text(&own, "Turn on two-step sign-in").await;
    assert_accessible(&own, &axe, "the two-step set-up").await;
    let secret = own
        .script("return document.getElementById('secret').textContent;", &[])
        .await
        .unwrap();
    let secret = base32_decode(secret.as_str().unwrap().trim());
    let code = totp::code_at_step(&secret, totp::step_of(jiff::Timestamp::now().as_second()));
    let input = own
        .find("form[action='/dashboard/mfa/confirm'] input[name=code]")
        .await
        .unwrap();
    own.send_keys(&input, &code).await;
    own.send_keys(&input, crate::widget_browser::ENTER).await;
    wait_text(&own, "Keep these recovery codes somewhere safe").await;
    own.navigate(&format!("{}/dashboard/settings", app.base))
        .await;
    wait_text(&own, "Clinic settings").await;
    assert_accessible(&own, &axe, "the clinic settings").await;
    assert_keyboard_reachable(&own, "the clinic settings").await;
    for (path, heading, name) in [
        (
            "/dashboard/schedule",
            "Practitioners and their hours",
            "the schedule",
        ),
        (
            "/dashboard/channels",
            "Where patients reach the clinic",
            "the channels",
        ),
        (
            "/dashboard/api-keys",
            "Keys let the clinic's own software",
            "the API keys",
        ),
        (
            "/dashboard/webhooks",
            "frontdesk posts the events you choose",
            "the webhooks",
        ),
        (
            "/dashboard/calendar-feeds",
            "A feed lists appointments",
            "the calendar feeds",
        ),
    ] {
        own.navigate(&format!("{}{path}", app.base)).await;
        wait_text(&own, heading).await;
        assert_accessible(&own, &axe, name).await;
        assert_keyboard_reachable(&own, name).await;
    }

    // Not one CSP refusal or script error anywhere.
    for b in [&ana, &ben, &own] {
        b.collect_logs().await;
        let bad: Vec<String> = b
            .logs()
            .iter()
            .filter_map(|e| e["message"].as_str())
            .filter(|m| {
                m.contains("Content Security Policy")
                    || m.contains("Refused to")
                    || m.contains("Uncaught")
            })
            .map(str::to_owned)
            .collect();
        assert!(bad.is_empty(), "CSP refusals or script errors: {bad:#?}");
    }
    ana.quit().await;
    ben.quit().await;
    own.quit().await;
    app.finish().await;
}

/// Books the first free time with the clinic's `index`-th practitioner (any service they
/// provide) for a new patient; answers the appointment and its clinic-local date.
async fn booked_with(
    app: &TestApp,
    index: usize,
    name: &str,
    phone: &str,
) -> (frontdesk_store::Appointment, String) {
    let scope = app.scope(CLINIC).await;
    let patient = new_patient(app, CLINIC, name, phone).await;
    let catalog = app.store.clinic_catalog(scope).await.unwrap();
    let p = &catalog.practitioners[index];
    let service = catalog
        .services
        .iter()
        .find(|s| s.practitioners.is_empty() || s.practitioners.contains(&p.id))
        .unwrap();
    first_free_with(app, CLINIC, patient, p.id, service.id)
        .await
        .expect("a free time in two weeks")
}

async fn a_doctor_reaches_only_the_conversations_and_patients_assigned_to_them(
    app: TestApp,
    mail: Mail,
) {
    let mine = whatsapp_conversation(&app, CLINIC, "Hemi Walker", "+64215550161", "my knee").await;
    let other = whatsapp_conversation(&app, CLINIC, "Other Person", "+64215550162", "hi").await;
    let scope = app.scope(CLINIC).await;
    let patient = app
        .store
        .conversation(scope, mine)
        .await
        .unwrap()
        .patient_id;
    add_user(&app, "ana@harbour.test", "Ana Aroha", Role::Reception).await;
    let doctor = add_user(&app, "doc@harbour.test", "Dr Rewi", Role::Doctor).await;
    let head = add_user(&app, "head@harbour.test", "Hana Head", Role::ReceptionHead).await;
    let mut ana = Browser::new(&app);
    ana.sign_in(&mail, 1, "ana@harbour.test").await;
    let mut doc = Browser::new(&app);
    doc.sign_in(&mail, 2, "doc@harbour.test").await;
    let path = format!("/dashboard/conversations/{mine}");

    // Before any assignment the doctor sees an empty inbox and nothing by id.
    let (_, inbox, _) = doc.get("/dashboard/inbox").await;
    assert!(inbox.contains("None are assigned to you yet"), "{inbox}");
    assert_eq!(doc.get(&path).await.0, 404);
    assert_eq!(
        doc.get(&format!("/dashboard/patients/{patient}")).await.0,
        404
    );

    // Reception assigns it from the conversation page, which offers only doctors.
    let (_, page, _) = ana.get(&path).await;
    assert!(page.contains("Dr Rewi (Doctor)"), "{page}");
    assert!(
        !page.contains("Hana Head (Reception Head)"),
        "only assigned-reach roles are offered"
    );
    let csrf = Browser::hidden(&page, "csrf");
    let (status, _, _) = ana
        .post(
            &format!("{path}/assign"),
            &[("csrf", &csrf), ("assignee", &head.to_string())],
        )
        .await;
    assert_eq!(status, 422, "a Reception Head sees everything already");
    let (status, _, _) = ana
        .post(
            &format!("{path}/assign"),
            &[("csrf", &csrf), ("assignee", "not-an-id")],
        )
        .await;
    assert_eq!(status, 422);
    let (status, _, _) = ana
        .post(
            &format!("{path}/assign"),
            &[("csrf", &csrf), ("assignee", &doctor.to_string())],
        )
        .await;
    assert_eq!(status, 303);
    let (_, inbox, _) = ana.get("/dashboard/inbox").await;
    assert!(inbox.contains("Dr Rewi"), "the inbox shows the assignee");

    // Now the doctor sees it: in the inbox (only it), its page, live, and its patient.
    let (_, inbox, _) = doc.get("/dashboard/inbox").await;
    assert!(
        inbox.contains(&path) && inbox.contains("Hemi Walker"),
        "{inbox}"
    );
    assert!(!inbox.contains(&format!("/dashboard/conversations/{other}")));
    let (status, page, _) = doc.get(&path).await;
    assert_eq!(status, 200);
    assert!(page.contains("Assigned to <strong>you</strong>"), "{page}");
    assert!(!page.contains("/assign\""), "doctors do not reassign");
    assert_eq!(
        doc.stream(&format!("{path}/live")).await.status().as_u16(),
        200
    );
    assert_eq!(
        doc.get(&format!("/dashboard/conversations/{other}"))
            .await
            .0,
        404
    );
    assert_eq!(
        doc.stream(&format!("/dashboard/conversations/{other}/live"))
            .await
            .status()
            .as_u16(),
        404
    );
    let (status, record, _) = doc.get(&format!("/dashboard/patients/{patient}")).await;
    assert_eq!(status, 200);
    assert!(record.contains(&path));
    let (_, found, headers) = doc.get("/dashboard/patients?phone=%2B64215550161").await;
    assert_eq!(
        headers
            .get("location")
            .map(|v| v.to_str().unwrap().to_owned()),
        Some(format!("/dashboard/patients/{patient}")),
        "{found}"
    );
    let (_, found, _) = doc.get("/dashboard/patients?phone=%2B64215550162").await;
    assert!(found.contains("No patient assigned to you has that number"));

    // The doctor works the conversation: takes it over and replies; cannot reassign it.
    let doc_csrf = Browser::hidden(&doc.get(&path).await.1, "csrf");
    let (status, _, _) = doc
        .post(&format!("{path}/takeover"), &[("csrf", &doc_csrf)])
        .await;
    assert_eq!(status, 303);
    let (status, _, _) = doc
        .post(
            &format!("{path}/reply"),
            &[
                ("csrf", &doc_csrf),
                ("text", "Dr Rewi here, how is the knee?"),
            ],
        )
        .await;
    assert_eq!(status, 303);
    let (status, _, _) = doc
        .post(
            &format!("{path}/assign"),
            &[("csrf", &doc_csrf), ("assignee", "")],
        )
        .await;
    assert_eq!(status, 403);
    let (status, _, _) = doc
        .post(
            &format!("/dashboard/conversations/{other}/takeover"),
            &[("csrf", &doc_csrf)],
        )
        .await;
    assert_eq!(status, 404);

    // Unassigned again: out of reach at once, and both changes are in the audit log.
    let (status, _, _) = ana
        .post(
            &format!("{path}/assign"),
            &[("csrf", &csrf), ("assignee", "")],
        )
        .await;
    assert_eq!(status, 303);
    assert_eq!(doc.get(&path).await.0, 404);
    assert_eq!(
        doc.get(&format!("/dashboard/patients/{patient}")).await.0,
        404
    );
    let audit = app.store.audit_entries(scope, 0, 10_000).await.unwrap();
    for action in ["conversation.assigned", "conversation.unassigned"] {
        assert!(
            audit.iter().any(|e| e.action == action
                && e.actor_kind == "staff"
                && e.target_id.as_deref() == Some(mine.to_string().as_str())),
            "{action} audited"
        );
    }
    app.finish().await;
}

async fn a_doctor_linked_to_a_practitioner_works_in_that_diary_only(app: TestApp, mail: Mail) {
    let (own, date) = booked_with(&app, 0, "Kiri Own", "+64215550171").await;
    let (theirs, date2) = booked_with(&app, 1, "Pita Theirs", "+64215550172").await;
    let scope = app.scope(CLINIC).await;
    let catalog = app.store.clinic_catalog(scope).await.unwrap();
    let (aroha, sam) = (&catalog.practitioners[0], &catalog.practitioners[1]);
    add_user(&app, "owner@harbour.test", "Olive Owner", Role::Owner).await;
    let doctor = add_user(&app, "doc@harbour.test", "Dr Aroha", Role::Doctor).await;
    let mut owner = Browser::new(&app);
    owner.sign_in(&mail, 1, "owner@harbour.test").await;
    owner.set_up_totp().await;
    let mut doc = Browser::new(&app);
    doc.sign_in(&mail, 2, "doc@harbour.test").await;

    // Unlinked: no diary at all.
    let (_, page, _) = doc.get(&format!("/dashboard/diary?date={date}")).await;
    assert!(page.contains("Yours is not linked to one yet") && !page.contains("Kiri Own"));

    // The Owner links the doctor to Aroha Ngata's diary on the users page (audited).
    let (_, users, _) = owner.get("/dashboard/users").await;
    assert!(users.contains("Link diary of Dr Aroha"), "{users}");
    let csrf = Browser::hidden(&users, "csrf");
    let link = format!("/dashboard/users/{doctor}/practitioner");
    let (status, _, _) = owner
        .post(
            &link,
            &[
                ("csrf", &csrf),
                ("practitioner", &uuid::Uuid::now_v7().to_string()),
            ],
        )
        .await;
    assert_eq!(status, 422, "not a practitioner of this clinic");
    let (status, _, _) = owner
        .post(
            &link,
            &[("csrf", "forged"), ("practitioner", &aroha.id.to_string())],
        )
        .await;
    assert_eq!(status, 403);
    let (status, _, _) = owner
        .post(
            &link,
            &[("csrf", &csrf), ("practitioner", &aroha.id.to_string())],
        )
        .await;
    assert_eq!(status, 303);
    let audit = app.store.audit_entries(scope, 0, 10_000).await.unwrap();
    assert!(audit.iter().any(|e| e.action == "user.practitioner_linked"));
    let doc_csrf = Browser::hidden(&doc.get("/dashboard").await.1, "csrf");
    assert_eq!(
        doc.post(&link, &[("csrf", &doc_csrf), ("practitioner", "")])
            .await
            .0,
        403,
        "only the Owner links diaries"
    );

    // The doctor sees their own column with their appointment, and nobody else's.
    let (_, page, _) = doc.get(&format!("/dashboard/diary?date={date}")).await;
    assert!(
        page.contains("Kiri Own") && page.contains("You see your own diary"),
        "{page}"
    );
    assert!(!page.contains(&format!(">{}<", sam.name)), "{page}");
    let (_, page2, _) = doc.get(&format!("/dashboard/diary?date={date2}")).await;
    assert!(!page2.contains("Pita Theirs"));
    // Their patient is theirs too; the other practitioner's is not.
    assert_eq!(
        doc.get(&format!("/dashboard/patients/{}", own.patient_id))
            .await
            .0,
        200
    );
    assert_eq!(
        doc.get(&format!("/dashboard/patients/{}", theirs.patient_id))
            .await
            .0,
        404
    );

    // They may cancel their own appointment, not another practitioner's, and book only
    // into their own diary.
    let cancel =
        |id: frontdesk_domain::AppointmentId| format!("/dashboard/appointments/{id}/cancel");
    assert_eq!(
        doc.post(&cancel(theirs.id), &[("csrf", &doc_csrf)]).await.0,
        404
    );
    let service = catalog
        .services
        .iter()
        .find(|s| s.practitioners.contains(&sam.id))
        .unwrap();
    let (status, _, _) = doc
        .post(
            "/dashboard/appointments",
            &[
                ("csrf", doc_csrf.as_str()),
                ("nonce", "doc-book-0001"),
                ("practitioner", &sam.id.to_string()),
                ("service", &service.id.to_string()),
                ("date", &date2),
                ("time", "10:00"),
                ("phone", "+64215550173"),
                ("name", "New Patient"),
            ],
        )
        .await;
    assert_eq!(status, 404, "not into another practitioner's diary");
    assert_eq!(
        doc.post(&cancel(own.id), &[("csrf", &doc_csrf)]).await.0,
        303
    );
    let now = app.store.appointment(scope, own.id).await.unwrap();
    assert_eq!(now.status, frontdesk_store::AppointmentStatus::Cancelled);
    let still = app.store.appointment(scope, theirs.id).await.unwrap();
    assert_ne!(still.status, frontdesk_store::AppointmentStatus::Cancelled);
    app.finish().await;
}

async fn a_read_only_doctor_drafts_a_reply_that_a_colleague_sends_once(app: TestApp, mail: Mail) {
    let conv =
        whatsapp_conversation(&app, CLINIC, "Mere Drafted", "+64215550181", "sore back").await;
    let scope = app.scope(CLINIC).await;
    add_user(&app, "ana@harbour.test", "Ana Aroha", Role::Reception).await;
    let ro = add_user(&app, "ro@harbour.test", "Dr Read", Role::ReadOnlyDoctor).await;
    app.store
        .assign_conversation(scope, conv, Some(ro), frontdesk_store::Actor::Operator)
        .await
        .unwrap();
    let mut ana = Browser::new(&app);
    ana.sign_in(&mail, 1, "ana@harbour.test").await;
    let mut doc = Browser::new(&app);
    doc.sign_in(&mail, 2, "ro@harbour.test").await;
    let path = format!("/dashboard/conversations/{conv}");

    // The read-only doctor may suggest, not take over or reply.
    let (status, page, _) = doc.get(&path).await;
    assert_eq!(status, 200);
    assert!(
        page.contains("Suggest a reply") && !page.contains("/takeover\""),
        "{page}"
    );
    let csrf = Browser::hidden(&page, "csrf");
    assert_eq!(
        doc.post(&format!("{path}/takeover"), &[("csrf", &csrf)])
            .await
            .0,
        403
    );
    let (status, _, _) = doc
        .post(
            &format!("{path}/drafts"),
            &[("csrf", &csrf), ("text", "  ")],
        )
        .await;
    assert_eq!(status, 422);
    let draft_text = "Rest it for two days <script>alert(1)</script>, then come in.";
    let (status, _, _) = doc
        .post(
            &format!("{path}/drafts"),
            &[("csrf", &csrf), ("text", draft_text)],
        )
        .await;
    assert_eq!(status, 303);
    let (_, page, _) = doc.get(&path).await;
    assert!(
        page.contains("Waiting for a colleague to send it"),
        "{page}"
    );
    let drafts = app.store.drafts(scope, conv).await.unwrap();
    assert_eq!(drafts.len(), 1);
    let send = format!("{path}/drafts/{}/send", drafts[0].id);
    assert_eq!(
        doc.post(&send, &[("csrf", &csrf)]).await.0,
        403,
        "not by its author"
    );

    // Reception sees it as text, must hold the conversation to send it, then sends it once.
    let (_, page, _) = ana.get(&path).await;
    assert!(
        page.contains("Rest it for two days &#60;script&#62;") && !page.contains("<script>alert"),
        "{page}"
    );
    assert!(page.contains("Take the conversation over to send it"));
    let ana_csrf = Browser::hidden(&page, "csrf");
    assert_eq!(
        ana.post(&send, &[("csrf", &ana_csrf)]).await.0,
        409,
        "not holding it"
    );
    assert_eq!(
        ana.post(&format!("{path}/takeover"), &[("csrf", &ana_csrf)])
            .await
            .0,
        303
    );
    let (_, page, _) = ana.get(&path).await;
    assert!(page.contains("Send this reply"), "{page}");
    assert_eq!(ana.post(&send, &[("csrf", "forged")]).await.0, 403);
    assert_eq!(ana.post(&send, &[("csrf", &ana_csrf)]).await.0, 303);
    let messages = app.store.messages(scope, conv).await.unwrap();
    let last = messages.last().unwrap();
    assert_eq!(
        (last.sender, last.body.as_str()),
        (frontdesk_store::Sender::Staff, draft_text)
    );
    let outbox = app.store.outbox_entries(scope, 10).await.unwrap();
    assert!(
        outbox.iter().any(|o| o.message == Some(last.id)),
        "through the outbox"
    );
    let (status, page, _) = ana.post(&send, &[("csrf", &ana_csrf)]).await;
    assert_eq!(status, 409);
    assert!(page.contains("already sent or discarded"));

    // A second draft is discarded instead; a draft of another clinic's id is 404.
    let (status, _, _) = doc
        .post(
            &format!("{path}/drafts"),
            &[("csrf", &csrf), ("text", "Or call us")],
        )
        .await;
    assert_eq!(status, 303);
    let second = app.store.drafts(scope, conv).await.unwrap()[0].id;
    let discard = format!("{path}/drafts/{second}/discard");
    assert_eq!(ana.post(&discard, &[("csrf", &ana_csrf)]).await.0, 303);
    assert!(app.store.drafts(scope, conv).await.unwrap().is_empty());
    let unknown = format!("{path}/drafts/{}/discard", uuid::Uuid::now_v7());
    assert_eq!(ana.post(&unknown, &[("csrf", &ana_csrf)]).await.0, 404);
    let audit = app.store.audit_entries(scope, 0, 10_000).await.unwrap();
    for action in ["draft.written", "draft.sent", "draft.discarded"] {
        assert!(audit.iter().any(|e| e.action == action), "{action} audited");
    }
    assert!(
        audit.iter().all(|e| !e.details.contains("Rest it")),
        "no text in the audit log"
    );
    app.finish().await;
}

async fn the_reception_head_manages_practitioners_hours_and_services(app: TestApp, mail: Mail) {
    add_user(&app, "head@harbour.test", "Hana Head", Role::ReceptionHead).await;
    add_user(&app, "rec@harbour.test", "Rex Reception", Role::Reception).await;
    let scope = app.scope(CLINIC).await;
    let mut head = Browser::new(&app);
    head.sign_in(&mail, 1, "head@harbour.test").await;
    let (status, page, _) = head.get("/dashboard/schedule").await;
    assert_eq!(status, 200, "{page}");
    assert!(
        page.contains("Aroha Ngata") && page.contains("Mon-Fri"),
        "{page}"
    );
    let csrf = Browser::hidden(&page, "csrf");

    // A new practitioner: closed until their hours are saved.
    let (status, _, _) = head
        .post(
            "/dashboard/schedule/practitioners",
            &[
                ("csrf", &csrf),
                ("name", "<b>Tui</b> Rangi"),
                ("title", "Osteopath"),
            ],
        )
        .await;
    assert_eq!(status, 303);
    let (status, _, _) = head
        .post(
            "/dashboard/schedule/practitioners",
            &[("csrf", &csrf), ("name", "  ")],
        )
        .await;
    assert_eq!(status, 422);
    let catalog = app.store.clinic_catalog(scope).await.unwrap();
    let tui = catalog
        .practitioners
        .iter()
        .find(|p| p.name == "<b>Tui</b> Rangi")
        .expect("added")
        .id;
    let (_, page, _) = head.get("/dashboard/schedule").await;
    assert!(
        page.contains("&#60;b&#62;Tui") && !page.contains("<b>Tui"),
        "names are text"
    );
    let hours = format!("/dashboard/schedule/practitioners/{tui}/hours");
    let (status, page, _) = head
        .post(&hours, &[("csrf", &csrf), ("hours", "Mon-Fri 9 to 5")])
        .await;
    assert_eq!(status, 422);
    assert!(page.contains("Not saved"), "{page}");
    let (status, _, _) = head
        .post(
            &hours,
            &[
                ("csrf", &csrf),
                ("hours", "Mon-Wed 09:00-17:00; Sat 09:00-12:00"),
            ],
        )
        .await;
    assert_eq!(status, 303);
    let saved = app.store.practitioner_hours(scope, tui).await.unwrap();
    assert_eq!(saved.spec(), "Mon-Wed 09:00-17:00; Sat 09:00-12:00");
    assert_eq!(
        head.post(&hours, &[("csrf", "forged"), ("hours", "")])
            .await
            .0,
        403
    );

    // A service only Tui provides, priced in the clinic's currency: the receptionist offers it.
    let add = |price: &'static str, minutes: &'static str, provider: String| {
        vec![
            ("csrf", csrf.clone()),
            ("name", "Osteopathy".to_owned()),
            ("minutes", minutes.to_owned()),
            ("buffer", "5".to_owned()),
            ("price", price.to_owned()),
            ("provider", provider),
        ]
    };
    async fn send(b: &mut Browser, f: Vec<(&'static str, String)>) -> u16 {
        let pairs: Vec<(&str, &str)> = f.iter().map(|(k, v)| (*k, v.as_str())).collect();
        b.post("/dashboard/schedule/services", &pairs).await.0
    }
    assert_eq!(
        send(&mut head, add("9,50", "45", tui.to_string())).await,
        422
    );
    assert_eq!(send(&mut head, add("95", "0", tui.to_string())).await, 422);
    let far = app
        .store
        .clinic_catalog(app.scope("nairobi-family").await)
        .await
        .unwrap()
        .practitioners[0]
        .id;
    assert_eq!(
        send(&mut head, add("95", "45", far.to_string())).await,
        404,
        "another clinic's practitioner"
    );
    assert_eq!(
        send(&mut head, add("95.50", "45", tui.to_string())).await,
        303
    );
    let catalog = app.store.clinic_catalog(scope).await.unwrap();
    let osteo: Vec<_> = catalog
        .services
        .iter()
        .filter(|s| s.name == "Osteopathy")
        .collect();
    assert_eq!(osteo.len(), 1, "the refused attempts wrote nothing");
    assert_eq!(
        (
            osteo[0].duration_min,
            osteo[0].buffer_min,
            osteo[0].price_minor
        ),
        (45, 5, Some(9550))
    );
    assert_eq!(osteo[0].practitioners, [tui]);
    let tz = jiff::tz::TimeZone::get(catalog.clinic.profile.timezone.as_str()).unwrap();
    let today = jiff::Timestamp::now().to_zoned(tz).date();
    let search = frontdesk_store::SlotSearch {
        practitioner: tui,
        service: osteo[0].id,
        from: today,
        to: today.checked_add(jiff::Span::new().days(8)).unwrap(),
        min_notice: jiff::SignedDuration::from_hours(1),
        day_start: None,
        day_end: None,
        limit: 5,
    };
    assert!(
        !app.store
            .free_slots(scope, &search)
            .await
            .unwrap()
            .is_empty(),
        "the new hours and service are offered"
    );

    // Audited as the Reception Head; Reception may not touch the schedule.
    let audit = app.store.audit_entries(scope, 0, 10_000).await.unwrap();
    for action in [
        "practitioner.created",
        "practitioner.hours_set",
        "service.created",
    ] {
        assert!(
            audit
                .iter()
                .any(|e| e.action == action && e.actor_kind == "staff"),
            "{action} audited as staff"
        );
    }
    let mut rec = Browser::new(&app);
    rec.sign_in(&mail, 2, "rec@harbour.test").await;
    assert_eq!(rec.get("/dashboard/schedule").await.0, 403);
    let rec_csrf = Browser::hidden(&rec.get("/dashboard").await.1, "csrf");
    assert_eq!(
        rec.post(&hours, &[("csrf", &rec_csrf), ("hours", "")])
            .await
            .0,
        403
    );
    app.finish().await;
}

async fn the_owner_connects_channels_and_secrets_stay_write_only(app: TestApp, mail: Mail) {
    use frontdesk_store::{ChannelSecrets, Provider, StoreError};
    add_user(&app, "own@harbour.test", "Owen Owner", Role::Owner).await;
    add_user(&app, "head@harbour.test", "Hana Head", Role::ReceptionHead).await;
    let scope = app.scope(CLINIC).await;
    assert!(
        matches!(
            app.store
                .channel_account(scope, Provider::AfricasTalking)
                .await,
            Err(StoreError::NotFound)
        ),
        "the test clinic starts without Africa's Talking"
    );
    // Another clinic already owns the short code 99999.
    app.store
        .set_channel_account(
            app.scope("nairobi-family").await,
            Provider::AfricasTalking,
            "99999",
            &serde_json::json!({}),
            &ChannelSecrets::new()
                .with("api_key", "far")
                .with("callback_token", "far"),
        )
        .await
        .unwrap();
    let mut owner = Browser::new(&app);
    owner.sign_in(&mail, 1, "own@harbour.test").await;
    owner.set_up_totp().await;
    let (status, page, _) = owner.get("/dashboard/channels").await;
    assert_eq!(status, 200, "{page}");
    let csrf = Browser::hidden(&page, "csrf");
    let path = "/dashboard/channels/africastalking";
    let form =
        |address: &'static str, settings: &'static str, key: &'static str, token: &'static str| {
            vec![
                ("csrf", csrf.clone()),
                ("address", address.to_owned()),
                ("settings", settings.to_owned()),
                ("secret_api_key", key.to_owned()),
                ("secret_callback_token", token.to_owned()),
            ]
        };
    async fn send(b: &mut Browser, path: &str, f: Vec<(&'static str, String)>) -> (u16, String) {
        let pairs: Vec<(&str, &str)> = f.iter().map(|(k, v)| (*k, v.as_str())).collect();
        let (status, page, _) = b.post(path, &pairs).await;
        (status, page)
    }
    // Secrets are needed the first time; settings must be a JSON object; the address is ours.
    let (status, page) = send(&mut owner, path, form("12345", "{}", "key-1", "")).await;
    assert_eq!(status, 422);
    assert!(
        page.contains("Enter these secrets: callback_token"),
        "{page}"
    );
    let (status, _) = send(&mut owner, path, form("12345", "[1]", "key-1", "tok-1")).await;
    assert_eq!(status, 422);
    let (status, page) = send(&mut owner, path, form("99999", "{}", "key-1", "tok-1")).await;
    assert_eq!(status, 409);
    assert!(page.contains("connected to another clinic"));
    let settings = r#"{"username": "harbour"}"#;
    let (status, _) = send(&mut owner, path, form("12345", settings, "key-1", "tok-1")).await;
    assert_eq!(status, 303);
    let account = app
        .store
        .channel_account(scope, Provider::AfricasTalking)
        .await
        .unwrap();
    assert_eq!(account.address, "12345");
    assert_eq!(account.config["username"], "harbour");
    assert_eq!(account.secrets.get("api_key"), Some("key-1"));

    // The page says which secrets are stored and never shows one.
    let (_, page, _) = owner.get("/dashboard/channels").await;
    assert!(
        page.contains("Connected at <strong>12345</strong>"),
        "{page}"
    );
    assert!(page.contains("stored; leave empty to keep it"));
    assert!(
        !page.contains("key-1") && !page.contains("tok-1"),
        "secrets are write-only"
    );

    // Empty secret fields keep what is stored; a new value replaces it.
    let (status, _) = send(&mut owner, path, form("12345", settings, "", "")).await;
    assert_eq!(status, 303);
    let account = app
        .store
        .channel_account(scope, Provider::AfricasTalking)
        .await
        .unwrap();
    assert_eq!(
        (
            account.secrets.get("api_key"),
            account.secrets.get("callback_token")
        ),
        (Some("key-1"), Some("tok-1"))
    );
    let (status, _) = send(&mut owner, path, form("12345", settings, "key-2", "")).await;
    assert_eq!(status, 303);
    let account = app
        .store
        .channel_account(scope, Provider::AfricasTalking)
        .await
        .unwrap();
    assert_eq!(
        (
            account.secrets.get("api_key"),
            account.secrets.get("callback_token")
        ),
        (Some("key-2"), Some("tok-1"))
    );
    // A rotation's overlap (made with the CLI) survives saving the page with that secret
    // left empty; entering a new value there replaces it outright.
    let until = app
        .store
        .rotate_channel_secret(
            scope,
            Provider::AfricasTalking,
            "callback_token",
            zeroize::Zeroizing::new("tok-2".into()),
            jiff::SignedDuration::from_hours(1),
            frontdesk_store::Actor::Operator,
        )
        .await
        .unwrap()
        .unwrap();
    let within = until - jiff::SignedDuration::from_secs(1);
    let accepted = |account: &frontdesk_store::ChannelAccount| {
        account
            .secrets
            .accepted("callback_token", within)
            .into_iter()
            .map(str::to_owned)
            .collect::<Vec<_>>()
    };
    let stored = || async {
        let store = app.store.clone();
        store
            .channel_account(scope, Provider::AfricasTalking)
            .await
            .unwrap()
    };
    let (status, _) = send(&mut owner, path, form("12345", settings, "", "")).await;
    assert_eq!(status, 303);
    assert_eq!(accepted(&stored().await), ["tok-2", "tok-1"]);
    let (status, _) = send(&mut owner, path, form("12345", settings, "", "tok-3")).await;
    assert_eq!(status, 303);
    assert_eq!(accepted(&stored().await), ["tok-3"]);
    let (status, _) = send(
        &mut owner,
        "/dashboard/channels/carrier-pigeon",
        form("1", "{}", "a", "b"),
    )
    .await;
    assert_eq!(status, 404);

    // Audited as the Owner, with the secrets' names and never their values.
    let audit = app.store.audit_entries(scope, 0, 10_000).await.unwrap();
    let configured: Vec<_> = audit
        .iter()
        .filter(|e| e.action == "channel.configured" && e.actor_kind == "staff")
        .collect();
    assert_eq!(configured.len(), 5);
    assert!(configured.iter().all(|e| e.details.contains("api_key")
        && !e.details.contains("key-1")
        && !e.details.contains("key-2")
        && !e.details.contains("tok-1")));

    // Only the Owner connects channels.
    let mut head = Browser::new(&app);
    head.sign_in(&mail, 2, "head@harbour.test").await;
    assert_eq!(head.get("/dashboard/channels").await.0, 403);
    app.finish().await;
}

async fn the_owner_adds_red_flags_on_top_of_the_built_in_ones(app: TestApp, mail: Mail) {
    add_user(&app, "own@harbour.test", "Owen Owner", Role::Owner).await;
    let scope = app.scope(CLINIC).await;
    let mut owner = Browser::new(&app);
    owner.sign_in(&mail, 1, "own@harbour.test").await;
    owner.set_up_totp().await;
    let (_, page, _) = owner.get("/dashboard/settings").await;
    assert!(page.contains("None added."), "{page}");
    let csrf = Browser::hidden(&page, "csrf");
    let path = "/dashboard/settings/red-flags";
    let (status, _, _) = owner
        .post(
            path,
            &[("csrf", &csrf), ("phrases", "x"), ("level", "normal")],
        )
        .await;
    assert_eq!(status, 422, "a red flag is urgent or an emergency");
    let (status, _, _) = owner
        .post(
            path,
            &[("csrf", &csrf), ("phrases", " \n "), ("level", "urgent")],
        )
        .await;
    assert_eq!(status, 422, "at least one phrase");
    let (status, _, _) = owner
        .post(
            path,
            &[
                ("csrf", &csrf),
                ("phrases", "numb saddle\r\nlost bladder control\n"),
                ("level", "emergency"),
                ("language", "en"),
            ],
        )
        .await;
    assert_eq!(status, 303);
    let rules = app.store.red_flag_rules(scope).await.unwrap();
    assert_eq!(rules.len(), 1);
    assert_eq!(rules[0].phrases, ["numb saddle", "lost bladder control"]);
    assert_eq!(rules[0].level, frontdesk_store::Urgency::Emergency);
    let (_, page, _) = owner.get("/dashboard/settings").await;
    assert!(
        page.contains("emergency: numb saddle; lost bladder control"),
        "{page}"
    );
    let audit = app.store.audit_entries(scope, 0, 10_000).await.unwrap();
    assert!(
        audit
            .iter()
            .any(|e| e.action == "settings.red_flag_rule_added" && e.actor_kind == "staff")
    );
    app.finish().await;
}

async fn the_owner_answers_a_patients_data_requests(app: TestApp, mail: Mail) {
    let conv = whatsapp_conversation(
        &app,
        CLINIC,
        "Mere <i>Copy</i>",
        "+64215550191",
        "<script>alert(1)</script> my shoulder",
    )
    .await;
    let scope = app.scope(CLINIC).await;
    let patient = app
        .store
        .conversation(scope, conv)
        .await
        .unwrap()
        .patient_id;
    add_user(&app, "own@harbour.test", "Owen Owner", Role::Owner).await;
    add_user(&app, "rec@harbour.test", "Rex Reception", Role::Reception).await;
    let mut owner = Browser::new(&app);
    owner.sign_in(&mail, 1, "own@harbour.test").await;
    owner.set_up_totp().await;
    let record = format!("/dashboard/patients/{patient}");
    let (status, page, _) = owner.get(&record).await;
    assert_eq!(status, 200);
    assert!(
        page.contains("Data requests") && page.contains("Erase this patient"),
        "{page}"
    );
    let csrf = Browser::hidden(&page, "csrf");

    // The copy: JSON and a readable page, downloads, audited each time.
    let (status, json, headers) = owner.get(&format!("{record}/export?format=json")).await;
    assert_eq!(status, 200);
    assert!(
        headers["content-type"]
            .to_str()
            .unwrap()
            .starts_with("application/json")
    );
    assert!(
        headers["content-disposition"]
            .to_str()
            .unwrap()
            .starts_with("attachment")
    );
    let copy: serde_json::Value = serde_json::from_str(&json).unwrap();
    assert_eq!(copy["patient"]["phone"], "+64215550191");
    assert_eq!(
        copy["conversations"][0]["messages"][0]["text"],
        "<script>alert(1)</script> my shoulder"
    );
    assert!(
        copy["access_log"]
            .as_array()
            .unwrap()
            .iter()
            .any(|e| e["action"] == "patient.viewed" && e["actor"] == "staff"),
        "the copy says who opened the record: {copy}"
    );
    let (status, html, headers) = owner.get(&format!("{record}/export?format=html")).await;
    assert_eq!(status, 200);
    assert!(
        headers["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/html")
    );
    assert!(
        html.contains("&#60;script&#62;alert(1)") && !html.contains("<script>alert"),
        "{html}"
    );
    assert!(html.contains("Mere &#60;i&#62;Copy"), "{html}");
    assert_eq!(
        owner.get(&format!("{record}/export?format=xml")).await.0,
        422
    );
    assert_eq!(
        owner
            .get(&format!(
                "/dashboard/patients/{}/export",
                uuid::Uuid::now_v7()
            ))
            .await
            .0,
        404
    );
    let (far, _) = booked(&app, "nairobi-family", "Far Away", "+254700000091").await;
    assert_eq!(
        owner
            .get(&format!("/dashboard/patients/{}/export", far.patient_id))
            .await
            .0,
        404,
        "another clinic's patient"
    );
    let audit = app.store.audit_entries(scope, 0, 10_000).await.unwrap();
    assert_eq!(
        audit
            .iter()
            .filter(|e| e.action == "patient.exported")
            .count(),
        2
    );

    // Reception neither sees nor reaches data requests.
    let mut rec = Browser::new(&app);
    rec.sign_in(&mail, 2, "rec@harbour.test").await;
    let (_, page, _) = rec.get(&record).await;
    assert!(!page.contains("Data requests"));
    assert_eq!(
        rec.get(&format!("{record}/export?format=json")).await.0,
        403
    );
    let rec_csrf = Browser::hidden(&rec.get("/dashboard").await.1, "csrf");
    assert_eq!(
        rec.post(
            &format!("{record}/erase"),
            &[("csrf", &rec_csrf), ("confirm", "ERASE")]
        )
        .await
        .0,
        403
    );

    // Erasure needs the word and this session's form; then it is done, once.
    let erase = format!("{record}/erase");
    assert_eq!(
        owner
            .post(&erase, &[("csrf", &csrf), ("confirm", "erase")])
            .await
            .0,
        422
    );
    assert_eq!(
        owner
            .post(&erase, &[("csrf", "forged"), ("confirm", "ERASE")])
            .await
            .0,
        403
    );
    assert!(
        app.store.patient(scope, patient).await.is_ok(),
        "nothing erased yet"
    );
    let (status, page, _) = owner
        .post(&erase, &[("csrf", &csrf), ("confirm", "ERASE")])
        .await;
    assert_eq!(status, 200, "{page}");
    assert!(
        page.contains("Patient erased") && page.contains("1 conversations"),
        "{page}"
    );
    assert_eq!(owner.get(&record).await.0, 404);
    assert_eq!(
        owner
            .get(&format!("/dashboard/conversations/{conv}"))
            .await
            .0,
        404
    );
    assert_eq!(
        owner
            .post(&erase, &[("csrf", &csrf), ("confirm", "ERASE")])
            .await
            .0,
        404
    );
    let ledger = app.store.erasure_ledger(scope).await.unwrap();
    assert_eq!(ledger.len(), 1);
    assert_eq!(ledger[0].patient, patient);
    assert!(
        app.store
            .verify_audit_chain(scope)
            .await
            .unwrap()
            .is_intact()
    );
    app.finish().await;
}

async fn the_owner_sets_how_long_information_is_kept_and_can_pause_the_receptionist(
    app: TestApp,
    mail: Mail,
) {
    add_user(&app, "own@harbour.test", "Owen Owner", Role::Owner).await;
    add_user(&app, "head@harbour.test", "Hana Head", Role::ReceptionHead).await;
    let scope = app.scope(CLINIC).await;
    let mut owner = Browser::new(&app);
    owner.sign_in(&mail, 1, "own@harbour.test").await;
    owner.set_up_totp().await;
    let (_, page, _) = owner.get("/dashboard/settings").await;
    for (name, value) in [
        ("conversation_days", "90"),
        ("recording_days", "30"),
        ("audit_years", "7"),
    ] {
        assert!(
            page.contains(&format!("name=\"{name}\" type=\"number\""))
                && page.contains(&format!("value=\"{value}\"")),
            "the defaults are shown: {name}"
        );
    }
    let csrf = Browser::hidden(&page, "csrf");
    let form = |c: &str, r: &str, a: &str| {
        vec![
            ("csrf", csrf.clone()),
            ("conversation_days", c.to_owned()),
            ("recording_days", r.to_owned()),
            ("audit_years", a.to_owned()),
        ]
    };
    async fn send(b: &mut Browser, f: Vec<(&'static str, String)>) -> u16 {
        let pairs: Vec<(&str, &str)> = f.iter().map(|(k, v)| (*k, v.as_str())).collect();
        b.post("/dashboard/settings/retention", &pairs).await.0
    }
    assert_eq!(send(&mut owner, form("0", "30", "7")).await, 422);
    assert_eq!(send(&mut owner, form("30", "14", "31")).await, 422);
    assert_eq!(send(&mut owner, form("thirty", "14", "7")).await, 422);
    assert_eq!(
        app.store.clinic(scope).await.unwrap().profile.retention,
        frontdesk_domain::RetentionPolicy::default(),
        "nothing changed by a refused form"
    );
    assert_eq!(send(&mut owner, form("30", "14", "10")).await, 303);
    assert_eq!(
        app.store.clinic(scope).await.unwrap().profile.retention,
        frontdesk_domain::RetentionPolicy {
            conversation_days: 30,
            recording_days: 14,
            audit_years: 10
        }
    );
    let audit = app.store.audit_entries(scope, 0, 10_000).await.unwrap();
    assert!(
        audit
            .iter()
            .any(|e| e.action == "clinic.profile_updated" && e.actor_kind == "staff")
    );
    // The kill switch, from the same page.
    let (_, page, _) = owner.get("/dashboard/settings").await;
    assert!(
        page.contains("Answering patients on every channel"),
        "{page}"
    );
    let (status, _, _) = owner
        .post(
            "/dashboard/settings/ai",
            &[("csrf", csrf.as_str()), ("paused", "true")],
        )
        .await;
    assert_eq!(status, 303);
    assert!(app.store.clinic(scope).await.unwrap().profile.ai_paused);
    let (_, page, _) = owner.get("/dashboard/settings").await;
    assert!(page.contains("<strong>Paused.</strong>"), "{page}");
    let (status, _, _) = owner
        .post(
            "/dashboard/settings/ai",
            &[("csrf", csrf.as_str()), ("paused", "false")],
        )
        .await;
    assert_eq!(status, 303);
    assert!(!app.store.clinic(scope).await.unwrap().profile.ai_paused);
    let mut head = Browser::new(&app);
    head.sign_in(&mail, 2, "head@harbour.test").await;
    let head_csrf = Browser::hidden(&head.get("/dashboard").await.1, "csrf");
    let (status, _, _) = head
        .post(
            "/dashboard/settings/retention",
            &[
                ("csrf", head_csrf.as_str()),
                ("conversation_days", "1"),
                ("recording_days", "1"),
                ("audit_years", "1"),
            ],
        )
        .await;
    assert_eq!(status, 403, "only the Owner");
    app.finish().await;
}

async fn the_owner_makes_rotates_and_revokes_api_keys_and_sees_each_secret_once(
    app: TestApp,
    mail: Mail,
) {
    add_user(&app, "own@harbour.test", "Owen Owner", Role::Owner).await;
    let scope = app.scope(CLINIC).await;
    let mut owner = Browser::new(&app);
    owner.sign_in(&mail, 1, "own@harbour.test").await;
    owner.set_up_totp().await;
    let (status, page, _) = owner.get("/dashboard/api-keys").await;
    assert_eq!(status, 200, "{page}");
    assert!(page.contains("No keys yet."));
    let csrf = Browser::hidden(&page, "csrf");
    // Refusals: no scope, a bad rate, a name that is only spaces.
    for (fields, needle) in [
        (vec![("name", "PMS"), ("rate", "60")], "Choose at least one"),
        (
            vec![
                ("name", "PMS"),
                ("scope", "schedule:read"),
                ("rate", "lots"),
            ],
            "whole number",
        ),
        (
            vec![("name", "PMS"), ("scope", "schedule:read"), ("rate", "0")],
            "Not made",
        ),
        (
            vec![("name", "  "), ("scope", "schedule:read"), ("rate", "60")],
            "Not made",
        ),
    ] {
        let mut form = vec![("csrf", csrf.as_str())];
        form.extend(fields);
        let (status, page, _) = owner.post("/dashboard/api-keys", &form).await;
        assert_eq!(status, 422, "{needle}");
        assert!(page.contains(needle), "{needle}: {page}");
    }
    assert!(
        app.store.api_keys(scope).await.unwrap().is_empty(),
        "nothing made"
    );
    // Made: the secret is on this page only, and works on the API.
    let (status, page, headers) = owner
        .post(
            "/dashboard/api-keys",
            &[
                ("csrf", &csrf),
                ("name", "<b>PMS</b>"),
                ("scope", "schedule:read"),
                ("scope", "appointments:read"),
                ("rate", "120"),
            ],
        )
        .await;
    assert_eq!(status, 200, "{page}");
    assert_eq!(headers["cache-control"], "no-store");
    let key = shown_key(&page);
    assert!(key.starts_with("fdk_"), "{key}");
    assert!(
        page.contains("&#60;b&#62;PMS&#60;/b&#62;") || page.contains("&lt;b&gt;PMS&lt;/b&gt;"),
        "the name is escaped"
    );
    assert!(!page.contains("<b>PMS"));
    let call = |k: String| {
        let client = app.client.clone();
        let url = app.url("/v1/services");
        async move {
            client
                .get(url)
                .bearer_auth(k)
                .send()
                .await
                .unwrap()
                .status()
                .as_u16()
        }
    };
    assert_eq!(call(key.clone()).await, 200);
    let (_, listed, _) = owner.get("/dashboard/api-keys").await;
    assert!(!listed.contains(&key), "never shown again");
    let info = app.store.api_keys(scope).await.unwrap().remove(0);
    assert!(listed.contains(&info.prefix));
    assert_eq!(info.scopes.to_stored(), "schedule:read appointments:read");
    assert_eq!(info.rate_per_minute, 120);
    // Rotated with an hour's overlap: both work; the successor is shown once.
    let (status, page, _) = owner
        .post(
            &format!("/dashboard/api-keys/{}/rotate", info.id),
            &[("csrf", &csrf), ("overlap_hours", "1")],
        )
        .await;
    assert_eq!(status, 200, "{page}");
    let next = shown_key(&page);
    assert_ne!(next, key);
    assert!(page.contains("Rotated: works until"));
    assert_eq!(call(key.clone()).await, 200);
    assert_eq!(call(next.clone()).await, 200);
    let (status, _, _) = owner
        .post(
            &format!("/dashboard/api-keys/{}/rotate", info.id),
            &[("csrf", &csrf), ("overlap_hours", "1")],
        )
        .await;
    assert_eq!(status, 409, "a rotated key is not rotated twice");
    // Revoking every key ends both at once.
    let (status, _, _) = owner
        .post("/dashboard/api-keys/revoke-all", &[("csrf", &csrf)])
        .await;
    assert_eq!(status, 303);
    assert_eq!(call(key).await, 401);
    assert_eq!(call(next).await, 401);
    let (status, _, _) = owner
        .post("/dashboard/api-keys/revoke-all", &[("csrf", "stale")])
        .await;
    assert_eq!(status, 403, "CSRF needed");
    let actions: Vec<String> = app
        .store
        .audit_entries(scope, 0, 100_000)
        .await
        .unwrap()
        .into_iter()
        .filter(|e| e.action.starts_with("api_key."))
        .map(|e| format!("{} {}", e.action, e.actor_kind))
        .collect();
    assert_eq!(
        actions,
        [
            "api_key.created staff",
            "api_key.rotated staff",
            "api_key.all_revoked staff"
        ]
    );
    app.finish().await;
}

/// The key shown once on the page that made or rotated it.
fn shown_key(html: &str) -> String {
    let marker = "id=\"key-value\" readonly value=\"";
    let start = html
        .find(marker)
        .unwrap_or_else(|| panic!("no key shown in {html}"))
        + marker.len();
    html[start..][..html[start..].find('"').unwrap()].to_owned()
}

/// The sign-in limit per client address behind a trusted proxy: each forwarded client has its
/// own count; without `trusted_proxies` the header is ignored and every request counts as the
/// peer's (the proxy's).
#[tokio::test]
async fn behind_a_trusted_proxy_each_client_address_has_its_own_sign_in_limit() {
    for trusted in [true, false] {
        let dashboard = Dashboard {
            link_policy: frontdesk_store::LoginLinkPolicy {
                max_per_ip: 2,
                max_per_email: 100,
                ..Default::default()
            },
            link_base: Some(LINK_BASE.into()),
            trusted_proxies: if trusted {
                frontdesk_server::outbound::ranges::Allowlist::parse(&["127.0.0.1/32", "::1/128"])
                    .unwrap()
            } else {
                Default::default()
            },
            ..Default::default()
        };
        let app = spawn_app_with(Engine::Sqlite, dashboard).await.unwrap();
        let ask = |ip: &'static str, n: usize| {
            let app = &app;
            async move {
                let mut b = Browser::forwarded_for(app, ip);
                b.ask_for_link(&format!("someone{n}@harbour.test")).await.0
            }
        };
        assert_eq!(ask("203.0.113.1", 1).await, 200);
        assert_eq!(ask("203.0.113.1", 2).await, 200);
        assert_eq!(
            ask("203.0.113.1", 3).await,
            429,
            "the third from one address"
        );
        let other = ask("198.51.100.2", 4).await;
        if trusted {
            assert_eq!(
                other, 200,
                "another client behind the proxy has its own count"
            );
        } else {
            assert_eq!(
                other, 429,
                "untrusted: the header is ignored, all is the peer's"
            );
        }
        app.finish().await;
    }
}

async fn the_owner_connects_a_webhook_endpoint_sends_a_test_and_reads_the_log(
    app: TestApp,
    mail: Mail,
) {
    use wiremock::{Mock, MockServer, ResponseTemplate};
    add_user(&app, "own@harbour.test", "Owen Owner", Role::Owner).await;
    let scope = app.scope(CLINIC).await;
    let receiver = MockServer::start().await;
    Mock::given(wiremock::matchers::method("POST"))
        .respond_with(ResponseTemplate::new(200))
        .mount(&receiver)
        .await;
    let mut owner = Browser::new(&app);
    owner.sign_in(&mail, 1, "own@harbour.test").await;
    owner.set_up_totp().await;
    let (status, page, _) = owner.get("/dashboard/webhooks").await;
    assert_eq!(status, 200, "{page}");
    assert!(page.contains("No endpoints yet."));
    let csrf = Browser::hidden(&page, "csrf");
    // A private address outside the allowlist, and a form without events, are refused.
    for (url, event, needle) in [
        ("http://10.0.0.1/in", "ping", "cannot be used"),
        ("https://169.254.169.254/latest", "ping", "cannot be used"),
        ("not a url", "ping", "full address"),
        (&*format!("{}/in", receiver.uri()), "", "at least one event"),
    ] {
        let mut form = vec![("csrf", csrf.as_str()), ("url", url)];
        if !event.is_empty() {
            form.push(("event", event));
        }
        let (status, page, _) = owner.post("/dashboard/webhooks", &form).await;
        assert_eq!(status, 422, "{url}");
        assert!(page.contains(needle), "{url}: {page}");
    }
    assert!(app.store.webhook_endpoints(scope).await.unwrap().is_empty());
    let url = format!("{}/in?token=t0k", receiver.uri());
    let (status, page, headers) = owner
        .post(
            "/dashboard/webhooks",
            &[
                ("csrf", &csrf),
                ("url", &url),
                ("event", "ping"),
                ("event", "appointment.created"),
            ],
        )
        .await;
    assert_eq!(status, 200, "{page}");
    assert_eq!(headers["cache-control"], "no-store");
    let secret = shown_value(&page, "secret-value");
    assert!(secret.starts_with("whsec_"), "{secret}");
    let (_, listed, _) = owner.get("/dashboard/webhooks").await;
    assert!(!listed.contains(&secret), "the secret is shown once");
    let hook = app.store.webhook_endpoints(scope).await.unwrap().remove(0);
    assert_eq!(hook.events, ["ping", "appointment.created"]);
    // A test event is queued, delivered by the worker, signed with the shown secret, and logged.
    let (status, _, _) = owner
        .post(
            &format!("/dashboard/webhooks/{}/test", hook.id),
            &[("csrf", &csrf)],
        )
        .await;
    assert_eq!(status, 303);
    let worker = frontdesk_server::outbound::worker::WebhookWorker::new(
        app.store.clone(),
        std::sync::Arc::new(frontdesk_domain::SystemClock),
        frontdesk_server::outbound::WebhookClient::new(loopback_webhooks()).unwrap(),
    );
    assert_eq!(worker.run_once().await.unwrap(), 1);
    let got = receiver.received_requests().await.unwrap();
    assert_eq!(got.len(), 1);
    let header = got[0].headers[frontdesk_server::outbound::SIGNATURE_HEADER]
        .to_str()
        .unwrap();
    let key = frontdesk_server::outbound::WebhookSecret::parse(&secret).unwrap();
    frontdesk_server::outbound::verify(header, &got[0].body, &[key], jiff::Timestamp::now())
        .unwrap();
    let (_, page, _) = owner.get("/dashboard/webhooks").await;
    assert!(
        page.contains("<th scope=\"row\">ping</th>")
            && page.contains("delivered")
            && page.contains("HTTP 200"),
        "{page}"
    );
    // A new secret is shown once; the endpoint can be disabled, and then takes no test event.
    let (status, page, _) = owner
        .post(
            &format!("/dashboard/webhooks/{}/rotate", hook.id),
            &[("csrf", &csrf), ("overlap_hours", "2")],
        )
        .await;
    assert_eq!(status, 200, "{page}");
    assert_ne!(shown_value(&page, "secret-value"), secret);
    assert!(page.contains("the previous secret also signs until"));
    let (status, _, _) = owner
        .post(
            &format!("/dashboard/webhooks/{}/disable", hook.id),
            &[("csrf", &csrf)],
        )
        .await;
    assert_eq!(status, 303);
    let (status, _, _) = owner
        .post(
            &format!("/dashboard/webhooks/{}/test", hook.id),
            &[("csrf", &csrf)],
        )
        .await;
    assert_eq!(status, 409);
    let actions: Vec<String> = app
        .store
        .audit_entries(scope, 0, 100_000)
        .await
        .unwrap()
        .into_iter()
        .filter(|e| e.action.starts_with("webhook."))
        .map(|e| format!("{} {}", e.action, e.actor_kind))
        .collect();
    assert_eq!(
        actions,
        [
            "webhook.endpoint_created staff",
            "webhook.secret_rotated staff",
            "webhook.endpoint_disabled staff"
        ]
    );
    app.finish().await;
}

/// The value of the read-only input `id` (a secret shown once).
fn shown_value(html: &str, id: &str) -> String {
    let marker = format!("id=\"{id}\" readonly value=\"");
    let start = html
        .find(&marker)
        .unwrap_or_else(|| panic!("no {id} in {html}"))
        + marker.len();
    html[start..][..html[start..].find('"').unwrap()].to_owned()
}

/// Checks `ics` the way a strict calendar client would: CRLF line ends only, no physical line
/// over 75 octets, continuation lines start with a space, components nest and close, every
/// event has UID, DTSTAMP, DTSTART and DTEND in UTC form; answers the unfolded lines.
fn valid_ics(ics: &str) -> Vec<String> {
    assert!(ics.ends_with("\r\n"), "ends with CRLF");
    assert!(!ics.replace("\r\n", "").contains('\n'), "bare LF");
    assert!(!ics.replace("\r\n", "").contains('\r'), "bare CR");
    let mut lines: Vec<String> = Vec::new();
    for physical in ics.trim_end_matches("\r\n").split("\r\n") {
        assert!(
            physical.len() <= 75,
            "{} octets: {physical}",
            physical.len()
        );
        match physical.strip_prefix(' ') {
            Some(rest) => lines.last_mut().expect("a first line").push_str(rest),
            None => lines.push(physical.to_owned()),
        }
    }
    assert_eq!(lines.first().map(String::as_str), Some("BEGIN:VCALENDAR"));
    assert_eq!(lines.last().map(String::as_str), Some("END:VCALENDAR"));
    assert!(lines.iter().any(|l| l == "VERSION:2.0"));
    assert!(lines.iter().any(|l| l.starts_with("PRODID:")));
    let mut stack: Vec<&str> = Vec::new();
    let mut event: Vec<&str> = Vec::new();
    let mut uids = std::collections::HashSet::new();
    for l in &lines {
        if let Some(c) = l.strip_prefix("BEGIN:") {
            stack.push(c);
            event.clear();
        } else if let Some(c) = l.strip_prefix("END:") {
            assert_eq!(stack.pop(), Some(c), "components nest");
            if c == "VEVENT" {
                for p in ["UID:", "DTSTAMP:", "DTSTART:", "DTEND:", "SUMMARY:"] {
                    assert!(event.iter().any(|l| l.starts_with(p)), "an event lacks {p}");
                }
                let uid = event.iter().find(|l| l.starts_with("UID:")).unwrap();
                assert!(uids.insert(uid.to_string()), "UIDs are unique");
                for l in &event {
                    if let Some(v) = l
                        .strip_prefix("DTSTART:")
                        .or_else(|| l.strip_prefix("DTEND:"))
                        .or_else(|| l.strip_prefix("DTSTAMP:"))
                    {
                        assert!(
                            v.len() == 16 && v.ends_with('Z') && v.as_bytes()[8] == b'T',
                            "{l}"
                        );
                    }
                }
            }
        } else {
            assert!(
                l.contains(':'),
                "a content line has a name and a value: {l}"
            );
            event.push(l);
        }
    }
    assert!(stack.is_empty());
    lines
}

async fn the_reception_head_makes_a_calendar_feed_that_apps_read_until_it_is_revoked(
    app: TestApp,
    mail: Mail,
) {
    add_user(&app, "head@harbour.test", "Hana Head", Role::ReceptionHead).await;
    let (appt, _) = booked(&app, CLINIC, "Kahu <Secret> Tipene", "+64215550177").await;
    let mut head = Browser::new(&app);
    head.sign_in(&mail, 1, "head@harbour.test").await;
    let (status, page, _) = head.get("/dashboard/calendar-feeds").await;
    assert_eq!(status, 200, "{page}");
    assert!(page.contains("No feeds yet."));
    let csrf = Browser::hidden(&page, "csrf");
    let (status, page, headers) = head
        .post(
            "/dashboard/calendar-feeds",
            &[
                ("csrf", &csrf),
                ("practitioner", &appt.practitioner_id.to_string()),
            ],
        )
        .await;
    assert_eq!(status, 200, "{page}");
    assert_eq!(headers["cache-control"], "no-store");
    let marker = "id=\"feed-url\" readonly value=\"";
    let start = page.find(marker).expect("the URL is shown") + marker.len();
    let url = page[start..][..page[start..].find('"').unwrap()].to_owned();
    let path = &url[url.find("/calendar/").expect("a feed path")..];
    assert!(path.ends_with(".ics") && path.contains("fdcal_"), "{path}");
    // Shown once: the list afterwards names the feed by prefix only.
    let (_, list, _) = head.get("/dashboard/calendar-feeds").await;
    let token = &path["/calendar/".len()..path.len() - 4];
    assert!(!list.contains(token), "the URL is not shown again");

    // A calendar app (no session, no cookie) reads it.
    let resp = app.client.get(app.url(path)).send().await.unwrap();
    assert_eq!(resp.status(), 200);
    assert_eq!(
        resp.headers()["content-type"],
        "text/calendar; charset=utf-8"
    );
    let ics = resp.text().await.unwrap();
    let lines = valid_ics(&ics);
    let uid = format!("UID:{}@frontdesk", appt.id);
    assert!(lines.contains(&uid), "{ics}");
    let start_line = format!("DTSTART:{}", appt.starts_at.strftime("%Y%m%dT%H%M%SZ"));
    assert!(lines.contains(&start_line), "{ics}");
    assert!(
        !ics.contains("Kahu") && !ics.contains("Tipene") && !ics.contains("215550177"),
        "never the patient: {ics}"
    );
    // Another practitioner's appointments are not in this feed.
    let scope = app.scope(CLINIC).await;
    let others = app
        .store
        .appointments_between(
            scope,
            None,
            jiff::Timestamp::now() - jiff::SignedDuration::from_hours(24 * 30),
            jiff::Timestamp::now() + jiff::SignedDuration::from_hours(24 * 180),
        )
        .await
        .unwrap();
    for a in others
        .iter()
        .filter(|a| a.practitioner_id != appt.practitioner_id)
    {
        assert!(
            !ics.contains(&a.id.to_string()),
            "another practitioner's appointment"
        );
    }

    // Revoked: the same URL answers 404, like any unknown one.
    let feed = app.store.calendar_feeds(scope).await.unwrap()[0].id;
    let (status, _, _) = head
        .post(
            &format!("/dashboard/calendar-feeds/{feed}/revoke"),
            &[("csrf", &csrf)],
        )
        .await;
    assert_eq!(status, 303);
    let gone = app.client.get(app.url(path)).send().await.unwrap();
    assert_eq!(gone.status(), 404);
    let unknown = app
        .client
        .get(
            app.url("/calendar/fdcal_aaaaaaaaaaaa_aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa.ics"),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(unknown.status(), 404);
    let audit = app.store.audit_entries(scope, 0, u32::MAX).await.unwrap();
    assert!(audit.iter().any(|e| e.action == "calendar_feed.created"));
    assert!(audit.iter().any(|e| e.action == "calendar_feed.revoked"));
}

/// The Owner's language model page.
mod llm;
mod security;
