//! Container jobs: `docker/setup-buildx-action`, `docker/login-action`, hadolint,
//! `docker/build-push-action` (BuildKit's `#N` progress, the failing RUN's output, `ERROR: failed
//! to solve`), and a Trivy image scan.

use crate::failure::FailureKind as K;

use super::runner::{self, Finding};
use super::vocab::{self, pick};
use super::{Ctx, Outcome, Role, StepDef, ToolJob};

/// The language the image builds, which decides the Dockerfile and what its RUN steps print.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Base {
    Node,
    Go,
    Python,
    Rust,
    Java,
}

/// One Dockerfile instruction: (stage, text); `FROM` starts a stage.
struct Instr {
    stage: &'static str,
    text: String,
}

struct Docker {
    base: Base,
    registry: &'static str,
    image: String,
    push: bool,
    builder: String,
    dockerfile: Vec<Instr>,
    buildx: String,
    os_family: (&'static str, &'static str),
    hang: bool,
}

pub(crate) fn plan(ctx: &mut Ctx<'_>, target: Option<(K, Role)>) -> (Box<dyn ToolJob>, Vec<StepDef>) {
    let role = target.map(|t| t.1);
    let base = *ctx.layout.pick(&[Base::Node, Base::Go, Base::Python, Base::Rust, Base::Java]);
    let registry = if ctx.layout.chance(0.75) { "ghcr.io" } else { "docker.io" };
    let image = if registry == "ghcr.io" {
        format!("ghcr.io/{}/{}", ctx.owner.to_lowercase(), ctx.name.to_lowercase())
    } else {
        format!("{}/{}", ctx.owner.to_lowercase().replace('-', ""), ctx.project)
    };
    let push = ctx.layout.chance(0.7)
        || matches!(target, Some((K::Permission, Role::Build)))
        || (matches!(target, Some((K::Registry, _))) && ctx.rng.chance(0.3));
    let dockerfile = dockerfile(ctx, base);
    let os_family = match base {
        Base::Node => ("alpine", "3.20.3"),
        Base::Go => ("debian", "12.8"),
        Base::Python => ("debian", "12.8"),
        Base::Rust => ("debian", "12.9"),
        Base::Java => ("ubuntu", "24.04"),
    };
    let mut steps = Vec::new();
    let buildx_action = ctx.action("docker/setup-buildx-action", "v3");
    steps.push(StepDef::uses(Role::Toolchain, Some("Set up Docker Buildx"), buildx_action, &[]).with_post());
    if role == Some(Role::Lint) || ctx.layout.chance(0.3) {
        let action = ctx.action("hadolint/hadolint-action", "v3.1.0");
        steps.push(StepDef::uses(
            Role::Lint,
            Some("Lint Dockerfile"),
            action,
            &[("dockerfile", "Dockerfile"), ("failure-threshold", "warning")],
        ));
    }
    if push || role == Some(Role::Login) {
        let action = ctx.action("docker/login-action", "v3");
        let actor = ctx.owner.to_lowercase();
        let user = if registry == "ghcr.io" { actor.as_str() } else { "***" };
        let mut with = vec![("username", user), ("password", "***"), ("logout", "true")];
        if registry == "ghcr.io" {
            with.insert(0, ("registry", "ghcr.io"));
        }
        steps.push(StepDef::uses(Role::Login, Some(&format!("Log in to {registry}")), action, &with).with_post());
    }
    let action = ctx.action("docker/build-push-action", "v6");
    let sha = ctx.spec.head_sha;
    let tags = format!("{image}:{sha}");
    steps.push(StepDef::uses(
        Role::Build,
        Some(if push { "Build and push" } else { "Build image" }),
        action,
        &[
            ("context", "."),
            ("push", if push { "true" } else { "false" }),
            ("load", if push { "false" } else { "true" }),
            ("tags", &tags),
            ("cache-from", "type=gha"),
            ("cache-to", "type=gha,mode=max"),
        ],
    ));
    if role == Some(Role::Audit) || ctx.layout.chance(0.35) {
        let action = ctx.action("aquasecurity/trivy-action", "0.29.0");
        steps.push(StepDef::uses(
            Role::Audit,
            Some("Scan image"),
            action,
            &[
                ("image-ref", &tags),
                ("format", "table"),
                ("exit-code", "1"),
                ("ignore-unfixed", "true"),
                ("vuln-type", "os,library"),
                ("severity", "CRITICAL,HIGH"),
            ],
        ));
    }
    let builder = format!("builder-{}", vocab::uuid(&mut ctx.rng));
    let buildx = format!("v0.{}.{}", ctx.layout.range(18, 21), ctx.layout.range(0, 3));
    let job = Docker { base, registry, image, push, builder, dockerfile, buildx, os_family, hang: false };
    (Box::new(job), steps)
}

fn dockerfile(ctx: &mut Ctx<'_>, base: Base) -> Vec<Instr> {
    let i = |stage: &'static str, text: &str| Instr { stage, text: text.to_string() };
    match base {
        Base::Node => {
            let v = pick(&mut ctx.layout, &["18", "20", "22"]);
            vec![
                i("build", &format!("FROM node:{v}-alpine AS build")),
                i("build", "WORKDIR /app"),
                i("build", "COPY package.json package-lock.json ./"),
                i("build", "RUN npm ci"),
                i("build", "COPY . ."),
                i("build", "RUN npm test -- --ci"),
                i("build", "RUN npm run build"),
                i("stage-1", "FROM nginx:1.27-alpine"),
                i("stage-1", "COPY --from=build /app/dist /usr/share/nginx/html"),
            ]
        }
        Base::Go => {
            let v = pick(&mut ctx.layout, &["1.22", "1.23", "1.24"]);
            vec![
                i("build", &format!("FROM golang:{v}-bookworm AS build")),
                i("build", "WORKDIR /src"),
                i("build", "COPY go.mod go.sum ./"),
                i("build", "RUN go mod download"),
                i("build", "COPY . ."),
                i("build", "RUN go test ./..."),
                i("build", "RUN CGO_ENABLED=0 go build -trimpath -o /out/server ./cmd/server"),
                i("stage-1", "FROM gcr.io/distroless/static-debian12"),
                i("stage-1", "COPY --from=build /out/server /server"),
            ]
        }
        Base::Python => {
            let v = pick(&mut ctx.layout, &["3.11", "3.12", "3.13"]);
            vec![
                i("stage-0", &format!("FROM python:{v}-slim")),
                i(
                    "stage-0",
                    "RUN apt-get update && apt-get install -y --no-install-recommends build-essential libpq-dev && rm -rf /var/lib/apt/lists/*",
                ),
                i("stage-0", "WORKDIR /app"),
                i("stage-0", "COPY requirements.txt ."),
                i("stage-0", "RUN pip install --no-cache-dir -r requirements.txt"),
                i("stage-0", "COPY . ."),
                i("stage-0", "RUN python -m pytest -q"),
            ]
        }
        Base::Rust => {
            let v = pick(&mut ctx.layout, &["1.83", "1.84", "1.85"]);
            vec![
                i("build", &format!("FROM rust:{v}-slim-bookworm AS build")),
                i("build", "WORKDIR /src"),
                i("build", "COPY . ."),
                i("build", "RUN cargo test --release --locked"),
                i("build", "RUN cargo build --release --locked"),
                i("stage-1", "FROM debian:bookworm-slim"),
                i("stage-1", "COPY --from=build /src/target/release/app /usr/local/bin/app"),
            ]
        }
        Base::Java => vec![
            i("build", "FROM maven:3.9-eclipse-temurin-21 AS build"),
            i("build", "WORKDIR /src"),
            i("build", "COPY pom.xml ."),
            i("build", "RUN mvn -B -q dependency:go-offline"),
            i("build", "COPY src ./src"),
            i("build", "RUN mvn -B -q verify"),
            i("stage-1", "FROM eclipse-temurin:21-jre"),
            i("stage-1", "COPY --from=build /src/target/app.jar /app.jar"),
        ],
    }
}

