//! Matching one tokenized message against the compiled rules: phrase matching, negation
//! scope, past / informational mentions, benign and milder contexts, and clinic rules.

use super::index::{CompiledRule, GAP, Index, Span, WordId, allowed_distance, index};
use super::normalise::Token;
use super::{ClinicRule, RuleDef, TriageLevel};

/// How far back (in words) a negation cue can reach.
const NEGATION_REACH: usize = 6;

/// One message being triaged: its tokens, their rule-word ids and the concept matches found
/// so far.
pub(crate) struct Message<'a> {
    ix: &'static Index,
    toks: &'a [Token],
    ids: Vec<Vec<WordId>>,
    /// Whether any token matches a rule word, by word id: phrases whose first word is absent
    /// are skipped without scanning the tokens.
    present: Vec<bool>,
    skip: Vec<bool>,
    memo: Vec<Option<Vec<Span>>>,
    markers: Markers,
}

/// Where the message says when something happened, or that it is only asking for information.
#[derive(Debug, Default)]
struct Markers {
    past: Vec<Span>,
    present: Vec<Span>,
    hypothetical: Vec<Span>,
    recurrence: Vec<Span>,
}

/// Words between two spans (0 when they touch or overlap).
fn gap(a: &Span, b: &Span) -> usize {
    if a.end < b.start {
        b.start - a.end
    } else {
        a.start.saturating_sub(b.end)
    }
}

impl<'a> Message<'a> {
    pub(crate) fn new(toks: &'a [Token]) -> Self {
        let ix = index();
        let ids: Vec<Vec<WordId>> = toks.iter().map(|t| ix.ids_for(t)).collect();
        let mut present = vec![false; ix.words.len()];
        for id in ids.iter().flatten() {
            if let Some(p) = present.get_mut(usize::from(*id)) {
                *p = true;
            }
        }
        let skip = toks
            .iter()
            .map(|t| ix.skip_words.contains(t.text.as_str()))
            .collect();
        let mut m = Message {
            ix,
            toks,
            ids,
            present,
            skip,
            memo: vec![None; ix.concepts.len()],
            markers: Markers::default(),
        };
        m.markers = Markers {
            past: m.spans(ix.past).to_vec(),
            present: m.spans(ix.present).to_vec(),
            hypothetical: m.spans(ix.hypothetical).to_vec(),
            recurrence: m.spans(ix.recurrence).to_vec(),
        };
        m
    }

    fn has(&self, t: usize, w: WordId) -> bool {
        self.ids[t].binary_search(&w).is_ok()
    }

    /// Where a phrase starting at `start` ends, if it matches there.
    fn match_phrase(&self, phrase: &[WordId], start: usize) -> Option<usize> {
        let clause = self.toks[start].clause;
        let same_clause = |j: usize| j < self.toks.len() && self.toks[j].clause == clause;
        let mut t = start;
        let mut i = 1;
        while i < phrase.len() {
            if phrase[i] == GAP {
                let next = *phrase.get(i + 1)?;
                t = (t + 1..=t + 4)
                    .take_while(|j| same_clause(*j))
                    .find(|j| self.has(*j, next))?;
                i += 2;
                continue;
            }
            let mut j = t + 1;
            let mut skipped = 0;
            loop {
                if !same_clause(j) {
                    return None;
                }
                if self.has(j, phrase[i]) {
                    t = j;
                    break;
                }
                if skipped < 2 && self.skip[j] {
                    j += 1;
                    skipped += 1;
                    continue;
                }
                return None;
            }
            i += 1;
        }
        Some(t)
    }

