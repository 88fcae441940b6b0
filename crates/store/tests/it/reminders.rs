//! Appointment reminders and confirmations on both engines: a reminder is sent once, on the
//! patient's channel, never for a cancelled appointment or to an opted-out number, and
//! several senders racing send each reminder once.

use crate::appointments::{Diary, booking, diary, ts};
use crate::harness::{all_audit, phone};
use frontdesk_domain::*;
use frontdesk_store::testing::TestDb;
use frontdesk_store::*;
use jiff::SignedDuration;

engine_tests!(
    a_reminder_goes_once_on_the_patients_channel_and_marks_its_conversation,
    no_reminder_for_cancelled_unreachable_or_opted_out_patients,
    concurrent_senders_send_each_reminder_once,
    confirming_is_idempotent_and_refuses_cancelled_or_started_appointments,
);

/// Wed 25 Nov 2026, 10:00 to 14:00 local (UTC+13): 26 to 30 hours after `NOW`.
const STARTS: [&str; 5] = [
    "2026-11-24T21:00:00Z",
    "2026-11-24T22:00:00Z",
    "2026-11-24T23:00:00Z",
    "2026-11-25T00:00:00Z",
    "2026-11-25T01:00:00Z",
];
const TEXT: &str = "Reminder: your appointment is on Wed 25 Nov at 10:00.";
const LEASE: SignedDuration = SignedDuration::from_secs(60);

fn until(d: &Diary, hours: i64) -> jiff::Timestamp {
    d.clock.now() + SignedDuration::from_hours(hours)
}

pub(crate) async fn give_phone(d: &Diary, patient: usize, number: &str) -> E164Phone {
    let p = phone(number);
    d.store
        .update_patient_contact(d.scope, d.patients[patient], None, Some(&p))
        .await
        .unwrap();
    p
}

pub(crate) async fn connect(d: &Diary, provider: Provider, address: &str) {
    d.store
        .set_channel_account(
            d.scope,
            provider,
            address,
            &serde_json::json!({}),
            &ChannelSecrets::new().with("auth_token", "t"),
        )
        .await
        .unwrap();
}

async fn book(d: &Diary, patient: usize) -> Appointment {
    d.store
        .book_appointment(
            d.scope,
            &booking(d, patient, STARTS[patient], &format!("k{patient}")),
        )
        .await
        .unwrap()
}

async fn reminders_in_outbox(d: &Diary) -> Vec<OutboxItem> {
    d.store
        .claim_outbox("test", LEASE, 50)
        .await
        .unwrap()
        .into_iter()
        .filter(|i| i.purpose == OutboxPurpose::Reminder)
        .collect()
}

async fn a_reminder_goes_once_on_the_patients_channel_and_marks_its_conversation(db: &TestDb) {
    let d = diary(db, 1).await;
    let number = give_phone(&d, 0, "+64 21 555 0101").await;
    connect(&d, Provider::Whatsapp, "100200300").await;
    connect(&d, Provider::Twilio, "+6495550100").await;
    // The patient writes on WhatsApp: that is where the reminder goes.
    let wa = d
        .store
        .start_conversation(d.scope, d.patients[0], Channel::Whatsapp)
        .await
        .unwrap();
    let appt = book(&d, 0).await;
    assert!(
        d.store
            .due_reminders(d.scope, until(&d, 24), 10)
            .await
            .unwrap()
            .is_empty(),
        "26 hours ahead is not due for a 24-hour reminder"
    );
    let due = d
        .store
        .due_reminders(d.scope, until(&d, 27), 10)
        .await
        .unwrap();
    assert_eq!(due.iter().map(|a| a.id).collect::<Vec<_>>(), [appt.id]);
    let sent = d.store.send_reminder(d.scope, appt.id, TEXT).await.unwrap();
    assert_eq!(
        sent,
        ReminderOutcome::Sent {
            conversation: wa,
            channel: Channel::Whatsapp
        }
    );
    let out = reminders_in_outbox(&d).await;
    assert_eq!(out.len(), 1);
    assert_eq!((out[0].channel, &out[0].to), (Channel::Whatsapp, &number));
    assert_eq!(out[0].body, TEXT);
    let conv = d.store.conversation(d.scope, wa).await.unwrap();
    assert_eq!(conv.reminded_appointment, Some(appt.id));
    // Once: not due any more, and a second send does nothing.
    assert!(
        d.store
            .due_reminders(d.scope, until(&d, 27), 10)
            .await
            .unwrap()
            .is_empty()
    );
    assert_eq!(
        d.store.send_reminder(d.scope, appt.id, TEXT).await.unwrap(),
        ReminderOutcome::NotDue
    );
    assert!(reminders_in_outbox(&d).await.is_empty());
    let audit = all_audit(d.store.as_ref(), d.scope).await;
    assert_eq!(
        audit
            .iter()
            .filter(|e| e.action == "appointment.reminder_sent")
            .count(),
        1
    );
}

