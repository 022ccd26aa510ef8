//! The web UI in a real browser: Debian's chromium, headless, driven over WebDriver by
//! chromedriver (plain HTTP JSON, spoken with reqwest), against a platform the simulator filled
//! with a scenario that injects a duration regression. Every page must load with no console
//! error, its charts must hold data points, and the injected anomaly must be marked on the
//! analytics page and listed on the anomalies page. Screenshots go to
//! `<target>/tmp/ui-screenshots/` (printed).
//!
//! Without chromium and chromedriver the test prints why and skips; under CI (`CI=true`) it
//! fails instead, since `.ci/run` installs both.

use crate::support::{free_addr, get_json, start_with_simulator};
use aetherveil_simulator::Scenario;
use base64::Engine;
use serde_json::{Value, json};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// Two repositories over three days; `acme/web`'s `unit` job becomes 2.5x slower on day 2.
const SCENARIO: &str = r#"
name = "ui"
seed = 11
days = 3
wall_seconds = 15
[[repos]]
name = "acme/web"
pushes_per_day = 24
pull_requests_per_day = 4
[[repos.workflows]]
name = "CI"
file = "ci.yml"
on = ["push", "pull_request"]
[[repos.workflows.jobs]]
name = "unit"
runs_on = ["ubuntu-latest"]
tool = "npm"
duration = { median = "3m", p95 = "4m" }
transient = { rate = 0.05, kinds = ["network", "flaky_test"] }
[[repos.workflows.jobs]]
name = "lint"
runs_on = ["ubuntu-latest"]
tool = "npm"
duration = { median = "1m", p95 = "90s" }
[[repos]]
name = "acme/api"
pushes_per_day = 16
[[repos.workflows]]
name = "Build"
file = "build.yml"
on = ["push"]
[[repos.workflows.jobs]]
name = "verify"
runs_on = ["ubuntu-latest"]
tool = "cargo"
duration = { median = "5m", p95 = "7m" }
transient = { rate = 0.05, kinds = ["registry"] }
[[regressions]]
repo = "acme/web"
job = "unit"
at_day = 2
factor = 2.5
"#;

const PAGES: &[(&str, &str)] = &[
    ("overview", "/"),
    ("analytics", "/analytics?repo=acme/web"),
    ("anomalies", "/anomalies"),
    ("failures", "/failures"),
    ("healing", "/healing"),
    ("security", "/security"),
    ("alerts", "/alerts"),
];

fn which(names: &[&str]) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    for dir in std::env::split_paths(&path) {
        for n in names {
            let p = dir.join(n);
            if p.is_file() {
                return Some(p);
            }
        }
    }
    None
}

/// chromium and chromedriver, or why not.
fn browser() -> Result<(PathBuf, PathBuf), String> {
    let chromium = which(&["chromium", "chromium-browser"]).ok_or("chromium is not installed")?;
    let driver = which(&["chromedriver"]).ok_or("chromedriver is not installed")?;
    Ok((chromium, driver))
}

struct Driver {
    child: Child,
    url: String,
    session: String,
    http: reqwest::Client,
}

impl Drop for Driver {
    fn drop(&mut self) {
        let _ignored = self.child.kill();
        let _ignored = self.child.wait();
    }
}

impl Driver {
    async fn start(chromium: &Path, chromedriver: &Path) -> Driver {
        let port = free_addr().port();
        let child = Command::new(chromedriver)
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("spawn chromedriver");
        let url = format!("http://127.0.0.1:{port}");
        let http = reqwest::Client::new();
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            if let Ok(r) = http.get(format!("{url}/status")).send().await {
                if r.status().is_success() {
                    break;
                }
            }
            assert!(Instant::now() < deadline, "chromedriver never answered");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        let caps = json!({"capabilities": {"alwaysMatch": {
            "browserName": "chrome",
            "goog:chromeOptions": {
                "binary": chromium,
                "args": ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--window-size=1360,2200"]
            },
            "goog:loggingPrefs": {"browser": "ALL"}
        }}});
        let mut driver = Driver { child, url, session: String::new(), http };
        let r = driver.call("POST", "/session", caps).await;
        driver.session = r["sessionId"].as_str().expect("a session id").to_owned();
        driver
    }

