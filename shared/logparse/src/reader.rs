//! Reading CI logs line by line with bounded memory: GitHub Actions job logs (timestamps,
//! `##[group]` steps, `##[error]` and friends, ANSI colours), the run-log zip archive, and plain
//! logs from other CI systems (Travis, Jenkins), which simply have no timestamps or markers.
//!
//! What a line becomes:
//!
//! 1. bytes up to `\n` (and, with [`CarriageReturn::LineBreak`], up to a lone `\r` too), cut at
//!    [`ReaderConfig::max_line_bytes`] (the rest of an absurdly long line is skipped, not buffered);
//! 2. decoded as UTF-8, invalid sequences replaced;
//! 3. the `gh run view --log` prefix `<job>\t<step>\t` is taken off (its step is kept), then the
//!    ISO-8601 timestamp GitHub puts in front of every line, then ANSI escape sequences;
//! 4. with [`CarriageReturn::Overwrite`], only what a terminal would show of a line rewritten by
//!    `\r` is kept (the last non-empty segment);
//! 5. the workflow command (`##[error]`, `::error file=..::`, `[command]`, ...) becomes the
//!    [`LineKind`] and is removed from the text.
//!
//! Steps: in a job log each step opens with a top-level `##[group]Run <command>` (actions log
//! `Run owner/action@ref`); other groups (`##[group]Installed versions`) are sections inside a
//! step. Lines before the first step belong to "Set up job", `Post job cleanup.` opens a post
//! step and `Cleaning up orphan processes` opens "Complete job". In the run archive the step comes
//! from the file name instead.

mod ansi;
mod archive;

use std::io::BufRead;
use std::sync::Arc;

pub use ansi::strip_ansi;
pub use archive::{ArchiveJob, ArchiveStep, RunArchive, read_run_archive};

use crate::line::{LineKind, LogLine};

/// Why a log could not be read.
#[derive(Debug, thiserror::Error)]
pub enum ReadError {
    /// The input is not text (NUL bytes or mostly control bytes at its start).
    #[error("not a text log: {0}")]
    Binary(String),
    /// The input has no bytes at all.
    #[error("the log is empty")]
    Empty,
    /// The run-log archive is not a readable zip.
    #[error("invalid run-log archive: {0}")]
    Zip(#[from] zip::result::ZipError),
    /// The archive is a zip but holds no `.txt` job log.
    #[error("the run-log archive holds no job log")]
    NoJobLogs,
    #[error("reading the log: {0}")]
    Io(#[from] std::io::Error),
}

/// What a lone carriage return means.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum CarriageReturn {
    /// A terminal rewrites the line: keep the last non-empty segment. Line numbers are those of
    /// `\n`-separated lines, as GitHub's log viewer shows them.
    #[default]
    Overwrite,
    /// A lone `\r` ends a line, as Java's `BufferedReader` and Python's universal newlines read
    /// it (the numbering the CiDiff and LogChunks labels use).
    LineBreak,
}

/// How to read a log; one configuration for every source.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ReaderConfig {
    /// Longest line kept, in bytes; the rest of a longer line is dropped while reading.
    pub max_line_bytes: usize,
    pub carriage_return: CarriageReturn,
}

impl Default for ReaderConfig {
    fn default() -> Self {
        Self { max_line_bytes: 64 * 1024, carriage_return: CarriageReturn::Overwrite }
    }
}

/// How many leading bytes are inspected to tell text from binary garbage.
const SNIFF_BYTES: usize = 1024;

/// Streams the lines of one log. Yields `Err` once (binary input, empty input, I/O error) and
/// then stops.
#[derive(Debug)]
pub struct JobLogReader<R> {
    inner: R,
    config: ReaderConfig,
    buf: Vec<u8>,
    number: u32,
    step: Option<Arc<str>>,
    /// Open `##[group]` sections.
    depth: u32,
    /// The previous line ended with `\r` (so a `\n` right after it is part of the same break).
    after_cr: bool,
    started: bool,
    done: bool,
}

impl<R: BufRead> JobLogReader<R> {
    pub fn new(inner: R) -> Self {
        Self::with_config(inner, ReaderConfig::default())
    }

