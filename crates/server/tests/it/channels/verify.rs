//! Web chat visitors prove their phone with a code texted through the clinic's SMS provider
//! (a Twilio fake), on both engines: only then are appointments shown or changed, and only
//! the ones of the patient with that phone.

use super::*;
use crate::harness::{ask_webchat, start_webchat};
use frontdesk_domain::ConversationId;

channel_tests!(
    a_web_chat_visitor_proves_their_phone_by_a_texted_code_and_cancels,
    a_visitor_without_the_code_sees_nothing_and_wrong_codes_run_out,
);

const CLIENT_PHONE: &str = "+64215550188";

impl ChannelApp {
    async fn start_chat(&self, slug: &str) -> (String, ConversationId) {
        let (token, conv) = start_webchat(&self.client, &self.base, slug).await;
        (token, ConversationId::parse(&conv).unwrap())
    }

    async fn ask(&self, slug: &str, token: &str, text: &str) -> Vec<String> {
        // A visitor types at human speed (and the first-contact notice keys off a
        // conversation's last message time having moved).
        self.clock.advance(SignedDuration::from_secs(5));
        ask_webchat(&self.client, &self.base, slug, token, text).await
    }
}

/// A booking on web chat that leaves the appointment with the patient of `CLIENT_PHONE`.
async fn book_for_the_client(app: &ChannelApp) -> frontdesk_domain::AppointmentId {
    let (token, conv) = app.start_chat(HARBOUR).await;
    app.ask(
        HARBOUR,
        &token,
        "I'd like to book a sports massage with Mei, anytime next week",
    )
    .await;
    app.ask(HARBOUR, &token, "the first one").await;
    let done = app
        .ask(HARBOUR, &token, "Zebulon Quixote, 021 555 0188")
        .await;
    assert!(
        done.iter().any(|m| m.starts_with("You're booked")),
        "{done:?}"
    );
    let scope = app.scope(HARBOUR).await;
    let patient = app
        .store
        .conversation(scope, conv)
        .await
        .unwrap()
        .patient_id;
    let appts = app
        .store
        .patient_appointments(scope, patient, jiff::Timestamp::UNIX_EPOCH)
        .await
        .unwrap();
    assert_eq!(appts.len(), 1);
    appts[0].id
}

fn code_in(sms: &str) -> String {
    let code: String = sms.chars().take_while(char::is_ascii_digit).collect();
    assert_eq!(code.len(), 6, "{sms}");
    code
}

async fn a_web_chat_visitor_proves_their_phone_by_a_texted_code_and_cancels(app: ChannelApp) {
    mount_twilio_ok(&app.fake).await;
    let appt = book_for_the_client(&app).await;
    // Later, a new web chat visit.
    let (token, conv) = app.start_chat(HARBOUR).await;
    let ask = app
        .ask(HARBOUR, &token, "I need to cancel my appointment")
        .await;
    let ask = ask.join(" ");
    assert!(ask.contains("text a 6-digit code"), "{ask}");
    assert!(!ask.contains("Mei Chen"), "{ask}");
    let sent = app.ask(HARBOUR, &token, "it's 021 555 0188").await;
    assert!(
        sent[0].starts_with("I've texted a 6-digit code"),
        "{sent:?}"
    );
    // The code goes out through the outbox and Twilio, to that number only.
    app.drain().await;
    let texts = app.texts_to(CLIENT_PHONE).await;
    assert_eq!(texts.len(), 1, "{texts:?}");
    assert!(texts[0].contains("Harbour Physio"), "{texts:?}");
    let code = code_in(&texts[0]);
    // The web chat itself never shows the code.
    let scope = app.scope(HARBOUR).await;
    let web = app.store.messages(scope, conv).await.unwrap();
    assert!(web.iter().all(|m| !m.body.contains(&code)));

    let confirm = app.ask(HARBOUR, &token, &code).await;
    assert!(
        confirm[0].starts_with("Cancel your Sports massage with Mei Chen"),
        "{confirm:?}"
    );
    let done = app.ask(HARBOUR, &token, "yes please").await.join(" ");
    assert!(done.contains("cancelled"), "{done}");
    let a = app.store.appointment(scope, appt).await.unwrap();
    assert_eq!(a.status, AppointmentStatus::Cancelled);
    let audit = app.store.audit_entries(scope, 0, u32::MAX).await.unwrap();
    for action in ["verification.code_sent", "verification.confirmed"] {
        assert!(audit.iter().any(|e| e.action == action), "{action}");
    }
    app.finish().await;
}

async fn a_visitor_without_the_code_sees_nothing_and_wrong_codes_run_out(app: ChannelApp) {
    mount_twilio_ok(&app.fake).await;
    let appt = book_for_the_client(&app).await;
    // Someone who knows the number but does not hold the phone.
    let (token, _) = app.start_chat(HARBOUR).await;
    let mut said = app
        .ask(
            HARBOUR,
            &token,
            "when is my appointment? my number is 021 555 0188",
        )
        .await;
    assert!(
        said.iter().any(|m| m.starts_with("I've texted")),
        "{said:?}"
    );
    app.drain().await;
    let code = code_in(&app.texts_to(CLIENT_PHONE).await[0]);
    let guess = if code == "111111" { "222222" } else { "111111" };
    for _ in 0..4 {
        let r = app.ask(HARBOUR, &token, guess).await;
        assert!(r[0].starts_with("That code doesn't match"), "{r:?}");
        said.extend(r);
    }
    let r = app.ask(HARBOUR, &token, guess).await;
    assert!(r[0].starts_with("I couldn't verify that code"), "{r:?}");
    said.extend(r);
    // The real code, once the wrong guesses used it up, works no more.
    said.extend(app.ask(HARBOUR, &token, "when is my appointment?").await);
    said.extend(app.ask(HARBOUR, &token, &code).await);
    let all = said.join("\n");
    for private in ["Mei Chen", "Sports massage", "Zebulon", "Cancel your"] {
        assert!(
            !all.contains(private),
            "{private} shown without a code: {all}"
        );
    }
    let scope = app.scope(HARBOUR).await;
    let a = app.store.appointment(scope, appt).await.unwrap();
    assert_eq!(a.status, AppointmentStatus::Booked);
    app.finish().await;
}
