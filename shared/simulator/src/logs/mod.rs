//! Job logs in GitHub's raw format (what `GET /repos/{owner}/{repo}/actions/jobs/{job_id}/logs`
//! returns), with the ground truth of the failure injected into them.
//!
//! How a log is made:
//!
//! 1. `render` builds a `Ctx`: the runner (hosted or self-hosted, OS), paths, and two random
//!    streams: `layout`, derived from the repository and job name so the same job keeps the same
//!    steps and versions run after run, and `rng`, from the spec's seed, for everything that
//!    changes between runs (timings, which test fails, the wording of the failure).
//! 2. The failure kind is placed on a step role (`target_role`): a compile error on the build
//!    step, a registry outage where dependencies are fetched, a permission error on checkout,
//!    a `github-script` step or a push. The tool's `plan` (one module per tool) lists the steps,
//!    making sure that role is there.
//! 3. `drive` writes "Set up job", each step's `##[group]Run ...` header and output, stops at
//!    the failing step (later steps are skipped), then the post steps and "Complete job". A
//!    timeout cuts the step's output where it hung; a lost runner cuts it and ends the log.
//! 4. The `Writer` turns relative delays into timestamps spread over the job's duration: fixed
//!    pauses (a toolchain download) stay as they are, elastic ones (compiling, testing, a hang)
//!    share the rest. It records which lines carry the cause. A step starts at its first line
//!    and ends after its last one, so a step's lines are exactly those stamped within its times.
//!
//! Shared pieces live in `runner` (set up job, checkout, API steps, endings, Trivy) and `vocab`
//! (identifiers); each tool module holds its steps' output and its failure templates.

mod cargo;
mod docker;
mod gotest;
mod maven;
mod npm;
mod pytest;
mod runner;
mod vocab;
mod writer;

use chrono::{DateTime, Duration, Utc};

use crate::failure::FailureKind;
use crate::model::{Status, StepInfo, Tool};
use crate::rng::{Rng, fnv1a};

use writer::Writer;

/// What to render: one job of one run.
#[derive(Debug, Clone)]
pub struct LogSpec<'a> {
    pub job_name: &'a str,
    /// The build tool (cargo, npm, pytest, go test, maven, docker).
    pub tool: Tool,
    /// `runs-on` labels, e.g. `["ubuntu-latest"]` or `["self-hosted", "linux", "x64"]`.
    pub labels: &'a [String],
    /// e.g. `GitHub Actions 17` or `build-runner-3`.
    pub runner_name: &'a str,
    /// `owner/name`.
    pub repo: &'a str,
    pub head_sha: &'a str,
    pub started_at: DateTime<Utc>,
    /// How long the job ran (simulated time); line timestamps spread over it.
    pub duration: Duration,
    pub failure: Option<FailureKind>,
    /// Same spec and seed give byte-identical output.
    pub seed: u64,
}

/// A rendered job log and its ground truth.
#[derive(Debug, Clone, PartialEq)]
pub struct RenderedLog {
    pub text: String,
    /// The job's steps, all with status `Completed`, numbered from 1: "Set up job", checkout,
    /// toolchain and setup, the tool's steps, post steps (reverse order), "Complete job".
    ///
    /// On a failed job exactly one step has conclusion `failure`; later main steps are
    /// `skipped` and post steps still run (`success`). On a timeout the running step is
    /// `cancelled` instead. A lost runner never runs anything after the step it was on: later
    /// main steps are `skipped` and there are no post steps and no "Complete job".
    pub steps: Vec<StepInfo>,
    /// `success`, or the job conclusion for the failure (`FailureKind::job_conclusion`).
    pub conclusion: &'static str,
    /// 1-based line numbers in `text` of the lines that show the cause; empty on success.
    pub failure_lines: Vec<usize>,
    /// One-line description of the injected failure; empty on success.
    pub summary: String,
}

