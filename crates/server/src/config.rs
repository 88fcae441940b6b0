//! Configuration, in layers: built-in defaults → `frontdesk.toml` (or `--config FILE`) →
//! `FRONTDESK_*` environment variables (`__` separates nested keys) → `*_FILE` variables for
//! secrets (the file's content replaces the value). Unknown keys are warned about, not ignored
//! silently. Every option is documented here once and listed in docs/CONFIG.md.

use crate::blobs::{BlobError, BlobStore, LocalBlobStore, S3BlobStore, S3Settings};
use figment::{
    Figment,
    providers::{Format, Serialized, Toml},
};
use frontdesk_store::crypto::{Keyring, MasterKey};
use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

/// frontdesk's settings. Field docs are the reference; docs/CONFIG.md lists them all.
#[derive(Clone, Serialize, Deserialize)]
#[serde(default)]
pub struct Config {
    /// Where data lives: `sqlite://PATH` (embedded, one machine) or `postgres://USER@HOST/DB`
    /// (many instances). On PostgreSQL this must be the application role: not the owner,
    /// not a superuser, no BYPASSRLS. May carry a password: prefer `FRONTDESK_DATABASE_URL_FILE`.
    #[serde(skip_serializing)]
    pub database_url: Option<SecretString>,
    /// PostgreSQL only: the schema owner's URL, used by migrations. Default: `database_url`.
    #[serde(skip_serializing)]
    pub database_owner_url: Option<SecretString>,
    /// PostgreSQL only: the URL `frontdesk backup` runs `pg_dump` with. Row-level security is
    /// forced on every clinic table, so it must be a role that bypasses it (a superuser, or a
    /// read-only role with BYPASSRLS). Default: `database_owner_url`.
    #[serde(skip_serializing)]
    pub database_backup_url: Option<SecretString>,
    /// PostgreSQL only: the role migrations grant table access to. Default `frontdesk_app`.
    pub database_app_role: String,
    /// Connection pool size per process. Default 8.
    pub database_max_connections: u32,
    /// Address and port to listen on. Default `127.0.0.1:8080`.
    pub listen: SocketAddr,
    /// The active master key as `ID:BASE64` (32 random bytes). Required by `serve`; prefer
    /// `master_key_file`. Generate one with `frontdesk keys generate`.
    #[serde(skip_serializing)]
    pub master_key: Option<SecretString>,
    /// A file holding the active master key (`ID:BASE64`). Must not be readable by group or others.
    pub master_key_file: Option<PathBuf>,
    /// Retired master keys (`ID:BASE64`), still needed to unwrap tenant keys until they are rewrapped.
    #[serde(skip_serializing)]
    pub retired_master_keys: Vec<SecretString>,
    /// `json` (default; one object per line) or `pretty` (for a terminal).
    pub log_format: LogFormat,
    /// Log filter in `RUST_LOG` syntax. Default `info`. `RUST_LOG` overrides it.
    pub log_level: String,
    /// How long a web chat visitor's token stays valid, in hours. Default 24.
    pub webchat_session_ttl_hours: u32,
    /// Send cookies with the `Secure` flag. `serve` refuses to start with `false`. Default true.
    pub cookie_secure: bool,
    /// The address providers reach this server at, e.g. `https://frontdesk.example.org`.
    /// Twilio signs the full URL it called, so it must match exactly, and it is where Twilio
    /// sends delivery reports. Unset: `http://` + the request's Host header, and no delivery
    /// reports are asked for (fine when providers reach this server directly; set it behind a
    /// proxy or TLS terminator).
    pub public_url: Option<String>,
    /// Base URL of Meta's Graph API. Default `https://graph.facebook.com` (tests point it at a fake).
    pub whatsapp_api_base: String,
    /// Graph API version used for sending. Default `v21.0`.
    pub whatsapp_api_version: String,
    /// Base URL of Twilio's REST API. Default `https://api.twilio.com`.
    pub twilio_api_base: String,
    /// Base URL of Africa's Talking. Default `https://api.africastalking.com`
    /// (sandbox: `https://api.sandbox.africastalking.com`).
    pub africastalking_api_base: String,
    /// Base URL of Stripe's API (Checkout Sessions for payments). Default
    /// `https://api.stripe.com`. M-Pesa's Daraja base is set per clinic (`frontdesk payments
    /// set-mpesa --api-base`).
    pub stripe_api_base: String,
    /// Run the job and outbox workers in this process. Default true. Set false on instances
    /// that should only answer HTTP.
    pub workers: bool,
    /// Outbound messages per second per clinic, all channels together, over every instance
    /// sharing the database (the bucket is kept in the database). Default 10.
    pub outbound_per_second: u32,
    /// Seconds a worker holds a claimed job or outbound message before another instance may
    /// take it over (the holder is then taken to have died). Must be longer than
    /// `provider_timeout_seconds` and any agent turn, or a slow send could be repeated.
    /// Default 120; 2 to 3600.
    pub job_lease_seconds: u32,
    /// Seconds a provider call may take before it counts as a timeout (retried). Default 10.
    pub provider_timeout_seconds: u64,
    /// Minutes a staff takeover lasts without activity (each staff reply renews it) before the
    /// conversation goes back to the AI. Default 15; 1 to 720.
    pub staff_hold_minutes: u32,
    /// Reverse proxies (CIDRs, e.g. `["10.0.0.0/8", "::1/128"]`) whose `X-Forwarded-For` header
    /// gives the client's address (for rate limits). Default empty: the TCP peer is the client
    /// and forwarding headers are ignored, since anyone can send them.
    pub trusted_proxies: Vec<String>,
    /// PEM file of the server's certificate chain (leaf first). With `tls_key`, `serve` (and
    /// `demo`) answer HTTPS themselves with rustls; `SIGHUP` reloads both files. Unset: plain
    /// HTTP, for a reverse proxy that terminates TLS in front (list it in `trusted_proxies`).
    pub tls_cert: Option<PathBuf>,
    /// PEM file of the certificate's private key (PKCS#8, PKCS#1 or SEC1). Set with `tls_cert`.
    pub tls_key: Option<PathBuf>,
    /// Networks (CIDRs) outbound webhooks may reach although they are private, loopback or
    /// otherwise special, e.g. `["10.20.0.0/16"]` for a receiver on the clinic group's own
    /// network. Default empty: only public addresses, over HTTPS (ports 443 and 8443).
    pub webhook_allowlist: Vec<String>,
    /// Where `serve` writes its scheduled encrypted backups (see `frontdesk backup`). Unset: no
    /// scheduled backups. With several instances sharing the database, each backup is taken
    /// by one of those that have it set (claimed through the database), into its own directory.
    pub backup_dir: Option<PathBuf>,
    /// Hours between scheduled backups. Default 24; 1 to 168.
    pub backup_every_hours: u32,
    /// How many scheduled backups are kept in `backup_dir` (older ones are deleted). Default 14.
    pub backup_keep: u32,
    /// Days a terminated clinic's data is kept (for its export) before the daily purge deletes
    /// it for good and destroys its keys (`frontdesk tenant purge`). Default 30; 1 to 3650.
    pub termination_hold_days: u32,
    /// Milliseconds the retention purge waits after each batch it deleted (at most 250
    /// messages or 100 conversations, one short transaction), so that webhooks keep their
    /// latency while it runs. Default 50; 0 to 10000. Longer: a gentler and longer purge.
    pub retention_pause_ms: u32,
    /// SMTP server for staff alert emails, e.g. `smtps://user:pass@mail.example.org:465` or
    /// `smtp://mail.example.org:587?tls=required`. Unset: no email (alerts stay in frontdesk).
    /// Holds a password: prefer `FRONTDESK_SMTP_URL_FILE`.
    #[serde(skip_serializing)]
    pub smtp_url: Option<SecretString>,
    /// The sender of alert emails. Default `frontdesk <alerts@localhost>`.
    pub email_from: String,
    /// Where call recordings (encrypted before they are stored) are kept:
    /// `local` (default; files under `recordings_dir`) or `s3` (an S3-compatible bucket, see
    /// the `s3_*` options).
    pub recordings_storage: String,
    /// `local` storage: the directory. Unset: `recordings` next to the SQLite database file
    /// when `database_url` is `sqlite://…`, else `./frontdesk-recordings`. Created (mode 0700)
    /// on the first recording.
    pub recordings_dir: Option<PathBuf>,
    /// `s3` storage: the service's base URL, e.g. `https://s3.eu-west-1.amazonaws.com` or
    /// `http://127.0.0.1:9000` (MinIO). Required with `recordings_storage = "s3"`.
    pub s3_endpoint: Option<String>,
    /// `s3` storage: the bucket. Required with `recordings_storage = "s3"`.
    pub s3_bucket: Option<String>,
    /// `s3` storage: the signing region. Default `us-east-1`.
    pub s3_region: String,
    /// `s3` storage: the access key id. Required with `recordings_storage = "s3"`.
    pub s3_access_key_id: Option<String>,
    /// `s3` storage: the secret access key. Required with `recordings_storage = "s3"`;
    /// prefer `FRONTDESK_S3_SECRET_ACCESS_KEY_FILE`.
    #[serde(skip_serializing)]
    pub s3_secret_access_key: Option<SecretString>,
    /// `s3` storage: path-style URLs (`{endpoint}/{bucket}/{key}`, what MinIO, Ceph and Garage
    /// expect) when true; virtual-hosted style (`{bucket}.{endpoint host}/{key}`) when false.
    /// Default true.
    pub s3_path_style: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    Json,
    Pretty,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            database_url: None,
            database_owner_url: None,
            database_backup_url: None,
            database_app_role: "frontdesk_app".into(),
            database_max_connections: 8,
            listen: SocketAddr::from(([127, 0, 0, 1], 8080)),
            master_key: None,
            master_key_file: None,
            retired_master_keys: Vec::new(),
            log_format: LogFormat::Json,
            log_level: "info".into(),
            webchat_session_ttl_hours: 24,
            cookie_secure: true,
            public_url: None,
            whatsapp_api_base: "https://graph.facebook.com".into(),
            whatsapp_api_version: "v21.0".into(),
            twilio_api_base: "https://api.twilio.com".into(),
            africastalking_api_base: "https://api.africastalking.com".into(),
            stripe_api_base: "https://api.stripe.com".into(),
            workers: true,
            outbound_per_second: 10,
            job_lease_seconds: 120,
            provider_timeout_seconds: 10,
            staff_hold_minutes: 15,
            trusted_proxies: Vec::new(),
            tls_cert: None,
            tls_key: None,
            webhook_allowlist: Vec::new(),
            backup_dir: None,
            backup_every_hours: 24,
            backup_keep: 14,
            termination_hold_days: 30,
            retention_pause_ms: 50,
            smtp_url: None,
            email_from: "frontdesk <alerts@localhost>".into(),
            recordings_storage: "local".into(),
            recordings_dir: None,
            s3_endpoint: None,
            s3_bucket: None,
            s3_region: "us-east-1".into(),
            s3_access_key_id: None,
            s3_secret_access_key: None,
            s3_path_style: true,
        }
    }
}

