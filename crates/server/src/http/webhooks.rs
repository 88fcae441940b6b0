//! Provider webhooks: the inbound half of the messaging pipeline (DESIGN.md §3).
//!
//! - `GET  /webhooks/whatsapp` — Meta's subscription handshake (403 and no echo on a wrong token).
//! - `POST /webhooks/whatsapp` — messages and status updates, `X-Hub-Signature-256`.
//! - `POST /webhooks/twilio/sms` — inbound SMS and status callbacks, `X-Twilio-Signature`.
//!   (Phone calls use the same check: see `voice.rs`.)
//! - `POST /webhooks/africastalking/{address}/{token}` — inbound SMS and delivery reports
//!   (Africa's Talking does not sign callbacks: the per-clinic secret token in the path stands in).
//!
//! Order of checks, so that nothing is stored from a request we cannot trust: body size (413)
//! → signature header present (401) → parse (400) → route the provider address to a clinic
//! (404) → verify the signature with that clinic's secret (401) → one transaction per message
//! (patient, conversation, message, job, audit) → 200. A redelivery is a 200 no-op. A database
//! outage answers 503 so the provider retries later.

use super::{AppState, error::AppError};
use crate::channels::{InboundEvent, Keyword, africastalking, sms_keyword, twilio, whatsapp};
use axum::{
    body::{Body, Bytes},
    extract::{Path, Query, State},
    http::{HeaderMap, StatusCode, header},
    response::{IntoResponse, Response},
};
use frontdesk_domain::E164Phone;
use frontdesk_store::{
    Channel, ChannelAccount, ConsentChange, InboundDelivery, OutboxPurpose, Provider, StoreError,
    TenantScope,
};
use std::collections::HashMap;

/// Providers' payloads are small; anything bigger is refused unread.
pub const MAX_WEBHOOK_BYTES: usize = 256 * 1024;

pub(super) async fn read_body(body: Body) -> Result<Bytes, AppError> {
    axum::body::to_bytes(body, MAX_WEBHOOK_BYTES)
        .await
        .map_err(|_| {
            AppError::client(
                StatusCode::PAYLOAD_TOO_LARGE,
                "payload_too_large",
                "The request body is too large.",
            )
        })
}

fn bad_signature() -> AppError {
    AppError::client(
        StatusCode::UNAUTHORIZED,
        "invalid_signature",
        "The request signature is missing or wrong.",
    )
}

/// A request without the provider's signature header: it names no clinic we could trust, so
/// it is the operator's business alone (a metric and a log line; the operator's alert rule
/// watches the rate, see deploy/prometheus-alerts.yml).
fn unsigned(provider: Provider) -> AppError {
    metrics::counter!("frontdesk_webhook_signature_failures_total", "provider" => provider.as_str(), "clinic" => "none")
        .increment(1);
    tracing::warn!(
        provider = provider.as_str(),
        "webhook without a signature refused"
    );
    bad_signature()
}

/// A signature that did not verify with the secrets of the clinic the request was routed
/// to: counted toward that clinic's signature-failures alert (see
/// [`frontdesk_store::SIGNATURE_FAILURES`]) as well as the operator's metric.
async fn signature_failed(st: &AppState, account: &ChannelAccount) -> AppError {
    let provider = account.provider.as_str();
    metrics::counter!("frontdesk_webhook_signature_failures_total", "provider" => provider, "clinic" => "routed")
        .increment(1);
    tracing::warn!(provider, "webhook with a wrong signature refused");
    if let Err(e) = st.store.record_signature_failure(account).await {
        tracing::warn!(error = %e, "signature failure not counted toward the clinic's alert");
    }
    bad_signature()
}

pub(super) fn malformed() -> AppError {
    AppError::client(
        StatusCode::BAD_REQUEST,
        "malformed_payload",
        "The payload could not be read.",
    )
}

fn unknown_channel() -> AppError {
    AppError::client(
        StatusCode::NOT_FOUND,
        "unknown_channel",
        "No clinic uses this channel address.",
    )
}

async fn route(
    st: &AppState,
    provider: Provider,
    address: &str,
) -> Result<ChannelAccount, AppError> {
    st.store
        .route_channel(provider, address)
        .await
        .map_err(|e| match e {
            StoreError::NotFound => unknown_channel(),
            other => other.into(),
        })
}

