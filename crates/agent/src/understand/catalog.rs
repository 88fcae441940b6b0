//! Fuzzy matching of practitioner and service names, and "no preference" ("anyone").
//!
//! Words are compared after folding: exact (1.0), a built-in synonym (0.9: "physio" ~
//! "physiotherapy", "jab" ~ "immunisation"), a prefix of at least four letters (0.85), or a
//! typo — one edit (Damerau: swaps count once) on words of five or more letters, two on words
//! of eight or more (0.8 / 0.7). Function words never match, so "then" is not "Chen" and the
//! Swahili "kama" is not "Kamau"; a practitioner's name that is also a function word ("May")
//! matches only when capitalised.

use super::text::{self, Token};
use super::{Match, NamedItem};
use strsim::damerau_levenshtein;

/// Practitioner titles ignored in names and queries.
const TITLES: &[&str] = &[
    "dr", "doctor", "daktari", "dkt", "mr", "mrs", "ms", "miss", "prof", "nurse",
];

/// Words patients use for the same thing; the first is only a label.
const SYNONYMS: &[&[&str]] = &[
    &[
        "physiotherapy",
        "physio",
        "physiotherapist",
        "physios",
        "fisio",
    ],
    &["massage", "massages", "masaji"],
    &["followup", "follow", "review", "subsequent"],
    &["initial", "assessment", "intro", "introductory"],
    &[
        "immunisation",
        "immunization",
        "immunisations",
        "vaccination",
        "vaccinations",
        "vaccine",
        "vaccines",
        "vax",
        "jab",
        "jabs",
        "shot",
        "shots",
        "chanjo",
    ],
    &[
        "child", "children", "kid", "kids", "baby", "babies", "toddler", "infant", "mtoto",
        "watoto",
    ],
    &["consultation", "consult", "checkup"],
    &["gp", "doctor", "daktari"],
];

fn synonym_group(word: &str) -> Option<usize> {
    SYNONYMS.iter().position(|g| g.contains(&word))
}

/// Similarity of a query word to a name word, 0.0 to 1.0.
fn word_sim(q: &str, w: &str) -> f32 {
    if q == w {
        return 1.0;
    }
    if synonym_group(q).is_some_and(|g| synonym_group(w) == Some(g)) {
        return 0.9;
    }
    let (ql, wl) = (q.chars().count(), w.chars().count());
    if (ql >= 4 && w.starts_with(q)) || (wl >= 4 && q.starts_with(w) && ql <= wl + 3) {
        return 0.85;
    }
    if wl >= 5 && ql >= 4 && ql.abs_diff(wl) <= 2 {
        match damerau_levenshtein(q, w) {
            1 => return 0.8,
            2 if wl >= 8 => return 0.7,
            _ => {}
        }
    }
    0.0
}

/// The query words: unmasked, not numbers or function words, plus each adjacent pair joined
/// ("follow up" → `followup`).
fn query_words(tokens: &[Token], drop_titles: bool) -> Vec<String> {
    let mut out: Vec<String> = tokens
        .iter()
        .filter(|t| !t.masked && !t.is_num() && !text::is_stopword(&t.norm))
        .filter(|t| !(drop_titles && TITLES.contains(&t.norm.as_str())))
        .map(|t| t.norm.clone())
        .collect();
    for pair in tokens.windows(2) {
        if let [a, b] = pair
            && !a.masked
            && !b.masked
            && !a.brk
            && a.norm.chars().all(char::is_alphabetic)
        {
            out.push(format!("{}{}", a.norm, b.norm));
        }
    }
    out
}

fn best_sim(query: &[String], word: &str) -> f32 {
    query.iter().map(|q| word_sim(q, word)).fold(0.0, f32::max)
}

fn name_words(item_name: &str, aliases: &[String], drop_titles: bool) -> Vec<Vec<String>> {
    std::iter::once(item_name)
        .chain(aliases.iter().map(String::as_str))
        .map(|n| {
            text::fold_words(n)
                .into_iter()
                .filter(|w| !(drop_titles && TITLES.contains(&w.as_str())))
                .filter(|w| !text::is_stopword(w) || drop_titles)
                .collect::<Vec<_>>()
        })
        .filter(|ws| !ws.is_empty())
        .collect()
}

fn sort<I>(mut found: Vec<Match<I>>) -> Vec<Match<I>> {
    found.sort_by(|a, b| b.score.total_cmp(&a.score));
    found
}

