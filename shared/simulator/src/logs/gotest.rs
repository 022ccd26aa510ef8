//! Go jobs: `actions/setup-go`, `go mod download`, `go build`, golangci-lint / gofmt / go vet,
//! `go test` (plain or `-v`, often `-race`), govulncheck; the go command's own error shapes.

use crate::failure::FailureKind as K;

use super::vocab::{self, pick};
use super::{Ctx, Outcome, Role, StepDef, ToolJob, cargo, runner};

const GOS: &[&str] = &["1.22.10", "1.23.4", "1.23.6", "1.24.1"];
const DIRS: &[&str] = &["internal", "pkg", "cmd"];

struct Package {
    /// `internal/store`.
    dir: String,
    tests: Vec<String>,
}

struct GoTest {
    go: &'static str,
    module: String,
    packages: Vec<Package>,
    deps: Vec<(&'static str, String)>,
    verbose: bool,
    race: bool,
    cover: bool,
}

pub(crate) fn plan(ctx: &mut Ctx<'_>, target: Option<(K, Role)>) -> (Box<dyn ToolJob>, Vec<StepDef>) {
    let role = target.map(|t| t.1);
    let go = *ctx.layout.pick(GOS);
    let module = format!("github.com/{}/{}", ctx.owner.to_lowercase(), ctx.name.to_lowercase());
    let n = ctx.layout.range(3, 14) as usize;
    let mut packages: Vec<Package> = vocab::sample(&mut ctx.layout, vocab::MODULES, n)
        .into_iter()
        .map(|m| {
            let dir = format!("{}/{m}", pick(&mut ctx.layout, DIRS));
            let tests = if dir.starts_with("cmd") || ctx.layout.chance(0.1) {
                Vec::new()
            } else {
                let base = vocab::pascal(m);
                (0..ctx.layout.range(1, 14))
                    .map(|_| format!("Test{base}_{}", vocab::pascal(&vocab::test_name(&mut ctx.layout))))
                    .collect()
            };
            Package { dir, tests }
        })
        .collect();
    packages.sort_by(|a, b| a.dir.cmp(&b.dir));
    if packages.iter().all(|p| p.tests.is_empty()) {
        packages[0].dir = "internal/core".into();
        packages[0].tests = vec!["TestCore_Smoke".into()];
    }
    let deps_n = ctx.layout.range(4, 16) as usize;
    let deps = vocab::sample(&mut ctx.layout, vocab::GO_MODULES, deps_n)
        .into_iter()
        .map(|m| (m, format!("v{}", vocab::semver(&mut ctx.layout, 0, 2))))
        .collect();
    let verbose = ctx.layout.chance(0.35);
    let race = ctx.layout.chance(0.6);
    let cover = ctx.layout.chance(0.4);

    let mut steps = Vec::new();
    let setup = ctx.action("actions/setup-go", "v5");
    let minor = go.rsplit_once('.').map_or("1.23", |x| x.0);
    let with: Vec<(&str, &str)> = if ctx.layout.chance(0.5) {
        vec![("go-version-file", "go.mod"), ("check-latest", "false"), ("token", "***"), ("cache", "true")]
    } else {
        vec![("go-version", minor), ("check-latest", "false"), ("token", "***"), ("cache", "true")]
    };
    steps.push(StepDef::uses(Role::Toolchain, ctx.layout.chance(0.5).then_some("Set up Go"), setup, &with).with_post());
    if role == Some(Role::Deps) || ctx.layout.chance(0.5) {
        steps.push(StepDef::run(Role::Deps, Some("Download modules"), &["go mod download"]));
    }
    if role == Some(Role::Build) || ctx.layout.chance(0.6) {
        steps.push(StepDef::run(Role::Build, Some("Build"), &["go build -v ./..."]));
    }
    if role == Some(Role::Lint) || ctx.layout.chance(0.5) {
        let step = match ctx.layout.range(0, 2) {
            0 => {
                let action = ctx.action("golangci/golangci-lint-action", "v6");
                StepDef::uses(
                    Role::Lint,
                    Some("golangci-lint"),
                    action,
                    &[("version", "v1.62"), ("args", "--timeout=5m")],
                )
            }
            1 => StepDef::run(Role::Lint, Some("gofmt"), &["test -z \"$(gofmt -l .)\" || (gofmt -l . && exit 1)"])
                .with_variant(1),
            _ => StepDef::run(Role::Lint, Some("Vet"), &["go vet ./..."]).with_variant(2),
        };
        steps.push(step);
    }
    let mut test = String::from("go test");
    if verbose {
        test.push_str(" -v");
    }
    if race {
        test.push_str(" -race");
    }
    if cover {
        test.push_str(" -coverprofile=coverage.out");
    }
    test.push_str(" ./...");
    steps.push(StepDef::run(Role::Test, ctx.layout.chance(0.5).then_some("Test"), &[&test]));
    if role == Some(Role::Audit) || ctx.layout.chance(0.2) {
        if ctx.layout.chance(0.7) {
            steps.push(StepDef::run(
                Role::Audit,
                Some("govulncheck"),
                &["go install golang.org/x/vuln/cmd/govulncheck@latest", "govulncheck ./..."],
            ));
        } else {
            steps.push(cargo::trivy_fs_step(ctx));
        }
    }
    (Box::new(GoTest { go, module, packages, deps, verbose, race, cover }), steps)
}

impl GoTest {
    fn goarch(ctx: &Ctx<'_>) -> &'static str {
        if ctx.arm { "arm64" } else { "amd64" }
    }

    fn dep(&self, ctx: &mut Ctx<'_>) -> (&'static str, String) {
        let i = ctx.rng.range(0, self.deps.len() as u64 - 1) as usize;
        (self.deps[i].0, self.deps[i].1.clone())
    }

    fn pkg_path(&self, p: &Package) -> String {
        format!("{}/{}", self.module, p.dir)
    }

    fn downloading(&self, ctx: &mut Ctx<'_>, upto: usize) {
        for (m, v) in &self.deps[..upto.min(self.deps.len())] {
            ctx.w.grow(0.2);
            ctx.w.outf(format_args!("go: downloading {m} {v}"));
        }
    }

    fn fetch_failure(&self, ctx: &mut Ctx<'_>, kind: K) {
        let i = ctx.rng.range(0, self.deps.len() as u64 - 1) as usize;
        self.downloading(ctx, i + 1);
        let (m, v) = (self.deps[i].0, self.deps[i].1.clone());
        ctx.w.wait(1.0 + ctx.rng.unit() * 30.0);
        match kind {
            K::Network => {
                let ip = vocab::ip_for(&mut ctx.rng, "proxy.golang.org");
                let ext = *ctx.rng.pick(&["mod", "zip", "info"]);
                let reason = match ctx.rng.range(0, 4) {
                    0 => format!("dial tcp {ip}:443: i/o timeout"),
                    1 => format!(
                        "dial tcp: lookup proxy.golang.org on 127.0.0.53:53: read udp 127.0.0.1:{}->127.0.0.53:53: i/o timeout",
                        ctx.rng.range(32768, 60999)
                    ),
                    2 => format!(
                        "read tcp {}->{ip}:443: read: connection reset by peer",
                        vocab::local_addr(&mut ctx.rng)
                    ),
                    3 => "net/http: TLS handshake timeout".to_string(),
                    _ => format!(
                        "dial tcp [2607:f8b0:4004:c1b::{}]:443: connect: network is unreachable",
                        ctx.rng.range(10, 99)
                    ),
                };
                ctx.w.causef(format_args!("go: {m}@{v}: Get \"https://proxy.golang.org/{m}/@v/{v}.{ext}\": {reason}"));
                ctx.set_summary(format!("network: go could not download {m}@{v} from proxy.golang.org: {reason}"));
            }
            K::Registry => {
                let (code, reason) = *ctx.rng.pick(&[
                    (502, "Bad Gateway"),
                    (503, "Service Unavailable"),
                    (500, "Internal Server Error"),
                    (429, "Too Many Requests"),
                ]);
                if ctx.rng.chance(0.6) {
                    ctx.w.causef(format_args!(
                        "go: {m}@{v}: reading https://proxy.golang.org/{m}/@v/{v}.zip: {code} {reason}"
                    ));
                    ctx.set_summary(format!("registry: proxy.golang.org answered {code} {reason} for {m}@{v}"));
                } else {
                    ctx.w.causef(format_args!("verifying {m}@{v}/go.mod: {m}@{v}/go.mod: reading https://sum.golang.org/lookup/{m}@{v}: {code} {reason}"));
                    ctx.set_summary(format!("registry: sum.golang.org answered {code} {reason} verifying {m}@{v}"));
                }
            }
            K::DiskFull => {
                let h = vocab::hex(&mut ctx.rng, 8);
                ctx.w.causef(format_args!(
                    "go: {m}@{v}: write {}/go/pkg/mod/cache/download/{m}/@v/{v}.zip{h}.tmp: no space left on device",
                    ctx.home
                ));
                ctx.set_summary(format!("disk full: no space left on device downloading {m}@{v}"));
            }
            K::Permission => {
                let private = format!(
                    "github.com/{}/{}",
                    ctx.owner.to_lowercase(),
                    pick(&mut ctx.rng, &["platform-sdk", "authz", "proto-go", "shared"])
                );
                let pv = format!("v{}", vocab::semver(&mut ctx.rng, 0, 2));
                let dir = vocab::hex(&mut ctx.rng, 64);
                ctx.w.causef(format_args!(
                    "go: {private}@{pv}: reading {private}/go.mod at revision {pv}: git ls-remote -q origin in {}/go/pkg/mod/cache/vcs/{dir}: exit status 128:",
                    ctx.home
                ));
                ctx.w.cause("\tfatal: could not read Username for 'https://github.com': terminal prompts disabled");
                ctx.w.out("Confirm the import path was entered correctly.");
                ctx.w.out("If this is a private repository, see https://golang.org/doc/faq#git_https for additional information.");
                ctx.set_summary(format!(
                    "permission: go cannot fetch private module {private}@{pv} (no git credentials)"
                ));
            }
            _ => match ctx.rng.range(0, 4) {
                0 => {
                    let bad = format!(
                        "v{}.{}.0",
                        v.trim_start_matches('v').split('.').next().unwrap_or("1"),
                        ctx.rng.range(40, 99)
                    );
                    ctx.w.causef(format_args!("go: {m}@{bad}: invalid version: unknown revision {bad}"));
                    ctx.set_summary(format!("dependency resolution: {m}@{bad} does not exist"));
                }
                1 => {
                    let p = &self.packages[ctx.rng.range(0, self.packages.len() as u64 - 1) as usize];
                    ctx.w.causef(format_args!(
                            "{}/{}.go:{}:2: missing go.sum entry for module providing package {m} (imported by {}); to add:",
                            p.dir,
                            p.dir.rsplit('/').next().unwrap_or("main"),
                            ctx.rng.range(3, 20),
                            self.pkg_path(p)
                        ));
                    ctx.w.outf(format_args!("\tgo get {}", self.pkg_path(p)));
                    ctx.set_summary(format!("dependency resolution: go.sum lacks an entry for {m}"));
                }
                2 => {
                    let need = *ctx.rng.pick(&["1.24.0", "1.24.2", "1.25.0"]);
                    ctx.w.causef(format_args!(
                        "go: {m}@{v} requires go >= {need} (running go {}; GOTOOLCHAIN=local)",
                        self.go
                    ));
                    ctx.set_summary(format!(
                        "dependency resolution: {m}@{v} needs go >= {need}, runner has {}",
                        self.go
                    ));
                }
                3 => {
                    ctx.w.cause("go: updates to go.mod needed; to update it:");
                    ctx.w.out("\tgo mod tidy");
                    ctx.set_summary(format!("dependency resolution: go.mod is not tidy (requirement on {m})"));
                }
                _ => {
                    let sub = format!("{m}/{}", pick(&mut ctx.rng, &["v2", "client", "api", "types"]));
                    ctx.w.causef(format_args!("ambiguous import: found package {sub} in multiple modules:"));
                    ctx.w.outf(format_args!(
                        "\t{m} {v} ({}/go/pkg/mod/{m}@{v}/{})",
                        ctx.home,
                        sub.rsplit('/').next().unwrap_or("")
                    ));
                    ctx.w.outf(format_args!(
                        "\t{sub} v0.{}.0 ({}/go/pkg/mod/{sub}@v0.{}.0)",
                        ctx.rng.range(1, 9),
                        ctx.home,
                        ctx.rng.range(1, 9)
                    ));
                    ctx.set_summary(format!("dependency resolution: ambiguous import of {sub}"));
                }
            },
        }
        ctx.exit(1);
    }

    /// Compiler errors for one package; returns (package, first error).
    fn compile_errors(&self, ctx: &mut Ctx<'_>, test_build: bool) -> (String, String) {
        let candidates: Vec<&Package> = self.packages.iter().filter(|p| !test_build || !p.tests.is_empty()).collect();
        let p = candidates[ctx.rng.range(0, candidates.len() as u64 - 1) as usize];
        let path = self.pkg_path(p);
        if test_build {
            ctx.w.outf(format_args!("# {path} [{path}.test]"));
        } else {
            ctx.w.outf(format_args!("# {path}"));
        }
        let mut first = String::new();
        for _ in 0..ctx.rng.range(1, 3) {
            let file = format!("{}/{}.go", p.dir, pick(&mut ctx.rng, vocab::MODULES));
            let line = ctx.rng.range(8, 600);
            let col = ctx.rng.range(2, 40);
            let x = vocab::camel(pick(&mut ctx.rng, vocab::FIELDS));
            let t = pick(&mut ctx.rng, vocab::TYPES);
            let msg = match ctx.rng.range(0, 7) {
                0 => format!("undefined: {x}"),
                1 => format!("declared and not used: {x}"),
                2 => format!(
                    "cannot use {x} (variable of type string) as int value in argument to {}",
                    vocab::camel(&format!("new_{t}"))
                ),
                3 => format!(
                    "too many arguments in call to {t}.{}\n\thave (context.Context, string, int)\n\twant (context.Context, string)",
                    vocab::pascal(&x)
                ),
                4 => "missing return".to_string(),
                5 => format!(
                    "{x}.{} undefined (type *{t} has no field or method {})",
                    vocab::pascal(&x),
                    vocab::pascal(&x)
                ),
                6 => format!(
                    "\"{}\" imported and not used",
                    pick(&mut ctx.rng, &["fmt", "errors", "strings", "time", "sync"])
                ),
                _ => format!("invalid operation: {x} + delta (mismatched types int and float64)"),
            };
            ctx.w.causef(format_args!("{file}:{line}:{col}: {msg}"));
            if first.is_empty() {
                first = format!("{file}:{line}: {}", msg.lines().next().unwrap_or(""));
            }
        }
        (path, first)
    }

    fn build(&self, ctx: &mut Ctx<'_>, fail: Option<K>) {
        match fail {
            Some(K::Compile) => {
                ctx.w.grow(2.0);
                let (path, first) = self.compile_errors(ctx, false);
                ctx.exit(1);
                ctx.set_summary(format!("compile error: {first} in {path}"));
                return;
            }
            Some(K::Oom) => {
                let p = &self.packages[ctx.rng.range(0, self.packages.len() as u64 - 1) as usize];
                ctx.w.grow(4.0);
                if ctx.rng.chance(0.5) {
                    ctx.w.causef(format_args!(
                        "go build {}: {}/go/{}/{}/pkg/tool/{}_{}/compile: signal: killed",
                        self.pkg_path(p),
                        ctx.toolcache,
                        self.go,
                        ctx.arch(),
                        ctx.goos(),
                        Self::goarch(ctx)
                    ));
                    ctx.exit(1);
                    ctx.set_summary(format!("oom: the Go compiler was killed building {}", self.pkg_path(p)));
                } else {
                    ctx.killed("go build -v ./...");
                    ctx.exit(137);
                    ctx.set_summary("oom: the kernel killed `go build` (exit 137)".to_string());
                }
                return;
            }
            Some(K::DiskFull) => {
                ctx.w.grow(2.0);
                let p = &self.packages[ctx.rng.range(0, self.packages.len() as u64 - 1) as usize];
                let b = ctx.rng.range(1, 300);
                ctx.w.causef(format_args!(
                    "go build {}: copying /tmp/go-build{}/b{b:03}/exe/a.out: write {}/{}: no space left on device",
                    self.pkg_path(p),
                    ctx.rng.range(100_000_000, 999_999_999),
                    ctx.ws,
                    p.dir.rsplit('/').next().unwrap_or("app")
                ));
                ctx.exit(1);
                ctx.set_summary(format!("disk full: no space left on device linking {}", self.pkg_path(p)));
                return;
            }
            Some(k @ (K::Network | K::Registry | K::DependencyResolution | K::Permission)) => {
                return self.fetch_failure(ctx, k);
            }
            _ => {}
        }
        for p in &self.packages {
            ctx.w.grow(0.5 + ctx.rng.unit());
            ctx.w.out(&self.pkg_path(p));
        }
    }

    fn lint(&self, ctx: &mut Ctx<'_>, variant: u8, fail: bool) {
        let n = if fail { ctx.rng.range(1, 4) } else { 0 };
        let mut first = String::new();
        let mut sites = Vec::new();
        for _ in 0..n {
            let p = &self.packages[ctx.rng.range(0, self.packages.len() as u64 - 1) as usize];
            sites.push((
                format!("{}/{}.go", p.dir, pick(&mut ctx.rng, vocab::MODULES)),
                ctx.rng.range(5, 500),
                ctx.rng.range(2, 40),
            ));
        }
        match variant {
            0 => {
                let v = format!("v1.62.{}", ctx.layout.range(0, 2));
                ctx.w.group("prepare environment");
                ctx.w.out("Checking for go.mod: go.mod");
                ctx.w.endgroup();
                ctx.w.group("run golangci-lint");
                ctx.w.outf(format_args!(
                    "Running [{}/golangci-lint-{}-{}-{}/golangci-lint run --timeout=5m] in [{}] ...",
                    ctx.home,
                    &v[1..],
                    ctx.goos(),
                    Self::goarch(ctx),
                    ctx.ws
                ));
                ctx.w.grow(3.0);
                for (file, line, col) in &sites {
                    let x = vocab::camel(pick(&mut ctx.rng, vocab::FIELDS));
                    let (msg, linter) = match ctx.rng.range(0, 4) {
                        0 => ("Error return value of `rows.Close` is not checked".to_string(), "errcheck"),
                        1 => (format!("ineffectual assignment to {x}"), "ineffassign"),
                        2 => (format!("SA4006: this value of `{x}` is never used"), "staticcheck"),
                        3 => (format!("func `{}` is unused", vocab::camel(&vocab::test_name(&mut ctx.rng))), "unused"),
                        _ => (
                            "S1002: should omit comparison to bool constant, can be simplified to `ok`".to_string(),
                            "gosimple",
                        ),
                    };
                    ctx.w.errorf(format_args!("{file}:{line}:{col}: {msg} ({linter})"));
                    if first.is_empty() {
                        first = format!("golangci-lint {linter} at {file}:{line}");
                    }
                }
                if n == 0 {
                    ctx.w.out("0 issues.");
                    ctx.w.endgroup();
                    return;
                }
                ctx.w.outf(format_args!("{n} issues:"));
                ctx.w.outf(format_args!("* {} issues", n));
                ctx.w.endgroup();
                // The action's closing line; the annotations above are the cause.
                ctx.w.error_plain("issues found");
                ctx.set_summary(format!("lint: {first} ({n} issues)"));
                return;
            }
            1 => {
                ctx.w.grow(1.0);
                for (file, _, _) in &sites {
                    ctx.w.cause(file);
                }
                if n == 0 {
                    return;
                }
                first = format!("gofmt: {} not formatted", sites[0].0);
            }
            _ => {
                ctx.w.grow(2.0);
                if n == 0 {
                    return;
                }
                let p = &self.packages[0];
                ctx.w.outf(format_args!("# {}", self.pkg_path(p)));
                for (file, line, col) in &sites {
                    let msg = match ctx.rng.range(0, 2) {
                        0 => format!("fmt.Sprintf format %d has arg {} of wrong type string", vocab::camel(pick(&mut ctx.rng, vocab::FIELDS))),
                        1 => "the cancel function returned by context.WithTimeout should be called, not discarded, to avoid a context leak".to_string(),
                        _ => format!("struct field tag `json:{}` not compatible with reflect.StructTag.Get: bad syntax for struct tag value", pick(&mut ctx.rng, vocab::FIELDS)),
                    };
                    ctx.w.causef(format_args!("{file}:{line}:{col}: {msg}"));
                    if first.is_empty() {
                        first = format!("go vet at {file}:{line}: {msg}");
                    }
                }
            }
        }
        ctx.exit(1);
        ctx.set_summary(format!("lint: {first} ({n} findings)"));
    }

    fn tests(&self, ctx: &mut Ctx<'_>, fail: Option<K>) {
        if let Some(K::Compile) = fail {
            let (path, first) = self.compile_errors(ctx, true);
            ctx.w.causef(format_args!("FAIL\t{path} [build failed]"));
            for p in &self.packages {
                if self.pkg_path(p) != path && !p.tests.is_empty() {
                    ctx.w.outf(format_args!("ok  \t{}\t{}s", self.pkg_path(p), vocab::secs(&mut ctx.rng, 0.01, 3.0)));
                }
            }
            ctx.w.out("FAIL");
            ctx.exit(1);
            ctx.set_summary(format!("compile error: {first} in {path} (test build)"));
            return;
        }
        let testable: Vec<usize> = (0..self.packages.len()).filter(|&i| !self.packages[i].tests.is_empty()).collect();
        let mut which = ctx.failing_test(fail);
        let bad_pkg = fail.map(|_| testable[which.range(0, testable.len() as u64 - 1) as usize]);
        let mut summary = None;
        for (i, p) in self.packages.iter().enumerate() {
            let path = self.pkg_path(p);
            if p.tests.is_empty() {
                ctx.w.outf(format_args!("?   \t{path}\t[no test files]"));
                continue;
            }
            let bad = if bad_pkg == Some(i) { Some(which.range(0, p.tests.len() as u64 - 1) as usize) } else { None };
            for (j, t) in p.tests.iter().enumerate() {
                ctx.w.grow(0.05 + ctx.rng.unit() * 0.3);
                if Some(j) == bad {
                    let kind = fail.unwrap_or(K::TestFailure);
                    if self.verbose {
                        ctx.w.outf(format_args!("=== RUN   {t}"));
                    }
                    let what = self.test_failure(ctx, kind, p, t);
                    summary = Some((kind, format!("{t} in {path}: {what}")));
                    if kind == K::Oom {
                        break;
                    }
                    continue;
                }
                if self.verbose {
                    ctx.w.outf(format_args!("=== RUN   {t}"));
                    ctx.w.outf(format_args!("--- PASS: {t} ({}s)", vocab::secs(&mut ctx.rng, 0.0, 0.5)));
                }
            }
            let secs = vocab::secs(&mut ctx.rng, 0.01, 12.0);
            if let (Some((kind, _)), Some(_)) = (&summary, bad) {
                if *kind == K::Oom {
                    ctx.w.causef(format_args!("FAIL\t{path}\t{secs}s"));
                    continue;
                }
                ctx.w.out("FAIL");
                ctx.w.causef(format_args!("FAIL\t{path}\t{secs}s"));
                continue;
            }
            if self.verbose {
                ctx.w.out("PASS");
            }
            if self.cover {
                ctx.w.outf(format_args!(
                    "ok  \t{path}\t{secs}s\tcoverage: {:.1}% of statements",
                    20.0 + ctx.rng.unit() * 75.0
                ));
            } else {
                ctx.w.outf(format_args!("ok  \t{path}\t{secs}s"));
            }
        }
        if let Some((kind, what)) = summary {
            ctx.w.out("FAIL");
            ctx.exit(1);
            let label = match kind {
                K::FlakyTest => "flaky test",
                K::Oom => "oom",
                _ => "test failure",
            };
            ctx.set_summary(format!("{label}: {what}"));
        }
    }

    /// The output of a failing test; returns a short description.
    fn test_failure(&self, ctx: &mut Ctx<'_>, kind: K, p: &Package, t: &str) -> String {
        let base = p.dir.rsplit('/').next().unwrap_or("x");
        let file = format!("{base}_test.go");
        let line = ctx.rng.range(20, 400);
        let secs = vocab::secs(&mut ctx.rng, 0.0, 3.0);
        match kind {
            K::Oom => {
                ctx.w.grow(3.0);
                ctx.w.cause("signal: killed");
                "test binary killed (signal: killed)".into()
            }
            K::FlakyTest => match ctx.rng.range(0, 3) {
                0 if self.race => {
                    let addr = vocab::hex(&mut ctx.rng, 8);
                    let t1 = vocab::pascal(pick(&mut ctx.rng, vocab::TYPES));
                    let (g1, g2) = (ctx.rng.range(7, 90), ctx.rng.range(7, 90));
                    ctx.w.out("==================");
                    ctx.w.cause("WARNING: DATA RACE");
                    ctx.w.causef(format_args!("Write at 0x00c0{addr} by goroutine {g1}:"));
                    ctx.w.outf(format_args!("  {}.(*{t1}).Put()", self.pkg_path(p)));
                    ctx.w.outf(format_args!(
                        "      {}/{}/{base}.go:{} +0x{}",
                        ctx.ws,
                        p.dir,
                        ctx.rng.range(20, 300),
                        vocab::hex(&mut ctx.rng, 3)
                    ));
                    ctx.w.out("");
                    ctx.w.outf(format_args!("Previous read at 0x00c0{addr} by goroutine {g2}:"));
                    ctx.w.outf(format_args!("  {}.(*{t1}).Get()", self.pkg_path(p)));
                    ctx.w.outf(format_args!(
                        "      {}/{}/{base}.go:{} +0x{}",
                        ctx.ws,
                        p.dir,
                        ctx.rng.range(20, 300),
                        vocab::hex(&mut ctx.rng, 3)
                    ));
                    ctx.w.out("==================");
                    ctx.w.outf(format_args!("--- FAIL: {t} ({secs}s)"));
                    ctx.w.causef(format_args!("    testing.go:1399: race detected during execution of test"));
                    format!("data race on {t1}")
                }
                0 | 1 => {
                    ctx.w.outf(format_args!("--- FAIL: {t} ({secs}s)"));
                    ctx.w.causef(format_args!("    {file}:{line}: expected status 200, got 503"));
                    "expected 200 got 503".into()
                }
                2 => {
                    let port = *ctx.rng.pick(&[5432, 6379, 9092, 8080, 27017]);
                    ctx.w.outf(format_args!("--- FAIL: {t} ({secs}s)"));
                    ctx.w.causef(format_args!(
                        "    {file}:{line}: dial tcp 127.0.0.1:{port}: connect: connection refused"
                    ));
                    format!("connection refused on 127.0.0.1:{port}")
                }
                _ => {
                    ctx.w.outf(format_args!("--- FAIL: {t} ({secs}s)"));
                    ctx.w.outf(format_args!("    {file}:{line}: "));
                    ctx.w.outf(format_args!("        \tError Trace:\t{}/{}/{file}:{line}", ctx.ws, p.dir));
                    ctx.w.cause("        \tError:      \tReceived unexpected error:");
                    ctx.w.cause("        \t            \tcontext deadline exceeded");
                    ctx.w.outf(format_args!("        \tTest:       \t{t}"));
                    "context deadline exceeded".into()
                }
            },
            _ => match ctx.rng.range(0, 2) {
                0 => {
                    let f = vocab::camel(pick(&mut ctx.rng, vocab::FIELDS));
                    let want = ctx.rng.range(1, 900);
                    let got = want * 2;
                    ctx.w.outf(format_args!("--- FAIL: {t} ({secs}s)"));
                    ctx.w.causef(format_args!("    {file}:{line}: {f}({}) = {got}, want {want}", ctx.rng.range(1, 9)));
                    format!("{f} = {got}, want {want}")
                }
                1 => {
                    let a = pick(&mut ctx.rng, &["active", "pending", "paid", "open"]);
                    let b = pick(&mut ctx.rng, &["expired", "failed", "closed", "draft"]);
                    ctx.w.outf(format_args!("--- FAIL: {t} ({secs}s)"));
                    ctx.w.outf(format_args!("    {file}:{line}: "));
                    ctx.w.causef(format_args!("        \tError Trace:\t{}/{}/{file}:{line}", ctx.ws, p.dir));
                    ctx.w.cause("        \tError:      \tNot equal: ");
                    ctx.w.causef(format_args!("        \t            \texpected: \"{a}\""));
                    ctx.w.causef(format_args!("        \t            \tactual  : \"{b}\""));
                    ctx.w.outf(format_args!("        \tTest:       \t{t}"));
                    format!("expected \"{a}\", actual \"{b}\"")
                }
                _ => {
                    ctx.w.outf(format_args!("--- FAIL: {t} ({secs}s)"));
                    ctx.w.cause("panic: runtime error: invalid memory address or nil pointer dereference [recovered]");
                    ctx.w.outf(format_args!(
                        "\tpanic: runtime error: invalid memory address or nil pointer dereference"
                    ));
                    ctx.w.outf(format_args!(
                        "[signal SIGSEGV: segmentation violation code=0x1 addr=0x{:x} pc=0x{}]",
                        ctx.rng.range(8, 200),
                        vocab::hex(&mut ctx.rng, 6)
                    ));
                    ctx.w.out("");
                    ctx.w.outf(format_args!("goroutine {} [running]:", ctx.rng.range(7, 90)));
                    ctx.w.outf(format_args!(
                        "{}.{}(...)",
                        self.pkg_path(p),
                        vocab::pascal(pick(&mut ctx.rng, vocab::FIELDS))
                    ));
                    ctx.w.causef(format_args!(
                        "\t{}/{}/{base}.go:{line} +0x{}",
                        ctx.ws,
                        p.dir,
                        vocab::hex(&mut ctx.rng, 2)
                    ));
                    "nil pointer dereference".into()
                }
            },
        }
    }

    fn govulncheck(&self, ctx: &mut Ctx<'_>, fail: bool) {
        for (m, v) in
            [("golang.org/x/vuln", "v1.1.4"), ("golang.org/x/tools", "v0.29.0"), ("golang.org/x/mod", "v0.22.0")]
        {
            ctx.w.outf(format_args!("go: downloading {m} {v}"));
        }
        ctx.w.grow(3.0);
        ctx.w.out("Scanning your code and 214 packages across 18 dependent modules for known vulnerabilities...");
        ctx.w.out("");
        if !fail {
            ctx.w.out("No vulnerabilities found.");
            return;
        }
        ctx.w.out("=== Symbol Results ===");
        ctx.w.out("");
        let n = ctx.rng.range(1, 2) as usize;
        let mut first = String::new();
        let mut modules = Vec::new();
        for k in 0..n {
            let (m, v) = self.dep(ctx);
            modules.push(m);
            let id = vocab::govuln(&mut ctx.rng);
            let fixed = format!("v{}", super::runner::bump(v.trim_start_matches('v')));
            ctx.w.causef(format_args!("Vulnerability #{}: {id}", k + 1));
            ctx.w.outf(format_args!("    {} in {m}", vocab::vuln_title(&mut ctx.rng)));
            ctx.w.outf(format_args!("  More info: https://pkg.go.dev/vuln/{id}"));
            ctx.w.outf(format_args!("  Module: {m}"));
            ctx.w.causef(format_args!("    Found in: {m}@{v}"));
            ctx.w.outf(format_args!("    Fixed in: {m}@{fixed}"));
            ctx.w.out("    Example traces found:");
            let p = &self.packages[ctx.rng.range(0, self.packages.len() as u64 - 1) as usize];
            ctx.w.outf(format_args!(
                "      #1: {}/{}.go:{}:{}: {}.{} calls {}.{}",
                p.dir,
                p.dir.rsplit('/').next().unwrap_or("main"),
                ctx.rng.range(10, 300),
                ctx.rng.range(2, 40),
                p.dir.rsplit('/').next().unwrap_or("main"),
                vocab::pascal(pick(&mut ctx.rng, vocab::FIELDS)),
                m.rsplit('/').next().unwrap_or(m),
                pick(&mut ctx.rng, &["Dial", "ReadMessage", "Parse", "Decode", "ServeHTTP"])
            ));
            ctx.w.out("");
            if first.is_empty() {
                first = format!("{id} in {m}@{v}");
            }
        }
        modules.sort_unstable();
        modules.dedup();
        let m = modules.len();
        ctx.w.causef(format_args!(
            "Your code is affected by {n} vulnerabilit{} from {m} module{}.",
            if n == 1 { "y" } else { "ies" },
            if m == 1 { "" } else { "s" }
        ));
        ctx.w.out("This scan also found 1 vulnerability in packages you import and 2 vulnerabilities");
        ctx.w.out("in modules you require, but your code doesn't appear to call these vulnerabilities.");
        ctx.w.out("Use '-show verbose' for more details.");
        ctx.exit(3);
        ctx.set_summary(format!("security gate: govulncheck: code reaches {first}"));
    }

    fn setup_go(&self, ctx: &mut Ctx<'_>) {
        let arch = ctx.arch();
        let root = format!("{}/go/{}/{arch}", ctx.toolcache, self.go);
        let minor = self.go.rsplit_once('.').map_or("1.23", |x| x.0);
        ctx.w.outf(format_args!("Setup go version spec {minor}"));
        ctx.w.outf(format_args!("Found in cache @ {root}"));
        ctx.w.out("Added go to the path");
        ctx.w.outf(format_args!("Successfully set up Go version {minor}"));
        ctx.w.outf(format_args!("[command]{root}/bin/go env GOMODCACHE"));
        ctx.w.outf(format_args!("[command]{root}/bin/go env GOCACHE"));
        ctx.w.outf(format_args!("{}/go/pkg/mod", ctx.home));
        ctx.w.outf(format_args!("{}/.cache/go-build", ctx.home));
        ctx.w.wait(0.5 + ctx.rng.unit() * 3.0);
        if ctx.rng.chance(0.8) {
            let key = format!("setup-go-{}-{arch}-go-{}-{}", ctx.goos(), self.go, vocab::hex(&mut ctx.layout, 64));
            let size = ctx.rng.range(20_000_000, 900_000_000);
            runner::cache_restored(ctx, &key, size);
        } else {
            ctx.w.out("Cache is not found");
        }
        let goarch = Self::goarch(ctx);
        ctx.w.outf(format_args!("go version go{} {}/{goarch}", self.go, ctx.goos()));
        ctx.w.out("");
        ctx.w.group("go env");
        for (k, v) in [
            ("GO111MODULE", String::new()),
            ("GOARCH", goarch.to_string()),
            ("GOBIN", String::new()),
            ("GOCACHE", format!("{}/.cache/go-build", ctx.home)),
            ("GOENV", format!("{}/.config/go/env", ctx.home)),
            ("GOFLAGS", String::new()),
            ("GOHOSTARCH", goarch.to_string()),
            ("GOHOSTOS", ctx.goos().to_string()),
            ("GOMODCACHE", format!("{}/go/pkg/mod", ctx.home)),
            ("GOOS", ctx.goos().to_string()),
            ("GOPATH", format!("{}/go", ctx.home)),
            ("GOPROXY", "https://proxy.golang.org,direct".to_string()),
            ("GOROOT", root.clone()),
            ("GOSUMDB", "sum.golang.org".to_string()),
            ("GOTOOLCHAIN", "auto".to_string()),
            ("GOVERSION", format!("go{}", self.go)),
        ] {
            ctx.w.outf(format_args!("{k}='{v}'"));
        }
        ctx.w.endgroup();
    }
}

impl ToolJob for GoTest {
    fn emit(&mut self, ctx: &mut Ctx<'_>, step: &StepDef, outcome: Outcome) {
        let fail = match outcome {
            Outcome::Fail(k) => Some(k),
            _ => None,
        };
        match step.role {
            Role::Toolchain => self.setup_go(ctx),
            Role::Deps => match fail {
                Some(k) => self.fetch_failure(ctx, k),
                None => {
                    // `go mod download` is silent when it succeeds.
                    ctx.w.grow(2.0);
                }
            },
            Role::Build => self.build(ctx, fail),
            Role::Lint => self.lint(ctx, step.variant, fail.is_some()),
            Role::Test => match fail {
                Some(K::DiskFull) => {
                    ctx.w.grow(2.0);
                    let p = &self.packages[ctx.rng.range(0, self.packages.len() as u64 - 1) as usize];
                    ctx.w.causef(format_args!(
                        "go: creating work dir: mkdir /tmp/go-build{}: no space left on device",
                        ctx.rng.range(100_000_000, 999_999_999)
                    ));
                    ctx.exit(1);
                    ctx.set_summary(format!(
                        "disk full: go test could not create its work dir (testing {})",
                        self.pkg_path(p)
                    ));
                }
                other => self.tests(ctx, other),
            },
            Role::Audit => {
                if step.variant == 1 {
                    let names: Vec<&str> = self.deps.iter().map(|d| d.0).collect();
                    cargo::trivy_fs(ctx, "go.mod", "gomod", &names, fail.is_some());
                } else {
                    self.govulncheck(ctx, fail.is_some());
                }
            }
            _ => {}
        }
    }

