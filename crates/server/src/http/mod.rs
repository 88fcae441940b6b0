//! The HTTP surface: routes, shared state and the middleware every request goes through
//! (request id, tracing span without personal data, metrics by route, security headers,
//! timeout).

mod analytics_view;
pub mod api;
mod api_keys_view;
mod audit_view;
mod calendar;
mod channels_view;
pub mod client_ip;
pub mod dashboard;
mod diary_view;
pub mod error;
mod fhir;
mod inbox_view;
mod llm_view;
pub mod openapi;
mod pages;
mod patients_view;
mod payments;
pub mod playback;
mod schedule_view;
mod security_view;
mod settings_view;
mod users_view;
mod voice;
mod webchat;
pub mod webhooks;
mod webhooks_view;

use axum::{
    Router,
    extract::{MatchedPath, Request, State},
    http::{HeaderName, HeaderValue, StatusCode, header},
    middleware::{self, Next},
    response::{IntoResponse, Response},
    routing::{get, post},
};
use frontdesk_domain::Clock;
use frontdesk_store::Store;
use metrics_exporter_prometheus::PrometheusHandle;
use std::{sync::Arc, time::Duration, time::Instant};
use tower_http::{
    request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer},
    set_header::SetResponseHeaderLayer,
    timeout::TimeoutLayer,
    trace::TraceLayer,
};

/// Everything handlers share. Cheap to clone.
#[derive(Clone)]
pub struct AppState {
    pub store: Arc<dyn Store>,
    pub clock: Arc<dyn Clock>,
    pub webchat_ttl: jiff::SignedDuration,
    pub metrics: Option<&'static PrometheusHandle>,
    pub channels: Arc<ChannelHub>,
    /// The staff dashboard's mailer and policies.
    pub dashboard: Arc<dashboard::Dashboard>,
}

/// What the provider webhooks share with the workers.
#[derive(Debug, Default)]
pub struct ChannelHub {
    /// The public base URL (Twilio signs the full URL it called); `None`: from the Host header.
    pub public_base: Option<String>,
    /// Woken when a webhook queued work, so replies do not wait for the next poll.
    pub wake: Arc<tokio::sync::Notify>,
    /// Demo only: the file where `/dev/provider/…` records what would have been sent.
    pub dev_outbox: Option<std::path::PathBuf>,
    /// The clinics' language models, cached per clinic (web chat and, shared, the workers).
    pub models: Arc<crate::llm::settings::ModelDirectory>,
    /// The payment providers' clients (M-Pesa callbacks confirm with Daraja's STK query);
    /// `None`: callbacks are trusted on their secret alone.
    pub payments: Option<Arc<crate::payments::PaymentClients>>,
}

const REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

/// Strict CSP: our own scripts and styles only, no inline code, no framing.
pub const CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; \
                       connect-src 'self'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'";

