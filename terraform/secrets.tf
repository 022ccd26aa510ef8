# Secret Manager secrets. Terraform creates the secrets, never their values (which would land in
# the state): add a version with `gcloud secrets versions add <id> --data-file=-` before the
# services start; `scripts/deploy.sh --phase 3` checks that each has one. Each function reads only
# the secrets it mounts (local.function_secrets, iam.tf).

resource "google_secret_manager_secret" "secret" {
  for_each = local.enabled_secrets

  secret_id = "${var.name_prefix}-${each.key}"
  labels    = local.labels

  replication {
    auto {}
  }
}
