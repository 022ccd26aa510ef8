# Inputs. Only `project` and `image` have no default; see terraform.tfvars.example.

variable "project" {
  description = "Google Cloud project id to deploy into."
  type        = string
}

variable "region" {
  description = "Region of the Cloud Run services, Workflows, Scheduler jobs and the bucket."
  type        = string
  default     = "us-central1"
}

variable "image" {
  description = "The one container image every function runs, by digest (REGION-docker.pkg.dev/PROJECT/aetherveil/aetherveil@sha256:...). deploy.sh phase 3 passes it."
  type        = string

  validation {
    condition     = length(var.image) > 0
    error_message = "image must name the container image (deploy.sh --phase 2 prints it)."
  }
}

variable "name_prefix" {
  description = "Prefix of every resource name (services, service accounts, topics, bucket)."
  type        = string
  default     = "aetherveil"

  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{1,14}$", var.name_prefix))
    error_message = "name_prefix: 2-15 characters, lowercase letters, digits and '-', starting with a letter (service account ids are limited to 30)."
  }
}

variable "firestore_location" {
  description = "Location of the Firestore database: a multi-region (nam5, eur3) or a region."
  type        = string
  default     = "nam5"
}

variable "firestore_data_field" {
  description = "The map field a Firestore document keeps the JSON data under (shared/store-firestore); composite indexes are on `<this>.<field>`."
  type        = string
  default     = "d"
}

variable "bucket_location" {
  description = "Location of the blob bucket. Empty: the region."
  type        = string
  default     = ""
}

variable "raw_delivery_retention_days" {
  description = "Raw webhook bodies (`raw-deliveries/`) are deleted after this many days."
  type        = number
  default     = 30
}

variable "job_log_retention_days" {
  description = "Job logs (`job-logs/`) are deleted after this many days. Models and log profiles are kept."
  type        = number
  default     = 14
}

variable "deletion_protection" {
  description = "Protect the Firestore database, the bucket and the Cloud Run services from `terraform destroy`."
  type        = bool
  default     = true
}

variable "min_instances" {
  description = "Minimum instances per function (0: scale to zero). Override per function with `scaling`."
  type        = number
  default     = 0
}

variable "max_instances" {
  description = "Maximum instances per function. Override per function with `scaling`."
  type        = number
  default     = 10
}

variable "scaling" {
  description = "Per-function overrides of min/max instances, e.g. { webhook = { min = 1, max = 20 } }."
  type        = map(object({ min = number, max = number }))
  default     = {}
}

variable "cpu" {
  description = "CPU limit of each function container."
  type        = string
  default     = "1"
}

variable "memory" {
  description = "Memory limit of each function container."
  type        = string
  default     = "512Mi"
}

variable "public_webhook" {
  description = "Let anyone invoke the webhook service (GitHub must reach it; requests are authenticated by the webhook secret's HMAC)."
  type        = bool
  default     = true
}

variable "gate_invokers" {
  description = "IAM members allowed to call the gate (POST /gate/trivy) from CI, e.g. a Workload Identity Federation principal of your GitHub repositories."
  type        = list(string)
  default     = []
}

variable "max_delivery_attempts" {
  description = "Push deliveries of one message before Pub/Sub moves it to the dead-letter topic (5-100). Also sets bus.max_attempts."
  type        = number
  default     = 8

  validation {
    condition     = var.max_delivery_attempts >= 5 && var.max_delivery_attempts <= 100
    error_message = "Pub/Sub accepts 5 to 100 delivery attempts."
  }
}

variable "retry_min_backoff_seconds" {
  description = "Pub/Sub redelivery backoff after a refused push: initial (exponential, capped below)."
  type        = number
  default     = 10
}

variable "retry_max_backoff_seconds" {
  description = "Pub/Sub redelivery backoff cap (at most 600)."
  type        = number
  default     = 300
}

variable "dead_letter_retention" {
  description = "How long dead-lettered messages are kept on the dead-letter subscriptions."
  type        = string
  default     = "604800s"
}

variable "log_level" {
  description = "log.level of every function."
  type        = string
  default     = "info"
}

variable "github_api_url" {
  description = "github.api_url: https://api.github.com or a GitHub Enterprise Server's https://HOST/api/v3."
  type        = string
  default     = "https://api.github.com"
}

variable "github_auth" {
  description = "How the functions that call GitHub authenticate: \"token\" (secret github-token) or \"app\" (secret github-app-key plus github_app_id)."
  type        = string
  default     = "token"

  validation {
    condition     = contains(["token", "app"], var.github_auth)
    error_message = "github_auth is \"token\" or \"app\"."
  }
}

variable "github_app_id" {
  description = "GitHub App id (github_auth = \"app\")."
  type        = string
  default     = ""
}

variable "github_app_installation_id" {
  description = "The GitHub App's installation the platform acts as (github_auth = \"app\"): the number at the end of the installation's settings URL."
  type        = string
  default     = ""
}

variable "healer_mode" {
  description = "healer.mode: observe, recommend or act."
  type        = string
  default     = "recommend"
}

variable "ado_enabled" {
  description = "ado.enabled: deploy the agent council's three subscriptions."
  type        = bool
  default     = true
}

variable "llm_enabled" {
  description = "llm.enabled: the agent council asks an OpenAI-compatible backend (key in secret llm-api-key)."
  type        = bool
  default     = false
}

variable "llm_base_url" {
  description = "llm.base_url (up to and including /v1)."
  type        = string
  default     = "https://api.openai.com/v1"
}

variable "llm_model" {
  description = "llm.model."
  type        = string
  default     = ""
}

variable "prometheus_sidecar" {
  description = "Run Google's Managed Service for Prometheus sidecar next to each function, so /metrics reaches Cloud Monitoring (the dashboard's and alert policies' PromQL)."
  type        = bool
  default     = true
}

variable "prometheus_sidecar_image" {
  description = "The Managed Service for Prometheus sidecar for Cloud Run (scrapes localhost:8080/metrics)."
  type        = string
  default     = "us-docker.pkg.dev/cloud-ops-agents-artifacts/cloud-run-gmp-sidecar/cloud-run-gmp-sidecar:1.2.0"
}

variable "alert_webhook_enabled" {
  description = "Mount secret alert-webhook-url as alerts.webhook_url (Slack-compatible notifications from the alert evaluator)."
  type        = bool
  default     = false
}

variable "alert_email" {
  description = "An e-mail address for alert notifications (empty: none)."
  type        = string
  default     = ""
}

variable "notification_channels" {
  description = "Existing Cloud Monitoring notification channel ids (projects/P/notificationChannels/N) the alert policies notify."
  type        = list(string)
  default     = []
}

# Thresholds of the alert policies that Cloud Monitoring computes itself (the others mirror the
# in-app evaluator, whose thresholds are the [alerts.*] config keys).

variable "alert_max_retrying" {
  description = "alerts.agent_health.max_retrying: refused push deliveries of one subscription in 10 minutes."
  type        = number
  default     = 5
}

variable "alert_max_backlog" {
  description = "alerts.agent_health.max_backlog: undelivered messages of one subscription."
  type        = number
  default     = 10000
}


variable "alert_error_rate_spike_min_open" {
  description = "alerts.error_rate_spike.min_open: failure-rate-spike anomalies opened in an hour."
  type        = number
  default     = 1
}

variable "labels" {
  description = "Labels added to every labelled resource."
  type        = map(string)
  default     = {}
}
