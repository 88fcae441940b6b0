//! Intent classification by weighted cue phrases (English with NZ usage, and Swahili).
//!
//! Each cue is a phrase of folded words with an intent and a weight. Longer phrases win the
//! words they cover ("cancellation policy" is a FAQ cue, so its "cancellation" cannot also
//! count for `cancel`; "no thanks" is `deny`, not `thanks`). A cue preceded closely by a
//! negation ("I don't want to cancel") does not count. Long cue words tolerate one typo
//! ("apointment", "reschedual"). Scores per intent are summed; the best wins, ties going to
//! the more consequential intent (talk to a human, then reschedule, cancel, ...).

use super::Entities;
use super::choice;
use super::cues::EN;
use super::cues_sw::SW;
use super::text::Token;
use std::collections::HashMap;
use std::sync::LazyLock;
use strsim::damerau_levenshtein;

/// What the patient wants.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Intent {
    Book,
    Reschedule,
    Cancel,
    /// "When is my appointment?"
    CheckAppointment,
    /// "Put me on the waitlist": tell me when a time comes free.
    Waitlist,
    OpeningHours,
    /// Address and directions.
    Address,
    Prices,
    Services,
    PractitionerInfo,
    /// A question about the clinic that its FAQ entries may answer.
    Faq,
    /// Talk to a person.
    Human,
    Greeting,
    Thanks,
    /// Yes.
    Affirm,
    /// No.
    Deny,
    /// One of the offered options, 1-based ("the second one", "2", "option 3").
    ChooseOption(u8),
    Other,
}

impl Intent {
    pub fn as_str(self) -> &'static str {
        match self {
            Intent::Book => "book",
            Intent::Reschedule => "reschedule",
            Intent::Cancel => "cancel",
            Intent::CheckAppointment => "check_appointment",
            Intent::Waitlist => "waitlist",
            Intent::OpeningHours => "opening_hours",
            Intent::Address => "address",
            Intent::Prices => "prices",
            Intent::Services => "services",
            Intent::PractitionerInfo => "practitioner_info",
            Intent::Faq => "faq",
            Intent::Human => "human",
            Intent::Greeting => "greeting",
            Intent::Thanks => "thanks",
            Intent::Affirm => "affirm",
            Intent::Deny => "deny",
            Intent::ChooseOption(_) => "choose_option",
            Intent::Other => "other",
        }
    }

    /// Requests to do something with an appointment or a person: a FAQ match never overrides
    /// them.
    fn is_action(self) -> bool {
        matches!(
            self,
            Intent::Book
                | Intent::Reschedule
                | Intent::Cancel
                | Intent::CheckAppointment
                | Intent::Waitlist
                | Intent::Human
        )
    }

    /// Tie-break order: lower wins.
    fn priority(self) -> u8 {
        const ORDER: [Intent; 16] = [
            Intent::Human,
            Intent::Reschedule,
            Intent::Cancel,
            Intent::CheckAppointment,
            Intent::Waitlist,
            Intent::Book,
            Intent::Faq,
            Intent::Prices,
            Intent::Services,
            Intent::PractitionerInfo,
            Intent::OpeningHours,
            Intent::Address,
            Intent::Deny,
            Intent::Affirm,
            Intent::Thanks,
            Intent::Greeting,
        ];
        ORDER
            .iter()
            .position(|i| *i == self)
            .and_then(|p| u8::try_from(p).ok())
            .unwrap_or(u8::MAX)
    }
}