/// Render the log of one job.
pub fn render(spec: &LogSpec<'_>) -> RenderedLog {
    let mut ctx = Ctx::new(spec);
    let target = spec.failure.map(|kind| (kind, target_role(spec.tool, kind, &mut ctx.rng)));
    let (mut job, tool_steps) = match spec.tool {
        Tool::Cargo => cargo::plan(&mut ctx, target),
        Tool::Npm => npm::plan(&mut ctx, target),
        Tool::Pytest => pytest::plan(&mut ctx, target),
        Tool::GoTest => gotest::plan(&mut ctx, target),
        Tool::Maven => maven::plan(&mut ctx, target),
        Tool::Docker => docker::plan(&mut ctx, target),
    };
    let mut steps = Vec::with_capacity(tool_steps.len() + 2);
    let checkout = runner::checkout_step(&mut ctx, target);
    if checkout.variant == 2 {
        // A second checkout (of another repository) comes after the job's own.
        let mut own = runner::checkout_step(&mut ctx, None);
        own.variant = 0;
        if let Header::Uses { with, .. } = &mut own.header {
            for (k, v) in with.iter_mut() {
                if k == "repository" {
                    *v = spec.repo.to_string();
                } else if k == "submodules" {
                    *v = "false".to_string();
                }
            }
        }
        steps.push(own);
    }
    steps.push(checkout);
    steps.extend(tool_steps);
    if matches!(target, Some((_, Role::Script))) || ctx.layout.chance(0.12) {
        steps.push(runner::script_step(&mut ctx));
    }
    let failing = target.map(|(kind, role)| {
        let idx = if role == Role::Checkout {
            steps.iter().rposition(|s| s.role == Role::Checkout)
        } else {
            steps.iter().position(|s| s.role == role)
        };
        let idx = idx.unwrap_or(steps.len() - 1);
        let outcome = match kind {
            FailureKind::Timeout => Outcome::Hang,
            FailureKind::RunnerLost => Outcome::Lost,
            k => Outcome::Fail(k),
        };
        (idx, outcome)
    });
    let execs = drive(&mut ctx, job.as_mut(), &steps, failing);

    let Ctx { w, summary, .. } = ctx;
    let finished = w.finish(spec.started_at, spec.duration);
    let at = |i: usize| spec.started_at + Duration::nanoseconds(finished.ticks[i] * 100);
    let mut infos = Vec::with_capacity(execs.len());
    let mut last_end = spec.started_at;
    for (n, e) in execs.iter().enumerate() {
        let (started, completed) = match e.lines {
            Some((first, end)) if end > first => (at(first), at(end - 1)),
            _ => (last_end, last_end),
        };
        last_end = completed;
        infos.push(StepInfo {
            number: n as u32 + 1,
            name: e.name.clone(),
            status: Status::Completed,
            conclusion: Some(e.conclusion.to_string()),
            started_at: Some(started),
            completed_at: Some(completed),
        });
    }
    RenderedLog {
        text: finished.text,
        steps: infos,
        conclusion: spec.failure.map_or("success", FailureKind::job_conclusion),
        failure_lines: if spec.failure.is_some() {
            finished.causes.iter().map(|i| i + 1).collect()
        } else {
            Vec::new()
        },
        summary: if spec.failure.is_some() { summary } else { String::new() },
    }
}

/// What a step is for; failure kinds are placed on roles.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Role {
    Checkout,
    Toolchain,
    Cache,
    Login,
    Deps,
    Build,
    Lint,
    Test,
    Audit,
    Publish,
    Script,
}

/// How a step's `##[group]Run ...` header looks.
#[derive(Debug, Clone)]
pub(crate) enum Header {
    /// `uses: owner/action@ref` with its `with:` inputs.
    Uses { action: String, with: Vec<(String, String)> },
    /// `run:` with its script lines.
    Run { script: Vec<String> },
}

/// One main step of the job.
#[derive(Debug, Clone)]
pub(crate) struct StepDef {
    pub role: Role,
    /// The step's name in the API.
    pub name: String,
    pub header: Header,
    /// Step-level `env:`.
    pub env: Vec<(String, String)>,
    /// The action registers a post step.
    pub post: bool,
    /// Tool-specific choice (which linter, which test runner, ...).
    pub variant: u8,
}

impl StepDef {
    pub fn run(role: Role, name: Option<&str>, script: &[&str]) -> Self {
        let script: Vec<String> = script.iter().map(|s| s.to_string()).collect();
        let name = match name {
            Some(n) => n.to_string(),
            None => format!("Run {}", script.first().map_or("", String::as_str)),
        };
        Self { role, name, header: Header::Run { script }, env: Vec::new(), post: false, variant: 0 }
    }

    pub fn uses(role: Role, name: Option<&str>, action: String, with: &[(&str, &str)]) -> Self {
        let name = match name {
            Some(n) => n.to_string(),
            None => format!("Run {action}"),
        };
        let with = with.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        Self { role, name, header: Header::Uses { action, with }, env: Vec::new(), post: false, variant: 0 }
    }

    pub fn with_post(mut self) -> Self {
        self.post = true;
        self
    }

    pub fn with_variant(mut self, v: u8) -> Self {
        self.variant = v;
        self
    }

    pub fn with_env(mut self, k: &str, v: &str) -> Self {
        self.env.push((k.to_string(), v.to_string()));
        self
    }

    /// The first script line, or the action reference.
    pub fn command(&self) -> &str {
        match &self.header {
            Header::Run { script } => script.first().map_or("", String::as_str),
            Header::Uses { action, .. } => action,
        }
    }
}

/// How a main step ends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Outcome {
    Pass,
    Fail(FailureKind),
    /// It hangs until the job's timeout (only the start of its output is written).
    Hang,
    /// The runner vanishes while it runs.
    Lost,
}

