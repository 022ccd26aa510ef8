//! Alert rules: the four built-in ones (failure rate, agent health, model degradation, error-rate
//! spikes) and the user's `[[alerts.rules]]`, each turned into the conditions that hold now.
//! A condition is keyed `<rule>~<subject>`; the evaluator keeps one alert per key.

use crate::data::num;
use crate::{Dashboard, DashboardError};
use aetherveil_config::{AlertKind, AlertSeverity, AlertsConfig};
use aetherveil_models::names;
use aetherveil_store::{Order, Query};
use serde_json::{Value, json};
use std::collections::BTreeMap;

/// One rule, built-in or the user's, in one shape.
#[derive(Debug, Clone)]
pub struct Rule {
    pub name: String,
    pub kind: AlertKind,
    pub threshold: f64,
    pub window: u32,
    pub min_samples: u32,
    pub repo: Option<String>,
    pub severity: AlertSeverity,
}

/// A condition that holds now.
#[derive(Debug, Clone, PartialEq)]
pub struct Condition {
    pub rule: String,
    pub subject: String,
    pub severity: AlertSeverity,
    pub value: f64,
    pub threshold: f64,
    pub summary: String,
}

impl Condition {
    pub fn key(&self) -> String {
        format!("{}~{}", self.rule, self.subject)
    }
}

/// Every rule in force.
pub fn rules(c: &AlertsConfig) -> Vec<Rule> {
    let mut out = Vec::new();
    let f = &c.failure_rate;
    if f.enabled {
        out.push(Rule {
            name: "failure_rate".into(),
            kind: AlertKind::FailureRate,
            threshold: f.threshold,
            window: f.window_runs,
            min_samples: f.min_runs,
            repo: None,
            severity: f.severity,
        });
    }
    let a = &c.agent_health;
    if a.enabled {
        out.push(Rule {
            name: "agent_health.retrying".into(),
            kind: AlertKind::AgentRetrying,
            threshold: f64::from(a.max_retrying),
            window: 1,
            min_samples: 0,
            repo: None,
            severity: a.severity,
        });
        out.push(Rule {
            name: "agent_health.backlog".into(),
            kind: AlertKind::AgentBacklog,
            threshold: a.max_backlog as f64,
            window: 1,
            min_samples: 0,
            repo: None,
            severity: a.severity,
        });
    }
    let m = &c.model_degradation;
    if m.enabled {
        out.push(Rule {
            name: "model_degradation.confidence".into(),
            kind: AlertKind::ModelConfidence,
            threshold: m.min_confidence,
            window: m.window,
            min_samples: m.min_samples,
            repo: None,
            severity: m.severity,
        });
        out.push(Rule {
            name: "model_degradation.corrections".into(),
            kind: AlertKind::ModelCorrections,
            threshold: m.max_correction_rate,
            window: m.window,
            min_samples: m.min_samples,
            repo: None,
            severity: m.severity,
        });
    }
    let e = &c.error_rate_spike;
    if e.enabled {
        out.push(Rule {
            name: "error_rate_spike".into(),
            kind: AlertKind::ErrorRateSpike,
            threshold: f64::from(e.min_open),
            window: 1,
            min_samples: 0,
            repo: None,
            severity: e.severity,
        });
    }
    for r in &c.rules {
        out.push(Rule {
            name: r.name.clone(),
            kind: r.kind,
            threshold: r.threshold,
            window: r.window,
            min_samples: r.min_samples,
            repo: Some(r.repo.clone()).filter(|s| !s.is_empty()),
            severity: r.severity,
        });
    }
    out
}

fn kind_label(k: AlertKind) -> &'static str {
    match k {
        AlertKind::FailureRate => "failure_rate",
        AlertKind::AgentRetrying => "agent_retrying",
        AlertKind::AgentBacklog => "agent_backlog",
        AlertKind::ModelConfidence => "model_confidence",
        AlertKind::ModelCorrections => "model_corrections",
        AlertKind::ErrorRateSpike => "error_rate_spike",
        AlertKind::HealthScore => "health_score",
        AlertKind::OpenAnomalies => "open_anomalies",
    }
}

pub fn severity_label(s: AlertSeverity) -> &'static str {
    match s {
        AlertSeverity::Info => "info",
        AlertSeverity::Warning => "warning",
        AlertSeverity::Critical => "critical",
    }
}

