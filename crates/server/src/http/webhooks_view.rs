//! Outbound webhooks in the dashboard (issue #10): the Owner (`ManageKeys`) connects an
//! HTTPS endpoint of the clinic's software to events, sees its signing secret once on the
//! page that made it, rotates the secret (the old one keeps signing beside the new during the
//! overlap), disables an endpoint, sends it a test event, and reads the delivery log. A URL
//! is checked against the deployment's address policy (no private, loopback, link-local or
//! metadata addresses unless `webhook_allowlist` says so) before it is stored, and again by
//! the delivery worker on every attempt.

use super::AppState;
use super::dashboard::{
    BAD_OVERLAP, Require, Staff, csrf_ok_for, form_field, overlap_hours, perm, plain as text,
    store_failed as unavailable,
};
use crate::outbound::{Destination, Envelope, EventData, WebhookClient, WebhookSecret};
use askama::Template;
use axum::{
    Form,
    extract::{Path, State},
    http::StatusCode,
    response::{IntoResponse, Redirect, Response},
};
use frontdesk_domain::WebhookEndpointId;
use frontdesk_store::{Actor, NewWebhookEndpoint, StoreError, WEBHOOK_EVENT_TYPES};

struct EndpointRow {
    id: String,
    host: String,
    url: String,
    events: String,
    active: bool,
    created: String,
    rotation: Option<String>,
}

struct DeliveryRow {
    event_type: String,
    host: String,
    status: &'static str,
    attempts: u32,
    last: String,
    created: String,
    next: String,
}

/// A secret just made or rotated: shown on this one page, then never again.
struct Shown {
    host: String,
    secret: String,
}

#[derive(Template)]
#[template(path = "dashboard/webhooks.html")]
struct WebhooksPage {
    endpoints: Vec<EndpointRow>,
    deliveries: Vec<DeliveryRow>,
    events: Vec<&'static str>,
    shown: Option<Shown>,
    csrf: String,
    error: Option<String>,
}

async fn render(
    st: &AppState,
    staff: &Staff,
    status: StatusCode,
    shown: Option<Shown>,
    error: Option<String>,
) -> Response {
    let scope = staff.session().scope;
    let (endpoints, log) = match (
        st.store.webhook_endpoints(scope).await,
        st.store.webhook_deliveries(scope, None, 50).await,
    ) {
        (Ok(e), Ok(l)) => (e, l),
        (Err(e), _) | (_, Err(e)) => return unavailable(&e),
    };
    let page = WebhooksPage {
        endpoints: endpoints
            .into_iter()
            .map(|e| EndpointRow {
                id: e.id.to_string(),
                host: e.host,
                url: e.url,
                events: e.events.join(", "),
                active: e.active,
                created: e.created_at.to_string(),
                rotation: e.previous_until.map(|t| t.to_string()),
            })
            .collect(),
        deliveries: log
            .into_iter()
            .map(|d| DeliveryRow {
                event_type: d.event_type,
                host: d.host,
                status: d.status.as_str(),
                attempts: d.attempts,
                last: match (d.last_status, d.last_error) {
                    (Some(s), Some(e)) => format!("HTTP {s} ({e})"),
                    (Some(s), None) => format!("HTTP {s}"),
                    (None, Some(e)) => e,
                    (None, None) => "-".to_owned(),
                },
                created: d.created_at.to_string(),
                next: match d.delivered_at {
                    Some(t) => format!("delivered {t}"),
                    None if d.status.as_str() == "pending" => {
                        format!("next try {}", d.next_attempt_at)
                    }
                    None => "-".to_owned(),
                },
            })
            .collect(),
        events: WEBHOOK_EVENT_TYPES.to_vec(),
        shown,
        csrf: staff.csrf(),
        error,
    };
    super::dashboard::page(status, &page)
}

fn client(st: &AppState) -> Option<WebhookClient> {
    WebhookClient::new(st.dashboard.webhook_policy.clone())
        .inspect_err(|e| tracing::error!(error = %e, "webhook client could not be built"))
        .ok()
}

/// `GET /dashboard/webhooks`.
pub async fn webhooks_page(
    State(st): State<AppState>,
    Require { staff, .. }: Require<perm::ManageKeys>,
) -> Response {
    render(&st, &staff, StatusCode::OK, None, None).await
}

/// `POST /dashboard/webhooks`: `csrf`, `url`, `event` (repeated).
pub async fn create(
    State(st): State<AppState>,
    Require { staff, .. }: Require<perm::ManageKeys>,
    Form(fields): Form<Vec<(String, String)>>,
) -> Response {
    if !csrf_ok_for(&staff, form_field(&fields, "csrf")) {
        return super::dashboard::form_expired();
    }
    let refuse = |msg: String| {
        render(
            &st,
            &staff,
            StatusCode::UNPROCESSABLE_ENTITY,
            None,
            Some(msg),
        )
    };
    let events: Vec<String> = fields
        .iter()
        .filter(|(k, _)| k == "event")
        .map(|(_, v)| v.clone())
        .collect();
    if events.is_empty() {
        return refuse("Choose at least one event.".into()).await;
    }
    let Ok(dest) = Destination::parse(form_field(&fields, "url")) else {
        return refuse("Write the full address, starting with https://.".into()).await;
    };
    let Some(client) = client(&st) else {
        return text(StatusCode::SERVICE_UNAVAILABLE, "Please try again shortly.");
    };
    if let Err(e) = client.check(&dest).await {
        return refuse(format!(
            "That address cannot be used ({e}). Endpoints must be public HTTPS addresses unless the server's webhook_allowlist permits the network."
        ))
        .await;
    }
    let secret = WebhookSecret::generate();
    let s = staff.session();
    let new = NewWebhookEndpoint {
        url: dest.url().to_string(),
        host: dest.host().to_owned(),
        events,
        secret: zeroize::Zeroizing::new(secret.expose().to_owned()),
    };
    match st
        .store
        .create_webhook_endpoint(s.scope, &new, Actor::Staff(s.user))
        .await
    {
        Ok(made) => {
            let shown = Shown {
                host: made.host,
                secret: secret.expose().to_owned(),
            };
            render(&st, &staff, StatusCode::OK, Some(shown), None).await
        }
        Err(StoreError::Invalid(d)) => refuse(format!("Not added: {d}.")).await,
        Err(e) => unavailable(&e),
    }
}