async fn no_reminder_for_cancelled_unreachable_or_opted_out_patients(db: &TestDb) {
    let d = diary(db, 4).await;
    let appts = [
        book(&d, 0).await,
        book(&d, 1).await,
        book(&d, 2).await,
        book(&d, 3).await,
    ];
    give_phone(&d, 0, "+64 21 555 0100").await;
    give_phone(&d, 1, "+64 21 555 0101").await;
    let opted_out = give_phone(&d, 3, "+64 21 555 0103").await;
    // No channel connected yet: decided as skipped, never retried.
    assert_eq!(
        d.store
            .send_reminder(d.scope, appts[0].id, TEXT)
            .await
            .unwrap(),
        ReminderOutcome::Skipped("no_channel")
    );
    connect(&d, Provider::Twilio, "+6495550100").await;
    d.store
        .cancel_appointment(d.scope, appts[1].id, Actor::Agent)
        .await
        .unwrap();
    d.store
        .record_consent(
            d.scope,
            Channel::Sms,
            &opted_out,
            ConsentChange::OptOut,
            "test",
        )
        .await
        .unwrap();
    let due: Vec<AppointmentId> = d
        .store
        .due_reminders(d.scope, until(&d, 48), 10)
        .await
        .unwrap()
        .iter()
        .map(|a| a.id)
        .collect();
    assert_eq!(
        due,
        [appts[2].id, appts[3].id],
        "cancelled and decided ones are not due"
    );
    assert_eq!(
        d.store
            .send_reminder(d.scope, appts[0].id, TEXT)
            .await
            .unwrap(),
        ReminderOutcome::NotDue
    );
    assert_eq!(
        d.store
            .send_reminder(d.scope, appts[1].id, TEXT)
            .await
            .unwrap(),
        ReminderOutcome::NotDue
    );
    assert_eq!(
        d.store
            .send_reminder(d.scope, appts[2].id, TEXT)
            .await
            .unwrap(),
        ReminderOutcome::Skipped("no_phone")
    );
    assert_eq!(
        d.store
            .send_reminder(d.scope, appts[3].id, TEXT)
            .await
            .unwrap(),
        ReminderOutcome::Skipped("opted_out")
    );
    assert!(reminders_in_outbox(&d).await.is_empty());
    // A patient with a number and no conversation yet gets SMS, in a new conversation.
    let d2 = diary_with_sms(db).await;
    let a = book(&d2, 0).await;
    let ReminderOutcome::Sent { channel, .. } =
        d2.store.send_reminder(d2.scope, a.id, TEXT).await.unwrap()
    else {
        panic!("not sent")
    };
    assert_eq!(channel, Channel::Sms);
    // An appointment that has started gets nothing.
    let late = book(&d2, 1).await;
    d2.clock.advance(SignedDuration::from_hours(40));
    assert_eq!(
        d2.store
            .send_reminder(d2.scope, late.id, TEXT)
            .await
            .unwrap(),
        ReminderOutcome::NotDue
    );
}

