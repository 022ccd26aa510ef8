//! The run-log archive GitHub serves for a whole run
//! (`GET /repos/{owner}/{repo}/actions/runs/{run_id}/logs`): a zip with one `<n>_<job>.txt` per
//! job at the top level (the job's whole log) and, for most jobs, a folder `<job>/` of
//! `<n>_<step>.txt` files, one per step. Entries are decompressed one at a time while their lines
//! are handed over, so memory stays bounded whatever the archive's size.

use std::io::{BufReader, Read, Seek};
use std::sync::Arc;

use zip::ZipArchive;

use super::{JobLogReader, ReadError, ReaderConfig};
use crate::line::LogLine;

/// One job of the run, as the archive lays it out.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ArchiveJob {
    /// The job's name (display name, matrix values included).
    pub name: String,
    /// The `<n>` of the top-level `<n>_<job>.txt`, if that file exists.
    pub order: Option<u32>,
    /// Index of the top-level file in the zip.
    log_entry: Option<usize>,
    /// Step files, by step number.
    pub steps: Vec<ArchiveStep>,
}

/// One `<job>/<n>_<step>.txt` file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ArchiveStep {
    pub number: u32,
    /// The step name as the file name spells it (GitHub drops `/` from it).
    pub name: Arc<str>,
    entry: usize,
}

/// A run-log archive, opened; read its jobs one at a time with [`RunArchive::read_job`].
#[derive(Debug)]
pub struct RunArchive<R> {
    zip: ZipArchive<R>,
    jobs: Vec<ArchiveJob>,
}

/// Opens a run-log archive and lists its jobs and steps (no entry is decompressed yet).
pub fn read_run_archive<R: Read + Seek>(reader: R) -> Result<RunArchive<R>, ReadError> {
    RunArchive::open(reader)
}

impl<R: Read + Seek> RunArchive<R> {
    pub fn open(reader: R) -> Result<Self, ReadError> {
        let zip = ZipArchive::new(reader)?;
        let mut jobs: Vec<ArchiveJob> = Vec::new();
        let mut step_files: Vec<(String, ArchiveStep)> = Vec::new();
        for index in 0..zip.len() {
            let Some(name) = zip.name_for_index(index) else { continue };
            let Some(stem) = name.strip_suffix(".txt") else { continue };
            match stem.rsplit_once('/') {
                None => {
                    let (order, job) = split_number(stem);
                    jobs.push(ArchiveJob { name: job.to_owned(), order, log_entry: Some(index), steps: Vec::new() });
                }
                Some((dir, file)) => {
                    let (number, step) = split_number(file);
                    step_files.push((
                        dir.to_owned(),
                        ArchiveStep { number: number.unwrap_or(0), name: Arc::from(step), entry: index },
                    ));
                }
            }
        }
        for (dir, step) in step_files {
            match jobs.iter_mut().find(|j| j.name == dir) {
                Some(job) => job.steps.push(step),
                None => jobs.push(ArchiveJob { name: dir, order: None, log_entry: None, steps: vec![step] }),
            }
        }
        if jobs.is_empty() {
            return Err(ReadError::NoJobLogs);
        }
        for job in &mut jobs {
            job.steps.sort_by_key(|s| s.number);
        }
        jobs.sort_by(|a, b| (a.order.is_none(), a.order, &a.name).cmp(&(b.order.is_none(), b.order, &b.name)));
        Ok(Self { zip, jobs })
    }

    pub fn jobs(&self) -> &[ArchiveJob] {
        &self.jobs
    }

    /// Hands every line of job `index` to `f`, in order. With step files, each line's step is the
    /// file's step and its number is the line number in that file; without, the job's top-level
    /// log is read and steps come from its `##[group]Run` headers. Empty step files are skipped.
    pub fn read_job(
        &mut self,
        index: usize,
        config: ReaderConfig,
        mut f: impl FnMut(LogLine),
    ) -> Result<(), ReadError> {
        let Some(job) = self.jobs.get(index) else { return Ok(()) };
        let parts: Vec<(usize, Option<Arc<str>>)> = if job.steps.is_empty() {
            job.log_entry.into_iter().map(|e| (e, None)).collect()
        } else {
            job.steps.iter().map(|s| (s.entry, Some(s.name.clone()))).collect()
        };
        for (entry, step) in parts {
            let file = self.zip.by_index(entry)?;
            let input = BufReader::with_capacity(64 * 1024, file);
            let reader = match step {
                Some(step) => JobLogReader::for_step(input, config, step),
                None => JobLogReader::with_config(input, config),
            };
            for line in reader {
                match line {
                    Ok(line) => f(line),
                    Err(ReadError::Empty) => break,
                    Err(e) => return Err(e),
                }
            }
        }
        Ok(())
    }
}

/// `12_Run tests` → (Some(12), "Run tests"); a name without the number is kept whole.
fn split_number(s: &str) -> (Option<u32>, &str) {
    match s.split_once('_') {
        Some((n, rest)) if !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()) => (n.parse().ok(), rest),
        _ => (None, s),
    }
}