/// A tool's steps: their output and their post steps.
pub(crate) trait ToolJob {
    /// The output of a main step after its header. On `Fail` it ends with the `##[error]` line.
    fn emit(&mut self, ctx: &mut Ctx<'_>, step: &StepDef, outcome: Outcome);
    /// A line showing what was running when the job hung in `step` (after its output was cut).
    fn hang_hint(&mut self, _ctx: &mut Ctx<'_>, _step: &StepDef) {}
    /// Whether a hang in `step` comes after all its output (a process that will not exit).
    fn hangs_after_output(&self, _step: &StepDef) -> bool {
        false
    }
    /// Whether the tool writes a hang in `step` itself (`emit` with `Outcome::Hang`: the output
    /// up to where it stalls, with the line that shows what stalled marked as a cause).
    fn writes_own_hang(&self, _step: &StepDef) -> bool {
        false
    }
    /// The output of the post step registered by `step`.
    fn post(&mut self, ctx: &mut Ctx<'_>, step: &StepDef, job_failed: bool);
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Os {
    Linux,
    Mac,
    Windows,
}

/// How many flaky tests a job has (see [`Ctx::failing_test`]).
const FLAKY_TESTS: u64 = 2;

/// Everything a template needs while writing one log.
pub(crate) struct Ctx<'s> {
    pub spec: &'s LogSpec<'s>,
    /// Per-run randomness (from the seed).
    pub rng: Rng,
    /// Per-job randomness (from repository and job name): the same job keeps its shape.
    pub layout: Rng,
    /// The hash of repository and job name that seeds `layout`.
    job_key: u64,
    pub w: Writer,
    pub os: Os,
    pub hosted: bool,
    pub arm: bool,
    pub owner: &'s str,
    pub name: &'s str,
    /// The package / crate / module name of the project.
    pub project: String,
    pub home: String,
    /// The workspace (`/home/runner/work/name/name`).
    pub ws: String,
    /// `RUNNER_TEMP`.
    pub temp: String,
    pub toolcache: String,
    pub branch: &'static str,
    /// Actions are pinned by commit SHA.
    pub pinned: bool,
    /// Job-level environment shown in every `run` step's header (setup actions add to it).
    pub env: Vec<(String, String)>,
    pub summary: String,
}

impl<'s> Ctx<'s> {
    fn new(spec: &'s LogSpec<'s>) -> Self {
        let labels: Vec<String> = spec.labels.iter().map(|l| l.to_ascii_lowercase()).collect();
        let has = |s: &str| labels.iter().any(|l| l.contains(s));
        let os = if has("windows") {
            Os::Windows
        } else if has("macos") || has("mac-") {
            Os::Mac
        } else {
            Os::Linux
        };
        let hosted = crate::model::is_hosted(spec.labels);
        let arm = has("arm");
        let (owner, name) = vocab::split_repo(spec.repo);
        let job_key = fnv1a(spec.repo.as_bytes()) ^ fnv1a(spec.job_name.as_bytes()).rotate_left(17);
        let mut layout = Rng::derive(job_key, spec.tool.label());
        let mut rng = Rng::derive(spec.seed, spec.tool.label());
        let label_key = labels.join(",");
        let jitter_seed = Rng::derive(spec.seed, &label_key).next_u64();
        let (home, ws, temp, toolcache) = match (os, hosted) {
            (Os::Windows, _) => (
                "C:\\Users\\runneradmin".to_string(),
                format!("D:\\a\\{name}\\{name}"),
                "D:\\a\\_temp".to_string(),
                "C:\\hostedtoolcache\\windows".to_string(),
            ),
            (Os::Mac, _) => (
                "/Users/runner".to_string(),
                format!("/Users/runner/work/{name}/{name}"),
                "/Users/runner/work/_temp".to_string(),
                "/Users/runner/hostedtoolcache".to_string(),
            ),
            (Os::Linux, true) => (
                "/home/runner".to_string(),
                format!("/home/runner/work/{name}/{name}"),
                "/home/runner/work/_temp".to_string(),
                "/opt/hostedtoolcache".to_string(),
            ),
            (Os::Linux, false) => {
                let user = *layout.pick(&["runner", "ubuntu", "ci", "github", "actions"]);
                let root = format!("/home/{user}/actions-runner/_work");
                (
                    format!("/home/{user}"),
                    format!("{root}/{name}/{name}"),
                    format!("{root}/_temp"),
                    format!("{root}/_tool"),
                )
            }
        };
        let branch = if layout.chance(0.8) { "main" } else { "master" };
        let pinned = layout.chance(0.3);
        // Burn a value so the per-run stream does not start where the layout stream does for equal inputs.
        rng.next_u64();
        Self {
            spec,
            rng,
            layout,
            job_key,
            w: Writer::new(jitter_seed),
            os,
            hosted,
            arm,
            owner,
            name,
            project: vocab::slug(name),
            home,
            ws,
            temp,
            toolcache,
            branch,
            pinned,
            env: Vec::new(),
            summary: String::new(),
        }
    }

    /// The randomness that picks which test fails (file, then test, then its name where the tool
    /// makes one up). Failing tests are properties of the code, not of the run: a breakage fails
    /// the same test on every run until it is fixed, and a job's flaky failures come from its few
    /// flaky tests (`FLAKY_TESTS`), whatever the run. Other failures in tests (an OOM) pick freely.
    pub fn failing_test(&mut self, kind: Option<FailureKind>) -> Rng {
        match kind {
            Some(FailureKind::TestFailure) => Rng::derive(self.job_key, "broken test"),
            Some(FailureKind::FlakyTest) => {
                let which = self.rng.range(0, FLAKY_TESTS - 1);
                Rng::derive(self.job_key ^ which.rotate_left(32), "flaky test")
            }
            _ => Rng::new(self.rng.next_u64()),
        }
    }

    /// `actions/checkout@v4`, or pinned by SHA.
    pub fn action(&self, name: &str, version: &str) -> String {
        if self.pinned { format!("{name}@{}", vocab::stable_sha(name)) } else { format!("{name}@{version}") }
    }

    pub fn shell(&self) -> &'static str {
        match self.os {
            Os::Windows => "C:\\Program Files\\PowerShell\\7\\pwsh.EXE -command \". '{0}'\"",
            Os::Mac => "/bin/bash -e {0}",
            Os::Linux => "/usr/bin/bash -e {0}",
        }
    }

    /// `x64` / `arm64` as actions spell it.
    pub fn arch(&self) -> &'static str {
        if self.arm { "arm64" } else { "x64" }
    }

    /// `linux` / `darwin` / `windows` as Go and Node spell it.
    pub fn goos(&self) -> &'static str {
        match self.os {
            Os::Linux => "linux",
            Os::Mac => "darwin",
            Os::Windows => "windows",
        }
    }

