//! Webhook payloads and REST bodies against GitHub's published shape: every generated payload
//! validates against octokit/webhooks' JSON Schemas (from `shared/datasets`, never copied here),
//! the REST objects equal the webhooks' objects, and signatures match GitHub's test vector.

use aetherveil_simulator::model::{JobInfo, PullRequestRef, RunInfo, RunnerInfo, Status, StepInfo};
use aetherveil_simulator::payloads::{
    job_object, pseudo_sha, repository_object, run_object, sign, workflow_job_event, workflow_run_event,
};
use chrono::{DateTime, Duration, Utc};
use serde_json::{Value, json};

use aetherveil_simulator::schema::{Validator, Violation, webhook_schemas};

fn schemas() -> Option<Validator> {
    webhook_schemas(env!("CARGO_MANIFEST_DIR"), "../../../shared/datasets")
}

fn at(minutes: i64) -> DateTime<Utc> {
    DateTime::from_timestamp(1_760_000_000, 0).unwrap_or_default() + Duration::minutes(minutes)
}

const ORG_REPO: &str = "octo-org/hello-world";
const USER_REPO: &str = "mona/widgets";

/// What started a run.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Trigger {
    Push,
    /// `pull_request` from a branch of the same repository.
    PullRequest,
    /// `pull_request` from a fork.
    PullRequestFromFork,
    /// `pull_request_target` from a fork.
    PullRequestTargetFromFork,
}

fn run_info(repo: &str, trigger: Trigger, attempt: u32, status: Status, conclusion: Option<&str>) -> RunInfo {
    let base_sha = pseudo_sha(&format!("{repo}:base"));
    let fork = format!("outside-contributor/{}", repo.split_once('/').map_or(repo, |(_, name)| name));
    let pr = |head_repo: &str| PullRequestRef {
        number: 17,
        head_ref: "fix-flaky-test".into(),
        head_sha: pseudo_sha(&format!("{head_repo}:head")),
        head_repo: head_repo.into(),
        base_ref: "main".into(),
        base_sha: base_sha.clone(),
    };
    let (event, pull_request) = match trigger {
        Trigger::Push => ("push", None),
        Trigger::PullRequest => ("pull_request", Some(pr(repo))),
        Trigger::PullRequestFromFork => ("pull_request", Some(pr(&fork))),
        Trigger::PullRequestTargetFromFork => ("pull_request_target", Some(pr(&fork))),
    };
    let (head_branch, head_sha) = match &pull_request {
        Some(p) => (p.head_ref.clone(), p.head_sha.clone()),
        None => ("main".to_owned(), base_sha.clone()),
    };
    let created_at = at(0);
    let run_started_at = created_at + Duration::minutes(10 * i64::from(attempt - 1));
    RunInfo {
        repo: repo.into(),
        run_id: 30_433_642_123,
        run_number: 812,
        attempt,
        workflow_id: 161_335,
        workflow_name: "CI / build & test".into(),
        workflow_path: ".github/workflows/ci.yml".into(),
        event: event.into(),
        head_branch,
        head_sha,
        display_title: "fix(store): retry busy SQLite writes".into(),
        actor: if trigger == Trigger::Push { "mona".into() } else { "outside-contributor".into() },
        pull_request,
        status,
        conclusion: conclusion.map(str::to_owned),
        check_suite_id: 12_345_678_901,
        created_at,
        run_started_at,
        updated_at: run_started_at + Duration::minutes(3),
    }
}

/// Which runner a job got.
#[derive(Clone, Copy, Debug)]
enum Runner {
    Hosted,
    SelfHosted,
}

fn runner(kind: Runner) -> (Vec<String>, RunnerInfo) {
    match kind {
        Runner::Hosted => (
            vec!["ubuntu-latest".into()],
            RunnerInfo { id: 5, name: "GitHub Actions 5".into(), group_id: 2, group_name: "GitHub Actions".into() },
        ),
        Runner::SelfHosted => (
            vec!["self-hosted".into(), "linux".into(), "x64".into()],
            RunnerInfo { id: 23, name: "build-box-23".into(), group_id: 1, group_name: "Default".into() },
        ),
    }
}

