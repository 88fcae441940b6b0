//! The compiled form of the built-in rules, built once on first use.
//!
//! Every distinct rule word gets an id, and exact, prefix, suffix and typo-tolerant lookups map
//! a message token to the ids it matches, so matching a phrase needs only id comparisons.

use super::lexicon::{
    HYPOTHETICAL, LIST_SYMPTOMS, NEGATION_CUES, NEGATION_FILLERS, PAST, PRESENT, PROTECTED_WORDS,
    PSEUDO_NEGATION_NEXT, RECURRENCE, SKIP_WORDS,
};
use super::normalise::{Token, tokenize};
use super::{BUILTIN_SETS, Concept, RuleDef};
use std::collections::{HashMap, HashSet};
use std::sync::OnceLock;

pub(crate) type WordId = u16;
/// "Up to three arbitrary words here."
pub(crate) const GAP: WordId = WordId::MAX;

#[derive(Debug, Clone, Copy)]
pub(crate) struct Span {
    pub start: usize,
    pub end: usize,
}

/// A word usable as a typo target.
#[derive(Debug)]
struct FuzzyWord {
    id: WordId,
    text: &'static str,
    first: u8,
    len: usize,
    hist: [u8; 26],
}

#[derive(Debug)]
pub(crate) struct CompiledRule {
    pub def: &'static RuleDef,
    pub set: &'static str,
    pub terms: Vec<usize>,
    pub unless: Option<usize>,
    pub milder: Option<usize>,
}

#[derive(Debug, Default)]
pub(crate) struct Index {
    pub words: HashMap<&'static str, WordId>,
    pub exact: HashMap<&'static str, Vec<WordId>>,
    pub prefix: HashMap<&'static str, Vec<WordId>>,
    pub suffix: HashMap<&'static str, Vec<WordId>>,
    fuzzy: Vec<FuzzyWord>,
    pub number: Option<WordId>,
    pub year: Option<WordId>,
    pub temperature: Option<WordId>,
    pub concepts: Vec<Vec<Vec<WordId>>>,
    pub concept_ids: HashMap<(usize, usize), usize>,
    pub rules: Vec<CompiledRule>,
    pub past: usize,
    pub present: usize,
    pub hypothetical: usize,
    pub recurrence: usize,
    pub negation_cues: HashSet<&'static str>,
    pub pseudo_negation_next: HashSet<&'static str>,
    pub negation_fillers: HashSet<&'static str>,
    pub skip_words: HashSet<&'static str>,
    pub protected: HashSet<&'static str>,
}

