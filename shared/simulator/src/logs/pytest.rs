//! Python jobs: `actions/setup-python`, `pip install`, ruff / flake8 / black, mypy, pytest (quiet
//! or verbose, colour forced), pip-audit; pip's and pytest's own failure shapes.

use crate::failure::FailureKind as K;

use super::vocab::{self, pick};
use super::{Ctx, Outcome, Role, StepDef, ToolJob, cargo, runner};

const PYTHONS: &[&str] = &["3.9.21", "3.10.16", "3.11.11", "3.12.8", "3.13.1"];
const WIDTH: usize = 80;

struct Pytest {
    python: &'static str,
    package: String,
    src_prefix: String,
    verbose: bool,
    files: Vec<(String, Vec<String>)>,
    deps: Vec<(&'static str, String)>,
    editable: bool,
    cache: bool,
    plugins: String,
}

pub(crate) fn plan(ctx: &mut Ctx<'_>, target: Option<(K, Role)>) -> (Box<dyn ToolJob>, Vec<StepDef>) {
    let role = target.map(|t| t.1);
    let python = *ctx.layout.pick(PYTHONS);
    let minor = python.rsplit_once('.').map_or("3.12", |x| x.0);
    let package = ctx.project.replace('-', "_");
    let src_prefix = if ctx.layout.chance(0.5) { format!("src/{package}") } else { package.clone() };
    let verbose = ctx.layout.chance(0.3);
    let files = (0..ctx.layout.range(4, 18))
        .map(|_| {
            let file = format!("tests/test_{}.py", pick(&mut ctx.layout, vocab::MODULES));
            let tests =
                (0..ctx.layout.range(2, 30)).map(|_| format!("test_{}", vocab::test_name(&mut ctx.layout))).collect();
            (file, tests)
        })
        .collect();
    let n = ctx.layout.range(6, 22) as usize;
    let deps = vocab::sample(&mut ctx.layout, vocab::PYPI, n)
        .into_iter()
        .map(|p| (p, vocab::semver(&mut ctx.layout, 0, 4)))
        .collect();
    let plugins = {
        let mut p = vec![format!("cov-{}", vocab::semver(&mut ctx.layout, 4, 6))];
        if ctx.layout.chance(0.4) {
            p.push(format!("anyio-{}", vocab::semver(&mut ctx.layout, 3, 4)));
        }
        if ctx.layout.chance(0.3) {
            p.push(format!("xdist-{}", vocab::semver(&mut ctx.layout, 3, 3)));
        }
        p.join(", ")
    };
    let cache = ctx.layout.chance(0.6);
    let editable = ctx.layout.chance(0.5);

    let mut steps = Vec::new();
    let setup = ctx.action("actions/setup-python", "v5");
    let mut with =
        vec![("python-version", minor), ("check-latest", "false"), ("token", "***"), ("update-environment", "true")];
    if cache {
        with.push(("cache", "pip"));
    }
    let mut s = StepDef::uses(Role::Toolchain, ctx.layout.chance(0.5).then_some("Set up Python"), setup, &with);
    if cache {
        s = s.with_post();
    }
    steps.push(s);
    let install: &[&str] = if editable {
        &["python -m pip install --upgrade pip", "pip install -e \".[test]\""]
    } else {
        &["python -m pip install --upgrade pip", "pip install -r requirements.txt -r requirements-dev.txt"]
    };
    steps.push(StepDef::run(Role::Deps, Some("Install dependencies"), install));
    if role == Some(Role::Lint) || ctx.layout.chance(0.5) {
        let v = ctx.layout.range(0, 2) as u8;
        let cmd = match v {
            0 => "ruff check .",
            1 => "flake8 . --count --max-line-length=100 --statistics",
            _ => "black --check .",
        };
        steps.push(StepDef::run(Role::Lint, Some("Lint"), &[cmd]).with_variant(v));
    }
    if role == Some(Role::Build) || ctx.layout.chance(0.3) {
        let cmd = format!("mypy {src_prefix}");
        steps.push(StepDef::run(Role::Build, Some("Type check"), &[&cmd]));
    }
    let test = if verbose {
        format!("python -m pytest -v --cov={package} --cov-report=xml")
    } else {
        "pytest -q --color=yes".to_string()
    };
    steps.push(StepDef::run(Role::Test, ctx.layout.chance(0.5).then_some("Run tests"), &[&test]));
    if role == Some(Role::Audit) || ctx.layout.chance(0.2) {
        if ctx.layout.chance(0.7) {
            steps.push(StepDef::run(
                Role::Audit,
                Some("Audit dependencies"),
                &["pip install pip-audit", "pip-audit -r requirements.txt"],
            ));
        } else {
            steps.push(cargo::trivy_fs_step(ctx));
        }
    }
    let job = Pytest { python, package, src_prefix, verbose, files, deps, editable, cache, plugins };
    (Box::new(job), steps)
}

/// `====== title ======` centred to pytest's 80 columns.
fn banner(title: &str, fill: char) -> String {
    let n = title.chars().count() + 2;
    let left = WIDTH.saturating_sub(n) / 2;
    let right = WIDTH.saturating_sub(n + left);
    format!("{} {title} {}", fill.to_string().repeat(left), fill.to_string().repeat(right))
}

impl Pytest {
    fn site(&self, ctx: &Ctx<'_>) -> String {
        let minor = self.python.rsplit_once('.').map_or("3.12", |x| x.0);
        format!("{}/Python/{}/{}/lib/python{minor}/site-packages", ctx.toolcache, self.python, ctx.arch())
    }

    fn pkg(&self, ctx: &mut Ctx<'_>) -> (&'static str, String) {
        let i = ctx.rng.range(0, self.deps.len() as u64 - 1) as usize;
        (self.deps[i].0, self.deps[i].1.clone())
    }

