//! Node jobs: `actions/setup-node`, `npm ci`, eslint / prettier, `tsc` / `vite build`, jest or
//! vitest, `npm audit`; npm's own error blocks in the style of the npm version in use.

use crate::failure::FailureKind as K;

use super::vocab::{self, pick};
use super::{Ctx, Outcome, Role, StepDef, ToolJob, cargo, runner};

/// (node, npm) versions; npm before 10.6 writes `npm ERR!`, later ones `npm error`.
const NODES: &[(&str, &str)] =
    &[("16.20.2", "8.19.4"), ("18.17.1", "9.6.7"), ("18.20.5", "10.8.2"), ("20.18.1", "10.8.2"), ("22.12.0", "10.9.0")];

const SRC_DIRS: &[&str] = &["components", "api", "store", "hooks", "lib", "utils", "pages", "services"];

struct Npm {
    node: &'static str,
    npm: &'static str,
    old_style: bool,
    version: String,
    packages: u64,
    deps: Vec<&'static str>,
    cache: bool,
    vitest: bool,
    test_files: Vec<(String, u64)>,
}

pub(crate) fn plan(ctx: &mut Ctx<'_>, target: Option<(K, Role)>) -> (Box<dyn ToolJob>, Vec<StepDef>) {
    let role = target.map(|t| t.1);
    let (node, npm) = *ctx.layout.pick(NODES);
    let old_style = npm.starts_with('8') || npm.starts_with('9');
    let major = node.split('.').next().unwrap_or("20");
    let cache = ctx.layout.chance(0.7);
    let vitest = ctx.layout.chance(0.4);
    let ext = if ctx.layout.chance(0.7) { "ts" } else { "js" };
    let files = ctx.layout.range(4, 30);
    let test_files = (0..files)
        .map(|_| {
            let dir = pick(&mut ctx.layout, SRC_DIRS);
            let name = vocab::camel(pick(&mut ctx.layout, vocab::MODULES));
            (format!("src/{dir}/{name}.test.{ext}"), ctx.layout.range(1, 25))
        })
        .collect();
    let deps_n = ctx.layout.range(8, 30) as usize;
    let deps = vocab::sample(&mut ctx.layout, vocab::NPM, deps_n);

    let mut steps = Vec::new();
    let setup = ctx.action("actions/setup-node", "v4");
    let mut with = vec![("node-version", major), ("check-latest", "false"), ("token", "***")];
    if cache {
        with.push(("cache", "npm"));
    }
    let mut s = StepDef::uses(Role::Toolchain, ctx.layout.chance(0.5).then_some("Set up Node.js"), setup, &with);
    if cache {
        s = s.with_post();
    }
    steps.push(s);
    steps.push(StepDef::run(Role::Deps, ctx.layout.chance(0.5).then_some("Install dependencies"), &["npm ci"]));
    if role == Some(Role::Lint) || ctx.layout.chance(0.5) {
        let step = if ctx.layout.chance(0.75) {
            StepDef::run(Role::Lint, Some("Lint"), &["npm run lint"])
        } else {
            StepDef::run(Role::Lint, Some("Check formatting"), &["npx prettier --check ."]).with_variant(1)
        };
        steps.push(step);
    }
    if role == Some(Role::Build) || ctx.layout.chance(0.6) {
        let vite = ctx.layout.chance(0.4);
        steps.push(StepDef::run(Role::Build, Some("Build"), &["npm run build"]).with_variant(u8::from(vite)));
    }
    let test = if ctx.layout.chance(0.5) { "npm test" } else { "npm run test -- --ci" };
    steps.push(StepDef::run(Role::Test, ctx.layout.chance(0.5).then_some("Test"), &[test]).with_env("CI", "true"));
    if role == Some(Role::Audit) || ctx.layout.chance(0.2) {
        if ctx.layout.chance(0.7) {
            steps.push(StepDef::run(Role::Audit, Some("Audit dependencies"), &["npm audit --audit-level=high"]));
        } else {
            steps.push(cargo::trivy_fs_step(ctx));
        }
    }
    let packages = ctx.layout.range(180, 1600);
    let version = format!("{}.{}.{}", ctx.layout.range(0, 4), ctx.layout.range(0, 30), ctx.layout.range(0, 12));
    (Box::new(Npm { node, npm, old_style, version, packages, deps, cache, vitest, test_files }), steps)
}

