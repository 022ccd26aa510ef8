# Operational state: the Firestore database (native mode) and the composite indexes behind the
# platform's queries.
#
# `indexes` mirrors every `INDEXES` constant in the code (equality fields first, then the ordering
# field) that has two or more fields; Firestore indexes single fields by itself. Each gets an
# ascending and a descending index on its ordering field, since the code reads both ways (newest
# first for lists, oldest first for cursors). tests/it/cloud_shape.rs checks this list against the
# code. The store keeps a document's JSON under one map field (var.firestore_data_field), so the
# indexed paths are `<that field>.<name>`.

resource "google_firestore_database" "main" {
  name                    = "(default)"
  location_id             = var.firestore_location
  type                    = "FIRESTORE_NATIVE"
  delete_protection_state = var.deletion_protection ? "DELETE_PROTECTION_ENABLED" : "DELETE_PROTECTION_DISABLED"
  deletion_policy         = var.deletion_protection ? "ABANDON" : "DELETE"
}

locals {
  indexes = [
    { collection = "runs", fields = ["repo", "updated_at"] },
    { collection = "runs", fields = ["repo", "status", "updated_at"] },
    { collection = "jobs", fields = ["run_id", "job_id"] },
    { collection = "jobs", fields = ["repo", "workflow_name", "name", "completed_at"] },
    { collection = "jobs", fields = ["repo", "name", "conclusion", "completed_at"] },
    { collection = "jobs", fields = ["repo", "workflow_name", "name", "head_branch", "conclusion", "created_at"] },
    { collection = "events", fields = ["repo", "journaled_at"] },
    { collection = "alerts", fields = ["status", "started_at_ms"] },
    { collection = "security_reports", fields = ["repo", "gated_at"] },
    { collection = "security_reports", fields = ["repo", "git_ref", "gated_at"] },
    { collection = "orchestration_plans", fields = ["repo", "created_at_ms"] },
    { collection = "diagnoses", fields = ["repo", "analysed_at"] },
    { collection = "diagnoses", fields = ["cause", "analysed_at"] },
    { collection = "anomalies", fields = ["repo", "last_at_ms"] },
    { collection = "anomalies", fields = ["status", "last_at_ms"] },
    { collection = "anomalies", fields = ["repo", "status", "last_at_ms"] },
    { collection = "baselines", fields = ["repo", "last_at_ms"] },
    { collection = "healing_history", fields = ["repository", "timestamp"] },
    { collection = "healer_decisions", fields = ["repo", "failed_at"] },
    { collection = "healer_signatures", fields = ["repo", "last_seen"] },
    { collection = "healer_flaky", fields = ["repo", "since"] },
    { collection = "healer_plan_steps", fields = ["run_id", "attempt"] },
    # The Pub/Sub relay's scan of the transactional outbox (aetherveil_store::outbox): unpublished
    # messages, oldest first.
    { collection = "outbox", fields = ["published", "origin", "created_at"] },
  ]

  index_directions = ["ASCENDING", "DESCENDING"]

  firestore_indexes = merge([
    for ix in local.indexes : {
      for dir in local.index_directions :
      "${ix.collection}/${join(",", ix.fields)}/${lower(dir)}" => merge(ix, { direction = dir })
    }
  ]...)
}

resource "google_firestore_index" "query" {
  for_each = local.firestore_indexes

  database    = google_firestore_database.main.name
  collection  = each.value.collection
  query_scope = "COLLECTION"

  dynamic "fields" {
    for_each = slice(each.value.fields, 0, length(each.value.fields) - 1)
    content {
      field_path = "${var.firestore_data_field}.${fields.value}"
      order      = "ASCENDING"
    }
  }

  fields {
    field_path = "${var.firestore_data_field}.${element(each.value.fields, length(each.value.fields) - 1)}"
    order      = each.value.direction
  }
}
