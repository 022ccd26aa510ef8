# One Cloud Run service per function, all from the same image. `aetherveil run-function` serves
# the registry entry named by FUNCTION_TARGET on $PORT (the Functions Framework contract), with
# GET /healthz and GET /metrics beside the function's own routes.

resource "google_cloud_run_v2_service" "function" {
  for_each = local.functions

  name                = "${var.name_prefix}-${each.key}"
  location            = var.region
  description         = "Aetherveil ${each.value.kind} function ${each.key}${each.value.topic != "" ? " (topic ${each.value.topic})" : ""}."
  labels              = merge(local.labels, { function = each.key })
  deletion_protection = var.deletion_protection

  # GitHub calls the webhook and CI calls the gate from the internet; event functions, the
  # trainer and the rest are reached only by Pub/Sub push, Scheduler and Workflows (internal).
  ingress = contains(["webhook", "gate"], each.key) ? "INGRESS_TRAFFIC_ALL" : "INGRESS_TRAFFIC_INTERNAL_ONLY"

  template {
    service_account                  = google_service_account.function[each.key].email
    timeout                          = "${each.value.timeout}s"
    max_instance_request_concurrency = each.value.kind == "event" ? 20 : 80
    labels                           = merge(local.labels, { function = each.key })

    scaling {
      min_instance_count = try(var.scaling[each.key].min, var.min_instances)
      max_instance_count = try(var.scaling[each.key].max, var.max_instances)
    }

    containers {
      name  = "function"
      image = var.image

      ports {
        container_port = 8080
      }

      resources {
        limits = {
          cpu    = var.cpu
          memory = var.memory
        }
        # The Prometheus sidecar scrapes between requests; it needs the CPU outside them.
        cpu_idle          = !var.prometheus_sidecar
        startup_cpu_boost = true
      }

      env {
        name  = "FUNCTION_TARGET"
        value = each.key
      }

      dynamic "env" {
        for_each = local.common_env
        content {
          name  = env.key
          value = env.value
        }
      }

      dynamic "env" {
        for_each = toset(local.function_secrets[each.key])
        content {
          name = local.secrets[env.value].env
          value_source {
            secret_key_ref {
              secret  = google_secret_manager_secret.secret[env.value].secret_id
              version = "latest"
            }
          }
        }
      }

      startup_probe {
        http_get {
          path = "/healthz"
          port = 8080
        }
        period_seconds    = 2
        timeout_seconds   = 1
        failure_threshold = 30
      }

      liveness_probe {
        http_get {
          path = "/healthz"
          port = 8080
        }
        period_seconds    = 30
        timeout_seconds   = 5
        failure_threshold = 3
      }
    }

    dynamic "containers" {
      for_each = var.prometheus_sidecar ? [1] : []
      content {
        name       = "prometheus"
        image      = var.prometheus_sidecar_image
        depends_on = ["function"]

        resources {
          limits = {
            cpu    = "1"
            memory = "256Mi"
          }
          cpu_idle = false
        }
      }
    }
  }

  depends_on = [
    google_project_iam_member.function_datastore,
    google_secret_manager_secret_iam_member.function_secret,
    google_storage_bucket_iam_member.function_blobs,
    google_pubsub_topic_iam_member.function_publisher,
  ]
}