impl Npm {
    /// `npm ERR!` / `npm error` with colours, followed by `rest`.
    fn err_prefix(&self) -> &'static str {
        if self.old_style { "\x1b[37;40mnpm\x1b[0m \x1b[0m\x1b[31;40mERR!\x1b[0m" } else { "npm \x1b[31merror\x1b[39m" }
    }

    fn err(&self, ctx: &mut Ctx<'_>, rest: &str) {
        let p = self.err_prefix();
        ctx.w.outf(format_args!("{p} {rest}"));
    }

    fn err_cause(&self, ctx: &mut Ctx<'_>, rest: &str) {
        let p = self.err_prefix();
        ctx.w.causef(format_args!("{p} {rest}"));
    }

    fn log_footer(&self, ctx: &mut Ctx<'_>) {
        let p = self.err_prefix();
        ctx.w.outf(format_args!(
            "{p} A complete log of this run can be found in: {}/.npm/_logs/{}n-debug-0.log",
            ctx.home,
            super::writer::NOW
        ));
    }

    fn script_banner(&self, ctx: &mut Ctx<'_>, script: &str, command: &str) {
        ctx.w.out("");
        ctx.w.outf(format_args!("> {}@{} {script}", ctx.project, self.version));
        ctx.w.outf(format_args!("> {command}"));
        ctx.w.out("");
    }

    fn pkg(&self, ctx: &mut Ctx<'_>) -> (&'static str, String) {
        let p = self.deps[ctx.rng.range(0, self.deps.len() as u64 - 1) as usize];
        (p, vocab::semver(&mut ctx.rng, 1, 8))
    }

    fn tarball(p: &str, v: &str) -> String {
        let base = p.rsplit('/').next().unwrap_or(p);
        format!("https://registry.npmjs.org/{p}/-/{base}-{v}.tgz")
    }

    fn install(&self, ctx: &mut Ctx<'_>, fail: Option<K>) {
        let n_dep = ctx.rng.range(0, 4);
        for _ in 0..n_dep {
            let (p, v) = self.pkg(ctx);
            ctx.w.grow(0.2);
            ctx.w.outf(format_args!(
                "npm \x1b[33mwarn\x1b[39m \x1b[94mdeprecated\x1b[39m {p}@{v}: This version is no longer supported, upgrade to the latest major release."
            ));
        }
        match fail {
            None => {}
            Some(K::Network) => return self.network(ctx),
            Some(K::Registry) => return self.registry(ctx),
            Some(K::DependencyResolution) => return self.dependency(ctx),
            Some(K::DiskFull) => return self.disk_full_install(ctx),
            Some(K::Permission) => return self.permission(ctx),
            Some(_) => return self.network(ctx),
        }
        ctx.w.grow(4.0);
        ctx.w.out("");
        let secs = ctx.rng.range(4, 60);
        ctx.w.outf(format_args!(
            "added {} packages, and audited {} packages in {secs}s",
            self.packages,
            self.packages + 1
        ));
        ctx.w.out("");
        ctx.w.outf(format_args!("{} packages are looking for funding", self.packages / 6));
        ctx.w.out("  run `npm fund` for details");
        ctx.w.out("");
        if ctx.rng.chance(0.3) {
            let m = ctx.rng.range(1, 6);
            ctx.w.outf(format_args!("{m} moderate severity vulnerabilities"));
            ctx.w.out("");
            ctx.w.out("To address all issues, run:");
            ctx.w.out("  npm audit fix");
            ctx.w.out("");
            ctx.w.out("Run `npm audit` for details.");
        } else {
            ctx.w.out("found \x1b[32m\x1b[1m0\x1b[22m\x1b[39m vulnerabilities");
        }
    }

    fn network(&self, ctx: &mut Ctx<'_>) {
        let (p, v) = self.pkg(ctx);
        let host = "registry.npmjs.org";
        let ip = vocab::ip_for(&mut ctx.rng, host);
        ctx.w.grow(2.0);
        ctx.w.wait(30.0 + ctx.rng.unit() * 90.0);
        let (code, syscall, reason) = match ctx.rng.range(0, 4) {
            0 => ("ETIMEDOUT", Some("connect"), format!("connect ETIMEDOUT {ip}:443")),
            1 => ("ECONNRESET", Some("read"), "read ECONNRESET".to_string()),
            2 => ("EAI_AGAIN", Some("getaddrinfo"), format!("getaddrinfo EAI_AGAIN {host}")),
            3 => ("ENOTFOUND", Some("getaddrinfo"), format!("getaddrinfo ENOTFOUND {host}")),
            _ => ("ECONNRESET", None, "socket hang up".to_string()),
        };
        self.err(ctx, &format!("code {code}"));
        if let Some(s) = syscall {
            self.err(ctx, &format!("syscall {s}"));
        }
        self.err(ctx, &format!("errno {code}"));
        let url = Self::tarball(p, &v);
        self.err_cause(ctx, &format!("network request to {url} failed, reason: {reason}"));
        self.err(ctx, "network This is a problem related to network connectivity.");
        self.err(ctx, "network In most cases you are behind a proxy or have bad network settings.");
        self.err(ctx, "network");
        self.err(ctx, "network If you are behind a proxy, please make sure that the");
        self.err(ctx, "network 'proxy' config is set properly.  See: 'npm help config'");
        ctx.w.out("");
        self.log_footer(ctx);
        ctx.exit(1);
        ctx.set_summary(format!("network: npm ci could not fetch {p}@{v} from {host}: {reason}"));
    }

    fn registry(&self, ctx: &mut Ctx<'_>) {
        let (p, v) = self.pkg(ctx);
        let (code, reason) = *ctx.rng.pick(&[
            (502, "Bad Gateway"),
            (503, "Service Unavailable"),
            (500, "Internal Server Error"),
            (429, "Too Many Requests"),
            (504, "Gateway Time-out"),
        ]);
        ctx.w.grow(2.0);
        let tarball = ctx.rng.chance(0.5);
        let url = if tarball {
            Self::tarball(p, &v)
        } else {
            format!("https://registry.npmjs.org/{}", p.replace('/', "%2f"))
        };
        self.err(ctx, &format!("code E{code}"));
        self.err_cause(ctx, &format!("{code} {reason} - GET {url}"));
        ctx.w.out("");
        self.log_footer(ctx);
        ctx.exit(1);
        ctx.set_summary(format!("registry: registry.npmjs.org answered {code} {reason} for {p}"));
    }

    fn dependency(&self, ctx: &mut Ctx<'_>) {
        let (p, v) = self.pkg(ctx);
        ctx.w.grow(1.0);
        let root = format!("{}@{}", ctx.project, self.version);
        match ctx.rng.range(0, 3) {
            0 => {
                // (package, the peer it pins, the peer's current major)
                let (p, peer, major) = *ctx.rng.pick(&[
                    ("react-beautiful-dnd", "react", 18),
                    ("@testing-library/react", "react", 19),
                    ("react-redux", "react", 19),
                    ("@vitejs/plugin-react", "vite", 6),
                    ("ts-jest", "jest", 29),
                    ("@typescript-eslint/eslint-plugin", "eslint", 9),
                    ("eslint-config-next", "eslint", 9),
                    ("@storybook/react", "react", 19),
                    ("vite-plugin-svgr", "vite", 6),
                ]);
                let v = format!("{}.{}.{}", ctx.rng.range(1, 14), ctx.rng.range(0, 12), ctx.rng.range(0, 9));
                let have = format!("{major}.{}.{}", ctx.rng.range(0, 3), ctx.rng.range(0, 12));
                let have_major: u64 = have.split('.').next().and_then(|m| m.parse().ok()).unwrap_or(2);
                let want = have_major.saturating_sub(ctx.rng.range(1, 2)).max(1);
                self.err(ctx, "code ERESOLVE");
                self.err_cause(ctx, "ERESOLVE unable to resolve dependency tree");
                self.err(ctx, "");
                self.err(ctx, &format!("While resolving: {root}"));
                self.err_cause(ctx, &format!("Found: {peer}@{have}"));
                self.err(ctx, &format!("node_modules/{peer}"));
                self.err(ctx, &format!("  {peer}@\"^{have}\" from the root project"));
                self.err(ctx, "");
                self.err(ctx, "Could not resolve dependency:");
                self.err_cause(ctx, &format!("peer {peer}@\"^{want}.0.0\" from {p}@{v}"));
                self.err(ctx, &format!("node_modules/{p}"));
                self.err(ctx, &format!("  {p}@\"^{v}\" from the root project"));
                self.err(ctx, "");
                self.err(ctx, "Fix the upstream dependency conflict, or retry");
                self.err(ctx, "this command with --force or --legacy-peer-deps");
                self.err(ctx, "to accept an incorrect (and potentially broken) dependency resolution.");
                ctx.set_summary(format!(
                    "dependency resolution: {p}@{v} wants peer {peer}@^{want} but {peer}@{have} is installed"
                ));
            }
            1 => {
                let wanted = format!("^{}.{}.0", ctx.rng.range(9, 40), ctx.rng.range(0, 9));
                self.err(ctx, "code ETARGET");
                self.err_cause(ctx, &format!("notarget No matching version found for {p}@{wanted}."));
                self.err(ctx, "notarget In most cases you or one of your dependencies are requesting");
                self.err(ctx, "notarget a package version that doesn't exist.");
                ctx.set_summary(format!("dependency resolution: no version of {p} matches {wanted}"));
            }
            2 => {
                self.err(ctx, "code EUSAGE");
                self.err(ctx, "");
                self.err_cause(ctx, "`npm ci` can only install packages when your package.json and package-lock.json or npm-shrinkwrap.json are in sync. Please update your lock file with `npm install` before continuing.");
                self.err(ctx, "");
                self.err_cause(ctx, &format!("Missing: {p}@{v} from lock file"));
                let (q, w) = self.pkg(ctx);
                self.err(ctx, &format!("Invalid: lock file's {q}@{} does not satisfy {q}@{w}", runner_bump(&w)));
                self.err(ctx, "");
                self.err(ctx, "Clean install a project");
                ctx.set_summary(format!("dependency resolution: package-lock.json is out of sync (missing {p}@{v})"));
            }
            _ => {
                let scoped = format!(
                    "@{}/{}",
                    ctx.owner.to_lowercase(),
                    pick(&mut ctx.rng, &["ui-kit", "eslint-config", "api-client", "tokens"])
                );
                self.err(ctx, "code E404");
                self.err_cause(
                    ctx,
                    &format!(
                        "404 Not Found - GET https://registry.npmjs.org/{} - Not found",
                        scoped.replace('/', "%2f")
                    ),
                );
                self.err(ctx, "404");
                self.err(ctx, &format!("404  '{scoped}@{v}' is not in this registry."));
                ctx.set_summary(format!("dependency resolution: {scoped}@{v} does not exist in the registry"));
            }
        }
        ctx.w.out("");
        self.log_footer(ctx);
        ctx.exit(1);
    }

    fn disk_full_install(&self, ctx: &mut Ctx<'_>) {
        let (p, v) = self.pkg(ctx);
        ctx.w.grow(3.0);
        self.err(ctx, "code ENOSPC");
        self.err(ctx, "syscall write");
        self.err(ctx, "errno -28");
        self.err_cause(
            ctx,
            &format!("nospc ENOSPC: no space left on device, write '{}/node_modules/{p}/dist/index.js'", ctx.ws),
        );
        self.err(ctx, "nospc There appears to be insufficient space on your system to finish.");
        self.err(ctx, "nospc Clear up some disk space and try again.");
        ctx.w.out("");
        self.log_footer(ctx);
        ctx.exit(1);
        ctx.set_summary(format!("disk full: ENOSPC while npm ci unpacked {p}@{v}"));
    }

    fn permission(&self, ctx: &mut Ctx<'_>) {
        let name = format!(
            "@{}/{}",
            ctx.owner.to_lowercase(),
            pick(&mut ctx.rng, &["design-system", "api-client", "config", "telemetry"])
        );
        let url = format!("https://npm.pkg.github.com/{}", name.replace('/', "%2f"));
        ctx.w.grow(1.0);
        if ctx.rng.chance(0.5) {
            self.err(ctx, "code E401");
            self.err_cause(ctx, &format!("401 Unauthorized - GET {url} - authentication token not provided"));
            ctx.set_summary(format!("permission: GitHub Packages refused {name} (401, no token)"));
        } else {
            self.err(ctx, "code E403");
            self.err_cause(ctx, &format!("403 403 Forbidden - GET {url} - Permission permission_denied: read_package"));
            self.err(ctx, "403 In most cases, you or one of your dependencies are requesting");
            self.err(ctx, "403 a package version that is forbidden by your security policy, or");
            self.err(ctx, "403 on a server you do not have access to.");
            ctx.set_summary(format!("permission: the job token cannot read package {name} (403)"));
        }
        ctx.w.out("");
        self.log_footer(ctx);
        ctx.exit(1);
    }

    fn lint(&self, ctx: &mut Ctx<'_>, prettier: bool, fail: bool) {
        let ext = if self.test_files.first().is_some_and(|f| f.0.ends_with(".ts")) { "ts" } else { "js" };
        if prettier {
            ctx.w.out("Checking formatting...");
            ctx.w.grow(1.0);
            if !fail {
                ctx.w.out("All matched files use Prettier code style!");
                return;
            }
            let n = ctx.rng.range(1, 4);
            let mut files = Vec::new();
            for _ in 0..n {
                let f = format!(
                    "src/{}/{}.{ext}x",
                    pick(&mut ctx.rng, SRC_DIRS),
                    vocab::camel(pick(&mut ctx.rng, vocab::MODULES))
                );
                ctx.w.causef(format_args!("\x1b[33m[warn]\x1b[39m {f}"));
                files.push(f);
            }
            if n == 1 {
                ctx.w.cause("\x1b[33m[warn]\x1b[39m Code style issues found in the above file. Run Prettier with --write to fix.");
            } else {
                ctx.w.causef(format_args!(
                    "\x1b[33m[warn]\x1b[39m Code style issues found in {n} files. Run Prettier with --write to fix."
                ));
            }
            ctx.exit(1);
            ctx.set_summary(format!("lint: prettier --check flagged {}", files.join(", ")));
            return;
        }
        self.script_banner(ctx, "lint", "eslint . --max-warnings 0");
        ctx.w.grow(1.0);
        if !fail {
            return;
        }
        let files = ctx.rng.range(1, 3);
        let mut errors = 0;
        let mut first = String::new();
        for _ in 0..files {
            let file = format!(
                "src/{}/{}.{ext}x",
                pick(&mut ctx.rng, SRC_DIRS),
                vocab::pascal(pick(&mut ctx.rng, vocab::MODULES))
            );
            ctx.w.outf(format_args!("\x1b[4m{}/{file}\x1b[24m", ctx.ws));
            for _ in 0..ctx.rng.range(1, 3) {
                let x = vocab::camel(pick(&mut ctx.rng, vocab::FIELDS));
                let line = ctx.rng.range(3, 300);
                let col = ctx.rng.range(1, 40);
                let (msg, rule) = match ctx.rng.range(0, 7) {
                    0 => (format!("'{x}' is defined but never used"), "@typescript-eslint/no-unused-vars"),
                    1 => (format!("'{x}' is assigned a value but never used"), "no-unused-vars"),
                    2 => (format!("React Hook useEffect has a missing dependency: '{x}'. Either include it or remove the dependency array"), "react-hooks/exhaustive-deps"),
                    3 => ("Unexpected any. Specify a different type".to_string(), "@typescript-eslint/no-explicit-any"),
                    4 => ("Expected '===' and instead saw '=='".to_string(), "eqeqeq"),
                    5 => ("Unexpected console statement".to_string(), "no-console"),
                    6 => (format!("'{x}' is already declared in the upper scope on line {} column {col}", line.saturating_sub(9).max(1)), "@typescript-eslint/no-shadow"),
                    _ => ("Promises must be awaited, end with a call to .catch, or end with a call to .then with a rejection handler".to_string(), "@typescript-eslint/no-floating-promises"),
                };
                ctx.w.causef(format_args!(
                    "  \x1b[2m{line}:{col}\x1b[22m  \x1b[31merror\x1b[39m  {msg}  \x1b[2m{rule}\x1b[22m"
                ));
                if first.is_empty() {
                    first = format!("{rule} at {file}:{line}");
                }
                errors += 1;
            }
            ctx.w.out("");
        }
        ctx.w.causef(format_args!(
            "\x1b[31m\x1b[1m✖ {errors} problem{} ({errors} error{}, 0 warnings)\x1b[22m\x1b[39m",
            if errors == 1 { "" } else { "s" },
            if errors == 1 { "" } else { "s" }
        ));
        ctx.w.out("");
        ctx.exit(1);
        ctx.set_summary(format!("lint: eslint found {errors} errors, first {first}"));
    }

    fn build(&self, ctx: &mut Ctx<'_>, vite: bool, fail: Option<K>) {
        let cmd = if vite { "tsc --noEmit && vite build" } else { "tsc -p tsconfig.build.json" };
        self.script_banner(ctx, "build", cmd);
        ctx.w.grow(2.0);
        match fail {
            None => {
                if vite {
                    ctx.w.outf(format_args!(
                        "\x1b[36mvite v5.4.{} \x1b[32mbuilding for production...\x1b[36m\x1b[39m",
                        ctx.layout.range(8, 14)
                    ));
                    ctx.w.out("transforming...");
                    ctx.w.grow(3.0);
                    ctx.w.outf(format_args!("\x1b[32m✓\x1b[39m {} modules transformed.", ctx.rng.range(80, 2400)));
                    ctx.w.out("rendering chunks...");
                    ctx.w.out("computing gzip size...");
                    for (name, kb) in [("index.html", 0.46), ("assets/index.css", 24.1), ("assets/index.js", 412.7)] {
                        let size = kb * (0.8 + ctx.rng.unit() * 0.4);
                        ctx.w.outf(format_args!("\x1b[2mdist/\x1b[22m{name:<28} \x1b[1m\x1b[2m{size:>8.2} kB\x1b[22m\x1b[1m\x1b[22m\x1b[2m │ gzip: {:>7.2} kB\x1b[22m", size / 3.2));
                    }
                    ctx.w.outf(format_args!("\x1b[32m✓ built in {}s\x1b[39m", vocab::secs(&mut ctx.rng, 2.0, 40.0)));
                }
            }
            Some(K::Compile) => {
                if vite && ctx.rng.chance(0.4) {
                    ctx.w.outf(format_args!(
                        "\x1b[36mvite v5.4.{} \x1b[32mbuilding for production...\x1b[36m\x1b[39m",
                        ctx.layout.range(8, 14)
                    ));
                    ctx.w.out("transforming...");
                    let file = format!(
                        "src/{}/{}.tsx",
                        pick(&mut ctx.rng, SRC_DIRS),
                        vocab::pascal(pick(&mut ctx.rng, vocab::MODULES))
                    );
                    let line = ctx.rng.range(3, 300);
                    let col = ctx.rng.range(2, 60);
                    ctx.w.outf(format_args!("\x1b[32m✓\x1b[39m {} modules transformed.", ctx.rng.range(10, 800)));
                    ctx.w.cause("\x1b[31merror during build:");
                    let tok = *ctx.rng.pick(&["\"}\"", "\")\"", "\";\"", "\"<\""]);
                    ctx.w.causef(format_args!("[vite:esbuild] Transform failed with 1 error:\n{}/{file}:{line}:{col}: ERROR: Expected {tok} but found \"{}\"", ctx.ws, pick(&mut ctx.rng, &["const", "return", "export", "=>"])));
                    ctx.w.outf(format_args!(
                        "    at failureErrorWithLog ({}/node_modules/esbuild/lib/main.js:1476:15)\x1b[39m",
                        ctx.ws
                    ));
                    ctx.exit(1);
                    ctx.set_summary(format!("compile error: esbuild syntax error in {file}:{line}"));
                    return;
                }
                let n = ctx.rng.range(1, 4);
                let mut first = String::new();
                let mut files = std::collections::BTreeSet::new();
                for _ in 0..n {
                    let file = format!(
                        "src/{}/{}.ts",
                        pick(&mut ctx.rng, SRC_DIRS),
                        vocab::camel(pick(&mut ctx.rng, vocab::MODULES))
                    );
                    let line = ctx.rng.range(3, 400);
                    let col = ctx.rng.range(3, 60);
                    let t = pick(&mut ctx.rng, vocab::TYPES);
                    let f = vocab::camel(pick(&mut ctx.rng, vocab::FIELDS));
                    let (code, msg) = match ctx.rng.range(0, 7) {
                        0 => ("TS2322", "Type 'string' is not assignable to type 'number'.".to_string()),
                        1 => ("TS2339", format!("Property '{f}' does not exist on type '{t}'.")),
                        2 => (
                            "TS2345",
                            format!("Argument of type '{t} | undefined' is not assignable to parameter of type '{t}'."),
                        ),
                        3 => ("TS2304", format!("Cannot find name '{f}'.")),
                        4 => (
                            "TS2307",
                            format!(
                                "Cannot find module './{}' or its corresponding type declarations.",
                                pick(&mut ctx.rng, vocab::MODULES)
                            ),
                        ),
                        5 => ("TS7006", format!("Parameter '{f}' implicitly has an 'any' type.")),
                        6 => ("TS2554", format!("Expected {} arguments, but got {}.", 2 + line % 2, 1 + line % 2)),
                        _ => ("TS18048", format!("'{f}' is possibly 'undefined'.")),
                    };
                    ctx.w.causef(format_args!("{file}({line},{col}): error {code}: {msg}"));
                    files.insert(file.clone());
                    if first.is_empty() {
                        first = format!("{code} at {file}:{line}: {msg}");
                    }
                }
                ctx.exit(2);
                ctx.set_summary(format!("compile error: tsc {first} ({n} errors in {} files)", files.len()));
            }
            Some(K::Oom) => self.heap_oom(ctx, "build"),
            Some(K::DiskFull) => {
                let chunk = vocab::hex(&mut ctx.rng, 8);
                ctx.w.causef(format_args!(
                    "Error: ENOSPC: no space left on device, write '{}/dist/assets/index-{chunk}.js'",
                    ctx.ws
                ));
                ctx.w.out("    at async open (node:internal/fs/promises:639:25)");
                ctx.w.out("    at async Object.writeFile (node:internal/fs/promises:1216:14)");
                ctx.exit(1);
                ctx.set_summary("disk full: ENOSPC writing the build output under dist/".to_string());
            }
            Some(_) => self.heap_oom(ctx, "build"),
        }
    }

    fn heap_oom(&self, ctx: &mut Ctx<'_>, script: &str) {
        ctx.w.grow(4.0);
        let pid = vocab::pid(&mut ctx.rng);
        if ctx.rng.chance(0.5) {
            let addr = vocab::hex(&mut ctx.rng, 7);
            ctx.w.out("");
            ctx.w.out("<--- Last few GCs --->");
            ctx.w.out("");
            for _ in 0..2 {
                let ms = ctx.rng.range(40_000, 200_000);
                let heap = 4000.0 + ctx.rng.unit() * 90.0;
                ctx.w.outf(format_args!(
                    "[{pid}:0x{addr}]    {ms} ms: Mark-Compact {heap:.1} ({:.1}) -> {:.1} ({:.1}) MB, pooled: 0 MB, {:.2} / 0.00 ms  (average mu = 0.{}, current mu = 0.0{}) allocation failure; scavenge might not succeed",
                    heap + 90.0,
                    heap - 12.0,
                    heap + 92.0,
                    1000.0 + ctx.rng.unit() * 2000.0,
                    ctx.rng.range(100, 300),
                    ctx.rng.range(10, 99)
                ));
            }
            ctx.w.out("");
            ctx.w.out("<--- JS stacktrace --->");
            ctx.w.out("");
            ctx.w.cause("FATAL ERROR: Reached heap limit Allocation failed - JavaScript heap out of memory");
            ctx.w.out("----- Native stack trace -----");
            ctx.w.out("");
            ctx.w.out(" 1: 0xb8d0a3 node::OOMErrorHandler(char const*, v8::OOMDetails const&) [node]");
            ctx.w.out(" 2: 0xf06250 v8::Utils::ReportOOMFailure(v8::internal::Isolate*, char const*, v8::OOMDetails const&) [node]");
            ctx.w.out(" 3: 0xf06537 v8::internal::V8::FatalProcessOutOfMemory(v8::internal::Isolate*, char const*, v8::OOMDetails const&) [node]");
            ctx.w.causef(format_args!(
                "{}/{}.sh: line 1: {pid} Aborted                 (core dumped) npm run {script}",
                ctx.temp,
                vocab::uuid(&mut ctx.rng)
            ));
            ctx.exit(134);
            ctx.set_summary(format!("oom: node ran out of heap during `npm run {script}` (exit 134)"));
        } else {
            ctx.killed(&format!("npm run {script}"));
            ctx.exit(137);
            ctx.set_summary(format!("oom: the kernel killed `npm run {script}` (exit 137)"));
        }
    }

    fn tests(&self, ctx: &mut Ctx<'_>, fail: Option<K>) {
        let cmd = if self.vitest { "vitest run" } else { "jest --ci" };
        self.script_banner(ctx, "test", cmd);
        if self.vitest {
            ctx.w.outf(format_args!(
                " \x1b[46m\x1b[30m RUN \x1b[39m\x1b[49m \x1b[36mv2.1.{}\x1b[39m \x1b[90m{}\x1b[39m",
                ctx.layout.range(1, 9),
                ctx.ws
            ));
            ctx.w.out("");
        }
        let mut which = ctx.failing_test(fail);
        let bad = fail.map(|_| which.range(0, self.test_files.len() as u64 - 1) as usize);
        let total: u64 = self.test_files.iter().map(|f| f.1).sum();
        let mut failure: Option<(String, String)> = None;
        for (i, (file, n)) in self.test_files.iter().enumerate() {
            ctx.w.grow(0.5 + ctx.rng.unit());
            let ms = ctx.rng.range(3, 900);
            let (dir, base) = file.rsplit_once('/').unwrap_or(("", file));
            if Some(i) == bad {
                let kind = fail.unwrap_or(K::TestFailure);
                if kind == K::Oom && !self.vitest {
                    let pid = vocab::pid(&mut ctx.rng);
                    ctx.w.outf(format_args!("\x1b[0m\x1b[7m\x1b[1m\x1b[31m FAIL \x1b[39m\x1b[22m\x1b[27m\x1b[0m \x1b[2m{dir}/\x1b[22m\x1b[1m{base}\x1b[22m"));
                    ctx.w.causef(format_args!(
                        "  \x1b[1m● \x1b[22mTest suite failed to run\n\n    A jest worker process (pid={pid}) was terminated by another process: signal=SIGKILL, exitCode=null. Operating system logs may contain more information on why this occurred."
                    ));
                    ctx.w.out("");
                    failure = Some((file.clone(), format!("oom: a jest worker running {file} was SIGKILLed")));
                    continue;
                }
                let describe = vocab::pascal(base.split('.').next().unwrap_or("Suite"));
                let test = vocab::spaced(&vocab::test_name(&mut which));
                let line = ctx.rng.range(8, 240);
                let col = ctx.rng.range(5, 30);
                if self.vitest {
                    ctx.w.outf(format_args!(" \x1b[31m❯\x1b[39m {file} \x1b[2m({n} tests | \x1b[22m\x1b[31m1 failed\x1b[39m\x1b[2m)\x1b[22m\x1b[33m {ms}\x1b[2mms\x1b[22m\x1b[39m"));
                    ctx.w.outf(format_args!(
                        "   \x1b[31m×\x1b[39m {describe} > {test}\x1b[33m {}\x1b[2mms\x1b[22m\x1b[39m",
                        ctx.rng.range(2, 5000)
                    ));
                } else {
                    ctx.w.outf(format_args!("\x1b[0m\x1b[7m\x1b[1m\x1b[31m FAIL \x1b[39m\x1b[22m\x1b[27m\x1b[0m \x1b[2m{dir}/\x1b[22m\x1b[1m{base}\x1b[22m"));
                    ctx.w.outf(format_args!("  \x1b[1m\x1b[31m  ● \x1b[22m\x1b[1m{describe} › {test}\x1b[39m\x1b[22m"));
                    ctx.w.out("");
                }
                let what = self.assertion(ctx, kind, &format!("{dir}/{base}"), line, col);
                let label = if kind == K::FlakyTest { "flaky test" } else { "test failure" };
                failure = Some((file.clone(), format!("{label}: {describe} › {test} ({file}:{line}): {what}")));
                continue;
            }
            if self.vitest {
                ctx.w.outf(format_args!(
                    " \x1b[32m✓\x1b[39m {file} \x1b[2m({n} tests)\x1b[22m\x1b[90m {ms}\x1b[2mms\x1b[22m\x1b[39m"
                ));
            } else {
                let slow = if ms > 720 { format!(" ({:.3} s)", 5.0 + ctx.rng.unit() * 20.0) } else { String::new() };
                ctx.w.outf(format_args!("\x1b[0m\x1b[7m\x1b[1m\x1b[32m PASS \x1b[39m\x1b[22m\x1b[27m\x1b[0m \x1b[2m{dir}/\x1b[22m\x1b[1m{base}\x1b[22m{slow}"));
            }
        }
        let files = self.test_files.len();
        let failed_files = usize::from(failure.is_some());
        let secs = vocab::secs(&mut ctx.rng, 2.0, 90.0);
        ctx.w.out("");
        if self.vitest {
            if failed_files > 0 {
                ctx.w.outf(format_args!(" \x1b[2mTest Files \x1b[22m \x1b[1m\x1b[31m1 failed\x1b[39m\x1b[22m\x1b[2m | \x1b[22m\x1b[1m\x1b[32m{} passed\x1b[39m\x1b[22m\x1b[90m ({files})\x1b[39m", files - 1));
                ctx.w.outf(format_args!("\x1b[2m      Tests \x1b[22m \x1b[1m\x1b[31m1 failed\x1b[39m\x1b[22m\x1b[2m | \x1b[22m\x1b[1m\x1b[32m{} passed\x1b[39m\x1b[22m\x1b[90m ({total})\x1b[39m", total - 1));
            } else {
                ctx.w.outf(format_args!(" \x1b[2mTest Files \x1b[22m \x1b[1m\x1b[32m{files} passed\x1b[39m\x1b[22m\x1b[90m ({files})\x1b[39m"));
                ctx.w.outf(format_args!("\x1b[2m      Tests \x1b[22m \x1b[1m\x1b[32m{total} passed\x1b[39m\x1b[22m\x1b[90m ({total})\x1b[39m"));
            }
            ctx.w.outf(format_args!("\x1b[2m   Start at \x1b[22m {}h", super::writer::NOW));
            ctx.w.outf(format_args!("\x1b[2m   Duration \x1b[22m {secs}s\x1b[2m (transform {}ms, setup 0ms, collect {}ms, tests {}ms)\x1b[22m", ctx.rng.range(100, 3000), ctx.rng.range(100, 5000), ctx.rng.range(100, 30000)));
        } else {
            if failed_files > 0 {
                ctx.w.outf(format_args!("\x1b[1mTest Suites: \x1b[22m\x1b[1m\x1b[31m1 failed\x1b[39m\x1b[22m, \x1b[1m\x1b[32m{} passed\x1b[39m\x1b[22m, {files} total", files - 1));
                ctx.w.outf(format_args!("\x1b[1mTests:       \x1b[22m\x1b[1m\x1b[31m1 failed\x1b[39m\x1b[22m, \x1b[1m\x1b[32m{} passed\x1b[39m\x1b[22m, {total} total", total - 1));
            } else {
                ctx.w.outf(format_args!(
                    "\x1b[1mTest Suites: \x1b[22m\x1b[1m\x1b[32m{files} passed\x1b[39m\x1b[22m, {files} total"
                ));
                ctx.w.outf(format_args!(
                    "\x1b[1mTests:       \x1b[22m\x1b[1m\x1b[32m{total} passed\x1b[39m\x1b[22m, {total} total"
                ));
            }
            ctx.w.outf(format_args!("\x1b[1mSnapshots:   \x1b[22m{} total", ctx.layout.range(0, 12)));
            ctx.w.outf(format_args!("\x1b[1mTime:\x1b[22m        {secs} s"));
            ctx.w.out("\x1b[2mRan all test suites\x1b[22m\x1b[2m.\x1b[22m");
        }
        if let Some((_, summary)) = failure {
            ctx.exit(1);
            ctx.set_summary(summary);
        }
    }

    /// The assertion block of a failing test; returns a short description.
    fn assertion(&self, ctx: &mut Ctx<'_>, kind: K, file: &str, line: u64, col: u64) -> String {
        let indent = if self.vitest { "" } else { "    " };
        let f = vocab::camel(pick(&mut ctx.rng, vocab::FIELDS));
        // (description, the source line the frame points at)
        let (what, code) = if kind == K::FlakyTest {
            match ctx.rng.range(0, 3) {
                0 => {
                    let ms = *ctx.rng.pick(&[5000, 10000, 15000, 30000]);
                    if self.vitest {
                        ctx.w.causef(format_args!("\x1b[31mError: Test timed out in {ms}ms.\x1b[39m"));
                        ctx.w.out("If this is a long-running test, pass a timeout value as the last argument or configure it globally with \"testTimeout\".");
                    } else {
                        ctx.w.causef(format_args!("    thrown: \"Exceeded timeout of {ms} ms for a test."));
                        ctx.w.out("    Add a timeout value to this test to increase the timeout, if this is a long-running test. See https://jestjs.io/docs/api#testname-fn-timeout.\"");
                    }
                    (format!("timed out after {ms} ms"), "await waitFor(() => expect(queue.size).toBe(0));".to_string())
                }
                1 => {
                    self.expect(ctx, indent, "toBe", "200", "503");
                    ("expected 200 got 503".to_string(), "expect(res.status).toBe(200);".to_string())
                }
                2 => {
                    let port = ctx.rng.range(30000, 65000);
                    ctx.w.causef(format_args!("{indent}Error: connect ECONNREFUSED 127.0.0.1:{port}"));
                    (
                        format!("ECONNREFUSED 127.0.0.1:{port}"),
                        "const res = await fetch(`http://127.0.0.1:${port}/health`);".to_string(),
                    )
                }
                _ => {
                    let want = ctx.rng.range(2, 6);
                    if self.vitest {
                        ctx.w.causef(format_args!(
                            "\x1b[31mAssertionError: expected \"spy\" to be called {want} times, but got {} times\x1b[39m",
                            want - 1
                        ));
                    } else {
                        ctx.w.causef(format_args!("{indent}expect(jest.fn()).toHaveBeenCalledTimes(expected)"));
                        ctx.w.out("");
                        ctx.w.causef(format_args!("{indent}Expected number of calls: {want}"));
                        ctx.w.causef(format_args!("{indent}Received number of calls: {}", want - 1));
                    }
                    (
                        format!("mock called {} of {want} times (race)", want - 1),
                        format!("expect(onFlush).toHaveBeenCalledTimes({want});"),
                    )
                }
            }
        } else {
            match ctx.rng.range(0, 2) {
                0 => {
                    let want = ctx.rng.range(1, 999);
                    let got = want + ctx.rng.range(1, 50);
                    self.expect(ctx, indent, "toBe", &want.to_string(), &got.to_string());
                    (format!("expected {f} {want}, received {got}"), format!("expect(result.{f}).toBe({want});"))
                }
                1 => {
                    let a = pick(&mut ctx.rng, &["active", "pending", "archived", "draft", "paid"]);
                    let b = pick(&mut ctx.rng, &["cancelled", "failed", "open", "expired"]);
                    self.expect(ctx, indent, "toEqual", &format!("\"{a}\""), &format!("\"{b}\""));
                    (format!("expected \"{a}\", received \"{b}\""), format!("expect(order.{f}).toEqual(\"{a}\");"))
                }
                _ => {
                    let t = pick(&mut ctx.rng, vocab::TYPES);
                    ctx.w
                        .causef(format_args!("{indent}TypeError: Cannot read properties of undefined (reading '{f}')"));
                    (
                        format!("TypeError reading '{f}' of undefined {t}"),
                        format!("const total = cart.{f}.reduce(sum, 0);"),
                    )
                }
            }
        };
        ctx.w.out("");
        if self.vitest {
            ctx.w.causef(format_args!(" \x1b[36m ❯ \x1b[39m{file}:{line}:{col}"));
        } else {
            ctx.w.outf(format_args!("      \x1b[2m{}\x1b[22m |     \x1b[2mawait flush();\x1b[22m", line - 1));
            ctx.w.outf(format_args!("    \x1b[31m\x1b[1m>\x1b[22m\x1b[2m\x1b[39m {line} |\x1b[22m     {code}"));
            ctx.w.outf(format_args!("      \x1b[2m{}\x1b[22m |   \x1b[2m}});\x1b[22m", line + 1));
            ctx.w.out("");
            ctx.w.causef(format_args!(
                "      \x1b[2mat Object.<anonymous> (\x1b[22m{file}\x1b[2m:{line}:{col})\x1b[22m"
            ));
        }
        ctx.w.out("");
        what
    }

    fn expect(&self, ctx: &mut Ctx<'_>, indent: &str, matcher: &str, want: &str, got: &str) {
        if self.vitest {
            ctx.w.causef(format_args!(
                "\x1b[31mAssertionError: expected {got} to {} {want} // Object.is equality\x1b[39m",
                if matcher == "toBe" { "be" } else { "deeply equal" }
            ));
            ctx.w.out("");
            ctx.w.out("\x1b[32m- Expected\x1b[39m");
            ctx.w.out("\x1b[31m+ Received\x1b[39m");
            ctx.w.out("");
            ctx.w.outf(format_args!("\x1b[32m- {want}\x1b[39m"));
            ctx.w.outf(format_args!("\x1b[31m+ {got}\x1b[39m"));
        } else {
            let equality = if matcher == "toBe" { "Object.is equality" } else { "deep equality" };
            ctx.w.causef(format_args!("{indent}\x1b[2mexpect(\x1b[22m\x1b[31mreceived\x1b[39m\x1b[2m).\x1b[22m{matcher}\x1b[2m(\x1b[22m\x1b[32mexpected\x1b[39m\x1b[2m) // {equality}\x1b[22m"));
            ctx.w.out("");
            ctx.w.causef(format_args!("{indent}Expected: \x1b[32m{want}\x1b[39m"));
            ctx.w.causef(format_args!("{indent}Received: \x1b[31m{got}\x1b[39m"));
        }
    }

    fn audit(&self, ctx: &mut Ctx<'_>, fail: bool) {
        ctx.w.grow(1.0);
        if !fail {
            ctx.w.out("found 0 vulnerabilities");
            return;
        }
        ctx.w.out("# npm audit report");
        ctx.w.out("");
        let n = ctx.rng.range(1, 3) as usize;
        let names = vocab::sample(&mut ctx.rng, vocab::NPM, n);
        let mut high = 0;
        let mut critical = 0;
        let mut first = String::new();
        for p in names {
            let v = vocab::semver(&mut ctx.rng, 0, 6);
            let fixed = super::runner::bump(&v);
            let sev = if ctx.rng.chance(0.3) {
                critical += 1;
                "critical"
            } else {
                high += 1;
                "high"
            };
            let id = vocab::ghsa(&mut ctx.rng);
            let title = vocab::vuln_title(&mut ctx.rng);
            ctx.w.causef(format_args!("{p}  <{fixed}"));
            ctx.w.causef(format_args!("Severity: {sev}"));
            ctx.w.causef(format_args!("{title} in {p} - https://github.com/advisories/{id}"));
            ctx.w.out("fix available via `npm audit fix`");
            ctx.w.outf(format_args!("node_modules/{p}"));
            ctx.w.out("");
            if first.is_empty() {
                first = format!("{id} ({sev}) in {p} <{fixed}");
            }
        }
        let mut parts = Vec::new();
        if high > 0 {
            parts.push(format!("{high} high"));
        }
        if critical > 0 {
            parts.push(format!("{critical} critical"));
        }
        ctx.w.causef(format_args!(
            "{n} {} ({})",
            if n == 1 { "vulnerability" } else { "vulnerabilities" },
            parts.join(", ")
        ));
        ctx.w.out("");
        ctx.w.out("To address all issues, run:");
        ctx.w.out("  npm audit fix");
        ctx.exit(1);
        let more = if n > 1 { format!(" and {} more", n - 1) } else { String::new() };
        ctx.set_summary(format!("security gate: npm audit --audit-level=high found {first}{more}"));
    }
}

