//! FAQ retrieval: BM25 over the clinic's own FAQ entries, offline.
//!
//! Each entry is indexed as its question (counted twice: the question says what the entry is
//! about) plus its answer. Words are folded, function words in English and Swahili dropped,
//! lightly stemmed ("parking" = "park", "cancellation" = "cancel"), mapped through a small
//! synonym table (Swahili "kulipa" = "pay", "maegesho" = "park") and, when a query word is not
//! in the index, corrected to an indexed word one typo away ("parkng").
//!
//! **No answer is invented.** BM25 ranks; whether the best entry really answers is decided by
//! its *coverage*: the share of the query's informative words (weighted by IDF, where words
//! no entry contains weigh the most) that the entry contains. Below [`MIN_CONFIDENCE`],
//! [`FaqIndex::best`] returns `None` and the agent says it will ask the team.

use crate::understand::text::{fold_words, is_stopword, stem};
use frontdesk_domain::FaqId;
use std::collections::HashMap;
use strsim::damerau_levenshtein;

/// The least coverage (0.0-1.0) for [`FaqIndex::best`] to answer. 0.5 means the entry must
/// contain at least half of what the question is about: "can I pay with M-Pesa" matches an
/// entry mentioning both paying and M-Pesa, "do you sell dog food" matches nothing.
pub const MIN_CONFIDENCE: f32 = 0.5;

const K1: f32 = 1.2;
const B: f32 = 0.75;
const QUESTION_BOOST: usize = 2;

/// Words that carry no topic in a question to a clinic, beyond the general stop list.
const QUESTION_FILLER: &[&str] = &[
    "need",
    "want",
    "like",
    "know",
    "tell",
    "get",
    "thing",
    "things",
    "able",
    "allowed",
    "possible",
    "appointment",
    "appointments",
    "clinic",
    "also",
    "still",
    "anyway",
    "much",
    "many",
    "usually",
    "first",
    "next",
    "time",
    "take",
    "accept",
    "offer",
    "use",
    "got",
    "come",
    "go",
    "make",
    "there",
    "mnatoa",
    "nilete",
    "nije",
];

/// Synonyms mapped onto one stem (applied after stemming).
const SYNONYMS: &[(&str, &str)] = &[
    ("carpark", "park"),
    ("car", "park"),
    ("vehicle", "park"),
    ("maegesho", "park"),
    ("kuegesha", "park"),
    ("egesha", "park"),
    ("lipa", "pay"),
    ("kulipa", "pay"),
    ("malipo", "pay"),
    ("paid", "pay"),
    ("ghairi", "cancel"),
    ("kughairi", "cancel"),
    ("leta", "bring"),
    ("kuleta", "bring"),
    ("chanjo", "vaccin"),
    ("immunis", "vaccin"),
    ("vaccinat", "vaccin"),
    ("jab", "vaccin"),
    ("mtoto", "child"),
    ("watoto", "child"),
    ("children", "child"),
    ("kid", "child"),
    ("pesa", "cash"),
    ("taslimu", "cash"),
    ("kadi", "card"),
    ("bima", "insuranc"),
];

/// One scored entry, for diagnostics and for callers that want more than the best.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct FaqHit {
    pub id: FaqId,
    pub bm25: f32,
    /// Coverage of the query by this entry, 0.0-1.0 (see the module docs).
    pub confidence: f32,
}

#[derive(Debug, Clone)]
struct Doc {
    id: FaqId,
    tf: HashMap<String, f32>,
    len: f32,
}

/// The BM25 index of one clinic's FAQ entries. Build it once per FAQ change.
#[derive(Debug, Clone, Default)]
pub struct FaqIndex {
    docs: Vec<Doc>,
    df: HashMap<String, f32>,
    avg_len: f32,
    /// Surface words seen in the entries → their term, for typo correction.
    surface: HashMap<String, String>,
}

fn term(word: &str) -> Option<String> {
    if is_stopword(word) || QUESTION_FILLER.contains(&word) || word.chars().count() < 2 {
        return None;
    }
    let s = stem(word);
    let s = SYNONYMS
        .iter()
        .find(|(from, _)| *from == s || *from == word)
        .map_or(s, |(_, to)| (*to).to_owned());
    Some(s)
}

impl FaqIndex {
    /// Indexes `(id, question, answer)` entries.
    pub fn new<Q: AsRef<str>, A: AsRef<str>>(entries: &[(FaqId, Q, A)]) -> Self {
        let mut index = FaqIndex::default();
        for (id, q, a) in entries {
            let mut tf: HashMap<String, f32> = HashMap::new();
            let mut len = 0.0;
            let question = fold_words(q.as_ref());
            let answer = fold_words(a.as_ref());
            let words = question
                .iter()
                .cycle()
                .take(question.len() * QUESTION_BOOST)
                .chain(answer.iter());
            for w in words {
                if let Some(t) = term(w) {
                    index.surface.entry(w.clone()).or_insert_with(|| t.clone());
                    *tf.entry(t).or_default() += 1.0;
                    len += 1.0;
                }
            }
            for t in tf.keys() {
                *index.df.entry(t.clone()).or_default() += 1.0;
            }
            index.docs.push(Doc { id: *id, tf, len });
        }
        let total: f32 = index.docs.iter().map(|d| d.len).sum();
        index.avg_len = if index.docs.is_empty() {
            1.0
        } else {
            (total / index.docs.len() as f32).max(1.0)
        };
        index
    }

    pub fn len(&self) -> usize {
        self.docs.len()
    }

    pub fn is_empty(&self) -> bool {
        self.docs.is_empty()
    }

