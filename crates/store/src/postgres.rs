//! The PostgreSQL engine. Tenant isolation is enforced twice: every query filters by
//! `tenant_id`, and row-level security policies (see the migrations) filter again using
//! `app.tenant_id`, which each transaction sets first with `set_config(…, true)` (local to the
//! transaction, so a pooled connection never carries one tenant into the next).
//!
//! Migrations run as the schema owner; the application connects as a separate role that is
//! not the owner, not a superuser and has no BYPASSRLS, and may only SELECT and INSERT the
//! audit log.

use crate::keys::KeyCache;
use crate::{Result, StoreError, TenantScope, crypto::Keyring};
use frontdesk_domain::Clock;
use sqlx::postgres::PgConnectOptions;
use sqlx::{Connection, PgConnection, PgPool, Postgres};
use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

const MIGRATIONS: &[(i64, &str, &str)] = &[
    (
        1,
        "init",
        include_str!("../migrations/postgres/0001_init.sql"),
    ),
    (
        2,
        "channels",
        include_str!("../migrations/postgres/0002_channels.sql"),
    ),
    (
        3,
        "verification",
        include_str!("../migrations/postgres/0003_verification.sql"),
    ),
    (
        4,
        "calls",
        include_str!("../migrations/postgres/0004_calls.sql"),
    ),
    (
        5,
        "reminders",
        include_str!("../migrations/postgres/0005_reminders.sql"),
    ),
    (
        6,
        "waitlist",
        include_str!("../migrations/postgres/0006_waitlist.sql"),
    ),
    (
        7,
        "recordings",
        include_str!("../migrations/postgres/0007_recordings.sql"),
    ),
    (
        8,
        "staff_auth",
        include_str!("../migrations/postgres/0008_staff_auth.sql"),
    ),
    (
        9,
        "staff_mfa",
        include_str!("../migrations/postgres/0009_staff_mfa.sql"),
    ),
    (
        10,
        "inbox",
        include_str!("../migrations/postgres/0010_inbox.sql"),
    ),
    (
        11,
        "inbox_live",
        include_str!("../migrations/postgres/0011_inbox_live.sql"),
    ),
    (
        12,
        "assignments",
        include_str!("../migrations/postgres/0012_assignments.sql"),
    ),
    (
        13,
        "data_requests",
        include_str!("../migrations/postgres/0013_data_requests.sql"),
    ),
    (
        14,
        "audit_checkpoints",
        include_str!("../migrations/postgres/0014_audit_checkpoints.sql"),
    ),
    (
        15,
        "tenant_end",
        include_str!("../migrations/postgres/0015_tenant_end.sql"),
    ),
    (
        16,
        "audit_retention",
        include_str!("../migrations/postgres/0016_audit_retention.sql"),
    ),
    (
        17,
        "api_keys",
        include_str!("../migrations/postgres/0017_api_keys.sql"),
    ),
    (
        18,
        "api_messages",
        include_str!("../migrations/postgres/0018_api_messages.sql"),
    ),
    (
        19,
        "webhooks",
        include_str!("../migrations/postgres/0019_webhooks.sql"),
    ),
    (
        20,
        "llm_settings",
        include_str!("../migrations/postgres/0020_llm_settings.sql"),
    ),
    (
        21,
        "coordination",
        include_str!("../migrations/postgres/0021_coordination.sql"),
    ),
    (
        22,
        "calendar_feeds",
        include_str!("../migrations/postgres/0022_calendar_feeds.sql"),
    ),
    (
        23,
        "payments",
        include_str!("../migrations/postgres/0023_payments.sql"),
    ),
    (
        24,
        "calcom",
        include_str!("../migrations/postgres/0024_calcom.sql"),
    ),
    (
        25,
        "llm_limits",
        include_str!("../migrations/postgres/0025_llm_limits.sql"),
    ),
    (
        26,
        "security_alerts",
        include_str!("../migrations/postgres/0026_security_alerts.sql"),
    ),
    (
        30,
        "catalog_version",
        include_str!("../migrations/postgres/0030_catalog_version.sql"),
    ),
    (
        31,
        "channels_version",
        include_str!("../migrations/postgres/0031_channels_version.sql"),
    ),
    (
        32,
        "foreign_key_indexes",
        include_str!("../migrations/postgres/0032_foreign_key_indexes.sql"),
    ),
    (
        33,
        "llm_settings_version",
        include_str!("../migrations/postgres/0033_llm_settings_version.sql"),
    ),
    (
        34,
        "llm_month_spend",
        include_str!("../migrations/postgres/0034_llm_month_spend.sql"),
    ),
    (
        35,
        "llm_spend_with_budget",
        include_str!("../migrations/postgres/0035_llm_spend_with_budget.sql"),
    ),
];

