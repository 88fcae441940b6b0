//! The command line. Every command that touches data takes `--data-dir DIR` (the demo's
//! layout: `DIR/frontdesk.db` and `DIR/master.key`) or `--config FILE`, the same way.

use anyhow::{Context, bail};
use clap::{Args, Parser, Subcommand};
use frontdesk_domain::{ClinicProfile, Clock, Email, Role, SystemClock, TenantSlug, WeeklyHours};
use frontdesk_server::{
    AppState, Application,
    config::{self, Config, LogFormat},
    demo,
    http::ChannelHub,
    mailer::Mailer,
    startup, telemetry, turn,
    worker::{Providers, Worker},
};
use frontdesk_store::{
    Channel, ChannelSecrets, NewPatient, NewUser, Provider, Store, crypto::MasterKey,
};
use secrecy::{ExposeSecret, SecretString};
use std::io::{BufRead, IsTerminal, Write};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;

mod api_keys;
mod calcom;
mod llm;
mod payments;
mod tenant_lifecycle;

#[derive(Parser)]
#[command(
    name = "frontdesk",
    version,
    about = "A self-hostable AI receptionist for clinics"
)]
pub struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Args, Clone, Default)]
struct DataArgs {
    /// Data directory in the demo layout (frontdesk.db + master.key). Default ./frontdesk-data.
    #[arg(long, value_name = "DIR", conflicts_with = "config")]
    data_dir: Option<PathBuf>,
    /// Configuration file (TOML); see docs/CONFIG.md.
    #[arg(long, value_name = "FILE")]
    config: Option<PathBuf>,
}

#[derive(Subcommand)]
enum Command {
    /// Run everything on this machine with SQLite and two seeded demo clinics.
    Demo {
        #[arg(long, value_name = "DIR", default_value = "./frontdesk-data")]
        data_dir: PathBuf,
        #[arg(long, default_value_t = 8080)]
        port: u16,
    },
    /// Run the server in production (refuses insecure settings).
    Serve(DataArgs),
    /// Apply database migrations (also done on start).
    Migrate(DataArgs),
    /// Talk to a clinic's receptionist in the terminal (reads lines from stdin).
    Chat {
        #[arg(long, value_name = "SLUG")]
        tenant: String,
        #[command(flatten)]
        data: DataArgs,
    },
    /// Run scripted conversations (YAML) against the demo clinics and report pass/fail,
    /// red-flag recall and false alarms. Uses a throwaway database; touches no real data.
    Eval {
        /// One or more YAML files (see crates/server/src/eval.rs for the format).
        #[arg(required = true)]
        files: Vec<PathBuf>,
        /// Print passing cases too.
        #[arg(long)]
        verbose: bool,
        /// The frozen "now" for the run (RFC 3339).
        #[arg(long, default_value = frontdesk_server::eval::DEFAULT_NOW)]
        now: String,
    },
    /// Manage clinics.
    #[command(subcommand)]
    Tenant(TenantCommand),
    /// Master key tools.
    #[command(subcommand)]
    Keys(KeysCommand),
    /// Messaging channels of a clinic.
    #[command(subcommand)]
    Channel(ChannelCommand),
    /// The audit log.
    #[command(subcommand)]
    Audit(AuditCommand),
    /// A clinic's keys to the REST API: create (secret shown once), list, revoke, rotate with
    /// an overlap. See docs/API.md.
    #[command(subcommand)]
    ApiKey(api_keys::ApiKeyCommand),
    /// A clinic's language model (docs/LANGUAGE_MODELS.md): set (API key from stdin only),
    /// show (never the key), disable.
    #[command(subcommand)]
    Llm(llm::LlmCommand),
    /// A clinic's payment provider for deposits (docs/INTEGRATIONS.md): Stripe Checkout or
    /// M-Pesa STK push. Secrets from stdin or FRONTDESK_PAYMENT_* variables, never shown.
    #[command(subcommand)]
    Payments(payments::PaymentsCommand),
    /// Cal.com as a clinic's calendar (docs/INTEGRATIONS.md): set (secrets from stdin or an
    /// environment variable only), map event types, show (never a secret), disable.
    #[command(subcommand)]
    Calcom(calcom::CalcomCommand),
    /// A patient's data requests: a copy of their data, or erasure.
    #[command(subcommand)]
    Patient(PatientCommand),
    /// Write a copy of everything one clinic holds here, as one JSON document for the clinic
    /// to take away: profile, practitioners, services, FAQs, red-flag rules, staff, channel
    /// accounts (no secret values), every patient's copy, the erasure ledger and the audit
    /// log. It holds patients' data (file mode 0600). Audited as the operator. Works for a
    /// clinic of any status. See docs/OPERATIONS.md.
    Export {
        /// The clinic's slug.
        #[arg(long, value_name = "SLUG")]
        tenant: String,
        /// The file to write (it must not exist yet). Default:
        /// `SLUG-export-YYYYMMDDTHHMMSSZ.json` in the current directory.
        #[arg(long, value_name = "FILE")]
        out: Option<PathBuf>,
        #[command(flatten)]
        data: DataArgs,
    },
    /// Take an encrypted backup of the whole database while it runs (SQLite `VACUUM INTO`,
    /// PostgreSQL `pg_dump`), with a manifest and checksums. See docs/OPERATIONS.md.
    Backup {
        /// The directory for the backup (default: `backups` next to the SQLite database).
        #[arg(long, value_name = "DIR")]
        out: Option<PathBuf>,
        #[command(flatten)]
        data: DataArgs,
    },
    /// Restore a backup (its `backup-….json` manifest): checks it, decrypts it, puts it in
    /// place, and erases again every patient erased since. Stop `serve` first.
    Restore {
        /// The backup's manifest.
        #[arg(long, value_name = "FILE")]
        from: PathBuf,
        /// Really replace the database (without it, the backup is only checked).
        #[arg(long)]
        yes: bool,
        #[command(flatten)]
        data: DataArgs,
    },
}

#[derive(Subcommand)]
enum PatientCommand {
    /// Write a copy of everything the clinic holds about one patient: JSON (`--out x.json`)
    /// or a readable page (`--out x.html`). Audited as the operator.
    Export(PatientExport),
    /// Erase one patient for good: their key is destroyed, their rows deleted, and the
    /// clinic's erasure ledger keeps ids and counts (a restore erases them again). Audited.
    Erase(PatientErase),
}

#[derive(clap::Args)]
struct PatientTarget {
    /// The clinic's slug.
    #[arg(long, value_name = "SLUG")]
    tenant: String,
    /// The patient's mobile number (international form).
    #[arg(
        long,
        value_name = "NUMBER",
        conflicts_with = "id",
        required_unless_present = "id"
    )]
    phone: Option<String>,
    /// The patient's id (as the dashboard shows it).
    #[arg(long, value_name = "UUID")]
    id: Option<String>,
}

#[derive(clap::Args)]
struct PatientExport {
    #[command(flatten)]
    target: PatientTarget,
    /// The file to write: `.json` or `.html` (it must not exist yet).
    #[arg(long, value_name = "FILE")]
    out: PathBuf,
    #[command(flatten)]
    data: DataArgs,
}

#[derive(clap::Args)]
struct PatientErase {
    #[command(flatten)]
    target: PatientTarget,
    /// Really erase (without it, nothing is changed).
    #[arg(long)]
    yes: bool,
    #[command(flatten)]
    data: DataArgs,
}

#[derive(Subcommand)]
enum AuditCommand {
    /// Check a clinic's audit chain (read-only): every entry's hash, its link to the entry
    /// before it, and the chain head. Exits non-zero if a chain is broken.
    Verify(AuditVerify),
    /// Which patients' information one staff member touched in a time window (from the audit
    /// log), for a breach notification: one line per patient, tab-separated.
    AccessReport(AccessReport),
    /// Signs the clinic's audit chain head now and prints the checkpoint (JSON) to keep
    /// outside this installation; `audit verify --checkpoint` later shows whether the chain
    /// was truncated or rewritten since. `serve` also takes one per clinic every day.
    Checkpoint {
        #[arg(long, value_name = "SLUG")]
        tenant: String,
        #[command(flatten)]
        data: DataArgs,
    },
    /// Prints the clinic's stored checkpoints, one JSON document per line, oldest first.
    Checkpoints {
        #[arg(long, value_name = "SLUG")]
        tenant: String,
        #[command(flatten)]
        data: DataArgs,
    },
}

