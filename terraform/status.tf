# The admins' status page (functions/main.py `status_page`), a Cloud Run function behind Identity-Aware Proxy.
#
# IAP is enabled on the Cloud Run service itself ("Configure IAP for Cloud Run",
# https://cloud.google.com/run/docs/securing/identity-aware-proxy-cloud-run): no load balancer, and every
# ingress path, the run.app URL included, goes through Google's sign-in. Only var.status_admins pass
# (roles/iap.httpsResourceAccessor); IAP then calls the service as its own service agent, which is the one
# principal given run.invoker. The page checks IAP's signed header as well (auth/iap.py), against the
# audience /projects/NUMBER/locations/REGION/services/NAME (MW_IAP_AUDIENCE).
#
# `iap_enabled` exists only in the google-beta provider for the 6.x schema, so this service, deployed from the
# same source bundle as the functions through the Cloud Run Admin API (`build_config`), uses google-beta.
# `terraform validate` cannot run offline here: the shape follows the providers' documentation
# (docs/deploy.md, "Status page").

locals {
  status_page_name = "${var.name_prefix}-status-page"
  # Cloud Run's deterministic URL, known before the service exists (as local.function_urls).
  status_page_url   = "https://${local.status_page_name}-${data.google_project.this.number}.${var.region}.run.app"
  iap_service_agent = "service-${data.google_project.this.number}@gcp-sa-iap.iam.gserviceaccount.com"
}

resource "google_service_account" "status_page" {
  project      = var.project_id
  account_id   = "${var.name_prefix}-status"
  display_name = "maintenance-windows status page"
  description  = "Runtime identity of the status page: reads Firestore, nothing else."

  depends_on = [google_project_service.api]
}

# Read-only: the page shows, it never writes.
resource "google_project_iam_member" "status_page_reader" {
  project = var.project_id
  role    = "roles/datastore.viewer"
  member  = google_service_account.status_page.member

  condition {
    title      = "only-${replace(var.firestore_database, "/[()]/", "")}-database"
    expression = "resource.name == \"projects/${var.project_id}/databases/${var.firestore_database}\""
  }
}

# IAP's service agent exists once the API is used; creating it here lets the invoker grant below refer to it.
resource "google_project_service_identity" "iap" {
  provider = google-beta

  project = var.project_id
  service = "iap.googleapis.com"

  depends_on = [google_project_service.api]
}

resource "google_cloud_run_v2_service" "status_page" {
  #checkov:skip=CKV_GCP_124:IAP is enabled on the service itself and guards every ingress path; admins reach it from their browsers, outside any VPC.
  provider = google-beta

  project             = var.project_id
  location            = var.region
  name                = local.status_page_name
  description         = "The admins' read-only status page. Behind Identity-Aware Proxy: var.status_admins only."
  launch_stage        = "BETA"
  ingress             = "INGRESS_TRAFFIC_ALL"
  iap_enabled         = true
  deletion_protection = false

  build_config {
    source_location          = "gs://${google_storage_bucket.sources.name}/${google_storage_bucket_object.functions.name}"
    function_target          = "status_page"
    image_uri                = "${var.region}-docker.pkg.dev/${var.project_id}/${google_artifact_registry_repository.functions.repository_id}/status-page"
    base_image               = "${var.region}-docker.pkg.dev/serverless-runtimes/google-22-full/runtimes/python312"
    enable_automatic_updates = true
    service_account          = google_service_account.builder.id
  }

  template {
    service_account                  = google_service_account.status_page.email
    timeout                          = "60s"
    max_instance_request_concurrency = 20

    scaling {
      min_instance_count = 0
      max_instance_count = 2
    }

    containers {
      image          = "${var.region}-docker.pkg.dev/${var.project_id}/${google_artifact_registry_repository.functions.repository_id}/status-page"
      base_image_uri = "${var.region}-docker.pkg.dev/serverless-runtimes/google-22-full/runtimes/python312"

      resources {
        limits = {
          cpu    = "1"
          memory = "512Mi"
        }
      }

      dynamic "env" {
        for_each = local.status_page_env
        content {
          name  = env.key
          value = env.value
        }
      }
    }
  }

  depends_on = [google_project_iam_member.builder, google_project_iam_member.status_page_reader]
}

# IAP signs in the person, then calls the service as its service agent: the only invoker.
resource "google_cloud_run_v2_service_iam_member" "iap_invokes_status_page" {
  project  = var.project_id
  location = var.region
  name     = google_cloud_run_v2_service.status_page.name
  role     = "roles/run.invoker"
  member   = "serviceAccount:${local.iap_service_agent}"

  depends_on = [google_project_service_identity.iap]
}

# Who may open the page: each admin or group in var.status_admins. The IAP web resource takes the project
# number, not its id.
resource "google_iap_web_cloud_run_service_iam_member" "status_admins" {
  for_each = toset(var.status_admins)

  project                = data.google_project.this.number
  location               = var.region
  cloud_run_service_name = google_cloud_run_v2_service.status_page.name
  role                   = "roles/iap.httpsResourceAccessor"
  member                 = each.value
}
