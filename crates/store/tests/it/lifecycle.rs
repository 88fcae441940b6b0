//! The end of a clinic (#8 item 2): a terminated clinic takes no traffic and gets no
//! background work but stays readable by the operator during its hold; it can be
//! reinstated; after the hold its purge deletes every row of it in every table, destroys its
//! keys, leaves a tombstone and a certificate whose digest matches, and can be run again.
//! (SQLite's rebuild of `tenants` for the new statuses: `tenant_rebuild`.)

use crate::harness::*;
use crate::raw::Raw;
use crate::rls_support::seeded_fixture;
use frontdesk_store::testing::TestDb;
use frontdesk_store::*;
use jiff::SignedDuration;
use std::collections::BTreeMap;

const HOLD: SignedDuration = SignedDuration::from_hours(24 * 30);
const LEASE: SignedDuration = SignedDuration::from_secs(60);

engine_tests!(
    a_terminated_clinic_takes_no_traffic_but_the_operator_still_reads_it_and_can_reinstate_it,
    purge_waits_for_the_hold_then_deletes_every_row_destroys_the_keys_and_certifies_it,
);
postgres_tests!(purge_empties_every_tenant_table_when_every_one_holds_rows);

fn inbound(from: &str, id: &str) -> InboundDelivery {
    InboundDelivery {
        channel: Channel::Whatsapp,
        from: phone(from),
        provider_message_id: id.to_owned(),
        body: "Hello".to_owned(),
        consent: None,
        auto_reply: None,
        run_agent: true,
    }
}

async fn a_terminated_clinic_takes_no_traffic_but_the_operator_still_reads_it_and_can_reinstate_it(
    db: &TestDb,
) {
    let store = store(db).await;
    let (a, b) = seed_two(&*store).await;
    for s in [&a, &b] {
        let address = format!("pn-{}", s.slug);
        let secrets = ChannelSecrets::new().with("app_secret", "s3cret");
        store
            .set_channel_account(
                s.scope,
                Provider::Whatsapp,
                &address,
                &serde_json::json!({}),
                &secrets,
            )
            .await
            .unwrap();
        // Work queued before the termination: a patient's message waiting for its reply.
        store
            .ingest_inbound(
                s.scope,
                &inbound("+64215550999", &format!("wamid.{}", s.slug)),
            )
            .await
            .unwrap();
    }
    let session = sign_in(&*store, &a).await;

    let t = store
        .terminate_tenant(a.scope, Actor::Operator)
        .await
        .unwrap();
    assert_eq!(t.status, "terminated");
    assert!(t.terminated_at.is_some() && t.purged_at.is_none());
    assert_err!(
        store.terminate_tenant(a.scope, Actor::Operator).await,
        StoreError::Conflict(_)
    );

    // No traffic: public pages, web chat, provider webhooks, staff sessions, sign-in links.
    assert_err!(store.public_clinic(&a.slug).await, StoreError::NotFound);
    assert_err!(
        store
            .start_webchat(&a.slug, SignedDuration::from_mins(30))
            .await,
        StoreError::NotFound
    );
    assert_err!(
        store
            .route_channel(Provider::Whatsapp, &format!("pn-{}", a.slug))
            .await,
        StoreError::NotFound
    );
    assert!(
        !store
            .channel_addresses(Provider::Whatsapp)
            .await
            .unwrap()
            .contains(&format!("pn-{}", a.slug))
    );
    assert_err!(
        store
            .check_session(a.scope.tenant_id(), &session.token)
            .await,
        StoreError::Unauthorized
    );
    assert!(matches!(
        store
            .request_login_link(
                &a.slug,
                &a.user_email,
                "192.0.2.1",
                "browser",
                &LoginLinkPolicy::default()
            )
            .await
            .unwrap(),
        LoginLinkOutcome::NoSuchUser
    ));
    // No background work: only B's queued reply is claimed.
    let jobs = store.claim_jobs("w1", LEASE, 10).await.unwrap();
    assert!(!jobs.is_empty());
    assert!(
        jobs.iter()
            .all(|j| j.lease.scope.tenant_id() == b.scope.tenant_id())
    );
    for j in &jobs {
        store.finish_job(&j.lease).await.unwrap();
    }
    // B is untouched.
    assert!(store.public_clinic(&b.slug).await.is_ok());
    assert!(
        store
            .route_channel(Provider::Whatsapp, &format!("pn-{}", b.slug))
            .await
            .is_ok()
    );

    // The operator still reads everything (a patient's copy, the clinic export).
    let scope = store.operator_scope(&a.slug).await.unwrap();
    assert_eq!(scope.tenant_id(), a.scope.tenant_id());
    assert_eq!(
        store
            .patient(scope, a.patient)
            .await
            .unwrap()
            .name
            .as_deref(),
        Some("Patient alpha")
    );
    assert!(
        !store
            .messages(scope, a.conversation)
            .await
            .unwrap()
            .is_empty()
    );
    let listed = store.list_tenants().await.unwrap();
    let row = listed.iter().find(|t| t.slug == a.slug).unwrap();
    assert_eq!(
        (row.status.as_str(), row.terminated_at),
        ("terminated", t.terminated_at)
    );
    // The background passes no longer visit it.
    assert!(!store.active_scopes().await.unwrap().contains(&a.scope));

    // Reinstated during the hold: traffic again, and the waiting reply is worked on.
    let back = store
        .reinstate_tenant(a.scope, Actor::Operator)
        .await
        .unwrap();
    assert_eq!((back.status.as_str(), back.terminated_at), ("active", None));
    assert!(store.active_scopes().await.unwrap().contains(&a.scope));
    assert_err!(
        store.reinstate_tenant(a.scope, Actor::Operator).await,
        StoreError::Conflict(_)
    );
    assert!(store.public_clinic(&a.slug).await.is_ok());
    assert!(
        store
            .route_channel(Provider::Whatsapp, &format!("pn-{}", a.slug))
            .await
            .is_ok()
    );
    let jobs = store.claim_jobs("w1", LEASE, 10).await.unwrap();
    assert_eq!(jobs.len(), 1);
    assert_eq!(jobs[0].lease.scope.tenant_id(), a.scope.tenant_id());

    let audit = all_audit(&*store, a.scope).await;
    let actions: Vec<&str> = audit.iter().map(|e| e.action.as_str()).collect();
    let ended = audit
        .iter()
        .find(|e| e.action == "tenant.terminated")
        .unwrap();
    assert!(
        ended.details.contains("\"sessions_ended\":1"),
        "{}",
        ended.details
    );
    assert!(
        actions.ends_with(&["tenant.terminated", "tenant.reinstated"]),
        "{actions:?}"
    );
    assert!(store.verify_audit_chain(a.scope).await.unwrap().is_intact());
}

