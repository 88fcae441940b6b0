//! `frontdesk api-key create | list | revoke | rotate`: a clinic's keys to the REST API
//! (docs/API.md). A key's secret is printed once, when it is made or rotated, and is stored
//! only as a hash; lists and the audit log name a key by its prefix.

use super::{DataArgs, LogFormat, clinic_scope, open_store, resolve};
use anyhow::{Context, bail};
use clap::{Args, Subcommand};
use frontdesk_domain::ApiScopes;
use frontdesk_store::{Actor, ApiKeyInfo, ApiKeyState, NewApiKey, Store, TenantScope, api_key};

#[derive(Subcommand)]
pub(super) enum ApiKeyCommand {
    /// Make a key. Its secret is printed once, on stdout, alone on its line: store it in the
    /// integration's secret store at once; it cannot be shown again.
    Create(ApiKeyCreate),
    /// The clinic's keys, tab-separated: prefix, name, scopes, rate a minute, state, created,
    /// last used. Never a secret.
    List {
        #[arg(long, value_name = "SLUG")]
        tenant: String,
        #[command(flatten)]
        data: DataArgs,
    },
    /// End a key at once (`--key fdk_…` prefix), or every usable key of the clinic (`--all`,
    /// e.g. after a leak).
    Revoke(ApiKeyRevoke),
    /// Make the key's successor (same name, scopes and rate; its secret printed once) and
    /// keep the old key working for `--overlap-hours` (default 24; 0 ends it at once), so
    /// the integration can be switched without refused calls.
    Rotate(ApiKeyRotate),
}

#[derive(Args)]
pub(super) struct ApiKeyCreate {
    #[arg(long, value_name = "SLUG")]
    tenant: String,
    /// What it is for, shown in lists (e.g. "Practice management sync").
    #[arg(long)]
    name: String,
    /// Space- or comma-separated: schedule:read, appointments:read, appointments:write,
    /// conversations:read, messages:write, patients:read, data_requests:read.
    #[arg(long, value_name = "SCOPES")]
    scopes: String,
    /// Calls a minute before 429 (1 to 6000), shared by every instance.
    #[arg(long, default_value_t = api_key::DEFAULT_RATE_PER_MINUTE)]
    rate: u32,
    #[command(flatten)]
    data: DataArgs,
}

#[derive(Args)]
#[command(group(clap::ArgGroup::new("which").required(true).args(["key", "all"])))]
pub(super) struct ApiKeyRevoke {
    #[arg(long, value_name = "SLUG")]
    tenant: String,
    /// The key's prefix (`fdk_` and 12 characters) or the whole key.
    #[arg(long, value_name = "PREFIX")]
    key: Option<String>,
    /// Every usable key of the clinic.
    #[arg(long)]
    all: bool,
    #[command(flatten)]
    data: DataArgs,
}

#[derive(Args)]
pub(super) struct ApiKeyRotate {
    #[arg(long, value_name = "SLUG")]
    tenant: String,
    /// The key's prefix (`fdk_` and 12 characters) or the whole key.
    #[arg(long, value_name = "PREFIX")]
    key: String,
    /// Hours the old key still works (0 to 720).
    #[arg(long, value_name = "HOURS", default_value_t = 24, value_parser = clap::value_parser!(u32).range(0..=720))]
    overlap_hours: u32,
    #[command(flatten)]
    data: DataArgs,
}

pub(super) async fn run(cmd: ApiKeyCommand) -> anyhow::Result<()> {
    match cmd {
        ApiKeyCommand::Create(a) => create(a).await,
        ApiKeyCommand::List { tenant, data } => list(&tenant, &data).await,
        ApiKeyCommand::Revoke(a) => revoke(a).await,
        ApiKeyCommand::Rotate(a) => rotate(a).await,
    }
}

async fn open(
    data: &DataArgs,
    slug: &str,
) -> anyhow::Result<(std::sync::Arc<dyn Store>, TenantScope)> {
    let store = open_store(&resolve(data, LogFormat::Pretty, "warn")?).await?;
    let scope = clinic_scope(store.as_ref(), slug).await?;
    Ok((store, scope))
}

