//! Java jobs: `actions/setup-java`, `mvn -B verify` (resolution, javac, checkstyle, surefire, jar),
//! checkstyle / spotless, OWASP dependency-check, `mvn deploy`; Maven's `[ERROR]` shapes.

use crate::failure::FailureKind as K;

use super::vocab::{self, pick};
use super::writer::NOW;
use super::{Ctx, Outcome, Role, StepDef, ToolJob, cargo, runner};

const JAVAS: &[(&str, &str)] = &[("17", "17.0.13+11"), ("21", "21.0.5+11"), ("21", "21.0.6+7")];
const SUFFIXES: &[&str] = &["Service", "Controller", "Repository", "Mapper", "Validator", "Client", "Handler"];
const CENTRAL: &str = "https://repo.maven.apache.org/maven2";

struct TestClass {
    fqcn: String,
    simple: String,
    methods: Vec<String>,
}

struct Maven {
    java: &'static str,
    java_full: &'static str,
    group: String,
    artifact: String,
    version: String,
    base_pkg: String,
    classes: Vec<TestClass>,
    deps: Vec<(&'static str, String)>,
    color: bool,
    ntp: bool,
    checkstyle_in_build: bool,
    main_sources: u64,
    test_sources: u64,
    /// The running `verify` hangs in an integration test (the job times out).
    hang: bool,
}

pub(crate) fn plan(ctx: &mut Ctx<'_>, target: Option<(K, Role)>) -> (Box<dyn ToolJob>, Vec<StepDef>) {
    let role = target.map(|t| t.1);
    let (java, java_full) = *ctx.layout.pick(JAVAS);
    let owner = vocab::slug(ctx.owner).replace('-', "");
    let group = format!("{}.{owner}", pick(&mut ctx.layout, &["com", "io", "org", "dev"]));
    let artifact = ctx.project.clone();
    let base_pkg = format!("{group}.{}", artifact.replace('-', ""));
    let classes = (0..ctx.layout.range(4, 22))
        .map(|_| {
            let module = pick(&mut ctx.layout, vocab::MODULES);
            let simple = format!("{}{}Test", vocab::pascal(module), pick(&mut ctx.layout, SUFFIXES));
            let methods =
                (0..ctx.layout.range(1, 16)).map(|_| vocab::camel(&vocab::test_name(&mut ctx.layout))).collect();
            TestClass { fqcn: format!("{base_pkg}.{module}.{simple}"), simple, methods }
        })
        .collect();
    let n = ctx.layout.range(5, 14) as usize;
    let deps = vocab::sample(&mut ctx.layout, vocab::MAVEN, n)
        .into_iter()
        .map(|d| (d, vocab::semver(&mut ctx.layout, 1, 6)))
        .collect();
    let color = ctx.layout.chance(0.3);
    let ntp = ctx.layout.chance(0.6);
    let wrapper = ctx.layout.chance(0.4);
    let checkstyle_in_build = role == Some(Role::Build) || ctx.layout.chance(0.3);
    let version = format!("{}.{}.{}-SNAPSHOT", ctx.layout.range(0, 4), ctx.layout.range(0, 20), ctx.layout.range(0, 9));

    let mut steps = Vec::new();
    let setup = ctx.action("actions/setup-java", "v4");
    steps.push(
        StepDef::uses(
            Role::Toolchain,
            ctx.layout.chance(0.5).then_some(&*format!("Set up JDK {java}")),
            setup,
            &[
                ("distribution", "temurin"),
                ("java-version", java),
                ("cache", "maven"),
                ("check-latest", "false"),
                ("server-id", "github"),
                ("overwrite-settings", "true"),
            ],
        )
        .with_post(),
    );
    let mvn = if wrapper { "./mvnw" } else { "mvn" };
    let mut build = format!("{mvn} -B");
    if ntp {
        build.push_str(" --no-transfer-progress");
    }
    if color {
        build.push_str(" -Dstyle.color=always");
    }
    build.push_str(" verify");
    steps.push(StepDef::run(Role::Build, Some("Build with Maven"), &[&build]));
    if role == Some(Role::Lint) || (!checkstyle_in_build && ctx.layout.chance(0.3)) {
        if ctx.layout.chance(0.6) {
            steps.push(StepDef::run(Role::Lint, Some("Checkstyle"), &[&format!("{mvn} -B checkstyle:check")]));
        } else {
            steps.push(
                StepDef::run(Role::Lint, Some("Spotless"), &[&format!("{mvn} -B spotless:check")]).with_variant(1),
            );
        }
    }
    if role == Some(Role::Audit) || ctx.layout.chance(0.2) {
        if ctx.layout.chance(0.6) {
            steps.push(StepDef::run(
                Role::Audit,
                Some("OWASP dependency check"),
                &[&format!("{mvn} -B org.owasp:dependency-check-maven:check -DfailBuildOnCVSS=7")],
            ));
        } else {
            steps.push(cargo::trivy_fs_step(ctx));
        }
    }
    if role == Some(Role::Publish) || ctx.layout.chance(0.15) {
        steps.push(
            StepDef::run(Role::Publish, Some("Publish to GitHub Packages"), &[&format!("{mvn} -B deploy -DskipTests")])
                .with_env("GITHUB_TOKEN", "***"),
        );
    }
    let job = Maven {
        java,
        java_full,
        group,
        artifact,
        version,
        base_pkg,
        classes,
        deps,
        color,
        ntp,
        checkstyle_in_build,
        main_sources: ctx.layout.range(12, 400),
        test_sources: ctx.layout.range(4, 120),
        hang: false,
    };
    (Box::new(job), steps)
}

impl Maven {
    fn tag(&self, level: &str) -> String {
        if !self.color {
            return format!("[{level}]");
        }
        let c = match level {
            "ERROR" => "1;31",
            "WARNING" => "1;33",
            _ => "1;34",
        };
        format!("[\x1b[{c}m{level}\x1b[m]")
    }

    fn info(&self, ctx: &mut Ctx<'_>, s: &str) {
        let t = self.tag("INFO");
        if s.is_empty() {
            ctx.w.outf(format_args!("{t} "));
        } else {
            ctx.w.outf(format_args!("{t} {s}"));
        }
    }

    fn warn(&self, ctx: &mut Ctx<'_>, s: &str) {
        let t = self.tag("WARNING");
        ctx.w.outf(format_args!("{t} {s}"));
    }

    fn error(&self, ctx: &mut Ctx<'_>, s: &str) {
        let t = self.tag("ERROR");
        if s.is_empty() {
            ctx.w.outf(format_args!("{t} "));
        } else {
            ctx.w.outf(format_args!("{t} {s}"));
        }
    }