/// Which kind of RUN an instruction is.
fn run_kind(text: &str) -> &'static str {
    if text.contains("npm ci")
        || text.contains("pip install")
        || text.contains("go mod download")
        || text.contains("go-offline")
    {
        "deps"
    } else if text.contains("apt-get") {
        "apt"
    } else if text.contains("test") || text.contains("pytest") || text.contains("verify") {
        "test"
    } else if text.starts_with("RUN") {
        "build"
    } else {
        ""
    }
}

/// `docker.io/library/node:20-alpine` for `node:20-alpine`.
fn qualified(image: &str) -> String {
    if image.contains('/') && image.split('/').next().is_some_and(|h| h.contains('.')) {
        image.to_string()
    } else if image.contains('/') {
        format!("docker.io/{image}")
    } else {
        format!("docker.io/library/{image}")
    }
}

impl Docker {
    fn tag(&self, ctx: &Ctx<'_>) -> String {
        format!("{}:{}", self.image, ctx.spec.head_sha)
    }

    /// Where a failure of `kind` happens in the Dockerfile: an instruction index, or `None` for
    /// the pull of a base image / the export.
    fn failing_instr(&self, ctx: &mut Ctx<'_>, kind: K) -> Option<usize> {
        let find = |k: &str| self.dockerfile.iter().position(|i| run_kind(&i.text) == k);
        let any_run = || self.dockerfile.iter().position(|i| i.text.starts_with("RUN"));
        match kind {
            K::Compile => find("build").or_else(|| find("test")).or_else(any_run),
            K::TestFailure | K::FlakyTest => find("test").or_else(any_run),
            K::DependencyResolution => {
                let apt = if ctx.rng.chance(0.3) { find("apt") } else { None };
                apt.or_else(|| find("deps")).or_else(|| find("build")).or_else(any_run)
            }
            K::Oom => find("build").or_else(|| find("test")).or_else(any_run),
            K::DiskFull => {
                if ctx.rng.chance(0.5) {
                    find("deps").or_else(|| find("build"))
                } else {
                    None
                }
            }
            K::Network => {
                if ctx.rng.chance(0.5) {
                    None
                } else {
                    find("apt").or_else(|| find("deps"))
                }
            }
            _ => None,
        }
    }