impl std::fmt::Debug for Config {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Config")
            .field(
                "database_url",
                &self.database_url.as_ref().map(|_| "<redacted>"),
            )
            .field("listen", &self.listen)
            .field(
                "master_key",
                &self.master_key.as_ref().map(|_| "<redacted>"),
            )
            .field("master_key_file", &self.master_key_file)
            .field("log_format", &self.log_format)
            .field("recordings_storage", &self.recordings_storage)
            .field("recordings_dir", &self.recordings_dir)
            .field("s3_bucket", &self.s3_bucket)
            .field("s3_region", &self.s3_region)
            .field(
                "s3_secret_access_key",
                &self.s3_secret_access_key.as_ref().map(|_| "<redacted>"),
            )
            .field("s3_path_style", &self.s3_path_style)
            .finish_non_exhaustive()
    }
}

/// Top-level keys we know, for the unknown-key warning.
const KNOWN_KEYS: &[&str] = &[
    "database_url",
    "database_url_file",
    "database_owner_url",
    "database_owner_url_file",
    "database_backup_url",
    "database_backup_url_file",
    "database_app_role",
    "database_max_connections",
    "listen",
    "master_key",
    "master_key_file",
    "retired_master_keys",
    "log_format",
    "log_level",
    "webchat_session_ttl_hours",
    "cookie_secure",
    "public_url",
    "whatsapp_api_base",
    "whatsapp_api_version",
    "twilio_api_base",
    "africastalking_api_base",
    "stripe_api_base",
    "workers",
    "outbound_per_second",
    "job_lease_seconds",
    "provider_timeout_seconds",
    "staff_hold_minutes",
    "trusted_proxies",
    "tls_cert",
    "tls_key",
    "webhook_allowlist",
    "backup_dir",
    "backup_every_hours",
    "backup_keep",
    "termination_hold_days",
    "retention_pause_ms",
    "smtp_url",
    "smtp_url_file",
    "email_from",
    "recordings_storage",
    "recordings_dir",
    "s3_endpoint",
    "s3_bucket",
    "s3_region",
    "s3_access_key_id",
    "s3_secret_access_key",
    "s3_secret_access_key_file",
    "s3_path_style",
];

