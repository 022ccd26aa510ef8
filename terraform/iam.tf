# Identities and least-privilege grants.
#
# Each function runs as its own service account with only what its code uses: Firestore
# (datastore.user), publishing on the topics it publishes to, the blob bucket when it reads or
# writes blobs, the secrets it mounts, and writing metrics when the Prometheus sidecar runs.
# Three more identities: Pub/Sub push (invokes the event functions with an OIDC token), Cloud
# Scheduler (invokes HTTP functions and starts workflow executions) and Workflows (invokes the
# HTTP functions it calls).

resource "google_service_account" "function" {
  for_each = local.functions

  account_id   = trimsuffix(substr("${var.name_prefix}-${each.key}", 0, 30), "-")
  display_name = "Aetherveil function ${each.key}"
  description  = "Runtime identity of the ${each.key} Cloud Run service (FUNCTION_TARGET=${each.key})."
}

resource "google_project_iam_member" "function_datastore" {
  for_each = local.functions

  project = var.project
  role    = "roles/datastore.user"
  member  = google_service_account.function[each.key].member
}

resource "google_project_iam_member" "function_metrics" {
  for_each = { for name, f in local.functions : name => f if var.prometheus_sidecar }

  project = var.project
  role    = "roles/monitoring.metricWriter"
  member  = google_service_account.function[each.key].member
}

resource "google_pubsub_topic_iam_member" "function_publisher" {
  for_each = local.publisher_grants

  topic  = google_pubsub_topic.topic[each.value.topic].id
  role   = "roles/pubsub.publisher"
  member = google_service_account.function[each.value.function].member
}

resource "google_storage_bucket_iam_member" "function_blobs" {
  for_each = { for name, f in local.functions : name => f if f.blobs }

  bucket = google_storage_bucket.blobs.name
  role   = "roles/storage.objectAdmin"
  member = google_service_account.function[each.key].member
}

resource "google_secret_manager_secret_iam_member" "function_secret" {
  for_each = local.secret_grants

  secret_id = google_secret_manager_secret.secret[each.value.secret].id
  role      = "roles/secretmanager.secretAccessor"
  member    = google_service_account.function[each.value.function].member
}

# Pub/Sub push: the identity in the OIDC token of every push request.

resource "google_service_account" "push" {
  account_id   = "${var.name_prefix}-push"
  display_name = "Aetherveil Pub/Sub push"
  description  = "Signs the OIDC tokens of Pub/Sub push deliveries to the event functions."
}

resource "google_cloud_run_v2_service_iam_member" "push_invoker" {
  for_each = local.event_functions

  name     = google_cloud_run_v2_service.function[each.key].name
  location = google_cloud_run_v2_service.function[each.key].location
  role     = "roles/run.invoker"
  member   = google_service_account.push.member
}

locals {
  pubsub_agent = "serviceAccount:service-${data.google_project.this.number}@gcp-sa-pubsub.iam.gserviceaccount.com"
}

# The Pub/Sub service agent mints the push OIDC tokens as the push account.
resource "google_service_account_iam_member" "pubsub_token_creator" {
  service_account_id = google_service_account.push.name
  role               = "roles/iam.serviceAccountTokenCreator"
  member             = local.pubsub_agent
}

# Dead-lettering: the Pub/Sub service agent forwards undeliverable messages to the dead-letter
# topic (publisher there) and acknowledges them on the source subscription (subscriber there).
resource "google_pubsub_topic_iam_member" "dead_letter_publisher" {
  for_each = local.topics

  topic  = google_pubsub_topic.dead_letter[each.key].id
  role   = "roles/pubsub.publisher"
  member = local.pubsub_agent
}

resource "google_pubsub_subscription_iam_member" "dead_letter_subscriber" {
  for_each = local.event_functions

  subscription = google_pubsub_subscription.push[each.key].id
  role         = "roles/pubsub.subscriber"
  member       = local.pubsub_agent
}

# Cloud Scheduler: calls function targets with OIDC, starts workflow executions with OAuth.

resource "google_service_account" "scheduler" {
  account_id   = "${var.name_prefix}-scheduler"
  display_name = "Aetherveil Cloud Scheduler"
  description  = "Identity of the Cloud Scheduler jobs of scheduler/jobs.yaml."
}

resource "google_cloud_run_v2_service_iam_member" "scheduler_invoker" {
  for_each = toset([for j in local.function_jobs : j.function if contains(keys(local.functions), j.function)])

  name     = google_cloud_run_v2_service.function[each.key].name
  location = google_cloud_run_v2_service.function[each.key].location
  role     = "roles/run.invoker"
  member   = google_service_account.scheduler.member
}

resource "google_project_iam_member" "scheduler_workflows" {
  count = length(local.workflow_jobs) > 0 ? 1 : 0

  project = var.project
  role    = "roles/workflows.invoker"
  member  = google_service_account.scheduler.member
}

# Workflows: each execution calls the HTTP functions (with OIDC, `auth: {type: OIDC}`).

resource "google_service_account" "workflows" {
  account_id   = "${var.name_prefix}-workflows"
  display_name = "Aetherveil Workflows"
  description  = "Identity of the workflows in workflows/."
}

resource "google_cloud_run_v2_service_iam_member" "workflows_invoker" {
  for_each = local.http_functions

  name     = google_cloud_run_v2_service.function[each.key].name
  location = google_cloud_run_v2_service.function[each.key].location
  role     = "roles/run.invoker"
  member   = google_service_account.workflows.member
}

resource "google_project_iam_member" "workflows_logging" {
  project = var.project
  role    = "roles/logging.logWriter"
  member  = google_service_account.workflows.member
}

# Who may call the HTTP functions from outside.

resource "google_cloud_run_v2_service_iam_member" "webhook_public" {
  count = var.public_webhook && contains(keys(local.functions), "webhook") ? 1 : 0

  name     = google_cloud_run_v2_service.function["webhook"].name
  location = google_cloud_run_v2_service.function["webhook"].location
  role     = "roles/run.invoker"
  member   = "allUsers"
}

resource "google_cloud_run_v2_service_iam_member" "gate_invoker" {
  for_each = toset(var.gate_invokers)

  name     = google_cloud_run_v2_service.function["gate"].name
  location = google_cloud_run_v2_service.function["gate"].location
  role     = "roles/run.invoker"
  member   = each.value
}
