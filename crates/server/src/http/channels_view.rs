//! Channels (issue #7 item 5): the Owner connects the clinic's WhatsApp, Twilio and Africa's
//! Talking accounts (`ManageChannels`). Secrets are write-only: the page shows which ones are
//! stored, never a value; a secret field left empty keeps the stored secret. Saving goes
//! through the same store operation as `frontdesk channel set` (secrets sealed with the
//! clinic's key, the address routed to this clinic only), audited `channel.configured` with
//! the Owner as the actor and the secrets' names only.

use super::AppState;
use super::dashboard::{
    Require, Staff, csrf_ok_for, perm, plain as text, store_failed as unavailable,
};
use askama::Template;
use axum::{
    Form,
    extract::{Path, State},
    http::StatusCode,
    response::{IntoResponse, Redirect, Response},
};
use frontdesk_store::{Actor, Provider, StoreError};

/// The longest settings document accepted (non-secret settings are a few keys).
const MAX_SETTINGS: usize = 8 * 1024;

struct ProviderBlock {
    provider: &'static str,
    label: &'static str,
    address: String,
    connected: bool,
    /// Pretty JSON of the non-secret settings.
    settings: String,
    /// (name, whether a value is stored).
    secrets: Vec<(&'static str, bool)>,
}

#[derive(Template)]
#[template(path = "dashboard/channels.html")]
struct ChannelsPage {
    providers: Vec<ProviderBlock>,
    csrf: String,
    error: Option<String>,
}

async fn render(
    st: &AppState,
    staff: &Staff,
    status: StatusCode,
    error: Option<String>,
) -> Response {
    let scope = staff.session().scope;
    let mut providers = Vec::new();
    for p in Provider::ALL {
        let account = match st.store.channel_account(scope, p).await {
            Ok(a) => Some(a),
            Err(StoreError::NotFound) => None,
            Err(e) => return unavailable(&e),
        };
        providers.push(ProviderBlock {
            provider: p.as_str(),
            label: p.label(),
            connected: account.is_some(),
            address: account
                .as_ref()
                .map(|a| a.address.clone())
                .unwrap_or_default(),
            settings: account
                .as_ref()
                .and_then(|a| serde_json::to_string_pretty(&a.config).ok())
                .unwrap_or_else(|| "{}".to_owned()),
            secrets: p
                .required_secrets()
                .iter()
                .map(|name| {
                    let held = account
                        .as_ref()
                        .is_some_and(|a| a.secrets.get(name).is_some_and(|v| !v.is_empty()));
                    (*name, held)
                })
                .collect(),
        });
    }
    let page = ChannelsPage {
        providers,
        csrf: staff.csrf(),
        error,
    };
    super::dashboard::page(status, &page)
}

/// `GET /dashboard/channels`.
pub async fn channels_page(
    State(st): State<AppState>,
    Require { staff, .. }: Require<perm::ManageChannels>,
) -> Response {
    render(&st, &staff, StatusCode::OK, None).await
}

/// `POST /dashboard/channels/{provider}`: connects or reconfigures that provider's account.
/// Fields: `csrf`, `address`, `settings` (a JSON object), and one field per required secret
/// (`secret_<name>`; empty keeps the stored value).
pub async fn save_channel(
    State(st): State<AppState>,
    Require { staff, .. }: Require<perm::ManageChannels>,
    Path(raw): Path<String>,
    Form(fields): Form<Vec<(String, String)>>,
) -> Response {
    let field = |name: &str| {
        fields
            .iter()
            .find(|(k, _)| k == name)
            .map_or("", |(_, v)| v.as_str())
    };
    if !csrf_ok_for(&staff, field("csrf")) {
        return super::dashboard::form_expired();
    }
    let Ok(provider) = Provider::parse(&raw) else {
        return text(StatusCode::NOT_FOUND, "No such channel.");
    };
    let refuse = |msg: String| render(&st, &staff, StatusCode::UNPROCESSABLE_ENTITY, Some(msg));
    let raw_settings = field("settings").trim();
    let settings: serde_json::Value = if raw_settings.is_empty() {
        serde_json::json!({})
    } else if raw_settings.len() > MAX_SETTINGS {
        return refuse("The settings are too long.".into()).await;
    } else {
        match serde_json::from_str(raw_settings) {
            Ok(v @ serde_json::Value::Object(_)) => v,
            _ => {
                let msg = "Write the settings as a JSON object, e.g. {\"account_sid\": \"AC…\"}.";
                return refuse(msg.into()).await;
            }
        }
    };
    let s = staff.session();
    let stored = match st.store.channel_account(s.scope, provider).await {
        Ok(a) => Some(a.secrets),
        Err(StoreError::NotFound) => None,
        Err(e) => return unavailable(&e),
    };
    // Start from what is stored, so a kept secret keeps its overlap window (a rotation made
    // with `frontdesk channel rotate-secret`); a secret entered here replaces it outright.
    let mut secrets = stored.unwrap_or_default();
    let mut missing = Vec::new();
    for name in provider.required_secrets() {
        let given = field(&format!("secret_{name}")).trim();
        if !given.is_empty() {
            secrets = secrets.with(name, given);
        } else if secrets.get(name).is_none_or(str::is_empty) {
            missing.push(*name);
        }
    }
    if !missing.is_empty() {
        return refuse(format!("Enter these secrets: {}.", missing.join(", "))).await;
    }
    match st
        .store
        .set_channel_account_by(
            s.scope,
            provider,
            field("address"),
            &settings,
            &secrets,
            Actor::Staff(s.user),
        )
        .await
    {
        Ok(()) => Redirect::to("/dashboard/channels").into_response(),
        Err(StoreError::Invalid(d)) => refuse(format!("Not saved: {d}.")).await,
        Err(StoreError::Conflict(_)) => {
            let msg = "That address is connected to another clinic. Check the number or ID.";
            render(&st, &staff, StatusCode::CONFLICT, Some(msg.into())).await
        }
        Err(e) => unavailable(&e),
    }
}
