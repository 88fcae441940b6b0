//! The staff dashboard (issue #7), first part: sign-in by emailed link, sessions, logout.
//!
//! * **Sign-in links.** `GET /dashboard/login` sets a random browser-binding cookie; the form
//!   posts the clinic and address with a CSRF token derived from that cookie. The store makes a
//!   single-use, ten-minute link bound to the cookie (rate limited per address and IP) and the
//!   email goes out in the background, so the answer — identical whether or not the address
//!   has an account — also takes the same time. The link opens a confirmation page; only its
//!   `POST` (from the same browser, with the binding cookie) uses it, so mail scanners that
//!   fetch links cannot spend it. Links point at the configured public URL, never at a
//!   request's `Host` header (which an attacker could set to harvest links).
//! * **Sessions.** A fresh random 256-bit id at every sign-in, stored hashed; the cookie
//!   (`__Host-`, HttpOnly, Secure, SameSite=Strict) holds the clinic id and the secret. Idle and
//!   absolute expiry, logout and logout everywhere are the store's (see `StaffAuthStore`).
//! * **CSRF.** Every state-changing form carries a token derived from the cookie it relies on
//!   (SHA-256 with a purpose label), checked in constant time; the cookies are SameSite=Strict
//!   as a second wall.
//!
//! Pages are askama templates (auto-escaped), with the global strict CSP, `no-store` caching
//! and no script at all so far.

use super::AppState;
use crate::mailer::Mailer;
use askama::Template;
use axum::{
    Form,
    extract::{ConnectInfo, FromRequestParts, Query, State},
    http::{HeaderMap, HeaderValue, StatusCode, header, request::Parts},
    response::{Html, IntoResponse, Redirect, Response},
};
use base64::{Engine as _, engine::general_purpose::URL_SAFE_NO_PAD};
use frontdesk_domain::{Access, Email, Permission, TenantId, TenantSlug};
use frontdesk_store::{
    Actor, LoginLinkOutcome, LoginLinkPolicy, SessionPolicy, StaffSession, StoreError,
    crypto::new_token, totp,
};
use sha2::{Digest, Sha256};
use std::net::SocketAddr;
use subtle::ConstantTimeEq;
use zeroize::Zeroizing;

/// The browser-binding cookie of a sign-in request (also the login form's CSRF secret).
pub const LOGIN_COOKIE: &str = "__Host-fd_login";
/// The session cookie: `<clinic id>.<secret>`.
pub const SESSION_COOKIE: &str = "__Host-fd_session";
/// The binding cookie outlives the link it binds (10 minutes) a little.
const LOGIN_COOKIE_SECS: i64 = 20 * 60;

/// What the dashboard needs besides the store.
#[derive(Debug)]
pub struct Dashboard {
    pub mailer: Mailer,
    /// Where emailed links point (the public URL, e.g. `https://frontdesk.example.org`).
    /// `None`: sign-in by email is unavailable (the page says so; nothing is sent).
    pub link_base: Option<String>,
    pub link_policy: LoginLinkPolicy,
    pub session_policy: SessionPolicy,
    /// Where call recordings are kept (for staff playback); `None`: playback unavailable.
    pub blobs: Option<std::sync::Arc<dyn crate::blobs::BlobStore>>,
    /// How long a staff takeover lasts without activity (config `staff_hold_minutes`).
    pub staff_hold: jiff::SignedDuration,
    /// Reverse proxies whose `X-Forwarded-For` is believed (config `trusted_proxies`).
    pub trusted_proxies: crate::outbound::ranges::Allowlist,
    /// Where clinics' webhook endpoints may point (config `webhook_allowlist`).
    pub webhook_policy: crate::outbound::SsrfPolicy,
}

impl Default for Dashboard {
    fn default() -> Self {
        Self {
            mailer: Mailer::Disabled,
            link_base: None,
            blobs: None,
            staff_hold: jiff::SignedDuration::from_mins(15),
            link_policy: LoginLinkPolicy::default(),
            session_policy: SessionPolicy::default(),
            trusted_proxies: Default::default(),
            webhook_policy: Default::default(),
        }
    }
}

// ----- cookies and CSRF -----

/// The value of cookie `name` in the request, if present and plain.
fn cookie(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v.to_owned())
        .filter(|v| {
            !v.is_empty()
                && v.len() <= 200
                && v.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b"-_.".contains(&b))
        })
}

