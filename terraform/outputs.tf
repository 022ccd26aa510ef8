output "function_urls" {
  description = "Cloud Run URL of each function."
  value       = { for name, s in google_cloud_run_v2_service.function : name => s.uri }
}

output "webhook_url" {
  description = "The GitHub webhook's payload URL (POST)."
  value       = contains(keys(local.functions), "webhook") ? "${google_cloud_run_v2_service.function["webhook"].uri}/webhook/github" : null
}

output "gate_url" {
  description = "Where CI posts Trivy/SARIF reports (POST, with an identity token of a gate_invokers member)."
  value       = contains(keys(local.functions), "gate") ? "${google_cloud_run_v2_service.function["gate"].uri}/gate/trivy" : null
}

output "blob_bucket" {
  description = "The blob bucket."
  value       = google_storage_bucket.blobs.name
}

output "secrets" {
  description = "Secret Manager secret ids that need a version before the functions start."
  value       = [for s in google_secret_manager_secret.secret : s.secret_id]
}

output "push_service_account" {
  description = "The identity in Pub/Sub push OIDC tokens (for push verification)."
  value       = google_service_account.push.email
}

output "workflows" {
  description = "Deployed workflows."
  value       = { for name, w in google_workflows_workflow.workflow : name => w.id }
}

output "dashboard" {
  description = "The Cloud Monitoring dashboard."
  value       = "https://console.cloud.google.com/monitoring/dashboards/builder/${element(split("/", google_monitoring_dashboard.main.id), 3)}?project=${var.project}"
}
