//! The log under construction: lines with relative delays, then timestamps spread over the job.
//!
//! Templates push lines and say how long the tool paused before each one: a fixed delay (`wait`,
//! seconds of real work such as downloading a toolchain) or an elastic one (`grow`, a weight for
//! the compile and test phases that take whatever time the job had). `finish` fits the delays to
//! the job's duration and writes every line as GitHub does: `2026-11-27T14:03:07.1234567Z text`.

use std::fmt::{self, Write as _};

use chrono::{DateTime, Datelike as _, Duration, Utc};

/// Placeholder a template puts in a line for the line's own time, followed by a format letter:
/// `s` = `2026-11-27T14:03:07Z`, `n` = `2026-11-27T14_03_07_123Z` (npm log names), `h` = `14:03:07`.
pub(crate) const NOW: char = '\u{1}';

const TICKS_PER_SEC: i64 = 10_000_000;

#[derive(Debug, Clone, Copy)]
struct Line {
    start: u32,
    end: u32,
    /// Fixed seconds before this line.
    dt: f32,
    /// Elastic weight before this line.
    elastic: f32,
    /// The line holds a `NOW` placeholder.
    stamp: bool,
    /// A point in time with no text (a step finishing after its last line); not printed.
    phantom: bool,
}

#[derive(Debug)]
pub(crate) struct Writer {
    buf: String,
    lines: Vec<Line>,
    pending: f64,
    pending_elastic: f64,
    elastic_total: f64,
    causes: Vec<u32>,
    errors: usize,
    jitter: u64,
}

/// A finished log: the text and each record's offset from the job start in 100 ns ticks.
#[derive(Debug)]
pub(crate) struct Finished {
    pub text: String,
    /// Per record (line or phantom), as indexed by `mark`.
    pub ticks: Vec<i64>,
    /// 0-based indices of cause lines in `text`, sorted.
    pub causes: Vec<usize>,
}

impl Writer {
    pub fn new(seed: u64) -> Self {
        Self {
            buf: String::with_capacity(64 * 1024),
            lines: Vec::with_capacity(1024),
            pending: 0.0,
            pending_elastic: 0.0,
            elastic_total: 0.0,
            causes: Vec::new(),
            errors: 0,
            jitter: seed | 1,
        }
    }

    /// Lines pushed so far.
    pub fn mark(&self) -> usize {
        self.lines.len()
    }

    /// `##[error]` lines pushed so far.
    pub fn errors(&self) -> usize {
        self.errors
    }

    /// Elastic weight pushed so far.
    pub fn elastic_total(&self) -> f64 {
        self.elastic_total
    }

    /// A fixed pause of `secs` before the next line.
    pub fn wait(&mut self, secs: f64) {
        self.pending += secs.max(0.0);
    }

    /// An elastic pause (a share of the job's free time) before the next line.
    pub fn grow(&mut self, weight: f64) {
        self.pending_elastic += weight.max(0.0);
        self.elastic_total += weight.max(0.0);
    }

    /// Push text; embedded newlines make several lines.
    pub fn out(&mut self, s: &str) {
        let start = self.buf.len();
        self.buf.push_str(s);
        self.seal(start);
    }

    pub fn outf(&mut self, args: fmt::Arguments<'_>) {
        let start = self.buf.len();
        self.buf.write_fmt(args).expect("writing to a String cannot fail");
        self.seal(start);
    }

    /// Push text whose lines show the cause of the failure.
    pub fn cause(&mut self, s: &str) {
        let first = self.lines.len();
        self.out(s);
        self.mark_causes(first);
    }

    pub fn causef(&mut self, args: fmt::Arguments<'_>) {
        let first = self.lines.len();
        self.outf(args);
        self.mark_causes(first);
    }

    /// Mark lines `[first, now)` as cause lines.
    pub fn mark_causes(&mut self, first: usize) {
        self.causes.extend((first..self.lines.len()).map(|i| i as u32));
    }

    pub fn group(&mut self, title: &str) {
        self.outf(format_args!("##[group]{title}"));
    }

    pub fn endgroup(&mut self) {
        self.out("##[endgroup]");
    }

    /// An `##[error]` line; it is always a cause line.
    pub fn error(&mut self, msg: &str) {
        self.errors += 1;
        self.causef(format_args!("##[error]{msg}"));
    }

