//! The decision's guards and its expected-value choice.

use aetherveil_healer::decide::{Action, Budget, Failure, Mode, Policy, Situation, decide};
use aetherveil_logscan::Cause;

fn failure(job: &str, cause: Cause, transient: bool) -> Failure {
    Failure {
        job: job.into(),
        job_id: 1,
        cause,
        transient,
        confidence: 0.9,
        signature: format!("sig-{job}"),
        minutes: 6.0,
        pass_minutes: None,
        p_rerun: 0.8,
        exploring: false,
        p_cache: None,
        failing_streak: 0,
    }
}

fn transient(cause: Cause) -> Situation {
    Situation {
        failures: vec![failure("test", cause, true)],
        run_attempt: 1,
        trigger: "push".into(),
        from_fork: false,
        default_branch: true,
        budget: Budget { reruns: 10, minutes: 300.0 },
        mode: Mode::Act,
    }
}

/// The arithmetic below is written for a green run worth 60 runner minutes.
fn policy() -> Policy {
    Policy { value_of_green: 60.0, ..Policy::default() }
}

#[test]
fn a_transient_failure_worth_it_is_rerun() {
    let d = decide(&transient(Cause::Network), &policy());
    assert_eq!(d.actions, [Action::RerunFailedJobs]);
    assert!(d.execute, "{}", d.reason);
    assert!((d.expected_value - (0.8 * 60.0 - 6.0)).abs() < 1e-9);
    assert!((d.success_probability - 0.8).abs() < 1e-12);
    assert_eq!(d.situation.failures[0].p_rerun, 0.8, "the inputs are kept with the decision");
}

#[test]
fn several_failed_jobs_must_all_pass_and_all_cost() {
    let mut s = transient(Cause::Network);
    s.failures.push(Failure { p_rerun: 0.5, minutes: 10.0, ..failure("e2e", Cause::Infrastructure, true) });
    let d = decide(&s, &policy());
    assert_eq!(d.actions, [Action::RerunFailedJobs]);
    // p = 0.8 × 0.5; minutes = 6 + 10.
    assert!((d.expected_value - (0.4 * 60.0 - 16.0)).abs() < 1e-9, "{}", d.expected_value);
}

#[test]
fn a_timeout_costs_its_usual_duration_when_the_rerun_passes() {
    let mut s = transient(Cause::Timeout);
    s.failures[0].p_rerun = 0.4;
    s.failures[0].minutes = 30.0;
    // Charged as if it hung again: 0.4 × 60 − 30 < 0.
    assert_eq!(decide(&s, &policy()).actions, [Action::Nothing]);
    // It usually passes in 5 minutes: 0.4 × 60 − (0.4 × 5 + 0.6 × 30) = 4.
    s.failures[0].pass_minutes = Some(5.0);
    let d = decide(&s, &policy());
    assert_eq!(d.actions, [Action::RerunFailedJobs], "{}", d.reason);
    assert!((d.expected_value - 4.0).abs() < 1e-9, "{}", d.expected_value);
    assert!(d.execute, "the budget is charged the worst case, 30 minutes, which fits");
}

#[test]
fn a_flaky_test_is_rerun_and_marked_flaky() {
    let d = decide(&transient(Cause::FlakyTest), &policy());
    assert_eq!(d.actions, [Action::RerunFailedJobs, Action::MarkFlaky]);
    assert_eq!(d.flaky, [0]);
}

#[test]
fn a_deterministic_cause_is_never_rerun() {
    for cause in [Cause::Compilation, Cause::Test, Cause::Lint, Cause::Security, Cause::Permission] {
        let mut s = transient(cause);
        s.failures[0].transient = false;
        s.failures[0].p_rerun = 0.99;
        let d = decide(&s, &policy());
        assert_eq!(d.actions, [Action::OpenIssue], "{cause}: the default branch is broken");
        assert_eq!(d.issue_for, [0]);
        s.default_branch = false;
        let d = decide(&s, &policy());
        assert_eq!(d.actions, [Action::Nothing], "{cause} on a branch");
        assert!(!d.execute);
    }
}

