use super::*;
use frontdesk_domain::{DayHours, WeeklyHours};

fn knowledge(languages: &[&str], emergency: &[&str], rules: Vec<ClinicRule>) -> ClinicKnowledge {
    let wd = DayHours::parse("08:00-18:00").ok();
    let profile = ClinicProfile {
        name: "Harbour Physio".into(),
        timezone: "Pacific/Auckland".into(),
        country: "NZ".into(),
        languages: languages.iter().map(|s| (*s).to_owned()).collect(),
        emergency_numbers: emergency.iter().map(|s| (*s).to_owned()).collect(),
        address: "12 Quay Street, Auckland".into(),
        phone: None,
        currency: "NZD".into(),
        hours: WeeklyHours([
            wd,
            wd,
            wd,
            wd,
            wd,
            DayHours::parse("09:00-13:00").ok(),
            None,
        ]),
        privacy_notice: "We keep this chat private.".into(),
        cancellation_policy: String::new(),
        reminder_hours: frontdesk_domain::clinic::DEFAULT_REMINDER_HOURS,
        widget_origins: vec![],
        session_idle_minutes: frontdesk_domain::clinic::DEFAULT_SESSION_IDLE_MINUTES,
        retention: Default::default(),
        ai_paused: false,
    };
    let services = vec![
        ServiceInfo {
            id: ServiceId::new(),
            name: "Initial physiotherapy consultation".into(),
            duration_min: 45,
            price_minor: Some(9500),
            practitioners: vec![],
        },
        ServiceInfo {
            id: ServiceId::new(),
            name: "Sports massage".into(),
            duration_min: 60,
            price_minor: Some(11000),
            practitioners: vec![],
        },
    ];
    let practitioners = vec![PractitionerInfo {
        id: PractitionerId::new(),
        name: "Aroha Ngata".into(),
        title: "Physiotherapist".into(),
    }];
    let faqs = vec![
        (
            FaqId::new(),
            "Is there parking?".to_owned(),
            "Yes: two patient parks behind the building.".to_owned(),
        ),
        (
            FaqId::new(),
            "Do you take ACC claims?".to_owned(),
            "Yes, we are ACC registered.".to_owned(),
        ),
    ];
    ClinicKnowledge::new(profile, services, practitioners, faqs, rules)
}

fn nz() -> ClinicKnowledge {
    knowledge(&["en"], &["111"], vec![])
}

/// Mon 2026-11-23 10:00 in Auckland.
fn now() -> Timestamp {
    "2026-11-22T21:00:00Z"
        .parse()
        .unwrap_or(Timestamp::UNIX_EPOCH)
}

fn ask(k: &ClinicKnowledge, text: &str, first: bool) -> Reply {
    let ctx = TurnContext {
        clinic: k,
        now: now(),
        first_contact: first,
        needs_phone: true,
        identity_verified: false,
        can_verify: false,
        reminded: None,
        offered: None,
    };
    reply(ctx, text, &mut DialogueState::default())
}

#[test]
fn an_emergency_gets_the_number_first_even_before_the_privacy_notice() {
    let k = nz();
    let r = ask(&k, "my dad has crushing chest pain and is sweating", true);
    assert_eq!(r.alert, Some(Alert::Emergency));
    assert_eq!(r.intent, "red_flag");
    assert!(
        r.messages[0].starts_with("Call 111 now."),
        "{:?}",
        r.messages
    );
    assert!(r.messages[1].contains("alerted the Harbour Physio team"));
    assert_eq!(r.messages[2], "We keep this chat private.");
    assert!(!r.triage.rule_id.is_empty());
}

#[test]
fn a_swahili_clinic_gives_both_numbers_in_both_languages() {
    let k = knowledge(&["en", "sw"], &["999", "112"], vec![]);
    let r = ask(&k, "mtoto hapumui", false);
    assert_eq!(r.alert, Some(Alert::Emergency), "{:?}", r.triage);
    assert!(r.messages[0].starts_with("Call 999 or 112 now."));
    assert!(r.messages[0].contains("Piga simu 999 au 112 sasa hivi"));
}

#[test]
fn negated_symptoms_do_not_alarm_and_are_answered_normally() {
    let k = nz();
    let r = ask(
        &k,
        "no chest pain, just wondering what your hours are",
        false,
    );
    assert_eq!(r.alert, None);
    assert_eq!(r.intent, "opening_hours");
    assert!(r.messages[0].contains("Mon–Fri 08:00–18:00, Sat 09:00–13:00"));
    assert!(r.messages[0].contains("open right now"));
}

#[test]
fn an_urgent_case_is_flagged_and_still_answered() {
    let k = nz();
    let r = ask(&k, "I've had a fever for 5 days now", false);
    assert_eq!(r.alert, Some(Alert::Urgent), "{:?}", r.triage);
    assert!(r.messages[0].contains("flagged your message") && r.messages[0].contains("call 111"));
}

#[test]
fn clinic_rules_add_red_flags_on_top_of_the_built_in_ones() {
    let rule = ClinicRule::new(
        "post-op-leak",
        &["wound is leaking"],
        TriageLevel::Urgent,
        "en",
    )
    .ok();
    let k = knowledge(&["en"], &["111"], rule.into_iter().collect());
    assert_eq!(
        ask(&k, "my wound is leaking a bit", false).alert,
        Some(Alert::Urgent)
    );
    let without = ask(&nz(), "my wound is leaking a bit", false);
    assert!(
        !without.triage.is_red_flag(),
        "without the clinic's rule it is not a red flag"
    );
}

