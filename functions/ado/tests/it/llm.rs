//! The model client against a local server that speaks OpenAI's chat-completions protocol: a
//! schema-constrained answer, invalid JSON, a schema violation, a timeout, 429s (retried, and
//! for good), and the fallback to the expert policies with the outcome recorded in the plan.

use aetherveil_ado::council::Council;
use aetherveil_ado::decision::{Action, Role, Source};
use aetherveil_ado::evidence::{DiagnosisFacts, Evidence, RunFacts};
use aetherveil_ado::llm::{LlmClient, LlmConfig, LlmOutcome, ResponseFormat};
use aetherveil_logscan::Cause;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::{Json, Router};
use serde_json::{Value, json};
use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// What the fake server answers, in turn (the last one repeats).
#[derive(Clone)]
enum Reply {
    Content(String),
    Status(u16),
    /// 429 with `Retry-After: 0`.
    TooMany,
    /// Sleeps longer than any client timeout used here, then answers.
    Hang,
}

#[derive(Clone)]
struct Fake {
    replies: Arc<Vec<Reply>>,
    requests: Arc<Mutex<Vec<(HeaderMap, Value)>>>,
}

async fn completions(State(f): State<Fake>, headers: HeaderMap, Json(body): Json<Value>) -> Response {
    let n = {
        let mut reqs = f.requests.lock().expect("lock");
        reqs.push((headers, body.clone()));
        reqs.len()
    };
    let reply = f.replies.get(n - 1).or(f.replies.last()).cloned().expect("a reply");
    let content = match reply {
        Reply::Status(s) => return StatusCode::from_u16(s).expect("status").into_response(),
        Reply::TooMany => {
            return (
                StatusCode::TOO_MANY_REQUESTS,
                [("retry-after", "0")],
                Json(json!({"error": {"message": "rate limited", "type": "requests"}})),
            )
                .into_response();
        }
        Reply::Hang => {
            tokio::time::sleep(Duration::from_secs(30)).await;
            "{}".to_owned()
        }
        Reply::Content(c) => c,
    };
    Json(json!({
        "id": format!("chatcmpl-{n}"),
        "object": "chat.completion",
        "created": 1_700_000_000,
        "model": body["model"],
        "choices": [{"index": 0, "message": {"role": "assistant", "content": content}, "finish_reason": "stop"}],
        "usage": {"prompt_tokens": 420, "completion_tokens": 80, "total_tokens": 500}
    }))
    .into_response()
}