    fn error_cause(&self, ctx: &mut Ctx<'_>, s: &str) {
        let t = self.tag("ERROR");
        ctx.w.causef(format_args!("{t} {s}"));
    }

    fn mojo(&self, ctx: &mut Ctx<'_>, plugin: &str, version: &str, goal: &str, exec: &str) {
        self.info(ctx, "");
        let text = format!("--- {plugin}:{version}:{goal} ({exec}) @ {} ---", self.artifact);
        if self.color {
            let t = self.tag("INFO");
            ctx.w.outf(format_args!("{t} \x1b[1m{text}\x1b[m"));
        } else {
            self.info(ctx, &text);
        }
    }

    fn project_header(&self, ctx: &mut Ctx<'_>) {
        self.info(ctx, "Scanning for projects...");
        ctx.w.wait(1.0 + ctx.rng.unit() * 2.0);
        if !self.ntp {
            let n = 2 + ctx.rng.range(0, 4) as usize;
            self.downloads(ctx, n);
        }
        self.info(ctx, "");
        self.info(ctx, &format!("{:-^72}", format!("< {}:{} >", self.group, self.artifact)));
        self.info(ctx, &format!("Building {} {}", self.artifact, self.version));
        self.info(ctx, "  from pom.xml");
        self.info(ctx, &format!("{:-^72}", "[ jar ]"));
    }

    fn downloads(&self, ctx: &mut Ctx<'_>, n: usize) {
        for _ in 0..n {
            let d = self.deps[ctx.rng.range(0, self.deps.len() as u64 - 1) as usize].0;
            let (g, a) = d.split_once(':').unwrap_or((d, d));
            let v = vocab::semver(&mut ctx.rng, 1, 6);
            let url = format!("{CENTRAL}/{}/{a}/{v}/{a}-{v}.pom", g.replace('.', "/"));
            ctx.w.grow(0.1);
            ctx.w.outf(format_args!("Downloading from central: {url}"));
            ctx.w.outf(format_args!(
                "Downloaded from central: {url} ({:.1} kB at {} kB/s)",
                1.0 + ctx.rng.unit() * 30.0,
                ctx.rng.range(100, 4000)
            ));
        }
    }

    fn coords(&self) -> String {
        format!("{}:{}:jar:{}", self.group, self.artifact, self.version)
    }

    fn total_time(&self, ctx: &mut Ctx<'_>) {
        let secs = 5.0 + ctx.rng.unit() * 300.0;
        if secs >= 60.0 {
            self.info(ctx, &format!("Total time:  {:02}:{:02} min", (secs / 60.0) as u64, secs as u64 % 60));
        } else {
            self.info(ctx, &format!("Total time:  {secs:.3} s"));
        }
        self.info(ctx, &format!("Finished at: {NOW}s"));
    }

    fn build_success(&self, ctx: &mut Ctx<'_>) {
        self.info(ctx, &"-".repeat(72));
        if self.color {
            let t = self.tag("INFO");
            ctx.w.outf(format_args!("{t} \x1b[1;32mBUILD SUCCESS\x1b[m"));
        } else {
            self.info(ctx, "BUILD SUCCESS");
        }
        self.info(ctx, &"-".repeat(72));
        self.total_time(ctx);
        self.info(ctx, &"-".repeat(72));
    }

    /// `BUILD FAILURE`, the `Failed to execute goal` line (a cause) and Maven's help footer.
    fn build_failure(&self, ctx: &mut Ctx<'_>, goal_line: &str, detail: &[String], exception: &str) {
        self.build_failure_with(ctx, goal_line, detail, exception, true);
    }

    /// Like `build_failure`; `goal_is_cause` is false when the goal line only says which phase
    /// failed (`There are test failures.`) and the cause is shown above it.
    fn build_failure_with(
        &self,
        ctx: &mut Ctx<'_>,
        goal_line: &str,
        detail: &[String],
        exception: &str,
        goal_is_cause: bool,
    ) {
        self.info(ctx, &"-".repeat(72));
        if self.color {
            let t = self.tag("INFO");
            ctx.w.outf(format_args!("{t} \x1b[1;31mBUILD FAILURE\x1b[m"));
        } else {
            self.info(ctx, "BUILD FAILURE");
        }
        self.info(ctx, &"-".repeat(72));
        self.total_time(ctx);
        self.info(ctx, &"-".repeat(72));
        let line = if detail.is_empty() { format!("{goal_line} -> [Help 1]") } else { goal_line.to_string() };
        if goal_is_cause {
            self.error_cause(ctx, &line);
        } else {
            self.error(ctx, &line);
        }
        if !detail.is_empty() {
            for d in detail {
                self.error(ctx, d);
            }
            self.error(ctx, "-> [Help 1]");
        }
        self.error(ctx, "");
        self.error(ctx, "To see the full stack trace of the errors, re-run Maven with the -e switch.");
        self.error(ctx, "Re-run Maven using the -X switch to enable full debug logging.");
        self.error(ctx, "");
        self.error(
            ctx,
            "For more information about the errors and possible solutions, please read the following articles:",
        );
        self.error(ctx, &format!("[Help 1] http://cwiki.apache.org/confluence/display/MAVEN/{exception}"));
        ctx.exit(1);
    }

    fn plugin_version(name: &str) -> &'static str {
        vocab::MAVEN_PLUGINS.iter().find(|(n, _)| *n == name).map_or("3.1.0", |(_, v)| v)
    }

    fn src(&self, ctx: &mut Ctx<'_>) -> (String, String) {
        let module = pick(&mut ctx.rng, vocab::MODULES);
        let class = format!("{}{}", vocab::pascal(module), pick(&mut ctx.rng, SUFFIXES));
        let path = format!("{}/src/main/java/{}/{module}/{class}.java", ctx.ws, self.base_pkg.replace('.', "/"));
        (path, format!("{}.{module}.{class}", self.base_pkg))
    }

