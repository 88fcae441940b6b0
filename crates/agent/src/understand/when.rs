//! Reads date and time expressions from tokens into unresolved pieces; `resolve` then turns
//! them into a [`TimePreference`](super::TimePreference) relative to "now".
//!
//! The scanner walks left to right and tries each matcher at each position; the first date,
//! the first time and the first part of day found win, and their tokens are masked so catalog
//! matching does not read "May 3" or "sun" as names. Date matchers live here; clock times,
//! parts of the day and the Swahili clock are in `clock.rs`.

use super::lexicon::{self, Part};
use super::resolve::{self, TimePreference};
use super::text::Token;
use jiff::Zoned;
use jiff::civil::Weekday;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum DatePiece {
    /// Days after today (`today` = 0, `tomorrow` = 1, `in 2 days` = 2).
    Relative(i64),
    Weekday {
        day: Weekday,
        next: bool,
    },
    MonthDay {
        month: i8,
        day: i8,
        year: Option<i16>,
    },
    DayOfMonth(i8),
    /// Whole weeks after this one (`this week` = 0, `next week` = 1).
    Week(i64),
    Weekend {
        next: bool,
    },
    NextMonth,
    /// "in December": the rest of it if it is this month, else its next occurrence.
    Month(i8),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Meridiem {
    Am,
    Pm,
}

/// A clock time as said: `hour` is 0-23 (or 1-12 on the Swahili clock when `swahili`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Clock {
    pub hour: i8,
    pub minute: i8,
    pub meridiem: Option<Meridiem>,
    pub swahili: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum TimePiece {
    At(Clock),
    After(Clock),
    Before(Clock),
    Between(Clock, Clock),
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct Pieces {
    pub date: Option<DatePiece>,
    pub part: Option<Part>,
    pub time: Option<TimePiece>,
}

pub(super) enum Found {
    Date(DatePiece),
    Part(Part),
    Time(TimePiece),
    DatePart(DatePiece, Part),
    TimePart(TimePiece, Part),
    Nothing,
}

pub(super) struct Scan<'t> {
    pub toks: &'t [Token],
    pub sw: bool,
}

/// Finds the time preference in `tokens` (masking what it used), resolved against `now`.
pub(crate) fn find(tokens: &mut [Token], now: &Zoned, swahili: bool) -> Option<TimePreference> {
    let pieces = scan(tokens, swahili);
    resolve::resolve(&pieces, now)
}

pub(crate) fn scan(tokens: &mut [Token], swahili: bool) -> Pieces {
    let mut pieces = Pieces::default();
    let mut used = Vec::new();
    {
        let s = Scan {
            toks: tokens,
            sw: swahili,
        };
        let mut i = 0;
        while i < tokens.len() {
            match s.at(i) {
                Some((len, found)) => {
                    pieces.add(found);
                    used.push(i..i + len);
                    i += len.max(1);
                }
                None => i += 1,
            }
        }
    }
    for range in used {
        for t in tokens.iter_mut().take(range.end).skip(range.start) {
            t.masked = true;
        }
    }
    pieces
}

impl Pieces {
    fn add(&mut self, found: Found) {
        let (date, part, time) = match found {
            Found::Date(d) => (Some(d), None, None),
            Found::Part(p) => (None, Some(p), None),
            Found::Time(t) => (None, None, Some(t)),
            Found::DatePart(d, p) => (Some(d), Some(p), None),
            Found::TimePart(t, p) => (None, Some(p), Some(t)),
            Found::Nothing => (None, None, None),
        };
        self.date = self.date.or(date);
        self.part = self.part.or(part);
        self.time = self.time.or(time);
    }
}

pub(super) const UNIT_WORDS: &[&str] = &[
    "day", "days", "week", "weeks", "month", "months", "year", "years", "hour", "hours", "hr",
    "hrs", "minute", "minutes", "min", "mins", "times", "people", "kids", "children", "sessions",
    "siku", "wiki", "mwezi", "miezi", "mwaka", "miaka",
];

pub(super) const AT_WORDS: &[&str] = &[
    "at",
    "around",
    "about",
    "abt",
    "approx",
    "approximately",
    "for",
];

impl Scan<'_> {
    pub(super) fn w(&self, i: usize) -> Option<&str> {
        self.toks
            .get(i)
            .filter(|t| !t.masked)
            .map(|t| t.norm.as_str())
    }
    pub(super) fn is(&self, i: usize, words: &[&str]) -> bool {
        self.w(i).is_some_and(|w| words.contains(&w))
    }
    pub(super) fn num(&self, i: usize) -> Option<u32> {
        self.toks.get(i).filter(|t| !t.masked).and_then(Token::num)
    }

    fn at(&self, i: usize) -> Option<(usize, Found)> {
        self.relative_day(i)
            .or_else(|| self.in_n(i))
            .or_else(|| self.week(i))
            .or_else(|| self.weekday(i))
            .or_else(|| self.numeric_date(i))
            .or_else(|| self.month_first(i))
            .or_else(|| self.day_first(i))
            .or_else(|| self.saa(i))
            .or_else(|| self.bounds(i))
            .or_else(|| self.clock_phrase(i))
            .or_else(|| self.day_part(i))
    }

    fn relative_day(&self, i: usize) -> Option<(usize, Found)> {
        let w = self.w(i)?;
        let date = |n| Some(Found::Date(DatePiece::Relative(n)));
        let found = match w {
            "today" | "tdy" => (1, date(0)?),
            "tonight" | "tonite" => (1, Found::DatePart(DatePiece::Relative(0), Part::Evening)),
            "day"
                if self.is(i + 1, &["after"])
                    && self.w(i + 2).is_some_and(lexicon::is_tomorrow) =>
            {
                (3, date(2)?)
            }
            w if lexicon::is_tomorrow(w) => (1, date(1)?),
            _ if !self.sw => return None,
            "leo" => (1, date(0)?),
            "keshokutwa" => (1, date(2)?),
            "kesho" if self.is(i + 1, &["kutwa"]) => (2, date(2)?),
            "kesho" => (1, date(1)?),
            _ => return None,
        };
        Some(found)
    }

    /// A count of days or weeks at `j`: "2", "two", "a", "a couple of", "a few", "mbili".
    fn quantity(&self, j: usize) -> Option<(i64, usize)> {
        match self.w(j)? {
            "a" | "an" if self.is(j + 1, &["couple"]) => {
                Some((2, j + 2 + usize::from(self.is(j + 2, &["of"]))))
            }
            "a" | "an" if self.is(j + 1, &["few"]) => Some((3, j + 2)),
            "a" | "an" => Some((1, j + 1)),
            "couple" => Some((2, j + 1 + usize::from(self.is(j + 1, &["of"])))),
            "few" => Some((3, j + 1)),
            w => lexicon::number(w, self.sw)
                .filter(|n| (1..=120).contains(n))
                .map(|n| (i64::from(n), j + 1)),
        }
    }

    fn unit_days(&self, j: usize) -> Option<i64> {
        match self.w(j)? {
            "day" | "days" | "siku" => Some(1),
            "week" | "weeks" | "wk" | "wks" | "wiki" => Some(7),
            "fortnight" => Some(14),
            _ => None,
        }
    }

    fn in_n(&self, i: usize) -> Option<(usize, Found)> {
        let rel = |n: i64, end: usize| Some((end - i, Found::Date(DatePiece::Relative(n))));
        if self.is(i, &["in"]) {
            let (n, j) = self.quantity(i + 1)?;
            let unit = self.unit_days(j)?;
            let end = j + 1 + usize::from(self.is(j + 1, &["time"]));
            return rel(n * unit, end);
        }
        if self.sw && self.is(i, &["baada"]) && self.is(i + 1, &["ya"]) {
            let unit = self.unit_days(i + 2)?;
            let (n, j) = self.quantity(i + 3)?;
            return rel(n * unit, j);
        }
        // "2 days from now", "3 weeks time"
        let (n, j) = self.quantity(i)?;
        let unit = self.unit_days(j)?;
        if self.is(j + 1, &["time"]) {
            return rel(n * unit, j + 2);
        }
        if self.is(j + 1, &["from"]) && self.is(j + 2, &["now", "today"]) {
            return rel(n * unit, j + 3);
        }
        None
    }

    fn week(&self, i: usize) -> Option<(usize, Found)> {
        let date = |len: usize, d| Some((len, Found::Date(d)));
        let w = self.w(i)?;
        let next = self.w(i + 1);
        match (w, next) {
            ("next", Some("week" | "wk")) => date(2, DatePiece::Week(1)),
            ("this", Some("week" | "wk")) => date(2, DatePiece::Week(0)),
            ("next", Some("weekend")) => date(2, DatePiece::Weekend { next: true }),
            ("next", Some("month")) => date(2, DatePiece::NextMonth),
            ("weekend" | "weekends", _) => date(1, DatePiece::Weekend { next: false }),
            ("week", Some("after")) if self.is(i + 2, &["next"]) => date(3, DatePiece::Week(2)),
            ("in" | "during", Some(m)) => match lexicon::month(m, self.sw) {
                Some(month) if !self.followed_by_meridiem(i + 2) && self.num(i + 2).is_none() => {
                    date(2, DatePiece::Month(month))
                }
                _ => None,
            },
            ("wiki", Some("ijayo" | "inayokuja" | "ujao")) if self.sw => {
                date(2, DatePiece::Week(1))
            }
            ("wiki", Some("hii")) if self.sw => date(2, DatePiece::Week(0)),
            ("wikendi", _) if self.sw => date(1, DatePiece::Weekend { next: false }),
            ("mwisho", Some("wa")) if self.sw && self.is(i + 2, &["wiki"]) => {
                date(3, DatePiece::Weekend { next: false })
            }
            ("mwezi", Some("ujao" | "ijayo")) if self.sw => date(2, DatePiece::NextMonth),
            _ => None,
        }
    }

    fn weekday(&self, i: usize) -> Option<(usize, Found)> {
        let (mut j, mut next, mut prefixed) = (i, false, false);
        while j < i + 2 && self.is(j, &["this", "next", "coming", "on", "the"]) {
            next |= self.is(j, &["next"]);
            prefixed = true;
            j += 1;
        }
        let word = self.w(j)?;
        let day = lexicon::weekday(word, self.sw)?;
        if lexicon::ambiguous_weekday(word) && !prefixed {
            let after = self.w(j + 1);
            let timeish = self.num(j + 1).is_some()
                || after.is_some_and(|a| a == "at" || lexicon::part(a, self.sw).is_some());
            if !timeish {
                return None;
            }
        }
        let mut end = j + 1;
        if self.sw && self.is(end, &["ijayo", "inayokuja", "hii"]) {
            next |= !self.is(end, &["hii"]);
            end += 1;
        }
        Some((end - i, Found::Date(DatePiece::Weekday { day, next })))
    }

    fn numeric_date(&self, i: usize) -> Option<(usize, Found)> {
        let tok = self.w(i)?;
        let sep = tok.chars().find(|c| matches!(c, '/' | '-' | '.'))?;
        let parts: Vec<&str> = tok.split(sep).collect();
        let timeish = self.followed_by_meridiem(i + 1)
            || (i > 0 && self.is(i - 1, AT_WORDS))
            || (i > 0 && self.is(i - 1, &["saa", "between", "from"]));
        // "2-4" is a range of hours or days, "9.30 am" a time; day-month pairs use "/" or ".".
        if parts.len() == 2 && (sep == '-' || (sep == '.' && timeish)) {
            return None;
        }
        let nums: Vec<i64> = parts.iter().filter_map(|p| p.parse().ok()).collect();
        if nums.len() != parts.len() || parts.iter().any(|p| p.len() > 4) {
            return None;
        }
        let year = |y: i64| match y {
            0..=99 => i16::try_from(2000 + y).ok(),
            2000..=2200 => i16::try_from(y).ok(),
            _ => None,
        };
        let (a, b, y) = match (nums.as_slice(), parts.first().map(|p| p.len())) {
            ([y, m, d], Some(4)) => (*d, *m, Some(year(*y)?)),
            ([a, b, y], _) => (*a, *b, Some(year(*y)?)),
            ([a, b], _) => (*a, *b, None),
            _ => return None,
        };
        // Day first; "11/28" (month first) only when day first cannot be right.
        let (day, month) = if (1..=12).contains(&b) {
            (a, b)
        } else {
            (b, a)
        };
        let (day, month) = (i8::try_from(day).ok()?, i8::try_from(month).ok()?);
        if !(1..=31).contains(&day) || !(1..=12).contains(&month) {
            return None;
        }
        Some((
            1,
            Found::Date(DatePiece::MonthDay {
                month,
                day,
                year: y,
            }),
        ))
    }

    /// A day number at `j` (1-31) that is not a clock time: (day, had ordinal suffix, next j).
    fn day_number(&self, j: usize) -> Option<(i8, bool, usize)> {
        let day = i8::try_from(self.num(j)?)
            .ok()
            .filter(|d| (1..=31).contains(d))?;
        if self.followed_by_meridiem(j + 1) {
            return None;
        }
        let suffix = self.w(j + 1).is_some_and(lexicon::is_ordinal_suffix);
        Some((day, suffix, j + 1 + usize::from(suffix)))
    }

    fn year_at(&self, j: usize) -> Option<i16> {
        self.num(j)
            .filter(|y| (2000..=2200).contains(y))
            .and_then(|y| i16::try_from(y).ok())
    }

    /// "Nov 28", "November 28th 2026", "Novemba 28".
    fn month_first(&self, i: usize) -> Option<(usize, Found)> {
        let month = lexicon::month(self.w(i)?, self.sw)?;
        let j = i + 1 + usize::from(self.is(i + 1, &["the"]));
        let (day, _, mut end) = self.day_number(j)?;
        let year = self.year_at(end);
        end += usize::from(year.is_some());
        Some((
            end - i,
            Found::Date(DatePiece::MonthDay { month, day, year }),
        ))
    }

    /// "28 November", "the 28th (of Nov)", "on the 2nd", "tarehe 28 Novemba".
    fn day_first(&self, i: usize) -> Option<(usize, Found)> {
        let mut j = i;
        let mut tarehe = false;
        while j < i + 2 && self.is(j, &["the", "on", "tarehe"]) {
            tarehe |= self.sw && self.is(j, &["tarehe"]);
            j += 1;
        }
        let (day, suffix, mut end) = self.day_number(j)?;
        let of = usize::from(self.is(end, &["of"]));
        if let Some(month) = self.w(end + of).and_then(|w| lexicon::month(w, self.sw)) {
            end += of + 1;
            let year = self.year_at(end);
            end += usize::from(year.is_some());
            return Some((
                end - i,
                Found::Date(DatePiece::MonthDay { month, day, year }),
            ));
        }
        (suffix || tarehe).then_some((end - i, Found::Date(DatePiece::DayOfMonth(day))))
    }
}