    /// `##[error]Process completed with exit code N.`
    pub fn exit(&mut self, code: i32) {
        self.w.errorf(format_args!("Process completed with exit code {code}."));
    }

    /// What bash prints when the kernel's OOM killer takes the step's command.
    pub fn killed(&mut self, command: &str) {
        let id = vocab::uuid(&mut self.rng);
        let pid = vocab::pid(&mut self.rng);
        self.w.causef(format_args!("{}/{id}.sh: line 1: {pid} Killed                  {command}", self.temp));
    }

    /// The one-line description of the injected failure.
    pub fn set_summary(&mut self, s: String) {
        self.summary = if s.contains('\n') { s.split_whitespace().collect::<Vec<_>>().join(" ") } else { s };
    }
}

/// Where a failure kind shows up for a tool.
fn target_role(tool: Tool, kind: FailureKind, rng: &mut Rng) -> Role {
    use FailureKind as K;
    let deps = match tool {
        Tool::Cargo | Tool::Maven | Tool::Docker => Role::Build,
        Tool::Npm | Tool::Pytest | Tool::GoTest => Role::Deps,
    };
    let build_or_test = |rng: &mut Rng| match tool {
        Tool::Maven | Tool::Docker => Role::Build,
        Tool::Pytest => Role::Test,
        _ => *rng.pick(&[Role::Build, Role::Test]),
    };
    match kind {
        K::Compile => match tool {
            Tool::Pytest => {
                if rng.chance(0.3) {
                    Role::Build
                } else {
                    Role::Test
                }
            }
            Tool::GoTest => *rng.pick(&[Role::Build, Role::Test]),
            _ => Role::Build,
        },
        // Maven runs the tests inside `mvn verify` (surefire), Docker inside the image build.
        K::TestFailure | K::FlakyTest => match tool {
            Tool::Docker | Tool::Maven => Role::Build,
            _ => Role::Test,
        },
        K::Network => {
            if rng.chance(0.2) {
                Role::Checkout
            } else {
                deps
            }
        }
        K::Registry | K::DependencyResolution => deps,
        K::Oom | K::RunnerLost => build_or_test(rng),
        K::DiskFull => match tool {
            Tool::Npm | Tool::Pytest => *rng.pick(&[Role::Deps, Role::Test]),
            Tool::GoTest => *rng.pick(&[Role::Deps, Role::Build, Role::Test]),
            _ => build_or_test(rng),
        },
        K::Timeout => match tool {
            Tool::Maven | Tool::Docker => Role::Build,
            _ => Role::Test,
        },
        K::Permission => {
            let x = rng.unit();
            if x < 0.2 {
                Role::Checkout
            } else if x < 0.45 {
                Role::Script
            } else {
                match tool {
                    Tool::Cargo => Role::Build,
                    Tool::Npm | Tool::Pytest | Tool::GoTest => Role::Deps,
                    Tool::Maven => *rng.pick(&[Role::Publish, Role::Build]),
                    Tool::Docker => *rng.pick(&[Role::Login, Role::Build]),
                }
            }
        }
        K::Lint => {
            if tool == Tool::Maven && rng.chance(0.4) {
                Role::Build
            } else {
                Role::Lint
            }
        }
        K::SecurityGate => Role::Audit,
    }
}

/// A step as it ran: its line range and conclusion.
struct Exec {
    name: String,
    lines: Option<(usize, usize)>,
    conclusion: &'static str,
}

