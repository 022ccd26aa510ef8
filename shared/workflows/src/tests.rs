//! One test per construct, against a small HTTP server on a loopback port.

use crate::{Executor, Sleeper, Workflow, WorkflowError};
use axum::Router;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::routing::{get, post};
use serde_json::{Value, json};
use std::collections::BTreeMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// Records the waits instead of waiting.
#[derive(Default)]
struct Recorded(Mutex<Vec<f64>>);

impl Sleeper for Recorded {
    fn sleep(&self, d: Duration) -> Pin<Box<dyn Future<Output = ()> + Send + '_>> {
        self.0.lock().expect("lock").push(d.as_secs_f64());
        Box::pin(async {})
    }
}

impl Recorded {
    fn waits(&self) -> Vec<f64> {
        self.0.lock().expect("lock").clone()
    }
}

#[derive(Clone, Default)]
struct Counters(Arc<Mutex<BTreeMap<String, u32>>>);

/// `GET /flaky/{code}/{n}`: answers `code` n times per key, then 200.
async fn flaky(State(c): State<Counters>, Path((code, n)): Path<(u16, u32)>) -> (StatusCode, axum::Json<Value>) {
    let mut map = c.0.lock().expect("lock");
    let seen = map.entry(format!("{code}/{n}")).or_default();
    *seen += 1;
    if *seen <= n {
        (StatusCode::from_u16(code).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR), axum::Json(json!({"try": *seen})))
    } else {
        (StatusCode::OK, axum::Json(json!({"ok": true, "tries": *seen})))
    }
}

async fn echo(Query(q): Query<BTreeMap<String, String>>, headers: HeaderMap, body: String) -> axum::Json<Value> {
    let body: Value = serde_json::from_str(&body).unwrap_or(Value::String(body));
    let h = headers.get("x-token").and_then(|v| v.to_str().ok()).unwrap_or("").to_owned();
    axum::Json(json!({"query": q, "body": body, "x_token": h}))
}

async fn server() -> String {
    let app = Router::new()
        .route("/echo", get(echo).post(echo).put(echo).patch(echo).delete(echo))
        .route("/text", get(|| async { "plain words" }))
        .route("/flaky/{code}/{n}", get(flaky))
        .route(
            "/status/{code}",
            post(|Path(code): Path<u16>| async move { StatusCode::from_u16(code).unwrap_or(StatusCode::OK) }),
        )
        .with_state(Counters::default());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    tokio::spawn(async move {
        let _ignored = axum::serve(listener, app).await;
    });
    format!("http://{addr}")
}

async fn run_with(src: &str, args: Value, exec: &Executor) -> Result<Value, WorkflowError> {
    let wf = Workflow::parse(src).unwrap_or_else(|e| panic!("does not parse: {e}"));
    exec.run(&wf, args).await
}

async fn run(src: &str, args: Value) -> Value {
    run_with(src, args, &Executor::new()).await.unwrap_or_else(|e| panic!("run failed: {e}"))
}

fn rejected(src: &str) -> WorkflowError {
    match Workflow::parse(src) {
        Ok(_) => panic!("accepted:\n{src}"),
        Err(e) => e,
    }
}

#[tokio::test]
async fn assign_and_return_with_expressions() {
    let src = r#"
main:
  params: [args]
  steps:
    - init:
        assign:
          - total: ${args.a + args.b}
          - report: {}
          - report.sum: ${total}
          - report["label"]: ${"sum of " + string(len(args.list)) + " numbers"}
          - args.list[0]: 100
          - first: ${args.list[0]}
    - done:
        return: ${[report, first, total / 2, not (total > 3) or total == 5]}
"#;
    let out = run(src, json!({"a": 2, "b": 3, "list": [1, 2]})).await;
    assert_eq!(out, json!([{"sum": 5, "label": "sum of 2 numbers"}, 100, 2.5, true]));
}

#[tokio::test]
async fn subworkflows_take_args_and_defaults() {
    let src = r#"
main:
  steps:
    - one:
        call: greet
        args:
          name: "Ada"
        result: a
    - two:
        call: greet
        args:
          name: "Bob"
          greeting: "Bye"
        result: b
    - out:
        return: ${a + " / " + b}
greet:
  params: [name, greeting: "Hello"]
  steps:
    - say:
        return: ${greeting + " " + name}
"#;
    assert_eq!(run(src, Value::Null).await, json!("Hello Ada / Bye Bob"));
}

