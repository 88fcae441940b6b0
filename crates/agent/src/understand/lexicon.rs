//! Word lists for dates and times in English (with New Zealand slang) and Swahili.

use jiff::civil::{Time, Weekday};

/// A part of the day named in words. Each maps to a window of clinic-local time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Part {
    Morning,
    Afternoon,
    Evening,
    Night,
    Lunch,
    AfterLunch,
    FirstThing,
    /// Swahili `mchana`: the middle of the day.
    Midday,
    /// Swahili `alasiri`: late afternoon.
    LateAfternoon,
    /// Swahili `jioni`: evening, from about four.
    SwEvening,
}

const fn t(h: i8, m: i8) -> Time {
    Time::constant(h, m, 0, 0)
}

/// The latest time-of-day a window can end at.
pub(crate) const END_OF_DAY: Time = t(23, 59);

impl Part {
    pub fn window(self) -> (Time, Time) {
        match self {
            Part::Morning => (t(6, 0), t(12, 0)),
            Part::Afternoon => (t(12, 0), t(17, 0)),
            Part::Evening => (t(17, 0), t(21, 0)),
            Part::Night => (t(19, 0), END_OF_DAY),
            Part::Lunch => (t(11, 30), t(14, 0)),
            Part::AfterLunch => (t(13, 0), t(17, 0)),
            Part::FirstThing => (t(6, 0), t(9, 30)),
            Part::Midday => (t(12, 0), t(16, 0)),
            Part::LateAfternoon => (t(15, 0), t(18, 0)),
            Part::SwEvening => (t(16, 0), t(20, 0)),
        }
    }
}

/// A single-word part of the day.
pub(crate) fn part(word: &str, swahili: bool) -> Option<Part> {
    let p = match word {
        "morning" | "mornings" | "morn" => Part::Morning,
        "afternoon" | "afternoons" | "arvo" | "arvos" | "avo" => Part::Afternoon,
        "evening" | "evenings" | "tonight" | "tonite" => Part::Evening,
        "night" | "nights" => Part::Night,
        "lunchtime" | "lunch" => Part::Lunch,
        _ if !swahili => return None,
        "asubuhi" => Part::Morning,
        "mchana" => Part::Midday,
        "alasiri" => Part::LateAfternoon,
        "jioni" => Part::SwEvening,
        "usiku" => Part::Night,
        _ => return None,
    };
    Some(p)
}

pub(crate) fn weekday(word: &str, swahili: bool) -> Option<Weekday> {
    let w = match word.strip_suffix('s').filter(|w| w.ends_with("day")) {
        Some(singular) => singular,
        None => word,
    };
    let d = match w {
        "monday" | "mon" => Weekday::Monday,
        "tuesday" | "tue" | "tues" => Weekday::Tuesday,
        "wednesday" | "wed" | "weds" => Weekday::Wednesday,
        "thursday" | "thu" | "thur" | "thurs" => Weekday::Thursday,
        "friday" | "fri" => Weekday::Friday,
        "saturday" | "sat" => Weekday::Saturday,
        "sunday" | "sun" => Weekday::Sunday,
        _ if !swahili => return None,
        "jumatatu" => Weekday::Monday,
        "jumanne" => Weekday::Tuesday,
        "jumatano" => Weekday::Wednesday,
        "alhamisi" => Weekday::Thursday,
        "ijumaa" => Weekday::Friday,
        "jumamosi" => Weekday::Saturday,
        "jumapili" => Weekday::Sunday,
        _ => return None,
    };
    Some(d)
}

/// Abbreviations that are also ordinary words: a weekday only next to "on"/"this"/"next" or a
/// number.
pub(crate) fn ambiguous_weekday(word: &str) -> bool {
    matches!(word, "sat" | "sun" | "wed" | "mon")
}

/// A month name (1-12). Some are ordinary words ("may", Swahili "mei", a practitioner's name):
/// callers accept a month only next to a day number.
pub(crate) fn month(word: &str, swahili: bool) -> Option<i8> {
    let m = match word {
        "january" | "jan" => 1,
        "february" | "feb" => 2,
        "march" | "mar" => 3,
        "april" | "apr" => 4,
        "may" => 5,
        "june" | "jun" => 6,
        "july" | "jul" => 7,
        "august" | "aug" => 8,
        "september" | "sep" | "sept" => 9,
        "october" | "oct" => 10,
        "november" | "nov" => 11,
        "december" | "dec" => 12,
        _ if !swahili => return None,
        "januari" => 1,
        "februari" => 2,
        "machi" => 3,
        "aprili" => 4,
        "mei" => 5,
        "juni" => 6,
        "julai" => 7,
        "agosti" => 8,
        "septemba" => 9,
        "oktoba" => 10,
        "novemba" => 11,
        "desemba" => 12,
        _ => return None,
    };
    Some(m)
}

/// A small cardinal number in words or digits.
pub(crate) fn number(word: &str, swahili: bool) -> Option<u32> {
    if !word.is_empty() && word.len() <= 4 && word.bytes().all(|b| b.is_ascii_digit()) {
        return word.parse().ok();
    }
    let n = match word {
        "one" => 1,
        "two" => 2,
        "three" => 3,
        "four" => 4,
        "five" => 5,
        "six" => 6,
        "seven" => 7,
        "eight" => 8,
        "nine" => 9,
        "ten" => 10,
        "eleven" => 11,
        "twelve" => 12,
        _ if !swahili => return None,
        "moja" => 1,
        "mbili" => 2,
        "tatu" => 3,
        "nne" => 4,
        "tano" => 5,
        "sita" => 6,
        "saba" => 7,
        "nane" => 8,
        "tisa" => 9,
        "kumi" => 10,
        _ => return None,
    };
    Some(n)
}

/// "1st", "2nd", "3rd", "28th" arrive as a number token followed by one of these.
pub(crate) fn is_ordinal_suffix(word: &str) -> bool {
    matches!(word, "st" | "nd" | "rd" | "th")
}

pub(crate) fn is_tomorrow(word: &str) -> bool {
    matches!(
        word,
        "tomorrow"
            | "tmrw"
            | "tmr"
            | "tmw"
            | "tomoz"
            | "tomorow"
            | "tommorow"
            | "tommorrow"
            | "tomorro"
    )
}