    fn build(&mut self, ctx: &mut Ctx<'_>, fail: Option<K>) {
        let tag = self.tag(ctx);
        ctx.w.group("GitHub Actions runtime token ACs");
        ctx.w.outf(format_args!("{}: read/write", ctx.spec.repo));
        ctx.w.endgroup();
        ctx.w.group("Docker info");
        ctx.w.out("[command]/usr/bin/docker version");
        ctx.w.out("Client: Docker Engine - Community");
        ctx.w.outf(format_args!(" Version:           {}", pick(&mut ctx.layout, &["26.1.3", "27.4.1", "27.5.1"])));
        ctx.w.out(" API version:       1.45");
        ctx.w.endgroup();
        ctx.w.group("Proxy configuration");
        ctx.w.out("No proxy configuration found");
        ctx.w.endgroup();
        ctx.w.group("Buildx version");
        ctx.w.out("[command]/usr/bin/docker buildx version");
        ctx.w.outf(format_args!("github.com/docker/buildx {} {}", self.buildx, vocab::hex(&mut ctx.layout, 7)));
        ctx.w.endgroup();
        let kit = format!("{}/docker-actions-toolkit-{}", ctx.temp, vocab::hex(&mut ctx.rng, 6));
        let run_id = ctx.rng.range(10_000_000_000, 13_999_999_999);
        ctx.w.outf(format_args!(
            "[command]/usr/bin/docker buildx build --cache-from type=gha --cache-to type=gha,mode=max --iidfile {kit}/build-iidfile-{}.txt --attest type=provenance,mode=min,inline-only=true,builder-id=https://github.com/{}/actions/runs/{run_id} --tag {tag} --metadata-file {kit}/build-metadata-{}.json {} .",
            vocab::hex(&mut ctx.rng, 10),
            ctx.spec.repo,
            vocab::hex(&mut ctx.rng, 10),
            if self.push { "--push" } else { "--load" }
        ));
        ctx.w.outf(format_args!("#0 building with \"{}\" instance using docker-container driver", self.builder));
        ctx.w.out("");
        let mut n = 1;
        ctx.w.outf(format_args!("#{n} [internal] load build definition from Dockerfile"));
        ctx.w.outf(format_args!("#{n} transferring dockerfile: {}B done", ctx.layout.range(300, 2400)));
        ctx.w.outf(format_args!("#{n} DONE 0.0s"));
        ctx.w.out("");
        n += 1;
        let froms: Vec<String> = self
            .dockerfile
            .iter()
            .filter_map(|i| i.text.strip_prefix("FROM ").map(|f| f.split(' ').next().unwrap_or(f).to_string()))
            .collect();
        // Pulling a base image is where network and registry failures land unless a RUN step
        // (apt, npm ci, pip) or the push hits them.
        let (pull_fail, instr_fail) = match fail {
            Some(K::Network) => match self.failing_instr(ctx, K::Network) {
                Some(i) => (false, Some(i)),
                None => (true, None),
            },
            Some(K::Registry) => (!(self.push && ctx.rng.chance(0.4)), None),
            Some(k @ (K::Compile | K::TestFailure | K::FlakyTest | K::DependencyResolution | K::Oom | K::DiskFull)) => {
                (false, self.failing_instr(ctx, k))
            }
            _ => (false, None),
        };
        for f in &froms {
            let q = qualified(f);
            if q.starts_with("docker.io/") {
                let repo = q.trim_start_matches("docker.io/").split(':').next().unwrap_or("").to_string();
                ctx.w.outf(format_args!("#{n} [auth] {repo}:pull token for registry-1.docker.io"));
                ctx.w.outf(format_args!("#{n} DONE 0.0s"));
                ctx.w.out("");
                n += 1;
            }
            ctx.w.outf(format_args!("#{n} [internal] load metadata for {q}"));
            if pull_fail && f == &froms[0] {
                return self.pull_failure(ctx, n, f, &q, fail.unwrap_or(K::Network));
            }
            ctx.w.wait(0.3 + ctx.rng.unit() * 1.5);
            ctx.w.outf(format_args!("#{n} DONE {}s", vocab::secs(&mut ctx.rng, 0.3, 2.0).trim_end_matches('0')));
            ctx.w.out("");
            n += 1;
        }
        ctx.w.outf(format_args!("#{n} [internal] load .dockerignore"));
        ctx.w.outf(format_args!("#{n} transferring context: {}B done", ctx.layout.range(2, 300)));
        ctx.w.outf(format_args!("#{n} DONE 0.0s"));
        ctx.w.out("");
        n += 1;
        // Stage sizes for `[build 3/6]`.
        let count = |stage: &str| self.dockerfile.iter().filter(|i| i.stage == stage).count();
        let mut seen_in_stage: Vec<(&str, usize)> = Vec::new();
        let hang_at = if self.hang { self.dockerfile.iter().position(|i| run_kind(&i.text) == "test") } else { None };
        for (idx, ins) in self.dockerfile.iter().enumerate() {
            let pos = match seen_in_stage.iter_mut().find(|(s, _)| *s == ins.stage) {
                Some((_, c)) => {
                    *c += 1;
                    *c
                }
                None => {
                    seen_in_stage.push((ins.stage, 1));
                    1
                }
            };
            // BuildKit names the stage only when the Dockerfile has more than one.
            let single = self.dockerfile.iter().all(|i| i.stage == ins.stage);
            let prefix = if single { String::new() } else { format!("{} ", ins.stage) };
            let label = format!("[{prefix}{pos}/{}] {}", count(ins.stage), ins.text);
            if let Some(from) = ins.text.strip_prefix("FROM ") {
                let img = qualified(from.split(' ').next().unwrap_or(from));
                let digest = vocab::hex(&mut ctx.layout, 64);
                ctx.w.outf(format_args!("#{n} [{prefix}{pos}/{}] FROM {img}@sha256:{digest}", count(ins.stage)));
                ctx.w.outf(format_args!("#{n} resolve {img}@sha256:{digest} 0.0s done"));
                let layers = ctx.rng.range(1, 4);
                for _ in 0..layers {
                    let l = vocab::hex(&mut ctx.rng, 64);
                    let mb = 1.0 + ctx.rng.unit() * 60.0;
                    ctx.w.grow(0.3);
                    ctx.w.outf(format_args!(
                        "#{n} sha256:{l} {mb:.2}MB / {mb:.2}MB {}s done",
                        vocab::secs(&mut ctx.rng, 0.1, 3.0)
                    ));
                    ctx.w
                        .outf(format_args!("#{n} extracting sha256:{l} {}s done", vocab::secs(&mut ctx.rng, 0.1, 2.0)));
                }
                ctx.w.outf(format_args!("#{n} DONE {}s", vocab::secs(&mut ctx.rng, 0.5, 8.0)));
                ctx.w.out("");
                n += 1;
                if idx == 0 {
                    ctx.w.outf(format_args!("#{n} [internal] load build context"));
                    ctx.w.outf(format_args!(
                        "#{n} transferring context: {:.2}MB {}s done",
                        ctx.rng.unit() * 20.0,
                        vocab::secs(&mut ctx.rng, 0.0, 1.0)
                    ));
                    ctx.w.outf(format_args!("#{n} DONE 0.4s"));
                    ctx.w.out("");
                    n += 1;
                }
                continue;
            }
            ctx.w.outf(format_args!("#{n} {label}"));
            if Some(idx) == hang_at {
                let first = ctx.w.mark() - 1;
                ctx.w.mark_causes(first);
                let out = self.run_output(ctx, &ins.text, 4);
                for (t, line) in out {
                    ctx.w.outf(format_args!("#{n} {t:.3} {line}"));
                }
                ctx.set_summary(format!("`{}` hung inside docker build", ins.text));
                return;
            }
            if Some(idx) == instr_fail {
                return self.run_failure(ctx, n, &label, ins, idx, fail.unwrap_or(K::Compile));
            }
            if ins.text.starts_with("RUN") {
                let out = self.run_output(ctx, &ins.text, 6);
                let mut prev = 0.0;
                for (t, line) in out {
                    ctx.w.grow(0.5);
                    ctx.w.wait(t - prev);
                    prev = t;
                    ctx.w.outf(format_args!("#{n} {t:.3} {line}"));
                }
                ctx.w.grow(1.0 + ctx.rng.unit() * 3.0);
                ctx.w.outf(format_args!("#{n} DONE {:.1}s", prev + 0.5 + ctx.rng.unit() * 60.0));
            } else if ctx.rng.chance(0.5) {
                ctx.w.outf(format_args!("#{n} CACHED"));
            } else {
                ctx.w.outf(format_args!("#{n} DONE {}s", vocab::secs(&mut ctx.rng, 0.0, 0.6)));
            }
            ctx.w.out("");
            n += 1;
        }
        self.export(ctx, n, fail)
    }