    pub fn errorf(&mut self, args: fmt::Arguments<'_>) {
        self.errors += 1;
        let first = self.lines.len();
        let start = self.buf.len();
        self.buf.push_str("##[error]");
        self.buf.write_fmt(args).expect("writing to a String cannot fail");
        self.seal(start);
        self.mark_causes(first);
    }

    /// An `##[error]` line that is a consequence, not the cause (`The operation was canceled.`).
    pub fn error_plain(&mut self, msg: &str) {
        self.errors += 1;
        self.outf(format_args!("##[error]{msg}"));
    }

    pub fn warning(&mut self, msg: &str) {
        self.outf(format_args!("##[warning]{msg}"));
    }

    /// Spend the pending pauses now, without a line: the work after a step's last line still
    /// belongs to the step. Returns the record index that marks the moment.
    pub fn settle(&mut self) -> usize {
        let end = self.buf.len() as u32;
        self.lines.push(Line {
            start: end,
            end,
            dt: (self.pending + 0.0005) as f32,
            elastic: self.pending_elastic as f32,
            stamp: false,
            phantom: true,
        });
        self.pending = 0.0;
        self.pending_elastic = 0.0;
        self.lines.len() - 1
    }

    /// Drop every line from `mark` on (a runner that vanished never wrote them).
    pub fn truncate(&mut self, mark: usize) {
        if mark >= self.lines.len() {
            return;
        }
        let end = if mark == 0 { 0 } else { self.lines[mark - 1].end as usize };
        self.elastic_total -= self.lines[mark..].iter().map(|l| f64::from(l.elastic)).sum::<f64>();
        self.lines.truncate(mark);
        self.buf.truncate(end);
        self.causes.retain(|&c| (c as usize) < mark);
        self.pending = 0.0;
        self.pending_elastic = 0.0;
    }

    /// Line indices in `[from, to)` where the log could stop without leaving a group open.
    pub fn cut_points(&self, from: usize, to: usize) -> Vec<usize> {
        let mut open = false;
        let mut points = Vec::new();
        for i in from..to.min(self.lines.len()) {
            let text = self.text(i);
            if text.starts_with("##[group]") {
                open = true;
            } else if text.starts_with("##[endgroup]") {
                open = false;
                points.push(i + 1);
                continue;
            }
            if !open {
                points.push(i + 1);
            }
        }
        points
    }

    pub fn text(&self, i: usize) -> &str {
        let l = self.lines[i];
        &self.buf[l.start as usize..l.end as usize]
    }

    fn next_jitter(&mut self) -> f64 {
        // xorshift64: cheap per-line spacing, deterministic from the log's seed.
        let mut x = self.jitter;
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        self.jitter = x;
        0.00004 + (x >> 40) as f64 / (1u64 << 24) as f64 * 0.0012
    }

    fn seal(&mut self, start: usize) {
        let len = self.buf.len();
        let mut line_start = start;
        let mut stamp = false;
        let mut first = true;
        for i in start..=len {
            let b = if i < len { self.buf.as_bytes()[i] } else { b'\n' };
            if b == b'\n' {
                // The first line of the log is written when the job starts.
                let jitter = if self.lines.is_empty() { 0.0 } else { self.next_jitter() };
                let (dt, elastic) = if first {
                    let v = (self.pending + jitter, self.pending_elastic);
                    self.pending = 0.0;
                    self.pending_elastic = 0.0;
                    v
                } else {
                    (jitter, 0.0)
                };
                first = false;
                self.lines.push(Line {
                    start: line_start as u32,
                    end: i as u32,
                    dt: dt as f32,
                    elastic: elastic as f32,
                    stamp,
                    phantom: false,
                });
                stamp = false;
                line_start = i + 1;
            } else if b == 1 {
                stamp = true;
            }
        }
    }