/// Serialises concurrent `migrate` runs from several instances.
const MIGRATION_LOCK: i64 = 0x6672_6f6e_7464_6573; // "frontdes"

pub struct PgStore {
    pool: PgPool,
    keys: KeyCache,
    /// Each clinic's catalogue, checked against its version stamp on every read.
    catalogs: crate::catalog_cache::CatalogCache,
    /// Each clinic's channel accounts, checked against its version stamp on every webhook.
    channels: crate::catalog_cache::ChannelCache,
    clock: Arc<dyn Clock>,
}

impl std::fmt::Debug for PgStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("PgStore")
    }
}

/// Connection options from `url`. A server on this machine (a loopback address or a Unix
/// socket) is reached without TLS unless the URL or `PGSSLMODE` asks for a mode: TLS on a
/// connection that never leaves the machine protects nothing, and the default `prefer` would
/// encrypt every round trip (measured: about 14 % more messages answered a second without it,
/// docs/PERFORMANCE.md, "Stop 27"). A remote server keeps `prefer` or what the URL says.
fn options(url: &str) -> Result<PgConnectOptions> {
    let opts = PgConnectOptions::from_str(url).map_err(StoreError::Database)?;
    let mode_asked = url.contains("sslmode=") || std::env::var_os("PGSSLMODE").is_some();
    Ok(if !mode_asked && is_local_host(opts.get_host()) {
        opts.ssl_mode(sqlx::postgres::PgSslMode::Disable)
    } else {
        opts
    })
}

/// A loopback address, `localhost` or a Unix socket directory.
fn is_local_host(host: &str) -> bool {
    let host = host.trim_start_matches('[').trim_end_matches(']');
    host.starts_with('/')
        || host.eq_ignore_ascii_case("localhost")
        || host
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}

/// A role name safe to splice into GRANT statements.
fn quoted_role(role: &str) -> Result<String> {
    let ok = !role.is_empty()
        && role.len() <= 63
        && role
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
        && !role.as_bytes()[0].is_ascii_digit();
    if ok {
        Ok(format!("\"{role}\""))
    } else {
        Err(StoreError::Corrupt(
            "app role name must be [a-z_][a-z0-9_]*",
        ))
    }
}

impl PgStore {
    pub async fn connect(
        url: &str,
        keyring: Keyring,
        clock: Arc<dyn Clock>,
        max_connections: u32,
    ) -> Result<Self> {
        let pool = crate::pool::options::<Postgres>(max_connections)
            .acquire_timeout(Duration::from_secs(5))
            .connect_with(options(url)?)
            .await?;
        Ok(Self {
            pool,
            keys: KeyCache::new(keyring),
            catalogs: Default::default(),
            channels: Default::default(),
            clock,
        })
    }