    fn export(&self, ctx: &mut Ctx<'_>, n: usize, fail: Option<K>) {
        let tag = self.tag(ctx);
        ctx.w.outf(format_args!("#{n} exporting to image"));
        ctx.w.grow(1.0);
        if fail == Some(K::DiskFull) {
            let l = vocab::hex(&mut ctx.rng, 64);
            let msg = format!(
                "failed to export layers: failed to write compressed diff: failed to create diff tar stream: write /var/lib/buildkit/runc-overlayfs/content/ingest/{l}/data: no space left on device"
            );
            ctx.w.causef(format_args!("#{n} exporting layers {}s done", vocab::secs(&mut ctx.rng, 1.0, 30.0)));
            ctx.w.causef(format_args!("#{n} ERROR: {msg}"));
            ctx.w.out("------");
            ctx.w.out(" > exporting to image:");
            ctx.w.out("------");
            return self.solve_error(
                ctx,
                &msg,
                format!("disk full: buildkit ran out of space exporting layer {}", &l[..12]),
            );
        }
        ctx.w.outf(format_args!("#{n} exporting layers {}s done", vocab::secs(&mut ctx.rng, 1.0, 30.0)));
        let manifest = vocab::hex(&mut ctx.rng, 64);
        ctx.w.outf(format_args!("#{n} exporting manifest sha256:{manifest} done"));
        ctx.w.outf(format_args!("#{n} exporting config sha256:{} done", vocab::hex(&mut ctx.rng, 64)));
        if !self.push {
            ctx.w.outf(format_args!("#{n} naming to {tag} done"));
            ctx.w.outf(format_args!("#{n} unpacking to {tag} {}s done", vocab::secs(&mut ctx.rng, 0.5, 6.0)));
            ctx.w.outf(format_args!("#{n} DONE {}s", vocab::secs(&mut ctx.rng, 2.0, 40.0)));
            ctx.w.out("");
            self.reference(ctx);
            return;
        }
        ctx.w.outf(format_args!("#{n} exporting attestation manifest sha256:{} done", vocab::hex(&mut ctx.rng, 64)));
        let list = vocab::hex(&mut ctx.rng, 64);
        ctx.w.outf(format_args!("#{n} exporting manifest list sha256:{list} done"));
        ctx.w.outf(format_args!("#{n} pushing layers"));
        ctx.w.grow(2.0);
        match fail {
            Some(K::Permission) => {
                let msg = match (self.registry, ctx.rng.range(0, 2)) {
                    ("ghcr.io", 0) => {
                        format!("failed to push {tag}: denied: installation not allowed to Write organization package")
                    }
                    ("ghcr.io", _) => format!("failed to push {tag}: denied: permission_denied: write_package"),
                    (_, 0) => format!(
                        "failed to push {tag}: push access denied, repository does not exist or may require authorization: server message: insufficient_scope: authorization failed"
                    ),
                    _ => format!("failed to push {tag}: denied: requested access to the resource is denied"),
                };
                ctx.w.causef(format_args!("#{n} ERROR: {msg}"));
                ctx.w.out("------");
                ctx.w.out(" > exporting to image:");
                ctx.w.out("------");
                let registry = self.registry;
                self.solve_error(ctx, &msg, format!("permission: push of {tag} to {registry} was denied"));
            }
            Some(K::Registry) => {
                let (code, reason) = *ctx.rng.pick(&[
                    (502, "Bad Gateway"),
                    (503, "Service Unavailable"),
                    (500, "Internal Server Error"),
                ]);
                let path = self.image.split_once('/').map_or(self.image.as_str(), |x| x.1);
                let host = if self.registry == "ghcr.io" { "ghcr.io" } else { "registry-1.docker.io" };
                let msg = format!(
                    "failed to push {tag}: unexpected status from PUT request to https://{host}/v2/{path}/manifests/{}: {code} {reason}",
                    ctx.spec.head_sha
                );
                ctx.w.causef(format_args!("#{n} ERROR: {msg}"));
                ctx.w.out("------");
                ctx.w.out(" > exporting to image:");
                ctx.w.out("------");
                let registry = self.registry;
                self.solve_error(ctx, &msg, format!("registry: {registry} answered {code} {reason} to the image push"));
            }
            _ => {
                ctx.w.outf(format_args!("#{n} pushing layers {}s done", vocab::secs(&mut ctx.rng, 1.0, 40.0)));
                ctx.w.outf(format_args!("#{n} pushing manifest for {tag}@sha256:{list}"));
                ctx.w.outf(format_args!(
                    "#{n} pushing manifest for {tag}@sha256:{list} {}s done",
                    vocab::secs(&mut ctx.rng, 0.2, 3.0)
                ));
                ctx.w.outf(format_args!("#{n} DONE {}s", vocab::secs(&mut ctx.rng, 2.0, 60.0)));
                ctx.w.out("");
                self.reference(ctx);
            }
        }
    }

    fn reference(&self, ctx: &mut Ctx<'_>) {
        ctx.w.group("Reference");
        ctx.w.outf(format_args!("{}/{}0/{}", self.builder, self.builder, vocab::hex(&mut ctx.rng, 25)));
        ctx.w.endgroup();
        ctx.w.group("Check build summary support");
        ctx.w.out("Build summary supported!");
        ctx.w.endgroup();
    }

    /// `ERROR: failed to solve: ...` and the action's `##[error]buildx failed with: ...`.
    fn solve_error(&self, ctx: &mut Ctx<'_>, msg: &str, summary: String) {
        ctx.w.causef(format_args!("ERROR: failed to solve: {msg}"));
        ctx.w.errorf(format_args!("buildx failed with: ERROR: failed to solve: {msg}"));
        ctx.set_summary(summary);
    }

    fn pull_failure(&self, ctx: &mut Ctx<'_>, n: usize, image: &str, q: &str, kind: K) {
        let (name, tag) = q.trim_start_matches("docker.io/").rsplit_once(':').unwrap_or((q, "latest"));
        ctx.w.wait(5.0 + ctx.rng.unit() * 25.0);
        ctx.w.grow(1.0);
        let (msg, summary) = if kind == K::Registry {
            if ctx.rng.chance(0.6) {
                let m = format!(
                    "{image}: failed to resolve source metadata for {q}: failed to copy: httpReadSeeker: failed open: unexpected status code https://registry-1.docker.io/v2/{name}/manifests/{tag}: 429 Too Many Requests - Server message: toomanyrequests: You have reached your pull rate limit. You may increase the limit by authenticating and upgrading: https://www.docker.com/increase-rate-limit"
                );
                (m, format!("registry: Docker Hub rate-limited the pull of {image} (429 toomanyrequests)"))
            } else {
                let (code, reason) = *ctx.rng.pick(&[
                    (500, "Internal Server Error"),
                    (502, "Bad Gateway"),
                    (503, "Service Unavailable"),
                ]);
                let m = format!(
                    "{image}: failed to resolve source metadata for {q}: unexpected status from HEAD request to https://registry-1.docker.io/v2/{name}/manifests/{tag}: {code} {reason}"
                );
                (m, format!("registry: Docker Hub answered {code} {reason} for {image}"))
            }
        } else {
            let ip = vocab::ip_for(&mut ctx.rng, "registry-1.docker.io");
            let reason = match ctx.rng.range(0, 3) {
                0 => format!(
                    "dial tcp: lookup registry-1.docker.io on 127.0.0.53:53: read udp 127.0.0.1:{}->127.0.0.53:53: i/o timeout",
                    ctx.rng.range(32768, 60999)
                ),
                1 => format!("dial tcp {ip}:443: i/o timeout"),
                2 => format!("read tcp {}->{ip}:443: read: connection reset by peer", vocab::local_addr(&mut ctx.rng)),
                _ => "net/http: TLS handshake timeout".to_string(),
            };
            let m = format!(
                "{image}: failed to resolve source metadata for {q}: failed to do request: Head \"https://registry-1.docker.io/v2/{name}/manifests/{tag}\": {reason}"
            );
            let short = reason.rsplit(": ").next().unwrap_or(&reason).to_string();
            (m, format!("network: pulling {image} from Docker Hub failed ({short})"))
        };
        ctx.w.causef(format_args!("#{n} ERROR: {msg}"));
        ctx.w.out("------");
        ctx.w.outf(format_args!(" > [internal] load metadata for {q}:"));
        ctx.w.out("------");
        self.solve_error(ctx, &msg, summary);
    }

