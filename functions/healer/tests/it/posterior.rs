//! Posteriors on synthetic outcomes: shrinkage, quantiles, persistence, the memory cap.

use aetherveil_healer::posterior::{Beta, EXPLORE_OUTCOMES, Level, Posteriors};
use aetherveil_healer::priors;
use aetherveil_logscan::Cause;

const JOB: &str = "octo/app~ci.yml~test";

#[test]
fn nothing_recorded_is_the_prior() {
    let posteriors = Posteriors::new();
    let estimate = posteriors.probability(Cause::Network, "sig-a", JOB);
    assert_eq!(estimate.level, Level::Prior);
    assert_eq!(estimate.observations, 0);
    assert!((estimate.mean - priors::prior(Cause::Network).mean()).abs() < 1e-9);
    assert!(estimate.lower < estimate.mean);
}

#[test]
fn one_success_stays_near_the_prior() {
    let mut posteriors = Posteriors::new();
    posteriors.record(Cause::Network, "sig-a", JOB, true);
    let estimate = posteriors.probability(Cause::Network, "sig-a", JOB);
    let prior = priors::prior(Cause::Network).mean();
    assert_eq!(estimate.level, Level::Job);
    assert_eq!(estimate.observations, 1);
    assert!(estimate.mean > prior && estimate.mean < prior + 0.2, "{estimate:?}");
}

#[test]
fn twenty_failures_drop_well_below_the_prior() {
    let mut posteriors = Posteriors::new();
    for _ in 0..20 {
        posteriors.record(Cause::FlakyTest, "sig-a", JOB, false);
    }
    let estimate = posteriors.probability(Cause::FlakyTest, "sig-a", JOB);
    assert!(estimate.mean < 0.1 * priors::prior(Cause::FlakyTest).mean(), "{estimate:?}");
    assert_eq!(estimate.job_counts.failures, 20);
}

#[test]
fn a_new_job_of_a_failing_signature_starts_low() {
    let mut posteriors = Posteriors::new();
    for n in 0..30 {
        posteriors.record(Cause::Network, "sig-bad", &format!("octo/app{n}~ci.yml~build"), false);
    }
    // Other signatures of the cause keep succeeding, so the cause stays healthy.
    for n in 0..60 {
        posteriors.record(Cause::Network, &format!("sig-ok{n}"), &format!("octo/lib{n}~ci.yml~build"), true);
    }
    let fresh = posteriors.probability(Cause::Network, "sig-bad", "octo/new~ci.yml~build");
    assert_eq!(fresh.level, Level::Signature);
    assert_eq!(fresh.observations, 30);
    let other = posteriors.probability(Cause::Network, "sig-new", "octo/new~ci.yml~build");
    assert_eq!(other.level, Level::Cause);
    assert!(fresh.mean < 0.3, "{fresh:?}");
    assert!(other.mean > 0.5, "{other:?}");
}

#[test]
fn a_job_that_heals_rises_above_its_signature() {
    let mut posteriors = Posteriors::new();
    for n in 0..10 {
        posteriors.record(Cause::Timeout, "sig-t", &format!("octo/x{n}~ci.yml~e2e"), false);
    }
    for _ in 0..10 {
        posteriors.record(Cause::Timeout, "sig-t", JOB, true);
    }
    let job = posteriors.probability(Cause::Timeout, "sig-t", JOB);
    let sibling = posteriors.probability(Cause::Timeout, "sig-t", "octo/new~ci.yml~e2e");
    assert!(job.mean > sibling.mean + 0.2, "{job:?} {sibling:?}");
}

#[test]
fn quantiles_match_known_values() {
    // Closed forms: Beta(1, 1) is uniform; Beta(a, 1) has CDF x^a; Beta(2, 2) has CDF 3x² - 2x³;
    // Beta(1/2, 1/2) has CDF (2/π) asin(√x).
    for p in [0.01, 0.05, 0.3, 0.5, 0.9, 0.99] {
        assert!((Beta::new(1.0, 1.0).quantile(p) - p).abs() < 1e-12);
        assert!((Beta::new(3.0, 1.0).quantile(p) - p.powf(1.0 / 3.0)).abs() < 1e-12);
        assert!((Beta::new(1.0, 4.0).quantile(p) - (1.0 - (1.0 - p).powf(0.25))).abs() < 1e-12);
    }
    for x in [0.001, 0.1, 0.37, 0.5, 0.8, 0.999] {
        assert!((Beta::new(2.0, 2.0).cdf(x) - (3.0 * x * x - 2.0 * x * x * x)).abs() < 1e-12);
        let arcsine = 2.0 / std::f64::consts::PI * x.sqrt().asin();
        assert!((Beta::new(0.5, 0.5).cdf(x) - arcsine).abs() < 1e-12);
    }
    // Reference values from scipy.stats.beta.ppf / scipy.special.betainc.
    let ppf = [
        (10.0, 30.0, 0.05, 0.14621863039059377),
        (2.4, 1.6, 0.05, 0.2131734910264121),
        (100.0, 50.0, 0.025, 0.589501548381081),
        (3.5, 7.25, 0.9, 0.5121940434534573),
    ];
    for (a, b, p, expected) in ppf {
        let got = Beta::new(a, b).quantile(p);
        assert!((got - expected).abs() < 1e-10, "ppf({a}, {b}, {p}) = {got}, expected {expected}");
    }
    let tiny = Beta::new(0.062, 3.938).quantile(0.5);
    assert!((tiny / 2.3649457041986603e-06 - 1.0).abs() < 1e-6, "{tiny}");
    let cdf =
        [(10.0, 30.0, 0.2, 0.2413594512807919), (0.5, 3.0, 0.01, 0.18625375), (200.0, 300.0, 0.41, 0.677628164772179)];
    for (a, b, x, expected) in cdf {
        let got = Beta::new(a, b).cdf(x);
        assert!((got - expected).abs() < 1e-10, "I({a}, {b}, {x}) = {got}, expected {expected}");
    }
}