    /// Fit the delays into `duration` from `start` and write the timestamped text.
    pub fn finish(self, start: DateTime<Utc>, duration: Duration) -> Finished {
        let total_ticks = duration.num_microseconds().unwrap_or(i64::MAX / 20).max(0) * 10;
        let d = total_ticks as f64 / TICKS_PER_SEC as f64;
        let fixed: f64 = self.lines.iter().map(|l| f64::from(l.dt)).sum();
        let elastic: f64 = self.lines.iter().map(|l| f64::from(l.elastic)).sum();
        // Seconds per fixed second and per unit of elastic weight.
        let (fixed_scale, elastic_unit) = if elastic > 0.0 && fixed < d {
            (1.0, (d - fixed) / elastic)
        } else if fixed > 0.0 && elastic > 0.0 {
            // Not even the fixed pauses fit: share the time half and half.
            (0.5 * d / fixed, 0.5 * d / elastic)
        } else if fixed > 0.0 {
            (d / fixed, 0.0)
        } else {
            (0.0, 0.0)
        };
        let mut ticks = Vec::with_capacity(self.lines.len());
        let mut cum = 0.0f64;
        let mut prev = -1i64;
        for l in &self.lines {
            cum += f64::from(l.dt) * fixed_scale + f64::from(l.elastic) * elastic_unit;
            let mut t = (cum * TICKS_PER_SEC as f64) as i64;
            if t <= prev {
                t = prev + 1;
            }
            prev = t;
            ticks.push(t);
        }
        // The last line ends the job; pull back anything that overshot while staying increasing where room allows.
        let mut cap = total_ticks;
        for t in ticks.iter_mut().rev() {
            if *t > cap {
                *t = cap;
            }
            cap = (*t - 1).max(0);
        }
        if let Some(first) = ticks.first_mut() {
            *first = (*first).max(0);
        }
        for i in 1..ticks.len() {
            if ticks[i] < ticks[i - 1] {
                ticks[i] = ticks[i - 1];
            }
        }

        let mut text = String::with_capacity(self.buf.len() + self.lines.len() * 30);
        let mut clock = Clock::new(start);
        // Record index -> printed line index (phantoms are not printed).
        let mut printed = Vec::with_capacity(self.lines.len());
        let mut n = 0usize;
        for (l, &t) in self.lines.iter().zip(&ticks) {
            printed.push(n);
            if l.phantom {
                continue;
            }
            n += 1;
            let at = clock.at(t);
            at.write_stamp(&mut text);
            let body = &self.buf[l.start as usize..l.end as usize];
            if l.stamp {
                substitute(&mut text, body, &at);
            } else {
                text.push_str(body);
            }
            text.push('\n');
        }
        let mut causes: Vec<usize> =
            self.causes.iter().filter(|&&c| !self.lines[c as usize].phantom).map(|&c| printed[c as usize]).collect();
        causes.sort_unstable();
        causes.dedup();
        Finished { text, ticks, causes }
    }
}

/// Converts tick offsets to calendar fields, caching the date.
struct Clock {
    base_secs: i64,
    base_ticks: i64,
    day: i64,
    date: [u8; 10],
}

struct Instant {
    date: [u8; 10],
    secs_of_day: i64,
    frac_ticks: i64,
}

impl Clock {
    fn new(start: DateTime<Utc>) -> Self {
        Self {
            base_secs: start.timestamp(),
            base_ticks: i64::from(start.timestamp_subsec_nanos() / 100),
            day: i64::MIN,
            date: *b"1970-01-01",
        }
    }

    fn at(&mut self, offset_ticks: i64) -> Instant {
        let abs = self.base_ticks + offset_ticks;
        let secs = self.base_secs + abs.div_euclid(TICKS_PER_SEC);
        let frac_ticks = abs.rem_euclid(TICKS_PER_SEC);
        let day = secs.div_euclid(86_400);
        if day != self.day {
            self.day = day;
            let date = DateTime::from_timestamp(day * 86_400, 0).unwrap_or_default().date_naive();
            let mut s = String::with_capacity(10);
            // Years beyond 9999 do not occur in a simulation; keep the field four digits wide.
            write!(s, "{:04}-{:02}-{:02}", date.year().clamp(0, 9999), date.month(), date.day())
                .expect("writing to a String cannot fail");
            self.date.copy_from_slice(&s.as_bytes()[..10]);
        }
        Instant { date: self.date, secs_of_day: secs.rem_euclid(86_400), frac_ticks }
    }
}

impl Instant {
    fn push_date(&self, out: &mut String) {
        // The date is ASCII digits and dashes.
        out.push_str(std::str::from_utf8(&self.date).unwrap_or("1970-01-01"));
    }