    fn requirement_origin(&self, ctx: &mut Ctx<'_>) -> String {
        if self.editable {
            format!("(from {}==0.1.0)", ctx.project)
        } else {
            format!("(from -r requirements.txt (line {}))", ctx.rng.range(1, 30))
        }
    }

    fn install(&self, ctx: &mut Ctx<'_>, fail: Option<K>) {
        let site = self.site(ctx);
        ctx.w.outf(format_args!("Requirement already satisfied: pip in {site} (24.{})", ctx.layout.range(0, 3)));
        ctx.w.wait(1.0);
        if self.editable {
            ctx.w.outf(format_args!("Obtaining file://{}", ctx.ws));
            ctx.w.out("  Installing build dependencies: started");
            ctx.w.grow(0.5);
            ctx.w.out("  Installing build dependencies: finished with status 'done'");
            ctx.w.out("  Checking if build backend supports build_editable: started");
            ctx.w.out("  Checking if build backend supports build_editable: finished with status 'done'");
        }
        let stop = match fail {
            Some(_) => ctx.rng.range(0, self.deps.len() as u64 - 1) as usize,
            None => self.deps.len(),
        };
        for (p, v) in &self.deps[..stop] {
            let from = self.requirement_origin(ctx);
            ctx.w.grow(0.2);
            ctx.w.outf(format_args!("Collecting {p}=={v} {from}"));
            ctx.w.outf(format_args!(
                "  Downloading {}-{v}-py3-none-any.whl.metadata ({:.1} kB)",
                p.replace('-', "_"),
                1.0 + ctx.rng.unit() * 30.0
            ));
        }
        if let Some(kind) = fail {
            let (p, v) = self.deps[stop].clone();
            let from = self.requirement_origin(ctx);
            match kind {
                K::Network => self.network(ctx, p, &v, &from),
                K::Registry => self.registry(ctx, p, &v, &from),
                K::DependencyResolution => self.dependency(ctx, p, &v),
                K::Permission => self.permission(ctx),
                _ => {
                    ctx.w.grow(2.0);
                    ctx.w.outf(format_args!(
                        "Installing collected packages: {}",
                        self.deps.iter().map(|d| d.0).collect::<Vec<_>>().join(", ")
                    ));
                    ctx.w.cause(
                        "ERROR: Could not install packages due to an OSError: [Errno 28] No space left on device",
                    );
                    ctx.w.out("");
                    ctx.exit(1);
                    ctx.set_summary(format!("disk full: pip ran out of space installing {p} {v}"));
                }
            }
            return;
        }
        for (p, v) in &self.deps {
            let size = 20.0 + ctx.rng.unit() * 9000.0;
            ctx.w.grow(0.2);
            ctx.w.outf(format_args!("Downloading {}-{v}-py3-none-any.whl ({size:.0} kB)", p.replace('-', "_")));
            if size > 1000.0 {
                let mb = size / 1024.0;
                ctx.w.outf(format_args!(
                    "   \x1b[38;2;114;156;31m━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━\x1b[0m \x1b[32m{mb:.1}/{mb:.1} MB\x1b[0m \x1b[31m{:.1} MB/s\x1b[0m eta \x1b[36m0:00:00\x1b[0m",
                    20.0 + ctx.rng.unit() * 80.0
                ));
            }
        }
        let names: Vec<&str> = self.deps.iter().map(|d| d.0).collect();
        ctx.w.grow(2.0);
        ctx.w.outf(format_args!("Installing collected packages: {}", names.join(", ")));
        let installed: Vec<String> = self.deps.iter().map(|(p, v)| format!("{p}-{v}")).collect();
        ctx.w.grow(1.0);
        ctx.w.outf(format_args!("Successfully installed {}", installed.join(" ")));
    }

    fn network(&self, ctx: &mut Ctx<'_>, p: &str, v: &str, from: &str) {
        let host = if ctx.rng.chance(0.5) { "pypi.org" } else { "files.pythonhosted.org" };
        let addr = vocab::hex(&mut ctx.rng, 12);
        let reason = match ctx.rng.range(0, 3) {
            0 => format!(
                "NewConnectionError('<pip._vendor.urllib3.connection.HTTPSConnection object at 0x7f{addr}>: Failed to establish a new connection: [Errno -3] Temporary failure in name resolution')"
            ),
            1 => format!(
                "ConnectTimeoutError(<pip._vendor.urllib3.connection.HTTPSConnection object at 0x7f{addr}>, 'Connection to {host} timed out. (connect timeout=15)')"
            ),
            2 => "ProtocolError('Connection aborted.', ConnectionResetError(104, 'Connection reset by peer'))"
                .to_string(),
            _ => format!(
                "ReadTimeoutError(\"HTTPSConnectionPool(host='{host}', port=443): Read timed out. (read timeout=15)\")"
            ),
        };
        ctx.w.outf(format_args!("Collecting {p}=={v} {from}"));
        for total in (0..5).rev() {
            ctx.w.wait(1.0 + ctx.rng.unit() * 15.0);
            ctx.w.causef(format_args!(
                "WARNING: Retrying (Retry(total={total}, connect=None, read=None, redirect=None, status=None)) after connection broken by '{reason}': /simple/{p}/"
            ));
        }
        ctx.w.causef(format_args!(
            "ERROR: Could not find a version that satisfies the requirement {p}=={v} (from versions: none)"
        ));
        ctx.w.causef(format_args!("ERROR: No matching distribution found for {p}=={v}"));
        ctx.exit(1);
        let short = reason.split('(').next().unwrap_or("connection error");
        ctx.set_summary(format!("network: pip could not reach {host} for {p}=={v} ({short})"));
    }

