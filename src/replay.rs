//! `aetherveil replay PATH --to URL --secret S`: signs every JSON payload under PATH and posts
//! it like GitHub would. The event type is the payload's folder name (GitHub's examples are laid
//! out as `<event>/<action>.json`) unless `--event` says otherwise.

use crate::fixtures;
use anyhow::{Context, bail};
use std::path::{Path, PathBuf};

#[derive(Debug, clap::Args)]
pub struct ReplayArgs {
    /// A JSON file, or a folder searched recursively for *.json.
    pub path: PathBuf,
    /// The webhook URL, e.g. http://127.0.0.1:8080/webhook/github (a bare origin gets that path).
    #[arg(long)]
    pub to: String,
    /// The webhook secret the server verifies with.
    #[arg(long, env = "AETHERVEIL_WEBHOOK_SECRET", hide_env_values = true)]
    pub secret: String,
    /// The X-GitHub-Event for every payload (default: each file's folder name).
    #[arg(long)]
    pub event: Option<String>,
    /// Derive delivery ids from file paths, so replaying twice shows redeliveries as duplicates.
    #[arg(long)]
    pub stable_ids: bool,
}

fn collect(path: &Path, out: &mut Vec<PathBuf>) -> std::io::Result<()> {
    if path.is_dir() {
        let mut entries: Vec<_> = std::fs::read_dir(path)?.collect::<Result<_, _>>()?;
        entries.sort_by_key(|e| e.path());
        for e in entries {
            collect(&e.path(), out)?;
        }
    } else if path.extension().is_some_and(|e| e == "json") {
        out.push(path.to_path_buf());
    }
    Ok(())
}

fn stable_id(path: &Path) -> String {
    let digest = ring::digest::digest(&ring::digest::SHA256, path.to_string_lossy().as_bytes());
    let hex: String = digest.as_ref()[..16].iter().map(|b| format!("{b:02x}")).collect();
    format!("{}-{}-{}-{}-{}", &hex[0..8], &hex[8..12], &hex[12..16], &hex[16..20], &hex[20..32])
}

pub async fn run(args: ReplayArgs) -> anyhow::Result<()> {
    let mut files = Vec::new();
    collect(&args.path, &mut files).with_context(|| format!("cannot read {}", args.path.display()))?;
    if files.is_empty() {
        bail!("no .json files under {}", args.path.display());
    }
    let url = if args.to.trim_end_matches('/').matches('/').count() <= 2 {
        format!("{}{}", args.to.trim_end_matches('/'), aetherveil_webhook::PATH)
    } else {
        args.to.clone()
    };
    let client = reqwest::Client::new();
    let (mut ok, mut failed) = (0usize, 0usize);
    for file in &files {
        let event = match &args.event {
            Some(e) => e.clone(),
            None => file
                .parent()
                .and_then(|p| p.file_name())
                .map(|n| n.to_string_lossy().into_owned())
                .with_context(|| format!("cannot tell the event type of {}; pass --event", file.display()))?,
        };
        let body = std::fs::read(file).with_context(|| format!("cannot read {}", file.display()))?;
        let delivery = if args.stable_ids { stable_id(file) } else { uuid::Uuid::new_v4().to_string() };
        let result = client
            .post(&url)
            .header("content-type", "application/json")
            .header("x-github-event", &event)
            .header("x-github-delivery", &delivery)
            .header("x-hub-signature-256", fixtures::sign(args.secret.as_bytes(), &body))
            .body(body)
            .send()
            .await;
        match result {
            Ok(r) if r.status().is_success() => {
                ok += 1;
                let text = r.text().await.unwrap_or_default();
                println!("{} {event} {delivery} {text}", file.display());
            }
            Ok(r) => {
                failed += 1;
                let status = r.status();
                let text = r.text().await.unwrap_or_default();
                eprintln!("{} {event} {delivery} -> {status} {text}", file.display());
            }
            Err(e) => {
                failed += 1;
                eprintln!("{} {event} {delivery} -> {e}", file.display());
            }
        }
    }
    eprintln!("replayed {} payloads to {url}: {ok} accepted, {failed} refused", files.len());
    if failed > 0 {
        bail!("{failed} deliveries were refused");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stable_ids_look_like_uuids_and_are_deterministic() {
        let a = stable_id(Path::new("examples/push/payload.json"));
        assert_eq!(a, stable_id(Path::new("examples/push/payload.json")));
        assert_ne!(a, stable_id(Path::new("examples/push/other.json")));
        assert_eq!(a.len(), 36);
        assert!(aetherveil_models::DeliveryId::parse(&a).is_some());
    }
}