fn set_cookie(name: &str, value: &str, max_age_secs: i64) -> HeaderValue {
    // Only our own base64url / uuid values reach here, so the header is always valid.
    HeaderValue::from_str(&format!(
        "{name}={value}; Path=/; Secure; HttpOnly; SameSite=Strict; Max-Age={max_age_secs}"
    ))
    .unwrap_or_else(|_| HeaderValue::from_static(""))
}

/// A CSRF token bound to the secret of the cookie the form relies on.
fn csrf_token(purpose: &str, secret: &str) -> String {
    let mut h = Sha256::new();
    h.update(b"frontdesk-csrf\0");
    h.update(purpose.as_bytes());
    h.update(b"\0");
    h.update(secret.as_bytes());
    URL_SAFE_NO_PAD.encode(h.finalize())
}

fn csrf_ok(purpose: &str, secret: &str, given: &str) -> bool {
    csrf_token(purpose, secret)
        .as_bytes()
        .ct_eq(given.as_bytes())
        .into()
}

/// The client's IP address, for the sign-in rate limit (the server runs with connect info):
/// the TCP peer, or, when the peer is one of the configured `trusted_proxies`, the address
/// they forwarded (see [`super::client_ip`]).
pub struct PeerIp(String);

impl FromRequestParts<AppState> for PeerIp {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, st: &AppState) -> Result<Self, Self::Rejection> {
        Ok(PeerIp(
            parts
                .extensions
                .get::<ConnectInfo<SocketAddr>>()
                .map_or_else(
                    || "unknown".to_owned(),
                    |ConnectInfo(a)| {
                        super::client_ip::client_ip(
                            a.ip(),
                            &parts.headers,
                            &st.dashboard.trusted_proxies,
                        )
                        .to_string()
                    },
                ),
        ))
    }
}

// ----- pages -----

#[derive(Template)]
#[template(path = "dashboard/login.html")]
struct LoginPage<'a> {
    csrf: String,
    clinic: &'a str,
    email: &'a str,
    error: Option<&'a str>,
}

#[derive(Template)]
#[template(path = "dashboard/message.html")]
struct MessagePage<'a> {
    heading: &'a str,
    text: &'a str,
    action: Option<(&'a str, &'a str)>,
}

#[derive(Template)]
#[template(path = "dashboard/confirm.html")]
struct ConfirmPage<'a> {
    csrf: String,
    link: &'a str,
}

#[derive(Template)]
#[template(path = "dashboard/home.html")]
struct HomePage<'a> {
    clinic: &'a str,
    name: &'a str,
    role: &'static str,
    idle_minutes: i64,
    expires: String,
    mfa_offer: bool,
    audit_link: bool,
    /// Unacknowledged security alerts (for those who see them).
    open_alerts: usize,
    inbox_link: bool,
    diary_link: bool,
    patients_link: bool,
    analytics_link: bool,
    users_link: bool,
    settings_link: bool,
    schedule_link: bool,
    channels_link: bool,
    keys_link: bool,
    permissions: Vec<(&'static str, &'static str)>,
    csrf: String,
}

/// The value of field `name` in a form read as pairs (repeated fields allowed); `""` if absent.
pub(super) fn form_field<'a>(fields: &'a [(String, String)], name: &str) -> &'a str {
    fields
        .iter()
        .find(|(k, _)| k == name)
        .map_or("", |(_, v)| v.as_str())
}

/// An overlap in hours from a form (0 to 720; empty: 24), for key and secret rotations.
pub(super) fn overlap_hours(raw: Option<&str>) -> Option<u32> {
    match raw.map(str::trim) {
        None | Some("") => Some(24),
        Some(h) => h.parse::<u32>().ok().filter(|h| *h <= 720),
    }
}

/// What a rotation form with a bad overlap is told.
pub(super) const BAD_OVERLAP: &str = "The overlap is a whole number of hours, 0 to 720.";

/// A form without this session's CSRF token (or a stale one-time key): 403, nothing done.
pub(super) fn form_expired() -> Response {
    plain(
        StatusCode::FORBIDDEN,
        "This form has expired. Open the page again.",
    )
}

/// A short plain-text answer with the dashboard's headers (never cached).
pub(super) fn plain(status: StatusCode, msg: &'static str) -> Response {
    let mut r = (status, msg).into_response();
    r.headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    r
}

/// The store failed: 503 for the caller ("nothing was changed" holds: one transaction per
/// operation), the cause in the log.
pub(super) fn store_failed(e: &StoreError) -> Response {
    tracing::error!(error = ?e, "dashboard store call failed");
    plain(StatusCode::SERVICE_UNAVAILABLE, "Please try again shortly.")
}