fn runner_bump(v: &str) -> String {
    super::runner::bump(v)
}

impl ToolJob for Npm {
    fn emit(&mut self, ctx: &mut Ctx<'_>, step: &StepDef, outcome: Outcome) {
        let fail = match outcome {
            Outcome::Fail(k) => Some(k),
            _ => None,
        };
        match step.role {
            Role::Toolchain => self.setup_node(ctx),
            Role::Deps => self.install(ctx, fail),
            Role::Lint => self.lint(ctx, step.variant == 1, fail.is_some()),
            Role::Build => self.build(ctx, step.variant == 1, fail),
            Role::Test => match fail {
                Some(K::Oom) if self.vitest => {
                    self.script_banner(ctx, "test", "vitest run");
                    self.heap_oom(ctx, "test");
                }
                Some(K::DiskFull) => {
                    self.script_banner(ctx, "test", if self.vitest { "vitest run" } else { "jest --ci" });
                    ctx.w.grow(2.0);
                    let dir = vocab::hex(&mut ctx.rng, 32);
                    ctx.w.causef(format_args!(
                        "Error: ENOSPC: no space left on device, mkdir '/tmp/jest_{}/haste-map-{dir}'",
                        &dir[..2]
                    ));
                    ctx.exit(1);
                    ctx.set_summary("disk full: ENOSPC creating the test runner's cache under /tmp".to_string());
                }
                other => self.tests(ctx, other),
            },
            Role::Audit => {
                if step.variant == 1 {
                    cargo::trivy_fs(ctx, "package-lock.json", "npm", &self.deps, fail.is_some());
                } else {
                    self.audit(ctx, fail.is_some());
                }
            }
            _ => {}
        }
    }

