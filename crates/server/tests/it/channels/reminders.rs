//! Appointment reminders end to end on both engines: the worker's reminder pass queues each
//! due reminder once, it reaches the patient by SMS (Twilio fake) or, outside the 24-hour
//! window, as the clinic's WhatsApp template (Graph API fake), and the patient's replies
//! confirm or cancel that appointment; an opted-out number gets nothing.

use super::*;
use frontdesk_domain::{AppointmentId, PatientId};

channel_tests!(
    a_reminder_is_texted_once_and_yes_confirms_the_appointment,
    a_reminder_reply_can_cancel_and_an_opted_out_number_gets_none,
    a_whatsapp_reminder_outside_the_window_is_the_clinics_template,
    every_pass_over_the_clinics_pauses_between_two_clinics_and_none_once_stopping,
);

/// Books the first free sports massage with any practitioner for a patient with `number`,
/// then moves the clock to 20 hours before it (inside the 24-hour reminder window).
pub(super) async fn booked_tomorrow(app: &ChannelApp, number: &str) -> (AppointmentId, PatientId) {
    let scope = app.scope(HARBOUR).await;
    let patient = app
        .store
        .create_patient(
            scope,
            &NewPatient {
                name: Some("Tama Rangi".into()),
                phone: Some(frontdesk_domain::E164Phone::parse(number).unwrap()),
                ..NewPatient::default()
            },
        )
        .await
        .unwrap();
    let appt = book_soon(app, HARBOUR, "Sports massage", patient, 30).await;
    (appt, patient)
}

/// Books `service` for `patient` at the first free time at least `notice_hours` ahead, then
/// moves the clock to 20 hours before it.
async fn book_soon(
    app: &ChannelApp,
    slug: &str,
    service: &str,
    patient: PatientId,
    notice_hours: i64,
) -> AppointmentId {
    let scope = app.scope(slug).await;
    let catalog = app.store.clinic_catalog(scope).await.unwrap();
    let service = catalog.services.iter().find(|s| s.name == service).unwrap();
    let today = app.clock.now().to_zoned(jiff::tz::TimeZone::UTC).date();
    let mut slot = None;
    for p in &catalog.practitioners {
        let search = SlotSearch {
            practitioner: p.id,
            service: service.id,
            from: today,
            to: today.checked_add(jiff::Span::new().days(14)).unwrap(),
            min_notice: SignedDuration::from_hours(notice_hours),
            day_start: None,
            day_end: None,
            limit: 1,
        };
        if let Ok(found) = app.store.free_slots(scope, &search).await
            && let Some(s) = found.first()
        {
            slot = Some((p.id, s.start));
            break;
        }
    }
    let (practitioner, start) = slot.expect("a free slot in two weeks");
    let appt = app
        .store
        .book_appointment(
            scope,
            &NewAppointment {
                patient,
                practitioner,
                service: service.id,
                starts_at: start,
                idempotency_key: format!("reminder-{patient}"),
                actor: Actor::Agent,
            },
        )
        .await
        .unwrap();
    let until_start = start.duration_since(app.clock.now());
    app.clock
        .advance(until_start - SignedDuration::from_hours(20));
    appt.id
}

pub(super) async fn sms_from(app: &ChannelApp, sid: &str, from: &str, body: &str) {
    app.clock.advance(SignedDuration::from_secs(30));
    let r = app
        .post_twilio(&[
            ("MessageSid", sid),
            ("From", from),
            ("To", TWILIO_NUMBER),
            ("Body", body),
        ])
        .await;
    assert_eq!(r.status(), 200);
    app.drain().await;
}

async fn a_reminder_is_texted_once_and_yes_confirms_the_appointment(app: ChannelApp) {
    mount_twilio_ok(&app.fake).await;
    let number = "+64215550177";
    let (appt, _) = booked_tomorrow(&app, number).await;
    let pass = app.worker.send_reminders().await.unwrap();
    assert_eq!((pass.sent, pass.skipped), (1, 0));
    // A second pass (or a second instance) finds nothing more to send.
    assert_eq!(app.worker.send_reminders().await.unwrap().sent, 0);
    app.drain().await;
    let texts = app.texts_to(number).await;
    assert_eq!(texts.len(), 1, "{texts:?}");
    assert!(
        texts[0].starts_with("Reminder from Harbour Physio: Sports massage with "),
        "{texts:?}"
    );
    for keyword in ["CANCEL", "STOP"] {
        assert!(
            !texts[0].contains(keyword),
            "never suggest an opt-out keyword: {texts:?}"
        );
    }
    sms_from(&app, "SMr1", number, "Yes").await;
    let texts = app.texts_to(number).await;
    let reply = texts.last().unwrap();
    assert!(reply.contains("confirmed"), "{texts:?}");
    let scope = app.scope(HARBOUR).await;
    assert_eq!(
        app.store.appointment(scope, appt).await.unwrap().status,
        AppointmentStatus::Confirmed
    );
    app.finish().await;
}