    fn registry(&self, ctx: &mut Ctx<'_>, p: &str, v: &str, from: &str) {
        let (code, reason) = *ctx.rng.pick(&[
            (503, "Service Unavailable"),
            (502, "Bad Gateway"),
            (500, "Internal Server Error"),
            (429, "Too Many Requests"),
        ]);
        ctx.w.outf(format_args!("Collecting {p}=={v} {from}"));
        let h = vocab::hex(&mut ctx.rng, 60);
        let url = format!(
            "https://files.pythonhosted.org/packages/{}/{}/{}/{}-{v}-py3-none-any.whl",
            &h[0..2],
            &h[2..4],
            &h[4..],
            p.replace('-', "_")
        );
        if ctx.rng.chance(0.5) {
            ctx.w.wait(2.0);
            ctx.w.causef(format_args!("ERROR: HTTP error {code} while getting {url}"));
            ctx.w.causef(format_args!("ERROR: Could not install requirement {p}=={v} from {url} because of HTTP error {code} Server Error: {reason} for url: {url} for URL {url}"));
        } else {
            for total in (1..5).rev() {
                ctx.w.wait(1.0 + ctx.rng.unit() * 6.0);
                ctx.w.causef(format_args!(
                    "WARNING: Retrying (Retry(total={total}, connect=None, read=None, redirect=None, status=None)) after connection broken by 'ResponseError('too many {code} error responses')': /simple/{p}/"
                ));
            }
            ctx.w.causef(format_args!(
                "ERROR: Could not find a version that satisfies the requirement {p}=={v} (from versions: none)"
            ));
            ctx.w.outf(format_args!("ERROR: No matching distribution found for {p}=={v}"));
        }
        ctx.exit(1);
        ctx.set_summary(format!("registry: PyPI answered {code} {reason} for {p}=={v}"));
    }

    fn dependency(&self, ctx: &mut Ctx<'_>, p: &str, v: &str) {
        ctx.w.grow(1.0);
        match ctx.rng.range(0, 2) {
            0 => {
                let (q, w) = self.pkg(ctx);
                let q = if q == p { "urllib3" } else { q };
                let major: u64 = v.split('.').next().and_then(|m| m.parse().ok()).unwrap_or(1);
                ctx.w.outf(format_args!("INFO: pip is looking at multiple versions of {q} to determine which version is compatible with other requirements. This could take a while."));
                ctx.w.causef(format_args!("ERROR: Cannot install -r requirements.txt (line {}) and {p}=={v} because these package versions have conflicting dependencies.", ctx.rng.range(1, 20)));
                ctx.w.out("");
                ctx.w.out("The conflict is caused by:");
                ctx.w.causef(format_args!("    The user requested {p}=={v}"));
                ctx.w.causef(format_args!("    {q} {w} depends on {p}<{major}"));
                ctx.w.out("");
                ctx.w.out("To fix this you could try to:");
                ctx.w.out("1. loosen the range of package versions specified");
                ctx.w.out("2. remove package versions to allow pip to attempt to solve the dependency conflict");
                ctx.w.out("");
                ctx.w.cause("ERROR: ResolutionImpossible: for help visit https://pip.pypa.io/en/latest/topics/dependency-resolution/#dealing-with-dependency-conflicts");
                ctx.set_summary(format!("dependency resolution: {q} {w} needs {p}<{major} but {p}=={v} is pinned"));
            }
            1 => {
                let wanted = format!(">={}.{}", ctx.rng.range(5, 30), ctx.rng.range(0, 9));
                let versions: Vec<String> =
                    (0..ctx.rng.range(3, 7)).map(|i| format!("{}.{}", i / 2 + 1, i % 3)).collect();
                ctx.w.causef(format_args!(
                    "ERROR: Could not find a version that satisfies the requirement {p}{wanted} (from versions: {})",
                    versions.join(", ")
                ));
                ctx.w.causef(format_args!("ERROR: No matching distribution found for {p}{wanted}"));
                ctx.set_summary(format!("dependency resolution: no release of {p} satisfies {wanted}"));
            }
            _ => {
                let need = *ctx.rng.pick(&["3.10", "3.11", "3.12", "3.13"]);
                ctx.w.causef(format_args!(
                    "ERROR: Package '{p}' requires a different Python: {} not in '>={need}'",
                    self.python
                ));
                ctx.set_summary(format!(
                    "dependency resolution: {p} {v} needs Python >={need}, runner has {}",
                    self.python
                ));
            }
        }
        ctx.exit(1);
    }

    fn permission(&self, ctx: &mut Ctx<'_>) {
        let name = format!(
            "{}-{}",
            ctx.owner.to_lowercase(),
            pick(&mut ctx.rng, &["common", "auth-client", "schemas", "sdk"])
        );
        if ctx.rng.chance(0.5) {
            let host = format!("pypi.{}.internal", ctx.owner.to_lowercase());
            let code = *ctx.rng.pick(&[401, 403]);
            ctx.w.outf(format_args!(
                "Looking in indexes: https://pypi.org/simple, https://__token__:****@{host}/simple"
            ));
            ctx.w.causef(format_args!("ERROR: HTTP error {code} while getting https://{host}/simple/{name}/"));
            ctx.w.causef(format_args!(
                "ERROR: {code} Client Error: {} for url: https://{host}/simple/{name}/",
                if code == 401 { "Unauthorized" } else { "Forbidden" }
            ));
            ctx.set_summary(format!("permission: private index {host} answered {code} for {name}"));
        } else {
            let url = format!("https://github.com/{}/{name}.git", ctx.owner);
            ctx.w.outf(format_args!("Collecting {name}@ git+{url}@v{}", vocab::semver(&mut ctx.rng, 0, 3)));
            ctx.w.outf(format_args!(
                "  Cloning {url} to /tmp/pip-install-{}/{}",
                vocab::hex(&mut ctx.rng, 8),
                name.replace('-', "_")
            ));
            ctx.w.outf(format_args!(
                "  Running command git clone --filter=blob:none --quiet {url} /tmp/pip-install-x/{}",
                name.replace('-', "_")
            ));
            ctx.w.cause("  fatal: could not read Username for 'https://github.com': terminal prompts disabled");
            ctx.w.out("  error: subprocess-exited-with-error");
            ctx.w.out("  ");
            ctx.w.causef(format_args!("  × git clone --filter=blob:none --quiet {url} did not run successfully."));
            ctx.w.out("  │ exit code: 128");
            ctx.w.out("  ╰─> See above for output.");
            ctx.set_summary(format!("permission: pip cannot clone private dependency {url}"));
        }
        ctx.exit(1);
    }

