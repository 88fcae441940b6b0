//! Red-flag triage: the first thing that happens to every patient message, before any
//! understanding, dialogue or language model. It is deterministic, pure and fast (about ten
//! microseconds a message in a release build), so it runs on every message and can be
//! explained to an auditor: the result names the rule that fired and its versioned rule set.
//!
//! - **Rule sets** are versioned per language (`rules_en*.rs`, `rules_sw.rs`). Both always
//!   run, so a message mixing English and Swahili is covered, and concepts borrow the other
//!   language's common words ("mtoto wangu is not breathing", "nina chest pain").
//! - **Levels**: [`TriageLevel::Emergency`] (the reply gives the emergency number first) and
//!   [`TriageLevel::Urgent`] (offer the earliest slot and flag staff). For life-threatening
//!   signs the rules choose Emergency when in doubt: a false alarm is acceptable, a miss is not.
//! - **Negation** is scoped to its clause ("no fever but crushing chest pain" still fires);
//!   **typos** are matched by edit distance; distant-past ("last year") and information-only
//!   ("first aid course") mentions are set aside unless something nearer says it is happening
//!   now or again.
//! - **Clinics** add rules with [`ClinicRule`]; there is no way to switch a built-in rule off.

mod index;
mod lexicon;
mod matcher;
mod normalise;
mod rules_en;
mod rules_en_more;
mod rules_en_urgent;
mod rules_sw;

#[cfg(test)]
mod eval;
#[cfg(test)]
mod tests;

use frontdesk_domain::DomainError;
use std::borrow::Cow;

/// The version of the whole built-in bundle; a message that matched nothing was judged by it.
pub const BUILTIN_RULES: &str = "redflags-2026.11";
/// The `rule_set` reported for a clinic-added rule.
pub const CLINIC_RULE_SET: &str = "clinic";

/// How urgent a message is. Ordered: `None < Urgent < Emergency`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum TriageLevel {
    None,
    /// Not an ambulance case, but staff should see it soon: offer the earliest slot.
    Urgent,
    /// Call the emergency number now.
    Emergency,
}

impl TriageLevel {
    pub fn as_str(self) -> &'static str {
        match self {
            TriageLevel::None => "none",
            TriageLevel::Urgent => "urgent",
            TriageLevel::Emergency => "emergency",
        }
    }

    /// Parses `none`, `urgent` or `emergency`.
    pub fn parse(s: &str) -> Result<Self, DomainError> {
        match s.trim().to_ascii_lowercase().as_str() {
            "none" => Ok(TriageLevel::None),
            "urgent" => Ok(TriageLevel::Urgent),
            "emergency" => Ok(TriageLevel::Emergency),
            _ => Err(DomainError::invalid(
                "triage_level",
                "use none, urgent or emergency",
            )),
        }
    }
}

/// What kind of red flag fired, for the conversation summary and the staff notification.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Category {
    None,
    ChestPain,
    Breathing,
    Stroke,
    Bleeding,
    Unconscious,
    Seizure,
    Allergy,
    SelfHarm,
    Poisoning,
    Burns,
    Headache,
    Pregnancy,
    ChildUnwell,
    Meningitis,
    Abdominal,
    HeadInjury,
    Injury,
    Infection,
    Fever,
    PostOperative,
    Wound,
    Dehydration,
    Eye,
    Other,
    /// A rule the clinic added.
    Clinic,
}

impl Category {
    pub fn as_str(self) -> &'static str {
        match self {
            Category::None => "none",
            Category::ChestPain => "chest_pain",
            Category::Breathing => "breathing",
            Category::Stroke => "stroke",
            Category::Bleeding => "bleeding",
            Category::Unconscious => "unconscious",
            Category::Seizure => "seizure",
            Category::Allergy => "allergy",
            Category::SelfHarm => "self_harm",
            Category::Poisoning => "poisoning",
            Category::Burns => "burns",
            Category::Headache => "headache",
            Category::Pregnancy => "pregnancy",
            Category::ChildUnwell => "child_unwell",
            Category::Meningitis => "meningitis",
            Category::Abdominal => "abdominal",
            Category::HeadInjury => "head_injury",
            Category::Injury => "injury",
            Category::Infection => "infection",
            Category::Fever => "fever",
            Category::PostOperative => "post_operative",
            Category::Wound => "wound",
            Category::Dehydration => "dehydration",
            Category::Eye => "eye",
            Category::Other => "other",
            Category::Clinic => "clinic",
        }
    }
}

/// The outcome of triage: the level and which rule of which rule set decided it (for the
/// audit entry). When nothing fired, `rule_id` is empty and `rule_set` is [`BUILTIN_RULES`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Triage {
    pub level: TriageLevel,
    pub rule_id: Cow<'static, str>,
    pub category: Category,
    pub rule_set: &'static str,
}

impl Triage {
    fn none() -> Self {
        Triage {
            level: TriageLevel::None,
            rule_id: Cow::Borrowed(""),
            category: Category::None,
            rule_set: BUILTIN_RULES,
        }
    }

    pub fn is_red_flag(&self) -> bool {
        self.level > TriageLevel::None
    }
}

/// A clinic's own red-flag rule: any of its phrases (matched like the built-in ones: typos,
/// negation and past mentions handled) raises the message to `level`. It can only add
/// matches; the built-in rules always run as well.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClinicRule {
    id: String,
    phrases: Vec<String>,
    level: TriageLevel,
    language: String,
    /// Each phrase as folded words; a trailing `*` makes a word a prefix.
    compiled: Vec<Vec<String>>,
}

