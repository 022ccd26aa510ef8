//! Random identifiers for log templates: names, versions, hosts, addresses, advisory ids. Every
//! template draws its specifics from here, so no two failures of a kind read the same.

use crate::rng::Rng;

/// Words for module, file and package names.
pub(crate) const MODULES: &[&str] = &[
    "auth",
    "billing",
    "cache",
    "config",
    "client",
    "server",
    "handler",
    "parser",
    "scheduler",
    "storage",
    "session",
    "queue",
    "worker",
    "metrics",
    "router",
    "codec",
    "index",
    "invoice",
    "users",
    "orders",
    "payments",
    "webhook",
    "tokens",
    "retry",
    "pool",
    "stream",
    "search",
    "export",
    "notify",
    "ledger",
    "inventory",
    "catalog",
    "gateway",
    "limits",
    "audit",
    "report",
    "sync",
    "upload",
    "schema",
    "migrate",
    "pricing",
    "shipping",
    "tenant",
    "feeds",
];

const VERBS: &[&str] = &[
    "parses",
    "rejects",
    "handles",
    "returns",
    "retries",
    "computes",
    "serializes",
    "renders",
    "expires",
    "refreshes",
    "applies",
    "validates",
    "merges",
    "emits",
    "skips",
    "caches",
    "drops",
    "rounds",
    "sorts",
    "paginates",
    "encodes",
    "decodes",
    "reconnects",
    "flushes",
    "evicts",
    "throttles",
    "resumes",
    "batches",
];

const OBJECTS: &[&str] = &[
    "empty_input",
    "expired_token",
    "large_payload",
    "unicode_names",
    "missing_fields",
    "duplicate_keys",
    "negative_amounts",
    "zero_quantity",
    "nested_objects",
    "trailing_slash",
    "utc_offsets",
    "leap_years",
    "concurrent_writes",
    "stale_entries",
    "partial_pages",
    "invalid_utf8",
    "default_config",
    "retry_after_header",
    "gzip_body",
    "max_connections",
    "discount_codes",
    "idle_connections",
    "late_events",
    "backpressure",
    "oversized_batches",
    "null_fields",
    "cursor_pagination",
    "dst_transition",
    "currency_rounding",
    "slow_consumers",
];

/// Words for fields and local variables in code snippets.
pub(crate) const FIELDS: &[&str] = &[
    "total",
    "count",
    "limit",
    "offset",
    "timeout",
    "retries",
    "user_id",
    "amount",
    "port",
    "status",
    "deadline",
    "capacity",
    "cursor",
    "balance",
    "quantity",
    "threshold",
    "window",
    "epoch",
    "version",
    "weight",
];

/// Types used in code snippets.
pub(crate) const TYPES: &[&str] = &[
    "Config", "Invoice", "Session", "Client", "Order", "Ledger", "Token", "Router", "Worker", "Snapshot", "Batch",
    "Cursor", "Account", "Schedule", "Payload", "Report", "Tenant", "Shipment",
];

pub(crate) const CRATES: &[&str] = &[
    "serde",
    "tokio",
    "hyper",
    "syn",
    "quote",
    "proc-macro2",
    "libc",
    "rand",
    "regex",
    "memchr",
    "itoa",
    "ryu",
    "bytes",
    "futures-core",
    "futures-util",
    "tracing",
    "tracing-core",
    "once_cell",
    "cfg-if",
    "log",
    "anyhow",
    "thiserror",
    "clap",
    "clap_builder",
    "axum",
    "tower",
    "http",
    "h2",
    "mio",
    "socket2",
    "parking_lot",
    "smallvec",
    "hashbrown",
    "indexmap",
    "unicode-ident",
    "chrono",
    "uuid",
    "base64",
    "ring",
    "rustls",
    "url",
    "idna",
    "percent-encoding",
    "pin-project-lite",
    "slab",
    "aho-corasick",
    "either",
    "itertools",
    "num-traits",
    "autocfg",
    "getrandom",
    "rand_core",
    "serde_json",
    "serde_derive",
    "toml",
    "tempfile",
    "crossbeam-utils",
    "rayon",
    "bitflags",
    "sha2",
    "digest",
    "generic-array",
    "typenum",
    "zeroize",
    "time",
    "lock_api",
    "scopeguard",
    "fastrand",
    "reqwest",
    "openssl-sys",
    "openssl",
    "native-tls",
    "sqlx",
    "tonic",
    "prost",
    "tokio-util",
    "httparse",
    "want",
    "tower-http",
];

