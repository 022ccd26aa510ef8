//! What the runner and the common actions write whatever the tool: "Set up job", step headers,
//! `actions/checkout` and its post step, a `github-script` / `gh` step, "Complete job", the
//! endings of a timed-out job and of a lost runner, and Trivy's report table.

use chrono::{Datelike as _, Duration};

use crate::failure::FailureKind;

use super::vocab::{self, pick};
use super::writer::NOW;
use super::{Ctx, Header, Os, Outcome, Role, StepDef};

const RUNNER_VERSIONS: &[&str] = &["2.319.1", "2.320.0", "2.321.0", "2.322.0", "2.323.0"];
const GIT_VERSIONS: &[&str] = &["2.45.2", "2.46.0", "2.47.1", "2.48.1"];

/// The "Set up job" step: runner, image, token permissions, action downloads.
pub(crate) fn set_up_job(ctx: &mut Ctx<'_>, steps: &[StepDef]) {
    let spec = ctx.spec;
    let labels = if spec.labels.is_empty() { "ubuntu-latest".to_string() } else { spec.labels.join(", ") };
    let workflow = pick(&mut ctx.layout, &["ci.yml", "build.yml", "test.yml", "main.yml", "checks.yml"]);
    ctx.w.outf(format_args!("Requested labels: {labels}"));
    ctx.w.outf(format_args!("Job defined at: {}/.github/workflows/{workflow}@refs/heads/{}", spec.repo, ctx.branch));
    ctx.w.out("Waiting for a runner to pick up this job...");
    ctx.w.wait(0.5 + ctx.rng.unit() * 3.0);
    if ctx.hosted {
        ctx.w.out("Job is waiting for a hosted runner to come online.");
        ctx.w.wait(1.0 + ctx.rng.unit() * 3.0);
        ctx.w.outf(format_args!("Job is about to start running on the hosted runner: {} (hosted)", spec.runner_name));
    } else {
        let scope = if ctx.layout.chance(0.5) { "organization" } else { "repository" };
        ctx.w.outf(format_args!("Job is about to start running on the runner: {} ({scope})", spec.runner_name));
    }
    ctx.w.wait(1.0 + ctx.rng.unit() * 2.0);
    let version = *ctx.rng.pick(RUNNER_VERSIONS);
    ctx.w.outf(format_args!("Current runner version: '{version}'"));
    if ctx.hosted {
        hosted_image(ctx);
    } else {
        ctx.w.outf(format_args!("Runner name: '{}'", spec.runner_name));
        let group = pick(&mut ctx.layout, &["Default", "Default", "linux-large", "build-fleet"]);
        ctx.w.outf(format_args!("Runner group name: '{group}'"));
        let machine = if ctx.layout.chance(0.5) {
            spec.runner_name.to_string()
        } else {
            format!("ip-10-0-{}-{}", ctx.layout.range(0, 15), ctx.layout.range(2, 250))
        };
        ctx.w.outf(format_args!("Machine name: '{machine}'"));
    }
    ctx.w.group("GITHUB_TOKEN Permissions");
    let permissive = spec.failure != Some(FailureKind::Permission) && ctx.layout.chance(0.35);
    let perms: &[&str] = if permissive {
        &[
            "Actions: write",
            "Attestations: write",
            "Checks: write",
            "Contents: write",
            "Deployments: write",
            "Discussions: write",
            "Issues: write",
            "Metadata: read",
            "Packages: write",
            "Pages: write",
            "PullRequests: write",
            "RepositoryProjects: write",
            "SecurityEvents: write",
            "Statuses: write",
        ]
    } else if spec.tool == crate::model::Tool::Docker && spec.failure != Some(FailureKind::Permission) {
        &["Contents: read", "Metadata: read", "Packages: write"]
    } else {
        &["Contents: read", "Metadata: read"]
    };
    for p in perms {
        ctx.w.out(p);
    }
    ctx.w.endgroup();
    ctx.w.out("Secret source: Actions");
    ctx.w.out("Prepare workflow directory");
    ctx.w.out("Prepare all required actions");
    ctx.w.out("Getting action download info");
    let mut seen: Vec<&str> = Vec::new();
    for step in steps {
        if let Header::Uses { action, .. } = &step.header {
            if seen.contains(&action.as_str()) {
                continue;
            }
            seen.push(action);
            ctx.w.wait(0.2 + ctx.rng.unit() * 0.5);
            let (name, reference) = action.split_once('@').unwrap_or((action, "main"));
            let sha = vocab::stable_sha(name);
            if name.starts_with("actions/") && !ctx.pinned && ctx.layout.chance(0.5) {
                ctx.w.outf(format_args!("Download immutable action package '{action}'"));
                let v = reference.trim_start_matches('v');
                // The same action release has the same version and digest in every log.
                let digit = |i: usize| sha.as_bytes()[i] % 8;
                let full = if v.contains('.') { v.to_string() } else { format!("{v}.{}.{}", digit(0), digit(1)) };
                ctx.w.outf(format_args!("Version: {full}"));
                let digest = vocab::hex(&mut crate::rng::Rng::derive(0xd16e57, action), 64);
                ctx.w.outf(format_args!("Digest: sha256:{digest}"));
                ctx.w.outf(format_args!("Source commit SHA: {sha}"));
            } else {
                ctx.w.outf(format_args!("Download action repository '{action}' (SHA:{sha})"));
            }
        }
    }
    ctx.w.wait(0.3);
    ctx.w.outf(format_args!("Complete job name: {}", spec.job_name));
}

