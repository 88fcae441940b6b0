//! The harness itself: right passes and failures, clear errors for bad files.

use super::*;

fn now() -> jiff::Timestamp {
    DEFAULT_NOW.parse().unwrap()
}

#[tokio::test]
async fn labelled_and_dialogue_cases_pass_and_fail_for_the_right_reasons() {
    let yaml = r#"
- text: "my dad has crushing chest pain and is sweating"
  level: emergency
- text: "can I book a follow-up for my knee"
  level: none
- text: "I have had a fever for 5 days"
  level: urgent
- text: "just checking your hours"
  level: emergency
- name: hours then parking
  turns:
    - say: "what are your opening hours?"
      expect: { intent: opening_hours, triage: none, alert: none, reply_contains: ["Mon–Fri 08:00–18:00"] }
    - say: "where can I park?"
      expect: { intent: faq, reply_contains: ["two patient parks"], reply_not_contains: ["booked"] }
  booked: false
- name: a wrong expectation is reported
  tenant: nairobi-family
  turns:
    - say: "hello"
      expect: { intent: opening_hours, reply_contains: ["not in any reply"] }
"#;
    let r = run("inline", yaml, now()).await.unwrap();
    let fails: Vec<&str> = r
        .cases
        .iter()
        .filter(|c| !c.failures.is_empty())
        .map(|c| c.name.as_str())
        .collect();
    assert_eq!(
        fails,
        vec![
            "#4 just checking your hours",
            "a wrong expectation is reported"
        ],
        "{}",
        render(&r, true)
    );
    assert_eq!(r.cases[5].failures.len(), 2, "{:?}", r.cases[5].failures);
    assert_eq!(r.emergency_recall(), Some(0.5));
    assert_eq!(r.urgent_recall(), Some(1.0));
    assert_eq!(r.false_alarm_rate(), Some(0.0));
    let text = render(&r, false);
    assert!(text.ends_with("4 passed, 2 failed\n"), "{text}");
    assert!(text.contains("emergency recall 50.0%"));
}

#[tokio::test]
async fn bad_files_are_clear_errors() {
    let err = run("bad.yaml", "- name: x\n  turns: 3\n", now())
        .await
        .unwrap_err();
    assert!(err.to_string().starts_with("bad.yaml:"), "{err}");
    let err = run(
        "typo.yaml",
        "- name: x\n  turns:\n    - say: hi\n      expect: { intnet: faq }\n",
        now(),
    )
    .await
    .unwrap_err();
    assert!(err.to_string().starts_with("typo.yaml:"), "{err}");
}

#[tokio::test]
async fn a_verified_caller_gets_a_diary_and_the_diary_after_is_checked() {
    let yaml = r#"
- name: cancels over sms
  channel: sms
  phone: "+64215550101"
  appointments:
    - { service: "Sports massage", practitioner: "Mei Chen", at: "2026-11-25 12:00" }
  turns:
    - say: "please cancel my appointment"
      expect: { intent: cancel, reply_contains: ["Wed 25 Nov at 12:00? (yes/no)"] }
    - say: "yes"
      expect: { reply_contains: ["is cancelled"] }
  appointments_after: []
- name: a wrong diary after is reported
  channel: whatsapp
  tenant: nairobi-family
  phone: "+254711000001"
  turns:
    - say: "when is my appointment?"
      meanwhile:
        - { service: "GP consultation", practitioner: "Dr. Wanjiku Kamau", at: "2026-11-25 10:00" }
      expect: { reply_contains: ["can't see any upcoming appointments"] }
  appointments_after:
    - { at: "2026-11-25 10:00" }
- name: sms without a phone
  channel: sms
  turns:
    - say: "hi"
- name: web chat never sees its diary
  appointments:
    - { service: "Sports massage", practitioner: "Mei Chen", at: "2026-11-25 12:00" }
  turns:
    - say: "when is my appointment?"
      expect: { reply_not_contains: ["Wed 25 Nov"] }
"#;
    let r = run("inline", yaml, now()).await.unwrap();
    let failures: Vec<&[String]> = r.cases.iter().map(|c| c.failures.as_slice()).collect();
    assert!(failures[0].is_empty(), "{}", render(&r, true));
    assert_eq!(failures[1].len(), 1, "{failures:?}");
    assert!(
        failures[1][0].starts_with("appointments after: [], expected"),
        "another patient's booking is not the caller's: {failures:?}"
    );
    assert_eq!(failures[2], ["channel `sms` needs the caller's `phone`"]);
    assert!(failures[3].is_empty(), "{}", render(&r, true));
}
