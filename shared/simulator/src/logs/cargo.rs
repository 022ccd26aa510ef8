//! Rust jobs: `dtolnay/rust-toolchain`, `Swatinem/rust-cache`, `cargo build`, `cargo clippy` /
//! `cargo fmt --check`, `cargo test`, `cargo audit`, with rustc-style failures.

use crate::failure::FailureKind as K;

use super::runner::{self, Finding};
use super::vocab::{self, pick};
use super::{Ctx, Outcome, Role, StepDef, ToolJob};

/// (version, LLVM) of the stable toolchains a job may get.
const RUST: &[(&str, &str)] =
    &[("1.82.0", "19.1.1"), ("1.83.0", "19.1.1"), ("1.84.1", "19.1.5"), ("1.85.0", "19.1.7"), ("1.86.0", "19.1.7")];

struct Cargo {
    /// The workspace crates' version.
    version: String,
    rust: &'static str,
    llvm: &'static str,
    host: &'static str,
    deps: Vec<(&'static str, String)>,
    members: Vec<String>,
    cache_hit: bool,
    built: bool,
    unit_tests: Vec<String>,
    integration: Vec<(String, Vec<String>)>,
    doc_tests: u64,
}

pub(crate) fn plan(ctx: &mut Ctx<'_>, target: Option<(K, Role)>) -> (Box<dyn ToolJob>, Vec<StepDef>) {
    let role = target.map(|t| t.1);
    let (rust, llvm) = *ctx.layout.pick(RUST);
    let host = match (ctx.os, ctx.arm) {
        (super::Os::Windows, _) => "x86_64-pc-windows-msvc",
        (super::Os::Mac, _) => "aarch64-apple-darwin",
        (super::Os::Linux, true) => "aarch64-unknown-linux-gnu",
        (super::Os::Linux, false) => "x86_64-unknown-linux-gnu",
    };
    let n = ctx.layout.range(20, 75) as usize;
    let deps = vocab::sample(&mut ctx.layout, vocab::CRATES, n)
        .into_iter()
        .map(|c| (c, vocab::semver(&mut ctx.layout, 0, 2)))
        .collect();
    let mut members = vec![ctx.project.clone()];
    if ctx.layout.chance(0.4) {
        for m in vocab::sample(&mut ctx.layout, &["core", "cli", "server", "proto", "macros"], 2) {
            members.push(format!("{}-{m}", ctx.project));
        }
    }
    let module_count = ctx.layout.range(3, 8) as usize;
    let modules = vocab::sample(&mut ctx.layout, vocab::MODULES, module_count);
    let unit_n = ctx.layout.range(6, 90);
    let mut unit_tests: Vec<String> = (0..unit_n)
        .map(|_| format!("{}::tests::{}", pick(&mut ctx.layout, &modules), vocab::test_name(&mut ctx.layout)))
        .collect();
    unit_tests.sort();
    unit_tests.dedup();
    let integration = (0..ctx.layout.range(0, 3))
        .map(|_| {
            let file = pick(&mut ctx.layout, vocab::MODULES).to_string();
            let mut tests: Vec<String> =
                (0..ctx.layout.range(2, 25)).map(|_| vocab::test_name(&mut ctx.layout)).collect();
            tests.sort();
            tests.dedup();
            (file, tests)
        })
        .collect();
    let doc_tests = ctx.layout.range(0, 12);

    ctx.env.push(("CARGO_TERM_COLOR".into(), "always".into()));
    if ctx.layout.chance(0.4) {
        ctx.env.push(("RUSTFLAGS".into(), "-D warnings".into()));
    }
    let mut steps = Vec::new();
    let fmt_lint = ctx.layout.chance(0.3);
    let components = if fmt_lint { "rustfmt" } else { "clippy" };
    let toolchain = ctx.action("dtolnay/rust-toolchain", "stable");
    let name = ctx.layout.chance(0.5).then_some("Install Rust toolchain");
    steps.push(StepDef::uses(Role::Toolchain, name, toolchain, &[("toolchain", "stable"), ("components", components)]));
    let cached = ctx.layout.chance(0.6);
    if cached {
        let cache = ctx.action("Swatinem/rust-cache", "v2");
        steps.push(
            StepDef::uses(Role::Cache, None, cache, &[("cache-on-failure", "false"), ("save-if", "true")]).with_post(),
        );
    }
    if role == Some(Role::Build) || ctx.layout.chance(0.6) {
        let name = ctx.layout.chance(0.5).then_some("Build");
        steps.push(StepDef::run(Role::Build, name, &["cargo build --locked --all-targets"]));
    }
    if role == Some(Role::Lint) || ctx.layout.chance(0.5) {
        let step = if fmt_lint {
            StepDef::run(Role::Lint, Some("Rustfmt"), &["cargo fmt --all -- --check"]).with_variant(1)
        } else {
            StepDef::run(Role::Lint, Some("Clippy"), &["cargo clippy --all-targets --locked -- -D warnings"])
        };
        steps.push(step);
    }
    let test_cmd = if members.len() > 1 { "cargo test --workspace --locked" } else { "cargo test --locked" };
    let name = ctx.layout.chance(0.5).then_some("Run tests");
    steps.push(StepDef::run(Role::Test, name, &[test_cmd]));
    if role == Some(Role::Audit) || ctx.layout.chance(0.2) {
        if ctx.layout.chance(0.7) {
            steps.push(StepDef::run(
                Role::Audit,
                Some("Security audit"),
                &["cargo install cargo-audit --locked --quiet", "cargo audit --deny warnings"],
            ));
        } else {
            steps.push(trivy_fs_step(ctx));
        }
    }
    let job = Cargo {
        version: format!("0.{}.{}", ctx.layout.range(1, 12), ctx.layout.range(0, 9)),
        rust,
        llvm,
        host,
        deps,
        members,
        cache_hit: cached && ctx.rng.chance(0.8),
        built: false,
        unit_tests,
        integration,
        doc_tests,
    };
    (Box::new(job), steps)
}

/// A `trivy fs` step (shared by the language tools; variant 1 of the audit role).
pub(crate) fn trivy_fs_step(ctx: &mut Ctx<'_>) -> StepDef {
    let action = ctx.action("aquasecurity/trivy-action", "0.29.0");
    StepDef::uses(
        Role::Audit,
        Some("Trivy filesystem scan"),
        action,
        &[
            ("scan-type", "fs"),
            ("scan-ref", "."),
            ("severity", "CRITICAL,HIGH"),
            ("exit-code", "1"),
            ("ignore-unfixed", "true"),
        ],
    )
    .with_variant(1)
}

/// The `trivy fs` output for a lockfile; fails with findings among `packages`.
pub(crate) fn trivy_fs(ctx: &mut Ctx<'_>, lockfile: &str, ecosystem: &str, packages: &[&str], fail: bool) {
    ctx.w.out("Installing trivy from aquasecurity/setup-trivy");
    ctx.w.wait(1.0 + ctx.rng.unit() * 2.0);
    let n = ctx.rng.range(1, 4) as usize;
    let findings: Vec<Finding> = if fail { runner::trivy_findings(ctx, packages, n) } else { Vec::new() };
    runner::trivy_report(ctx, &format!("{lockfile} ({ecosystem})"), None, &findings);
    if fail {
        let first = &findings[0];
        ctx.exit(1);
        ctx.set_summary(format!(
            "security gate: trivy found {} ({}) in {} {} and {} more HIGH/CRITICAL in {lockfile}",
            first.id,
            first.severity,
            first.package,
            first.installed,
            findings.len() - 1
        ));
    }
}

fn status(ctx: &mut Ctx<'_>, verb: &str, rest: &str) {
    ctx.w.outf(format_args!("\x1b[1m\x1b[92m{verb:>12}\x1b[0m {rest}"));
}

/// `error: msg` that is not itself the cause (cargo's summary of a failure shown above).
fn err_plain(ctx: &mut Ctx<'_>, msg: &str) {
    ctx.w.outf(format_args!("\x1b[1m\x1b[91merror\x1b[0m\x1b[1m: {msg}\x1b[0m"));
}

fn err_head(ctx: &mut Ctx<'_>, code: Option<&str>, msg: &str) {
    match code {
        Some(c) => ctx.w.causef(format_args!("\x1b[1m\x1b[91merror[{c}]\x1b[0m\x1b[1m: {msg}\x1b[0m")),
        None => ctx.w.causef(format_args!("\x1b[1m\x1b[91merror\x1b[0m\x1b[1m: {msg}\x1b[0m")),
    }
}

/// A rustc snippet: `--> file:line:col`, the code line and the carets.
fn snippet(ctx: &mut Ctx<'_>, file: &str, line: u64, code: &str, at: &str, label: &str) {
    let col = code.find(at).unwrap_or(0);
    let indent = 4 + 4 * ctx.rng.range(0, 2) as usize;
    let pad = " ".repeat(line.to_string().len());
    ctx.w.causef(format_args!("{pad}\x1b[1m\x1b[94m--> \x1b[0m{file}:{line}:{}", col + indent + 1));
    ctx.w.outf(format_args!("{pad} \x1b[1m\x1b[94m|\x1b[0m"));
    ctx.w.outf(format_args!("\x1b[1m\x1b[94m{line} |\x1b[0m {}{code}", " ".repeat(indent)));
    ctx.w.outf(format_args!(
        "{pad} \x1b[1m\x1b[94m|\x1b[0m {}\x1b[1m\x1b[91m{}\x1b[0m \x1b[1m\x1b[91m{label}\x1b[0m",
        " ".repeat(indent + col),
        "^".repeat(at.chars().count().max(1))
    ));
    ctx.w.out("");
}

fn fmt_duration(secs: f64) -> String {
    if secs >= 60.0 { format!("{}m {:02}s", (secs / 60.0) as u64, secs as u64 % 60) } else { format!("{secs:.2}s") }
}

impl Cargo {
    fn member_path(&self, ctx: &Ctx<'_>, member: &str) -> String {
        if member == self.members[0] { ctx.ws.clone() } else { format!("{}/crates/{member}", ctx.ws) }
    }

