# The module creates the secrets and who may read them, never their values: add versions with
# `gcloud secrets versions add` (docs/deploy.md). The one exception is the team configuration, which is
# configuration rather than a credential: when var.team_config_path is set it is sent as a write-only
# argument, which Terraform passes to the API and never records in plan or state.

locals {
  secrets = {
    webhook_secrets  = "Basic-auth passwords Fleet puts in the webhook URL, comma separated (two during rotation)."
    fleet_api_token  = "Fleet API token of the API-only user the functions act as."
    team_config      = "Team configuration YAML (policies, remediations, working hours), mounted as a file."
    chat_webhook_url = "Incoming webhook URL (Slack or Google Chat) for chat alerts, or none to send no alerts."
    # JSON: {"service_account": {...}} and/or {"app_passwords": {...}} (docs/caldav.md). Unused without CalDAV.
    caldav_credentials = "CalDAV service account and app passwords, as one JSON object (docs/deploy.md)."
  }
}

resource "google_secret_manager_secret" "secret" {
  for_each = local.secrets

  project   = var.project_id
  secret_id = "${var.name_prefix}-${replace(each.key, "_", "-")}"
  labels    = { purpose = replace(each.key, "_", "-") }

  annotations = { description = each.value }

  replication {
    auto {}
  }

  depends_on = [google_project_service.api]
}

resource "google_secret_manager_secret_version" "team_config" {
  count = var.team_config_path == null ? 0 : 1

  secret         = google_secret_manager_secret.secret["team_config"].id
  secret_data_wo = file(var.team_config_path)
  # Write-only values cannot be diffed, so a change of file must be signalled: a number derived from the
  # file's hash changes exactly when the contents do, which adds a new version.
  secret_data_wo_version = parseint(substr(filesha256(var.team_config_path), 0, 12), 16)

  # A new file replaces this resource; ABANDON keeps the previous version enabled in Secret Manager, so a bad
  # file can be rolled back by pinning var.secret_versions.team_config to the earlier number.
  deletion_policy = "ABANDON"
}
