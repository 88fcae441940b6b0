//! Clock-time matchers for the date/time scanner: "at 3", "9:30am", "half past 2", "noon",
//! "between 2 and 4", "after 3pm", "2-4pm", parts of the day, and the Swahili clock
//! ("saa nne", "saa kumi na moja", "saa tatu na nusu asubuhi").

use super::lexicon::{self, Part};
use super::when::{AT_WORDS, Clock, DatePiece, Found, Meridiem, Scan, TimePiece, UNIT_WORDS};

impl Scan<'_> {
    pub(super) fn followed_by_meridiem(&self, j: usize) -> bool {
        self.meridiem(j).is_some()
    }

    /// `am` / `pm` / `a m` / `p m` / `o'clock` at `j`: (meridiem, tokens used).
    pub(super) fn meridiem(&self, j: usize) -> Option<(Option<Meridiem>, usize)> {
        match self.w(j)? {
            "am" => Some((Some(Meridiem::Am), 1)),
            "pm" => Some((Some(Meridiem::Pm), 1)),
            "a" if self.is(j + 1, &["m"]) => Some((Some(Meridiem::Am), 2)),
            "p" if self.is(j + 1, &["m"]) => Some((Some(Meridiem::Pm), 2)),
            "oclock" => Some((None, 1)),
            "o" if self.is(j + 1, &["clock"]) => Some((None, 2)),
            _ => None,
        }
    }

    /// Swahili clock: "saa nne", "saa 4", "saa kumi na moja", "saa tatu na nusu asubuhi".
    pub(super) fn saa(&self, i: usize) -> Option<(usize, Found)> {
        if !self.sw || !self.is(i, &["saa"]) {
            return None;
        }
        let j = i + 1;
        if let Some((clock, end)) = self.clock_at(j).filter(|(c, _)| c.meridiem.is_some()) {
            return Some((end - i, Found::Time(TimePiece::At(clock))));
        }
        let (mut hour, mut minute, mut end) = match self.w(j)? {
            w if w.contains(':') || w.contains('.') => {
                let (h, m) = split_hm(w)?;
                (h, m, j + 1)
            }
            "kumi" if self.is(j + 1, &["na"]) && self.is(j + 2, &["moja", "mbili", "1", "2"]) => {
                let extra = if self.is(j + 2, &["moja", "1"]) { 1 } else { 2 };
                (10 + extra, 0, j + 3)
            }
            w => (i8::try_from(lexicon::number(w, true)?).ok()?, 0, j + 1),
        };
        if !(1..=12).contains(&hour) {
            return None;
        }
        if self.is(end, &["na"]) && self.is(end + 1, &["nusu", "robo"]) {
            minute = if self.is(end + 1, &["nusu"]) { 30 } else { 15 };
            end += 2;
        } else if self.is(end, &["kasoro"]) && self.is(end + 1, &["robo"]) {
            hour = if hour == 1 { 12 } else { hour - 1 };
            minute = 45;
            end += 2;
        }
        let clock = Clock {
            hour,
            minute,
            meridiem: None,
            swahili: true,
        };
        match self.w(end).and_then(|w| lexicon::part(w, true)) {
            Some(p) => Some((end + 1 - i, Found::TimePart(TimePiece::At(clock), p))),
            None => Some((end - i, Found::Time(TimePiece::At(clock)))),
        }
    }

    /// A clock time starting at `j`, in any of the accepted shapes: (clock, next j).
    pub(super) fn clock_at(&self, j: usize) -> Option<(Clock, usize)> {
        let word = self.w(j)?;
        let plain = |hour: i8, minute: i8, meridiem| Clock {
            hour,
            minute,
            meridiem,
            swahili: false,
        };
        match word {
            "noon" | "midday" => return Some((plain(12, 0, Some(Meridiem::Pm)), j + 1)),
            "half" | "quarter" if self.is(j + 1, &["past", "to"]) => {
                let h = i8::try_from(lexicon::number(self.w(j + 2)?, false)?).ok()?;
                let (h, m) = match (word, self.w(j + 1)?) {
                    ("half", "past") => (h, 30),
                    ("quarter", "past") => (h, 15),
                    ("quarter", "to") => (if h == 1 { 12 } else { h - 1 }, 45),
                    _ => return None,
                };
                if !(1..=12).contains(&h) {
                    return None;
                }
                let (mer, used) = self.meridiem(j + 3).unwrap_or((None, 0));
                return Some((plain(h, m, mer), j + 3 + used));
            }
            _ => {}
        }
        let (hour, minute) = if word.contains(':') || word.contains('.') {
            split_hm(word)?
        } else {
            (i8::try_from(lexicon::number(word, false)?).ok()?, 0)
        };
        if !(0..=23).contains(&hour) {
            return None;
        }
        let (meridiem, used) = self.meridiem(j + 1).unwrap_or((None, 0));
        if meridiem.is_some() && !(1..=12).contains(&hour) {
            return None;
        }
        // "after 3 days", "about 2 weeks ago", "at 2 people" are not clock times.
        if used == 0 && self.is(j + 1, UNIT_WORDS) {
            return None;
        }
        Some((plain(hour, minute, meridiem), j + 1 + used))
    }

    pub(super) fn bounds(&self, i: usize) -> Option<(usize, Found)> {
        let w = self.w(i)?;
        if matches!(w, "after") {
            match self.w(i + 1) {
                Some("lunch" | "lunchtime") => return Some((2, Found::Part(Part::AfterLunch))),
                Some("work") => return Some((2, Found::Part(Part::Evening))),
                Some("school") => return Some((2, Found::Part(Part::LateAfternoon))),
                _ => {}
            }
        }
        let sw_bound = self.sw && self.is(i + 1, &["ya"]) && self.is(i + 2, &["saa"]);
        let kind = match w {
            "after" | "from" | "since" => TimePiece::After,
            "before" | "by" | "until" | "till" | "til" => TimePiece::Before,
            "baada" if sw_bound => TimePiece::After,
            "kabla" if sw_bound => TimePiece::Before,
            "between" => return self.between(i),
            _ => return None,
        };
        if sw_bound {
            let (len, found) = self.saa(i + 2)?;
            let (clock, part) = match found {
                Found::Time(TimePiece::At(c)) => (c, None),
                Found::TimePart(TimePiece::At(c), p) => (c, Some(p)),
                _ => return None,
            };
            let piece = kind(clock);
            let found = part.map_or(Found::Time(piece), |p| Found::TimePart(piece, p));
            return Some((len + 2, found));
        }
        let (clock, end) = self.clock_at(i + 1)?;
        if w == "from" && self.is(end, &["to", "till", "until", "-"]) {
            let (b, end2) = self.clock_at(end + 1)?;
            return Some((end2 - i, Found::Time(pair(clock, b))));
        }
        Some((end - i, Found::Time(kind(clock))))
    }

    fn between(&self, i: usize) -> Option<(usize, Found)> {
        let (a, end) = self.clock_at(i + 1)?;
        if !self.is(end, &["and", "to", "n"]) {
            return None;
        }
        let (b, end2) = self.clock_at(end + 1)?;
        Some((end2 - i, Found::Time(pair(a, b))))
    }

    pub(super) fn clock_phrase(&self, i: usize) -> Option<(usize, Found)> {
        let word = self.w(i)?;
        if AT_WORDS.contains(&word) || word == "@" {
            let j = i + 1 + usize::from(self.is(i + 1, &["around", "about"]));
            let (clock, end) = self.clock_at(j)?;
            if word == "for" && clock.meridiem.is_none() {
                return None;
            }
            return Some((end - i, Found::Time(TimePiece::At(clock))));
        }
        // "2-4pm"
        if let Some((a, b)) = word.split_once('-')
            && let Some((Some(mer), used)) = self.meridiem(i + 1)
        {
            let h = |s: &str| s.parse::<i8>().ok().filter(|h| (1..=12).contains(h));
            let c = |hour| Clock {
                hour,
                minute: 0,
                meridiem: Some(mer),
                swahili: false,
            };
            return Some((1 + used, Found::Time(pair(c(h(a)?), c(h(b)?)))));
        }
        let (clock, end) = self.clock_at(i)?;
        let explicit = word.contains(':') || end > i + 1 || matches!(word, "noon" | "midday");
        (explicit && !word.contains('-')).then_some((end - i, Found::Time(TimePiece::At(clock))))
    }

    pub(super) fn day_part(&self, i: usize) -> Option<(usize, Found)> {
        let w = self.w(i)?;
        if w == "first" && self.is(i + 1, &["thing"]) {
            return Some((2, Found::Part(Part::FirstThing)));
        }
        let greeting_word = self.is(i, &["good", "za"]) || (self.sw && self.is(i, &["habari"]));
        if greeting_word
            && self
                .w(i + 1)
                .and_then(|n| lexicon::part(n, self.sw))
                .is_some()
        {
            return Some((2, Found::Nothing));
        }
        let this = self.is(i, &["this"]);
        let j = if this || self.is(i, &["in", "during", "on"]) {
            i + 1 + usize::from(self.is(i + 1, &["the"]))
        } else {
            i
        };
        let part = lexicon::part(self.w(j)?, self.sw)?;
        // "Morning! ..." opening a message is a greeting.
        if j == 0 && self.toks.get(j).is_some_and(|t| t.brk) && self.toks.len() > 1 {
            return Some((1, Found::Nothing));
        }
        if this {
            return Some((j + 1 - i, Found::DatePart(DatePiece::Relative(0), part)));
        }
        Some((j + 1 - i, Found::Part(part)))
    }
}

fn pair(a: Clock, b: Clock) -> TimePiece {
    // "between 2 and 4pm": a meridiem said once applies to both ends ("11 and 2pm" excepted).
    let shared = if a.hour <= b.hour && a.hour != 12 {
        b.meridiem
    } else {
        None
    };
    let a = Clock {
        meridiem: a.meridiem.or(shared),
        ..a
    };
    TimePiece::Between(a, b)
}

/// "9:30" / "9.30" → (9, 30).
fn split_hm(word: &str) -> Option<(i8, i8)> {
    let (h, m) = word.split_once([':', '.'])?;
    if m.len() != 2 {
        return None;
    }
    let (h, m) = (h.parse::<i8>().ok()?, m.parse::<i8>().ok()?);
    ((0..=23).contains(&h) && (0..=59).contains(&m)).then_some((h, m))
}