    /// `mvn verify` with `fail` injected at its phase.
    fn verify(&self, ctx: &mut Ctx<'_>, fail: Option<K>) {
        self.project_header(ctx);
        match fail {
            Some(K::Network) => return self.resolution_network(ctx),
            Some(K::Registry) => return self.resolution_registry(ctx),
            Some(K::DependencyResolution) => return self.resolution_missing(ctx),
            Some(K::Permission) => return self.resolution_unauthorized(ctx),
            _ => {}
        }
        if self.checkstyle_in_build {
            self.mojo(ctx, "checkstyle", "3.6.0", "check", "validate");
            if fail == Some(K::Lint) {
                return self.checkstyle(ctx);
            }
            self.info(ctx, "You have 0 Checkstyle violations.");
        }
        self.mojo(ctx, "resources", Self::plugin_version("resources"), "resources", "default-resources");
        let resources = ctx.layout.range(1, 9);
        self.info(ctx, &format!("Copying {resources} resources from src/main/resources to target/classes"));
        let compiler = Self::plugin_version("compiler");
        self.mojo(ctx, "compiler", compiler, "compile", "default-compile");
        self.info(ctx, "Recompiling the module because of changed source code.");
        self.info(
            ctx,
            &format!(
                "Compiling {} source files with javac [debug release {}] to target/classes",
                self.main_sources, self.java
            ),
        );
        ctx.w.grow(3.0);
        match fail {
            Some(K::Compile) => return self.javac_errors(ctx),
            Some(K::DiskFull) if ctx.rng.chance(0.5) => {
                let goal = format!(
                    "Failed to execute goal org.apache.maven.plugins:maven-compiler-plugin:{compiler}:compile (default-compile) on project {}: Fatal error compiling: java.io.IOException: No space left on device",
                    self.artifact
                );
                self.build_failure(ctx, &goal, &[], "MojoExecutionException");
                ctx.set_summary(format!("disk full: javac could not write classes for {}", self.artifact));
                return;
            }
            _ => {}
        }
        self.mojo(ctx, "resources", Self::plugin_version("resources"), "testResources", "default-testResources");
        let resources = ctx.layout.range(0, 6);
        self.info(ctx, &format!("Copying {resources} resources from src/test/resources to target/test-classes"));
        self.mojo(ctx, "compiler", compiler, "testCompile", "default-testCompile");
        self.info(ctx, "Recompiling the module because of changed dependency.");
        self.info(
            ctx,
            &format!(
                "Compiling {} source files with javac [debug release {}] to target/test-classes",
                self.test_sources, self.java
            ),
        );
        ctx.w.grow(2.0);
        if fail == Some(K::DiskFull) && ctx.rng.chance(0.5) {
            return self.report_disk_full(ctx);
        }
        if !self.surefire(ctx, fail) {
            return;
        }
        self.mojo(ctx, "jar", Self::plugin_version("jar"), "jar", "default-jar");
        let jar = format!("{}/target/{}-{}.jar", ctx.ws, self.artifact, self.version);
        if fail == Some(K::DiskFull) {
            self.info(ctx, &format!("Building jar: {jar}"));
            let goal = format!(
                "Failed to execute goal org.apache.maven.plugins:maven-jar-plugin:{}:jar (default-jar) on project {}: Error assembling JAR: Problem creating jar: No space left on device",
                Self::plugin_version("jar"),
                self.artifact
            );
            self.build_failure(ctx, &goal, &[], "MojoExecutionException");
            ctx.set_summary(format!(
                "disk full: no space left on device writing {}",
                jar.rsplit('/').next().unwrap_or(&jar)
            ));
            return;
        }
        self.info(ctx, &format!("Building jar: {jar}"));
        self.build_success(ctx);
    }

    fn javac_errors(&self, ctx: &mut Ctx<'_>) {
        self.info(ctx, &"-".repeat(61));
        self.error(ctx, "COMPILATION ERROR : ");
        self.info(ctx, &"-".repeat(61));
        let n = ctx.rng.range(1, 3);
        let mut blocks: Vec<Vec<String>> = Vec::new();
        for _ in 0..n {
            let (path, fqcn) = self.src(ctx);
            let line = ctx.rng.range(10, 700);
            let col = ctx.rng.range(5, 60);
            let f = vocab::camel(pick(&mut ctx.rng, vocab::FIELDS));
            let t = pick(&mut ctx.rng, vocab::TYPES);
            let block = match ctx.rng.range(0, 6) {
                0 => vec![
                    format!("{path}:[{line},{col}] cannot find symbol"),
                    format!("  symbol:   method {}(java.math.BigDecimal)", vocab::camel(&format!("round_{f}"))),
                    format!("  location: class {fqcn}"),
                ],
                1 => vec![format!(
                    "{path}:[{line},{col}] incompatible types: java.lang.String cannot be converted to int"
                )],
                2 => vec![
                    format!(
                        "{path}:[{line},{col}] method {} in class {}.{t} cannot be applied to given types;",
                        vocab::camel(&format!("with_{f}")),
                        self.base_pkg
                    ),
                    "  required: java.lang.String,int".to_string(),
                    "  found:    java.lang.String".to_string(),
                    "  reason: actual and formal argument lists differ in length".to_string(),
                ],
                3 => vec![format!("{path}:[{line},{col}] ';' expected")],
                4 => vec![format!(
                    "{path}:[{line},{col}] unreported exception java.io.IOException; must be caught or declared to be thrown"
                )],
                5 => vec![format!(
                    "{path}:[{line},{col}] package {}.{} does not exist",
                    self.base_pkg,
                    pick(&mut ctx.rng, vocab::MODULES)
                )],
                _ => vec![format!("{path}:[{line},{col}] variable {f} might not have been initialized")],
            };
            self.error_cause(ctx, &block[0]);
            for l in &block[1..] {
                ctx.w.out(l);
            }
            blocks.push(block);
        }
        self.info(ctx, &format!("{n} error{}", if n == 1 { "" } else { "s" }));
        self.info(ctx, &"-".repeat(61));
        let goal = format!(
            "Failed to execute goal org.apache.maven.plugins:maven-compiler-plugin:{}:compile (default-compile) on project {}: Compilation failure{}",
            Self::plugin_version("compiler"),
            self.artifact,
            if n > 1 { ": Compilation failure: " } else { "" }
        );
        let detail: Vec<String> = blocks.iter().flatten().cloned().collect();
        self.build_failure_with(ctx, &goal, &detail, "MojoFailureException", false);
        let first = &blocks[0][0];
        let short = first.rsplit("/src/main/java/").next().unwrap_or(first);
        ctx.set_summary(format!("compile error: javac {short}"));
    }