#[derive(Args)]
struct AccessReport {
    /// The clinic's slug.
    #[arg(long, value_name = "SLUG")]
    tenant: String,
    /// The staff member's email address.
    #[arg(
        long,
        value_name = "EMAIL",
        required_unless_present = "api_key",
        conflicts_with = "api_key"
    )]
    user: Option<String>,
    /// Or an API key's prefix (`fdk_` and 12 characters): what an integration touched.
    #[arg(long, value_name = "PREFIX")]
    api_key: Option<String>,
    /// From this time (RFC 3339, e.g. 2026-12-01T00:00:00Z).
    #[arg(long, value_name = "TIME")]
    since: String,
    /// Until this time (default: now).
    #[arg(long, value_name = "TIME")]
    until: Option<String>,
    #[command(flatten)]
    data: DataArgs,
}

#[derive(Args)]
#[command(group(clap::ArgGroup::new("which").required(true).args(["tenant", "all"])))]
struct AuditVerify {
    /// The clinic's slug.
    #[arg(long, value_name = "SLUG")]
    tenant: Option<String>,
    /// Every clinic, active or not.
    #[arg(long)]
    all: bool,
    /// Also check a signed checkpoint kept elsewhere (from `audit checkpoint`): the chain
    /// must still hold its entry with its hash (repeatable; needs `--tenant`).
    #[arg(long = "checkpoint", value_name = "FILE", requires = "tenant")]
    checkpoints: Vec<PathBuf>,
    #[command(flatten)]
    data: DataArgs,
}

#[derive(Subcommand)]
enum ChannelCommand {
    /// Connect (or reconfigure) a clinic's provider account. Secrets are read from stdin as
    /// KEY=VALUE lines, never from the command line, and are write-only afterwards.
    /// whatsapp: app_secret, verify_token, access_token (address = phone_number_id);
    /// twilio: auth_token, with --setting account_sid=AC… (address = the number or MG… id);
    /// africastalking: api_key, callback_token, with --setting username=… (address = sender).
    Set(ChannelSet),
    /// Rotate one secret of a connected account. The new value is read from stdin (one line),
    /// or made here with --generate for the secrets we choose ourselves (verify_token,
    /// callback_token; printed once). The old value still verifies webhooks for --overlap-hours
    /// (default 24; 0 ends it at once, e.g. after a leak), so the provider can be updated
    /// without refused deliveries. Outbound calls use the new value at once.
    RotateSecret(ChannelRotate),
}

#[derive(Args)]
struct ChannelRotate {
    #[arg(long, value_name = "SLUG")]
    tenant: String,
    #[arg(long, value_parser = ["whatsapp", "twilio", "africastalking"])]
    provider: String,
    /// The secret's name (e.g. app_secret, auth_token, api_key).
    #[arg(long, value_name = "NAME")]
    secret: String,
    /// Hours the old value is still accepted on inbound webhooks (0 to 720).
    #[arg(long, value_name = "HOURS", default_value_t = 24, value_parser = clap::value_parser!(u32).range(0..=720))]
    overlap_hours: u32,
    /// Make a random value here and print it once (verify_token and callback_token only).
    #[arg(long)]
    generate: bool,
    #[command(flatten)]
    data: DataArgs,
}

#[derive(Args)]
struct ChannelSet {
    #[arg(long, value_name = "SLUG")]
    tenant: String,
    #[arg(long, value_parser = ["whatsapp", "twilio", "africastalking"])]
    provider: String,
    /// The provider address that routes to this clinic.
    #[arg(long)]
    address: String,
    /// A non-secret setting, KEY=VALUE (repeatable).
    #[arg(long = "setting", value_name = "KEY=VALUE")]
    settings: Vec<String>,
    #[command(flatten)]
    data: DataArgs,
}

#[derive(Subcommand)]
enum TenantCommand {
    /// Create a clinic.
    Create(Box<TenantCreate>),
    /// List clinics.
    List(DataArgs),
    /// Set the web origins whose pages may embed the website widget (replaces the list; none:
    /// the widget may not be embedded anywhere).
    WidgetOrigins {
        #[arg(value_name = "SLUG")]
        tenant: String,
        /// e.g. https://clinic.example (repeatable).
        #[arg(long = "origin")]
        origins: Vec<String>,
        #[command(flatten)]
        data: DataArgs,
    },
    /// Set how long a staff session may stay idle before it ends (5 to 720 minutes; default
    /// 30). Applies to sessions opened from now on.
    SessionIdle {
        #[arg(value_name = "SLUG")]
        tenant: String,
        #[arg(long)]
        minutes: u32,
        #[command(flatten)]
        data: DataArgs,
    },
    /// The kill switch: the receptionist answers every message of this clinic with a holding
    /// reply (red-flag advice still goes), alerts the staff and books nothing. Audited.
    PauseAi {
        #[arg(value_name = "SLUG")]
        tenant: String,
        #[command(flatten)]
        data: DataArgs,
    },
    /// Lets the receptionist answer again after `pause-ai`. Audited.
    ResumeAi {
        #[arg(value_name = "SLUG")]
        tenant: String,
        #[command(flatten)]
        data: DataArgs,
    },
    /// Ends a clinic's contract: from now on it takes no traffic (web chat, webhooks, calls,
    /// dashboard) and no background work is done for it; every staff session ends. The
    /// operator can still read and export it during the hold (`termination_hold_days`,
    /// default 30), after which `serve` purges it. Audited. Without --yes nothing changes.
    Terminate(TenantLifecycle),
    /// Undoes `terminate` during the hold: the clinic takes traffic again. Audited.
    Reinstate {
        #[arg(long, value_name = "SLUG")]
        tenant: String,
        #[command(flatten)]
        data: DataArgs,
    },
    /// Purges a terminated clinic now instead of waiting for `serve`'s daily pass: its
    /// recordings' audio and every row of it are deleted, its keys destroyed, and a deletion
    /// certificate is printed (and kept). Refused before the hold ends unless --now. Without
    /// --yes nothing changes.
    Purge {
        #[command(flatten)]
        target: TenantLifecycle,
        /// Purge even though the hold has not ended yet.
        #[arg(long)]
        now: bool,
    },
    /// Prints a purged clinic's deletion certificate (JSON), or writes it to a new file.
    Certificate {
        #[arg(long, value_name = "SLUG")]
        tenant: String,
        /// The file to write (it must not exist yet).
        #[arg(long, value_name = "FILE")]
        out: Option<PathBuf>,
        #[command(flatten)]
        data: DataArgs,
    },
    /// Ends every staff session of the clinic, or of one staff member (`--user`), at once.
    /// Audited.
    EndSessions {
        #[arg(value_name = "SLUG")]
        tenant: String,
        /// Only this staff member (their email address).
        #[arg(long, value_name = "EMAIL")]
        user: Option<String>,
        #[command(flatten)]
        data: DataArgs,
    },
}

#[derive(Args)]
struct TenantLifecycle {
    /// The clinic's slug.
    #[arg(long, value_name = "SLUG")]
    tenant: String,
    /// Really do it (without it, only says what would happen).
    #[arg(long)]
    yes: bool,
    #[command(flatten)]
    data: DataArgs,
}

#[derive(Args)]
struct TenantCreate {
    #[arg(long)]
    slug: String,
    #[arg(long)]
    name: String,
    /// IANA time zone, e.g. Pacific/Auckland.
    #[arg(long)]
    timezone: String,
    /// ISO country code, e.g. NZ.
    #[arg(long)]
    country: String,
    /// Emergency number(s), first given first, e.g. --emergency 999 --emergency 112.
    #[arg(long = "emergency", required = true)]
    emergency: Vec<String>,
    #[arg(long, default_value = "")]
    address: String,
    /// ISO currency, e.g. NZD.
    #[arg(long)]
    currency: String,
    /// Opening hours, e.g. "Mon-Fri 08:00-18:00; Sat 09:00-13:00".
    #[arg(long, default_value = "Mon-Fri 09:00-17:00")]
    hours: String,
    /// Languages, first is the default.
    #[arg(long = "language", default_values_t = vec!["en".to_owned()])]
    languages: Vec<String>,
    /// Privacy notice stated on first contact.
    #[arg(long)]
    privacy_notice: Option<String>,
    /// Cancellation policy stated when a patient books, moves or cancels (default: the
    /// clinic's FAQ answer about cancelling, else 24 hours' notice).
    #[arg(long)]
    cancellation_policy: Option<String>,
    /// Hours before an appointment its reminder is sent on the patient's channel (0: none).
    #[arg(long, default_value_t = frontdesk_domain::clinic::DEFAULT_REMINDER_HOURS)]
    reminder_hours: u32,
    /// Web origin whose pages may embed the website widget, e.g. https://clinic.example
    /// (repeatable; see `frontdesk tenant widget-origins`).
    #[arg(long = "widget-origin")]
    widget_origins: Vec<String>,
    /// Email of the clinic's Owner account.
    #[arg(long)]
    owner_email: Option<String>,
    #[arg(long, default_value = "Clinic owner")]
    owner_name: String,
    #[command(flatten)]
    data: DataArgs,
}