    fn lint(&self, ctx: &mut Ctx<'_>, variant: u8, fail: bool) {
        ctx.w.grow(1.0);
        let n = if fail { ctx.rng.range(1, 4) } else { 0 };
        let mut first = String::new();
        match variant {
            0 => {
                for _ in 0..n {
                    let file = format!("{}/{}.py", self.src_prefix, pick(&mut ctx.rng, vocab::MODULES));
                    let line = ctx.rng.range(1, 400);
                    let col = ctx.rng.range(1, 60);
                    let m = pick(&mut ctx.rng, &["os", "json", "typing.Any", "datetime", "re"]);
                    let f = pick(&mut ctx.rng, vocab::FIELDS);
                    let (code, msg) = match ctx.rng.range(0, 4) {
                        0 => ("F401", format!("[*] `{m}` imported but unused")),
                        1 => ("E501", format!("Line too long ({} > 88)", ctx.rng.range(89, 140))),
                        2 => ("F841", format!("[*] Local variable `{f}` is assigned to but never used")),
                        3 => ("B006", "Do not use mutable data structures for argument defaults".to_string()),
                        _ => ("E711", "Comparison to `None` should be `cond is None`".to_string()),
                    };
                    ctx.w.causef(format_args!("\x1b[1m{file}\x1b[0m\x1b[36m:\x1b[0m{line}\x1b[36m:\x1b[0m{col}\x1b[36m:\x1b[0m \x1b[1m\x1b[31m{code}\x1b[0m {msg}"));
                    if first.is_empty() {
                        first = format!("ruff {code} at {file}:{line}");
                    }
                }
                if n == 0 {
                    ctx.w.out("All checks passed!");
                    return;
                }
                ctx.w.causef(format_args!("Found {n} error{}.", if n == 1 { "" } else { "s" }));
                ctx.w.out("[*] 1 fixable with the `--fix` option.");
            }
            1 => {
                for _ in 0..n {
                    let file = format!("./{}/{}.py", self.src_prefix, pick(&mut ctx.rng, vocab::MODULES));
                    let line = ctx.rng.range(1, 400);
                    let (code, msg, col) = match ctx.rng.range(0, 3) {
                        0 => ("E501", format!("line too long ({} > 100 characters)", ctx.rng.range(101, 150)), 101),
                        1 => (
                            "F401",
                            format!(
                                "'{}' imported but unused",
                                pick(&mut ctx.rng, &["os", "sys", "json", "typing.Optional"])
                            ),
                            1,
                        ),
                        2 => ("W291", "trailing whitespace".to_string(), ctx.rng.range(10, 90)),
                        _ => ("E302", "expected 2 blank lines, found 1".to_string(), 1),
                    };
                    ctx.w.causef(format_args!("{file}:{line}:{col}: {code} {msg}"));
                    if first.is_empty() {
                        first = format!("flake8 {code} at {file}:{line}");
                    }
                }
                if n == 0 {
                    ctx.w.out("0");
                    return;
                }
                ctx.w.outf(format_args!("{n}"));
            }
            _ => {
                for _ in 0..n {
                    let file = format!("{}/{}.py", self.src_prefix, pick(&mut ctx.rng, vocab::MODULES));
                    ctx.w.causef(format_args!("\x1b[1mwould reformat {file}\x1b[0m"));
                    if first.is_empty() {
                        first = format!("black would reformat {file}");
                    }
                }
                let total = ctx.layout.range(20, 200);
                if n == 0 {
                    ctx.w.outf(format_args!("All done! ✨ 🍰 ✨\n{total} files would be left unchanged."));
                    return;
                }
                ctx.w.out("");
                ctx.w.out("\x1b[1mOh no! 💥 💔 💥\x1b[0m");
                ctx.w.causef(format_args!(
                    "\x1b[34m\x1b[1m{n} file{} would be reformatted\x1b[0m, \x1b[34m{} files would be left unchanged\x1b[0m.",
                    if n == 1 { "" } else { "s" },
                    total - n
                ));
            }
        }
        ctx.exit(1);
        ctx.set_summary(format!("lint: {first} ({n} findings)"));
    }

    fn mypy(&self, ctx: &mut Ctx<'_>, fail: bool) {
        ctx.w.grow(2.0);
        let checked = ctx.layout.range(10, 200);
        if !fail {
            ctx.w.outf(format_args!("\x1b[1m\x1b[32mSuccess: no issues found in {checked} source files\x1b[0m"));
            return;
        }
        let n = ctx.rng.range(1, 4);
        let mut first = String::new();
        let mut files = std::collections::BTreeSet::new();
        for _ in 0..n {
            let file = format!("{}/{}.py", self.src_prefix, pick(&mut ctx.rng, vocab::MODULES));
            let line = ctx.rng.range(5, 500);
            let t = pick(&mut ctx.rng, vocab::TYPES);
            let f = pick(&mut ctx.rng, vocab::FIELDS);
            let (msg, code) = match ctx.rng.range(0, 4) {
                0 => (format!("Argument 1 to \"{f}\" has incompatible type \"str\"; expected \"int\""), "arg-type"),
                1 => (format!("\"{t}\" has no attribute \"{f}\""), "attr-defined"),
                2 => (format!("Incompatible return value type (got \"{t} | None\", expected \"{t}\")"), "return-value"),
                3 => (format!("Name \"{t}\" is not defined"), "name-defined"),
                _ => (format!("Missing positional argument \"{f}\" in call to \"{t}\""), "call-arg"),
            };
            ctx.w.causef(format_args!("{file}:{line}: \x1b[1m\x1b[31merror:\x1b[0m {msg}  \x1b[33m[{code}]\x1b[0m"));
            files.insert(file.clone());
            if first.is_empty() {
                first = format!("{file}:{line}: {msg}");
            }
        }
        ctx.w.causef(format_args!(
            "\x1b[1m\x1b[31mFound {n} error{} in {} file{} (checked {checked} source files)\x1b[0m",
            if n == 1 { "" } else { "s" },
            files.len(),
            if files.len() == 1 { "" } else { "s" }
        ));
        ctx.exit(1);
        ctx.set_summary(format!("compile error: mypy {first}"));
    }