    /// The output lines of a RUN that succeeds: (seconds since the step started, line).
    fn run_output(&self, ctx: &mut Ctx<'_>, text: &str, max: usize) -> Vec<(f64, String)> {
        let mut lines: Vec<String> = Vec::new();
        match (self.base, run_kind(text)) {
            (Base::Node, "deps") => {
                lines.push(format!(
                    "added {} packages, and audited {} packages in {}s",
                    ctx.rng.range(200, 1200),
                    ctx.rng.range(200, 1200),
                    ctx.rng.range(4, 40)
                ));
                lines.push("found 0 vulnerabilities".into());
            }
            (Base::Node, "test") => {
                for _ in 0..ctx.rng.range(2, max as u64) {
                    let f = format!(
                        "src/{}/{}.test.ts",
                        pick(&mut ctx.rng, &["api", "lib", "store"]),
                        vocab::camel(pick(&mut ctx.rng, vocab::MODULES))
                    );
                    lines.push(format!("PASS {f}"));
                }
                lines.push(format!("Tests:       {} passed, {} total", ctx.rng.range(20, 300), ctx.rng.range(20, 300)));
            }
            (Base::Node, _) => {
                lines.push("vite v5.4.11 building for production...".into());
                lines.push(format!("✓ {} modules transformed.", ctx.rng.range(50, 2000)));
                lines.push(format!("✓ built in {}s", vocab::secs(&mut ctx.rng, 2.0, 30.0)));
            }
            (Base::Go, "deps") => {}
            (Base::Go, "test") => {
                for _ in 0..ctx.rng.range(2, max as u64) {
                    lines.push(format!(
                        "ok  \tgithub.com/{}/{}/internal/{}\t{}s",
                        ctx.owner.to_lowercase(),
                        ctx.name.to_lowercase(),
                        pick(&mut ctx.rng, vocab::MODULES),
                        vocab::secs(&mut ctx.rng, 0.01, 4.0)
                    ));
                }
            }
            (Base::Go, _) => {}
            (Base::Python, "apt") => {
                lines.push("Get:1 http://deb.debian.org/debian bookworm InRelease [151 kB]".into());
                lines.push(format!(
                    "Fetched {:.1} MB in {}s ({:.1} MB/s)",
                    5.0 + ctx.rng.unit() * 40.0,
                    ctx.rng.range(1, 9),
                    2.0 + ctx.rng.unit() * 20.0
                ));
                lines.push("Reading package lists...".into());
            }
            (Base::Python, "deps") => {
                for p in vocab::sample(&mut ctx.rng, vocab::PYPI, max.min(5)) {
                    lines.push(format!("Collecting {p}=={}", vocab::semver(&mut ctx.rng, 0, 4)));
                }
                lines.push("Successfully installed ...".into());
            }
            (Base::Python, _) => {
                lines.push(format!("{} passed in {}s", ctx.rng.range(20, 400), vocab::secs(&mut ctx.rng, 2.0, 60.0)));
            }
            (Base::Rust, _) => {
                for c in vocab::sample(&mut ctx.rng, vocab::CRATES, max) {
                    lines.push(format!("   Compiling {c} v{}", vocab::semver(&mut ctx.rng, 0, 2)));
                }
                if text.contains("test") {
                    lines.push(format!(
                        "test result: ok. {} passed; 0 failed; 0 ignored; 0 measured; 0 filtered out; finished in {}s",
                        ctx.rng.range(5, 200),
                        vocab::secs(&mut ctx.rng, 0.1, 9.0)
                    ));
                } else {
                    lines.push(format!(
                        "    Finished `release` profile [optimized] target(s) in {}s",
                        vocab::secs(&mut ctx.rng, 30.0, 300.0)
                    ));
                }
            }
            (Base::Java, "test") => {
                lines.push(format!("[INFO] Tests run: {}, Failures: 0, Errors: 0, Skipped: 0", ctx.rng.range(20, 400)));
            }
            (Base::Java, _) => {}
        }
        let mut t = 0.2 + ctx.rng.unit();
        lines
            .into_iter()
            .map(|l| {
                t += ctx.rng.unit() * 3.0;
                (t, l)
            })
            .collect()
    }

