//! The two demo clinics. Later issues and tests rely on them: keep names and details stable.
//! Seeding is idempotent: a clinic that already exists is left as it is.

use frontdesk_domain::{ClinicProfile, DomainError, TenantSlug, WeeklyHours};
use frontdesk_store::{NewService, Store, StoreError, TenantScope};

pub struct DemoClinic {
    pub slug: &'static str,
    pub profile: fn() -> Result<ClinicProfile, DomainError>,
    pub practitioners: &'static [(&'static str, &'static str)],
    /// (name, minutes, price in minor units, indexes into `practitioners` of who provides it)
    pub services: &'static [(&'static str, u16, Option<i64>, &'static [usize])],
    pub faqs: &'static [(&'static str, &'static str)],
}

fn harbour() -> Result<ClinicProfile, DomainError> {
    Ok(ClinicProfile {
        name: "Harbour Physio".into(),
        timezone: "Pacific/Auckland".into(),
        country: "NZ".into(),
        languages: vec!["en".into()],
        emergency_numbers: vec!["111".into()],
        address: "12 Quay Street, Auckland".into(),
        phone: None,
        currency: "NZD".into(),
        hours: WeeklyHours::parse_spec("Mon-Fri 08:00-18:00; Sat 09:00-13:00")?,
        privacy_notice: "Kia ora! You're chatting with Harbour Physio's virtual receptionist. This conversation \
            is stored encrypted, kept for 90 days and seen only by our clinic team. You can ask us for a copy or \
            to delete it at any time."
            .into(),
        cancellation_policy: "Please give us at least 24 hours' notice to cancel or move an appointment, so we \
            can offer the time to someone else."
            .into(),
        reminder_hours: frontdesk_domain::clinic::DEFAULT_REMINDER_HOURS,
        // So a newcomer can try the widget from a page on their own machine.
        widget_origins: vec!["http://localhost:*".into(), "http://127.0.0.1:*".into()],
        session_idle_minutes: frontdesk_domain::clinic::DEFAULT_SESSION_IDLE_MINUTES,
        retention: Default::default(),
        ai_paused: false,
    })
}

fn nairobi() -> Result<ClinicProfile, DomainError> {
    Ok(ClinicProfile {
        name: "Nairobi Family Clinic".into(),
        timezone: "Africa/Nairobi".into(),
        country: "KE".into(),
        languages: vec!["en".into(), "sw".into()],
        emergency_numbers: vec!["999".into(), "112".into()],
        address: "Ngong Road, Nairobi".into(),
        phone: None,
        currency: "KES".into(),
        hours: WeeklyHours::parse_spec("Mon-Sat 08:00-20:00")?,
        privacy_notice: "Karibu! You're chatting with Nairobi Family Clinic's virtual receptionist. This \
            conversation is stored encrypted, kept for 90 days and seen only by our clinic team. / Mazungumzo \
            haya yanahifadhiwa kwa usalama na yanaonekana na timu ya kliniki pekee."
            .into(),
        cancellation_policy: frontdesk_domain::clinic::DEFAULT_CANCELLATION_POLICY.into(),
        reminder_hours: frontdesk_domain::clinic::DEFAULT_REMINDER_HOURS,
        widget_origins: vec![],
        session_idle_minutes: frontdesk_domain::clinic::DEFAULT_SESSION_IDLE_MINUTES,
        retention: Default::default(),
        ai_paused: false,
    })
}

