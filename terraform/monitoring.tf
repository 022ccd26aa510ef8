# Cloud Monitoring: a dashboard and the alert policies of the built-in alert rules
# (shared/dashboard, [alerts.*] in config.default.toml).
#
# Where Google Cloud measures the condition itself, the policy does: agent health is the push
# subscriptions' backlog, refused deliveries and dead letters (Pub/Sub metrics). Where the
# condition needs the platform's data (a repository's failure rate over its last runs, the
# classifier's confidence and corrections), the policy follows the in-app evaluator's verdict,
# `aetherveil_alerts_firing{rule}`, so both agree on thresholds and windows. Error-rate spikes are
# the monitor's failure_rate_spike anomalies (`aetherveil_anomalies_detected_total`). The
# application metrics come from each function's /metrics through the Managed Service for
# Prometheus sidecar (var.prometheus_sidecar) and are queried with PromQL.

resource "google_monitoring_notification_channel" "email" {
  count = var.alert_email != "" ? 1 : 0

  display_name = "Aetherveil alerts (${var.alert_email})"
  type         = "email"
  labels = {
    email_address = var.alert_email
  }
}

locals {
  notification_channels = concat(var.notification_channels, google_monitoring_notification_channel.email[*].id)

  subscription_filter = join(", ", [for s in keys(local.event_functions) : "\"${s}\""])
  http_service_filter = join(", ", [for f in keys(local.http_functions) : "\"${var.name_prefix}-${f}\""])
  dead_letter_filter  = join(", ", [for t in keys(local.topics) : "\"${t}-dead-letter\""])

  # The dashboard's charts, two per row.
  charts = [
    {
      title = "Webhook requests by response class"
      dataSets = [{
        plotType = "STACKED_BAR"
        timeSeriesQuery = { timeSeriesFilter = {
          filter      = "metric.type=\"run.googleapis.com/request_count\" resource.type=\"cloud_run_revision\" resource.label.\"service_name\"=\"${var.name_prefix}-webhook\""
          aggregation = { alignmentPeriod = "60s", perSeriesAligner = "ALIGN_RATE", crossSeriesReducer = "REDUCE_SUM", groupByFields = ["metric.label.\"response_code_class\""] }
        } }
      }]
    },
    {
      title = "Webhook outcomes (per second)"
      dataSets = [{
        plotType        = "STACKED_AREA"
        timeSeriesQuery = { prometheusQuery = "sum by (outcome) (rate(aetherveil_webhook_outcomes_total[5m]))" }
      }]
    },
    {
      title = "Webhook latency p99 (seconds)"
      dataSets = [{
        plotType        = "LINE"
        timeSeriesQuery = { prometheusQuery = "histogram_quantile(0.99, sum by (le) (rate(aetherveil_webhook_request_duration_seconds_bucket[5m])))" }
      }]
    },
    {
      title = "Subscription backlog (undelivered messages)"
      dataSets = [{
        plotType = "LINE"
        timeSeriesQuery = { timeSeriesFilter = {
          filter      = "metric.type=\"pubsub.googleapis.com/subscription/num_undelivered_messages\" resource.type=\"pubsub_subscription\" resource.label.\"subscription_id\"=one_of(${local.subscription_filter})"
          aggregation = { alignmentPeriod = "60s", perSeriesAligner = "ALIGN_MEAN", crossSeriesReducer = "REDUCE_SUM", groupByFields = ["resource.label.\"subscription_id\""] }
        } }
      }]
    },
    {
      title = "Push deliveries by result (per second)"
      dataSets = [{
        plotType        = "STACKED_AREA"
        timeSeriesQuery = { prometheusQuery = "sum by (result) (rate(aetherveil_push_deliveries_total[5m]))" }
      }]
    },
    {
      title = "Dead letters waiting"
      dataSets = [{
        plotType = "STACKED_BAR"
        timeSeriesQuery = { timeSeriesFilter = {
          filter      = "metric.type=\"pubsub.googleapis.com/subscription/num_undelivered_messages\" resource.type=\"pubsub_subscription\" resource.label.\"subscription_id\"=one_of(${local.dead_letter_filter})"
          aggregation = { alignmentPeriod = "300s", perSeriesAligner = "ALIGN_MAX", crossSeriesReducer = "REDUCE_SUM", groupByFields = ["resource.label.\"subscription_id\""] }
        } }
      }]
    },
    {
      title = "Health score (0-100)"
      dataSets = [{
        plotType        = "LINE"
        timeSeriesQuery = { prometheusQuery = "max by (repo) (aetherveil_health_score)" }
      }]
    },
    {
      title = "Alerts firing, by rule"
      dataSets = [{
        plotType        = "STACKED_BAR"
        timeSeriesQuery = { prometheusQuery = "max by (rule) (aetherveil_alerts_firing)" }
      }]
    },
    {
      title = "Anomalies opened, by kind (per hour)"
      dataSets = [{
        plotType        = "STACKED_BAR"
        timeSeriesQuery = { prometheusQuery = "sum by (kind) (increase(aetherveil_anomalies_detected_total[1h]))" }
      }]
    },
    {
      title = "Healing actions, by action and result (per hour)"
      dataSets = [{
        plotType        = "STACKED_BAR"
        timeSeriesQuery = { prometheusQuery = "sum by (action, result) (increase(aetherveil_healing_actions_total[1h]))" }
      }]
    },
    {
      title = "Job duration p90 (seconds), by repository"
      dataSets = [{
        plotType        = "LINE"
        timeSeriesQuery = { prometheusQuery = "histogram_quantile(0.9, sum by (le, repo) (rate(aetherveil_pipeline_duration_seconds_bucket[1h])))" }
      }]
    },
    {
      title = "Instances, by function"
      dataSets = [{
        plotType = "STACKED_AREA"
        timeSeriesQuery = { timeSeriesFilter = {
          filter      = "metric.type=\"run.googleapis.com/container/instance_count\" resource.type=\"cloud_run_revision\" resource.label.\"service_name\"=starts_with(\"${var.name_prefix}-\")"
          aggregation = { alignmentPeriod = "60s", perSeriesAligner = "ALIGN_MAX", crossSeriesReducer = "REDUCE_SUM", groupByFields = ["resource.label.\"service_name\""] }
        } }
      }]
    },
  ]
}

