//! Property tests: the parsers never panic, whatever the bytes; they either read a report or
//! say what is wrong. Case counts are bounded so this runs in a few seconds under CI.
use crate::fixture;
use aetherveil_reports::parse;
use proptest::prelude::*;

fn config() -> ProptestConfig {
    ProptestConfig { cases: 256, failure_persistence: None, ..ProptestConfig::default() }
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..512)) {
        let _ = parse(&bytes);
    }

    #[test]
    fn every_prefix_of_a_real_report_is_an_error_or_a_report(cut in 0usize..10_000) {
        let full = fixture("trivy-mixed.json");
        let cut = cut % full.len();
        if let Err(e) = parse(&full[..cut]) {
            prop_assert!(!e.to_string().is_empty());
        }
    }

    #[test]
    fn mutated_reports_never_panic(
        which in 0usize..3,
        edits in proptest::collection::vec((any::<usize>(), any::<u8>()), 1..16),
    ) {
        let name = ["trivy-mixed.json", "trivy.sarif", "codeql.sarif"][which];
        let mut bytes = fixture(name);
        for (at, byte) in edits {
            let at = at % bytes.len();
            bytes[at] = byte;
        }
        let _ = parse(&bytes);
    }

    #[test]
    fn structurally_odd_json_never_panics(value in json_value()) {
        let _ = aetherveil_reports::parse_value(value);
    }
}

/// JSON built from the keys our parsers look at, with values of any type.
fn json_value() -> impl Strategy<Value = serde_json::Value> {
    let keys = prop::sample::select(vec![
        "SchemaVersion",
        "Results",
        "Vulnerabilities",
        "Severity",
        "CVSS",
        "V3Score",
        "FixedVersion",
        "Target",
        "Misconfigurations",
        "Secrets",
        "Licenses",
        "version",
        "runs",
        "results",
        "tool",
        "driver",
        "rules",
        "properties",
        "security-severity",
        "tags",
        "bomFormat",
        "spdxVersion",
        "Findings",
        "$schema",
    ]);
    let leaf = prop_oneof![
        Just(serde_json::Value::Null),
        any::<bool>().prop_map(serde_json::Value::from),
        any::<i64>().prop_map(serde_json::Value::from),
        any::<f64>().prop_map(serde_json::Value::from),
        Just(serde_json::json!(2)),
        Just(serde_json::json!("2.1.0")),
        Just(serde_json::json!("CRITICAL")),
        ".{0,8}".prop_map(serde_json::Value::from),
    ];
    leaf.prop_recursive(4, 64, 6, move |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(serde_json::Value::from),
            prop::collection::btree_map(keys.clone(), inner, 0..6)
                .prop_map(|m| serde_json::Value::Object(m.into_iter().map(|(k, v)| (k.to_owned(), v)).collect())),
        ]
    })
}