pub async fn whatsapp_verify(
    State(st): State<AppState>,
    Query(q): Query<HashMap<String, String>>,
) -> Result<Response, AppError> {
    let get = |k: &str| q.get(k).map(String::as_str);
    // The handshake names no clinic: any clinic's verify token may answer it (constant time
    // each; setup is rare, so trying every WhatsApp clinic is fine).
    for address in st.store.channel_addresses(Provider::Whatsapp).await? {
        let Ok(account) = st.store.route_channel(Provider::Whatsapp, &address).await else {
            continue;
        };
        for expected in account.secrets.accepted("verify_token", st.clock.now()) {
            if let Some(challenge) = whatsapp::verify_handshake(
                get("hub.mode"),
                get("hub.verify_token"),
                get("hub.challenge"),
                expected,
            ) {
                return Ok(([(header::CONTENT_TYPE, "text/plain")], challenge).into_response());
            }
        }
    }
    Err(AppError::client(
        StatusCode::FORBIDDEN,
        "verification_failed",
        "The verify token does not match.",
    ))
}

pub async fn whatsapp_events(
    State(st): State<AppState>,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, AppError> {
    let raw = read_body(body).await?;
    let signature = headers
        .get("x-hub-signature-256")
        .and_then(|v| v.to_str().ok())
        .ok_or_else(|| unsigned(Provider::Whatsapp))?;
    let events = whatsapp::parse_webhook(&raw).map_err(|_| malformed())?;
    // Verify every clinic the payload names before storing anything for any of them.
    let mut accounts: HashMap<String, ChannelAccount> = HashMap::new();
    for to in events.iter().map(event_address) {
        if !accounts.contains_key(to) {
            let account = route(&st, Provider::Whatsapp, to).await?;
            let verified = account
                .secrets
                .accepted("app_secret", st.clock.now())
                .iter()
                .any(|secret| whatsapp::verify_signature(secret.as_bytes(), &raw, Some(signature)));
            if !verified {
                return Err(signature_failed(&st, &account).await);
            }
            accounts.insert(to.to_owned(), account);
        }
    }
    for event in events {
        let Some(account) = accounts.get(event_address(&event)) else {
            continue;
        };
        handle_event(&st, account.verified_scope(), Channel::Whatsapp, event).await?;
    }
    Ok(StatusCode::OK.into_response())
}

fn event_address(e: &InboundEvent) -> &str {
    match e {
        InboundEvent::Message(m) => &m.to,
        InboundEvent::Unsupported { to, .. } => to,
        InboundEvent::Status(s) => &s.to,
    }
}

pub async fn twilio_sms(
    State(st): State<AppState>,
    headers: HeaderMap,
    uri: axum::http::Uri,
    body: Body,
) -> Result<Response, AppError> {
    let raw = read_body(body).await?;
    // Our side of the exchange: the Messaging Service if one is used, else our number, which
    // is `To` on an inbound SMS and `From` on a status callback for a message we sent.
    let (account, params) = verified_twilio(&st, &headers, &uri, &raw, |param| {
        let is_status = param("MessageStatus").is_some() && param("Body").is_none();
        param("MessagingServiceSid").or_else(|| {
            if is_status {
                param("From")
            } else {
                param("To")
            }
        })
    })
    .await?;
    let event = twilio::parse_inbound(&params).map_err(|_| malformed())?;
    handle_event(&st, account.verified_scope(), Channel::Sms, event).await?;
    Ok((
        [(header::CONTENT_TYPE, "text/xml")],
        twilio::twiml_message(None),
    )
        .into_response())
}

/// A form parameter's value, if present.
pub(super) fn form_param(params: &[(String, String)], name: &str) -> Option<String> {
    params
        .iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.clone())
}

/// Where providers reach us: the configured public URL, else `http://` + the Host header.
pub(super) fn public_base(st: &AppState, headers: &HeaderMap) -> String {
    match &st.channels.public_base {
        Some(b) => b.clone(),
        None => {
            let host = headers
                .get(header::HOST)
                .and_then(|h| h.to_str().ok())
                .unwrap_or_default();
            format!("http://{host}")
        }
    }
}

/// Reads a Twilio form webhook, routes it to the clinic whose Twilio address `ours` names, and
/// checks `X-Twilio-Signature` with that clinic's auth token over the public URL Twilio
/// requested. Nothing is stored before this returns.
pub(super) async fn verified_twilio(
    st: &AppState,
    headers: &HeaderMap,
    uri: &axum::http::Uri,
    raw: &[u8],
    ours: impl FnOnce(&dyn Fn(&str) -> Option<String>) -> Option<String>,
) -> Result<(ChannelAccount, Vec<(String, String)>), AppError> {
    let signature = headers
        .get("x-twilio-signature")
        .and_then(|v| v.to_str().ok())
        .ok_or_else(|| unsigned(Provider::Twilio))?;
    let params: Vec<(String, String)> =
        serde_urlencoded::from_bytes(raw).map_err(|_| malformed())?;
    let to = ours(&|name: &str| form_param(&params, name)).ok_or_else(malformed)?;
    let account = route(st, Provider::Twilio, &to).await?;
    let base = public_base(st, headers);
    let url = format!(
        "{base}{}",
        uri.path_and_query().map(|p| p.as_str()).unwrap_or("/")
    );
    let verified = account
        .secrets
        .accepted("auth_token", st.clock.now())
        .iter()
        .any(|token| twilio::verify_signature(token.as_bytes(), &url, &params, Some(signature)));
    if !verified {
        return Err(signature_failed(st, &account).await);
    }
    Ok((account, params))
}

