//! Behaviour of [`super::triage`] on the cases the issue names, one assertion per idea.

use super::*;

fn level(text: &str) -> TriageLevel {
    triage(text, &[]).level
}

fn assert_level(expected: TriageLevel, texts: &[&str]) {
    for t in texts {
        let got = triage(t, &[]);
        assert_eq!(got.level, expected, "{t:?} → {got:?}");
    }
}

#[test]
fn plain_emergencies_in_english_fire() {
    assert_level(
        TriageLevel::Emergency,
        &[
            "my dad has crushing chest pain and is sweating",
            "I can't breathe",
            "her face is drooping on one side",
            "he's had a seizure and won't wake up",
            "my baby is floppy and blue",
            "I want to kill myself",
            "my son swallowed bleach",
            "worst headache of my life, came on suddenly",
            "I'm 20 weeks pregnant and bleeding heavily",
        ],
    );
}

#[test]
fn typos_and_informal_phrasing_still_fire() {
    assert_level(
        TriageLevel::Emergency,
        &[
            "chset pain since an hour",
            "difficulty breatheing",
            "can't catch my breath",
            "my chest feels heavy",
            "he is unconcious",
            "she is having a siezure",
        ],
    );
}

#[test]
fn swahili_emergencies_fire() {
    assert_level(
        TriageLevel::Emergency,
        &[
            "ninashindwa kupumua",
            "kifua kinauma sana",
            "mtoto wangu hapumui",
            "mama amezimia na haamki",
            "nataka kujiua",
        ],
    );
}

#[test]
fn negation_is_limited_to_its_phrase() {
    assert_level(
        TriageLevel::None,
        &[
            "no chest pain, just a sore knee",
            "I'm not short of breath",
            "sina maumivu ya kifua",
            "hana homa",
        ],
    );
    assert_level(
        TriageLevel::Emergency,
        &[
            "no fever but crushing chest pain",
            "sina homa lakini kifua kinauma sana",
            "I don't know why but he collapsed",
        ],
    );
}

#[test]
fn distant_past_and_benign_body_parts_do_not_fire() {
    assert_level(
        TriageLevel::None,
        &[
            "I had chest pain last year, is the physio open Saturday",
            "I want to book for my back pain",
            "chest physio appointment please",
            "my baby's vaccination is due",
            "bleeding gums check-up",
        ],
    );
    // ... but the same mention happening again now does.
    assert_eq!(
        level("I had chest pain last year and it's back again now"),
        TriageLevel::Emergency
    );
}

#[test]
fn urgent_is_a_separate_level() {
    assert_level(
        TriageLevel::Urgent,
        &[
            "I've had a fever for 5 days",
            "the pain is getting worse since my surgery",
            "my wound looks infected, there's pus",
            "mtoto ana homa kwa siku tano",
        ],
    );
}

#[test]
fn mixed_languages_fire() {
    assert_level(
        TriageLevel::Emergency,
        &["mtoto wangu is not breathing", "nina chest pain kali sana"],
    );
}

#[test]
fn result_names_the_rule_and_versioned_set() {
    let t = triage("crushing chest pain", &[]);
    assert_eq!(t.rule_id, "en.chest.pain");
    assert_eq!(t.category, Category::ChestPain);
    assert_eq!(t.rule_set, "redflags-en-2026.11");
    let t = triage("hello, what time do you open?", &[]);
    assert_eq!(t.level, TriageLevel::None);
    assert_eq!(t.rule_set, BUILTIN_RULES);
    assert!(!t.is_red_flag());
}

#[test]
fn clinic_rules_add_matches_but_cannot_remove_built_in_ones() -> Result<(), DomainError> {
    let rule = ClinicRule::new(
        "clinic.post_injection",
        &["swelling after injection", "kuvimba baada ya sindano"],
        TriageLevel::Urgent,
        "en",
    )?;
    let rules = [rule];
    let t = triage("there is swelling after my injection", &rules);
    assert_eq!(t.level, TriageLevel::Urgent);
    assert_eq!(t.rule_id, "clinic.post_injection");
    assert_eq!(t.rule_set, CLINIC_RULE_SET);
    // Negation applies to clinic phrases too.
    assert_eq!(
        triage("no swelling after injection", &rules).level,
        TriageLevel::None
    );
    // A clinic rule at a lower level never hides a built-in emergency.
    assert_eq!(
        triage("swelling after injection and I can't breathe", &rules).level,
        TriageLevel::Emergency
    );
    Ok(())
}