#[derive(Subcommand)]
enum KeysCommand {
    /// Print a new random master key (ID:BASE64), or write it to a private file.
    Generate {
        #[arg(long, default_value = "k1")]
        id: String,
        #[arg(long, value_name = "FILE")]
        out: Option<PathBuf>,
    },
    /// After making a new master key active (the old one moved to `retired_master_keys`):
    /// re-wraps every clinic's keys with the active key, so the retired key can be removed
    /// (keep it while any backup still names it). Audited per clinic.
    Rewrap(DataArgs),
    /// Rotate a clinic's data key: a new version is added now, seals new data within two
    /// minutes, and `serve` re-encrypts what the old version protects in the background and
    /// then destroys it (or run `keys reencrypt`). Everything stays readable throughout.
    RotateTenant {
        #[arg(long, value_name = "SLUG")]
        tenant: String,
        #[command(flatten)]
        data: DataArgs,
    },
    /// Where a clinic's data key rotation stands.
    Status {
        #[arg(long, value_name = "SLUG")]
        tenant: String,
        #[command(flatten)]
        data: DataArgs,
    },
    /// Re-encrypt a rotated clinic's data here and now, with progress, instead of waiting for
    /// `serve` (which does the same in the background).
    Reencrypt {
        #[arg(long, value_name = "SLUG")]
        tenant: String,
        #[command(flatten)]
        data: DataArgs,
    },
}

pub async fn run(cli: Cli) -> anyhow::Result<()> {
    match cli.command {
        Command::Demo { data_dir, port } => demo_cmd(&data_dir, port).await,
        Command::Serve(data) => serve_cmd(&data).await,
        Command::Migrate(data) => {
            let cfg = resolve(&data, LogFormat::Pretty, "warn")?;
            let report = frontdesk_store::migrate(&cfg.database()?)
                .await
                .context("migration failed")?;
            println!(
                "{}: {} migration(s) applied, schema up to date",
                report.engine, report.applied
            );
            Ok(())
        }
        Command::Chat { tenant, data } => chat_cmd(&tenant, &data).await,
        Command::Eval {
            files,
            verbose,
            now,
        } => eval_cmd(&files, verbose, &now).await,
        Command::Tenant(TenantCommand::Create(args)) => tenant_create(*args).await,
        Command::Tenant(TenantCommand::WidgetOrigins {
            tenant,
            origins,
            data,
        }) => widget_origins(&tenant, &origins, &data).await,
        Command::Tenant(TenantCommand::SessionIdle {
            tenant,
            minutes,
            data,
        }) => session_idle(&tenant, minutes, &data).await,
        Command::Tenant(TenantCommand::PauseAi { tenant, data }) => {
            pause_ai(&tenant, true, &data).await
        }
        Command::Tenant(TenantCommand::ResumeAi { tenant, data }) => {
            pause_ai(&tenant, false, &data).await
        }
        Command::Tenant(TenantCommand::EndSessions { tenant, user, data }) => {
            end_sessions(&tenant, user.as_deref(), &data).await
        }
        Command::Tenant(TenantCommand::List(data)) => tenant_lifecycle::list(&data).await,
        Command::Tenant(TenantCommand::Terminate(a)) => tenant_lifecycle::terminate(a).await,
        Command::Tenant(TenantCommand::Reinstate { tenant, data }) => {
            tenant_lifecycle::reinstate(&tenant, &data).await
        }
        Command::Tenant(TenantCommand::Purge { target, now }) => {
            tenant_lifecycle::purge(target, now).await
        }
        Command::Tenant(TenantCommand::Certificate { tenant, out, data }) => {
            tenant_lifecycle::certificate(&tenant, out.as_deref(), &data).await
        }
        Command::Channel(ChannelCommand::Set(args)) => channel_set(args).await,
        Command::Channel(ChannelCommand::RotateSecret(args)) => channel_rotate(args).await,
        Command::Audit(AuditCommand::Verify(args)) => audit_verify(args).await,
        Command::Audit(AuditCommand::AccessReport(args)) => access_report(args).await,
        Command::ApiKey(cmd) => api_keys::run(cmd).await,
        Command::Llm(cmd) => llm::run(cmd).await,
        Command::Payments(cmd) => payments::run(cmd).await,
        Command::Calcom(cmd) => calcom::run(cmd).await,
        Command::Audit(AuditCommand::Checkpoint { tenant, data }) => {
            let store = open_store(&resolve(&data, LogFormat::Pretty, "warn")?).await?;
            let scope = clinic_scope(store.as_ref(), &tenant).await?;
            let cp = store.take_audit_checkpoint(scope).await?;
            println!("{}", cp.to_json());
            Ok(())
        }
        Command::Audit(AuditCommand::Checkpoints { tenant, data }) => {
            let store = open_store(&resolve(&data, LogFormat::Pretty, "warn")?).await?;
            let scope = clinic_scope(store.as_ref(), &tenant).await?;
            for cp in store.audit_checkpoints(scope, 10_000).await? {
                println!("{}", cp.to_json());
            }
            Ok(())
        }
        Command::Export { tenant, out, data } => export_cmd(&tenant, out, &data).await,
        Command::Backup { out, data } => backup_cmd(out, &data).await,
        Command::Restore { from, yes, data } => restore_cmd(&from, yes, &data).await,
        Command::Patient(PatientCommand::Export(args)) => patient_export(args).await,
        Command::Patient(PatientCommand::Erase(args)) => patient_erase(args).await,
        Command::Keys(KeysCommand::Rewrap(data)) => keys_rewrap(&data).await,
        Command::Keys(KeysCommand::RotateTenant { tenant, data }) => {
            rotate_tenant_key(&tenant, &data).await
        }
        Command::Keys(KeysCommand::Status { tenant, data }) => key_status(&tenant, &data).await,
        Command::Keys(KeysCommand::Reencrypt { tenant, data }) => reencrypt(&tenant, &data).await,
        Command::Keys(KeysCommand::Generate { id, out }) => {
            let key = MasterKey::generate(&id);
            match out {
                Some(path) => {
                    write_private(&path, key.export().as_str())?;
                    println!(
                        "wrote a new master key `{id}` to {} (mode 0600)",
                        path.display()
                    );
                }
                None => println!("{}", key.export().as_str()),
            }
            Ok(())
        }
    }
}

/// Loads the configuration; without `--config`, fills in the `--data-dir` layout.
fn resolve(data: &DataArgs, log_format: LogFormat, log_level: &str) -> anyhow::Result<Config> {
    let loaded = config::load(data.config.as_deref(), std::env::vars())?;
    let mut cfg = loaded.config;
    telemetry::init_logs(
        if data.config.is_some() {
            cfg.log_format
        } else {
            log_format
        },
        if data.config.is_some() {
            &cfg.log_level
        } else {
            log_level
        },
    );
    for w in &loaded.warnings {
        tracing::warn!("{w}");
    }
    if data.config.is_none() {
        let dir = data
            .data_dir
            .clone()
            .unwrap_or_else(|| PathBuf::from("./frontdesk-data"));
        if cfg.database_url.is_none() {
            cfg.database_url = Some(SecretString::from(format!(
                "sqlite://{}",
                dir.join("frontdesk.db").display()
            )));
        }
        let key_file = dir.join("master.key");
        if cfg.master_key.is_none() && key_file.exists() {
            cfg.master_key = Some(config::read_key_file(&key_file)?);
        }
    }
    Ok(cfg)
}

async fn open_store(cfg: &Config) -> anyhow::Result<Arc<dyn Store>> {
    let db = cfg.database()?;
    frontdesk_store::migrate(&db)
        .await
        .context("migration failed")?;
    let opened = frontdesk_store::open(&db, cfg.keyring()?, Arc::new(SystemClock))
        .await
        .context("could not open the database")?;
    Ok(opened.store)
}

fn write_private(path: &Path, content: &str) -> anyhow::Result<()> {
    use std::os::unix::fs::OpenOptionsExt;
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
        .with_context(|| format!("could not create {}", path.display()))?;
    f.write_all(content.as_bytes())?;
    f.write_all(b"\n")?;
    f.sync_all()?;
    Ok(())
}