    pub fn with_config(inner: R, config: ReaderConfig) -> Self {
        Self {
            inner,
            config,
            buf: Vec::new(),
            number: 0,
            step: None,
            depth: 0,
            after_cr: false,
            started: false,
            done: false,
        }
    }

    /// A reader whose lines all belong to `step` (a step file of the run archive): groups inside
    /// it do not change the step.
    pub fn for_step(inner: R, config: ReaderConfig, step: Arc<str>) -> Self {
        let mut reader = Self::with_config(inner, config);
        reader.step = Some(step);
        reader.depth = u32::MAX / 2;
        reader
    }

    /// Checks the first bytes: empty input and binary garbage are errors.
    fn sniff(&mut self) -> Result<(), ReadError> {
        let head = self.inner.fill_buf()?;
        if head.is_empty() {
            return Err(ReadError::Empty);
        }
        let head = &head[..head.len().min(SNIFF_BYTES)];
        if let Some(at) = memchr::memchr(0, head) {
            return Err(ReadError::Binary(format!("NUL byte at offset {at}")));
        }
        let control = head.iter().filter(|&&b| b < 0x20 && !matches!(b, b'\t' | b'\n' | b'\r' | 0x1b | 0x0c)).count();
        if control * 10 > head.len() {
            return Err(ReadError::Binary(format!("{control} control bytes in the first {} bytes", head.len())));
        }
        Ok(())
    }

    /// Reads the next raw line into `self.buf`; `false` at the end of input.
    fn next_raw(&mut self) -> Result<bool, ReadError> {
        self.buf.clear();
        let split_cr = self.config.carriage_return == CarriageReturn::LineBreak;
        let mut any = false;
        loop {
            let available = self.inner.fill_buf()?;
            if available.is_empty() {
                return Ok(any);
            }
            let mut start = 0;
            if self.after_cr {
                self.after_cr = false;
                if available[0] == b'\n' {
                    start = 1;
                }
            }
            let rest = &available[start..];
            let end = if split_cr { memchr::memchr2(b'\n', b'\r', rest) } else { memchr::memchr(b'\n', rest) };
            let take = end.unwrap_or(rest.len());
            let room = self.config.max_line_bytes.saturating_sub(self.buf.len());
            self.buf.extend_from_slice(&rest[..take.min(room)]);
            any = any || take > 0 || end.is_some();
            match end {
                Some(at) => {
                    self.after_cr = rest[at] == b'\r';
                    self.inner.consume(start + at + 1);
                    return Ok(true);
                }
                None => {
                    let used = start + take;
                    self.inner.consume(used);
                }
            }
        }
    }

    /// Turns the raw bytes in `self.buf` into a line, updating the step.
    fn decode(&mut self) -> LogLine {
        self.number += 1;
        let raw = String::from_utf8_lossy(&self.buf);
        let mut text: &str = &raw;
        if self.number == 1 {
            text = text.strip_prefix('\u{feff}').unwrap_or(text);
        }
        let mut prefix_step = None;
        if let Some((step, rest)) = split_gh_cli_prefix(text) {
            prefix_step = Some(step);
            text = rest;
        }
        let stamped = timestamp_len(text);
        if let Some(n) = stamped {
            text = &text[n..];
            text = text.strip_prefix(' ').unwrap_or(text);
        }
        if self.number == 1 && stamped.is_some() && self.step.is_none() {
            self.step = Some(Arc::from("Set up job"));
        }
        let mut clean = strip_ansi(text.trim_end_matches(['\r', '\n']));
        if self.config.carriage_return == CarriageReturn::Overwrite && clean.contains('\r') {
            clean = last_segment(&clean).to_owned();
        }
        let (kind, body) = classify(&clean);
        let body = body.to_owned();
        match kind {
            LineKind::Group => {
                if self.depth == 0 && (body.starts_with("Run ") || body.starts_with("Post Run ")) {
                    self.step = Some(Arc::from(body.as_str()));
                }
                self.depth = self.depth.saturating_add(1);
            }
            LineKind::EndGroup => self.depth = self.depth.saturating_sub(1),
            LineKind::Output if self.depth == 0 => {
                if body == "Post job cleanup." {
                    self.step = Some(Arc::from("Post job cleanup"));
                } else if body == "Cleaning up orphan processes" {
                    self.step = Some(Arc::from("Complete job"));
                }
            }
            _ => {}
        }
        if let Some(step) = prefix_step {
            if self.step.as_deref() != Some(step) {
                self.step = Some(Arc::from(step));
            }
        }
        LogLine { number: self.number, step: self.step.clone(), kind, text: body }
    }
}