/// A rendered page with the dashboard's headers (never cached: it may show personal data).
pub(super) fn page(status: StatusCode, t: &impl Template) -> Response {
    match t.render() {
        Ok(html) => {
            let mut resp = (status, Html(html)).into_response();
            resp.headers_mut()
                .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
            resp
        }
        Err(e) => {
            tracing::error!(error = %e, "dashboard template failed");
            (
                StatusCode::INTERNAL_SERVER_ERROR,
                "Something went wrong on our side.",
            )
                .into_response()
        }
    }
}

pub(super) fn message(
    status: StatusCode,
    heading: &str,
    text: &str,
    action: Option<(&str, &str)>,
) -> Response {
    page(
        status,
        &MessagePage {
            heading,
            text,
            action,
        },
    )
}

fn unavailable() -> Response {
    message(
        StatusCode::SERVICE_UNAVAILABLE,
        "Please try again shortly",
        "frontdesk cannot reach its database just now. Nothing was changed.",
        None,
    )
}

fn forbidden_form() -> Response {
    message(
        StatusCode::FORBIDDEN,
        "This form has expired",
        "The form was not sent from this browser's current page. Open the page again and retry.",
        Some(("/dashboard/login", "Back to sign-in")),
    )
}

fn with_cookie(mut resp: Response, cookie: HeaderValue) -> Response {
    resp.headers_mut().append(header::SET_COOKIE, cookie);
    resp
}

#[derive(serde::Deserialize)]
pub struct LoginQuery {
    clinic: Option<String>,
}

/// `GET /dashboard/login`: the form, and a fresh browser-binding cookie when there is none.
pub async fn login_page(headers: HeaderMap, Query(q): Query<LoginQuery>) -> Response {
    let (secret, new) = match cookie(&headers, LOGIN_COOKIE) {
        Some(s) => (Zeroizing::new(s), false),
        None => (new_token("fdb_"), true),
    };
    let clinic = q
        .clinic
        .as_deref()
        .filter(|c| TenantSlug::parse(c).is_ok())
        .unwrap_or("");
    let resp = page(
        StatusCode::OK,
        &LoginPage {
            csrf: csrf_token("login", &secret),
            clinic,
            email: "",
            error: None,
        },
    );
    if new {
        with_cookie(resp, set_cookie(LOGIN_COOKIE, &secret, LOGIN_COOKIE_SECS))
    } else {
        resp
    }
}

#[derive(serde::Deserialize)]
pub struct LoginForm {
    csrf: String,
    clinic: String,
    email: String,
}