fn hosted_image(ctx: &mut Ctx<'_>) {
    let labels = ctx.spec.labels.join(" ");
    let built = ctx.spec.started_at - Duration::days(ctx.layout.range(4, 20) as i64);
    let stamp = format!("{:04}{:02}{:02}", built.year(), built.month(), built.day());
    let build_no = ctx.layout.range(1, 3);
    ctx.w.group("Operating System");
    match ctx.os {
        Os::Windows => {
            ctx.w.out("Microsoft Windows Server 2022\n10.0.20348\nDatacenter");
            ctx.w.endgroup();
            ctx.w.group("Runner Image");
            ctx.w.out("Image: windows-2022");
            ctx.w.outf(format_args!("Version: {stamp}.{build_no}.0"));
            ctx.w.outf(format_args!("Included Software: https://github.com/actions/runner-images/blob/win22/{stamp}.{build_no}/images/windows/Windows2022-Readme.md"));
            ctx.w.outf(format_args!(
                "Image Release: https://github.com/actions/runner-images/releases/tag/win22%2F{stamp}.{build_no}"
            ));
        }
        Os::Mac => {
            let (image, ver, build) = if labels.contains("13") {
                ("macos-13", "13.7.2", "22H313")
            } else {
                ("macos-14-arm64", "14.7.2", "23H311")
            };
            ctx.w.outf(format_args!("macOS\n{ver}\n{build}"));
            ctx.w.endgroup();
            ctx.w.group("Runner Image");
            let n = ctx.layout.range(400, 900);
            ctx.w.outf(format_args!("Image: {image}"));
            ctx.w.outf(format_args!("Version: {stamp}.{n}"));
            ctx.w.outf(format_args!("Included Software: https://github.com/actions/runner-images/blob/{image}/{stamp}.{n}/images/macos/{image}-Readme.md"));
            ctx.w.outf(format_args!(
                "Image Release: https://github.com/actions/runner-images/releases/tag/{image}%2F{stamp}.{n}"
            ));
        }
        Os::Linux => {
            let (ver, short, readme) = if labels.contains("22.04") {
                ("22.04.5", "22", "Ubuntu2204")
            } else if labels.contains("20.04") {
                ("20.04.6", "20", "Ubuntu2004")
            } else {
                ("24.04.1", "24", "Ubuntu2404")
            };
            ctx.w.outf(format_args!("Ubuntu\n{ver}\nLTS"));
            ctx.w.endgroup();
            ctx.w.group("Runner Image");
            ctx.w.outf(format_args!("Image: ubuntu-{short}.04"));
            ctx.w.outf(format_args!("Version: {stamp}.{build_no}.0"));
            ctx.w.outf(format_args!("Included Software: https://github.com/actions/runner-images/blob/ubuntu{short}/{stamp}.{build_no}/images/ubuntu/{readme}-Readme.md"));
            ctx.w.outf(format_args!("Image Release: https://github.com/actions/runner-images/releases/tag/ubuntu{short}%2F{stamp}.{build_no}"));
        }
    }
    ctx.w.endgroup();
    ctx.w.group("Runner Image Provisioner");
    ctx.w.out("Hosted Compute Agent");
    let agent = ctx.spec.started_at - Duration::days(ctx.layout.range(5, 30) as i64);
    ctx.w.outf(format_args!(
        "Version: {:04}{:02}{:02}.{}",
        agent.year(),
        agent.month(),
        agent.day(),
        ctx.layout.range(100, 299)
    ));
    let commit = vocab::hex(&mut ctx.layout, 40);
    ctx.w.outf(format_args!("Commit: {commit}"));
    ctx.w.outf(format_args!(
        "Build Date: {:04}-{:02}-{:02}T{:02}:{:02}:{:02}Z",
        agent.year(),
        agent.month(),
        agent.day(),
        ctx.layout.range(0, 23),
        ctx.layout.range(0, 59),
        ctx.layout.range(0, 59)
    ));
    ctx.w.endgroup();
}

/// Now and then a setup step warns about something that does not fail the job.
pub(crate) fn occasional_warning(ctx: &mut Ctx<'_>) {
    if !ctx.rng.chance(0.12) {
        return;
    }
    match ctx.rng.range(0, 2) {
        1 => ctx.w.warning(
            "The `set-output` command is deprecated and will be disabled soon. Please upgrade to using Environment Files. For more information see: https://github.blog/changelog/2022-10-11-github-actions-deprecating-save-state-and-set-output-commands/",
        ),
        2 if ctx.spec.tool == crate::model::Tool::GoTest => {
            let ws = ctx.ws.clone();
            ctx.w.warning(&format!(
                "Restore cache failed: Dependencies file is not found in {ws}. Supported file pattern: go.sum"
            ));
        }
        _ => {
            let code = *ctx.rng.pick(&[400, 429, 500, 503]);
            ctx.w.warning(&format!("Failed to restore: Cache service responded with {code}"));
        }
    }
}

/// A step's `##[group]Run ...` block.
pub(crate) fn header(ctx: &mut Ctx<'_>, step: &StepDef) {
    match &step.header {
        Header::Uses { action, with } => {
            ctx.w.outf(format_args!("##[group]Run {action}"));
            if !with.is_empty() {
                ctx.w.out("with:");
                for (k, v) in with {
                    ctx.w.outf(format_args!("  {k}: {v}"));
                }
            }
        }
        Header::Run { script } => {
            ctx.w.outf(format_args!("##[group]Run {}", script.first().map_or("", String::as_str)));
            for line in script {
                ctx.w.outf(format_args!("\x1b[36;1m{line}\x1b[0m"));
            }
            let shell = ctx.shell();
            ctx.w.outf(format_args!("shell: {shell}"));
        }
    }
    if !ctx.env.is_empty() || !step.env.is_empty() {
        ctx.w.out("env:");
        for (k, v) in ctx.env.iter().chain(&step.env) {
            ctx.w.outf(format_args!("  {k}: {v}"));
        }
    }
    ctx.w.endgroup();
}

