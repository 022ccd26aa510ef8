//! The prior constants against `../shared/datasets/gha-reruns`: every count is recomputed here.

use std::io::Read;
use std::path::{Path, PathBuf};

use aetherveil_healer::priors::{
    self, JOB_MANUAL_CAUSES, JOB_RERUNS_BY_ATTEMPT, PRIOR_STRENGTH, RerunCounts, Tier, WORKFLOW_RERUNS_BY_ATTEMPT,
};
use aetherveil_logscan::Cause;

fn dataset() -> Option<PathBuf> {
    aetherveil_testkit::dataset("gha-reruns")
}

/// Splits CSV text into records of fields (double quotes, `""` escapes, newlines inside quotes).
fn csv_records(text: &str) -> Vec<Vec<String>> {
    let mut records = Vec::new();
    let mut record = Vec::new();
    let mut field = String::new();
    let mut quoted = false;
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        match (quoted, c) {
            (true, '"') if chars.peek() == Some(&'"') => {
                chars.next();
                field.push('"');
            }
            (true, '"') => quoted = false,
            (true, c) => field.push(c),
            (false, '"') => quoted = true,
            (false, ',') => record.push(std::mem::take(&mut field)),
            (false, '\r') => {}
            (false, '\n') => {
                record.push(std::mem::take(&mut field));
                records.push(std::mem::take(&mut record));
            }
            (false, c) => field.push(c),
        }
    }
    if !field.is_empty() || !record.is_empty() {
        record.push(field);
        records.push(record);
    }
    records
}