pub fn router(state: AppState) -> Router {
    let security_headers: [(HeaderName, &'static str); 6] = [
        (header::CONTENT_SECURITY_POLICY, CSP),
        (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
        (header::REFERRER_POLICY, "no-referrer"),
        (header::X_FRAME_OPTIONS, "DENY"),
        (
            header::STRICT_TRANSPORT_SECURITY,
            "max-age=63072000; includeSubDomains",
        ),
        (
            HeaderName::from_static("permissions-policy"),
            "camera=(), microphone=(), geolocation=()",
        ),
    ];
    let mut app = Router::new()
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
        .route("/metrics", get(metrics_text))
        .route(
            "/v1/webchat/{tenant_slug}/sessions",
            post(webchat::create_session),
        )
        .route(
            "/v1/webchat/{tenant_slug}/messages",
            get(webchat::history).post(webchat::post_message),
        )
        .route(
            "/webhooks/whatsapp",
            get(webhooks::whatsapp_verify).post(webhooks::whatsapp_events),
        )
        .route("/webhooks/twilio/sms", post(webhooks::twilio_sms))
        .route(
            crate::channels::voice::VOICE_PATH,
            post(voice::twilio_voice),
        )
        .route(
            "/webhooks/twilio/voice/status",
            post(voice::twilio_voice_status),
        )
        .route(
            crate::recordings::RECORDING_PATH,
            post(voice::twilio_voice_recording),
        )
        .route(
            "/webhooks/africastalking/{address}/{token}",
            post(webhooks::africastalking_sms),
        )
        .route(
            "/webhooks/stripe/{tenant_slug}",
            post(payments::stripe_events),
        )
        .route(
            "/webhooks/mpesa/{tenant_slug}/{id}/{token}",
            post(payments::mpesa_callback),
        )
        .route("/webhooks/calcom/{tenant_slug}", post(webhooks::calcom))
        .route("/dev/provider/{*rest}", post(webhooks::dev_provider))
        .route("/v1/openapi.json", get(openapi::openapi_json))
        .route("/v1/practitioners", get(api::practitioners))
        .route("/v1/services", get(api::services))
        .route("/v1/availability", get(api::availability))
        .route("/v1/appointments", get(api::appointments).post(api::book))
        .route("/v1/appointments/{id}", get(api::appointment))
        .route("/v1/appointments/{id}/cancel", post(api::cancel))
        .route("/v1/patients/{id}", get(api::patient))
        .route("/v1/conversations/{id}", get(api::conversation))
        .route(
            "/v1/conversations/{id}/messages",
            get(api::messages).post(api::send_message),
        )
        .route("/v1/data-requests", get(api::data_requests))
        .route("/chat/{tenant_slug}", get(pages::chat_page))
        .route("/widget/{tenant_slug}", get(pages::widget_page))
        .route("/widget.js", get(pages::widget_js))
        .route("/static/webchat.js", get(pages::webchat_js))
        .route("/static/webchat.css", get(pages::webchat_css))
        .route("/static/dashboard.css", get(dashboard::dashboard_css))
        .route("/dashboard", get(dashboard::home))
        .route(
            "/dashboard/login",
            get(dashboard::login_page).post(dashboard::login_submit),
        )
        .route(
            "/dashboard/auth",
            get(dashboard::auth_page).post(dashboard::auth_submit),
        )
        .route("/dashboard/logout", post(dashboard::logout))
        .route("/dashboard/mfa", get(dashboard::mfa_page))
        .route("/dashboard/audit", get(audit_view::audit_page))
        .route("/dashboard/security", get(security_view::security_page))
        .route(
            "/dashboard/security/{id}/acknowledge",
            post(security_view::acknowledge),
        )
        .route(
            "/dashboard/users",
            get(users_view::users_page).post(users_view::invite),
        )
        .route("/dashboard/users/{id}/role", post(users_view::set_role))
        .route("/dashboard/users/{id}/active", post(users_view::set_active))
        .route(
            "/dashboard/users/{id}/practitioner",
            post(users_view::set_practitioner),
        )
        .route("/dashboard/settings", get(settings_view::settings_page))
        .route(
            "/dashboard/settings/profile",
            post(settings_view::save_profile),
        )
        .route("/dashboard/settings/faq", post(settings_view::add_faq))
        .route(
            "/dashboard/settings/red-flags",
            post(settings_view::add_red_flag),
        )
        .route(
            "/dashboard/settings/retention",
            post(settings_view::save_retention),
        )
        .route("/dashboard/settings/ai", post(settings_view::set_ai_paused))
        .route("/fhir/r4/metadata", get(fhir::metadata))
        .route("/fhir/r4/Practitioner", get(fhir::practitioners))
        .route("/fhir/r4/Practitioner/{id}", get(fhir::practitioner))
        .route("/fhir/r4/HealthcareService", get(fhir::services))
        .route("/fhir/r4/HealthcareService/{id}", get(fhir::service))
        .route("/fhir/r4/Schedule", get(fhir::schedules))
        .route("/fhir/r4/Schedule/{id}", get(fhir::schedule))
        .route("/fhir/r4/Slot", get(fhir::slots))
        .route("/fhir/r4/Appointment", get(fhir::appointments))
        .route("/fhir/r4/Appointment/{id}", get(fhir::appointment))
        .route("/fhir/r4/Patient/{id}", get(fhir::patient))
        .route("/calendar/{file}", get(calendar::feed))
        .route(
            "/dashboard/calendar-feeds",
            get(calendar::feeds_page).post(calendar::create),
        )
        .route(
            "/dashboard/calendar-feeds/{id}/revoke",
            post(calendar::revoke),
        )
        .route("/dashboard/schedule", get(schedule_view::schedule_page))
        .route(
            "/dashboard/schedule/practitioners",
            post(schedule_view::add_practitioner),
        )
        .route(
            "/dashboard/schedule/practitioners/{id}/hours",
            post(schedule_view::set_hours),
        )
        .route(
            "/dashboard/schedule/services",
            post(schedule_view::add_service),
        )
        .route("/dashboard/channels", get(channels_view::channels_page))
        .route(
            "/dashboard/api-keys",
            get(api_keys_view::keys_page).post(api_keys_view::create),
        )
        .route(
            "/dashboard/api-keys/revoke-all",
            post(api_keys_view::revoke_all),
        )
        .route(
            "/dashboard/api-keys/{id}/revoke",
            post(api_keys_view::revoke),
        )
        .route(
            "/dashboard/api-keys/{id}/rotate",
            post(api_keys_view::rotate),
        )
        .route(
            "/dashboard/llm",
            get(llm_view::llm_page).post(llm_view::save),
        )
        .route("/dashboard/llm/disable", post(llm_view::disable))
        .route(
            "/dashboard/webhooks",
            get(webhooks_view::webhooks_page).post(webhooks_view::create),
        )
        .route(
            "/dashboard/webhooks/{id}/disable",
            post(webhooks_view::disable),
        )
        .route(
            "/dashboard/webhooks/{id}/rotate",
            post(webhooks_view::rotate),
        )
        .route(
            "/dashboard/webhooks/{id}/test",
            post(webhooks_view::send_test),
        )
        .route(
            "/dashboard/channels/{provider}",
            post(channels_view::save_channel),
        )
        .route("/dashboard/patients", get(patients_view::patients_page))
        .route("/dashboard/patients/{id}", get(patients_view::patient_page))
        .route(
            "/dashboard/patients/{id}/export",
            get(patients_view::export),
        )
        .route("/dashboard/patients/{id}/erase", post(patients_view::erase))
        .route("/dashboard/diary", get(diary_view::diary_page))
        .route("/dashboard/analytics", get(analytics_view::analytics_page))
        .route("/dashboard/appointments", post(diary_view::book))
        .route(
            "/dashboard/appointments/{id}/cancel",
            post(diary_view::cancel),
        )
        .route(
            "/dashboard/appointments/{id}/move",
            post(diary_view::move_to),
        )
        .route("/dashboard/inbox", get(inbox_view::inbox_page))
        .route("/dashboard/inbox/live", get(inbox_view::inbox_live))
        .route(
            "/dashboard/conversations/{id}/live",
            get(inbox_view::conversation_live_events),
        )
        .route("/static/dashboard.js", get(dashboard::dashboard_js))
        .route(
            "/dashboard/conversations/{id}",
            get(inbox_view::conversation_page),
        )
        .route(
            "/dashboard/conversations/{id}/takeover",
            post(inbox_view::take_over),
        )
        .route(
            "/dashboard/conversations/{id}/release",
            post(inbox_view::release),
        )
        .route(
            "/dashboard/conversations/{id}/reply",
            post(inbox_view::reply),
        )
        .route(
            "/dashboard/conversations/{id}/assign",
            post(inbox_view::assign),
        )
        .route(
            "/dashboard/conversations/{id}/drafts",
            post(inbox_view::write_draft),
        )
        .route(
            "/dashboard/conversations/{id}/drafts/{draft}/send",
            post(inbox_view::send_draft),
        )
        .route(
            "/dashboard/conversations/{id}/drafts/{draft}/discard",
            post(inbox_view::discard_draft),
        )
        .route("/dashboard/recordings/{id}", get(playback::recording_page))
        .route(
            "/dashboard/recordings/{id}/audio",
            get(playback::recording_audio),
        )
        .route("/dashboard/mfa/setup", post(dashboard::mfa_setup))
        .route("/dashboard/mfa/confirm", post(dashboard::mfa_confirm))
        .route("/dashboard/mfa/verify", post(dashboard::mfa_verify))
        .route(
            "/dashboard/logout-everywhere",
            post(dashboard::logout_everywhere),
        )
        .fallback(fallback)
        .method_not_allowed_fallback(method_not_allowed)
        .route_layer(middleware::from_fn(record_route))
        .with_state(state)
        // Innermost: the timeout, so its answer still gets the error shape and headers below.
        .layer(TimeoutLayer::with_status_code(
            StatusCode::SERVICE_UNAVAILABLE,
            Duration::from_secs(30),
        ))
        .layer(middleware::from_fn(request_id_in_errors));
    for (name, value) in security_headers {
        app = app.layer(SetResponseHeaderLayer::if_not_present(
            name,
            HeaderValue::from_static(value),
        ));
    }
    // Outside the header layers: X-Frame-Options only backs up `frame-ancestors 'none'` for
    // old browsers; a page whose CSP lets some origins frame it (the widget) must not carry it.
    app = app.layer(middleware::map_response(drop_frame_options_when_embeddable));
    app.layer(PropagateRequestIdLayer::new(REQUEST_ID))
        .layer(TraceLayer::new_for_http().make_span_with(|req: &Request| {
            // Only the method and request id here; the route template is recorded after
            // routing. Never the URI (it may carry query strings) nor any header.
            let request_id = req.headers().get(&REQUEST_ID).and_then(|v| v.to_str().ok()).unwrap_or("-");
            tracing::info_span!("request", method = %req.method(), request_id, route = tracing::field::Empty)
        }))
        .layer(SetRequestIdLayer::new(REQUEST_ID, MakeRequestUuid))
        .layer(middleware::map_request(sanitize_request_id))
}

async fn drop_frame_options_when_embeddable(mut resp: Response) -> Response {
    let embeddable = resp
        .headers()
        .get(header::CONTENT_SECURITY_POLICY)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|csp| !csp.contains("frame-ancestors 'none'"));
    if embeddable {
        resp.headers_mut().remove(header::X_FRAME_OPTIONS);
    }
    resp
}

/// A request id from a client or proxy is kept only if it is short and plain (it is logged and
/// echoed); anything else is dropped and replaced by our own.
async fn sanitize_request_id(mut req: Request) -> Request {
    let acceptable = req.headers().get(&REQUEST_ID).is_none_or(|v| {
        let b = v.as_bytes();
        !b.is_empty()
            && b.len() <= 64
            && b.iter()
                .all(|c| c.is_ascii_alphanumeric() || b"-_.".contains(c))
    });
    if !acceptable {
        req.headers_mut().remove(&REQUEST_ID);
    }
    req
}

/// Adds `request_id` to every JSON error body, so a clinic can quote it to support.
async fn request_id_in_errors(req: Request, next: Next) -> Response {
    let id = req.headers().get(&REQUEST_ID).cloned();
    let resp = next.run(req).await;
    let is_json = resp
        .headers()
        .get(header::CONTENT_TYPE)
        .is_some_and(|v| v.as_bytes().starts_with(b"application/json"));
    let Some(id) = id.filter(|_| {
        is_json && (resp.status().is_client_error() || resp.status().is_server_error())
    }) else {
        return resp;
    };
    let (mut parts, body) = resp.into_parts();
    let Ok(bytes) = axum::body::to_bytes(body, 64 * 1024).await else {
        return error::AppError::client(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal",
            "Something went wrong on our side.",
        )
        .into_response();
    };
    let mut value: serde_json::Value =
        serde_json::from_slice(&bytes).unwrap_or(serde_json::Value::Null);
    if let (Some(err), Ok(id)) = (
        value.get_mut("error").and_then(|e| e.as_object_mut()),
        id.to_str(),
    ) {
        err.insert(
            "request_id".into(),
            serde_json::Value::String(id.to_owned()),
        );
        let body = value.to_string();
        parts.headers.remove(header::CONTENT_LENGTH);
        return Response::from_parts(parts, axum::body::Body::from(body));
    }
    Response::from_parts(parts, axum::body::Body::from(bytes))
}

async fn method_not_allowed() -> Response {
    error::AppError::client(
        StatusCode::METHOD_NOT_ALLOWED,
        "method_not_allowed",
        "This method is not allowed here.",
    )
    .into_response()
}

/// Records the matched route template on the request span and in the metrics.
async fn record_route(req: Request, next: Next) -> Response {
    let route = req
        .extensions()
        .get::<MatchedPath>()
        .map(|p| p.as_str().to_owned())
        .unwrap_or_else(|| "unmatched".into());
    let method = req.method().as_str().to_owned();
    tracing::Span::current().record("route", route.as_str());
    let started = Instant::now();
    let resp = next.run(req).await;
    let status = resp.status().as_u16().to_string();
    metrics::counter!("http_requests_total", "route" => route.clone(), "method" => method.clone(), "status" => status).increment(1);
    metrics::histogram!("http_request_duration_seconds", "route" => route, "method" => method)
        .record(started.elapsed().as_secs_f64());
    resp
}

async fn fallback() -> Response {
    error::AppError::client(StatusCode::NOT_FOUND, "not_found", "No such page.").into_response()
}

/// Liveness: the process is up and serving.
async fn healthz() -> &'static str {
    "ok"
}

/// Readiness: the database answers. 503 otherwise, so a load balancer routes elsewhere.
async fn readyz(State(st): State<AppState>) -> Response {
    match st.store.ping().await {
        Ok(()) => (StatusCode::OK, "ready").into_response(),
        Err(e) => {
            tracing::warn!(error = ?e, "readiness check failed");
            (StatusCode::SERVICE_UNAVAILABLE, "database unavailable").into_response()
        }
    }
}

async fn metrics_text(State(st): State<AppState>) -> Response {
    match st.metrics {
        Some(h) => (
            [(header::CONTENT_TYPE, "text/plain; version=0.0.4")],
            h.render(),
        )
            .into_response(),
        None => (
            StatusCode::SERVICE_UNAVAILABLE,
            "metrics recorder unavailable",
        )
            .into_response(),
    }
}
