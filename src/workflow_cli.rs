//! `aetherveil workflow run`: runs a Cloud Workflows definition of `workflows/` by hand against a
//! running platform, with the same executor `aetherveil serve` uses for scheduled workflows.

use aetherveil_workflows::{Executor, Workflow};
use anyhow::Context;
use serde_json::{Map, Value};
use std::path::PathBuf;

#[derive(Debug, clap::Args)]
pub struct WorkflowRunArgs {
    /// A workflow file, or the name of one compiled in (`triage-and-heal`, `retrain`, `release-rollout`).
    pub file: String,
    /// A runtime argument `key=value`; the value is read as JSON when it parses, else as a string.
    #[arg(long = "arg", value_name = "KEY=VALUE")]
    pub args: Vec<String>,
    /// The platform every `AETHERVEIL_URL_*` resolves to unless set in the environment.
    #[arg(long, env = "AETHERVEIL_URL", default_value = "http://127.0.0.1:8080")]
    pub url: String,
}

/// The runtime arguments as one JSON object.
pub fn arguments(pairs: &[String]) -> anyhow::Result<Value> {
    let mut out = Map::new();
    for pair in pairs {
        let (k, v) = pair.split_once('=').with_context(|| format!("--arg {pair:?}: expected KEY=VALUE"))?;
        let value = serde_json::from_str(v).unwrap_or_else(|_| Value::String(v.to_owned()));
        out.insert(k.to_owned(), value);
    }
    Ok(Value::Object(out))
}

/// Runs the workflow, prints its result (JSON) on stdout and its HTTP calls on stderr; false when
/// it failed.
pub async fn run(a: &WorkflowRunArgs) -> anyhow::Result<bool> {
    let path = PathBuf::from(&a.file);
    let src = match std::fs::read_to_string(&path) {
        Ok(src) => src,
        Err(e) => crate::schedule::workflow(&a.file)
            .map(str::to_owned)
            .with_context(|| format!("cannot read {}: {e}", path.display()))?,
    };
    let workflow = Workflow::parse(&src).with_context(|| a.file.clone())?;
    let executor = Executor::new().base_url(&a.url).process_env(true);
    let (result, trace) = executor.run_traced(&workflow, arguments(&a.args)?).await;
    for call in &trace.http {
        let code = call.code.map_or_else(|| "no answer".to_owned(), |c| c.to_string());
        eprintln!("{} {} -> {code}", call.method, call.url);
    }
    match result {
        Ok(value) => {
            println!("{}", serde_json::to_string_pretty(&value)?);
            Ok(true)
        }
        Err(e) => {
            eprintln!("aetherveil: workflow {} failed after {} steps: {e}", a.file, trace.steps);
            Ok(false)
        }
    }
}