    fn hang_hint(&mut self, ctx: &mut Ctx<'_>, step: &StepDef) {
        if step.role != Role::Test {
            ctx.set_summary(format!("`{}` stalled", step.command()));
            return;
        }
        let testable: Vec<&Package> = self.packages.iter().filter(|p| !p.tests.is_empty()).collect();
        let p = testable[ctx.rng.range(0, testable.len() as u64 - 1) as usize];
        let t = &p.tests[ctx.rng.range(0, p.tests.len() as u64 - 1) as usize];
        if self.verbose {
            ctx.w.causef(format_args!("=== RUN   {t}"));
        }
        ctx.set_summary(format!("{t} in {} hung", self.pkg_path(p)));
    }

    fn post(&mut self, ctx: &mut Ctx<'_>, _step: &StepDef, _job_failed: bool) {
        let key = format!("setup-go-{}-{}-go-{}-{}", ctx.goos(), ctx.arch(), self.go, vocab::hex(&mut ctx.layout, 64));
        if ctx.rng.chance(0.75) {
            ctx.w.outf(format_args!("Cache hit occurred on the primary key {key}, not saving cache."));
        } else if ctx.rng.chance(0.3) {
            ctx.w.warning(&format!(
                "Failed to save: Unable to reserve cache with key {key}, another job may be creating this cache."
            ));
        } else {
            ctx.w.outf(format_args!("[command]/usr/bin/tar --posix -cf cache.tzst --exclude cache.tzst -P -C {} --files-from manifest.txt --use-compress-program zstdmt", ctx.ws));
            ctx.w.wait(3.0 + ctx.rng.unit() * 10.0);
            ctx.w.outf(format_args!("Cache saved with key: {key}"));
        }
    }
}
