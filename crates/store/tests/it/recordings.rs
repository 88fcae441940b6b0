//! Call recordings on both engines: filed once per recording sid with exactly one fetch job
//! and one audit entry, sealed with the patient's own key (opening only for the same
//! recording and clinic, and never once the key is gone), marked stored idempotently, and
//! deleted at the provider under the fetch job's lease.

use crate::harness::*;
use crate::raw::Raw;
use frontdesk_domain::*;
use frontdesk_store::testing::TestDb;
use frontdesk_store::*;
use jiff::SignedDuration;

engine_tests!(
    a_recording_is_filed_once_with_one_fetch_job_and_one_audit_entry,
    sealed_audio_opens_only_for_its_own_recording_clinic_and_patient_key,
    recording_stored_is_idempotent_and_checked,
    deleted_at_provider_finishes_the_job_once_under_its_lease,
    recordings_stay_inside_their_clinic,
);

const GREETING: &str = "Kia ora, you've reached the clinic. Calls are recorded.";
const LEASE: SignedDuration = SignedDuration::from_secs(60);
const AUDIO: &[u8] = b"RIFF....WAVEfmt pretend this is eight seconds of a caller's voice";

fn sha(c: char) -> String {
    std::iter::repeat_n(c, 64).collect()
}

fn audited(audit: &[AuditEntry], action: &str) -> usize {
    audit.iter().filter(|e| e.action == action).count()
}

/// Rows of `table` of the tenant (as stored, below the store).
async fn rows(db: &TestDb, table: &str, tenant: TenantScope) -> i64 {
    let sql = format!(
        "SELECT count(*) FROM {} WHERE tenant_id = $1",
        crate::raw::ident(table)
    );
    Raw::open(db)
        .await
        .scalar(sql, &[tenant.tenant_id().as_uuid()])
        .await
}

async fn fetch_jobs(db: &TestDb, tenant: TenantScope, status: &str) -> i64 {
    let sql = format!(
        "SELECT count(*) FROM jobs WHERE tenant_id = $1 AND kind = '{FETCH_RECORDING_JOB}' AND status = '{status}'"
    );
    Raw::open(db)
        .await
        .scalar(sql, &[tenant.tenant_id().as_uuid()])
        .await
}

/// Claims the fetch job of `id` (it must be due).
async fn claim_fetch(store: &dyn Store, worker: &str, id: RecordingId) -> JobLease {
    let jobs = store.claim_jobs(worker, LEASE, 50).await.unwrap();
    let job = jobs
        .into_iter()
        .find(|j| j.kind == FETCH_RECORDING_JOB)
        .expect("a due recording.fetch job");
    let payload: FetchRecordingJob = serde_json::from_value(job.payload).unwrap();
    assert_eq!(payload, FetchRecordingJob { recording: id });
    job.lease
}