fn step(number: u32, name: &str, status: Status, conclusion: Option<&str>, start: i64) -> StepInfo {
    let started_at = (status != Status::Queued).then(|| at(start));
    let completed_at = (status == Status::Completed).then(|| at(start + 1));
    StepInfo { number, name: name.into(), status, conclusion: conclusion.map(str::to_owned), started_at, completed_at }
}

/// A job of `repo` at `status` (`conclusion` once completed), on `kind` once it has a runner.
fn job_info(repo: &str, attempt: u32, status: Status, conclusion: Option<&str>, kind: Runner) -> JobInfo {
    let (labels, runner) = runner(kind);
    let names = ["Set up job", "Run actions/checkout@v4", "Build", "Test", "Complete job"];
    let steps = match status {
        Status::Queued => vec![],
        Status::InProgress => vec![
            step(1, names[0], Status::Completed, Some("success"), 1),
            step(2, names[1], Status::InProgress, None, 2),
            step(3, names[2], Status::Queued, None, 3),
        ],
        Status::Completed => names
            .iter()
            .enumerate()
            .map(|(i, name)| {
                let c = match (conclusion, i) {
                    (Some("failure"), 3) => "failure",
                    (Some("failure"), 4) => "success",
                    (Some("cancelled"), 3) => "cancelled",
                    (Some("cancelled"), 4) => "skipped",
                    _ => "success",
                };
                step(i as u32 + 1, name, Status::Completed, Some(c), 1 + i as i64)
            })
            .collect(),
    };
    JobInfo {
        repo: repo.into(),
        run_id: 30_433_642_123,
        run_attempt: attempt,
        job_id: 399_444_496,
        name: "build (ubuntu-latest)".into(),
        workflow_name: "CI".into(),
        head_branch: "main".into(),
        head_sha: pseudo_sha(&format!("{repo}:base")),
        labels,
        status,
        conclusion: conclusion.map(str::to_owned),
        created_at: at(0),
        started_at: if status == Status::Queued { at(0) } else { at(1) },
        completed_at: (status == Status::Completed).then(|| at(6)),
        steps,
        runner: (status != Status::Queued).then_some(runner),
    }
}

/// A generated body, the schema it must satisfy, and a name for reports.
struct Case {
    name: String,
    schema: String,
    body: Value,
}

fn run_cases() -> Vec<Case> {
    let mut cases = Vec::new();
    let triggers =
        [Trigger::Push, Trigger::PullRequest, Trigger::PullRequestFromFork, Trigger::PullRequestTargetFromFork];
    let states = [
        ("requested", Status::Queued, None),
        ("in_progress", Status::InProgress, None),
        ("completed", Status::Completed, Some("success")),
        ("completed", Status::Completed, Some("failure")),
        ("completed", Status::Completed, Some("cancelled")),
    ];
    for repo in [ORG_REPO, USER_REPO] {
        for trigger in triggers {
            for attempt in [1, 3] {
                for (action, status, conclusion) in states {
                    let run = run_info(repo, trigger, attempt, status, conclusion);
                    let name = format!("workflow_run {action} {conclusion:?} {repo} {trigger:?} attempt {attempt}");
                    cases.push(Case {
                        name: format!("REST run: {name}"),
                        schema: "common/workflow-run.schema.json".into(),
                        body: run_object(&run),
                    });
                    cases.push(Case {
                        name,
                        schema: format!("workflow_run/{action}.schema.json"),
                        body: workflow_run_event(action, &run),
                    });
                }
            }
        }
    }
    cases
}

