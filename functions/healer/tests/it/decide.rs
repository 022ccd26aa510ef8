//! The decision's guards and its expected-value choice.

use aetherveil_healer::decide::{Action, Budget, Mode, Policy, Situation, decide};
use aetherveil_logscan::Cause;

fn transient(cause: Cause) -> Situation {
    Situation {
        cause,
        transient: true,
        confidence: 0.9,
        run_attempt: 1,
        trigger: "push".into(),
        from_fork: false,
        default_branch: true,
        rerun_minutes: 6.0,
        p_rerun: 0.8,
        p_cache: None,
        failing_streak: 0,
        budget: Budget { reruns: 10, minutes: 300.0 },
        mode: Mode::Act,
    }
}

#[test]
fn a_transient_failure_worth_it_is_rerun() {
    let d = decide(&transient(Cause::Network), &Policy::default());
    assert_eq!(d.actions, [Action::RerunFailedJobs]);
    assert!(d.execute, "{}", d.reason);
    assert!((d.expected_value - (0.8 * 60.0 - 6.0)).abs() < 1e-9);
    assert_eq!(d.situation.p_rerun, 0.8, "the inputs are kept with the decision");
}

#[test]
fn a_flaky_test_is_rerun_and_marked_flaky() {
    let d = decide(&transient(Cause::FlakyTest), &Policy::default());
    assert_eq!(d.actions, [Action::RerunFailedJobs, Action::MarkFlaky]);
}

#[test]
fn a_deterministic_cause_is_never_rerun() {
    for cause in [Cause::Compilation, Cause::Test, Cause::Lint, Cause::Security, Cause::Permission] {
        let mut s = transient(cause);
        s.transient = false;
        s.p_rerun = 0.99;
        let d = decide(&s, &Policy::default());
        assert_eq!(d.actions, [Action::OpenIssue], "{cause}: the default branch is broken");
        s.default_branch = false;
        let d = decide(&s, &Policy::default());
        assert_eq!(d.actions, [Action::Nothing], "{cause} on a branch");
        assert!(!d.execute);
    }
}

#[test]
fn forks_and_pull_request_target_are_only_recommended() {
    let mut s = transient(Cause::Network);
    s.trigger = "pull_request_target".into();
    let d = decide(&s, &Policy::default());
    assert_eq!(d.actions, [Action::RerunFailedJobs]);
    assert!(!d.execute && d.reason.contains("never rerun automatically"), "{}", d.reason);
    let mut s = transient(Cause::Network);
    s.from_fork = true;
    assert!(!decide(&s, &Policy::default()).execute);
}

#[test]
fn a_spent_budget_or_a_run_at_its_limit_is_not_rerun() {
    let mut s = transient(Cause::Network);
    s.budget = Budget { reruns: 0, minutes: 300.0 };
    let d = decide(&s, &Policy::default());
    assert!(!d.execute && d.reason.contains("budget"), "{}", d.reason);
    s.budget = Budget { reruns: 5, minutes: 5.0 };
    assert!(!decide(&s, &Policy::default()).execute, "fewer minutes left than the rerun costs");

    let mut s = transient(Cause::Network);
    s.run_attempt = 2;
    let d = decide(&s, &Policy::default());
    assert_eq!(d.actions, [Action::Nothing]);
    assert!(!d.execute && d.reason.contains("limit"), "{}", d.reason);
}

#[test]
fn a_signature_that_keeps_failing_on_rerun_is_escalated() {
    let mut s = transient(Cause::Network);
    s.failing_streak = 3;
    let d = decide(&s, &Policy::default());
    assert_eq!(d.actions, [Action::OpenIssue]);
    assert!(d.reason.contains("escalated"), "{}", d.reason);
}

#[test]
fn a_rerun_not_worth_its_minutes_is_not_done() {
    let mut s = transient(Cause::Timeout);
    s.p_rerun = 0.3;
    s.rerun_minutes = 40.0;
    let d = decide(&s, &Policy::default());
    assert_eq!(d.actions, [Action::Nothing]);
    assert!(!d.execute);
    assert!(d.alternatives.iter().any(|(a, ev)| *a == Action::RerunFailedJobs && *ev < 0.0));
}

#[test]
fn clearing_caches_wins_when_it_is_the_better_bet() {
    let mut s = transient(Cause::Dependency);
    s.p_rerun = 0.2;
    s.p_cache = Some(0.9);
    let d = decide(&s, &Policy::default());
    assert_eq!(d.actions, [Action::ClearCachesThenRerun]);
}

#[test]
fn outside_act_mode_nothing_is_executed() {
    for mode in [Mode::Observe, Mode::Recommend] {
        let mut s = transient(Cause::Network);
        s.mode = mode;
        let d = decide(&s, &Policy::default());
        assert_eq!(d.actions, [Action::RerunFailedJobs]);
        assert!(!d.execute, "{mode:?}");
    }
    assert_eq!(Mode::default(), Mode::Recommend);
}

#[test]
fn a_decision_serializes_with_its_inputs() {
    let d = decide(&transient(Cause::Network), &Policy::default());
    let json = serde_json::to_value(&d).expect("json");
    assert_eq!(json["situation"]["cause"], "network");
    assert_eq!(json["actions"][0], "rerun_failed_jobs");
    let back: aetherveil_healer::decide::Decision = serde_json::from_value(json).expect("round trip");
    assert_eq!(back, d);
}