    fn checkstyle(&self, ctx: &mut Ctx<'_>) {
        let n = ctx.rng.range(1, 5);
        let patch = ctx.layout.range(0, 4);
        self.info(
            ctx,
            &format!(
                "There {} {n} error{} reported by Checkstyle 10.21.{patch} with checkstyle.xml ruleset.",
                if n == 1 { "is" } else { "are" },
                if n == 1 { "" } else { "s" }
            ),
        );
        let mut first = String::new();
        for _ in 0..n {
            let (path, _) = self.src(ctx);
            let rel = path.trim_start_matches(&format!("{}/", ctx.ws)).to_string();
            let line = ctx.rng.range(3, 600);
            let msg = match ctx.rng.range(0, 4) {
                0 => format!(
                    "[{line},8] (imports) UnusedImports: Unused import - java.util.{}.",
                    pick(&mut ctx.rng, &["Optional", "List", "Map", "Objects"])
                ),
                1 => format!(
                    "[{line}] (sizes) LineLength: Line is longer than 120 characters (found {}).",
                    ctx.rng.range(121, 180)
                ),
                2 => format!(
                    "[{line},{}] (whitespace) WhitespaceAround: '{{' is not preceded with whitespace.",
                    ctx.rng.range(10, 80)
                ),
                3 => format!("[{line},5] (javadoc) MissingJavadocMethod: Missing a Javadoc comment."),
                _ => format!(
                    "[{line},{}] (coding) MagicNumber: '{}' is a magic number.",
                    ctx.rng.range(10, 80),
                    ctx.rng.range(2, 999)
                ),
            };
            self.error_cause(ctx, &format!("{rel}:{msg}"));
            if first.is_empty() {
                first = format!("{rel}:{msg}");
            }
        }
        let goal = format!(
            "Failed to execute goal org.apache.maven.plugins:maven-checkstyle-plugin:3.6.0:check (validate) on project {}: You have {n} Checkstyle violation{}.",
            self.artifact,
            if n == 1 { "" } else { "s" }
        );
        self.build_failure(ctx, &goal, &[], "MojoFailureException");
        ctx.set_summary(format!("lint: checkstyle {first}"));
    }

    fn spotless(&self, ctx: &mut Ctx<'_>) {
        self.project_header(ctx);
        self.mojo(ctx, "spotless", "2.44.1", "check", "default-cli");
        ctx.w.grow(2.0);
        let n = ctx.rng.range(1, 3);
        let files: Vec<String> =
            (0..n).map(|_| self.src(ctx).0.trim_start_matches(&format!("{}/", ctx.ws)).to_string()).collect();
        let goal = format!(
            "Failed to execute goal com.diffplug.spotless:spotless-maven-plugin:2.44.1:check (default-cli) on project {}: The following files had format violations:",
            self.artifact
        );
        let mut detail = Vec::new();
        for f in &files {
            detail.push(format!("    {f}"));
            let line = ctx.rng.range(5, 400);
            detail.push(format!("        @@ -{line},7 +{line},7 @@"));
            detail.push(format!("        -\tif({}>0){{", vocab::camel(pick(&mut ctx.rng, vocab::FIELDS))));
            detail.push("        +\tif (x > 0) {".to_string());
        }
        detail.push("Run 'mvn spotless:apply' to fix these violations.".to_string());
        self.info(ctx, &"-".repeat(72));
        self.info(ctx, "BUILD FAILURE");
        self.info(ctx, &"-".repeat(72));
        self.total_time(ctx);
        self.info(ctx, &"-".repeat(72));
        self.error_cause(ctx, &goal);
        for d in &detail {
            if d.starts_with("    ") && !d.starts_with("        ") {
                self.error_cause(ctx, d);
            } else {
                self.error(ctx, d);
            }
        }
        self.error(ctx, "-> [Help 1]");
        ctx.exit(1);
        ctx.set_summary(format!("lint: spotless found format violations in {}", files.join(", ")));
    }

    /// The surefire phase; false when the build stopped here.
    fn surefire(&self, ctx: &mut Ctx<'_>, fail: Option<K>) -> bool {
        let surefire = Self::plugin_version("surefire");
        self.mojo(ctx, "surefire", surefire, "test", "default-test");
        self.info(ctx, "Using auto detected provider org.apache.maven.surefire.junitplatform.JUnitPlatformProvider");
        self.info(ctx, "");
        self.info(ctx, "-------------------------------------------------------");
        self.info(ctx, " T E S T S");
        self.info(ctx, "-------------------------------------------------------");
        let test_kinds = matches!(fail, Some(K::TestFailure | K::FlakyTest | K::Oom));
        let mut which = ctx.failing_test(fail);
        let bad_class = if test_kinds { Some(which.range(0, self.classes.len() as u64 - 1) as usize) } else { None };
        let mut run = 0;
        let mut skipped = 0;
        let mut failure: Option<(String, String, bool)> = None;
        let hang_at = if self.hang { Some(ctx.rng.range(0, self.classes.len() as u64 - 1) as usize) } else { None };
        for (i, c) in self.classes.iter().enumerate() {
            if Some(i) == hang_at {
                let it = format!("{}IT", c.fqcn.trim_end_matches("Test"));
                let t = self.tag("INFO");
                ctx.w.causef(format_args!("{t} Running {it}"));
                ctx.set_summary(format!("{it} hung in surefire"));
                return false;
            }
            self.info(ctx, &format!("Running {}", c.fqcn));
            ctx.w.grow(0.5 + ctx.rng.unit() * c.methods.len() as f64 * 0.2);
            let n = c.methods.len();
            run += n;
            let elapsed = vocab::secs(&mut ctx.rng, 0.01, 9.0);
            if Some(i) == bad_class {
                if fail == Some(K::Oom) {
                    return self.fork_crash(ctx, &c.fqcn);
                }
                let m = &c.methods[which.range(0, n as u64 - 1) as usize];
                let line = ctx.rng.range(20, 500);
                let (exc, msg, is_error) = self.junit_failure(ctx, fail == Some(K::FlakyTest));
                let label = if is_error { "ERROR" } else { "FAILURE" };
                self.error(ctx, &format!(
                    "Tests run: {n}, Failures: {}, Errors: {}, Skipped: 0, Time elapsed: {elapsed} s <<< {label}! -- in {}",
                    u8::from(!is_error),
                    u8::from(is_error),
                    c.fqcn
                ));
                let took = vocab::secs(&mut ctx.rng, 0.0, 5.0);
                self.error(ctx, &format!("{}.{m} -- Time elapsed: {took} s <<< {label}!", c.fqcn));
                ctx.w.causef(format_args!("{exc}: {msg}"));
                if !is_error {
                    ctx.w.out(
                        "\tat org.junit.jupiter.api.AssertionFailureBuilder.build(AssertionFailureBuilder.java:151)",
                    );
                    ctx.w.out("\tat org.junit.jupiter.api.AssertionFailureBuilder.buildAndThrow(AssertionFailureBuilder.java:132)");
                    ctx.w.out("\tat org.junit.jupiter.api.AssertEquals.failNotEqual(AssertEquals.java:197)");
                    ctx.w.out("\tat org.junit.jupiter.api.Assertions.assertEquals(Assertions.java:1156)");
                }
                ctx.w.causef(format_args!("\tat {}.{m}({}.java:{line})", c.fqcn, c.simple));
                ctx.w.out("\tat java.base/java.lang.reflect.Method.invoke(Method.java:580)");
                ctx.w.out("\tat java.base/java.util.ArrayList.forEach(ArrayList.java:1596)");
                ctx.w.out("");
                failure = Some((format!("{}.{m}:{line}", c.simple), format!("{exc}: {msg}"), is_error));
                continue;
            }
            let s = u64::from(ctx.rng.chance(0.1));
            skipped += s;
            self.info(
                ctx,
                &format!(
                    "Tests run: {n}, Failures: 0, Errors: 0, Skipped: {s}, Time elapsed: {elapsed} s -- in {}",
                    c.fqcn
                ),
            );
        }
        self.info(ctx, "");
        self.info(ctx, "Results:");
        self.info(ctx, "");
        let Some((site, what, is_error)) = failure else {
            self.info(ctx, &format!("Tests run: {run}, Failures: 0, Errors: 0, Skipped: {skipped}"));
            self.info(ctx, "");
            return true;
        };
        let short = what.split(": ").skip(1).collect::<Vec<_>>().join(": ");
        if is_error {
            self.error(ctx, "Errors: ");
            let simple =
                what.split(':').next().unwrap_or("").rsplit('.').next().unwrap_or("").trim_end_matches("Exception");
            self.error_cause(ctx, &format!("  {site} » {simple} {short}"));
        } else {
            self.error(ctx, "Failures: ");
            self.error_cause(ctx, &format!("  {site} {short}"));
        }
        self.info(ctx, "");
        self.error(
            ctx,
            &format!(
                "Tests run: {run}, Failures: {}, Errors: {}, Skipped: {skipped}",
                u8::from(!is_error),
                u8::from(is_error)
            ),
        );
        self.info(ctx, "");
        let goal = format!(
            "Failed to execute goal org.apache.maven.plugins:maven-surefire-plugin:{}:test (default-test) on project {}: There are test failures.",
            Self::plugin_version("surefire"),
            self.artifact
        );
        let detail = vec![
            String::new(),
            format!("Please refer to {}/target/surefire-reports for the individual test results.", ctx.ws),
            "Please refer to dump files (if any exist) [date].dump, [date]-jvmRun[N].dump and [date].dumpstream."
                .to_string(),
        ];
        self.build_failure_with(ctx, &goal, &detail, "MojoFailureException", false);
        let label = if fail == Some(K::FlakyTest) { "flaky test" } else { "test failure" };
        ctx.set_summary(format!("{label}: {site} {what}"));
        false
    }

