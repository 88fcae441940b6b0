//! Resolves date and time pieces against "now" in the clinic's zone.
//!
//! Rules (each covered by a test in `tests_when`):
//! - A bare hour from 1 to 7 with no am/pm or part of day is afternoon ("at 3" = 15:00), since
//!   that is when a clinic is open; 8-12 are morning / noon; 0 and 13-23 are 24-hour times.
//! - Swahili clock: `saa moja` = 07:00 ... `saa sita` = 12:00, `saa saba` = 13:00 ...
//!   `saa kumi na mbili` = 18:00; a part of day overrides (`saa nne usiku` = 22:00).
//! - Weekdays: "Tuesday" / "next Tuesday" = the first Tuesday after today. The same weekday as
//!   today means today only with a time still ahead ("Monday at 4" said Monday 10:00);
//!   otherwise a week on.
//! - A date without a year is the next one on or after today (a past "1/1" is next year); a
//!   date with a year that has passed is dropped. "the 28th" is the next 28th.
//! - Never in the past: on today, a window is clipped to start now, and a time or window that
//!   has passed moves to the next day (a week for weekdays), with `adjusted` set so the
//!   dialogue can say so.
//! - Dates are civil dates in the clinic's zone and times are wall-clock times; converting a
//!   slot to an instant (and handling a DST gap such as 02:30 on 2026-09-27 in Auckland) is the
//!   scheduler's job.

use super::lexicon::{END_OF_DAY, Part};
use super::when::{Clock, DatePiece, Meridiem, Pieces, TimePiece};
use jiff::civil::{Date, Time};
use jiff::{Span, Zoned};

/// When in the day the patient wants to come.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TimeOfDay {
    /// "at 3", "10am", "saa nne".
    Exact(Time),
    /// "in the morning", "tomorrow arvo", "after 3", "between 2 and 4" (both ends inclusive).
    Window { earliest: Time, latest: Time },
}

/// A time preference in the clinic's own calendar, never in the past.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TimePreference {
    /// The day, or the first day of a range. `None` when only a time was said ("at 9:30").
    pub date: Option<Date>,
    /// The last day of a range ("next week" = Monday to Sunday), inclusive.
    pub until: Option<Date>,
    pub time: Option<TimeOfDay>,
    /// The words named a moment that had already passed, so it was moved on (e.g. "this
    /// morning" said at 3 pm became tomorrow morning). The dialogue should confirm.
    pub adjusted: bool,
}

fn add_days(d: Date, n: i64) -> Option<Date> {
    d.checked_add(Span::new().try_days(n).ok()?).ok()
}

fn offset(d: Date) -> i64 {
    i64::from(d.weekday().to_monday_zero_offset())
}

pub(crate) fn resolve(p: &Pieces, now: &Zoned) -> Option<TimePreference> {
    if p.date.is_none() && p.part.is_none() && p.time.is_none() {
        return None;
    }
    let today = now.date();
    let mut time = time_of_day(p.time, p.part);
    let (mut date, mut until, roll) = match p.date {
        Some(piece) => resolve_date(piece, today, time.is_some()).unwrap_or((None, None, 1)),
        None => (None, None, 1),
    };
    let mut adjusted = false;
    if date == Some(today)
        && let Some(tod) = time
    {
        let now_min = minute_of_day(now.time(), true);
        let passed = match tod {
            TimeOfDay::Exact(t) => minute_of_day(t, false) < now_min,
            TimeOfDay::Window { latest, .. } => minute_of_day(latest, false) <= now_min,
        };
        if passed {
            date = add_days(today, roll);
            until = until.max(date);
            adjusted = true;
        } else if let TimeOfDay::Window { earliest, latest } = tod
            && minute_of_day(earliest, false) < now_min
        {
            let earliest = from_minutes(now_min).unwrap_or(earliest);
            time = Some(TimeOfDay::Window { earliest, latest });
        }
    }
    if date.is_none() && time.is_none() {
        return None;
    }
    Some(TimePreference {
        date,
        until: until.filter(|u| Some(*u) != date),
        time,
        adjusted,
    })
}

/// Minutes since midnight; `ceil` rounds a part minute up (09:00:30 counts as 09:01).
fn minute_of_day(t: Time, ceil: bool) -> i32 {
    let part = ceil && (t.second() > 0 || t.subsec_nanosecond() > 0);
    i32::from(t.hour()) * 60 + i32::from(t.minute()) + i32::from(part)
}

fn from_minutes(m: i32) -> Option<Time> {
    let (h, m) = (i8::try_from(m / 60).ok()?, i8::try_from(m % 60).ok()?);
    Time::new(h, m, 0, 0).ok()
}

/// (first date, last date of a range, days to roll forward when the time has passed today).
type DateRange = (Option<Date>, Option<Date>, i64);

