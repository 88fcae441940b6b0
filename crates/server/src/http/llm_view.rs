//! Language models in the dashboard (issue #9): the Owner (`ManageKeys`) chooses the provider,
//! the two models, how turns are routed, the prices and a monthly budget, sets or clears the
//! provider's API key, and reads this month's usage. The key field is write-only: the page
//! says when a key was set, never what it is, and an empty field keeps the stored one.

use super::AppState;
use super::dashboard::{
    Require, Staff, csrf_ok_for, form_field, perm, plain as text, store_failed as unavailable,
};
use crate::llm::settings::{format_decimal, parse_decimal};
use askama::Template;
use axum::{
    Form,
    extract::State,
    http::StatusCode,
    response::{IntoResponse, Redirect, Response},
};
use frontdesk_store::{
    Actor, LlmKeyChange, LlmLimits, LlmPrices, LlmProvider, LlmRoute, LlmRuntime, LlmSettings,
    LlmSettingsInput, LlmTurnLimits, LlmUsageSummary, StoreError, month_start,
};

/// The form's values, as shown (prices in currency units per million tokens).
struct FormValues {
    provider: &'static str,
    base_url: String,
    fast_model: String,
    strong_model: String,
    routine: &'static str,
    sensitive: &'static str,
    budget: String,
    fast_in: String,
    fast_out: String,
    strong_in: String,
    strong_out: String,
    enabled: bool,
    limits: LlmLimits,
}

impl FormValues {
    fn of(s: Option<&LlmSettings>) -> Self {
        let Some(s) = s.map(|s| &s.settings) else {
            return Self {
                provider: "openai_compatible",
                base_url: String::new(),
                fast_model: String::new(),
                strong_model: String::new(),
                routine: "fast",
                sensitive: "strong",
                budget: String::new(),
                fast_in: "0".into(),
                fast_out: "0".into(),
                strong_in: "0".into(),
                strong_out: "0".into(),
                enabled: false,
                limits: LlmLimits::default(),
            };
        };
        let price = |v: i64| format_decimal(v, 6);
        Self {
            provider: s.provider.as_str(),
            base_url: s.base_url.clone().unwrap_or_default(),
            fast_model: s.fast_model.clone(),
            strong_model: s.strong_model.clone(),
            routine: s.routine.as_str(),
            sensitive: s.sensitive.as_str(),
            budget: s
                .monthly_budget_cents
                .map(|c| format_decimal(c, 2))
                .unwrap_or_default(),
            fast_in: price(s.fast_prices.input_per_mtok),
            fast_out: price(s.fast_prices.output_per_mtok),
            strong_in: price(s.strong_prices.input_per_mtok),
            strong_out: price(s.strong_prices.output_per_mtok),
            enabled: s.enabled,
            limits: s.limits,
        }
    }
}

struct Usage {
    turns: u64,
    answered: u64,
    input_tokens: u64,
    output_tokens: u64,
    cost: String,
    budget: Option<String>,
    fallbacks: Vec<(String, u64)>,
}

#[derive(Template)]
#[template(path = "dashboard/llm.html")]
struct LlmPage {
    configured: bool,
    form: FormValues,
    /// When the stored key was set; `None`: no key.
    key_set_at: Option<String>,
    updated: Option<String>,
    currency: String,
    month: String,
    usage: Usage,
    csrf: String,
    error: Option<String>,
}

/// Money in micro-units, as the clinic's currency with up to six decimals.
pub(super) fn money_micros(micros: i64, currency: &str) -> String {
    format!("{currency} {}", format_decimal(micros, 6))
}

pub(super) fn usage_lines(u: &LlmUsageSummary) -> Vec<(String, u64)> {
    u.fallbacks
        .iter()
        .map(|(reason, n)| (reason.replace('_', " "), *n))
        .collect()
}

