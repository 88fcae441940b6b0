//! Red-flag triage: `triage::triage` on a patient message, with and without a clinic's own
//! rules, and `ClinicRule::new` on the message as a clinic's phrase.
//!
//! Input: the message text (arbitrary UTF-8; the seeds are the messages of eval/*.yaml).
//!
//! Properties: nothing panics; the result is deterministic; a rule id is named exactly when a
//! red flag is raised; a clinic's rules can only raise the level, never lower it.
#![no_main]

use frontdesk_agent::{ClinicRule, TriageLevel, triage};
use libfuzzer_sys::fuzz_target;
use std::sync::LazyLock;

static RULES: LazyLock<Vec<ClinicRule>> = LazyLock::new(|| {
    vec![
        ClinicRule::new(
            "post_op_bleeding",
            &[
                "bleeding from the wound",
                "stitches burst*",
                "damu kwenye kidonda",
            ],
            TriageLevel::Urgent,
            "en",
        )
        .expect("valid rule"),
        ClinicRule::new(
            "anaphylaxis_after_vaccine",
            &["swelling after the vaccine", "rash after injection*"],
            TriageLevel::Emergency,
            "en",
        )
        .expect("valid rule"),
    ]
});

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let builtin = triage(text, &[]);
    assert_eq!(builtin, triage(text, &[]), "deterministic");
    assert_eq!(builtin.is_red_flag(), !builtin.rule_id.is_empty());
    let with_clinic = triage(text, &RULES);
    assert!(with_clinic.level >= builtin.level);
    assert_eq!(with_clinic.is_red_flag(), !with_clinic.rule_id.is_empty());

    // The same text as a clinic's phrase (staff type these in the dashboard).
    let phrases: Vec<&str> = text.split('\n').collect();
    if let Ok(rule) = ClinicRule::new("fuzz", &phrases, TriageLevel::Urgent, "en") {
        let t = triage(text, std::slice::from_ref(&rule));
        assert!(t.level >= builtin.level);
    }
});
