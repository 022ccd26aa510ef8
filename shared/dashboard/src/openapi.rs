//! The OpenAPI 3.1 document of the JSON API under `/api/v1` (and the few routes beside it),
//! served at `/api/v1/openapi.json`. One entry per route the binary serves; a test checks that
//! every documented GET answers.

use serde_json::{Value, json};

fn param(name: &str, location: &str, description: &str, schema: Value) -> Value {
    json!({"name": name, "in": location, "required": location == "path", "description": description, "schema": schema})
}

fn q(name: &str, description: &str) -> Value {
    param(name, "query", description, json!({"type": "string"}))
}

fn qi(name: &str, description: &str) -> Value {
    param(name, "query", description, json!({"type": "integer", "minimum": 1}))
}

fn p(name: &str, description: &str) -> Value {
    param(name, "path", description, json!({"type": "string"}))
}

fn limit() -> Value {
    qi("limit", "items to return, 1 to 1000 (default 50)")
}

fn repo() -> Value {
    q("repo", "a repository, owner/name")
}

fn op(tag: &str, summary: &str, params: Vec<Value>, response: &str) -> Value {
    json!({
        "tags": [tag],
        "summary": summary,
        "parameters": params,
        "responses": {
            "200": {"description": response, "content": {"application/json": {"schema": {"type": "object"}}}},
            "400": {"$ref": "#/components/responses/BadRequest"},
            "404": {"$ref": "#/components/responses/NotFound"},
            "500": {"$ref": "#/components/responses/Internal"}
        }
    })
}

fn body(schema: Value) -> Value {
    json!({"required": true, "content": {"application/json": {"schema": schema}}})
}

