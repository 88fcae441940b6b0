//! Key and credential operations (#8 item 5), timed on a real database of each engine.
//!
//! ```sh
//! cargo bench -p frontdesk-server --bench keys
//! # smaller / one engine:
//! FRONTDESK_KEYS_ENGINES=sqlite FRONTDESK_KEYS_CLINICS=1000 cargo bench -p frontdesk-server --bench keys
//! ```
//!
//! It creates `FRONTDESK_KEYS_CLINICS` clinics (default 10,000) with a channel account each,
//! then times, exactly as the commands do them:
//! - master key rotation: `frontdesk keys rewrap` over every clinic with a new active key (the
//!   old one retired), then checks that the new key alone opens a clinic;
//! - one channel secret rotated with an overlap (`frontdesk channel rotate-secret`), 100 times;
//! - one API key rotated with an overlap (`frontdesk api-key rotate`), 100 times (each time
//!   the successor of the last), and the check of an API call's key (`check_api_key`);
//! - one clinic's data key rotated (`frontdesk keys rotate-tenant`), and its re-encryption in
//!   batches of 500 (`frontdesk keys reencrypt`) for a clinic of `FRONTDESK_KEYS_PATIENTS`
//!   patients (default 10,000).
//!
//! Bounded: it does the work once and reports; nothing is asserted on time.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use frontdesk_domain::{Clock, ManualClock, TenantSlug};
use frontdesk_server::demo;
use frontdesk_store::crypto::{Keyring, MasterKey};
use frontdesk_store::testing::{Engine, TestDb};
use frontdesk_store::*;
use jiff::SignedDuration;
use std::sync::Arc;
use std::time::{Duration, Instant};

mod common;

use common::percentile;