fn drive(ctx: &mut Ctx<'_>, job: &mut dyn ToolJob, steps: &[StepDef], failing: Option<(usize, Outcome)>) -> Vec<Exec> {
    let mut execs = Vec::with_capacity(steps.len() * 2 + 2);
    let first = ctx.w.mark();
    runner::set_up_job(ctx, steps);
    ctx.w.settle();
    execs.push(Exec { name: "Set up job".to_string(), lines: Some((first, ctx.w.mark())), conclusion: "success" });

    let mut ran = Vec::with_capacity(steps.len());
    let mut stopped = false;
    let mut lost = false;
    for (i, step) in steps.iter().enumerate() {
        if stopped {
            execs.push(Exec { name: step.name.clone(), lines: None, conclusion: "skipped" });
            continue;
        }
        let outcome = match failing {
            Some((idx, o)) if idx == i => o,
            _ => Outcome::Pass,
        };
        let wait = 0.05 + ctx.rng.unit() * 0.4;
        ctx.w.wait(wait);
        let first = ctx.w.mark();
        runner::header(ctx, step);
        let body = ctx.w.mark();
        let conclusion = match outcome {
            Outcome::Pass => {
                emit(ctx, job, step, Outcome::Pass);
                if step.role == Role::Toolchain {
                    runner::occasional_warning(ctx);
                }
                "success"
            }
            Outcome::Fail(kind) => {
                let errors = ctx.w.errors();
                emit(ctx, job, step, Outcome::Fail(kind));
                if ctx.w.errors() == errors {
                    ctx.exit(1);
                }
                stopped = true;
                "failure"
            }
            Outcome::Hang if job.writes_own_hang(step) => {
                emit(ctx, job, step, Outcome::Hang);
                stopped = true;
                runner::timed_out(ctx);
                "cancelled"
            }
            Outcome::Hang | Outcome::Lost => {
                emit(ctx, job, step, Outcome::Pass);
                let points = ctx.w.cut_points(body, ctx.w.mark());
                // Keep between a fifth and four fifths of the step's output.
                let cut = if outcome == Outcome::Hang && job.hangs_after_output(step) {
                    ctx.w.mark()
                } else if points.is_empty() {
                    body
                } else {
                    let lo = points.len() / 5;
                    let hi = (points.len() * 4 / 5).max(lo);
                    points[ctx.rng.range(lo as u64, hi as u64) as usize]
                };
                ctx.w.truncate(cut);
                stopped = true;
                if outcome == Outcome::Hang {
                    job.hang_hint(ctx, step);
                    runner::timed_out(ctx);
                    "cancelled"
                } else {
                    ctx.set_summary(format!("\"{}\"", step.name));
                    runner::lost(ctx);
                    lost = true;
                    "failure"
                }
            }
        };
        ctx.w.settle();
        ran.push(i);
        execs.push(Exec { name: step.name.clone(), lines: Some((first, ctx.w.mark())), conclusion });
    }
    if lost {
        return execs;
    }
    let job_failed = failing.is_some();
    for &i in ran.iter().rev() {
        let step = &steps[i];
        if !step.post {
            continue;
        }
        let wait = 0.02 + ctx.rng.unit() * 0.3;
        ctx.w.wait(wait);
        let first = ctx.w.mark();
        ctx.w.out("Post job cleanup.");
        if step.role == Role::Checkout {
            runner::post_checkout(ctx);
        } else {
            job.post(ctx, step, job_failed);
        }
        ctx.w.settle();
        execs.push(Exec {
            name: format!("Post {}", step.name),
            lines: Some((first, ctx.w.mark())),
            conclusion: "success",
        });
    }
    ctx.w.wait(0.1 + ctx.rng.unit() * 0.3);
    let first = ctx.w.mark();
    runner::complete_job(ctx);
    ctx.w.settle();
    execs.push(Exec { name: "Complete job".to_string(), lines: Some((first, ctx.w.mark())), conclusion: "success" });
    execs
}