/// Copies of clinic A's rows, as a stale replica or an exported table would hold them.
const KEPT: &[(&str, &str)] = &[
    ("patients", "kept_patients"),
    ("patient_keys", "kept_patient_keys"),
    ("conversations", "kept_conversations"),
    ("messages", "kept_messages"),
];

async fn purge_waits_for_the_hold_then_deletes_every_row_destroys_the_keys_and_certifies_it(
    db: &TestDb,
) {
    let (store, clock) = store_with_clock(db).await;
    let (a, b) = seed_two(&*store).await;
    let tenant = a.scope.tenant_id().as_uuid();
    let mut raw = Raw::open(db).await;
    let mut tables = raw.tables_with_tenant_id().await;
    tables.retain(|t| t != "deletion_certificates");
    let before_a = raw.rows_of(&tables, tenant).await;
    let before_b = raw.rows_of(&tables, b.scope.tenant_id().as_uuid()).await;
    for (table, copy) in KEPT {
        raw.execute(
            format!("CREATE TABLE {copy} AS SELECT * FROM {table} WHERE tenant_id = $1"),
            &[tenant],
        )
        .await;
    }

    // Only a terminated clinic, and only after its hold (unless asked explicitly).
    assert_err!(
        store.begin_tenant_purge(&a.slug, HOLD, false).await,
        StoreError::Conflict(_)
    );
    store
        .terminate_tenant(a.scope, Actor::Operator)
        .await
        .unwrap();
    clock.advance(HOLD - SignedDuration::from_secs(1));
    assert_err!(
        store.begin_tenant_purge(&a.slug, HOLD, false).await,
        StoreError::Conflict(_)
    );
    assert!(
        store.operator_scope(&a.slug).await.is_ok(),
        "nothing changed"
    );
    assert_err!(
        store
            .finish_tenant_purge(a.scope.tenant_id(), HOLD, 0)
            .await,
        StoreError::Conflict(_)
    );
    clock.advance(SignedDuration::from_secs(1));

    let plan = store
        .begin_tenant_purge(&a.slug, HOLD, false)
        .await
        .unwrap();
    assert_eq!(plan.tenant, a.scope.tenant_id());
    assert!(!plan.already_purged);
    // From here the clinic cannot be read, not even by the operator.
    assert_err!(store.operator_scope(&a.slug).await, StoreError::NotFound);
    let head = store.audit_entries(a.scope, 0, u32::MAX).await.unwrap();
    let last = head.last().unwrap();
    assert_eq!(last.action, "tenant.purge_started");
    // Stopped here (say, blob storage unreachable): a second run picks the purge up.
    let again = store
        .begin_tenant_purge(&a.slug, HOLD, false)
        .await
        .unwrap();
    assert_eq!(again.blob_keys, plan.blob_keys);
    assert!(!again.already_purged);

    let cert = store
        .finish_tenant_purge(plan.tenant, HOLD, plan.blob_keys.len() as u64)
        .await
        .unwrap();
    assert!(cert.verify(), "the digest matches the body");
    let body = cert.parsed().unwrap();
    assert_eq!(body.format, CERTIFICATE_FORMAT);
    assert_eq!(
        (body.tenant_id.as_str(), body.slug.as_str()),
        (tenant.to_string().as_str(), "clinic-a")
    );
    assert_eq!((body.hold_days, body.purged_before_hold_ended), (30, false));
    assert_eq!(body.audit_head.seq, last.seq);
    assert_eq!(body.audit_head.hash, hex(&last.hash));
    let keys: Vec<(&str, i32)> = body
        .tenant_keys_destroyed
        .iter()
        .map(|k| (k.purpose.as_str(), k.version))
        .collect();
    assert_eq!(keys, [("data", 1), ("index", 1)]);
    // Counts: exactly the rows the clinic had (the audit log with its last entry).
    let mut expected: BTreeMap<String, u64> = BTreeMap::new();
    for (t, n) in &before_a {
        expected.insert(t.clone(), *n as u64);
    }
    *expected.get_mut("audit_log").unwrap() = last.seq as u64;
    let nonzero = |m: &BTreeMap<String, u64>| -> BTreeMap<String, u64> {
        m.iter()
            .filter(|(_, n)| **n > 0)
            .map(|(k, v)| (k.clone(), *v))
            .collect()
    };
    assert_eq!(nonzero(&body.rows_deleted), nonzero(&expected));
    for t in body.rows_deleted.keys() {
        assert!(
            tables.contains(t),
            "the certificate names a table that does not exist: {t}"
        );
    }

    // Nothing of A is left in any table; B has every row it had, and its chain verifies.
    let after_a = raw.rows_of(&tables, tenant).await;
    assert!(after_a.values().all(|n| *n == 0), "rows left: {after_a:?}");
    assert_eq!(
        raw.rows_of(&tables, b.scope.tenant_id().as_uuid()).await,
        before_b
    );
    assert!(store.verify_audit_chain(b.scope).await.unwrap().is_intact());
    assert!(
        !store
            .messages(b.scope, b.conversation)
            .await
            .unwrap()
            .is_empty()
    );
    assert!(store.public_clinic(&b.slug).await.is_ok());

    // The tombstone: slug and id kept, status purged; everything refuses it.
    let listed = store.list_tenants().await.unwrap();
    let row = listed.iter().find(|t| t.slug == a.slug).unwrap();
    assert_eq!(
        (row.status.as_str(), row.id),
        ("purged", a.scope.tenant_id())
    );
    assert_eq!(row.purged_at, Some(cert.purged_at));
    assert_err!(store.operator_scope(&a.slug).await, StoreError::NotFound);
    assert_eq!(store.active_scopes().await.unwrap(), vec![b.scope]);
    assert_err!(store.public_clinic(&a.slug).await, StoreError::NotFound);
    assert_err!(
        store.create_tenant(&a.slug, &profile("Reused")).await,
        StoreError::Conflict(_)
    );

    // The keys are destroyed: A's rows put back from the copies no longer open, in this
    // process or a fresh one.
    for (table, copy) in KEPT {
        raw.execute(format!("INSERT INTO {table} SELECT * FROM {copy}"), &[])
            .await;
    }
    assert!(store.patient(a.scope, a.patient).await.is_err());
    assert!(store.messages(a.scope, a.conversation).await.is_err());
    let fresh = db.open_default().await.unwrap();
    assert!(fresh.patient(a.scope, a.patient).await.is_err());
    assert!(fresh.messages(a.scope, a.conversation).await.is_err());
    for (table, copy) in KEPT.iter().rev() {
        raw.execute(
            format!("DELETE FROM {table} WHERE tenant_id = $1"),
            &[tenant],
        )
        .await;
        raw.execute(format!("DROP TABLE {copy}"), &[]).await;
    }

    // Idempotent: the same certificate again, kept and retrievable by slug.
    let twice = store
        .finish_tenant_purge(plan.tenant, HOLD, 0)
        .await
        .unwrap();
    assert_eq!(
        (twice.body.as_str(), twice.sha256.as_str()),
        (cert.body.as_str(), cert.sha256.as_str())
    );
    assert!(
        store
            .begin_tenant_purge(&a.slug, HOLD, false)
            .await
            .unwrap()
            .already_purged
    );
    let kept = store.deletion_certificate(&a.slug).await.unwrap();
    assert_eq!(kept.sha256, cert.sha256);
    assert!(kept.to_document().contains(&cert.sha256));
    assert_err!(
        store.deletion_certificate(&b.slug).await,
        StoreError::NotFound
    );
    // A tampered body no longer matches its digest.
    let forged = DeletionCertificate {
        body: cert
            .body
            .replace("\"blobs_deleted\":0", "\"blobs_deleted\":7"),
        ..cert.clone()
    };
    assert!(!forged.verify());
}

