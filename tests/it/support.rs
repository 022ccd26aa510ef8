//! Starting and stopping the real binary.

use std::net::{SocketAddr, TcpListener};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub const SECRET: &str = "it-secret";

pub fn bin() -> &'static str {
    env!("CARGO_BIN_EXE_aetherveil")
}

pub fn free_addr() -> SocketAddr {
    let l = TcpListener::bind("127.0.0.1:0").expect("bind");
    l.local_addr().expect("addr")
}

pub use aetherveil_testkit::dataset;

pub struct Server {
    pub child: Child,
    pub addr: SocketAddr,
    pub data_dir: PathBuf,
}

impl Server {
    pub fn start(data_dir: &Path) -> Server {
        Self::start_with(data_dir, &[])
    }

    pub fn start_with(data_dir: &Path, env: &[(&str, &str)]) -> Server {
        Self::start_at(free_addr(), data_dir, env)
    }

    /// On a given address (a restart after a crash keeps the address its senders know).
    pub fn start_at(addr: SocketAddr, data_dir: &Path, env: &[(&str, &str)]) -> Server {
        let mut cmd = Command::new(bin());
        cmd.args(["serve", "--addr", &addr.to_string(), "--data-dir"])
            .arg(data_dir)
            .env("AETHERVEIL_WEBHOOK_SECRET", SECRET)
            .env("AETHERVEIL_LOG_LEVEL", "warn")
            .stdout(Stdio::null())
            .stderr(Stdio::inherit());
        for (k, v) in env {
            cmd.env(k, v);
        }
        let child = cmd.spawn().expect("spawn aetherveil serve");
        let server = Server { child, addr, data_dir: data_dir.to_path_buf() };
        server.wait_healthy();
        server
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    fn wait_healthy(&self) {
        let deadline = Instant::now() + Duration::from_secs(20);
        while Instant::now() < deadline {
            if let Ok(r) = probe::blocking_get(&self.url("/healthz")) {
                if r == 200 {
                    return;
                }
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        panic!("server at {} never became healthy", self.addr);
    }

    /// SIGKILL: no chance to flush or clean up.
    pub fn kill9(&mut self) {
        self.child.kill().expect("kill");
        self.child.wait().expect("wait");
    }

    pub fn sigterm(&mut self) -> std::process::ExitStatus {
        // `unsafe` is forbidden here, so the signal goes through kill(1) rather than libc::kill.
        let status = Command::new("kill").args(["-TERM", &self.child.id().to_string()]).status().expect("kill -TERM");
        assert!(status.success());
        self.child.wait().expect("wait")
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ignored = self.child.kill();
            let _ignored = self.child.wait();
        }
    }
}

/// A tiny blocking GET for readiness checks (status code only).
mod probe {
    pub fn blocking_get(url: &str) -> std::io::Result<u16> {
        use std::io::{Read, Write};
        let rest = url.strip_prefix("http://").unwrap_or(url);
        let (host, path) = rest.split_once('/').map(|(h, p)| (h, format!("/{p}"))).unwrap_or((rest, "/".into()));
        let mut s = std::net::TcpStream::connect(host)?;
        s.set_read_timeout(Some(std::time::Duration::from_secs(2)))?;
        write!(s, "GET {path} HTTP/1.1\r\nhost: {host}\r\nconnection: close\r\n\r\n")?;
        let mut buf = String::new();
        s.read_to_string(&mut buf)?;
        buf.split_whitespace().nth(1).and_then(|c| c.parse().ok()).ok_or(std::io::ErrorKind::InvalidData.into())
    }
}

pub fn sign(body: &[u8]) -> String {
    aetherveil::fixtures::sign(SECRET.as_bytes(), body)
}

pub async fn post(
    client: &reqwest::Client,
    server_url: &str,
    event: &str,
    delivery: &str,
    body: Vec<u8>,
) -> reqwest::Result<reqwest::Response> {
    client
        .post(format!("{server_url}/webhook/github"))
        .header("content-type", "application/json")
        .header("x-github-event", event)
        .header("x-github-delivery", delivery)
        .header("x-hub-signature-256", sign(&body))
        .body(body)
        .send()
        .await
}

pub async fn get_json(client: &reqwest::Client, url: &str) -> (u16, serde_json::Value) {
    let r = client.get(url).send().await.expect("get");
    let status = r.status().as_u16();
    (status, r.json().await.unwrap_or(serde_json::Value::Null))
}

/// A delivery's record once the normalizer is done with it (`webhook.intake = "queued"`: until
/// then its outcome is `queued`). Gives up after ten seconds and returns what it last read.
pub async fn settled_delivery(client: &reqwest::Client, server: &Server, id: &str) -> (u16, serde_json::Value) {
    let url = server.url(&format!("/api/v1/deliveries/{id}"));
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let (status, doc) = get_json(client, &url).await;
        if (status == 200 && doc["outcome"] != "queued") || Instant::now() > deadline {
            return (status, doc);
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// The simulator (bound, not yet playing) and the platform, wired to each other: the simulator
/// delivers webhooks to the platform, the platform calls the simulator's REST API with a token.
/// `env` adds to (or overrides) the platform's environment.
pub async fn start_with_simulator(
    scenario: aetherveil_simulator::Scenario,
    data_dir: &Path,
    drain: Duration,
    env: &[(&str, &str)],
) -> (aetherveil_simulator::Simulator, Server) {
    let addr = free_addr();
    let base = format!("http://{addr}");
    let sim = aetherveil_simulator::Simulator::start(
        scenario,
        aetherveil_simulator::SimOptions {
            target: Some(format!("{base}/webhook/github")),
            secret: SECRET.as_bytes().to_vec(),
            platform: Some(base),
            drain,
            ..aetherveil_simulator::SimOptions::default()
        },
    )
    .await
    .expect("simulator");
    let api = sim.api_url();
    let mut all: Vec<(&str, &str)> =
        vec![("AETHERVEIL_GITHUB_API_URL", &api), ("AETHERVEIL_GITHUB_TOKEN", "sim-token")];
    all.extend_from_slice(env);
    let server = Server::start_at(addr, data_dir, &all);
    (sim, server)
}