#[test]
fn a_transient_failure_next_to_a_deterministic_one_is_not_rerun() {
    let mut s = transient(Cause::Network);
    s.failures.push(failure("build", Cause::Compilation, false));
    let d = decide(&s, &policy());
    assert_eq!(d.actions, [Action::OpenIssue], "rerunning the failed jobs would rerun the broken one too");
    assert_eq!(d.issue_for, [1], "the issue is about the deterministic failure");
}

#[test]
fn forks_and_pull_request_target_are_only_recommended() {
    let mut s = transient(Cause::Network);
    s.trigger = "pull_request_target".into();
    let d = decide(&s, &policy());
    assert_eq!(d.actions, [Action::RerunFailedJobs]);
    assert!(!d.execute && d.reason.contains("never rerun automatically"), "{}", d.reason);
    let mut s = transient(Cause::Network);
    s.from_fork = true;
    assert!(!decide(&s, &policy()).execute);
}

#[test]
fn a_spent_budget_or_a_run_at_its_limit_is_not_rerun() {
    let mut s = transient(Cause::Network);
    s.budget = Budget { reruns: 0, minutes: 300.0 };
    let d = decide(&s, &policy());
    assert!(!d.execute && d.reason.contains("budget"), "{}", d.reason);
    s.budget = Budget { reruns: 5, minutes: 5.0 };
    assert!(!decide(&s, &policy()).execute, "fewer minutes left than the rerun costs");

    // Two automatic reruns by default: attempts 1 and 2 may be rerun, attempt 3 may not.
    let mut s = transient(Cause::Network);
    s.run_attempt = 2;
    assert!(decide(&s, &policy()).execute);
    s.run_attempt = 3;
    let d = decide(&s, &policy());
    assert_eq!(d.actions, [Action::Nothing]);
    assert!(!d.execute && d.reason.contains("limit"), "{}", d.reason);
    let d = decide(&s, &Policy { max_attempts: 3, ..Policy::default() });
    assert!(d.execute, "{}", d.reason);
}

#[test]
fn a_signature_that_keeps_failing_on_rerun_is_escalated() {
    let mut s = transient(Cause::Network);
    s.failures[0].failing_streak = 3;
    let d = decide(&s, &policy());
    assert_eq!(d.actions, [Action::OpenIssue]);
    assert!(d.reason.contains("escalated"), "{}", d.reason);
    let mut s = transient(Cause::FlakyTest);
    s.failures[0].failing_streak = 3;
    let d = decide(&s, &policy());
    assert_eq!(d.actions, [Action::OpenIssue, Action::Quarantine], "a flaky test that never passes is quarantined");
}

#[test]
fn a_rerun_not_worth_its_minutes_is_not_done() {
    let mut s = transient(Cause::Timeout);
    s.failures[0].p_rerun = 0.3;
    s.failures[0].minutes = 40.0;
    let d = decide(&s, &policy());
    assert_eq!(d.actions, [Action::Nothing]);
    assert!(!d.execute);
    assert!(d.alternatives.iter().any(|(a, ev)| *a == Action::RerunFailedJobs && *ev < 0.0));
}

#[test]
fn clearing_caches_wins_when_it_is_the_better_bet() {
    let mut s = transient(Cause::Dependency);
    s.failures[0].p_rerun = 0.2;
    s.failures[0].p_cache = Some(0.9);
    let d = decide(&s, &policy());
    assert_eq!(d.actions, [Action::ClearCachesThenRerun]);
    assert!((d.success_probability - 0.9).abs() < 1e-12);
}

#[test]
fn outside_act_mode_nothing_is_executed() {
    for mode in [Mode::Observe, Mode::Recommend] {
        let mut s = transient(Cause::Network);
        s.mode = mode;
        let d = decide(&s, &policy());
        assert_eq!(d.actions, [Action::RerunFailedJobs]);
        assert!(!d.execute, "{mode:?}");
    }
    assert_eq!(Mode::default(), Mode::Recommend);
}

#[test]
fn a_decision_serializes_with_its_inputs() {
    let d = decide(&transient(Cause::Network), &policy());
    let json = serde_json::to_value(&d).expect("json");
    assert_eq!(json["situation"]["failures"][0]["cause"], "network");
    assert_eq!(json["actions"][0], "rerun_failed_jobs");
    let back: aetherveil_healer::decide::Decision = serde_json::from_value(json).expect("round trip");
    assert_eq!(back, d);
}