/// The key named by a prefix or a whole key, in this clinic.
pub(super) async fn key_by_prefix(
    store: &dyn Store,
    scope: TenantScope,
    slug: &str,
    given: &str,
) -> anyhow::Result<ApiKeyInfo> {
    let prefix = if api_key::is_prefix(given) {
        given
    } else {
        api_key::prefix_of(given).context("--key takes a key's prefix, fdk_ and 12 characters")?
    };
    store
        .api_key_by_prefix(scope, prefix)
        .await
        .with_context(|| format!("no key {prefix} in `{slug}` (see `frontdesk api-key list`)"))
}

async fn create(a: ApiKeyCreate) -> anyhow::Result<()> {
    let scopes = ApiScopes::parse(&a.scopes).context("--scopes")?;
    let (store, scope) = open(&a.data, &a.tenant).await?;
    let issued = store
        .create_api_key(
            scope,
            &NewApiKey {
                name: a.name,
                scopes,
                rate_per_minute: a.rate,
            },
            Actor::Operator,
        )
        .await?;
    eprintln!(
        "made key {} for `{}` with {} ({} calls a minute); its secret follows and is shown only now:",
        issued.info.prefix,
        a.tenant,
        issued.info.scopes.to_stored(),
        issued.info.rate_per_minute
    );
    println!("{}", issued.key.as_str());
    Ok(())
}

fn state(k: &ApiKeyInfo, now: jiff::Timestamp) -> String {
    match k.state(now) {
        ApiKeyState::Active => "active".into(),
        ApiKeyState::Overlap(until) => format!("rotated, works until {until}"),
        ApiKeyState::Expired => "expired".into(),
        ApiKeyState::Revoked => "revoked".into(),
    }
}

async fn list(slug: &str, data: &DataArgs) -> anyhow::Result<()> {
    let (store, scope) = open(data, slug).await?;
    let now = jiff::Timestamp::now();
    println!("prefix\tname\tscopes\trate\tstate\tcreated\tlast_used");
    for k in store.api_keys(scope).await? {
        println!(
            "{}\t{}\t{}\t{}\t{}\t{}\t{}",
            k.prefix,
            k.name,
            k.scopes.to_stored(),
            k.rate_per_minute,
            state(&k, now),
            k.created_at,
            k.last_used_at
                .map_or_else(|| "never".to_owned(), |t| t.to_string()),
        );
    }
    Ok(())
}

async fn revoke(a: ApiKeyRevoke) -> anyhow::Result<()> {
    let (store, scope) = open(&a.data, &a.tenant).await?;
    if a.all {
        let n = store.revoke_all_api_keys(scope, Actor::Operator).await?;
        println!("revoked {n} usable key(s) of `{}`", a.tenant);
        return Ok(());
    }
    let Some(given) = a.key else {
        bail!("give --key PREFIX or --all");
    };
    let key = key_by_prefix(store.as_ref(), scope, &a.tenant, &given).await?;
    if store.revoke_api_key(scope, key.id, Actor::Operator).await? {
        println!("revoked {}: calls with it now answer 401", key.prefix);
    } else {
        println!("{} was no longer usable; nothing changed", key.prefix);
    }
    Ok(())
}

async fn rotate(a: ApiKeyRotate) -> anyhow::Result<()> {
    let (store, scope) = open(&a.data, &a.tenant).await?;
    let old = key_by_prefix(store.as_ref(), scope, &a.tenant, &a.key).await?;
    let started = std::time::Instant::now();
    let next = store
        .rotate_api_key(scope, old.id, a.overlap_hours, Actor::Operator)
        .await?;
    let took = started.elapsed();
    let until = if a.overlap_hours == 0 {
        "it stopped working now".to_owned()
    } else {
        format!(
            "it works until {} (in {} h)",
            jiff::Timestamp::now() + jiff::SignedDuration::from_hours(a.overlap_hours.into()),
            a.overlap_hours
        )
    };
    eprintln!(
        "rotated {} in {:.1} ms: {until}; its successor {} follows and is shown only now:",
        old.prefix,
        took.as_secs_f64() * 1000.0,
        next.info.prefix
    );
    println!("{}", next.key.as_str());
    Ok(())
}