    fn session_header(&self, ctx: &mut Ctx<'_>) {
        ctx.w.outf(format_args!("\x1b[1m{}\x1b[0m", banner("test session starts", '=')));
        ctx.w.outf(format_args!(
            "platform {} -- Python {}, pytest-8.3.{}, pluggy-1.5.0",
            ctx.goos(),
            self.python,
            ctx.layout.range(2, 5)
        ));
        if self.verbose {
            ctx.w.outf(format_args!("cachedir: .pytest_cache"));
        }
        ctx.w.outf(format_args!("rootdir: {}", ctx.ws));
        ctx.w.out("configfile: pyproject.toml");
        ctx.w.outf(format_args!("plugins: {}", self.plugins));
        ctx.w.wait(0.5 + ctx.rng.unit() * 2.0);
    }

    fn tests(&self, ctx: &mut Ctx<'_>, fail: Option<K>) {
        self.session_header(ctx);
        let total: usize = self.files.iter().map(|f| f.1.len()).sum();
        if fail == Some(K::Compile) {
            return self.collection_error(ctx);
        }
        ctx.w.outf(format_args!("collected {total} items"));
        ctx.w.out("");
        let mut which = ctx.failing_test(fail);
        let bad_file = fail.map(|_| which.range(0, self.files.len() as u64 - 1) as usize);
        let mut done = 0usize;
        let mut failed: Option<(String, String)> = None;
        for (i, (file, tests)) in self.files.iter().enumerate() {
            let bad = if bad_file == Some(i) { Some(which.range(0, tests.len() as u64 - 1) as usize) } else { None };
            if self.verbose {
                for (j, t) in tests.iter().enumerate() {
                    done += 1;
                    ctx.w.grow(0.05 + ctx.rng.unit() * 0.1);
                    let pct = done * 100 / total.max(1);
                    let id = format!("{file}::{t}");
                    let (word, colour) = if Some(j) == bad { ("FAILED", 31) } else { ("PASSED", 32) };
                    let pad = WIDTH.saturating_sub(id.len() + 1 + word.len() + 7).max(1);
                    ctx.w.outf(format_args!(
                        "{id} \x1b[{colour}m{word}\x1b[0m\x1b[{colour}m{}[{pct:>3}%]\x1b[0m",
                        " ".repeat(pad)
                    ));
                    if Some(j) == bad {
                        failed = Some((file.clone(), t.clone()));
                    }
                }
            } else {
                let mut dots = String::with_capacity(tests.len());
                for j in 0..tests.len() {
                    dots.push(if Some(j) == bad { 'F' } else { '.' });
                }
                done += tests.len();
                ctx.w.grow(0.3 + ctx.rng.unit() * tests.len() as f64 * 0.1);
                let pct = done * 100 / total.max(1);
                let coloured = dots.replace('F', "\x1b[0m\x1b[31mF\x1b[0m\x1b[32m");
                let pad = WIDTH.saturating_sub(file.len() + 1 + dots.len() + 6).max(1);
                let colour = if failed.is_some() || bad.is_some() { 31 } else { 32 };
                ctx.w.outf(format_args!(
                    "{file} \x1b[32m{coloured}\x1b[0m\x1b[{colour}m{}[{pct:>3}%]\x1b[0m",
                    " ".repeat(pad)
                ));
                if let Some(j) = bad {
                    failed = Some((file.clone(), tests[j].clone()));
                }
            }
        }
        ctx.w.out("");
        let secs = vocab::secs(&mut ctx.rng, 1.0, 300.0);
        if let (Some((file, test)), Some(kind)) = (failed, fail) {
            ctx.w.outf(format_args!("{}", banner("FAILURES", '=')));
            ctx.w.outf(format_args!("\x1b[31m\x1b[1m{}\x1b[0m", banner(&test, '_')));
            ctx.w.out("");
            let line = ctx.rng.range(10, 600);
            let (err, what) = self.assertion(ctx, kind, &test);
            ctx.w.out("");
            ctx.w.causef(format_args!("\x1b[1m\x1b[31m{file}\x1b[0m:{line}: {err}"));
            ctx.w.outf(format_args!("\x1b[36m\x1b[1m{}\x1b[0m", banner("short test summary info", '=')));
            ctx.w.causef(format_args!("\x1b[31mFAILED\x1b[0m {file}::{test} - {what}"));
            let tail = format!("1 failed, {} passed in {secs}s", total - 1);
            let b = banner(&tail, '=');
            let (l, r) = b.split_once(&tail).unwrap_or(("", ""));
            ctx.w.outf(format_args!(
                "\x1b[31m{l}\x1b[31m\x1b[1m1 failed\x1b[0m, \x1b[32m{} passed\x1b[0m\x1b[31m in {secs}s\x1b[0m\x1b[31m{r}\x1b[0m",
                total - 1
            ));
            ctx.exit(1);
            let label = if kind == K::FlakyTest { "flaky test" } else { "test failure" };
            ctx.set_summary(format!("{label}: {file}::{test} at line {line}: {what}"));
            return;
        }
        let tail = format!("{total} passed in {secs}s");
        let b = banner(&tail, '=');
        let (l, r) = b.split_once(&tail).unwrap_or(("", ""));
        ctx.w.outf(format_args!(
            "\x1b[32m{l}\x1b[32m\x1b[1m{total} passed\x1b[0m\x1b[32m in {secs}s\x1b[0m\x1b[32m{r}\x1b[0m"
        ));
    }