pub(crate) const NPM: &[&str] = &[
    "react",
    "react-dom",
    "lodash",
    "axios",
    "express",
    "typescript",
    "@types/node",
    "eslint",
    "prettier",
    "webpack",
    "vite",
    "@babel/core",
    "chalk",
    "commander",
    "debug",
    "semver",
    "uuid",
    "yargs",
    "zod",
    "next",
    "ws",
    "dotenv",
    "body-parser",
    "cookie",
    "@testing-library/react",
    "ts-node",
    "rimraf",
    "glob",
    "minimatch",
    "cross-spawn",
    "postcss",
    "tailwindcss",
    "date-fns",
    "rxjs",
    "redux",
    "@reduxjs/toolkit",
    "graphql",
    "undici",
    "jsonwebtoken",
    "path-to-regexp",
    "micromatch",
    "braces",
    "nanoid",
    "esbuild",
    "rollup",
    "@vitejs/plugin-react",
    "msw",
    "pg",
];

pub(crate) const PYPI: &[&str] = &[
    "requests",
    "urllib3",
    "numpy",
    "pandas",
    "pydantic",
    "fastapi",
    "starlette",
    "django",
    "flask",
    "sqlalchemy",
    "attrs",
    "click",
    "jinja2",
    "pyyaml",
    "httpx",
    "anyio",
    "boto3",
    "botocore",
    "cryptography",
    "typing-extensions",
    "packaging",
    "idna",
    "certifi",
    "charset-normalizer",
    "six",
    "python-dateutil",
    "pytz",
    "scipy",
    "pillow",
    "lxml",
    "psycopg2-binary",
    "redis",
    "celery",
    "werkzeug",
    "marshmallow",
    "protobuf",
    "grpcio",
    "aiohttp",
    "orjson",
    "tenacity",
    "structlog",
    "pyjwt",
    "alembic",
    "gunicorn",
    "uvicorn",
];

pub(crate) const GO_MODULES: &[&str] = &[
    "github.com/stretchr/testify",
    "golang.org/x/sys",
    "golang.org/x/net",
    "google.golang.org/grpc",
    "github.com/spf13/cobra",
    "github.com/gorilla/mux",
    "github.com/sirupsen/logrus",
    "go.uber.org/zap",
    "github.com/prometheus/client_golang",
    "k8s.io/client-go",
    "github.com/aws/aws-sdk-go-v2",
    "gopkg.in/yaml.v3",
    "github.com/google/uuid",
    "github.com/jackc/pgx/v5",
    "github.com/redis/go-redis/v9",
    "golang.org/x/crypto",
    "github.com/go-chi/chi/v5",
    "github.com/spf13/viper",
    "go.opentelemetry.io/otel",
    "github.com/golang-jwt/jwt/v5",
    "golang.org/x/sync",
    "github.com/hashicorp/go-retryablehttp",
    "google.golang.org/protobuf",
    "github.com/rs/zerolog",
];

/// `groupId:artifactId` pairs.
pub(crate) const MAVEN: &[&str] = &[
    "org.springframework.boot:spring-boot-starter-web",
    "com.fasterxml.jackson.core:jackson-databind",
    "org.junit.jupiter:junit-jupiter",
    "com.google.guava:guava",
    "org.apache.commons:commons-lang3",
    "org.slf4j:slf4j-api",
    "ch.qos.logback:logback-classic",
    "org.mockito:mockito-core",
    "org.apache.logging.log4j:log4j-core",
    "io.netty:netty-handler",
    "org.postgresql:postgresql",
    "org.hibernate.orm:hibernate-core",
    "com.squareup.okhttp3:okhttp",
    "org.yaml:snakeyaml",
    "io.micrometer:micrometer-core",
    "org.apache.kafka:kafka-clients",
    "com.google.protobuf:protobuf-java",
    "org.assertj:assertj-core",
    "org.testcontainers:postgresql",
    "commons-io:commons-io",
    "org.apache.httpcomponents.client5:httpclient5",
    "io.projectreactor:reactor-core",
];

pub(crate) const MAVEN_PLUGINS: &[(&str, &str)] = &[
    ("resources", "3.3.1"),
    ("compiler", "3.13.0"),
    ("surefire", "3.5.2"),
    ("jar", "3.4.2"),
    ("install", "3.1.3"),
    ("failsafe", "3.5.2"),
    ("enforcer", "3.5.0"),
];

