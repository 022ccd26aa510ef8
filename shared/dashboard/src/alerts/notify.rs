//! Alert notifications: Slack-compatible JSON (`text` plus one `attachments` entry with colour
//! and fields; Slack, Mattermost, Rocket.Chat and most chat webhooks accept it), POSTed to
//! `alerts.webhook_url` with a timeout and retries (network errors, 429 and 5xx; doubling
//! backoff). Every notification's result is recorded on its alert.

use aetherveil_config::AlertsConfig;
use serde_json::{Value, json};
use std::time::Duration;

/// What happened to one notification.
#[derive(Debug, Clone, PartialEq)]
pub struct Sent {
    /// `delivered`, `failed` (gave up), or `skipped` (no webhook configured).
    pub result: &'static str,
    pub attempts: u32,
    pub error: Option<String>,
}

/// The Slack-compatible message for an alert that fired (`event` "firing") or resolved.
pub fn message(alert: &Value, event: &str) -> Value {
    let severity = alert["severity"].as_str().unwrap_or("warning");
    let color = match (event, severity) {
        ("resolved", _) => "#2e7d32",
        (_, "critical") => "#c62828",
        (_, "warning") => "#b26a00",
        _ => "#3559c7",
    };
    let rule = alert["rule"].as_str().unwrap_or("");
    let subject = alert["subject"].as_str().unwrap_or("");
    let summary = alert["summary"].as_str().unwrap_or("");
    let title = if event == "resolved" {
        format!("RESOLVED {rule}: {subject}")
    } else {
        format!("FIRING [{severity}] {rule}: {subject}")
    };
    json!({
        "text": format!("{title}: {summary}"),
        "attachments": [{
            "color": color,
            "title": title,
            "text": summary,
            "fallback": format!("{title}: {summary}"),
            "fields": [
                {"title": "status", "value": event, "short": true},
                {"title": "severity", "value": severity, "short": true},
                {"title": "rule", "value": rule, "short": true},
                {"title": "subject", "value": subject, "short": true},
                {"title": "value", "value": alert["value"].to_string(), "short": true},
                {"title": "threshold", "value": alert["threshold"].to_string(), "short": true},
                {"title": "alert", "value": alert["id"].as_str().unwrap_or(""), "short": false}
            ],
            "footer": "aetherveil",
            "ts": alert[if event == "resolved" { "resolved_at_ms" } else { "started_at_ms" }].as_i64().map(|ms| ms / 1000)
        }]
    })
}

/// Sends `body` to the configured webhook with retries.
pub async fn send(client: &reqwest::Client, config: &AlertsConfig, body: &Value) -> Sent {
    if config.webhook_url.is_empty() {
        return Sent { result: "skipped", attempts: 0, error: None };
    }
    let mut backoff = Duration::from_millis(config.webhook_backoff_ms);
    let mut last_error = None;
    let attempts = config.webhook_retries + 1;
    for attempt in 1..=attempts {
        let r = client
            .post(&config.webhook_url)
            .timeout(Duration::from_millis(config.webhook_timeout_ms))
            .json(body)
            .send()
            .await;
        match r {
            Ok(resp) if resp.status().is_success() => {
                return Sent { result: "delivered", attempts: attempt, error: None };
            }
            Ok(resp) if resp.status().as_u16() == 429 || resp.status().is_server_error() => {
                last_error = Some(format!("answered {}", resp.status().as_u16()));
            }
            Ok(resp) => {
                // A 4xx other than 429 will not change by retrying.
                return Sent {
                    result: "failed",
                    attempts: attempt,
                    error: Some(format!("answered {}", resp.status().as_u16())),
                };
            }
            Err(e) => {
                last_error = Some(if e.is_timeout() { "timed out".to_owned() } else { "could not connect".to_owned() })
            }
        }
        if attempt < attempts {
            tokio::time::sleep(backoff).await;
            backoff = (backoff * 2).min(Duration::from_secs(60));
        }
    }
    tracing::warn!(error = ?last_error, attempts, "alert notification failed");
    Sent { result: "failed", attempts, error: last_error }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_message_has_slacks_shape() {
        let alert = json!({"id": "failure_rate~a/b~1", "rule": "failure_rate", "subject": "a/b", "severity": "critical",
            "summary": "a/b: 40% failed", "value": 0.4, "threshold": 0.2, "started_at_ms": 1_700_000_000_000i64});
        let m = message(&alert, "firing");
        assert!(m["text"].as_str().is_some_and(|t| t.contains("FIRING") && t.contains("a/b: 40% failed")));
        let a = &m["attachments"][0];
        assert_eq!(a["color"], "#c62828");
        assert_eq!(a["ts"], 1_700_000_000);
        assert!(
            a["fields"].as_array().is_some_and(|f| f.iter().all(|x| x["title"].is_string() && x["value"].is_string()))
        );
        assert!(message(&alert, "resolved")["text"].as_str().is_some_and(|t| t.starts_with("RESOLVED")));
    }
}
