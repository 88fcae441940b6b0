//! One-time codes for web chat visitors, on both engines: the code goes out by SMS through
//! the outbox to whoever holds the phone, works once, for its own conversation and clinic,
//! within its time; wrong tries lock it; sends are rate limited per conversation, phone and
//! clinic; only the code's HMAC is kept.

use crate::harness::*;
use frontdesk_domain::*;
use frontdesk_store::testing::TestDb;
use frontdesk_store::*;
use jiff::SignedDuration;

engine_tests!(
    a_texted_code_verifies_the_visitor_as_the_phones_patient_once,
    wrong_codes_lock_the_code_and_an_expired_code_is_refused,
    codes_are_rate_limited_per_conversation_and_per_phone,
    a_code_is_only_good_for_its_own_conversation_and_clinic,
);

const TTL: SignedDuration = SignedDuration::from_mins(10);
const VALID: SignedDuration = SignedDuration::from_mins(30);
const LEASE: SignedDuration = SignedDuration::from_secs(60);

async fn connect_twilio(store: &dyn Store, scope: TenantScope, number: &str) {
    store
        .set_channel_account(
            scope,
            Provider::Twilio,
            number,
            &serde_json::json!({ "account_sid": "AC1" }),
            &ChannelSecrets::new().with("auth_token", "tok"),
        )
        .await
        .unwrap();
}

/// Claims the outbox (settling everything as sent) and returns the one code SMS in it; the
/// seed's own WhatsApp reply is there the first time.
async fn texted(store: &dyn Store) -> OutboxItem {
    let items = store.claim_outbox("test", LEASE, 10).await.unwrap();
    for item in &items {
        store
            .settle_outbox(
                &item.lease,
                &DeliveryOutcome::Sent {
                    provider_message_id: format!("SM{}", item.idempotency_key),
                },
            )
            .await
            .unwrap();
    }
    let mut sms: Vec<OutboxItem> = items
        .into_iter()
        .filter(|i| i.channel == Channel::Sms)
        .collect();
    assert_eq!(sms.len(), 1, "{sms:?}");
    sms.remove(0)
}

async fn verified(
    store: &dyn Store,
    scope: TenantScope,
    conv: ConversationId,
) -> Option<PatientId> {
    store
        .conversation(scope, conv)
        .await
        .unwrap()
        .verified_patient
}

async fn send_code(store: &dyn Store, scope: TenantScope, conv: ConversationId, to: &E164Phone) {
    store
        .send_verification_code(scope, conv, to, TTL, "Clinic alpha")
        .await
        .unwrap();
}

async fn check(
    store: &dyn Store,
    scope: TenantScope,
    conv: ConversationId,
    code: &str,
) -> CodeCheck {
    store
        .confirm_verification_code(scope, conv, code, VALID)
        .await
        .unwrap()
}

fn code_of(body: &str) -> String {
    let code: String = body.chars().take_while(char::is_ascii_digit).collect();
    assert_eq!(code.len(), 6, "{body}");
    code
}

/// Any six digits but these.
fn wrong(code: &str) -> String {
    if code == "000000" { "000001" } else { "000000" }.to_owned()
}

