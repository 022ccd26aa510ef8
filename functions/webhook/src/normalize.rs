//! Turns a verified GitHub payload into our records and the event published on
//! `pipeline-events`.

use aetherveil_models::github::{self, EventType};
use aetherveil_models::{DeliveryId, JobRecord, PipelineEvent, PipelineEventKind, RepoName, RunRecord, names};
use chrono::{DateTime, Utc};
use serde::Deserialize;
use serde::de::{DeserializeOwned, IgnoredAny};
use serde_json::Value;

/// `(collection, id, document, order key)`.
pub type Record = (&'static str, String, Value, String);

/// Everything the webhook writes for one delivery, in one commit.
#[derive(Debug)]
pub struct Normalized {
    pub action: Option<String>,
    pub repo: Option<String>,
    /// Written with `put_if_newer`.
    pub records: Vec<Record>,
    /// The serialized [`PipelineEvent`], if this delivery publishes one.
    pub event: Option<Vec<u8>>,
    pub ordering_key: Option<String>,
    pub kind: &'static str,
    /// Why the delivery is recorded as `ignored`, if it is.
    pub ignored: Option<String>,
}

impl Normalized {
    fn ignored(action: Option<String>, repo: Option<String>, reason: String) -> Self {
        Self { action, repo, records: Vec::new(), event: None, ordering_key: None, kind: "none", ignored: Some(reason) }
    }
}

#[derive(Deserialize)]
struct Common {
    action: Option<String>,
    repository: Option<RepoLite>,
}

#[derive(Deserialize)]
struct RepoLite {
    full_name: String,
}

/// Parses `body` as `T`. A syntax error is an `Err` (the request gets 400). Valid JSON that does
/// not have the shape we expect is kept and recorded as ignored, with the reason, so a GitHub
/// payload change never loses data.
fn parse<T: DeserializeOwned>(body: &[u8]) -> Result<Result<T, String>, serde_json::Error> {
    match serde_json::from_slice::<T>(body) {
        Ok(v) => Ok(Ok(v)),
        Err(e) if e.is_data() => {
            serde_json::from_slice::<IgnoredAny>(body)?;
            Ok(Err(format!("payload shape not understood: {e}")))
        }
        Err(e) => Err(e),
    }
}

fn to_vec(event: &PipelineEvent) -> Vec<u8> {
    serde_json::to_vec(event).unwrap_or_else(|e| {
        // Serializing our own plain structs cannot fail; keep a readable trace if it ever does.
        tracing::error!(error = %e, "cannot serialize a pipeline event");
        Vec::new()
    })
}

fn to_value<T: serde::Serialize>(v: &T) -> Value {
    serde_json::to_value(v).unwrap_or(Value::Null)
}

/// The ordering key [`normalize`] gives a delivery's event, read without parsing the rest of the
/// payload, so that queued deliveries of one run (or repository) are normalized in the order they
/// arrived. A syntax error is an `Err` (the request gets 400); a payload of an unexpected shape
/// has no key (the normalizer records it as ignored).
pub fn ordering_key(event_type: Option<EventType>, body: &[u8]) -> Result<Option<String>, serde_json::Error> {
    #[derive(Deserialize)]
    struct Id {
        id: u64,
    }
    #[derive(Deserialize)]
    struct JobOf {
        run_id: u64,
    }
    #[derive(Deserialize)]
    struct Route {
        workflow_run: Option<Id>,
        workflow_job: Option<JobOf>,
        installation: Option<Id>,
        repository: Option<RepoLite>,
    }
    let Ok(route) = parse::<Route>(body)? else {
        return Ok(None);
    };
    Ok(match event_type {
        Some(EventType::WorkflowRun) => route.workflow_run.map(|r| format!("run-{}", r.id)),
        Some(EventType::WorkflowJob) => route.workflow_job.map(|j| format!("run-{}", j.run_id)),
        Some(EventType::Installation) => route.installation.map(|i| format!("installation-{}", i.id)),
        Some(EventType::Ping) | None => None,
        Some(_) => route.repository.map(|r| r.full_name),
    })
}

pub fn normalize(
    event_type: Option<EventType>,
    event_name: &str,
    delivery: &DeliveryId,
    received_at: DateTime<Utc>,
    body: &[u8],
) -> Result<Normalized, serde_json::Error> {
    let Some(event_type) = event_type else {
        let common = match parse::<Common>(body)? {
            Ok(c) => c,
            Err(_) => Common { action: None, repository: None },
        };
        return Ok(Normalized::ignored(
            common.action,
            common.repository.map(|r| r.full_name),
            format!("event type {event_name:?} is not handled"),
        ));
    };
    macro_rules! parse_or_ignore {
        ($t:ty) => {
            match parse::<$t>(body)? {
                Ok(v) => v,
                Err(reason) => {
                    let common = parse::<Common>(body)?.ok();
                    let action = common.as_ref().and_then(|c| c.action.clone());
                    let repo = common.and_then(|c| c.repository.map(|r| r.full_name));
                    return Ok(Normalized::ignored(action, repo, reason));
                }
            }
        };
    }
    // Every handled event but ping publishes one PipelineEvent, keyed for ordering.
    let publish = |action: Option<String>,
                   repo: Option<RepoName>,
                   installation_id: Option<u64>,
                   ordering_key: String,
                   records: Vec<Record>,
                   kind: PipelineEventKind| {
        let label = kind.label();
        let event = PipelineEvent {
            delivery_id: delivery.clone(),
            github_event: event_name.to_owned(),
            action: action.clone(),
            repo: repo.clone(),
            installation_id,
            received_at,
            kind,
        };
        Normalized {
            action,
            repo: repo.map(|r| r.0),
            records,
            event: Some(to_vec(&event)),
            ordering_key: Some(ordering_key),
            kind: label,
            ignored: None,
        }
    };
    let repo_of = |r: &github::Repository| RepoName(r.full_name.clone());
    let n = match event_type {
        EventType::Ping => {
            parse_or_ignore!(github::PingEvent);
            Normalized {
                action: None,
                repo: None,
                records: vec![],
                event: None,
                ordering_key: None,
                kind: "ping",
                ignored: None,
            }
        }
        EventType::WorkflowRun => {
            let e = parse_or_ignore!(github::WorkflowRunEvent);
            let run = RunRecord::from_github(&e.workflow_run, &e.repository, e.installation.as_ref());
            let record = (names::RUNS, run.run_id.to_string(), to_value(&run), run.order_key());
            let key = format!("run-{}", run.run_id);
            let repo = run.repo.clone();
            publish(
                Some(e.action),
                Some(repo),
                e.installation.map(|i| i.id),
                key,
                vec![record],
                PipelineEventKind::Run(run),
            )
        }
        EventType::WorkflowJob => {
            let e = parse_or_ignore!(github::WorkflowJobEvent);
            let job = JobRecord::from_github(&e.workflow_job, &e.repository);
            let record = (names::JOBS, job.job_id.to_string(), to_value(&job), job.order_key());
            let key = format!("run-{}", job.run_id);
            let repo = job.repo.clone();
            publish(
                Some(e.action),
                Some(repo),
                e.installation.map(|i| i.id),
                key,
                vec![record],
                PipelineEventKind::Job(job),
            )
        }
        EventType::Push => {
            let e = parse_or_ignore!(github::PushEvent);
            let mut changed_paths: Vec<String> =
                e.commits.iter().flat_map(|c| c.added.iter().chain(&c.modified).chain(&c.removed).cloned()).collect();
            changed_paths.sort();
            changed_paths.dedup();
            let repo = repo_of(&e.repository);
            let kind = PipelineEventKind::Push {
                git_ref: e.git_ref,
                before: e.before,
                after: e.after,
                forced: e.forced,
                created: e.created,
                deleted: e.deleted,
                changed_paths,
            };
            publish(None, Some(repo.clone()), e.installation.map(|i| i.id), repo.0, vec![], kind)
        }
        EventType::PullRequest => {
            let e = parse_or_ignore!(github::PullRequestEvent);
            let pr = &e.pull_request;
            let head_repo = pr.head.repo.as_ref().map(|r| r.full_name.clone());
            let kind = PipelineEventKind::PullRequest {
                number: e.number,
                state: pr.state.clone(),
                head_ref: pr.head.git_ref.clone(),
                head_sha: pr.head.sha.clone(),
                base_ref: pr.base.git_ref.clone(),
                from_fork: head_repo.as_deref().is_some_and(|h| h != e.repository.full_name),
                head_repo,
                merged: pr.merged.unwrap_or(false),
            };
            let repo = repo_of(&e.repository);
            publish(Some(e.action), Some(repo.clone()), e.installation.map(|i| i.id), repo.0, vec![], kind)
        }
        EventType::CheckRun => {
            let e = parse_or_ignore!(github::CheckRunEvent);
            let c = e.check_run;
            let kind = PipelineEventKind::CheckRun {
                check_run_id: c.id,
                name: c.name,
                head_sha: c.head_sha,
                status: c.status,
                conclusion: c.conclusion,
                check_suite_id: c.check_suite.map(|s| s.id),
                app: c.app.and_then(|a| a.slug),
            };
            let repo = repo_of(&e.repository);
            publish(Some(e.action), Some(repo.clone()), e.installation.map(|i| i.id), repo.0, vec![], kind)
        }
        EventType::CheckSuite => {
            let e = parse_or_ignore!(github::CheckSuiteEvent);
            let s = e.check_suite;
            let kind = PipelineEventKind::CheckSuite {
                check_suite_id: s.id,
                head_sha: s.head_sha,
                head_branch: s.head_branch,
                status: s.status,
                conclusion: s.conclusion,
                app: s.app.and_then(|a| a.slug),
            };
            let repo = repo_of(&e.repository);
            publish(Some(e.action), Some(repo.clone()), e.installation.map(|i| i.id), repo.0, vec![], kind)
        }
        EventType::Installation => {
            let e = parse_or_ignore!(github::InstallationEvent);
            let repositories: Vec<String> =
                e.repositories.unwrap_or_default().into_iter().map(|r| r.full_name).collect();
            let account = e.installation.account.map(|a| a.login);
            let id = e.installation.id;
            let doc = serde_json::json!({
                "installation_id": id,
                "account": account,
                "app_id": e.installation.app_id,
                "repository_selection": e.installation.repository_selection,
                "repositories": repositories,
                "last_action": e.action,
                "updated_at": received_at,
            });
            let record =
                (names::INSTALLATIONS, id.to_string(), doc, received_at.format("%Y-%m-%dT%H:%M:%S%.6fZ").to_string());
            let kind = PipelineEventKind::Installation { installation_id: id, account, repositories };
            publish(Some(e.action), None, Some(id), format!("installation-{id}"), vec![record], kind)
        }
    };
    Ok(n)
}
