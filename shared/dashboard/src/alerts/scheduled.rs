//! One alert evaluation on demand (`POST /maintenance/alerts`, served by the root crate's
//! maintenance function): what Cloud Scheduler triggers on Google Cloud, where no process stays up
//! to run the evaluator's timer. The same rules, alert changes, notifications, health gauges and
//! heartbeat as a tick of the long-running evaluator, except the healing-actions counter: that one
//! belongs to the long-running evaluator of the process that exports `/metrics`, and a second
//! counter in the same process would count every action twice.

use super::Evaluator;
use crate::{Dashboard, DashboardError};
use serde_json::{Value, json};

/// One evaluation at a time in a process: the long-running evaluator and an on-demand round must
/// not both see a condition without its alert and open two (or resolve one twice).
pub(super) static EVALUATING: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

/// Evaluates the rules once and applies the changes; answers how many conditions hold and how
/// many alerts fire afterwards.
pub async fn evaluate_once(d: &Dashboard) -> Result<Value, DashboardError> {
    let _one_at_a_time = EVALUATING.lock().await;
    let evaluator = Evaluator::new(d.clone());
    let result = evaluator.round().await;
    evaluator.heartbeat(result.as_ref().err().map(ToString::to_string)).await;
    result
}

impl Evaluator {
    async fn round(&self) -> Result<Value, DashboardError> {
        let holding = self.evaluate_rules().await?;
        let firing = self.d.alerts_list(Some("firing"), 1000).await?.len();
        Ok(json!({"conditions": holding, "firing": firing}))
    }
}