async fn a_texted_code_verifies_the_visitor_as_the_phones_patient_once(db: &TestDb) {
    let (store, clock) = store_with_clock(db).await;
    let a = seed(&*store, "clinic-a", "alpha", "+64 21 555 0101").await;
    let web = a.webchat_conversation;
    // No SMS provider: no codes.
    assert!(!store.clinic_catalog(a.scope).await.unwrap().sends_codes);
    assert_err!(
        store
            .send_verification_code(a.scope, web, &a.phone, TTL, "Clinic alpha")
            .await,
        StoreError::NotFound
    );
    connect_twilio(&*store, a.scope, "+6495550100").await;
    assert!(store.clinic_catalog(a.scope).await.unwrap().sends_codes);
    send_code(&*store, a.scope, web, &a.phone).await;
    let sms = texted(&*store).await;
    assert_eq!(sms.channel, Channel::Sms);
    assert_eq!(sms.purpose, OutboxPurpose::Notice);
    assert_eq!(sms.to, a.phone);
    assert!(sms.body.contains("Clinic alpha"), "{}", sms.body);
    assert!(sms.body.contains("10 minutes"), "{}", sms.body);
    let code = code_of(&sms.body);
    // The SMS is a message of the phone owner's own SMS conversation, not of the web chat.
    let web_messages = store.messages(a.scope, web).await.unwrap();
    assert!(web_messages.iter().all(|m| !m.body.contains(&code)));
    let audit = all_audit(&*store, a.scope).await;
    let sent = audit
        .iter()
        .find(|e| e.action == "verification.code_sent")
        .expect("audited");
    let details = sent.details.to_string();
    assert!(
        !details.contains(&code) && !details.contains("555"),
        "{details}"
    );
    assert_eq!(verified(&*store, a.scope, web).await, None);

    assert_eq!(
        check(&*store, a.scope, web, &wrong(&code)).await,
        CodeCheck::Wrong { attempts_left: 4 }
    );
    assert_eq!(verified(&*store, a.scope, web).await, None);
    // Typed with spaces around it still counts.
    assert_eq!(
        check(&*store, a.scope, web, &format!(" {code} ")).await,
        CodeCheck::Verified(a.patient)
    );
    assert_eq!(verified(&*store, a.scope, web).await, Some(a.patient));
    assert!(
        all_audit(&*store, a.scope)
            .await
            .iter()
            .any(|e| e.action == "verification.confirmed")
    );
    // Used once: the same code again finds nothing pending.
    assert_eq!(
        check(&*store, a.scope, web, &code).await,
        CodeCheck::ExpiredOrLocked
    );
    // The proof lasts `VALID`, then the visitor is anonymous again.
    clock.advance(SignedDuration::from_mins(29));
    assert_eq!(verified(&*store, a.scope, web).await, Some(a.patient));
    clock.advance(SignedDuration::from_mins(2));
    assert_eq!(verified(&*store, a.scope, web).await, None);
}

async fn wrong_codes_lock_the_code_and_an_expired_code_is_refused(db: &TestDb) {
    let (store, clock) = store_with_clock(db).await;
    let a = seed(&*store, "clinic-a", "alpha", "+64 21 555 0101").await;
    connect_twilio(&*store, a.scope, "+6495550100").await;
    let web = a.webchat_conversation;
    send_code(&*store, a.scope, web, &a.phone).await;
    let code = code_of(&texted(&*store).await.body);
    for left in (1..=4u8).rev() {
        assert_eq!(
            check(&*store, a.scope, web, &wrong(&code)).await,
            CodeCheck::Wrong {
                attempts_left: left
            }
        );
    }
    // The fifth wrong try withdraws the code: the right one no longer works.
    assert_eq!(
        check(&*store, a.scope, web, &wrong(&code)).await,
        CodeCheck::ExpiredOrLocked
    );
    assert_eq!(
        check(&*store, a.scope, web, &code).await,
        CodeCheck::ExpiredOrLocked
    );
    assert!(
        all_audit(&*store, a.scope)
            .await
            .iter()
            .any(|e| e.action == "verification.locked")
    );
    // A new code replaces the old; past its ten minutes it is refused.
    send_code(&*store, a.scope, web, &a.phone).await;
    let code = code_of(&texted(&*store).await.body);
    clock.advance(SignedDuration::from_mins(10));
    assert_eq!(
        check(&*store, a.scope, web, &code).await,
        CodeCheck::ExpiredOrLocked
    );
    assert_eq!(verified(&*store, a.scope, web).await, None);
}

