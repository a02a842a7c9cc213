output "fleet_webhook_url" {
  description = "URL for Fleet's failing-policies automation, without credentials. Fleet authenticates by Basic credentials in the URL: see fleet_webhook_url_template."
  value       = local.function_urls["fleet_webhook"]
}

output "fleet_webhook_url_template" {
  description = "What to paste into Fleet (Policies > Manage automations > Webhook), once <SECRET> is replaced by one of the comma-separated values in the webhook secret. The user name is not checked."
  value       = replace(local.function_urls["fleet_webhook"], "https://", "https://fleet:<SECRET>@")
}

output "webhook_secret" {
  description = "Secret Manager secret holding the webhook password(s), and the command that shows the current ones."
  value = {
    secret_id = google_secret_manager_secret.secret["webhook_secrets"].secret_id
    show      = "gcloud secrets versions access latest --secret=${google_secret_manager_secret.secret["webhook_secrets"].secret_id} --project=${var.project_id}"
  }
}

output "secret_ids" {
  description = "Secret Manager secrets the module created; add their values with `gcloud secrets versions add` (docs/deploy.md)."
  value       = { for key, secret in google_secret_manager_secret.secret : key => secret.secret_id }
}

output "calendar_client_id" {
  description = "Client ID for the Workspace admin: Security > Access and data control > API controls > Domain-wide delegation."
  value       = google_service_account.calendar.unique_id
}

output "calendar_service_account" {
  description = "The identity calendars are reached as (MW_CALENDAR_SERVICE_ACCOUNT)."
  value       = google_service_account.calendar.email
}

output "graph_federated_subjects" {
  description = "Subject of each Entra federated credential (issuer https://accounts.google.com, audience api://AzureADTokenExchange): the unique id of the service account each calendar function runs as (docs/deploy.md)."
  value = {
    for name in ["plan_windows", "calendar_notifications"] : name => google_service_account.function[name].unique_id
  }
}

output "calendar_scopes" {
  description = "OAuth scopes to authorise for calendar_client_id, comma separated as the Admin console expects."
  value = join(",", [
    "https://www.googleapis.com/auth/calendar.events",
    "https://www.googleapis.com/auth/calendar.freebusy",
    "https://www.googleapis.com/auth/calendar.settings.readonly",
  ])
}

output "function_urls" {
  description = "The URL each function is known by (MW_*_URL, the Scheduler audience, the Calendar push address)."
  value       = local.function_urls
}

output "function_urls_served" {
  description = "Every URL Cloud Run serves each function on, service_config[0].uri first."
  value = {
    for key, function in google_cloudfunctions2_function.function :
    key => distinct(concat([function.service_config[0].uri], data.google_cloud_run_v2_service.function[key].urls))
  }
}

output "tasks_queue" {
  description = "Cloud Tasks queue the dispatch tasks go to (MW_TASKS_QUEUE)."
  value       = google_cloud_tasks_queue.dispatch.id
}

output "scheduler_job" {
  description = "Cloud Scheduler job that runs the planner; `gcloud scheduler jobs run` it for a first plan."
  value       = google_cloud_scheduler_job.plan.name
}

output "firestore_database" {
  description = "Firestore database the functions use (MW_FIRESTORE_DATABASE)."
  value       = google_firestore_database.main.name
}

output "status_page_url" {
  description = "The admins' status page, behind Identity-Aware Proxy (only var.status_admins get in)."
  value       = local.status_page_url
}