async fn a_recording_is_filed_once_with_one_fetch_job_and_one_audit_entry(db: &TestDb) {
    let (store, clock) = store_with_clock(db).await;
    let a = seed(&*store, "clinic-a", "alpha", "+64 21 555 0101").await;
    let call = store
        .start_call(a.scope, "CA0001", &a.phone, GREETING)
        .await
        .unwrap()
        .call;

    // Refused before anything is written.
    let long = "R".repeat(65);
    for bad in ["R", "RE 1; --", "RE-0001", "RÉ0001", long.as_str()] {
        assert_err!(
            store.note_recording(a.scope, "CA0001", bad, Some(8)).await,
            StoreError::Invalid(_)
        );
    }
    assert_err!(
        store
            .note_recording(a.scope, "CA0001", "RE0001", Some(-1))
            .await,
        StoreError::Invalid(_)
    );
    assert_err!(
        store
            .note_recording(a.scope, "CA9999", "RE0001", Some(8))
            .await,
        StoreError::NotFound
    );
    assert_eq!(rows(db, "call_recordings", a.scope).await, 0);
    assert_eq!(fetch_jobs(db, a.scope, "queued").await, 0);
    let before = all_audit(&*store, a.scope).await;
    assert_eq!(audited(&before, "recording.received"), 0);

    let id = store
        .note_recording(a.scope, "CA0001", "RE0001", Some(8))
        .await
        .unwrap()
        .expect("a new recording");
    let rec = store.recording(a.scope, id).await.unwrap();
    assert_eq!(
        rec,
        CallRecording {
            id,
            call_sid: "CA0001".into(),
            recording_sid: "RE0001".into(),
            conversation: call.conversation,
            patient: a.patient,
            duration_secs: Some(8),
            status: RecordingStatus::Pending,
            blob_key: None,
            sealed_bytes: None,
            sealed_sha256: None,
            created_at: start(),
            stored_at: None,
            provider_deleted_at: None,
        }
    );
    assert_eq!(fetch_jobs(db, a.scope, "queued").await, 1);
    let audit = all_audit(&*store, a.scope).await;
    let received: Vec<_> = audit
        .iter()
        .filter(|e| e.action == "recording.received")
        .collect();
    assert_eq!(received.len(), 1);
    assert_eq!(received[0].target_kind.as_deref(), Some("recording"));
    assert_eq!(received[0].target_id, Some(id.to_string()));
    assert_eq!(received[0].actor_kind, "system");
    let details: serde_json::Value = serde_json::from_str(&received[0].details).unwrap();
    assert_eq!(details["duration_secs"], 8);
    assert_eq!(details["patient"], a.patient.to_string());

    // The same recording announced again (a retried webhook): nothing more.
    clock.advance(SignedDuration::from_secs(5));
    assert_eq!(
        store
            .note_recording(a.scope, "CA0001", "RE0001", Some(8))
            .await
            .unwrap(),
        None
    );
    assert_eq!(rows(db, "call_recordings", a.scope).await, 1);
    assert_eq!(fetch_jobs(db, a.scope, "queued").await, 1);
    assert_eq!(
        all_audit(&*store, a.scope).await.len(),
        audit.len(),
        "nothing audited for the repeat"
    );

    // A second recording of the call (no duration given) lists after the first.
    let second = store
        .note_recording(a.scope, "CA0001", "RE0002", None)
        .await
        .unwrap()
        .unwrap();
    let listed: Vec<_> = store
        .conversation_recordings(a.scope, call.conversation)
        .await
        .unwrap()
        .into_iter()
        .map(|r| (r.id, r.duration_secs))
        .collect();
    assert_eq!(listed, [(id, Some(8)), (second, None)], "oldest first");
    assert!(
        store
            .conversation_recordings(a.scope, a.conversation)
            .await
            .unwrap()
            .is_empty()
    );
    assert_eq!(fetch_jobs(db, a.scope, "queued").await, 2);
    assert_eq!(claim_fetch(&*store, "w", id).await.scope, a.scope);
}

