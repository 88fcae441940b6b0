//! Fixtures shared by the tests: clinic profiles, parsed values, stores with a movable clock,
//! and a tenant populated through every store operation (with the ids to ask for it back).

use frontdesk_domain::*;
use frontdesk_store::testing::{TestDb, test_keyring};
use frontdesk_store::*;
use jiff::{SignedDuration, Timestamp};
use std::sync::Arc;

/// A valid clinic profile named `name` (New Zealand, NZD).
pub fn profile(name: &str) -> ClinicProfile {
    ClinicProfile {
        name: name.to_owned(),
        timezone: "Pacific/Auckland".into(),
        country: "NZ".into(),
        languages: vec!["en".into(), "mi".into()],
        emergency_numbers: vec!["111".into()],
        address: "1 Queen Street, Auckland".into(),
        phone: Some("+6495550100".into()),
        currency: "NZD".into(),
        hours: weekdays(8 * 60, 17 * 60),
        privacy_notice: "We keep your messages to care for you.".into(),
        cancellation_policy: "24 hours' notice, please.".into(),
        reminder_hours: frontdesk_domain::clinic::DEFAULT_REMINDER_HOURS,
        widget_origins: vec![],
        session_idle_minutes: frontdesk_domain::clinic::DEFAULT_SESSION_IDLE_MINUTES,
        retention: Default::default(),
        ai_paused: false,
    }
}

/// Monday to Friday `open`–`close`, closed at the weekend.
pub fn weekdays(open: u16, close: u16) -> WeeklyHours {
    let day = Some(DayHours::new(open, close).unwrap());
    WeeklyHours([day, day, day, day, day, None, None])
}

pub fn slug(s: &str) -> TenantSlug {
    TenantSlug::parse(s).unwrap()
}

pub fn phone(s: &str) -> E164Phone {
    E164Phone::parse(s).unwrap()
}

pub fn email(s: &str) -> Email {
    Email::parse(s).unwrap()
}

/// Where every [`ManualClock`] in these tests starts (a whole second, so no rounding).
pub fn start() -> Timestamp {
    Timestamp::from_second(1_900_000_000).unwrap()
}

pub async fn store(db: &TestDb) -> Arc<dyn Store> {
    db.open_default().await.expect("open the store")
}

/// A store whose "now" only moves when the test says so.
pub async fn store_with_clock(db: &TestDb) -> (Arc<dyn Store>, Arc<ManualClock>) {
    let clock = Arc::new(ManualClock::new(start()));
    let store = db
        .open(test_keyring(), clock.clone())
        .await
        .expect("open the store");
    (store, clock)
}

pub async fn new_tenant(store: &dyn Store, s: &str) -> TenantScope {
    store
        .create_tenant(&slug(s), &profile(&format!("Clinic {s}")))
        .await
        .expect("create tenant")
}

/// A new patient of `scope` and a conversation of theirs on `channel`.
pub async fn new_conversation(
    store: &dyn Store,
    scope: TenantScope,
    channel: Channel,
) -> (PatientId, ConversationId) {
    let patient = store
        .create_patient(scope, &NewPatient::default())
        .await
        .expect("create patient");
    let conversation = store
        .start_conversation(scope, patient, channel)
        .await
        .expect("start conversation");
    (patient, conversation)
}

/// The PostgreSQL test database's owner (a superuser: row-level security does not apply), for
/// looking at sessions and locks from outside the store.
pub async fn owner_connection(db: &TestDb) -> sqlx::PgConnection {
    use sqlx::Connection;
    sqlx::PgConnection::connect(db.owner_url.as_deref().expect("owner URL"))
        .await
        .expect("owner connection")
}

/// A patient message with a provider's message id (as a channel webhook delivers it).
pub fn delivered(body: &str, provider_id: &str) -> NewMessage {
    NewMessage {
        provider_message_id: Some(provider_id.to_owned()),
        ..NewMessage::inbound(body)
    }
}

