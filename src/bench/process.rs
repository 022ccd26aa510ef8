//! Child processes under test (our server, the Python peer): spawning, readiness, memory, and
//! making sure they die on every exit path.

use std::net::{Ipv4Addr, SocketAddr, TcpListener};
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

use anyhow::{Context, anyhow, bail};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::process::{Child, Command};

/// A directory removed (recursively) when dropped.
#[derive(Debug)]
pub struct TempDir {
    path: PathBuf,
}

impl TempDir {
    pub fn new(base: &Path, prefix: &str) -> anyhow::Result<Self> {
        let path = base.join(format!("{prefix}-{}", uuid::Uuid::new_v4().simple()));
        std::fs::create_dir_all(&path).with_context(|| format!("creating temporary directory {}", path.display()))?;
        Ok(Self { path })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        if let Err(e) = std::fs::remove_dir_all(&self.path) {
            eprintln!("bench: could not remove {}: {e}", self.path.display());
        }
    }
}

/// A loopback port that was free a moment ago (the OS picks it; we release it for the child).
pub fn free_port() -> anyhow::Result<u16> {
    let l = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).context("binding a probe port")?;
    Ok(l.local_addr()?.port())
}

/// A process under test. Killed (with every descendant) when dropped; [`Proc::stop`] asks it to
/// shut down gracefully first.
#[derive(Debug)]
pub struct Proc {
    pub name: &'static str,
    child: Child,
    pub pid: u32,
    pub addr: SocketAddr,
    pub spawned_at: Instant,
    log: PathBuf,
}

impl Proc {
    /// Spawns `program args` with `env`, output to `log`. `spawned_at` is taken just before exec.
    pub fn spawn(
        name: &'static str,
        program: &Path,
        args: &[String],
        env: &[(&str, &str)],
        cwd: Option<&Path>,
        addr: SocketAddr,
        log: PathBuf,
    ) -> anyhow::Result<Self> {
        let out = std::fs::File::create(&log).with_context(|| format!("creating {}", log.display()))?;
        let err = out.try_clone()?;
        let mut cmd = Command::new(program);
        cmd.args(args).stdin(Stdio::null()).stdout(Stdio::from(out)).stderr(Stdio::from(err)).kill_on_drop(true);
        for (k, v) in env {
            cmd.env(k, v);
        }
        if let Some(dir) = cwd {
            cmd.current_dir(dir);
        }
        let spawned_at = Instant::now();
        let child = cmd.spawn().with_context(|| format!("starting {name} ({})", program.display()))?;
        let pid = child.id().ok_or_else(|| anyhow!("{name} exited before it could be observed"))?;
        Ok(Self { name, child, pid, addr, spawned_at, log })
    }

    /// Polls `GET path` with a fresh connection every ~1 ms until it answers 200; returns the
    /// time from spawn to that answer. Fails if the process exits or `timeout` passes.
    pub async fn wait_ready(&mut self, path: &str, timeout: Duration) -> anyhow::Result<Duration> {
        let deadline = self.spawned_at + timeout;
        loop {
            if let Some(status) = self.child.try_wait()? {
                bail!("{} exited during start-up ({status}); its output:\n{}", self.name, self.log_tail(40));
            }
            let last = match http_get_status(self.addr, path, Duration::from_millis(500)).await {
                Ok(200) => return Ok(self.spawned_at.elapsed()),
                Ok(code) => format!("HTTP {code}"),
                Err(e) => e.to_string(),
            };
            if Instant::now() >= deadline {
                bail!(
                    "{} was not ready on http://{}{path} within {timeout:?} (last: {last}); its output:\n{}",
                    self.name,
                    self.addr,
                    self.log_tail(40)
                );
            }
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
    }

    /// Resident memory of the process and its descendants (gunicorn workers), in kB.
    pub fn rss_kb(&self) -> Option<u64> {
        let mut pids = vec![self.pid];
        pids.extend(descendants(self.pid));
        let total: u64 = pids.iter().filter_map(|p| status_field_kb(*p, "VmRSS:")).sum();
        (total > 0).then_some(total)
    }

    /// High-water mark of resident memory of the main process, in kB.
    pub fn peak_rss_kb(&self) -> Option<u64> {
        status_field_kb(self.pid, "VmHWM:")
    }

    /// Number of processes (main + descendants).
    pub fn process_count(&self) -> usize {
        1 + descendants(self.pid).len()
    }

    pub fn log_tail(&self, lines: usize) -> String {
        let text = std::fs::read_to_string(&self.log).unwrap_or_default();
        let all: Vec<&str> = text.lines().collect();
        all[all.len().saturating_sub(lines)..].join("\n")
    }

    /// SIGTERM, wait up to `grace`, then SIGKILL the process and whatever it left behind.
    pub async fn stop(mut self, grace: Duration) {
        let family = descendants(self.pid);
        signal(&[self.pid], "TERM");
        match tokio::time::timeout(grace, self.child.wait()).await {
            Ok(Ok(_)) => {}
            Ok(Err(e)) => eprintln!("bench: waiting for {}: {e}", self.name),
            Err(_) => eprintln!("bench: {} did not stop within {grace:?} of SIGTERM; killing it", self.name),
        }
        // Anything still alive (the main process on timeout, orphaned workers) is killed by Drop.
        let alive: Vec<u32> = family.into_iter().filter(|p| Path::new(&format!("/proc/{p}")).exists()).collect();
        if !alive.is_empty() {
            signal(&alive, "KILL");
        }
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        if matches!(self.child.try_wait(), Ok(Some(_))) {
            return;
        }
        let family = descendants(self.pid);
        if let Err(e) = self.child.start_kill() {
            eprintln!("bench: killing {} (pid {}): {e}", self.name, self.pid);
        }
        if !family.is_empty() {
            signal(&family, "KILL");
        }
    }
}

/// Sends a signal with the system `kill` (the crate forbids the `unsafe` that libc::kill needs).
fn signal(pids: &[u32], sig: &str) {
    let mut cmd = std::process::Command::new("kill");
    cmd.arg(format!("-{sig}")).args(pids.iter().map(u32::to_string)).stdout(Stdio::null()).stderr(Stdio::null());
    if let Err(e) = cmd.status() {
        eprintln!("bench: running kill -{sig} {pids:?}: {e}");
    }
}

/// Every live descendant of `pid`, from the parent links in /proc.
fn descendants(pid: u32) -> Vec<u32> {
    let Ok(dir) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    let parents: Vec<(u32, u32)> = dir
        .filter_map(|e| e.ok()?.file_name().to_str()?.parse::<u32>().ok())
        .filter_map(|p| Some((p, parent_of(p)?)))
        .collect();
    let mut out = Vec::new();
    let mut frontier = vec![pid];
    // Bounded: each pid is visited once; the process table is finite.
    while let Some(p) = frontier.pop() {
        for (child, parent) in &parents {
            if *parent == p && !out.contains(child) {
                out.push(*child);
                frontier.push(*child);
            }
        }
    }
    out
}

fn parent_of(pid: u32) -> Option<u32> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // `pid (comm) state ppid ...`; comm may contain spaces and parentheses.
    let rest = &stat[stat.rfind(')')? + 2..];
    rest.split_whitespace().nth(1)?.parse().ok()
}

