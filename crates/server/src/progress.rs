//! A progress reporter for long CLI commands (the whole-clinic export, key re-wrapping and
//! re-encryption), written to stderr so
//! stdout stays the command's result.
//!
//! On a terminal it redraws one line in place, at most ten times a second:
//! `exporting harbour  [#########           ] 412/900 patients  0:07`. Anywhere else (CI, a
//! pipe, a log file) redrawing would leave hundreds of lines, so it writes a plain line each
//! time another tenth is done, and one at the end. Hand-written (a few lines) rather than a
//! dependency; the output is always ASCII.

use std::io::{IsTerminal, Write};
use std::time::{Duration, Instant};

/// The bar's width between its brackets, in characters.
pub const BAR_WIDTH: usize = 20;
/// The shortest time between two redraws on a terminal.
const REDRAW_EVERY: Duration = Duration::from_millis(100);

/// Reports `done` of `total` items (e.g. patients) of one task.
pub struct Progress<W: Write> {
    out: W,
    tty: bool,
    label: String,
    unit: &'static str,
    started: Instant,
    done: u64,
    total: u64,
    /// Terminal: when the line was last drawn. Plain: the last tenth reported.
    last_draw: Option<Duration>,
    last_tenth: u64,
    finished: bool,
}

impl Progress<std::io::Stderr> {
    /// On stderr, redrawn when stderr is a terminal, plain lines otherwise.
    pub fn stderr(label: impl Into<String>, unit: &'static str) -> Self {
        let err = std::io::stderr();
        let tty = err.is_terminal();
        Self::new(err, tty, label, unit)
    }
}

impl<W: Write> Progress<W> {
    pub fn new(out: W, tty: bool, label: impl Into<String>, unit: &'static str) -> Self {
        Self {
            out,
            tty,
            label: label.into(),
            unit,
            started: Instant::now(),
            done: 0,
            total: 0,
            last_draw: None,
            last_tenth: 0,
            finished: false,
        }
    }

    /// Records that `done` of `total` are done.
    pub fn update(&mut self, done: u64, total: u64) {
        let elapsed = self.started.elapsed();
        self.update_at(done, total, elapsed);
    }

    /// Ends the report: the final state on its own line (once; later calls do nothing).
    pub fn finish(&mut self) {
        let elapsed = self.started.elapsed();
        self.finish_at(elapsed);
    }

    fn update_at(&mut self, done: u64, total: u64, elapsed: Duration) {
        self.done = done;
        self.total = total;
        if self.finished {
            return;
        }
        if self.tty {
            let due = self
                .last_draw
                .is_none_or(|at| elapsed.saturating_sub(at) >= REDRAW_EVERY);
            if due || done >= total {
                self.last_draw = Some(elapsed);
                let line = bar_line(&self.label, done, total, self.unit, elapsed);
                // `\r` back to the start, `ESC[K` clears what a longer line left behind.
                self.write(format_args!("\r{line}\x1b[K"));
            }
        } else {
            // Every tenth crossed gets its line; the last one is `finish`'s.
            let tenth = percent(done, total) / 10;
            if tenth > self.last_tenth && tenth < 10 {
                self.last_tenth = tenth;
                let line = plain_line(&self.label, done, total, self.unit, elapsed);
                self.write(format_args!("{line}\n"));
            }
        }
    }

    fn finish_at(&mut self, elapsed: Duration) {
        if std::mem::replace(&mut self.finished, true) {
            return;
        }
        let (done, total) = (self.done, self.total);
        if self.tty {
            let line = bar_line(&self.label, done, total, self.unit, elapsed);
            self.write(format_args!("\r{line}\x1b[K\n"));
        } else {
            let line = plain_line(&self.label, done, total, self.unit, elapsed);
            self.write(format_args!("{line}\n"));
        }
    }

    /// Progress is a courtesy: a closed stderr must not fail the task.
    fn write(&mut self, text: std::fmt::Arguments<'_>) {
        let _ = self.out.write_fmt(text).and_then(|()| self.out.flush());
    }
}

/// Whole percent done (rounded down, at most 100); nothing to do counts as done.
pub fn percent(done: u64, total: u64) -> u64 {
    if total == 0 {
        return 100;
    }
    (u128::from(done.min(total)) * 100 / u128::from(total)) as u64
}

/// `[#####     ]`: `width` characters between the brackets, filled in proportion.
pub fn bar(done: u64, total: u64, width: usize) -> String {
    let filled = if total == 0 {
        width
    } else {
        (u128::from(done.min(total)) * width as u128 / u128::from(total)) as usize
    };
    format!("[{}{}]", "#".repeat(filled), " ".repeat(width - filled))
}

/// Elapsed time as `M:SS`, or `H:MM:SS` from an hour on.
pub fn clock(elapsed: Duration) -> String {
    let s = elapsed.as_secs();
    if s >= 3600 {
        format!("{}:{:02}:{:02}", s / 3600, s / 60 % 60, s % 60)
    } else {
        format!("{}:{:02}", s / 60, s % 60)
    }
}

/// The terminal line: `label  [###   ] 412/900 unit  0:07`.
pub fn bar_line(label: &str, done: u64, total: u64, unit: &str, elapsed: Duration) -> String {
    format!(
        "{label}  {} {done}/{total} {unit}  {}",
        bar(done, total, BAR_WIDTH),
        clock(elapsed)
    )
}