#[tokio::test]
async fn switch_next_and_end() {
    let src = r#"
main:
  params: [args]
  steps:
    - pick:
        switch:
          - condition: ${args.n > 10}
            next: big
          - condition: ${args.n == 0}
            steps:
              - zero:
                  return: "zero"
          - condition: ${args.n < 0}
            steps:
              - negative:
                  raise: "negative"
          - condition: true
            steps:
              - small:
                  assign:
                    - label: "small"
            next: out
    - big:
        assign:
          - label: "big"
    - out:
        switch:
          - condition: ${args.n == 99}
            steps:
              - inner:
                  assign:
                    - label: ${label + "!"}
        next: finish
    - skipped:
        assign:
          - label: "never"
    - finish:
        return: ${label}
"#;
    assert_eq!(run(src, json!({"n": 11})).await, json!("big"));
    assert_eq!(run(src, json!({"n": 3})).await, json!("small"));
    assert_eq!(run(src, json!({"n": 0})).await, json!("zero"));
    assert_eq!(run(src, json!({"n": 99})).await, json!("big!"));
    let err = run_with(src, json!({"n": -1}), &Executor::new()).await.expect_err("raises");
    assert!(matches!(err, WorkflowError::Raised { ref value, .. } if value == "negative"), "{err}");
    let end = r#"
- a:
    next: end
- b:
    return: 1
"#;
    assert_eq!(run(end, Value::Null).await, Value::Null);
}

#[tokio::test]
async fn for_loops_over_lists_and_ranges() {
    let src = r#"
main:
  steps:
    - init:
        assign:
          - sum: 0
          - seen: []
    - over_list:
        for:
          value: v
          index: i
          in: ${[5, 6, 7, 8]}
          steps:
            - skip_six:
                switch:
                  - condition: ${v == 6}
                    next: continue
                  - condition: ${v == 8}
                    next: break
            - add:
                assign:
                  - sum: ${sum + v}
                  - seen: ${seen + [i]}
                  - scratch: 1
    - over_range:
        for:
          value: n
          range: [1, 3]
          steps:
            - add:
                assign:
                  - sum: ${sum + n * 100}
    - out:
        return: '${[sum, seen, "scratch" in keys({"sum": 0}), default(map.get({"s": null}, "s"), "gone")]}'
"#;
    assert_eq!(run(src, Value::Null).await, json!([612, [0, 2], false, "gone"]));
    // The loop's own variables are gone after it.
    let scoped = r#"
- loop:
    for:
      value: v
      in: [1]
      steps:
        - made:
            assign:
              - inner: ${v}
- out:
    return: ${inner}
"#;
    let err = run_with(scoped, Value::Null, &Executor::new()).await.expect_err("inner is out of scope");
    assert!(err.to_string().contains("variable not found: inner"), "{err}");
}

#[tokio::test]
async fn try_except_catches_raised_and_expression_errors() {
    let src = r#"
main:
  steps:
    - guarded:
        try:
          steps:
            - bad:
                raise:
                  code: 42
                  message: "custom"
        except:
          as: e
          steps:
            - caught:
                assign:
                  - got: ${e.code}
    - typed:
        try:
          steps:
            - divide:
                assign:
                  - x: ${1 / 0}
        except:
          as: e
          steps:
            - tag:
                assign:
                  - tag: ${e.tags[0]}
    - out:
        return: ${[got, tag]}
"#;
    assert_eq!(run(src, Value::Null).await, json!([42, "ZeroDivisionError"]));
}