/// CPU time (user + system) of a process or thread from its `stat` file, in seconds.
fn cpu_seconds(stat_path: &str) -> Option<(String, f64)> {
    let stat = std::fs::read_to_string(stat_path).ok()?;
    let open = stat.find('(')?;
    let close = stat.rfind(')')?;
    let comm = stat.get(open + 1..close)?.to_owned();
    let mut f = stat.get(close + 2..)?.split_whitespace();
    // After `pid (comm)`: state(3) ppid(4) ... utime(14) stime(15).
    let utime: u64 = f.nth(11)?.parse().ok()?;
    let stime: u64 = f.next()?.parse().ok()?;
    // USER_HZ is 100 on every Linux target we run on.
    Some((comm, (utime + stime) as f64 / 100.0))
}

/// Busy CPU seconds of the whole machine so far (every CPU: user, nice, system, irq, softirq,
/// steal), from /proc/stat.
pub fn machine_busy_seconds() -> Option<f64> {
    let stat = std::fs::read_to_string("/proc/stat").ok()?;
    let line = stat.lines().find(|l| l.starts_with("cpu "))?;
    let f: Vec<u64> = line.split_whitespace().skip(1).filter_map(|x| x.parse().ok()).collect();
    // user nice system idle iowait irq softirq steal ...
    let busy = f.first()? + f.get(1)? + f.get(2)? + f.get(5)? + f.get(6)? + f.get(7).copied().unwrap_or(0);
    Some(busy as f64 / 100.0)
}

/// CPU seconds used so far by a process, and by each of its threads grouped by thread name
/// (digits stripped, so the runtime's workers add up under one name).
#[derive(Debug, Clone, Default)]
pub struct CpuSnapshot {
    pub total: f64,
    pub by_thread: std::collections::BTreeMap<String, f64>,
}

impl CpuSnapshot {
    pub fn of(pid: u32) -> Self {
        let total = cpu_seconds(&format!("/proc/{pid}/stat")).map_or(0.0, |(_, s)| s);
        let mut by_thread = std::collections::BTreeMap::new();
        if let Ok(tasks) = std::fs::read_dir(format!("/proc/{pid}/task")) {
            for t in tasks.flatten() {
                let path = t.path().join("stat");
                if let Some((comm, secs)) = cpu_seconds(&path.to_string_lossy()) {
                    let name = comm.trim_end_matches(|c: char| c.is_ascii_digit() || c == '-' || c == '#');
                    *by_thread.entry(name.to_owned()).or_insert(0.0) += secs;
                }
            }
        }
        Self { total, by_thread }
    }

    /// Like [`CpuSnapshot::of`], summed over the process and its descendants (no thread split).
    pub fn of_tree(pid: u32) -> Self {
        let mut snap = Self::of(pid);
        for child in descendants(pid) {
            snap.total += cpu_seconds(&format!("/proc/{child}/stat")).map_or(0.0, |(_, s)| s);
        }
        snap
    }