pub fn turn(inbound: NewMessage, replies: &[&str]) -> Turn {
    Turn {
        escalation: None,
        inbound: Some(inbound),
        job: None,
        replies: replies
            .iter()
            .map(|r| NewMessage::agent_reply(*r))
            .collect(),
        audit: Vec::new(),
        summary: None,
        dialogue_state: None,
        llm_usage: None,
    }
}

/// Every audit entry of the tenant.
pub async fn all_audit(store: &dyn Store, scope: TenantScope) -> Vec<AuditEntry> {
    store
        .audit_entries(scope, 0, u32::MAX)
        .await
        .expect("audit entries")
}

/// One tenant with a row in every table the store API can write, and the ids to read it back.
pub struct Seeded {
    pub scope: TenantScope,
    pub slug: TenantSlug,
    pub practitioner: PractitionerId,
    pub hours: WeeklyHours,
    pub service: ServiceId,
    pub faq: FaqId,
    pub patient: PatientId,
    pub phone: E164Phone,
    pub user: UserId,
    pub user_email: Email,
    pub conversation: ConversationId,
    pub messages: Vec<MessageId>,
    pub webchat_token: String,
    pub webchat_conversation: ConversationId,
    pub api_key: ApiKeyId,
    /// The whole key (`fdk_…`), as shown once when it was made.
    pub api_key_secret: String,
    /// An endpoint subscribed to `appointment.created`, with one delivery queued.
    pub webhook_endpoint: WebhookEndpointId,
}

/// Creates tenant `slug_str` and fills it through the store API. `tag` makes every value of
/// this tenant distinct from another tenant's; `phone_str` is its patient's phone.
pub async fn seed(store: &dyn Store, slug_str: &str, tag: &str, phone_str: &str) -> Seeded {
    let slug = slug(slug_str);
    let scope = store
        .create_tenant(&slug, &profile(&format!("Clinic {tag}")))
        .await
        .unwrap();
    let practitioner = store
        .add_practitioner(scope, &format!("Dr {tag}"), "GP")
        .await
        .unwrap();
    let hours = weekdays(9 * 60, 15 * 60);
    store
        .set_practitioner_hours(scope, practitioner, &hours)
        .await
        .unwrap();
    let new_service = NewService {
        name: format!("Consult {tag}"),
        duration_min: 15,
        buffer_min: 5,
        price_minor: Some(6500),
    };
    let service = store.add_service(scope, &new_service).await.unwrap();
    let faq = store
        .add_faq(
            scope,
            &format!("Parking {tag}?"),
            &format!("Behind the building {tag}."),
        )
        .await
        .unwrap();
    let phone = phone(phone_str);
    let new_patient = NewPatient {
        name: Some(format!("Patient {tag}")),
        phone: Some(phone.clone()),
        email: Some(email(&format!("patient.{tag}@example.org"))),
        language: Some("en".into()),
    };
    let patient = store.create_patient(scope, &new_patient).await.unwrap();
    let user_email = email(&format!("staff.{tag}@example.org"));
    let new_user = NewUser {
        email: user_email.clone(),
        name: format!("Staff {tag}"),
        role: Role::Reception,
    };
    let user = store.create_user(scope, &new_user).await.unwrap();
    let conversation = store
        .start_conversation(scope, patient, Channel::Whatsapp)
        .await
        .unwrap();
    // A model turn's accounting alone (before the first message, so the conversation's
    // messages and times are those of `first`).
    let usage_turn = Turn {
        llm_usage: Some(llm_usage(conversation, 100)),
        ..Turn::default()
    };
    store
        .record_turn(scope, conversation, &usage_turn)
        .await
        .unwrap();
    let mut first = turn(
        delivered(&format!("Hello from {tag}"), &format!("wamid.{tag}")),
        &[&format!("Kia ora {tag}")],
    );
    first
        .audit
        .push(AuditEvent::new(Actor::Agent, "agent.replied").target("conversation", conversation));
    let messages = store
        .record_turn(scope, conversation, &first)
        .await
        .unwrap();
    let web = store
        .start_webchat(&slug, SignedDuration::from_mins(30))
        .await
        .unwrap();
    let api_key = store
        .create_api_key(
            scope,
            &NewApiKey {
                name: format!("Integration {tag}"),
                scopes: ApiScopes::parse("schedule:read appointments:read").unwrap(),
                rate_per_minute: 600,
            },
            Actor::Staff(user),
        )
        .await
        .unwrap();
    let webhook = store
        .create_webhook_endpoint(
            scope,
            &NewWebhookEndpoint {
                url: format!("https://hooks.{tag}.example/in?token=tok-{tag}"),
                host: format!("hooks.{tag}.example"),
                events: vec!["appointment.created".into()],
                secret: format!("whsec_seed{tag}").into(),
            },
            Actor::Staff(user),
        )
        .await
        .unwrap();
    store
        .enqueue_webhook_event(
            scope,
            &format!("evt_seed_{tag}"),
            "appointment.created",
            br#"{"type":"appointment.created"}"#,
        )
        .await
        .unwrap();
    store
        .set_llm_settings(
            scope,
            &llm_settings(),
            LlmKeyChange::Set(format!("sk-seed-{tag}").into()),
            Actor::Staff(user),
        )
        .await
        .unwrap();
    Seeded {
        scope,
        slug,
        practitioner,
        hours,
        service,
        faq,
        patient,
        phone,
        user,
        user_email,
        conversation,
        messages,
        webchat_token: web.token.to_string(),
        webchat_conversation: web.conversation_id,
        api_key: api_key.info.id,
        api_key_secret: api_key.key.to_string(),
        webhook_endpoint: webhook.id,
    }
}

