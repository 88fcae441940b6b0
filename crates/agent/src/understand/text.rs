//! Folding and tokenising of patient text, shared by understanding and FAQ retrieval.
//!
//! Text is folded with NFKD (combining marks dropped, lower-cased), so "Zoë", full-width
//! digits and curly apostrophes compare as plain ASCII. Apostrophes inside a word are dropped
//! ("I'm" → `im`, "don't" → `dont`). Letters and digits are split ("10am" → `10` `am`,
//! "28th" → `28` `th`), while `:` `/` `.` `-` between two digits stay inside one token, so
//! "9:30", "28/11/2026" and "021-555-0101" stay whole. Each token keeps its byte span in the
//! original text (for names, which keep the patient's own spelling) and whether a clause
//! break (`.,;!?` or a new line) follows it.

use std::collections::HashSet;
use std::sync::LazyLock;
use unicode_normalization::UnicodeNormalization;
use unicode_normalization::char::is_combining_mark;

/// At most this many tokens are read from one message, so a pasted essay cannot make the hot
/// path slow. Real requests state what they want early.
pub(crate) const MAX_TOKENS: usize = 400;

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Token {
    /// Folded text.
    pub norm: String,
    /// Byte span in the original text.
    pub start: usize,
    pub end: usize,
    /// The original starts with an upper-case letter.
    pub cap: bool,
    /// A clause break (`.`, `,`, `;`, `!`, `?`, new line) follows before the next token.
    pub brk: bool,
    /// Already claimed by an entity (a phone number, the patient's name, a date), so other
    /// extractors skip it.
    pub masked: bool,
}

impl Token {
    pub fn is_num(&self) -> bool {
        !self.norm.is_empty() && self.norm.bytes().all(|b| b.is_ascii_digit())
    }
    pub fn num(&self) -> Option<u32> {
        if self.is_num() && self.norm.len() <= 9 {
            self.norm.parse().ok()
        } else {
            None
        }
    }
}

fn is_apostrophe(c: char) -> bool {
    matches!(
        c,
        '\'' | '\u{2019}' | '\u{2018}' | '\u{02bc}' | '`' | '\u{00b4}'
    )
}

/// Folds one character: NFKD, combining marks dropped, lower-cased.
fn fold_char(c: char, out: &mut Vec<char>) {
    if c.is_ascii() {
        out.push(c.to_ascii_lowercase());
        return;
    }
    if is_apostrophe(c) {
        out.push('\'');
        return;
    }
    for d in std::iter::once(c).nfkd() {
        if !is_combining_mark(d) {
            out.extend(d.to_lowercase());
        }
    }
}

/// Splits `text` into folded tokens with their spans.
pub(crate) fn tokenize(text: &str) -> Vec<Token> {
    // (folded char, byte offset of its source char, byte end of its source char, source upper)
    let mut chars: Vec<(char, usize, usize, bool)> = Vec::with_capacity(text.len());
    let mut buf = Vec::with_capacity(4);
    for (i, c) in text.char_indices() {
        buf.clear();
        fold_char(c, &mut buf);
        for &f in &buf {
            chars.push((f, i, i + c.len_utf8(), c.is_uppercase()));
        }
    }
    let mut out: Vec<Token> = Vec::new();
    let mut cur = String::new();
    let (mut start, mut end, mut cap) = (0, 0, false);
    let at = |i: usize| chars.get(i).map(|c| c.0);
    let mut i = 0;
    while i < chars.len() && out.len() < MAX_TOKENS {
        let (c, s, e, upper) = chars[i];
        let prev = if i > 0 { at(i - 1) } else { None };
        let next = at(i + 1);
        let digit_glue = matches!(c, ':' | '/' | '.' | '-')
            && prev.is_some_and(|p| p.is_ascii_digit())
            && next.is_some_and(|n| n.is_ascii_digit())
            && !cur.is_empty();
        if c.is_alphanumeric() {
            // Split between letters and digits ("10am", "28th").
            let boundary = cur
                .chars()
                .last()
                .is_some_and(|l| l.is_alphanumeric() && l.is_ascii_digit() != c.is_ascii_digit());
            if boundary {
                flush(&mut cur, &mut out, start, end, cap);
            }
            if cur.is_empty() {
                start = s;
                cap = upper;
            }
            cur.push(c);
            end = e;
        } else if digit_glue
            || (c == '\'' && !cur.is_empty() && next.is_some_and(char::is_alphanumeric))
        {
            if c != '\'' {
                cur.push(c);
            }
            end = e;
        } else {
            flush(&mut cur, &mut out, start, end, cap);
            if matches!(c, '.' | ',' | ';' | '!' | '?' | '\n' | ':' | '(' | ')')
                && let Some(last) = out.last_mut()
            {
                last.brk = true;
            }
        }
        i += 1;
    }
    if out.len() < MAX_TOKENS {
        flush(&mut cur, &mut out, start, end, cap);
    }
    out
}

fn flush(cur: &mut String, out: &mut Vec<Token>, start: usize, end: usize, cap: bool) {
    if cur.is_empty() {
        return;
    }
    out.push(Token {
        norm: std::mem::take(cur),
        start,
        end,
        cap,
        brk: false,
        masked: false,
    });
}