fn job_cases() -> Vec<Case> {
    let mut cases = Vec::new();
    let states = [
        ("queued", Status::Queued, None, Runner::Hosted),
        ("waiting", Status::Queued, None, Runner::Hosted),
        ("in_progress", Status::InProgress, None, Runner::Hosted),
        ("in_progress", Status::InProgress, None, Runner::SelfHosted),
        ("completed", Status::Completed, Some("success"), Runner::Hosted),
        ("completed", Status::Completed, Some("success"), Runner::SelfHosted),
        ("completed", Status::Completed, Some("failure"), Runner::Hosted),
        ("completed", Status::Completed, Some("failure"), Runner::SelfHosted),
        ("completed", Status::Completed, Some("cancelled"), Runner::Hosted),
        ("completed", Status::Completed, Some("cancelled"), Runner::SelfHosted),
    ];
    for repo in [ORG_REPO, USER_REPO] {
        for attempt in [1, 3] {
            for (action, status, conclusion, kind) in states {
                let job = job_info(repo, attempt, status, conclusion, kind);
                let name = format!("workflow_job {action} {conclusion:?} {kind:?} {repo} attempt {attempt}");
                cases.push(Case {
                    name: format!("REST job: {name}"),
                    schema: "common/workflow-job.schema.json".into(),
                    body: job_object(&job),
                });
                cases.push(Case {
                    name,
                    schema: format!("workflow_job/{action}.schema.json"),
                    body: workflow_job_event(action, &job),
                });
            }
        }
    }
    cases
}

fn report(name: &str, violations: &[Violation]) -> String {
    let lines = violations.iter().map(|v| format!("    {v}")).collect::<Vec<_>>().join("\n");
    format!("  {name}:\n{lines}")
}

#[test]
fn every_generated_payload_validates_against_githubs_schemas() {
    let Some(schemas) = schemas() else { return };
    let mut cases = run_cases();
    cases.extend(job_cases());
    for repo in [ORG_REPO, USER_REPO, "outside-contributor/widgets"] {
        cases.push(Case {
            name: format!("REST repository {repo}"),
            schema: "common/repository.schema.json".into(),
            body: repository_object(repo),
        });
    }
    let mut failures = Vec::new();
    for case in &cases {
        let violations = schemas.validate(&case.schema, &case.body).expect("schemas load and are understood");
        if !violations.is_empty() {
            failures.push(report(&case.name, &violations));
        }
    }
    let events = cases.iter().filter(|c| !c.schema.starts_with("common/")).count();
    eprintln!("validated {} payloads ({events} webhook bodies, {} REST bodies)", cases.len(), cases.len() - events);
    assert!(
        failures.is_empty(),
        "{} of {} payloads break their schema:\n{}",
        failures.len(),
        cases.len(),
        failures.join("\n")
    );
    assert_eq!(cases.len(), 80 * 2 + 40 * 2 + 3);
}

#[test]
fn the_spread_covers_what_github_sends() {
    let runs = run_cases();
    let bodies: Vec<&Value> = runs.iter().filter(|c| c.schema.starts_with("workflow_run/")).map(|c| &c.body).collect();
    assert!(bodies.iter().any(|b| b["organization"].is_object()));
    assert!(bodies.iter().any(|b| b.get("organization").is_none() && b["repository"]["owner"]["type"] == "User"));
    assert!(bodies.iter().any(|b| b["workflow_run"]["pull_requests"].as_array().is_some_and(|p| p.len() == 1)));
    assert!(bodies.iter().any(|b| b["workflow_run"]["head_repository"]["fork"] == true));
    assert!(bodies.iter().any(|b| b["workflow_run"]["previous_attempt_url"].is_string()));
    let jobs = job_cases();
    let job_bodies: Vec<&Value> =
        jobs.iter().filter(|c| c.schema.starts_with("workflow_job/")).map(|c| &c.body["workflow_job"]).collect();
    assert!(job_bodies.iter().any(|j| j["steps"] == json!([]) && j["runner_id"].is_null()));
    assert!(job_bodies.iter().any(|j| j["status"] == "waiting"));
    assert!(job_bodies.iter().any(|j| j["runner_group_name"] == "GitHub Actions"));
    assert!(job_bodies.iter().any(|j| j["runner_group_name"] == "Default"));
    assert!(
        job_bodies.iter().any(|j| j["steps"].as_array().is_some_and(|s| s.iter().any(|s| s["status"] == "queued")))
    );
}

