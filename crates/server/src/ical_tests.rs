use super::*;

#[test]
fn text_is_escaped_and_control_characters_dropped() {
    assert_eq!(
        escape_text("Physio; knee, back\\neck\nnext\u{7}"),
        "Physio\\; knee\\, back\\\\neck\\nnext"
    );
}

#[test]
fn long_lines_fold_at_75_octets_on_character_boundaries() {
    let mut out = String::new();
    let long = format!("SUMMARY:{}", "Māori ".repeat(30));
    push_line(&mut out, &long);
    assert!(out.ends_with("\r\n"));
    let physical: Vec<&str> = out.trim_end_matches("\r\n").split("\r\n").collect();
    assert!(physical.len() > 2);
    for (i, line) in physical.iter().enumerate() {
        assert!(line.len() <= 75, "line {i} is {} octets", line.len());
        if i > 0 {
            assert!(line.starts_with(' '), "a continuation starts with a space");
        }
    }
    // Unfolding gives the line back.
    let unfolded = out.trim_end_matches("\r\n").replace("\r\n ", "");
    assert_eq!(unfolded, long);
}

#[test]
fn clinic_local_times_across_a_dst_change_become_the_right_utc() {
    let tz = jiff::tz::TimeZone::get("Pacific/Auckland").unwrap();
    // 09:00 on the Saturday before New Zealand's clocks go back (NZDT, +13) and on the
    // Monday after (NZST, +12): the same local time, an hour apart in UTC.
    let before = jiff::civil::date(2026, 4, 4)
        .at(9, 0, 0, 0)
        .to_zoned(tz.clone())
        .unwrap();
    let after = jiff::civil::date(2026, 4, 6)
        .at(9, 0, 0, 0)
        .to_zoned(tz)
        .unwrap();
    assert_eq!(utc(before.timestamp()), "20260403T200000Z");
    assert_eq!(utc(after.timestamp()), "20260405T210000Z");
}