    /// The failure inside a RUN: its output, the BuildKit error box and `failed to solve`.
    fn run_failure(&self, ctx: &mut Ctx<'_>, n: usize, label: &str, ins: &Instr, idx: usize, kind: K) {
        let mut t = 0.3 + ctx.rng.unit() * 2.0;
        let mut lines: Vec<(String, bool)> = Vec::new();
        let exit;
        let what: String;
        let f = vocab::camel(pick(&mut ctx.rng, vocab::FIELDS));
        let m = pick(&mut ctx.rng, vocab::MODULES);
        let line = ctx.rng.range(10, 500);
        match kind {
            K::Compile => {
                let (l, w, code) = match self.base {
                    Base::Node => (
                        format!(
                            "src/{m}/index.ts({line},{}): error TS2339: Property '{f}' does not exist on type '{}'.",
                            ctx.rng.range(3, 40),
                            pick(&mut ctx.rng, vocab::TYPES)
                        ),
                        format!("tsc TS2339 in src/{m}/index.ts:{line}"),
                        2,
                    ),
                    Base::Go => (
                        format!("internal/{m}/{m}.go:{line}:{}: undefined: {f}", ctx.rng.range(2, 30)),
                        format!("go build: undefined {f} in internal/{m}"),
                        1,
                    ),
                    Base::Python => (
                        format!("E   ImportError: cannot import name '{f}' from 'app.{m}' (/app/app/{m}.py)"),
                        format!("ImportError of {f} from app.{m}"),
                        2,
                    ),
                    Base::Rust => (
                        format!(
                            "error[E0425]: cannot find value `{f}` in this scope --> src/{m}.rs:{line}:{}",
                            ctx.rng.range(5, 40)
                        ),
                        format!("rustc E0425 in src/{m}.rs:{line}"),
                        101,
                    ),
                    Base::Java => (
                        format!(
                            "[ERROR] /src/src/main/java/app/{m}/{}.java:[{line},{}] cannot find symbol",
                            vocab::pascal(m),
                            ctx.rng.range(5, 40)
                        ),
                        format!("javac cannot find symbol in {}.java:{line}", vocab::pascal(m)),
                        1,
                    ),
                };
                lines.push((l, true));
                exit = code;
                what = format!("compile error: {w} (docker build)");
            }
            K::TestFailure | K::FlakyTest => {
                let flaky = kind == K::FlakyTest;
                let name = vocab::test_name(&mut ctx.rng);
                let (l1, l2, w) = match self.base {
                    Base::Node => (
                        format!("FAIL src/{m}/{m}.test.ts"),
                        if flaky {
                            "    Expected: 200\n    Received: 503".to_string()
                        } else {
                            format!("    Expected: {}\n    Received: {}", line, line + 1)
                        },
                        format!("{m}.test.ts › {}", vocab::spaced(&name)),
                    ),
                    Base::Go => (
                        format!(
                            "--- FAIL: Test{}_{} (0.{:02}s)",
                            vocab::pascal(m),
                            vocab::pascal(&name),
                            ctx.rng.range(0, 99)
                        ),
                        if flaky {
                            format!("    {m}_test.go:{line}: expected status 200, got 503")
                        } else {
                            format!("    {m}_test.go:{line}: got {}, want {}", line * 2, line)
                        },
                        format!("Test{}_{}", vocab::pascal(m), vocab::pascal(&name)),
                    ),
                    Base::Python => (
                        format!(
                            "FAILED tests/test_{m}.py::test_{name} - AssertionError: assert {} == {}",
                            if flaky { 503 } else { line + 3 },
                            if flaky { 200 } else { line }
                        ),
                        format!(
                            "1 failed, {} passed in {}s",
                            ctx.rng.range(20, 300),
                            vocab::secs(&mut ctx.rng, 2.0, 40.0)
                        ),
                        format!("tests/test_{m}.py::test_{name}"),
                    ),
                    Base::Rust => (
                        format!("thread '{m}::tests::{name}' panicked at src/{m}.rs:{line}:9:"),
                        if flaky {
                            "assertion `left == right` failed: unexpected status\n  left: 503\n right: 200".to_string()
                        } else {
                            format!("assertion `left == right` failed\n  left: {}\n right: {line}", line + 7)
                        },
                        format!("{m}::tests::{name}"),
                    ),
                    Base::Java => (
                        format!(
                            "[ERROR] {}Test.{} -- Time elapsed: 0.{:03} s <<< FAILURE!",
                            vocab::pascal(m),
                            vocab::camel(&name),
                            ctx.rng.range(1, 999)
                        ),
                        if flaky {
                            "org.opentest4j.AssertionFailedError: expected: <200> but was: <503>".to_string()
                        } else {
                            format!("org.opentest4j.AssertionFailedError: expected: <{line}> but was: <{}>", line + 1)
                        },
                        format!("{}Test.{}", vocab::pascal(m), vocab::camel(&name)),
                    ),
                };
                lines.push((l1, true));
                for l in l2.lines() {
                    lines.push((l.to_string(), true));
                }
                exit = if self.base == Base::Rust { 101 } else { 1 };
                let label = if flaky { "flaky test" } else { "test failure" };
                what = format!("{label}: {w} failed inside docker build");
            }
            K::DependencyResolution => {
                if run_kind(&ins.text) == "apt" {
                    let pkg = pick(
                        &mut ctx.rng,
                        &["libssl1.1", "python3-distutils", "libicu67", "libffi7", "libmysqlclient-dev"],
                    );
                    lines.push(("Reading package lists...".into(), false));
                    lines.push(("Building dependency tree...".into(), false));
                    if ctx.rng.chance(0.5) {
                        lines.push((format!("E: Unable to locate package {pkg}"), true));
                    } else {
                        lines.push((
                            format!("Package {pkg} is not available, but is referred to by another package."),
                            false,
                        ));
                        lines.push((format!("E: Package '{pkg}' has no installation candidate"), true));
                    }
                    exit = 100;
                    what = format!("dependency resolution: apt cannot install {pkg} in the image");
                } else {
                    let (l, w) = match self.base {
                        Base::Node => (
                            format!(
                                "npm error ERESOLVE unable to resolve dependency tree (peer react@\"^{}.0.0\" from {}@{})",
                                ctx.rng.range(15, 17),
                                pick(&mut ctx.rng, vocab::NPM),
                                vocab::semver(&mut ctx.rng, 1, 9)
                            ),
                            "npm ERESOLVE".to_string(),
                        ),
                        Base::Python => (
                            format!(
                                "ERROR: ResolutionImpossible: {} {} depends on {}<{}",
                                pick(&mut ctx.rng, vocab::PYPI),
                                vocab::semver(&mut ctx.rng, 1, 5),
                                pick(&mut ctx.rng, vocab::PYPI),
                                ctx.rng.range(1, 4)
                            ),
                            "pip ResolutionImpossible".to_string(),
                        ),
                        Base::Go => {
                            let g = pick(&mut ctx.rng, vocab::GO_MODULES);
                            (
                                format!(
                                    "go: {g}@v{}.{}.0: invalid version: unknown revision v{}.{}.0",
                                    ctx.rng.range(1, 3),
                                    line,
                                    ctx.rng.range(1, 3),
                                    line
                                ),
                                format!("unknown revision of {g}"),
                            )
                        }
                        Base::Rust => {
                            let c = pick(&mut ctx.rng, vocab::CRATES);
                            (
                                format!(
                                    "error: failed to select a version for the requirement `{c} = \"^{}.{line}\"`",
                                    ctx.rng.range(1, 3)
                                ),
                                format!("no version of {c}"),
                            )
                        }
                        Base::Java => (
                            format!(
                                "[ERROR] Failed to execute goal on project app: Could not resolve dependencies for project app:app:jar:1.0: The following artifacts could not be resolved: {}:jar:{}.{line} (absent)",
                                pick(&mut ctx.rng, vocab::MAVEN),
                                ctx.rng.range(1, 9)
                            ),
                            "Maven could not resolve dependencies".to_string(),
                        ),
                    };
                    lines.push((l, true));
                    exit = if self.base == Base::Rust { 101 } else { 1 };
                    what = format!("dependency resolution: {w} inside docker build");
                }
            }
            K::DiskFull => {
                let h = vocab::hex(&mut ctx.rng, 16);
                let (l, code) = match self.base {
                    Base::Node => (
                        format!(
                            "npm error nospc ENOSPC: no space left on device, write '/app/node_modules/.cache/{h}'"
                        ),
                        1,
                    ),
                    Base::Go => (format!("write /root/.cache/go-build/{}/{h}-d: no space left on device", &h[..2]), 1),
                    Base::Python => (
                        "ERROR: Could not install packages due to an OSError: [Errno 28] No space left on device"
                            .to_string(),
                        1,
                    ),
                    Base::Rust => (
                        format!(
                            "error: failed to write /src/target/release/deps/lib{}-{h}.rlib: No space left on device (os error 28)",
                            pick(&mut ctx.rng, vocab::CRATES).replace('-', "_")
                        ),
                        101,
                    ),
                    Base::Java => (
                        format!(
                            "[ERROR] Failed to execute goal on project app: Could not write /root/.m2/repository/{}: No space left on device",
                            pick(&mut ctx.rng, vocab::MAVEN).replace([':', '.'], "/")
                        ),
                        1,
                    ),
                };
                lines.push((l, true));
                exit = code;
                what = format!(
                    "disk full: no space left on device during `{}` in docker build",
                    ins.text.trim_start_matches("RUN ")
                );
            }
            K::Oom => {
                if ctx.rng.chance(0.5) {
                    lines.push(("Killed".into(), true));
                }
                exit = 137;
                what = format!(
                    "oom: `{}` was killed after {:.0}s inside docker build (exit 137)",
                    ins.text.trim_start_matches("RUN "),
                    t + 10.0 + ctx.rng.unit() * 300.0
                );
            }
            _ => {
                // Network inside a RUN: apt or the package manager cannot reach its mirror.
                let (l, w) = if run_kind(&ins.text) == "apt" {
                    let ip = vocab::ip_for(&mut ctx.rng, "deb.debian.org");
                    lines.push(("Err:1 http://deb.debian.org/debian bookworm InRelease".into(), false));
                    (
                        format!("  Could not connect to deb.debian.org:80 ({ip}), connection timed out"),
                        "apt could not reach deb.debian.org".to_string(),
                    )
                } else {
                    match self.base {
                        Base::Node => (
                            format!(
                                "npm error network request to https://registry.npmjs.org/{} failed, reason: connect ETIMEDOUT {}:443",
                                pick(&mut ctx.rng, vocab::NPM),
                                vocab::ip_for(&mut ctx.rng, "npmjs")
                            ),
                            "npm ETIMEDOUT".to_string(),
                        ),
                        Base::Python => (
                            format!(
                                "WARNING: Retrying (Retry(total=0, connect=None, read=None, redirect=None, status=None)) after connection broken by 'NewConnectionError(': Failed to establish a new connection: [Errno -3] Temporary failure in name resolution')': /simple/{}/",
                                pick(&mut ctx.rng, vocab::PYPI)
                            ),
                            "pip name resolution failure".to_string(),
                        ),
                        Base::Go => {
                            let g = pick(&mut ctx.rng, vocab::GO_MODULES);
                            (
                                format!(
                                    "go: {g}@v1.{line}.0: Get \"https://proxy.golang.org/{g}/@v/v1.{line}.0.mod\": dial tcp {}:443: i/o timeout",
                                    vocab::ip_for(&mut ctx.rng, "golang")
                                ),
                                format!("proxy.golang.org timeout for {g}"),
                            )
                        }
                        Base::Rust => (
                            "warning: spurious network error (1 tries remaining): [28] Timeout was reached".to_string(),
                            "crates.io timeout".to_string(),
                        ),
                        Base::Java => (
                            format!(
                                "[ERROR] Failed to execute goal on project app: Could not transfer artifact {}:pom from/to central: Connect to repo.maven.apache.org:443 failed: Connect timed out",
                                pick(&mut ctx.rng, vocab::MAVEN)
                            ),
                            "Maven Central connect timeout".to_string(),
                        ),
                    }
                };
                lines.push((l, true));
                exit = if run_kind(&ins.text) == "apt" { 100 } else { 1 };
                what = format!("network: {w} inside docker build");
            }
        }
        let mut stamped = Vec::with_capacity(lines.len());
        // The RUN works for a while before it prints its error.
        ctx.w.grow(3.0);
        for (l, cause) in &lines {
            let dt = ctx.rng.unit() * 2.0;
            t += dt;
            ctx.w.wait(dt);
            if *cause {
                ctx.w.causef(format_args!("#{n} {t:.3} {l}"));
            } else {
                ctx.w.outf(format_args!("#{n} {t:.3} {l}"));
            }
            stamped.push(format!("{t:.3} {l}"));
        }
        let cmd = ins.text.trim_start_matches("RUN ");
        let msg = format!("process \"/bin/sh -c {cmd}\" did not complete successfully: exit code: {exit}");
        ctx.w.causef(format_args!("#{n} ERROR: {msg}"));
        ctx.w.out("------");
        ctx.w.outf(format_args!(" > {label}:"));
        for s in &stamped {
            ctx.w.out(s);
        }
        ctx.w.out("------");
        // The Dockerfile excerpt around the failing line.
        let line_no = idx + 1 + self.dockerfile[..idx].iter().filter(|i| i.text.starts_with("FROM")).count();
        ctx.w.outf(format_args!("Dockerfile:{line_no}"));
        ctx.w.out("--------------------");
        let lo = idx.saturating_sub(2);
        let hi = (idx + 2).min(self.dockerfile.len() - 1);
        for j in lo..=hi {
            let num = j + 1 + self.dockerfile[..j].iter().filter(|i| i.text.starts_with("FROM")).count();
            let mark = if j == idx { ">>>" } else { "   " };
            ctx.w.outf(format_args!("{num:>4} | {mark} {}", self.dockerfile[j].text));
        }
        ctx.w.out("--------------------");
        self.solve_error(ctx, &msg, what);
    }