pub async fn africastalking_sms(
    State(st): State<AppState>,
    Path((address, token)): Path<(String, String)>,
    body: Body,
) -> Result<Response, AppError> {
    let raw = read_body(body).await?;
    let account = route(&st, Provider::AfricasTalking, &address).await?;
    let verified = account
        .secrets
        .accepted("callback_token", st.clock.now())
        .iter()
        .any(|expected| africastalking::verify_callback_token(expected.as_bytes(), &token));
    if !verified {
        return Err(signature_failed(&st, &account).await);
    }
    let params: Vec<(String, String)> =
        serde_urlencoded::from_bytes(&raw).map_err(|_| malformed())?;
    let event = africastalking::parse_inbound(&params).map_err(|_| malformed())?;
    handle_event(&st, account.verified_scope(), Channel::Sms, event).await?;
    Ok(StatusCode::OK.into_response())
}

/// Stores one verified event. Messages become an inbound delivery (with consent keywords
/// handled on the spot); status reports move the sent message's status forward.
async fn handle_event(
    st: &AppState,
    scope: TenantScope,
    channel: Channel,
    event: InboundEvent,
) -> Result<(), AppError> {
    let (id, from, text) = match event {
        InboundEvent::Status(s) => {
            let status = s.status.as_str();
            st.store
                .delivery_status(
                    scope,
                    channel,
                    &s.provider_message_id,
                    status,
                    s.error_code.as_deref(),
                )
                .await?;
            return Ok(());
        }
        InboundEvent::Message(m) => (m.provider_message_id, m.from, Some(m.text)),
        InboundEvent::Unsupported {
            provider_message_id,
            from,
            ..
        } => (provider_message_id, from, None),
    };
    let digits = from.trim_start_matches('+');
    let Ok(from) = E164Phone::parse(&format!("+{digits}")) else {
        // A sender we cannot address (short codes, alphanumeric ids): nothing to answer.
        tracing::warn!(
            channel = channel.as_str(),
            "inbound message from an unusable sender dropped"
        );
        return Ok(());
    };
    let delivery = delivery_for(st, scope, channel, id, from, text).await?;
    // Two copies of a first message can race to create the patient; the loser tries again
    // and then finds the message stored.
    for attempt in 0..3 {
        match st.store.ingest_inbound(scope, &delivery).await {
            Ok(_) => {
                st.channels.wake.notify_one();
                metrics::counter!("frontdesk_messages_total", "channel" => channel.as_str(), "direction" => "inbound")
                    .increment(1);
                return Ok(());
            }
            Err(StoreError::Duplicate) => return Ok(()),
            Err(StoreError::Conflict(_)) if attempt < 2 => continue,
            Err(e) => return Err(e.into()),
        }
    }
    Ok(())
}

async fn delivery_for(
    st: &AppState,
    scope: TenantScope,
    channel: Channel,
    provider_message_id: String,
    from: E164Phone,
    text: Option<String>,
) -> Result<InboundDelivery, AppError> {
    let mut d = InboundDelivery {
        channel,
        from,
        provider_message_id,
        body: text
            .clone()
            .unwrap_or_else(|| "[attachment not shown]".to_owned()),
        consent: None,
        auto_reply: None,
        run_agent: true,
    };
    let Some(text) = text else {
        d.run_agent = false;
        d.auto_reply = Some((
            "Sorry, I can only read text messages. Please type your question.".to_owned(),
            OutboxPurpose::Notice,
        ));
        return Ok(d);
    };
    let consent = st.store.consent(scope, channel, &d.from).await?;
    let opted_out = consent.as_ref().is_some_and(|c| !c.opted_in);
    let keyword = sms_keyword(&text);
    match keyword {
        Some(Keyword::Stop) => {
            d.run_agent = false;
            d.consent = Some((
                ConsentChange::OptOut,
                format!("{}:keyword", channel.as_str()),
            ));
            let clinic = st.store.clinic(scope).await?;
            d.auto_reply = Some((
                format!(
                    "You will get no more messages from {} on this number. Reply START to undo.",
                    clinic.profile.name
                ),
                OutboxPurpose::OptoutConfirmation,
            ));
        }
        // "Yes" is also an answer to a question: it is only a keyword for someone opted out.
        Some(Keyword::Start) if opted_out => {
            d.run_agent = false;
            d.consent = Some((
                ConsentChange::OptIn,
                format!("{}:keyword", channel.as_str()),
            ));
            d.auto_reply = Some((
                "You are subscribed again. How can we help?".to_owned(),
                OutboxPurpose::Notice,
            ));
        }
        Some(Keyword::Help) => {
            d.run_agent = false;
            let clinic = st.store.clinic(scope).await?;
            let call = clinic
                .profile
                .phone
                .as_deref()
                .map(|p| format!(" or call {p}"))
                .unwrap_or_default();
            d.auto_reply = Some((
                format!(
                    "{}: write your question here{call}. In an emergency call {}. Reply STOP to opt out.",
                    clinic.profile.name,
                    clinic
                        .profile
                        .emergency_numbers
                        .first()
                        .map(String::as_str)
                        .unwrap_or("112"),
                ),
                OutboxPurpose::Notice,
            ));
        }
        _ if opted_out => {
            // Someone who opted out writes again: store it for staff, answer nothing.
            d.run_agent = false;
        }
        _ if channel == Channel::Whatsapp && consent.is_none() => {
            // Writing to the clinic on WhatsApp is the patient's opt-in to answers there.
            d.consent = Some((ConsentChange::OptIn, "whatsapp:patient_message".to_owned()));
        }
        _ => {}
    }
    Ok(d)
}

