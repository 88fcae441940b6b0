//! Anomaly alerts through the running pipeline (#12 item 4), on both engines: a burst of
//! wrongly signed WhatsApp webhooks for a clinic's number raises that clinic's alert, which
//! the worker emails to its Owners (a fake SMTP server) once; unsigned requests naming no
//! clinic do not count toward it. The look-back detectors run once however many instances
//! try, and what they raise is emailed the same way.

use super::*;
use frontdesk_domain::{PatientId, UserId};

channel_tests!(
    a_burst_of_wrong_signatures_alerts_the_clinics_owners_once_by_email,
    the_look_back_detectors_run_once_across_instances_and_email_the_owners,
);

async fn a_burst_of_wrong_signatures_alerts_the_clinics_owners_once_by_email(app: ChannelApp) {
    let body = wa_text("wamid.PROBE", "254711000009", "hello");
    // Unsigned: refused before any clinic is named, so no clinic's count.
    assert_eq!(app.post_whatsapp(&body, None).await.status(), 401);
    for _ in 0..9 {
        let wrong = wa_signature("not-the-secret", &body);
        assert_eq!(app.post_whatsapp(&body, Some(wrong)).await.status(), 401);
    }
    let scope = app.scope(NAIROBI).await;
    assert!(app.store.security_alerts(scope).await.unwrap().is_empty());
    for _ in 0..3 {
        let wrong = wa_signature("not-the-secret", &body);
        assert_eq!(app.post_whatsapp(&body, Some(wrong)).await.status(), 401);
    }
    let alerts = app.store.security_alerts(scope).await.unwrap();
    assert_eq!(alerts.len(), 1, "one episode: {alerts:?}");
    assert_eq!(alerts[0].kind, AlertKind::SignatureFailures);
    assert_eq!(alerts[0].subject, format!("whatsapp:{PNID}"));
    assert_eq!(alerts[0].occurrences, 3);

    app.drain().await;
    let mails = app.smtp.messages();
    assert_eq!(mails.len(), 1, "{mails:?}");
    let mail = &mails[0];
    assert!(mail.contains("To: owner@nairobi.example"), "{mail}");
    assert!(mail.contains("Kind: signature_failures"), "{mail}");
    assert!(mail.contains("Review and acknowledge it"), "{mail}");
    for private in ["254711000009", "hello"] {
        assert!(!mail.contains(private), "{private} leaked: {mail}");
    }
    let alert = app.store.security_alert(scope, alerts[0].id).await.unwrap();
    assert!(alert.emailed_at.is_some());
    let audit = app.store.audit_entries(scope, 0, u32::MAX).await.unwrap();
    assert!(audit.iter().any(|e| e.action == "security_alert.raised"));
    app.finish().await;
}

async fn the_look_back_detectors_run_once_across_instances_and_email_the_owners(app: ChannelApp) {
    let scope = app.scope(NAIROBI).await;
    let reader = UserId::new();
    for _ in 0..21 {
        app.store
            .append_audit(
                scope,
                &AuditEvent::new(Actor::Staff(reader), "patient.viewed")
                    .target("patient", PatientId::new()),
            )
            .await
            .unwrap();
    }
    let pacer = frontdesk_server::pacing::Pacer::default();
    let pass = |holder: &'static str| {
        frontdesk_server::security_alerts::detection_pass(app.store.as_ref(), holder, &pacer)
    };
    assert_eq!(pass("instance-a").await.unwrap(), Some(1));
    assert_eq!(pass("instance-b").await.unwrap(), None, "already run");
    app.clock.advance(SignedDuration::from_mins(6));
    assert_eq!(
        pass("instance-b").await.unwrap(),
        Some(0),
        "due again, nothing new in the episode"
    );
    app.drain().await;
    let mails = app.smtp.messages();
    assert_eq!(mails.len(), 1, "{mails:?}");
    assert!(mails[0].contains("Kind: record_reads"), "{}", mails[0]);
    assert!(mails[0].contains(&format!("user:{reader}")), "{}", mails[0]);
    app.finish().await;
}