#[tokio::test]
async fn http_calls_send_args_and_parse_answers() {
    let base = server().await;
    let src = r#"
main:
  params: [args]
  steps:
    - post:
        call: http.post
        args:
          url: ${sys.get_env("AETHERVEIL_URL_TEST") + "/echo"}
          query:
            repo: ${args.repo}
            n: 3
          headers:
            x-token: "t0k"
          body:
            hello: ${args.repo}
          timeout: 5
          auth:
            type: OIDC
        result: r
    - text:
        call: http.get
        args:
          url: ${sys.get_env("AETHERVEIL_URL_TEST") + "/text"}
        result: t
    - out:
        return: ${[r.code, r.body.query, r.body.body, r.body.x_token, t.body]}
"#;
    let exec = Executor::new().base_url(&base);
    let wf = Workflow::parse(src).expect("parses");
    let (out, trace) = exec.run_traced(&wf, json!({"repo": "o/r"})).await;
    assert_eq!(out.expect("runs"), json!([200, {"repo": "o/r", "n": "3"}, {"hello": "o/r"}, "t0k", "plain words"]));
    assert_eq!(trace.http.len(), 2);
    assert_eq!(trace.http[0].method, "POST");
    assert_eq!(trace.http[1].code, Some(200));
    assert_eq!(wf.http_calls(), vec![("POST", "{}/echo".to_owned()), ("GET", "{}/text".to_owned())]);
}

#[tokio::test]
async fn http_errors_are_raised_with_workflows_tags() {
    let base = server().await;
    let src = r#"
main:
  params: [args]
  steps:
    - call:
        try:
          call: http.post
          args:
            url: ${args.url}
        except:
          as: e
          steps:
            - out:
                return: ${[default(map.get(e, "code"), 0), e.tags]}
"#;
    let exec = Executor::new();
    let got = run_with(src, json!({"url": format!("{base}/status/404")}), &exec).await.expect("runs");
    assert_eq!(got, json!([404, ["HttpError"]]));
    // Nothing listens on port 9 of loopback.
    let got = run_with(src, json!({"url": "http://127.0.0.1:9/x"}), &exec).await.expect("runs");
    assert_eq!(got[1][1], json!("ConnectionError"));
}

#[tokio::test]
async fn default_http_retry_backs_off_on_503() {
    let base = server().await;
    let src = r#"
main:
  params: [args]
  steps:
    - call:
        try:
          call: http.get
          args:
            url: ${args.base + "/flaky/503/3"}
          result: r
        retry: ${http.default_retry}
    - out:
        return: ${r.body.tries}
"#;
    let sleeper = Arc::new(Recorded::default());
    let exec = Executor::new().sleeper(sleeper.clone());
    assert_eq!(run_with(src, json!({"base": base}), &exec).await.expect("runs"), json!(4));
    assert_eq!(sleeper.waits(), vec![1.0, 1.25, 1.5625]);
}

#[tokio::test]
async fn custom_predicate_retries_5xx_with_backoff_until_max_retries() {
    let base = server().await;
    let src = r#"
main:
  params: [args]
  steps:
    - call:
        try:
          call: http.get
          args:
            url: ${args.base + "/flaky/500/" + string(args.failures)}
          result: r
        retry:
          predicate: ${server_error}
          max_retries: 3
          backoff:
            initial_delay: 2
            max_delay: 5
            multiplier: 2
    - out:
        return: ${r.code}
server_error:
  params: [e]
  steps:
    - check:
        switch:
          - condition: ${"HttpError" in e.tags and e.code >= 500}
            steps:
              - retry_it:
                  return: true
    - give_up:
        return: false
"#;
    let sleeper = Arc::new(Recorded::default());
    let exec = Executor::new().sleeper(sleeper.clone());
    assert_eq!(run_with(src, json!({"base": base, "failures": 2}), &exec).await.expect("runs"), json!(200));
    assert_eq!(sleeper.waits(), vec![2.0, 4.0]);
    let sleeper = Arc::new(Recorded::default());
    let exec = Executor::new().sleeper(sleeper.clone());
    let err = run_with(src, json!({"base": base, "failures": 10}), &exec).await.expect_err("gives up");
    match err {
        WorkflowError::Raised { value, at } => {
            assert_eq!(value["code"], 500);
            assert_eq!(at.path, "main.steps[0].call");
        }
        other => panic!("{other}"),
    }
    assert_eq!(sleeper.waits(), vec![2.0, 4.0, 5.0]);
}

#[tokio::test]
async fn sys_sleep_and_log_use_the_sleeper() {
    let src = r#"
- wait:
    call: sys.sleep
    args:
      seconds: 30
- note:
    call: sys.log
    args:
      text: "waited"
      severity: INFO
- out:
    return: "ok"
"#;
    let sleeper = Arc::new(Recorded::default());
    let exec = Executor::new().sleeper(sleeper.clone());
    assert_eq!(run_with(src, Value::Null, &exec).await.expect("runs"), json!("ok"));
    assert_eq!(sleeper.waits(), vec![30.0]);
}