    /// Applies pending migrations as the schema owner (`owner_url`) and grants the app role
    /// exactly what it needs. Safe to run from several instances at once.
    pub async fn migrate(owner_url: &str, app_role: Option<&str>) -> Result<usize> {
        let mut conn = PgConnection::connect_with(&options(owner_url)?).await?;
        let mut tx = conn.begin().await?;
        sqlx::query("SELECT pg_advisory_xact_lock($1)")
            .bind(MIGRATION_LOCK)
            .execute(&mut *tx)
            .await?;
        // Only create the bookkeeping table when it is missing: the app role (which may run
        // this to check the schema is current) has no CREATE privilege.
        let (exists,): (bool,) =
            sqlx::query_as("SELECT to_regclass('schema_migrations') IS NOT NULL")
                .fetch_one(&mut *tx)
                .await?;
        if !exists {
            sqlx::raw_sql(
                "CREATE TABLE schema_migrations (version bigint PRIMARY KEY, name text NOT NULL, \
                 checksum bytea NOT NULL, applied_at bigint NOT NULL)",
            )
            .execute(&mut *tx)
            .await?;
        }
        let mut applied = 0;
        for (version, name, sql) in MIGRATIONS {
            let checksum = crate::crypto::token_hash(sql);
            let existing: Option<(Vec<u8>,)> =
                sqlx::query_as("SELECT checksum FROM schema_migrations WHERE version = $1")
                    .bind(version)
                    .fetch_optional(&mut *tx)
                    .await?;
            match existing {
                Some((c,)) if c == checksum => continue,
                Some(_) => {
                    return Err(StoreError::Corrupt(
                        "an applied migration was changed after it ran",
                    ));
                }
                None => {}
            }
            sqlx::raw_sql(sqlx::AssertSqlSafe(*sql))
                .execute(&mut *tx)
                .await?;
            sqlx::query("INSERT INTO schema_migrations (version, name, checksum, applied_at) VALUES ($1, $2, $3, $4)")
                .bind(version)
                .bind(name)
                .bind(checksum)
                .bind(crate::to_us(jiff::Timestamp::now()))
                .execute(&mut *tx)
                .await?;
            applied += 1;
        }
        if let Some(role) = app_role {
            let r = quoted_role(role)?;
            let grants = format!(
                "GRANT USAGE ON SCHEMA public TO {r};
                 GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public TO {r};
                 REVOKE UPDATE, DELETE ON audit_log FROM {r};
                 REVOKE INSERT, UPDATE, DELETE ON schema_migrations FROM {r};
                 REVOKE DELETE ON tenants FROM {r};
                 REVOKE UPDATE, DELETE ON deletion_certificates FROM {r};
                 GRANT EXECUTE ON FUNCTION frontdesk_purge_audit_log(uuid) TO {r};
                 GRANT EXECUTE ON FUNCTION frontdesk_purge_audit(uuid, bigint, bigint) TO {r};"
            );
            sqlx::raw_sql(sqlx::AssertSqlSafe(grants))
                .execute(&mut *tx)
                .await?;
        }
        tx.commit().await?;
        conn.close().await?;
        Ok(applied)
    }

    /// Reasons the connected role could get around row-level security (empty = good).
    pub async fn insecure_role_reasons(&self) -> Result<Vec<&'static str>> {
        let (is_super, bypass): (bool, bool) = sqlx::query_as(
            "SELECT rolsuper, rolbypassrls FROM pg_roles WHERE rolname = current_user",
        )
        .fetch_one(&self.pool)
        .await?;
        let (owned,): (i64,) = sqlx::query_as(
            "SELECT count(*) FROM pg_tables WHERE schemaname = 'public' AND tableowner = current_user",
        )
        .fetch_one(&self.pool)
        .await?;
        let mut reasons = Vec::new();
        if is_super {
            reasons
                .push("the database role is a superuser (row-level security does not apply to it)");
        }
        if bypass {
            reasons.push("the database role has BYPASSRLS");
        }
        if owned > 0 {
            reasons.push("the database role owns the tables (it could disable row-level security)");
        }
        Ok(reasons)
    }

    /// Begins a transaction, inside the tenant's scope when one is given: `BEGIN` and the
    /// `set_config` go to the server as one simple query, one round trip (every webhook ack
    /// opens three of these; see docs/PERFORMANCE.md, "Scale"). The tenant id is a UUID, whose
    /// text is hex digits and dashes only, so it is spliced in as a literal safely.
    async fn scoped_begin(
        &self,
        scope: Option<TenantScope>,
    ) -> Result<sqlx::Transaction<'static, Postgres>> {
        match scope {
            Some(scope) => Ok(self
                .pool
                .begin_with(sqlx::AssertSqlSafe(scoped_begin_sql("BEGIN", scope)))
                .await?),
            None => Ok(self.pool.begin().await?),
        }
    }

    /// PostgreSQL keeps every clinic's send bucket in the database, shared by all instances.
    fn local_send_buckets(&self) -> Option<&crate::coordination::LocalSendBuckets> {
        None
    }

    async fn write_tx(
        &self,
        scope: Option<TenantScope>,
    ) -> Result<sqlx::Transaction<'static, Postgres>> {
        self.scoped_begin(scope).await
    }

    async fn read_tx(
        &self,
        scope: Option<TenantScope>,
    ) -> Result<sqlx::Transaction<'static, Postgres>> {
        self.scoped_begin(scope).await
    }

    /// A read-only transaction over one snapshot (REPEATABLE READ), in the tenant's scope:
    /// every statement sees the same committed state, for reads that span several queries
    /// (walking the audit chain page by page while the clinic keeps appending).
    async fn snapshot_tx(
        &self,
        scope: TenantScope,
    ) -> Result<sqlx::Transaction<'static, Postgres>> {
        Ok(self
            .pool
            .begin_with(sqlx::AssertSqlSafe(scoped_begin_sql(
                "BEGIN ISOLATION LEVEL REPEATABLE READ, READ ONLY",
                scope,
            )))
            .await?)
    }

    /// The one cross-tenant transaction: claiming due queue rows (see the `queue_claim`
    /// policies in migration 0002).
    async fn claim_tx(&self) -> Result<sqlx::Transaction<'static, Postgres>> {
        Ok(self
            .pool
            .begin_with("BEGIN; SELECT set_config('app.queue_claim', 'on', true)")
            .await?)
    }

    async fn group_stats(&self) -> Option<crate::testing::GroupStats> {
        None
    }

    /// A read across clinics for counts (the workers' claim mode under RLS).
    async fn stats_tx(&self) -> Result<sqlx::Transaction<'static, Postgres>> {
        self.claim_tx().await
    }

    /// Deletes a clinic's audit log inside its purge, through the owner's
    /// `frontdesk_purge_audit_log` (migration 0015): the app role may not delete audit
    /// entries itself. Answers how many went.
    async fn purge_audit_log(
        &self,
        tx: &mut sqlx::Transaction<'static, Postgres>,
        tenant: frontdesk_domain::TenantId,
    ) -> Result<u64> {
        let (n,): (i64,) = sqlx::query_as("SELECT frontdesk_purge_audit_log($1)")
            .bind(tenant.as_uuid())
            .fetch_one(&mut **tx)
            .await?;
        Ok(u64::try_from(n).unwrap_or(0))
    }

    pub async fn close(&self) {
        self.pool.close().await;
    }
}