    /// The `E` lines of a failing test; returns (exception type, one-line summary).
    fn assertion(&self, ctx: &mut Ctx<'_>, kind: K, test: &str) -> (String, String) {
        let f = pick(&mut ctx.rng, vocab::FIELDS);
        let t = pick(&mut ctx.rng, vocab::TYPES);
        ctx.w.outf(format_args!("    def {test}({}):", if ctx.rng.chance(0.5) { "client" } else { "" }));
        let e = |ctx: &mut Ctx<'_>, s: &str| ctx.w.causef(format_args!("\x1b[1m\x1b[31mE       {s}\x1b[0m"));
        if kind == K::FlakyTest {
            match ctx.rng.range(0, 3) {
                0 => {
                    ctx.w.out("        resp = client.get(\"/health\")");
                    ctx.w.out(">       assert resp.status_code == 200");
                    e(ctx, "assert 503 == 200");
                    e(ctx, " +  where 503 = <Response [503]>.status_code");
                    ("AssertionError".into(), "AssertionError: assert 503 == 200".into())
                }
                1 => {
                    let port = ctx.rng.range(8000, 65000);
                    let addr = vocab::hex(&mut ctx.rng, 12);
                    ctx.w.outf(format_args!(">       r = requests.get(\"http://localhost:{port}/ready\", timeout=2)"));
                    let msg = format!(
                        "requests.exceptions.ConnectionError: HTTPConnectionPool(host='localhost', port={port}): Max retries exceeded with url: /ready (Caused by NewConnectionError('<urllib3.connection.HTTPConnection object at 0x7f{addr}>: Failed to establish a new connection: [Errno 111] Connection refused'))"
                    );
                    e(ctx, &msg);
                    ("ConnectionError".into(), format!("ConnectionError: localhost:{port} refused the connection"))
                }
                2 => {
                    let limit = *ctx.rng.pick(&[5.0, 10.0, 30.0]);
                    ctx.w.out(">       worker.drain(timeout=None)");
                    e(ctx, &format!("Failed: Timeout (>{limit:.1}s) from pytest-timeout."));
                    ("Failed".into(), format!("Failed: Timeout (>{limit:.1}s) from pytest-timeout."))
                }
                _ => {
                    let budget = ctx.rng.range(1, 9) as f64 / 10.0;
                    let took = budget + 0.01 + ctx.rng.unit();
                    ctx.w.out("        elapsed = time.monotonic() - started");
                    ctx.w.outf(format_args!(">       assert elapsed < {budget}"));
                    e(ctx, &format!("assert {took:.3} < {budget}"));
                    ("AssertionError".into(), format!("AssertionError: assert {took:.3} < {budget}"))
                }
            }
        } else {
            match ctx.rng.range(0, 3) {
                0 => {
                    let want = ctx.rng.range(1, 10_000);
                    let got = want - ctx.rng.range(1, want.min(99));
                    ctx.w.outf(format_args!(">       assert result.{f} == {want}"));
                    e(ctx, &format!("assert {got} == {want}"));
                    let id = ctx.rng.range(1, 999);
                    e(ctx, &format!(" +  where {got} = <{t} id={id}>.{f}"));
                    ("AssertionError".into(), format!("AssertionError: assert {got} == {want}"))
                }
                1 => {
                    let a = pick(&mut ctx.rng, &["pending", "draft", "open", "queued"]);
                    let b = pick(&mut ctx.rng, &["paid", "shipped", "closed", "done"]);
                    ctx.w.outf(format_args!(">       assert order.{f} == \"{b}\""));
                    e(ctx, &format!("AssertionError: assert '{a}' == '{b}'"));
                    e(ctx, "  ");
                    e(ctx, &format!("  - {b}"));
                    e(ctx, &format!("  + {a}"));
                    ("AssertionError".into(), format!("AssertionError: assert '{a}' == '{b}'"))
                }
                2 => {
                    ctx.w.outf(format_args!(">       payload[\"{f}\"]"));
                    e(ctx, &format!("KeyError: '{f}'"));
                    ("KeyError".into(), format!("KeyError: '{f}'"))
                }
                _ => {
                    ctx.w.outf(format_args!(">       assert obj.{f} is not None"));
                    e(ctx, &format!("AttributeError: '{t}' object has no attribute '{f}'"));
                    ("AttributeError".into(), format!("AttributeError: '{t}' object has no attribute '{f}'"))
                }
            }
        }
    }

