//! The risk formula, with hand-computed values (docs/gate.md, risk.rs).
use crate::{findings, report, v};
use aetherveil_gate::risk::score;
use chrono::{TimeZone, Utc};

#[test]
fn hand_computed_scores() {
    let now = Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, 0).single().expect("date");
    let f = findings(&report(&[(
        "img",
        vec![
            v("A", "HIGH").cvss(7.5),                                     // 75 × 1 × 1 × 1 × 0.9
            v("B", "HIGH").cvss(7.5).unfixed(),                           // 75 × 0.8 × 0.9
            v("C", "CRITICAL"),                                           // 95 × 0.9
            v("D", "MEDIUM").cvss(5.0).published("2025-01-01T00:00:00Z"), // 50 × (1 + 0.1 × 365/365.25) × 0.9
            v("E", "LOW").published("2016-01-01T00:00:00Z"),              // 20 × 1.2 (capped) × 0.9
            v("F", "UNKNOWN").published("2030-01-01T00:00:00Z"),          // 50 × 1.0 (future) × 0.9
        ],
    )]));
    let got: Vec<f64> = f.findings.iter().map(|x| score(x, false, now).score).collect();
    assert_eq!(got, vec![67.5, 54.0, 85.5, 49.5, 21.6, 45.0]);
    // Known exploited doubles, capped at 100: A is 135 → 100, E is 43.2.
    assert_eq!(score(&f.findings[0], true, now).score, 100.0);
    assert_eq!(score(&f.findings[4], true, now).score, 43.2);
}

#[test]
fn package_type_and_kind_factors() {
    let now = Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, 0).single().expect("date");
    let mut f = findings(&report(&[("img", vec![v("A", "HIGH").cvss(8.0)])])).findings.remove(0);
    let by_class: Vec<(&str, f64)> =
        [("lang-pkgs", 80.0), ("os-pkgs", 72.0), ("config", 64.0), ("license", 40.0), ("custom", 80.0)]
            .into_iter()
            .map(|(class, _)| {
                f.class = class.into();
                (class, score(&f, false, now).score)
            })
            .collect();
    assert_eq!(
        by_class,
        vec![("lang-pkgs", 80.0), ("os-pkgs", 72.0), ("config", 64.0), ("license", 40.0), ("custom", 80.0)]
    );
}

#[test]
fn the_explanation_lists_every_factor_that_moved_the_score() {
    let now = Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, 0).single().expect("date");
    let f = findings(&report(&[("img", vec![v("A", "HIGH").cvss(7.5).unfixed().published("2024-01-01T00:00:00Z")])]));
    let r = score(&f.findings[0], true, now);
    let text = r.explain();
    // 75 × 2 × 0.8 × 1.2 × 0.9 = 129.6 → 100.
    assert_eq!(r.score, 100.0);
    for part in [
        "10 × CVSS 7.5 from nvd V3",
        "× 2 (known exploited)",
        "× 0.8 (no fixed version)",
        "× 1.2 (published 2.0 years ago)",
        "× 0.9 (OS package)",
        "= 100",
    ] {
        assert!(text.contains(part), "{part:?} in {text}");
    }
    assert_eq!(
        r.factors.iter().map(|x| x.name.as_str()).collect::<Vec<_>>(),
        ["base", "exploited", "fix", "age", "package"]
    );
}

#[test]
fn findings_are_ranked_by_risk() {
    let r = findings(&report(&[(
        "img",
        vec![v("LOW-1", "LOW"), v("CRIT-1", "CRITICAL").cvss(9.8), v("HIGH-1", "HIGH").cvss(7.0)],
    )]));
    let p = aetherveil_gate::Policy::parse("version: 1\n", "t", "t", None).expect("policy");
    let verdict = aetherveil_gate::evaluate(&r, &p, None, Utc::now());
    let order: Vec<&str> = verdict.findings.iter().map(|a| a.finding.id.as_str()).collect();
    assert_eq!(order, ["CRIT-1", "HIGH-1", "LOW-1"]);
}