/// `begin` (a `BEGIN …` statement) followed by setting `app.tenant_id` for the transaction,
/// as one simple query.
fn scoped_begin_sql(begin: &str, scope: TenantScope) -> String {
    let tenant: uuid::Uuid = scope.tenant_id().as_uuid();
    format!("{begin}; SELECT set_config('app.tenant_id', '{tenant}', true)")
}

/// The shared operations (see `crate::sql`), compiled for this engine.
mod ops {
    use super::PgStore;
    use sqlx::Postgres;
    crate::sql::sql_prelude!();
    crate::sql::sql_store!(
        PgStore,
        sqlx::Transaction<'static, Postgres>,
        "postgres",
        " FOR UPDATE SKIP LOCKED"
    );

    /// Loading a large history for the scale benchmark (`benches/scale.rs`, #12 item 2).
    mod bench_load {
        use super::super::PgStore;
        use crate::keys::aad;
        use crate::{Result, TenantScope};
        use frontdesk_domain::{ConversationId, MessageId};
        use std::fmt::Write as _;

        impl PgStore {
            /// **For the scale benchmark only.** Writes `per_conversation` messages into each of
            /// `conversations` with one `COPY`, alternately from the patient and the agent, dated
            /// `first_at`, `first_at + step`, …, each sealed with its patient's key exactly as a
            /// stored turn is (so reading them back costs what reading real history costs), and
            /// moves each conversation's `last_message_at` to its last message; in one
            /// transaction. No audit entries, jobs or outbox rows: this is history as an import
            /// would load it, not traffic. Answers how many messages were written.
            /// PostgreSQL refuses `COPY` under row-level security: call this on a store connected as
            /// the schema owner.
            #[doc(hidden)]
            pub async fn bench_load_messages(
                &self,
                scope: TenantScope,
                conversations: &[ConversationId],
                per_conversation: u32,
                first_at: jiff::Timestamp,
                step: jiff::SignedDuration,
            ) -> Result<u64> {
                let tenant = scope.tenant_id();
                let mut tx = self.write_tx(Some(scope)).await?;
                let keys = self.tenant_keys(&mut tx, tenant).await?;
                let step_us = crate::sql::coordination::micros(step)?;
                let mut rows = String::new();
                // The outbox row each outbound message has once it was sent, as in a clinic's
                // real history (the purge deletes them with their message).
                let mut outbox = String::new();
                let mut last = Vec::with_capacity(conversations.len());
                for &conv in conversations {
                    let (c, _, _) = self.fetch_conversation_row(&mut tx, tenant, conv).await?;
                    let key = self
                        .patient_key(&mut tx, &keys, tenant, c.patient_id)
                        .await?;
                    let mut at = crate::to_us(first_at);
                    for n in 0..per_conversation {
                        let id = MessageId::new();
                        let inbound = n % 2 == 0;
                        let body = if inbound {
                            format!("Hello, a question about my appointment ({n})")
                        } else {
                            format!("Thank you, here is the answer to your question ({n}).")
                        };
                        let ct =
                            key.seal_str(&aad(tenant, "messages", "body", &id.to_string()), &body)?;
                        let (direction, sender, status) = if inbound {
                            ("inbound", "patient", "received")
                        } else {
                            ("outbound", "agent", "sent")
                        };
                        let _ = write!(
                            rows,
                            "{}\t{}\t{}\t{direction}\t{sender}\t{}\t\\\\x",
                            tenant.as_uuid(),
                            id.as_uuid(),
                            conv.as_uuid(),
                            c.channel.as_str(),
                        );
                        for b in &ct {
                            let _ = write!(rows, "{b:02x}");
                        }
                        // Inbound messages carry the provider's id (a WhatsApp `wamid`).
                        if inbound {
                            let _ = writeln!(rows, "\twamid.in.{}\t{status}\t{at}", id.as_uuid());
                        } else {
                            let _ = writeln!(rows, "\t\\N\t{status}\t{at}");
                            let _ = writeln!(
                                outbox,
                                "{}\t{}\t{}\t{}\tmsg:{id}\tsent\t1\t{at}\twamid.out.{}\treply\t{at}\t{at}",
                                tenant.as_uuid(),
                                uuid::Uuid::now_v7(),
                                id.as_uuid(),
                                c.channel.as_str(),
                                id.as_uuid(),
                            );
                        }
                        at += step_us;
                    }
                    last.push((conv, at - step_us));
                }
                let mut copy = tx
                    .copy_in_raw(
                        "COPY messages (tenant_id, id, conversation_id, direction, sender, channel, body_ct, \
                         provider_message_id, status, created_at) FROM STDIN",
                    )
                    .await?;
                copy.send(rows.into_bytes()).await?;
                let written = copy.finish().await?;
                let mut copy = tx
                    .copy_in_raw(
                        "COPY outbox (tenant_id, id, message_id, channel, idempotency_key, status, attempts, \
                         next_attempt_at, provider_message_id, purpose, created_at, updated_at) FROM STDIN",
                    )
                    .await?;
                copy.send(outbox.into_bytes()).await?;
                copy.finish().await?;
                for (conv, at) in last {
                    sqlx::query("UPDATE conversations SET last_message_at = $3 WHERE tenant_id = $1 AND id = $2")
                        .bind(tenant.as_uuid())
                        .bind(conv.as_uuid())
                        .bind(at)
                        .execute(&mut *tx)
                        .await?;
                }
                tx.commit().await?;
                Ok(written)
            }
        }
    }
}

