//! Prometheus metrics in the text exposition format. Metric names are enums, so a name is
//! spelled once; counters end in `_total`.

use std::collections::BTreeMap;
use std::fmt::Write;
use std::sync::Mutex;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Counter {
    /// Every webhook request, by outcome (processed, queued, duplicate, ignored, rejected), reason and event.
    WebhookOutcomes,
    /// Queued deliveries the normalizer finished, by recorded outcome (processed, ignored) and event.
    WebhookNormalized,
    /// Push deliveries to a single event-function container, by result.
    PushDeliveries,
    /// Events recorded by the journal subscriber, by kind, and duplicates it skipped.
    JournalEvents,
    /// Anomaly episodes the monitor opened, by kind.
    AnomaliesDetected,
    /// Healing actions recorded in `healing_history`, by action and result.
    HealingActions,
    /// Alert notifications sent to the webhook, by event (firing, resolved) and result.
    AlertNotifications,
}

impl Counter {
    fn name(self) -> &'static str {
        match self {
            Counter::WebhookOutcomes => "aetherveil_webhook_outcomes_total",
            Counter::WebhookNormalized => "aetherveil_webhook_normalized_total",
            Counter::PushDeliveries => "aetherveil_push_deliveries_total",
            Counter::JournalEvents => "aetherveil_journal_events_total",
            Counter::AnomaliesDetected => "aetherveil_anomalies_detected_total",
            Counter::HealingActions => "aetherveil_healing_actions_total",
            Counter::AlertNotifications => "aetherveil_alert_notifications_total",
        }
    }

    fn help(self) -> &'static str {
        match self {
            Counter::WebhookOutcomes => "Webhook requests by recorded outcome.",
            Counter::WebhookNormalized => {
                "Webhook deliveries normalized after their acknowledgement (intake queued or log), by recorded outcome."
            }
            Counter::PushDeliveries => "Push deliveries received by an event function, by result.",
            Counter::JournalEvents => "Pipeline events recorded by the journal subscriber.",
            Counter::AnomaliesDetected => "Anomaly episodes opened by the monitor, by kind.",
            Counter::HealingActions => "Healing actions recorded by the healer, by action and result.",
            Counter::AlertNotifications => "Alert notifications sent to the alert webhook, by event and result.",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Gauge {
    /// Messages a subscription has not reached yet.
    BusBacklog,
    /// Messages waiting for a retry.
    BusRetrying,
    /// Documents in the dead-letter collection.
    DeadLetters,
    /// Health score 0-100, per repository and overall (`repo="*"`).
    HealthScore,
    /// Alerts firing now, by rule.
    AlertsFiring,
    /// Deliveries acknowledged into the webhook's ingest log and not yet in the store.
    WebhookLogUnapplied,
}

impl Gauge {
    fn name(self) -> &'static str {
        match self {
            Gauge::BusBacklog => "aetherveil_bus_backlog_messages",
            Gauge::BusRetrying => "aetherveil_bus_retrying_messages",
            Gauge::DeadLetters => "aetherveil_dead_letters",
            Gauge::HealthScore => "aetherveil_health_score",
            Gauge::AlertsFiring => "aetherveil_alerts_firing",
            Gauge::WebhookLogUnapplied => "aetherveil_webhook_log_unapplied_deliveries",
        }
    }

    fn help(self) -> &'static str {
        match self {
            Gauge::BusBacklog => "Bus lag: messages published but not yet delivered, per subscription.",
            Gauge::BusRetrying => "Messages waiting for redelivery, per subscription.",
            Gauge::DeadLetters => "Messages that failed for good.",
            Gauge::HealthScore => {
                "Health score 0-100 per repository (repo=\"*\": overall), as GET /api/v1/health computes it."
            }
            Gauge::AlertsFiring => "Alerts firing now, by rule.",
            Gauge::WebhookLogUnapplied => {
                "Deliveries acknowledged into the webhook's ingest log (webhook.intake = \"log\") and not yet applied to the store."
            }
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Histogram {
    /// Time to answer a webhook request, acknowledgement included.
    WebhookSeconds,
    /// Duration of completed workflow jobs (started to completed, event time), by repository.
    PipelineDurationSeconds,
}

impl Histogram {
    fn name(self) -> &'static str {
        match self {
            Histogram::WebhookSeconds => "aetherveil_webhook_request_duration_seconds",
            Histogram::PipelineDurationSeconds => "aetherveil_pipeline_duration_seconds",
        }
    }

    fn buckets(self) -> &'static [f64] {
        match self {
            Histogram::WebhookSeconds => &BUCKETS,
            Histogram::PipelineDurationSeconds => &PIPELINE_BUCKETS,
        }
    }

    fn help(self) -> &'static str {
        match self {
            Histogram::WebhookSeconds => "Webhook request latency, from the first byte read to the answer.",
            Histogram::PipelineDurationSeconds => {
                "Duration of completed workflow jobs, from started_at to completed_at."
            }
        }
    }
}

const BUCKETS: [f64; 12] = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5];
/// Job durations: 10 s to 6 h.
const PIPELINE_BUCKETS: [f64; 12] =
    [10.0, 30.0, 60.0, 120.0, 300.0, 600.0, 900.0, 1800.0, 3600.0, 7200.0, 14400.0, 21600.0];