#[test]
fn catalogue_questions_are_answered_from_the_clinics_own_data() {
    let k = nz();
    let r = ask(&k, "how much is a sports massage?", false);
    assert!(
        r.messages[0].contains("Sports massage (60 min, NZD 110)"),
        "{:?}",
        r.messages
    );
    let r = ask(&k, "who are your physios?", false);
    assert!(
        r.messages[0].contains("Aroha Ngata (physiotherapist)"),
        "{:?}",
        r.messages
    );
    let r = ask(&k, "where are you located?", false);
    assert_eq!(
        r.messages,
        vec!["You'll find Harbour Physio at 12 Quay Street, Auckland.".to_owned()]
    );
}

#[test]
fn faq_answers_come_only_from_the_faq_and_unknowns_go_to_the_team() {
    let k = nz();
    let r = ask(&k, "where can I park?", false);
    assert_eq!(r.intent, "faq");
    assert_eq!(
        r.messages,
        vec!["Yes: two patient parks behind the building.".to_owned()]
    );
    assert_eq!(r.alert, None);
    let r = ask(&k, "do you sell dog food", false);
    assert_eq!(r.alert, Some(Alert::Task));
    assert!(r.messages[0].contains("passed your question to the Harbour Physio team"));
    assert!(r.messages[0].contains("call 111"));
}

#[test]
fn on_web_chat_changes_are_declined_bookings_go_to_the_diary_and_humans_get_a_handoff() {
    let k = nz();
    for text in [
        "can I cancel my appointment on Friday?",
        "when is my appointment?",
        "I need to reschedule my appointment to Thursday",
    ] {
        let r = ask(&k, text, false);
        assert!(r.next.is_none(), "nothing is looked up: {r:?}");
        assert!(
            r.messages[0]
                .contains("only look up, move or cancel an appointment once I know it's you"),
            "{text}: {:?}",
            r.messages
        );
    }
    let r = ask(&k, "can I cancel my appointment on Friday?", false);
    assert_eq!(r.intent, "cancel");
    assert!(
        !r.messages
            .iter()
            .any(|m| m.to_lowercase().contains("cancelled"))
    );
    let r = ask(&k, "can I book a sports massage tomorrow at 3?", false);
    assert!(
        matches!(r.next, Some(Step::FindSlots(_))),
        "a complete request goes to the diary: {r:?}"
    );
    assert!(
        r.messages.is_empty(),
        "nothing is claimed before the diary answers"
    );
    let r = ask(&k, "can I talk to a real person please", false);
    assert_eq!(r.alert, Some(Alert::Handoff));
}

#[test]
fn money_is_grouped_and_exact() {
    assert_eq!(money(9500, "NZD"), "NZD 95");
    assert_eq!(money(200_000, "KES"), "KES 2,000");
    assert_eq!(money(1250, "NZD"), "NZD 12.50");
    assert_eq!(money(123_456_789, "KES"), "KES 1,234,567.89");
}

#[test]
fn privacy_notice_leads_a_first_normal_reply_only() {
    let k = nz();
    let r = ask(&k, "hello", true);
    assert_eq!(r.messages[0], "We keep this chat private.");
    assert_eq!(ask(&k, "hello", false).messages.len(), 1);
}

#[test]
fn a_named_service_is_answered_even_after_a_leading_no() {
    let k = nz();
    let r = ask(
        &k,
        "no chest pain or anything, I just want to know if you do sports massage",
        false,
    );
    assert_eq!(r.alert, None);
    assert_eq!(
        r.messages,
        vec!["Yes, we offer Sports massage (60 min, NZD 110).".to_owned()]
    );
    let r = ask(&k, "ok calling now", false);
    assert_eq!((r.alert, r.messages.len()), (None, 1), "{:?}", r.messages);
}

#[test]
fn structured_clinic_data_beats_a_loose_faq_match() {
    let k = nz();
    let r = ask(&k, "hi, what are your hours?", false);
    assert_eq!(r.intent, "opening_hours");
    assert!(
        r.messages[0].contains("Mon–Fri 08:00–18:00"),
        "{:?}",
        r.messages
    );
}

#[test]
fn on_a_verified_channel_changes_ask_the_server_for_the_callers_appointments() {
    let k = nz();
    for (text, intent) in [
        ("can I cancel my appointment on Friday?", "cancel"),
        ("when is my appointment?", "check_appointment"),
        ("I need to reschedule my appointment", "reschedule"),
    ] {
        let mut state = DialogueState::default();
        let ctx = TurnContext {
            clinic: &k,
            now: now(),
            first_contact: false,
            needs_phone: false,
            identity_verified: true,
            can_verify: false,
            reminded: None,
            offered: None,
        };
        let r = reply(ctx, text, &mut state);
        assert_eq!(r.intent, intent);
        assert_eq!(r.next, Some(Step::FindAppointments), "{text}: {r:?}");
        assert!(r.messages.is_empty(), "nothing is said before the look-up");
    }
}
