//! Scheduling maths: which start times are free for a service with a practitioner.
//!
//! Everything a clinic means by "free" is judged in the clinic's own time zone (opening hours
//! are local wall-clock times), while every instant is a UTC [`Timestamp`]. Daylight saving is
//! handled by jiff: a local start time that does not exist (the spring-forward gap) is never
//! offered; a local time that happens twice (the autumn fold) is offered once, at its first
//! occurrence; a service crossing a transition lasts its real duration.
//!
//! A practitioner is *busy* from an appointment's start until its end plus the service's
//! buffer (clean-up time), and during any exception (leave, public holiday). A slot is offered
//! only if it starts at least `min_notice` from now, lies wholly within that day's hours, and
//! its busy range overlaps nothing busy.

use crate::WeeklyHours;
use jiff::{
    SignedDuration, Timestamp,
    civil::{Date, DateTime, Time},
    tz::{AmbiguousOffset, TimeZone},
};

/// A half-open instant range `[start, end)`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Span {
    pub start: Timestamp,
    pub end: Timestamp,
}

impl Span {
    pub fn overlaps(&self, other: &Span) -> bool {
        self.start < other.end && other.start < self.end
    }
}

/// One bookable slot: the appointment itself and the range it keeps the practitioner busy.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Slot {
    pub start: Timestamp,
    pub end: Timestamp,
    pub busy_until: Timestamp,
}

/// What the slot search needs to know, all of it about one practitioner.
#[derive(Debug, Clone)]
pub struct SlotQuery<'a> {
    pub tz: &'a TimeZone,
    pub hours: &'a WeeklyHours,
    pub duration: SignedDuration,
    pub buffer: SignedDuration,
    /// Existing live appointments and exceptions, as busy ranges.
    pub busy: &'a [Span],
    pub now: Timestamp,
    pub min_notice: SignedDuration,
    /// First and last local dates to search (inclusive).
    pub from: Date,
    pub to: Date,
    /// Minutes between candidate start times (e.g. 15).
    pub step_min: u16,
    /// Only starts at or after this local time of day, and ending by `day_end` (a patient's
    /// "in the afternoon"); `None` = the whole opening day.
    pub day_start: Option<Time>,
    pub day_end: Option<Time>,
}

/// The instant of a local wall-clock time, or `None` when it does not exist (DST gap).
fn local_instant(tz: &TimeZone, dt: DateTime) -> Option<Timestamp> {
    let amb = tz.to_ambiguous_timestamp(dt);
    match amb.offset() {
        AmbiguousOffset::Unambiguous { .. } => amb.compatible().ok(),
        AmbiguousOffset::Fold { .. } => amb.earlier().ok(),
        AmbiguousOffset::Gap { .. } => None,
    }
}

fn minutes(t: Time) -> i32 {
    i32::from(t.hour()) * 60 + i32::from(t.minute())
}