#[tokio::test]
async fn a_loop_without_end_stops_at_the_step_limit() {
    let src = r#"
- a:
    next: b
- b:
    next: a
"#;
    let err = run_with(src, Value::Null, &Executor::new().max_steps(50)).await.expect_err("stops");
    assert!(matches!(err, WorkflowError::StepLimit { limit: 50 }), "{err}");
}

#[test]
fn unsupported_step_keys_are_refused_with_their_line() {
    let e = rejected(
        "main:
  steps:
    - first:
        assign:
          - x: 1
    - second:
        parallel:
          branches: []
",
    );
    assert!(matches!(&e, WorkflowError::Unsupported { construct, .. } if construct == "step key `parallel`"), "{e}");
    assert_eq!(e.line(), Some(7), "{e}");
    assert_eq!(e.to_string(), "line 7 (main.steps[1].second.parallel): unsupported step key `parallel`");
}

#[test]
fn unsupported_calls_functions_and_arguments_are_refused_with_their_line() {
    let e = rejected(
        "main:
  steps:
    - q:
        call: googleapis.pubsub.v1.projects.topics.publish
        args:
          topic: t
",
    );
    assert_eq!(e.line(), Some(4), "{e}");
    assert!(e.to_string().contains("unsupported call `googleapis.pubsub.v1.projects.topics.publish`"), "{e}");

    let e = rejected(
        "main:
  steps:
    - a:
        assign:
          - x: 1
          - y: ${list.concat([], x)}
",
    );
    assert_eq!(e.line(), Some(6), "{e}");
    assert!(e.to_string().contains("unsupported function `list.concat`"), "{e}");

    let e = rejected(
        "main:
  steps:
    - get:
        call: http.get
        args:
          url: http://x
          private_service_name: svc
",
    );
    assert_eq!(e.line(), Some(7), "{e}");
    assert!(e.to_string().contains("unsupported argument of http.get `private_service_name`"), "{e}");

    let e = rejected(
        "main:
  steps:
    - t:
        try:
          steps:
            - x:
                return: 1
        retry: ${custom.policy}
",
    );
    assert_eq!(e.line(), Some(8), "{e}");
    assert!(e.to_string().contains("unsupported retry policy"), "{e}");
}

#[test]
fn dangling_references_are_refused() {
    let e = rejected(
        "main:
  steps:
    - a:
        next: nowhere
",
    );
    assert!(e.to_string().contains("no step named `nowhere`"), "{e}");
    assert_eq!(e.line(), Some(3));
    let e = rejected(
        "main:
  steps:
    - a:
        call: helper
        args:
          x: 1
helper:
  params: [y]
  steps:
    - r:
        return: ${y}
",
    );
    assert!(e.to_string().contains("needs the argument `y`"), "{e}");
    // Only the documented switch keys: an inline `return` belongs in the condition's `steps`.
    let e = rejected(
        "main:
  steps:
    - s:
        switch:
          - condition: true
            return: 1
",
    );
    assert_eq!(e.line(), Some(6), "{e}");
    assert!(e.to_string().contains("unsupported switch key `return`"), "{e}");
    let e = rejected("sub:\n  steps:\n    - a:\n        return: 1\n");
    assert!(e.to_string().contains("no `main`"), "{e}");
    let e = rejected("main:\n  steps:\n    - a:\n        assign:\n          - x: 1\n        return: 2\n");
    assert!(e.to_string().contains("does one thing"), "{e}");
}

#[test]
fn the_repository_workflows_parse() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../workflows");
    let mut seen = 0;
    for entry in std::fs::read_dir(&dir).expect("workflows/") {
        let path = entry.expect("entry").path();
        if path.extension().is_some_and(|e| e == "yaml") {
            let src = std::fs::read_to_string(&path).expect("read");
            if let Err(e) = Workflow::parse(&src) {
                panic!("{}: {e}", path.display());
            }
            seen += 1;
        }
    }
    assert!(seen >= 3, "expected the three workflows in {}, found {seen}", dir.display());
}