#[derive(serde::Deserialize)]
pub struct EndpointForm {
    csrf: String,
    #[serde(default)]
    overlap_hours: Option<String>,
}

fn endpoint_id(raw: &str) -> Option<WebhookEndpointId> {
    WebhookEndpointId::parse(raw).ok()
}

fn not_found() -> Response {
    text(StatusCode::NOT_FOUND, "No such endpoint.")
}

/// `POST /dashboard/webhooks/{id}/disable`.
pub async fn disable(
    State(st): State<AppState>,
    Require { staff, .. }: Require<perm::ManageKeys>,
    Path(raw): Path<String>,
    Form(f): Form<EndpointForm>,
) -> Response {
    if !csrf_ok_for(&staff, &f.csrf) {
        return super::dashboard::form_expired();
    }
    let Some(id) = endpoint_id(&raw) else {
        return not_found();
    };
    let s = staff.session();
    match st
        .store
        .disable_webhook_endpoint(s.scope, id, Actor::Staff(s.user))
        .await
    {
        Ok(_) => Redirect::to("/dashboard/webhooks").into_response(),
        Err(StoreError::NotFound) => not_found(),
        Err(e) => unavailable(&e),
    }
}

/// `POST /dashboard/webhooks/{id}/rotate`: a new secret, shown once; the old one keeps signing
/// beside it for `overlap_hours` (0 to 720, default 24).
pub async fn rotate(
    State(st): State<AppState>,
    Require { staff, .. }: Require<perm::ManageKeys>,
    Path(raw): Path<String>,
    Form(f): Form<EndpointForm>,
) -> Response {
    if !csrf_ok_for(&staff, &f.csrf) {
        return super::dashboard::form_expired();
    }
    let Some(id) = endpoint_id(&raw) else {
        return not_found();
    };
    let Some(hours) = overlap_hours(f.overlap_hours.as_deref()) else {
        let msg = BAD_OVERLAP.to_owned();
        return render(
            &st,
            &staff,
            StatusCode::UNPROCESSABLE_ENTITY,
            None,
            Some(msg),
        )
        .await;
    };
    let s = staff.session();
    let secret = WebhookSecret::generate();
    let overlap = jiff::SignedDuration::from_hours(i64::from(hours));
    let new = zeroize::Zeroizing::new(secret.expose().to_owned());
    match st
        .store
        .rotate_webhook_secret(s.scope, id, new, overlap, Actor::Staff(s.user))
        .await
    {
        Ok(()) => {
            let host = match st.store.webhook_endpoints(s.scope).await {
                Ok(list) => list
                    .into_iter()
                    .find(|e| e.id == id)
                    .map(|e| e.host)
                    .unwrap_or_default(),
                Err(e) => return unavailable(&e),
            };
            let shown = Shown {
                host,
                secret: secret.expose().to_owned(),
            };
            render(&st, &staff, StatusCode::OK, Some(shown), None).await
        }
        Err(StoreError::NotFound) => not_found(),
        Err(StoreError::Conflict(m)) => {
            render(
                &st,
                &staff,
                StatusCode::CONFLICT,
                None,
                Some(format!("Not rotated: {m}.")),
            )
            .await
        }
        Err(e) => unavailable(&e),
    }
}

/// `POST /dashboard/webhooks/{id}/test`: queues a signed `ping` for this endpoint; the
/// delivery log shows how it went.
pub async fn send_test(
    State(st): State<AppState>,
    Require { staff, .. }: Require<perm::ManageKeys>,
    Path(raw): Path<String>,
    Form(f): Form<EndpointForm>,
) -> Response {
    if !csrf_ok_for(&staff, &f.csrf) {
        return super::dashboard::form_expired();
    }
    let Some(id) = endpoint_id(&raw) else {
        return not_found();
    };
    let s = staff.session();
    let slug = match st.store.clinic(s.scope).await {
        Ok(c) => c.slug,
        Err(e) => return unavailable(&e),
    };
    let Ok(envelope) = Envelope::new(slug, EventData::Ping, st.clock.now()) else {
        return text(
            StatusCode::INTERNAL_SERVER_ERROR,
            "Something went wrong on our side.",
        );
    };
    let Ok(body) = envelope.to_body() else {
        return text(
            StatusCode::INTERNAL_SERVER_ERROR,
            "Something went wrong on our side.",
        );
    };
    match st
        .store
        .enqueue_webhook_test(s.scope, id, &envelope.id().to_string(), &body)
        .await
    {
        Ok(_) => {
            st.channels.wake.notify_one();
            Redirect::to("/dashboard/webhooks").into_response()
        }
        Err(StoreError::NotFound) => not_found(),
        Err(StoreError::Conflict(m)) => {
            render(
                &st,
                &staff,
                StatusCode::CONFLICT,
                None,
                Some(format!("Not sent: {m}.")),
            )
            .await
        }
        Err(e) => unavailable(&e),
    }
}
