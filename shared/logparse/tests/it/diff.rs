//! The diff of a failed log against the passing runs of the same job.

use aetherveil_logparse::LogLine;
use aetherveil_logparse::diff::{DiffConfig, PassingProfile, diff};
use aetherveil_logparse::reader::{ReaderConfig, read_lines};

fn lines(text: &str) -> Vec<LogLine> {
    read_lines(text.as_bytes(), ReaderConfig::default()).expect("text")
}

fn green(run: u32) -> String {
    format!(
        "2026-01-01T00:00:00.0000000Z ##[group]Run npm test\n\
2026-01-01T00:00:00.0000000Z ##[endgroup]\n\
2026-01-01T00:00:01.0000000Z added {} packages in {}s\n\
2026-01-01T00:00:02.0000000Z PASS src/app.test.js ({}.2 s)\n\
2026-01-01T00:00:02.0000000Z Tests: 12 passed, 12 total\n",
        300 + run,
        run + 3,
        run
    )
}

const RED: &str = "2026-01-01T00:00:00.0000000Z ##[group]Run npm test\n\
2026-01-01T00:00:00.0000000Z ##[endgroup]\n\
2026-01-01T00:00:01.0000000Z added 377 packages in 9s\n\
2026-01-01T00:00:02.0000000Z FAIL src/app.test.js (5.2 s)\n\
2026-01-01T00:00:02.0000000Z   ● renders the header\n\
2026-01-01T00:00:02.0000000Z     expect(received).toBe(expected)\n\
2026-01-01T00:00:02.0000000Z Tests: 1 failed, 11 passed, 12 total\n\
2026-01-01T00:00:03.0000000Z ##[error]Process completed with exit code 1.\n";

#[test]
fn only_lines_never_seen_when_green_are_hits_with_step_and_context() {
    let mut profile = PassingProfile::new();
    for run in 0..5 {
        profile.learn(&lines(&green(run)));
    }
    assert_eq!(profile.runs(), 5);
    assert!(profile.seen_share("added 999 packages in 2s") > 0.9, "numbers are variables");
    let failed = lines(RED);
    let hits = diff(&profile, &failed, &DiffConfig::default());
    assert!(!hits.is_empty());
    let shown: Vec<u32> = hits.iter().flat_map(|h| h.lines.iter().map(|l| l.number)).collect();
    assert!(shown.contains(&4) && shown.contains(&6), "{shown:?}");
    assert!(!shown.contains(&3), "a line seen in every green run is not a hit");
    assert_eq!(hits[0].step.as_deref(), Some("Run npm test"));
    assert!(hits.iter().all(|h| h.lines.len() <= DiffConfig::default().max_hit_lines));
    assert!(hits.windows(2).all(|w| w[0].score >= w[1].score), "ranked");
}

#[test]
fn profiles_serialise_and_merge() {
    let mut a = PassingProfile::new();
    a.learn(&lines(&green(1)));
    let mut b = PassingProfile::new();
    b.learn(&lines(&green(2)));
    b.learn(&lines(&green(3)));
    let json = serde_json::to_string(&b).expect("serialises");
    let b: PassingProfile = serde_json::from_str(&json).expect("deserialises");
    a.merge(&b);
    assert_eq!(a.runs(), 3);
    assert!(a.seen_share("PASS src/app.test.js (7.2 s)") > 0.9);
    assert_eq!(a.seen_share("FAIL src/app.test.js (7.2 s)"), 0.0);
}
