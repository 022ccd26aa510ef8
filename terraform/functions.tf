# The functions: one entry per FUNCTION_TARGET of `Host::registry` (src/serve.rs). Every other file
# derives its resources from these maps; tests/it/cloud_shape.rs checks them against the registry.
#
#   kind       "http": serves its own routes; "event": answers Pub/Sub push on POST /.
#   topic      the topic an event function's push subscription reads ("" for http).
#   publishes  the topics its code publishes to (pubsub.publisher on those topics only).
#   blobs      reads or writes the blob bucket (storage.objectAdmin on that bucket only).
#   github     calls the GitHub API (gets the GitHub credentials).
#   timeout    request timeout, seconds; for event functions also the subscription's ack deadline.
#
# The secrets each function mounts follow from these (local.function_secrets).

locals {
  # Pub/Sub topic ids are the code's topic names; each has a dead-letter topic `<topic>-dead-letter`.
  topics = {
    pipeline-events     = "Normalized GitHub events, published by the webhook function."
    webhook-intake      = "Acknowledged deliveries, queued by the webhook for webhook-normalize."
    diagnoses           = "One message per diagnosis, published by logscan."
    anomalies           = "Anomaly episodes opened and closed, published by the monitor."
    gate-verdicts       = "One message per recorded gate verdict."
    orchestration-steps = "Steps of agreed agent-council plans, published by ado, executed by the healer."
  }

  all_functions = {
    webhook             = { kind = "http", topic = "", publishes = ["webhook-intake", "pipeline-events"], blobs = true, github = false, timeout = 60 }
    webhook-normalize   = { kind = "event", topic = "webhook-intake", publishes = ["pipeline-events"], blobs = true, github = false, timeout = 60 }
    journal             = { kind = "event", topic = "pipeline-events", publishes = [], blobs = false, github = false, timeout = 60 }
    monitor             = { kind = "event", topic = "pipeline-events", publishes = ["anomalies"], blobs = false, github = false, timeout = 60 }
    logscan             = { kind = "event", topic = "pipeline-events", publishes = ["diagnoses"], blobs = true, github = true, timeout = 600 }
    healer              = { kind = "event", topic = "pipeline-events", publishes = [], blobs = false, github = true, timeout = 120 }
    healer-diagnoses    = { kind = "event", topic = "diagnoses", publishes = [], blobs = false, github = true, timeout = 120 }
    healer-plan-steps   = { kind = "event", topic = "orchestration-steps", publishes = [], blobs = false, github = true, timeout = 120 }
    api                 = { kind = "http", topic = "", publishes = ["orchestration-steps"], blobs = true, github = false, timeout = 60 }
    maintenance         = { kind = "http", topic = "", publishes = [], blobs = false, github = false, timeout = 300 }
    trainer             = { kind = "http", topic = "", publishes = [], blobs = true, github = false, timeout = 900 }
    gate                = { kind = "http", topic = "", publishes = ["gate-verdicts"], blobs = false, github = false, timeout = 120 }
    dashboard-metrics   = { kind = "event", topic = "pipeline-events", publishes = [], blobs = false, github = false, timeout = 60 }
    dashboard-anomalies = { kind = "event", topic = "anomalies", publishes = [], blobs = false, github = false, timeout = 60 }
    ado-diagnoses       = { kind = "event", topic = "diagnoses", publishes = ["orchestration-steps"], blobs = false, github = false, timeout = 120 }
    ado-anomalies       = { kind = "event", topic = "anomalies", publishes = ["orchestration-steps"], blobs = false, github = false, timeout = 120 }
    ado-gate-verdicts   = { kind = "event", topic = "gate-verdicts", publishes = ["orchestration-steps"], blobs = false, github = false, timeout = 120 }
  }

  # The agent council's subscriptions exist only when ado.enabled (src/serve.rs `register_ado`).
  functions = {
    for name, f in local.all_functions : name => f
    if var.ado_enabled || !startswith(name, "ado-")
  }

  event_functions = { for name, f in local.functions : name => f if f.kind == "event" }
  http_functions  = { for name, f in local.functions : name => f if f.kind == "http" }

  # Secret Manager secrets and the env var each one is mounted as: webhook.secret, github.token,
  # github.app_private_key, llm.api_key, alerts.webhook_url (read by the function that evaluates
  # the alert rules on schedule). Values are added outside Terraform (docs/cloud.md).
  secrets = {
    webhook-secret = { env = "AETHERVEIL_WEBHOOK_SECRET", enabled = true }
    github-token   = { env = "AETHERVEIL_GITHUB_TOKEN", enabled = var.github_auth == "token" }
    github-app-key = { env = "AETHERVEIL_GITHUB_APP_PRIVATE_KEY", enabled = var.github_auth == "app" }
    llm-api-key    = { env = "AETHERVEIL_LLM_API_KEY", enabled = var.llm_enabled }
    # alerts.webhook_url: a Slack incoming-webhook URL is a credential too.
    alert-webhook-url = { env = "AETHERVEIL_ALERTS_WEBHOOK_URL", enabled = var.alert_webhook_enabled }
  }
  enabled_secrets = { for k, s in local.secrets : k => s if s.enabled }

  # Which function gets which secret.
  function_secrets = {
    for name, f in local.functions : name => [
      for k in keys(local.enabled_secrets) : k
      if(k == "webhook-secret" && name == "webhook")
      || (contains(["github-token", "github-app-key"], k) && f.github)
      || (k == "llm-api-key" && startswith(name, "ado-"))
      || (k == "alert-webhook-url" && name == "maintenance")
    ]
  }

  # (function, secret) pairs for the accessor grants.
  secret_grants = merge([
    for name, ks in local.function_secrets : { for k in ks : "${name}/${k}" => { function = name, secret = k } }
  ]...)

  # (function, topic) pairs for the publisher grants.
  publisher_grants = merge([
    for name, f in local.functions : { for t in f.publishes : "${name}/${t}" => { function = name, topic = t } }
  ]...)

  # Configuration every function gets (AETHERVEIL_<SECTION>_<KEY>, shared/config/config.default.toml).
  common_env = {
    for k, v in {
      AETHERVEIL_STORE_BACKEND    = "firestore"
      AETHERVEIL_STORE_PROJECT    = var.project
      AETHERVEIL_STORE_DATABASE   = google_firestore_database.main.name
      AETHERVEIL_BUS_BACKEND      = "pubsub"
      AETHERVEIL_BUS_PROJECT      = var.project
      AETHERVEIL_BUS_MAX_ATTEMPTS = tostring(var.max_delivery_attempts)
      # Terraform owns the topics and subscriptions (PubsubConfig::manage_resources).
      AETHERVEIL_BUS_MANAGE_RESOURCES       = "false"
      AETHERVEIL_BLOBS_BACKEND              = "gcs"
      AETHERVEIL_BLOBS_BUCKET               = google_storage_bucket.blobs.name
      AETHERVEIL_SERVER_DATA_DIR            = "/tmp/aetherveil"
      AETHERVEIL_LOG_FORMAT                 = "json"
      AETHERVEIL_LOG_LEVEL                  = var.log_level
      AETHERVEIL_GITHUB_API_URL             = var.github_api_url
      AETHERVEIL_GITHUB_APP_ID              = var.github_app_id
      AETHERVEIL_GITHUB_APP_INSTALLATION_ID = var.github_app_installation_id
      AETHERVEIL_HEALER_MODE                = var.healer_mode
      AETHERVEIL_ADO_ENABLED                = tostring(var.ado_enabled)
      AETHERVEIL_LLM_ENABLED                = tostring(var.llm_enabled)
      AETHERVEIL_LLM_BASE_URL               = var.llm_base_url
      AETHERVEIL_LLM_MODEL                  = var.llm_model
    } : k => v
    # Unset rather than empty: the App's ids only with App auth, the LLM settings only when enabled.
    if !(contains(["AETHERVEIL_GITHUB_APP_ID", "AETHERVEIL_GITHUB_APP_INSTALLATION_ID"], k) && var.github_auth != "app")
    && !(contains(["AETHERVEIL_LLM_BASE_URL", "AETHERVEIL_LLM_MODEL"], k) && !var.llm_enabled)
  }

  labels = merge({ app = "aetherveil" }, var.labels)
}