/// Secrets that may be given as `<KEY>_FILE` instead. (`master_key_file` is a field of its
/// own, so that its permissions are checked: see [`read_key_file`].)
const FILE_SECRETS: &[&str] = &[
    "database_url",
    "database_owner_url",
    "database_backup_url",
    "smtp_url",
    "s3_secret_access_key",
];

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("configuration: {0}")]
    Invalid(String),
    #[error("configuration file {path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
}

fn invalid(msg: impl Into<String>) -> ConfigError {
    ConfigError::Invalid(msg.into())
}

/// A loaded configuration and the warnings found while loading it.
#[derive(Debug)]
pub struct Loaded {
    pub config: Config,
    pub warnings: Vec<String>,
}

/// Builds the layered configuration. `file`: an explicit `--config`, else `frontdesk.toml` in
/// the working directory if present. `env`: the environment to read (`std::env::vars()` in
/// production). The `--data-dir` layout fills in what is still unset afterwards (see cli.rs).
pub fn load(
    file: Option<&Path>,
    env: impl IntoIterator<Item = (String, String)>,
) -> Result<Loaded, ConfigError> {
    let mut fig = Figment::from(Serialized::defaults(Config::default()));
    match file {
        Some(p) if !p.exists() => {
            return Err(ConfigError::Io {
                path: p.to_owned(),
                source: std::io::ErrorKind::NotFound.into(),
            });
        }
        Some(p) => fig = fig.merge(Toml::file_exact(p)),
        None if Path::new("frontdesk.toml").exists() => {
            fig = fig.merge(Toml::file_exact("frontdesk.toml"))
        }
        None => {}
    }
    // Read the environment through our own map so tests can inject it.
    let env: Vec<(String, String)> = env
        .into_iter()
        .filter(|(k, _)| k.starts_with("FRONTDESK_"))
        .collect();
    let mut env_toml = toml_table(&env);
    for secret in FILE_SECRETS {
        let file_key = format!("{secret}_file");
        if let Some(path) = env_toml.remove(&file_key) {
            let path = path.trim_matches('"').to_owned();
            let content = std::fs::read_to_string(&path).map_err(|source| ConfigError::Io {
                path: PathBuf::from(&path),
                source,
            })?;
            env_toml.insert((*secret).to_owned(), toml_string(content.trim()));
        }
    }
    let mut loaded = extract(fig, &env_toml)?;
    let config = &mut loaded.config;
    if config.master_key.is_none()
        && let Some(path) = config.master_key_file.clone()
    {
        config.master_key = Some(read_key_file(&path)?);
    }
    Ok(loaded)
}

/// [`load`] without touching the machine: defaults → `toml` (the text of a configuration
/// file) → the `FRONTDESK_*` pairs in `env`, with the same warnings and errors. Reads no file:
/// `*_FILE` variables and `master_key_file` are left unread. For tests and the fuzz target
/// (`fuzz/fuzz_targets/config.rs`).
#[doc(hidden)]
pub fn from_toml_str(toml: &str, env: &[(String, String)]) -> Result<Loaded, ConfigError> {
    let fig = Figment::from(Serialized::defaults(Config::default())).merge(Toml::string(toml));
    extract(fig, &toml_table(env))
}