/// Practitioners named in the text. A name part matched well (≥ 0.7) counts; matching both
/// first and last name scores higher than one.
pub(crate) fn match_practitioners<I: Copy>(
    tokens: &[Token],
    items: &[NamedItem<I>],
) -> Vec<Match<I>> {
    let query = query_words(tokens, true);
    // A function word that is capitalised may be a name ("May"), but only exactly.
    let capitalised: Vec<&str> = tokens
        .iter()
        .filter(|t| !t.masked && t.cap && text::is_stopword(&t.norm))
        .map(|t| t.norm.as_str())
        .collect();
    if query.is_empty() && capitalised.is_empty() {
        return Vec::new();
    }
    let sim = |part: &str| {
        if capitalised.contains(&part) {
            1.0
        } else if part.chars().count() < 4 {
            // Three-letter names ("Sam", "Mei") match only exactly.
            f32::from(u8::from(query.iter().any(|q| q == part)))
        } else {
            best_sim(&query, part)
        }
    };
    let found = items
        .iter()
        .filter_map(|item| {
            let score = name_words(&item.name, &item.aliases, true)
                .iter()
                .map(|parts| {
                    let sims: Vec<f32> = parts.iter().map(|p| sim(p)).collect();
                    let best = sims.iter().copied().fold(0.0, f32::max);
                    let matched = sims.iter().filter(|s| **s >= 0.7).count();
                    (best * 0.9 + 0.1 * (matched as f32 / parts.len().max(1) as f32)).min(1.0)
                })
                .fold(0.0, f32::max);
            (score >= 0.65).then_some(Match { id: item.id, score })
        })
        .collect();
    sort(found)
}

/// Services named in the text, scored by how much of the service's name (weighted by how
/// distinctive each word is within this catalog) the text covers.
pub(crate) fn match_services<I: Copy>(tokens: &[Token], items: &[NamedItem<I>]) -> Vec<Match<I>> {
    let query = query_words(tokens, false);
    if query.is_empty() || items.is_empty() {
        return Vec::new();
    }
    let names: Vec<Vec<Vec<String>>> = items
        .iter()
        .map(|it| name_words(&it.name, &it.aliases, false))
        .collect();
    let n = items.len() as f32;
    let idf = |w: &str| {
        let df = names
            .iter()
            .filter(|variants| variants.iter().any(|ws| ws.iter().any(|x| x == w)))
            .count()
            .max(1) as f32;
        (1.0 + n / df).ln()
    };
    let found = items
        .iter()
        .zip(&names)
        .filter_map(|(item, variants)| {
            let score = variants
                .iter()
                .map(|words| {
                    let (mut got, mut total, mut strong) = (0.0, 0.0, false);
                    for w in words {
                        let (weight, sim) = (idf(w), best_sim(&query, w));
                        total += weight;
                        got += weight * sim;
                        strong |= sim >= 0.8;
                    }
                    if strong && total > 0.0 {
                        got / total
                    } else {
                        0.0
                    }
                })
                .fold(0.0, f32::max);
            (score >= 0.2).then_some(Match { id: item.id, score })
        })
        .collect();
    sort(found)
}

/// "anyone", "any physio", "whoever's free", "no preference", "yeyote": the patient does not
/// mind who they see. Plain "any" counts only on its own ("any is fine"), not in "any slots".
pub(crate) fn no_preference(tokens: &[Token], swahili: bool) -> bool {
    let w: Vec<&str> = tokens.iter().map(|t| t.norm.as_str()).collect();
    let has = |phrase: &[&str]| w.windows(phrase.len()).any(|win| win == phrase);
    let whole = |words: &[&str]| {
        let rest: Vec<&&str> = w
            .iter()
            .filter(|x| {
                !matches!(
                    **x,
                    "please"
                        | "pls"
                        | "is"
                        | "fine"
                        | "ok"
                        | "okay"
                        | "will"
                        | "do"
                        | "one"
                        | "tu"
                        | "sawa"
                )
            })
            .collect();
        rest.len() == 1 && rest.first().is_some_and(|x| words.contains(x))
    };
    let single = ["anyone", "anybody", "whoever", "whoevers", "whomever"];
    if w.iter().any(|x| single.contains(x)) || whole(&["any", "either", "whichever"]) {
        return true;
    }
    let any_of = [
        "physio",
        "physiotherapist",
        "doctor",
        "practitioner",
        "therapist",
        "of",
        "one",
        "person",
        "clinician",
        "gp",
        "dr",
    ];
    let any_x = w.windows(2).any(|p| {
        matches!(p, ["any", x] if any_of.contains(x))
            || matches!(p, ["either", "one" | "is" | "will"])
    });
    let phrases: &[&[&str]] = &[
        &["no", "preference"],
        &["dont", "mind", "who"],
        &["doesnt", "matter", "who"],
        &["dont", "care", "who"],
        &["not", "fussed"],
    ];
    let sw_hit = swahili
        && (w
            .iter()
            .any(|x| matches!(*x, "yeyote" | "yoyote" | "wowote"))
            || has(&["sijali"])
            || has(&["haijalishi"]));
    any_x || sw_hit || phrases.iter().any(|p| has(p))
}