/// The document.
pub fn document() -> Value {
    let mut paths = serde_json::Map::new();
    let mut get = |path: &str, tag: &str, summary: &str, params: Vec<Value>, response: &str| {
        paths.insert(path.to_owned(), json!({"get": op(tag, summary, params, response)}));
    };
    get("/api/v1/runs", "runs", "Latest state of each run, newest first", vec![repo(), limit()], "`{runs: [...]}`");
    get("/api/v1/runs/{run_id}", "runs", "One run and its jobs", vec![p("run_id", "the run id")], "`{run, jobs}`");
    get(
        "/api/v1/deliveries/{delivery_id}",
        "webhook",
        "One delivery and its outcome",
        vec![p("delivery_id", "X-GitHub-Delivery")],
        "the delivery",
    );
    get(
        "/api/v1/deliveries/{delivery_id}/raw",
        "webhook",
        "The raw body as received",
        vec![p("delivery_id", "X-GitHub-Delivery")],
        "the raw JSON body",
    );
    get(
        "/api/v1/events",
        "runs",
        "Events as the consumers' side recorded them",
        vec![q("delivery_id", "one delivery's event"), repo(), limit()],
        "`{events: [...]}`",
    );
    get("/api/v1/dead-letters", "platform", "Messages that failed for good", vec![limit()], "`{dead_letters: [...]}`");
    get(
        "/api/v1/anomalies",
        "monitor",
        "Anomaly episodes, latest first",
        vec![
            repo(),
            q("kind", "duration_outlier, duration_regression, failure_rate_spike or queue_time"),
            q("status", "open or closed"),
            limit(),
        ],
        "`{anomalies: [...]}`",
    );
    get(
        "/api/v1/anomalies/{id}",
        "monitor",
        "One anomaly episode with its evidence",
        vec![p("id", "the episode id")],
        "the episode",
    );
    get(
        "/api/v1/baselines",
        "monitor",
        "Per job and branch class: robust center and spread, EWMA, queue, failure rate",
        vec![repo(), limit()],
        "`{baselines: [...]}`",
    );
    get(
        "/api/v1/flaky",
        "monitor",
        "Per job: healthy, flaky, broken or fixed",
        vec![repo(), q("state", "healthy, flaky, broken or fixed"), limit()],
        "`{flaky: [...]}`",
    );
    get(
        "/api/v1/health",
        "monitor",
        "Health 0-100 per repository and overall, with components and explanation",
        vec![repo(), qi("days", "days of history, 1 to 365 (default 7)")],
        "`{days, overall, repos}`",
    );
    get(
        "/api/v1/forecasts",
        "monitor",
        "Holt-Winters forecasts of runs per hour and job durations, 80% and 95% intervals",
        vec![repo(), qi("horizon", "hours to forecast (default 24)")],
        "`{repo, horizon_hours, series}`",
    );
    get(
        "/api/v1/diagnoses",
        "logscan",
        "Why each failed job failed",
        vec![repo(), q("cause", "a cause"), limit()],
        "`{diagnoses: [...]}`",
    );
    get(
        "/api/v1/diagnoses/{job_id}",
        "logscan",
        "One diagnosis with its Markdown rendering",
        vec![p("job_id", "the job id")],
        "the diagnosis",
    );
    get(
        "/api/v1/healing",
        "healer",
        "The healer's statistics, history, flaky and quarantined jobs",
        vec![repo(), limit()],
        "`{stats, history, flaky, ...}`",
    );
    get(
        "/api/v1/decisions",
        "healer",
        "The healer's decisions with their inputs and explanation",
        vec![repo(), limit()],
        "`{decisions: [...]}`",
    );
    get("/api/v1/decisions/{id}", "healer", "One decision", vec![p("id", "<run id>-<attempt>")], "the decision");
    get(
        "/api/v1/security",
        "gate",
        "Security verdicts per repository: trend, pass rate, change",
        vec![repo(), limit()],
        "`{repositories: [...]}`",
    );
    get(
        "/api/v1/overview",
        "dashboard",
        "Health, success rate, MTTR, open anomalies, heals and budget used today, firing alerts",
        vec![],
        "the overview",
    );
    get(
        "/api/v1/agents",
        "dashboard",
        "agent_state documents and each subscription's backlog",
        vec![],
        "`{agent_state, subscriptions}`",
    );
    get(
        "/api/v1/alerts",
        "dashboard",
        "Alert episodes, newest first, and the rules in force",
        vec![q("status", "firing or resolved"), limit()],
        "`{alerts, rules}`",
    );
    get(
        "/api/v1/analytics/jobs",
        "dashboard",
        "Per job: typical duration and queue time, failure rate; slowest and least reliable first",
        vec![repo()],
        "`{slowest, least_reliable}`",
    );
    get(
        "/api/v1/analytics/durations",
        "dashboard",
        "One job's latest attempts, its anomalies and baseline band",
        vec![
            param("repo", "query", "owner/name", json!({"type": "string"})),
            q("workflow", "workflow name"),
            q("job", "job name"),
            limit(),
        ],
        "`{points, anomalies, baseline}`",
    );
    get("/api/v1/openapi.json", "dashboard", "This document", vec![], "OpenAPI 3.1");
    let mode = json!({
        "get": op("healer", "A repository's healer mode", vec![p("owner", "owner"), p("name", "repository name")], "`{mode}`"),
        "post": {
            "tags": ["healer"], "summary": "Set a repository's healer mode",
            "parameters": [p("owner", "owner"), p("name", "repository name")],
            "requestBody": body(json!({"type": "object", "required": ["mode"], "properties": {"mode": {"enum": ["observe", "recommend", "act"]}}})),
            "responses": {"200": {"description": "`{mode}`"}, "400": {"$ref": "#/components/responses/BadRequest"}}
        }
    });
    paths.insert("/api/v1/repos/{owner}/{name}/mode".into(), mode);
    paths.insert(
        "/api/v1/diagnoses/{job_id}/feedback".into(),
        json!({"post": {
            "tags": ["logscan"], "summary": "A person's correction of a diagnosis",
            "parameters": [p("job_id", "the job id")],
            "requestBody": body(json!({"type": "object", "required": ["cause"], "properties": {"cause": {"type": "string"}, "by": {"type": "string"}}})),
            "responses": {"200": {"description": "the recorded feedback"}, "400": {"$ref": "#/components/responses/BadRequest"}, "404": {"$ref": "#/components/responses/NotFound"}}
        }}),
    );
    paths.insert(
        "/gate/trivy".into(),
        json!({"post": {
            "tags": ["gate"], "summary": "Gate a Trivy JSON report or SARIF log against a policy",
            "requestBody": body(json!({"type": "object", "required": ["repo", "report"], "properties": {
                "repo": {"type": "string"}, "report": {"type": "object"}, "policy": {"type": "string"},
                "ref": {"type": "string"}, "sha": {"type": "string"}, "run_id": {"type": "integer"},
                "baseline": {"type": "object"}, "baseline_ref": {"type": "string"}}})),
            "responses": {"200": {"description": "the verdict"}, "400": {"$ref": "#/components/responses/BadRequest"}}
        }}),
    );
    paths.insert(
        "/webhook/github".into(),
        json!({"post": {
            "tags": ["webhook"], "summary": "GitHub webhook deliveries (X-Hub-Signature-256, X-GitHub-Delivery, X-GitHub-Event)",
            "requestBody": body(json!({"type": "object"})),
            "responses": {"200": {"description": "processed or duplicate"}, "202": {"description": "ignored event type"}, "400": {"description": "not JSON"}, "401": {"description": "bad signature"}, "413": {"description": "too large"}}
        }}),
    );
    paths.insert("/trainer/run".into(), json!({"post": {"tags": ["trainer"], "summary": "Retrain the models now", "responses": {"200": {"description": "what was trained"}}}}));
    paths.insert("/healthz".into(), json!({"get": {"tags": ["platform"], "summary": "Liveness", "responses": {"200": {"description": "ok", "content": {"text/plain": {}}}}}}));
    paths.insert("/metrics".into(), json!({"get": {"tags": ["platform"], "summary": "Prometheus text exposition", "responses": {"200": {"description": "metrics", "content": {"text/plain": {}}}}}}));
    let error = json!({"type": "object", "required": ["error", "message"], "properties": {"error": {"type": "string"}, "message": {"type": "string"}}});
    let response = |d: &str| json!({"description": d, "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}});
    json!({
        "openapi": "3.1.0",
        "info": {
            "title": "Aetherveil API",
            "version": env!("CARGO_PKG_VERSION"),
            "description": "What the platform knows: runs, anomalies, diagnoses, healing, security verdicts, alerts. The web UI at / renders the same JSON."
        },
        "servers": [{"url": "/"}],
        "paths": paths,
        "components": {
            "schemas": {"Error": error},
            "responses": {"BadRequest": response("a bad parameter"), "NotFound": response("no such item"), "Internal": response("internal error; details in the server log")}
        }
    })
}

#[cfg(test)]
mod tests {
    #[test]
    fn every_path_has_an_operation_with_responses() {
        let doc = super::document();
        let paths = doc["paths"].as_object().expect("paths");
        assert!(paths.contains_key("/api/v1/alerts") && paths.contains_key("/api/v1/health"));
        for (path, item) in paths {
            let ops = item.as_object().expect("path item");
            assert!(!ops.is_empty(), "{path}");
            for (method, op) in ops {
                assert!(op["responses"].as_object().is_some_and(|r| !r.is_empty()), "{method} {path}");
                for param in op["parameters"].as_array().into_iter().flatten() {
                    if param["in"] == "path" {
                        assert!(path.contains(&format!("{{{}}}", param["name"].as_str().unwrap_or("?"))), "{path}");
                    }
                }
            }
        }
    }
}