/// A SQLite database is served by one process (see
/// [`frontdesk_store::SqliteStore::lock_for_serving`]): the lock is held while the returned file
/// lives. PostgreSQL needs none.
fn lock_sqlite_for_serving(url: &str) -> anyhow::Result<Option<std::fs::File>> {
    if !url.starts_with("sqlite:") {
        return Ok(None);
    }
    frontdesk_store::SqliteStore::lock_for_serving(url).map_err(|e| match e.kind() {
        std::io::ErrorKind::WouldBlock => anyhow::anyhow!("refusing to start: {e}"),
        _ => anyhow::Error::new(e).context("could not lock the SQLite database for serving"),
    })
}

async fn demo_cmd(data_dir: &Path, port: u16) -> anyhow::Result<()> {
    {
        use std::os::unix::fs::DirBuilderExt;
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(data_dir)
            .with_context(|| format!("could not create {}", data_dir.display()))?;
    }
    let key_file = data_dir.join("master.key");
    if !key_file.exists() {
        write_private(&key_file, MasterKey::generate("demo1").export().as_str())?;
        println!(
            "Generated a new master key in {} (mode 0600).",
            key_file.display()
        );
        println!("Keep it with the data: without it the demo's encrypted data cannot be read.");
    }
    let data = DataArgs {
        data_dir: Some(data_dir.to_owned()),
        config: None,
    };
    let mut cfg = resolve(&data, LogFormat::Pretty, "info")?;
    // The demo is always its own SQLite file and key on loopback, whatever the environment
    // or a frontdesk.toml in this directory say (those are for `serve`).
    cfg.database_url = Some(SecretString::from(format!(
        "sqlite://{}",
        data_dir.join("frontdesk.db").display()
    )));
    cfg.master_key = Some(config::read_key_file(&key_file)?);
    cfg.listen = SocketAddr::from(([127, 0, 0, 1], port));
    // Providers are the demo server's own stand-in: nothing leaves this machine.
    let sink = format!("http://127.0.0.1:{port}/dev/provider");
    cfg.whatsapp_api_base = sink.clone();
    cfg.twilio_api_base = sink.clone();
    cfg.africastalking_api_base = sink;
    cfg.public_url = None;
    let _serving = lock_sqlite_for_serving(&cfg.database()?.url)?;
    let store = open_store(&cfg).await?;
    for slug in demo::seed(store.as_ref()).await? {
        println!("Seeded demo clinic `{slug}`.");
    }
    demo::channels::seed(store.as_ref()).await?;
    demo::staff::seed(store.as_ref()).await?;
    // An owner per demo clinic, so staff alerts have someone to go to (the dev email file).
    for d in &demo::DEMO_CLINICS {
        let scope = store.operator_scope(&TenantSlug::parse(d.slug)?).await?;
        let email = Email::parse(&format!("owner@{}.example", d.slug))?;
        if store.find_user_by_email(scope, &email).await?.is_none() {
            let owner = NewUser {
                email,
                name: "Demo owner".into(),
                role: Role::Owner,
            };
            store.create_user(scope, &owner).await?;
        }
    }
    let dev_outbox = data_dir.join("dev-outbox.jsonl");
    let app = build_app(&cfg, store, Some(dev_outbox.clone())).await?;
    let shutdown = startup::shutdown_signal();
    let base = format!("http://{}", app.local_addr());
    println!(
        "\nfrontdesk demo is running at {base}  (data in {})",
        data_dir.display()
    );
    for d in &demo::DEMO_CLINICS {
        println!("  chat with {:<24} {base}/chat/{}", d.slug, d.slug);
    }
    println!(
        "  or in the terminal:  cargo run --release -- chat --tenant harbour-physio --data-dir {}",
        data_dir.display()
    );
    println!("  or with curl:        curl -s -X POST {base}/v1/webchat/harbour-physio/sessions");
    println!(
        "\nThe website widget of harbour-physio, on a page of your own served from localhost:\n  \
         mkdir -p site && echo '<script src=\"{base}/widget.js\" data-clinic=\"harbour-physio\" defer></script>' \
         > site/index.html && python3 -m http.server -d site 8000   # then open http://localhost:8000"
    );
    println!(
        "\nA signed WhatsApp webhook for {} (send it twice: the copy is ignored):\n  {}",
        demo::channels::WHATSAPP_CLINIC,
        demo::channels::whatsapp_curl(&base)
    );
    println!(
        "Replies (and the codes web chat texts to verify a visitor's phone) go to a stand-in \
         provider and are written to {}",
        dev_outbox.display()
    );
    println!(
        "Staff alerts (red flags, hand-offs) are emailed to {}",
        dev_outbox.with_file_name("dev-email.txt").display()
    );
    println!(
        "\nThe staff dashboard: open {base}/dashboard/login?clinic={} and sign in as {}; the \
         sign-in link arrives in the same email file (open it in the same browser).",
        demo::staff::CLINIC,
        demo::staff::EMAIL
    );
    println!("Press Ctrl-C to stop.");
    app.run(shutdown).await?;
    println!("frontdesk demo stopped.");
    Ok(())
}

async fn build_app(
    cfg: &Config,
    store: Arc<dyn Store>,
    dev_outbox: Option<PathBuf>,
) -> anyhow::Result<Application> {
    let clock: Arc<dyn frontdesk_domain::Clock> = Arc::new(SystemClock);
    let payments = Arc::new(
        frontdesk_server::payments::PaymentClients::new(
            &cfg.stripe_api_base,
            cfg.public_base(),
            std::time::Duration::from_secs(cfg.provider_timeout_seconds.clamp(1, 60)),
        )
        .context("could not set up the payment provider clients")?,
    );
    let hub = Arc::new(ChannelHub {
        public_base: cfg.public_base(),
        wake: Default::default(),
        dev_outbox: dev_outbox.clone(),
        models: Default::default(),
        payments: Some(payments.clone()),
    });
    let mailer = match (&dev_outbox, &cfg.smtp_url) {
        (Some(outbox), _) => {
            Mailer::dev_file(outbox.with_file_name("dev-email.txt"), &cfg.email_from)
        }
        (None, Some(url)) => Mailer::smtp(url.expose_secret(), &cfg.email_from),
        (None, None) => Ok(Mailer::Disabled),
    }
    .context("the email settings (smtp_url, email_from) are not usable")?;
    // Sign-in links point at the public URL; without one, only a loopback listener (the demo,
    // a laptop) is a safe address to put in an email. Never a request's Host header.
    let link_base = cfg.public_base().or_else(|| {
        cfg.listen
            .ip()
            .is_loopback()
            .then(|| format!("http://{}", cfg.listen))
    });
    if link_base.is_none() {
        tracing::warn!("no public_url configured: staff sign-in links cannot be emailed");
    }
    let blobs = frontdesk_server::blobs::blob_store(cfg)
        .context("the call recordings storage settings are not usable")?;
    let state = AppState {
        store: store.clone(),
        clock: clock.clone(),
        webchat_ttl: cfg.webchat_ttl(),
        metrics: telemetry::metrics_handle(),
        channels: hub.clone(),
        dashboard: Arc::new(frontdesk_server::http::dashboard::Dashboard {
            mailer: mailer.clone(),
            link_base,
            blobs: Some(blobs.clone()),
            staff_hold: cfg.staff_hold(),
            trusted_proxies: cfg.trusted_proxies()?,
            webhook_policy: cfg.webhook_policy()?,
            ..Default::default()
        }),
    };
    let mut app = Application::build(state, cfg.listen)
        .await
        .with_context(|| format!("could not listen on {}", cfg.listen))?;
    if let Some((cert, key)) = cfg.tls_files()? {
        let tls = frontdesk_server::tls::Tls::load(cert, key)?;
        tls.reload_on_sighup();
        app = app.with_tls(tls);
    }
    if !cfg.workers {
        return Ok(app);
    }
    let providers = Providers::from_config(cfg).context("could not set up the provider clients")?;
    let worker = Worker::new(
        store,
        clock,
        providers,
        mailer,
        hub.wake.clone(),
        cfg.outbound_per_second,
    )
    .with_blobs(blobs)
    .with_payments(payments)
    .with_models(hub.models.clone())
    .with_job_lease(cfg.job_lease())
    .with_termination_hold(cfg.termination_hold())
    .with_retention_pause(cfg.retention_pause())
    .with_webhooks(
        frontdesk_server::outbound::WebhookClient::new(cfg.webhook_policy()?)
            .context("could not build the outbound webhook client")?,
    );
    Ok(app.with_worker(worker))
}

