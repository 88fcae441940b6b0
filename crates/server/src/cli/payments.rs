//! `frontdesk payments set-stripe | set-mpesa | show | disable`: a clinic's payment provider
//! (docs/INTEGRATIONS.md, "Payments"). Secrets come from the environment
//! (`FRONTDESK_PAYMENT_<NAME>`, e.g. `FRONTDESK_PAYMENT_SECRET_KEY`) or from stdin as
//! `KEY=VALUE` lines, never from the command line (other users of the machine can read it),
//! and are never printed: `show` names the secrets held, not their values.

use super::{DataArgs, LogFormat, clinic_scope, key_value, open_store, resolve};
use anyhow::bail;
use clap::{Args, Subcommand};
use frontdesk_server::llm::settings::parse_decimal;
use frontdesk_server::payments::mpesa;
use frontdesk_store::{Actor, ChannelSecrets, PaymentProvider, PaymentSettings, format_amount};
use std::io::{BufRead, IsTerminal};

#[derive(Subcommand)]
pub(super) enum PaymentsCommand {
    /// Take deposits by Stripe Checkout. Secrets: secret_key (sk_live_… or a restricted
    /// rk_… key allowed to write Checkout Sessions), webhook_secret (whsec_…) and, while you
    /// roll the endpoint's secret at Stripe, webhook_secret_2. Point a Stripe webhook endpoint
    /// at `<public_url>/webhooks/stripe/<slug>` (see `show`).
    SetStripe(SetStripe),
    /// Take deposits by M-Pesa STK push (Daraja). Secrets: consumer_key, consumer_secret,
    /// passkey. The amount is in whole Kenyan shillings.
    SetMpesa(SetMpesa),
    /// The clinic's payment settings (secret names only) and the webhook address to give
    /// Stripe.
    Show {
        #[arg(long, value_name = "SLUG")]
        tenant: String,
        #[command(flatten)]
        data: DataArgs,
    },
    /// Stop asking for payments at once (settings kept; payments already asked for still
    /// settle).
    Disable {
        #[arg(long, value_name = "SLUG")]
        tenant: String,
        #[command(flatten)]
        data: DataArgs,
    },
}

#[derive(Args)]
pub(super) struct SetStripe {
    #[arg(long, value_name = "SLUG")]
    tenant: String,
    /// The deposit, in the currency's major unit (e.g. 25 or 25.50).
    #[arg(long, value_name = "AMOUNT")]
    amount: String,
    /// ISO 4217 currency code (e.g. NZD, USD, EUR).
    #[arg(long, value_name = "CODE")]
    currency: String,
    #[command(flatten)]
    data: DataArgs,
}

#[derive(Args)]
pub(super) struct SetMpesa {
    #[arg(long, value_name = "SLUG")]
    tenant: String,
    /// The deposit in whole Kenyan shillings (e.g. 500).
    #[arg(long, value_name = "KES")]
    amount: u32,
    /// The PayBill shortcode (BusinessShortCode and PartyB).
    #[arg(long, value_name = "CODE")]
    shortcode: String,
    /// Use Daraja's production API (default: the sandbox).
    #[arg(long, conflicts_with = "api_base")]
    production: bool,
    /// Another Daraja address (a test double).
    #[arg(long, value_name = "URL")]
    api_base: Option<String>,
    #[command(flatten)]
    data: DataArgs,
}

