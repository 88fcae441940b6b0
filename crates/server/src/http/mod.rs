//! The HTTP surface: routes, shared state and the middleware every request goes through
//! (request id, tracing span without personal data, metrics by route, security headers,
//! timeout).

pub mod error;
mod pages;
mod webchat;

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
            post(webchat::post_message),
        )
        .route("/chat/{tenant_slug}", get(pages::chat_page))
        .route("/static/webchat.js", get(pages::webchat_js))
        .route("/static/webchat.css", get(pages::webchat_css))
        .fallback(fallback)
        .route_layer(middleware::from_fn(record_route))
        .with_state(state);
    for (name, value) in security_headers {
        app = app.layer(SetResponseHeaderLayer::if_not_present(
            name,
            HeaderValue::from_static(value),
        ));
    }
    app.layer(TimeoutLayer::with_status_code(StatusCode::SERVICE_UNAVAILABLE, Duration::from_secs(30)))
        .layer(PropagateRequestIdLayer::new(REQUEST_ID))
        .layer(TraceLayer::new_for_http().make_span_with(|req: &Request| {
            // Only the method and request id here; the route template is recorded after
            // routing. Never the URI (it may carry query strings) nor any header.
            let request_id = req.headers().get(&REQUEST_ID).and_then(|v| v.to_str().ok()).unwrap_or("-");
            tracing::info_span!("request", method = %req.method(), request_id, route = tracing::field::Empty)
        }))
        .layer(SetRequestIdLayer::new(REQUEST_ID, MakeRequestUuid))
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