impl<R: BufRead> Iterator for JobLogReader<R> {
    type Item = Result<LogLine, ReadError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.done {
            return None;
        }
        if !self.started {
            self.started = true;
            if let Err(e) = self.sniff() {
                self.done = true;
                return Some(Err(e));
            }
        }
        match self.next_raw() {
            Ok(true) => Some(Ok(self.decode())),
            Ok(false) => {
                self.done = true;
                None
            }
            Err(e) => {
                self.done = true;
                Some(Err(e))
            }
        }
    }
}

/// Reads a whole log into memory (for small logs and tests; stream with [`JobLogReader`]
/// otherwise).
pub fn read_lines(bytes: &[u8], config: ReaderConfig) -> Result<Vec<LogLine>, ReadError> {
    JobLogReader::with_config(bytes, config).collect()
}

/// Length of a leading `2026-01-01T00:00:00.1234567Z` (fraction optional), if any.
fn timestamp_len(s: &str) -> Option<usize> {
    let b = s.as_bytes();
    if b.len() < 20 {
        return None;
    }
    let digits = |r: std::ops::Range<usize>| b[r].iter().all(u8::is_ascii_digit);
    let shape = digits(0..4)
        && b[4] == b'-'
        && digits(5..7)
        && b[7] == b'-'
        && digits(8..10)
        && b[10] == b'T'
        && digits(11..13)
        && b[13] == b':'
        && digits(14..16)
        && b[16] == b':'
        && digits(17..19);
    if !shape {
        return None;
    }
    let mut i = 19;
    if b.get(i) == Some(&b'.') {
        i += 1;
        while b.get(i).is_some_and(u8::is_ascii_digit) {
            i += 1;
        }
    }
    (b.get(i) == Some(&b'Z')).then_some(i + 1)
}

/// `gh run view --log` lines: `<job>\t<step>\t<timestamp> text`.
fn split_gh_cli_prefix(s: &str) -> Option<(&str, &str)> {
    let (_, rest) = s.split_once('\t')?;
    let (step, rest) = rest.split_once('\t')?;
    timestamp_len(rest).map(|_| (step, rest))
}

/// What a terminal shows of a line rewritten with `\r`: its last non-empty segment.
fn last_segment(s: &str) -> &str {
    s.rsplit('\r').find(|seg| !seg.trim().is_empty()).unwrap_or("")
}

/// The line's kind from its workflow command, and the text without the command.
fn classify(s: &str) -> (LineKind, &str) {
    if let Some(rest) = s.strip_prefix("##[") {
        if let Some((name, body)) = rest.split_once(']') {
            if let Some(kind) = command_kind(name) {
                return (kind, body);
            }
            if name == "section" {
                return (LineKind::Output, body);
            }
        }
    }
    if let Some(body) = s.strip_prefix("[command]") {
        return (LineKind::Command, body);
    }
    if let Some(rest) = s.strip_prefix("::") {
        // `::error file=a.rs,line=3::message` and `::group::title`.
        let name_end = rest.find([' ', ':']).unwrap_or(rest.len());
        if let Some(kind) = command_kind(&rest[..name_end]) {
            if let Some((_, body)) = rest[name_end..].split_once("::") {
                return (kind, body);
            }
        }
    }
    (LineKind::Output, s)
}

fn command_kind(name: &str) -> Option<LineKind> {
    Some(match name {
        "error" => LineKind::Error,
        "warning" => LineKind::Warning,
        "notice" => LineKind::Notice,
        "debug" => LineKind::Debug,
        "command" => LineKind::Command,
        "group" => LineKind::Group,
        "endgroup" => LineKind::EndGroup,
        _ => return None,
    })
}
