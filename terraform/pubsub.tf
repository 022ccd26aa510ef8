# Topics, push subscriptions and dead-lettering.
#
# Every event function reads its topic through its own push subscription, named like the function
# (its FUNCTION_TARGET, also its durable subscription name in `aetherveil serve`). Pub/Sub pushes
# the message envelope to the service's URL with an OIDC token of the push account whose audience
# is that URL. Messages of one run share an ordering key and arrive in order. A refused delivery
# (503: retry, 422: permanent) comes back with exponential backoff; after max_delivery_attempts
# it moves to the topic's dead-letter topic, whose pull subscription keeps it for inspection.

resource "google_pubsub_topic" "topic" {
  for_each = local.topics

  name   = each.key
  labels = local.labels

  message_retention_duration = "86400s"
}

resource "google_pubsub_topic" "dead_letter" {
  for_each = local.topics

  name   = "${each.key}-dead-letter"
  labels = local.labels
}

# Without a subscription, messages published to a topic are dropped: this one keeps the dead
# letters until someone looks (or dead_letter_retention passes).
resource "google_pubsub_subscription" "dead_letter" {
  for_each = local.topics

  name                       = "${each.key}-dead-letter"
  topic                      = google_pubsub_topic.dead_letter[each.key].id
  labels                     = local.labels
  message_retention_duration = var.dead_letter_retention
  retain_acked_messages      = false
  ack_deadline_seconds       = 60

  expiration_policy {
    ttl = ""
  }
}

resource "google_pubsub_subscription" "push" {
  for_each = local.event_functions

  name   = each.key
  topic  = google_pubsub_topic.topic[each.value.topic].id
  labels = merge(local.labels, { function = each.key })

  # A push request must be answered within the ack deadline; it is the function's timeout.
  ack_deadline_seconds    = min(each.value.timeout, 600)
  enable_message_ordering = true

  push_config {
    push_endpoint = "${google_cloud_run_v2_service.function[each.key].uri}/"

    oidc_token {
      service_account_email = google_service_account.push.email
      audience              = google_cloud_run_v2_service.function[each.key].uri
    }

    # No `no_wrapper`: the body is the push envelope ({"message": {...}, "subscription": ...}),
    # which aetherveil_runtime::cloudevent decodes (deliveryAttempt included, with dead-lettering).
  }

  retry_policy {
    minimum_backoff = "${var.retry_min_backoff_seconds}s"
    maximum_backoff = "${var.retry_max_backoff_seconds}s"
  }

  dead_letter_policy {
    dead_letter_topic     = google_pubsub_topic.dead_letter[each.value.topic].id
    max_delivery_attempts = var.max_delivery_attempts
  }

  expiration_policy {
    ttl = ""
  }

  depends_on = [
    google_cloud_run_v2_service_iam_member.push_invoker,
    google_pubsub_topic_iam_member.dead_letter_publisher,
  ]
}
