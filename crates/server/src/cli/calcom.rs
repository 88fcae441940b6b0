//! `frontdesk calcom set | map | show | disable`: Cal.com as a clinic's calendar
//! (docs/INTEGRATIONS.md). The API key and webhook secret are read from stdin or from a named
//! environment variable, never from the command line (which other users of the machine can
//! read), and never printed: `show` says only when each was set.

use super::DataArgs;
use super::llm::open;
use anyhow::{Context, bail};
use clap::{Args, Subcommand};
use frontdesk_store::{Actor, CALCOM_DEFAULT_BASE_URL, CalcomSecretChange};

#[derive(Subcommand)]
pub(super) enum CalcomCommand {
    /// Make Cal.com the clinic's calendar (or update it): base URL, and the secrets as given
    /// (a secret not given is kept). Takes effect on the next message.
    Set(Box<CalcomSet>),
    /// Map a practitioner and a service to the Cal.com event type that books them (by name or
    /// id); `--remove` deletes the mapping.
    Map {
        #[arg(long, value_name = "SLUG")]
        tenant: String,
        #[arg(long, value_name = "NAME_OR_ID")]
        practitioner: String,
        #[arg(long, value_name = "NAME_OR_ID")]
        service: String,
        /// The Cal.com event type id (a number, from Cal.com's event type URL or API).
        #[arg(long, value_name = "ID", required_unless_present = "remove")]
        event_type: Option<i64>,
        #[arg(long)]
        remove: bool,
        #[command(flatten)]
        data: DataArgs,
    },
    /// The clinic's Cal.com settings and event types (secrets: only when they were set).
    Show {
        #[arg(long, value_name = "SLUG")]
        tenant: String,
        #[command(flatten)]
        data: DataArgs,
    },
    /// Go back to the built-in diary at once (settings, secrets and mappings kept).
    Disable {
        #[arg(long, value_name = "SLUG")]
        tenant: String,
        #[command(flatten)]
        data: DataArgs,
    },
}

#[derive(Args)]
pub(super) struct CalcomSet {
    #[arg(long, value_name = "SLUG")]
    tenant: String,
    /// Cal.com's API (default https://api.cal.com; a self-hosted Cal.com's address).
    #[arg(long, value_name = "URL")]
    base_url: Option<String>,
    /// Read the Cal.com API key (`cal_live_…`) from stdin (one line).
    #[arg(long, conflicts_with_all = ["api_key_env", "webhook_secret_stdin"])]
    api_key_stdin: bool,
    /// Read the Cal.com API key from this environment variable.
    #[arg(long, value_name = "VAR")]
    api_key_env: Option<String>,
    /// Read the webhook secret (the one typed into Cal.com's webhook form) from stdin.
    #[arg(long, conflicts_with = "webhook_secret_env")]
    webhook_secret_stdin: bool,
    /// Read the webhook secret from this environment variable.
    #[arg(long, value_name = "VAR")]
    webhook_secret_env: Option<String>,
    /// Store the settings switched off.
    #[arg(long)]
    disabled: bool,
    #[command(flatten)]
    data: DataArgs,
}

pub(super) async fn run(cmd: CalcomCommand) -> anyhow::Result<()> {
    match cmd {
        CalcomCommand::Set(a) => set(*a).await,
        CalcomCommand::Map {
            tenant,
            practitioner,
            service,
            event_type,
            remove,
            data,
        } => {
            let event_type = if remove { None } else { event_type };
            map(&tenant, &practitioner, &service, event_type, &data).await
        }
        CalcomCommand::Show { tenant, data } => show(&tenant, &data).await,
        CalcomCommand::Disable { tenant, data } => {
            let (store, scope) = open(&data, &tenant).await?;
            let was = store.disable_calcom(scope, Actor::Operator).await?;
            println!(
                "`{tenant}`: Cal.com {}; the built-in diary answers.",
                if was { "turned off" } else { "was already off" }
            );
            Ok(())
        }
    }
}

fn secret(what: &str, stdin: bool, env: Option<&str>) -> anyhow::Result<CalcomSecretChange> {
    let value = if stdin {
        super::llm::read_secret(what)?
    } else if let Some(var) = env {
        let v = std::env::var(var).with_context(|| format!("the {what}: `{var}` is not set"))?;
        zeroize::Zeroizing::new(v.trim().to_owned())
    } else {
        return Ok(CalcomSecretChange::Keep);
    };
    if value.is_empty() {
        bail!("the {what} is empty");
    }
    Ok(CalcomSecretChange::Set(value))
}