    /// `Updating` / `Downloaded` / `Compiling` lines; `upto` stops before that dependency index.
    fn fetch_and_compile(&mut self, ctx: &mut Ctx<'_>, upto: Option<usize>, verb: &str) {
        if !self.built {
            if !self.cache_hit {
                status(ctx, "Updating", "crates.io index");
                ctx.w.grow(0.5);
                status(ctx, "Downloading", "crates ...");
                for (c, v) in &self.deps {
                    ctx.w.outf(format_args!("\x1b[1m\x1b[92m  Downloaded\x1b[0m {c} v{v}"));
                }
            }
            let stop = upto.unwrap_or(self.deps.len()).min(self.deps.len());
            for (c, v) in &self.deps[..stop] {
                // A restored cache leaves only the odd build script to rerun.
                if self.cache_hit && !ctx.rng.chance(0.1) {
                    continue;
                }
                ctx.w.grow(0.3 + ctx.rng.unit());
                status(ctx, verb, &format!("{c} v{v}"));
            }
            if upto.is_some() {
                return;
            }
        }
        let members = self.members.clone();
        for m in &members {
            ctx.w.grow(1.0 + ctx.rng.unit() * 2.0);
            let path = self.member_path(ctx, m);
            status(ctx, verb, &format!("{m} v{} ({path})", self.version));
        }
    }

    fn finished(&mut self, ctx: &mut Ctx<'_>, profile: &str) {
        let secs = 5.0 + ctx.rng.unit() * 140.0;
        ctx.w.grow(1.0);
        status(
            ctx,
            "Finished",
            &format!("`{profile}` profile [unoptimized + debuginfo] target(s) in {}", fmt_duration(secs)),
        );
        self.built = true;
    }