    fn hangs_after_output(&self, step: &StepDef) -> bool {
        step.role == Role::Test
    }

    fn hang_hint(&mut self, ctx: &mut Ctx<'_>, step: &StepDef) {
        if step.role != Role::Test {
            ctx.set_summary(format!("`{}` stalled", step.command()));
            return;
        }
        ctx.w.wait(1.0);
        if self.vitest {
            ctx.w.wait(9.0);
            ctx.w.cause("close timed out after 10000ms");
            ctx.w.cause("Tests closed successfully but something prevents Vite server from exiting");
            ctx.w.out("You can try to identify the cause by enabling \"hanging-process\" reporter. See https://vitest.dev/config/#reporters");
            ctx.set_summary("vitest finished but an open handle kept the process alive".to_string());
        } else {
            ctx.w.cause("Jest did not exit one second after the test run has completed.");
            ctx.w.out("");
            ctx.w.out("This usually means that there are asynchronous operations that weren't stopped in your tests. Consider running Jest with `--detectOpenHandles` to troubleshoot this issue.");
            let (file, _) = &self.test_files[ctx.rng.range(0, self.test_files.len() as u64 - 1) as usize];
            ctx.set_summary(format!("jest kept running after its tests (open handle, e.g. in {file})"));
        }
    }

    fn post(&mut self, ctx: &mut Ctx<'_>, _step: &StepDef, _job_failed: bool) {
        let key = format!("node-cache-{}-{}-npm-{}", os_name(ctx), ctx.arch(), vocab::hex(&mut ctx.layout, 64));
        if ctx.rng.chance(0.8) {
            ctx.w.outf(format_args!("Cache hit occurred on the primary key {key}, not saving cache."));
        } else if ctx.rng.chance(0.5) {
            ctx.w.warning(&format!(
                "Failed to save: Unable to reserve cache with key {key}, another job may be creating this cache."
            ));
        } else {
            ctx.w.outf(format_args!("[command]/usr/bin/tar --posix -cf cache.tzst --exclude cache.tzst -P -C {} --files-from manifest.txt --use-compress-program zstdmt", ctx.ws));
            ctx.w.wait(2.0 + ctx.rng.unit() * 5.0);
            let size = ctx.rng.range(20, 400);
            ctx.w.outf(format_args!("Cache Size: ~{size} MB ({} B)", size * 1_048_576 + ctx.rng.range(0, 1_000_000)));
            ctx.w.outf(format_args!("Cache saved with key: {key}"));
        }
    }
}

