//! Date and time phrases, each with a fixed "now" in the clinic's zone.

use super::tests::Fixture;
use super::{TimeOfDay, TimePreference, time_preference};
use jiff::civil::{Date, Time, date, time};

/// Monday 2026-11-23 10:00 in Auckland (NZDT, UTC+13).
const NZ_MON_10: &str = "2026-11-22T21:00:00Z";
/// Monday 2026-11-23 15:00 in Auckland.
const NZ_MON_15: &str = "2026-11-23T02:00:00Z";
/// Monday 2026-11-23 10:00 in Nairobi (EAT, UTC+3).
const KE_MON_10: &str = "2026-11-23T07:00:00Z";

fn nz(text: &str, now: &str) -> Option<TimePreference> {
    let f = Fixture::harbour();
    time_preference(text, &f.ctx(now))
}

fn ke(text: &str) -> Option<TimePreference> {
    let f = Fixture::nairobi();
    time_preference(text, &f.ctx(KE_MON_10))
}

fn exact(h: i8, m: i8) -> Option<TimeOfDay> {
    Some(TimeOfDay::Exact(time(h, m, 0, 0)))
}

fn window(a: (i8, i8), b: (i8, i8)) -> Option<TimeOfDay> {
    Some(TimeOfDay::Window {
        earliest: time(a.0, a.1, 0, 0),
        latest: time(b.0, b.1, 0, 0),
    })
}

fn pref(date: Option<Date>, time: Option<TimeOfDay>) -> Option<TimePreference> {
    Some(TimePreference {
        date,
        until: None,
        time,
        adjusted: false,
    })
}

fn d(m: i8, day: i8) -> Option<Date> {
    Some(date(2026, m, day))
}

#[test]
fn relative_days() {
    assert_eq!(nz("today please", NZ_MON_10), pref(d(11, 23), None));
    assert_eq!(nz("can I come tomorrow?", NZ_MON_10), pref(d(11, 24), None));
    assert_eq!(nz("tmrw", NZ_MON_10), pref(d(11, 24), None));
    assert_eq!(
        nz("the day after tomorrow", NZ_MON_10),
        pref(d(11, 25), None)
    );
    assert_eq!(nz("in 2 days", NZ_MON_10), pref(d(11, 25), None));
    assert_eq!(nz("in two days", NZ_MON_10), pref(d(11, 25), None));
    assert_eq!(nz("in a week", NZ_MON_10), pref(d(11, 30), None));
    assert_eq!(nz("3 days from now", NZ_MON_10), pref(d(11, 26), None));
}

#[test]
fn parts_of_the_day() {
    assert_eq!(
        nz("tomorrow arvo", NZ_MON_10),
        pref(d(11, 24), window((12, 0), (17, 0)))
    );
    assert_eq!(
        nz("tomorrow afternoon", NZ_MON_10),
        pref(d(11, 24), window((12, 0), (17, 0)))
    );
    assert_eq!(
        nz("in the morning", NZ_MON_10),
        pref(None, window((6, 0), (12, 0)))
    );
    assert_eq!(
        nz("in the afternoon", NZ_MON_10),
        pref(None, window((12, 0), (17, 0)))
    );
    assert_eq!(
        nz("in the evening", NZ_MON_10),
        pref(None, window((17, 0), (21, 0)))
    );
    // "this morning" at 10:00 is what is left of it.
    assert_eq!(
        nz("this morning", NZ_MON_10),
        pref(d(11, 23), window((10, 0), (12, 0)))
    );
    // At 15:00 this morning has passed: tomorrow morning, flagged.
    let p = nz("this morning", NZ_MON_15);
    assert_eq!(
        p.map(|p| (p.date, p.time, p.adjusted)),
        Some((d(11, 24), window((6, 0), (12, 0)), true))
    );
    assert_eq!(
        nz("tonight", NZ_MON_10),
        pref(d(11, 23), window((17, 0), (21, 0)))
    );
    // A greeting is not a time.
    assert_eq!(nz("Good morning! Can I book?", NZ_MON_10), None);
    assert_eq!(nz("Morning, anything free?", NZ_MON_10), None);
}

#[test]
fn clock_times_prefer_opening_hours() {
    assert_eq!(
        nz("next Tuesday at 3", NZ_MON_10),
        pref(d(11, 24), exact(15, 0))
    );
    assert_eq!(nz("Tuesday 10am", NZ_MON_10), pref(d(11, 24), exact(10, 0)));
    assert_eq!(nz("at 9:30", NZ_MON_10), pref(None, exact(9, 30)));
    assert_eq!(nz("at 7", NZ_MON_10), pref(None, exact(19, 0)));
    assert_eq!(nz("at 8", NZ_MON_10), pref(None, exact(8, 0)));
    assert_eq!(nz("at 12", NZ_MON_10), pref(None, exact(12, 0)));
    assert_eq!(nz("3pm", NZ_MON_10), pref(None, exact(15, 0)));
    assert_eq!(nz("9 a.m.", NZ_MON_10), pref(None, exact(9, 0)));
    assert_eq!(
        nz("at 3 in the morning", NZ_MON_10),
        pref(None, exact(3, 0))
    );
    assert_eq!(nz("16:45", NZ_MON_10), pref(None, exact(16, 45)));
    assert_eq!(nz("half past 2", NZ_MON_10), pref(None, exact(14, 30)));
    assert_eq!(nz("around noon", NZ_MON_10), pref(None, exact(12, 0)));
    assert_eq!(
        nz("tomorrow arvo at 3:15", NZ_MON_10),
        pref(d(11, 24), exact(15, 15))
    );
}

