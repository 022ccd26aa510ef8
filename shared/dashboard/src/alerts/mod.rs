//! The alert evaluator: every `alerts.interval_secs`, the rules (`rules.rs`) give the conditions
//! that hold now; a condition without a firing alert opens one (one per rule and subject: this
//! is the de-duplication) and notifies "firing"; a firing alert whose condition is gone is
//! resolved and notifies "resolved". Alerts live in the `alerts` collection, so they survive a
//! restart and any instance shows them. Each tick also refreshes `aetherveil_health_score`,
//! counts new `healing_history` entries into `aetherveil_healing_actions_total`, and writes the
//! evaluator's heartbeat into `agent_state`.

pub mod notify;
pub mod rules;
pub mod scheduled;

use crate::names::{ALERTS, EVALUATOR_STATE_ID};
use crate::{Dashboard, DashboardError};
use aetherveil_models::names;
use aetherveil_runtime::metrics::{Counter, Gauge};
use aetherveil_store::{Op, Order, Query};
use chrono::Utc;
use rules::{Condition, Snapshot, severity_label};
use serde_json::{Value, json};
use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

pub struct Evaluator {
    d: Dashboard,
    client: reqwest::Client,
    /// `healing_history` read up to this timestamp; ids seen at exactly that timestamp.
    healing_cursor: Option<(String, BTreeSet<String>)>,
}

impl Evaluator {
    pub fn new(d: Dashboard) -> Self {
        Self { d, client: reqwest::Client::new(), healing_cursor: None }
    }

