# What calls the private functions: Cloud Tasks (dispatch_window, at each window's start) and Cloud
# Scheduler (plan_windows, on a cron). Both present an OIDC token that Cloud Run checks against run.invoker
# and the function checks again (audience and email) in code.

resource "google_cloud_tasks_queue" "dispatch" {
  project  = var.project_id
  location = var.region
  name     = "${var.name_prefix}-dispatch"

  rate_limits {
    max_dispatches_per_second = var.tasks_max_dispatches_per_second
    max_concurrent_dispatches = var.tasks_max_concurrent_dispatches
  }

  retry_config {
    max_attempts  = var.tasks_max_attempts
    min_backoff   = "${var.tasks_min_backoff_seconds}s"
    max_backoff   = "${var.tasks_max_backoff_seconds}s"
    max_doublings = var.tasks_max_doublings
  }

  # Every attempt's outcome in Cloud Logging: the trail an operator follows when a fix did not arrive.
  stackdriver_logging_config {
    sampling_ratio = 1.0
  }

  depends_on = [google_project_service.api]
}

resource "google_cloud_scheduler_job" "plan" {
  project     = var.project_id
  region      = var.region
  name        = "${var.name_prefix}-plan-windows"
  description = "Runs the maintenance-window planner."
  schedule    = var.plan_schedule
  time_zone   = var.plan_time_zone
  # As long as the planner may run; a shorter deadline would record a run that is still going as failed.
  attempt_deadline = "${local.functions["plan_windows"].timeout}s"

  # The next tick is the retry: a second attempt right away would find the same failure, and plan_failed
  # alerts on it.
  retry_config {
    retry_count = 0
  }

  http_target {
    http_method = "POST"
    uri         = local.function_urls["plan_windows"]
    body        = base64encode(jsonencode({ trigger = "scheduler" }))
    headers     = { "Content-Type" = "application/json" }

    oidc_token {
      service_account_email = google_service_account.scheduler.email
      # The same URL plan_windows knows as MW_PLAN_URL and checks the token's audience against.
      audience = local.function_urls["plan_windows"]
    }
  }

  depends_on = [google_cloud_run_v2_service_iam_member.scheduler_invokes_planner]
}

# CalDAV has no push: this second job syncs the followed CalDAV calendars (service/polling.py). With no
# CalDAV people it finds nothing to sync and answers at once.
resource "google_cloud_scheduler_job" "follow" {
  project     = var.project_id
  region      = var.region
  name        = "${var.name_prefix}-follow-calendars"
  description = "Syncs the calendars that cannot push (CalDAV) through plan_windows' follow-only call."
  schedule    = var.follow_schedule
  time_zone   = var.plan_time_zone
  # plan_windows runs one request at a time: a tick that meets a planning run waits for it, or fails and
  # leaves the sync to the next tick (the planning run syncs the same calendars too).
  attempt_deadline = "${local.functions["plan_windows"].timeout}s"

  retry_config {
    retry_count = 0
  }

  http_target {
    http_method = "POST"
    uri         = local.function_urls["plan_windows"]
    body        = base64encode(jsonencode({ follow_only = true }))
    headers     = { "Content-Type" = "application/json" }

    oidc_token {
      service_account_email = google_service_account.scheduler.email
      audience              = local.function_urls["plan_windows"]
    }
  }

  depends_on = [google_cloud_run_v2_service_iam_member.scheduler_invokes_planner]
}