pub const DEMO_CLINICS: [DemoClinic; 2] = [
    DemoClinic {
        slug: "harbour-physio",
        profile: harbour,
        practitioners: &[
            ("Aroha Ngata", "Physiotherapist"),
            ("Sam Patel", "Physiotherapist"),
            ("Mei Chen", "Massage therapist"),
        ],
        services: &[
            (
                "Initial physiotherapy consultation",
                45,
                Some(9500),
                &[0, 1],
            ),
            ("Follow-up physiotherapy", 30, Some(7500), &[0, 1]),
            ("Sports massage", 60, Some(11000), &[2]),
        ],
        faqs: &[
            (
                "Is there parking?",
                "Yes: two patient parks behind the building, off Quay Street, and paid street parking nearby.",
            ),
            (
                "Do you take ACC claims?",
                "Yes. We are ACC registered: bring your claim number if you have one, or we can lodge a new claim at your first visit.",
            ),
            (
                "What is your cancellation policy?",
                "Please give us at least 24 hours' notice to cancel or move an appointment, so we can offer the time to someone else.",
            ),
            (
                "What should I bring?",
                "Comfortable clothing you can move in, any scans or referral letters, and your ACC claim number if you have one.",
            ),
            (
                "How can I pay?",
                "EFTPOS, Visa, Mastercard or bank transfer. ACC co-payments are paid on the day.",
            ),
        ],
    },
    DemoClinic {
        slug: "nairobi-family",
        profile: nairobi,
        practitioners: &[
            ("Dr. Wanjiku Kamau", "General practitioner"),
            ("Dr. Otieno Odhiambo", "General practitioner"),
        ],
        services: &[
            ("GP consultation", 20, Some(200_000), &[0, 1]),
            ("Child immunisation", 15, None, &[0, 1]),
        ],
        faqs: &[
            (
                "How can I pay?",
                "Cash, card or M-Pesa (Lipa na M-Pesa). / Tunakubali pesa taslimu, kadi na M-Pesa.",
            ),
            (
                "Do you vaccinate children?",
                "Yes, we give childhood immunisations from the Kenya schedule; bring the child's clinic card.",
            ),
        ],
    },
];

/// Creates each demo clinic that does not exist yet; returns the slugs created.
pub async fn seed(store: &dyn Store) -> Result<Vec<&'static str>, StoreError> {
    let mut created = Vec::new();
    for demo in &DEMO_CLINICS {
        let slug = TenantSlug::parse(demo.slug)?;
        match store.operator_scope(&slug).await {
            Ok(_) => continue,
            Err(StoreError::NotFound) => {}
            Err(e) => return Err(e),
        }
        seed_clinic(store, demo, &slug).await?;
        created.push(demo.slug);
    }
    Ok(created)
}

/// Creates one clinic like `demo` (profile, team and hours, services, FAQ) under `slug`; the
/// load generator uses it to make many clinics.
pub async fn seed_clinic(
    store: &dyn Store,
    demo: &DemoClinic,
    slug: &TenantSlug,
) -> Result<TenantScope, StoreError> {
    let profile = (demo.profile)()?;
    let scope = store.create_tenant(slug, &profile).await?;
    let mut team = Vec::new();
    for (name, title) in demo.practitioners {
        let id = store.add_practitioner(scope, name, title).await?;
        store
            .set_practitioner_hours(scope, id, &profile.hours)
            .await?;
        team.push(id);
    }
    for (name, duration_min, price_minor, providers) in demo.services {
        let s = NewService {
            name: (*name).into(),
            duration_min: *duration_min,
            buffer_min: 0,
            price_minor: *price_minor,
        };
        let id = store.add_service(scope, &s).await?;
        let providers: Vec<_> = providers
            .iter()
            .filter_map(|i| team.get(*i).copied())
            .collect();
        store
            .set_service_practitioners(scope, id, &providers)
            .await?;
    }
    for (q, a) in demo.faqs {
        store.add_faq(scope, q, a).await?;
    }
    Ok(scope)
}

/// A demo staff member, so a newcomer can sign in to the dashboard: the sign-in email goes to
/// the demo's development mail file. Reception (no second factor needed). Idempotent.
pub mod staff {
    use frontdesk_domain::{Email, Role, TenantSlug};
    use frontdesk_store::{NewUser, Store, StoreError};

    pub const CLINIC: &str = "harbour-physio";
    pub const EMAIL: &str = "reception@harbour-physio.example";