    fn compile_error(&mut self, ctx: &mut Ctx<'_>) {
        self.fetch_and_compile(ctx, None, "Compiling");
        let member = self.members[ctx.rng.range(0, self.members.len() as u64 - 1) as usize].clone();
        let n = ctx.rng.range(1, 3);
        let mut codes = Vec::new();
        let mut first_site = String::new();
        for _ in 0..n {
            let module = pick(&mut ctx.rng, vocab::MODULES);
            let file = if member == self.members[0] {
                format!("src/{module}.rs")
            } else {
                format!("crates/{member}/src/{module}.rs")
            };
            let line = ctx.rng.range(12, 640);
            let f = pick(&mut ctx.rng, vocab::FIELDS);
            let t = pick(&mut ctx.rng, vocab::TYPES);
            let v = pick(&mut ctx.rng, &["cfg", "req", "resp", "entry", "batch", "item", "conn", "buf"]);
            let (code, msg) = match ctx.rng.range(0, 9) {
                0 => {
                    let (want, got, val) = *ctx.rng.pick(&[
                        ("u64", "String", "value"),
                        ("usize", "i32", "offset"),
                        ("&str", "String", "name"),
                        ("Option<u32>", "u32", "limit"),
                        ("Duration", "u64", "timeout_ms"),
                        ("Vec<u8>", "&[u8]", "payload"),
                    ]);
                    err_head(ctx, Some("E0308"), "mismatched types");
                    let code = format!("let {f}: {want} = {val};");
                    snippet(ctx, &file, line, &code, val, &format!("expected `{want}`, found `{got}`"));
                    ("E0308", "mismatched types")
                }
                1 => {
                    let x = format!("{}_{}", pick(&mut ctx.rng, &["max", "min", "default", "retry"]), f);
                    err_head(ctx, Some("E0425"), &format!("cannot find value `{x}` in this scope"));
                    let code = format!("if {v}.{f} > {x} {{");
                    snippet(ctx, &file, line, &code, &x, "not found in this scope");
                    ("E0425", "cannot find value")
                }
                2 => {
                    let m = format!("{}_{f}", pick(&mut ctx.rng, &["get", "set", "with", "into", "try"]));
                    err_head(
                        ctx,
                        Some("E0599"),
                        &format!("no method named `{m}` found for struct `{t}` in the current scope"),
                    );
                    let code = format!("let {f} = {v}.{m}()?;");
                    snippet(ctx, &file, line, &code, &m, &format!("method not found in `{t}`"));
                    ("E0599", "no method found")
                }
                3 => {
                    err_head(ctx, Some("E0433"), &format!("failed to resolve: use of undeclared type `{t}`"));
                    let code = format!("let {v} = {t}::new({f});");
                    snippet(ctx, &file, line, &code, t, &format!("use of undeclared type `{t}`"));
                    ("E0433", "failed to resolve")
                }
                4 => {
                    err_head(ctx, Some("E0382"), &format!("borrow of moved value: `{v}`"));
                    let code = format!("tracing::debug!(?{v}, \"{module} done\");");
                    snippet(ctx, &file, line, &code, v, "value borrowed here after move");
                    ("E0382", "borrow of moved value")
                }
                5 => {
                    err_head(ctx, Some("E0061"), "this function takes 2 arguments but 1 argument was supplied");
                    let code = format!("let {v} = {t}::open({f});");
                    snippet(ctx, &file, line, &code, "open", "argument #2 of type `Duration` is missing");
                    ("E0061", "wrong number of arguments")
                }
                6 => {
                    let tr = *ctx.rng.pick(&["Serialize", "Deserialize<'_>", "Clone", "Send", "Hash"]);
                    err_head(ctx, Some("E0277"), &format!("the trait bound `{t}: {tr}` is not satisfied"));
                    let code = format!("let body = serde_json::to_vec(&{v})?;");
                    snippet(ctx, &file, line, &code, v, &format!("the trait `{tr}` is not implemented for `{t}`"));
                    ("E0277", "trait bound not satisfied")
                }
                7 => {
                    let m2 = pick(&mut ctx.rng, vocab::MODULES);
                    err_head(ctx, Some("E0432"), &format!("unresolved import `crate::{m2}::{t}`"));
                    let code = format!("use crate::{m2}::{t};");
                    snippet(ctx, &file, line.min(30), &code, t, &format!("no `{t}` in `{m2}`"));
                    ("E0432", "unresolved import")
                }
                8 => {
                    err_head(
                        ctx,
                        Some("E0502"),
                        &format!("cannot borrow `{v}` as mutable because it is also borrowed as immutable"),
                    );
                    let code = format!("{v}.push({f});");
                    snippet(ctx, &file, line, &code, &format!("{v}.push({f})"), "mutable borrow occurs here");
                    ("E0502", "conflicting borrow")
                }
                _ => {
                    err_head(ctx, Some("E0560"), &format!("struct `{t}` has no field named `{f}`"));
                    let code = format!("{f}: {},", ctx.rng.range(1, 500));
                    snippet(ctx, &file, line, &code, f, &format!("`{t}` does not have this field"));
                    ("E0560", "unknown field")
                }
            };
            if first_site.is_empty() {
                first_site = format!("{code} {msg} at {file}:{line}");
            }
            codes.push(code);
        }
        codes.sort_unstable();
        codes.dedup();
        if codes.len() > 1 {
            ctx.w.outf(format_args!("\x1b[1mSome errors have detailed explanations: {}.\x1b[0m", codes.join(", ")));
        }
        ctx.w.outf(format_args!(
            "\x1b[1mFor more information about an error, try `rustc --explain {}`.\x1b[0m",
            codes[0]
        ));
        let plural = if n > 1 { format!("{n} previous errors") } else { "1 previous error".to_string() };
        err_head(ctx, None, &format!("could not compile `{member}` (lib) due to {plural}"));
        ctx.exit(101);
        let more = if n > 1 { format!(" (+{} more)", n - 1) } else { String::new() };
        ctx.set_summary(format!("compile error: rustc {first_site}{more} in crate {member}"));
    }

    fn network(&mut self, ctx: &mut Ctx<'_>) {
        status(ctx, "Updating", "crates.io index");
        let (c, v) = self.deps[ctx.rng.range(0, self.deps.len() as u64 - 1) as usize].clone();
        let host_is_index = ctx.rng.chance(0.5);
        let (host, url) = if host_is_index {
            ("index.crates.io", format!("https://index.crates.io/{}", vocab::crate_index_path(c)))
        } else {
            ("static.crates.io", format!("https://static.crates.io/crates/{c}/{v}/download"))
        };
        let ip = vocab::ip_for(&mut ctx.rng, host);
        let curl = |ctx: &mut Ctx<'_>| -> String {
            match ctx.rng.range(0, 4) {
                0 => format!("[6] Couldn't resolve host name (Could not resolve host: {host})"),
                1 => format!(
                    "[28] Timeout was reached (Connection timed out after {} milliseconds)",
                    ctx.rng.range(30000, 30999)
                ),
                2 => "[56] Failure when receiving data from the peer (Recv failure: Connection reset by peer)"
                    .to_string(),
                3 => format!(
                    "[7] Couldn't connect to server (Failed to connect to {host} port 443 after {} ms: Couldn't connect to server)",
                    ctx.rng.range(2, 9000)
                ),
                _ => format!(
                    "[35] SSL connect error (OpenSSL SSL_connect: SSL_ERROR_SYSCALL in connection to {host}:443 )"
                ),
            }
        };
        if !host_is_index && !self.cache_hit {
            status(ctx, "Downloading", "crates ...");
        }
        for tries in (1..=ctx.rng.range(1, 3)).rev() {
            ctx.w.wait(2.0 + ctx.rng.unit() * 30.0);
            let e = curl(ctx);
            ctx.w.outf(format_args!(
                "\x1b[1m\x1b[33mwarning\x1b[0m\x1b[1m:\x1b[0m spurious network error ({tries} tries remaining): {e}"
            ));
        }
        ctx.w.wait(2.0 + ctx.rng.unit() * 30.0);
        let last = curl(ctx);
        if host_is_index {
            err_head(
                ctx,
                None,
                &format!(
                    "failed to get `{c}` as a dependency of package `{} v{} ({})`",
                    self.members[0], self.version, ctx.ws
                ),
            );
            ctx.w.out("");
            ctx.w.out("Caused by:");
            ctx.w.out(&format!("  download of {} failed", vocab::crate_index_path(c)));
        } else {
            err_head(ctx, None, &format!("failed to download from `{url}`"));
        }
        ctx.w.out("");
        ctx.w.out("Caused by:");
        ctx.w.causef(format_args!("  {last}"));
        ctx.exit(101);
        ctx.set_summary(format!("network: cargo could not reach {host} ({ip}) for {c} v{v}: {last}"));
    }