    pub fn spawn(mut self) -> tokio::task::JoinHandle<()> {
        tokio::spawn(async move {
            let every = Duration::from_secs(self.d.alerts.interval_secs);
            let mut ticker = tokio::time::interval(every);
            ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                ticker.tick().await;
                let result = self.tick().await;
                if let Err(e) = &result {
                    tracing::warn!(error = %e, "alert evaluation failed");
                }
                self.heartbeat(result.err().map(|e| e.to_string())).await;
            }
        })
    }

    async fn heartbeat(&self, error: Option<String>) {
        let doc = json!({"heartbeat_at": Utc::now().to_rfc3339(), "interval_secs": self.d.alerts.interval_secs, "last_error": error});
        if let Err(e) = self.d.store.put(names::AGENT_STATE, EVALUATOR_STATE_ID, doc).await {
            tracing::warn!(error = %e, "cannot record the alert evaluator's heartbeat");
        }
    }

    /// One evaluation: metrics, conditions, alert changes and their notifications.
    pub async fn tick(&mut self) -> Result<(), DashboardError> {
        let _one_at_a_time = scheduled::EVALUATING.lock().await;
        self.count_healing().await?;
        self.evaluate_rules().await.map(|_| ())
    }

    /// Health gauges, rule conditions, alert changes and their notifications; returns how many
    /// conditions hold.
    async fn evaluate_rules(&self) -> Result<usize, DashboardError> {
        let health = self.d.api_get("/api/v1/health").await?;
        let mut scores = BTreeMap::new();
        for r in health["repos"].as_array().into_iter().flatten() {
            if let (Some(name), Some(score)) = (r["repo"].as_str(), r["health"]["score"].as_f64()) {
                scores.insert(name.to_owned(), score);
                self.d.metrics.set(Gauge::HealthScore, &[("repo", name)], score);
            }
        }
        if let Some(overall) = health["overall"]["score"].as_f64() {
            self.d.metrics.set(Gauge::HealthScore, &[("repo", "*")], overall);
        }
        let repos = self.d.repos(&health).await;
        let conditions = rules::evaluate(&self.d, &Snapshot { repos, health: scores }).await?;
        let holding = conditions.len();
        self.apply(conditions).await?;
        Ok(holding)
    }

    async fn count_healing(&mut self) -> Result<(), DashboardError> {
        loop {
            let mut q = Query::new();
            if let Some((ts, _)) = &self.healing_cursor {
                q = q.filter("timestamp", Op::Ge, ts.as_str());
            }
            let docs =
                self.d.store.query(names::HEALING_HISTORY, q.order_by("timestamp", Order::Asc).limit(1000)).await?;
            let full = docs.len() == 1000;
            let mut advanced = false;
            for doc in docs {
                let ts = doc.data["timestamp"].as_str().unwrap_or("").to_owned();
                let seen = matches!(&self.healing_cursor, Some((c, ids)) if *c == ts && ids.contains(&doc.id));
                if seen {
                    continue;
                }
                let result = match doc.data["success"] {
                    Value::Bool(true) => "success",
                    Value::Bool(false) => "failure",
                    _ => "pending",
                };
                for action in doc.data["healing_actions"].as_array().into_iter().flatten() {
                    self.d.metrics.inc(
                        Counter::HealingActions,
                        &[("action", action.as_str().unwrap_or("unknown")), ("result", result)],
                    );
                }
                match &mut self.healing_cursor {
                    Some((c, ids)) if *c == ts => {
                        ids.insert(doc.id);
                    }
                    cursor => *cursor = Some((ts, BTreeSet::from([doc.id]))),
                }
                advanced = true;
            }
            if !full || !advanced {
                return Ok(());
            }
        }
    }

    async fn apply(&self, conditions: Vec<Condition>) -> Result<(), DashboardError> {
        let firing: Vec<Value> = self.d.alerts_list(Some("firing"), 1000).await?;
        let mut open: BTreeMap<String, Value> = BTreeMap::new();
        for a in firing {
            open.insert(format!("{}~{}", a["rule"].as_str().unwrap_or(""), a["subject"].as_str().unwrap_or("")), a);
        }
        let now = Utc::now();
        let mut holding = BTreeSet::new();
        let mut per_rule: BTreeMap<String, f64> =
            rules::rules(&self.d.alerts).into_iter().map(|r| (r.name, 0.0)).collect();
        for c in conditions {
            let key = c.key();
            holding.insert(key.clone());
            *per_rule.entry(c.rule.clone()).or_default() += 1.0;
            match open.get(&key) {
                Some(existing) => {
                    if existing["value"].as_f64() != Some(c.value) {
                        let id = existing["id"].as_str().unwrap_or("").to_owned();
                        let (value, summary) = (c.value, c.summary.clone());
                        aetherveil_store::update(self.d.store.as_ref(), ALERTS, &id, |cur| {
                            let mut a = cur.cloned().unwrap_or(Value::Null);
                            a["value"] = json!(value);
                            a["summary"] = json!(summary);
                            a
                        })
                        .await?;
                    }
                }
                None => {
                    let ms = now.timestamp_millis();
                    let id = format!("{key}~{ms}");
                    let alert = json!({
                        "id": id,
                        "rule": c.rule,
                        "subject": c.subject,
                        "severity": severity_label(c.severity),
                        "status": "firing",
                        "value": c.value,
                        "threshold": c.threshold,
                        "summary": c.summary,
                        "started_at": now.to_rfc3339(),
                        "started_at_ms": ms,
                        "resolved_at": null,
                        "notifications": [],
                    });
                    if self.d.store.create(ALERTS, &id, alert.clone()).await? {
                        tracing::warn!(rule = %c.rule, subject = %c.subject, summary = %c.summary, "alert firing");
                        self.notify(&id, &alert, "firing").await?;
                    }
                }
            }
        }
        for (key, alert) in open {
            if holding.contains(&key) {
                continue;
            }
            let id = alert["id"].as_str().unwrap_or("").to_owned();
            let now = Utc::now();
            let resolved = aetherveil_store::update(self.d.store.as_ref(), ALERTS, &id, |cur| {
                let mut a = cur.cloned().unwrap_or(Value::Null);
                a["status"] = json!("resolved");
                a["resolved_at"] = json!(now.to_rfc3339());
                a["resolved_at_ms"] = json!(now.timestamp_millis());
                a
            })
            .await?;
            tracing::info!(rule = %alert["rule"], subject = %alert["subject"], "alert resolved");
            self.notify(&id, &resolved, "resolved").await?;
        }
        for (rule, n) in per_rule {
            self.d.metrics.set(Gauge::AlertsFiring, &[("rule", rule.as_str())], n);
        }
        Ok(())
    }

    async fn notify(&self, id: &str, alert: &Value, event: &'static str) -> Result<(), DashboardError> {
        let sent = notify::send(&self.client, &self.d.alerts, &notify::message(alert, event)).await;
        self.d.metrics.inc(Counter::AlertNotifications, &[("event", event), ("result", sent.result)]);
        let record = json!({"event": event, "result": sent.result, "attempts": sent.attempts, "error": sent.error, "at": Utc::now().to_rfc3339()});
        aetherveil_store::update(self.d.store.as_ref(), ALERTS, id, |cur| {
            let mut a = cur.cloned().unwrap_or(Value::Null);
            if let Some(list) = a["notifications"].as_array_mut() {
                list.push(record.clone());
            } else {
                a["notifications"] = json!([record.clone()]);
            }
            a
        })
        .await?;
        Ok(())
    }
}
