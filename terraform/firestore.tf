resource "google_firestore_database" "main" {
  project     = var.project_id
  name        = var.firestore_database
  location_id = local.firestore_location
  type        = "FIRESTORE_NATIVE"

  point_in_time_recovery_enablement = "POINT_IN_TIME_RECOVERY_ENABLED"
  delete_protection_state           = var.firestore_delete_protection ? "DELETE_PROTECTION_ENABLED" : "DELETE_PROTECTION_DISABLED"
  # The provider's default (ABANDON) would leave the database behind on destroy; delete protection above is
  # the guard against accidents instead.
  deletion_policy = "DELETE"

  depends_on = [google_project_service.api]
}

locals {
  # Composite indexes for the queries the handlers run. Firestore indexes every single field automatically,
  # so only queries over two or more fields are listed; queries on one field need nothing here:
  #   host_policies where state == "failing"
  #   channels where expires_at < T
  # To adjust: edit a list of fields (order matters: equality and `in` fields first, then the ordered or
  # ranged field).
  firestore_composite_indexes = {
    # windows where state in [...] order by start
    windows_by_state_and_start = {
      collection = "windows"
      fields = [
        { path = "state", order = "ASCENDING" },
        { path = "start", order = "ASCENDING" },
      ]
    }
    # windows where user_key == X and state in [...]
    windows_by_user_and_state = {
      collection = "windows"
      fields = [
        { path = "user_key", order = "ASCENDING" },
        { path = "state", order = "ASCENDING" },
      ]
    }
  }

  # Collections whose documents Firestore deletes once `expires_at` (a timestamp) has passed. TTL deletion
  # runs within about a day of expiry, so readers must still check expires_at themselves.
  # webhook_chunks: a chunk whose task ran is deleted by it; TTL removes one whose request failed after storing it.
  ttl_collections = ["claims", "leases", "explanations", "webhook_chunks", "alerts"]
}

resource "google_firestore_index" "composite" {
  for_each = local.firestore_composite_indexes

  project     = var.project_id
  database    = google_firestore_database.main.name
  collection  = each.value.collection
  query_scope = "COLLECTION"

  dynamic "fields" {
    for_each = each.value.fields
    content {
      field_path = fields.value.path
      order      = fields.value.order
    }
  }
}

resource "google_firestore_field" "expires_at_ttl" {
  for_each = toset(local.ttl_collections)

  project    = var.project_id
  database   = google_firestore_database.main.name
  collection = each.value
  field      = "expires_at"

  ttl_config {}
}