    fn hadolint(&self, ctx: &mut Ctx<'_>, fail: bool) {
        ctx.w.outf(format_args!("/usr/bin/docker run --name {} --label {} --workdir /github/workspace --rm -e \"INPUT_DOCKERFILE\" -e \"INPUT_FAILURE-THRESHOLD\" -e \"HOME\" -e \"GITHUB_ACTIONS=true\" -e \"CI=true\" -v \"/var/run/docker.sock\":\"/var/run/docker.sock\" -v \"{}\":\"/github/workspace\" {} Dockerfile", vocab::hex(&mut ctx.rng, 32), vocab::hex(&mut ctx.rng, 6), ctx.ws, vocab::hex(&mut ctx.rng, 6)));
        ctx.w.grow(1.0);
        if !fail {
            return;
        }
        let rules: &[(&str, &str)] = &[
            (
                "DL3008",
                "warning: Pin versions in apt get install. Instead of `apt-get install <package>` use `apt-get install <package>=<version>`",
            ),
            ("DL3006", "warning: Always tag the version of an image explicitly"),
            ("DL3025", "warning: Use arguments JSON notation for CMD and ENTRYPOINT arguments"),
            (
                "DL4006",
                "warning: Set the SHELL option -o pipefail before RUN with a pipe in it. If you are using /bin/sh in an alpine image or if your shell is symlinked to busybox then consider explicitly setting your SHELL to /bin/ash, or disable this check",
            ),
            (
                "DL3018",
                "warning: Pin versions in apk add. Instead of `apk add <package>` use `apk add <package>=<version>`",
            ),
            ("DL3042", "warning: Avoid use of cache directory with pip. Use `pip install --no-cache-dir <package>`"),
            ("DL3059", "info: Multiple consecutive `RUN` instructions. Consider consolidation."),
            ("DL3003", "warning: Use WORKDIR to switch to a directory"),
            ("SC2086", "info: Double quote to prevent globbing and word splitting."),
        ];
        let n = ctx.rng.range(1, 3) as usize;
        let mut first = String::new();
        for _ in 0..n {
            let (code, msg) = *ctx.rng.pick(rules);
            let line = ctx.rng.range(1, self.dockerfile.len() as u64 + 2);
            ctx.w.causef(format_args!("Dockerfile:{line} {code} {msg}"));
            if first.is_empty() {
                first = format!("{code} at Dockerfile:{line}");
            }
        }
        ctx.w.error_plain("Docker run failed with exit code 1");
        ctx.set_summary(format!("lint: hadolint {first} ({n} findings)"));
    }