/// A second clinic (same database) whose two patients have numbers, with SMS connected.
async fn diary_with_sms(db: &TestDb) -> Diary {
    let clock = std::sync::Arc::new(ManualClock::new(ts(crate::appointments::NOW)));
    let store = db
        .open(frontdesk_store::testing::test_keyring(), clock.clone())
        .await
        .unwrap();
    let scope = crate::harness::new_tenant(store.as_ref(), "sms-clinic").await;
    let practitioner = store.add_practitioner(scope, "Mere", "GP").await.unwrap();
    store
        .set_practitioner_hours(
            scope,
            practitioner,
            &crate::harness::weekdays(9 * 60, 17 * 60),
        )
        .await
        .unwrap();
    let service = store
        .add_service(
            scope,
            &NewService {
                name: "Consult".into(),
                duration_min: 45,
                buffer_min: 15,
                price_minor: None,
            },
        )
        .await
        .unwrap();
    let mut patients = Vec::new();
    for n in ["+64 21 555 0200", "+64 21 555 0201"] {
        let p = NewPatient {
            phone: Some(phone(n)),
            ..NewPatient::default()
        };
        patients.push(store.create_patient(scope, &p).await.unwrap());
    }
    let d = Diary {
        store,
        scope,
        practitioner,
        service,
        patients,
        clock,
    };
    connect(&d, Provider::Twilio, "+6495550200").await;
    d
}

async fn concurrent_senders_send_each_reminder_once(db: &TestDb) {
    let d = diary(db, 5).await;
    connect(&d, Provider::Twilio, "+6495550100").await;
    for p in 0..5 {
        give_phone(&d, p, &format!("+64 21 555 03{p:02}")).await;
        book(&d, p).await;
    }
    // Eight instances' reminder passes at once, each sending everything it sees due.
    let mut tasks = Vec::new();
    for _ in 0..8 {
        let store = d.store.clone();
        let (scope, horizon) = (d.scope, until(&d, 48));
        tasks.push(tokio::spawn(async move {
            let mut sent = 0;
            for a in store.due_reminders(scope, horizon, 10).await.unwrap() {
                if let ReminderOutcome::Sent { .. } =
                    store.send_reminder(scope, a.id, TEXT).await.unwrap()
                {
                    sent += 1;
                }
            }
            sent
        }));
    }
    let mut total = 0;
    for t in tasks {
        total += t.await.unwrap();
    }
    assert_eq!(total, 5, "each reminder sent by exactly one sender");
    assert_eq!(reminders_in_outbox(&d).await.len(), 5);
}

async fn confirming_is_idempotent_and_refuses_cancelled_or_started_appointments(db: &TestDb) {
    let d = diary(db, 2).await;
    let a = book(&d, 0).await;
    let confirmed = d
        .store
        .confirm_appointment(d.scope, a.id, Actor::Patient(d.patients[0]))
        .await
        .unwrap();
    assert_eq!(confirmed.status, AppointmentStatus::Confirmed);
    let again = d
        .store
        .confirm_appointment(d.scope, a.id, Actor::Agent)
        .await
        .unwrap();
    assert_eq!(again.status, AppointmentStatus::Confirmed);
    let audit = all_audit(d.store.as_ref(), d.scope).await;
    assert_eq!(
        audit
            .iter()
            .filter(|e| e.action == "appointment.confirmed")
            .count(),
        1
    );
    // A confirmed appointment can still be cancelled, and then not confirmed.
    d.store
        .cancel_appointment(d.scope, a.id, Actor::Agent)
        .await
        .unwrap();
    assert_err!(
        d.store
            .confirm_appointment(d.scope, a.id, Actor::Agent)
            .await,
        StoreError::Conflict(_)
    );
    let b = book(&d, 1).await;
    d.clock.advance(SignedDuration::from_hours(30));
    assert_err!(
        d.store
            .confirm_appointment(d.scope, b.id, Actor::Agent)
            .await,
        StoreError::Invalid(_)
    );
    assert_err!(
        d.store
            .confirm_appointment(d.scope, AppointmentId::new(), Actor::Agent)
            .await,
        StoreError::NotFound
    );
}
