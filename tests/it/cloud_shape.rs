//! The Google Cloud shape agrees with the code: every function of the registry has its Cloud Run
//! service (and nothing else does), every topic the code publishes to is declared, every event
//! function has a push subscription on its topic, every query the code declares has its Firestore
//! index, every Scheduler job targets something that exists, the env vars Terraform sets are
//! config keys, and `terraform fmt` and `shellcheck` pass.
//!
//! Terraform cannot plan here (providers are not downloadable), so these tests read the HCL with
//! `hcl-rs` and check the declarations the resources are generated from (`local.all_functions`,
//! `local.topics`, `local.indexes`, scheduler/jobs.yaml) and how the resources use them.

use aetherveil::serve::Host;
use aetherveil::topics::TOPICS;
use aetherveil_config::{Config, Overrides};
use aetherveil_runtime::FunctionKind;
use hcl::{Block, Body, Expression, ObjectKey};
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::Command;

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// Every `.tf` file of terraform/, parsed.
fn terraform() -> Vec<(PathBuf, Body)> {
    let dir = root().join("terraform");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", dir.display()))
        .map(|e| e.expect("dir entry").path())
        .filter(|p| p.extension().is_some_and(|x| x == "tf"))
        .collect();
    files.sort();
    assert!(!files.is_empty(), "no .tf file in {}", dir.display());
    files
        .into_iter()
        .map(|p| {
            let text = std::fs::read_to_string(&p).unwrap_or_else(|e| panic!("cannot read {}: {e}", p.display()));
            let body = hcl::parse(&text).unwrap_or_else(|e| panic!("{} does not parse: {e}", p.display()));
            (p, body)
        })
        .collect()
}

/// Every attribute of every `locals` block.
fn locals(tf: &[(PathBuf, Body)]) -> BTreeMap<String, Expression> {
    let mut out = BTreeMap::new();
    for (path, body) in tf {
        for block in body.blocks().filter(|b| b.identifier() == "locals") {
            for attr in block.body().attributes() {
                let previous = out.insert(attr.key().to_owned(), attr.expr().clone());
                assert!(previous.is_none(), "local.{} is defined twice (again in {})", attr.key(), path.display());
            }
        }
    }
    out
}

fn local<'a>(locals: &'a BTreeMap<String, Expression>, name: &str) -> &'a Expression {
    locals.get(name).unwrap_or_else(|| panic!("terraform declares no local.{name}"))
}

/// `resource "<kind>" "<name>"`.
fn resource<'a>(tf: &'a [(PathBuf, Body)], kind: &str, name: &str) -> &'a Block {
    tf.iter()
        .flat_map(|(_, body)| body.blocks())
        .find(|b| {
            b.identifier() == "resource"
                && b.labels().first().is_some_and(|l| l.as_str() == kind)
                && b.labels().get(1).is_some_and(|l| l.as_str() == name)
        })
        .unwrap_or_else(|| panic!("terraform declares no resource {kind}.{name}"))
}

fn attr<'a>(block: &'a Block, key: &str) -> &'a Expression {
    block
        .body()
        .attributes()
        .find(|a| a.key() == key)
        .map(|a| a.expr())
        .unwrap_or_else(|| panic!("{} {:?} has no `{key}`", block.identifier(), labels(block)))
}

fn child<'a>(block: &'a Block, identifier: &str) -> &'a Block {
    block
        .body()
        .blocks()
        .find(|b| b.identifier() == identifier)
        .unwrap_or_else(|| panic!("{} {:?} has no `{identifier}` block", block.identifier(), labels(block)))
}

fn labels(block: &Block) -> Vec<&str> {
    block.labels().iter().map(|l| l.as_str()).collect()
}

fn key_str(key: &ObjectKey) -> String {
    match key {
        ObjectKey::Identifier(id) => id.as_str().to_owned(),
        ObjectKey::Expression(Expression::String(s)) => s.clone(),
        other => panic!("object key is not a literal: {other:?}"),
    }
}