    async fn call(&self, method: &str, path: &str, body: Value) -> Value {
        let url = format!("{}{path}", self.url);
        let req = match method {
            "GET" => self.http.get(url),
            "DELETE" => self.http.delete(url),
            _ => self.http.post(url).json(&body),
        };
        let r = req.send().await.expect("webdriver request");
        let status = r.status();
        let v: Value = r.json().await.expect("webdriver json");
        assert!(status.is_success(), "webdriver {method} {path}: {status} {v}");
        v["value"].clone()
    }

    async fn cmd(&self, method: &str, what: &str, body: Value) -> Value {
        self.call(method, &format!("/session/{}{what}", self.session), body).await
    }

    async fn goto(&self, url: &str) {
        self.cmd("POST", "/url", json!({"url": url})).await;
    }

    async fn script(&self, script: &str) -> Value {
        self.cmd("POST", "/execute/sync", json!({"script": script, "args": []})).await
    }

    /// Console messages since the last call (chromedriver's log endpoint).
    async fn console(&self) -> Vec<Value> {
        self.cmd("POST", "/se/log", json!({"type": "browser"})).await.as_array().cloned().unwrap_or_default()
    }

    async fn screenshot(&self, path: &Path) {
        let b64 = self.cmd("GET", "/screenshot", Value::Null).await;
        let png = base64::engine::general_purpose::STANDARD.decode(b64.as_str().expect("base64")).expect("png");
        std::fs::write(path, png).expect("write screenshot");
    }

