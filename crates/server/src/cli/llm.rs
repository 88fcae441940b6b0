//! `frontdesk llm set | show | disable`: a clinic's language model (docs/LANGUAGE_MODELS.md).
//! The provider's API key is read from stdin (`--api-key-stdin`), never from the command
//! line (which other users of the machine can read), and is never printed: `show` says only
//! when it was set.

use super::{DataArgs, LogFormat, clinic_scope, open_store, resolve};
use anyhow::{Context, bail};
use clap::{Args, Subcommand};
use frontdesk_server::llm::settings::{format_decimal, parse_decimal};
use frontdesk_store::{
    Actor, LlmKeyChange, LlmLimits, LlmPrices, LlmProvider, LlmRoute, LlmRuntime, LlmSettings,
    LlmSettingsInput, LlmTurnLimits, Store, TenantScope, month_start,
};
use std::io::{IsTerminal, Read};

#[derive(Subcommand)]
pub(super) enum LlmCommand {
    /// Write the clinic's settings (every setting; the stored key is kept unless
    /// `--api-key-stdin` or `--clear-api-key` is given). Changes reach replies within seconds.
    Set(Box<LlmSet>),
    /// The clinic's settings (the key: only when it was set) and this month's usage.
    Show {
        #[arg(long, value_name = "SLUG")]
        tenant: String,
        #[command(flatten)]
        data: DataArgs,
    },
    /// Turn the clinic's model off at once (settings and key kept): the built-in receptionist
    /// answers every message.
    Disable {
        #[arg(long, value_name = "SLUG")]
        tenant: String,
        #[command(flatten)]
        data: DataArgs,
    },
}

#[derive(Args)]
#[command(group(clap::ArgGroup::new("key").args(["api_key_stdin", "clear_api_key"])))]
pub(super) struct LlmSet {
    #[arg(long, value_name = "SLUG")]
    tenant: String,
    /// anthropic, openai or openai_compatible (Ollama, vLLM, llama.cpp server).
    #[arg(long)]
    provider: String,
    /// The server's address (required for openai_compatible; default: the provider's API).
    #[arg(long, value_name = "URL")]
    base_url: Option<String>,
    /// The model for routine messages (e.g. gpt-4o-mini, claude-haiku-4-5, llama3.1:8b).
    #[arg(long, value_name = "MODEL")]
    fast_model: String,
    /// The model for sensitive messages (default: the fast model).
    #[arg(long, value_name = "MODEL")]
    strong_model: Option<String>,
    /// Who answers routine messages: fast, strong or builtin.
    #[arg(long, default_value = "fast")]
    routine: String,
    /// Who answers sensitive messages (distress, complaints, clinical questions): fast,
    /// strong or builtin.
    #[arg(long, default_value = "strong")]
    sensitive: String,
    /// Monthly budget in the clinic's currency (e.g. 50 or 49.99); none: no limit. When the
    /// month's cost reaches it, the built-in receptionist answers until the month ends.
    #[arg(long, value_name = "AMOUNT")]
    monthly_budget: Option<String>,
    /// Prices in the clinic's currency per million tokens (e.g. 0.15), default 0.
    #[arg(long, value_name = "PRICE", default_value = "0")]
    fast_input_price: String,
    #[arg(long, value_name = "PRICE", default_value = "0")]
    fast_output_price: String,
    #[arg(long, value_name = "PRICE", default_value = "0")]
    strong_input_price: String,
    #[arg(long, value_name = "PRICE", default_value = "0")]
    strong_output_price: String,
    /// Read the provider's API key from stdin (one line).
    #[arg(long)]
    api_key_stdin: bool,
    /// Remove the stored API key.
    #[arg(long)]
    clear_api_key: bool,
    /// Store the settings switched off.
    #[arg(long)]
    disabled: bool,
    /// Text turns (web chat, WhatsApp, SMS): the model's whole time per turn, all rounds
    /// and retries, in milliseconds (1000 to 60000); then the built-in receptionist answers.
    #[arg(long, value_name = "MS", default_value_t = LlmLimits::default().text.deadline_ms)]
    text_deadline_ms: u32,
    /// Text turns: model replies with tool calls per turn (0 to 8).
    #[arg(long, value_name = "N", default_value_t = LlmLimits::default().text.tool_rounds)]
    text_tool_rounds: u8,
    /// Text turns: output tokens per model call (16 to 4000).
    #[arg(long, value_name = "N", default_value_t = LlmLimits::default().text.output_tokens)]
    text_output_tokens: u32,
    /// Phone turns: the model's whole time per turn in milliseconds (500 to 10000; the
    /// caller hears silence meanwhile).
    #[arg(long, value_name = "MS", default_value_t = LlmLimits::default().voice.deadline_ms)]
    voice_deadline_ms: u32,
    /// Phone turns: model replies with tool calls per turn (0 to 4).
    #[arg(long, value_name = "N", default_value_t = LlmLimits::default().voice.tool_rounds)]
    voice_tool_rounds: u8,
    /// Phone turns: output tokens per model call (16 to 1000).
    #[arg(long, value_name = "N", default_value_t = LlmLimits::default().voice.output_tokens)]
    voice_output_tokens: u32,
    #[command(flatten)]
    data: DataArgs,
}