/// Merges the environment's layer (`key = TOML value` pairs) over `fig` and extracts the
/// configuration, with a warning for each unknown key.
fn extract(
    fig: Figment,
    env_toml: &std::collections::BTreeMap<String, String>,
) -> Result<Loaded, ConfigError> {
    let env_text: String = env_toml
        .iter()
        .map(|(k, v)| format!("{k} = {v}\n"))
        .collect();
    let fig = fig.merge(Toml::string(&env_text));
    let mut warnings = Vec::new();
    if let Ok(all) = fig.extract::<std::collections::BTreeMap<String, figment::value::Value>>() {
        for key in all.keys().filter(|k| !KNOWN_KEYS.contains(&k.as_str())) {
            warnings.push(format!("unknown configuration key `{key}` is ignored"));
        }
    }
    let config: Config = fig.extract().map_err(describe_without_values)?;
    Ok(Loaded { config, warnings })
}

/// A configuration error naming the key and what was expected, never the value given (it
/// may be a key or a password).
fn describe_without_values(errors: figment::Error) -> ConfigError {
    use figment::error::Kind;
    let messages: Vec<String> = errors
        .into_iter()
        .map(|e| {
            let key = if e.path.is_empty() {
                "(top level)".to_owned()
            } else {
                e.path.join(".")
            };
            match &e.kind {
                Kind::InvalidType(_, expected) | Kind::InvalidValue(_, expected) => {
                    format!("invalid value for `{key}`: expected {expected}")
                }
                Kind::InvalidLength(_, expected) => {
                    format!("wrong number of items for `{key}`: expected {expected}")
                }
                Kind::UnknownVariant(_, allowed) => format!(
                    "invalid value for `{key}`: expected one of {}",
                    allowed.join(", ")
                ),
                Kind::MissingField(field) => format!("missing `{field}`"),
                _ => format!("invalid value for `{key}`"),
            }
        })
        .collect();
    invalid(messages.join("; "))
}

/// `FRONTDESK_A__B=v` → `a.b = v` as TOML text (values that are not valid TOML become strings).
fn toml_table(env: &[(String, String)]) -> std::collections::BTreeMap<String, String> {
    env.iter()
        .filter_map(|(k, v)| {
            // FRONTDESK_TEST_* and FRONTDESK_REQUIRE_PG belong to the test suite, not to us.
            if k.starts_with("FRONTDESK_TEST_") || k == "FRONTDESK_REQUIRE_PG" {
                return None;
            }
            let key = k
                .strip_prefix("FRONTDESK_")?
                .to_lowercase()
                .replace("__", ".");
            if key.is_empty()
                || !key
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'.')
            {
                return None;
            }
            let is_plain_toml =
                v.parse::<i64>().is_ok() || v == "true" || v == "false" || v.starts_with('[');
            Some((
                key,
                if is_plain_toml {
                    v.clone()
                } else {
                    toml_string(v)
                },
            ))
        })
        .collect()
}

fn toml_string(s: &str) -> String {
    let escaped: String = s
        .chars()
        .flat_map(|c| match c {
            '"' => vec!['\\', '"'],
            '\\' => vec!['\\', '\\'],
            '\n' => vec!['\\', 'n'],
            c => vec![c],
        })
        .collect();
    format!("\"{escaped}\"")
}

/// The file of a `sqlite:` URL, parsed the way sqlx does (`sqlite://PATH` or `sqlite:PATH`,
/// `?…` cut, `%XX` decoded); `None` for other engines and in-memory databases.
fn sqlite_file(url: &str) -> Option<PathBuf> {
    let rest = url
        .strip_prefix("sqlite://")
        .or_else(|| url.strip_prefix("sqlite:"))?;
    let (path, params) = match rest.split_once('?') {
        Some((p, q)) => (p, Some(q)),
        None => (rest, None),
    };
    if path.is_empty()
        || path == ":memory:"
        || params.is_some_and(|q| q.split('&').any(|kv| kv == "mode=memory"))
    {
        return None;
    }
    percent_decode(path).map(PathBuf::from)
}

fn percent_decode(s: &str) -> Option<String> {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%'
            && let Some(hex) = s.get(i + 1..i + 3)
            && hex.bytes().all(|b| b.is_ascii_hexdigit())
            && let Ok(b) = u8::from_str_radix(hex, 16)
        {
            out.push(b);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

/// Reads a master key file, refusing one that group or others can read.
pub fn read_key_file(path: &Path) -> Result<SecretString, ConfigError> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let meta = std::fs::metadata(path).map_err(|source| ConfigError::Io {
            path: path.to_owned(),
            source,
        })?;
        if meta.permissions().mode() & 0o077 != 0 {
            return Err(invalid(format!(
                "master key file {} is readable by group or others; run: chmod 600 {}",
                path.display(),
                path.display()
            )));
        }
    }
    let s = std::fs::read_to_string(path).map_err(|source| ConfigError::Io {
        path: path.to_owned(),
        source,
    })?;
    Ok(SecretString::from(s.trim().to_owned()))
}

impl Config {
    pub fn database_url(&self) -> Result<&str, ConfigError> {
        self.database_url
            .as_ref()
            .map(|s| s.expose_secret())
            .ok_or_else(|| {
                invalid("database_url is not set (e.g. sqlite://./frontdesk.db or postgres://…)")
            })
    }

    pub fn database(&self) -> Result<frontdesk_store::DatabaseConfig, ConfigError> {
        Ok(frontdesk_store::DatabaseConfig {
            url: self.database_url()?.to_owned(),
            owner_url: self
                .database_owner_url
                .as_ref()
                .map(|s| s.expose_secret().to_owned()),
            app_role: Some(self.database_app_role.clone()),
            max_connections: self.database_max_connections,
        })
    }

