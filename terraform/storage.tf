# Blobs: one bucket, object name `<namespace>/<key>` (shared/blobs-gcs). Raw webhook bodies
# (`raw-deliveries/`) and job logs (`job-logs/`) expire; trained models (`models/`) and logscan's
# per-job log profiles (`log-profiles/`, rewritten as jobs pass, pointed at by documents) are kept.

resource "google_storage_bucket" "blobs" {
  name     = "${var.project}-${var.name_prefix}-blobs"
  location = var.bucket_location != "" ? var.bucket_location : var.region
  labels   = local.labels

  uniform_bucket_level_access = true
  public_access_prevention    = "enforced"
  force_destroy               = !var.deletion_protection

  # Models are versioned by key (`models/<name>/<version>`); object versioning would only keep
  # copies of what the code never overwrites.
  versioning {
    enabled = false
  }

  lifecycle_rule {
    condition {
      age            = var.raw_delivery_retention_days
      matches_prefix = ["raw-deliveries/"]
    }
    action {
      type = "Delete"
    }
  }

  lifecycle_rule {
    condition {
      age            = var.job_log_retention_days
      matches_prefix = ["job-logs/"]
    }
    action {
      type = "Delete"
    }
  }

  # Interrupted uploads leave no parts behind.
  lifecycle_rule {
    condition {
      age = 1
    }
    action {
      type = "AbortIncompleteMultipartUpload"
    }
  }
}