    /// Cores used between `self` (earlier) and `later` over `wall` seconds, total and per thread
    /// name (busiest first).
    pub fn cores_until(&self, later: &Self, wall: f64) -> (f64, Vec<(String, f64)>) {
        if wall <= 0.0 {
            return (0.0, Vec::new());
        }
        let total = (later.total - self.total).max(0.0) / wall;
        let mut threads: Vec<(String, f64)> = later
            .by_thread
            .iter()
            .map(|(name, s)| {
                let before = self.by_thread.get(name).copied().unwrap_or(0.0);
                (name.clone(), (s - before).max(0.0) / wall)
            })
            .filter(|(_, c)| *c >= 0.01)
            .collect();
        threads.sort_by(|a, b| b.1.total_cmp(&a.1));
        (total, threads)
    }
}

fn status_field_kb(pid: u32, field: &str) -> Option<u64> {
    status_file_kb(&format!("/proc/{pid}/status"), field)
}

/// A `kB` field of this process's `/proc/self/status` (`VmRSS:`, `VmHWM:`), on Linux.
pub fn own_status_kb(field: &str) -> Option<u64> {
    status_file_kb("/proc/self/status", field)
}

fn status_file_kb(path: &str, field: &str) -> Option<u64> {
    let status = std::fs::read_to_string(path).ok()?;
    let line = status.lines().find(|l| l.starts_with(field))?;
    line[field.len()..].split_whitespace().next()?.parse().ok()
}

/// One `GET` on a fresh connection; returns the body (the server closes after answering).
pub async fn http_get_body(addr: SocketAddr, path: &str, timeout: Duration) -> anyhow::Result<String> {
    let attempt = async {
        let mut s = TcpStream::connect(addr).await?;
        let req = format!("GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n");
        s.write_all(req.as_bytes()).await?;
        let mut raw = Vec::new();
        s.read_to_end(&mut raw).await?;
        let text = String::from_utf8_lossy(&raw).into_owned();
        let (head, body) = text.split_once("\r\n\r\n").ok_or_else(|| anyhow!("not an HTTP response"))?;
        if !head.starts_with("HTTP/1.1 200") {
            bail!("GET {path}: {}", head.lines().next().unwrap_or(""));
        }
        anyhow::Ok(body.to_owned())
    };
    tokio::time::timeout(timeout, attempt).await.map_err(|_| anyhow!("timed out"))?
}

/// One `GET` on a fresh connection; returns the status code.
pub async fn http_get_status(addr: SocketAddr, path: &str, timeout: Duration) -> anyhow::Result<u16> {
    let attempt = async {
        let mut s = TcpStream::connect(addr).await?;
        s.set_nodelay(true)?;
        let req = format!("GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n");
        s.write_all(req.as_bytes()).await?;
        let mut buf = [0u8; 64];
        let mut len = 0;
        // The status line fits in 64 bytes; read until we have it (bounded by the buffer).
        while len < buf.len() {
            let n = s.read(&mut buf[len..]).await?;
            if n == 0 {
                break;
            }
            len += n;
            if buf[..len].windows(2).any(|w| w == b"\r\n") {
                break;
            }
        }
        let head = std::str::from_utf8(&buf[..len]).unwrap_or("");
        let code = head
            .strip_prefix("HTTP/1.")
            .and_then(|r| r.get(2..5))
            .and_then(|c| c.parse::<u16>().ok())
            .ok_or_else(|| anyhow!("not an HTTP response: {head:?}"))?;
        anyhow::Ok(code)
    };
    tokio::time::timeout(timeout, attempt).await.map_err(|_| anyhow!("timed out"))?
}

/// The filesystem type holding `path` (longest mount-point prefix in /proc/mounts).
pub fn filesystem_of(path: &Path) -> Option<String> {
    let path = std::fs::canonicalize(path).ok()?;
    let mounts = std::fs::read_to_string("/proc/mounts").ok()?;
    mounts
        .lines()
        .filter_map(|l| {
            let mut f = l.split_whitespace();
            let (_dev, mnt, fs) = (f.next()?, f.next()?, f.next()?);
            path.starts_with(mnt).then(|| (mnt.len(), format!("{fs} ({mnt})")))
        })
        .max_by_key(|(len, _)| *len)
        .map(|(_, fs)| fs)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_own_process_facts() {
        let me = std::process::id();
        assert!(status_field_kb(me, "VmRSS:").is_some_and(|kb| kb > 0));
        assert!(parent_of(me).is_some());
        assert!(filesystem_of(Path::new("/")).is_some());
        let cpu = CpuSnapshot::of(me);
        assert!(cpu.total >= 0.0 && !cpu.by_thread.is_empty());
        assert!(machine_busy_seconds().is_some_and(|s| s > 0.0));
    }

    #[test]
    fn temp_dir_is_removed_on_drop() {
        let base = std::env::temp_dir();
        let p = {
            let d = TempDir::new(&base, "aetherveil-bench-test").expect("create");
            std::fs::write(d.path().join("f"), b"x").expect("write");
            d.path().to_path_buf()
        };
        assert!(!p.exists());
    }
}