    /// The keyring from `master_key` (+ retired keys). Without a master key nothing can be
    /// encrypted, so every data command refuses to go on.
    /// PostgreSQL: the URL backups are dumped with (see `database_backup_url`).
    pub fn database_backup_url(&self) -> Option<&str> {
        self.database_backup_url.as_ref().map(|s| s.expose_secret())
    }

    /// The SQLite database file, when `database_url` names one.
    pub fn sqlite_path(&self) -> Option<PathBuf> {
        self.database_url
            .as_ref()
            .and_then(|u| sqlite_file(u.expose_secret()))
    }

    /// The parsed `trusted_proxies`; a malformed entry is refused with its position.
    pub fn trusted_proxies(&self) -> Result<crate::outbound::ranges::Allowlist, ConfigError> {
        crate::outbound::ranges::Allowlist::parse(&self.trusted_proxies).map_err(|(i, e)| {
            invalid(format!(
                "trusted_proxies[{i}] is not a network like 10.0.0.0/8 or ::1/128: {e}"
            ))
        })
    }

    /// The certificate and key files for HTTPS, when both are set; one without the other is
    /// refused (it would silently serve plain HTTP).
    pub fn tls_files(&self) -> Result<Option<(&Path, &Path)>, ConfigError> {
        match (&self.tls_cert, &self.tls_key) {
            (Some(c), Some(k)) => Ok(Some((c.as_path(), k.as_path()))),
            (None, None) => Ok(None),
            _ => Err(invalid(
                "tls_cert and tls_key go together: set both to serve HTTPS, or neither".to_owned(),
            )),
        }
    }

    /// The outbound webhooks' address policy: `webhook_allowlist` parsed (a malformed entry is
    /// refused with its position), HTTPS only.
    pub fn webhook_policy(&self) -> Result<crate::outbound::SsrfPolicy, ConfigError> {
        let allowlist =
            crate::outbound::Allowlist::parse(&self.webhook_allowlist).map_err(|(i, e)| {
                invalid(format!(
                    "webhook_allowlist[{i}] is not a network like 10.0.0.0/8: {e}"
                ))
            })?;
        Ok(crate::outbound::SsrfPolicy {
            allowlist,
            allow_http: false,
        })
    }

