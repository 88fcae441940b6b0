//! Routing by risk: which receptionist answers a turn.
//!
//! 1. The deterministic triage has already run (it is the built-in agent's first step). Any
//!    red flag, urgent or emergency, is answered by the built-in receptionist: a model never
//!    sees the message, so it can neither soften nor delay the emergency advice.
//! 2. A dialogue in progress (collecting a booking, a texted code, a reminder's or a waitlist
//!    offer's "yes") stays with the built-in dialogue that holds its state.
//! 3. Sensitive messages (distress, complaints, clinical questions) go to the clinic's
//!    stronger model, routine ones to its fast model, as the clinic's [`RoutingPolicy`] says;
//!    either may be set to the built-in receptionist instead.
//!
//! A model can later raise the turn's triage (the `escalate` tool), never lower it.

use frontdesk_agent::Triage;

/// Which of the clinic's two models.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Tier {
    /// Fast and cheap: routine questions and bookings.
    Fast,
    /// Stronger: distress, complaints, clinical questions.
    Strong,
}

impl Tier {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Fast => "fast",
            Self::Strong => "strong",
        }
    }
}

/// Per clinic: which model answers which kind of turn; `None` keeps the built-in receptionist.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RoutingPolicy {
    pub routine: Option<Tier>,
    pub sensitive: Option<Tier>,
}

impl Default for RoutingPolicy {
    fn default() -> Self {
        Self {
            routine: Some(Tier::Fast),
            sensitive: Some(Tier::Strong),
        }
    }
}

/// The decision for one turn.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Route {
    /// The built-in receptionist answers; the reason is for the audit entry and metrics.
    BuiltIn(&'static str),
    Model(Tier),
}

/// What the router looks at besides the text.
#[derive(Debug, Clone, Copy)]
pub struct TurnFacts<'a> {
    /// The deterministic triage of this message.
    pub triage: &'a Triage,
    /// The built-in dialogue holds unfinished state, or a reminder or offer awaits an answer.
    pub dialogue_busy: bool,
}

pub fn route(text: &str, facts: TurnFacts<'_>, policy: RoutingPolicy) -> Route {
    if facts.triage.is_red_flag() {
        return Route::BuiltIn("red_flag");
    }
    if facts.dialogue_busy {
        return Route::BuiltIn("dialogue");
    }
    if sensitive(text) {
        policy
            .sensitive
            .map_or(Route::BuiltIn("sensitive"), Route::Model)
    } else {
        policy
            .routine
            .map_or(Route::BuiltIn("routine"), Route::Model)
    }
}

/// Words of distress, complaint or a clinical question. Generous on purpose: a routine
/// message sent to the stronger model costs a little more, the reverse costs quality where it
/// matters most.
const SENSITIVE_WORDS: &[&str] = &[
    // distress
    "anxious",
    "anxiety",
    "scared",
    "afraid",
    "frightened",
    "worried",
    "worry",
    "panic",
    "panicking",
    "upset",
    "depressed",
    "crying",
    "stressed",
    "overwhelmed",
    "hopeless",
    "lonely",
    "desperate",
    "terrified",
    // complaints
    "complaint",
    "complain",
    "complaining",
    "unhappy",
    "disappointed",
    "rude",
    "terrible",
    "awful",
    "refund",
    "unacceptable",
    "angry",
    "furious",
    "lawyer",
    "ombudsman",
    "negligence",
    "negligent",
    "sue",
    // clinical questions
    "pain",
    "painful",
    "hurts",
    "hurt",
    "ache",
    "aching",
    "sore",
    "symptom",
    "symptoms",
    "medication",
    "medicine",
    "medicines",
    "dose",
    "dosage",
    "prescription",
    "diagnosis",
    "rash",
    "swelling",
    "swollen",
    "infection",
    "infected",
    "pregnant",
    "pregnancy",
    "allergic",
    "allergy",
    "treatment",
    "injury",
    "injured",
    "fever",
    "dizzy",
    "nausea",
    "vomiting",
];

/// Multi-word phrases of the same kinds.
const SENSITIVE_PHRASES: &[&str] = &[
    "side effect",
    "should i take",
    "is it normal",
    "is it safe",
    "not happy",
    "speak to the manager",
];

pub fn sensitive(text: &str) -> bool {
    let words: Vec<String> = text
        .split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
        .map(str::to_lowercase)
        .collect();
    if words.iter().any(|w| SENSITIVE_WORDS.contains(&w.as_str())) {
        return true;
    }
    let joined = format!(" {} ", words.join(" "));
    SENSITIVE_PHRASES
        .iter()
        .any(|p| joined.contains(&format!(" {p} ")))
}

#[cfg(test)]
mod tests {
    use super::*;
    use frontdesk_agent::triage;

    fn routed(text: &str, busy: bool, policy: RoutingPolicy) -> Route {
        let t = triage(text, &[]);
        route(
            text,
            TurnFacts {
                triage: &t,
                dialogue_busy: busy,
            },
            policy,
        )
    }

    #[test]
    fn red_flags_never_reach_a_model_whatever_the_policy() {
        for text in [
            "I have crushing chest pain and my left arm is numb",
            "my child is not breathing",
            "I want to kill myself",
        ] {
            assert_eq!(
                routed(text, false, RoutingPolicy::default()),
                Route::BuiltIn("red_flag"),
                "{text}"
            );
        }
    }

    #[test]
    fn routine_goes_fast_and_sensitive_goes_strong() {
        let p = RoutingPolicy::default();
        assert_eq!(
            routed("What time do you open on Saturday?", false, p),
            Route::Model(Tier::Fast)
        );
        assert_eq!(
            routed("Can I book a massage next week?", false, p),
            Route::Model(Tier::Fast)
        );
        for text in [
            "I'm really anxious about my appointment",
            "I want to make a complaint about the receptionist",
            "Should I take ibuprofen before physio?",
            "Is it normal to be sore after treatment?",
        ] {
            assert_eq!(routed(text, false, p), Route::Model(Tier::Strong), "{text}");
        }
    }

    #[test]
    fn a_busy_dialogue_and_a_clinic_policy_keep_the_built_in_receptionist() {
        let p = RoutingPolicy::default();
        assert_eq!(routed("Tuesday", true, p), Route::BuiltIn("dialogue"));
        let cautious = RoutingPolicy {
            routine: Some(Tier::Fast),
            sensitive: None,
        };
        assert_eq!(
            routed("I'm unhappy with my last visit", false, cautious),
            Route::BuiltIn("sensitive")
        );
        assert_eq!(routed("Hours?", false, cautious), Route::Model(Tier::Fast));
        let off = RoutingPolicy {
            routine: None,
            sensitive: None,
        };
        assert_eq!(routed("Hours?", false, off), Route::BuiltIn("routine"));
    }
}
