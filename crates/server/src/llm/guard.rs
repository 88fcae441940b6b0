//! The output guard: a model's text reaches the patient only if nothing in it could carry data
//! out, send the patient elsewhere, or claim what our code did not do.
//!
//! Refused (the turn then uses the built-in receptionist's reply, or only the confirmations
//! of what the tools did):
//! - links whose host is not one of the clinic's own web origins, bare domains with a path,
//!   `javascript:`/`data:` URIs, e-mail addresses, markdown images and any HTML tag;
//! - phone numbers other than the clinic's own and its emergency numbers; identifiers (UUIDs,
//!   long hex runs);
//! - any eight consecutive words of the system prompt's fixed instructions;
//! - claims of a booking, cancellation or move: those words are only ever the system's own,
//!   built from what the store returned;
//! - control and invisible formatting characters, empty or overlong text.
//!
//! It refuses rather than repairs: a reply with one bad part is not trusted for the rest.

use frontdesk_domain::ClinicProfile;

/// The longest model text passed to a patient, in characters.
pub const MAX_REPLY_CHARS: usize = 1200;
/// Consecutive words of the instructions that count as quoting them.
const SHINGLE: usize = 8;

/// Why a reply was refused (for logs and counters; never the text itself).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Blocked {
    Empty,
    TooLong,
    ControlCharacter,
    Html,
    Image,
    Link,
    Email,
    Phone,
    Identifier,
    Instructions,
    ActionClaim,
}

impl Blocked {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Empty => "empty",
            Self::TooLong => "too_long",
            Self::ControlCharacter => "control_character",
            Self::Html => "html",
            Self::Image => "image",
            Self::Link => "link",
            Self::Email => "email",
            Self::Phone => "phone",
            Self::Identifier => "identifier",
            Self::Instructions => "instructions",
            Self::ActionClaim => "action_claim",
        }
    }
}

/// What the guard compares a reply with.
#[derive(Debug)]
pub struct Guard {
    /// Hosts of the clinic's own web origins (`clinic.example`), lowercase.
    hosts: Vec<String>,
    /// Digits of the clinic's phone and emergency numbers.
    phones: Vec<String>,
    /// Eight-word runs of the fixed instructions, lowercase.
    shingles: Vec<String>,
}

fn words(s: &str) -> Vec<String> {
    s.split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
        .map(str::to_lowercase)
        .collect()
}

fn digits(s: &str) -> String {
    s.chars().filter(char::is_ascii_digit).collect()
}

/// The host of an origin or URL: `https://www.clinic.example:443/x` → `www.clinic.example`.
fn host_of(url: &str) -> String {
    let rest = url.split_once("://").map_or(url, |(_, r)| r);
    let end = rest
        .find(['/', '?', '#', ':', ')', ']'])
        .unwrap_or(rest.len());
    rest[..end].trim_end_matches('.').to_lowercase()
}

impl Guard {
    pub fn new(profile: &ClinicProfile, instructions: &str) -> Self {
        let hosts = profile
            .widget_origins
            .iter()
            .map(|o| host_of(o))
            .filter(|h| !h.is_empty())
            .collect();
        let phones = profile
            .phone
            .iter()
            .chain(&profile.emergency_numbers)
            .map(|p| digits(p))
            .filter(|d| !d.is_empty())
            .collect();
        let w = words(instructions);
        let shingles = w.windows(SHINGLE).map(|s| s.join(" ")).collect();
        Self {
            hosts,
            phones,
            shingles,
        }
    }

    fn own_host(&self, host: &str) -> bool {
        self.hosts.iter().any(|h| {
            host == h
                || host
                    .strip_suffix(h.as_str())
                    .is_some_and(|p| p.ends_with('.'))
        })
    }

    /// The reply, trimmed, if it may be shown to the patient.
    pub fn check(&self, text: &str) -> Result<String, Blocked> {
        let text = text.trim();
        if text.is_empty() {
            return Err(Blocked::Empty);
        }
        if text.chars().count() > MAX_REPLY_CHARS {
            return Err(Blocked::TooLong);
        }
        if text.chars().any(|c| {
            (c.is_control() && c != '\n')
                || matches!(c, '\u{200b}'..='\u{200f}' | '\u{202a}'..='\u{202e}' | '\u{2060}'..='\u{2064}' | '\u{feff}')
        }) {
            return Err(Blocked::ControlCharacter);
        }
        if text.contains("![") {
            return Err(Blocked::Image);
        }
        if html(text) {
            return Err(Blocked::Html);
        }
        self.links(text)?;
        if identifier(text) {
            return Err(Blocked::Identifier);
        }
        if phone_like(text).iter().any(|d| !self.phones.contains(d)) {
            return Err(Blocked::Phone);
        }
        let said = words(text).join(" ");
        if self.shingles.iter().any(|s| said.contains(s.as_str())) {
            return Err(Blocked::Instructions);
        }
        if claims_action(&said) {
            return Err(Blocked::ActionClaim);
        }
        Ok(text.to_owned())
    }