resource "google_monitoring_dashboard" "main" {
  dashboard_json = jsonencode({
    displayName = "Aetherveil"
    mosaicLayout = {
      columns = 12
      tiles = [
        for i, c in local.charts : {
          xPos   = (i % 2) * 6
          yPos   = floor(i / 2) * 4
          width  = 6
          height = 4
          widget = { title = c.title, xyChart = { dataSets = c.dataSets } }
        }
      ]
    }
  })
}

# failure_rate: a repository's share of failed runs among its last runs, as the evaluator computes it.
resource "google_monitoring_alert_policy" "failure_rate" {
  display_name          = "Aetherveil: failure rate"
  combiner              = "OR"
  notification_channels = local.notification_channels
  severity              = "CRITICAL"
  user_labels           = local.labels

  conditions {
    display_name = "alerts_firing{rule=failure_rate} > 0"
    condition_prometheus_query_language {
      query               = "max(aetherveil_alerts_firing{rule=\"failure_rate\"}) > 0"
      duration            = "60s"
      evaluation_interval = "60s"
    }
  }

  documentation {
    mime_type = "text/markdown"
    content   = "A repository's failure rate over its last completed runs is above `alerts.failure_rate.threshold`. The dashboard's /alerts page names the repository."
  }
}

# agent_health.backlog: a subscription with max_backlog or more undelivered messages.
resource "google_monitoring_alert_policy" "agent_backlog" {
  display_name          = "Aetherveil: agent backlog"
  combiner              = "OR"
  notification_channels = local.notification_channels
  severity              = "CRITICAL"
  user_labels           = local.labels

  conditions {
    display_name = "undelivered messages >= ${var.alert_max_backlog}"
    condition_threshold {
      filter          = "metric.type=\"pubsub.googleapis.com/subscription/num_undelivered_messages\" resource.type=\"pubsub_subscription\" resource.label.\"subscription_id\"=one_of(${local.subscription_filter})"
      comparison      = "COMPARISON_GT"
      threshold_value = var.alert_max_backlog - 1
      duration        = "300s"

      aggregations {
        alignment_period     = "60s"
        per_series_aligner   = "ALIGN_MEAN"
        cross_series_reducer = "REDUCE_SUM"
        group_by_fields      = ["resource.label.subscription_id"]
      }
    }
  }

  documentation {
    mime_type = "text/markdown"
    content   = "An event function is not keeping up with its topic (agent health: backlog). Check the function's instances and errors."
  }
}