fn word_set(words: &'static str) -> HashSet<&'static str> {
    words.split_whitespace().collect()
}

fn histogram(s: &str) -> [u8; 26] {
    let mut h = [0u8; 26];
    for b in s.bytes() {
        if b.is_ascii_lowercase() {
            let i = usize::from(b - b'a');
            h[i] = h[i].saturating_add(1);
        }
    }
    h
}

fn add(map: &mut HashMap<&'static str, Vec<WordId>>, key: &'static str, id: WordId) {
    map.entry(key).or_default().push(id);
}

impl Index {
    /// Interns a rule word. `typos`: also match misspellings of it (only for the signs a rule
    /// looks for; benign contexts and markers match exactly, so a typo never hides a red flag).
    fn word(&mut self, w: &'static str, typos: bool) -> WordId {
        if w == "_" {
            return GAP;
        }
        if let Some(id) = self.words.get(w).copied() {
            if typos && !self.fuzzy.iter().any(|f| f.id == id) {
                self.add_fuzzy(w, id);
            }
            return id;
        }
        let id = WordId::try_from(self.words.len()).unwrap_or(GAP - 1);
        self.words.insert(w, id);
        match w {
            "#" => self.number = Some(id),
            "#y" => self.year = Some(id),
            "#t" => self.temperature = Some(id),
            _ => {
                if let Some(stem) = w.strip_suffix('*') {
                    add(&mut self.prefix, stem, id);
                } else if let Some(tail) = w.strip_prefix('*') {
                    add(&mut self.suffix, tail, id);
                } else if let Some(text) = w.strip_prefix('=') {
                    add(&mut self.exact, text, id);
                } else {
                    add(&mut self.exact, w.trim_start_matches('~'), id);
                    if typos {
                        self.add_fuzzy(w, id);
                    }
                }
            }
        }
        id
    }

    fn add_fuzzy(&mut self, w: &'static str, id: WordId) {
        let (text, opt_in) = match w.strip_prefix('~') {
            Some(t) => (t, true),
            None => (w, false),
        };
        let plain = text.bytes().all(|b| b.is_ascii_lowercase());
        if plain && (opt_in || text.len() >= 6) {
            self.fuzzy.push(FuzzyWord {
                id,
                text,
                first: text.as_bytes().first().copied().unwrap_or(0),
                len: text.len(),
                hist: histogram(text),
            });
        }
    }

    fn concept(&mut self, c: Concept, typos: bool) -> usize {
        let key = (c.as_ptr() as usize, c.len());
        if let Some(id) = self.concept_ids.get(&key).copied() {
            if typos {
                // Seen before as a context: make its words typo-tolerant now.
                for w in c.split('|').flat_map(str::split_whitespace) {
                    self.word(w, true);
                }
            }
            return id;
        }
        let phrases: Vec<Vec<WordId>> = c
            .split('|')
            .map(|p| p.split_whitespace().map(|w| self.word(w, typos)).collect())
            .filter(|p: &Vec<WordId>| p.first().is_some_and(|w| *w != GAP))
            .collect();
        self.concepts.push(phrases);
        let id = self.concepts.len() - 1;
        self.concept_ids.insert(key, id);
        id
    }

    fn build() -> Index {
        let mut ix = Index {
            negation_cues: word_set(NEGATION_CUES),
            pseudo_negation_next: word_set(PSEUDO_NEGATION_NEXT),
            negation_fillers: word_set(NEGATION_FILLERS)
                .union(&word_set(LIST_SYMPTOMS))
                .copied()
                .collect(),
            skip_words: word_set(SKIP_WORDS),
            protected: word_set(PROTECTED_WORDS),
            ..Index::default()
        };
        ix.past = ix.concept(PAST, false);
        ix.present = ix.concept(PRESENT, false);
        ix.hypothetical = ix.concept(HYPOTHETICAL, false);
        ix.recurrence = ix.concept(RECURRENCE, false);
        for set in BUILTIN_SETS {
            for def in set.rules {
                let terms = def.all.iter().map(|c| ix.concept(c, true)).collect();
                let unless = (!def.unless.is_empty()).then(|| ix.concept(def.unless, false));
                let milder = (!def.milder.is_empty()).then(|| ix.concept(def.milder, false));
                ix.rules.push(CompiledRule {
                    def,
                    set: set.name,
                    terms,
                    unless,
                    milder,
                });
            }
        }
        ix
    }

    /// The rule-word ids one message token matches, sorted.
    pub(crate) fn ids_for(&self, tok: &Token) -> Vec<WordId> {
        let t = tok.text.as_str();
        let mut v = Vec::new();
        let exact = self.exact.get(t);
        if let Some(ids) = exact {
            v.extend_from_slice(ids);
        }
        for (i, _) in t.char_indices().skip(3) {
            if let Some(ids) = self.prefix.get(&t[..i]) {
                v.extend_from_slice(ids);
            }
        }
        if let Some(ids) = self.prefix.get(t) {
            v.extend_from_slice(ids);
        }
        for (i, _) in t.char_indices() {
            if t.len() - i < 3 {
                break;
            }
            if let Some(ids) = self.suffix.get(&t[i..]) {
                v.extend_from_slice(ids);
            }
        }
        if let Some(n) = tok.num {
            let specials = [
                (n >= 2, self.number),
                ((1900..=2099).contains(&n), self.year),
                (
                    (39..=43).contains(&n) || (102..=108).contains(&n),
                    self.temperature,
                ),
            ];
            v.extend(
                specials
                    .iter()
                    .filter(|(ok, _)| *ok)
                    .filter_map(|(_, id)| *id),
            );
        }
        if exact.is_none() && !self.protected.contains(t) {
            self.fuzzy_ids(t, &mut v);
        }
        v.sort_unstable();
        v.dedup();
        v
    }

    fn fuzzy_ids(&self, t: &str, out: &mut Vec<WordId>) {
        let n = t.len();
        if n < 5 || !t.bytes().all(|b| b.is_ascii_lowercase()) {
            return;
        }
        let first = t.as_bytes()[0];
        let hist = histogram(t);
        for fw in &self.fuzzy {
            if fw.first != first {
                continue;
            }
            let d = allowed_distance(n, fw.len);
            if d == 0 || n.abs_diff(fw.len) > d {
                continue;
            }
            let diff: usize = hist
                .iter()
                .zip(fw.hist.iter())
                .map(|(a, b)| usize::from(a.abs_diff(*b)))
                .sum();
            if diff <= 2 * d && strsim::osa_distance(t, fw.text) <= d {
                out.push(fw.id);
            }
        }
    }
}

/// Edit distance tolerated between a token and a rule word: 1 from 5 letters (rule words of 5
/// letters opt in), 2 from 9 letters.
pub(crate) fn allowed_distance(a: usize, b: usize) -> usize {
    match a.min(b) {
        0..=4 => 0,
        5..=8 => 1,
        _ => 2,
    }
}

pub(crate) fn index() -> &'static Index {
    static INDEX: OnceLock<Index> = OnceLock::new();
    INDEX.get_or_init(Index::build)
}

