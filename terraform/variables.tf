# ---------------------------------------------------------------------------------------------------------
# Where to deploy
# ---------------------------------------------------------------------------------------------------------

variable "project_id" {
  description = "ID of the (ideally empty) Google Cloud project to deploy into, e.g. \"acme-maintenance\"."
  type        = string

  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{4,28}[a-z0-9]$", var.project_id))
    error_message = "project_id must be a project ID (6-30 characters: lowercase letters, digits, hyphens; starts with a letter), not a project number or display name."
  }
}

variable "region" {
  description = "Region for the functions, the task queue, the scheduler job, the source bucket and (by default) Firestore."
  type        = string
  default     = "europe-west1"

  validation {
    condition     = can(regex("^[a-z]+-[a-z]+[0-9]+$", var.region))
    error_message = "region must be a Google Cloud region such as \"europe-west1\" or \"us-central1\" (not a zone)."
  }
}

variable "name_prefix" {
  description = "Prefix for every resource name (functions, service accounts, secrets, queue). Keep it short: service account ids are limited to 30 characters."
  type        = string
  default     = "mw"

  validation {
    condition     = can(regex("^[a-z]([a-z0-9-]{0,10}[a-z0-9])?$", var.name_prefix))
    error_message = "name_prefix must be 1-12 characters of lowercase letters, digits and hyphens, start with a letter and not end with a hyphen."
  }
}

variable "labels" {
  description = "Extra labels put on every resource that supports labels."
  type        = map(string)
  default     = {}
}

# ---------------------------------------------------------------------------------------------------------
# Firestore
# ---------------------------------------------------------------------------------------------------------

variable "firestore_location" {
  description = "Firestore location (a region such as \"europe-west1\" or a multi-region such as \"eur3\"). Defaults to var.region. Cannot be changed after creation."
  type        = string
  default     = null

  validation {
    condition     = var.firestore_location == null ? true : can(regex("^([a-z]+-[a-z]+[0-9]+|nam[0-9]+|eur[0-9]+)$", var.firestore_location))
    error_message = "firestore_location must be a region (\"europe-west1\") or a multi-region (\"eur3\", \"nam5\")."
  }
}

variable "firestore_database" {
  description = "Firestore database id. \"(default)\" is the usual choice in a dedicated project."
  type        = string
  default     = "(default)"

  validation {
    condition     = var.firestore_database == "(default)" || can(regex("^[a-z][a-z0-9-]{2,61}[a-z0-9]$", var.firestore_database))
    error_message = "firestore_database must be \"(default)\" or 4-63 characters of lowercase letters, digits and hyphens."
  }
}

variable "firestore_delete_protection" {
  description = "Refuse to delete the Firestore database. Set to false and apply once before `terraform destroy`."
  type        = bool
  default     = true
}

# ---------------------------------------------------------------------------------------------------------
# Fleet and the team configuration
# ---------------------------------------------------------------------------------------------------------

variable "fleet_url" {
  description = "Base URL of the Fleet server, e.g. \"https://fleet.example.com\" (no trailing /api)."
  type        = string

  validation {
    condition     = can(regex("^https://[^/\\s]+(/[^\\s]*)?$", var.fleet_url)) && !endswith(var.fleet_url, "/api")
    error_message = "fleet_url must be an https:// URL of the Fleet server, without the /api suffix."
  }
}

variable "os_releases_url" {
  description = "Where product_version \"latest\" is looked up: the SOFA feed's directory (MW_OS_RELEASES_URL), or a self-hosted copy of it."
  type        = string
  default     = "https://sofafeed.macadmins.io/v1/"

  validation {
    condition     = can(regex("^https://[^/\\s]+(/[^\\s]*)?/$", var.os_releases_url))
    error_message = "os_releases_url must be an https:// URL ending in /, e.g. \"https://sofafeed.macadmins.io/v1/\"."
  }
}

variable "team_config_path" {
  description = "Path to the team configuration YAML. When set, Terraform writes it to Secret Manager as a write-only value (never stored in state) and a new version whenever the file changes. When null, add versions with gcloud (see docs/deploy.md)."
  type        = string
  default     = null

  validation {
    condition     = var.team_config_path == null ? true : fileexists(var.team_config_path)
    error_message = "team_config_path must name an existing file."
  }
}

variable "secret_versions" {
  description = "Secret Manager version each function reads, per secret. \"latest\" is read when an instance starts; pin a number and apply to roll every instance onto it at once (used when rotating)."
  type = object({
    webhook_secrets    = optional(string, "latest")
    fleet_api_token    = optional(string, "latest")
    team_config        = optional(string, "latest")
    chat_webhook_url   = optional(string, "latest")
    caldav_credentials = optional(string, "latest")
  })
  default = {}

  validation {
    condition     = alltrue([for version in values(var.secret_versions) : can(regex("^(latest|[1-9][0-9]*)$", version))])
    error_message = "Each secret version must be \"latest\" or a version number."
  }
}