async fn render(
    st: &AppState,
    staff: &Staff,
    status: StatusCode,
    form: Option<FormValues>,
    error: Option<String>,
) -> Response {
    let scope = staff.session().scope;
    let now = st.clock.now();
    let from = month_start(now);
    let (settings, usage, clinic) = match (
        st.store.llm_settings(scope).await,
        st.store.llm_usage_summary(scope, from, now).await,
        st.store.clinic(scope).await,
    ) {
        (Ok(s), Ok(u), Ok(c)) => (s, u, c),
        (Err(e), _, _) | (_, Err(e), _) | (_, _, Err(e)) => return unavailable(&e),
    };
    let currency = clinic.profile.currency;
    let page = LlmPage {
        configured: settings.is_some(),
        form: form.unwrap_or_else(|| FormValues::of(settings.as_ref())),
        key_set_at: settings
            .as_ref()
            .and_then(|s| s.api_key_set_at)
            .map(|t| t.to_string()),
        updated: settings
            .as_ref()
            .map(|s| format!("{} by {}", s.updated_at, s.updated_by)),
        month: from.to_string(),
        usage: Usage {
            turns: usage.turns,
            answered: usage.answered,
            input_tokens: usage.input_tokens,
            output_tokens: usage.output_tokens,
            cost: money_micros(usage.cost_micros, &currency),
            budget: settings
                .as_ref()
                .and_then(|s| s.settings.monthly_budget_cents)
                .map(|c| format!("{currency} {}", format_decimal(c, 2))),
            fallbacks: usage_lines(&usage),
        },
        currency,
        csrf: staff.csrf(),
        error,
    };
    super::dashboard::page(status, &page)
}

/// `GET /dashboard/llm`.
pub async fn llm_page(
    State(st): State<AppState>,
    Require { staff, .. }: Require<perm::ManageKeys>,
) -> Response {
    render(&st, &staff, StatusCode::OK, None, None).await
}

fn provider(raw: &str) -> Option<LlmProvider> {
    LlmProvider::parse(raw).ok()
}

fn route(raw: &str) -> Option<LlmRoute> {
    LlmRoute::parse(raw).ok()
}

/// The settings a form describes, or what to tell the Owner.
fn settings_of(f: &[(String, String)]) -> Result<LlmSettingsInput, &'static str> {
    let price = |name: &str| -> Result<i64, &'static str> {
        let raw = form_field(f, name);
        if raw.trim().is_empty() {
            return Ok(0);
        }
        parse_decimal(raw, 6)
            .ok_or("Prices are amounts per million tokens, e.g. 0.15 (at most six decimals).")
    };
    // A whole number; empty: the default (the store says when one is out of range).
    fn limit<T: std::str::FromStr>(
        f: &[(String, String)],
        name: &str,
        default: T,
    ) -> Result<T, &'static str> {
        let raw = form_field(f, name).trim();
        if raw.is_empty() {
            return Ok(default);
        }
        raw.parse()
            .map_err(|_| "The limits of a turn are whole numbers, e.g. 4000.")
    }
    let d = LlmLimits::default();
    let limits = LlmLimits {
        text: LlmTurnLimits {
            deadline_ms: limit(f, "text_deadline_ms", d.text.deadline_ms)?,
            tool_rounds: limit(f, "text_tool_rounds", d.text.tool_rounds)?,
            output_tokens: limit(f, "text_output_tokens", d.text.output_tokens)?,
        },
        voice: LlmTurnLimits {
            deadline_ms: limit(f, "voice_deadline_ms", d.voice.deadline_ms)?,
            tool_rounds: limit(f, "voice_tool_rounds", d.voice.tool_rounds)?,
            output_tokens: limit(f, "voice_output_tokens", d.voice.output_tokens)?,
        },
    };
    let budget = form_field(f, "budget").trim();
    let base_url = form_field(f, "base_url").trim();
    Ok(LlmSettingsInput {
        provider: provider(form_field(f, "provider")).ok_or("Choose a provider.")?,
        base_url: (!base_url.is_empty()).then(|| base_url.to_owned()),
        fast_model: form_field(f, "fast_model").trim().to_owned(),
        strong_model: form_field(f, "strong_model").trim().to_owned(),
        routine: route(form_field(f, "routine")).ok_or("Choose who answers routine messages.")?,
        sensitive: route(form_field(f, "sensitive"))
            .ok_or("Choose who answers sensitive messages.")?,
        monthly_budget_cents: if budget.is_empty() {
            None
        } else {
            Some(parse_decimal(budget, 2).ok_or("The budget is an amount, e.g. 50 or 49.99.")?)
        },
        fast_prices: LlmPrices {
            input_per_mtok: price("fast_in")?,
            output_per_mtok: price("fast_out")?,
        },
        strong_prices: LlmPrices {
            input_per_mtok: price("strong_in")?,
            output_per_mtok: price("strong_out")?,
        },
        enabled: form_field(f, "enabled") == "on",
        limits,
    })
}

