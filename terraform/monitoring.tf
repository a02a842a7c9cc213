# Counters from the functions' structured logs. maintenance_windows.observability writes one JSON object
# per line; a call like log(logger, INFO, "...", event="window_booked") becomes jsonPayload.event.

locals {
  logged_events = {
    windows_booked     = { event = "window_booked", description = "Maintenance windows booked into a calendar." }
    windows_moved      = { event = "window_moved", description = "Windows moved, by the user or re-planned." }
    windows_dispatched = { event = "window_dispatched", description = "Fixes sent to Fleet at window start." }
    dispatch_failures  = { event = "dispatch_failed", description = "Fixes that could not be sent or verified." }
    hosts_escalated    = { event = "host_escalated", description = "Hosts handed to a human after repeated failures." }
    plan_failures      = { event = "plan_failed", description = "Planner runs that failed." }
    early_tasks        = { event = "task_early", description = "Dispatch tasks that came before their window's start; nothing was sent." }
  }

  # Only our own services: other workloads in the project may log the same event names.
  our_services_filter = join(" OR ", [
    for name in values(local.function_names) : "resource.labels.service_name=\"${name}\""
  ])
}

resource "google_logging_metric" "event" {
  for_each = local.logged_events

  project     = var.project_id
  name        = "${var.name_prefix}/${each.key}"
  description = each.value.description
  filter      = "resource.type=\"cloud_run_revision\" AND (${local.our_services_filter}) AND jsonPayload.event=\"${each.value.event}\""

  metric_descriptor {
    metric_kind = "DELTA"
    value_type  = "INT64"
    unit        = "1"

    labels {
      key         = "service"
      value_type  = "STRING"
      description = "Cloud Run service (function) that logged the event."
    }
  }

  label_extractors = {
    service = "EXTRACT(resource.labels.service_name)"
  }

  depends_on = [google_project_service.api]
}

locals {
  # Server errors from a function: crashes and timeouts log no event of their own.
  server_errors_filter = {
    for key, name in local.function_names : key => join(" AND ", [
      "metric.type=\"run.googleapis.com/request_count\"",
      "resource.type=\"cloud_run_revision\"",
      "resource.labels.service_name=\"${name}\"",
      "metric.labels.response_code_class=\"5xx\"",
    ])
  }
}

resource "google_monitoring_alert_policy" "dispatch_failures" {
  project               = var.project_id
  display_name          = "maintenance-windows: dispatches failing"
  combiner              = "OR"
  severity              = "ERROR"
  notification_channels = var.alert_notification_channels

  conditions {
    display_name = "dispatch_failed events"
    condition_threshold {
      filter          = "metric.type=\"logging.googleapis.com/user/${google_logging_metric.event["dispatch_failures"].name}\" AND resource.type=\"cloud_run_revision\""
      comparison      = "COMPARISON_GT"
      threshold_value = var.dispatch_failures_alert_threshold
      duration        = "0s"
      aggregations {
        alignment_period     = "600s"
        per_series_aligner   = "ALIGN_SUM"
        cross_series_reducer = "REDUCE_SUM"
      }
    }
  }

  conditions {
    display_name = "dispatch_window answers 5xx (Cloud Tasks retries)"
    condition_threshold {
      filter          = local.server_errors_filter["dispatch_window"]
      comparison      = "COMPARISON_GT"
      threshold_value = 0
      duration        = "0s"
      aggregations {
        alignment_period     = "600s"
        per_series_aligner   = "ALIGN_SUM"
        cross_series_reducer = "REDUCE_SUM"
      }
    }
  }

  alert_strategy {
    auto_close = "86400s"
  }

  documentation {
    mime_type = "text/markdown"
    content   = <<-EOT
      Fixes scheduled for maintenance windows are not reaching Fleet, or Fleet reports they did not work.
      Logs: resource.labels.service_name="${local.function_names["dispatch_window"]}" severity>=WARNING.
      Check that the Fleet API token secret (${google_secret_manager_secret.secret["fleet_api_token"].secret_id}) is valid
      and that ${var.fleet_url} answers. Failed tasks are retried by queue ${google_cloud_tasks_queue.dispatch.name}.
    EOT
  }
}

resource "google_monitoring_alert_policy" "plan_failures" {
  project               = var.project_id
  display_name          = "maintenance-windows: planner failing"
  combiner              = "OR"
  severity              = "ERROR"
  notification_channels = var.alert_notification_channels

  conditions {
    display_name = "plan_failed events"
    condition_threshold {
      filter          = "metric.type=\"logging.googleapis.com/user/${google_logging_metric.event["plan_failures"].name}\" AND resource.type=\"cloud_run_revision\""
      comparison      = "COMPARISON_GT"
      threshold_value = 0
      duration        = "0s"
      aggregations {
        alignment_period     = "900s"
        per_series_aligner   = "ALIGN_SUM"
        cross_series_reducer = "REDUCE_SUM"
      }
    }
  }

  conditions {
    display_name = "plan_windows answers 5xx (crash or timeout)"
    condition_threshold {
      filter          = local.server_errors_filter["plan_windows"]
      comparison      = "COMPARISON_GT"
      threshold_value = 0
      duration        = "0s"
      aggregations {
        alignment_period     = "900s"
        per_series_aligner   = "ALIGN_SUM"
        cross_series_reducer = "REDUCE_SUM"
      }
    }
  }

  alert_strategy {
    auto_close = "86400s"
  }

  documentation {
    mime_type = "text/markdown"
    content   = <<-EOT
      The planner failed: new failing hosts are not being booked into calendars.
      Logs: resource.labels.service_name="${local.function_names["plan_windows"]}" severity>=WARNING.
      Common causes: domain-wide delegation revoked or missing a scope for client id
      ${google_service_account.calendar.unique_id}, an invalid team configuration
      (${google_secret_manager_secret.secret["team_config"].secret_id}), or Calendar quota exhausted.
    EOT
  }
}