async fn sealed_audio_opens_only_for_its_own_recording_clinic_and_patient_key(db: &TestDb) {
    let store = store(db).await;
    let (a, b) = seed_two(&*store).await;
    store
        .start_call(a.scope, "CA0001", &a.phone, GREETING)
        .await
        .unwrap();
    store
        .start_call(b.scope, "CA0001", &b.phone, GREETING)
        .await
        .unwrap();
    let note = |scope: TenantScope, sid: &'static str| {
        let store = store.clone();
        async move {
            store
                .note_recording(scope, "CA0001", sid, Some(8))
                .await
                .unwrap()
                .unwrap()
        }
    };
    let (r1, r2, rb) = (
        note(a.scope, "RE0001").await,
        note(a.scope, "RE0002").await,
        note(b.scope, "RE0001").await,
    );

    let sealed = store.seal_recording(a.scope, r1, AUDIO).await.unwrap();
    assert!(
        !sealed
            .windows(16)
            .any(|w| AUDIO.windows(16).any(|x| x == w)),
        "no stretch of the audio in clear"
    );
    assert_ne!(
        store.seal_recording(a.scope, r1, AUDIO).await.unwrap(),
        sealed,
        "a fresh nonce per seal"
    );
    let opened = store.open_recording(a.scope, r1, &sealed).await.unwrap();
    assert_eq!(opened.as_slice(), AUDIO);
    let empty = store.seal_recording(a.scope, r1, b"").await.unwrap();
    assert!(
        store
            .open_recording(a.scope, r1, &empty)
            .await
            .unwrap()
            .is_empty()
    );

    // Another recording of the same patient, same clinic: refused.
    assert_err!(
        store.open_recording(a.scope, r2, &sealed).await,
        StoreError::Crypto(_)
    );
    // Tampered with, or cut short.
    let mut tampered = sealed.clone();
    tampered[20] ^= 1;
    assert_err!(
        store.open_recording(a.scope, r1, &tampered).await,
        StoreError::Crypto(_)
    );
    assert_err!(
        store.open_recording(a.scope, r1, &sealed[..20]).await,
        StoreError::Crypto(_)
    );
    // Another clinic: its scope cannot name A's recording, and its own recording's key and
    // binding do not open A's blob.
    assert_err!(
        store.open_recording(b.scope, r1, &sealed).await,
        StoreError::NotFound
    );
    assert_err!(
        store.seal_recording(b.scope, r1, AUDIO).await,
        StoreError::NotFound
    );
    assert_err!(
        store.open_recording(b.scope, rb, &sealed).await,
        StoreError::Crypto(_)
    );
    assert_err!(
        store
            .seal_recording(a.scope, RecordingId::new(), AUDIO)
            .await,
        StoreError::NotFound
    );

    // Crypto-shredding. The store has no erasure operation yet (#8), so the patient's key is
    // destroyed below the store, as erasure will: the audio can no longer be opened.
    let deleted = Raw::open(db)
        .await
        .execute(
            "DELETE FROM patient_keys WHERE tenant_id = $1 AND patient_id = $2".into(),
            &[a.scope.tenant_id().as_uuid(), a.patient.as_uuid()],
        )
        .await;
    assert_eq!(deleted, 1);
    assert!(
        store.open_recording(a.scope, r1, &sealed).await.is_err(),
        "opened without the patient's key"
    );
    assert!(store.seal_recording(a.scope, r1, AUDIO).await.is_err());
    // B's recording is untouched by A's erasure.
    let sealed_b = store.seal_recording(b.scope, rb, AUDIO).await.unwrap();
    assert_eq!(
        store
            .open_recording(b.scope, rb, &sealed_b)
            .await
            .unwrap()
            .as_slice(),
        AUDIO
    );
}