async fn set(a: CalcomSet) -> anyhow::Result<()> {
    let api_key = secret("API key", a.api_key_stdin, a.api_key_env.as_deref())?;
    let webhook_secret = secret(
        "webhook secret",
        a.webhook_secret_stdin,
        a.webhook_secret_env.as_deref(),
    )?;
    let (store, scope) = open(&a.data, &a.tenant).await?;
    let stored = store.calcom_settings(scope).await?;
    let base_url = a
        .base_url
        .clone()
        .or_else(|| stored.as_ref().map(|s| s.base_url.clone()))
        .unwrap_or_else(|| CALCOM_DEFAULT_BASE_URL.to_owned());
    // The client must be buildable from what will be stored.
    if let Err(e) = frontdesk_server::calcom::Client::new(
        &base_url,
        "stand-in".to_owned().into(),
        frontdesk_server::calcom::CALL_TIMEOUT,
    ) {
        bail!("--base-url cannot be used ({e}): http or https, no user name, query or fragment");
    }
    let has_key = match &api_key {
        CalcomSecretChange::Set(_) => true,
        CalcomSecretChange::Clear => false,
        CalcomSecretChange::Keep => stored.is_some_and(|s| s.api_key_set_at.is_some()),
    };
    if !has_key && !a.disabled {
        bail!("Cal.com needs an API key: --api-key-stdin or --api-key-env VAR");
    }
    let saved = store
        .set_calcom_settings(
            scope,
            &base_url,
            !a.disabled,
            api_key,
            webhook_secret,
            Actor::Operator,
        )
        .await?;
    println!(
        "`{}`: Cal.com {} at {}; API key {}; webhook secret {}",
        a.tenant,
        if saved.enabled { "on" } else { "off" },
        saved.base_url,
        when(saved.api_key_set_at),
        when(saved.webhook_secret_set_at),
    );
    if saved.event_types.is_empty() {
        println!(
            "No event types mapped yet: `frontdesk calcom map` (until then no times are offered)."
        );
    }
    Ok(())
}

fn when(t: Option<jiff::Timestamp>) -> String {
    t.map_or_else(|| "not set".to_owned(), |t| format!("set on {t}"))
}

async fn map(
    slug: &str,
    practitioner: &str,
    service: &str,
    event_type: Option<i64>,
    data: &DataArgs,
) -> anyhow::Result<()> {
    let (store, scope) = open(data, slug).await?;
    let catalog = store.clinic_catalog(scope).await?;
    let pick = |want: &str, items: Vec<(String, String)>, what: &str| {
        let lower = want.trim().to_lowercase();
        let found: Vec<_> = items
            .into_iter()
            .filter(|(id, name)| *id == lower || name.to_lowercase() == lower)
            .collect();
        match found.as_slice() {
            [(id, _)] => Ok(id.clone()),
            [] => bail!("no {what} `{want}` in `{slug}`"),
            _ => bail!("more than one {what} is called `{want}`: give its id"),
        }
    };
    let p = pick(
        practitioner,
        catalog
            .practitioners
            .iter()
            .map(|p| (p.id.to_string(), p.name.clone()))
            .collect(),
        "practitioner",
    )?;
    let s = pick(
        service,
        catalog
            .services
            .iter()
            .map(|s| (s.id.to_string(), s.name.clone()))
            .collect(),
        "service",
    )?;
    let p = frontdesk_domain::PractitionerId::from_uuid(p.parse()?);
    let s = frontdesk_domain::ServiceId::from_uuid(s.parse()?);
    store
        .map_calcom_event_type(scope, p, s, event_type, Actor::Operator)
        .await?;
    match event_type {
        Some(e) => println!("`{slug}`: {practitioner} / {service} books Cal.com event type {e}."),
        None => {
            println!("`{slug}`: {practitioner} / {service} is no longer booked through Cal.com.")
        }
    }
    Ok(())
}

async fn show(slug: &str, data: &DataArgs) -> anyhow::Result<()> {
    let (store, scope) = open(data, slug).await?;
    let Some(s) = store.calcom_settings(scope).await? else {
        println!("`{slug}` has no Cal.com settings: the built-in diary answers.");
        return Ok(());
    };
    let catalog = store.clinic_catalog(scope).await?;
    println!("enabled\t{}", s.enabled);
    println!("base_url\t{}", s.base_url);
    println!("api_key\t{}", when(s.api_key_set_at));
    println!("webhook_secret\t{}", when(s.webhook_secret_set_at));
    println!("webhook_url\t<public URL>/webhooks/calcom/{slug}");
    for e in &s.event_types {
        let p = catalog
            .practitioners
            .iter()
            .find(|p| p.id == e.practitioner)
            .map_or("?", |p| p.name.as_str());
        let v = catalog
            .services
            .iter()
            .find(|v| v.id == e.service)
            .map_or("?", |v| v.name.as_str());
        println!("event_type\t{}\t{p}\t{v}", e.event_type_id);
    }
    println!("updated\t{} by {}", s.updated_at, s.updated_by);
    Ok(())
}
