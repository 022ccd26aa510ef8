//! Every report of `../shared/datasets/trivy` (Trivy's integration-test goldens): native JSON
//! reports parse, other formats are refused with a message naming them.
use aetherveil_reports::{Report, ReportError, parse};
use aetherveil_testkit::dataset;
use std::path::PathBuf;

#[test]
fn every_native_report_parses_and_other_formats_are_named() {
    let Some(root) = dataset("trivy/reports") else { return };
    let (mut native, mut refused) = (0, 0);
    let mut paths: Vec<PathBuf> =
        std::fs::read_dir(&root).expect("read dir").map(|e| e.expect("entry").path()).collect();
    paths.sort();
    for path in paths {
        let name = path.file_name().expect("name").to_string_lossy().into_owned();
        let bytes = std::fs::read(&path).expect("read");
        let value: Option<serde_json::Value> = serde_json::from_slice(&bytes).ok();
        let is_native = value.as_ref().and_then(|v| v.get("SchemaVersion")).and_then(|v| v.as_u64()) == Some(2);
        let is_sarif = name.contains(".sarif");
        match parse(&bytes) {
            Ok(Report::Trivy(r)) => {
                assert!(is_native, "{name}: read as Trivy but it is not a SchemaVersion 2 report");
                let results =
                    value.as_ref().and_then(|v| v.get("Results")).and_then(|r| r.as_array()).map_or(0, Vec::len);
                assert_eq!(r.results.len(), results, "{name}: every result read");
                native += 1;
            }
            Ok(Report::Sarif(s)) => {
                assert!(is_sarif, "{name}: read as SARIF");
                assert!(!s.runs.is_empty(), "{name}");
            }
            Err(e) => {
                assert!(!is_native && !is_sarif, "{name}: a native report was refused: {e}");
                let expected = match name.as_str() {
                    n if n.contains("cyclonedx") || n.contains(".cdx.") => "CycloneDX",
                    n if n.contains("spdx") => "SPDX",
                    n if n.contains(".asff.") => "ASFF",
                    n if n.contains(".gitlab.") => "GitLab",
                    n if n.contains(".gsbom.") => "dependency snapshot",
                    n if n.contains(".junit.") => "JUnit XML",
                    n if n.contains(".txt.") => "plain text",
                    _ => "",
                };
                assert!(e.to_string().contains(expected), "{name}: {e}");
                assert!(!matches!(e, ReportError::Shape { .. }), "{name}: refused for its shape: {e}");
                refused += 1;
            }
        }
    }
    eprintln!("{native} native Trivy reports parsed, {refused} other formats refused with a named reason");
    assert!(native >= 50, "only {native} native reports found in {}", root.display());
}

#[test]
fn the_schema_1_goldens_are_refused() {
    let Some(root) = dataset("trivy/pkg/report/testdata") else { return };
    let old = parse(&std::fs::read(root.join("old.json.golden")).expect("read")).expect_err("schema 1");
    assert_eq!(old, ReportError::BareList);
    let new = parse(&std::fs::read(root.join("new.json.golden")).expect("read")).expect_err("no SchemaVersion");
    assert_eq!(new, ReportError::MissingSchemaVersion);
}
