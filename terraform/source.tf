# The functions' source: functions/ zipped (main.py and the maintenance_windows package at the root, with
# requirements.txt beside them, as the Python buildpack expects), uploaded under a content-addressed name
# so that any change of source redeploys every function and an unchanged tree deploys nothing.

data "archive_file" "functions" {
  type        = "zip"
  source_dir  = "${path.module}/../functions"
  output_path = "${path.module}/.build/functions.zip"
  excludes    = ["**/__pycache__/**", "**/*.pyc", "**/.mypy_cache/**", "**/.pytest_cache/**"]
}

resource "google_storage_bucket" "sources" {
  #checkov:skip=CKV_GCP_62:Holds only build inputs (zipped function source); Cloud Audit Logs record access, a second log bucket adds cost and nothing to act on.
  project  = var.project_id
  name     = "${var.project_id}-${var.name_prefix}-function-sources"
  location = var.region

  uniform_bucket_level_access = true
  public_access_prevention    = "enforced"
  # Nothing here is precious: every object can be rebuilt from the repository.
  force_destroy = true

  versioning {
    enabled = true
  }

  lifecycle_rule {
    condition {
      num_newer_versions = 5
      with_state         = "ARCHIVED"
    }
    action {
      type = "Delete"
    }
  }

  depends_on = [google_project_service.api]
}

resource "google_storage_bucket_object" "functions" {
  bucket = google_storage_bucket.sources.name
  name   = "functions-${data.archive_file.functions.output_sha256}.zip"
  source = data.archive_file.functions.output_path
}

# Where the build puts the functions' container images; the cleanup policy keeps it from growing forever.
resource "google_artifact_registry_repository" "functions" {
  #checkov:skip=CKV_GCP_84:Images are built from this repository's public source and hold no customer data; Google-managed encryption is enough.
  project       = var.project_id
  location      = var.region
  repository_id = "${var.name_prefix}-functions"
  description   = "Container images built from the maintenance-windows functions."
  format        = "DOCKER"

  cleanup_policy_dry_run = false

  cleanup_policies {
    id     = "keep-recent"
    action = "KEEP"
    most_recent_versions {
      keep_count = 10
    }
  }

  cleanup_policies {
    id     = "delete-old"
    action = "DELETE"
    condition {
      older_than = "2592000s" # 30 days
    }
  }

  depends_on = [google_project_service.api]
}