#[test]
fn time_windows() {
    assert_eq!(
        nz("between 2 and 4", NZ_MON_10),
        pref(None, window((14, 0), (16, 0)))
    );
    assert_eq!(
        nz("after 3", NZ_MON_10),
        pref(None, window((15, 0), (23, 59)))
    );
    assert_eq!(
        nz("before 10am", NZ_MON_10),
        pref(None, window((0, 0), (10, 0)))
    );
    assert_eq!(
        nz("tomorrow morning before 10", NZ_MON_10),
        pref(d(11, 24), window((6, 0), (10, 0)))
    );
    assert_eq!(
        nz("2-4pm Friday", NZ_MON_10),
        pref(d(11, 27), window((14, 0), (16, 0)))
    );
    // Durations are not clock times.
    assert_eq!(nz("I've had it for 3 days", NZ_MON_10), None);
    assert_eq!(nz("after 2 weeks of pain", NZ_MON_10), None);
}

#[test]
fn calendar_dates_are_day_first_and_never_past() {
    assert_eq!(nz("28/11", NZ_MON_10), pref(d(11, 28), None));
    assert_eq!(nz("28/11/2026", NZ_MON_10), pref(d(11, 28), None));
    assert_eq!(nz("28/11/26", NZ_MON_10), pref(d(11, 28), None));
    assert_eq!(nz("Nov 28", NZ_MON_10), pref(d(11, 28), None));
    assert_eq!(
        nz("november 28th at 2pm", NZ_MON_10),
        pref(d(11, 28), exact(14, 0))
    );
    assert_eq!(nz("28 November", NZ_MON_10), pref(d(11, 28), None));
    assert_eq!(nz("the 28th of Nov", NZ_MON_10), pref(d(11, 28), None));
    assert_eq!(nz("on the 28th", NZ_MON_10), pref(d(11, 28), None));
    // The 20th has passed this month: next month's.
    assert_eq!(nz("the 20th", NZ_MON_10), pref(d(12, 20), None));
    // A bare past date is next year's; one with a past year is dropped.
    assert_eq!(nz("1/1", NZ_MON_10), pref(Some(date(2027, 1, 1)), None));
    assert_eq!(nz("5/3", NZ_MON_10), pref(Some(date(2027, 3, 5)), None));
    assert_eq!(nz("28/11/2025", NZ_MON_10), None);
    assert_eq!(nz("31/2", NZ_MON_10), None);
    // Month first only when day first is impossible.
    assert_eq!(nz("12/28", NZ_MON_10), pref(d(12, 28), None));
    // "may" is a month only beside a day number.
    assert_eq!(nz("may I come in?", NZ_MON_10), None);
}

#[test]
fn weekdays_and_weeks() {
    assert_eq!(nz("Friday", NZ_MON_10), pref(d(11, 27), None));
    assert_eq!(nz("on Wed", NZ_MON_10), pref(d(11, 25), None));
    // Today's weekday: with a time still ahead it is today, otherwise next week.
    assert_eq!(nz("Monday", NZ_MON_15), pref(d(11, 30), None));
    assert_eq!(nz("Monday at 4", NZ_MON_10), pref(d(11, 23), exact(16, 0)));
    let p = nz("Monday at 9", NZ_MON_10);
    assert_eq!(p.map(|p| (p.date, p.adjusted)), Some((d(11, 30), true)));
    let p = nz("today at 9", NZ_MON_10);
    assert_eq!(
        p.map(|p| (p.date, p.time, p.adjusted)),
        Some((d(11, 24), exact(9, 0), true))
    );
    let week = nz("next week", NZ_MON_10);
    assert_eq!(week.map(|p| (p.date, p.until)), Some((d(11, 30), d(12, 6))));
    let weekend = nz("this weekend", NZ_MON_10);
    assert_eq!(
        weekend.map(|p| (p.date, p.until)),
        Some((d(11, 28), d(11, 29)))
    );
    let rest = nz("sometime this week", NZ_MON_15);
    assert_eq!(
        rest.map(|p| (p.date, p.until)),
        Some((d(11, 23), d(11, 29)))
    );
    // "I sat down" is not Saturday.
    assert_eq!(nz("I sat down and it hurt", NZ_MON_10), None);
}

