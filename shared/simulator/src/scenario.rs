//! The scenario file: what the simulated organisation looks like and what goes wrong in it.
//!
//! A scenario is TOML. Every field is documented in `docs/scenario.md`; in short:
//!
//! ```toml
//! name = "shop"
//! seed = 7                  # same seed, same history
//! days = 30                 # simulated span
//! wall_seconds = 60         # ... played in about this much wall time (or set `compression`)
//!
//! [[repos]]
//! name = "acme/shop"
//! pushes_per_day = 8        # pushes to the default branch
//! pull_requests_per_day = 3
//! fork_share = 0.25         # share of pull requests that come from forks
//!
//! [[repos.workflows]]
//! name = "CI"
//! file = "ci.yml"
//! on = ["push", "pull_request"]
//!
//! [[repos.workflows.jobs]]
//! name = "test"
//! runs_on = ["ubuntu-latest"]
//! tool = "cargo"
//! duration = { median = "6m", p95 = "9m" }
//! transient = { rate = 0.05, kinds = ["network", "flaky_test"], rerun_pass = 0.9 }
//!
//! [[breakages]]             # deterministic: fails on every run from this push on
//! repo = "acme/shop"
//! job = "test"
//! at_push = 40
//! kind = "compile"
//! fixed_after = 3           # pushes later (absent: never fixed)
//!
//! [[regressions]]           # the job gets slower from this point on
//! repo = "acme/shop"
//! job = "test"
//! at_day = 18.5
//! factor = 1.8
//! ```

use crate::failure::FailureKind;
use crate::model::Tool;
use chrono::{DateTime, Duration, Utc};
use serde::Deserialize;
use std::path::Path;