/// Demo only (`frontdesk demo`): a stand-in for the Graph and Twilio send APIs on loopback.
/// It appends each request it receives to the demo's development outbox file and answers
/// like the provider would, so the whole pipeline runs without any provider account. Outside
/// the demo it does not exist (404).
pub async fn dev_provider(
    State(st): State<AppState>,
    uri: axum::http::Uri,
    body: Body,
) -> Result<Response, AppError> {
    use tokio::io::AsyncWriteExt;
    let Some(file) = &st.channels.dev_outbox else {
        return Err(AppError::Store(StoreError::NotFound));
    };
    let raw = read_body(body).await?;
    let id = uuid::Uuid::now_v7().simple().to_string();
    let line = serde_json::json!({
        "at": st.clock.now().to_string(),
        "path": uri.path(),
        "request": String::from_utf8_lossy(&raw),
    });
    let mut f = tokio::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(file)
        .await
        .map_err(|e| {
            tracing::error!(error = %e, "could not write the development outbox");
            AppError::Store(StoreError::Corrupt("development outbox"))
        })?;
    let _ = f.write_all(format!("{line}\n").as_bytes()).await;
    Ok(axum::Json(serde_json::json!({
        "messaging_product": "whatsapp",
        "messages": [{ "id": format!("wamid.dev-{id}") }],
        "sid": format!("SMdev{id}"),
        "status": "queued",
    }))
    .into_response())
}

/// `POST /webhooks/calcom/{tenant_slug}`: a clinic's Cal.com booking webhooks (#11 item 3).
/// Body size (413) → `X-Cal-Signature-256` present (401) → the clinic, with Cal.com enabled
/// and a webhook secret (404) → the signature with that secret, constant time (401) → parse
/// (400) → one transaction reflecting the change with its audit entry → 200. A redelivery
/// changes nothing; a trigger frontdesk does not reflect is a 200 no-op.
pub async fn calcom(
    State(st): State<AppState>,
    Path(slug): Path<String>,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, AppError> {
    let raw = read_body(body).await?;
    let signature = headers
        .get("x-cal-signature-256")
        .and_then(|v| v.to_str().ok())
        .ok_or_else(bad_signature)?;
    let not_here = || {
        AppError::client(
            StatusCode::NOT_FOUND,
            "unknown_calendar",
            "No clinic takes Cal.com webhooks here.",
        )
    };
    let slug = frontdesk_domain::TenantSlug::parse(&slug).map_err(|_| not_here())?;
    let key = match st.store.calcom_webhook_key(&slug).await {
        Ok(k) => k,
        Err(StoreError::NotFound) => return Err(not_here()),
        Err(e) => return Err(e.into()),
    };
    if !crate::calcom::verify_signature(key.secret.as_bytes(), &raw, Some(signature)) {
        return Err(bad_signature());
    }
    let Some(event) = crate::calcom::parse_webhook(&raw).map_err(|_| malformed())? else {
        return Ok(axum::Json(serde_json::json!({ "result": "ignored" })).into_response());
    };
    let done = st
        .store
        .reflect_calcom_event(key.verified_scope(), &event)
        .await?;
    let result = match done {
        frontdesk_store::CalcomReflected::Appointment(_) => "appointment",
        frontdesk_store::CalcomReflected::Busy => "busy",
        frontdesk_store::CalcomReflected::Unchanged => "unchanged",
        frontdesk_store::CalcomReflected::Ignored => "ignored",
    };
    tracing::info!(result, "cal.com webhook");
    Ok(axum::Json(serde_json::json!({ "result": result })).into_response())
}