async fn a_reminder_reply_can_cancel_and_an_opted_out_number_gets_none(app: ChannelApp) {
    mount_twilio_ok(&app.fake).await;
    let number = "+64215550166";
    let (appt, _) = booked_tomorrow(&app, number).await;
    assert_eq!(app.worker.send_reminders().await.unwrap().sent, 1);
    app.drain().await;
    sms_from(&app, "SMc1", number, "I need to cancel it, sorry").await;
    let ask = app.texts_to(number).await.last().unwrap().clone();
    assert!(ask.starts_with("Cancel your Sports massage"), "{ask}");
    sms_from(&app, "SMc2", number, "yes").await;
    let done = app.texts_to(number).await.last().unwrap().clone();
    assert!(done.contains("cancelled"), "{done}");
    let scope = app.scope(HARBOUR).await;
    assert_eq!(
        app.store.appointment(scope, appt).await.unwrap().status,
        AppointmentStatus::Cancelled
    );

    // A patient who opted out of SMS is never sent a reminder.
    let quiet = "+64215550155";
    let (quiet_appt, _) = booked_tomorrow(&app, quiet).await;
    sms_from(&app, "SMq1", quiet, "STOP").await;
    let texts_before = app.texts_to(quiet).await.len();
    let pass = app.worker.send_reminders().await.unwrap();
    assert_eq!((pass.sent, pass.skipped), (0, 1));
    app.drain().await;
    assert_eq!(app.texts_to(quiet).await.len(), texts_before);
    assert_eq!(
        app.store
            .appointment(scope, quiet_appt)
            .await
            .unwrap()
            .status,
        AppointmentStatus::Booked
    );
    app.finish().await;
}

async fn a_whatsapp_reminder_outside_the_window_is_the_clinics_template(app: ChannelApp) {
    mount_graph_ok(&app.fake).await;
    let scope = app.scope(NAIROBI).await;
    // The clinic's approved template for reminders.
    let wa = ChannelSecrets::new()
        .with("app_secret", APP_SECRET)
        .with("verify_token", "verify-me")
        .with("access_token", "EAAtoken");
    app.store
        .set_channel_account(
            scope,
            Provider::Whatsapp,
            PNID,
            &serde_json::json!({
                "templates": { "reminder": "appointment_reminder" },
                "template_language": "en"
            }),
            &wa,
        )
        .await
        .unwrap();
    // The patient wrote on WhatsApp once; the appointment is days later, so the reminder
    // falls outside the 24-hour customer-service window.
    let body = wa_text("wamid.first", "254711000001", "hello");
    let r = app
        .post_whatsapp(&body, Some(wa_signature(APP_SECRET, &body)))
        .await;
    assert_eq!(r.status(), 200);
    app.drain().await;
    let phone = frontdesk_domain::E164Phone::parse("+254711000001").unwrap();
    let patient = app
        .store
        .find_patient_by_phone(scope, &phone)
        .await
        .unwrap()
        .expect("the sender's patient record")
        .id;
    let appt = book_soon(&app, NAIROBI, "GP consultation", patient, 50).await;
    assert_eq!(app.worker.send_reminders().await.unwrap().sent, 1);
    app.drain().await;
    let sent = graph_requests(&app.fake).await;
    let last: serde_json::Value = serde_json::from_slice(&sent.last().unwrap().body).unwrap();
    assert_eq!(last["type"], "template", "{last}");
    assert_eq!(last["template"]["name"], "appointment_reminder", "{last}");
    let param = last["template"]["components"][0]["parameters"][0]["text"]
        .as_str()
        .unwrap_or_default();
    assert!(
        param.starts_with("Reminder from Nairobi Family Clinic: GP consultation with "),
        "{last}"
    );
    // The patient's "yes" (inside the window again) confirms it.
    app.clock.advance(SignedDuration::from_secs(60));
    let body = wa_text("wamid.yes", "254711000001", "Yes");
    let r = app
        .post_whatsapp(&body, Some(wa_signature(APP_SECRET, &body)))
        .await;
    assert_eq!(r.status(), 200);
    app.drain().await;
    let sent = graph_requests(&app.fake).await;
    let reply: serde_json::Value = serde_json::from_slice(&sent.last().unwrap().body).unwrap();
    assert!(
        reply["text"]["body"]
            .as_str()
            .unwrap_or_default()
            .contains("is confirmed"),
        "{reply}"
    );
    assert_eq!(
        app.store.appointment(scope, appt).await.unwrap().status,
        AppointmentStatus::Confirmed
    );
    app.finish().await;
}

/// The worker's passes over every clinic are spread out (`frontdesk_server::pacing`): one pause
/// between two clinics, none before the first; a stopping worker's pass still visits every
/// clinic, without pausing. (Pauses are counted, not timed.)
async fn every_pass_over_the_clinics_pauses_between_two_clinics_and_none_once_stopping(
    app: ChannelApp,
) {
    let clinics = app.store.active_scopes().await.unwrap().len();
    assert_eq!(clinics, 2, "both demo clinics");
    let pacer = app.worker.pacer();
    let pauses = |before: u64| pacer.pauses() - before;
    let before = pacer.pauses();
    app.worker.send_reminders().await.unwrap();
    assert_eq!(pauses(before), 1, "reminders");
    let before = pacer.pauses();
    app.worker.expire_holds().await.unwrap();
    assert_eq!(pauses(before), 1, "hold expiry");
    let before = pacer.pauses();
    app.worker.offer_waitlist().await.unwrap();
    assert_eq!(pauses(before), 1, "waitlist offers");
    let before = pacer.pauses();
    app.worker.reencrypt_keys().await.unwrap();
    assert_eq!(pauses(before), 1, "re-encryption");
    let before = pacer.pauses();
    assert_eq!(app.worker.take_checkpoints().await.unwrap(), 2);
    assert_eq!(pauses(before), 1, "audit checkpoints");
    let before = pacer.pauses();
    assert_eq!(app.worker.purge_retention().await.unwrap().conversations, 0);
    assert_eq!(pauses(before), 1, "retention, nothing expired");

    pacer.stop();
    let before = pacer.pauses();
    assert_eq!(app.worker.take_checkpoints().await.unwrap(), 2);
    app.worker.send_reminders().await.unwrap();
    assert_eq!(pauses(before), 0, "no pause once stopping");
}