    /// Surefire cannot write a test report: the disk filled up while tests ran.
    fn report_disk_full(&self, ctx: &mut Ctx<'_>) {
        let surefire = Self::plugin_version("surefire");
        self.mojo(ctx, "surefire", surefire, "test", "default-test");
        self.info(ctx, "");
        self.info(ctx, " T E S T S");
        let k = ctx.rng.range(0, self.classes.len() as u64 - 1) as usize;
        for c in &self.classes[..k] {
            ctx.w.grow(0.5);
            self.info(ctx, &format!("Running {}", c.fqcn));
            let took = vocab::secs(&mut ctx.rng, 0.01, 9.0);
            self.info(
                ctx,
                &format!(
                    "Tests run: {}, Failures: 0, Errors: 0, Skipped: 0, Time elapsed: {took} s -- in {}",
                    c.methods.len(),
                    c.fqcn
                ),
            );
        }
        let c = &self.classes[k];
        let goal = format!(
            "Failed to execute goal org.apache.maven.plugins:maven-surefire-plugin:{surefire}:test (default-test) on project {}: Unable to write {}/target/surefire-reports/TEST-{}.xml: No space left on device",
            self.artifact, ctx.ws, c.fqcn
        );
        self.build_failure(ctx, &goal, &[], "MojoExecutionException");
        ctx.set_summary(format!("disk full: surefire could not write the report of {} (no space left)", c.simple));
    }

    /// (exception, message, is an error rather than an assertion failure)
    fn junit_failure(&self, ctx: &mut Ctx<'_>, flaky: bool) -> (String, String, bool) {
        if flaky {
            match ctx.rng.range(0, 4) {
                0 => ("org.opentest4j.AssertionFailedError".into(), "expected: <200> but was: <503>".into(), false),
                1 => {
                    let secs = *ctx.rng.pick(&[2, 5, 10, 30]);
                    (
                        "org.awaitility.core.ConditionTimeoutException".into(),
                        format!(
                            "Condition with {}.{}Test was not fulfilled within {secs} seconds.",
                            self.base_pkg,
                            vocab::pascal(pick(&mut ctx.rng, vocab::MODULES))
                        ),
                        true,
                    )
                }
                2 => ("java.net.SocketTimeoutException".into(), "Read timed out".into(), true),
                3 => {
                    let image =
                        *ctx.rng.pick(&["postgres:16-alpine", "redis:7", "confluentinc/cp-kafka:7.6.1", "mysql:8.4"]);
                    (
                        "org.testcontainers.containers.ContainerLaunchException".into(),
                        format!("Container startup failed for image {image}"),
                        true,
                    )
                }
                _ => (
                    "java.net.BindException".into(),
                    format!("Address already in use (port {})", ctx.rng.range(8000, 65000)),
                    true,
                ),
            }
        } else {
            match ctx.rng.range(0, 3) {
                0 => {
                    let want = format!("{}.{:02}", ctx.rng.range(1, 999), ctx.rng.range(0, 99));
                    let got = format!("{}.{:02}", ctx.rng.range(1, 999), ctx.rng.range(0, 99));
                    (
                        "org.opentest4j.AssertionFailedError".into(),
                        format!("expected: <{want}> but was: <{got}>"),
                        false,
                    )
                }
                1 => {
                    let a = pick(&mut ctx.rng, &["ACTIVE", "PENDING", "PAID", "OPEN"]);
                    let b = pick(&mut ctx.rng, &["CANCELLED", "FAILED", "CLOSED", "EXPIRED"]);
                    ("org.opentest4j.AssertionFailedError".into(), format!("expected: <{a}> but was: <{b}>"), false)
                }
                2 => {
                    let f = vocab::camel(pick(&mut ctx.rng, vocab::FIELDS));
                    (
                        "java.lang.NullPointerException".into(),
                        format!(
                            "Cannot invoke \"java.math.BigDecimal.add(java.math.BigDecimal)\" because \"this.{f}\" is null"
                        ),
                        true,
                    )
                }
                _ => {
                    let f = vocab::camel(pick(&mut ctx.rng, vocab::FIELDS));
                    (
                        "java.lang.AssertionError".into(),
                        format!("\nExpecting actual:\n  {}\nto be equal to:\n  {}", ctx.rng.range(0, 99), f.len()),
                        false,
                    )
                }
            }
        }
    }

