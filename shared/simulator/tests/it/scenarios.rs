//! The bundled scenarios: valid, and shaped the way their comments say.

use aetherveil_simulator::world::World;
use aetherveil_simulator::{FailureKind, Scenario};
use std::collections::BTreeSet;

const HEALING: &str = include_str!("../../scenarios/healing.toml");

/// Plays the whole scenario offline, with nobody asking for reruns.
fn untouched(scenario: Scenario) -> World {
    let start = chrono::DateTime::from_timestamp(1_900_000_000, 0).expect("a time");
    let mut world = World::new(scenario, start);
    let end = world.sim_end + chrono::Duration::days(2);
    while world.step(end).is_some() {}
    world
}

#[test]
fn the_healing_scenario_has_what_a_healer_must_meet() {
    let s = Scenario::from_toml(HEALING, "healing.toml").expect("valid");
    assert_eq!((s.repos.len(), s.days, s.wall_seconds), (4, 30.0, Some(60.0)));
    // Limits are in wall time, and a wall second is hours of simulated time: the burst limit is
    // one a busy platform can meet without starving (tests inject rate limits where they want them).
    assert!(s.api.error_rate > 0.0 && s.api.burst_per_second <= 500, "5xx answers and a burst limit");
    let jobs = || s.repos.iter().flat_map(|r| &r.workflows).flat_map(|w| &w.jobs);
    let transient: BTreeSet<FailureKind> =
        jobs().filter_map(|j| j.transient.as_ref()).flat_map(|t| t.kinds.clone()).collect();
    use FailureKind::*;
    assert_eq!(transient, BTreeSet::from([FlakyTest, Network, Registry, RunnerLost, Timeout]));
    assert!(jobs().filter_map(|j| j.transient.as_ref()).all(|t| (0.85..=0.92).contains(&t.rerun_pass)));
    let broken: BTreeSet<FailureKind> = s.breakages.iter().map(|b| b.kind).collect();
    assert_eq!(broken, BTreeSet::from([Compile, TestFailure, Lint, DependencyResolution, Permission]));

    let world = untouched(s);
    let failures = world.failures.len();
    assert!((150..=400).contains(&failures), "{failures} failed job attempts");
    let deterministic = world.failures.iter().filter(|f| !f.transient).count();
    assert!(deterministic >= 15, "{deterministic} deterministic failures");
    let target_failures =
        world.failures.iter().filter(|f| world.runs[&f.run_id].info.event == "pull_request_target").count();
    assert!(target_failures > 0, "pull_request_target runs fail transiently too");
    let fork_runs = world
        .runs
        .values()
        .filter(|r| r.info.pull_request.as_ref().is_some_and(|pr| pr.head_repo != r.info.repo))
        .count();
    assert!(fork_runs > 20, "{fork_runs} runs of fork pull requests");
}