    fn registry(&mut self, ctx: &mut Ctx<'_>) {
        status(ctx, "Updating", "crates.io index");
        let (c, v) = self.deps[ctx.rng.range(0, self.deps.len() as u64 - 1) as usize].clone();
        let (code, reason) = *ctx.rng.pick(&[
            (502, "Bad Gateway"),
            (503, "Service Unavailable"),
            (500, "Internal Server Error"),
            (429, "Too Many Requests"),
            (504, "Gateway Timeout"),
        ]);
        let index = ctx.rng.chance(0.5);
        let (host, url) = if index {
            ("index.crates.io", format!("https://index.crates.io/{}", vocab::crate_index_path(c)))
        } else {
            ("static.crates.io", format!("https://static.crates.io/crates/{c}/{v}/download"))
        };
        let ip = vocab::ip_for(&mut ctx.rng, host);
        ctx.w.wait(1.0 + ctx.rng.unit() * 5.0);
        if index {
            err_head(
                ctx,
                None,
                &format!(
                    "failed to get `{c}` as a dependency of package `{} v{} ({})`",
                    self.members[0], self.version, ctx.ws
                ),
            );
            ctx.w.out("");
            ctx.w.out("Caused by:");
            ctx.w.out("  failed to query replaced source registry `crates-io`");
            ctx.w.out("");
            ctx.w.out("Caused by:");
            ctx.w.outf(format_args!("  download of {} failed", vocab::crate_index_path(c)));
        } else {
            status(ctx, "Downloading", "crates ...");
            err_head(ctx, None, &format!("failed to download from `{url}`"));
        }
        ctx.w.out("");
        ctx.w.out("Caused by:");
        ctx.w.causef(format_args!("  failed to get successful HTTP response from `{url}` ({ip}), got {code}"));
        ctx.w.out("  debug headers:");
        let pop = format!(
            "{}{}-P{}",
            pick(&mut ctx.rng, &["IAD", "FRA", "SEA", "LHR", "NRT", "CDG"]),
            ctx.rng.range(12, 89),
            ctx.rng.range(1, 6)
        );
        ctx.w.outf(format_args!("  x-amz-cf-pop: {pop}"));
        ctx.w.out("  x-cache: Error from cloudfront");
        let id = vocab::hex(&mut ctx.rng, 28);
        ctx.w.outf(format_args!("  x-amz-cf-id: {id}=="));
        ctx.w.out("  body:");
        ctx.w.outf(format_args!("  <html><head><title>{code} {reason}</title></head></html>"));
        ctx.exit(101);
        ctx.set_summary(format!("registry: {host} answered {code} {reason} for {c} v{v}"));
    }

    fn dependency(&mut self, ctx: &mut Ctx<'_>) {
        status(ctx, "Updating", "crates.io index");
        let (c, v) = self.deps[ctx.rng.range(0, self.deps.len() as u64 - 1) as usize].clone();
        let root = format!("{} v{} ({})", self.members[0], self.version, ctx.ws);
        ctx.w.wait(1.0 + ctx.rng.unit() * 4.0);
        match ctx.rng.range(0, 2) {
            0 => {
                let major: u64 = v.split('.').next().and_then(|m| m.parse().ok()).unwrap_or(1);
                let wanted = format!("{major}.{}", ctx.rng.range(41, 99));
                err_head(ctx, None, &format!("failed to select a version for the requirement `{c} = \"^{wanted}\"`"));
                let cands: Vec<String> =
                    (0..ctx.rng.range(3, 6)).map(|i| format!("{major}.{}.{}", 40 - i * 3, i)).collect();
                ctx.w.causef(format_args!("candidate versions found which didn't match: {}, ...", cands.join(", ")));
                ctx.w.out("location searched: crates.io index");
                ctx.w.outf(format_args!("required by package `{root}`"));
                ctx.w.out("if you are looking for the prerelease package it needs to be specified explicitly");
                ctx.set_summary(format!("dependency resolution: no version of {c} matches ^{wanted}"));
            }
            1 => {
                let (a, b) = vocab::pick2(&mut ctx.rng, vocab::CRATES);
                let lib = pick(&mut ctx.rng, &["openssl", "sqlite3", "z", "git2", "ring_core_0_17_8_"]);
                err_head(ctx, None, &format!("failed to select a version for `{a}`."));
                ctx.w.outf(format_args!("    ... required by package `{b} v{}`", vocab::semver(&mut ctx.rng, 0, 3)));
                ctx.w.outf(format_args!("    ... which satisfies dependency `{b} = \"^{}\"` of package `{root}`", &v));
                ctx.w.outf(format_args!("versions that meet the requirements `^{}` are: {}", &v, &v));
                ctx.w.out("");
                ctx.w.causef(format_args!(
                    "the package `{a}` links to the native library `{lib}`, but it conflicts with a previous package which links to `{lib}` as well:"
                ));
                ctx.w.outf(format_args!("package `{a} v{}`", vocab::semver(&mut ctx.rng, 0, 1)));
                ctx.w.outf(format_args!(
                    "    ... which satisfies dependency `{a} = \"^{}\"` of package `{root}`",
                    vocab::semver(&mut ctx.rng, 0, 1)
                ));
                ctx.w.outf(format_args!("Only one package in the dependency graph may specify the same links value."));
                ctx.w.out("");
                ctx.w.causef(format_args!("failed to select a version for `{a}` which could resolve this conflict"));
                ctx.set_summary(format!("dependency resolution: two versions of {a} link the native library {lib}"));
            }
            _ => {
                err_head(
                    ctx,
                    None,
                    &format!(
                        "the lock file {}/Cargo.lock needs to be updated but --locked was passed to prevent this",
                        ctx.ws
                    ),
                );
                ctx.w.out("If you want to try to generate the lock file without accessing the network, remove the --locked flag and use --offline instead.");
                ctx.set_summary(format!(
                    "dependency resolution: Cargo.lock is out of date with Cargo.toml (new requirement on {c})"
                ));
            }
        }
        ctx.exit(101);
    }

    fn oom(&mut self, ctx: &mut Ctx<'_>, in_tests: bool, command: &str) {
        let kind = ctx.rng.range(0, 3);
        if kind == 3 || (in_tests && kind == 0) {
            let upto = ctx.rng.range(0, self.deps.len() as u64) as usize;
            self.fetch_and_compile(ctx, Some(upto), "Compiling");
            ctx.w.grow(3.0);
            ctx.killed(command);
            ctx.exit(137);
            ctx.set_summary(format!("oom: the kernel killed `{command}` (exit 137)"));
            return;
        }
        self.fetch_and_compile(ctx, None, "Compiling");
        ctx.w.grow(3.0);
        let member = self.members[0].clone();
        let krate = member.replace('-', "_");
        match in_tests {
            false => {
                err_head(ctx, None, &format!("could not compile `{member}` (lib)"));
                ctx.w.out("");
                ctx.w.out("Caused by:");
                ctx.w.causef(format_args!(
                    "  process didn't exit successfully: `{}/.rustup/toolchains/stable-{}/bin/rustc --crate-name {krate} --edition=2021 src/lib.rs --error-format=json --crate-type lib -C opt-level=3 -C codegen-units=1` (signal: 9, SIGKILL: kill)",
                    ctx.home, self.host
                ));
                ctx.set_summary(format!("oom: rustc was killed (SIGKILL) compiling {member}"));
            }
            true => {
                self.finished(ctx, "test");
                let hash = vocab::hex(&mut ctx.rng, 16);
                status(ctx, "Running", &format!("unittests src/lib.rs (target/debug/deps/{krate}-{hash})"));
                ctx.w.out("");
                ctx.w.outf(format_args!("running {} tests", self.unit_tests.len()));
                let k = ctx.rng.range(0, self.unit_tests.len() as u64 / 2) as usize;
                for t in &self.unit_tests[..k] {
                    ctx.w.outf(format_args!("test {t} ... \x1b[32mok\x1b[0m"));
                }
                ctx.w.grow(2.0);
                err_plain(ctx, "test failed, to rerun pass `--lib`");
                ctx.w.out("");
                ctx.w.out("Caused by:");
                ctx.w.causef(format_args!(
                    "  process didn't exit successfully: `{}/target/debug/deps/{krate}-{hash}` (signal: 9, SIGKILL: kill)",
                    ctx.ws
                ));
                ctx.set_summary(format!("oom: the test binary of {member} was killed (SIGKILL) after {k} tests"));
            }
        }
        ctx.exit(101);
    }