/// `POST /dashboard/login`: asks the store for a link and emails it. The answer is the same
/// page whether or not the clinic and address exist.
pub async fn login_submit(
    State(st): State<AppState>,
    headers: HeaderMap,
    PeerIp(ip): PeerIp,
    Form(form): Form<LoginForm>,
) -> Response {
    let Some(browser) = cookie(&headers, LOGIN_COOKIE) else {
        return message(
            StatusCode::BAD_REQUEST,
            "Cookies are needed to sign in",
            "Your browser did not send back the cookie we set on the sign-in page. Allow cookies \
             for this site, open the sign-in page again and retry.",
            Some(("/dashboard/login", "Back to sign-in")),
        );
    };
    if !csrf_ok("login", &browser, &form.csrf) {
        return forbidden_form();
    }
    let retry = |error: &str| {
        page(
            StatusCode::UNPROCESSABLE_ENTITY,
            &LoginPage {
                csrf: csrf_token("login", &browser),
                clinic: &form.clinic,
                email: &form.email,
                error: Some(error),
            },
        )
    };
    let Ok(slug) = TenantSlug::parse(form.clinic.trim()) else {
        return retry(
            "That clinic address is not valid: use the short name in your clinic's frontdesk links.",
        );
    };
    let Ok(email) = Email::parse(form.email.trim()) else {
        return retry("That email address is not valid.");
    };
    let Some(base) = st.dashboard.link_base.clone() else {
        return message(
            StatusCode::SERVICE_UNAVAILABLE,
            "Sign-in by email is not set up",
            "This frontdesk server has no public address configured (public_url), so it cannot \
             email sign-in links. Ask whoever runs it to set one.",
            None,
        );
    };
    let outcome = st
        .store
        .request_login_link(&slug, &email, &ip, &browser, &st.dashboard.link_policy)
        .await;
    match outcome {
        Ok(LoginLinkOutcome::Created {
            token,
            email,
            expires_at,
            user,
        }) => {
            let st = st.clone();
            // Everything after the link is made runs in the background (the clinic's name,
            // the email): the answer must not take longer when an account exists.
            tokio::spawn(async move {
                let clinic = match st.store.public_clinic(&slug).await {
                    Ok(c) => c,
                    Err(e) => {
                        tracing::error!(error = ?e, %user, "sign-in email not sent: clinic unreadable");
                        return;
                    }
                };
                let link = Zeroizing::new(format!(
                    "{}/dashboard/auth?link={}.{}",
                    base.trim_end_matches('/'),
                    clinic.id,
                    token.as_str()
                ));
                let body = Zeroizing::new(format!(
                    "Here is your link to sign in to frontdesk for {clinic}:\n\n{link}\n\n\
                     It works once, until {expires_at} (10 minutes), and only in the browser \
                     where you asked for it. If you did not ask for it, ignore this email: nobody \
                     can use the link without that browser.\n",
                    clinic = clinic.profile.name,
                    link = link.as_str(),
                ));
                if let Err(e) = st
                    .dashboard
                    .mailer
                    .send(
                        std::slice::from_ref(&email),
                        "Your frontdesk sign-in link",
                        &body,
                    )
                    .await
                {
                    tracing::warn!(code = e.code, %user, "sign-in email not sent");
                }
            });
        }
        Ok(LoginLinkOutcome::NoSuchUser) => {}
        Ok(LoginLinkOutcome::RateLimited) => {
            metrics::counter!("frontdesk_login_failures_total", "reason" => "rate_limited")
                .increment(1);
            return message(
                StatusCode::TOO_MANY_REQUESTS,
                "Too many sign-in requests",
                "Too many links were asked for this address or from this network just now. \
                 Wait 15 minutes, then try again.",
                None,
            );
        }
        Err(e) => {
            tracing::error!(error = ?e, "sign-in request failed");
            return unavailable();
        }
    }
    message(
        StatusCode::OK,
        "Check your email",
        "If that address belongs to a frontdesk account at this clinic, we have emailed it a \
         sign-in link. Open it in this browser within 10 minutes.",
        None,
    )
}

#[derive(serde::Deserialize)]
pub struct AuthQuery {
    link: Option<String>,
}

/// Splits `<clinic id>.<secret>` (a session cookie or an emailed link).
fn split_tenant_secret(v: &str) -> Option<(TenantId, &str)> {
    let (tenant, secret) = v.split_once('.')?;
    let tenant = TenantId::parse(tenant).ok()?;
    (!secret.is_empty() && secret.len() <= 100).then_some((tenant, secret))
}

fn link_unusable() -> Response {
    message(
        StatusCode::UNAUTHORIZED,
        "This sign-in link cannot be used",
        "It has expired, was already used, or was opened in a different browser from the one \
         that asked for it. Ask for a new link.",
        Some(("/dashboard/login", "Ask for a new link")),
    )
}

/// `GET /dashboard/auth?link=…`: a confirmation page; nothing is used until it is posted.
pub async fn auth_page(headers: HeaderMap, Query(q): Query<AuthQuery>) -> Response {
    let Some(link) = q.link.filter(|l| split_tenant_secret(l).is_some()) else {
        return link_unusable();
    };
    let Some(browser) = cookie(&headers, LOGIN_COOKIE) else {
        return link_unusable();
    };
    page(
        StatusCode::OK,
        &ConfirmPage {
            csrf: csrf_token("auth", &browser),
            link: &link,
        },
    )
}

#[derive(serde::Deserialize)]
pub struct AuthForm {
    csrf: String,
    link: String,
}

/// `POST /dashboard/auth`: uses the link and opens a session with a fresh id.
pub async fn auth_submit(
    State(st): State<AppState>,
    headers: HeaderMap,
    Form(form): Form<AuthForm>,
) -> Response {
    let Some(browser) = cookie(&headers, LOGIN_COOKIE) else {
        return link_unusable();
    };
    if !csrf_ok("auth", &browser, &form.csrf) {
        return forbidden_form();
    }
    let Some((tenant, token)) = split_tenant_secret(&form.link) else {
        return link_unusable();
    };
    match st
        .store
        .consume_login_link(tenant, token, &browser, &st.dashboard.session_policy)
        .await
    {
        Ok(session) => {
            let value = Zeroizing::new(format!("{tenant}.{}", session.token.as_str()));
            let lifetime = st.dashboard.session_policy.absolute.as_secs();
            let resp = Redirect::to("/dashboard").into_response();
            let resp = with_cookie(resp, set_cookie(SESSION_COOKIE, &value, lifetime));
            with_cookie(resp, set_cookie(LOGIN_COOKIE, "gone", 0))
        }
        Err(StoreError::Unauthorized) => {
            metrics::counter!("frontdesk_login_failures_total", "reason" => "link_unusable")
                .increment(1);
            link_unusable()
        }
        Err(e) => {
            tracing::error!(error = ?e, "sign-in link check failed");
            unavailable()
        }
    }
}