async fn serve_cmd(data: &DataArgs) -> anyhow::Result<()> {
    let cfg = resolve(data, LogFormat::Json, "info")?;
    let problems = cfg.production_problems();
    if !problems.is_empty() {
        bail!("refusing to start: {}", problems.join("; "));
    }
    let db = cfg.database()?;
    let _serving = lock_sqlite_for_serving(&db.url)?;
    frontdesk_store::migrate(&db)
        .await
        .context("migration failed")?;
    let opened = frontdesk_store::open(&db, cfg.keyring()?, Arc::new(SystemClock))
        .await
        .context("could not open the database")?;
    if !opened.insecure_role.is_empty() {
        bail!(
            "refusing to start: {}. Connect as a dedicated application role (see docs/CONFIG.md).",
            opened.insecure_role.join("; ")
        );
    }
    if let Some(dir) = cfg.backup_dir.clone() {
        let every =
            std::time::Duration::from_secs(u64::from(cfg.backup_every_hours.clamp(1, 168)) * 3600);
        tokio::spawn(frontdesk_server::backup::schedule(
            frontdesk_server::backup::target(&cfg)?,
            cfg.keyring()?,
            opened.store.clone(),
            dir,
            cfg.backup_keep.max(1) as usize,
            every,
        ));
    }
    let app = build_app(&cfg, opened.store, None).await?;
    let shutdown = startup::shutdown_signal();
    tracing::info!(addr = %app.local_addr(), "frontdesk serving");
    app.run(shutdown).await?;
    tracing::info!("frontdesk stopped");
    Ok(())
}

async fn keys_rewrap(data: &DataArgs) -> anyhow::Result<()> {
    let cfg = resolve(data, LogFormat::Pretty, "warn")?;
    let active = cfg.keyring()?.active_id().to_owned();
    let store = open_store(&cfg).await?;
    let started = std::time::Instant::now();
    // A purged clinic's keys are destroyed: nothing to re-wrap.
    let mut tenants = store.list_tenants().await?;
    tenants.retain(|t| t.purged_at.is_none() && t.status != "purging");
    let (mut keys, mut clinics) = (0u64, 0u64);
    let mut progress = frontdesk_server::progress::Progress::stderr("re-wrapping", "clinics");
    for (n, t) in tenants.iter().enumerate() {
        let scope = store.operator_scope(&t.slug).await?;
        let done = store
            .rewrap_tenant_keys(scope, frontdesk_store::Actor::Operator)
            .await
            .with_context(|| format!("could not re-wrap the keys of `{}`", t.slug))?;
        if done > 0 {
            keys += u64::from(done);
            clinics += 1;
        }
        progress.update(n as u64 + 1, tenants.len() as u64);
    }
    progress.finish();
    println!(
        "re-wrapped {keys} key(s) of {clinics} of {} clinic(s) with master key `{active}` in {:.2} s; \
         a retired master key can now be removed unless a backup still names it",
        tenants.len(),
        started.elapsed().as_secs_f64()
    );
    Ok(())
}

async fn rotate_tenant_key(slug: &str, data: &DataArgs) -> anyhow::Result<()> {
    let store = open_store(&resolve(data, LogFormat::Pretty, "warn")?).await?;
    let scope = clinic_scope(store.as_ref(), slug).await?;
    let started = std::time::Instant::now();
    let version = store
        .rotate_tenant_key(scope, frontdesk_store::Actor::Operator)
        .await
        .with_context(|| format!("could not rotate the data key of `{slug}`"))?;
    println!(
        "added data key version {version} of `{slug}` in {} ms; it seals new data within {} s, \
         and `serve` re-encrypts the rest in the background from {} s on (or run `frontdesk keys \
         reencrypt --tenant {slug}`); `frontdesk keys status --tenant {slug}` shows progress",
        started.elapsed().as_millis(),
        frontdesk_store::SEAL_WITH_NEW_AFTER.as_secs(),
        frontdesk_store::REENCRYPT_AFTER.as_secs(),
    );
    Ok(())
}

async fn key_status(slug: &str, data: &DataArgs) -> anyhow::Result<()> {
    let store = open_store(&resolve(data, LogFormat::Pretty, "warn")?).await?;
    let scope = clinic_scope(store.as_ref(), slug).await?;
    let s = store.tenant_key_status(scope).await?;
    let versions: Vec<String> = s.versions.iter().map(i32::to_string).collect();
    println!(
        "`{slug}`: data key version(s) {} live, version {} seals",
        versions.join(", "),
        s.sealing
    );
    let total = s.patient_keys_left + s.patient_keys_done;
    match s.reencrypt_from {
        Some(from) => println!(
            "rotation under way: {} of {total} patient key(s) re-encrypted; re-encryption starts at {from}",
            s.patient_keys_done
        ),
        None => println!("no rotation under way ({total} patient key(s))"),
    }
    Ok(())
}

async fn reencrypt(slug: &str, data: &DataArgs) -> anyhow::Result<()> {
    let cfg = resolve(data, LogFormat::Pretty, "warn")?;
    let store = open_store(&cfg).await?;
    let scope = clinic_scope(store.as_ref(), slug).await?;
    let started = std::time::Instant::now();
    let total = {
        let s = store.tenant_key_status(scope).await?;
        s.patient_keys_left + s.patient_keys_done
    };
    let mut bar = frontdesk_server::progress::Progress::stderr("re-encrypting", "patient keys");
    let (mut moved, mut waited) = (0u64, false);
    loop {
        let b = store.reencrypt_tenant_batch(scope, 500).await?;
        moved += b.reencrypted;
        if let Some(until) = b.wait_until {
            if !waited {
                eprintln!(
                    "waiting until {until} so that every running instance seals with the new version"
                );
                waited = true;
            }
            tokio::time::sleep(std::time::Duration::from_secs(1)).await;
            continue;
        }
        bar.update(total - b.left, total);
        if !b.destroyed.is_empty() {
            bar.finish();
            let v: Vec<String> = b.destroyed.iter().map(i32::to_string).collect();
            println!(
                "re-encrypted {moved} value(s) of `{slug}` in {:.2} s; old data key version(s) {} destroyed",
                started.elapsed().as_secs_f64(),
                v.join(", ")
            );
            return Ok(());
        }
        if b.reencrypted == 0 && b.left == 0 {
            println!("`{slug}` has no rotation under way: nothing to re-encrypt");
            return Ok(());
        }
    }
}

/// Sets the clinic's kill switch and says what changed.
async fn pause_ai(slug: &str, paused: bool, data: &DataArgs) -> anyhow::Result<()> {
    let store = open_store(&resolve(data, LogFormat::Pretty, "warn")?).await?;
    let scope = clinic_scope(store.as_ref(), slug).await?;
    let changed = store
        .set_ai_paused(scope, paused, frontdesk_store::Actor::Operator)
        .await?;
    let state = if paused {
        "paused: every message gets a holding reply and alerts the staff"
    } else {
        "answering"
    };
    if changed {
        println!("the receptionist of `{slug}` is now {state}");
    } else {
        println!("the receptionist of `{slug}` was already {state}");
    }
    Ok(())
}

/// The staff member of the clinic with this email address.
async fn staff_by_email(
    store: &dyn Store,
    scope: frontdesk_store::TenantScope,
    email: &str,
) -> anyhow::Result<frontdesk_domain::UserId> {
    let email = frontdesk_domain::Email::parse(email)?;
    Ok(store
        .find_user_by_email(scope, &email)
        .await?
        .context("no staff member of this clinic has that address")?
        .id)
}

async fn end_sessions(slug: &str, user: Option<&str>, data: &DataArgs) -> anyhow::Result<()> {
    let store = open_store(&resolve(data, LogFormat::Pretty, "warn")?).await?;
    let scope = clinic_scope(store.as_ref(), slug).await?;
    let actor = frontdesk_store::Actor::Operator;
    let ended = match user {
        Some(email) => {
            let id = staff_by_email(store.as_ref(), scope, email).await?;
            store.end_all_sessions(scope, id, actor).await?
        }
        None => store.end_clinic_sessions(scope, actor).await?,
    };
    println!("ended {ended} live session(s) of `{slug}`; unused sign-in links no longer work");
    Ok(())
}

fn parse_time(raw: &str, flag: &str) -> anyhow::Result<jiff::Timestamp> {
    raw.parse()
        .with_context(|| format!("{flag} takes a time like 2026-12-01T00:00:00Z"))
}

