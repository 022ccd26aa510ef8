//! The log reader: GitHub format, plain logs, bad input, the run archive.

use std::io::{Cursor, Write};
use std::path::PathBuf;

use aetherveil_logparse::LineKind;
use aetherveil_logparse::reader::{
    CarriageReturn, JobLogReader, ReadError, ReaderConfig, read_lines, read_run_archive,
};

const GITHUB_LOG: &str = "\u{feff}2026-01-01T00:00:00.0000000Z Requested labels: ubuntu-latest\n\
2026-01-01T00:00:00.1000000Z ##[group]Operating System\n\
2026-01-01T00:00:00.1100000Z Ubuntu\n\
2026-01-01T00:00:00.1200000Z ##[endgroup]\n\
2026-01-01T00:00:01.0000000Z ##[group]Run cargo test\n\
2026-01-01T00:00:01.0100000Z \u{1b}[36;1mcargo test\u{1b}[0m\n\
2026-01-01T00:00:01.0200000Z ##[endgroup]\n\
2026-01-01T00:00:02.0000000Z ##[group]Installed versions\n\
2026-01-01T00:00:02.0100000Z rustc 1.85.0\n\
2026-01-01T00:00:02.0200000Z ##[endgroup]\n\
2026-01-01T00:00:03.0000000Z \u{1b}[1m\u{1b}[31merror[E0425]\u{1b}[0m: cannot find value `x`\r\n\
2026-01-01T00:00:03.5000000Z [command]/usr/bin/git version\n\
2026-01-01T00:00:04.0000000Z ::warning file=src/lib.rs,line=3::unused variable\n\
2026-01-01T00:00:04.5000000Z ##[error]Process completed with exit code 101.\n\
2026-01-01T00:00:05.0000000Z Post job cleanup.\n\
2026-01-01T00:00:06.0000000Z Cleaning up orphan processes";

#[test]
fn github_log_lines_keep_numbers_steps_and_kinds() {
    let lines = read_lines(GITHUB_LOG.as_bytes(), ReaderConfig::default()).expect("a text log");
    assert_eq!(lines.len(), 16);
    assert_eq!(lines[0].text, "Requested labels: ubuntu-latest");
    assert_eq!(lines[0].step.as_deref(), Some("Set up job"));
    assert_eq!((lines[1].kind, lines[1].text.as_str()), (LineKind::Group, "Operating System"));
    assert_eq!(lines[2].step.as_deref(), Some("Set up job"), "a section is not a step");
    assert_eq!(lines[5].text, "cargo test");
    // A nested section inside the step keeps the step.
    assert_eq!(lines[8].step.as_deref(), Some("Run cargo test"));
    let error = &lines[10];
    assert_eq!((error.number, error.text.as_str()), (11, "error[E0425]: cannot find value `x`"));
    assert_eq!(error.step.as_deref(), Some("Run cargo test"));
    assert_eq!((lines[11].kind, lines[11].text.as_str()), (LineKind::Command, "/usr/bin/git version"));
    assert_eq!((lines[12].kind, lines[12].text.as_str()), (LineKind::Warning, "unused variable"));
    assert_eq!(lines[13].kind, LineKind::Error);
    assert_eq!(lines[13].text, "Process completed with exit code 101.");
    assert_eq!(lines[14].step.as_deref(), Some("Post job cleanup"));
    assert_eq!(lines[15].step.as_deref(), Some("Complete job"));
}

#[test]
fn plain_logs_have_no_steps_and_carriage_returns_follow_the_config() {
    let text = "$ mvn test\nDownloading 10%\rDownloading 100%\r\n[ERROR] boom\r\r\nlast line without newline";
    let overwrite = read_lines(text.as_bytes(), ReaderConfig::default()).expect("text");
    let texts: Vec<&str> = overwrite.iter().map(|l| l.text.as_str()).collect();
    assert_eq!(texts, ["$ mvn test", "Downloading 100%", "[ERROR] boom", "last line without newline"]);
    assert!(overwrite.iter().all(|l| l.step.is_none()));

    let config = ReaderConfig { carriage_return: CarriageReturn::LineBreak, ..ReaderConfig::default() };
    let split = read_lines(text.as_bytes(), config).expect("text");
    let texts: Vec<(u32, &str)> = split.iter().map(|l| (l.number, l.text.as_str())).collect();
    assert_eq!(
        texts,
        [
            (1, "$ mvn test"),
            (2, "Downloading 10%"),
            (3, "Downloading 100%"),
            (4, "[ERROR] boom"),
            (5, ""),
            (6, "last line without newline")
        ]
    );
}

#[test]
fn long_lines_are_cut_and_invalid_utf8_is_replaced() {
    let mut bytes = vec![b'a'; 300_000];
    bytes.extend_from_slice(b"\nok \xff\xfe end\n");
    // A tiny buffer makes the reader assemble lines across many reads.
    let reader = JobLogReader::new(std::io::BufReader::with_capacity(64, Cursor::new(bytes)));
    let lines: Vec<_> = reader.collect::<Result<_, _>>().expect("text");
    assert_eq!(lines.len(), 2);
    assert_eq!(lines[0].text.len(), ReaderConfig::default().max_line_bytes);
    assert_eq!(lines[1].text, "ok \u{fffd}\u{fffd} end");
    assert_eq!(lines[1].number, 2);
}

