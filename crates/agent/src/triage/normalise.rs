//! Turns a patient's raw text into the tokens the triage rules match on.
//!
//! - Unicode is folded (NFKD, combining marks dropped, lower-cased), so "Café", full-width
//!   letters and curly apostrophes all look like plain ASCII to the rules.
//! - English contractions are expanded ("can't" → `can not`, "won't" → `will not`, also the
//!   apostrophe-less "cant", "dont", "wont"), so negation and "can not breathe" match one way.
//! - Each token remembers its sentence (`.`, `!`, `?`, `;`, new line) and clause (also `,`, `:`,
//!   brackets, dashes). Negation never reaches across a clause; past-tense and "information
//!   only" markers apply per sentence.
//! - Numbers keep their integer value ("38.5" → 38), so rules can say "fever for 3 days".

use unicode_normalization::UnicodeNormalization;
use unicode_normalization::char::is_combining_mark;

/// One word of the patient's message, after folding.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Token {
    pub text: String,
    pub sent: u16,
    pub clause: u16,
    /// The integer value of a numeric token, or of an English / Swahili number word.
    pub num: Option<u32>,
}

/// Longest input considered: a patient message longer than this is cut (on a char boundary) so
/// one enormous message cannot make triage slow. Red flags are stated early in real messages.
pub(crate) const MAX_INPUT_BYTES: usize = 4096;

fn is_apostrophe(c: char) -> bool {
    matches!(
        c,
        '\'' | '\u{2019}' | '\u{2018}' | '\u{02bc}' | '`' | '\u{00b4}'
    )
}

/// What a raw character means to the tokenizer.
enum CharKind {
    Word(char),
    Apostrophe,
    /// A decimal point or thousands separator between two digits.
    Space,
    ClauseBreak,
    SentenceBreak,
}

fn classify(c: char) -> CharKind {
    if c.is_alphanumeric() {
        CharKind::Word(c)
    } else if is_apostrophe(c) {
        CharKind::Apostrophe
    } else {
        match c {
            '.' | '!' | '?' | ';' | '\n' | '\r' | '\u{3002}' => CharKind::SentenceBreak,
            ',' | ':' | '(' | ')' | '[' | ']' | '\u{2013}' | '\u{2014}' | '"' | '|' => {
                CharKind::ClauseBreak
            }
            _ => CharKind::Space,
        }
    }
}

/// Folds text to lower-case ASCII-like characters (accents dropped).
fn fold(text: &str) -> String {
    let cut = if text.len() > MAX_INPUT_BYTES {
        let mut end = MAX_INPUT_BYTES;
        while !text.is_char_boundary(end) {
            end -= 1;
        }
        &text[..end]
    } else {
        text
    };
    cut.nfkd()
        .filter(|c| !is_combining_mark(*c))
        .flat_map(char::to_lowercase)
        .collect()
}

/// Splits folded text into tokens with their sentence and clause numbers.
pub(crate) fn tokenize(text: &str) -> Vec<Token> {
    let folded = fold(text);
    let chars: Vec<char> = folded.chars().collect();
    let mut out: Vec<Token> = Vec::with_capacity(chars.len() / 4 + 1);
    let (mut sent, mut clause) = (0u16, 0u16);
    let mut word = String::new();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        match classify(c) {
            CharKind::Word(w) => word.push(w),
            CharKind::Apostrophe => {
                // Inside a word ("can't", "nyong'onyea") keep it for contraction handling.
                if !word.is_empty() && chars.get(i + 1).is_some_and(|n| n.is_alphanumeric()) {
                    word.push('\'');
                } else {
                    flush(&mut word, &mut out, sent, clause);
                }
            }
            kind => {
                // A hyphen inside a word ("short-of-breath") is a space; standing alone
                // ("no fever - chest pain") it separates clauses.
                let kind = if c == '-' && !is_glued(&chars, i) {
                    CharKind::ClauseBreak
                } else {
                    kind
                };
                let digit_around = |j: usize| chars.get(j).is_some_and(char::is_ascii_digit);
                let in_number =
                    matches!(c, '.' | ',') && i > 0 && digit_around(i - 1) && digit_around(i + 1);
                if in_number {
                    // "38.5" or "1,000": keep the integer part, drop the rest of the number.
                    flush(&mut word, &mut out, sent, clause);
                    i += 1;
                    while chars.get(i).is_some_and(char::is_ascii_digit) {
                        i += 1;
                    }
                    continue;
                }
                flush(&mut word, &mut out, sent, clause);
                match kind {
                    CharKind::SentenceBreak => {
                        sent = sent.saturating_add(1);
                        clause = clause.saturating_add(1);
                    }
                    CharKind::ClauseBreak => clause = clause.saturating_add(1),
                    _ => {}
                }
            }
        }
        i += 1;
    }
    flush(&mut word, &mut out, sent, clause);
    out
}

fn is_glued(chars: &[char], i: usize) -> bool {
    i > 0 && chars[i - 1].is_alphanumeric() && chars.get(i + 1).is_some_and(|c| c.is_alphanumeric())
}

fn push(out: &mut Vec<Token>, text: &str, sent: u16, clause: u16) {
    if text.is_empty() {
        return;
    }
    out.push(Token {
        num: number_value(text),
        text: text.to_owned(),
        sent,
        clause,
    });
}