#[test]
fn swahili_days_and_parts() {
    assert_eq!(ke("leo"), pref(d(11, 23), None));
    assert_eq!(ke("kesho"), pref(d(11, 24), None));
    assert_eq!(ke("kesho kutwa"), pref(d(11, 25), None));
    assert_eq!(ke("baada ya siku mbili"), pref(d(11, 25), None));
    assert_eq!(ke("asubuhi"), pref(None, window((6, 0), (12, 0))));
    assert_eq!(
        ke("kesho mchana"),
        pref(d(11, 24), window((12, 0), (16, 0)))
    );
    assert_eq!(ke("jioni"), pref(None, window((16, 0), (20, 0))));
    assert_eq!(ke("tarehe 28"), pref(d(11, 28), None));
    for (word, day) in [
        ("Jumatatu", 30),
        ("Jumanne", 24),
        ("Jumatano", 25),
        ("Alhamisi", 26),
        ("Ijumaa", 27),
        ("Jumamosi", 28),
        ("Jumapili", 29),
    ] {
        assert_eq!(ke(word), pref(d(11, day), None), "{word}");
    }
    assert_eq!(ke("Jumanne ijayo"), pref(d(11, 24), None));
    let week = ke("wiki ijayo");
    assert_eq!(week.map(|p| (p.date, p.until)), Some((d(11, 30), d(12, 6))));
    // At an English-only clinic "Leo" is a name, not "today".
    assert_eq!(nz("Leo", NZ_MON_10), None);
}

#[test]
fn swahili_clock() {
    assert_eq!(ke("saa nne"), pref(None, exact(10, 0)));
    assert_eq!(ke("saa nne asubuhi"), pref(None, exact(10, 0)));
    assert_eq!(ke("saa nne usiku"), pref(None, exact(22, 0)));
    assert_eq!(ke("kesho saa nne"), pref(d(11, 24), exact(10, 0)));
    assert_eq!(ke("saa moja"), pref(None, exact(7, 0)));
    assert_eq!(ke("saa moja jioni"), pref(None, exact(19, 0)));
    assert_eq!(ke("saa saba mchana"), pref(None, exact(13, 0)));
    assert_eq!(ke("saa kumi na moja"), pref(None, exact(17, 0)));
    assert_eq!(ke("saa tatu na nusu"), pref(None, exact(9, 30)));
    assert_eq!(ke("saa nne kasoro robo"), pref(None, exact(9, 45)));
    assert_eq!(ke("saa 4"), pref(None, exact(10, 0)));
    assert_eq!(ke("Ijumaa saa nane"), pref(d(11, 27), exact(14, 0)));
    assert_eq!(
        ke("baada ya saa nane"),
        pref(None, window((14, 0), (23, 59)))
    );
    // "saa ngapi?" asks the time; it is not one.
    assert_eq!(ke("mnafungua saa ngapi?"), None);
}

/// Auckland changes to daylight time at 02:00 on Sunday 2026-09-27 (UTC+12 → +13) and back
/// at 03:00 on Sunday 2026-04-05 (+13 → +12): "today" follows the clinic's wall clock.
#[test]
fn dst_weeks_in_auckland() {
    // 2026-09-27T11:30Z is 00:30 on Monday 28 Sep in NZDT (it would still be Sunday in NZST).
    let dst_start = "2026-09-27T11:30:00Z";
    assert_eq!(nz("today", dst_start), pref(d(9, 28), None));
    assert_eq!(nz("tomorrow", dst_start), pref(d(9, 29), None));
    assert_eq!(nz("Monday at 3", dst_start), pref(d(9, 28), exact(15, 0)));
    // Saturday evening before the change: the days ahead step over it as calendar days.
    let sat = "2026-09-26T09:00:00Z";
    assert_eq!(nz("tomorrow", sat), pref(d(9, 27), None));
    assert_eq!(nz("in 2 days", sat), pref(d(9, 28), None));
    assert_eq!(nz("tomorrow at 2:30am", sat), pref(d(9, 27), exact(2, 30)));
    let week = nz("next week", sat);
    assert_eq!(week.map(|p| (p.date, p.until)), Some((d(9, 28), d(10, 4))));
    // 2026-04-05T11:30Z is 23:30 on Sunday 5 Apr in NZST (it would be Monday in NZDT).
    let dst_end = "2026-04-05T11:30:00Z";
    assert_eq!(nz("today", dst_end), pref(d(4, 5), None));
    assert_eq!(nz("tomorrow", dst_end), pref(d(4, 6), None));
    let tonight = nz("tonight", dst_end);
    assert_eq!(tonight.map(|p| (p.date, p.adjusted)), Some((d(4, 6), true)));
    assert_eq!(nz("Monday", dst_end), pref(d(4, 6), None));
}

#[test]
fn exact_times_on_today_that_are_still_ahead_stay_today() {
    assert_eq!(nz("today at 4", NZ_MON_10), pref(d(11, 23), exact(16, 0)));
    assert_eq!(nz("today at 10", NZ_MON_10), pref(d(11, 23), exact(10, 0)));
    let t: Time = time(10, 0, 0, 0);
    assert!(
        matches!(nz("today at 10", NZ_MON_10).and_then(|p| p.time), Some(TimeOfDay::Exact(x)) if x == t)
    );
}