    fn login(&self, ctx: &mut Ctx<'_>, fail: bool) {
        ctx.w.outf(format_args!("Logging into {}...", self.registry));
        ctx.w.wait(0.5 + ctx.rng.unit() * 2.0);
        if !fail {
            ctx.w.out("Login Succeeded!");
            return;
        }
        ctx.w.grow(0.5);
        let host = if self.registry == "ghcr.io" { "https://ghcr.io/v2/" } else { "https://registry-1.docker.io/v2/" };
        let msg = match ctx.rng.range(0, 2) {
            0 => format!("Error response from daemon: Get \"{host}\": denied: denied"),
            1 => format!("Error response from daemon: Get \"{host}\": unauthorized: incorrect username or password"),
            _ => "Username and password required".to_string(),
        };
        ctx.w.errorf(format_args!("{msg}"));
        ctx.set_summary(format!("permission: docker login to {} failed: {msg}", self.registry));
    }

    fn scan(&self, ctx: &mut Ctx<'_>, fail: bool) {
        let tag = self.tag(ctx);
        ctx.w.out("Installing trivy from aquasecurity/setup-trivy");
        ctx.w.wait(1.0 + ctx.rng.unit() * 3.0);
        let (family, version) = self.os_family;
        let packages: Vec<&str> = vocab::OS_PACKAGES.to_vec();
        let n = ctx.rng.range(1, 4) as usize;
        let mut findings: Vec<Finding> = if fail { runner::trivy_findings(ctx, &packages, n) } else { Vec::new() };
        for f in &mut findings {
            f.installed = match family {
                "alpine" => format!("{}-r{}", f.installed, ctx.rng.range(0, 3)),
                _ => format!("{}-1~deb12u{}", f.installed, ctx.rng.range(1, 4)),
            };
            f.fixed = match family {
                "alpine" => format!("{}-r{}", f.fixed, ctx.rng.range(0, 3)),
                _ => format!("{}-1~deb12u{}", f.fixed, ctx.rng.range(1, 4)),
            };
        }
        runner::trivy_report(ctx, &format!("{tag} ({family} {version})"), Some((family, version)), &findings);
        if fail {
            ctx.exit(1);
            let first = &findings[0];
            ctx.set_summary(format!(
                "security gate: trivy found {} {} in {} {} ({} HIGH/CRITICAL in the image)",
                first.severity,
                first.id,
                first.package,
                first.installed,
                findings.len()
            ));
        }
    }
}

impl ToolJob for Docker {
    fn emit(&mut self, ctx: &mut Ctx<'_>, step: &StepDef, outcome: Outcome) {
        let fail = match outcome {
            Outcome::Fail(k) => Some(k),
            _ => None,
        };
        match step.role {
            Role::Toolchain => self.setup_buildx(ctx),
            Role::Lint => self.hadolint(ctx, fail.is_some()),
            Role::Login => self.login(ctx, fail.is_some()),
            Role::Build => {
                self.hang = outcome == Outcome::Hang;
                self.build(ctx, fail);
            }
            Role::Audit => self.scan(ctx, fail.is_some()),
            _ => {}
        }
    }

    fn writes_own_hang(&self, step: &StepDef) -> bool {
        step.role == Role::Build
    }

    fn post(&mut self, ctx: &mut Ctx<'_>, step: &StepDef, _job_failed: bool) {
        if step.role == Role::Login {
            ctx.w.outf(format_args!("Logging out of {}...", self.registry));
            ctx.w.outf(format_args!("Removing login credentials for {}", self.registry));
            return;
        }
        ctx.w.group("Removing builder");
        ctx.w.outf(format_args!("[command]/usr/bin/docker buildx rm {}", self.builder));
        ctx.w.outf(format_args!("{} removed", self.builder));
        ctx.w.endgroup();
        ctx.w.group("Cleaning up certificates");
        ctx.w.endgroup();
    }
}

impl Docker {
    fn setup_buildx(&self, ctx: &mut Ctx<'_>) {
        ctx.w.group("Docker info");
        ctx.w.out("[command]/usr/bin/docker version");
        ctx.w.out("Client: Docker Engine - Community");
        ctx.w.outf(format_args!(" Version:           {}", pick(&mut ctx.layout, &["26.1.3", "27.4.1", "27.5.1"])));
        ctx.w.out(" API version:       1.45");
        ctx.w.outf(format_args!(" OS/Arch:           {}/{}", ctx.goos(), if ctx.arm { "arm64" } else { "amd64" }));
        ctx.w.endgroup();
        ctx.w.group("Buildx version");
        ctx.w.out("[command]/usr/bin/docker buildx version");
        ctx.w.outf(format_args!("github.com/docker/buildx {} {}", self.buildx, vocab::hex(&mut ctx.layout, 7)));
        ctx.w.endgroup();
        ctx.w.group("Creating a new builder instance");
        ctx.w.outf(format_args!("[command]/usr/bin/docker buildx create --name {} --driver docker-container --buildkitd-flags --allow-insecure-entitlement security.insecure --allow-insecure-entitlement network.host --use", self.builder));
        ctx.w.out(&self.builder);
        ctx.w.endgroup();
        ctx.w.group("Booting builder");
        ctx.w.outf(format_args!("[command]/usr/bin/docker buildx inspect --bootstrap --builder {}", self.builder));
        ctx.w.out("#1 [internal] booting buildkit");
        ctx.w.out("#1 pulling image moby/buildkit:buildx-stable-1");
        ctx.w.wait(1.0 + ctx.rng.unit() * 2.0);
        let (pull, create) = (0.5 + ctx.rng.unit() * 2.0, 2.0 + ctx.rng.unit() * 6.0);
        ctx.w.outf(format_args!("#1 pulling image moby/buildkit:buildx-stable-1 {pull:.1}s done"));
        ctx.w.outf(format_args!("#1 creating container buildx_buildkit_{}0", self.builder));
        ctx.w.wait(create);
        ctx.w.outf(format_args!("#1 creating container buildx_buildkit_{}0 {create:.1}s done", self.builder));
        ctx.w.outf(format_args!("#1 DONE {:.1}s", pull + create + 0.1));
        ctx.w.outf(format_args!("Name:          {}", self.builder));
        ctx.w.out("Driver:        docker-container");
        ctx.w.out("Last Activity: ");
        ctx.w.outf(format_args!("Nodes:\nName:                  {}0\nEndpoint:              unix:///var/run/docker.sock\nStatus:                running", self.builder));
        ctx.w.outf(format_args!("BuildKit version:      v0.{}.{}", ctx.layout.range(17, 19), ctx.layout.range(0, 3)));
        ctx.w.outf(format_args!(
            "Platforms:             {}",
            if ctx.arm {
                "linux/arm64, linux/arm/v7, linux/arm/v6"
            } else {
                "linux/amd64, linux/amd64/v2, linux/amd64/v3, linux/386"
            }
        ));
        ctx.w.endgroup();
    }
}