/// Every tenant table seeded for two clinics (the row-level security fixture): the purge of
/// one leaves none of its rows in any of them and all of the other's.
async fn purge_empties_every_tenant_table_when_every_one_holds_rows(db: &TestDb) {
    let mut f = seeded_fixture(db).await;
    // The app role cannot delete an audit log outside a purge, nor touch a certificate.
    let mut tx = sqlx::Connection::begin(&mut f.app).await.unwrap();
    sqlx::query("SELECT set_config('app.tenant_id', $1, true)")
        .bind(f.b.to_string())
        .execute(&mut *tx)
        .await
        .unwrap();
    let refused = sqlx::query("SELECT frontdesk_purge_audit_log($1)")
        .bind(f.b)
        .execute(&mut *tx)
        .await
        .unwrap_err();
    assert_eq!(
        refused
            .as_database_error()
            .and_then(|e| e.code())
            .as_deref(),
        Some("42501"),
        "{refused}"
    );
    tx.rollback().await.unwrap();
    crate::rls_support::assert_privileges(
        &mut f.app,
        "deletion_certificates",
        [true, true, false, false],
    )
    .await;
    let store = store(db).await;
    let mut raw = Raw::open(db).await;
    let mut tables = raw.tables_with_tenant_id().await;
    tables.retain(|t| t != "deletion_certificates");
    let before_a = raw.rows_of(&tables, f.a).await;
    let before_b = raw.rows_of(&tables, f.b).await;
    assert!(before_a.values().all(|n| *n > 0), "{before_a:?}");
    let slug = store
        .list_tenants()
        .await
        .unwrap()
        .into_iter()
        .find(|t| t.id.as_uuid() == f.a)
        .unwrap()
        .slug;
    let scope = store.operator_scope(&slug).await.unwrap();
    store
        .terminate_tenant(scope, Actor::Operator)
        .await
        .unwrap();
    let plan = store.begin_tenant_purge(&slug, HOLD, true).await.unwrap();
    let cert = store
        .finish_tenant_purge(plan.tenant, HOLD, 0)
        .await
        .unwrap();
    assert!(cert.parsed().unwrap().purged_before_hold_ended);
    let after_a = raw.rows_of(&tables, f.a).await;
    assert!(after_a.values().all(|n| *n == 0), "rows left: {after_a:?}");
    assert_eq!(raw.rows_of(&tables, f.b).await, before_b);
    let deleted = cert.parsed().unwrap().rows_deleted;
    for t in &tables {
        assert!(
            deleted.get(t).is_some_and(|n| *n > 0),
            "{t} is not in the certificate"
        );
    }
}