# agent_health.retrying: a subscription whose function refused max_retrying or more deliveries in
# ten minutes (each is redelivered with backoff).
resource "google_monitoring_alert_policy" "agent_retrying" {
  display_name          = "Aetherveil: agent retrying"
  combiner              = "OR"
  notification_channels = local.notification_channels
  severity              = "CRITICAL"
  user_labels           = local.labels

  conditions {
    display_name = "refused push deliveries in 10 min >= ${var.alert_max_retrying}"
    condition_threshold {
      filter          = "metric.type=\"pubsub.googleapis.com/subscription/push_request_count\" resource.type=\"pubsub_subscription\" metric.label.\"response_class\"!=\"ack\" resource.label.\"subscription_id\"=one_of(${local.subscription_filter})"
      comparison      = "COMPARISON_GT"
      threshold_value = var.alert_max_retrying - 1
      duration        = "0s"

      aggregations {
        alignment_period     = "600s"
        per_series_aligner   = "ALIGN_SUM"
        cross_series_reducer = "REDUCE_SUM"
        group_by_fields      = ["resource.label.subscription_id"]
      }
    }
  }

  conditions {
    display_name = "messages dead-lettered"
    condition_threshold {
      filter          = "metric.type=\"pubsub.googleapis.com/subscription/dead_letter_message_count\" resource.type=\"pubsub_subscription\""
      comparison      = "COMPARISON_GT"
      threshold_value = 0
      duration        = "0s"

      aggregations {
        alignment_period     = "300s"
        per_series_aligner   = "ALIGN_SUM"
        cross_series_reducer = "REDUCE_SUM"
        group_by_fields      = ["resource.label.subscription_id"]
      }
    }
  }

  documentation {
    mime_type = "text/markdown"
    content   = "An event function refuses deliveries (agent health: retrying), or messages failed for good and were moved to a dead-letter topic (pull them from the `<topic>-dead-letter` subscription)."
  }
}

# model_degradation: the classifier's confidence or correction rate, as the evaluator computes it.
resource "google_monitoring_alert_policy" "model_degradation" {
  display_name          = "Aetherveil: model degradation"
  combiner              = "OR"
  notification_channels = local.notification_channels
  severity              = "WARNING"
  user_labels           = local.labels

  conditions {
    display_name = "alerts_firing{rule=~model_degradation.*} > 0"
    condition_prometheus_query_language {
      query               = "max(aetherveil_alerts_firing{rule=~\"model_degradation.*\"}) > 0"
      duration            = "60s"
      evaluation_interval = "60s"
    }
  }

  documentation {
    mime_type = "text/markdown"
    content   = "Logscan's classifier: mean confidence below `alerts.model_degradation.min_confidence`, or too many diagnoses corrected. Retraining runs on schedule; feedback on diagnoses improves it."
  }
}

# error_rate_spike: the monitor's failure_rate_spike anomalies opened in the last hour.
resource "google_monitoring_alert_policy" "error_rate_spike" {
  display_name          = "Aetherveil: error rate spike"
  combiner              = "OR"
  notification_channels = local.notification_channels
  severity              = "WARNING"
  user_labels           = local.labels

  conditions {
    display_name = "failure_rate_spike anomalies opened in 1 h >= ${var.alert_error_rate_spike_min_open}"
    condition_prometheus_query_language {
      query               = "sum(increase(aetherveil_anomalies_detected_total{kind=\"failure_rate_spike\"}[1h])) >= ${var.alert_error_rate_spike_min_open}"
      duration            = "0s"
      evaluation_interval = "60s"
    }
  }

  documentation {
    mime_type = "text/markdown"
    content   = "A job fails more often than its baseline rate (the monitor's beta-binomial test). See the anomalies page."
  }
}

# The HTTP functions' server errors (event functions answer 503 to ask for a redelivery; those
# are the agent_retrying policy's).
resource "google_monitoring_alert_policy" "function_errors" {
  display_name          = "Aetherveil: function 5xx"
  combiner              = "OR"
  notification_channels = local.notification_channels
  severity              = "WARNING"
  user_labels           = local.labels

  conditions {
    display_name = "5xx responses per minute > 1"
    condition_threshold {
      filter          = "metric.type=\"run.googleapis.com/request_count\" resource.type=\"cloud_run_revision\" metric.label.\"response_code_class\"=\"5xx\" resource.label.\"service_name\"=one_of(${local.http_service_filter})"
      comparison      = "COMPARISON_GT"
      threshold_value = 1
      duration        = "300s"

      aggregations {
        alignment_period     = "60s"
        per_series_aligner   = "ALIGN_SUM"
        cross_series_reducer = "REDUCE_SUM"
        group_by_fields      = ["resource.label.service_name"]
      }
    }
  }

  documentation {
    mime_type = "text/markdown"
    content   = "The webhook, the gate or the trainer answers with server errors; the service's logs say why."
  }
}
