//! `aetherveil plan --run <id>`: asks a running platform's council for a plan about a run (or a
//! repository) and prints its explanation.

use serde_json::{Value, json};

#[derive(Debug, clap::Args)]
pub struct PlanArgs {
    /// The workflow run to plan for (its repository, diagnoses and the rest are read by the platform).
    #[arg(long)]
    pub run: Option<u64>,
    /// A repository (`owner/name`) to plan for without a run.
    #[arg(long)]
    pub repo: Option<String>,
    /// An action to decide about, such as `promote_release`.
    #[arg(long)]
    pub propose: Option<String>,
    /// The platform's address.
    #[arg(long, env = "AETHERVEIL_URL", default_value = "http://127.0.0.1:8080")]
    pub url: String,
    /// Print the plan as JSON instead of its explanation.
    #[arg(long)]
    pub json: bool,
}

/// Runs the command: `Ok(true)` when a plan was produced.
pub async fn run(args: &PlanArgs) -> Result<bool, reqwest::Error> {
    if args.run.is_none() && args.repo.is_none() {
        eprintln!("aetherveil plan: give --run <id> or --repo owner/name");
        return Ok(false);
    }
    let body = json!({"run_id": args.run, "repo": args.repo, "proposed_action": args.propose});
    let url = format!("{}{}", args.url.trim_end_matches('/'), crate::names::API_PATH);
    let resp = reqwest::Client::new().post(&url).json(&body).send().await?;
    let status = resp.status();
    let plan: Value = resp.json().await.unwrap_or(Value::Null);
    if !status.is_success() {
        let message = plan["message"].as_str().unwrap_or("no message");
        eprintln!("aetherveil plan: {url} answered {status}: {message}");
        return Ok(false);
    }
    if args.json {
        println!("{plan:#}");
    } else {
        for line in plan["explanation"].as_array().into_iter().flatten() {
            println!("{}", line.as_str().unwrap_or_default());
        }
    }
    Ok(true)
}