#[test]
fn the_validator_rejects_a_missing_required_field_and_an_unknown_one() {
    let Some(schemas) = schemas() else { return };
    let run = run_info(ORG_REPO, Trigger::PullRequest, 3, Status::Completed, Some("failure"));
    let good = workflow_run_event("completed", &run);
    assert_eq!(schemas.validate("workflow_run/completed.schema.json", &good).expect("schemas"), vec![]);

    let mut missing = good.clone();
    missing["workflow_run"].as_object_mut().expect("object").remove("head_sha");
    let violations = schemas.validate("workflow_run/completed.schema.json", &missing).expect("schemas");
    assert!(
        violations.iter().any(|v| v.path == "$.workflow_run" && v.message.contains("`head_sha`")),
        "{violations:?}"
    );

    let mut extra = good.clone();
    extra["repository"]["owner"]["favourite_colour"] = json!("teal");
    let violations = schemas.validate("workflow_run/completed.schema.json", &extra).expect("schemas");
    assert_eq!(violations.len(), 1, "{violations:?}");
    assert_eq!(violations[0].path, "$.repository.owner.favourite_colour");

    // A wrong type deep inside a `oneOf` and an `allOf`, and the wrong action for the schema.
    let mut wrong = good.clone();
    wrong["workflow_run"]["previous_attempt_url"] = json!(3);
    wrong["workflow_run"]["conclusion"] = Value::Null;
    let violations = schemas.validate("workflow_run/completed.schema.json", &wrong).expect("schemas");
    let paths: Vec<&str> = violations.iter().map(|v| v.path.as_str()).collect();
    assert!(paths.contains(&"$.workflow_run.previous_attempt_url"), "{violations:?}");
    assert!(paths.contains(&"$.workflow_run.conclusion"), "{violations:?}");
    let violations = schemas.validate("workflow_run/requested.schema.json", &good).expect("schemas");
    assert_eq!(violations.iter().map(|v| v.path.as_str()).collect::<Vec<_>>(), ["$.action"]);

    let job = job_info(USER_REPO, 1, Status::Queued, None, Runner::Hosted);
    let mut queued = workflow_job_event("queued", &job);
    queued["workflow_job"]["steps"] = json!([{ "name": "Build", "status": "queued", "number": 1 }]);
    let violations = schemas.validate("workflow_job/queued.schema.json", &queued).expect("schemas");
    assert!(violations.iter().any(|v| v.path == "$.workflow_job.steps[0]"), "{violations:?}");
}