    fn collection_error(&self, ctx: &mut Ctx<'_>) {
        let bad = self.files[ctx.rng.range(0, self.files.len() as u64 - 1) as usize].0.clone();
        let collected: usize = self.files.iter().filter(|f| f.0 != bad).map(|f| f.1.len()).sum();
        ctx.w.outf(format_args!("collected {collected} items / 1 error"));
        ctx.w.out("");
        ctx.w.outf(format_args!("{}", banner("ERRORS", '=')));
        ctx.w.outf(format_args!("\x1b[31m\x1b[1m{}\x1b[0m", banner(&format!("ERROR collecting {bad}"), '_')));
        let module = pick(&mut ctx.rng, vocab::MODULES);
        let f = pick(&mut ctx.rng, vocab::FIELDS);
        let what = match ctx.rng.range(0, 2) {
            0 => {
                ctx.w.outf(format_args!("ImportError while importing test module '{}/{bad}'.", ctx.ws));
                ctx.w.out("Hint: make sure your test modules/packages have valid Python names.");
                ctx.w.out("Traceback:");
                let minor = self.python.rsplit_once('.').map_or("3.12", |x| x.0);
                ctx.w.outf(format_args!(
                    "{}/Python/{}/{}/lib/python{minor}/importlib/__init__.py:90: in import_module",
                    ctx.toolcache,
                    self.python,
                    ctx.arch()
                ));
                ctx.w.out("    return _bootstrap._gcd_import(name[level:], package, level)");
                ctx.w.outf(format_args!("{bad}:{}: in <module>", ctx.rng.range(1, 20)));
                let name = format!("{}_{f}", pick(&mut ctx.rng, &["compute", "load", "parse", "apply"]));
                ctx.w.outf(format_args!("    from {}.{module} import {name}", self.package));
                ctx.w.causef(format_args!(
                    "\x1b[1m\x1b[31mE   ImportError: cannot import name '{name}' from '{}.{module}' ({}/{}/{module}.py)\x1b[0m",
                    self.package,
                    ctx.ws,
                    self.src_prefix
                ));
                format!("ImportError: cannot import name '{name}' from {}.{module}", self.package)
            }
            1 => {
                let line = ctx.rng.range(5, 300);
                ctx.w.out("Traceback:");
                ctx.w.outf(format_args!("{bad}:3: in <module>"));
                ctx.w.outf(format_args!("    from {}.{module} import *", self.package));
                ctx.w.outf(format_args!(
                    "\x1b[1m\x1b[31mE     File \"{}/{}/{module}.py\", line {line}\x1b[0m",
                    ctx.ws, self.src_prefix
                ));
                ctx.w.outf(format_args!("\x1b[1m\x1b[31mE       def {f}(self) -> int\x1b[0m"));
                ctx.w.outf(format_args!("\x1b[1m\x1b[31mE                              ^\x1b[0m"));
                ctx.w.cause("\x1b[1m\x1b[31mE   SyntaxError: expected ':'\x1b[0m");
                ctx.w.mark_causes(ctx.w.mark() - 4);
                format!("SyntaxError in {}/{module}.py line {line}", self.src_prefix)
            }
            _ => {
                let line = ctx.rng.range(5, 300);
                ctx.w.outf(format_args!("{bad}:{}: in <module>", ctx.rng.range(1, 12)));
                ctx.w.outf(format_args!("    from {}.{module} import *", self.package));
                ctx.w.outf(format_args!("{}/{}/{module}.py:{line}: in <module>", ctx.ws, self.src_prefix));
                ctx.w.outf(format_args!("    DEFAULT_{} = compute_{f}()", f.to_uppercase()));
                ctx.w.causef(format_args!("\x1b[1m\x1b[31mE   NameError: name 'compute_{f}' is not defined\x1b[0m"));
                format!("NameError in {}/{module}.py line {line}", self.src_prefix)
            }
        };
        ctx.w.outf(format_args!("\x1b[36m\x1b[1m{}\x1b[0m", banner("short test summary info", '=')));
        ctx.w.causef(format_args!("\x1b[31mERROR\x1b[0m {bad}"));
        ctx.w.outf(format_args!("\x1b[31m{}\x1b[0m", banner("Interrupted: 1 error during collection", '!')));
        ctx.w.outf(format_args!(
            "\x1b[31m{}\x1b[0m",
            banner(&format!("1 error in {}s", vocab::secs(&mut ctx.rng, 0.2, 3.0)), '=')
        ));
        ctx.exit(2);
        ctx.set_summary(format!("compile error: collecting {bad} failed: {what}"));
    }