fn env_num(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn ms(d: Duration) -> String {
    format!("{:.1} ms", d.as_secs_f64() * 1000.0)
}

async fn open(db: &TestDb, ring: Keyring, clock: Arc<dyn Clock>) -> Arc<dyn Store> {
    let mut cfg = db.cfg.clone();
    cfg.max_connections = 8;
    frontdesk_store::open(&cfg, ring, clock)
        .await
        .unwrap()
        .store
}

async fn run_engine(engine: Engine) {
    let Some((label, db)) = common::bench_db(engine).await else {
        return;
    };
    let clinics = env_num("FRONTDESK_KEYS_CLINICS", 10_000);
    let patients = env_num("FRONTDESK_KEYS_PATIENTS", 10_000);
    let clock = Arc::new(ManualClock::new(jiff::Timestamp::now()));
    let (old, new) = (MasterKey::generate("k1"), MasterKey::generate("k2"));
    let store = open(&db, Keyring::new(old.clone(), vec![]), clock.clone()).await;

    // Clinics, each with a channel account; concurrently, as many instances would.
    let t = Instant::now();
    let profile = (demo::DEMO_CLINICS[0].profile)().unwrap();
    let mut tasks = tokio::task::JoinSet::new();
    let workers = 8;
    for w in 0..workers {
        let store = store.clone();
        let profile = profile.clone();
        tasks.spawn(async move {
            for c in (w..clinics).step_by(workers) {
                let slug = TenantSlug::parse(&format!("keys-{c:05}")).unwrap();
                let scope = store.create_tenant(&slug, &profile).await.unwrap();
                store
                    .set_channel_account(
                        scope,
                        Provider::Twilio,
                        &format!("+6490{c:07}"),
                        &serde_json::json!({ "account_sid": "ACkeys" }),
                        &ChannelSecrets::new().with("auth_token", "tw-token"),
                    )
                    .await
                    .unwrap();
            }
        });
    }
    tasks.join_all().await;
    println!(
        "{label}: {clinics} clinics with a channel account each made in {:.1} s",
        t.elapsed().as_secs_f64()
    );
    drop(store);

    // Master key rotation, as `frontdesk keys rewrap` does it.
    let both = open(
        &db,
        Keyring::new(new.clone(), vec![old.clone()]),
        clock.clone(),
    )
    .await;
    let t = Instant::now();
    let mut keys = 0u64;
    for tenant in both.list_tenants().await.unwrap() {
        let scope = both.operator_scope(&tenant.slug).await.unwrap();
        keys += u64::from(
            both.rewrap_tenant_keys(scope, Actor::Operator)
                .await
                .unwrap(),
        );
    }
    let took = t.elapsed();
    println!(
        "{label}: master key rotation (keys rewrap): {keys} keys of {clinics} clinics in {:.2} s ({} a clinic)",
        took.as_secs_f64(),
        ms(took / clinics.max(1) as u32)
    );
    drop(both);
    let only_new = open(&db, Keyring::new(new.clone(), vec![]), clock.clone()).await;
    let first = only_new
        .operator_scope(&TenantSlug::parse("keys-00000").unwrap())
        .await
        .unwrap();
    assert!(
        only_new
            .channel_account(first, Provider::Twilio)
            .await
            .is_ok(),
        "the new master key alone opens a re-wrapped clinic"
    );

    // One channel secret, rotated with a 24-hour overlap, as `channel rotate-secret` does.
    let mut times = Vec::new();
    for i in 0..100 {
        let t = Instant::now();
        only_new
            .rotate_channel_secret(
                first,
                Provider::Twilio,
                "auth_token",
                zeroize::Zeroizing::new(format!("tw-token-{i}")),
                SignedDuration::from_hours(24),
                Actor::Operator,
            )
            .await
            .unwrap();
        times.push(t.elapsed());
    }
    times.sort();
    println!(
        "{label}: channel secret rotation: p50 {}, max {} (100 rotations)",
        ms(percentile(&times, 0.5)),
        ms(*times.last().unwrap())
    );

    // One API key, rotated with a 24-hour overlap, as `api-key rotate` does (each time the
    // successor), then the check every API call makes.
    let mut key = only_new
        .create_api_key(
            first,
            &NewApiKey {
                name: "bench".into(),
                scopes: frontdesk_domain::ApiScopes::parse("schedule:read").unwrap(),
                rate_per_minute: frontdesk_store::api_key::MAX_RATE_PER_MINUTE,
            },
            Actor::Operator,
        )
        .await
        .unwrap();
    let mut times = Vec::new();
    for _ in 0..100 {
        let t = Instant::now();
        key = only_new
            .rotate_api_key(first, key.info.id, 24, Actor::Operator)
            .await
            .unwrap();
        times.push(t.elapsed());
    }
    times.sort();
    println!(
        "{label}: API key rotation: p50 {}, max {} (100 rotations)",
        ms(percentile(&times, 0.5)),
        ms(*times.last().unwrap())
    );
    let mut times = Vec::new();
    for _ in 0..100 {
        let t = Instant::now();
        let check = only_new.check_api_key(&key.key).await.unwrap();
        times.push(t.elapsed());
        assert!(matches!(check, ApiKeyCheck::Allowed(_)));
    }
    times.sort();
    println!(
        "{label}: API key check: p50 {}, max {} (100 calls)",
        ms(percentile(&times, 0.5)),
        ms(*times.last().unwrap())
    );

    // A clinic's data key: rotated, then its patients' keys re-encrypted in batches.
    let t = Instant::now();
    let mut tasks = tokio::task::JoinSet::new();
    for w in 0..workers {
        let store = only_new.clone();
        tasks.spawn(async move {
            for p in (w..patients).step_by(workers) {
                store
                    .create_patient(
                        first,
                        &NewPatient {
                            name: Some(format!("Patient {p}")),
                            phone: None,
                            email: None,
                            language: None,
                        },
                    )
                    .await
                    .unwrap();
            }
        });
    }
    tasks.join_all().await;
    println!(
        "{label}: {patients} patients made in {:.1} s",
        t.elapsed().as_secs_f64()
    );
    let t = Instant::now();
    let version = only_new
        .rotate_tenant_key(first, Actor::Operator)
        .await
        .unwrap();
    let rotate = t.elapsed();
    clock.advance(REENCRYPT_AFTER);
    let t = Instant::now();
    let (mut moved, mut batches, mut slowest) = (0u64, 0u32, Duration::ZERO);
    loop {
        let b0 = Instant::now();
        let b = only_new.reencrypt_tenant_batch(first, 500).await.unwrap();
        slowest = slowest.max(b0.elapsed());
        moved += b.reencrypted;
        batches += 1;
        if !b.destroyed.is_empty() || (b.reencrypted == 0 && b.left == 0) {
            break;
        }
    }
    println!(
        "{label}: clinic data key rotation: version {version} added in {}; {moved} values re-encrypted in {batches} batches in {:.2} s (slowest batch {})",
        ms(rotate),
        t.elapsed().as_secs_f64(),
        ms(slowest)
    );
}

fn main() {
    common::for_each_engine("keys", "FRONTDESK_KEYS_ENGINES", run_engine);
}
