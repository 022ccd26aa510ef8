# Cloud Scheduler: one job per entry of scheduler/jobs.yaml, the same declarations `aetherveil
# serve` runs in process. A job names exactly one target:
#   function: <FUNCTION_TARGET>   `method` `path` on that function's Cloud Run URL, with an OIDC
#                                 token of the scheduler account (audience: the service URL), and
#                                 `body` as JSON;
#   workflow: <workflows/NAME>    a new execution of that workflow through the Workflows
#                                 executions API (OAuth), with `body` as its argument.

locals {
  scheduler_file = "${path.module}/../scheduler/jobs.yaml"
  scheduler_jobs = fileexists(local.scheduler_file) ? try(yamldecode(file(local.scheduler_file)).jobs, []) : []

  function_jobs = { for j in local.scheduler_jobs : j.name => j if try(j.function, null) != null }
  workflow_jobs = { for j in local.scheduler_jobs : j.name => j if try(j.workflow, null) != null }

  # Looked up with a default so that a job naming an unknown target fails its precondition (with
  # the job's name) rather than an index error.
  service_uris = { for name, s in google_cloud_run_v2_service.function : name => s.uri }
  workflow_ids = { for name, w in google_workflows_workflow.workflow : name => w.id }
}

resource "google_cloud_scheduler_job" "function" {
  for_each = local.function_jobs

  name             = "${var.name_prefix}-${each.key}"
  region           = var.region
  description      = try(each.value.description, "")
  schedule         = each.value.schedule
  time_zone        = try(each.value.time_zone, "Etc/UTC")
  attempt_deadline = "${min(try(local.functions[each.value.function].timeout, 300), 1800)}s"

  retry_config {
    retry_count          = 3
    min_backoff_duration = "30s"
    max_backoff_duration = "600s"
  }

  http_target {
    http_method = upper(try(each.value.method, "POST"))
    uri         = "${lookup(local.service_uris, each.value.function, "")}${try(each.value.path, "/")}"
    headers     = { "Content-Type" = "application/json" }
    body        = base64encode(jsonencode(try(each.value.body, {})))

    oidc_token {
      service_account_email = google_service_account.scheduler.email
      audience              = lookup(local.service_uris, each.value.function, "")
    }
  }

  lifecycle {
    precondition {
      condition     = try(each.value.workflow, null) == null
      error_message = "scheduler job ${each.key}: name either a function or a workflow, not both."
    }
    precondition {
      condition     = contains(keys(local.functions), each.value.function)
      error_message = "scheduler job ${each.key}: ${each.value.function} is not a deployed function."
    }
  }
}

resource "google_cloud_scheduler_job" "workflow" {
  for_each = local.workflow_jobs

  name             = "${var.name_prefix}-${each.key}"
  region           = var.region
  description      = try(each.value.description, "")
  schedule         = each.value.schedule
  time_zone        = try(each.value.time_zone, "Etc/UTC")
  attempt_deadline = "180s"

  retry_config {
    retry_count          = 3
    min_backoff_duration = "30s"
    max_backoff_duration = "600s"
  }

  http_target {
    http_method = "POST"
    uri         = "https://workflowexecutions.googleapis.com/v1/${lookup(local.workflow_ids, each.value.workflow, "")}/executions"
    headers     = { "Content-Type" = "application/json" }
    body        = base64encode(jsonencode({ argument = jsonencode(try(each.value.body, {})) }))

    oauth_token {
      service_account_email = google_service_account.scheduler.email
      scope                 = "https://www.googleapis.com/auth/cloud-platform"
    }
  }

  lifecycle {
    precondition {
      condition     = contains(keys(local.workflows), each.value.workflow)
      error_message = "scheduler job ${each.key}: workflows/${each.value.workflow}.yaml does not exist."
    }
  }
}