    /// Every match of a concept in the message (memoised).
    fn spans(&mut self, c: usize) -> &[Span] {
        if self.memo[c].is_none() {
            let mut found = Vec::new();
            for phrase in &self.ix.concepts[c] {
                if !self
                    .present
                    .get(usize::from(phrase[0]))
                    .copied()
                    .unwrap_or(false)
                {
                    continue;
                }
                for start in 0..self.toks.len() {
                    if self.has(start, phrase[0])
                        && let Some(end) = self.match_phrase(phrase, start)
                    {
                        found.push(Span { start, end });
                    }
                }
            }
            found.sort_unstable_by_key(|s| (s.start, s.end));
            self.memo[c] = Some(found);
        }
        self.memo[c].as_deref().unwrap_or(&[])
    }

    fn is_cue(&self, j: usize) -> bool {
        self.ix.negation_cues.contains(self.toks[j].text.as_str())
            && !self
                .toks
                .get(j + 1)
                .is_some_and(|n| self.ix.pseudo_negation_next.contains(n.text.as_str()))
    }

    /// Whether a negation cue earlier in the clause reaches the span at `start`.
    fn negated_before(&self, start: usize, combo: &[Span]) -> bool {
        let clause = self.toks[start].clause;
        let mut j = start;
        for _ in 0..NEGATION_REACH {
            if j == 0 {
                return false;
            }
            j -= 1;
            let t = &self.toks[j];
            if t.clause != clause {
                return false;
            }
            if combo.iter().any(|s| s.start <= j && j <= s.end) {
                continue;
            }
            if self.ix.negation_cues.contains(t.text.as_str()) {
                return self.is_cue(j);
            }
            if !self.ix.negation_fillers.contains(t.text.as_str()) {
                return false;
            }
        }
        false
    }

    fn in_sentences(&self, spans: &[Span], sentences: &[u16]) -> bool {
        spans
            .iter()
            .any(|s| sentences.contains(&self.toks[s.start].sent))
    }

    /// Whether the match is set in the distant past or is only a request for information, and
    /// nothing nearer to it says it is happening now (or again).
    fn not_current(&self, combo: &[Span], sentences: &[u16]) -> bool {
        let here = |m: &&Span| sentences.contains(&self.toks[m.start].sent);
        let nearest = |list: &[Span]| {
            list.iter()
                .filter(here)
                .flat_map(|m| combo.iter().map(move |c| gap(m, c)))
                .min()
        };
        if nearest(&self.markers.recurrence).is_some() {
            return false;
        }
        let stale = match (
            nearest(&self.markers.past),
            nearest(&self.markers.hypothetical),
        ) {
            (Some(a), Some(b)) => a.min(b),
            (Some(a), None) | (None, Some(a)) => a,
            (None, None) => return false,
        };
        nearest(&self.markers.present).is_none_or(|now| now > stale)
    }

    /// The level one combination of concept matches earns for a rule.
    fn judge(
        &self,
        base: TriageLevel,
        sticky: bool,
        combo: &[Span],
        ctx: Context<'_>,
    ) -> TriageLevel {
        if combo.iter().any(|s| self.negated_before(s.start, combo)) {
            return TriageLevel::None;
        }
        let mut sentences: Vec<u16> = combo.iter().map(|s| self.toks[s.start].sent).collect();
        sentences.sort_unstable();
        sentences.dedup();
        let set_aside = if sticky {
            base.min(TriageLevel::Urgent)
        } else {
            TriageLevel::None
        };
        if self.in_sentences(ctx.unless, &sentences) || self.not_current(combo, &sentences) {
            return set_aside;
        }
        if self.in_sentences(ctx.milder, &sentences) {
            return base.min(TriageLevel::Urgent);
        }
        base
    }

