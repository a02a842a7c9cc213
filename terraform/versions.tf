terraform {
  # 1.11 is the first release with write-only arguments (secret_data_wo), which lets the team configuration
  # travel from a local file into Secret Manager without its contents ever reaching the state file.
  required_version = ">= 1.11"

  required_providers {
    google = {
      source = "hashicorp/google"
      # 6.23 added secret_data_wo; the module is written against the 6.x schema.
      version = "~> 6.23"
    }
    # Only for the status page's Cloud Run service: `iap_enabled` is a beta field in the 6.x schema.
    google-beta = {
      source  = "hashicorp/google-beta"
      version = "~> 6.23"
    }
    archive = {
      source = "hashicorp/archive"
      # 2.5 added glob patterns to archive_file.excludes (used to drop __pycache__ directories).
      version = "~> 2.5"
    }
  }
}

provider "google" {
  project = var.project_id
  region  = var.region

  default_labels = merge(var.labels, { app = "maintenance-windows" })
}

provider "google-beta" {
  project = var.project_id
  region  = var.region

  default_labels = merge(var.labels, { app = "maintenance-windows" })
}
