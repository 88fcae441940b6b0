//! Property tests for the date/time parser and the whole of `understand`, and a timing print.

use super::tests::Fixture;
use super::*;
use proptest::prelude::*;

/// Pieces of date and time talk (and things near them), shuffled into random phrases.
const WORDS: &[&str] = &[
    "tomorrow",
    "today",
    "tonight",
    "next",
    "this",
    "week",
    "weekend",
    "Tuesday",
    "Monday",
    "sun",
    "on",
    "at",
    "3",
    "7",
    "12",
    "0",
    "24",
    "99",
    "9:30",
    "23:59",
    "0:00",
    "25:61",
    "pm",
    "am",
    "a",
    "m",
    "o'clock",
    "28/11",
    "1/1",
    "31/2",
    "29/2",
    "99/99",
    "28/11/2025",
    "2-4",
    "9.30",
    "the",
    "28th",
    "31st",
    "2nd",
    "of",
    "Nov",
    "May",
    "2026",
    "2025",
    "in",
    "2",
    "days",
    "weeks",
    "a",
    "couple",
    "few",
    "morning",
    "arvo",
    "evening",
    "between",
    "and",
    "after",
    "before",
    "from",
    "to",
    "noon",
    "half",
    "past",
    "quarter",
    "kesho",
    "kutwa",
    "leo",
    "saa",
    "nne",
    "kumi",
    "na",
    "moja",
    "nusu",
    "kasoro",
    "robo",
    "asubuhi",
    "mchana",
    "jioni",
    "usiku",
    "Jumatatu",
    "ijayo",
    "wiki",
    "tarehe",
    "baada",
    "ya",
    "siku",
    "mbili",
    "kabla",
    "my",
    "name",
    "is",
    "I'm",
    "Aroha",
    "+64",
    "021",
    "555",
    "0101",
    ",",
    ".",
    "!",
];

fn zone_ctx<'a>(f: &'a Fixture, tz: &str, now: Timestamp) -> UnderstandContext<'a> {
    UnderstandContext {
        time_zone: TimeZone::get(tz).unwrap_or(TimeZone::UTC),
        now,
        languages: &f.languages,
        country: &f.country,
        catalog: &f.catalog,
        faq: Some(&f.faq),
    }
}

/// 2020-09-13 to 2033-05-18: spans many DST changes in every zone below.
fn any_now() -> impl Strategy<Value = Timestamp> {
    (1_600_000_000i64..2_000_000_000)
        .prop_map(|s| Timestamp::from_second(s).unwrap_or(Timestamp::UNIX_EPOCH))
}

fn any_zone() -> impl Strategy<Value = &'static str> {
    prop::sample::select(vec![
        "Pacific/Auckland",
        "Africa/Nairobi",
        "Pacific/Chatham",
        "America/New_York",
        "UTC",
    ])
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(1000))]

    #[test]
    fn understand_never_panics_on_arbitrary_text(text in any::<String>(), now in any_now()) {
        let f = Fixture::nairobi();
        let u = understand(&text, &zone_ctx(&f, "Africa/Nairobi", now));
        prop_assert!((0.0..=1.0).contains(&u.confidence));
        let f = Fixture::harbour();
        let _ = understand(&text, &zone_ctx(&f, "Pacific/Auckland", now));
    }

    #[test]
    fn parsed_dates_are_never_in_the_past(
        words in prop::collection::vec(prop::sample::select(WORDS), 0..9),
        now in any_now(),
        zone in any_zone(),
    ) {
        let text = words.join(" ");
        let f = Fixture::nairobi();
        let ctx = zone_ctx(&f, zone, now);
        let local = now.to_zoned(ctx.time_zone.clone());
        let (today, now_min) = (local.date(), i32::from(local.hour()) * 60 + i32::from(local.minute()));
        let minutes = |t: jiff::civil::Time| i32::from(t.hour()) * 60 + i32::from(t.minute());
        if let Some(p) = time_preference(&text, &ctx) {
            prop_assert!(p.date.is_some() || p.time.is_some(), "{text}");
            if let Some(d) = p.date {
                prop_assert!(d >= today, "{text}: {d} < {today}");
                if let Some(u) = p.until {
                    prop_assert!(u > d, "{text}");
                }
                if d == today {
                    match p.time {
                        Some(TimeOfDay::Exact(t)) => prop_assert!(minutes(t) >= now_min, "{text}"),
                        Some(TimeOfDay::Window { latest, .. }) => prop_assert!(minutes(latest) > now_min, "{text}"),
                        None => {}
                    }
                }
            }
            if let Some(TimeOfDay::Window { earliest, latest }) = p.time {
                prop_assert!(earliest < latest, "{text}");
            }
        }
    }
}

/// Not an assertion (timings belong in benches/): prints the median and 95th percentile of
/// `understand` (which includes the FAQ lookup) over a few hundred sample messages.
#[test]
fn timing_print() {
    let f = Fixture::harbour();
    let ctx = f.ctx("2026-11-22T21:00:00Z");
    let openers = [
        "",
        "Hi, ",
        "kia ora! ",
        "my name is Aroha Ngata, ",
        "+64 21 555 0101 ",
    ];
    let asks = [
        "can I book a sports massge with arohaa tomorrow arvo",
        "I need to reschedule my appointment to next Tuesday at 3",
        "please cancel my booking on 28/11",
        "where can I park?",
        "how much notice to cancel",
        "do you do ACC",
        "what are your opening hours on Saturday",
        "the second one",
        "yes please",
        "is there anyone free in the morning for a follow up physio",
        "I'm in pain, can someone call me back",
        "do you sell dog food",
    ];
    let tails = ["", " thanks", " at 9:30 please", " or Friday 10am"];
    let mut messages = Vec::new();
    for o in openers {
        for a in asks {
            for t in tails {
                messages.push(format!("{o}{a}{t}"));
            }
        }
    }
    let mut micros: Vec<f64> = messages
        .iter()
        .map(|m| {
            let start = std::time::Instant::now();
            let u = understand(m, &ctx);
            std::hint::black_box(&u);
            start.elapsed().as_secs_f64() * 1e6
        })
        .collect();
    micros.sort_by(f64::total_cmp);
    let at = |q: f64| {
        micros
            .get(((micros.len() as f64 - 1.0) * q) as usize)
            .copied()
            .unwrap_or(0.0)
    };
    eprintln!(
        "understand()+faq over {} messages: median {:.1} µs, p95 {:.1} µs, max {:.1} µs",
        micros.len(),
        at(0.5),
        at(0.95),
        at(1.0)
    );
}