    pub fn keyring(&self) -> Result<Keyring, ConfigError> {
        let active = self.master_key.as_ref().ok_or_else(|| {
            invalid("no master key: set master_key_file (or FRONTDESK_MASTER_KEY_FILE); create one with `frontdesk keys generate`")
        })?;
        let active = MasterKey::parse(active.expose_secret())
            .map_err(|e| invalid(format!("master_key: {e}")))?;
        let retired = self
            .retired_master_keys
            .iter()
            .map(|k| {
                MasterKey::parse(k.expose_secret())
                    .map_err(|e| invalid(format!("retired_master_keys: {e}")))
            })
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Keyring::new(active, retired))
    }

    /// Settings `serve` refuses (demo is exempt: it runs on loopback with its own key).
    pub fn production_problems(&self) -> Vec<String> {
        let mut problems = Vec::new();
        if self.master_key.is_none() {
            problems.push("no master key is configured (master_key_file)".to_owned());
        }
        if !self.cookie_secure {
            problems.push("cookie_secure = false sends session cookies over plain HTTP".to_owned());
        }
        if self.job_lease().as_secs() <= self.provider_timeout_seconds.clamp(1, 60) as i64 {
            problems.push(
                "job_lease_seconds must be longer than provider_timeout_seconds (a slow send could be repeated)"
                    .to_owned(),
            );
        }
        problems
    }

    /// The public base URL without a trailing slash (see [`Config::public_url`]).
    pub fn public_base(&self) -> Option<String> {
        self.public_url
            .as_deref()
            .map(|u| u.trim_end_matches('/').to_owned())
            .filter(|u| !u.is_empty())
    }

    /// The directory of `local` recordings storage (see [`Config::recordings_dir`]).
    pub fn recordings_dir(&self) -> PathBuf {
        if let Some(dir) = &self.recordings_dir {
            return dir.clone();
        }
        self.database_url
            .as_ref()
            .and_then(|url| sqlite_file(url.expose_secret()))
            .map(|db| match db.parent() {
                Some(parent) => parent.join("recordings"),
                None => PathBuf::from("recordings"),
            })
            .unwrap_or_else(|| PathBuf::from("./frontdesk-recordings"))
    }

    /// The recordings store chosen by `recordings_storage`. Errors name the option at fault,
    /// never its value. Nothing is contacted or created yet.
    pub fn blob_store(&self) -> Result<Arc<dyn BlobStore>, ConfigError> {
        match self.recordings_storage.as_str() {
            "local" => Ok(Arc::new(LocalBlobStore::new(self.recordings_dir()))),
            "s3" => {
                fn required<T>(value: Option<T>, name: &str) -> Result<T, ConfigError> {
                    value.ok_or_else(|| {
                        invalid(format!(
                            "recordings_storage = \"s3\" needs {name} (or FRONTDESK_{})",
                            name.to_uppercase()
                        ))
                    })
                }
                let non_empty = |v: &Option<String>| v.clone().filter(|s| !s.trim().is_empty());
                let secret = self
                    .s3_secret_access_key
                    .clone()
                    .filter(|s| !s.expose_secret().trim().is_empty());
                let settings = S3Settings {
                    endpoint: required(non_empty(&self.s3_endpoint), "s3_endpoint")?,
                    bucket: required(non_empty(&self.s3_bucket), "s3_bucket")?,
                    region: self.s3_region.clone(),
                    access_key_id: required(non_empty(&self.s3_access_key_id), "s3_access_key_id")?,
                    secret_access_key: required(secret, "s3_secret_access_key")?,
                    path_style: self.s3_path_style,
                    timeout: Duration::from_secs(self.provider_timeout_seconds.max(1)),
                };
                let store = S3BlobStore::new(settings).map_err(|e| match e {
                    BlobError::Settings(msg) => invalid(msg),
                    _ => invalid("the s3 recordings storage could not be set up"),
                })?;
                Ok(Arc::new(store))
            }
            _ => Err(invalid("recordings_storage must be `local` or `s3`")),
        }
    }

    pub fn webchat_ttl(&self) -> jiff::SignedDuration {
        jiff::SignedDuration::from_hours(i64::from(
            self.webchat_session_ttl_hours.clamp(1, 24 * 30),
        ))
    }

    /// How long a worker holds a claimed job or outbound message (2 s to 1 hour).
    pub fn job_lease(&self) -> jiff::SignedDuration {
        jiff::SignedDuration::from_secs(i64::from(self.job_lease_seconds.clamp(2, 3600)))
    }

    /// How long a staff takeover lasts without activity (1 minute to 12 hours).
    pub fn staff_hold(&self) -> jiff::SignedDuration {
        jiff::SignedDuration::from_mins(i64::from(self.staff_hold_minutes.clamp(1, 720)))
    }

    /// How long a terminated clinic is kept before it is purged (1 day to 10 years).
    pub fn termination_hold(&self) -> jiff::SignedDuration {
        jiff::SignedDuration::from_hours(24 * i64::from(self.termination_hold_days.clamp(1, 3650)))
    }

    /// The retention purge's pause after each batch (0 to 10 s).
    pub fn retention_pause(&self) -> std::time::Duration {
        std::time::Duration::from_millis(u64::from(self.retention_pause_ms.min(10_000)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    }

    #[test]
    fn the_retention_pause_defaults_to_50_ms_and_is_capped_at_10_s() {
        let none = from_toml_str("", &[]).unwrap().config;
        assert_eq!(none.retention_pause(), std::time::Duration::from_millis(50));
        let set = from_toml_str("retention_pause_ms = 400", &[])
            .unwrap()
            .config;
        assert_eq!(set.retention_pause(), std::time::Duration::from_millis(400));
        let env_set = from_toml_str("", &env(&[("FRONTDESK_RETENTION_PAUSE_MS", "0")]))
            .unwrap()
            .config;
        assert!(env_set.retention_pause().is_zero());
        let huge = from_toml_str("retention_pause_ms = 3600000", &[])
            .unwrap()
            .config;
        assert_eq!(huge.retention_pause(), std::time::Duration::from_secs(10));
    }

    #[test]
    fn a_tls_certificate_without_its_key_is_refused() {
        let none = from_toml_str("", &[]).unwrap().config;
        assert!(none.tls_files().unwrap().is_none());
        let both = from_toml_str("tls_cert = \"/c.pem\"\ntls_key = \"/k.pem\"", &[]).unwrap();
        assert!(both.config.tls_files().unwrap().is_some());
        let half = from_toml_str("tls_cert = \"/c.pem\"", &[]).unwrap();
        assert!(half.config.tls_files().is_err());
    }

    #[test]
    fn trusted_proxies_are_networks_and_a_bad_one_is_named() {
        let none = from_toml_str("", &[]).unwrap().config;
        assert!(
            !none
                .trusted_proxies()
                .unwrap()
                .contains("10.0.0.1".parse().unwrap())
        );
        let l = from_toml_str("trusted_proxies = [\"10.0.0.0/8\", \"::1\"]", &[]).unwrap();
        let t = l.config.trusted_proxies().unwrap();
        assert!(t.contains("10.2.3.4".parse().unwrap()) && t.contains("::1".parse().unwrap()));
        assert!(!t.contains("192.168.1.1".parse().unwrap()));
        let bad = from_toml_str("trusted_proxies = [\"10.0.0.0/8\", \"10.0.0.1/8\"]", &[]).unwrap();
        let err = bad.config.trusted_proxies().unwrap_err().to_string();
        assert!(err.contains("trusted_proxies[1]"), "{err}");
        let env_list = from_toml_str(
            "",
            &env(&[("FRONTDESK_TRUSTED_PROXIES", "[\"127.0.0.1/32\"]")]),
        )
        .unwrap();
        assert!(
            env_list
                .config
                .trusted_proxies()
                .unwrap()
                .contains("127.0.0.1".parse().unwrap())
        );
    }

    #[test]
    fn the_webhook_allowlist_is_networks_and_https_stays_required() {
        let none = from_toml_str("", &[])
            .unwrap()
            .config
            .webhook_policy()
            .unwrap();
        assert!(!none.allow_http && !none.allowlist.contains("10.0.0.1".parse().unwrap()));
        let l = from_toml_str("webhook_allowlist = [\"10.20.0.0/16\"]", &[]).unwrap();
        let p = l.config.webhook_policy().unwrap();
        assert!(p.allowlist.contains("10.20.3.4".parse().unwrap()) && !p.allow_http);
        let bad = from_toml_str("webhook_allowlist = [\"intranet\"]", &[]).unwrap();
        let err = bad.config.webhook_policy().unwrap_err().to_string();
        assert!(err.contains("webhook_allowlist[0]"), "{err}");
    }

    #[test]
    fn defaults_then_file_then_env() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("frontdesk.toml");
        std::fs::write(
            &file,
            "listen = \"127.0.0.1:9000\"\nlog_level = \"debug\"\nwebchat_session_ttl_hours = 2\n",
        )
        .unwrap();
        let l = load(
            Some(&file),
            env(&[("FRONTDESK_LOG_LEVEL", "warn"), ("OTHER", "x")]),
        )
        .unwrap();
        assert_eq!(l.config.listen.port(), 9000, "file beats default");
        assert_eq!(l.config.log_level, "warn", "env beats file");
        assert_eq!(l.config.webchat_session_ttl_hours, 2);
        assert_eq!(l.config.database_app_role, "frontdesk_app", "default kept");
        assert!(l.warnings.is_empty(), "{:?}", l.warnings);
    }

    #[test]
    fn secret_file_variables_replace_the_value() {
        let dir = tempfile::tempdir().unwrap();
        let url = dir.path().join("db_url");
        std::fs::write(&url, "postgres://app:s3cret@db/frontdesk\n").unwrap();
        let l = load(
            None,
            env(&[("FRONTDESK_DATABASE_URL_FILE", url.to_str().unwrap())]),
        )
        .unwrap();
        assert_eq!(
            l.config.database_url().unwrap(),
            "postgres://app:s3cret@db/frontdesk"
        );
        assert!(!format!("{:?}", l.config).contains("s3cret"));
    }

    #[test]
    fn the_backup_url_comes_from_its_variable_or_file_and_is_never_shown() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("backup_url");
        std::fs::write(&file, "postgres://backup:b4ckup@db/frontdesk\n").unwrap();
        let l = load(
            None,
            env(&[("FRONTDESK_DATABASE_BACKUP_URL_FILE", file.to_str().unwrap())]),
        )
        .unwrap();
        assert_eq!(
            l.config.database_backup_url(),
            Some("postgres://backup:b4ckup@db/frontdesk")
        );
        assert!(l.warnings.is_empty(), "{:?}", l.warnings);
        assert!(!format!("{:?}", l.config).contains("b4ckup"));
        let unset = load(None, env(&[])).unwrap();
        assert_eq!(unset.config.database_backup_url(), None);
    }

    #[test]
    fn master_key_file_must_be_private() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let key = dir.path().join("master.key");
        std::fs::write(&key, MasterKey::generate("k1").export().as_str()).unwrap();
        std::fs::set_permissions(&key, std::fs::Permissions::from_mode(0o644)).unwrap();
        let err = load(
            None,
            env(&[("FRONTDESK_MASTER_KEY_FILE", key.to_str().unwrap())]),
        )
        .unwrap_err();
        assert!(err.to_string().contains("chmod 600"));
        std::fs::set_permissions(&key, std::fs::Permissions::from_mode(0o600)).unwrap();
        let l = load(
            None,
            env(&[("FRONTDESK_MASTER_KEY_FILE", key.to_str().unwrap())]),
        )
        .unwrap();
        assert_eq!(l.config.keyring().unwrap().active_id(), "k1");
    }

    #[test]
    fn unknown_keys_warn_and_production_problems_are_listed() {
        let l = load(
            None,
            env(&[
                ("FRONTDESK_LISTN", "x"),
                ("FRONTDESK_COOKIE_SECURE", "false"),
            ]),
        )
        .unwrap();
        assert_eq!(l.warnings.len(), 1);
        assert!(l.warnings[0].contains("listn"));
        let problems = l.config.production_problems();
        assert_eq!(problems.len(), 2, "{problems:?}");
        assert!(l.config.keyring().is_err());
    }

    #[test]
    fn errors_never_echo_the_value_given() {
        let env_vars = env(&[(
            "FRONTDESK_RETIRED_MASTER_KEYS",
            "k0:c2VjcmV0LWtleS1tYXRlcmlhbA==",
        )]);
        let msg = load(None, env_vars).unwrap_err().to_string();
        assert!(msg.contains("retired_master_keys"), "{msg}");
        assert!(!msg.contains("c2VjcmV0") && !msg.contains("k0:"), "{msg}");
        let l = load(
            None,
            env(&[
                ("FRONTDESK_TEST_PG_URL", "x"),
                ("FRONTDESK_REQUIRE_PG", "1"),
            ]),
        )
        .unwrap();
        assert!(
            l.warnings.is_empty(),
            "test-suite variables are not configuration: {:?}",
            l.warnings
        );
    }

    #[test]
    fn recordings_dir_defaults_next_to_the_sqlite_file() {
        let with_db = |url: &str| Config {
            database_url: Some(SecretString::from(url.to_owned())),
            ..Config::default()
        };
        assert_eq!(
            with_db("sqlite://./data/frontdesk.db").recordings_dir(),
            PathBuf::from("./data/recordings")
        );
        assert_eq!(
            with_db("sqlite:///var/lib/frontdesk/frontdesk.db?mode=rwc").recordings_dir(),
            PathBuf::from("/var/lib/frontdesk/recordings")
        );
        assert_eq!(
            with_db("sqlite:/srv/my%20data/f.db").recordings_dir(),
            PathBuf::from("/srv/my data/recordings")
        );
        assert_eq!(
            with_db("sqlite://frontdesk.db").recordings_dir(),
            PathBuf::from("recordings")
        );
        for url in [
            "sqlite::memory:",
            "sqlite://:memory:",
            "sqlite://?mode=memory",
            "postgres://app@db/frontdesk",
        ] {
            assert_eq!(
                with_db(url).recordings_dir(),
                PathBuf::from("./frontdesk-recordings"),
                "{url}"
            );
        }
        assert_eq!(
            Config::default().recordings_dir(),
            PathBuf::from("./frontdesk-recordings")
        );
        let explicit = Config {
            recordings_dir: Some(PathBuf::from("/elsewhere")),
            ..with_db("sqlite://./data/frontdesk.db")
        };
        assert_eq!(explicit.recordings_dir(), PathBuf::from("/elsewhere"));
    }

    #[test]
    fn recordings_storage_defaults_to_local_and_refuses_unknown_kinds() {
        let l = load(None, env(&[("FRONTDESK_RECORDINGS_DIR", "/tmp/rec")])).unwrap();
        assert!(l.warnings.is_empty(), "{:?}", l.warnings);
        assert_eq!(l.config.recordings_storage, "local");
        assert_eq!(l.config.s3_region, "us-east-1");
        assert!(l.config.s3_path_style);
        let store = l.config.blob_store().unwrap();
        assert_eq!(store.kind(), "local");
        assert!(format!("{store:?}").contains("/tmp/rec"));

        let l = load(None, env(&[("FRONTDESK_RECORDINGS_STORAGE", "ftp")])).unwrap();
        let msg = l.config.blob_store().unwrap_err().to_string();
        assert!(
            msg.contains("recordings_storage") && msg.contains("`s3`"),
            "{msg}"
        );
    }

    #[test]
    fn s3_storage_names_each_missing_option_and_hides_the_secret() {
        let dir = tempfile::tempdir().unwrap();
        let secret_file = dir.path().join("s3_secret");
        std::fs::write(&secret_file, "wJalrXUtnFEMI-s3cret-value\n").unwrap();
        let all = [
            ("FRONTDESK_RECORDINGS_STORAGE", "s3"),
            ("FRONTDESK_S3_ENDPOINT", "http://127.0.0.1:9000"),
            ("FRONTDESK_S3_BUCKET", "frontdesk-recordings"),
            ("FRONTDESK_S3_ACCESS_KEY_ID", "AKIDEXAMPLEVALUE"),
            (
                "FRONTDESK_S3_SECRET_ACCESS_KEY_FILE",
                secret_file.to_str().unwrap(),
            ),
            ("FRONTDESK_S3_REGION", "eu-central-1"),
            ("FRONTDESK_S3_PATH_STYLE", "false"),
        ];
        for (i, missing) in [
            "s3_endpoint",
            "s3_bucket",
            "s3_access_key_id",
            "s3_secret_access_key",
        ]
        .iter()
        .enumerate()
        {
            let l = load(None, env(&[&all[..i + 1], &all[i + 2..]].concat())).unwrap();
            let msg = l.config.blob_store().unwrap_err().to_string();
            assert!(msg.contains(missing), "{msg}");
            for (_, value) in &all[1..] {
                assert!(!msg.contains(value), "{msg}");
            }
            assert!(!msg.contains("s3cret"), "{msg}");
        }

        let l = load(None, env(&all)).unwrap();
        assert!(l.warnings.is_empty(), "{:?}", l.warnings);
        assert_eq!(
            l.config
                .s3_secret_access_key
                .as_ref()
                .unwrap()
                .expose_secret(),
            "wJalrXUtnFEMI-s3cret-value"
        );
        assert_eq!(l.config.s3_region, "eu-central-1");
        assert!(!l.config.s3_path_style);
        let debug = format!("{:?}", l.config);
        assert!(!debug.contains("s3cret"), "{debug}");
        assert!(debug.contains("frontdesk-recordings"), "{debug}");
        let store = l.config.blob_store().unwrap();
        assert_eq!(store.kind(), "s3");
        assert!(!format!("{store:?}").contains("s3cret"));

        // A bad value is refused naming the option, not echoing it.
        let mut bad = l.config.clone();
        bad.s3_endpoint = Some("ftp://hunter2.example".into());
        let msg = bad.blob_store().unwrap_err().to_string();
        assert!(
            msg.contains("s3_endpoint") && !msg.contains("hunter2"),
            "{msg}"
        );
        // The secret is never serialised (e.g. into a printed effective configuration).
        let json = serde_json::to_string(&l.config).unwrap();
        assert!(!json.contains("s3cret"), "{json}");
    }

    #[test]
    fn bad_values_are_clear_errors() {
        let err = load(None, env(&[("FRONTDESK_LISTEN", "not-an-address")])).unwrap_err();
        assert!(err.to_string().contains("listen"), "{err}");
        let missing = load(Some(Path::new("/nonexistent/frontdesk.toml")), Vec::new()).unwrap_err();
        assert!(missing.to_string().contains("/nonexistent/frontdesk.toml"));
    }

    #[test]
    fn toml_text_layers_like_a_file_and_reads_nothing() {
        let l = from_toml_str(
            "listen = \"127.0.0.1:9000\"\nlog_level = \"debug\"\nmaster_key_file = \"/nonexistent/k\"\n",
            &env(&[
                ("FRONTDESK_LOG_LEVEL", "warn"),
                ("FRONTDESK_DATABASE_URL_FILE", "/nonexistent/url"),
                ("FRONTDESK_LISTN", "x"),
            ]),
        )
        .unwrap();
        assert_eq!(l.config.listen.port(), 9000, "the text beats the default");
        assert_eq!(l.config.log_level, "warn", "env beats the text");
        assert!(l.config.master_key.is_none(), "master_key_file is not read");
        assert!(l.config.database_url.is_none(), "*_FILE is not read");
        assert_eq!(l.warnings.len(), 1, "{:?}", l.warnings);
        assert!(l.warnings[0].contains("listn"));
        let err = from_toml_str("listen = 3\n", &[]).unwrap_err();
        assert!(err.to_string().contains("listen"), "{err}");
        assert!(from_toml_str("[[[", &[]).is_err());
    }
}