/// A live session, whether or not it has passed the second factor: the two-step sign-in
/// pages and logout take this.
pub struct PartialStaff {
    pub session: StaffSession,
    /// The cookie's secret (the CSRF tokens of this session's forms derive from it).
    secret: Zeroizing<String>,
    tenant: TenantId,
}

impl PartialStaff {
    fn csrf(&self) -> String {
        csrf_token("session", &self.secret)
    }
}

impl FromRequestParts<AppState> for PartialStaff {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, st: &AppState) -> Result<Self, Response> {
        let to_login = || Redirect::to("/dashboard/login").into_response();
        let Some(value) = cookie(&parts.headers, SESSION_COOKIE) else {
            return Err(to_login());
        };
        let Some((tenant, secret)) = split_tenant_secret(&value) else {
            return Err(to_login());
        };
        match st.store.authenticate_session(tenant, secret).await {
            Ok(session) => Ok(PartialStaff {
                session,
                secret: Zeroizing::new(secret.to_owned()),
                tenant,
            }),
            Err(StoreError::Unauthorized) => Err(with_cookie(
                to_login(),
                set_cookie(SESSION_COOKIE, "gone", 0),
            )),
            Err(e) => {
                tracing::error!(error = ?e, "session check failed");
                Err(unavailable())
            }
        }
    }
}

/// The session behind a live-update request, checked without refreshing its idle clock (an
/// unattended dashboard left open must still time out). `None`: no usable session, or the
/// second factor is still pending.
pub(super) struct LiveSession {
    pub tenant: TenantId,
    pub secret: Zeroizing<String>,
    pub session: StaffSession,
}

impl LiveSession {
    pub(super) async fn from_headers(
        headers: &HeaderMap,
        st: &AppState,
    ) -> Result<Option<Self>, StoreError> {
        let Some(value) = cookie(headers, SESSION_COOKIE) else {
            return Ok(None);
        };
        let Some((tenant, secret)) = split_tenant_secret(&value) else {
            return Ok(None);
        };
        let live = Self {
            tenant,
            secret: Zeroizing::new(secret.to_owned()),
            session: match st.store.check_session(tenant, secret).await {
                Ok(s) => s,
                Err(StoreError::Unauthorized) => return Ok(None),
                Err(e) => return Err(e),
            },
        };
        Ok(live.session.mfa_satisfied().then_some(live))
    }

    /// The CSRF token of this session's forms (for forms inside live fragments).
    pub(super) fn csrf(&self) -> String {
        csrf_token("session", &self.secret)
    }

    /// Whether the session is still valid (checked again on every poll of a live stream).
    pub(super) async fn still_valid(&self, st: &AppState) -> bool {
        st.store
            .check_session(self.tenant, &self.secret)
            .await
            .is_ok_and(|s| s.mfa_satisfied() && s.role == self.session.role)
    }
}

/// A signed-in staff member who has passed the second factor where one is needed. Every
/// dashboard route that shows or changes clinic data takes this extractor: a missing or dead
/// session goes to the sign-in page, a pending second factor to `/dashboard/mfa`.
pub struct Staff(PartialStaff);

impl Staff {
    pub fn session(&self) -> &StaffSession {
        &self.0.session
    }

    /// The session cookie's secret (keys this session's signed URLs; never sent back).
    pub(super) fn secret(&self) -> &str {
        &self.0.secret
    }

    /// The CSRF token of this session's forms.
    pub(super) fn csrf(&self) -> String {
        self.0.csrf()
    }
}

/// Whether `given` is this session's CSRF token.
pub(super) fn csrf_ok_for(staff: &Staff, given: &str) -> bool {
    csrf_ok("session", staff.secret(), given)
}

impl FromRequestParts<AppState> for Staff {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, st: &AppState) -> Result<Self, Response> {
        let partial = PartialStaff::from_request_parts(parts, st).await?;
        if !partial.session.mfa_satisfied() {
            return Err(Redirect::to("/dashboard/mfa").into_response());
        }
        Ok(Staff(partial))
    }
}