/// The rules in force, for the API and the UI.
pub fn describe(c: &AlertsConfig) -> Vec<Value> {
    rules(c)
        .iter()
        .map(|r| {
            let scope = r.repo.as_deref().map(|x| format!(" in {x}")).unwrap_or_default();
            let condition = match r.kind {
                AlertKind::FailureRate => format!("more than {:.0}% of a repository's last {} completed runs failed (at least {} runs){scope}", r.threshold * 100.0, r.window, r.min_samples),
                AlertKind::AgentRetrying => format!("a subscription has {} or more messages waiting for a retry", r.threshold),
                AlertKind::AgentBacklog => format!("a subscription has {} or more messages not yet delivered", r.threshold),
                AlertKind::ModelConfidence => format!("mean confidence of the last {} diagnoses below {:.2} (at least {}){scope}", r.window, r.threshold, r.min_samples),
                AlertKind::ModelCorrections => format!("more than {:.0}% of the last {} diagnoses with feedback were corrected (at least {}){scope}", r.threshold * 100.0, r.window, r.min_samples),
                AlertKind::ErrorRateSpike => format!("{} or more open failure_rate_spike anomalies in a repository{scope}", r.threshold),
                AlertKind::HealthScore => format!("a repository's health score below {}{scope}", r.threshold),
                AlertKind::OpenAnomalies => format!("{} or more open anomalies in a repository{scope}", r.threshold),
            };
            json!({"name": r.name, "kind": kind_label(r.kind), "severity": severity_label(r.severity), "threshold": r.threshold, "condition": condition})
        })
        .collect()
}

/// Failure share of the last `window` completed runs (latest attempt) of `repo`, and how many.
pub fn failure_share(runs: &[Value]) -> (f64, usize) {
    let done: Vec<&Value> = runs.iter().filter(|r| r["conclusion"].is_string()).collect();
    if done.is_empty() {
        return (0.0, 0);
    }
    let failed = done
        .iter()
        .filter(|r| matches!(r["conclusion"].as_str(), Some("failure" | "timed_out" | "cancelled" | "startup_failure")))
        .count();
    (failed as f64 / done.len() as f64, done.len())
}

/// What one evaluation needs, read once per tick.
pub struct Snapshot {
    pub repos: Vec<String>,
    pub health: BTreeMap<String, f64>,
}