    fn idf(&self, t: &str) -> f32 {
        let n = self.docs.len() as f32;
        let df = self.df.get(t).copied().unwrap_or(0.0);
        (1.0 + (n - df + 0.5) / (df + 0.5)).ln()
    }

    /// The query's distinct terms, with unknown words corrected to an indexed word one typo
    /// away when there is one.
    fn query_terms(&self, query: &str) -> Vec<String> {
        let mut terms: Vec<String> = Vec::new();
        for w in fold_words(query) {
            let Some(mut t) = term(&w) else { continue };
            if !self.df.contains_key(&t) && w.chars().count() >= 5 {
                let fix = self
                    .surface
                    .iter()
                    .filter(|(s, _)| {
                        s.len().abs_diff(w.len()) <= 1 && damerau_levenshtein(s, &w) == 1
                    })
                    .map(|(_, t)| t)
                    .min();
                if let Some(fixed) = fix {
                    t = fixed.clone();
                }
            }
            if !terms.contains(&t) {
                terms.push(t);
            }
        }
        terms
    }

    /// Every entry that shares a word with the query, best BM25 first.
    pub fn search(&self, query: &str) -> Vec<FaqHit> {
        let terms = self.query_terms(query);
        let weights: Vec<f32> = terms.iter().map(|t| self.idf(t)).collect();
        let total: f32 = weights.iter().sum();
        let mut hits: Vec<FaqHit> = self
            .docs
            .iter()
            .filter_map(|d| {
                let (mut bm25, mut covered) = (0.0, 0.0);
                for (t, w) in terms.iter().zip(&weights) {
                    if let Some(&f) = d.tf.get(t) {
                        bm25 +=
                            w * f * (K1 + 1.0) / (f + K1 * (1.0 - B + B * d.len / self.avg_len));
                        covered += w;
                    }
                }
                (bm25 > 0.0 && total > 0.0).then(|| FaqHit {
                    id: d.id,
                    bm25,
                    confidence: covered / total,
                })
            })
            .collect();
        hits.sort_by(|a, b| b.bm25.total_cmp(&a.bm25));
        hits
    }

    /// The entry that answers `query`, with its confidence, or `None` when no entry covers at
    /// least [`MIN_CONFIDENCE`] of the question.
    pub fn best(&self, query: &str) -> Option<(FaqId, f32)> {
        self.search(query)
            .into_iter()
            .next()
            .filter(|h| h.confidence >= MIN_CONFIDENCE)
            .map(|h| (h.id, h.confidence))
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// The demo clinics' FAQs (crates/server/src/demo.rs), with fixed ids by position.
    pub(crate) const HARBOUR: [(&str, &str); 5] = [
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
    ];
    pub(crate) const NAIROBI: [(&str, &str); 2] = [
        (
            "How can I pay?",
            "Cash, card or M-Pesa (Lipa na M-Pesa). / Tunakubali pesa taslimu, kadi na M-Pesa.",
        ),
        (
            "Do you vaccinate children?",
            "Yes, we give childhood immunisations from the Kenya schedule; bring the child's clinic card.",
        ),
    ];

    pub(crate) fn index(faqs: &[(&str, &str)]) -> (FaqIndex, Vec<FaqId>) {
        let entries: Vec<(FaqId, &str, &str)> =
            faqs.iter().map(|(q, a)| (FaqId::new(), *q, *a)).collect();
        (
            FaqIndex::new(&entries),
            entries.iter().map(|e| e.0).collect(),
        )
    }

    #[test]
    fn paraphrased_questions_find_the_right_entry() {
        let (h, ids) = index(&HARBOUR);
        for (q, want) in [
            ("where can I park", 0),
            ("Is there parking nearby?", 0),
            ("parkng?", 0),
            ("Where do I park my car?", 0),
            ("do you do ACC", 1),
            ("can I claim through ACC?", 1),
            ("how much notice to cancel", 2),
            ("what's the cancellation policy", 2),
            ("what do I need to bring", 3),
            ("what should I bring to my first appointment?", 3),
            ("how do I pay", 4),
            ("do you take eftpos", 4),
        ] {
            assert_eq!(
                h.best(q).map(|b| b.0),
                Some(ids[want]),
                "{q}: {:?}",
                h.search(q)
            );
        }
        let (n, ids) = index(&NAIROBI);
        for (q, want) in [
            ("can I pay with mpesa", 0),
            ("Do you accept M-Pesa?", 0),
            ("naweza kulipa kwa mpesa?", 0),
            ("do you do vaccinations for kids", 1),
            ("chanjo ya mtoto", 1),
        ] {
            assert_eq!(
                n.best(q).map(|b| b.0),
                Some(ids[want]),
                "{q}: {:?}",
                n.search(q)
            );
        }
    }

    #[test]
    fn unrelated_questions_get_no_answer() {
        let (h, _) = index(&HARBOUR);
        let (n, _) = index(&NAIROBI);
        for q in [
            "do you sell dog food",
            "what's the weather",
            "what's the weather like tomorrow",
            "can you fix my computer",
            "can I bring my dog",
            "",
            "the and of",
            "??",
        ] {
            assert_eq!(h.best(q), None, "{q}: {:?}", h.search(q));
            assert_eq!(n.best(q), None, "{q}: {:?}", n.search(q));
        }
        assert_eq!(FaqIndex::new::<&str, &str>(&[]).best("parking"), None);
    }

    #[test]
    fn confidence_is_coverage_between_zero_and_one() {
        let (h, _) = index(&HARBOUR);
        for hit in h.search("is there parking for my dog") {
            assert!((0.0..=1.0).contains(&hit.confidence));
        }
        let full = h.best("parking").map(|b| b.1);
        assert_eq!(full, Some(1.0));
    }
}