async fn access_report(a: AccessReport) -> anyhow::Result<()> {
    let from = parse_time(&a.since, "--since")?;
    let to = match &a.until {
        Some(t) => parse_time(t, "--until")?,
        None => jiff::Timestamp::now(),
    };
    if to <= from {
        bail!("--until must be after --since");
    }
    let store = open_store(&resolve(&a.data, LogFormat::Pretty, "warn")?).await?;
    let scope = clinic_scope(store.as_ref(), &a.tenant).await?;
    let (actor_id, who) = match (&a.user, &a.api_key) {
        (Some(email), _) => (
            staff_by_email(store.as_ref(), scope, email)
                .await?
                .to_string(),
            email.clone(),
        ),
        (None, Some(prefix)) => {
            let key = api_keys::key_by_prefix(store.as_ref(), scope, &a.tenant, prefix).await?;
            (key.id.to_string(), format!("API key {}", key.prefix))
        }
        (None, None) => bail!("give --user EMAIL or --api-key PREFIX"),
    };
    let records = store.access_report(scope, &actor_id, from, to).await?;
    println!("patient_id\tname\tphone\tentries\tfirst\tlast\tactions");
    for r in &records {
        let (id, name, phone) = match r.patient {
            Some(p) => match store.patient(scope, p).await {
                Ok(pt) => (
                    p.to_string(),
                    pt.name.unwrap_or_default(),
                    pt.phone.map(|x| x.as_str().to_owned()).unwrap_or_default(),
                ),
                Err(_) => (p.to_string(), String::new(), String::new()),
            },
            None => (
                format!("(gone: {} {})", r.target_kind, r.target_id),
                String::new(),
                String::new(),
            ),
        };
        println!(
            "{id}\t{name}\t{phone}\t{}\t{}\t{}\t{}",
            r.entries,
            r.first,
            r.last,
            r.actions.join(",")
        );
    }
    eprintln!(
        "{} patient(s) touched by {} in `{}` from {from} to {to}",
        records.len(),
        who,
        a.tenant
    );
    Ok(())
}

/// Prints `what 42% (12.3 of 29.0 MB)` over itself on stderr.
/// Progress over bytes, on stderr (backup and restore).
fn progress_bar(what: &'static str) -> impl FnMut(u64, u64) {
    let mut last = u64::MAX;
    move |done: u64, total: u64| {
        let pct = (done * 100).checked_div(total).unwrap_or(100);
        if pct != last {
            last = pct;
            let mb = |b: u64| b as f64 / 1_000_000.0;
            eprint!(
                "\r{what} {pct:>3}% ({:.1} of {:.1} MB)",
                mb(done),
                mb(total)
            );
            if done >= total {
                eprintln!();
            }
        }
    }
}

async fn backup_cmd(out: Option<PathBuf>, data: &DataArgs) -> anyhow::Result<()> {
    let cfg = resolve(data, LogFormat::Pretty, "warn")?;
    let target = frontdesk_server::backup::target(&cfg)?;
    let dir = match (out, &target) {
        (Some(d), _) => d,
        (None, frontdesk_server::backup::Target::Sqlite(db)) => db
            .parent()
            .map_or_else(|| PathBuf::from("backups"), |p| p.join("backups")),
        (None, _) => bail!("say where the backup goes: --out DIR"),
    };
    let store = open_store(&cfg).await?;
    let erased = frontdesk_server::backup::erasures(store.as_ref()).await?;
    let started = std::time::Instant::now();
    let m = frontdesk_server::backup::backup(
        &target,
        &cfg.keyring()?,
        erased,
        &dir,
        &mut progress_bar("encrypting"),
    )
    .await?;
    println!(
        "backup {} written to {} in {:.1} s: {} bytes of {} data, encrypted with a key wrapped by `{}`; manifest backup-{}.json",
        m.id,
        dir.display(),
        started.elapsed().as_secs_f64(),
        m.plaintext_bytes,
        m.engine,
        m.key_id,
        m.id
    );
    Ok(())
}

async fn restore_cmd(from: &Path, yes: bool, data: &DataArgs) -> anyhow::Result<()> {
    let cfg = resolve(data, LogFormat::Pretty, "warn")?;
    let target = frontdesk_server::backup::target(&cfg)?;
    let manifest = frontdesk_server::backup::read_manifest(from)?;
    if !yes {
        println!(
            "backup {} ({} database of {} bytes, taken {}) looks complete; run again with --yes to replace the configured database with it",
            manifest.id, manifest.engine, manifest.plaintext_bytes, manifest.created_at
        );
        return Ok(());
    }
    let started = std::time::Instant::now();
    // Erasures made since the backup: in the database being replaced, and in other backups.
    let (mut erased, purged) = match open_store(&cfg).await {
        Ok(store) => (
            frontdesk_server::backup::erasures(store.as_ref())
                .await
                .unwrap_or_default(),
            tenant_lifecycle::purged_clinics(store.as_ref()).await,
        ),
        Err(_) => (Vec::new(), Vec::new()),
    };
    erased.extend(frontdesk_server::backup::erased_in_dir(
        from.parent().unwrap_or(Path::new(".")),
    ));
    let m = frontdesk_server::backup::restore(
        from,
        &target,
        &cfg.keyring()?,
        &mut progress_bar("decrypting"),
    )
    .await?;
    let store = open_store(&cfg).await?;
    let tenants = store.list_tenants().await?;
    let mut again = 0;
    erased.sort_by(|a, b| (&a.tenant, &a.patient).cmp(&(&b.tenant, &b.patient)));
    erased.dedup();
    for e in &erased {
        let Some(t) = tenants.iter().find(|t| t.id.to_string() == e.tenant) else {
            continue;
        };
        let Ok(patient) = frontdesk_domain::PatientId::parse(&e.patient) else {
            continue;
        };
        let scope = store.operator_scope(&t.slug).await?;
        match store
            .erase_patient(scope, patient, frontdesk_store::Actor::Operator)
            .await
        {
            Ok(_) => again += 1,
            Err(frontdesk_store::StoreError::NotFound) => {}
            Err(e) => return Err(e).context("could not erase a patient again after the restore"),
        }
    }
    let purged_again = tenant_lifecycle::purge_again(&cfg, store.as_ref(), &purged).await?;
    println!(
        "restored backup {} ({} bytes) in {:.1} s; erased again {again} patient(s) erased after it was taken; \
         purged again {purged_again} clinic(s) purged after it was taken",
        m.id,
        m.plaintext_bytes,
        started.elapsed().as_secs_f64()
    );
    Ok(())
}

/// The clinic's scope and the patient named by `--phone` or `--id`.
async fn patient_target(
    store: &dyn Store,
    t: &PatientTarget,
) -> anyhow::Result<(frontdesk_store::TenantScope, frontdesk_domain::PatientId)> {
    let scope = clinic_scope(store, &t.tenant).await?;
    let id = match (&t.phone, &t.id) {
        (_, Some(id)) => frontdesk_domain::PatientId::parse(id.trim())
            .map_err(|_| anyhow::anyhow!("`{id}` is not a patient id"))?,
        (Some(phone), None) => {
            let phone = frontdesk_domain::E164Phone::parse(phone)?;
            store
                .find_patient_by_phone(scope, &phone)
                .await?
                .with_context(|| format!("no patient of `{}` has that number", t.tenant))?
                .id
        }
        (None, None) => bail!("name the patient with --phone or --id"),
    };
    Ok((scope, id))
}

async fn patient_export(a: PatientExport) -> anyhow::Result<()> {
    let format = match a.out.extension().and_then(|e| e.to_str()) {
        Some("json") => "json",
        Some("html") => "html",
        _ => bail!("--out must end in .json or .html"),
    };
    if a.out.exists() {
        bail!("{} exists already; choose a new file", a.out.display());
    }
    let cfg = resolve(&a.data, LogFormat::Pretty, "warn")?;
    let store = open_store(&cfg).await?;
    let (scope, id) = patient_target(store.as_ref(), &a.target).await?;
    let copy = frontdesk_server::data_requests::export_patient(
        store.as_ref(),
        scope,
        id,
        frontdesk_store::Actor::Operator,
        format,
    )
    .await
    .map_err(|e| match e {
        frontdesk_store::StoreError::NotFound => anyhow::anyhow!("no such patient"),
        e => e.into(),
    })?;
    let body = if format == "json" {
        serde_json::to_string_pretty(&copy.json)?
    } else {
        copy.html()?
    };
    // Created new (never overwriting), readable by its owner only: it is a patient's data.
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let mut file = options
        .open(&a.out)
        .with_context(|| format!("could not create {}", a.out.display()))?;
    std::io::Write::write_all(&mut file, body.as_bytes())?;
    file.sync_all()?;
    println!(
        "wrote the copy of patient {id} to {} ({} bytes); recorded in the audit log",
        a.out.display(),
        body.len()
    );
    Ok(())
}

