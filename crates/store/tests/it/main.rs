#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
//! The store's integration tests, in one binary (each extra test binary is another slow link).
//!
//! Every engine-independent test is written once as `async fn name(db: &TestDb)` and expanded
//! by [`engine_tests!`] into `sqlite_name` and `postgres_name`, each on its own fresh database.
//! The PostgreSQL half is skipped only when PostgreSQL is unreachable and neither `CI` nor
//! `FRONTDESK_REQUIRE_PG` is set (see `frontdesk_store::testing`).
//!
//! - `conformance_*`: every public store operation, on both engines.
//! - `cross_tenant`: every scoped operation asked with another tenant's ids answers as if the
//!   id did not exist; on PostgreSQL also as the owner, without RLS, to test the application's
//!   own filters alone.
//! - `rls`: PostgreSQL row-level security, checked table by table through the app role, and
//!   shown to fail when a table's policy is disabled or dropped.
//! - `encryption`: personal data and message text never reach storage in clear, and a
//!   ciphertext moved to another row does not open.
//! - `summary`: conversation summaries written with the turn, sealed and tenant scoped.
//! - `conformance_channels`: provider accounts, inbound deliveries, the job queue and the outbox.
//! - `api_keys`: keys to the REST API (shown once, hashed, rate limited, revoked, rotated with
//!   an overlap, confined to their clinic, named in the access report).
//! - `webhooks`: signed outbound webhook endpoints (URL and secrets sealed, at most ten active)
//!   and their deliveries (queued once per endpoint, claimed under a lease, settled, retried).
//! - `llm`: a clinic's language model settings (API key sealed and write-only, changes
//!   audited) and its usage rows, written with the turn and summed per month for the budget.
//! - `appointments`, `reschedule`: the diary (slots, bookings, moves, cancellations, races).
//! - `waitlist`: freed times held, offered in join order, and taken by exactly one patient.
//! - `recordings`: call recordings filed once with their fetch job, sealed with the patient's
//!   key, stored idempotently and deleted at the provider under the job's lease.
//! - `staff_auth`: staff sign-in links (single use, ten minutes, bound to the browser, rate
//!   limited without revealing accounts) and dashboard sessions (idle and absolute expiry,
//!   logout, logout everywhere, ended by disabling or a role change), stored only as hashes.
//! - `assignments`: what Doctors and Read-Only Doctors reach (assigned conversations, their
//!   practitioner's diary), and drafts sent once by someone else.
//! - `data_requests`: erasing a patient (key destroyed, rows deleted, ledger kept, old
//!   ciphertexts unreadable) and a target's audit entries.
//! - `retention`: the purge by each clinic's policy, in audited batches.
//! - `incident`: the kill switch, ending a clinic's sessions, the access report.
//! - `checkpoints`: signed audit checkpoints against truncation and rewrites.
//! - `key_rotation`: re-wrapping every clinic's keys with a new master key.
//! - `lifecycle`: the end of a clinic: termination (no traffic, no background work, still
//!   readable by the operator), reinstatement, and the purge after the hold (every row of
//!   every table, the keys destroyed, a certificate, resumable); `tenant_rebuild`: SQLite's
//!   rebuild of `tenants` by migration 0015 on a filled database.
//! - `inbox`: the staff inbox and conversation takeover (one holder, expiry, the AI silenced
//!   at the store and the outbox, staff replies through the outbox, unread, search).
//! - `queue_stats`: the operator's gauges (due work, dead letters, the pool).
//! - `coordination`: what instances sharing one database coordinate through it: each clinic's
//!   outbound send rate (one bucket for all) and the daily maintenance passes (one holder,
//!   taken over when its lease runs out).
//! - `migration_compat`: every migration keeps the previous release working (no drops, renames
//!   or new NOT NULL columns without a default), so instances can be restarted one by one.
//! - `schema`: properties of the migrated schema as a whole (every foreign key is indexed).
//! - `audit_chain`: the audit chain verifies intact, and every way of tampering with its rows
//!   (edit, delete, swap, truncate, forged links, an edited head) is found at the right seq.

/// Expands each named `async fn name(db: &TestDb)` into `sqlite_name` and `postgres_name` tests.
macro_rules! engine_tests {
    ($($name:ident),* $(,)?) => {
        pastey::paste! {$(
            #[tokio::test]
            async fn [<sqlite_ $name>]() {
                let db = frontdesk_store::testing::TestDb::sqlite().await.expect("SQLite test database");
                $name(&db).await;
                db.cleanup().await;
            }

            #[tokio::test]
            async fn [<postgres_ $name>]() {
                let Some(db) = frontdesk_store::testing::TestDb::postgres().await.expect("PostgreSQL test database") else {
                    return;
                };
                $name(&db).await;
                db.cleanup().await;
            }
        )*}
    };
}

/// Expands each named `async fn name(db: &TestDb)` into a `postgres_name` test only.
macro_rules! postgres_tests {
    ($($name:ident),* $(,)?) => {
        pastey::paste! {$(
            #[tokio::test]
            async fn [<postgres_ $name>]() {
                let Some(db) = frontdesk_store::testing::TestDb::postgres().await.expect("PostgreSQL test database") else {
                    return;
                };
                $name(&db).await;
                db.cleanup().await;
            }
        )*}
    };
}

/// Expands each named `async fn name(db: &TestDb)` into `postgres_as_owner_name`: the store
/// connects as the schema owner, a superuser to whom row-level security does not apply, so
/// the application's own tenant filters are the only wall left (each wall is tested alone).
macro_rules! postgres_as_owner_tests {
    ($($name:ident),* $(,)?) => {
        pastey::paste! {$(
            #[tokio::test]
            async fn [<postgres_as_owner_ $name>]() {
                let Some(mut db) = frontdesk_store::testing::TestDb::postgres().await.expect("PostgreSQL test database") else {
                    return;
                };
                db.cfg.url = db.owner_url.clone().expect("owner URL");
                $name(&db).await;
                db.cleanup().await;
            }
        )*}
    };
}

/// Asserts that a store call failed with the given `StoreError` pattern.
macro_rules! assert_err {
    ($result:expr, $pattern:pat) => {
        match $result {
            Err($pattern) => {}
            Err(other) => panic!("expected Err({}), got Err({other:?})", stringify!($pattern)),
            Ok(_) => panic!("expected Err({}), got Ok", stringify!($pattern)),
        }
    };
}

mod api_keys;
mod appointments;
mod assignments;
mod audit_chain;
mod calcom;
mod calendar_feeds;
mod calls;
mod checkpoints;
mod conformance_catalog;
mod conformance_channels;
mod conformance_conversations;
mod conformance_people;
mod conformance_webchat;
mod coordination;
mod cross_tenant;
mod data_requests;
mod encryption;
mod escalation;
mod harness;
mod inbox;
mod incident;
mod key_rotation;
mod lifecycle;
mod llm;
mod migration_compat;
mod payments;
mod queue_stats;
mod raw;
mod recordings;
mod reminders;
mod reschedule;
mod retention;
mod rls;
mod rls_support;
mod schema;
mod security_alerts;
mod staff_auth;
mod summary;
mod tenant_rebuild;
mod verification;
mod waitlist;
mod webhooks;
