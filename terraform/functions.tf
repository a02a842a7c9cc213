resource "google_cloudfunctions2_function" "function" {
  #checkov:skip=CKV_GCP_124:Fleet, Google Calendar push, Cloud Scheduler and Cloud Tasks all call from outside any VPC, so ingress cannot be narrowed; plan/dispatch require run.invoker and the public two authenticate in code.
  for_each = local.functions

  project     = var.project_id
  location    = var.region
  name        = local.function_names[each.key]
  description = each.value.description

  build_config {
    runtime           = "python312"
    entry_point       = each.key
    service_account   = google_service_account.builder.id
    docker_repository = google_artifact_registry_repository.functions.id

    source {
      storage_source {
        bucket = google_storage_bucket.sources.name
        object = google_storage_bucket_object.functions.name
      }
    }
  }

  service_config {
    service_account_email            = google_service_account.function[each.key].email
    available_memory                 = each.value.memory
    available_cpu                    = each.value.cpu
    timeout_seconds                  = each.value.timeout
    max_instance_request_concurrency = each.value.concurrency
    min_instance_count               = each.value.min
    max_instance_count               = each.value.max
    all_traffic_on_latest_revision   = true
    # Every function must accept traffic from outside Google's network: Fleet and Calendar push reach the
    # public two over the internet, and Cloud Scheduler / Cloud Tasks call the other two from outside any
    # VPC. plan_windows and dispatch_window are protected by IAM (run.invoker) instead of by ingress.
    ingress_settings = "ALLOW_ALL"

    environment_variables = merge(local.common_env, local.function_env[each.key])

    dynamic "secret_environment_variables" {
      for_each = each.value.secret_env
      content {
        key        = secret_environment_variables.key
        project_id = var.project_id
        secret     = google_secret_manager_secret.secret[secret_environment_variables.value].secret_id
        version    = var.secret_versions[secret_environment_variables.value]
      }
    }

    secret_volumes {
      mount_path = local.team_config_mount
      project_id = var.project_id
      secret     = google_secret_manager_secret.secret["team_config"].secret_id
      versions {
        version = var.secret_versions.team_config
        path    = local.team_config_file
      }
    }
  }

  # The runtime identity must be able to read its secrets, and the builder to build, before the first
  # revision starts; otherwise the deployment fails half-way.
  depends_on = [
    google_project_iam_member.builder,
    google_secret_manager_secret_iam_member.secret_env_reader,
    google_secret_manager_secret_iam_member.team_config_reader,
    google_secret_manager_secret_version.team_config,
  ]
}

# The Cloud Run service behind each function, read back to confirm the URLs the functions were given.
data "google_cloud_run_v2_service" "function" {
  for_each = google_cloudfunctions2_function.function

  project  = var.project_id
  location = var.region
  name     = each.value.name
}

check "function_urls_are_served" {
  assert {
    condition = alltrue([
      for key, url in local.function_urls : contains(data.google_cloud_run_v2_service.function[key].urls, url)
    ])
    error_message = "A function does not serve the deterministic URL the others were configured with (service name plus project number longer than 63 characters?). Compare output function_urls with function_urls_served."
  }
}
