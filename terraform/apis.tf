locals {
  apis = toset([
    "aiplatform.googleapis.com",
    "artifactregistry.googleapis.com",
    "calendar-json.googleapis.com",
    "cloudbuild.googleapis.com",
    "cloudfunctions.googleapis.com",
    # data.google_project and the project-level IAM grants go through Resource Manager.
    "cloudresourcemanager.googleapis.com",
    "cloudscheduler.googleapis.com",
    "cloudtasks.googleapis.com",
    "firestore.googleapis.com",
    "iam.googleapis.com",
    # signJwt for keyless domain-wide delegation.
    "iamcredentials.googleapis.com",
    # Identity-Aware Proxy in front of the status page.
    "iap.googleapis.com",
    "logging.googleapis.com",
    "monitoring.googleapis.com",
    "run.googleapis.com",
    "secretmanager.googleapis.com",
  ])
}

resource "google_project_service" "api" {
  for_each = local.apis

  project = var.project_id
  service = each.value
  # Turning an API off on destroy can break anything else in the project that uses it.
  disable_on_destroy = false
}
