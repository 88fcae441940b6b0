//! Call recordings on both engines: announced before they start, filed from Twilio's signed
//! callback (once, however often it comes), fetched with the clinic's credentials, sealed with
//! the patient's key into the blob store, deleted at Twilio, purged by the clinic's retention
//! policy — and nothing of it when the clinic has not turned recording on or the callback is
//! forged.

use super::*;
use frontdesk_server::blobs::LocalBlobStore;
use frontdesk_server::recordings::DEFAULT_NOTICE;

channel_tests!(
    a_recorded_call_is_announced_then_fetched_sealed_stored_and_deleted_at_twilio,
    recording_is_off_by_default_and_forged_callbacks_store_nothing,
);

const CALLER: &str = "+64211234567";
const AUDIO: &[u8] = b"ID3\x04\x00\x00 fake mp3 audio of a patient's call";
const CALLBACK: &str = "/webhooks/twilio/voice/recording?to=%2B6495550199";

async fn record_calls(app: &ChannelApp) {
    app.store
        .set_channel_account(
            app.scope(HARBOUR).await,
            Provider::Twilio,
            TWILIO_NUMBER,
            &serde_json::json!({ "account_sid": "AC123", "record_calls": "true" }),
            &ChannelSecrets::new().with("auth_token", TWILIO_TOKEN),
        )
        .await
        .unwrap();
}

async fn ring(app: &ChannelApp, sid: &str) -> String {
    let r = app
        .post_twilio_at(
            "/webhooks/twilio/voice",
            &[
                ("CallSid", sid),
                ("AccountSid", "AC123"),
                ("From", CALLER),
                ("To", TWILIO_NUMBER),
                ("Direction", "inbound"),
                ("CallStatus", "ringing"),
            ],
        )
        .await;
    assert_eq!(r.status(), 200);
    r.text().await.unwrap()
}

fn completed<'a>(call: &'a str, recording: &'a str) -> Vec<(&'a str, &'a str)> {
    vec![
        ("AccountSid", "AC123"),
        ("CallSid", call),
        ("RecordingSid", recording),
        ("RecordingUrl", "https://evil.example/steal"),
        ("RecordingStatus", "completed"),
        ("RecordingDuration", "42"),
        ("RecordingChannels", "1"),
        ("RecordingSource", "StartCallRecordingTwiML"),
    ]
}

fn worker_with_blobs(app: &ChannelApp, dir: &std::path::Path) -> Worker {
    app.worker_with_timeout(Duration::from_secs(2))
        .with_blobs(Arc::new(LocalBlobStore::new(dir)))
}

async fn requests_to(app: &ChannelApp, verb: &str, suffix: &str) -> Vec<Request> {
    app.fake
        .received_requests()
        .await
        .unwrap()
        .into_iter()
        .filter(|r| r.method.as_str() == verb && r.url.path().ends_with(suffix))
        .collect()
}