impl ClinicRule {
    /// `id` is the clinic's stable name for the rule (it is what the audit log records);
    /// `language` is the BCP 47 tag the phrases are written in (for staff; matching ignores
    /// it because patients mix languages). Phrases with no words are rejected.
    pub fn new(
        id: &str,
        phrases: &[&str],
        level: TriageLevel,
        language: &str,
    ) -> Result<Self, DomainError> {
        let id = id.trim();
        if id.is_empty() || id.len() > 100 {
            return Err(DomainError::invalid("rule_id", "use 1 to 100 characters"));
        }
        if level == TriageLevel::None {
            return Err(DomainError::invalid("level", "use urgent or emergency"));
        }
        if phrases.is_empty() || phrases.len() > 200 {
            return Err(DomainError::invalid("phrases", "give 1 to 200 phrases"));
        }
        let mut compiled = Vec::with_capacity(phrases.len());
        for p in phrases {
            let words = index::compile_clinic_phrase(p);
            if words.is_empty() || words.len() > 12 {
                return Err(DomainError::invalid(
                    "phrases",
                    "each phrase needs 1 to 12 words",
                ));
            }
            compiled.push(words);
        }
        Ok(ClinicRule {
            id: id.to_owned(),
            phrases: phrases.iter().map(|p| p.trim().to_owned()).collect(),
            level,
            language: language.trim().to_owned(),
            compiled,
        })
    }

    pub fn id(&self) -> &str {
        &self.id
    }
    pub fn phrases(&self) -> &[String] {
        &self.phrases
    }
    pub fn level(&self) -> TriageLevel {
        self.level
    }
    pub fn language(&self) -> &str {
        &self.language
    }
}

/// Alternative phrases that mean one thing, separated by `|` (see `lexicon.rs` for the syntax).
pub(crate) type Concept = &'static str;

/// One built-in rule: every concept in `all` must match within `window` words.
#[derive(Debug)]
pub(crate) struct RuleDef {
    pub id: &'static str,
    pub category: Category,
    pub level: TriageLevel,
    pub all: &'static [Concept],
    pub window: u8,
    /// A benign context in the same sentence sets the match aside ("stroke rehab").
    pub unless: Concept,
    /// A context in the same sentence that lowers the match to Urgent ("breathless on stairs").
    pub milder: Concept,
    /// A past, informational or benign mention still flags Urgent instead of nothing
    /// (suicidal thoughts "last year" still deserve a call from staff).
    pub sticky: bool,
}

impl RuleDef {
    pub(crate) const fn new(
        id: &'static str,
        category: Category,
        level: TriageLevel,
        all: &'static [Concept],
    ) -> Self {
        RuleDef {
            id,
            category,
            level,
            all,
            window: 8,
            unless: "",
            milder: "",
            sticky: false,
        }
    }
    pub(crate) const fn window(self, window: u8) -> Self {
        RuleDef { window, ..self }
    }
    pub(crate) const fn unless(self, unless: Concept) -> Self {
        RuleDef { unless, ..self }
    }
    pub(crate) const fn milder(self, milder: Concept) -> Self {
        RuleDef { milder, ..self }
    }
    pub(crate) const fn sticky(self) -> Self {
        RuleDef {
            sticky: true,
            ..self
        }
    }
}

/// A versioned list of rules in one language.
#[derive(Debug)]
pub(crate) struct RuleSet {
    pub name: &'static str,
    pub rules: &'static [RuleDef],
}

/// The built-in rule sets, in priority order for ties.
pub(crate) const BUILTIN_SETS: &[&RuleSet] = &[
    &rules_en::RULES,
    &rules_en_more::RULES,
    &rules_en_urgent::RULES,
    &rules_sw::RULES,
];

/// Builds the compiled rule index now (about a millisecond), so the first patient message
/// after start-up is as fast as the rest. Calling it again does nothing.
/// See `index::fuzzy_audit`: dictionary words the typo matching would read as rule words.
#[doc(hidden)]
pub fn fuzzy_audit<'w>(words: impl IntoIterator<Item = &'w str>) -> Vec<(String, Vec<String>)> {
    index::fuzzy_audit(words)
}

pub fn prepare() {
    index::index();
}

/// Triage one patient message. Deterministic and pure; the highest level wins, ties go to the
/// first built-in rule, then to the first clinic rule.
pub fn triage(text: &str, clinic_rules: &[ClinicRule]) -> Triage {
    let tokens = normalise::tokenize(text);
    if tokens.is_empty() {
        return Triage::none();
    }
    let mut msg = matcher::Message::new(&tokens);
    let mut best = Triage::none();
    if let Some((level, rule, set)) = msg.best_builtin() {
        best = Triage {
            level,
            rule_id: Cow::Borrowed(rule.id),
            category: rule.category,
            rule_set: set,
        };
    }
    if best.level == TriageLevel::Emergency {
        return best;
    }
    for rule in clinic_rules {
        let level = msg.clinic_level(rule);
        if level > best.level {
            best = Triage {
                level,
                rule_id: Cow::Owned(rule.id.clone()),
                category: Category::Clinic,
                rule_set: CLINIC_RULE_SET,
            };
        }
    }
    best
}