#[derive(Debug, thiserror::Error)]
pub enum ScenarioError {
    #[error("cannot read scenario {path}: {source}")]
    Read { path: String, source: std::io::Error },
    #[error("scenario {path}: {message}")]
    Parse { path: String, message: String },
    #[error("scenario {path}: {message}")]
    Invalid { path: String, message: String },
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Scenario {
    pub name: String,
    #[serde(default)]
    pub description: String,
    #[serde(default = "default_seed")]
    pub seed: u64,
    /// Simulated start; default: `days` before the moment the simulation starts.
    #[serde(default)]
    pub start: Option<DateTime<Utc>>,
    /// Simulated span in days.
    pub days: f64,
    /// Wall-clock length to aim for; sets `compression` to `days * 86400 / wall_seconds`.
    #[serde(default)]
    pub wall_seconds: Option<f64>,
    /// Simulated seconds per wall second (used when `wall_seconds` is absent; default 1 = real time).
    #[serde(default)]
    pub compression: Option<f64>,
    /// Queue delay of jobs that set none.
    #[serde(default = "default_queue")]
    pub queue: Dist,
    /// The REST side: rate limits and injected faults.
    #[serde(default)]
    pub api: ApiSettings,
    pub repos: Vec<RepoSpec>,
    #[serde(default)]
    pub breakages: Vec<Breakage>,
    #[serde(default)]
    pub regressions: Vec<Regression>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RepoSpec {
    /// `owner/name`.
    pub name: String,
    #[serde(default = "default_branch")]
    pub default_branch: String,
    #[serde(default)]
    pub pushes_per_day: f64,
    #[serde(default)]
    pub pull_requests_per_day: f64,
    /// Share of pull requests opened from forks (those trigger `pull_request_target` workflows).
    #[serde(default)]
    pub fork_share: f64,
    /// Queue delay for this repository's jobs that set none.
    #[serde(default)]
    pub queue: Option<Dist>,
    pub workflows: Vec<WorkflowSpec>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WorkflowSpec {
    pub name: String,
    /// File name under `.github/workflows/`.
    pub file: String,
    /// Triggers: `push`, `pull_request`, `pull_request_target`.
    pub on: Vec<Trigger>,
    pub jobs: Vec<JobSpec>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Trigger {
    Push,
    PullRequest,
    PullRequestTarget,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct JobSpec {
    pub name: String,
    pub runs_on: Vec<String>,
    pub tool: Tool,
    pub duration: Dist,
    #[serde(default)]
    pub queue: Option<Dist>,
    #[serde(default)]
    pub transient: Option<TransientSpec>,
    /// GitHub's `timeout-minutes` (default 360); a `timeout` failure runs this long.
    #[serde(default = "default_timeout")]
    pub timeout_minutes: u32,
}

/// Transient failures of one job: each attempt fails with probability `rate`, of one of `kinds`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TransientSpec {
    pub rate: f64,
    pub kinds: Vec<FailureKind>,
    /// Probability that a rerun of a transiently failed job passes.
    #[serde(default = "default_rerun_pass")]
    pub rerun_pass: f64,
}

/// A deterministic failure introduced by a push, failing every run of the job until fixed.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Breakage {
    pub repo: String,
    /// Limit to one workflow (by name); default: every workflow with the job.
    #[serde(default)]
    pub workflow: Option<String>,
    pub job: String,
    /// The 1-based push to the default branch that breaks it.
    pub at_push: u64,
    pub kind: FailureKind,
    /// Pushes after `at_push` that fix it again; absent: never fixed.
    #[serde(default)]
    pub fixed_after: Option<u64>,
}

/// A duration regression: the job runs `factor` times longer from `at_day` on.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Regression {
    pub repo: String,
    #[serde(default)]
    pub workflow: Option<String>,
    pub job: String,
    /// Days after the start.
    pub at_day: f64,
    pub factor: f64,
}

/// A duration distribution: log-normal from its median and 95th percentile (`p95` absent: fixed).
#[derive(Debug, Clone, Copy, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Dist {
    #[serde(deserialize_with = "de_duration")]
    pub median: Duration,
    #[serde(default, deserialize_with = "de_opt_duration")]
    pub p95: Option<Duration>,
}

impl Dist {
    pub fn sample(&self, rng: &mut crate::rng::Rng) -> Duration {
        let median = self.median.num_milliseconds().max(1) as f64;
        let value = match self.p95 {
            Some(p95) => {
                let ratio = (p95.num_milliseconds().max(1) as f64 / median).max(1.0);
                // ln(p95 / median) = 1.645 sigma for a log-normal.
                let sigma = ratio.ln() / 1.645;
                median * (sigma * rng.normal()).exp()
            }
            None => median,
        };
        Duration::milliseconds(value.round() as i64)
    }
}

/// Rate limits and faults of the simulated REST API.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ApiSettings {
    /// Requests allowed per `rate_window` (GitHub: 5,000 an hour for a token).
    #[serde(default = "default_rate_limit")]
    pub rate_limit: u64,
    /// Wall-clock length of a rate-limit window.
    #[serde(default = "default_rate_window", deserialize_with = "de_duration")]
    pub rate_window: Duration,
    /// Secondary limit: more requests than this within one wall second get 429 with `retry-after`.
    #[serde(default = "default_burst")]
    pub burst_per_second: u64,
    /// Share of requests answered with a 5xx.
    #[serde(default)]
    pub error_rate: f64,
    /// Share of requests answered slowly, and how slowly.
    #[serde(default)]
    pub slow_rate: f64,
    #[serde(default = "default_slow", deserialize_with = "de_duration")]
    pub slow: Duration,
}

impl Default for ApiSettings {
    fn default() -> Self {
        Self {
            rate_limit: default_rate_limit(),
            rate_window: default_rate_window(),
            burst_per_second: default_burst(),
            error_rate: 0.0,
            slow_rate: 0.0,
            slow: default_slow(),
        }
    }
}

fn default_seed() -> u64 {
    1
}
fn default_branch() -> String {
    "main".into()
}
fn default_timeout() -> u32 {
    360
}
fn default_rerun_pass() -> f64 {
    0.9
}
fn default_queue() -> Dist {
    Dist { median: Duration::seconds(8), p95: Some(Duration::seconds(60)) }
}
fn default_rate_limit() -> u64 {
    5000
}
fn default_rate_window() -> Duration {
    Duration::hours(1)
}
fn default_burst() -> u64 {
    100
}
fn default_slow() -> Duration {
    Duration::seconds(2)
}