/// Folded words of a catalog name or FAQ text: hyphens inside words are dropped
/// ("Follow-up" → `followup`, "M-Pesa" → `mpesa`), everything else splits.
pub(crate) fn fold_words(text: &str) -> Vec<String> {
    let mut words = Vec::new();
    let mut cur = String::new();
    let mut buf = Vec::with_capacity(4);
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        buf.clear();
        fold_char(c, &mut buf);
        for &f in &buf {
            let joins = (f == '-' || f == '\'')
                && !cur.is_empty()
                && chars.peek().is_some_and(|n| n.is_alphanumeric());
            if f.is_alphanumeric() {
                cur.push(f);
            } else if !joins && !cur.is_empty() {
                words.push(std::mem::take(&mut cur));
            }
        }
    }
    if !cur.is_empty() {
        words.push(cur);
    }
    words
}

/// Function words of English and Swahili (folded, apostrophes dropped): never names, never
/// FAQ keywords, never fuzzy-matched to a practitioner.
const STOPWORDS: &str = "a about above after again all also am an and any anything are as at \
    be because been before being both but by can cant could did didnt do does doesnt doing dont \
    each else even ever every for from further get got had has have having he her here hers \
    him his how hows i id if ill im in into is isnt it its ive just know let lets like may me \
    might mine more most much must my myself need no nor not now of off ok okay on once only or \
    other our ours out over own please pls same shall she should so some such than that thats \
    the their theirs them then there theres these they this those through to too under until \
    up us very want was wasnt we were what whats when where wheres which while who whos whom \
    why will with wont would yes you youd your youre yours hi hello hey thanks thank \
    one ones thing things lot bit way well really actually good great fine sure right instead \
    somewhere anywhere somewhere's near nearby kia ora morena jambo hujambo mambo karibu \
    je ni na ya wa za la kwa katika kama hii hiyo huo hapa nini gani wapi lini vipi mimi wewe \
    yeye sisi nyinyi wao yangu yako yake yetu yenu yao naweza unaweza mnaweza tunaweza nataka \
    ninataka tafadhali sana pia au kuna mna mnakubali nina una ana tuna ndiyo ndio hapana sawa \
    kwamba lakini tu bado sasa habari";

static STOPSET: LazyLock<HashSet<&'static str>> =
    LazyLock::new(|| STOPWORDS.split_whitespace().collect());

pub(crate) fn is_stopword(word: &str) -> bool {
    STOPSET.contains(word)
}

/// Light English stemmer (a few Porter-style suffix rules): enough for "parking" = "park",
/// "cancellation" = "cancel", "payment" = "pay", "claims" = "claim". Swahili words pass
/// through unchanged (its morphology is in prefixes; the FAQ synonym table covers a few).
pub(crate) fn stem(word: &str) -> String {
    let w = word.strip_suffix("'s").unwrap_or(word);
    if w.len() <= 3 || !w.is_ascii() {
        return w.to_owned();
    }
    let mut s = w.to_owned();
    if let Some(b) = s.strip_suffix("ies") {
        s = format!("{b}y");
    } else if s.ends_with("sses") {
        s.truncate(s.len() - 2);
    } else if s.ends_with('s') && !s.ends_with("ss") && !s.ends_with("us") && !s.ends_with("is") {
        s.truncate(s.len() - 1);
    }
    for suffix in ["ations", "ation", "ments", "ment", "ing", "ed"] {
        if s.len() >= suffix.len() + 3
            && let Some(b) = s.strip_suffix(suffix)
        {
            s = b.to_owned();
            undouble(&mut s);
            break;
        }
    }
    if s.len() > 4 && s.ends_with('e') {
        s.truncate(s.len() - 1);
    }
    s
}

/// "runn" → "run", "cancell" → "cancel"; "pass", "call", "fill" keep theirs (a double `l` is
/// undone only on longer stems, where it comes from British "-lled" / "-llation").
fn undouble(s: &mut String) {
    let b = s.as_bytes();
    if b.len() >= 4 {
        let (x, y) = (b[b.len() - 2], b[b.len() - 1]);
        let keep = matches!(x, b's' | b'z' | b'a' | b'e' | b'i' | b'o' | b'u')
            || (x == b'l' && b.len() < 6);
        if x == y && !keep {
            s.truncate(s.len() - 1);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn norms(t: &str) -> Vec<String> {
        tokenize(t).into_iter().map(|t| t.norm).collect()
    }

    #[test]
    fn tokens_fold_split_and_keep_numbers_whole() {
        assert_eq!(
            norms("I'm Zoë, see you 28/11/2026 at 9:30am!"),
            ["im", "zoe", "see", "you", "28/11/2026", "at", "9:30", "am"]
        );
        assert_eq!(norms("the 28th, 10AM"), ["the", "28", "th", "10", "am"]);
        assert_eq!(norms("follow-up ２ pm"), ["follow", "up", "2", "pm"]);
        let t = tokenize("Hi, Aroha here");
        assert!(t[0].brk && !t[1].brk && t[1].cap);
        assert_eq!(&"Hi, Aroha here"[t[1].start..t[1].end], "Aroha");
    }

    #[test]
    fn fold_words_joins_hyphens() {
        assert_eq!(
            fold_words("Follow-up physiotherapy"),
            ["followup", "physiotherapy"]
        );
        assert_eq!(fold_words("Lipa na M-Pesa."), ["lipa", "na", "mpesa"]);
    }

    #[test]
    fn stems_are_light_and_consistent() {
        for (w, s) in [
            ("parking", "park"),
            ("parks", "park"),
            ("cancellation", "cancel"),
            ("cancel", "cancel"),
            ("payment", "pay"),
            ("claims", "claim"),
            ("vaccination", "vaccin"),
            ("vaccine", "vaccin"),
            ("acc", "acc"),
        ] {
            assert_eq!(stem(w), s, "{w}");
        }
    }
}