/// Folds a clinic's phrase the way patient text is folded.
pub(crate) fn compile_clinic_phrase(phrase: &str) -> Vec<String> {
    let prefix_marks: Vec<bool> = phrase
        .split_whitespace()
        .map(|w| w.ends_with('*'))
        .collect();
    let toks = tokenize(phrase);
    // A trailing `*` survives only when tokenizing kept the words one to one.
    let keep_marks = toks.len() == prefix_marks.len();
    toks.into_iter()
        .enumerate()
        .map(|(i, t)| {
            if keep_marks && prefix_marks[i] {
                format!("{}*", t.text)
            } else {
                t.text
            }
        })
        .collect()
}

#[cfg(test)]
pub(crate) fn all_rule_words() -> Vec<&'static str> {
    let mut v: Vec<&'static str> = index().words.keys().copied().collect();
    v.sort_unstable();
    v
}

/// Maintenance aid for rule authors: the words among `words` that typo matching would read as
/// a rule word (and which rule words), skipping exact rule words and `PROTECTED_WORDS`. Run it
/// over a dictionary after adding rules to pick new protected words:
/// `cargo run -p frontdesk-agent --example fuzzy_audit -- /usr/share/dict/british-english`.
pub(crate) fn fuzzy_audit<'w>(
    words: impl IntoIterator<Item = &'w str>,
) -> Vec<(String, Vec<String>)> {
    let ix = index();
    let names: HashMap<WordId, &str> = ix.words.iter().map(|(w, id)| (*id, *w)).collect();
    let mut found = Vec::new();
    for w in words {
        if !w.bytes().all(|b| b.is_ascii_lowercase())
            || ix.exact.contains_key(w)
            || ix.protected.contains(w)
        {
            continue;
        }
        let mut out = Vec::new();
        ix.fuzzy_ids(w, &mut out);
        if !out.is_empty() {
            let hits = out
                .iter()
                .filter_map(|i| names.get(i).map(|n| n.trim_start_matches('~').to_owned()))
                .collect();
            found.push((w.to_owned(), hits));
        }
    }
    found
}

#[cfg(test)]
mod fuzzy_audit_tests {
    use super::*;

    #[test]
    fn the_audit_reports_typo_readings_and_skips_protected_and_exact_words() {
        let found = fuzzy_audit(["chset", "chest", "zzzzzz", "Chest"]);
        assert_eq!(found.len(), 1, "{found:?}");
        assert_eq!(found[0].0, "chset");
        assert!(found[0].1.iter().any(|w| w == "chest"), "{found:?}");
        let protected: Vec<&str> = index().protected.iter().copied().collect();
        assert!(!protected.is_empty());
        assert!(
            fuzzy_audit(protected).is_empty(),
            "protected words are never reported"
        );
    }
}