    fn fork_crash(&self, ctx: &mut Ctx<'_>, class: &str) -> bool {
        ctx.w.grow(3.0);
        let surefire = Self::plugin_version("surefire");
        let stamp = format!("2026{}", ctx.rng.range(10_000_000_000, 99_999_999_999));
        if ctx.rng.chance(0.3) {
            ctx.killed(&format!("mvn -B verify (while running {class})"));
            ctx.exit(137);
            ctx.set_summary(format!("oom: the kernel killed Maven while {class} ran (exit 137)"));
            return false;
        }
        self.info(ctx, "");
        self.info(ctx, "Results:");
        self.info(ctx, "");
        self.info(ctx, "Tests run: 0, Failures: 0, Errors: 0, Skipped: 0");
        self.info(ctx, "");
        let java = format!(
            "{}/Java_Temurin-Hotspot_jdk/{}/{}/bin/java",
            ctx.toolcache,
            self.java_full.replace('+', "-"),
            ctx.arch()
        );
        let goal = format!(
            "Failed to execute goal org.apache.maven.plugins:maven-surefire-plugin:{surefire}:test (default-test) on project {}: ",
            self.artifact
        );
        let detail = vec![
            String::new(),
            format!("Please refer to {}/target/surefire-reports for the individual test results.", ctx.ws),
            "Please refer to dump files (if any exist) [date].dump, [date]-jvmRun[N].dump and [date].dumpstream."
                .to_string(),
            "The forked VM terminated without properly saying goodbye. VM crash or System.exit called?".to_string(),
            format!(
                "Command was /bin/sh -c cd '{}' && '{java}' '-Xmx2g' '-jar' '{}/target/surefire/surefirebooter-{stamp}_3.jar' '{}/target/surefire' '{stamp}-jvmRun1' 'surefire-{stamp}_1tmp' 'surefire_0-{stamp}_2tmp'",
                ctx.ws, ctx.ws, ctx.ws
            ),
            "Error occurred in starting fork, check output in log".to_string(),
            "Process Exit Code: 137".to_string(),
            format!("Crashed tests:\n{class}"),
        ];
        self.info(ctx, &"-".repeat(72));
        self.info(ctx, "BUILD FAILURE");
        self.info(ctx, &"-".repeat(72));
        self.total_time(ctx);
        self.info(ctx, &"-".repeat(72));
        self.error(ctx, &goal);
        for d in &detail {
            if d.contains("without properly saying goodbye") || d.contains("Exit Code: 137") {
                self.error_cause(ctx, d);
            } else {
                self.error(ctx, d);
            }
        }
        self.error(ctx, "-> [Help 1]");
        ctx.exit(1);
        ctx.set_summary(format!("oom: the surefire fork running {class} was killed (exit 137)"));
        false
    }

    fn dependency_coords(&self, ctx: &mut Ctx<'_>) -> (String, String, String, String) {
        let d = self.deps[ctx.rng.range(0, self.deps.len() as u64 - 1) as usize].0;
        let (g, a) = d.split_once(':').unwrap_or((d, d));
        let v = vocab::semver(&mut ctx.rng, 1, 6);
        let url = format!("{CENTRAL}/{}/{a}/{v}/{a}-{v}.jar", g.replace('.', "/"));
        (g.to_string(), a.to_string(), v, url)
    }

    fn resolution_network(&self, ctx: &mut Ctx<'_>) {
        let (g, a, v, url) = self.dependency_coords(ctx);
        let ip = vocab::ip_for(&mut ctx.rng, "repo.maven.apache.org");
        let reason = match ctx.rng.range(0, 4) {
            0 => format!("Connect to repo.maven.apache.org:443 [repo.maven.apache.org/{ip}] failed: Connect timed out"),
            1 => "repo.maven.apache.org: Temporary failure in name resolution".to_string(),
            2 => format!("transfer failed for {url}: Connection reset"),
            3 => "Remote host terminated the handshake".to_string(),
            _ => format!("transfer failed for {url}: Read timed out"),
        };
        ctx.w.wait(10.0 + ctx.rng.unit() * 60.0);
        if ctx.rng.chance(0.5) {
            let plugin = *ctx.rng.pick(&["surefire", "compiler", "jar", "resources"]);
            let pv = Self::plugin_version(plugin);
            self.warn(ctx, &format!("Failed to download maven-{plugin}-plugin-{pv}.pom [{CENTRAL}/]"));
            self.info(ctx, &"-".repeat(72));
            self.info(ctx, "BUILD FAILURE");
            self.info(ctx, &"-".repeat(72));
            self.total_time(ctx);
            self.info(ctx, &"-".repeat(72));
            self.error_cause(ctx, &format!("Plugin org.apache.maven.plugins:maven-{plugin}-plugin:{pv} or one of its dependencies could not be resolved:"));
            self.error_cause(ctx, &format!("\tThe following artifacts could not be resolved: org.apache.maven.plugins:maven-{plugin}-plugin:pom:{pv} (absent): Could not transfer artifact org.apache.maven.plugins:maven-{plugin}-plugin:pom:{pv} from/to central ({CENTRAL}): {reason}"));
            self.error(ctx, "-> [Help 1]");
            self.error(ctx, "");
            self.error(
                ctx,
                "For more information about the errors and possible solutions, please read the following articles:",
            );
            self.error(ctx, "[Help 1] http://cwiki.apache.org/confluence/display/MAVEN/PluginResolutionException");
            ctx.exit(1);
            ctx.set_summary(format!("network: Maven could not download maven-{plugin}-plugin {pv}: {reason}"));
            return;
        }
        let goal = format!(
            "Failed to execute goal on project {}: Could not resolve dependencies for project {}: Could not transfer artifact {g}:{a}:jar:{v} from/to central ({CENTRAL}): {reason}",
            self.artifact,
            self.coords()
        );
        self.build_failure(ctx, &goal, &[], "DependencyResolutionException");
        ctx.set_summary(format!("network: Maven could not download {g}:{a}:{v}: {reason}"));
    }

    fn resolution_registry(&self, ctx: &mut Ctx<'_>) {
        let (g, a, v, _) = self.dependency_coords(ctx);
        let (code, reason) = *ctx.rng.pick(&[
            (502, "Bad Gateway"),
            (503, "Service Unavailable"),
            (429, "Too Many Requests"),
            (500, "Internal Server Error"),
        ]);
        ctx.w.wait(2.0 + ctx.rng.unit() * 10.0);
        let goal = format!(
            "Failed to execute goal on project {}: Could not resolve dependencies for project {}: Could not transfer artifact {g}:{a}:pom:{v} from/to central ({CENTRAL}): status code: {code}, reason phrase: {reason} ({code})",
            self.artifact,
            self.coords()
        );
        self.build_failure(ctx, &goal, &[], "DependencyResolutionException");
        ctx.set_summary(format!("registry: Maven Central answered {code} {reason} for {g}:{a}:{v}"));
    }