async fn export_cmd(slug: &str, out: Option<PathBuf>, data: &DataArgs) -> anyhow::Result<()> {
    use frontdesk_server::clinic_export;
    let parsed = TenantSlug::parse(slug)?;
    let out = out.unwrap_or_else(|| {
        PathBuf::from(clinic_export::default_file_name(
            &parsed,
            jiff::Timestamp::now(),
        ))
    });
    if out.symlink_metadata().is_ok() {
        bail!("{} exists already; choose a new file", out.display());
    }
    let cfg = resolve(data, LogFormat::Pretty, "warn")?;
    let store = open_store(&cfg).await?;
    let scope = clinic_scope(store.as_ref(), slug).await?;
    let started = std::time::Instant::now();
    let mut bar =
        frontdesk_server::progress::Progress::stderr(format!("exporting {slug}"), "patients");
    let done = clinic_export::export_clinic(store.as_ref(), scope, &out, &mut |n, total| {
        bar.update(n, total)
    })
    .await;
    bar.finish();
    let e = done.with_context(|| format!("the export of `{slug}` failed; no file was written"))?;
    let c = e.counts;
    println!(
        "wrote the export of `{slug}` to {} ({} bytes) in {:.1} s: {} patients, {} conversations, \
         {} messages, {} appointments, {} audit entries; recorded in the audit log",
        e.path.display(),
        e.bytes,
        started.elapsed().as_secs_f64(),
        c.patients,
        c.conversations,
        c.messages,
        c.appointments,
        c.audit_entries
    );
    println!(
        "the file holds patients' personal data: hand it over encrypted and delete it here once delivered"
    );
    Ok(())
}

async fn patient_erase(a: PatientErase) -> anyhow::Result<()> {
    let cfg = resolve(&a.data, LogFormat::Pretty, "warn")?;
    let store = open_store(&cfg).await?;
    let (scope, id) = patient_target(store.as_ref(), &a.target).await?;
    if !a.yes {
        println!(
            "would erase patient {id} of `{}` for good; run again with --yes to do it",
            a.target.tenant
        );
        return Ok(());
    }
    let blobs = frontdesk_server::blobs::blob_store(&cfg).ok();
    let started = std::time::Instant::now();
    let erased = frontdesk_server::data_requests::erase_patient(
        store.as_ref(),
        blobs.as_deref(),
        scope,
        id,
        frontdesk_store::Actor::Operator,
    )
    .await
    .map_err(|e| match e {
        frontdesk_store::StoreError::NotFound => anyhow::anyhow!("no such patient"),
        e => e.into(),
    })?;
    let c = erased.counts;
    println!(
        "erased patient {id} in {} ms: key destroyed; deleted {} conversations ({} messages), {} appointments, {} calls ({} recordings), {} consent records; kept in the erasure ledger",
        started.elapsed().as_millis(),
        c.conversations,
        c.messages,
        c.appointments,
        c.calls,
        c.recordings,
        c.consents
    );
    Ok(())
}

/// The operator's scope for the clinic with this slug, or an error that says how to find one.
async fn clinic_scope(
    store: &dyn Store,
    slug: &str,
) -> anyhow::Result<frontdesk_store::TenantScope> {
    let slug = TenantSlug::parse(slug)?;
    store
        .operator_scope(&slug)
        .await
        .with_context(|| format!("no clinic `{slug}` (see `frontdesk tenant list`)"))
}

async fn chat_cmd(slug: &str, data: &DataArgs) -> anyhow::Result<()> {
    let cfg = resolve(data, LogFormat::Pretty, "warn")?;
    let store = open_store(&cfg).await?;
    let scope = clinic_scope(store.as_ref(), slug).await?;
    // Like web chat: a clinic that is not active takes no conversations.
    store
        .public_clinic(&TenantSlug::parse(slug)?)
        .await
        .with_context(|| format!("`{slug}` is not active (see `frontdesk tenant list`)"))?;
    let clinic = store.clinic(scope).await?;
    let patient = store.create_patient(scope, &NewPatient::default()).await?;
    let conversation = store
        .start_conversation(scope, patient, Channel::Cli)
        .await?;
    let clock = SystemClock;
    let interactive = std::io::stdin().is_terminal();
    println!(
        "Chatting with {} (type a message; Ctrl-D to end).",
        clinic.profile.name
    );
    let stdin = std::io::stdin();
    let mut out = std::io::stdout();
    loop {
        if interactive {
            print!("you> ");
            out.flush()?;
        }
        let mut line = String::new();
        if stdin.lock().read_line(&mut line)? == 0 {
            break;
        }
        let text = line.trim();
        if text.is_empty() {
            continue;
        }
        if text.len() > turn::MAX_TEXT_BYTES {
            println!("receptionist> (that message is longer than 4 KiB; please shorten it)");
            continue;
        }
        for reply in turn::handle_patient_message(
            store.as_ref(),
            &clock as &dyn Clock,
            scope,
            conversation,
            patient,
            text,
        )
        .await?
        {
            println!("receptionist> {reply}");
        }
    }
    Ok(())
}

async fn tenant_create(a: TenantCreate) -> anyhow::Result<()> {
    let cfg = resolve(&a.data, LogFormat::Pretty, "warn")?;
    let slug = TenantSlug::parse(&a.slug)?;
    let profile = ClinicProfile {
        cancellation_policy: a.cancellation_policy.unwrap_or_default(),
        reminder_hours: a.reminder_hours,
        widget_origins: a
            .widget_origins
            .iter()
            .map(|o| frontdesk_domain::clinic::parse_widget_origin(o))
            .collect::<Result<_, _>>()?,
        session_idle_minutes: frontdesk_domain::clinic::DEFAULT_SESSION_IDLE_MINUTES,
        retention: Default::default(),
        ai_paused: false,
        privacy_notice: a.privacy_notice.unwrap_or_else(|| {
            format!(
                "You're chatting with {}'s virtual receptionist. This conversation is stored encrypted and seen only by the clinic team.",
                a.name
            )
        }),
        name: a.name,
        timezone: a.timezone,
        country: a.country.to_uppercase(),
        languages: a.languages,
        emergency_numbers: a.emergency,
        address: a.address,
        phone: None,
        currency: a.currency.to_uppercase(),
        hours: WeeklyHours::parse_spec(&a.hours)?,
    };
    profile.validate()?;
    let owner = a.owner_email.as_deref().map(Email::parse).transpose()?;
    let store = open_store(&cfg).await?;
    let scope = store.create_tenant(&slug, &profile).await?;
    println!("created clinic `{slug}` ({})", scope.tenant_id());
    if let Some(email) = owner {
        store
            .create_user(
                scope,
                &NewUser {
                    email,
                    name: a.owner_name,
                    role: Role::Owner,
                },
            )
            .await?;
        println!("created its Owner account");
    }
    Ok(())
}

async fn widget_origins(slug: &str, origins: &[String], data: &DataArgs) -> anyhow::Result<()> {
    let cfg = resolve(data, LogFormat::Pretty, "warn")?;
    let origins = origins
        .iter()
        .map(|o| frontdesk_domain::clinic::parse_widget_origin(o))
        .collect::<Result<Vec<_>, _>>()?;
    let store = open_store(&cfg).await?;
    let scope = clinic_scope(store.as_ref(), slug).await?;
    let mut profile = store.clinic(scope).await?.profile;
    profile.widget_origins = origins;
    store.update_profile(scope, &profile).await?;
    if profile.widget_origins.is_empty() {
        println!("the widget of `{slug}` may no longer be embedded on any site");
    } else {
        println!(
            "the widget of `{slug}` may be embedded on: {}",
            profile.widget_origins.join(" ")
        );
    }
    Ok(())
}

async fn session_idle(slug: &str, minutes: u32, data: &DataArgs) -> anyhow::Result<()> {
    let cfg = resolve(data, LogFormat::Pretty, "warn")?;
    let store = open_store(&cfg).await?;
    let scope = clinic_scope(store.as_ref(), slug).await?;
    let mut profile = store.clinic(scope).await?.profile;
    profile.session_idle_minutes = minutes;
    store.update_profile(scope, &profile).await?;
    println!("staff sessions of `{slug}` now end after {minutes} minutes without activity");
    Ok(())
}