variable "max_body_bytes" {
  description = "Largest webhook body fleet_webhook accepts (MW_MAX_BODY_BYTES)."
  type        = number
  default     = 10485760

  validation {
    condition     = var.max_body_bytes >= 65536 && var.max_body_bytes <= 33554432
    error_message = "max_body_bytes must be between 64 KiB and 32 MiB (Cloud Run's request limit)."
  }
}

# ---------------------------------------------------------------------------------------------------------
# Google Calendar and Gemini
# ---------------------------------------------------------------------------------------------------------

variable "calendar_quota_per_minute" {
  description = "Calendar API requests per minute the project may spend (MW_CALENDAR_QUOTA_PER_MINUTE). The default project quota is 10,000."
  type        = number
  default     = 10000

  validation {
    condition     = var.calendar_quota_per_minute > 0 && floor(var.calendar_quota_per_minute) == var.calendar_quota_per_minute
    error_message = "calendar_quota_per_minute must be a positive whole number."
  }
}

variable "graph_tenant_id" {
  description = "Entra tenant id for Microsoft 365 calendars (MW_GRAPH_TENANT_ID); empty when every domain is on Google."
  type        = string
  default     = ""
}

variable "graph_client_id" {
  description = "Application (client) id of the Entra app registration that holds the federated credential (MW_GRAPH_CLIENT_ID)."
  type        = string
  default     = ""
}

variable "ai_enabled" {
  description = "Let the functions that hold roles/aiplatform.user call Gemini for event text (MW_AI_ENABLED). Off: templated text only."
  type        = bool
  default     = true
}

variable "gemini_model" {
  description = "Gemini model id on Vertex AI (MW_GEMINI_MODEL)."
  type        = string
  default     = "gemini-3.6-flash"

  validation {
    condition     = can(regex("^gemini-[a-z0-9.-]+$", var.gemini_model))
    error_message = "gemini_model must be a Gemini model id such as \"gemini-3.6-flash\"."
  }
}

variable "gemini_location" {
  description = "Vertex AI location for Gemini calls (MW_GEMINI_LOCATION); \"global\" has the widest model availability."
  type        = string
  default     = "global"

  validation {
    condition     = var.gemini_location == "global" || can(regex("^[a-z]+-[a-z]+[0-9]+$", var.gemini_location))
    error_message = "gemini_location must be \"global\" or a region."
  }
}

variable "gemini_timeout_seconds" {
  description = "Per-call Gemini timeout (MW_GEMINI_TIMEOUT_SECONDS); on timeout the templated text is used."
  type        = number
  default     = 10

  validation {
    condition     = var.gemini_timeout_seconds > 0 && var.gemini_timeout_seconds <= 60
    error_message = "gemini_timeout_seconds must be in (0, 60]."
  }
}

# ---------------------------------------------------------------------------------------------------------
# Planner schedule
# ---------------------------------------------------------------------------------------------------------

variable "plan_schedule" {
  description = "Cron schedule (5 fields, unix-cron) on which Cloud Scheduler runs plan_windows."
  type        = string
  default     = "*/15 * * * *"

  validation {
    condition     = can(regex("^[0-9A-Za-z*/,-]+( [0-9A-Za-z*/,-]+){4}$", var.plan_schedule))
    error_message = "plan_schedule must be a 5-field unix-cron expression separated by single spaces, e.g. \"*/15 * * * *\"."
  }
}

variable "follow_schedule" {
  description = "Cron schedule on which Cloud Scheduler syncs the calendars that cannot push (CalDAV), through plan_windows' follow-only call."
  type        = string
  default     = "*/5 * * * *"

  validation {
    condition     = can(regex("^[0-9A-Za-z*/,-]+( [0-9A-Za-z*/,-]+){4}$", var.follow_schedule))
    error_message = "follow_schedule must be a 5-field unix-cron expression separated by single spaces, e.g. \"*/5 * * * *\"."
  }
}

variable "caldav_quota_per_minute" {
  description = "Client-side ceiling on CalDAV requests per minute, per function instance (MW_CALDAV_QUOTA_PER_MINUTE)."
  type        = number
  default     = 6000

  validation {
    condition     = var.caldav_quota_per_minute > 0
    error_message = "caldav_quota_per_minute must be positive."
  }
}

