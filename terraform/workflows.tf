# Cloud Workflows: one workflow per workflows/<name>.yaml. A workflow finds the functions it calls
# through `sys.get_env("AETHERVEIL_URL_<FUNCTION>")` (the function's name in upper case, `-` as
# `_`), set here to each HTTP function's Cloud Run URL; locally the executor sets them all to the
# one `aetherveil serve` address. Calls carry `auth: {type: OIDC}` as the workflows account, which
# may invoke the HTTP functions (iam.tf).

locals {
  workflow_files = fileset("${path.module}/../workflows", "*.yaml")
  workflows      = { for f in local.workflow_files : trimsuffix(f, ".yaml") => f }

  workflow_env = {
    for name, f in local.http_functions :
    "AETHERVEIL_URL_${upper(replace(name, "-", "_"))}" => google_cloud_run_v2_service.function[name].uri
  }
}

resource "google_workflows_workflow" "workflow" {
  for_each = local.workflows

  name            = "${var.name_prefix}-${each.key}"
  region          = var.region
  description     = "Aetherveil workflow ${each.key} (workflows/${each.value})."
  service_account = google_service_account.workflows.id
  source_contents = file("${path.module}/../workflows/${each.value}")
  user_env_vars   = local.workflow_env
  call_log_level  = "LOG_ERRORS_ONLY"
  labels          = local.labels
}