/// Two tenants, A and B, each seeded with distinct values and phones.
pub async fn seed_two(store: &dyn Store) -> (Seeded, Seeded) {
    let a = seed(store, "clinic-a", "alpha", "+64 21 555 0101").await;
    let b = seed(store, "clinic-b", "beta", "+64 21 555 0202").await;
    (a, b)
}

/// Signs the seeded staff member in by an emailed link, from one browser; answers the session.
pub async fn sign_in(store: &dyn Store, s: &Seeded) -> NewSession {
    let LoginLinkOutcome::Created { token, .. } = store
        .request_login_link(
            &s.slug,
            &s.user_email,
            "192.0.2.1",
            "browser",
            &LoginLinkPolicy::default(),
        )
        .await
        .unwrap()
    else {
        panic!("the seeded user gets a sign-in link");
    };
    store
        .consume_login_link(
            s.scope.tenant_id(),
            &token,
            "browser",
            &SessionPolicy::default(),
        )
        .await
        .unwrap()
}

/// Language model settings as a clinic might keep them (OpenAI-compatible server, a budget).
pub fn llm_settings() -> LlmSettingsInput {
    LlmSettingsInput {
        provider: LlmProvider::OpenAiCompatible,
        base_url: Some("http://127.0.0.1:11434/v1".into()),
        fast_model: "llama3.1:8b".into(),
        strong_model: "llama3.1:70b".into(),
        routine: LlmRoute::Fast,
        sensitive: LlmRoute::Strong,
        monthly_budget_cents: Some(500),
        fast_prices: LlmPrices {
            input_per_mtok: 150_000,
            output_per_mtok: 600_000,
        },
        strong_prices: LlmPrices {
            input_per_mtok: 2_500_000,
            output_per_mtok: 10_000_000,
        },
        enabled: true,
        // Not the defaults, so that reading them back shows they were stored.
        limits: LlmLimits {
            text: LlmTurnLimits {
                deadline_ms: 9_000,
                tool_rounds: 3,
                output_tokens: 300,
            },
            voice: LlmTurnLimits {
                deadline_ms: 3_000,
                tool_rounds: 1,
                output_tokens: 120,
            },
        },
    }
}

/// One answered model turn's accounting costing `cost_micros`.
pub fn llm_usage(conversation: ConversationId, cost_micros: i64) -> LlmUsage {
    LlmUsage {
        conversation,
        provider: "openai_compatible".into(),
        model: "llama3.1:8b".into(),
        tier: "fast".into(),
        outcome: "answered".into(),
        reason: "answered".into(),
        latency_ms: 120,
        input_tokens: 1_000,
        output_tokens: 50,
        cost_micros,
    }
}