/// A permission as a type, for the [`Require`] extractor (`Require<perm::ViewConversations>`).
pub trait Needs: Send + Sync + 'static {
    const PERMISSION: Permission;
}

/// One type per permission of the matrix (`crates/domain/src/roles.rs`).
pub mod perm {
    use super::{Needs, Permission};

    macro_rules! needs {
        ($($name:ident),* $(,)?) => {$(
            #[doc = concat!("`Permission::", stringify!($name), "`.")]
            pub struct $name;
            impl Needs for $name {
                const PERMISSION: Permission = Permission::$name;
            }
        )*};
    }

    needs!(
        ViewConversations,
        DraftReply,
        ReplyToPatients,
        ViewPatients,
        ViewAppointments,
        ManageAppointments,
        ManageSchedule,
        ViewAnalytics,
        ViewRevenue,
        PlayRecordings,
        ManageClinicProfile,
        ManageUsers,
        ManageChannels,
        ManageRetention,
        ManageKeys,
        ManageBilling,
        ViewAuditLog,
    );
}

/// A signed-in staff member (second factor passed where needed) whose role holds permission
/// `P` at all; a role without it is refused with 403 before the handler runs. Every
/// dashboard route that shows or changes clinic data takes one. `access` says how far it
/// reaches: a handler given `Access::Assigned` shows only what is assigned to this staff
/// member (today: nothing, and any id answers 404).
pub struct Require<P: Needs> {
    pub staff: Staff,
    pub access: Access,
    _permission: std::marker::PhantomData<P>,
}

impl<P: Needs> FromRequestParts<AppState> for Require<P> {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, st: &AppState) -> Result<Self, Response> {
        let staff = Staff::from_request_parts(parts, st).await?;
        match staff.session().role.access(P::PERMISSION) {
            Access::None => Err(plain(
                StatusCode::FORBIDDEN,
                "Your role does not allow this.",
            )),
            access => Ok(Self {
                staff,
                access,
                _permission: std::marker::PhantomData,
            }),
        }
    }
}

fn reach(a: Access) -> &'static str {
    match a {
        Access::All => "Everything in the clinic",
        Access::Assigned => "Only what is assigned to you",
        Access::None => "No",
    }
}

/// `GET /dashboard`: who is signed in, what their role may do, and the session controls.
pub async fn home(State(st): State<AppState>, Staff(staff): Staff) -> Response {
    let s = &staff.session;
    let clinic = match st.store.clinic(s.scope).await {
        Ok(c) => c,
        Err(e) => {
            tracing::error!(error = ?e, "clinic read failed");
            return unavailable();
        }
    };
    let audit_link = s.role.access(Permission::ViewAuditLog) == Access::All;
    let open_alerts = if audit_link {
        match st.store.security_alerts(s.scope).await {
            Ok(a) => a.iter().filter(|a| a.acknowledged_at.is_none()).count(),
            Err(e) => return store_failed(&e),
        }
    } else {
        0
    };
    let tz = clinic.profile.timezone.as_str();
    let expires = s
        .expires_at
        .in_tz(tz)
        .map(|z| z.strftime("%H:%M on %a %-d %b").to_string())
        .unwrap_or_else(|_| s.expires_at.to_string());
    page(
        StatusCode::OK,
        &HomePage {
            clinic: &clinic.profile.name,
            name: &s.name,
            role: s.role.label(),
            idle_minutes: i64::from(clinic.profile.session_idle_minutes),
            expires,
            mfa_offer: !s.mfa_enrolled,
            audit_link,
            open_alerts,
            inbox_link: s.role.can(Permission::ViewConversations),
            diary_link: s.role.can(Permission::ViewAppointments),
            patients_link: s.role.can(Permission::ViewPatients),
            analytics_link: s.role.access(Permission::ViewAnalytics) == Access::All,
            users_link: s.role.access(Permission::ManageUsers) == Access::All,
            settings_link: s.role.access(Permission::ManageClinicProfile) == Access::All,
            schedule_link: s.role.access(Permission::ManageSchedule) == Access::All,
            channels_link: s.role.access(Permission::ManageChannels) == Access::All,
            keys_link: s.role.access(Permission::ManageKeys) == Access::All,
            permissions: Permission::ALL
                .into_iter()
                .map(|p| (p.label(), reach(s.role.access(p))))
                .collect(),
            csrf: staff.csrf(),
        },
    )
}

#[derive(serde::Deserialize)]
pub struct CsrfForm {
    csrf: String,
}