fn emit(ctx: &mut Ctx<'_>, job: &mut dyn ToolJob, step: &StepDef, outcome: Outcome) {
    match step.role {
        Role::Checkout => runner::checkout(ctx, step, outcome),
        Role::Script => runner::script(ctx, step, outcome),
        _ => job.emit(ctx, step, outcome),
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashSet;

    use chrono::TimeZone as _;

    use super::*;

    const RUNNERS: &[&str] = &["GitHub Actions 17", "GitHub Actions 3", "GitHub Actions 1000002345"];
    const SELF_HOSTED: &[&str] = &["build-runner-3", "ci-arm-07", "gpu-box-1"];

    struct Owned {
        labels: Vec<String>,
        runner: String,
        duration: Duration,
        job: String,
    }

    /// A spec as a scenario would make it: labels, runner and duration vary with the seed.
    fn owned(tool: Tool, seed: u64) -> Owned {
        let mut r = Rng::new(seed ^ 0xfeed);
        let self_hosted = r.chance(0.3);
        let labels: Vec<String> = if self_hosted {
            vec!["self-hosted".into(), "linux".into(), if r.chance(0.5) { "x64".into() } else { "ARM64".into() }]
        } else {
            vec![(*r.pick(&["ubuntu-latest", "ubuntu-22.04", "ubuntu-24.04", "macos-14", "windows-latest"])).into()]
        };
        let runner = if self_hosted { *r.pick(SELF_HOSTED) } else { *r.pick(RUNNERS) };
        Owned {
            labels,
            runner: runner.to_string(),
            duration: Duration::seconds(r.range(90, 3600) as i64),
            job: format!("{} ({})", *r.pick(&["build", "test", "ci", "check"]), tool.label()),
        }
    }

    fn spec<'a>(o: &'a Owned, tool: Tool, failure: Option<FailureKind>, seed: u64) -> LogSpec<'a> {
        LogSpec {
            job_name: &o.job,
            tool,
            labels: &o.labels,
            runner_name: &o.runner,
            repo: "acme-corp/billing-service",
            head_sha: "4f2c9e1d0b7a6c5e3f2a1b0c9d8e7f6a5b4c3d2e",
            started_at: Utc.with_ymd_and_hms(2026, 11, 27, 14, 3, 7).single().expect("valid date"),
            duration: o.duration,
            failure,
            seed,
        }
    }

    fn kinds() -> impl Iterator<Item = Option<FailureKind>> {
        std::iter::once(None).chain(FailureKind::ALL.into_iter().map(Some))
    }

    /// Is `line` `2026-11-27T14:03:07.1234567Z ` followed by the text?
    fn stamp(line: &str) -> Option<DateTime<Utc>> {
        let b = line.as_bytes();
        if b.len() < 29 || b[10] != b'T' || b[19] != b'.' || b[27] != b'Z' || b[28] != b' ' {
            return None;
        }
        if !b[20..27].iter().all(u8::is_ascii_digit) {
            return None;
        }
        DateTime::parse_from_rfc3339(&line[..28]).ok().map(|d| d.with_timezone(&Utc))
    }

    fn body(line: &str) -> &str {
        &line[29..]
    }

    #[test]
    fn every_kind_and_tool_renders_a_well_formed_log() {
        for tool in Tool::ALL {
            for kind in kinds() {
                for seed in 0..10u64 {
                    let o = owned(tool, seed);
                    let s = spec(&o, tool, kind, seed);
                    let log = render(&s);
                    let ctx = format!("{tool:?} {kind:?} seed {seed}");
                    let lines: Vec<&str> = log.text.lines().collect();
                    assert!(lines.len() > 40, "{ctx}: only {} lines", lines.len());
                    let end = s.started_at + s.duration;
                    let mut prev = s.started_at;
                    let mut depth = 0i32;
                    for (n, line) in lines.iter().enumerate() {
                        let t =
                            stamp(line).unwrap_or_else(|| panic!("{ctx}: line {} has no timestamp: {line:?}", n + 1));
                        assert!(t >= prev && t <= end, "{ctx}: line {} at {t} outside [{prev}, {end}]", n + 1);
                        prev = t;
                        let b = body(line);
                        if b.starts_with("##[group]") {
                            depth += 1;
                            assert_eq!(depth, 1, "{ctx}: nested group at line {}", n + 1);
                        } else if b.starts_with("##[endgroup]") {
                            depth -= 1;
                            assert_eq!(depth, 0, "{ctx}: unbalanced endgroup at line {}", n + 1);
                        }
                        assert!(
                            !b.contains('\r') && !b.contains('\u{1}'),
                            "{ctx}: stray control character at line {}",
                            n + 1
                        );
                    }
                    assert_eq!(depth, 0, "{ctx}: group left open");
                    assert!(log.text.ends_with('\n'), "{ctx}");
                    let errors = lines.iter().filter(|l| body(l).starts_with("##[error]")).count();
                    match kind {
                        None => {
                            assert_eq!(errors, 0, "{ctx}: success log with ##[error]");
                            assert!(log.failure_lines.is_empty(), "{ctx}");
                            assert!(log.summary.is_empty(), "{ctx}");
                            assert_eq!(log.conclusion, "success");
                        }
                        Some(k) => {
                            assert!(errors > 0, "{ctx}: failing log without ##[error]");
                            assert!(!log.failure_lines.is_empty(), "{ctx}: no failure lines");
                            assert!(log.failure_lines.iter().all(|&n| n >= 1 && n <= lines.len()), "{ctx}");
                            assert!(log.failure_lines.windows(2).all(|w| w[0] < w[1]), "{ctx}: unsorted");
                            assert!(
                                log.failure_lines.len() * 3 < lines.len(),
                                "{ctx}: {} of {} lines marked as the cause",
                                log.failure_lines.len(),
                                lines.len()
                            );
                            assert!(!log.summary.is_empty() && !log.summary.contains('\n'), "{ctx}: {:?}", log.summary);
                            assert_eq!(log.conclusion, k.job_conclusion());
                        }
                    }
                }
            }
        }
    }

    #[test]
    fn same_seed_same_text_and_different_seeds_differ() {
        for tool in Tool::ALL {
            for kind in kinds() {
                let o = owned(tool, 1);
                let a = render(&spec(&o, tool, kind, 11));
                let b = render(&spec(&o, tool, kind, 11));
                let c = render(&spec(&o, tool, kind, 12));
                assert_eq!(a, b, "{tool:?} {kind:?}");
                assert_ne!(a.text, c.text, "{tool:?} {kind:?}");
            }
        }
    }

    /// For each kind and tool, over 40 runs, no single cause line (without its timestamp) is in
    /// every render. The runner's generic `Process completed with exit code N.` is left out: it
    /// is the same for every failure of a tool that exits with the same code.
    #[test]
    fn failure_wording_varies_across_seeds() {
        let mut problems = Vec::new();
        for kind in FailureKind::ALL {
            for tool in Tool::ALL {
                let mut common: Option<HashSet<String>> = None;
                let mut summaries = HashSet::new();
                for seed in 0..40u64 {
                    let o = owned(tool, seed);
                    let log = render(&spec(&o, tool, Some(kind), seed * 7919 + 1));
                    let lines: Vec<&str> = log.text.lines().collect();
                    let causes: HashSet<String> = log
                        .failure_lines
                        .iter()
                        .map(|&n| body(lines[n - 1]).to_string())
                        .filter(|l| !l.starts_with("##[error]Process completed with exit code"))
                        .collect();
                    summaries.insert(log.summary.clone());
                    common = Some(match common {
                        None => causes,
                        Some(c) => c.intersection(&causes).cloned().collect(),
                    });
                }
                let common = common.unwrap_or_default();
                if !common.is_empty() {
                    problems.push(format!("{kind:?} {tool:?}: in every render: {common:?}"));
                }
                if summaries.len() <= 10 {
                    problems
                        .push(format!("{kind:?} {tool:?}: only {} distinct summaries: {summaries:?}", summaries.len()));
                }
            }
        }
        assert!(problems.is_empty(), "{}", problems.join("\n"));
    }

    #[test]
    fn failure_lines_carry_the_cause() {
        // Spot checks that the marked lines are the telling ones, per kind.
        let needles: &[(FailureKind, &[&str])] = &[
            (
                FailureKind::Compile,
                &["error", "-->", "cannot find", "undefined", "TS", "SyntaxError", "ImportError", "COMPILATION"],
            ),
            (FailureKind::Oom, &["Killed", "SIGKILL", "137", "killed", "heap", "terminated", "OutOfMemory"]),
            (FailureKind::DiskFull, &["No space left", "no space left", "ENOSPC", "Errno 28", "nospc"]),
            (FailureKind::Timeout, &["exceeded the maximum execution time"]),
            (FailureKind::RunnerLost, &["shutdown signal", "lost communication", "Disconnect"]),
        ];
        for tool in Tool::ALL {
            for (kind, words) in needles {
                for seed in 0..12u64 {
                    let o = owned(tool, seed);
                    let log = render(&spec(&o, tool, Some(*kind), seed));
                    let lines: Vec<&str> = log.text.lines().collect();
                    let hit = log.failure_lines.iter().any(|&n| words.iter().any(|w| lines[n - 1].contains(w)));
                    assert!(
                        hit,
                        "{tool:?} {kind:?} seed {seed}: causes {:?}",
                        log.failure_lines.iter().map(|&n| lines[n - 1]).collect::<Vec<_>>()
                    );
                }
            }
        }
    }

    #[test]
    fn steps_are_consistent_with_the_log() {
        for tool in Tool::ALL {
            for kind in kinds() {
                for seed in 0..10u64 {
                    let o = owned(tool, seed);
                    let s = spec(&o, tool, kind, seed);
                    let log = render(&s);
                    let ctx = format!("{tool:?} {kind:?} seed {seed}");
                    let steps = &log.steps;
                    assert_eq!(steps[0].name, "Set up job", "{ctx}");
                    assert!(steps.iter().enumerate().all(|(i, st)| st.number == i as u32 + 1), "{ctx}");
                    assert!(steps.iter().all(|st| st.status == Status::Completed), "{ctx}");
                    let end = s.started_at + s.duration;
                    let mut prev = s.started_at;
                    for st in steps {
                        let (a, b) = (st.started_at.expect("started"), st.completed_at.expect("completed"));
                        assert!(a <= b && a >= s.started_at && b <= end, "{ctx}: {} [{a}, {b}]", st.name);
                        assert!(a >= prev, "{ctx}: {} starts before the previous step ended", st.name);
                        prev = b;
                    }
                    let conclusions: Vec<&str> =
                        steps.iter().map(|st| st.conclusion.as_deref().unwrap_or("")).collect();
                    let count = |c: &str| conclusions.iter().filter(|x| **x == c).count();
                    let lost = kind == Some(FailureKind::RunnerLost);
                    if lost {
                        assert_ne!(steps.last().map(|st| st.name.as_str()), Some("Complete job"), "{ctx}");
                        assert!(steps.iter().all(|st| !st.name.starts_with("Post ")), "{ctx}");
                    } else {
                        assert_eq!(steps.last().map(|st| st.name.as_str()), Some("Complete job"), "{ctx}");
                        assert!(steps.iter().any(|st| st.name.starts_with("Post ")), "{ctx}: no post steps");
                    }
                    match kind {
                        None => assert!(conclusions.iter().all(|c| *c == "success"), "{ctx}: {conclusions:?}"),
                        Some(FailureKind::Timeout) => {
                            assert_eq!(count("cancelled"), 1, "{ctx}: {conclusions:?}");
                            assert_eq!(count("failure"), 0, "{ctx}: {conclusions:?}");
                        }
                        Some(_) => {
                            assert_eq!(count("failure"), 1, "{ctx}: {conclusions:?}");
                            assert_eq!(count("cancelled"), 0, "{ctx}: {conclusions:?}");
                        }
                    }
                    if let Some(at) = conclusions.iter().position(|c| *c == "failure" || *c == "cancelled") {
                        for (st, c) in steps.iter().zip(&conclusions).skip(at + 1) {
                            if st.name.starts_with("Post ") || st.name == "Complete job" {
                                assert_eq!(*c, "success", "{ctx}: {}", st.name);
                            } else {
                                assert_eq!(*c, "skipped", "{ctx}: {}", st.name);
                            }
                        }
                        // The cause is written while the failing step runs (or, for a lost
                        // runner, when GitHub gives up on it).
                        let failing = &steps[at];
                        let lines: Vec<&str> = log.text.lines().collect();
                        let first = stamp(lines[log.failure_lines[0] - 1]).expect("stamped");
                        assert!(first >= failing.started_at.expect("started"), "{ctx}");
                        let last = stamp(lines[*log.failure_lines.last().expect("cause") - 1]).expect("stamped");
                        assert!(
                            last <= failing.completed_at.expect("completed"),
                            "{ctx}: cause after {}",
                            failing.name
                        );
                    }
                }
            }
        }
    }

    /// A step's lines are exactly those stamped within its `[started_at, completed_at]`, so the
    /// per-step files of a run's log archive can be cut from the job log by time.
    #[test]
    fn step_times_partition_the_lines() {
        for tool in Tool::ALL {
            for kind in kinds() {
                for seed in 0..4u64 {
                    let o = owned(tool, seed);
                    let log = render(&spec(&o, tool, kind, seed));
                    let ctx = format!("{tool:?} {kind:?} seed {seed}");
                    let stamps: Vec<DateTime<Utc>> = log.text.lines().map(|l| stamp(l).expect("stamped")).collect();
                    let mut owner = vec![None; stamps.len()];
                    for st in log.steps.iter().filter(|st| st.conclusion.as_deref() != Some("skipped")) {
                        let (a, b) = (st.started_at.expect("started"), st.completed_at.expect("completed"));
                        for (i, t) in stamps.iter().enumerate() {
                            if *t >= a && *t <= b {
                                assert!(owner[i].is_none(), "{ctx}: line {} in two steps", i + 1);
                                owner[i] = Some(st.number);
                            }
                        }
                    }
                    assert!(owner.iter().all(Option::is_some), "{ctx}: a line outside every step");
                    assert!(owner.windows(2).all(|w| w[0] <= w[1]), "{ctx}: steps interleave");
                }
            }
        }
    }

    #[test]
    fn the_same_job_keeps_its_steps_across_runs() {
        for tool in Tool::ALL {
            let o = owned(tool, 5);
            let names =
                |seed| render(&spec(&o, tool, None, seed)).steps.into_iter().map(|s| s.name).collect::<Vec<_>>();
            assert_eq!(names(1), names(2), "{tool:?}");
        }
    }

    #[test]
    fn timeout_names_the_runner_and_limit() {
        let o = Owned {
            labels: vec!["ubuntu-latest".into()],
            runner: "GitHub Actions 42".into(),
            duration: Duration::minutes(30) + Duration::seconds(20),
            job: "test".into(),
        };
        for tool in Tool::ALL {
            let log = render(&spec(&o, tool, Some(FailureKind::Timeout), 3));
            assert!(
                log.text.contains(
                    "##[error]The job running on runner GitHub Actions 42 has exceeded the maximum execution time of 30 minutes."
                ),
                "{tool:?}"
            );
        }
    }

    /// `LOG_TOOL=cargo LOG_KIND=compile LOG_SEED=3 cargo test -p aetherveil-simulator --lib print_a_log -- --ignored --nocapture`
    #[test]
    #[ignore = "prints a log for eyeballing"]
    fn print_a_log() {
        let tool = std::env::var("LOG_TOOL")
            .ok()
            .and_then(|t| Tool::ALL.into_iter().find(|x| x.label() == t))
            .unwrap_or(Tool::Cargo);
        let kind = std::env::var("LOG_KIND").ok().and_then(|k| FailureKind::from_label(&k));
        let seed = std::env::var("LOG_SEED").ok().and_then(|s| s.parse().ok()).unwrap_or(1);
        let o = owned(tool, seed);
        let log = render(&spec(&o, tool, kind, seed));
        print!("{}", log.text);
        println!("---- conclusion {} summary {:?}", log.conclusion, log.summary);
        let lines: Vec<&str> = log.text.lines().collect();
        for n in &log.failure_lines {
            println!("cause {n}: {}", lines[n - 1]);
        }
        for s in &log.steps {
            println!("step {} {:?} {:?} {:?}..{:?}", s.number, s.name, s.conclusion, s.started_at, s.completed_at);
        }
    }
}