    fn eval_rule(&mut self, r: &CompiledRule) -> TriageLevel {
        for &c in &r.terms {
            if self.spans(c).is_empty() {
                return TriageLevel::None;
            }
        }
        let unless = r.unless.map(|c| self.spans(c).to_vec()).unwrap_or_default();
        let milder = r.milder.map(|c| self.spans(c).to_vec()).unwrap_or_default();
        let lists: Vec<Vec<Span>> = r.terms.iter().map(|c| self.spans(*c).to_vec()).collect();
        let ctx = Context {
            unless: &unless,
            milder: &milder,
        };
        let window = usize::from(r.def.window);
        let mut best = TriageLevel::None;
        let mut pick = vec![0usize; lists.len()];
        let mut combo: Vec<Span> = Vec::with_capacity(lists.len());
        // Walk the cartesian product of the concept matches (bounded: messages are short).
        for _ in 0..4096 {
            combo.clear();
            combo.extend(pick.iter().zip(&lists).map(|(i, l)| l[*i]));
            let lo = combo.iter().map(|s| s.start).min().unwrap_or(0);
            let hi = combo.iter().map(|s| s.end).max().unwrap_or(0);
            if hi - lo <= window {
                best = best.max(self.judge(r.def.level, r.def.sticky, &combo, ctx));
                if best == r.def.level {
                    return best;
                }
            }
            // Next combination, odometer style.
            let mut k = 0;
            loop {
                if k == pick.len() {
                    return best;
                }
                pick[k] += 1;
                if pick[k] < lists[k].len() {
                    break;
                }
                pick[k] = 0;
                k += 1;
            }
        }
        best
    }

    /// The highest level any built-in rule gives, with the first rule to give it.
    pub(crate) fn best_builtin(&mut self) -> Option<(TriageLevel, &'static RuleDef, &'static str)> {
        let mut best: Option<(TriageLevel, &'static RuleDef, &'static str)> = None;
        for r in &self.ix.rules {
            if best.is_some_and(|b| b.0 >= r.def.level) {
                continue;
            }
            let level = self.eval_rule(r);
            if level > best.map_or(TriageLevel::None, |b| b.0) {
                best = Some((level, r.def, r.set));
            }
        }
        best
    }

    fn clinic_word_matches(&self, t: usize, w: &str) -> bool {
        let tok = self.toks[t].text.as_str();
        match w.strip_suffix('*') {
            Some(stem) => tok.starts_with(stem),
            None => {
                tok == w || {
                    let d = allowed_distance(tok.len(), w.len());
                    d > 0
                        && tok.len().min(w.len()) >= 6
                        && tok.as_bytes().first() == w.as_bytes().first()
                        && !self.ix.protected.contains(tok)
                        && strsim::osa_distance(tok, w) <= d
                }
            }
        }
    }

    /// The level a clinic rule gives this message (`None` if no phrase matches).
    pub(crate) fn clinic_level(&self, rule: &ClinicRule) -> TriageLevel {
        let mut best = TriageLevel::None;
        for phrase in &rule.compiled {
            let Some(first) = phrase.first() else {
                continue;
            };
            for start in 0..self.toks.len() {
                if !self.clinic_word_matches(start, first) {
                    continue;
                }
                let Some(end) = self.match_clinic_phrase(&phrase[1..], start) else {
                    continue;
                };
                let combo = [Span { start, end }];
                let ctx = Context {
                    unless: &[],
                    milder: &[],
                };
                best = best.max(self.judge(rule.level(), false, &combo, ctx));
            }
        }
        best
    }

    fn match_clinic_phrase(&self, rest: &[String], start: usize) -> Option<usize> {
        let clause = self.toks[start].clause;
        let mut t = start;
        for w in rest {
            let mut j = t + 1;
            let mut skipped = 0;
            loop {
                if j >= self.toks.len() || self.toks[j].clause != clause {
                    return None;
                }
                if self.clinic_word_matches(j, w) {
                    t = j;
                    break;
                }
                if skipped < 2 && self.skip[j] {
                    j += 1;
                    skipped += 1;
                    continue;
                }
                return None;
            }
        }
        Some(t)
    }
}

/// The benign and milder contexts of the rule being judged.
#[derive(Clone, Copy)]
struct Context<'s> {
    unless: &'s [Span],
    milder: &'s [Span],
}