    fn disk_full(&mut self, ctx: &mut Ctx<'_>) {
        let upto = ctx.rng.range(self.deps.len() as u64 / 3, self.deps.len() as u64) as usize;
        self.fetch_and_compile(ctx, Some(upto), "Compiling");
        let (c, v) = self.deps[upto.min(self.deps.len() - 1)].clone();
        let krate = c.replace('-', "_");
        let hash = vocab::hex(&mut ctx.rng, 16);
        ctx.w.grow(1.0);
        match ctx.rng.range(0, 2) {
            0 => {
                err_head(
                    ctx,
                    None,
                    &format!(
                        "failed to write {}/target/debug/deps/lib{krate}-{hash}.rmeta: No space left on device (os error 28)",
                        ctx.ws
                    ),
                );
                ctx.w.out("");
                err_head(ctx, None, &format!("could not compile `{c}` (lib) due to 1 previous error"));
            }
            1 => {
                ctx.w.cause("LLVM ERROR: IO failure on output stream: No space left on device");
                err_head(ctx, None, &format!("could not compile `{c}` (lib)"));
                ctx.w.out("");
                ctx.w.out("Caused by:");
                ctx.w.outf(format_args!(
                    "  process didn't exit successfully: `rustc --crate-name {krate} ...` (exit status: 1)"
                ));
            }
            _ => {
                err_head(ctx, None, &format!("failed to unpack package `{c} v{v}`"));
                ctx.w.out("");
                ctx.w.out("Caused by:");
                ctx.w.outf(format_args!("  failed to unpack entry at `{c}-{v}/src/lib.rs`"));
                ctx.w.out("");
                ctx.w.out("Caused by:");
                ctx.w.causef(format_args!(
                    "  failed to unpack `{}/.cargo/registry/src/index.crates.io-1949cf8c6b5b557f/{c}-{v}/src/lib.rs`",
                    ctx.home
                ));
                ctx.w.out("");
                ctx.w.out("Caused by:");
                ctx.w.cause("  No space left on device (os error 28)");
            }
        }
        ctx.exit(101);
        ctx.set_summary(format!("disk full: no space left on device while building {c} v{v}"));
    }

    fn permission(&mut self, ctx: &mut Ctx<'_>) {
        let private = format!(
            "{}-{}",
            ctx.owner.to_lowercase(),
            pick(&mut ctx.rng, &["internal", "proto", "auth", "common", "sdk"])
        );
        let ssh = ctx.rng.chance(0.5);
        let url = if ssh {
            format!("ssh://git@github.com/{}/{private}.git", ctx.owner)
        } else {
            format!("https://github.com/{}/{private}.git", ctx.owner)
        };
        status(ctx, "Updating", &format!("git repository `{url}`"));
        ctx.w.wait(1.0 + ctx.rng.unit() * 3.0);
        err_head(
            ctx,
            None,
            &format!(
                "failed to get `{private}` as a dependency of package `{} v{} ({})`",
                self.members[0], self.version, ctx.ws
            ),
        );
        for line in [
            String::new(),
            "Caused by:".into(),
            format!("  failed to load source for dependency `{private}`"),
            String::new(),
            "Caused by:".into(),
            format!("  Unable to update {url}"),
            String::new(),
            "Caused by:".into(),
            format!("  failed to fetch into: {}/.cargo/git/db/{private}-{}", ctx.home, vocab::hex(&mut ctx.rng, 16)),
            String::new(),
            "Caused by:".into(),
        ] {
            ctx.w.out(&line);
        }
        if ssh {
            ctx.w.cause("  failed to authenticate when downloading repository");
            ctx.w.out("");
            ctx.w.out("  * attempted ssh-agent authentication, but no usernames succeeded: `git`");
            ctx.w.out("");
            ctx.w.out("  if the git CLI succeeds then `net.git-fetch-with-cli` may help here");
            ctx.w.out("  https://doc.rust-lang.org/cargo/reference/config.html#netgit-fetch-with-cli");
            ctx.w.out("");
            ctx.w.out("Caused by:");
            ctx.w.cause("  no authentication methods succeeded");
        } else {
            ctx.w.causef(format_args!("  process didn't exit successfully: `git fetch --force --update-head-ok '{url}' '+HEAD:refs/remotes/origin/HEAD'` (exit status: 128)"));
            ctx.w.out("  --- stderr");
            ctx.w.cause("  fatal: could not read Username for 'https://github.com': terminal prompts disabled");
        }
        ctx.exit(101);
        ctx.set_summary(format!("permission: cargo cannot fetch private git dependency {url}"));
    }