/// OS packages (apt/apk) with vulnerable-looking library names for scan reports.
pub(crate) const OS_PACKAGES: &[&str] = &[
    "libssl3",
    "libcrypto3",
    "openssl",
    "zlib1g",
    "libexpat1",
    "libxml2",
    "curl",
    "libcurl4",
    "busybox",
    "libc6",
    "libsqlite3-0",
    "libgnutls30",
    "libtiff6",
    "perl-base",
    "git",
    "libpq5",
    "krb5-libs",
    "ncurses-libs",
];

const VULN_TITLES: &[&str] = &[
    "Denial of service via crafted input",
    "Out-of-bounds read in decoder",
    "Use-after-free when handling closed connections",
    "Improper certificate validation",
    "Regular expression denial of service",
    "Heap buffer overflow in parser",
    "Prototype pollution via merge",
    "HTTP request smuggling",
    "Integer overflow leads to memory corruption",
    "Path traversal in archive extraction",
    "Uncontrolled resource consumption",
    "Timing side channel in signature verification",
    "Infinite loop on malformed header",
    "Server-side request forgery via redirect",
];

pub(crate) fn pick<'a>(rng: &mut Rng, items: &[&'a str]) -> &'a str {
    items[rng.range(0, items.len().saturating_sub(1) as u64) as usize]
}

/// Two different elements of a slice (when it has two).
pub(crate) fn pick2<'a>(rng: &mut Rng, items: &[&'a str]) -> (&'a str, &'a str) {
    let a = rng.range(0, items.len() as u64 - 1) as usize;
    let mut b = rng.range(0, items.len() as u64 - 2) as usize;
    if b >= a {
        b += 1;
    }
    (items[a], items[b.min(items.len() - 1)])
}

/// `n` distinct elements (or all of them), in a random order.
pub(crate) fn sample<'a>(rng: &mut Rng, items: &[&'a str], n: usize) -> Vec<&'a str> {
    let mut v: Vec<&'a str> = items.to_vec();
    let n = n.min(v.len());
    for i in 0..n {
        let j = rng.range(i as u64, v.len() as u64 - 1) as usize;
        v.swap(i, j);
    }
    v.truncate(n);
    v
}

/// `rejects_expired_token`.
pub(crate) fn test_name(rng: &mut Rng) -> String {
    format!("{}_{}", pick(rng, VERBS), pick(rng, OBJECTS))
}

/// `rejects_expired_token` -> `rejectsExpiredToken`.
pub(crate) fn camel(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut upper = false;
    for c in s.chars() {
        if c == '_' || c == '-' || c == ' ' {
            upper = true;
        } else if upper {
            out.extend(c.to_uppercase());
            upper = false;
        } else {
            out.push(c);
        }
    }
    out
}

/// `rejects_expired_token` -> `RejectsExpiredToken`.
pub(crate) fn pascal(s: &str) -> String {
    let c = camel(s);
    let mut chars = c.chars();
    match chars.next() {
        Some(first) => first.to_uppercase().chain(chars).collect(),
        None => String::new(),
    }
}

/// `rejects_expired_token` -> `rejects expired token`.
pub(crate) fn spaced(s: &str) -> String {
    s.replace(['_', '-'], " ")
}

/// `1.43.2`-style version with a major in `[lo, hi]`.
pub(crate) fn semver(rng: &mut Rng, lo: u64, hi: u64) -> String {
    format!("{}.{}.{}", rng.range(lo, hi), rng.range(0, 40), rng.range(0, 25))
}

pub(crate) fn hex(rng: &mut Rng, n: usize) -> String {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let mut s = String::with_capacity(n);
    let mut bits = 0u64;
    for i in 0..n {
        if i % 16 == 0 {
            bits = rng.next_u64();
        }
        s.push(HEX[(bits & 15) as usize] as char);
        bits >>= 4;
    }
    s
}

/// A stable 40-hex commit for a name (the same action always resolves to the same SHA).
pub(crate) fn stable_sha(name: &str) -> String {
    hex(&mut Rng::derive(0x5eed_0ac7, name), 40)
}

pub(crate) fn uuid(rng: &mut Rng) -> String {
    let h = hex(rng, 32);
    format!("{}-{}-4{}-a{}-{}", &h[0..8], &h[8..12], &h[13..16], &h[17..20], &h[20..32])
}

/// A process id as Linux hands them out on a fresh runner.
pub(crate) fn pid(rng: &mut Rng) -> u64 {
    rng.range(1800, 9800)
}