/// `audit verify`: one line per clinic; an error (exit code 1) if any chain is broken.
async fn audit_verify(a: AuditVerify) -> anyhow::Result<()> {
    let cfg = resolve(&a.data, LogFormat::Pretty, "warn")?;
    let store = open_store(&cfg).await?;
    let slugs: Vec<String> = match &a.tenant {
        Some(slug) => vec![slug.clone()],
        // A purged clinic has no chain left (its certificate keeps the last head).
        None => store
            .list_tenants()
            .await?
            .into_iter()
            .filter(|t| t.purged_at.is_none() && t.status != "purging")
            .map(|t| t.slug.to_string())
            .collect(),
    };
    if slugs.is_empty() {
        println!("no clinics");
        return Ok(());
    }
    let mut broken = Vec::new();
    for slug in &slugs {
        let scope = clinic_scope(store.as_ref(), slug).await?;
        let report = store
            .verify_audit_chain(scope)
            .await
            .with_context(|| format!("could not read the audit chain of `{slug}`"))?;
        match report.first_break {
            None if report.floor_seq > 0 => println!(
                "audit chain of {slug}: {} entries, intact (head seq {}, entries up to seq {} removed by retention)",
                report.entries, report.head_seq, report.floor_seq
            ),
            None => println!(
                "audit chain of {slug}: {} entries, intact (head seq {})",
                report.entries, report.head_seq
            ),
            Some(b) => {
                println!(
                    "audit chain of {slug} BROKEN at seq {}: {}",
                    b.seq, b.reason
                );
                broken.push(slug.as_str());
            }
        }
    }
    if let (Some(slug), false) = (&a.tenant, a.checkpoints.is_empty()) {
        let scope = clinic_scope(store.as_ref(), slug).await?;
        for file in &a.checkpoints {
            let raw = std::fs::read_to_string(file)
                .with_context(|| format!("cannot read {}", file.display()))?;
            let cp = serde_json::from_str(&raw)
                .ok()
                .and_then(|v| frontdesk_store::AuditCheckpoint::from_json(&v))
                .with_context(|| format!("{} is not an audit checkpoint", file.display()))?;
            use frontdesk_store::CheckpointCheck as C;
            let verdict = match store.check_audit_checkpoint(scope, &cp).await? {
                C::Holds => None,
                C::BadSignature => Some(
                    "its signature does not verify (not made by this installation, or altered)",
                ),
                C::OtherClinic => Some("it is another clinic's checkpoint"),
                C::Missing => Some("the chain no longer has that entry: it was truncated"),
                C::Rewritten => Some("that entry has another hash now: the chain was rewritten"),
                C::Retired => {
                    println!(
                        "checkpoint of {slug} at seq {} ({}): older than the kept chain (removed by retention, see audit.purged)",
                        cp.seq, cp.at
                    );
                    continue;
                }
            };
            match verdict {
                None => println!("checkpoint of {slug} at seq {} ({}): holds", cp.seq, cp.at),
                Some(why) => {
                    println!(
                        "checkpoint of {slug} at seq {} ({}) BROKEN: {why}",
                        cp.seq, cp.at
                    );
                    if !broken.contains(&slug.as_str()) {
                        broken.push(slug.as_str());
                    }
                }
            }
        }
    }
    if !broken.is_empty() {
        bail!(
            "{} of {} audit chain(s) broken: {} (see docs/OPERATIONS.md, \"Verifying the audit log\")",
            broken.len(),
            slugs.len(),
            broken.join(", ")
        );
    }
    Ok(())
}

async fn eval_cmd(files: &[PathBuf], verbose: bool, now: &str) -> anyhow::Result<()> {
    telemetry::init_logs(LogFormat::Pretty, "warn");
    let now: jiff::Timestamp = now
        .parse()
        .with_context(|| format!("--now {now:?} is not an RFC 3339 time"))?;
    let mut failed = 0;
    for file in files {
        let yaml = std::fs::read_to_string(file)
            .with_context(|| format!("cannot read {}", file.display()))?;
        let report = frontdesk_server::eval::run(&file.display().to_string(), &yaml, now).await?;
        println!("== {}", file.display());
        print!("{}", frontdesk_server::eval::render(&report, verbose));
        failed += report.failed();
    }
    if failed > 0 {
        bail!("{failed} case(s) failed");
    }
    Ok(())
}

/// The secrets each provider needs (read from stdin).
fn key_value(line: &str) -> anyhow::Result<(String, String)> {
    let (k, v) = line
        .split_once('=')
        .context("expected KEY=VALUE (the value is not shown)")?;
    let k = k.trim();
    if k.is_empty() || !k.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_') {
        bail!("a key must be letters, digits and _");
    }
    Ok((k.to_owned(), v.trim().to_owned()))
}

async fn channel_set(a: ChannelSet) -> anyhow::Result<()> {
    let cfg = resolve(&a.data, LogFormat::Pretty, "warn")?;
    let provider = Provider::parse(&a.provider)?;
    let mut config = serde_json::Map::new();
    for s in &a.settings {
        let (k, v) = key_value(s)?;
        config.insert(k, serde_json::Value::String(v));
    }
    if std::io::stdin().is_terminal() {
        eprintln!("Enter the secrets as KEY=VALUE lines, then Ctrl-D:");
    }
    let mut secrets = ChannelSecrets::new();
    for line in std::io::stdin().lock().lines() {
        let line = zeroize::Zeroizing::new(line?);
        if line.trim().is_empty() {
            continue;
        }
        let (k, v) = key_value(&line)?;
        secrets = secrets.with(&k, v);
    }
    let missing: Vec<_> = provider
        .required_secrets()
        .iter()
        .filter(|k| secrets.get(k).is_none_or(str::is_empty))
        .collect();
    if !missing.is_empty() {
        bail!("missing secrets on stdin: {missing:?}");
    }
    let store = open_store(&cfg).await?;
    let scope = store.operator_scope(&TenantSlug::parse(&a.tenant)?).await?;
    store
        .set_channel_account(
            scope,
            provider,
            &a.address,
            &serde_json::Value::Object(config),
            &secrets,
        )
        .await?;
    println!(
        "connected `{}` to {} at {} (secrets stored encrypted: {})",
        a.tenant,
        provider.as_str(),
        a.address.trim(),
        secrets.names().join(", ")
    );
    Ok(())
}

/// Secrets we choose ourselves (the provider is told them), so `--generate` may make them.
const GENERATED_SECRETS: [&str; 2] = ["verify_token", "callback_token"];

async fn channel_rotate(a: ChannelRotate) -> anyhow::Result<()> {
    let cfg = resolve(&a.data, LogFormat::Pretty, "warn")?;
    let provider = Provider::parse(&a.provider)?;
    if !provider.required_secrets().contains(&a.secret.as_str()) {
        bail!(
            "{} has no secret `{}` (it uses: {})",
            provider.as_str(),
            a.secret,
            provider.required_secrets().join(", ")
        );
    }
    let value = if a.generate {
        if !GENERATED_SECRETS.contains(&a.secret.as_str()) {
            bail!(
                "`{}` is issued by the provider: paste the new value on stdin instead of --generate",
                a.secret
            );
        }
        frontdesk_store::crypto::new_token("")
    } else {
        if std::io::stdin().is_terminal() {
            eprintln!("Enter the new value of {}, then Enter:", a.secret);
        }
        let mut line = zeroize::Zeroizing::new(String::new());
        std::io::stdin().lock().read_line(&mut line)?;
        let value = zeroize::Zeroizing::new(line.trim().to_owned());
        if value.is_empty() {
            bail!("no new value on stdin");
        }
        value
    };
    let store = open_store(&cfg).await?;
    let scope = store.operator_scope(&TenantSlug::parse(&a.tenant)?).await?;
    let started = std::time::Instant::now();
    let overlap = jiff::SignedDuration::from_hours(i64::from(a.overlap_hours));
    let shown = a.generate.then(|| value.clone());
    let until = store
        .rotate_channel_secret(
            scope,
            provider,
            &a.secret,
            value,
            overlap,
            frontdesk_store::Actor::Operator,
        )
        .await?;
    let took = started.elapsed();
    if let Some(v) = shown {
        println!("new {}: {}", a.secret, v.as_str());
        println!("(shown once: give it to the provider now)");
    }
    match until {
        Some(t) => println!(
            "rotated {} {} of `{}` in {} ms; the previous value is accepted on webhooks until {t}",
            provider.as_str(),
            a.secret,
            a.tenant,
            took.as_millis()
        ),
        None => println!(
            "rotated {} {} of `{}` in {} ms; the previous value is no longer accepted",
            provider.as_str(),
            a.secret,
            a.tenant,
            took.as_millis()
        ),
    }
    Ok(())
}