pub(super) async fn run(cmd: LlmCommand) -> anyhow::Result<()> {
    match cmd {
        LlmCommand::Set(a) => set(*a).await,
        LlmCommand::Show { tenant, data } => show(&tenant, &data).await,
        LlmCommand::Disable { tenant, data } => disable(&tenant, &data).await,
    }
}

pub(super) async fn open(
    data: &DataArgs,
    slug: &str,
) -> anyhow::Result<(std::sync::Arc<dyn Store>, TenantScope)> {
    let (store, scope, _) = open_with_policy(data, slug).await?;
    Ok((store, scope))
}

/// [`open`], with the deployment's outbound address policy (`webhook_allowlist`).
async fn open_with_policy(
    data: &DataArgs,
    slug: &str,
) -> anyhow::Result<(
    std::sync::Arc<dyn Store>,
    TenantScope,
    frontdesk_server::outbound::SsrfPolicy,
)> {
    let cfg = resolve(data, LogFormat::Pretty, "warn")?;
    let policy = cfg.webhook_policy()?;
    let store = open_store(&cfg).await?;
    let scope = clinic_scope(store.as_ref(), slug).await?;
    Ok((store, scope, policy))
}

fn price(flag: &str, raw: &str) -> anyhow::Result<i64> {
    parse_decimal(raw, 6)
        .with_context(|| format!("--{flag} is an amount per million tokens, e.g. 0.15"))
}

fn settings_of(a: &LlmSet) -> anyhow::Result<LlmSettingsInput> {
    let route = |flag: &str, raw: &str| {
        LlmRoute::parse(raw).with_context(|| format!("--{flag} is fast, strong or builtin"))
    };
    Ok(LlmSettingsInput {
        provider: LlmProvider::parse(&a.provider)
            .context("--provider is anthropic, openai or openai_compatible")?,
        base_url: a.base_url.clone(),
        fast_model: a.fast_model.clone(),
        strong_model: a
            .strong_model
            .clone()
            .unwrap_or_else(|| a.fast_model.clone()),
        routine: route("routine", &a.routine)?,
        sensitive: route("sensitive", &a.sensitive)?,
        monthly_budget_cents: a
            .monthly_budget
            .as_deref()
            .map(|b| parse_decimal(b, 2).context("--monthly-budget is an amount, e.g. 50"))
            .transpose()?,
        fast_prices: LlmPrices {
            input_per_mtok: price("fast-input-price", &a.fast_input_price)?,
            output_per_mtok: price("fast-output-price", &a.fast_output_price)?,
        },
        strong_prices: LlmPrices {
            input_per_mtok: price("strong-input-price", &a.strong_input_price)?,
            output_per_mtok: price("strong-output-price", &a.strong_output_price)?,
        },
        enabled: !a.disabled,
        limits: LlmLimits {
            text: LlmTurnLimits {
                deadline_ms: a.text_deadline_ms,
                tool_rounds: a.text_tool_rounds,
                output_tokens: a.text_output_tokens,
            },
            voice: LlmTurnLimits {
                deadline_ms: a.voice_deadline_ms,
                tool_rounds: a.voice_tool_rounds,
                output_tokens: a.voice_output_tokens,
            },
        },
    })
}

fn read_key() -> anyhow::Result<zeroize::Zeroizing<String>> {
    read_secret("API key")
}

/// One secret (`what`: "API key", …) from stdin, trimmed; empty is an error.
pub(super) fn read_secret(what: &str) -> anyhow::Result<zeroize::Zeroizing<String>> {
    if std::io::stdin().is_terminal() {
        eprintln!("Paste the {what}, then Enter and Ctrl-D:");
    }
    let mut raw = zeroize::Zeroizing::new(String::new());
    std::io::stdin()
        .lock()
        .take(4096)
        .read_to_string(&mut raw)
        .with_context(|| format!("could not read the {what} from stdin"))?;
    let key = zeroize::Zeroizing::new(raw.trim().to_owned());
    if key.is_empty() {
        bail!("no {what} on stdin");
    }
    Ok(key)
}