fn signed_out() -> Response {
    let resp = Redirect::to("/dashboard/login").into_response();
    with_cookie(resp, set_cookie(SESSION_COOKIE, "gone", 0))
}

/// `POST /dashboard/logout`: ends this session.
pub async fn logout(st: State<AppState>, staff: PartialStaff, form: Form<CsrfForm>) -> Response {
    sign_out(st, staff, form, false).await
}

/// `POST /dashboard/logout-everywhere`: ends every session of this staff member.
pub async fn logout_everywhere(
    st: State<AppState>,
    staff: PartialStaff,
    form: Form<CsrfForm>,
) -> Response {
    sign_out(st, staff, form, true).await
}

async fn sign_out(
    State(st): State<AppState>,
    staff: PartialStaff,
    Form(form): Form<CsrfForm>,
    everywhere: bool,
) -> Response {
    if !csrf_ok("session", &staff.secret, &form.csrf) {
        return forbidden_form();
    }
    let s = &staff.session;
    let ended = if everywhere {
        st.store
            .end_all_sessions(s.scope, s.user, Actor::Staff(s.user))
            .await
            .map(|_| ())
    } else {
        st.store.end_session(staff.tenant, &staff.secret).await
    };
    match ended {
        Ok(()) => signed_out(),
        Err(e) => {
            tracing::error!(error = ?e, "logout failed");
            unavailable()
        }
    }
}

// ----- the second factor -----

#[derive(Template)]
#[template(path = "dashboard/mfa.html")]
struct MfaPage<'a> {
    /// `verify`, `intro`, `setup` or `codes`.
    mode: &'static str,
    csrf: String,
    error: Option<&'a str>,
    required: bool,
    secret: String,
    uri: String,
    codes: Vec<Zeroizing<String>>,
}

impl<'a> MfaPage<'a> {
    fn new(mode: &'static str, staff: &PartialStaff) -> Self {
        Self {
            mode,
            csrf: staff.csrf(),
            error: None,
            required: staff.session.role.requires_mfa(),
            secret: String::new(),
            uri: String::new(),
            codes: Vec::new(),
        }
    }
}

/// `GET /dashboard/mfa`: the code form, or (not set up yet) the offer to set it up.
pub async fn mfa_page(staff: PartialStaff) -> Response {
    let s = &staff.session;
    if s.mfa_passed || (s.mfa_satisfied() && s.mfa_enrolled) {
        return Redirect::to("/dashboard").into_response();
    }
    let mode = if s.mfa_enrolled { "verify" } else { "intro" };
    page(StatusCode::OK, &MfaPage::new(mode, &staff))
}

/// `POST /dashboard/mfa/setup`: a new secret, shown once, to add to an authenticator app.
pub async fn mfa_setup(
    State(st): State<AppState>,
    staff: PartialStaff,
    Form(form): Form<CsrfForm>,
) -> Response {
    if !csrf_ok("session", &staff.secret, &form.csrf) {
        return forbidden_form();
    }
    let s = &staff.session;
    let secret = match st.store.begin_totp(s.scope, s.user).await {
        Ok(secret) => secret,
        Err(StoreError::Conflict(_)) => return Redirect::to("/dashboard/mfa").into_response(),
        Err(e) => {
            tracing::error!(error = ?e, "TOTP setup failed");
            return unavailable();
        }
    };
    let clinic = match st.store.clinic(s.scope).await {
        Ok(c) => c.profile.name,
        Err(_) => "frontdesk".to_owned(),
    };
    let b32 = Zeroizing::new(totp::base32(&secret));
    let grouped = b32
        .as_bytes()
        .chunks(4)
        .map(|c| String::from_utf8_lossy(c).into_owned())
        .collect::<Vec<_>>()
        .join(" ");
    let mut p = MfaPage::new("setup", &staff);
    p.secret = grouped;
    p.uri = totp::otpauth_uri(&secret, &format!("frontdesk {clinic}"), &s.name);
    page(StatusCode::OK, &p)
}

#[derive(serde::Deserialize)]
pub struct CodeForm {
    csrf: String,
    code: String,
}