async fn recording_stored_is_idempotent_and_checked(db: &TestDb) {
    let (store, clock) = store_with_clock(db).await;
    let a = seed(&*store, "clinic-a", "alpha", "+64 21 555 0101").await;
    store
        .start_call(a.scope, "CA0001", &a.phone, GREETING)
        .await
        .unwrap();
    let id = store
        .note_recording(a.scope, "CA0001", "RE0001", Some(8))
        .await
        .unwrap()
        .unwrap();
    let key = format!("{}/{id}", a.scope.tenant_id());
    let long = "k".repeat(513);
    for (k, bytes, hash) in [
        ("", 100, sha('a')),
        (long.as_str(), 100, sha('a')),
        (key.as_str(), 0, sha('a')),
        (key.as_str(), -5, sha('a')),
        (key.as_str(), 100, sha('A')),
        (key.as_str(), 100, sha('g')),
        (key.as_str(), 100, "ab".into()),
    ] {
        assert_err!(
            store.recording_stored(a.scope, id, k, bytes, &hash).await,
            StoreError::Invalid(_)
        );
    }
    assert_err!(
        store
            .recording_stored(a.scope, RecordingId::new(), &key, 100, &sha('a'))
            .await,
        StoreError::NotFound
    );
    assert_eq!(
        store.recording(a.scope, id).await.unwrap().status,
        RecordingStatus::Pending
    );

    clock.advance(SignedDuration::from_secs(30));
    store
        .recording_stored(a.scope, id, &key, 100, &sha('a'))
        .await
        .unwrap();
    let stored = store.recording(a.scope, id).await.unwrap();
    assert_eq!(stored.status, RecordingStatus::Stored);
    assert_eq!(stored.blob_key.as_deref(), Some(key.as_str()));
    assert_eq!(stored.sealed_bytes, Some(100));
    assert_eq!(stored.sealed_sha256, Some(sha('a')));
    assert_eq!(
        stored.stored_at,
        Some(start() + SignedDuration::from_secs(30))
    );
    let audit = all_audit(&*store, a.scope).await;
    let entries: Vec<_> = audit
        .iter()
        .filter(|e| e.action == "recording.stored")
        .collect();
    assert_eq!(entries.len(), 1);
    assert_eq!(entries[0].target_id, Some(id.to_string()));
    let details: serde_json::Value = serde_json::from_str(&entries[0].details).unwrap();
    assert_eq!(details["bytes"], 100);

    // Reported again (a retried job): no change, no second entry.
    clock.advance(SignedDuration::from_secs(30));
    store
        .recording_stored(a.scope, id, &key, 100, &sha('a'))
        .await
        .unwrap();
    assert_eq!(store.recording(a.scope, id).await.unwrap(), stored);
    assert_eq!(all_audit(&*store, a.scope).await.len(), audit.len());
    // Another key would lose track of the blob already stored.
    assert_err!(
        store
            .recording_stored(a.scope, id, "elsewhere", 100, &sha('a'))
            .await,
        StoreError::Conflict(_)
    );
    assert_eq!(store.recording(a.scope, id).await.unwrap(), stored);
    // The same key written again with other bytes: the row follows the blob, audited.
    store
        .recording_stored(a.scope, id, &key, 120, &sha('b'))
        .await
        .unwrap();
    let rewritten = store.recording(a.scope, id).await.unwrap();
    assert_eq!(
        (rewritten.sealed_bytes, rewritten.sealed_sha256.clone()),
        (Some(120), Some(sha('b')))
    );
    assert_eq!(
        audited(&all_audit(&*store, a.scope).await, "recording.stored"),
        2
    );
}