#[cfg(test)]
mod connect_tests {
    use super::*;

    #[test]
    fn only_a_server_on_this_machine_is_reached_without_tls_by_default() {
        for host in [
            "127.0.0.1",
            "127.0.0.9",
            "::1",
            "[::1]",
            "localhost",
            "/var/run/postgresql",
        ] {
            assert!(is_local_host(host), "{host}");
        }
        for host in [
            "db.example.org",
            "10.0.0.5",
            "192.168.1.2",
            "2001:db8::1",
            "localhost.example.org",
        ] {
            assert!(!is_local_host(host), "{host}");
        }
    }

    #[test]
    fn an_sslmode_in_the_url_is_kept() {
        use sqlx::postgres::PgSslMode;
        let mode = |url: &str| format!("{:?}", options(url).unwrap().get_ssl_mode());
        if std::env::var_os("PGSSLMODE").is_none() {
            assert_eq!(
                mode("postgres://u@127.0.0.1/db"),
                format!("{:?}", PgSslMode::Disable)
            );
            assert_eq!(
                mode("postgres://u@db.example.org/db"),
                format!("{:?}", PgSslMode::Prefer)
            );
        }
        assert_eq!(
            mode("postgres://u@127.0.0.1/db?sslmode=require"),
            format!("{:?}", PgSslMode::Require)
        );
    }
}
