//! The daily budget: spent per UTC day, never exceeded.

use aetherveil_healer::budget::{Allowance, Ledger};
use chrono::{TimeZone, Utc};

#[test]
fn the_budget_is_never_exceeded_and_renews_each_day() {
    let allowance = Allowance { reruns: 3, minutes: 25.0 };
    let morning = Utc.with_ymd_and_hms(2026, 11, 27, 8, 0, 0).single().expect("time");
    let mut ledger = Ledger::default();
    assert_eq!(ledger.remaining(&allowance, morning).reruns, 3);
    assert!(ledger.spend(&allowance, morning, 10.0));
    assert!(ledger.spend(&allowance, morning, 10.0));
    assert!(!ledger.spend(&allowance, morning, 10.0), "only 5 minutes left");
    assert!(ledger.spend(&allowance, morning, 5.0));
    assert!(!ledger.spend(&allowance, morning, 0.5), "no rerun left");
    let left = ledger.remaining(&allowance, morning);
    assert_eq!((left.reruns, left.minutes), (0, 0.0));

    let next_day = Utc.with_ymd_and_hms(2026, 11, 28, 0, 0, 1).single().expect("time");
    let left = ledger.remaining(&allowance, next_day);
    assert_eq!((left.reruns, left.minutes), (3, 25.0));
    assert!(ledger.spend(&allowance, next_day, 25.0));
    assert_eq!(ledger.reruns, 1, "the new day starts from zero");
}