    fn lint(&mut self, ctx: &mut Ctx<'_>, fmt: bool) {
        if fmt {
            let n = ctx.rng.range(1, 3);
            let mut files = Vec::new();
            for _ in 0..n {
                let file = format!("{}/src/{}.rs", ctx.ws, pick(&mut ctx.rng, vocab::MODULES));
                let line = ctx.rng.range(3, 400);
                ctx.w.causef(format_args!("Diff in {file}:{line}:"));
                let f = pick(&mut ctx.rng, vocab::FIELDS);
                let t = pick(&mut ctx.rng, vocab::TYPES);
                ctx.w.outf(format_args!(" \x1b[31m-    let {f} = {t}::from_parts(a,b, c);\x1b[0m"));
                ctx.w.outf(format_args!(" \x1b[32m+    let {f} = {t}::from_parts(a, b, c);\x1b[0m"));
                ctx.w.out("");
                files.push(format!("{}:{line}", file.trim_start_matches(&format!("{}/", ctx.ws))));
            }
            ctx.exit(1);
            ctx.set_summary(format!("lint: rustfmt --check found unformatted code in {}", files.join(", ")));
            return;
        }
        for (c, v) in &self.deps {
            if ctx.rng.chance(0.3) {
                ctx.w.grow(0.2);
                ctx.w.outf(format_args!("\x1b[1m\x1b[92m    Checking\x1b[0m {c} v{v}"));
            }
        }
        let member = self.members[0].clone();
        status(ctx, "Checking", &format!("{member} v{} ({})", self.version, ctx.ws));
        ctx.w.grow(1.0);
        let n = ctx.rng.range(1, 3);
        let mut first = String::new();
        for _ in 0..n {
            let file = format!("src/{}.rs", pick(&mut ctx.rng, vocab::MODULES));
            let line = ctx.rng.range(5, 500);
            let f = pick(&mut ctx.rng, vocab::FIELDS);
            let (lint, msg, code, at, label) = match ctx.rng.range(0, 6) {
                0 => (
                    "needless_return",
                    "unneeded `return` statement".to_string(),
                    format!("return Ok({f});"),
                    format!("return Ok({f});"),
                    "help: remove `return`",
                ),
                1 => (
                    "redundant_clone",
                    "redundant clone".to_string(),
                    format!("let {f} = self.{f}.clone();"),
                    ".clone()".to_string(),
                    "help: remove this",
                ),
                2 => (
                    "len_zero",
                    "length comparison to zero".to_string(),
                    format!("if {f}s.len() == 0 {{"),
                    format!("{f}s.len() == 0"),
                    "help: using `is_empty` is clearer and more explicit",
                ),
                3 => (
                    "needless_borrow",
                    "this expression creates a reference which is immediately dereferenced by the compiler".to_string(),
                    format!("parse(&{f}_str)?;"),
                    format!("&{f}_str"),
                    "help: change this to",
                ),
                4 => (
                    "uninlined_format_args",
                    "variables can be used directly in the `format!` string".to_string(),
                    format!("format!(\"{{}}\", {f})"),
                    format!("format!(\"{{}}\", {f})"),
                    "help: change this to",
                ),
                5 => (
                    "clone_on_copy",
                    "using `clone` on type `u64` which implements the `Copy` trait".to_string(),
                    format!("let {f} = cfg.{f}.clone();"),
                    format!("cfg.{f}.clone()"),
                    "help: try removing the `clone` call",
                ),
                _ => (
                    "collapsible_if",
                    "this `if` statement can be collapsed".to_string(),
                    format!("if {f} > 0 {{"),
                    format!("if {f} > 0 {{"),
                    "help: collapse nested if block",
                ),
            };
            err_head(ctx, None, &msg);
            snippet(ctx, &file, line, &code, &at, label);
            ctx.w.outf(format_args!("   = help: for further information visit https://rust-lang.github.io/rust-clippy/master/index.html#{lint}"));
            if first.is_empty() {
                ctx.w.outf(format_args!("   = note: `-D clippy::{}` implied by `-D warnings`", lint.replace('_', "-")));
                ctx.w.outf(format_args!("   = help: to override `-D warnings` add `#[allow(clippy::{lint})]`"));
                first = format!("clippy::{lint} at {file}:{line}");
            }
            ctx.w.out("");
        }
        let plural = if n > 1 { format!("{n} previous errors") } else { "1 previous error".to_string() };
        err_head(ctx, None, &format!("could not compile `{member}` (lib) due to {plural}"));
        ctx.exit(101);
        ctx.set_summary(format!("lint: clippy -D warnings failed on {first} ({n} errors)"));
    }

    fn tests(&mut self, ctx: &mut Ctx<'_>, fail: Option<K>) {
        if !self.built {
            self.fetch_and_compile(ctx, None, "Compiling");
        } else {
            let members = self.members.clone();
            for m in &members {
                ctx.w.grow(0.5);
                let path = self.member_path(ctx, m);
                status(ctx, "Compiling", &format!("{m} v{} ({path})", self.version));
            }
        }
        self.finished(ctx, "test");
        // Which suite fails: 0 = unit tests, 1.. = integration files.
        let suites = 1 + self.integration.len();
        let mut which = ctx.failing_test(fail);
        let failing_suite = fail.map(|_| which.range(0, suites as u64 - 1) as usize);
        let krate = self.members[0].replace('-', "_");
        let mut all =
            vec![("unittests src/lib.rs".to_string(), krate.clone(), self.unit_tests.clone(), String::from("--lib"))];
        for (file, tests) in &self.integration {
            all.push((format!("tests/{file}.rs"), file.clone(), tests.clone(), format!("--test {file}")));
        }
        for (i, (label, bin, tests, rerun)) in all.iter().enumerate() {
            let hash = vocab::hex(&mut ctx.rng, 16);
            status(ctx, "Running", &format!("{label} (target/debug/deps/{bin}-{hash})"));
            ctx.w.out("");
            ctx.w.outf(format_args!("running {} test{}", tests.len(), if tests.len() == 1 { "" } else { "s" }));
            let bad = if failing_suite == Some(i) && !tests.is_empty() {
                Some(which.range(0, tests.len() as u64 - 1) as usize)
            } else {
                None
            };
            for (j, t) in tests.iter().enumerate() {
                ctx.w.grow(0.05 + ctx.rng.unit() * 0.2);
                if Some(j) == bad {
                    ctx.w.outf(format_args!("test {t} ... \x1b[31mFAILED\x1b[0m"));
                } else if ctx.rng.chance(0.02) {
                    ctx.w.outf(format_args!("test {t} ... \x1b[33mignored\x1b[0m"));
                } else {
                    ctx.w.outf(format_args!("test {t} ... \x1b[32mok\x1b[0m"));
                }
            }
            let secs = vocab::secs(&mut ctx.rng, 0.0, 4.0);
            if let (Some(j), Some(kind)) = (bad, fail) {
                let name = tests[j].clone();
                ctx.w.out("");
                ctx.w.out("failures:");
                ctx.w.out("");
                ctx.w.outf(format_args!("---- {name} stdout ----"));
                let module = name.split("::").next().unwrap_or("lib").to_string();
                let file = if i == 0 { format!("src/{module}.rs") } else { label.clone() };
                let line = ctx.rng.range(20, 900);
                let col = ctx.rng.range(5, 13);
                ctx.w.out("");
                ctx.w.causef(format_args!("thread '{name}' panicked at {file}:{line}:{col}:"));
                let what = panic_message(ctx, kind);
                ctx.w.out("note: run with `RUST_BACKTRACE=1` environment variable to display a backtrace");
                ctx.w.out("");
                ctx.w.out("");
                ctx.w.out("failures:");
                ctx.w.outf(format_args!("    {name}"));
                ctx.w.out("");
                ctx.w.outf(format_args!(
                    "test result: \x1b[31mFAILED\x1b[0m. {} passed; 1 failed; 0 ignored; 0 measured; 0 filtered out; finished in {secs}s",
                    tests.len() - 1
                ));
                ctx.w.out("");
                err_plain(ctx, &format!("test failed, to rerun pass `{rerun}`"));
                ctx.exit(101);
                let label = if kind == K::FlakyTest { "flaky test" } else { "test failure" };
                ctx.set_summary(format!("{label}: {name} panicked at {file}:{line}: {what}"));
                return;
            }
            ctx.w.out("");
            ctx.w.outf(format_args!(
                "test result: \x1b[32mok\x1b[0m. {} passed; 0 failed; 0 ignored; 0 measured; 0 filtered out; finished in {secs}s",
                tests.len()
            ));
            ctx.w.out("");
        }
        if self.doc_tests > 0 {
            status(ctx, "Doc-tests", &krate);
            ctx.w.out("");
            ctx.w.outf(format_args!("running {} tests", self.doc_tests));
            for _ in 0..self.doc_tests {
                let t = pick(&mut ctx.rng, vocab::TYPES);
                let line = ctx.rng.range(10, 300);
                ctx.w.outf(format_args!("test src/lib.rs - {t}::new (line {line}) ... \x1b[32mok\x1b[0m"));
            }
            ctx.w.out("");
            let secs = vocab::secs(&mut ctx.rng, 0.2, 3.0);
            ctx.w.outf(format_args!(
                "test result: \x1b[32mok\x1b[0m. {} passed; 0 failed; 0 ignored; 0 measured; 0 filtered out; finished in {secs}s",
                self.doc_tests
            ));
            ctx.w.out("");
        }
    }