#[test]
fn observe_counts_one_outcome() {
    let mut beta = Beta::new(1.0, 1.0);
    beta.observe(true);
    beta.observe(false);
    beta.observe(true);
    assert_eq!(beta, Beta::new(3.0, 2.0));
    assert!((beta.mean() - 0.6).abs() < 1e-12);
}

#[test]
fn serde_round_trip_keeps_estimates_and_eviction_order() {
    let mut posteriors = Posteriors::with_limits(3, 3);
    for (n, success) in [true, false, true, true].into_iter().enumerate() {
        posteriors.record(Cause::RateLimit, &format!("sig{n}"), &format!("o/r~w~j{n}"), success);
    }
    let json = serde_json::to_string(&posteriors).expect("serialize");
    let restored: Posteriors = serde_json::from_str(&json).expect("deserialize");
    for n in 0..4 {
        let (signature, job) = (format!("sig{n}"), format!("o/r~w~j{n}"));
        assert_eq!(
            posteriors.probability(Cause::RateLimit, &signature, &job),
            restored.probability(Cause::RateLimit, &signature, &job)
        );
    }
    let estimate = serde_json::to_value(restored.probability(Cause::RateLimit, "sig3", "o/r~w~j3")).expect("json");
    assert_eq!(estimate["level"], "job");

    // The oldest surviving entry (sig1) is the next one out, in the original and the restored copy.
    let (mut original, mut restored) = (posteriors, restored);
    original.record(Cause::RateLimit, "sig9", "o/r~w~j9", true);
    restored.record(Cause::RateLimit, "sig9", "o/r~w~j9", true);
    assert_eq!(serde_json::to_value(&original).expect("json"), serde_json::to_value(&restored).expect("json"));
    assert_eq!(restored.probability(Cause::RateLimit, "sig1", "o/r~w~j1").level, Level::Cause);
}

#[test]
fn entries_are_capped_least_recently_updated_first() {
    let mut posteriors = Posteriors::with_limits(10, 25);
    posteriors.record(Cause::Network, "keep", "o/r~w~keep", true);
    for n in 0..200 {
        posteriors.record(Cause::Network, &format!("sig{n}"), &format!("o/r~w~j{n}"), false);
        // Updating an entry keeps it recent.
        posteriors.record(Cause::Network, "keep", "o/r~w~keep", true);
        assert!(posteriors.signature_count() <= 10 && posteriors.job_count() <= 25);
    }
    assert_eq!(posteriors.signature_count(), 10);
    assert_eq!(posteriors.job_count(), 25);
    assert_eq!(posteriors.probability(Cause::Network, "keep", "o/r~w~keep").job_counts.successes, 201);
    assert_eq!(posteriors.probability(Cause::Network, "sig0", "o/r~w~j0").level, Level::Cause);
    assert_eq!(posteriors.probability(Cause::Network, "sig199", "o/r~w~j199").level, Level::Job);
    // The cause level still counts every outcome.
    assert_eq!(posteriors.probability(Cause::Network, "sig0", "o/r~w~j0").cause_counts.total(), 401);
}

#[test]
fn a_transient_cause_is_explored_until_it_has_a_few_outcomes_then_its_mean_decides() {
    let mut p = Posteriors::new();
    // One unlucky first rerun of a timeout pulls its mean below the prior...
    p.record(Cause::Timeout, "sig", "e2e", false);
    let e = p.probability(Cause::Timeout, "sig", "e2e");
    assert!(e.mean < priors::prior(Cause::Timeout).mean());
    // ...but with so little evidence a transient failure is judged by the optimistic bound.
    let (used, exploring) = e.for_decision(true);
    assert!(exploring);
    assert!(used > e.mean && (used - e.upper).abs() < 1e-12, "{used} vs mean {}", e.mean);
    // A failure logscan calls deterministic never explores.
    assert_eq!(e.for_decision(false), (e.mean, false));
    // Once the cause has EXPLORE_OUTCOMES outcomes, its mean decides.
    for _ in 1..EXPLORE_OUTCOMES {
        p.record(Cause::Timeout, "sig", "e2e", true);
    }
    let e = p.probability(Cause::Timeout, "sig", "e2e");
    assert_eq!(e.for_decision(true), (e.mean, false));
}