async fn set(a: LlmSet) -> anyhow::Result<()> {
    let settings = settings_of(&a)?;
    let key = if a.api_key_stdin {
        LlmKeyChange::Set(read_key()?)
    } else if a.clear_api_key {
        LlmKeyChange::Clear
    } else {
        LlmKeyChange::Keep
    };
    let (store, scope, policy) = open_with_policy(&a.data, &a.tenant).await?;
    let stored = store.llm_settings(scope).await?;
    let has_key = match &key {
        LlmKeyChange::Set(_) => true,
        LlmKeyChange::Clear => false,
        LlmKeyChange::Keep => stored.is_some_and(|s| s.api_key_set_at.is_some()),
    };
    // The clients must be buildable from what will be stored (a stand-in for a kept key).
    let check = LlmRuntime {
        settings: LlmSettings {
            settings: settings.clone(),
            api_key_set_at: None,
            updated_at: jiff::Timestamp::UNIX_EPOCH,
            updated_by: String::new(),
        },
        api_key: has_key.then(|| "stand-in".to_owned().into()),
        month_cost_micros: 0,
    };
    if let Err(e) =
        frontdesk_server::llm::settings::build(&check, frontdesk_server::llm::DEFAULT_TIMEOUT)
    {
        bail!(
            "these settings cannot reach a model ({}): {}",
            e.code(),
            if has_key || settings.provider == LlmProvider::OpenAiCompatible {
                "check --base-url (http or https, no user name, query or fragment)"
            } else {
                "anthropic and openai need --api-key-stdin"
            }
        );
    }
    if let Some(base) = &settings.base_url
        && let Err(e) = frontdesk_server::llm::settings::check_base_url(base, &policy).await
    {
        bail!(
            "--base-url is not permitted by the outbound address policy ({}: {e}); to allow \
             the clinic's own network, add it to webhook_allowlist (e.g. \
             FRONTDESK_WEBHOOK_ALLOWLIST='[\"10.20.0.0/16\"]')",
            e.code()
        );
    }
    let saved = store
        .set_llm_settings(scope, &settings, key, Actor::Operator)
        .await?;
    println!(
        "`{}`: {} with {} / {} ({}); API key {}",
        a.tenant,
        saved.settings.provider.as_str(),
        saved.settings.fast_model,
        saved.settings.strong_model,
        if saved.settings.enabled { "on" } else { "off" },
        key_state(&saved)
    );
    Ok(())
}

fn key_state(s: &LlmSettings) -> String {
    s.api_key_set_at
        .map_or_else(|| "not set".to_owned(), |t| format!("set on {t}"))
}

async fn show(slug: &str, data: &DataArgs) -> anyhow::Result<()> {
    let (store, scope) = open(data, slug).await?;
    let Some(s) = store.llm_settings(scope).await? else {
        println!("`{slug}` has no language model: the built-in receptionist answers.");
        return Ok(());
    };
    let now = jiff::Timestamp::now();
    let from = month_start(now);
    let usage = store.llm_usage_summary(scope, from, now).await?;
    let i = &s.settings;
    let price = |v: i64| format_decimal(v, 6);
    println!("enabled\t{}", i.enabled);
    println!("provider\t{}", i.provider.as_str());
    println!(
        "base_url\t{}",
        i.base_url.as_deref().unwrap_or("(the provider's API)")
    );
    println!("fast_model\t{}", i.fast_model);
    println!("strong_model\t{}", i.strong_model);
    println!("routine\t{}", i.routine.as_str());
    println!("sensitive\t{}", i.sensitive.as_str());
    println!(
        "monthly_budget\t{}",
        i.monthly_budget_cents
            .map_or_else(|| "none".to_owned(), |c| format_decimal(c, 2))
    );
    println!(
        "fast_prices\t{} in, {} out per million tokens",
        price(i.fast_prices.input_per_mtok),
        price(i.fast_prices.output_per_mtok)
    );
    println!(
        "strong_prices\t{} in, {} out per million tokens",
        price(i.strong_prices.input_per_mtok),
        price(i.strong_prices.output_per_mtok)
    );
    for (kind, l) in [("text", i.limits.text), ("voice", i.limits.voice)] {
        println!(
            "{kind}_limits\t{} ms, {} tool rounds, {} output tokens",
            l.deadline_ms, l.tool_rounds, l.output_tokens
        );
    }
    println!("api_key\t{}", key_state(&s));
    println!("updated\t{} by {}", s.updated_at, s.updated_by);
    println!("month_since\t{from}");
    println!("month_turns\t{} ({} answered)", usage.turns, usage.answered);
    println!(
        "month_tokens\t{} in, {} out",
        usage.input_tokens, usage.output_tokens
    );
    println!("month_cost\t{}", format_decimal(usage.cost_micros, 6));
    for (reason, n) in &usage.fallbacks {
        println!("month_fallback\t{reason}\t{n}");
    }
    Ok(())
}

async fn disable(slug: &str, data: &DataArgs) -> anyhow::Result<()> {
    let (store, scope) = open(data, slug).await?;
    match store.disable_llm(scope, Actor::Operator).await {
        Ok(true) => println!("`{slug}`: the language model is off"),
        Ok(false) => println!("`{slug}`: the language model was already off"),
        Err(frontdesk_store::StoreError::NotFound) => {
            bail!("`{slug}` has no language model settings")
        }
        Err(e) => return Err(e.into()),
    }
    Ok(())
}