    fn audit(&mut self, ctx: &mut Ctx<'_>, fail: bool) {
        ctx.w.grow(2.0);
        ctx.w.out(
            "\x1b[1m\x1b[92m    Fetching\x1b[0m advisory database from `https://github.com/RustSec/advisory-db.git`",
        );
        ctx.w.wait(1.0 + ctx.rng.unit() * 2.0);
        let advisories = ctx.rng.range(880, 990);
        ctx.w.outf(format_args!(
            "\x1b[1m\x1b[92m      Loaded\x1b[0m {advisories} security advisories (from {}/.cargo/advisory-db)",
            ctx.home
        ));
        status(ctx, "Updating", "crates.io index");
        ctx.w.outf(format_args!(
            "\x1b[1m\x1b[92m    Scanning\x1b[0m Cargo.lock for vulnerabilities ({} crate dependencies)",
            self.deps.len() + self.members.len()
        ));
        if !fail {
            return;
        }
        let n = ctx.rng.range(1, 3) as usize;
        let mut ids = Vec::new();
        for k in 0..n {
            let (c, v) = self.deps[ctx.rng.range(0, self.deps.len() as u64 - 1) as usize].clone();
            let id = vocab::rustsec(&mut ctx.rng);
            let title = vocab::vuln_title(&mut ctx.rng);
            let score = 5.0 + ctx.rng.unit() * 4.9;
            let sev = if score >= 9.0 {
                "critical"
            } else if score >= 7.0 {
                "high"
            } else {
                "medium"
            };
            ctx.w.causef(format_args!("\x1b[1m\x1b[31mCrate:    \x1b[0m {c}"));
            ctx.w.outf(format_args!("\x1b[1m\x1b[31mVersion:  \x1b[0m {v}"));
            ctx.w.outf(format_args!("\x1b[1m\x1b[31mTitle:    \x1b[0m {title}"));
            ctx.w.outf(format_args!(
                "\x1b[1m\x1b[31mDate:     \x1b[0m {}-{:02}-{:02}",
                &id[8..12],
                ctx.rng.range(1, 12),
                ctx.rng.range(1, 28)
            ));
            ctx.w.causef(format_args!("\x1b[1m\x1b[31mID:       \x1b[0m {id}"));
            ctx.w.outf(format_args!("\x1b[1m\x1b[31mURL:      \x1b[0m https://rustsec.org/advisories/{id}"));
            ctx.w.outf(format_args!("\x1b[1m\x1b[31mSeverity: \x1b[0m {score:.1} ({sev})"));
            ctx.w.outf(format_args!("\x1b[1m\x1b[31mSolution: \x1b[0m Upgrade to >={}", runner::bump(&v)));
            ctx.w.out("\x1b[1m\x1b[31mDependency tree:\x1b[0m");
            ctx.w.outf(format_args!("{c} {v}"));
            ctx.w.outf(format_args!("└── {} {}", self.members[0], self.version));
            ctx.w.out("");
            ids.push(format!("{id} ({c} {v})"));
            if k + 1 < n {
                ctx.w.out("");
            }
        }
        let plural = if n == 1 { "vulnerability" } else { "vulnerabilities" };
        ctx.w.causef(format_args!("\x1b[1m\x1b[31merror:\x1b[0m {n} {plural} found!"));
        ctx.exit(1);
        ctx.set_summary(format!("security gate: cargo audit found {}", ids.join(", ")));
    }
}

/// The panic message of a failing test (causes), and a short description.
fn panic_message(ctx: &mut Ctx<'_>, kind: K) -> String {
    let f = pick(&mut ctx.rng, vocab::FIELDS);
    if kind == K::FlakyTest {
        match ctx.rng.range(0, 4) {
            0 => {
                ctx.w.cause("assertion `left == right` failed: unexpected status from /healthz");
                ctx.w.cause("  left: 503");
                ctx.w.cause(" right: 200");
                "expected 200 got 503".into()
            }
            1 => {
                let budget = ctx.rng.range(50, 500);
                let took = budget + ctx.rng.range(1, budget);
                ctx.w.causef(format_args!("operation took {took}ms, budget is {budget}ms"));
                format!("timing assertion ({took}ms > {budget}ms)")
            }
            2 => {
                let port = ctx.rng.range(30000, 65000);
                ctx.w.causef(format_args!(
                    "called `Result::unwrap()` on an `Err` value: reqwest::Error {{ kind: Request, url: \"http://127.0.0.1:{port}/\", source: hyper_util::client::legacy::Error(Connect, ConnectError(\"tcp connect error\", Os {{ code: 111, kind: ConnectionRefused, message: \"Connection refused\" }})) }}"
                ));
                format!("connection refused on 127.0.0.1:{port}")
            }
            3 => {
                ctx.w.cause("called `Result::unwrap()` on an `Err` value: Elapsed(())");
                "tokio timeout elapsed".into()
            }
            _ => {
                let want = ctx.rng.range(3, 12);
                ctx.w.causef(format_args!("expected {want} events after flush, got {} (ordering race?)", want - 1));
                "event count race".into()
            }
        }
    } else {
        match ctx.rng.range(0, 3) {
            0 => {
                let a = ctx.rng.range(0, 5000);
                let b = a + ctx.rng.range(1, 50);
                ctx.w.cause("assertion `left == right` failed");
                ctx.w.causef(format_args!("  left: {a}"));
                ctx.w.causef(format_args!(" right: {b}"));
                format!("{f}: left {a} != right {b}")
            }
            1 => {
                ctx.w.causef(format_args!("assertion failed: {f} <= limit"));
                format!("assertion failed: {f} <= limit")
            }
            2 => {
                let line = ctx.rng.range(1, 40);
                let col = ctx.rng.range(1, 80);
                let kind = *ctx.rng.pick(&["UnexpectedEof", "InvalidDigit", "TrailingCharacters", "UnknownField"]);
                ctx.w.causef(format_args!(
                    "called `Result::unwrap()` on an `Err` value: ParseError {{ line: {line}, column: {col}, kind: {kind} }}"
                ));
                format!("unwrap on ParseError {kind}")
            }
            _ => {
                let len = ctx.rng.range(0, 9);
                ctx.w.causef(format_args!("index out of bounds: the len is {len} but the index is {len}"));
                format!("index out of bounds ({len})")
            }
        }
    }
}