const SUBMODULES: &[&str] = &["proto", "schemas", "vendor/shared", "third_party/specs", "deploy/charts", "docs/theme"];

/// The `actions/checkout` step; `variant` 1 has submodules, 2 checks out a second repository.
pub(crate) fn checkout_step(ctx: &mut Ctx<'_>, target: Option<(FailureKind, Role)>) -> StepDef {
    let on_checkout = matches!(target, Some((_, Role::Checkout)));
    let variant = match target {
        Some((FailureKind::Permission, Role::Checkout)) => *ctx.rng.pick(&[1u8, 2]),
        _ if on_checkout => 0,
        _ => u8::from(ctx.layout.chance(0.1)),
    };
    let full_history = ctx.layout.chance(0.25);
    let persist = if ctx.layout.chance(0.3) { "false" } else { "true" };
    let repo = if variant == 2 {
        format!(
            "{}/{}",
            ctx.owner,
            pick(&mut ctx.rng, &["infra-config", "shared-fixtures", "private-specs", "deploy-secrets"])
        )
    } else {
        ctx.spec.repo.to_string()
    };
    let with: Vec<(&str, &str)> = vec![
        ("repository", &repo),
        ("token", "***"),
        ("ssh-strict", "true"),
        ("ssh-user", "git"),
        ("persist-credentials", persist),
        ("clean", "true"),
        ("sparse-checkout-cone-mode", "true"),
        ("fetch-depth", if full_history { "0" } else { "1" }),
        ("fetch-tags", "false"),
        ("show-progress", "true"),
        ("lfs", "false"),
        ("submodules", if variant == 1 { "recursive" } else { "false" }),
        ("set-safe-directory", "true"),
    ];
    let action = ctx.action("actions/checkout", "v4");
    let name = (variant == 2).then_some("Checkout fixtures");
    let mut step = StepDef::uses(Role::Checkout, name, action, &with).with_post().with_variant(variant);
    if variant == 2 {
        step.header = match step.header {
            Header::Uses { action, mut with } => {
                with.push(("path".to_string(), "fixtures".to_string()));
                Header::Uses { action, with }
            }
            h => h,
        };
    }
    step
}