/// The conditions that hold now, for every rule.
pub async fn evaluate(d: &Dashboard, snap: &Snapshot) -> Result<Vec<Condition>, DashboardError> {
    let mut out = Vec::new();
    let mut stats_cache = None;
    for rule in rules(&d.alerts) {
        let repos: Vec<String> = match &rule.repo {
            Some(r) => vec![r.clone()],
            None => snap.repos.clone(),
        };
        let cond = |subject: &str, value: f64, summary: String| Condition {
            rule: rule.name.clone(),
            subject: subject.to_owned(),
            severity: rule.severity,
            value,
            threshold: rule.threshold,
            summary,
        };
        match rule.kind {
            AlertKind::FailureRate => {
                for repo in &repos {
                    let runs = d
                        .store
                        .query(
                            names::RUNS,
                            Query::new()
                                .eq("repo", repo.as_str())
                                .eq("status", "completed")
                                .order_by("updated_at", Order::Desc)
                                .limit(rule.window as usize),
                        )
                        .await?;
                    let data: Vec<Value> = runs.into_iter().map(|x| x.data).collect();
                    let (share, n) = failure_share(&data);
                    if n >= rule.min_samples as usize && n > 0 && share > rule.threshold {
                        out.push(cond(
                            repo,
                            share,
                            format!(
                                "{repo}: {:.0}% of the last {n} completed runs failed (threshold {:.0}%)",
                                share * 100.0,
                                rule.threshold * 100.0
                            ),
                        ));
                    }
                }
            }
            AlertKind::AgentRetrying | AlertKind::AgentBacklog => {
                if stats_cache.is_none() {
                    stats_cache = Some(d.bus.stats().await.map_err(|e| DashboardError::Bus(e.to_string()))?);
                }
                for s in stats_cache.iter().flatten() {
                    let (value, what) = if rule.kind == AlertKind::AgentRetrying {
                        (s.retrying as f64, "waiting for a retry")
                    } else {
                        (s.backlog as f64, "not yet delivered")
                    };
                    if value >= rule.threshold {
                        out.push(cond(
                            &s.subscription,
                            value,
                            format!(
                                "subscription {}: {value} messages {what} (threshold {})",
                                s.subscription, rule.threshold
                            ),
                        ));
                    }
                }
            }
            AlertKind::ModelConfidence | AlertKind::ModelCorrections => {
                let mut q = Query::new();
                if let Some(r) = &rule.repo {
                    q = q.eq("repo", r.as_str());
                }
                let docs = d
                    .store
                    .query(names::DIAGNOSES, q.order_by("analysed_at", Order::Desc).limit(rule.window as usize))
                    .await?;
                let subject = rule.repo.clone().unwrap_or_else(|| "logscan".into());
                if rule.kind == AlertKind::ModelConfidence {
                    let c: Vec<f64> = docs.iter().filter_map(|x| num(&x.data["confidence"])).collect();
                    if c.len() >= rule.min_samples as usize && !c.is_empty() {
                        let mean = c.iter().sum::<f64>() / c.len() as f64;
                        if mean < rule.threshold {
                            out.push(cond(
                                &subject,
                                mean,
                                format!(
                                    "mean confidence of the last {} diagnoses is {mean:.2} (threshold {:.2})",
                                    c.len(),
                                    rule.threshold
                                ),
                            ));
                        }
                    }
                } else {
                    let with: Vec<&Value> =
                        docs.iter().map(|x| &x.data).filter(|x| x["feedback"].is_object()).collect();
                    if with.len() >= rule.min_samples as usize && !with.is_empty() {
                        let corrected = with.iter().filter(|x| x["feedback"]["cause"] != x["cause"]).count();
                        let share = corrected as f64 / with.len() as f64;
                        if share > rule.threshold {
                            out.push(cond(
                                &subject,
                                share,
                                format!(
                                    "{corrected} of {} diagnoses with feedback were corrected (threshold {:.0}%)",
                                    with.len(),
                                    rule.threshold * 100.0
                                ),
                            ));
                        }
                    }
                }
            }
            AlertKind::ErrorRateSpike | AlertKind::OpenAnomalies => {
                for repo in &repos {
                    let mut q = Query::new().eq("repo", repo.as_str()).eq("status", "open");
                    let kind = rule.kind == AlertKind::ErrorRateSpike;
                    let docs = d
                        .store
                        .query(names::ANOMALIES, std::mem::take(&mut q).order_by("last_at_ms", Order::Desc).limit(1000))
                        .await?;
                    let jobs: Vec<String> = docs
                        .iter()
                        .filter(|x| !kind || x.data["kind"] == "failure_rate_spike")
                        .map(|x| {
                            format!(
                                "{} / {}",
                                x.data["workflow"].as_str().unwrap_or(""),
                                x.data["job"].as_str().unwrap_or("")
                            )
                        })
                        .collect();
                    let n = jobs.len() as f64;
                    if n >= rule.threshold && n > 0.0 {
                        let what = if kind { "failure-rate spikes" } else { "anomalies" };
                        out.push(cond(repo, n, format!("{repo}: {n} open {what} ({})", jobs.join(", "))));
                    }
                }
            }
            AlertKind::HealthScore => {
                for repo in &repos {
                    if let Some(score) = snap.health.get(repo) {
                        if *score < rule.threshold {
                            out.push(cond(
                                repo,
                                *score,
                                format!("{repo}: health {score:.1} (threshold {})", rule.threshold),
                            ));
                        }
                    }
                }
            }
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_defaults_are_the_four_seed_rules() {
        let c = aetherveil_config::Config::defaults().alerts;
        let names: Vec<String> = rules(&c).into_iter().map(|r| r.name).collect();
        for prefix in ["failure_rate", "agent_health", "model_degradation", "error_rate_spike"] {
            assert!(names.iter().any(|n| n.starts_with(prefix)), "{prefix} in {names:?}");
        }
        assert!(describe(&c).iter().all(|r| r["condition"].as_str().is_some_and(|s| !s.is_empty())));
    }

    #[test]
    fn failure_share_counts_completed_runs_only() {
        let runs = vec![
            json!({"conclusion": "failure"}),
            json!({"conclusion": "success"}),
            json!({"conclusion": "timed_out"}),
            json!({"conclusion": null}),
            json!({"conclusion": "success"}),
        ];
        let (share, n) = failure_share(&runs);
        assert_eq!(n, 4);
        assert!((share - 0.5).abs() < 1e-9);
        assert_eq!(failure_share(&[]), (0.0, 0));
    }
}