    async fn quit(&self) {
        self.cmd("DELETE", "", Value::Null).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_page_renders_in_chromium_with_data_and_the_injected_anomaly() {
    let (chromium, chromedriver) = match browser() {
        Ok(found) => found,
        Err(why) => {
            if std::env::var("CI").is_ok_and(|v| v == "true") {
                panic!("{why}: .ci/run installs chromium and chromium-driver, the browser test must run under CI");
            }
            eprintln!("skipping the browser test: {why} (apt-get install -y chromium chromium-driver)");
            return;
        }
    };
    let dir = tempfile::tempdir().expect("tempdir");
    let scenario = Scenario::from_toml(SCENARIO, "ui scenario").expect("scenario");
    let env = [("AETHERVEIL_HEALER_MODE", "act")];
    let (sim, server) = start_with_simulator(scenario, &dir.path().join("data"), Duration::from_secs(1), &env).await;
    sim.run(|_| {}).await;

    // A security verdict, so the security page has a trend to chart.
    let client = reqwest::Client::new();
    let report: Value = serde_json::from_slice(
        &std::fs::read(Path::new(env!("CARGO_MANIFEST_DIR")).join("functions/gate/tests/fixtures/image.json"))
            .expect("trivy fixture"),
    )
    .expect("json");
    for git_ref in ["refs/heads/main", "refs/heads/next"] {
        let r = client
            .post(server.url("/gate/trivy"))
            .json(&json!({"repo": "acme/web", "report": report, "ref": git_ref}))
            .send()
            .await
            .expect("gate");
        assert_eq!(r.status(), 200, "{}", r.text().await.unwrap_or_default());
    }

    // The injected regression, as the monitor recorded it.
    let deadline = Instant::now() + Duration::from_secs(20);
    let anomaly = loop {
        let (_, list) = get_json(&client, &server.url("/api/v1/anomalies?repo=acme/web&limit=1000")).await;
        let found = list["anomalies"].as_array().into_iter().flatten().find(|a| {
            a["job"] == "unit" && matches!(a["kind"].as_str(), Some("duration_regression" | "duration_outlier"))
        });
        if let Some(a) = found {
            break a.clone();
        }
        assert!(Instant::now() < deadline, "the monitor never flagged the injected regression: {list}");
        tokio::time::sleep(Duration::from_millis(300)).await;
    };
    let anomaly_id = anomaly["id"].as_str().expect("id").to_owned();

    let shots = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("ui-screenshots");
    std::fs::create_dir_all(&shots).expect("screenshot dir");
    let driver = Driver::start(&chromium, &chromedriver).await;
    let mut detail_href = None;
    for (name, path) in PAGES {
        driver.goto(&server.url(path)).await;
        let title = driver.script("return document.title").await;
        assert!(title.as_str().is_some_and(|t| t.ends_with("Aetherveil")), "{name}: {title}");
        let errors: Vec<Value> = driver.console().await.into_iter().filter(|m| m["level"] == "SEVERE").collect();
        assert!(errors.is_empty(), "{name}: console errors {errors:?}");
        let charts = driver
            .script(
                "return Array.from(document.querySelectorAll('svg.chart')).map(c => c.querySelectorAll('.pt').length)",
            )
            .await;
        let charts: Vec<u64> = charts.as_array().expect("array").iter().filter_map(Value::as_u64).collect();
        let file = shots.join(format!("{name}.png"));
        driver.screenshot(&file).await;
        println!("screenshot: {}", file.display());
        match *name {
            "overview" | "analytics" | "failures" | "healing" | "security" => {
                assert!(
                    !charts.is_empty() && charts.iter().any(|n| *n > 0),
                    "{name}: charts without data points {charts:?}"
                );
            }
            _ => {}
        }
        if *name == "analytics" {
            // Every job chart has points, and the regression is marked on the unit job's chart.
            assert!(charts.iter().filter(|n| **n > 0).count() >= 2, "{charts:?}");
            let marked = driver
                .script("return Array.from(document.querySelectorAll('svg.chart g.anomaly')).map(g => g.getAttribute('data-anomaly-id'))")
                .await;
            assert!(
                marked.as_array().is_some_and(|m| m.iter().any(|x| x == anomaly_id.as_str())),
                "{anomaly_id} not in {marked}"
            );
            let listed = driver
                .script("return Array.from(document.querySelectorAll('a.anomaly-link')).map(a => a.getAttribute('data-anomaly-id'))")
                .await;
            assert!(listed.as_array().is_some_and(|m| m.iter().any(|x| x == anomaly_id.as_str())), "{listed}");
        }
        if *name == "anomalies" {
            let href = driver
                .script(&format!(
                    "const a = Array.from(document.querySelectorAll('a.anomaly-link')).find(a => a.getAttribute('data-anomaly-id') === {}); return a ? a.getAttribute('href') : null",
                    json!(anomaly_id)
                ))
                .await;
            detail_href = href.as_str().map(str::to_owned);
            assert!(detail_href.is_some(), "{anomaly_id} is not in the anomaly list");
        }
    }
    // The anomaly's own page: its evidence and the job's chart with the anomaly marked.
    let href = detail_href.expect("detail link");
    driver.goto(&server.url(&href)).await;
    let errors: Vec<Value> = driver.console().await.into_iter().filter(|m| m["level"] == "SEVERE").collect();
    assert!(errors.is_empty(), "anomaly page: console errors {errors:?}");
    let evidence_rows = driver.script("return document.querySelectorAll('table.evidence tbody tr').length").await;
    assert!(evidence_rows.as_u64() > Some(1), "{evidence_rows}");
    let marked = driver.script("return document.querySelectorAll('svg.chart g.anomaly').length").await;
    assert!(marked.as_u64() > Some(0), "{marked}");
    let file = shots.join("anomaly.png");
    driver.screenshot(&file).await;
    println!("screenshot: {}", file.display());
    driver.quit().await;
}