fn resolve_date(piece: DatePiece, today: Date, has_time: bool) -> Option<DateRange> {
    let single = |d: Option<Date>| Some((d, None, 1));
    match piece {
        DatePiece::Relative(n) => single(add_days(today, n)),
        DatePiece::Weekday { day, next } => {
            let target = i64::from(day.to_monday_zero_offset());
            let mut delta = (target - offset(today)).rem_euclid(7);
            if delta == 0 && (next || !has_time) {
                delta = 7;
            }
            Some((add_days(today, delta), None, 7))
        }
        DatePiece::MonthDay { month, day, year } => {
            let date = match year {
                Some(y) => Date::new(y, month, day).ok().filter(|d| *d >= today),
                None => (0..=4)
                    .filter_map(|k| Date::new(today.year().checked_add(k)?, month, day).ok())
                    .find(|d| *d >= today),
            };
            single(date)
        }
        DatePiece::DayOfMonth(day) => {
            let first = today.first_of_month();
            let date = (0..=12)
                .filter_map(|k| {
                    let m = first.checked_add(Span::new().try_months(k).ok()?).ok()?;
                    Date::new(m.year(), m.month(), day).ok()
                })
                .find(|d| *d >= today);
            single(date)
        }
        DatePiece::Week(0) => Some((Some(today), add_days(today, 6 - offset(today)), 1)),
        DatePiece::Week(n) => {
            let monday = add_days(today, 7 * n - offset(today));
            Some((monday, monday.and_then(|m| add_days(m, 6)), 1))
        }
        DatePiece::Weekend { next } => {
            let off = offset(today);
            let saturday = if next {
                add_days(today, 12 - off)
            } else {
                add_days(today, 5 - off.min(5))
            };
            let start = if off == 6 && !next {
                Some(today)
            } else {
                saturday
            };
            Some((
                start,
                add_days(today, 6 - off + if next { 7 } else { 0 }),
                1,
            ))
        }
        DatePiece::NextMonth => {
            let first = today
                .first_of_month()
                .checked_add(Span::new().try_months(1).ok()?)
                .ok()?;
            Some((Some(first), Some(first.last_of_month()), 1))
        }
        DatePiece::Month(month) => {
            let year = if month >= today.month() {
                today.year()
            } else {
                today.year().checked_add(1)?
            };
            let first = Date::new(year, month, 1).ok()?;
            Some((Some(first.max(today)), Some(first.last_of_month()), 1))
        }
    }
}

fn time_of_day(time: Option<TimePiece>, part: Option<Part>) -> Option<TimeOfDay> {
    let window = |a: Time, b: Time| {
        (a < b).then_some(TimeOfDay::Window {
            earliest: a,
            latest: b,
        })
    };
    match time {
        Some(TimePiece::At(c)) => to_24(c, part).map(TimeOfDay::Exact),
        Some(TimePiece::After(c)) => {
            let t = to_24(c, part)?;
            let end = part.map(|p| p.window().1).filter(|e| *e > t);
            window(t, end.unwrap_or(END_OF_DAY))
        }
        Some(TimePiece::Before(c)) => {
            let t = to_24(c, part)?;
            let start = part.map(|p| p.window().0).filter(|s| *s < t);
            window(start.unwrap_or(Time::midnight()), t)
        }
        Some(TimePiece::Between(a, b)) => {
            let (a, mut b) = (to_24(a, part)?, to_24(b, part)?);
            if b <= a && b.hour() < 12 {
                b = Time::new(b.hour() + 12, b.minute(), 0, 0).ok()?;
            }
            window(a, b)
        }
        None => part.map(|p| {
            let (earliest, latest) = p.window();
            TimeOfDay::Window { earliest, latest }
        }),
    }
}

/// A said clock time as a 24-hour wall-clock time (rules in the module docs).
fn to_24(c: Clock, part: Option<Part>) -> Option<Time> {
    let h = c.hour;
    let hour = if c.swahili {
        let western = (h + 5) % 12 + 1;
        match part {
            None => h + 6,
            Some(Part::Morning | Part::FirstThing) => western,
            Some(Part::Night) => match western {
                12 => 0,
                6..=11 => western + 12,
                _ => western,
            },
            Some(Part::Midday | Part::Lunch | Part::AfterLunch) if western >= 7 => western,
            Some(_) if western < 12 => western + 12,
            Some(_) => western,
        }
    } else {
        match (c.meridiem, part) {
            (Some(Meridiem::Am), _) => h % 12,
            (Some(Meridiem::Pm), _) if h < 12 => h + 12,
            (Some(Meridiem::Pm), _) => h,
            (None, _) if h == 0 || h >= 12 => h,
            (None, Some(Part::Morning | Part::FirstThing)) => h,
            (None, Some(Part::Lunch | Part::Midday | Part::AfterLunch)) if h >= 8 => h,
            (None, Some(_)) => h + 12,
            (None, None) if h <= 7 => h + 12,
            (None, None) => h,
        }
    };
    Time::new(hour, c.minute, 0, 0).ok()
}