async fn deleted_at_provider_finishes_the_job_once_under_its_lease(db: &TestDb) {
    let (store, clock) = store_with_clock(db).await;
    let a = seed(&*store, "clinic-a", "alpha", "+64 21 555 0101").await;
    store
        .start_call(a.scope, "CA0001", &a.phone, GREETING)
        .await
        .unwrap();
    let id = store
        .note_recording(a.scope, "CA0001", "RE0001", Some(8))
        .await
        .unwrap()
        .unwrap();
    let lease = claim_fetch(&*store, "w1", id).await;
    let deleted = |audit: &[AuditEntry]| audited(audit, "recording.deleted_at_provider");

    // Not stored yet: refused, and the job is still held by its lease.
    match store.recording_deleted_at_provider(&lease, id).await {
        Err(StoreError::Conflict(why)) => assert_eq!(why, "recording not stored"),
        other => panic!("expected Conflict(recording not stored), got {other:?}"),
    }
    assert_eq!(fetch_jobs(db, a.scope, "running").await, 1);
    assert_eq!(deleted(&all_audit(&*store, a.scope).await), 0);

    store
        .recording_stored(a.scope, id, "blob/1", 100, &sha('a'))
        .await
        .unwrap();
    assert_err!(
        store
            .recording_deleted_at_provider(&lease, RecordingId::new())
            .await,
        StoreError::NotFound
    );
    clock.advance(SignedDuration::from_secs(10));
    store
        .recording_deleted_at_provider(&lease, id)
        .await
        .unwrap();
    let rec = store.recording(a.scope, id).await.unwrap();
    let at = start() + SignedDuration::from_secs(10);
    assert_eq!(rec.provider_deleted_at, Some(at));
    assert_eq!(fetch_jobs(db, a.scope, "done").await, 1);
    assert_eq!(fetch_jobs(db, a.scope, "running").await, 0);
    let audit = all_audit(&*store, a.scope).await;
    assert_eq!(deleted(&audit), 1);

    // The same (now stale) lease again: refused, nothing written.
    clock.advance(SignedDuration::from_secs(10));
    assert_err!(
        store.recording_deleted_at_provider(&lease, id).await,
        StoreError::Conflict(_)
    );
    assert_eq!(
        store
            .recording(a.scope, id)
            .await
            .unwrap()
            .provider_deleted_at,
        Some(at)
    );
    assert_eq!(all_audit(&*store, a.scope).await.len(), audit.len());
    // A finished job is never claimed again.
    clock.advance(LEASE * 2);
    assert!(store.claim_jobs("w2", LEASE, 50).await.unwrap().is_empty());

    // A lease that ran out and was taken by another worker: the late worker writes nothing.
    let other = store
        .note_recording(a.scope, "CA0001", "RE0002", None)
        .await
        .unwrap()
        .unwrap();
    store
        .recording_stored(a.scope, other, "blob/2", 100, &sha('c'))
        .await
        .unwrap();
    let late = claim_fetch(&*store, "w1", other).await;
    clock.advance(LEASE + SignedDuration::from_secs(1));
    let current = claim_fetch(&*store, "w2", other).await;
    assert_eq!(current.attempt, 2);
    let before = all_audit(&*store, a.scope).await.len();
    assert_err!(
        store.recording_deleted_at_provider(&late, other).await,
        StoreError::Conflict(_)
    );
    assert_eq!(
        store
            .recording(a.scope, other)
            .await
            .unwrap()
            .provider_deleted_at,
        None
    );
    assert_eq!(all_audit(&*store, a.scope).await.len(), before);
    store
        .recording_deleted_at_provider(&current, other)
        .await
        .unwrap();
    assert_eq!(fetch_jobs(db, a.scope, "done").await, 2);
}

async fn recordings_stay_inside_their_clinic(db: &TestDb) {
    let store = store(db).await;
    let (a, b) = seed_two(&*store).await;
    let call = store
        .start_call(a.scope, "CA0001", &a.phone, GREETING)
        .await
        .unwrap()
        .call;
    let id = store
        .note_recording(a.scope, "CA0001", "RE0001", Some(8))
        .await
        .unwrap()
        .unwrap();
    let audit_b = all_audit(&*store, b.scope).await.len();
    assert_err!(store.recording(b.scope, id).await, StoreError::NotFound);
    assert!(
        store
            .conversation_recordings(b.scope, call.conversation)
            .await
            .unwrap()
            .is_empty()
    );
    assert_err!(
        store
            .recording_stored(b.scope, id, "blob/x", 100, &sha('a'))
            .await,
        StoreError::NotFound
    );
    // B never saw A's call: filing a recording under it is refused.
    assert_err!(
        store
            .note_recording(b.scope, "CA0001", "RE0009", Some(8))
            .await,
        StoreError::NotFound
    );
    assert_eq!(all_audit(&*store, b.scope).await.len(), audit_b);
    assert_eq!(rows(db, "call_recordings", b.scope).await, 0);
    assert_eq!(
        store.recording(a.scope, id).await.unwrap().status,
        RecordingStatus::Pending,
        "A's recording unchanged"
    );
    // The same recording sid in another clinic is another recording (sids are per account).
    store
        .start_call(b.scope, "CA0001", &b.phone, GREETING)
        .await
        .unwrap();
    let theirs = store
        .note_recording(b.scope, "CA0001", "RE0001", Some(8))
        .await
        .unwrap()
        .unwrap();
    assert_ne!(theirs, id);
    assert_eq!(
        store.recording(b.scope, theirs).await.unwrap().patient,
        b.patient
    );
}