/// The address a host name resolves to, from the provider ranges those hosts really sit in.
pub(crate) fn ip_for(rng: &mut Rng, host: &str) -> String {
    let (a, b) = if host.contains("npmjs") || host.contains("crates.io") || host.contains("yarnpkg") {
        (104, rng.range(16, 18))
    } else if host.contains("python") || host.contains("pypi") || host.contains("maven") || host.contains("debian") {
        (151, 101)
    } else if host.contains("golang") || host.contains("google") {
        (142, 250)
    } else if host.contains("docker") {
        (rng.range(3, 54), rng.range(1, 230))
    } else if host.contains("github") || host.contains("ghcr") {
        (140, 82)
    } else {
        (10, rng.range(0, 40))
    };
    format!("{a}.{b}.{}.{}", rng.range(0, 255), rng.range(1, 254))
}

/// A runner-side ephemeral address and port for `read tcp a:p->b:443` messages.
pub(crate) fn local_addr(rng: &mut Rng) -> String {
    format!("10.1.{}.{}:{}", rng.range(0, 3), rng.range(2, 250), rng.range(32768, 60999))
}

pub(crate) fn cve(rng: &mut Rng) -> String {
    format!("CVE-{}-{}", rng.range(2021, 2025), rng.range(1000, 52999))
}

pub(crate) fn ghsa(rng: &mut Rng) -> String {
    const A: &[u8] = b"23456789cfghjmpqrvwx";
    let mut s = String::from("GHSA");
    for _ in 0..3 {
        s.push('-');
        for _ in 0..4 {
            s.push(A[rng.range(0, A.len() as u64 - 1) as usize] as char);
        }
    }
    s
}

pub(crate) fn rustsec(rng: &mut Rng) -> String {
    format!("RUSTSEC-{}-{:04}", rng.range(2020, 2025), rng.range(1, 130))
}

pub(crate) fn govuln(rng: &mut Rng) -> String {
    format!("GO-{}-{:04}", rng.range(2022, 2025), rng.range(100, 3500))
}

pub(crate) fn vuln_title(rng: &mut Rng) -> &'static str {
    pick(rng, VULN_TITLES)
}

/// Seconds with two decimals, as most tools print them.
pub(crate) fn secs(rng: &mut Rng, lo: f64, hi: f64) -> String {
    format!("{:.2}", lo + rng.unit() * (hi - lo))
}

/// The crates.io index path for a crate (`se/rd/serde`, `3/s/syn`).
pub(crate) fn crate_index_path(name: &str) -> String {
    match name.len() {
        1 => format!("1/{name}"),
        2 => format!("2/{name}"),
        3 => format!("3/{}/{name}", &name[..1]),
        _ => format!("{}/{}/{name}", &name[..2], &name[2..4]),
    }
}

/// `owner/name` -> (`owner`, `name`).
pub(crate) fn split_repo(repo: &str) -> (&str, &str) {
    match repo.split_once('/') {
        Some((o, n)) if !o.is_empty() && !n.is_empty() => (o, n),
        _ => ("octo-org", if repo.is_empty() { "app" } else { repo }),
    }
}

/// A package-ish name for the repository (`Acme.Billing-API` -> `acme-billing-api`).
pub(crate) fn slug(name: &str) -> String {
    let mut s: String =
        name.chars().map(|c| if c.is_ascii_alphanumeric() { c.to_ascii_lowercase() } else { '-' }).collect();
    while s.contains("--") {
        s = s.replace("--", "-");
    }
    let s = s.trim_matches('-').to_string();
    if s.is_empty() { "app".to_string() } else { s }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_convert_between_cases() {
        assert_eq!(camel("rejects_expired_token"), "rejectsExpiredToken");
        assert_eq!(pascal("rejects_expired_token"), "RejectsExpiredToken");
        assert_eq!(spaced("rejects_expired_token"), "rejects expired token");
        assert_eq!(slug("Acme.Billing--API_"), "acme-billing-api");
        assert_eq!(crate_index_path("serde"), "se/rd/serde");
        assert_eq!(crate_index_path("syn"), "3/s/syn");
    }

    #[test]
    fn identifiers_are_well_formed() {
        let mut rng = Rng::new(3);
        for _ in 0..50 {
            let g = ghsa(&mut rng);
            assert_eq!(g.len(), "GHSA-xxxx-xxxx-xxxx".len(), "{g}");
            assert_eq!(uuid(&mut rng).len(), 36);
            assert_eq!(hex(&mut rng, 40).len(), 40);
            let (a, b) = pick2(&mut rng, MODULES);
            assert_ne!(a, b);
            let s = sample(&mut rng, CRATES, 5);
            assert_eq!(s.len(), 5);
        }
        assert_eq!(stable_sha("actions/checkout"), stable_sha("actions/checkout"));
    }
}