impl ToolJob for Cargo {
    fn emit(&mut self, ctx: &mut Ctx<'_>, step: &StepDef, outcome: Outcome) {
        let fail = match outcome {
            Outcome::Fail(k) => Some(k),
            _ => None,
        };
        match step.role {
            Role::Toolchain => toolchain(self, ctx),
            Role::Cache => cache(self, ctx),
            Role::Build => match fail {
                None => {
                    self.fetch_and_compile(ctx, None, "Compiling");
                    self.finished(ctx, "dev");
                }
                Some(K::Compile) => self.compile_error(ctx),
                Some(K::Network) => self.network(ctx),
                Some(K::Registry) => self.registry(ctx),
                Some(K::DependencyResolution) => self.dependency(ctx),
                Some(K::Oom) => self.oom(ctx, false, step.command()),
                Some(K::DiskFull) => self.disk_full(ctx),
                Some(K::Permission) => self.permission(ctx),
                Some(_) => self.compile_error(ctx),
            },
            Role::Lint => match fail {
                None => {
                    if step.variant == 0 {
                        status(ctx, "Checking", &format!("{} v{} ({})", self.members[0], self.version, ctx.ws));
                        ctx.w.grow(1.0);
                        status(ctx, "Finished", "`dev` profile [unoptimized + debuginfo] target(s) in 9.87s");
                    }
                }
                Some(_) => self.lint(ctx, step.variant == 1),
            },
            Role::Test => match fail {
                Some(K::Oom) => self.oom(ctx, true, step.command()),
                Some(K::DiskFull) => self.disk_full(ctx),
                Some(K::Compile) => self.compile_error(ctx),
                Some(k) => self.tests(ctx, Some(k)),
                None => self.tests(ctx, None),
            },
            Role::Audit => {
                if step.variant == 1 {
                    let names: Vec<&str> = self.deps.iter().map(|(c, _)| *c).collect();
                    trivy_fs(ctx, "Cargo.lock", "cargo", &names, fail.is_some());
                } else {
                    self.audit(ctx, fail.is_some());
                }
            }
            _ => {}
        }
    }

    fn hang_hint(&mut self, ctx: &mut Ctx<'_>, step: &StepDef) {
        let t = self.unit_tests[ctx.rng.range(0, self.unit_tests.len() as u64 - 1) as usize].clone();
        ctx.w.wait(60.0);
        if step.role == Role::Test {
            ctx.w.causef(format_args!("test {t} has been running for over 60 seconds"));
            ctx.set_summary(format!("{t} hung"));
        } else {
            ctx.set_summary(format!("`{}` stalled", step.command()));
        }
    }

    fn post(&mut self, ctx: &mut Ctx<'_>, _step: &StepDef, job_failed: bool) {
        if job_failed {
            ctx.w.out("Not saving cache because the job failed.");
        } else if self.cache_hit {
            ctx.w.out("Cache up-to-date.");
        } else {
            ctx.w.group("Cleaning Cache");
            ctx.w.outf(format_args!(
                "..Deleting all but the current versions of registry cache in {}/.cargo/registry",
                ctx.home
            ));
            ctx.w.endgroup();
            ctx.w.out("... Saving cache ...");
            ctx.w.wait(2.0 + ctx.rng.unit() * 8.0);
            if ctx.rng.chance(0.1) {
                ctx.w.warning(
                    "Failed to save: Unable to reserve cache with key v0-rust, another job may be creating this cache.",
                );
            }
        }
    }
}

fn toolchain(job: &Cargo, ctx: &mut Ctx<'_>) {
    let commit = vocab::stable_sha(job.rust);
    let date = match job.rust {
        "1.82.0" => "2024-10-15",
        "1.83.0" => "2024-11-26",
        "1.84.1" => "2025-01-27",
        "1.85.0" => "2025-02-17",
        _ => "2025-03-31",
    };
    let shell = "/usr/bin/bash --noprofile --norc -e -o pipefail {0}";
    let cmd = "rustup toolchain install stable --profile minimal --no-self-update";
    ctx.w.outf(format_args!("##[group]Run {cmd}"));
    ctx.w.outf(format_args!("\x1b[36;1m{cmd}\x1b[0m"));
    ctx.w.outf(format_args!("shell: {shell}"));
    ctx.w.out("env:");
    ctx.w.out("  RUSTUP_PERMIT_COPY_RENAME: 1");
    ctx.w.endgroup();
    ctx.w.outf(format_args!("info: syncing channel updates for 'stable-{}'", job.host));
    ctx.w.outf(format_args!("info: latest update on {date}, rust version {} ({} {date})", job.rust, &commit[..9]));
    for c in ["cargo", "clippy", "rust-std", "rustc", "rustfmt"] {
        ctx.w.outf(format_args!("info: downloading component '{c}'"));
    }
    ctx.w.wait(3.0 + ctx.rng.unit() * 8.0);
    for c in ["cargo", "clippy", "rust-std", "rustc", "rustfmt"] {
        ctx.w.wait(0.3 + ctx.rng.unit() * 2.0);
        ctx.w.outf(format_args!("info: installing component '{c}'"));
    }
    ctx.w.out("");
    ctx.w.outf(format_args!("  stable-{} installed - rustc {} ({} {date})", job.host, job.rust, &commit[..9]));
    ctx.w.out("");
    ctx.w.out("##[group]Run rustc +stable --version --verbose");
    ctx.w.out("\x1b[36;1mrustc +stable --version --verbose\x1b[0m");
    ctx.w.outf(format_args!("shell: {shell}"));
    ctx.w.endgroup();
    ctx.w.outf(format_args!("rustc {} ({} {date})", job.rust, &commit[..9]));
    ctx.w.out("binary: rustc");
    ctx.w.outf(format_args!("commit-hash: {commit}"));
    ctx.w.outf(format_args!("commit-date: {date}"));
    ctx.w.outf(format_args!("host: {}", job.host));
    ctx.w.outf(format_args!("release: {}", job.rust));
    ctx.w.outf(format_args!("LLVM version: {}", job.llvm));
}

fn cache(job: &Cargo, ctx: &mut Ctx<'_>) {
    let os = match ctx.os {
        super::Os::Linux => "Linux",
        super::Os::Mac => "macOS",
        super::Os::Windows => "Windows",
    };
    let job_id = vocab::slug(ctx.spec.job_name);
    let key = format!(
        "v0-rust-{job_id}-{os}-{}-{}-{}",
        ctx.arch(),
        vocab::hex(&mut ctx.layout, 8),
        vocab::hex(&mut ctx.rng, 8)
    );
    ctx.w.group("Cache Configuration");
    ctx.w.out("Cache Provider:");
    ctx.w.out("    github");
    ctx.w.out("Workspaces:");
    ctx.w.outf(format_args!("    {} -> target", ctx.ws));
    ctx.w.out("Cache Key:");
    ctx.w.outf(format_args!("    {key}"));
    ctx.w.out(".. Environment considered:");
    ctx.w.outf(format_args!("  - Rust Version: {} {}", job.rust, job.host));
    ctx.w.out("  - CARGO_TERM_COLOR");
    ctx.w.out(".. Lockfiles considered:");
    ctx.w.outf(format_args!("  - {}/Cargo.lock", ctx.ws));
    ctx.w.outf(format_args!("  - {}/Cargo.toml", ctx.ws));
    ctx.w.endgroup();
    ctx.w.out("");
    ctx.w.out("... Restoring cache ...");
    ctx.w.wait(1.0 + ctx.rng.unit() * 6.0);
    if job.cache_hit {
        let size = ctx.rng.range(150, 1400);
        ctx.w.outf(format_args!("Cache Size: ~{size} MB ({} B)", size * 1_048_576 + ctx.rng.range(0, 1_048_575)));
        ctx.w.outf(format_args!("Restored from cache key \"{key}\" full match: true."));
    } else {
        ctx.w.out("No cache found.");
    }
}