/// The validator's own behaviour on small in-memory schemas (no datasets needed).
#[test]
fn the_validator_implements_the_draft_07_keywords_it_claims() {
    let v = Validator::in_memory([
        (
            "top.schema.json",
            json!({
                "$id": "event$top",
                "type": "object",
                "required": ["a", "user"],
                "properties": {
                    "a": { "type": ["integer", "null"] },
                    "user": { "$ref": "common/user.schema.json" },
                    "kind": { "enum": ["x", "y", null] },
                    "fixed": { "const": 3 },
                    "when": { "type": "string", "format": "date-time" },
                    "link": { "oneOf": [{ "type": "string", "format": "uri" }, { "type": "null" }] },
                    "either": { "anyOf": [{ "type": "string" }, { "type": "integer" }] },
                    "both": { "allOf": [{ "type": "object", "required": ["p"] }, { "required": ["q"] }] },
                    "list": { "type": "array", "items": { "$ref": "#/definitions/item" }, "maxItems": 2 },
                    "extra": { "type": "object", "additionalProperties": { "type": "boolean" } },
                },
                "additionalProperties": false,
                "definitions": { "item": { "type": "object", "required": ["n"], "additionalProperties": false, "properties": { "n": { "type": "number" } } } },
            }),
        ),
        (
            "common/user.schema.json",
            json!({ "type": "object", "required": ["login"], "properties": { "login": { "type": "string" }, "org": { "$ref": "org.schema.json" } } }),
        ),
        (
            "common/org.schema.json",
            json!({ "type": "object", "required": ["id"], "properties": { "id": { "type": "integer" } } }),
        ),
    ]);
    let ok = json!({
        "a": null, "user": { "login": "mona", "org": { "id": 1 } }, "kind": null, "fixed": 3,
        "when": "2025-03-04T05:06:07Z", "link": "https://github.com/x", "either": 4,
        "both": { "p": 1, "q": 2 }, "list": [{ "n": 1.5 }], "extra": { "k": true },
    });
    assert_eq!(v.validate("top.schema.json", &ok).expect("schemas"), vec![]);
    let bad = json!({
        "a": 1.5, "user": { "org": { "id": "1" } }, "kind": "z", "fixed": 4,
        "when": "yesterday", "link": "not a uri", "either": true,
        "both": { "p": 1 }, "list": [{ "n": 1 }, {}, { "n": 2, "m": 0 }], "extra": { "k": "yes" }, "surprise": 1,
    });
    let mut paths: Vec<String> =
        v.validate("top.schema.json", &bad).expect("schemas").into_iter().map(|x| x.path).collect();
    paths.sort();
    let mut expected = vec![
        "$.a",
        "$.user",
        "$.user.org.id",
        "$.kind",
        "$.fixed",
        "$.when",
        "$.link",
        "$.either",
        "$.both",
        "$.list",
        "$.list[1]",
        "$.list[2].m",
        "$.extra.k",
        "$.surprise",
    ];
    expected.sort();
    assert_eq!(paths, expected);
    // `oneOf` means exactly one.
    let two = Validator::in_memory([("s.json", json!({ "oneOf": [{ "type": "integer" }, { "type": "number" }] }))]);
    assert_eq!(two.validate("s.json", &json!(1)).expect("schema").len(), 1);
    assert_eq!(two.validate("s.json", &json!(1.5)).expect("schema"), vec![]);
    // Keywords it does not implement are errors, not silently passed.
    let unknown = Validator::in_memory([("s.json", json!({ "pattern": "^a" }))]);
    assert!(unknown.validate("s.json", &json!("b")).is_err());
    assert!(unknown.validate("missing.json", &json!(1)).is_err());
}

#[test]
fn the_rest_run_and_job_equal_the_webhook_objects() {
    for trigger in [Trigger::Push, Trigger::PullRequest, Trigger::PullRequestTargetFromFork] {
        for (action, status, conclusion) in
            [("requested", Status::Queued, None), ("completed", Status::Completed, Some("success"))]
        {
            let run = run_info(ORG_REPO, trigger, 3, status, conclusion);
            assert_eq!(run_object(&run), workflow_run_event(action, &run)["workflow_run"]);
        }
    }
    for (action, status, conclusion) in [
        ("queued", Status::Queued, None),
        ("in_progress", Status::InProgress, None),
        ("completed", Status::Completed, Some("failure")),
    ] {
        let job = job_info(USER_REPO, 1, status, conclusion, Runner::SelfHosted);
        assert_eq!(job_object(&job), workflow_job_event(action, &job)["workflow_job"]);
    }
    let repo = run_info(USER_REPO, Trigger::Push, 1, Status::Queued, None);
    assert_eq!(repository_object(USER_REPO), workflow_run_event("requested", &repo)["repository"]);
}