pub(super) async fn run(cmd: PaymentsCommand) -> anyhow::Result<()> {
    match cmd {
        PaymentsCommand::SetStripe(a) => {
            let amount_minor = parse_decimal(&a.amount, 2)
                .filter(|v| *v > 0)
                .ok_or_else(|| {
                    anyhow::anyhow!("--amount: a positive amount such as 25 or 25.50")
                })?;
            let settings = PaymentSettings {
                provider: PaymentProvider::Stripe,
                amount_minor,
                currency: a.currency.trim().to_ascii_uppercase(),
                config: serde_json::json!({}),
            };
            let allowed = ["secret_key", "webhook_secret", "webhook_secret_2"];
            set(&a.tenant, &a.data, settings, &allowed).await
        }
        PaymentsCommand::SetMpesa(a) => {
            let shortcode = a.shortcode.trim();
            if shortcode.is_empty()
                || shortcode.len() > 10
                || !shortcode.bytes().all(|b| b.is_ascii_digit())
            {
                bail!("--shortcode: the PayBill number's digits");
            }
            let base = match (&a.api_base, a.production) {
                (Some(url), _) => url.trim_end_matches('/').to_owned(),
                (None, true) => mpesa::PRODUCTION_BASE_URL.to_owned(),
                (None, false) => mpesa::SANDBOX_BASE_URL.to_owned(),
            };
            if !(base.starts_with("https://") || base.starts_with("http://127.0.0.1")) {
                bail!("--api-base: an https:// address");
            }
            let settings = PaymentSettings {
                provider: PaymentProvider::Mpesa,
                amount_minor: i64::from(a.amount) * 100,
                currency: "KES".into(),
                config: serde_json::json!({ "shortcode": shortcode, "api_base": base }),
            };
            let allowed = ["consumer_key", "consumer_secret", "passkey"];
            set(&a.tenant, &a.data, settings, &allowed).await
        }
        PaymentsCommand::Show { tenant, data } => {
            let cfg = resolve(&data, LogFormat::Pretty, "warn")?;
            let store = open_store(&cfg).await?;
            let scope = clinic_scope(store.as_ref(), &tenant).await?;
            let Some(account) = store.payment_account(scope).await? else {
                println!(
                    "`{tenant}` asks for no payments (see `frontdesk payments set-stripe --help`)."
                );
                return Ok(());
            };
            let s = &account.settings;
            println!("provider: {}", s.provider.as_str());
            println!("amount:   {}", format_amount(s.amount_minor, &s.currency));
            println!("enabled:  {}", if account.enabled { "yes" } else { "no" });
            println!(
                "secrets:  {} (stored encrypted, never shown)",
                account.secrets.names().join(", ")
            );
            if let Some(shortcode) = s.config.get("shortcode").and_then(|v| v.as_str()) {
                println!("shortcode: {shortcode}");
            }
            if let Some(base) = s.config.get("api_base").and_then(|v| v.as_str()) {
                println!("daraja:   {base}");
            }
            let public = cfg.public_base().unwrap_or_else(|| "<public_url>".into());
            if s.provider == PaymentProvider::Stripe {
                println!(
                    "webhook:  {public}/webhooks/stripe/{tenant} (events: checkout.session.completed, checkout.session.async_payment_succeeded, checkout.session.async_payment_failed, checkout.session.expired)"
                );
            }
            println!("updated:  {}", account.updated_at);
            Ok(())
        }
        PaymentsCommand::Disable { tenant, data } => {
            let store = open_store(&resolve(&data, LogFormat::Pretty, "warn")?).await?;
            let scope = clinic_scope(store.as_ref(), &tenant).await?;
            if store.disable_payments(scope, Actor::Operator).await? {
                println!("`{tenant}` no longer asks for payments (settings kept).");
            } else {
                println!("`{tenant}` was not asking for payments.");
            }
            Ok(())
        }
    }
}

/// Reads the secrets (`FRONTDESK_PAYMENT_<NAME>` variables, then `KEY=VALUE` lines on stdin)
/// and stores the settings.
async fn set(
    tenant: &str,
    data: &DataArgs,
    settings: PaymentSettings,
    allowed: &[&str],
) -> anyhow::Result<()> {
    settings.validate()?;
    let cfg = resolve(data, LogFormat::Pretty, "warn")?;
    let mut secrets = ChannelSecrets::new();
    for name in allowed {
        let var = format!("FRONTDESK_PAYMENT_{}", name.to_ascii_uppercase());
        if let Ok(v) = std::env::var(&var) {
            let v = zeroize::Zeroizing::new(v);
            if !v.trim().is_empty() {
                secrets = secrets.with(name, v.trim());
            }
        }
    }
    let required = settings.required_secrets();
    let complete = |s: &ChannelSecrets| {
        required
            .iter()
            .all(|k| s.get(k).is_some_and(|v| !v.is_empty()))
    };
    let stdin = std::io::stdin();
    if !complete(&secrets) || !stdin.is_terminal() {
        if stdin.is_terminal() {
            eprintln!(
                "Enter the secrets as KEY=VALUE lines ({}), then Ctrl-D:",
                allowed.join(", ")
            );
        }
        for line in stdin.lock().lines() {
            let line = zeroize::Zeroizing::new(line?);
            if line.trim().is_empty() {
                continue;
            }
            let (k, v) = key_value(&line)?;
            let v = zeroize::Zeroizing::new(v);
            if !allowed.contains(&k.as_str()) {
                bail!(
                    "unknown secret `{k}` (expected one of {})",
                    allowed.join(", ")
                );
            }
            secrets = secrets.with(&k, v.as_str());
        }
    }
    let missing: Vec<_> = required
        .iter()
        .filter(|k| secrets.get(k).is_none_or(str::is_empty))
        .collect();
    if !missing.is_empty() {
        bail!("missing secrets: {missing:?} (stdin KEY=VALUE lines or FRONTDESK_PAYMENT_<NAME>)");
    }
    let store = open_store(&cfg).await?;
    let scope = clinic_scope(store.as_ref(), tenant).await?;
    store
        .set_payment_settings(scope, &settings, &secrets, Actor::Operator)
        .await?;
    println!(
        "`{tenant}` now asks for {} by {} after bookings made in conversation (secrets stored encrypted: {})",
        format_amount(settings.amount_minor, &settings.currency),
        settings.provider.as_str(),
        secrets.names().join(", ")
    );
    Ok(())
}