    fn resolution_missing(&self, ctx: &mut Ctx<'_>) {
        let owner_g = self.group.clone();
        let name = format!(
            "{}-{}",
            pick(&mut ctx.rng, &["shared", "common", "platform", "core"]),
            pick(&mut ctx.rng, &["model", "events", "client", "bom"])
        );
        let v = format!("{}.{}.{}", ctx.rng.range(1, 5), ctx.rng.range(0, 20), ctx.rng.range(0, 9));
        match ctx.rng.range(0, 2) {
            0 => {
                let snap = if ctx.rng.chance(0.5) { format!("{v}-SNAPSHOT") } else { v.clone() };
                let goal = format!(
                    "Failed to execute goal on project {}: Could not resolve dependencies for project {}: The following artifacts could not be resolved: {owner_g}:{name}:jar:{snap} (absent): Could not find artifact {owner_g}:{name}:jar:{snap} in central ({CENTRAL})",
                    self.artifact,
                    self.coords()
                );
                self.build_failure(ctx, &goal, &[], "DependencyResolutionException");
                ctx.set_summary(format!("dependency resolution: {owner_g}:{name}:{snap} is not in any repository"));
            }
            1 => {
                let (g, a, _, _) = self.dependency_coords(ctx);
                let (v1, v2) = (vocab::semver(&mut ctx.rng, 2, 2), vocab::semver(&mut ctx.rng, 2, 2));
                self.mojo(ctx, "enforcer", Self::plugin_version("enforcer"), "enforce", "enforce");
                self.warn(ctx, "");
                ctx.w
                    .causef(format_args!("Dependency convergence error for {g}:{a}:jar:{v1} paths to dependency are:"));
                ctx.w.outf(format_args!("+-{}:{}", self.coords().replace(":jar:", ":"), ""));
                ctx.w.outf(format_args!("  +-{g}:{a}:jar:{v1}:compile"));
                ctx.w.out("and");
                ctx.w.outf(format_args!("+-{}", self.coords().replace(":jar:", ":")));
                ctx.w.outf(format_args!("  +-{owner_g}:{name}:jar:{v}:compile"));
                ctx.w.outf(format_args!("    +-{g}:{a}:jar:{v2}:compile"));
                let goal = format!(
                    "Failed to execute goal org.apache.maven.plugins:maven-enforcer-plugin:{}:enforce (enforce) on project {}: ",
                    Self::plugin_version("enforcer"),
                    self.artifact
                );
                let detail = vec![
                    "Rule 0: org.apache.maven.enforcer.rules.dependency.DependencyConvergence failed with message:"
                        .to_string(),
                    "Failed while enforcing releasability. See above detailed error message.".to_string(),
                ];
                self.build_failure(ctx, &goal, &detail, "MojoExecutionException");
                ctx.set_summary(format!("dependency resolution: {g}:{a} converges on both {v1} and {v2}"));
            }
            _ => {
                let goal = format!(
                    "Non-resolvable parent POM for {}:{}:{}: The following artifacts could not be resolved: {owner_g}:{name}-parent:pom:{v} (absent): Could not find artifact {owner_g}:{name}-parent:pom:{v} in central ({CENTRAL}) and 'parent.relativePath' points at no local POM @ line 6, column 11",
                    self.group, self.artifact, self.version
                );
                self.error(ctx, "The build could not read 1 project -> [Help 1]");
                self.build_failure(ctx, &goal, &[], "ProjectBuildingException");
                ctx.set_summary(format!(
                    "dependency resolution: parent POM {owner_g}:{name}-parent:{v} cannot be found"
                ));
            }
        }
    }

    fn resolution_unauthorized(&self, ctx: &mut Ctx<'_>) {
        let name = format!(
            "{}-{}",
            pick(&mut ctx.rng, &["shared", "common", "platform"]),
            pick(&mut ctx.rng, &["model", "events", "client"])
        );
        let v = format!("{}.{}.{}", ctx.rng.range(1, 5), ctx.rng.range(0, 20), ctx.rng.range(0, 9));
        let (code, reason) = *ctx.rng.pick(&[(401, "Unauthorized"), (403, "Forbidden")]);
        let repo = format!("https://maven.pkg.github.com/{}/{name}", ctx.owner);
        let goal = format!(
            "Failed to execute goal on project {}: Could not resolve dependencies for project {}: Could not transfer artifact {}:{name}:pom:{v} from/to github ({repo}): status code: {code}, reason phrase: {reason} ({code})",
            self.artifact,
            self.coords(),
            self.group
        );
        self.build_failure(ctx, &goal, &[], "DependencyResolutionException");
        ctx.set_summary(format!("permission: GitHub Packages answered {code} {reason} for {}:{name}:{v}", self.group));
    }

    fn deploy(&self, ctx: &mut Ctx<'_>, fail: bool) {
        self.project_header(ctx);
        self.mojo(ctx, "jar", Self::plugin_version("jar"), "jar", "default-jar");
        self.info(ctx, &format!("Building jar: {}/target/{}-{}.jar", ctx.ws, self.artifact, self.version));
        self.mojo(ctx, "install", Self::plugin_version("install"), "install", "default-install");
        self.mojo(ctx, "deploy", "3.1.3", "deploy", "default-deploy");
        let repo = format!("https://maven.pkg.github.com/{}", ctx.spec.repo);
        let stamp =
            format!("2026{:04}.{:06}-{}", ctx.rng.range(101, 1231), ctx.rng.range(0, 235959), ctx.rng.range(1, 40));
        let base = self.version.trim_end_matches("-SNAPSHOT");
        let path = format!(
            "{repo}/{}/{}/{}/{}-{base}-{stamp}.jar",
            self.group.replace('.', "/"),
            self.artifact,
            self.version,
            self.artifact
        );
        ctx.w.outf(format_args!("Uploading to github: {path}"));
        ctx.w.grow(1.0);
        if !fail {
            ctx.w.outf(format_args!(
                "Uploaded to github: {path} ({} kB at {} kB/s)",
                ctx.rng.range(10, 900),
                ctx.rng.range(50, 3000)
            ));
            self.build_success(ctx);
            return;
        }
        let (code, reason) = *ctx.rng.pick(&[(401, "Unauthorized"), (403, "Forbidden")]);
        let goal = format!(
            "Failed to execute goal org.apache.maven.plugins:maven-deploy-plugin:3.1.3:deploy (default-deploy) on project {}: Failed to deploy artifacts: Could not transfer artifact {}:{}:jar:{base}-{stamp} from/to github ({repo}): status code: {code}, reason phrase: {reason} ({code})",
            self.artifact, self.group, self.artifact
        );
        self.build_failure(ctx, &goal, &[], "MojoExecutionException");
        ctx.set_summary(format!("permission: deploying {} to GitHub Packages answered {code} {reason}", self.artifact));
    }

