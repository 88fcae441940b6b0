//! The patient's own details typed in the text: a phone number and their name.

use super::PatientName;
use super::lexicon;
use super::text::{self, Token};
use frontdesk_domain::E164Phone;

/// Country calling codes for the countries frontdesk is set up in (ISO 3166-1 alpha-2).
/// Unknown countries still get numbers typed in international form ("+…", "00…").
fn calling_code(country: &str) -> Option<&'static str> {
    let code = match country.to_ascii_uppercase().as_str() {
        "NZ" => "64",
        "KE" => "254",
        "AU" => "61",
        "GB" | "UK" => "44",
        "IE" => "353",
        "US" | "CA" => "1",
        "UG" => "256",
        "TZ" => "255",
        "RW" => "250",
        "ZA" => "27",
        "NG" => "234",
        "GH" => "233",
        "IN" => "91",
        "FJ" => "679",
        "WS" => "685",
        "TO" => "676",
        _ => return None,
    };
    Some(code)
}

/// The first phone number in `text`, as E.164. Accepts "+64 21 555 0101", "0064 …", the
/// national form with a trunk zero ("021 555 0101" → +64 21 555 0101 at a NZ clinic) and the
/// country code without "+" ("254712345678"). Tokens inside the number are masked.
pub(crate) fn find_phone(text: &str, country: &str, tokens: &mut [Token]) -> Option<E164Phone> {
    let cc = calling_code(country);
    let bytes = text.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        let c = bytes[i];
        let starts = c == b'+' || c.is_ascii_digit();
        let glued = i > 0
            && (bytes[i - 1].is_ascii_alphanumeric() || matches!(bytes[i - 1], b'/' | b':' | b'.'));
        if !starts || glued {
            i += 1;
            continue;
        }
        let mut end = i + 1;
        while end < bytes.len()
            && (bytes[end].is_ascii_digit()
                || matches!(bytes[end], b' ' | b'-' | b'.' | b'(' | b')'))
        {
            end += 1;
        }
        if let Some((phone, used)) = text.get(i..end).and_then(|cand| best_prefix(cand, cc)) {
            let span = i..i + used;
            for t in tokens
                .iter_mut()
                .filter(|t| t.start < span.end && t.end > span.start)
            {
                t.masked = true;
            }
            return Some(phone);
        }
        i = end.max(i + 1);
    }
    None
}

/// The longest run of whitespace-separated groups at the start of `cand` that is a valid
/// number, so "021 555 0101 3pm" does not swallow the "3": (phone, bytes used).
fn best_prefix(cand: &str, cc: Option<&str>) -> Option<(E164Phone, usize)> {
    let mut ends: Vec<usize> = cand
        .char_indices()
        .filter(|(_, c)| *c == ' ')
        .map(|(i, _)| i)
        .collect();
    ends.push(cand.len());
    ends.iter().rev().find_map(|&end| {
        let part = cand.get(..end)?.trim_end_matches([' ', '-', '.', '(']);
        normalise(part, cc).map(|p| (p, part.len()))
    })
}

fn normalise(raw: &str, cc: Option<&str>) -> Option<E164Phone> {
    let digits: String = raw.chars().filter(char::is_ascii_digit).collect();
    let candidate = if raw.starts_with('+') {
        format!("+{digits}")
    } else if let Some(rest) = digits.strip_prefix("00") {
        format!("+{rest}")
    } else if let Some(national) = digits.strip_prefix('0') {
        if !(8..=10).contains(&national.len()) {
            return None;
        }
        format!("+{}{national}", cc?)
    } else {
        let cc = cc?;
        if !digits.starts_with(cc) || !(11..=13).contains(&digits.len()) {
            return None;
        }
        format!("+{digits}")
    };
    E164Phone::parse(&candidate).ok()
}

/// Phrases after which a patient gives their name. Strong ones accept any name-like word;
/// weak ones ("I'm", "this is") need a capitalised word or one that ends the clause, and never
/// take a word from the stop lists ("I'm sick", "I'm in pain", "this is urgent").
const STRONG: &[&[&str]] = &[
    &["my", "name", "is"],
    &["my", "names"],
    &["name", "is"],
    &["the", "name", "is"],
];
const STRONG_SW: &[&[&str]] = &[
    &["jina", "langu", "ni"],
    &["naitwa"],
    &["ninaitwa"],
    &["jina", "ni"],
];
const WEAK: &[&[&str]] = &[&["im"], &["i", "am"], &["this", "is"], &["its"]];
const WEAK_SW: &[&[&str]] = &[&["mimi", "ni"]];