/// `"90s"`, `"6m"`, `"1h30m"`, `"2d"`, `"250ms"`, or a number of seconds.
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    let text = text.trim();
    if let Ok(secs) = text.parse::<f64>() {
        return Ok(Duration::milliseconds((secs * 1000.0).round() as i64));
    }
    let mut total = 0f64;
    let mut number = String::new();
    let mut chars = text.chars().peekable();
    let mut any = false;
    while let Some(c) = chars.next() {
        if c.is_ascii_digit() || c == '.' {
            number.push(c);
            continue;
        }
        let unit = if c == 'm' && chars.peek() == Some(&'s') {
            chars.next();
            0.001
        } else {
            match c {
                's' => 1.0,
                'm' => 60.0,
                'h' => 3600.0,
                'd' => 86400.0,
                _ => return Err(format!("bad duration {text:?}: unexpected {c:?} (use e.g. 90s, 6m, 1h30m, 2d)")),
            }
        };
        let n: f64 = number.parse().map_err(|_| format!("bad duration {text:?}: a unit needs a number before it"))?;
        total += n * unit;
        number.clear();
        any = true;
    }
    if !number.is_empty() || !any {
        return Err(format!("bad duration {text:?}: give a unit (s, m, h, d, ms)"));
    }
    Ok(Duration::milliseconds((total * 1000.0).round() as i64))
}

#[derive(Deserialize)]
#[serde(untagged)]
enum DurationText {
    Seconds(f64),
    Text(String),
}

fn de_duration<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
    match DurationText::deserialize(d)? {
        DurationText::Seconds(s) => Ok(Duration::milliseconds((s * 1000.0).round() as i64)),
        DurationText::Text(t) => parse_duration(&t).map_err(serde::de::Error::custom),
    }
}

fn de_opt_duration<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<Duration>, D::Error> {
    de_duration(d).map(Some)
}

impl Scenario {
    pub fn from_file(path: &Path) -> Result<Self, ScenarioError> {
        let text = std::fs::read_to_string(path)
            .map_err(|source| ScenarioError::Read { path: path.display().to_string(), source })?;
        Self::from_toml(&text, &path.display().to_string())
    }

    /// Parses and validates; `origin` names the source in errors.
    pub fn from_toml(text: &str, origin: &str) -> Result<Self, ScenarioError> {
        let scenario: Scenario = toml::from_str(text)
            .map_err(|e| ScenarioError::Parse { path: origin.to_owned(), message: e.to_string() })?;
        scenario.validate().map_err(|message| ScenarioError::Invalid { path: origin.to_owned(), message })?;
        Ok(scenario)
    }

    /// Simulated seconds per wall second.
    pub fn compression(&self) -> f64 {
        match (self.wall_seconds, self.compression) {
            (Some(wall), _) => self.days * 86_400.0 / wall,
            (None, Some(c)) => c,
            (None, None) => 1.0,
        }
    }

    pub fn span(&self) -> Duration {
        Duration::milliseconds((self.days * 86_400_000.0) as i64)
    }

    fn validate(&self) -> Result<(), String> {
        let positive =
            |what: &str, v: f64| if v > 0.0 { Ok(()) } else { Err(format!("{what} must be positive, not {v}")) };
        positive("days", self.days)?;
        if let Some(w) = self.wall_seconds {
            positive("wall_seconds", w)?;
        }
        if let Some(c) = self.compression {
            positive("compression", c)?;
        }
        if self.repos.is_empty() {
            return Err("a scenario needs at least one [[repos]]".into());
        }
        let probability = |what: &str, p: f64| {
            if (0.0..=1.0).contains(&p) { Ok(()) } else { Err(format!("{what} must be within 0..=1, not {p}")) }
        };
        probability("api.error_rate", self.api.error_rate)?;
        probability("api.slow_rate", self.api.slow_rate)?;
        if self.api.rate_limit == 0 || self.api.burst_per_second == 0 {
            return Err("api.rate_limit and api.burst_per_second must be at least 1".into());
        }
        let mut names = std::collections::HashSet::new();
        for repo in &self.repos {
            let r = &repo.name;
            let valid =
                |s: &str| !s.is_empty() && s.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'));
            match r.split_once('/') {
                Some((owner, name)) if valid(owner) && valid(name) => {}
                _ => return Err(format!("repos.name {r:?} must be owner/name")),
            }
            if !names.insert(r.clone()) {
                return Err(format!("repository {r} is listed twice"));
            }
            if repo.pushes_per_day < 0.0 || repo.pull_requests_per_day < 0.0 {
                return Err(format!("{r}: pushes_per_day and pull_requests_per_day cannot be negative"));
            }
            probability(&format!("{r}: fork_share"), repo.fork_share)?;
            if repo.workflows.is_empty() {
                return Err(format!("{r}: needs at least one [[repos.workflows]]"));
            }
            for wf in &repo.workflows {
                if wf.jobs.is_empty() {
                    return Err(format!("{r}: workflow {} has no jobs", wf.name));
                }
                if wf.on.is_empty() {
                    return Err(format!("{r}: workflow {} has no triggers (on = [...])", wf.name));
                }
                for job in &wf.jobs {
                    let at = format!("{r}: workflow {} job {}", wf.name, job.name);
                    if job.runs_on.is_empty() {
                        return Err(format!("{at}: runs_on is empty"));
                    }
                    if job.duration.median <= Duration::zero() {
                        return Err(format!("{at}: duration.median must be positive"));
                    }
                    if let Some(t) = &job.transient {
                        probability(&format!("{at}: transient.rate"), t.rate)?;
                        probability(&format!("{at}: transient.rerun_pass"), t.rerun_pass)?;
                        if t.rate > 0.0 && t.kinds.is_empty() {
                            return Err(format!("{at}: transient.kinds is empty"));
                        }
                    }
                }
            }
        }
        for b in &self.breakages {
            self.check_target("breakages", &b.repo, b.workflow.as_deref(), &b.job)?;
            if b.at_push == 0 {
                return Err("breakages.at_push counts from 1".into());
            }
        }
        for g in &self.regressions {
            self.check_target("regressions", &g.repo, g.workflow.as_deref(), &g.job)?;
            positive("regressions.factor", g.factor)?;
        }
        Ok(())
    }