    fn audit(&self, ctx: &mut Ctx<'_>, fail: bool) {
        ctx.w.out("Collecting pip-audit");
        ctx.w.outf(format_args!(
            "Successfully installed pip-audit-2.7.{} cyclonedx-python-lib-8.5.0 pip-api-0.0.34",
            ctx.layout.range(0, 3)
        ));
        ctx.w.grow(2.0);
        if !fail {
            ctx.w.out("No known vulnerabilities found");
            return;
        }
        let n = ctx.rng.range(1, 3) as usize;
        let mut picks: Vec<(&str, String)> = (0..n).map(|_| self.pkg(ctx)).collect();
        picks.sort();
        picks.dedup();
        let n = picks.len();
        ctx.w.causef(format_args!(
            "Found {n} known vulnerabilit{} in {n} package{}",
            if n == 1 { "y" } else { "ies" },
            if n == 1 { "" } else { "s" }
        ));
        let w = picks.iter().map(|p| p.0.len()).max().unwrap_or(4).max(4);
        ctx.w.outf(format_args!("{:<w$} {:<8} {:<19} Fix Versions", "Name", "Version", "ID"));
        ctx.w.outf(format_args!("{} -------- ------------------- ------------", "-".repeat(w)));
        let mut first = String::new();
        for (p, v) in &picks {
            let id = if ctx.rng.chance(0.5) {
                vocab::ghsa(&mut ctx.rng)
            } else {
                format!("PYSEC-{}-{}", ctx.rng.range(2021, 2025), ctx.rng.range(10, 300))
            };
            ctx.w.causef(format_args!("{p:<w$} {v:<8} {id:<19} {}", runner::bump(v)));
            if first.is_empty() {
                first = format!("{id} in {p} {v}");
            }
        }
        ctx.exit(1);
        ctx.set_summary(format!(
            "security gate: pip-audit found {first}{}",
            if n > 1 { format!(" and {} more", n - 1) } else { String::new() }
        ));
    }
}

impl ToolJob for Pytest {
    fn emit(&mut self, ctx: &mut Ctx<'_>, step: &StepDef, outcome: Outcome) {
        let fail = match outcome {
            Outcome::Fail(k) => Some(k),
            _ => None,
        };
        match step.role {
            Role::Toolchain => self.setup_python(ctx),
            Role::Deps => self.install(ctx, fail),
            Role::Lint => self.lint(ctx, step.variant, fail.is_some()),
            Role::Build => self.mypy(ctx, fail.is_some()),
            Role::Test => match fail {
                Some(K::Oom) => {
                    self.session_header(ctx);
                    let total: usize = self.files.iter().map(|f| f.1.len()).sum();
                    ctx.w.outf(format_args!("collected {total} items"));
                    ctx.w.out("");
                    let k = ctx.rng.range(0, self.files.len() as u64 - 1) as usize;
                    for (file, tests) in &self.files[..k] {
                        ctx.w.grow(0.5);
                        ctx.w.outf(format_args!("{file} \x1b[32m{}\x1b[0m", ".".repeat(tests.len())));
                    }
                    ctx.w.grow(3.0);
                    if self.plugins.contains("xdist") && ctx.rng.chance(0.6) {
                        let gw = ctx.rng.range(0, 3);
                        let (file, tests) = &self.files[k];
                        ctx.w.causef(format_args!("[gw{gw}] node down: Not properly terminated"));
                        ctx.w.out("\x1b[31mF\x1b[0m");
                        ctx.w.outf(format_args!("replacing crashed worker gw{gw}"));
                        ctx.w.causef(format_args!("worker 'gw{gw}' crashed while running '{file}::{}'", tests[0]));
                        ctx.exit(1);
                        ctx.set_summary(format!("oom: pytest-xdist worker gw{gw} was killed running {file}"));
                    } else {
                        ctx.killed(step.command());
                        ctx.exit(137);
                        ctx.set_summary(format!("oom: the kernel killed pytest after {k} test files (exit 137)"));
                    }
                }
                Some(K::DiskFull) => {
                    self.session_header(ctx);
                    ctx.w.grow(1.0);
                    let (file, tests) = &self.files[ctx.rng.range(0, self.files.len() as u64 - 1) as usize];
                    let t = &tests[ctx.rng.range(0, tests.len() as u64 - 1) as usize];
                    if ctx.rng.chance(0.4) {
                        let n = ctx.rng.range(0, 9);
                        ctx.w.causef(format_args!("INTERNALERROR> OSError: [Errno 28] No space left on device: '/tmp/pytest-of-runner/pytest-{n}'"));
                        ctx.exit(3);
                        ctx.set_summary(format!(
                            "disk full: pytest could not create /tmp/pytest-of-runner/pytest-{n} (Errno 28)"
                        ));
                    } else {
                        let ext = pick(&mut ctx.rng, &["parquet", "sqlite3", "json", "tar.gz", "png"]);
                        ctx.w.causef(format_args!("{file}::{t} \x1b[31mFAILED\x1b[0m"));
                        ctx.w.causef(format_args!(
                            "\x1b[1m\x1b[31mE       OSError: [Errno 28] No space left on device: '/tmp/pytest-of-runner/pytest-0/{t}0/out.{ext}'\x1b[0m"
                        ));
                        ctx.exit(1);
                        ctx.set_summary(format!("disk full: {file}::{t} could not write its output (Errno 28)"));
                    }
                }
                other => self.tests(ctx, other),
            },
            Role::Audit => {
                if step.variant == 1 {
                    let names: Vec<&str> = self.deps.iter().map(|d| d.0).collect();
                    cargo::trivy_fs(ctx, "requirements.txt", "pip", &names, fail.is_some());
                } else {
                    self.audit(ctx, fail.is_some());
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
        let (file, tests) = &self.files[ctx.rng.range(0, self.files.len() as u64 - 1) as usize];
        let t = &tests[ctx.rng.range(0, tests.len() as u64 - 1) as usize];
        if self.verbose {
            ctx.w.causef(format_args!("{file}::{t} "));
        } else {
            let k = ctx.rng.range(0, tests.len() as u64 - 1) as usize;
            ctx.w.causef(format_args!("{file} \x1b[32m{}\x1b[0m", ".".repeat(k)));
        }
        ctx.set_summary(format!("{file}::{t} hung"));
    }

    fn post(&mut self, ctx: &mut Ctx<'_>, _step: &StepDef, _job_failed: bool) {
        let key = format!(
            "setup-python-{}-{}-python-{}-pip-{}",
            ctx.goos(),
            ctx.arch(),
            self.python,
            vocab::hex(&mut ctx.layout, 64)
        );
        if ctx.rng.chance(0.8) {
            ctx.w.outf(format_args!("Cache hit occurred on the primary key {key}, not saving cache."));
        } else {
            ctx.w.wait(2.0 + ctx.rng.unit() * 5.0);
            ctx.w.outf(format_args!("Cache saved with the key: {key}"));
        }
    }
}

impl Pytest {
    fn setup_python(&self, ctx: &mut Ctx<'_>) {
        let root = format!("{}/Python/{}/{}", ctx.toolcache, self.python, ctx.arch());
        ctx.w.group("Installed versions");
        ctx.w.outf(format_args!("Successfully set up CPython ({})", self.python));
        ctx.w.endgroup();
        if self.cache {
            ctx.w.outf(format_args!("[command]{root}/bin/pip cache dir"));
            ctx.w.outf(format_args!("{}/.cache/pip", ctx.home));
            ctx.w.wait(0.5 + ctx.rng.unit() * 2.0);
            if ctx.rng.chance(0.8) {
                let key = format!(
                    "setup-python-{}-{}-python-{}-pip-{}",
                    ctx.goos(),
                    ctx.arch(),
                    self.python,
                    vocab::hex(&mut ctx.layout, 64)
                );
                let size = ctx.rng.range(5_000_000, 900_000_000);
                runner::cache_restored(ctx, &key, size);
            } else {
                ctx.w.out("pip cache is not found");
            }
        }
        if ctx.env.iter().all(|(k, _)| k != "pythonLocation") {
            ctx.env.push(("pythonLocation".into(), root.clone()));
            ctx.env.push(("PKG_CONFIG_PATH".into(), format!("{root}/lib/pkgconfig")));
            ctx.env.push(("Python_ROOT_DIR".into(), root.clone()));
            ctx.env.push(("Python2_ROOT_DIR".into(), root.clone()));
            ctx.env.push(("Python3_ROOT_DIR".into(), root.clone()));
            ctx.env.push(("LD_LIBRARY_PATH".into(), format!("{root}/lib")));
        }
    }
}