    fn push_hms(&self, out: &mut String, sep: char) {
        let h = self.secs_of_day / 3600;
        let m = self.secs_of_day / 60 % 60;
        let s = self.secs_of_day % 60;
        push2(out, h);
        out.push(sep);
        push2(out, m);
        out.push(sep);
        push2(out, s);
    }

    /// `2026-11-27T14:03:07.1234567Z ` (with the trailing space).
    fn write_stamp(&self, out: &mut String) {
        self.push_date(out);
        out.push('T');
        self.push_hms(out, ':');
        out.push('.');
        let mut f = self.frac_ticks;
        let mut digits = [b'0'; 7];
        for d in digits.iter_mut().rev() {
            *d = b'0' + (f % 10) as u8;
            f /= 10;
        }
        out.push_str(std::str::from_utf8(&digits).unwrap_or("0000000"));
        out.push_str("Z ");
    }
}

fn push2(out: &mut String, v: i64) {
    out.push((b'0' + (v / 10 % 10) as u8) as char);
    out.push((b'0' + (v % 10) as u8) as char);
}

fn substitute(out: &mut String, body: &str, at: &Instant) {
    let mut rest = body;
    while let Some(pos) = rest.find(NOW) {
        out.push_str(&rest[..pos]);
        let after = &rest[pos + NOW.len_utf8()..];
        let mut chars = after.chars();
        match chars.next() {
            Some('s') => {
                at.push_date(out);
                out.push('T');
                at.push_hms(out, ':');
                out.push('Z');
            }
            Some('n') => {
                at.push_date(out);
                out.push('T');
                at.push_hms(out, '_');
                out.push('_');
                let ms = at.frac_ticks / 10_000;
                push2(out, ms / 10);
                out.push((b'0' + (ms % 10) as u8) as char);
                out.push('Z');
            }
            Some('h') => at.push_hms(out, ':'),
            Some(other) => out.push(other),
            None => {}
        }
        rest = chars.as_str();
    }
    out.push_str(rest);
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone as _;

    fn start() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 11, 27, 23, 59, 58).single().expect("valid date")
    }

    #[test]
    fn lines_are_stamped_and_fit_the_duration() {
        let mut w = Writer::new(1);
        w.out("first");
        w.grow(1.0);
        w.out("second\nthird");
        w.wait(1.0);
        w.outf(format_args!("at {NOW}s and {NOW}n"));
        let f = w.finish(start(), Duration::seconds(10));
        let lines: Vec<&str> = f.text.lines().collect();
        assert_eq!(lines.len(), 4);
        assert!(lines[0].starts_with("2026-11-27T23:59:58.0000000Z first"), "{}", lines[0]);
        assert!(lines[3].starts_with("2026-11-28T00:00:08.0000000Z at 2026-11-28T00:00:08Z and "), "{}", lines[3]);
        assert!(lines[3].ends_with("2026-11-28T00_00_08_000Z"), "{}", lines[3]);
        assert!(f.ticks.windows(2).all(|w| w[0] < w[1]));
    }

    #[test]
    fn truncation_drops_lines_and_causes() {
        let mut w = Writer::new(1);
        w.out("a");
        let m = w.mark();
        w.group("g");
        w.cause("b");
        w.endgroup();
        assert_eq!(w.cut_points(m, w.mark()), vec![m + 3]);
        w.truncate(m);
        w.out("c");
        let f = w.finish(start(), Duration::seconds(1));
        assert!(f.causes.is_empty());
        assert_eq!(f.text.lines().count(), 2);
    }

    #[test]
    fn settled_time_is_not_printed_but_counts() {
        let mut w = Writer::new(2);
        w.out("step output");
        w.grow(1.0);
        let end = w.settle();
        w.cause("next step");
        let f = w.finish(start(), Duration::seconds(100));
        assert_eq!(f.text.lines().count(), 2);
        assert_eq!(f.causes, vec![1]);
        assert!(f.ticks[end] > 90 * TICKS_PER_SEC, "{}", f.ticks[end]);
    }

    #[test]
    fn short_durations_keep_order() {
        let mut w = Writer::new(9);
        for i in 0..50 {
            w.outf(format_args!("line {i}"));
            w.wait(5.0);
        }
        let f = w.finish(start(), Duration::microseconds(2));
        assert!(f.ticks.windows(2).all(|w| w[0] <= w[1]));
        assert!(f.ticks.iter().all(|&t| (0..=20).contains(&t)));
    }
}
