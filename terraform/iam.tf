# Identities and least-privilege grants. No service account key exists anywhere: the functions run as their
# own service accounts, and Calendar access is keyless domain-wide delegation (the functions ask IAM
# Credentials to sign a JWT as the calendar identity).
#
# tests/terraform/test_terraform_config.py holds the complete expected role map; a grant added here without
# updating it fails the tests.

# ---------------------------------------------------------------------------------------------------------
# Service accounts
# ---------------------------------------------------------------------------------------------------------

# One runtime identity per function, so a compromised public endpoint holds only its own permissions.
resource "google_service_account" "function" {
  for_each = local.functions

  project      = var.project_id
  account_id   = "${var.name_prefix}-${each.value.account}"
  display_name = "maintenance-windows ${each.key}"
  description  = "Runtime identity of the ${each.key} function."

  depends_on = [google_project_service.api]
}

# The identity users' calendars are reached as. One shared identity means one OAuth client id for the
# Workspace admin to authorise; it holds no role at all, only the functions that call Calendar may sign as it.
resource "google_service_account" "calendar" {
  project      = var.project_id
  account_id   = "${var.name_prefix}-calendar"
  display_name = "maintenance-windows Google Calendar (domain-wide delegation)"
  description  = "Client id authorised for domain-wide delegation to the calendar scopes. Holds no roles."

  depends_on = [google_project_service.api]
}

# Cloud Scheduler signs its OIDC token as this identity to call plan_windows.
resource "google_service_account" "scheduler" {
  project      = var.project_id
  account_id   = "${var.name_prefix}-scheduler"
  display_name = "maintenance-windows Cloud Scheduler invoker"
  description  = "Calls plan_windows on schedule."

  depends_on = [google_project_service.api]
}

# Cloud Tasks signs its OIDC token as this identity to call dispatch_window.
resource "google_service_account" "task_invoker" {
  project      = var.project_id
  account_id   = "${var.name_prefix}-task-invoker"
  display_name = "maintenance-windows Cloud Tasks invoker"
  description  = "Calls dispatch_window when a dispatch task comes due."

  depends_on = [google_project_service.api]
}

# Builds the functions' images. Since 2024 new projects give Cloud Build no usable default identity.
resource "google_service_account" "builder" {
  project      = var.project_id
  account_id   = "${var.name_prefix}-builder"
  display_name = "maintenance-windows function builder"
  description  = "Cloud Build identity for building the functions."

  depends_on = [google_project_service.api]
}

# ---------------------------------------------------------------------------------------------------------
# Project-level grants
# ---------------------------------------------------------------------------------------------------------

# Every function keeps its state in Firestore. The condition confines the role to this database.
resource "google_project_iam_member" "firestore_user" {
  for_each = google_service_account.function

  project = var.project_id
  role    = "roles/datastore.user"
  member  = each.value.member

  condition {
    title      = "only-${replace(var.firestore_database, "/[()]/", "")}-database"
    expression = "resource.name == \"projects/${var.project_id}/databases/${var.firestore_database}\""
  }
}

resource "google_project_iam_member" "task_enqueuer" {
  for_each = toset(local.task_creators)

  project = var.project_id
  role    = "roles/cloudtasks.enqueuer"
  member  = google_service_account.function[each.key].member
}

resource "google_project_iam_member" "gemini_user" {
  for_each = toset(local.gemini_callers)

  project = var.project_id
  role    = "roles/aiplatform.user"
  member  = google_service_account.function[each.key].member
}

# roles/run.builder is Google's role for exactly this: build functions and source deployments.
resource "google_project_iam_member" "builder" {
  project = var.project_id
  role    = "roles/run.builder"
  member  = google_service_account.builder.member
}

# ---------------------------------------------------------------------------------------------------------
# Grants on service accounts
# ---------------------------------------------------------------------------------------------------------

# Creating a task with an OIDC token signed as task_invoker requires iam.serviceAccounts.actAs on it (only).
resource "google_service_account_iam_member" "task_creator_acts_as_invoker" {
  for_each = toset(local.task_creators)

  service_account_id = google_service_account.task_invoker.name
  role               = "roles/iam.serviceAccountUser"
  member             = google_service_account.function[each.key].member
}

# Keyless domain-wide delegation: the caller signs the delegation JWT with signJwt on the calendar identity.
resource "google_service_account_iam_member" "calendar_signer" {
  for_each = toset(local.calendar_callers)

  service_account_id = google_service_account.calendar.name
  role               = "roles/iam.serviceAccountTokenCreator"
  member             = google_service_account.function[each.key].member
}

# ---------------------------------------------------------------------------------------------------------
# Grants on secrets: each function reads exactly the secrets it mounts
# ---------------------------------------------------------------------------------------------------------

resource "google_secret_manager_secret_iam_member" "secret_env_reader" {
  for_each = local.function_secret_grants

  project   = var.project_id
  secret_id = google_secret_manager_secret.secret[each.value.secret].secret_id
  role      = "roles/secretmanager.secretAccessor"
  member    = google_service_account.function[each.value.function].member
}

# Every function mounts the team configuration (MW_TEAM_CONFIG).
resource "google_secret_manager_secret_iam_member" "team_config_reader" {
  for_each = google_service_account.function

  project   = var.project_id
  secret_id = google_secret_manager_secret.secret["team_config"].secret_id
  role      = "roles/secretmanager.secretAccessor"
  member    = each.value.member
}

# ---------------------------------------------------------------------------------------------------------
# Who may invoke the functions (roles/run.invoker on the Cloud Run service behind each function)
# ---------------------------------------------------------------------------------------------------------

# Fleet's webhook and Google Calendar push carry no Google identity, so these two are open to anyone and
# authenticate every request in code (Basic credentials / the channel token).
resource "google_cloud_run_v2_service_iam_member" "public" {
  for_each = toset(local.public_functions)

  project  = var.project_id
  location = var.region
  name     = google_cloudfunctions2_function.function[each.key].name
  role     = "roles/run.invoker"
  member   = "allUsers"
}

resource "google_cloud_run_v2_service_iam_member" "scheduler_invokes_planner" {
  project  = var.project_id
  location = var.region
  name     = google_cloudfunctions2_function.function["plan_windows"].name
  role     = "roles/run.invoker"
  member   = google_service_account.scheduler.member
}

resource "google_cloud_run_v2_service_iam_member" "tasks_invoke_dispatcher" {
  project  = var.project_id
  location = var.region
  name     = google_cloudfunctions2_function.function["dispatch_window"].name
  role     = "roles/run.invoker"
  member   = google_service_account.task_invoker.member
}