fn object(expr: &Expression) -> Vec<(String, &Expression)> {
    match expr {
        Expression::Object(o) => o.iter().map(|(k, v)| (key_str(k), v)).collect(),
        other => panic!("expected an object literal, found {other}"),
    }
}

fn field<'a>(expr: &'a Expression, key: &str) -> &'a Expression {
    object(expr).into_iter().find(|(k, _)| k == key).map(|(_, v)| v).unwrap_or_else(|| panic!("no `{key}` in {expr}"))
}

fn string(expr: &Expression) -> String {
    match expr {
        Expression::String(s) => s.clone(),
        other => panic!("expected a string literal, found {other}"),
    }
}

fn strings(expr: &Expression) -> Vec<String> {
    match expr {
        Expression::Array(items) => items.iter().map(string).collect(),
        other => panic!("expected a list of strings, found {other}"),
    }
}

/// A function of `local.all_functions`.
#[derive(Debug)]
struct TfFunction {
    kind: String,
    topic: String,
    publishes: Vec<String>,
}

fn tf_functions(locals: &BTreeMap<String, Expression>) -> BTreeMap<String, TfFunction> {
    object(local(locals, "all_functions"))
        .into_iter()
        .map(|(name, f)| {
            let function = TfFunction {
                kind: string(field(f, "kind")),
                topic: string(field(f, "topic")),
                publishes: strings(field(f, "publishes")),
            };
            (name, function)
        })
        .collect()
}

/// What the registry of a default-configured host holds: name → the topic of an event function
/// (`None` for an HTTP function).
async fn registry() -> BTreeMap<String, Option<String>> {
    let dir = tempfile::tempdir().expect("tempdir");
    let env = [("AETHERVEIL_WEBHOOK_SECRET".to_owned(), "cloud-shape".to_owned())];
    let config = Config::load_from(None, env, &Overrides { addr: None, data_dir: Some(dir.path().to_path_buf()) })
        .expect("default config");
    let host = Host::open(config).expect("open host");
    let names = host.registry().names();
    let mut out = BTreeMap::new();
    for name in names {
        let function = host.registry().take(name).expect("a listed function");
        let topic = match function.kind {
            FunctionKind::Http(_) => None,
            FunctionKind::Event { topic, .. } => Some(topic.to_owned()),
        };
        assert!(out.insert(name.to_owned(), topic).is_none(), "{name} is registered twice");
    }
    out
}