pub(crate) type CueDef = (&'static str, Intent, f32);

struct Cue {
    words: Vec<&'static str>,
    intent: Intent,
    weight: f32,
}

struct Table {
    cues: Vec<Cue>,
    by_first: HashMap<&'static str, Vec<usize>>,
    /// First words of seven letters or more, for typo-tolerant lookup.
    long_first: Vec<(&'static str, Vec<usize>)>,
}

impl Table {
    fn build(defs: &[&[CueDef]]) -> Self {
        let cues: Vec<Cue> = defs
            .iter()
            .flat_map(|d| d.iter())
            .map(|&(phrase, intent, weight)| Cue {
                words: phrase.split_whitespace().collect(),
                intent,
                weight,
            })
            .filter(|c| !c.words.is_empty())
            .collect();
        let mut by_first: HashMap<&'static str, Vec<usize>> = HashMap::new();
        for (i, c) in cues.iter().enumerate() {
            if let Some(first) = c.words.first() {
                by_first.entry(first).or_default().push(i);
            }
        }
        let long_first = by_first
            .iter()
            .filter(|(k, _)| k.len() >= 7)
            .map(|(k, v)| (*k, v.clone()))
            .collect();
        Self {
            cues,
            by_first,
            long_first,
        }
    }
}

static EN_TABLE: LazyLock<Table> = LazyLock::new(|| Table::build(&[EN]));
static EN_SW_TABLE: LazyLock<Table> = LazyLock::new(|| Table::build(&[EN, SW]));

fn word_eq(tok: &str, cue: &str) -> bool {
    tok == cue
        || (cue.len() >= 7
            && tok.len() >= 7
            && tok.len().abs_diff(cue.len()) <= 1
            && damerau_levenshtein(tok, cue) <= 1)
}

const NEGATORS: &[&str] = &[
    "not", "dont", "never", "doesnt", "didnt", "wont", "sitaki", "si", "usi",
];

struct Hit {
    start: usize,
    len: usize,
    intent: Intent,
    weight: f32,
}

fn hits(tokens: &[Token], table: &Table) -> Vec<Hit> {
    let mut out = Vec::new();
    for (i, tok) in tokens.iter().enumerate() {
        let exact = table.by_first.get(tok.norm.as_str()).into_iter().flatten();
        let fuzzy = table
            .long_first
            .iter()
            .filter(|(k, _)| *k != tok.norm && word_eq(&tok.norm, k))
            .flat_map(|(_, v)| v.iter());
        for &ci in exact.chain(fuzzy) {
            let Some(cue) = table.cues.get(ci) else {
                continue;
            };
            let Some(window) = tokens.get(i..i + cue.words.len()) else {
                continue;
            };
            if window
                .iter()
                .zip(&cue.words)
                .all(|(t, w)| word_eq(&t.norm, w))
            {
                out.push(Hit {
                    start: i,
                    len: cue.words.len(),
                    intent: cue.intent,
                    weight: cue.weight,
                });
            }
        }
    }
    out.sort_by(|a, b| b.len.cmp(&a.len).then(b.weight.total_cmp(&a.weight)));
    out
}

fn negated(tokens: &[Token], start: usize) -> bool {
    let from = start.saturating_sub(3);
    let before = tokens.get(from..start).unwrap_or(&[]);
    before
        .iter()
        .enumerate()
        .any(|(k, t)| NEGATORS.contains(&t.norm.as_str()) && !before.iter().skip(k).any(|b| b.brk))
}

const QUESTION_WORDS: &[&str] = &[
    "what",
    "whats",
    "where",
    "wheres",
    "when",
    "how",
    "hows",
    "do",
    "does",
    "is",
    "are",
    "can",
    "could",
    "will",
    "would",
    "which",
    "who",
    "why",
    "any",
    "je",
    "naweza",
    "mna",
    "mnakubali",
    "kuna",
    "nini",
    "wapi",
    "lini",
];

/// Whether the message asks something: a question mark, or a question word first.
fn is_question(tokens: &[Token], has_question_mark: bool) -> bool {
    has_question_mark
        || tokens
            .first()
            .is_some_and(|t| QUESTION_WORDS.contains(&t.norm.as_str()))
}

/// Classifies the message: (intent, confidence, other intents signalled).
pub(crate) fn classify(
    tokens: &[Token],
    has_question_mark: bool,
    swahili: bool,
    e: &Entities,
) -> (Intent, f32, Vec<Intent>) {
    let table: &Table = if swahili { &EN_SW_TABLE } else { &EN_TABLE };
    let mut used = vec![false; tokens.len()];
    let mut scores: Vec<(Intent, f32)> = Vec::new();
    let add = |scores: &mut Vec<(Intent, f32)>, intent: Intent, w: f32| match scores
        .iter_mut()
        .find(|(i, _)| *i == intent)
    {
        Some(s) => s.1 += w,
        None => scores.push((intent, w)),
    };
    for h in hits(tokens, table) {
        let span = h.start..h.start + h.len;
        if used.get(span.clone()).is_none_or(|u| u.iter().any(|x| *x)) {
            continue;
        }
        used.iter_mut()
            .take(span.end)
            .skip(span.start)
            .for_each(|u| *u = true);
        let social = matches!(
            h.intent,
            Intent::Affirm | Intent::Deny | Intent::Greeting | Intent::Thanks
        );
        if social || !negated(tokens, h.start) {
            add(&mut scores, h.intent, h.weight);
        }
    }
    let score =
        |scores: &[(Intent, f32)], i: Intent| scores.iter().find(|s| s.0 == i).map_or(0.0, |s| s.1);
    if score(&scores, Intent::Cancel) > 0.0 && score(&scores, Intent::Reschedule) > 0.0 {
        add(&mut scores, Intent::Reschedule, 0.5);
    }
    // With an existing appointment in play, a weak booking word ("appointment") refers to it.
    let existing = [Intent::Reschedule, Intent::Cancel, Intent::CheckAppointment];
    if scores
        .iter()
        .any(|(i, s)| existing.contains(i) && *s >= 1.0)
    {
        scores.retain(|(i, s)| !(*i == Intent::Book && *s < 1.0));
    }
    // FAQ words in a request that is not a question are mentioned in passing ("book me in,
    // I'll bring my ACC number"): the request wins.
    let action = scores.iter().any(|(i, s)| i.is_action() && *s >= 1.0);
    if action && !is_question(tokens, has_question_mark) {
        scores
            .iter_mut()
            .filter(|s| s.0 == Intent::Faq)
            .for_each(|s| s.1 *= 0.5);
    }
    // The clinic's structured data answers hours, address, prices, services and team better
    // than an FAQ entry that merely shares a word ("hours" in "24 hours' notice").
    let info = [
        Intent::OpeningHours,
        Intent::Address,
        Intent::Prices,
        Intent::Services,
        Intent::PractitionerInfo,
    ];
    let structured = scores.iter().any(|(i, s)| info.contains(i) && *s >= 1.0);
    if let Some(f) = e.faq
        && !structured
        && !scores.iter().any(|(i, s)| i.is_action() && *s > 0.0)
    {
        add(&mut scores, Intent::Faq, 1.0 + f.confidence);
    }
    if swahili && tokens.len() == 1 && tokens.first().is_some_and(|t| t.norm == "la") {
        add(&mut scores, Intent::Deny, 1.0);
    }
    scores.sort_by(|a, b| {
        b.1.total_cmp(&a.1)
            .then(a.0.priority().cmp(&b.0.priority()))
    });
    if let Some((n, conf)) = choice::choose_option(tokens, swahili) {
        let also = scores.iter().map(|s| s.0).collect();
        return (Intent::ChooseOption(n), conf, also);
    }
    let Some(&(top, s1)) = scores.first() else {
        let has_booking_detail = e.when.is_some()
            || !e.services.is_empty()
            || !e.practitioners.is_empty()
            || e.any_practitioner;
        return if has_booking_detail {
            (Intent::Book, 0.45, Vec::new())
        } else {
            (Intent::Other, 0.3, Vec::new())
        };
    };
    // A greeting or thanks alongside a request does not make the request less certain.
    let social = |i: Intent| matches!(i, Intent::Greeting | Intent::Thanks);
    let s2 = scores
        .iter()
        .skip(1)
        .find(|s| social(top) || !social(s.0))
        .map_or(0.0, |s| s.1);
    let confidence = (s1 / (s1 + 0.6)) * (s1 / (s1 + s2));
    let also = scores.iter().skip(1).map(|s| s.0).collect();
    (top, (confidence * 100.0).round() / 100.0, also)
}