    pub async fn seed(store: &dyn Store) -> Result<(), StoreError> {
        let scope = store.operator_scope(&TenantSlug::parse(CLINIC)?).await?;
        let email = Email::parse(EMAIL)?;
        if store.find_user_by_email(scope, &email).await?.is_none() {
            let user = NewUser {
                email,
                name: "Aroha (demo reception)".into(),
                role: Role::Reception,
            };
            store.create_user(scope, &user).await?;
        }
        Ok(())
    }
}

/// Test credentials the demo gives its clinics, so a newcomer can send a correctly signed
/// webhook with curl and watch it flow through without any provider account. They are not
/// secrets of any real account, and `serve` never uses them.
pub mod channels {
    use frontdesk_store::{ChannelSecrets, Provider, Store, StoreError};
    use hmac::{Hmac, KeyInit, Mac};

    pub const WHATSAPP_CLINIC: &str = "nairobi-family";
    pub const WHATSAPP_PHONE_NUMBER_ID: &str = "100000000000001";
    pub const WHATSAPP_APP_SECRET: &str = "demo_app_secret";
    pub const WHATSAPP_VERIFY_TOKEN: &str = "demo_verify_token";
    pub const TWILIO_CLINIC: &str = "harbour-physio";
    pub const TWILIO_NUMBER: &str = "+6495550199";
    pub const TWILIO_AUTH_TOKEN: &str = "demo_auth_token";

    /// Connects the demo clinics to WhatsApp (Nairobi) and Twilio SMS (Harbour) with the
    /// demo credentials. Idempotent.
    pub async fn seed(store: &dyn Store) -> Result<(), StoreError> {
        let scope = |slug: &'static str| async move {
            store
                .operator_scope(&frontdesk_domain::TenantSlug::parse(slug)?)
                .await
        };
        let wa = ChannelSecrets::new()
            .with("app_secret", WHATSAPP_APP_SECRET)
            .with("verify_token", WHATSAPP_VERIFY_TOKEN)
            .with("access_token", "demo-access-token");
        store
            .set_channel_account(
                scope(WHATSAPP_CLINIC).await?,
                Provider::Whatsapp,
                WHATSAPP_PHONE_NUMBER_ID,
                &serde_json::json!({ "template_language": "en" }),
                &wa,
            )
            .await?;
        let tw = ChannelSecrets::new().with("auth_token", TWILIO_AUTH_TOKEN);
        store
            .set_channel_account(
                scope(TWILIO_CLINIC).await?,
                Provider::Twilio,
                TWILIO_NUMBER,
                &serde_json::json!({ "account_sid": "ACdemo" }),
                &tw,
            )
            .await
    }

    /// A ready `curl` command posting a correctly signed WhatsApp text to the demo server.
    pub fn whatsapp_curl(base: &str) -> String {
        let body = serde_json::json!({
            "object": "whatsapp_business_account",
            "entry": [{ "id": "DEMO", "changes": [{ "field": "messages", "value": {
                "messaging_product": "whatsapp",
                "metadata": { "display_phone_number": "254700000100", "phone_number_id": WHATSAPP_PHONE_NUMBER_ID },
                "messages": [{ "from": "254711000001", "id": "wamid.DEMO1", "timestamp": "1764547200",
                               "type": "text", "text": { "body": "Hi, when are you open on Saturday?" } }]
            }}]}]
        })
        .to_string();
        let hex: String = match Hmac::<sha2::Sha256>::new_from_slice(WHATSAPP_APP_SECRET.as_bytes())
        {
            Ok(mut mac) => {
                mac.update(body.as_bytes());
                mac.finalize()
                    .into_bytes()
                    .iter()
                    .map(|b| format!("{b:02x}"))
                    .collect()
            }
            Err(_) => String::new(),
        };
        format!(
            "curl -s -X POST {base}/webhooks/whatsapp -H 'Content-Type: application/json' \\\n    -H 'X-Hub-Signature-256: sha256={hex}' \\\n    --data-raw '{body}'"
        )
    }
}