    fn dependency_check(&self, ctx: &mut Ctx<'_>, fail: bool) {
        self.project_header(ctx);
        self.mojo(ctx, "dependency-check", "11.1.1", "check", "default-cli");
        self.info(ctx, "Checking for updates");
        ctx.w.grow(3.0);
        self.info(ctx, &format!("Download Started for NVD Cache - Last Modified: {NOW}s"));
        self.info(ctx, "Analysis Started");
        ctx.w.grow(2.0);
        let (a, c, t) = (ctx.rng.range(0, 5), ctx.rng.range(1, 30), ctx.rng.range(5, 90));
        self.info(ctx, &format!("Finished Archive Analyzer ({a} seconds)"));
        self.info(ctx, &format!("Finished Central Analyzer ({c} seconds)"));
        self.info(ctx, &format!("Analysis Complete ({t} seconds)"));
        self.info(ctx, &format!("Writing HTML report to: {}/target/dependency-check-report.html", ctx.ws));
        if !fail {
            self.build_success(ctx);
            return;
        }
        let n = ctx.rng.range(1, 3) as usize;
        let mut detail = vec![String::new(), "One or more dependencies were identified with vulnerabilities that have a CVSS score greater than or equal to '7.0': ".to_string(), String::new()];
        let mut first = String::new();
        for _ in 0..n {
            let (_, a, v, _) = self.dependency_coords(ctx);
            let cves: Vec<String> = (0..ctx.rng.range(1, 3))
                .map(|_| format!("{}({:.1})", vocab::cve(&mut ctx.rng), 7.0 + ctx.rng.unit() * 3.0))
                .collect();
            detail.push(format!("{a}-{v}.jar: {}", cves.join(", ")));
            if first.is_empty() {
                first = format!("{a}-{v}.jar: {}", cves[0]);
            }
        }
        detail.push(String::new());
        detail.push("See the dependency-check report for more details.".to_string());
        self.info(ctx, &"-".repeat(72));
        self.info(ctx, "BUILD FAILURE");
        self.info(ctx, &"-".repeat(72));
        self.total_time(ctx);
        self.info(ctx, &"-".repeat(72));
        self.error_cause(
            ctx,
            &format!(
                "Failed to execute goal org.owasp:dependency-check-maven:11.1.1:check (default-cli) on project {}: ",
                self.artifact
            ),
        );
        for d in &detail {
            if d.contains(".jar: CVE") {
                self.error_cause(ctx, d);
            } else {
                self.error(ctx, d);
            }
        }
        self.error(ctx, "-> [Help 1]");
        ctx.exit(1);
        ctx.set_summary(format!("security gate: OWASP dependency-check failed on CVSS >= 7: {first}"));
    }

    fn setup_java(&self, ctx: &mut Ctx<'_>) {
        let path =
            format!("{}/Java_Temurin-Hotspot_jdk/{}/{}", ctx.toolcache, self.java_full.replace('+', "-"), ctx.arch());
        ctx.w.group("Installed distributions");
        ctx.w.outf(format_args!("Resolved Java {} from tool-cache", self.java_full));
        ctx.w.outf(format_args!("Setting Java {} as the default", self.java_full));
        ctx.w.outf(format_args!("Creating toolchains.xml for JDK version {} from temurin", self.java));
        ctx.w.outf(format_args!("Writing to {}/.m2/toolchains.xml", ctx.home));
        ctx.w.out("");
        ctx.w.out("Java configuration:");
        ctx.w.out("  Distribution: temurin");
        ctx.w.outf(format_args!("  Version: {}", self.java_full));
        ctx.w.outf(format_args!("  Path: {path}"));
        ctx.w.out("");
        ctx.w.endgroup();
        ctx.w.out("Creating settings.xml with server-id: github");
        ctx.w.outf(format_args!("Writing to {}/.m2/settings.xml", ctx.home));
        ctx.w.wait(0.5 + ctx.rng.unit() * 3.0);
        if ctx.rng.chance(0.8) {
            let size = ctx.rng.range(30_000_000, 700_000_000);
            let key = format!("setup-java-{}-{}-maven-{}", ctx.goos(), ctx.arch(), vocab::hex(&mut ctx.layout, 64));
            runner::cache_restored(ctx, &key, size);
        } else {
            ctx.w.out("maven cache is not found");
        }
        if ctx.env.iter().all(|(k, _)| k != "JAVA_HOME") {
            ctx.env.push(("JAVA_HOME".into(), path.clone()));
            ctx.env.push((format!("JAVA_HOME_{}_{}", self.java, ctx.arch().to_uppercase()), path));
        }
    }
}

impl ToolJob for Maven {
    fn emit(&mut self, ctx: &mut Ctx<'_>, step: &StepDef, outcome: Outcome) {
        let fail = match outcome {
            Outcome::Fail(k) => Some(k),
            _ => None,
        };
        match step.role {
            Role::Toolchain => self.setup_java(ctx),
            Role::Build => {
                self.hang = outcome == Outcome::Hang;
                self.verify(ctx, fail);
            }
            Role::Lint => {
                if step.variant == 1 {
                    if fail.is_some() {
                        self.spotless(ctx);
                    } else {
                        self.project_header(ctx);
                        self.mojo(ctx, "spotless", "2.44.1", "check", "default-cli");
                        self.build_success(ctx);
                    }
                } else {
                    self.project_header(ctx);
                    self.mojo(ctx, "checkstyle", "3.6.0", "check", "default-cli");
                    if fail.is_some() {
                        self.checkstyle(ctx);
                    } else {
                        self.info(ctx, "You have 0 Checkstyle violations.");
                        self.build_success(ctx);
                    }
                }
            }
            Role::Audit => {
                if step.variant == 1 {
                    let names: Vec<&str> = self.deps.iter().map(|d| d.0.split(':').nth(1).unwrap_or(d.0)).collect();
                    cargo::trivy_fs(ctx, "pom.xml", "pom", &names, fail.is_some());
                } else {
                    self.dependency_check(ctx, fail.is_some());
                }
            }
            Role::Publish => self.deploy(ctx, fail.is_some()),
            _ => {}
        }
    }

    fn writes_own_hang(&self, step: &StepDef) -> bool {
        step.role == Role::Build
    }

    fn post(&mut self, ctx: &mut Ctx<'_>, _step: &StepDef, _job_failed: bool) {
        let key = format!("setup-java-{}-{}-maven-{}", ctx.goos(), ctx.arch(), vocab::hex(&mut ctx.layout, 64));
        if ctx.rng.chance(0.8) {
            ctx.w.outf(format_args!("Cache hit occurred on the primary key {key}, not saving cache."));
        } else {
            ctx.w.wait(2.0 + ctx.rng.unit() * 6.0);
            ctx.w.outf(format_args!("Cache saved with the key: {key}"));
        }
    }
}