/// `POST /dashboard/mfa/confirm`: the first code from the app turns two-step sign-in on and
/// shows the recovery codes, once.
pub async fn mfa_confirm(
    State(st): State<AppState>,
    staff: PartialStaff,
    Form(form): Form<CodeForm>,
) -> Response {
    if !csrf_ok("session", &staff.secret, &form.csrf) {
        return forbidden_form();
    }
    match st
        .store
        .confirm_totp(staff.tenant, &staff.secret, &form.code)
        .await
    {
        Ok(codes) => {
            let mut p = MfaPage::new("codes", &staff);
            p.codes = codes;
            page(StatusCode::OK, &p)
        }
        Err(StoreError::Unauthorized) => {
            let mut p = MfaPage::new("intro", &staff);
            p.error = Some(
                "That code did not match. Check that your phone's clock is right, then set up \
                 again (the app needs the new key).",
            );
            page(StatusCode::UNPROCESSABLE_ENTITY, &p)
        }
        Err(StoreError::Conflict(_) | StoreError::NotFound) => {
            Redirect::to("/dashboard/mfa").into_response()
        }
        Err(e) => {
            tracing::error!(error = ?e, "TOTP confirmation failed");
            unavailable()
        }
    }
}

/// `POST /dashboard/mfa/verify`: a code from the app, or a recovery code, for this session.
pub async fn mfa_verify(
    State(st): State<AppState>,
    staff: PartialStaff,
    Form(form): Form<CodeForm>,
) -> Response {
    if !csrf_ok("session", &staff.secret, &form.csrf) {
        return forbidden_form();
    }
    match st
        .store
        .verify_second_factor(staff.tenant, &staff.secret, &form.code)
        .await
    {
        Ok(()) => Redirect::to("/dashboard").into_response(),
        Err(StoreError::Unauthorized) => {
            metrics::counter!("frontdesk_login_failures_total", "reason" => "second_factor")
                .increment(1);
            let mut p = MfaPage::new("verify", &staff);
            p.error = Some("That code did not work. After five wrong codes you are signed out.");
            page(StatusCode::UNPROCESSABLE_ENTITY, &p)
        }
        Err(e) => {
            tracing::error!(error = ?e, "second factor check failed");
            unavailable()
        }
    }
}

/// `GET /static/dashboard.js`: live updates of the inbox and conversation pages.
pub async fn dashboard_js() -> Response {
    (
        [
            (header::CONTENT_TYPE, "text/javascript; charset=utf-8"),
            (header::CACHE_CONTROL, "public, max-age=300"),
        ],
        include_str!("../../static/dashboard.js"),
    )
        .into_response()
}

pub async fn dashboard_css() -> Response {
    (
        [
            (header::CONTENT_TYPE, "text/css; charset=utf-8"),
            (header::CACHE_CONTROL, "public, max-age=300"),
        ],
        include_str!("../../static/dashboard.css"),
    )
        .into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cookies_are_read_exactly_and_junk_is_ignored() {
        let mut h = HeaderMap::new();
        h.append(
            header::COOKIE,
            HeaderValue::from_static("a=1; __Host-fd_login=abc_-.9"),
        );
        h.append(
            header::COOKIE,
            HeaderValue::from_static("x=\"<script>\"; __Host-fd_session=t.s"),
        );
        assert_eq!(cookie(&h, LOGIN_COOKIE).as_deref(), Some("abc_-.9"));
        assert_eq!(cookie(&h, SESSION_COOKIE).as_deref(), Some("t.s"));
        assert_eq!(
            cookie(&h, "x"),
            None,
            "values outside base64url are refused"
        );
        assert_eq!(cookie(&h, "fd_login"), None, "names match exactly");
    }

    #[test]
    fn csrf_tokens_bind_purpose_and_secret() {
        let t = csrf_token("login", "secret-a");
        assert!(csrf_ok("login", "secret-a", &t));
        assert!(!csrf_ok("auth", "secret-a", &t));
        assert!(!csrf_ok("login", "secret-b", &t));
        assert!(!csrf_ok("login", "secret-a", ""));
    }

    #[test]
    fn set_cookie_has_every_flag() {
        let v = set_cookie(SESSION_COOKIE, "t.s", 60);
        let v = v.to_str().unwrap();
        for flag in [
            "__Host-fd_session=t.s",
            "Path=/",
            "Secure",
            "HttpOnly",
            "SameSite=Strict",
            "Max-Age=60",
        ] {
            assert!(v.contains(flag), "{v} lacks {flag}");
        }
        assert!(!v.contains("Domain"), "__Host- cookies carry no Domain");
    }

    #[test]
    fn tenant_and_secret_split_strictly() {
        let id = TenantId::new();
        assert_eq!(split_tenant_secret(&format!("{id}.abc")), Some((id, "abc")));
        assert_eq!(split_tenant_secret(&format!("{id}.")), None);
        assert_eq!(split_tenant_secret("nope.abc"), None);
        assert_eq!(split_tenant_secret("abc"), None);
    }
}