#[test]
fn every_terraform_file_parses_and_declares_the_shape() {
    let tf = terraform();
    for (kind, name) in [
        ("google_cloud_run_v2_service", "function"),
        ("google_pubsub_topic", "topic"),
        ("google_pubsub_topic", "dead_letter"),
        ("google_pubsub_subscription", "push"),
        ("google_pubsub_subscription", "dead_letter"),
        ("google_firestore_database", "main"),
        ("google_firestore_index", "query"),
        ("google_storage_bucket", "blobs"),
        ("google_secret_manager_secret", "secret"),
        ("google_service_account", "function"),
        ("google_workflows_workflow", "workflow"),
        ("google_cloud_scheduler_job", "function"),
        ("google_cloud_scheduler_job", "workflow"),
        ("google_monitoring_dashboard", "main"),
    ] {
        resource(&tf, kind, name);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_registry_function_has_a_cloud_run_service_and_nothing_else_does() {
    let registry = registry().await;
    let tf = terraform();
    let locals = locals(&tf);
    let functions = tf_functions(&locals);
    let declared: BTreeSet<&String> = functions.keys().collect();
    let registered: BTreeSet<&String> = registry.keys().collect();
    assert_eq!(
        declared, registered,
        "local.all_functions (terraform/functions.tf) must list exactly the FUNCTION_TARGETs of Host::registry: \
         a registry entry without a service is never deployed, a service without an entry cannot start"
    );
    for (name, topic) in &registry {
        let f = &functions[name];
        match topic {
            None => assert_eq!(f.kind, "http", "{name} is an HTTP function"),
            Some(t) => {
                assert_eq!(f.kind, "event", "{name} is an event function");
                assert_eq!(&f.topic, t, "{name} reads topic {t}");
            }
        }
    }

    // One service per function, running the function named by its key.
    let service = resource(&tf, "google_cloud_run_v2_service", "function");
    assert_eq!(attr(service, "for_each").to_string(), "local.functions");
    let functions_expr = local(&locals, "functions").to_string();
    assert!(functions_expr.contains("local.all_functions"), "local.functions filters local.all_functions");
    let container = child(child(service, "template"), "containers");
    let target = container
        .body()
        .blocks()
        .filter(|b| b.identifier() == "env")
        .find(|b| b.body().attributes().any(|a| a.key() == "name" && a.expr().to_string() == "\"FUNCTION_TARGET\""))
        .expect("the function container sets FUNCTION_TARGET");
    assert_eq!(attr(target, "value").to_string(), "each.key", "FUNCTION_TARGET is the function's name");
}

#[test]
fn every_topic_the_code_publishes_to_is_declared() {
    // TOPICS is complete: every `TOPIC_*` constant of the sources is in it.
    let pattern = regex::Regex::new(r#"pub const TOPIC_[A-Z_]+: &str = "([^"]+)";"#).expect("regex");
    let mut in_sources = BTreeSet::new();
    for file in rust_sources() {
        let text = std::fs::read_to_string(&file).expect("read source");
        for c in pattern.captures_iter(&text) {
            in_sources.insert(c[1].to_owned());
        }
    }
    assert!(in_sources.len() >= 5, "found only {in_sources:?}: did the constants move?");
    let listed: BTreeSet<String> = TOPICS.iter().map(|t| (*t).to_owned()).collect();
    assert_eq!(in_sources, listed, "aetherveil::topics::TOPICS must name every TOPIC_* constant");

    let tf = terraform();
    let locals = locals(&tf);
    let declared: BTreeSet<String> = object(local(&locals, "topics")).into_iter().map(|(k, _)| k).collect();
    assert_eq!(declared, listed, "local.topics (terraform/functions.tf) must declare exactly the code's topics");
    let topic = resource(&tf, "google_pubsub_topic", "topic");
    assert_eq!(attr(topic, "for_each").to_string(), "local.topics");
    assert_eq!(attr(topic, "name").to_string(), "each.key", "topic ids are the code's topic names");
    assert_eq!(attr(resource(&tf, "google_pubsub_topic", "dead_letter"), "for_each").to_string(), "local.topics");

    // Each topic has a publisher, and publishers publish on declared topics only.
    let functions = tf_functions(&locals);
    for t in &listed {
        assert!(
            functions.values().any(|f| f.publishes.contains(t)),
            "no function of local.all_functions publishes on {t}: its publisher would be refused by IAM"
        );
    }
    for (name, f) in &functions {
        for t in &f.publishes {
            assert!(listed.contains(t), "{name} publishes on {t}, which is not a topic of the code");
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_event_function_has_a_push_subscription_on_its_topic() {
    let registry = registry().await;
    let tf = terraform();
    let locals = locals(&tf);
    let functions = tf_functions(&locals);
    let events = local(&locals, "event_functions").to_string();
    assert!(
        events.contains("local.functions") && events.contains("f.kind == \"event\""),
        "local.event_functions is the event functions of local.functions: {events}"
    );
    for (name, topic) in registry.iter().filter_map(|(n, t)| t.as_ref().map(|t| (n, t))) {
        let f = functions.get(name).unwrap_or_else(|| panic!("event function {name} is not in local.all_functions"));
        assert_eq!(&f.topic, topic, "{name}'s subscription reads {topic}");
    }

    let push = resource(&tf, "google_pubsub_subscription", "push");
    assert_eq!(attr(push, "for_each").to_string(), "local.event_functions");
    assert_eq!(attr(push, "name").to_string(), "each.key", "a subscription is named like its function");
    assert_eq!(attr(push, "topic").to_string(), "google_pubsub_topic.topic[each.value.topic].id");
    assert_eq!(attr(push, "enable_message_ordering").to_string(), "true");
    let config = child(push, "push_config");
    assert!(
        attr(config, "push_endpoint").to_string().contains("google_cloud_run_v2_service.function[each.key].uri"),
        "pushes to the function's own service"
    );
    assert!(
        config.body().blocks().all(|b| b.identifier() != "no_wrapper"),
        "the push body must be the envelope aetherveil_runtime::cloudevent decodes"
    );
    let oidc = child(config, "oidc_token");
    assert!(attr(oidc, "service_account_email").to_string().contains("google_service_account.push"));
    assert_eq!(attr(oidc, "audience").to_string(), "google_cloud_run_v2_service.function[each.key].uri");
    child(push, "retry_policy");
    let dead = child(push, "dead_letter_policy");
    assert_eq!(attr(dead, "dead_letter_topic").to_string(), "google_pubsub_topic.dead_letter[each.value.topic].id");

    // The push identity may invoke exactly the event functions.
    let invoker = resource(&tf, "google_cloud_run_v2_service_iam_member", "push_invoker");
    assert_eq!(attr(invoker, "for_each").to_string(), "local.event_functions");
}

#[test]
fn every_query_the_code_declares_has_a_firestore_index() {
    // Every `INDEXES` constant of the sources, by the crate that declares it.
    let declared: &[&[(&str, &[&str])]] = &[
        aetherveil_models::names::INDEXES,
        aetherveil_dashboard::names::INDEXES,
        aetherveil_gate::names::INDEXES,
        aetherveil_ado::names::INDEXES,
        aetherveil_logscan::names::INDEXES,
        aetherveil_monitor::names::INDEXES,
        aetherveil_healer::names::INDEXES,
    ];
    let constants = rust_sources()
        .into_iter()
        .filter(|f| std::fs::read_to_string(f).is_ok_and(|t| t.contains("pub const INDEXES: &[(&str, &[&str])]")))
        .count();
    assert_eq!(constants, declared.len(), "a crate declares INDEXES that this test does not read yet");

    let tf = terraform();
    let locals = locals(&tf);
    let indexes: BTreeSet<(String, Vec<String>)> = match local(&locals, "indexes") {
        Expression::Array(items) => {
            items.iter().map(|ix| (string(field(ix, "collection")), strings(field(ix, "fields")))).collect()
        }
        other => panic!("local.indexes is not a list: {other}"),
    };
    let mut wanted = BTreeSet::new();
    for set in declared {
        for (collection, fields) in *set {
            // Firestore indexes single fields by itself.
            if fields.len() >= 2 {
                wanted.insert(((*collection).to_owned(), fields.iter().map(|f| (*f).to_owned()).collect::<Vec<_>>()));
            }
        }
    }
    let missing: Vec<_> = wanted.difference(&indexes).collect();
    assert!(missing.is_empty(), "queries without a composite index in terraform/firestore.tf: {missing:?}");
    // Beyond the code's declarations, only the outbox relay's scan.
    let outbox = (
        aetherveil_store::outbox::COLLECTION.to_owned(),
        vec!["published".to_owned(), "origin".to_owned(), "created_at".to_owned()],
    );
    let extra: Vec<_> = indexes.difference(&wanted).filter(|ix| **ix != outbox).collect();
    assert!(extra.is_empty(), "indexes no code declares (stale?): {extra:?}");
    assert!(indexes.contains(&outbox), "the outbox relay's scan needs its index");
}

/// The problems of a scheduler/jobs.yaml against the deployed functions and the workflow files.
fn scheduler_problems(yaml: &str, functions: &BTreeSet<String>, workflows: &BTreeSet<String>) -> Vec<String> {
    let doc: serde_norway::Value = match serde_norway::from_str(yaml) {
        Ok(d) => d,
        Err(e) => return vec![format!("not YAML: {e}")],
    };
    let Some(jobs) = doc.get("jobs").and_then(|j| j.as_sequence()) else {
        return vec!["no `jobs:` list".to_owned()];
    };
    let name_ok = regex::Regex::new("^[a-z0-9-]+$").expect("regex");
    let mut problems = Vec::new();
    let mut names = BTreeSet::new();
    for job in jobs {
        let text = |k: &str| job.get(k).and_then(|v| v.as_str()).map(str::to_owned);
        let name = text("name").unwrap_or_default();
        if !name_ok.is_match(&name) {
            problems.push(format!("job {name:?}: the name must be [a-z0-9-]+"));
        }
        if !names.insert(name.clone()) {
            problems.push(format!("job {name}: declared twice"));
        }
        if text("schedule").is_none_or(|s| s.split_whitespace().count() != 5) {
            problems.push(format!("job {name}: `schedule` must be a 5-field cron expression"));
        }
        match (text("function"), text("workflow")) {
            (Some(f), None) => {
                if !functions.contains(&f) {
                    problems.push(format!("job {name}: function {f} is not a function of terraform/functions.tf"));
                }
                if text("path").is_none_or(|p| !p.starts_with('/')) {
                    problems.push(format!("job {name}: a function target needs a `path` starting with /"));
                }
            }
            (None, Some(w)) => {
                if !workflows.contains(&w) {
                    problems.push(format!("job {name}: workflows/{w}.yaml does not exist"));
                }
            }
            _ => problems.push(format!("job {name}: name exactly one of `function` and `workflow`")),
        }
    }
    problems
}

fn workflow_files() -> BTreeSet<String> {
    let dir = root().join("workflows");
    std::fs::read_dir(&dir)
        .map(|entries| {
            entries
                .filter_map(|e| e.ok())
                .filter_map(|e| e.file_name().to_str().and_then(|n| n.strip_suffix(".yaml")).map(str::to_owned))
                .collect()
        })
        .unwrap_or_default()
}

#[test]
fn every_scheduler_job_targets_a_deployed_function_or_workflow() {
    let tf = terraform();
    let locals = locals(&tf);
    assert!(
        local(&locals, "scheduler_file").to_string().contains("/../scheduler/jobs.yaml"),
        "the Scheduler jobs come from scheduler/jobs.yaml"
    );
    assert!(local(&locals, "workflow_files").to_string().contains("/../workflows"), "workflows come from workflows/");
    let functions: BTreeSet<String> = tf_functions(&locals).into_keys().collect();
    let path = root().join("scheduler/jobs.yaml");
    let yaml = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("{} is missing ({e}): terraform/scheduler.tf reads it", path.display()));
    let problems = scheduler_problems(&yaml, &functions, &workflow_files());
    assert!(problems.is_empty(), "scheduler/jobs.yaml:\n  {}", problems.join("\n  "));
}

#[test]
fn the_scheduler_check_finds_bad_jobs() {
    let functions = BTreeSet::from(["trainer".to_owned()]);
    let workflows = BTreeSet::from(["retrain".to_owned()]);
    let good = "jobs:\n  - name: retrain-models\n    schedule: \"0 3 * * *\"\n    function: trainer\n    method: POST\n    path: /trainer/run\n  - name: retrain-flow\n    schedule: \"0 4 * * *\"\n    workflow: retrain\n";
    assert_eq!(scheduler_problems(good, &functions, &workflows), Vec::<String>::new());
    let bad = "jobs:\n  - name: Bad_Name\n    schedule: \"0 3 * *\"\n    function: nope\n    path: /x\n  - name: both\n    schedule: \"0 3 * * *\"\n    function: trainer\n    workflow: retrain\n  - name: flow\n    schedule: \"0 3 * * *\"\n    workflow: missing\n";
    let problems = scheduler_problems(bad, &functions, &workflows);
    for expected in ["[a-z0-9-]+", "5-field", "function nope", "exactly one", "workflows/missing.yaml"] {
        assert!(problems.iter().any(|p| p.contains(expected)), "no problem mentions {expected:?}: {problems:?}");
    }
}

/// Services workflows call that no Cloud Run service serves yet (none now: the JSON API and the
/// web UI are the `api` function). A name listed here must not be an HTTP function of Terraform.
const PENDING_SERVICES: &[&str] = &[];

#[test]
fn every_service_url_a_workflow_reads_is_set_by_terraform() {
    let tf = terraform();
    let locals = locals(&tf);
    let env = local(&locals, "workflow_env").to_string();
    assert!(
        env.contains("AETHERVEIL_URL_${upper(replace(name, \"-\", \"_\"))}") && env.contains("local.http_functions"),
        "local.workflow_env sets AETHERVEIL_URL_<FUNCTION> for every HTTP function: {env}"
    );
    let http: BTreeSet<String> =
        tf_functions(&locals).into_iter().filter(|(_, f)| f.kind == "http").map(|(name, _)| name).collect();
    for pending in PENDING_SERVICES {
        assert!(!http.contains(*pending), "{pending} is an HTTP function now: remove it from PENDING_SERVICES");
    }
    let read = regex::Regex::new(r"AETHERVEIL_URL_([A-Z0-9_]+)").expect("regex");
    let mut unset = Vec::new();
    for file in workflow_files() {
        let path = root().join("workflows").join(format!("{file}.yaml"));
        let text = std::fs::read_to_string(&path).expect("workflow file");
        for c in read.captures_iter(&text) {
            let service = c[1].to_lowercase().replace('_', "-");
            if !http.contains(&service) && !PENDING_SERVICES.contains(&service.as_str()) {
                unset.push(format!("workflows/{file}.yaml reads AETHERVEIL_URL_{}", &c[1]));
            }
        }
    }
    assert!(unset.is_empty(), "no HTTP function of terraform/functions.tf answers: {unset:?}");
}

/// `AETHERVEIL_<SECTION>_<KEY>` of every leaf of the documented defaults.
fn config_env_names() -> BTreeSet<String> {
    fn walk(table: &toml::Table, prefix: &str, out: &mut BTreeSet<String>) {
        for (k, v) in table {
            let path = if prefix.is_empty() { k.clone() } else { format!("{prefix}_{k}") };
            match v {
                toml::Value::Table(t) => walk(t, &path, out),
                _ => {
                    out.insert(format!("AETHERVEIL_{}", path.to_uppercase()));
                }
            }
        }
    }
    let defaults: toml::Table = toml::from_str(aetherveil_config::DEFAULTS).expect("defaults parse");
    let mut out = BTreeSet::new();
    walk(&defaults, "", &mut out);
    out
}

#[test]
fn every_env_var_terraform_sets_is_a_config_key() {
    let known = config_env_names();
    let tf = terraform();
    let locals = locals(&tf);
    let env_map = local(&locals, "common_env").to_string();
    let name = regex::Regex::new(r"\bAETHERVEIL_[A-Z0-9_]+").expect("regex");
    let mut set: BTreeSet<String> = name.find_iter(&env_map).map(|m| m.as_str().to_owned()).collect();
    for (_, secret) in object(local(&locals, "secrets")) {
        set.insert(string(field(secret, "env")));
    }
    assert!(set.contains("AETHERVEIL_STORE_BACKEND") && set.contains("AETHERVEIL_WEBHOOK_SECRET"), "{set:?}");
    let unknown: Vec<_> = set.iter().filter(|n| !known.contains(*n)).collect();
    assert!(
        unknown.is_empty(),
        "terraform sets env vars that are no config key (start-up would refuse them): {unknown:?}"
    );
}

#[test]
fn the_image_runs_one_function_as_non_root() {
    let dockerfile = std::fs::read_to_string(root().join("Dockerfile")).expect("Dockerfile");
    let runtime = dockerfile.rsplit("\nFROM ").next().expect("a runtime stage");
    assert!(runtime.contains(r#"ENTRYPOINT ["/usr/local/bin/aetherveil", "run-function"]"#), "{runtime}");
    let user = runtime.lines().find_map(|l| l.strip_prefix("USER ")).expect("the runtime stage sets USER");
    assert!(!user.starts_with("root") && !user.starts_with('0'), "runs as {user}");
    assert!(runtime.contains("PORT=8080"), "a default PORT");
    let ignore = std::fs::read_to_string(root().join(".dockerignore")).expect(".dockerignore");
    assert!(ignore.lines().any(|l| l.trim() == "target"), "target/ stays out of the build context");
}

#[test]
fn deploy_sh_explains_its_phases_and_prints_them_in_a_dry_run() {
    let script = root().join("scripts/deploy.sh");
    let help = Command::new("bash").arg(&script).arg("--help").output().expect("run deploy.sh");
    assert!(help.status.success());
    let help = String::from_utf8_lossy(&help.stdout);
    for phrase in ["--phase 1", "--phase 2", "--phase 3", "--dry-run"] {
        assert!(help.contains(phrase), "--help mentions {phrase}: {help}");
    }
    let no_phase = Command::new("bash").arg(&script).output().expect("run deploy.sh");
    assert!(!no_phase.status.success());
    assert!(String::from_utf8_lossy(&no_phase.stderr).contains("--phase"), "says --phase is required");

    let dry = Command::new("bash")
        .arg(&script)
        .args(["--phase", "3", "--dry-run", "--image", "r-docker.pkg.dev/p/aetherveil/aetherveil@sha256:00"])
        .env("PROJECT", "p")
        .env("REGION", "r")
        .env("XDG_CACHE_HOME", tempfile::tempdir().expect("tempdir").path())
        .output()
        .expect("run deploy.sh");
    let out = String::from_utf8_lossy(&dry.stdout);
    assert!(dry.status.success(), "{out}\n{}", String::from_utf8_lossy(&dry.stderr));
    assert!(out.contains("terraform -chdir=") && out.contains("init") && out.contains("bucket=p-aetherveil-tfstate"));
    assert!(out.contains("-target=google_secret_manager_secret.secret"), "secrets are applied first: {out}");
}

/// Runs `tool args` in the repository when the tool is installed. Missing: fails under CI=true,
/// else skips with a printed reason.
fn run_tool(tool: &str, args: &[&str]) {
    let found = Command::new(tool).arg("--version").output().is_ok();
    if !found {
        let msg = format!("{tool} is not installed; cannot run `{tool} {}`", args.join(" "));
        if std::env::var("CI").is_ok_and(|v| v == "true") {
            panic!("{msg} (CI=true requires it)");
        }
        eprintln!("SKIPPED: {msg}");
        return;
    }
    let out = Command::new(tool).args(args).current_dir(root()).output().expect("run tool");
    assert!(
        out.status.success(),
        "`{tool} {}` failed:\n{}{}",
        args.join(" "),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn terraform_fmt_passes() {
    run_tool("terraform", &["fmt", "-check", "-recursive", "terraform/"]);
}

#[test]
fn shellcheck_passes_on_the_scripts() {
    let scripts: Vec<String> = std::fs::read_dir(root().join("scripts"))
        .expect("scripts/")
        .filter_map(|e| e.ok())
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x == "sh"))
        .map(|p| p.strip_prefix(root()).unwrap_or(&p).display().to_string())
        .collect();
    assert!(scripts.iter().any(|s| s.ends_with("deploy.sh")), "{scripts:?}");
    let args: Vec<&str> = scripts.iter().map(String::as_str).collect();
    run_tool("shellcheck", &args);
}

/// The Rust sources of the workspace (src/, functions/*/src, shared/*/src).
fn rust_sources() -> Vec<PathBuf> {
    fn walk(dir: &Path, out: &mut Vec<PathBuf>) {
        let Ok(entries) = std::fs::read_dir(dir) else { return };
        for e in entries.filter_map(|e| e.ok()) {
            let p = e.path();
            if p.is_dir() {
                walk(&p, out);
            } else if p.extension().is_some_and(|x| x == "rs") {
                out.push(p);
            }
        }
    }
    let mut out = Vec::new();
    walk(&root().join("src"), &mut out);
    for group in ["functions", "shared"] {
        if let Ok(crates) = std::fs::read_dir(root().join(group)) {
            for c in crates.filter_map(|e| e.ok()) {
                walk(&c.path().join("src"), &mut out);
            }
        }
    }
    out
}