/// The plain line: `label  45% 412/900 unit  0:07`.
pub fn plain_line(label: &str, done: u64, total: u64, unit: &str, elapsed: Duration) -> String {
    format!(
        "{label}  {}% {done}/{total} {unit}  {}",
        percent(done, total),
        clock(elapsed)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn text(p: &Progress<Vec<u8>>) -> String {
        String::from_utf8(p.out.clone()).unwrap()
    }

    #[test]
    fn the_bar_is_always_as_wide_and_fills_in_proportion() {
        for (done, total) in [
            (0, 900),
            (412, 900),
            (900, 900),
            (1000, 900),
            (0, 0),
            (1, 3),
        ] {
            let b = bar(done, total, BAR_WIDTH);
            assert_eq!(b.chars().count(), BAR_WIDTH + 2, "{done}/{total}: {b}");
            assert!(b.starts_with('[') && b.ends_with(']'), "{b}");
        }
        assert_eq!(bar(412, 900, 20), "[#########           ]");
        assert_eq!(bar(0, 900, 4), "[    ]");
        assert_eq!(bar(900, 900, 4), "[####]");
        assert_eq!(bar(5, 0, 4), "[####]", "nothing to do is done");
    }

    #[test]
    fn percent_rounds_down_and_stays_within_0_to_100() {
        assert_eq!(percent(0, 900), 0);
        assert_eq!(percent(412, 900), 45);
        assert_eq!(percent(899, 900), 99);
        assert_eq!(percent(900, 900), 100);
        assert_eq!(percent(950, 900), 100);
        assert_eq!(percent(0, 0), 100);
        assert_eq!(percent(u64::MAX - 1, u64::MAX), 99, "no overflow");
    }

    #[test]
    fn the_clock_shows_minutes_and_hours() {
        assert_eq!(clock(Duration::from_secs(7)), "0:07");
        assert_eq!(clock(Duration::from_millis(59_999)), "0:59");
        assert_eq!(clock(Duration::from_secs(754)), "12:34");
        assert_eq!(clock(Duration::from_secs(3723)), "1:02:03");
    }

    #[test]
    fn the_terminal_line_reads_like_the_example() {
        assert_eq!(
            bar_line(
                "exporting harbour",
                412,
                900,
                "patients",
                Duration::from_secs(7)
            ),
            "exporting harbour  [#########           ] 412/900 patients  0:07"
        );
        assert_eq!(
            plain_line(
                "exporting harbour",
                412,
                900,
                "patients",
                Duration::from_secs(7)
            ),
            "exporting harbour  45% 412/900 patients  0:07"
        );
    }

    #[test]
    fn off_a_terminal_a_line_each_tenth_and_one_at_the_end() {
        let mut p = Progress::new(Vec::new(), false, "exporting x", "patients");
        p.update_at(0, 900, Duration::ZERO);
        for n in 1..=900 {
            p.update_at(n, 900, Duration::from_millis(n));
        }
        p.finish_at(Duration::from_secs(2));
        p.finish_at(Duration::from_secs(3));
        let out = text(&p);
        let lines: Vec<&str> = out.lines().collect();
        assert_eq!(lines.len(), 10, "{out}");
        assert_eq!(lines[0], "exporting x  10% 90/900 patients  0:00");
        assert!(lines[4].starts_with("exporting x  50% 450/900 "), "{out}");
        assert_eq!(lines[9], "exporting x  100% 900/900 patients  0:02");
        assert!(
            !out.contains('\r') && !out.contains('\x1b'),
            "no redraws: {out}"
        );
    }

    #[test]
    fn off_a_terminal_small_and_empty_tasks_still_end_with_a_line() {
        let mut p = Progress::new(Vec::new(), false, "x", "patients");
        for n in 1..=3 {
            p.update_at(n, 3, Duration::ZERO);
        }
        p.finish_at(Duration::ZERO);
        assert_eq!(
            text(&p),
            "x  33% 1/3 patients  0:00\nx  66% 2/3 patients  0:00\nx  100% 3/3 patients  0:00\n"
        );
        let mut p = Progress::new(Vec::new(), false, "x", "patients");
        p.update_at(0, 0, Duration::ZERO);
        p.finish_at(Duration::ZERO);
        assert_eq!(text(&p), "x  100% 0/0 patients  0:00\n");
    }

    #[test]
    fn on_a_terminal_one_line_is_redrawn_at_most_ten_times_a_second() {
        let mut p = Progress::new(Vec::new(), true, "x", "patients");
        for n in 0..=1000 {
            // 1001 updates over one second: drawn at 0, 100, ..., 1000 ms.
            p.update_at(n, 1000, Duration::from_millis(n));
        }
        p.finish_at(Duration::from_secs(1));
        let out = text(&p);
        assert_eq!(
            out.matches('\r').count(),
            11 + 1,
            "and once by finish: {out:?}"
        );
        assert_eq!(out.matches('\n').count(), 1, "one line: {out:?}");
        assert!(
            out.ends_with("\rx  [####################] 1000/1000 patients  0:01\x1b[K\n"),
            "{out:?}"
        );
    }
}