fn git(ctx: &Ctx<'_>) -> &'static str {
    match ctx.os {
        Os::Windows => "\"C:\\Program Files\\Git\\bin\\git.exe\"",
        _ => "/usr/bin/git",
    }
}

/// The output of `actions/checkout`.
pub(crate) fn checkout(ctx: &mut Ctx<'_>, step: &StepDef, outcome: Outcome) {
    let git = git(ctx);
    let (repo, full_history) = match &step.header {
        Header::Uses { with, .. } => (
            with.iter().find(|(k, _)| k == "repository").map_or(ctx.spec.repo.to_string(), |(_, v)| v.clone()),
            with.iter().any(|(k, v)| k == "fetch-depth" && v == "0"),
        ),
        Header::Run { .. } => (ctx.spec.repo.to_string(), false),
    };
    let dir = if step.variant == 2 { format!("{}/fixtures", ctx.ws) } else { ctx.ws.clone() };
    let sha = if step.variant == 2 { vocab::hex(&mut ctx.rng, 40) } else { ctx.spec.head_sha.to_string() };
    let branch = ctx.branch;
    let git_version = *ctx.layout.pick(GIT_VERSIONS);
    ctx.w.outf(format_args!("Syncing repository: {repo}"));
    ctx.w.group("Getting Git version info");
    ctx.w.outf(format_args!("Working directory is '{dir}'"));
    ctx.w.outf(format_args!("[command]{git} version"));
    ctx.w.outf(format_args!("git version {git_version}"));
    ctx.w.endgroup();
    let home = vocab::uuid(&mut ctx.rng);
    ctx.w.outf(format_args!(
        "Temporarily overriding HOME='{}/{home}' before making global git config changes",
        ctx.temp
    ));
    ctx.w.out("Adding repository directory to the temporary git global config as a safe directory");
    ctx.w.outf(format_args!("[command]{git} config --global --add safe.directory {dir}"));
    ctx.w.outf(format_args!("Deleting the contents of '{dir}'"));
    ctx.w.group("Initializing the repository");
    ctx.w.outf(format_args!("[command]{git} init {dir}"));
    ctx.w.outf(format_args!("Initialized empty Git repository in {dir}/.git/"));
    ctx.w.outf(format_args!("[command]{git} remote add origin https://github.com/{repo}"));
    ctx.w.endgroup();
    ctx.w.group("Disabling automatic garbage collection");
    ctx.w.outf(format_args!("[command]{git} config --local gc.auto 0"));
    ctx.w.endgroup();
    ctx.w.group("Setting up auth");
    auth_cleanup_commands(ctx, git);
    ctx.w.outf(format_args!(
        "[command]{git} config --local http.https://github.com/.extraheader AUTHORIZATION: basic ***"
    ));
    ctx.w.endgroup();
    ctx.w.group("Fetching the repository");
    let fetch = if full_history {
        format!(
            "[command]{git} -c protocol.version=2 fetch --prune --no-recurse-submodules origin +refs/heads/*:refs/remotes/origin/* +refs/tags/*:refs/tags/*"
        )
    } else {
        format!(
            "[command]{git} -c protocol.version=2 fetch --no-tags --prune --no-recurse-submodules --depth=1 origin +{sha}:refs/remotes/origin/{branch}"
        )
    };
    ctx.w.out(&fetch);
    match outcome {
        Outcome::Fail(FailureKind::Network) => {
            fetch_network_failure(ctx, &repo, git, &fetch);
            return;
        }
        Outcome::Fail(FailureKind::Permission) if step.variant == 2 => {
            fetch_permission_failure(ctx, &repo, git, &fetch);
            return;
        }
        _ => {}
    }
    ctx.w.wait(0.2 + ctx.rng.unit() * 1.5);
    let objects = if full_history { ctx.rng.range(2000, 60000) } else { ctx.rng.range(80, 3000) };
    let compressed = objects * ctx.rng.range(60, 95) / 100;
    let deltas = objects * ctx.rng.range(2, 30) / 100;
    let reused = objects * ctx.rng.range(30, 70) / 100;
    ctx.w.outf(format_args!("remote: Enumerating objects: {objects}, done.        "));
    ctx.w.outf(format_args!("remote: Counting objects: 100% ({objects}/{objects}), done.        "));
    ctx.w.outf(format_args!("remote: Compressing objects: 100% ({compressed}/{compressed}), done.        "));
    ctx.w.outf(format_args!(
        "remote: Total {objects} (delta {deltas}), reused {reused} (delta {}), pack-reused 0 (from 0)        ",
        deltas / 2
    ));
    ctx.w.outf(format_args!("From https://github.com/{repo}"));
    if full_history {
        ctx.w.outf(format_args!(" * [new branch]      {branch:<15} -> origin/{branch}"));
        let n = ctx.layout.range(1, 6);
        for _ in 0..n {
            let feature =
                format!("{}/{}", pick(&mut ctx.rng, &["feat", "fix", "chore", "deps"]), vocab::test_name(&mut ctx.rng));
            ctx.w.outf(format_args!(" * [new branch]      {feature} -> origin/{feature}"));
        }
        let tags = ctx.layout.range(0, 8);
        let (major, minor) = (ctx.layout.range(0, 3), ctx.layout.range(0, 9));
        for t in 0..tags {
            let tag = format!("v{major}.{minor}.{t}");
            ctx.w.outf(format_args!(" * [new tag]         {tag:<15} -> {tag}"));
        }
    } else {
        ctx.w.outf(format_args!(" * [new ref]         {sha} -> origin/{branch}"));
    }
    ctx.w.endgroup();
    ctx.w.group("Determining the checkout info");
    ctx.w.endgroup();
    ctx.w.outf(format_args!("[command]{git} sparse-checkout disable"));
    ctx.w.outf(format_args!("[command]{git} config --local --unset-all extensions.worktreeConfig"));
    ctx.w.group("Checking out the ref");
    ctx.w.outf(format_args!("[command]{git} checkout --progress --force -B {branch} refs/remotes/origin/{branch}"));
    ctx.w.outf(format_args!("Switched to a new branch '{branch}'"));
    ctx.w.outf(format_args!("branch '{branch}' set up to track 'origin/{branch}'."));
    ctx.w.endgroup();
    if step.variant == 1 {
        submodules(ctx, git, outcome);
        if matches!(outcome, Outcome::Fail(_)) {
            return;
        }
    }
    ctx.w.outf(format_args!("[command]{git} log -1 --format=%H"));
    ctx.w.out(&sha);
}

fn auth_cleanup_commands(ctx: &mut Ctx<'_>, git: &str) {
    ctx.w.outf(format_args!("[command]{git} config --local --name-only --get-regexp core\\.sshCommand"));
    ctx.w.outf(format_args!(
        "[command]{git} submodule foreach --recursive sh -c \"git config --local --name-only --get-regexp 'core\\.sshCommand' && git config --local --unset-all 'core.sshCommand' || :\""
    ));
    ctx.w.outf(format_args!(
        "[command]{git} config --local --name-only --get-regexp http\\.https\\:\\/\\/github\\.com\\/\\.extraheader"
    ));
    ctx.w.outf(format_args!(
        "[command]{git} submodule foreach --recursive sh -c \"git config --local --name-only --get-regexp 'http\\.https\\:\\/\\/github\\.com\\/\\.extraheader' && git config --local --unset-all 'http.https://github.com/.extraheader' || :\""
    ));
}

fn submodules(ctx: &mut Ctx<'_>, git: &str, outcome: Outcome) {
    let path = pick(&mut ctx.layout, SUBMODULES);
    let sub_repo = format!("{}/{}", ctx.owner, path.rsplit('/').next().unwrap_or(path));
    let ssh = ctx.layout.chance(0.4);
    let url = if ssh { format!("git@github.com:{sub_repo}.git") } else { format!("https://github.com/{sub_repo}.git") };
    ctx.w.group("Setting up auth for fetching submodules");
    ctx.w.outf(format_args!(
        "[command]{git} config --global http.https://github.com/.extraheader AUTHORIZATION: basic ***"
    ));
    ctx.w.outf(format_args!("[command]{git} config --global --unset-all url.https://github.com/.insteadOf"));
    ctx.w.outf(format_args!("[command]{git} config --global --add url.https://github.com/.insteadOf git@github.com:"));
    ctx.w.endgroup();
    ctx.w.group("Fetching submodules");
    ctx.w.outf(format_args!("[command]{git} submodule sync --recursive"));
    ctx.w.outf(format_args!(
        "[command]{git} -c protocol.version=2 submodule update --init --force --depth=1 --recursive"
    ));
    ctx.w.outf(format_args!("Submodule '{path}' ({url}) registered for path '{path}'"));
    ctx.w.outf(format_args!("Cloning into '{}/{path}'...", ctx.ws));
    ctx.w.wait(0.3 + ctx.rng.unit());
    if outcome == Outcome::Fail(FailureKind::Permission) {
        ctx.w.grow(0.5);
        let first = ctx.w.mark();
        match ctx.rng.range(0, 2) {
            0 if ssh => {
                ctx.w.out("git@github.com: Permission denied (publickey).");
                ctx.w.out("fatal: Could not read from remote repository.");
            }
            0 | 1 => {
                ctx.w.out("remote: Repository not found.");
                ctx.w.outf(format_args!("fatal: repository 'https://github.com/{sub_repo}.git/' not found"));
            }
            _ => {
                ctx.w.outf(format_args!("remote: Permission to {sub_repo}.git denied to github-actions[bot]."));
                ctx.w.outf(format_args!(
                    "fatal: unable to access 'https://github.com/{sub_repo}.git/': The requested URL returned error: 403"
                ));
            }
        }
        ctx.w.mark_causes(first);
        ctx.w.outf(format_args!("fatal: clone of '{url}' into submodule path '{}/{path}' failed", ctx.ws));
        ctx.w.outf(format_args!("Failed to clone '{path}'. Retry scheduled"));
        ctx.w.wait(1.0);
        ctx.w.outf(format_args!("Cloning into '{}/{path}'...", ctx.ws));
        ctx.w.outf(format_args!("fatal: clone of '{url}' into submodule path '{}/{path}' failed", ctx.ws));
        ctx.w.outf(format_args!("Failed to clone '{path}' a second time, aborting"));
        ctx.w.endgroup();
        ctx.w.errorf(format_args!("The process '{git}' failed with exit code 1"));
        ctx.set_summary(format!("permission: the job token cannot clone private submodule {sub_repo} ({path})"));
        return;
    }
    let sub_sha = vocab::hex(&mut ctx.rng, 40);
    ctx.w.outf(format_args!("Submodule path '{path}': checked out '{sub_sha}'"));
    ctx.w.outf(format_args!("[command]{git} submodule foreach --recursive git config --local gc.auto 0"));
    ctx.w.outf(format_args!("Entering '{path}'"));
    ctx.w.endgroup();
}

fn fetch_network_failure(ctx: &mut Ctx<'_>, repo: &str, git: &str, fetch: &str) {
    let attempts = ctx.rng.range(2, 3);
    let mut last = String::new();
    for attempt in 0..attempts {
        // Connect timeouts: a failing fetch takes whatever time the job had.
        ctx.w.wait(5.0 + ctx.rng.unit() * 60.0);
        ctx.w.grow(1.0);
        let msg = match ctx.rng.range(0, 6) {
            0 => "Could not resolve host: github.com".to_string(),
            1 => format!(
                "Failed to connect to github.com port 443 after {} ms: Connection timed out",
                ctx.rng.range(129000, 135000)
            ),
            2 => "Recv failure: Connection reset by peer".to_string(),
            3 => format!("OpenSSL SSL_read: SSL_ERROR_SYSCALL, errno {}", *ctx.rng.pick(&[104, 110])),
            4 => format!(
                "Operation timed out after {} milliseconds with 0 out of 0 bytes received",
                ctx.rng.range(300000, 300999)
            ),
            5 => "GnuTLS recv error (-110): The TLS connection was non-properly terminated.".to_string(),
            _ => format!(
                "Failed to connect to github.com port 443 after {} ms: Couldn't connect to server",
                ctx.rng.range(1, 9000)
            ),
        };
        ctx.w.causef(format_args!("fatal: unable to access 'https://github.com/{repo}/': {msg}"));
        last = msg;
        if attempt + 1 < attempts {
            ctx.w.outf(format_args!("The process '{git}' failed with exit code 128"));
            let secs = ctx.rng.range(10, 20);
            ctx.w.outf(format_args!("Waiting {secs} seconds before trying again"));
            ctx.w.wait(secs as f64);
            ctx.w.out(fetch);
        }
    }
    ctx.w.endgroup();
    ctx.w.errorf(format_args!("The process '{git}' failed with exit code 128"));
    ctx.set_summary(format!("network: git fetch of {repo} failed {attempts} times ({last})"));
}

fn fetch_permission_failure(ctx: &mut Ctx<'_>, repo: &str, git: &str, fetch: &str) {
    let forbidden = ctx.rng.chance(0.5);
    for attempt in 0..3 {
        ctx.w.wait(0.5 + ctx.rng.unit());
        ctx.w.grow(0.3);
        if forbidden {
            ctx.w.causef(format_args!("remote: Write access to repository not granted."));
            ctx.w.causef(format_args!(
                "fatal: unable to access 'https://github.com/{repo}/': The requested URL returned error: 403"
            ));
        } else {
            ctx.w.cause("remote: Repository not found.");
            ctx.w.causef(format_args!("fatal: repository 'https://github.com/{repo}/' not found"));
        }
        if attempt < 2 {
            ctx.w.outf(format_args!("The process '{git}' failed with exit code 128"));
            let secs = ctx.rng.range(10, 20);
            ctx.w.outf(format_args!("Waiting {secs} seconds before trying again"));
            ctx.w.wait(secs as f64);
            ctx.w.out(fetch);
        }
    }
    ctx.w.endgroup();
    ctx.w.errorf(format_args!("The process '{git}' failed with exit code 128"));
    let why = if forbidden { "403" } else { "repository not found" };
    ctx.set_summary(format!("permission: GITHUB_TOKEN cannot read {repo} ({why})"));
}

/// The post step of `actions/checkout` (after "Post job cleanup.").
pub(crate) fn post_checkout(ctx: &mut Ctx<'_>) {
    let git = git(ctx);
    let git_version = *ctx.layout.pick(GIT_VERSIONS);
    ctx.w.outf(format_args!("[command]{git} version"));
    ctx.w.outf(format_args!("git version {git_version}"));
    let home = vocab::uuid(&mut ctx.rng);
    ctx.w.outf(format_args!(
        "Temporarily overriding HOME='{}/{home}' before making global git config changes",
        ctx.temp
    ));
    ctx.w.out("Adding repository directory to the temporary git global config as a safe directory");
    ctx.w.outf(format_args!("[command]{git} config --global --add safe.directory {}", ctx.ws));
    auth_cleanup_commands(ctx, git);
    ctx.w.out("http.https://github.com/.extraheader");
    ctx.w.outf(format_args!("[command]{git} config --local --unset-all http.https://github.com/.extraheader"));
}

/// What the setup actions (`setup-node`, `setup-python`, `setup-go`, `setup-java`) print when
/// their dependency cache is found: its size, the extraction, and the key it came from.
pub(crate) fn cache_restored(ctx: &mut Ctx<'_>, key: &str, size: u64) {
    ctx.w.outf(format_args!("Cache Size: ~{} MB ({size} B)", size / 1_048_576));
    ctx.w.outf(format_args!(
        "[command]/usr/bin/tar -xf {}/{}/cache.tzst -P -C {} --use-compress-program unzstd",
        ctx.temp,
        vocab::uuid(&mut ctx.rng),
        ctx.ws
    ));
    ctx.w.out("Cache restored successfully");
    ctx.w.outf(format_args!("Cache restored from key: {key}"));
}

/// "Complete job".
pub(crate) fn complete_job(ctx: &mut Ctx<'_>) {
    ctx.w.out("Cleaning up orphan processes");
    if ctx.rng.chance(0.15) {
        let name = match ctx.spec.tool {
            crate::model::Tool::Maven => "java",
            crate::model::Tool::Npm => "node",
            crate::model::Tool::Docker => "docker-buildx",
            crate::model::Tool::Pytest => "python",
            crate::model::Tool::Cargo => "rust-analyzer",
            crate::model::Tool::GoTest => "gopls",
        };
        let pid = vocab::pid(&mut ctx.rng);
        ctx.w.outf(format_args!("Terminate orphan process: pid ({pid}) ({name})"));
    }
}

/// The end of a job that hit `timeout-minutes` while a step hung.
pub(crate) fn timed_out(ctx: &mut Ctx<'_>) {
    let gap = ctx.w.elastic_total().max(1.0) * 8.0;
    ctx.w.grow(gap);
    let minutes = (ctx.spec.duration.num_seconds() / 60).max(1);
    let runner = ctx.spec.runner_name;
    ctx.w.errorf(format_args!(
        "The job running on runner {runner} has exceeded the maximum execution time of {minutes} minutes."
    ));
    ctx.w.wait(0.5 + ctx.rng.unit() * 7.0);
    ctx.w.error_plain("The operation was canceled.");
    if ctx.summary.is_empty() {
        ctx.set_summary(format!("timeout: the job exceeded its {minutes}-minute limit on {runner}"));
    } else {
        let what = std::mem::take(&mut ctx.summary);
        ctx.set_summary(format!("timeout: {what} until the job's {minutes}-minute limit on {runner}"));
    }
}

/// The end of a job whose runner vanished: nothing more from the runner, then GitHub's message.
pub(crate) fn lost(ctx: &mut Ctx<'_>) {
    let gap = ctx.w.elastic_total().max(1.0) * 3.0;
    ctx.w.grow(gap);
    let runner = ctx.spec.runner_name;
    let template = if ctx.hosted { ctx.rng.range(0, 2) } else { *ctx.rng.pick(&[0, 3, 3]) };
    let why = match template {
        0 => {
            ctx.w.error(
                "The runner has received a shutdown signal. This can happen when the runner service is stopped, or a manually started runner is canceled.",
            );
            ctx.w.error_plain("The operation was canceled.");
            "received a shutdown signal"
        }
        1 => {
            ctx.w.errorf(format_args!(
                "The hosted runner: {runner} lost communication with the server. Anything in your workflow that terminates the runner process, starves it for CPU/Memory, or blocks its network access can cause this error."
            ));
            "lost communication with the server"
        }
        2 => {
            ctx.w.error("The hosted runner encountered an error while running your job. (Error Type: Disconnect).");
            "disconnected"
        }
        _ => {
            ctx.w.errorf(format_args!(
                "The self-hosted runner: {runner} lost communication with the server. Verify the machine is running and has a healthy network connection. Anything in your workflow that terminates the runner process, starves it for CPU/Memory, or blocks its network access can cause this error."
            ));
            "lost communication with the server"
        }
    };
    let step = std::mem::take(&mut ctx.summary);
    let during = if step.is_empty() { String::new() } else { format!(" during {step}") };
    ctx.set_summary(format!("runner lost: {runner} {why}{during}"));
}

/// A step that talks to the GitHub API: `actions/github-script` (variant 0) or `gh` (variant 1).
pub(crate) fn script_step(ctx: &mut Ctx<'_>) -> StepDef {
    if ctx.layout.chance(0.5) {
        let action = ctx.action("actions/github-script", "v7");
        let script = match ctx.layout.range(0, 2) {
            0 => {
                "await github.rest.issues.createComment({ ...context.repo, issue_number: context.issue.number, body: require('fs').readFileSync('summary.md', 'utf8') })"
            }
            1 => {
                "await github.rest.issues.addLabels({ ...context.repo, issue_number: context.issue.number, labels: ['ci-passed'] })"
            }
            _ => {
                "await github.rest.repos.createCommitStatus({ ...context.repo, sha: context.sha, state: 'success', context: 'coverage' })"
            }
        };
        let name = pick(&mut ctx.layout, &["Comment on PR", "Report status", "Label pull request"]);
        StepDef::uses(
            Role::Script,
            Some(name),
            action,
            &[
                ("script", script),
                ("github-token", "***"),
                ("debug", "false"),
                ("user-agent", "actions/github-script"),
                ("result-encoding", "json"),
                ("retries", "0"),
                ("retry-exempt-status-codes", "400,401,403,404,422"),
            ],
        )
    } else {
        let pr = ctx.layout.range(10, 4000).to_string();
        let cmd = match ctx.layout.range(0, 2) {
            0 => format!("gh pr comment {pr} --body-file summary.md"),
            1 => format!("gh pr edit {pr} --add-label ci-passed"),
            _ => format!("gh release upload v{} dist/* --clobber", vocab::semver(&mut ctx.layout, 0, 3)),
        };
        let name = if cmd.contains("release") { "Upload release assets" } else { "Update pull request" };
        StepDef::run(Role::Script, Some(name), &[&cmd]).with_env("GH_TOKEN", "***").with_variant(1)
    }
}

/// The output of the GitHub API step.
pub(crate) fn script(ctx: &mut Ctx<'_>, step: &StepDef, outcome: Outcome) {
    let repo = ctx.spec.repo;
    let fail = outcome == Outcome::Fail(FailureKind::Permission) || matches!(outcome, Outcome::Fail(_));
    let number = ctx.rng.range(10, 4000);
    let message = *ctx.rng.pick(&[
        "Resource not accessible by integration",
        "Resource not accessible by integration",
        "Resource not accessible by personal access token",
        "Must have admin rights to Repository.",
    ]);
    if step.variant == 1 {
        let cmd = step.command().to_string();
        if !fail {
            if cmd.contains("release") {
                ctx.w.wait(1.0 + ctx.rng.unit() * 3.0);
            } else {
                ctx.w.outf(format_args!(
                    "https://github.com/{repo}/pull/{number}#issuecomment-{}",
                    ctx.rng.range(2_000_000_000, 2_900_000_000)
                ));
            }
            return;
        }
        ctx.w.wait(0.5 + ctx.rng.unit());
        ctx.w.grow(0.5);
        if cmd.contains("release") {
            let id = ctx.rng.range(100_000_000, 199_999_999);
            ctx.w.causef(format_args!(
                "HTTP 403: {message} (https://uploads.github.com/repos/{repo}/releases/{id}/assets?label=&name={}-{}.tar.gz)",
                ctx.project,
                ctx.goos()
            ));
        } else if cmd.contains("comment") {
            ctx.w.causef(format_args!("GraphQL: {message} (addComment)"));
        } else {
            ctx.w.causef(format_args!("GraphQL: {message} (addLabelsToLabelable)"));
        }
        ctx.exit(1);
        ctx.set_summary(format!("permission: `{cmd}` was refused: {message}"));
        return;
    }
    if !fail {
        return;
    }
    let script = match &step.header {
        Header::Uses { with, .. } => with.first().map(|(_, v)| v.clone()).unwrap_or_default(),
        Header::Run { .. } => String::new(),
    };
    let (url, doc, method) = if script.contains("createComment") {
        (
            format!("https://api.github.com/repos/{repo}/issues/{number}/comments"),
            "issues/comments#create-an-issue-comment",
            "POST",
        )
    } else if script.contains("addLabels") {
        (
            format!("https://api.github.com/repos/{repo}/issues/{number}/labels"),
            "issues/labels#add-labels-to-an-issue",
            "POST",
        )
    } else {
        let sha = ctx.spec.head_sha;
        (
            format!("https://api.github.com/repos/{repo}/statuses/{sha}"),
            "commits/statuses#create-a-commit-status",
            "POST",
        )
    };
    let actions =
        format!("{}/_actions/actions/github-script", ctx.ws.rsplitn(3, '/').nth(2).unwrap_or("/home/runner/work"));
    let line = ctx.rng.range(9000, 9999);
    ctx.w.wait(0.4 + ctx.rng.unit());
    ctx.w.grow(0.5);
    ctx.w.causef(format_args!("RequestError [HttpError]: {message}"));
    ctx.w.outf(format_args!("    at {actions}/v7/dist/index.js:{line}:21"));
    ctx.w.out("    at process.processTicksAndRejections (node:internal/process/task_queues:95:5)");
    ctx.w.outf(format_args!(
        "    at async eval (eval at callAsyncFunction ({actions}/v7/dist/index.js:36187:16), <anonymous>:3:1)"
    ));
    ctx.w.outf(format_args!("    at async main ({actions}/v7/dist/index.js:36285:20) {{"));
    ctx.w.out("  status: 403,");
    ctx.w.out("  response: {");
    ctx.w.causef(format_args!("    url: '{url}',"));
    ctx.w.out("    status: 403,");
    ctx.w.out("    headers: {");
    ctx.w.out("      'content-type': 'application/json; charset=utf-8',");
    let req = vocab::hex(&mut ctx.rng, 16).to_uppercase();
    ctx.w.outf(format_args!(
        "      'x-github-request-id': '{}:{}:{}:{}',",
        &req[0..4],
        &req[4..8],
        &req[8..12],
        &req[12..16]
    ));
    ctx.w.out("      'x-ratelimit-resource': 'core',");
    ctx.w.outf(format_args!("      'x-ratelimit-remaining': '{}',", ctx.rng.range(4000, 4999)));
    ctx.w.out("    },");
    ctx.w.out("    data: {");
    ctx.w.outf(format_args!("      message: '{message}',"));
    ctx.w.outf(format_args!("      documentation_url: 'https://docs.github.com/rest/{doc}',"));
    ctx.w.out("      status: '403'");
    ctx.w.out("    }");
    ctx.w.out("  },");
    ctx.w.outf(format_args!("  request: {{ method: '{method}', url: '{url}' }}"));
    ctx.w.out("}");
    ctx.w.errorf(format_args!("Unhandled error: HttpError: {message}"));
    ctx.set_summary(format!("permission: github-script {method} {url} answered 403 ({message})"));
}

/// One finding in a Trivy table.
pub(crate) struct Finding {
    pub package: String,
    pub id: String,
    pub severity: &'static str,
    pub installed: String,
    pub fixed: String,
    pub title: String,
}

/// Trivy's log lines and report table for `target` (`ghcr.io/o/n:sha (debian 12.8)` or
/// `Cargo.lock (cargo)`); findings are cause lines.
pub(crate) fn trivy_report(ctx: &mut Ctx<'_>, target: &str, os_family: Option<(&str, &str)>, findings: &[Finding]) {
    let info = |ctx: &mut Ctx<'_>, level: &str, msg: &str| {
        ctx.w.outf(format_args!("{NOW}s\t{level}\t{msg}"));
    };
    info(ctx, "INFO", "[vulndb] Need to update DB");
    info(ctx, "INFO", "[vulndb] Downloading vulnerability DB...");
    info(ctx, "INFO", "[vulndb] Downloading artifact...\trepo=\"mirror.gcr.io/aquasec/trivy-db:2\"");
    ctx.w.wait(2.0 + ctx.rng.unit() * 4.0);
    info(ctx, "INFO", "[vulndb] Artifact successfully downloaded\trepo=\"mirror.gcr.io/aquasec/trivy-db:2\"");
    info(ctx, "INFO", "[vuln] Vulnerability scanning is enabled");
    info(ctx, "INFO", "[secret] Secret scanning is enabled");
    ctx.w.wait(1.0 + ctx.rng.unit() * 3.0);
    if let Some((family, version)) = os_family {
        info(ctx, "INFO", &format!("Detected OS\tfamily=\"{family}\" version=\"{version}\""));
        let pkgs = ctx.rng.range(15, 140);
        let major = version.split('.').next().unwrap_or(version);
        info(ctx, "INFO", &format!("[{family}] Detecting vulnerabilities...\tos_version=\"{major}\" pkg_num={pkgs}"));
    }
    info(ctx, "INFO", "Number of language-specific files\tnum=1");
    ctx.w.out("");
    let critical = findings.iter().filter(|f| f.severity == "CRITICAL").count();
    let high = findings.iter().filter(|f| f.severity == "HIGH").count();
    ctx.w.out(target);
    ctx.w.out(&"=".repeat(target.chars().count()));
    if findings.is_empty() {
        ctx.w.out("Total: 0 (HIGH: 0, CRITICAL: 0)");
        ctx.w.out("");
        return;
    }
    ctx.w.causef(format_args!("Total: {} (HIGH: {high}, CRITICAL: {critical})", findings.len()));
    ctx.w.out("");
    let head = ["Library", "Vulnerability", "Severity", "Status", "Installed Version", "Fixed Version", "Title"];
    let rows: Vec<[String; 7]> = findings
        .iter()
        .map(|f| {
            [
                f.package.clone(),
                f.id.clone(),
                f.severity.to_string(),
                "fixed".to_string(),
                f.installed.clone(),
                f.fixed.clone(),
                f.title.clone(),
            ]
        })
        .collect();
    let mut widths: Vec<usize> = head.iter().map(|h| h.len() + 2).collect();
    for r in &rows {
        for (i, c) in r.iter().enumerate() {
            widths[i] = widths[i].max(c.chars().count() + 2);
        }
        let url_len = format!("https://avd.aquasec.com/nvd/{}", r[1].to_lowercase()).len() + 2;
        widths[6] = widths[6].max(url_len);
    }
    let rule = |l: &str, m: &str, r: &str| {
        let mut s = String::from(l);
        for (i, w) in widths.iter().enumerate() {
            s.push_str(&"─".repeat(*w));
            s.push_str(if i + 1 == widths.len() { r } else { m });
        }
        s
    };
    let cells = |cols: &[&str], center: bool| {
        let mut s = String::from("│");
        for (i, w) in widths.iter().enumerate() {
            let c = cols.get(i).copied().unwrap_or("");
            let n = c.chars().count();
            let (left, right) = if center { ((w - n) / 2, w - n - (w - n) / 2) } else { (1, w - n - 1) };
            s.push_str(&" ".repeat(left));
            s.push_str(c);
            s.push_str(&" ".repeat(right));
            s.push('│');
        }
        s
    };
    ctx.w.out(&rule("┌", "┬", "┐"));
    ctx.w.out(&cells(&head, true));
    for r in &rows {
        ctx.w.out(&rule("├", "┼", "┤"));
        let cols: Vec<&str> = r.iter().map(String::as_str).collect();
        ctx.w.cause(&cells(&cols, false));
        let url = format!("https://avd.aquasec.com/nvd/{}", r[1].to_lowercase());
        ctx.w.out(&cells(&["", "", "", "", "", "", &url], false));
    }
    ctx.w.out(&rule("└", "┴", "┘"));
}

/// Random Trivy findings; at least one is CRITICAL.
pub(crate) fn trivy_findings(ctx: &mut Ctx<'_>, packages: &[&str], n: usize) -> Vec<Finding> {
    let names = vocab::sample(&mut ctx.rng, packages, n.max(1));
    names
        .iter()
        .enumerate()
        .map(|(i, p)| {
            let installed = vocab::semver(&mut ctx.rng, 1, 4);
            let fixed = bump(&installed);
            let id = if ctx.rng.chance(0.8) { vocab::cve(&mut ctx.rng) } else { vocab::ghsa(&mut ctx.rng) };
            let title = format!("{p}: {}", vocab::vuln_title(&mut ctx.rng).to_lowercase());
            Finding {
                package: p.to_string(),
                id,
                severity: if i == 0 || ctx.rng.chance(0.4) { "CRITICAL" } else { "HIGH" },
                installed,
                fixed,
                title,
            }
        })
        .collect()
}

/// `1.4.2` -> `1.4.3`.
pub(crate) fn bump(v: &str) -> String {
    match v.rsplit_once('.') {
        Some((head, last)) => format!("{head}.{}", last.parse::<u64>().map_or(1, |n| n + 1)),
        None => format!("{v}.1"),
    }
}