    fn links(&self, text: &str) -> Result<(), Blocked> {
        let lower = text.to_lowercase();
        for raw in
            lower.split(|c: char| c.is_whitespace() || matches!(c, '(' | '<' | '"' | '\'' | '['))
        {
            let token = raw.trim_end_matches(['.', ',', ';', '!', '?', ')', ']', '>']);
            if ["javascript:", "data:", "vbscript:", "file:"]
                .iter()
                .any(|s| token.starts_with(s))
            {
                return Err(Blocked::Link);
            }
            if token.contains('@') && token.contains('.') {
                return Err(Blocked::Email);
            }
            let is_url = token.contains("://") || token.starts_with("www.");
            // `evil.example/steal?x=…` without a scheme is still a link.
            let bare = !is_url
                && token.split_once('/').is_some_and(|(h, _)| {
                    h.contains('.')
                        && h.split('.').all(|l| !l.is_empty())
                        && h.chars().any(char::is_alphabetic)
                });
            if (is_url || bare) && !self.own_host(&host_of(token)) {
                return Err(Blocked::Link);
            }
        }
        Ok(())
    }
}

/// `<b>`, `</p>`, `<!--`, `<img …>`: a `<` followed by a letter, `/` or `!`.
fn html(text: &str) -> bool {
    let b = text.as_bytes();
    b.windows(2)
        .any(|w| w[0] == b'<' && (w[1].is_ascii_alphabetic() || w[1] == b'/' || w[1] == b'!'))
}

/// Digit runs that look like phone numbers: seven or more digits joined only by spaces,
/// `-`, `.`, `(`, `)` or a leading `+`. ISO dates (`2026-12-08`) are not phones.
fn phone_like(text: &str) -> Vec<String> {
    let mut found = Vec::new();
    let mut run = String::new();
    let flush = |run: &mut String, found: &mut Vec<String>| {
        let d = digits(run);
        let t = run.trim();
        let iso_date = t.len() == 10
            && t.as_bytes().get(4) == Some(&b'-')
            && t.as_bytes().get(7) == Some(&b'-');
        if d.len() >= 7 && !iso_date {
            found.push(d);
        }
        run.clear();
    };
    for c in text.chars() {
        let joins = matches!(c, ' ' | '-' | '.' | '(' | ')' | '+');
        if c.is_ascii_digit() || (joins && !run.is_empty()) || (c == '+' && run.is_empty()) {
            run.push(c);
        } else {
            flush(&mut run, &mut found);
        }
    }
    flush(&mut run, &mut found);
    found
}

/// A UUID, or 16 or more hex digits in a row (tokens, keys, ids).
fn identifier(text: &str) -> bool {
    let mut run = 0usize;
    let mut with_dashes = 0usize;
    for c in text.chars() {
        if c.is_ascii_hexdigit() {
            run += 1;
            with_dashes += 1;
        } else if c == '-' {
            run = 0;
            with_dashes += 1;
        } else {
            run = 0;
            with_dashes = 0;
        }
        if run >= 16 || with_dashes >= 36 {
            return true;
        }
    }
    false
}

/// Words that state an appointment was made, cancelled or moved. Only the system says these
/// (from the store's answer); a model saying them is refused even when true.
fn claims_action(said: &str) -> bool {
    const CLAIMS: [&str; 12] = [
        "booked",
        "cancelled",
        "canceled",
        "rescheduled",
        "reserved",
        "is confirmed",
        "are confirmed",
        "been confirmed",
        "confirmed your",
        "scheduled",
        "moved your",
        "you re all set",
    ];
    let padded = format!(" {said} ");
    CLAIMS.iter().any(|c| padded.contains(&format!(" {c} ")))
}

#[cfg(test)]
#[path = "guard_tests.rs"]
mod tests;