    fn check_target(&self, what: &str, repo: &str, workflow: Option<&str>, job: &str) -> Result<(), String> {
        let Some(r) = self.repos.iter().find(|r| r.name == repo) else {
            return Err(format!("{what}: no repository {repo}"));
        };
        let found = r
            .workflows
            .iter()
            .filter(|w| workflow.is_none_or(|name| w.name == name))
            .any(|w| w.jobs.iter().any(|j| j.name == job));
        if found { Ok(()) } else { Err(format!("{what}: {repo} has no job {job} in the named workflow")) }
    }
}

/// The scenario `aetherveil demo` plays: five repositories, thirty days, about a minute.
pub const DEMO: &str = include_str!("../scenarios/demo.toml");
/// The bundled healing scenario (`aetherveil sim --scenario healing`).
pub const HEALING: &str = include_str!("../scenarios/healing.toml");

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_parse_in_every_unit() {
        assert_eq!(parse_duration("90s"), Ok(Duration::seconds(90)));
        assert_eq!(parse_duration("1h30m"), Ok(Duration::minutes(90)));
        assert_eq!(parse_duration("250ms"), Ok(Duration::milliseconds(250)));
        assert_eq!(parse_duration("2d"), Ok(Duration::days(2)));
        assert_eq!(parse_duration("12"), Ok(Duration::seconds(12)));
        assert!(parse_duration("6 minutes").is_err());
        assert!(parse_duration("m").is_err());
    }

    #[test]
    fn the_demo_scenario_is_valid() {
        let s = Scenario::from_toml(DEMO, "demo").expect("valid");
        assert_eq!(s.repos.len(), 5);
        assert!(s.compression() > 10_000.0);
    }

    #[test]
    fn mistakes_are_named() {
        let typo = DEMO.replace("pushes_per_day", "pushes_per_dya");
        let e = Scenario::from_toml(&typo, "x.toml").expect_err("unknown key");
        assert!(e.to_string().contains("pushes_per_dya"), "{e}");
        let bad =
            format!("{DEMO}\n[[breakages]]\nrepo = \"nobody/here\"\njob = \"test\"\nat_push = 3\nkind = \"compile\"\n");
        let e = Scenario::from_toml(&bad, "x.toml").expect_err("unknown repo");
        assert!(e.to_string().contains("nobody/here"), "{e}");
        let bad_kind = DEMO.replacen("\"network\"", "\"gremlins\"", 1);
        let e = Scenario::from_toml(&bad_kind, "x.toml").expect_err("unknown kind");
        assert!(e.to_string().contains("gremlins"), "{e}");
    }

    #[test]
    fn log_normal_durations_match_their_median() {
        let d = Dist { median: Duration::seconds(100), p95: Some(Duration::seconds(200)) };
        let mut rng = crate::rng::Rng::new(3);
        let mut v: Vec<i64> = (0..20_001).map(|_| d.sample(&mut rng).num_milliseconds()).collect();
        v.sort_unstable();
        let median = v[10_000] as f64 / 1000.0;
        let p95 = v[19_000] as f64 / 1000.0;
        assert!((median - 100.0).abs() < 4.0, "{median}");
        assert!((p95 - 200.0).abs() < 12.0, "{p95}");
    }
}