type Labels = Vec<(&'static str, String)>;

#[derive(Default)]
struct Hist {
    /// Cumulative counts, one per bound of the histogram's buckets.
    buckets: Vec<u64>,
    count: u64,
    sum: f64,
}

#[derive(Default)]
pub struct Metrics {
    counters: Mutex<BTreeMap<(Counter, Labels), u64>>,
    gauges: Mutex<BTreeMap<(Gauge, Labels), f64>>,
    histograms: Mutex<BTreeMap<(Histogram, Labels), Hist>>,
}

fn labels(pairs: &[(&'static str, &str)]) -> Labels {
    pairs.iter().map(|(k, v)| (*k, (*v).to_owned())).collect()
}

fn render_labels(out: &mut String, labels: &Labels, extra: Option<(&str, String)>) {
    let all: Vec<(&str, String)> = labels.iter().map(|(k, v)| (*k, v.clone())).chain(extra).collect();
    if all.is_empty() {
        return;
    }
    out.push('{');
    for (i, (k, v)) in all.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        let escaped = v.replace('\\', "\\\\").replace('"', "\\\"").replace('\n', "\\n");
        let _ = write!(out, "{k}=\"{escaped}\"");
    }
    out.push('}');
}

/// Counters and gauges: one `# HELP`/`# TYPE` header per metric, then one line per series.
/// `series` comes sorted by metric, as the maps hold them.
fn render_simple<'a>(
    out: &mut String,
    kind: &str,
    series: impl Iterator<Item = (&'static str, &'static str, &'a Labels, String)>,
) {
    let mut last = None;
    for (name, help, labels, value) in series {
        if last != Some(name) {
            let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} {kind}");
            last = Some(name);
        }
        out.push_str(name);
        render_labels(out, labels, None);
        let _ = writeln!(out, " {value}");
    }
}

impl Metrics {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn inc(&self, counter: Counter, pairs: &[(&'static str, &str)]) {
        if let Ok(mut m) = self.counters.lock() {
            *m.entry((counter, labels(pairs))).or_insert(0) += 1;
        }
    }

    pub fn set(&self, gauge: Gauge, pairs: &[(&'static str, &str)], value: f64) {
        if let Ok(mut m) = self.gauges.lock() {
            m.insert((gauge, labels(pairs)), value);
        }
    }

    pub fn observe(&self, histogram: Histogram, pairs: &[(&'static str, &str)], value: f64) {
        if let Ok(mut m) = self.histograms.lock() {
            let bounds = histogram.buckets();
            let h = m
                .entry((histogram, labels(pairs)))
                .or_insert_with(|| Hist { buckets: vec![0; bounds.len()], ..Hist::default() });
            for (i, bound) in bounds.iter().enumerate() {
                if value <= *bound {
                    h.buckets[i] += 1;
                }
            }
            h.count += 1;
            h.sum += value;
        }
    }

    /// The current value of one counter series (for tests and the API).
    pub fn counter(&self, counter: Counter, pairs: &[(&'static str, &str)]) -> u64 {
        self.counters.lock().ok().and_then(|m| m.get(&(counter, labels(pairs))).copied()).unwrap_or(0)
    }

    /// Renders everything in the Prometheus text format (version 0.0.4).
    pub fn render(&self) -> String {
        let mut out = String::new();
        if let Ok(m) = self.counters.lock() {
            render_simple(&mut out, "counter", m.iter().map(|((c, l), v)| (c.name(), c.help(), l, v.to_string())));
        }
        if let Ok(m) = self.gauges.lock() {
            render_simple(&mut out, "gauge", m.iter().map(|((g, l), v)| (g.name(), g.help(), l, v.to_string())));
        }
        if let Ok(m) = self.histograms.lock() {
            let mut last = None;
            for ((h, l), data) in m.iter() {
                let name = h.name();
                if last != Some(*h) {
                    let _ = writeln!(out, "# HELP {name} {}\n# TYPE {name} histogram", h.help());
                    last = Some(*h);
                }
                for (i, bound) in h.buckets().iter().enumerate() {
                    let _ = write!(out, "{name}_bucket");
                    render_labels(&mut out, l, Some(("le", bound.to_string())));
                    let _ = writeln!(out, " {}", data.buckets[i]);
                }
                let _ = write!(out, "{name}_bucket");
                render_labels(&mut out, l, Some(("le", "+Inf".into())));
                let _ = writeln!(out, " {}", data.count);
                let _ = write!(out, "{name}_sum");
                render_labels(&mut out, l, None);
                let _ = writeln!(out, " {}", data.sum);
                let _ = write!(out, "{name}_count");
                render_labels(&mut out, l, None);
                let _ = writeln!(out, " {}", data.count);
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_prometheus_text() {
        let m = Metrics::new();
        m.inc(Counter::WebhookOutcomes, &[("outcome", "processed"), ("event", "push")]);
        m.inc(Counter::WebhookOutcomes, &[("outcome", "processed"), ("event", "push")]);
        m.inc(Counter::WebhookOutcomes, &[("outcome", "rejected"), ("reason", "bad \"sig\"")]);
        m.set(Gauge::BusBacklog, &[("subscription", "journal")], 3.0);
        m.observe(Histogram::WebhookSeconds, &[], 0.003);
        let text = m.render();
        assert!(text.contains("# TYPE aetherveil_webhook_outcomes_total counter"));
        assert!(text.contains("aetherveil_webhook_outcomes_total{outcome=\"processed\",event=\"push\"} 2"));
        assert!(text.contains("reason=\"bad \\\"sig\\\"\""));
        assert!(text.contains("aetherveil_bus_backlog_messages{subscription=\"journal\"} 3"));
        assert!(text.contains("aetherveil_webhook_request_duration_seconds_bucket{le=\"0.0025\"} 0"));
        assert!(text.contains("aetherveil_webhook_request_duration_seconds_bucket{le=\"0.005\"} 1"));
        assert!(text.contains("aetherveil_webhook_request_duration_seconds_count 1"));
        assert_eq!(text.matches("# TYPE aetherveil_webhook_outcomes_total").count(), 1);
    }
}