/// Words that follow "I'm" / "this is" but are not names.
const NOT_NAMES: &str = "sick ill unwell hurt hurting injured pregnant bleeding dizzy tired sore \
    pain in not feeling having calling looking wondering trying hoping going getting booked \
    available free busy late running sorry new interested worried concerned scared afraid fine \
    good well great better worse here there back just still also really very so too sure unsure \
    confused after about regarding from at on with urgent emergency needing wanting asking \
    writing texting messaging ringing phoning coming able unable stuck allergic diabetic \
    asthmatic over under done happy glad keen struggling suffering recovering due currently \
    already physio doctor patient client existing returning mother father mum mom dad parent \
    booking nurse only ok okay okey alright bit little kinda quite having had gonna wanna \
    cancelling canceling rescheduling hoping thinking in and or but the a an my your his her \
    their our for to of up down out off away home work school reaching following checking \
    mgonjwa mjamzito naumwa sijambo mzima mzazi mama baba hapa sawa mgeni";

fn not_name(word: &str, swahili: bool) -> bool {
    (swahili && matches!(word, "leo" | "kesho"))
        || text::is_stopword(word)
        || NOT_NAMES.split_whitespace().any(|w| w == word)
        || lexicon::weekday(word, true).is_some()
        || lexicon::part(word, true).is_some()
        || lexicon::is_tomorrow(word)
        || word == "today"
}

/// The patient's name from "my name is …", "I'm …", "this is …", "jina langu ni …",
/// "naitwa …". Masks the name's tokens so they are not read as dates or practitioners.
pub(crate) fn find_name(text: &str, tokens: &mut [Token], swahili: bool) -> Option<PatientName> {
    let strong: Vec<&[&str]> = STRONG
        .iter()
        .chain(if swahili { STRONG_SW } else { &[] })
        .copied()
        .collect();
    let weak: Vec<&[&str]> = WEAK
        .iter()
        .chain(if swahili { WEAK_SW } else { &[] })
        .copied()
        .collect();
    for i in 0..tokens.len() {
        for (pattern, is_strong) in strong
            .iter()
            .map(|p| (p, true))
            .chain(weak.iter().map(|p| (p, false)))
        {
            let Some(window) = tokens.get(i..i + pattern.len()) else {
                continue;
            };
            let hit = window
                .iter()
                .zip(pattern.iter())
                .all(|(t, w)| t.norm == *w && !t.masked)
                && window
                    .iter()
                    .take(pattern.len().saturating_sub(1))
                    .all(|t| !t.brk);
            if !hit {
                continue;
            }
            let start = i + pattern.len();
            if let Some(count) = name_at(tokens, start, is_strong, swahili) {
                let parts: Vec<String> = tokens[start..start + count]
                    .iter()
                    .filter_map(|t| text.get(t.start..t.end))
                    .map(title_case)
                    .collect();
                for t in &mut tokens[start..start + count] {
                    t.masked = true;
                }
                let name = parts.join(" ");
                return (!name.is_empty() && name.len() <= 60).then(|| PatientName::new(name));
            }
        }
    }
    None
}

/// How many tokens from `start` form a name (1-3), if any.
fn name_at(tokens: &[Token], start: usize, strong: bool, swahili: bool) -> Option<usize> {
    let first = tokens.get(start)?;
    if !(strong || first.cap || first.brk || start + 1 == tokens.len()) {
        return None;
    }
    if tokens.get(start.checked_sub(1)?).is_some_and(|t| t.brk) {
        return None;
    }
    let mut count = 0;
    for t in tokens.iter().skip(start).take(3) {
        let namelike =
            t.norm.chars().all(char::is_alphabetic) && !t.masked && !not_name(&t.norm, swahili);
        // After the first word, a lower-case word continues the name only after a strong cue.
        if !namelike || (count > 0 && !t.cap && !strong) {
            break;
        }
        count += 1;
        if t.brk {
            break;
        }
    }
    (count > 0).then_some(count)
}

/// "aroha" → "Aroha"; names typed with capitals keep them ("McDonald", "DeSouza").
fn title_case(word: &str) -> String {
    if word.chars().any(char::is_uppercase) {
        return word.to_owned();
    }
    let mut chars = word.chars();
    chars
        .next()
        .map(|c| c.to_uppercase().chain(chars).collect())
        .unwrap_or_default()
}