#[test]
fn clinic_rules_are_validated() {
    assert!(ClinicRule::new("", &["x"], TriageLevel::Urgent, "en").is_err());
    assert!(ClinicRule::new("a", &["x"], TriageLevel::None, "en").is_err());
    assert!(ClinicRule::new("a", &[], TriageLevel::Urgent, "en").is_err());
    assert!(ClinicRule::new("a", &["?!"], TriageLevel::Urgent, "en").is_err());
}

#[test]
fn levels_are_ordered_and_parse() {
    assert!(TriageLevel::None < TriageLevel::Urgent);
    assert!(TriageLevel::Urgent < TriageLevel::Emergency);
    for l in [
        TriageLevel::None,
        TriageLevel::Urgent,
        TriageLevel::Emergency,
    ] {
        assert_eq!(TriageLevel::parse(l.as_str()), Ok(l));
    }
    assert!(TriageLevel::parse("panic").is_err());
}

#[test]
fn empty_and_hostile_input_is_harmless() {
    assert_eq!(level(""), TriageLevel::None);
    assert_eq!(level("🙂🙂🙂 ... !!!"), TriageLevel::None);
    let long = "a ".repeat(100_000);
    assert_eq!(level(&long), TriageLevel::None);
}

#[test]
fn every_rule_compiles_to_matchable_phrases() {
    // Each rule word is non-empty and wildcards sit only at a word's edge.
    for w in index::all_rule_words() {
        let core = w.trim_start_matches(['=', '~']).trim_matches('*');
        assert!(!core.is_empty(), "empty rule word {w:?}");
        assert!(!core.contains('*'), "inner wildcard in {w:?}");
        assert!(
            core.chars().all(|c| c.is_alphanumeric() || c == '#'),
            "rule word {w:?} would never match a token"
        );
    }
}

#[test]
fn a_nearer_present_marker_or_a_recurrence_outweighs_the_past() {
    // "now" belongs to the new sign, not to the old stroke.
    assert_eq!(
        level("she had a stroke years ago and now her face is drooping"),
        TriageLevel::Emergency
    );
    // "sasa" (now) belongs to walking well, the stroke stays in the past.
    assert_eq!(
        level("Baba alipata kiharusi zamani, sasa anatembea vizuri"),
        TriageLevel::None
    );
    assert_eq!(
        level("my son had a seizure last year and he's having another one"),
        TriageLevel::Emergency
    );
}

#[test]
fn information_requests_are_not_events() {
    assert_level(
        TriageLevel::None,
        &[
            "what are the symptoms of a heart attack?",
            "do you teach first aid for choking?",
            "Dalili za kiharusi ni zipi?",
        ],
    );
}

#[test]
fn self_harm_in_the_past_still_flags_staff() {
    assert_eq!(
        level("I tried to kill myself years ago, can I book with a counsellor"),
        TriageLevel::Urgent
    );
    assert_eq!(level("I'm not suicidal"), TriageLevel::None);
}

#[test]
fn real_words_near_a_rule_word_are_not_typos() {
    assert_level(
        TriageLevel::None,
        &[
            "I cooked dinner and now my back is sore",
            "just checking if you're open tomorrow",
            "are there any slots for a massage?",
            "I'm walking much better since physio",
            "the nurses' strikes, are you still open?",
        ],
    );
}

#[test]
fn benign_context_and_milder_context() {
    // A benign context sets the match aside...
    assert_eq!(level("my son's blue inhaler ran out"), TriageLevel::None);
    // ... a milder one only lowers it to Urgent.
    assert_eq!(
        level("I get short of breath climbing stairs"),
        TriageLevel::Urgent
    );
    assert_eq!(level("I'm short of breath"), TriageLevel::Emergency);
}

#[test]
fn prepare_builds_the_index_once() {
    prepare();
    prepare();
    assert_eq!(level("can't breathe"), TriageLevel::Emergency);
}

#[test]
fn arbitrary_text_never_panics() {
    let alphabet: Vec<char> = "aé ’'.,-_*#|0123456789\n\u{0301}Ω🙂kifuanot"
        .chars()
        .collect();
    let mut seed = 0x2545_f491_4f6c_dd1d_u64;
    for _ in 0..500 {
        let mut s = String::new();
        for _ in 0..(seed % 60) {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            s.push(alphabet[(seed % alphabet.len() as u64) as usize]);
        }
        let _ = triage(&s, &[]);
    }
}