fn os_name(ctx: &Ctx<'_>) -> &'static str {
    match ctx.os {
        super::Os::Linux => "Linux",
        super::Os::Mac => "macOS",
        super::Os::Windows => "Windows",
    }
}

impl Npm {
    fn setup_node(&self, ctx: &mut Ctx<'_>) {
        let arch = ctx.arch();
        ctx.w.outf(format_args!("Found in cache @ {}/node/{}/{arch}", ctx.toolcache, self.node));
        ctx.w.group("Environment details");
        ctx.w.outf(format_args!("node: v{}", self.node));
        ctx.w.outf(format_args!("npm: {}", self.npm));
        ctx.w.out("yarn: 1.22.22");
        ctx.w.endgroup();
        if !self.cache {
            return;
        }
        ctx.w.outf(format_args!("[command]{}/node/{}/{arch}/bin/npm config get cache", ctx.toolcache, self.node));
        ctx.w.outf(format_args!("{}/.npm", ctx.home));
        ctx.w.wait(0.5 + ctx.rng.unit() * 2.0);
        if ctx.rng.chance(0.85) {
            let key = format!("node-cache-{}-{arch}-npm-{}", os_name(ctx), vocab::hex(&mut ctx.layout, 64));
            let size = ctx.rng.range(20_000_000, 400_000_000);
            ctx.w.outf(format_args!("Cache hit for: {key}"));
            ctx.w
                .outf(format_args!("Received {size} of {size} (100.0%), {:.1} MBs/sec", 20.0 + ctx.rng.unit() * 100.0));
            runner::cache_restored(ctx, &key, size);
        } else {
            ctx.w.out("npm cache is not found");
        }
    }
}