/// Pushes one raw word, expanding contractions; letters and digits glued together ("5days",
/// "39c") are split so the number stands alone.
fn flush(word: &mut String, out: &mut Vec<Token>, sent: u16, clause: u16) {
    if word.is_empty() {
        return;
    }
    let w = std::mem::take(word);
    if let Some((a, b)) = split_digits(&w) {
        push(out, a, sent, clause);
        push(out, b, sent, clause);
        return;
    }
    let expanded: &[&str] = match w.as_str() {
        "can't" | "cant" | "cannot" | "can't've" => &["can", "not"],
        "won't" | "wont" => &["will", "not"],
        "ain't" => &["is", "not"],
        "shan't" => &["shall", "not"],
        "dont" => &["do", "not"],
        "doesnt" => &["does", "not"],
        "didnt" => &["did", "not"],
        "isnt" => &["is", "not"],
        "wasnt" => &["was", "not"],
        "hasnt" => &["has", "not"],
        "havent" => &["have", "not"],
        "couldnt" => &["could", "not"],
        "wouldnt" => &["would", "not"],
        "arent" => &["are", "not"],
        "im" | "i'm" => &["i", "am"],
        "ive" | "i've" => &["i", "have"],
        _ => &[],
    };
    if !expanded.is_empty() {
        for e in expanded {
            push(out, e, sent, clause);
        }
        return;
    }
    if let Some(stem) = w.strip_suffix("n't") {
        push(out, stem, sent, clause);
        push(out, "not", sent, clause);
        return;
    }
    if let Some((head, tail)) = w.split_once('\'') {
        match tail {
            // "he's", "baby's": the possessive or "is" adds nothing a rule needs.
            "s" | "d" => push(out, head, sent, clause),
            "re" => {
                push(out, head, sent, clause);
                push(out, "are", sent, clause);
            }
            "ve" => {
                push(out, head, sent, clause);
                push(out, "have", sent, clause);
            }
            "ll" => {
                push(out, head, sent, clause);
                push(out, "will", sent, clause);
            }
            // A Swahili word written with an apostrophe ("nyong'onyea", "ng'ombe").
            _ => push(out, &w.replace('\'', ""), sent, clause),
        }
        return;
    }
    push(out, &w, sent, clause);
}

/// "5days" → ("5", "days"); "39c" → ("39", "c"). Only a single digits/letters split.
fn split_digits(w: &str) -> Option<(&str, &str)> {
    let first_digit = w.chars().next()?.is_ascii_digit();
    let pos = w.find(|c: char| c.is_ascii_digit() != first_digit)?;
    let (a, b) = w.split_at(pos);
    let mixed_again = b.chars().any(|c| c.is_ascii_digit() == first_digit);
    (!mixed_again && !b.contains('\'')).then_some((a, b))
}

/// The value of a number written in digits or as an English / Swahili word.
fn number_value(t: &str) -> Option<u32> {
    if t.bytes().all(|b| b.is_ascii_digit()) {
        return t.get(..t.len().min(6)).and_then(|d| d.parse().ok());
    }
    let v = match t {
        "one" | "moja" => 1,
        "two" | "couple" | "mbili" | "pili" | "miwili" | "wawili" => 2,
        "three" | "tatu" | "mitatu" | "watatu" => 3,
        "four" | "nne" | "minne" | "wanne" => 4,
        "five" | "tano" | "mitano" | "watano" => 5,
        "six" | "sita" => 6,
        "seven" | "saba" => 7,
        "eight" | "nane" => 8,
        "nine" | "tisa" => 9,
        "ten" | "kumi" => 10,
        _ => return None,
    };
    Some(v)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn words(s: &str) -> Vec<String> {
        tokenize(s).into_iter().map(|t| t.text).collect()
    }

    #[test]
    fn contractions_expand_to_not() {
        assert_eq!(words("I can't breathe"), ["i", "can", "not", "breathe"]);
        assert_eq!(words("it WON’T stop"), ["it", "will", "not", "stop"]);
        assert_eq!(words("he isn't waking"), ["he", "is", "not", "waking"]);
        assert_eq!(words("cant breath"), ["can", "not", "breath"]);
        assert_eq!(words("my baby's lips"), ["my", "baby", "lips"]);
    }

    #[test]
    fn accents_and_case_fold_and_swahili_apostrophes_join() {
        assert_eq!(words("CAFÉ Ｃｈｅｓｔ"), ["cafe", "chest"]);
        assert_eq!(words("amenyong'onyea"), ["amenyongonyea"]);
    }

    #[test]
    fn numbers_keep_integer_part_and_split_from_units() {
        let t = tokenize("temp 38.5 for 5days, siku tatu");
        let nums: Vec<Option<u32>> = t.iter().map(|t| t.num).collect();
        assert_eq!(nums, [None, Some(38), None, Some(5), None, None, Some(3)]);
    }

    #[test]
    fn sentences_and_clauses_are_numbered() {
        let t = tokenize("no fever, chest pain. help");
        let marks: Vec<(u16, u16)> = t.iter().map(|t| (t.sent, t.clause)).collect();
        assert_eq!(marks, [(0, 0), (0, 0), (0, 1), (0, 1), (1, 2)]);
    }

    #[test]
    fn huge_input_is_cut_on_a_char_boundary() {
        let s = "é".repeat(MAX_INPUT_BYTES);
        assert!(tokenize(&s).len() == 1);
    }
}