#[test]
fn runs_render_the_model_faithfully() {
    let run = run_info(ORG_REPO, Trigger::PullRequest, 3, Status::Completed, Some("failure"));
    let v = run_object(&run);
    assert_eq!(v["id"], 30_433_642_123u64);
    assert_eq!(v["run_attempt"], 3);
    assert_eq!(v["status"], "completed");
    assert_eq!(v["conclusion"], "failure");
    assert_eq!(v["head_sha"], run.head_sha);
    assert_eq!(v["event"], "pull_request");
    assert_eq!(
        v["previous_attempt_url"],
        "https://api.github.com/repos/octo-org/hello-world/actions/runs/30433642123/attempts/2"
    );
    let prs = v["pull_requests"].as_array().expect("array");
    assert_eq!(prs.len(), 1);
    assert_eq!(prs[0]["number"], 17);
    assert_eq!(prs[0]["head"]["sha"], run.head_sha);
    assert_eq!(prs[0]["base"]["repo"]["name"], "hello-world");
    assert_eq!(v["head_repository"]["full_name"], ORG_REPO);
    assert_eq!(v["actor"]["login"], "outside-contributor");
    assert_eq!(v["created_at"], "2025-10-09T08:53:20Z");

    let first = run_object(&run_info(ORG_REPO, Trigger::Push, 1, Status::Queued, None));
    assert!(first["previous_attempt_url"].is_null());
    assert_eq!(first["pull_requests"], json!([]));
    assert!(first["conclusion"].is_null());

    for trigger in [Trigger::PullRequestFromFork, Trigger::PullRequestTargetFromFork] {
        let fork = run_object(&run_info(USER_REPO, trigger, 1, Status::InProgress, None));
        assert_eq!(fork["pull_requests"], json!([]), "{trigger:?}: GitHub lists no pull request for a fork");
        assert_eq!(fork["head_repository"]["full_name"], "outside-contributor/widgets");
        assert_eq!(fork["head_repository"]["fork"], true);
        assert_eq!(fork["repository"]["full_name"], USER_REPO);
    }
}

#[test]
fn jobs_render_steps_and_runner_from_the_model() {
    let queued = job_object(&job_info(ORG_REPO, 1, Status::Queued, None, Runner::Hosted));
    assert_eq!(queued["steps"], json!([]));
    for field in ["runner_id", "runner_name", "runner_group_id", "runner_group_name", "completed_at", "conclusion"] {
        assert!(queued[field].is_null(), "{field}");
    }
    let waiting = workflow_job_event("waiting", &job_info(ORG_REPO, 1, Status::Queued, None, Runner::Hosted));
    assert_eq!(waiting["workflow_job"]["status"], "waiting");

    let done = job_object(&job_info(ORG_REPO, 3, Status::Completed, Some("failure"), Runner::SelfHosted));
    assert_eq!(done["run_attempt"], 3);
    assert_eq!(done["runner_name"], "build-box-23");
    assert_eq!(done["runner_group_id"], 1);
    assert_eq!(done["labels"], json!(["self-hosted", "linux", "x64"]));
    let steps = done["steps"].as_array().expect("steps");
    assert_eq!(steps.len(), 5);
    assert_eq!(steps[3]["conclusion"], "failure");
    assert_eq!(steps[3]["number"], 4);
    assert_eq!(done["completed_at"], "2025-10-09T08:59:20Z");
    assert_eq!(done["html_url"], "https://github.com/octo-org/hello-world/actions/runs/30433642123/job/399444496");
}

#[test]
fn payloads_are_deterministic() {
    let run = run_info(USER_REPO, Trigger::PullRequestFromFork, 3, Status::Completed, Some("cancelled"));
    let a = serde_json::to_vec(&workflow_run_event("completed", &run)).expect("serializes");
    let b = serde_json::to_vec(&workflow_run_event("completed", &run.clone())).expect("serializes");
    assert_eq!(a, b);
    assert_ne!(repository_object(ORG_REPO)["id"], repository_object(USER_REPO)["id"]);
}

#[test]
fn signatures_match_githubs_documented_test_vector() {
    assert_eq!(
        sign(b"It's a Secret to Everybody", b"Hello, World!"),
        "sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17"
    );
}