/// Free slots in time order, at most `limit`.
pub fn free_slots(q: &SlotQuery<'_>, limit: usize) -> Vec<Slot> {
    let mut out = Vec::new();
    let earliest = q.now.checked_add(q.min_notice).unwrap_or(q.now);
    let step = i32::from(q.step_min.max(5));
    let mut date = q.from;
    while date <= q.to && out.len() < limit {
        if let Some(day) = q.hours.day(date.weekday()) {
            let open = i32::from(day.open_min).max(q.day_start.map(minutes).unwrap_or(0));
            let close = i32::from(day.close_min).min(q.day_end.map(minutes).unwrap_or(24 * 60));
            let close_at = if close >= 24 * 60 {
                date.tomorrow()
                    .ok()
                    .and_then(|d| local_instant(q.tz, d.to_datetime(Time::midnight())))
            } else {
                local_instant(
                    q.tz,
                    date.to_datetime(Time::constant(0, 0, 0, 0))
                        .saturating_add(SignedDuration::from_mins(i64::from(close))),
                )
            };
            // Align candidate starts to the step, counted from midnight.
            let mut m = open + (step - open % step) % step;
            while let Some(close_at) = close_at
                && m < close
                && out.len() < limit
            {
                let local = date
                    .to_datetime(Time::midnight())
                    .saturating_add(SignedDuration::from_mins(i64::from(m)));
                m += step;
                let Some(start) = local_instant(q.tz, local) else {
                    continue;
                };
                if local.date() != date || start < earliest {
                    continue;
                }
                let (Ok(end), Ok(busy_until)) = (
                    start.checked_add(q.duration),
                    start.checked_add(q.duration + q.buffer),
                ) else {
                    continue;
                };
                if end > close_at {
                    break;
                }
                let keeps = Span {
                    start,
                    end: busy_until,
                };
                if q.busy.iter().any(|b| b.overlaps(&keeps)) {
                    continue;
                }
                out.push(Slot {
                    start,
                    end,
                    busy_until,
                });
            }
        }
        match date.tomorrow() {
            Ok(d) => date = d,
            Err(_) => break,
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn ts(s: &str) -> Timestamp {
        s.parse().unwrap()
    }

    fn query<'a>(
        tz: &'a TimeZone,
        hours: &'a WeeklyHours,
        busy: &'a [Span],
        now: &str,
        from: Date,
        to: Date,
    ) -> SlotQuery<'a> {
        SlotQuery {
            tz,
            hours,
            duration: SignedDuration::from_mins(45),
            buffer: SignedDuration::from_mins(15),
            busy,
            now: ts(now),
            min_notice: SignedDuration::from_hours(2),
            from,
            to,
            step_min: 15,
            day_start: None,
            day_end: None,
        }
    }

    fn nz() -> TimeZone {
        TimeZone::get("Pacific/Auckland").unwrap()
    }

    fn harbour() -> WeeklyHours {
        WeeklyHours::parse_spec("Mon-Fri 08:00-18:00; Sat 09:00-13:00").unwrap()
    }

    #[test]
    fn first_slots_respect_hours_notice_and_local_time() {
        let (tz, hours) = (nz(), harbour());
        // Mon 2026-11-23 09:00 NZDT (UTC+13) = 2026-11-22T20:00Z; notice 2 h → 11:00 first.
        let q = query(
            &tz,
            &hours,
            &[],
            "2026-11-22T20:00:00Z",
            Date::constant(2026, 11, 23),
            Date::constant(2026, 11, 23),
        );
        let slots = free_slots(&q, 100);
        let first = slots[0].start.to_zoned(tz.clone());
        assert_eq!((first.hour(), first.minute()), (11, 0));
        let last = slots.last().unwrap();
        let last_local = last.start.to_zoned(tz.clone());
        assert_eq!(
            (last_local.hour(), last_local.minute()),
            (17, 15),
            "45 min ends by 18:00"
        );
        assert_eq!(slots.len(), 26);
    }

    #[test]
    fn busy_ranges_and_buffers_block_overlaps() {
        let (tz, hours) = (nz(), harbour());
        // Busy 12:00–13:00 local on Tue 24 Nov (UTC+13 → 23:00Z–00:00Z on the 23rd).
        let busy = [Span {
            start: ts("2026-11-23T23:00:00Z"),
            end: ts("2026-11-24T00:00:00Z"),
        }];
        let q = query(
            &tz,
            &hours,
            &busy,
            "2026-11-22T20:00:00Z",
            Date::constant(2026, 11, 24),
            Date::constant(2026, 11, 24),
        );
        let starts: Vec<(i8, i8)> = free_slots(&q, 100)
            .iter()
            .map(|s| s.start.to_zoned(tz.clone()))
            .map(|z| (z.hour(), z.minute()))
            .collect();
        // 11:00 + 45 min + 15 min buffer = 12:00: fits. 11:15 would keep her busy until 12:15: no.
        assert!(starts.contains(&(11, 0)));
        for blocked in [(11, 15), (11, 30), (12, 0), (12, 45)] {
            assert!(!starts.contains(&blocked), "{blocked:?} overlaps");
        }
        assert!(starts.contains(&(13, 0)));
    }

    #[test]
    fn spring_forward_gap_is_never_offered_and_durations_are_real() {
        // NZ daylight time starts Sun 2026-09-27 02:00 → 03:00. A clinic open 00:00–06:00 that
        // Sunday must not offer 02:00–02:45, and a 45-min slot at 01:30 ends at 03:15 local.
        let tz = nz();
        let hours = WeeklyHours::parse_spec("Sun 00:00-06:00").unwrap();
        let mut q = query(
            &tz,
            &hours,
            &[],
            "2026-09-20T00:00:00Z",
            Date::constant(2026, 9, 27),
            Date::constant(2026, 9, 27),
        );
        q.buffer = SignedDuration::ZERO;
        let slots = free_slots(&q, 100);
        let local: Vec<(i8, i8)> = slots
            .iter()
            .map(|s| s.start.to_zoned(tz.clone()))
            .map(|z| (z.hour(), z.minute()))
            .collect();
        assert!(!local.iter().any(|(h, _)| *h == 2), "{local:?}");
        let at_0130 = slots
            .iter()
            .find(|s| {
                s.start.to_zoned(tz.clone()).hour() == 1
                    && s.start.to_zoned(tz.clone()).minute() == 30
            })
            .unwrap();
        assert_eq!(
            at_0130.end.duration_since(at_0130.start),
            SignedDuration::from_mins(45)
        );
        let end = at_0130.end.to_zoned(tz.clone());
        assert_eq!((end.hour(), end.minute()), (3, 15));
    }

    #[test]
    fn autumn_fold_offers_the_repeated_hour_once() {
        // NZ daylight time ends Sun 2026-04-05 03:00 → 02:00: 02:00–02:59 happens twice.
        let tz = nz();
        let hours = WeeklyHours::parse_spec("Sun 01:00-05:00").unwrap();
        let mut q = query(
            &tz,
            &hours,
            &[],
            "2026-03-29T00:00:00Z",
            Date::constant(2026, 4, 5),
            Date::constant(2026, 4, 5),
        );
        q.buffer = SignedDuration::ZERO;
        let slots = free_slots(&q, 100);
        let mut starts: Vec<Timestamp> = slots.iter().map(|s| s.start).collect();
        starts.dedup();
        assert_eq!(starts.len(), slots.len(), "no duplicate instants");
        let at_two = slots
            .iter()
            .filter(|s| s.start.to_zoned(tz.clone()).hour() == 2)
            .count();
        assert_eq!(at_two, 4, "02:00, 02:15, 02:30, 02:45 once each");
    }

    #[test]
    fn time_of_day_window_narrows_the_day() {
        let (tz, hours) = (nz(), harbour());
        let mut q = query(
            &tz,
            &hours,
            &[],
            "2026-11-22T00:00:00Z",
            Date::constant(2026, 11, 24),
            Date::constant(2026, 11, 24),
        );
        q.day_start = Some(Time::constant(12, 0, 0, 0));
        q.day_end = Some(Time::constant(15, 0, 0, 0));
        let slots = free_slots(&q, 100);
        let first = slots[0].start.to_zoned(tz.clone());
        let last = slots.last().unwrap().end.to_zoned(tz.clone());
        assert_eq!(first.hour(), 12);
        assert!(last.hour() < 15 || (last.hour() == 15 && last.minute() == 0));
    }

    proptest! {
        #[test]
        fn slots_are_future_in_hours_ordered_and_clear_of_busy(
            now_offset_h in 0i64..24 * 30,
            busy_starts in proptest::collection::vec(0i64..24 * 60 * 14, 0..12),
            busy_len in 15i64..240,
            duration in 10i64..120,
            buffer in 0i64..30,
        ) {
            let tz = nz();
            let hours = harbour();
            let base = ts("2026-09-01T00:00:00Z");
            let now = base.checked_add(SignedDuration::from_hours(now_offset_h)).unwrap();
            let busy: Vec<Span> = busy_starts.iter().map(|m| {
                let start = now.checked_add(SignedDuration::from_mins(*m)).unwrap();
                Span { start, end: start.checked_add(SignedDuration::from_mins(busy_len)).unwrap() }
            }).collect();
            let today = now.to_zoned(tz.clone()).date();
            let q = SlotQuery {
                tz: &tz, hours: &hours, duration: SignedDuration::from_mins(duration), buffer: SignedDuration::from_mins(buffer),
                busy: &busy, now, min_notice: SignedDuration::from_mins(60), from: today,
                to: today.checked_add(jiff::Span::new().days(14)).unwrap(), step_min: 15, day_start: None, day_end: None,
            };
            let slots = free_slots(&q, 1000);
            for pair in slots.windows(2) {
                prop_assert!(pair[0].start < pair[1].start);
            }
            for s in &slots {
                prop_assert!(s.start >= now.checked_add(SignedDuration::from_mins(60)).unwrap());
                prop_assert!(hours.is_open_at(s.start, &tz));
                let last_minute = s.end.checked_sub(SignedDuration::from_mins(1)).unwrap();
                prop_assert!(hours.is_open_at(last_minute, &tz));
                let keeps = Span { start: s.start, end: s.busy_until };
                prop_assert!(!busy.iter().any(|b| b.overlaps(&keeps)));
            }
        }
    }
}
