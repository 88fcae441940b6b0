//! The end of a clinic through the running server, on both engines: once terminated, its
//! provider webhooks answer as for an unknown number and nothing is stored or queued; the
//! daily pass leaves it alone during the hold, then purges it — its recordings' audio from
//! blob storage included — and keeps a certificate; the other clinic carries on.

use super::*;
use frontdesk_server::blobs::{BlobStore, LocalBlobStore};

channel_tests!(a_terminated_clinic_refuses_webhooks_and_the_daily_pass_purges_it_after_the_hold);

const HOLD_DAYS: i64 = 30;

async fn a_terminated_clinic_refuses_webhooks_and_the_daily_pass_purges_it_after_the_hold(
    app: ChannelApp,
) {
    let scope = app.scope(HARBOUR).await;
    let caller = frontdesk_domain::E164Phone::parse("+64211234567").unwrap();
    // A stored recording whose sealed audio is in blob storage.
    app.store
        .start_call(scope, "CA900", &caller, "Hello")
        .await
        .unwrap();
    let rec = app
        .store
        .note_recording(scope, "CA900", "RE900", Some(12))
        .await
        .unwrap()
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let blobs = LocalBlobStore::new(dir.path());
    let key = format!("recordings/{}/{}", scope.tenant_id(), rec);
    let sealed = app
        .store
        .seal_recording(scope, rec, b"audio")
        .await
        .unwrap();
    blobs.put(&key, &sealed).await.unwrap();
    use sha2::Digest;
    let digest: String = sha2::Sha256::digest(&sealed)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    app.store
        .recording_stored(scope, rec, &key, sealed.len() as i64, &digest)
        .await
        .unwrap();
    app.drain().await;

    app.store
        .terminate_tenant(scope, Actor::Operator)
        .await
        .unwrap();
    let r = app
        .post_twilio(&[
            ("MessageSid", "SM900"),
            ("AccountSid", "AC123"),
            ("From", "+64219999999"),
            ("To", TWILIO_NUMBER),
            ("Body", "hello?"),
        ])
        .await;
    assert_eq!(r.status(), 404, "answered as for a number no clinic uses");
    let r = app
        .post_twilio_at(
            "/webhooks/twilio/voice",
            &[
                ("CallSid", "CA901"),
                ("AccountSid", "AC123"),
                ("From", "+64211234567"),
                ("To", TWILIO_NUMBER),
                ("CallStatus", "ringing"),
            ],
        )
        .await;
    assert_eq!(r.status(), 404);
    assert_eq!(
        app.worker.run_once().await.unwrap(),
        0,
        "nothing was queued"
    );
    let texter = frontdesk_domain::E164Phone::parse("+64219999999").unwrap();
    assert!(
        app.store
            .find_patient_by_phone(scope, &texter)
            .await
            .unwrap()
            .is_none(),
        "nothing stored"
    );

    let worker = app
        .worker_with_timeout(Duration::from_secs(2))
        .with_blobs(Arc::new(LocalBlobStore::new(dir.path())))
        .with_termination_hold(SignedDuration::from_hours(24 * HOLD_DAYS));
    assert_eq!(
        worker.purge_terminated().await.unwrap(),
        0,
        "the hold is running"
    );
    assert!(dir.path().join(&key).exists());
    assert!(
        app.store.recording(scope, rec).await.is_ok(),
        "still readable by the operator"
    );

    app.clock
        .advance(SignedDuration::from_hours(24 * HOLD_DAYS + 1));
    assert_eq!(worker.purge_terminated().await.unwrap(), 1);
    assert!(
        !dir.path().join(&key).exists(),
        "the sealed audio is deleted"
    );
    let slug = frontdesk_domain::TenantSlug::parse(HARBOUR).unwrap();
    let cert = app.store.deletion_certificate(&slug).await.unwrap();
    assert!(cert.verify());
    let body = cert.parsed().unwrap();
    assert_eq!((body.blobs_deleted, body.hold_days), (1, HOLD_DAYS));
    assert_eq!(body.rows_deleted["call_recordings"], 1);
    assert!(matches!(
        app.store.operator_scope(&slug).await,
        Err(StoreError::NotFound)
    ));
    // Done once: the next pass has nothing to do; the other clinic is untouched.
    assert_eq!(worker.purge_terminated().await.unwrap(), 0);
    let nairobi = app.scope(NAIROBI).await;
    assert!(
        app.store
            .verify_audit_chain(nairobi)
            .await
            .unwrap()
            .is_intact()
    );
    assert!(
        app.store
            .public_clinic(&frontdesk_domain::TenantSlug::parse(NAIROBI).unwrap())
            .await
            .is_ok()
    );
}