variable "plan_time_zone" {
  description = "IANA time zone in which plan_schedule is read."
  type        = string
  default     = "Etc/UTC"

  validation {
    condition     = can(regex("^[A-Za-z]+(/[A-Za-z0-9_+-]+){0,2}$", var.plan_time_zone))
    error_message = "plan_time_zone must be an IANA zone name such as \"Etc/UTC\" or \"Europe/Paris\"."
  }
}

# ---------------------------------------------------------------------------------------------------------
# Dispatch queue (Cloud Tasks)
# ---------------------------------------------------------------------------------------------------------

variable "tasks_max_attempts" {
  description = "Attempts per dispatch task, first one included. The dispatcher answers non-2xx only for failures worth retrying."
  type        = number
  default     = 5

  validation {
    condition     = var.tasks_max_attempts >= 1 && var.tasks_max_attempts <= 100
    error_message = "tasks_max_attempts must be between 1 and 100."
  }
}

variable "tasks_min_backoff_seconds" {
  description = "Shortest wait before a task is retried."
  type        = number
  default     = 10

  validation {
    condition     = var.tasks_min_backoff_seconds >= 1
    error_message = "tasks_min_backoff_seconds must be at least 1."
  }
}

variable "tasks_max_backoff_seconds" {
  description = "Longest wait between retries of a task."
  type        = number
  default     = 600

  validation {
    condition     = var.tasks_max_backoff_seconds >= 1 && var.tasks_max_backoff_seconds <= 3600
    error_message = "tasks_max_backoff_seconds must be between 1 and 3600."
  }
}

variable "tasks_max_doublings" {
  description = "How many times the backoff doubles before growing linearly up to tasks_max_backoff_seconds."
  type        = number
  default     = 4

  validation {
    condition     = var.tasks_max_doublings >= 0 && var.tasks_max_doublings <= 16
    error_message = "tasks_max_doublings must be between 0 and 16."
  }
}

variable "tasks_max_dispatches_per_second" {
  description = "Queue rate limit: tasks started per second (Cloud Tasks allows at most 500)."
  type        = number
  default     = 5

  validation {
    condition     = var.tasks_max_dispatches_per_second > 0 && var.tasks_max_dispatches_per_second <= 500
    error_message = "tasks_max_dispatches_per_second must be in (0, 500]."
  }
}

variable "tasks_max_concurrent_dispatches" {
  description = "Queue rate limit: tasks in flight at once. dispatch_window's instance count is sized from it."
  type        = number
  default     = 20

  validation {
    condition     = var.tasks_max_concurrent_dispatches >= 1 && var.tasks_max_concurrent_dispatches <= 1000
    error_message = "tasks_max_concurrent_dispatches must be between 1 and 1000."
  }
}

# ---------------------------------------------------------------------------------------------------------
# Alerting
# ---------------------------------------------------------------------------------------------------------

variable "alert_notification_channels" {
  description = "Cloud Monitoring notification channel ids (projects/PROJECT/notificationChannels/ID) that receive the dispatch and planner alerts."
  type        = list(string)
  default     = []

  validation {
    condition     = alltrue([for channel in var.alert_notification_channels : can(regex("^projects/[^/]+/notificationChannels/[0-9]+$", channel))])
    error_message = "Each alert notification channel must look like projects/PROJECT/notificationChannels/123456."
  }
}

variable "dispatch_failures_alert_threshold" {
  description = "Alert when more than this many dispatches fail within 10 minutes."
  type        = number
  default     = 0

  validation {
    condition     = var.dispatch_failures_alert_threshold >= 0
    error_message = "dispatch_failures_alert_threshold must not be negative."
  }
}

# ---------------------------------------------------------------------------------------------------------
# Status page and chat alerts
# ---------------------------------------------------------------------------------------------------------

variable "status_admins" {
  description = "Who may open the status page through Identity-Aware Proxy: IAM principals such as user:admin@example.com or group:fleet-admins@example.com."
  type        = list(string)
  default     = []

  validation {
    condition     = alltrue([for who in var.status_admins : can(regex("^(user|group|domain|serviceAccount):[^ ]+$", who))])
    error_message = "Each status admin must be an IAM principal: user:EMAIL, group:EMAIL, domain:DOMAIN or serviceAccount:EMAIL."
  }
}

variable "chat_format" {
  description = "Message format of the chat webhook in the chat_webhook_url secret: slack or google_chat."
  type        = string
  default     = "slack"

  validation {
    condition     = contains(["slack", "google_chat"], var.chat_format)
    error_message = "chat_format must be slack or google_chat."
  }
}

variable "chat_pause_alert_days" {
  description = "A team paused for longer than this many days is announced in chat (once per pause)."
  type        = number
  default     = 3

  validation {
    condition     = var.chat_pause_alert_days >= 1
    error_message = "chat_pause_alert_days must be at least 1."
  }
}