fn read_table(path: &Path) -> (Vec<String>, Vec<Vec<String>>) {
    let bytes = std::fs::read(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let text = if path.extension().is_some_and(|e| e == "gz") {
        let mut text = String::new();
        flate2::read::GzDecoder::new(bytes.as_slice()).read_to_string(&mut text).expect("gunzip");
        text
    } else {
        String::from_utf8(bytes).expect("utf-8")
    };
    let mut records = csv_records(&text);
    let header = records.remove(0);
    (header, records)
}

fn column(header: &[String], name: &str) -> usize {
    header.iter().position(|h| h == name).unwrap_or_else(|| panic!("no column {name}"))
}

/// `[1, 2]` → `[1, 2]`.
fn int_list(text: &str) -> Vec<usize> {
    text.trim_matches(|c| c == '[' || c == ']')
        .split(',')
        .filter(|s| !s.trim().is_empty())
        .map(|s| s.trim().parse().expect("integer"))
        .collect()
}

/// `[['failure', 'success'], [None]]` → one list of conclusions per inner list (`None` → "none").
fn conclusion_lists(text: &str) -> Vec<Vec<String>> {
    let inner = text.trim().strip_prefix('[').and_then(|s| s.strip_suffix(']')).expect("outer list");
    let mut lists = Vec::new();
    let mut current: Option<Vec<String>> = None;
    let mut token = String::new();
    let mut in_string = false;
    for c in inner.chars() {
        match (in_string, c) {
            (true, '\'') => {
                in_string = false;
                current.as_mut().expect("in list").push(std::mem::take(&mut token));
            }
            (true, c) => token.push(c),
            (false, '\'') => {
                in_string = true;
                token.clear();
            }
            (false, '[') => current = Some(Vec::new()),
            (false, ']' | ',') => {
                if token.trim() == "None" {
                    current.as_mut().expect("in list").push("none".to_owned());
                }
                token.clear();
                if c == ']' {
                    lists.push(current.take().expect("in list"));
                }
            }
            (false, c) => token.push(c),
        }
    }
    lists
}

/// Counts the k-th rerun (1st, 2nd, 3rd or later) of each well-formed set starting with `failure`,
/// when all earlier attempts failed; only `success` and `failure` are trials.
fn by_attempt(path: &Path) -> [RerunCounts; 3] {
    let (header, rows) = read_table(path);
    let (reruns, conclusions) = (column(&header, "reruns"), column(&header, "rerun conclusion"));
    let mut counts = [RerunCounts { successes: 0, failures: 0 }; 3];
    for row in &rows {
        for (n, attempts) in int_list(&row[reruns]).into_iter().zip(conclusion_lists(&row[conclusions])) {
            if attempts.len() != n + 1 || attempts[0] != "failure" {
                continue;
            }
            for (k, conclusion) in attempts.iter().enumerate().skip(1) {
                let bucket = &mut counts[(k - 1).min(2)];
                match conclusion.as_str() {
                    "success" => bucket.successes += 1,
                    "failure" => bucket.failures += 1,
                    _ => {}
                }
                if conclusion != "failure" {
                    break;
                }
            }
        }
    }
    counts
}

#[test]
fn constants_match_the_dataset() {
    let Some(root) = dataset() else { return };
    let frames = root.join("data/dataframes");
    assert_eq!(by_attempt(&frames.join("dataframe_job_rerun_distinct_with_conclusion.csv.gz")), JOB_RERUNS_BY_ATTEMPT);
    assert_eq!(by_attempt(&frames.join("dataframe_workflow_rerun_distinct.csv.gz")), WORKFLOW_RERUNS_BY_ATTEMPT);

    let (header, rows) = read_table(&root.join("flakiness_manual_analysis.Flakiness_in_job_reruns.csv"));
    let cause = column(&header, "Causes of flakiness");
    let mut manual = [0_u32; 4];
    for row in &rows {
        let label = row[cause].to_lowercase();
        let index = if label.contains("test flakiness") {
            0
        } else if label.contains("no logs") {
            1
        } else if label.contains("external") {
            2
        } else if label.contains("authentication") {
            3
        } else {
            panic!("unexpected cause {label}")
        };
        manual[index] += 1;
    }
    assert_eq!(manual, JOB_MANUAL_CAUSES.map(|(_, count)| count));
}

#[test]
fn rates_in_the_documentation_match_the_counts() {
    let rounded =
        |counts: RerunCounts, digits: i32| (counts.rate() * 10_f64.powi(digits)).round() / 10_f64.powi(digits);
    assert_eq!(rounded(JOB_RERUNS_BY_ATTEMPT[0], 3), 0.603);
    assert_eq!(rounded(JOB_RERUNS_BY_ATTEMPT[1], 3), 0.447);
    assert_eq!(rounded(JOB_RERUNS_BY_ATTEMPT[2], 3), 0.268);
    assert_eq!(rounded(WORKFLOW_RERUNS_BY_ATTEMPT[0], 3), 0.327);
    assert_eq!(rounded(WORKFLOW_RERUNS_BY_ATTEMPT[1], 3), 0.125);
    assert_eq!(rounded(WORKFLOW_RERUNS_BY_ATTEMPT[2], 4), 0.0155);
}

#[test]
fn priors_follow_the_tiers() {
    for cause in Cause::ALL {
        let prior = priors::prior(cause);
        assert!((prior.alpha + prior.beta - PRIOR_STRENGTH).abs() < 1e-9, "{cause}");
        assert!((prior.mean() - priors::base_rate(priors::tier(cause))).abs() < 1e-9, "{cause}");
        // The tiers agree with logscan's view of what is transient, except `timeout`, `resources` and
        // `disk`, which logscan calls transient and we call ambiguous.
        match priors::tier(cause) {
            Tier::Transient => assert!(cause.transient_by_default(), "{cause}"),
            Tier::Deterministic => assert!(!cause.transient_by_default(), "{cause}"),
            Tier::Ambiguous => {}
        }
    }
    assert!(priors::prior(Cause::Network).mean() > priors::prior(Cause::Unknown).mean());
    assert!(priors::prior(Cause::Unknown).mean() > 10.0 * priors::prior(Cause::Compilation).mean());
    assert_eq!(priors::attempt_factor(1), 1.0);
    assert!(priors::attempt_factor(2) < 1.0 && priors::attempt_factor(3) < priors::attempt_factor(2));
    assert_eq!(priors::attempt_factor(7), priors::attempt_factor(3));
}