async fn codes_are_rate_limited_per_conversation_and_per_phone(db: &TestDb) {
    let (store, clock) = store_with_clock(db).await;
    let a = seed(&*store, "clinic-a", "alpha", "+64 21 555 0101").await;
    connect_twilio(&*store, a.scope, "+6495550100").await;
    let web = a.webchat_conversation;
    let send = |conv: ConversationId, phone: E164Phone| {
        let store = store.clone();
        async move {
            store
                .send_verification_code(a.scope, conv, &phone, TTL, "Clinic alpha")
                .await
        }
    };
    for _ in 0..CODES_PER_CONVERSATION_PER_HOUR {
        send(web, a.phone.clone()).await.unwrap();
    }
    assert_err!(send(web, a.phone.clone()).await, StoreError::Conflict(_));
    // An hour later the conversation may ask again ...
    clock.advance(SignedDuration::from_mins(61));
    send(web, a.phone.clone()).await.unwrap();
    // ... but the phone has had its five codes today, from whichever conversation.
    let other = store
        .start_webchat(&a.slug, SignedDuration::from_mins(30))
        .await
        .unwrap()
        .conversation_id;
    send(other, a.phone.clone()).await.unwrap();
    assert_err!(send(other, a.phone.clone()).await, StoreError::Conflict(_));
    // Another number is not held back by this one.
    send(other, phone("+64 21 555 0303")).await.unwrap();
    // Every sent code is one SMS in the outbox, to its number.
    let items: Vec<OutboxItem> = store
        .claim_outbox("test", LEASE, 20)
        .await
        .unwrap()
        .into_iter()
        .filter(|i| i.channel == Channel::Sms)
        .collect();
    assert_eq!(items.len(), 6);
    assert_eq!(items.iter().filter(|i| i.to == a.phone).count(), 5);
}

async fn a_code_is_only_good_for_its_own_conversation_and_clinic(db: &TestDb) {
    let store = store(db).await;
    let (a, b) = seed_two(&*store).await;
    connect_twilio(&*store, a.scope, "+6495550100").await;
    connect_twilio(&*store, b.scope, "+6495550200").await;
    // Only web chat conversations take codes; another clinic's conversation does not exist.
    assert_err!(
        store
            .send_verification_code(a.scope, a.conversation, &a.phone, TTL, "Clinic alpha")
            .await,
        StoreError::Invalid(_)
    );
    assert_err!(
        store
            .send_verification_code(a.scope, b.webchat_conversation, &a.phone, TTL, "x")
            .await,
        StoreError::NotFound
    );
    store
        .send_verification_code(
            a.scope,
            a.webchat_conversation,
            &a.phone,
            TTL,
            "Clinic alpha",
        )
        .await
        .unwrap();
    let code = code_of(&texted(&*store).await.body);
    // Another visitor of the same clinic cannot use it, nor can the other clinic.
    let other = store
        .start_webchat(&a.slug, SignedDuration::from_mins(30))
        .await
        .unwrap()
        .conversation_id;
    assert_eq!(
        check(&*store, a.scope, other, &code).await,
        CodeCheck::ExpiredOrLocked
    );
    assert_eq!(
        check(&*store, b.scope, a.webchat_conversation, &code).await,
        CodeCheck::ExpiredOrLocked
    );
    assert_eq!(
        check(&*store, a.scope, a.webchat_conversation, &code).await,
        CodeCheck::Verified(a.patient)
    );
    // A number no patient has yet is answered the same way; the code makes the visitor that
    // number's (new) patient, never anyone else.
    let web2 = store
        .start_webchat(&a.slug, SignedDuration::from_mins(30))
        .await
        .unwrap()
        .conversation_id;
    let stranger = phone("+64 21 555 0909");
    store
        .send_verification_code(a.scope, web2, &stranger, TTL, "Clinic alpha")
        .await
        .unwrap();
    let sms = texted(&*store).await;
    assert_eq!(sms.to, stranger);
    let got = check(&*store, a.scope, web2, &code_of(&sms.body)).await;
    let CodeCheck::Verified(new_patient) = got else {
        panic!("{got:?}")
    };
    assert_ne!(new_patient, a.patient);
    assert_eq!(
        store.patient(a.scope, new_patient).await.unwrap().phone,
        Some(stranger)
    );
}
