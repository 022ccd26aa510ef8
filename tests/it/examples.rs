//! Every GitHub payload example posts with a valid signature and gets 2xx; the handled types are
//! readable afterwards through the API.

use crate::support::{Server, dataset, get_json, post};
use serde_json::Value;
use std::collections::BTreeMap;

const HANDLED: &[&str] =
    &["workflow_run", "workflow_job", "push", "pull_request", "check_run", "check_suite", "installation", "ping"];

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_github_example_is_accepted_and_readable() {
    let Some(root) = dataset("github-webhooks/examples") else { return };
    let dir = tempfile::tempdir().expect("tempdir");
    let server = Server::start(dir.path());
    let client = reqwest::Client::new();
    let base = server.url("");

    let mut posted: Vec<(String, String, Value)> = Vec::new();
    let mut raw_bodies: Vec<(String, Vec<u8>)> = Vec::new();
    let mut per_event: BTreeMap<String, usize> = BTreeMap::new();
    let mut events: Vec<_> = std::fs::read_dir(&root).expect("read").map(|e| e.expect("entry").path()).collect();
    events.sort();
    for event_dir in events {
        let event = event_dir.file_name().expect("name").to_string_lossy().into_owned();
        let mut files: Vec<_> =
            std::fs::read_dir(&event_dir).expect("read").map(|e| e.expect("entry").path()).collect();
        files.sort();
        for file in files.into_iter().filter(|f| f.extension().is_some_and(|e| e == "json")) {
            let body = std::fs::read(&file).expect("read example");
            let delivery = uuid::Uuid::new_v4().to_string();
            let response = post(&client, &base, &event, &delivery, body.clone()).await.expect("post");
            let status = response.status();
            let answer: Value = response.json().await.expect("json answer");
            assert!(status.is_success(), "{}: {status} {answer}", file.display());
            let expected = if HANDLED.contains(&event.as_str()) { "processed" } else { "ignored" };
            assert_eq!(answer["outcome"], expected, "{}", file.display());
            *per_event.entry(event.clone()).or_default() += 1;
            posted.push((event.clone(), delivery.clone(), serde_json::from_slice(&body).expect("example is JSON")));
            raw_bodies.push((delivery, body));
        }
    }
    assert!(
        per_event.get("workflow_run").copied().unwrap_or(0) >= 1
            && per_event.get("workflow_job").copied().unwrap_or(0) >= 1,
        "{per_event:?}"
    );

    for (event, delivery, payload) in &posted {
        let (status, doc) = get_json(&client, &server.url(&format!("/api/v1/deliveries/{delivery}"))).await;
        assert_eq!(status, 200, "delivery {delivery} ({event}) readable");
        assert_eq!(doc["event"], event.as_str());
        assert_eq!(doc["outcome"], if HANDLED.contains(&event.as_str()) { "processed" } else { "ignored" });
        match event.as_str() {
            "workflow_run" => {
                let id = payload["workflow_run"]["id"].as_u64().expect("run id");
                let (status, body) = get_json(&client, &server.url(&format!("/api/v1/runs/{id}"))).await;
                assert_eq!(status, 200, "run {id}");
                assert_eq!(body["run"]["run_id"], id);
                assert_eq!(body["run"]["head_sha"], payload["workflow_run"]["head_sha"]);
                let repo = payload["repository"]["full_name"].as_str().expect("repo");
                let (_, list) = get_json(&client, &server.url(&format!("/api/v1/runs?repo={repo}"))).await;
                assert!(
                    list["runs"].as_array().expect("runs").iter().any(|r| r["run_id"] == id),
                    "run {id} listed for {repo}"
                );
            }
            "workflow_job" => {
                let job = &payload["workflow_job"];
                let run_id = job["run_id"].as_u64().expect("run id");
                let (status, body) = get_json(&client, &server.url(&format!("/api/v1/runs/{run_id}"))).await;
                assert_eq!(status, 200, "run of job {}", job["id"]);
                // GitHub's examples reuse job ids across different jobs, so only the newest state of
                // an id is kept (see the out-of-order tests); presence is what is checked here.
                assert!(
                    body["jobs"]
                        .as_array()
                        .expect("jobs")
                        .iter()
                        .any(|j| j["job_id"] == job["id"] && j["run_id"] == run_id)
                );
            }
            _ => {}
        }
    }

    // The raw body is kept byte for byte.
    for (delivery, body) in &raw_bodies {
        let r = client.get(server.url(&format!("/api/v1/deliveries/{delivery}/raw"))).send().await.expect("raw");
        assert_eq!(r.status(), 200);
        assert_eq!(&r.bytes().await.expect("bytes")[..], &body[..], "raw body of {delivery}");
    }

    // Every published event reached the consumers' side exactly once.
    let published: Vec<&String> =
        posted.iter().filter(|(e, _, _)| HANDLED.contains(&e.as_str()) && e != "ping").map(|(_, d, _)| d).collect();
    for delivery in &published {
        let mut found = 0;
        for _ in 0..200 {
            let (_, body) = get_json(&client, &server.url(&format!("/api/v1/events?delivery_id={delivery}"))).await;
            found = body["events"].as_array().map_or(0, Vec::len);
            if found > 0 {
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(25)).await;
        }
        assert_eq!(found, 1, "journal entry for {delivery}");
    }
}

#[test]
fn replay_posts_a_folder_and_reports_the_outcomes() {
    let Some(root) = dataset("github-webhooks/examples/workflow_job") else { return };
    let dir = tempfile::tempdir().expect("tempdir");
    let server = Server::start(dir.path());
    let run = |extra: &[&str]| {
        std::process::Command::new(crate::support::bin())
            .args(["replay"])
            .arg(&root)
            .args(["--to", &server.url(""), "--secret", crate::support::SECRET, "--stable-ids"])
            .args(extra)
            .output()
            .expect("replay")
    };
    let first = run(&[]);
    assert!(first.status.success(), "{}", String::from_utf8_lossy(&first.stderr));
    let stdout = String::from_utf8_lossy(&first.stdout);
    let files = std::fs::read_dir(&root).expect("read").count();
    assert_eq!(stdout.matches("\"outcome\":\"processed\"").count(), files, "{stdout}");
    // Stable ids: the same files again are redeliveries.
    let second = run(&[]);
    assert!(second.status.success());
    assert_eq!(String::from_utf8_lossy(&second.stdout).matches("\"outcome\":\"duplicate\"").count(), files);
    // A wrong secret is refused, and replay says so with a failing exit code.
    let refused = std::process::Command::new(crate::support::bin())
        .args(["replay"])
        .arg(&root)
        .args(["--to", &server.url("/webhook/github"), "--secret", "wrong"])
        .output()
        .expect("replay");
    assert!(!refused.status.success());
    assert!(String::from_utf8_lossy(&refused.stderr).contains("401"));
}
