locals {
  # One entry per entry point in functions/main.py; the key is the Python function name (entry_point) and,
  # with "_" turned into "-", the Cloud Run service name. tests/terraform checks both directions.
  #
  # Concurrency above 1 needs a whole vCPU, hence cpu = "1" everywhere. Timeouts mirror the work each does.
  functions = {
    fleet_webhook = {
      description = "Receives Fleet's failing-policies webhook. Public: Basic credentials are checked in code."
      account     = "webhook"
      memory      = "512Mi"
      cpu         = "1"
      timeout     = 60
      concurrency = 20
      min         = 0
      max         = 10
      # Only records what Fleet reported (host and policy ids), storing a large payload as chunks for tasks to
      # fold in; enrichment through Fleet's API happens in the planner, so the public endpoint holds no Fleet
      # credential.
      secret_env = {
        MW_WEBHOOK_SECRETS = "webhook_secrets"
      }
    }
    plan_windows = {
      description = "Books maintenance windows into calendars. Invoked by Cloud Scheduler only."
      account     = "planner"
      memory      = "1Gi"
      cpu         = "1"
      # Cloud Scheduler allows an HTTP attempt up to 30 min; 9 min leaves a whole tick free at */15.
      timeout     = 540
      concurrency = 1
      min         = 0
      # One planner at a time: two overlapping runs would race to book the same users.
      max = 1
      secret_env = {
        MW_FLEET_API_TOKEN    = "fleet_api_token"
        MW_CALDAV_CREDENTIALS = "caldav_credentials"
        # Chat alerts after each run; a secret version "none" turns them off (docs/deploy.md).
        MW_CHAT_WEBHOOK_URL = "chat_webhook_url"
      }
    }
    calendar_notifications = {
      description = "Receives Google Calendar push notifications. Public: the channel token is checked in code."
      account     = "notifications"
      memory      = "512Mi"
      cpu         = "1"
      timeout     = 60
      concurrency = 20
      min         = 0
      max         = 10
      # It reschedules with the planner's clients, CalDAV's among them (wiring.notifications).
      secret_env = {
        MW_CALDAV_CREDENTIALS = "caldav_credentials"
      }
    }
    dispatch_window = {
      description = "Sends the fix through Fleet at window start and verifies it. Invoked by Cloud Tasks only."
      account     = "dispatcher"
      memory      = "512Mi"
      cpu         = "1"
      timeout     = 300
      concurrency = 10
      min         = 0
      # Enough instances for every task the queue lets run at once, and no more.
      max = max(1, ceil(var.tasks_max_concurrent_dispatches / 10))
      secret_env = {
        MW_FLEET_API_TOKEN = "fleet_api_token"
      }
    }
  }

  # Who does what. Each list drives the IAM grant and the matching configuration together, so they cannot
  # drift apart. tests/terraform holds the expected role of every identity.
  #
  # Fleet and Google's push channels send no Google identity: these two are public and authenticate in code.
  public_functions = ["fleet_webhook", "calendar_notifications"]
  # Create tasks for dispatch_window (acting as the task-invoker identity, which is what Cloud Tasks signs
  # as): window tasks, and the webhook's chunk tasks (a large failing-policies webhook is folded in by them).
  task_creators = ["fleet_webhook", "plan_windows", "calendar_notifications", "dispatch_window"]
  # Call Google Calendar as users through the shared calendar identity (keyless DWD: signJwt on it).
  # Only the functions whose wiring builds a Calendar client: the dispatcher sends fixes through Fleet and
  # never reaches a calendar (tests/terraform ties this list to wiring.py).
  calendar_callers = ["plan_windows", "calendar_notifications"]
  # Call Gemini. The planner writes each event's explanation; notifications re-writes an event's text when
  # it re-creates a deleted or moved event on another day, and the cached explanation (TTL) may be gone.
  # The webhook and the dispatcher write no user-facing text, so they run with MW_AI_ENABLED=false.
  gemini_callers = ["plan_windows", "calendar_notifications"]

  function_names = { for key in keys(local.functions) : key => "${var.name_prefix}-${replace(key, "_", "-")}" }

  # The functions' URLs, known before they exist. Every function reads the others' URLs and its own (the
  # planner and dispatcher check the OIDC audience against their own URL), so taking them from
  # google_cloudfunctions2_function.*.service_config[0].uri would make each function depend on itself.
  # Cloud Run gives every service this deterministic URL besides the hash-based one
  # (https://cloud.google.com/run/docs/triggering/https-request#deterministic); the check block in
  # functions.tf confirms after apply that each service really serves it.
  function_urls = {
    for key, name in local.function_names :
    key => "https://${name}-${data.google_project.this.number}.${var.region}.run.app"
  }

  firestore_location = coalesce(var.firestore_location, var.region)

  # Where the team configuration secret is mounted; MW_TEAM_CONFIG points at the file.
  team_config_mount = "/etc/maintenance-windows"
  team_config_file  = "team.yaml"

  # Every non-secret setting that maintenance_windows.config.settings reads, for every function.
  # Local-only settings (emulators, stand-in endpoints, short lead times) are deliberately absent.
  common_env = {
    MW_PROJECT                   = var.project_id
    MW_REGION                    = var.region
    MW_FIRESTORE_DATABASE        = google_firestore_database.main.name
    MW_TEAM_CONFIG               = "${local.team_config_mount}/${local.team_config_file}"
    MW_MAX_BODY_BYTES            = tostring(var.max_body_bytes)
    MW_FLEET_URL                 = var.fleet_url
    MW_OS_RELEASES_URL           = var.os_releases_url
    MW_CALENDAR_CREDENTIALS      = "keyless"
    MW_CALENDAR_SERVICE_ACCOUNT  = google_service_account.calendar.email
    MW_CALENDAR_QUOTA_PER_MINUTE = tostring(var.calendar_quota_per_minute)
    MW_CALDAV_QUOTA_PER_MINUTE   = tostring(var.caldav_quota_per_minute)
    MW_NOTIFICATIONS_URL         = local.function_urls["calendar_notifications"]
    MW_GRAPH_CREDENTIALS         = "keyless"
    MW_GRAPH_TENANT_ID           = var.graph_tenant_id
    MW_GRAPH_CLIENT_ID           = var.graph_client_id
    MW_TASKS_QUEUE               = google_cloud_tasks_queue.dispatch.id
    MW_DISPATCH_URL              = local.function_urls["dispatch_window"]
    MW_TASK_INVOKER_SA           = google_service_account.task_invoker.email
    MW_PLAN_URL                  = local.function_urls["plan_windows"]
    MW_SCHEDULER_SA              = google_service_account.scheduler.email
    MW_GEMINI_MODEL              = var.gemini_model
    MW_GEMINI_LOCATION           = var.gemini_location
    MW_GEMINI_TIMEOUT_SECONDS    = tostring(var.gemini_timeout_seconds)
    # A minute short of the function timeout, so the planner stops cleanly before Cloud Run cuts it off.
    MW_PLAN_TIME_BUDGET_SECONDS = tostring(local.functions["plan_windows"].timeout - 60)
    # The status page (status.tf): the audience of IAP's signed header, and where chat alerts link to.
    MW_IAP_AUDIENCE = "/projects/${data.google_project.this.number}/locations/${var.region}/services/${local.status_page_name}"
    MW_STATUS_URL   = local.status_page_url
    # Chat alerts (the webhook URL itself is a secret, given to plan_windows only).
    MW_CHAT_FORMAT           = var.chat_format
    MW_CHAT_PAUSE_ALERT_DAYS = tostring(var.chat_pause_alert_days)
  }

  # The status page reads Firestore only: the shared settings, no AI, no secret.
  status_page_env = merge(local.common_env, { MW_AI_ENABLED = "false" })

  # Settings that differ per function.
  function_env = {
    for key in keys(local.functions) : key => {
      MW_AI_ENABLED = tostring(var.ai_enabled && contains(local.gemini_callers, key))
    }
  }

  # (function, secret) pairs for secret environment variables; each pair gets its own secretAccessor grant.
  function_secret_grants = merge([
    for key, function in local.functions : {
      for env_var, secret in function.secret_env : "${key}/${secret}" => { function = key, secret = secret }
    }
  ]...)
}

data "google_project" "this" {
  project_id = var.project_id
}