#[test]
fn bad_input_is_an_error_value() {
    assert!(matches!(read_lines(b"", ReaderConfig::default()), Err(ReadError::Empty)));
    let garbage: Vec<u8> = (0..4096u32).map(|i| (i.wrapping_mul(2_654_435_761) >> 24) as u8).collect();
    assert!(matches!(read_lines(&garbage, ReaderConfig::default()), Err(ReadError::Binary(_))));
    assert!(matches!(read_lines(b"PK\x03\x04\x00\x00binary", ReaderConfig::default()), Err(ReadError::Binary(_))));
    assert!(matches!(read_run_archive(Cursor::new(b"not a zip at all".to_vec())), Err(ReadError::Zip(_))));
    // A zip cut in the middle.
    let zip = archive(&[("1_build.txt", "2026-01-01T00:00:00.0000000Z hello\n")]);
    assert!(read_run_archive(Cursor::new(zip[..zip.len() / 2].to_vec())).is_err());
    // A truncated log is read up to where it stops.
    let lines = read_lines(b"2026-01-01T00:00:00.0000000Z ##[group]Run make\n2026-01-01T00:0", ReaderConfig::default());
    assert_eq!(lines.expect("text").len(), 2);
}

fn archive(files: &[(&str, &str)]) -> Vec<u8> {
    let mut out = Cursor::new(Vec::new());
    {
        let mut zip = zip::ZipWriter::new(&mut out);
        for (name, text) in files {
            zip.start_file(*name, zip::write::SimpleFileOptions::default()).expect("start");
            zip.write_all(text.as_bytes()).expect("write");
        }
        zip.finish().expect("finish");
    }
    out.into_inner()
}

#[test]
fn run_archive_gives_each_job_its_steps_from_the_file_names() {
    let bytes = archive(&[
        ("1_build.txt", "2026-01-01T00:00:00.0000000Z ##[group]Run make\n2026-01-01T00:00:01.0000000Z boom\n"),
        ("build/1_Set up job.txt", "2026-01-01T00:00:00.0000000Z Requested labels: ubuntu-latest\n"),
        ("build/2_Run make.txt", "2026-01-01T00:00:00.0000000Z ##[group]Run make\n2026-01-01T00:00:01.0000000Z boom\n"),
        ("build/3_Empty.txt", ""),
        ("2_lint.txt", "2026-01-01T00:00:00.0000000Z ##[group]Run cargo clippy\n2026-01-01T00:00:01.0000000Z warn\n"),
    ]);
    let mut run = read_run_archive(Cursor::new(bytes)).expect("a zip");
    let names: Vec<&str> = run.jobs().iter().map(|j| j.name.as_str()).collect();
    assert_eq!(names, ["build", "lint"]);
    assert_eq!(run.jobs()[0].steps.len(), 3);
    let mut build = Vec::new();
    run.read_job(0, ReaderConfig::default(), |l| build.push(l)).expect("readable");
    let steps: Vec<(Option<&str>, u32, &str)> =
        build.iter().map(|l| (l.step.as_deref(), l.number, l.text.as_str())).collect();
    assert_eq!(
        steps,
        [
            (Some("Set up job"), 1, "Requested labels: ubuntu-latest"),
            (Some("Run make"), 1, "Run make"),
            (Some("Run make"), 2, "boom")
        ]
    );
    let mut lint = Vec::new();
    run.read_job(1, ReaderConfig::default(), |l| lint.push(l)).expect("readable");
    assert_eq!(lint[1].step.as_deref(), Some("Run cargo clippy"));
}

/// The real archive of `../shared/datasets/gha-run-logs` (a tar of the zip's entries).
#[test]
fn real_run_log_files_read_with_steps() {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared/datasets/gha-run-logs/examples");
    if !root.join("log.tar.gz").is_file() {
        assert!(std::env::var("CI").as_deref() != Ok("true"), "dataset missing under CI: {}", root.display());
        eprintln!("skipped: {} is missing", root.display());
        return;
    }
    let out = tempfile::tempdir().expect("tempdir");
    let status = std::process::Command::new("tar")
        .arg("xzf")
        .arg(root.join("log.tar.gz"))
        .arg("-C")
        .arg(out.path())
        .status()
        .expect("tar runs");
    assert!(status.success());
    let job = out.path().join("3_Test 3.10 x64 wheels for ubuntu-latest.txt");
    let lines = read_lines(&std::fs::read(job).expect("job log"), ReaderConfig::default()).expect("text");
    assert!(lines.iter().all(|l| !l.text.starts_with("2023-")), "timestamps are stripped");
    let step = lines.iter().find(|l| l.text == "OK (skipped=58)").and_then(|l| l.step.as_deref());
    assert_eq!(step, Some("Run python -m tables.tests.test_all"));
    assert_eq!(lines[0].step.as_deref(), Some("Set up job"));
}