async fn a_recorded_call_is_announced_then_fetched_sealed_stored_and_deleted_at_twilio(
    app: ChannelApp,
) {
    record_calls(&app).await;
    let twiml = ring(&app, "CA700").await;
    let doc = roxmltree::Document::parse(&twiml).unwrap();
    let root = doc.root_element();
    let names: Vec<&str> = root
        .children()
        .filter(|c| c.is_element())
        .map(|c| c.tag_name().name())
        .collect();
    assert_eq!(names, ["Say", "Start", "Gather"], "notice first: {twiml}");
    let first = root.children().find(|c| c.is_element()).unwrap();
    assert_eq!(first.text(), Some(DEFAULT_NOTICE));
    let rec = root
        .descendants()
        .find(|n| n.has_tag_name("Recording"))
        .unwrap();
    assert_eq!(
        rec.attribute("recordingStatusCallback"),
        Some(format!("{}{CALLBACK}", app.base).as_str())
    );
    assert_eq!(
        rec.attribute("recordingStatusCallbackEvent"),
        Some("completed")
    );

    let scope = app.scope(HARBOUR).await;
    let call = app.store.call(scope, "CA700").await.unwrap();
    let transcript = app.store.messages(scope, call.conversation).await.unwrap();
    assert!(
        transcript[0].body.starts_with(DEFAULT_NOTICE),
        "the transcript shows the caller was told"
    );

    Mock::given(method("GET"))
        .and(path("/2010-04-01/Accounts/AC123/Recordings/RE700.mp3"))
        .and(header(
            "authorization",
            format!(
                "Basic {}",
                base64::engine::general_purpose::STANDARD.encode(format!("AC123:{TWILIO_TOKEN}"))
            )
            .as_str(),
        ))
        .respond_with(ResponseTemplate::new(200).set_body_bytes(AUDIO))
        .mount(&app.fake)
        .await;
    // Twilio is briefly down for the delete: the job retries it without fetching again.
    Mock::given(method("DELETE"))
        .and(path("/2010-04-01/Accounts/AC123/Recordings/RE700.json"))
        .respond_with(ResponseTemplate::new(503))
        .up_to_n_times(1)
        .with_priority(1)
        .mount(&app.fake)
        .await;
    Mock::given(method("DELETE"))
        .and(path("/2010-04-01/Accounts/AC123/Recordings/RE700.json"))
        .respond_with(ResponseTemplate::new(204))
        .mount(&app.fake)
        .await;

    for _ in 0..2 {
        let r = app
            .post_twilio_at(CALLBACK, &completed("CA700", "RE700"))
            .await;
        assert_eq!(r.status(), 204);
    }
    let dir = tempfile::tempdir().unwrap();
    let worker = worker_with_blobs(&app, dir.path());
    app.drain_with(&worker).await;
    let recs = app
        .store
        .conversation_recordings(scope, call.conversation)
        .await
        .unwrap();
    assert_eq!(recs.len(), 1, "the repeated callback is filed once");
    assert_eq!(recs[0].status, RecordingStatus::Stored);
    assert_eq!(recs[0].duration_secs, Some(42));
    assert!(recs[0].provider_deleted_at.is_none(), "the delete failed");

    app.clock.advance(SignedDuration::from_mins(10));
    app.drain_with(&worker).await;
    let rec = app.store.recording(scope, recs[0].id).await.unwrap();
    assert!(rec.provider_deleted_at.is_some());
    assert_eq!(requests_to(&app, "GET", "/RE700.mp3").await.len(), 1);
    assert_eq!(requests_to(&app, "DELETE", "/RE700.json").await.len(), 2);
    assert!(
        requests_to(&app, "GET", "/steal").await.is_empty(),
        "the URL in the callback is never fetched"
    );

    // On disk: sealed, not the audio; the patient's key opens it.
    let key = rec.blob_key.clone().unwrap();
    assert_eq!(key, format!("recordings/{}/{}", scope.tenant_id(), rec.id));
    let sealed = std::fs::read(dir.path().join(&key)).unwrap();
    assert_eq!(rec.sealed_bytes, Some(sealed.len() as i64));
    assert!(!sealed.windows(14).any(|w| w == b"fake mp3 audio"));
    let opened = app
        .store
        .open_recording(scope, rec.id, &sealed)
        .await
        .unwrap();
    assert_eq!(opened.as_slice(), AUDIO);

    let actions: Vec<String> = app
        .store
        .audit_entries(scope, 0, 500)
        .await
        .unwrap()
        .into_iter()
        .map(|e| e.action)
        .collect();
    for want in [
        "recording.received",
        "recording.stored",
        "recording.deleted_at_provider",
    ] {
        assert_eq!(
            actions.iter().filter(|a| *a == want).count(),
            1,
            "{want}: {actions:?}"
        );
    }

    // Retention: after 30 days the audio goes from blob storage, then its row; a worker that
    // cannot delete the audio keeps the row for the next pass. After 90 days of silence the
    // call's conversation goes too.
    let blob = dir.path().join(&key);
    app.clock.advance(SignedDuration::from_hours(24 * 31));
    let kept = app.worker.purge_retention().await.unwrap();
    assert_eq!(
        (kept.recordings, kept.recordings_kept),
        (0, 1),
        "no blob storage here"
    );
    assert!(blob.exists() && app.store.recording(scope, rec.id).await.is_ok());
    let pass = worker.purge_retention().await.unwrap();
    assert_eq!((pass.recordings, pass.recordings_kept), (1, 0));
    assert!(!blob.exists(), "the sealed audio file is deleted");
    assert!(matches!(
        app.store.recording(scope, rec.id).await,
        Err(StoreError::NotFound)
    ));
    assert!(
        app.store
            .conversation(scope, call.conversation)
            .await
            .is_ok()
    );
    app.clock.advance(SignedDuration::from_hours(24 * 60));
    assert!(worker.purge_retention().await.unwrap().conversations >= 1);
    assert!(matches!(
        app.store.conversation(scope, call.conversation).await,
        Err(StoreError::NotFound)
    ));
    // The same daily pass signs each clinic's audit chain head.
    assert_eq!(
        worker.take_checkpoints().await.unwrap(),
        2,
        "both demo clinics"
    );
    let cps = app.store.audit_checkpoints(scope, 10).await.unwrap();
    assert_eq!(cps.len(), 1);
    assert_eq!(
        app.store
            .check_audit_checkpoint(scope, &cps[0])
            .await
            .unwrap(),
        frontdesk_store::CheckpointCheck::Holds
    );
    app.finish().await;
}

async fn recording_is_off_by_default_and_forged_callbacks_store_nothing(app: ChannelApp) {
    let twiml = ring(&app, "CA701").await;
    assert!(
        !twiml.contains("<Start>") && !twiml.contains("Recording"),
        "{twiml}"
    );

    record_calls(&app).await;
    ring(&app, "CA702").await;
    let url = format!("{}{CALLBACK}", app.base);
    let params: Vec<(String, String)> = completed("CA702", "RE702")
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect();
    // Signed with the wrong token, for another URL, or not at all: 401, nothing filed.
    for signature in [
        Some(twilio_signature("not-the-token", &url, &params)),
        Some(twilio_signature(
            TWILIO_TOKEN,
            &format!(
                "{}/webhooks/twilio/voice/recording?to=%2B6400000000",
                app.base
            ),
            &params,
        )),
        None,
    ] {
        let mut req = app.client.post(&url).form(&params);
        if let Some(s) = signature {
            req = req.header("x-twilio-signature", s);
        }
        assert_eq!(req.send().await.unwrap().status(), 401);
    }
    // Without the clinic's number in the URL there is nobody to check it against.
    let r = app
        .post_twilio_at(
            "/webhooks/twilio/voice/recording",
            &completed("CA702", "RE702"),
        )
        .await;
    assert_eq!(r.status(), 400);
    // `absent` (nothing was recorded) files nothing either.
    let mut absent = completed("CA702", "RE702");
    absent.retain(|(k, _)| *k != "RecordingStatus");
    absent.push(("RecordingStatus", "absent"));
    assert_eq!(app.post_twilio_at(CALLBACK, &absent).await.status(), 204);

    let scope = app.scope(HARBOUR).await;
    let call = app.store.call(scope, "CA702").await.unwrap();
    assert!(
        app.store
            .conversation_recordings(scope, call.conversation)
            .await
            .unwrap()
            .is_empty()
    );
    assert!(app.fake.received_requests().await.unwrap().is_empty());
    app.finish().await;
}