/// Checks that clients can be built from `settings` with the key the save will leave stored.
fn usable(settings: &LlmSettingsInput, key: Option<&str>) -> Result<(), &'static str> {
    let rt = LlmRuntime {
        settings: LlmSettings {
            settings: settings.clone(),
            api_key_set_at: None,
            updated_at: jiff::Timestamp::UNIX_EPOCH,
            updated_by: String::new(),
        },
        api_key: key.map(|k| k.to_owned().into()),
        month_cost_micros: 0,
    };
    if settings.provider == LlmProvider::OpenAiCompatible && settings.base_url.is_none() {
        return Err("A server of your own needs its address.");
    }
    match crate::llm::settings::build(&rt, crate::llm::DEFAULT_TIMEOUT) {
        Ok(_) => Ok(()),
        Err(_) if settings.provider != LlmProvider::OpenAiCompatible && key.is_none() => {
            Err("Anthropic and OpenAI need an API key.")
        }
        Err(_) => Err(
            "That address cannot be used: write the server's http:// or https:// address, without a user name, query or fragment.",
        ),
    }
}

/// `POST /dashboard/llm`: the settings; `api_key` (empty: keep the stored one) and
/// `clear_key` (`on`: remove it).
pub async fn save(
    State(st): State<AppState>,
    Require { staff, .. }: Require<perm::ManageKeys>,
    Form(fields): Form<Vec<(String, String)>>,
) -> Response {
    if !csrf_ok_for(&staff, form_field(&fields, "csrf")) {
        return super::dashboard::form_expired();
    }
    let scope = staff.session().scope;
    let settings = match settings_of(&fields) {
        Ok(s) => s,
        Err(msg) => {
            return render(
                &st,
                &staff,
                StatusCode::UNPROCESSABLE_ENTITY,
                None,
                Some(msg.into()),
            )
            .await;
        }
    };
    let typed = form_field(&fields, "api_key").trim();
    let key = if form_field(&fields, "clear_key") == "on" {
        LlmKeyChange::Clear
    } else if typed.is_empty() {
        LlmKeyChange::Keep
    } else {
        LlmKeyChange::Set(zeroize::Zeroizing::new(typed.to_owned()))
    };
    let kept = match st.store.llm_settings(scope).await {
        Ok(s) => s.is_some_and(|s| s.api_key_set_at.is_some()),
        Err(e) => return unavailable(&e),
    };
    // A stand-in for a stored key: only its presence matters to the check.
    let check_key = match &key {
        LlmKeyChange::Set(k) => Some(k.as_str()),
        LlmKeyChange::Keep if kept => Some("stored"),
        _ => None,
    };
    let refuse = |msg: String| {
        render(
            &st,
            &staff,
            StatusCode::UNPROCESSABLE_ENTITY,
            Some(form_values(&settings)),
            Some(msg),
        )
    };
    if let Err(msg) = usable(&settings, check_key) {
        return refuse(msg.into()).await;
    }
    if let Some(base) = &settings.base_url
        && let Err(e) =
            crate::llm::settings::check_base_url(base, &st.dashboard.webhook_policy).await
    {
        return refuse(format!(
            "That address is not permitted ({e}). Model servers must be public HTTPS addresses unless the server's operator permits the clinic's network (webhook_allowlist)."
        ))
        .await;
    }
    let s = staff.session();
    match st
        .store
        .set_llm_settings(scope, &settings, key, Actor::Staff(s.user))
        .await
    {
        Ok(_) => {
            st.channels.models.forget(scope.tenant_id());
            Redirect::to("/dashboard/llm").into_response()
        }
        Err(StoreError::Invalid(d)) => refuse(format!("Not saved: {d}.")).await,
        Err(e) => unavailable(&e),
    }
}

fn form_values(s: &LlmSettingsInput) -> FormValues {
    let settings = LlmSettings {
        settings: s.clone(),
        api_key_set_at: None,
        updated_at: jiff::Timestamp::UNIX_EPOCH,
        updated_by: String::new(),
    };
    FormValues::of(Some(&settings))
}

#[derive(serde::Deserialize)]
pub struct CsrfForm {
    csrf: String,
}

/// `POST /dashboard/llm/disable`: the built-in receptionist answers every turn again.
pub async fn disable(
    State(st): State<AppState>,
    Require { staff, .. }: Require<perm::ManageKeys>,
    Form(f): Form<CsrfForm>,
) -> Response {
    if !csrf_ok_for(&staff, &f.csrf) {
        return super::dashboard::form_expired();
    }
    let s = staff.session();
    match st.store.disable_llm(s.scope, Actor::Staff(s.user)).await {
        Ok(_) => {
            st.channels.models.forget(s.scope.tenant_id());
            Redirect::to("/dashboard/llm").into_response()
        }
        Err(StoreError::NotFound) => text(StatusCode::NOT_FOUND, "No language model is set up."),
        Err(e) => unavailable(&e),
    }
}