async fn serve(replies: Vec<Reply>) -> (String, Fake) {
    let fake = Fake { replies: Arc::new(replies), requests: Arc::default() };
    let app = Router::new().route("/v1/chat/completions", post(completions)).with_state(fake.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    tokio::spawn(async move { axum::serve(listener, app).await.expect("serve") });
    (format!("http://{addr}/v1"), fake)
}

fn config(base_url: &str, timeout: Duration) -> LlmConfig {
    LlmConfig {
        base_url: base_url.to_owned(),
        model: "smollm2-135m-instruct".into(),
        api_key: "sk-test-key-0123456789abcdef".into(),
        timeout,
        max_tokens: 400,
        temperature: 0.0,
        response_format: ResponseFormat::JsonSchema,
        retries: 2,
        max_retry_wait: Duration::from_secs(2),
        prompt_usd_per_mtok: 1.0,
        completion_usd_per_mtok: 2.0,
    }
}

/// A fork's pull_request_target run that failed on the network: the experts rerun, the
/// Security Guardian vetoes.
fn evidence() -> Evidence {
    Evidence {
        repo: "acme/web".into(),
        run: Some(RunFacts {
            run_id: 7,
            run_attempt: 1,
            workflow: Some("Preview".into()),
            event: "pull_request_target".into(),
            from_fork: true,
            head_branch: Some("feature".into()),
            head_sha: "abc".into(),
            release_branch: false,
            conclusion: Some("failure".into()),
        }),
        diagnoses: vec![DiagnosisFacts {
            id: "70".into(),
            job: "comment".into(),
            cause: Cause::Network,
            confidence: 0.9,
            transient: true,
            summary: "curl: (6) could not resolve host; token ghp_abcdefghijklmnopqrstuvwxyz0123456789".into(),
            failing_tests: vec![],
        }],
        ..Evidence::default()
    }
}

async fn deliberate(base: &str, timeout: Duration) -> aetherveil_ado::council::Deliberation {
    let council = Council { llm: Some(LlmClient::new(config(base, timeout)).expect("client")), ..Council::default() };
    council.deliberate(&evidence(), &BTreeMap::new(), "diagnosis").await
}

async fn expert_only() -> aetherveil_ado::council::Deliberation {
    Council::default().deliberate(&evidence(), &BTreeMap::new(), "diagnosis").await
}

#[tokio::test]
async fn a_schema_answer_enriches_rationales_and_cannot_lift_a_veto() {
    let answer = json!({"agents": [
        {"role": "security_guardian", "action": "no_action", "confidence": 0.95, "rationale": "Untrusted fork code ran with secrets."},
        {"role": "build_optimizer", "action": "rerun_failed_jobs", "confidence": 0.9, "rationale": "DNS failures pass on a rerun."},
        {"role": "release_strategist", "action": "hold_release", "confidence": 0.9, "rationale": "Be careful."}
    ]});
    let (base, fake) = serve(vec![Reply::Content(answer.to_string())]).await;
    let d = deliberate(&base, Duration::from_secs(10)).await;
    assert_eq!(d.llm.outcome, LlmOutcome::Used, "{:?}", d.llm);
    assert_eq!(d.llm.usage.total_tokens, 500);
    assert!((d.llm.cost_usd - (420.0 * 1.0 + 80.0 * 2.0) / 1e6).abs() < 1e-12, "{}", d.llm.cost_usd);
    let role = |r: Role| d.decisions.iter().find(|x| x.role == r).expect("role");
    let guardian = role(Role::SecurityGuardian);
    assert_eq!(guardian.source, Source::Llm);
    assert!(guardian.rationale.contains("Untrusted fork code"), "{}", guardian.rationale);
    assert_eq!(guardian.vetoes.len(), 2, "the expert's vetoes stand");
    // The Release Strategist abstained; the model's proposal counts, capped.
    let rs = role(Role::ReleaseStrategist);
    assert_eq!(rs.action, Action::HoldRelease);
    assert!(rs.confidence <= aetherveil_ado::council::MODEL_PROPOSAL_CAP);
    assert_eq!(rs.expert.as_ref().map(|e| e.action), Some(Action::Abstain));
    assert!(d.verdict.tally.iter().any(|t| t.action == Action::RerunFailedJobs && t.vetoed && t.score == 0.0));
    assert!(!d.verdict.primary_recommendation.reruns());

    // The request was a real chat completion with the schema, the key, and no secret.
    let reqs = fake.requests.lock().expect("lock");
    let (headers, body) = &reqs[0];
    assert_eq!(headers["authorization"], "Bearer sk-test-key-0123456789abcdef");
    assert_eq!(body["response_format"]["type"], "json_schema");
    assert_eq!(body["response_format"]["json_schema"]["schema"]["required"], json!(["agents"]));
    assert_eq!(body["messages"][0]["role"], "system");
    let user = body["messages"][1]["content"].as_str().expect("user prompt");
    assert!(user.contains("could not resolve host"), "{user}");
    assert!(!user.contains("ghp_"), "secrets are redacted: {user}");
}

#[tokio::test]
async fn invalid_json_falls_back_to_the_experts() {
    let (base, _) = serve(vec![Reply::Content("Sure! {\"agents\": [".into())]).await;
    let d = deliberate(&base, Duration::from_secs(10)).await;
    assert_eq!(d.llm.outcome, LlmOutcome::InvalidJson, "{:?}", d.llm);
    assert!(d.llm.outcome.fell_back());
    let experts = expert_only().await;
    assert_eq!(d.decisions, experts.decisions);
    assert_eq!(d.verdict, experts.verdict);
    assert_eq!(d.llm.usage.completion_tokens, 80, "usage is recorded even when the answer is refused");
}

#[tokio::test]
async fn an_action_outside_the_closed_set_is_a_schema_violation() {
    let answer =
        json!({"agents": [{"role": "build_optimizer", "action": "force_push", "confidence": 0.9, "rationale": "x"}]});
    let (base, _) = serve(vec![Reply::Content(answer.to_string())]).await;
    let d = deliberate(&base, Duration::from_secs(10)).await;
    assert_eq!(d.llm.outcome, LlmOutcome::SchemaViolation, "{:?}", d.llm);
    assert!(d.llm.detail.as_deref().is_some_and(|m| m.contains("force_push")), "{:?}", d.llm.detail);
    assert_eq!(d.decisions, expert_only().await.decisions);
}

#[tokio::test]
async fn a_late_answer_times_out_and_falls_back() {
    let (base, _) = serve(vec![Reply::Hang]).await;
    let d = deliberate(&base, Duration::from_millis(300)).await;
    assert_eq!(d.llm.outcome, LlmOutcome::Timeout, "{:?}", d.llm);
    assert_eq!(d.decisions, expert_only().await.decisions);
}

#[tokio::test]
async fn a_429_is_retried_after_retry_after() {
    let answer = json!({"agents": [{"role": "build_optimizer", "action": "rerun_failed_jobs", "confidence": 0.8, "rationale": "DNS blip."}]});
    let (base, fake) = serve(vec![Reply::TooMany, Reply::Content(answer.to_string())]).await;
    let d = deliberate(&base, Duration::from_secs(10)).await;
    assert_eq!(d.llm.outcome, LlmOutcome::Used, "{:?}", d.llm);
    assert_eq!(d.llm.attempts, 2);
    assert_eq!(fake.requests.lock().expect("lock").len(), 2);
}

#[tokio::test]
async fn persistent_429s_and_server_errors_fall_back() {
    let (base, fake) = serve(vec![Reply::TooMany]).await;
    let d = deliberate(&base, Duration::from_secs(10)).await;
    assert_eq!(d.llm.outcome, LlmOutcome::RateLimited, "{:?}", d.llm);
    assert_eq!(d.llm.attempts, 3, "one try and two retries");
    assert_eq!(fake.requests.lock().expect("lock").len(), 3);
    assert_eq!(d.decisions, expert_only().await.decisions);

    let (base, _) = serve(vec![Reply::Status(503)]).await;
    let d = deliberate(&base, Duration::from_secs(10)).await;
    assert_eq!(d.llm.outcome, LlmOutcome::HttpError, "{:?}", d.llm);
}

#[tokio::test]
async fn json_object_mode_sends_the_schema_inline() {
    let answer = json!({"agents": [{"role": "build_optimizer", "action": "rerun_failed_jobs", "confidence": 0.8, "rationale": "ok"}]});
    let (base, fake) = serve(vec![Reply::Content(answer.to_string())]).await;
    let mut c = config(&base, Duration::from_secs(10));
    c.response_format = ResponseFormat::JsonObject;
    c.api_key.clear();
    let council = Council { llm: Some(LlmClient::new(c).expect("client")), ..Council::default() };
    let d = council.deliberate(&evidence(), &BTreeMap::new(), "diagnosis").await;
    assert_eq!(d.llm.outcome, LlmOutcome::Used);
    let reqs = fake.requests.lock().expect("lock");
    let (headers, body) = &reqs[0];
    assert!(headers.get("authorization").is_none());
    assert_eq!(body["response_format"]["type"], "json_object");
    assert_eq!(body["response_format"]["schema"]["type"], "object");
}
