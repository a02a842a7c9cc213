"""The Terraform module deploys what the code expects, with the access it needs and no more.

terraform init/validate cannot run here (no provider registry), so these tests read the .tf files with
python-hcl2 and hold them against functions/main.py and the Settings model.
"""

from __future__ import annotations

import ast
import fnmatch
from collections import defaultdict
from pathlib import Path
from typing import Any

import pytest

from maintenance_windows.config.settings import Settings
from tests.terraform import terraform_config as tf

MAIN_PY = Path(__file__).resolve().parents[2] / "functions" / "main.py"

# Settings that exist for the local stack only, each with the reason it must stay out of the cloud.
LOCAL_ONLY_SETTINGS = {
    "MW_LOCAL_*": "settings for the local stack (MW_LOCAL_TASKS_RELAY_URL is refused on Cloud Run)",
    "MW_*EMULATOR*": "addresses of local emulators; on Google Cloud the client libraries find the real APIs",
    "MW_CALENDAR_API_ENDPOINT": "points the Calendar client at the local stand-in server",
    "MW_GRAPH_API_ENDPOINT": "points the Graph client at the local stand-in server",
    "MW_GEMINI_BASE_URL": "points the Gemini client at the local stand-in server",
    "MW_OIDC_CERTS_URL": "the local OIDC issuer's keys; Google's certificates are the default",
    "MW_ALLOW_SHORT_LEAD": "lets demos book windows minutes ahead; users need real notice",
}

# Which secrets each function receives as environment variables (the team configuration is mounted as a
# file in every function). A secret setting missing here for a function is withheld on purpose.
EXPECTED_SECRET_ENV = {
    "fleet_webhook": {"MW_WEBHOOK_SECRETS": "webhook_secrets"},
    "plan_windows": {
        "MW_FLEET_API_TOKEN": "fleet_api_token",
        "MW_CHAT_WEBHOOK_URL": "chat_webhook_url",
        "MW_CALDAV_CREDENTIALS": "caldav_credentials",
    },
    "calendar_notifications": {"MW_CALDAV_CREDENTIALS": "caldav_credentials"},
    "dispatch_window": {"MW_FLEET_API_TOKEN": "fleet_api_token"},
}
SECRET_SETTINGS = {"MW_WEBHOOK_SECRETS", "MW_FLEET_API_TOKEN", "MW_CHAT_WEBHOOK_URL", "MW_CALDAV_CREDENTIALS"}

FIRESTORE = ("roles/datastore.user", "project")
TASKS = {("roles/cloudtasks.enqueuer", "project"), ("roles/iam.serviceAccountUser", "serviceAccount:task_invoker")}
CALENDAR = ("roles/iam.serviceAccountTokenCreator", "serviceAccount:calendar")
GEMINI = ("roles/aiplatform.user", "project")
ACCESSOR = "roles/secretmanager.secretAccessor"
TEAM_CONFIG = (ACCESSOR, "secret:team_config")
FLEET_TOKEN = (ACCESSOR, "secret:fleet_api_token")
CALDAV_SECRET = (ACCESSOR, "secret:caldav_credentials")

# Every identity's complete set of (role, scope). An identity absent from the module must map to nothing.
EXPECTED_ROLES: dict[str, set[tuple[str, str]]] = {
    # Creates the chunk tasks of a large webhook; still no Fleet credential.
    "fleet_webhook": {FIRESTORE, TEAM_CONFIG, (ACCESSOR, "secret:webhook_secrets"), *TASKS},
    "plan_windows": {
        FIRESTORE,
        TEAM_CONFIG,
        FLEET_TOKEN,
        CALDAV_SECRET,
        CALENDAR,
        GEMINI,
        *TASKS,
        (ACCESSOR, "secret:chat_webhook_url"),
    },
    "calendar_notifications": {FIRESTORE, TEAM_CONFIG, CALDAV_SECRET, CALENDAR, GEMINI, *TASKS},
    # No CALENDAR: the dispatcher sends fixes through Fleet and builds no Calendar client.
    "dispatch_window": {FIRESTORE, TEAM_CONFIG, FLEET_TOKEN, *TASKS},
    "scheduler": {("roles/run.invoker", "run:plan_windows")},
    "task_invoker": {("roles/run.invoker", "run:dispatch_window")},
    "builder": {("roles/run.builder", "project")},
    "calendar": set(),
    "allUsers": {("roles/run.invoker", "run:fleet_webhook"), ("roles/run.invoker", "run:calendar_notifications")},
    # The status page reads only; IAP's service agent is its only invoker, the named admins pass IAP.
    "status_page": {("roles/datastore.viewer", "project")},
    "iap_service_agent": {("roles/run.invoker", "run:status_page")},
    "var.status_admins": {("roles/iap.httpsResourceAccessor", "run:status_page")},
}

EXPECTED_SERVICE_CONFIG = {
    # function: (concurrency, timeout seconds, max instances or None when derived)
    "fleet_webhook": (20, 60, 10),
    "plan_windows": (1, 540, 1),
    "calendar_notifications": (20, 60, 10),
    "dispatch_window": (10, 300, None),
}


def entry_points(main_py: Path) -> set[str]:
    """Public top-level functions of functions/main.py: what functions-framework can target."""
    tree = ast.parse(main_py.read_text(), filename=str(main_py))
    return {
        node.name
        for node in tree.body
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef) and not node.name.startswith("_")
    }


def settings_env_vars() -> set[str]:
    return {field.alias for field in Settings.model_fields.values() if field.alias}


def is_local_only(env_var: str) -> bool:
    return any(fnmatch.fnmatchcase(env_var, pattern) for pattern in LOCAL_ONLY_SETTINGS)


def function_resource() -> dict[str, Any]:
    return tf.resources("google_cloudfunctions2_function")["function"]


def configured_env(function: str) -> set[str]:
    """Every variable Terraform sets for one function: plain (shared and per-function) and secret."""
    return tf.local_map_keys("common_env") | tf.per_function_env_keys() | set(tf.function_secret_env(function))


# ------------------------------------------------------------------------------------------------------
# Entry points and settings
# ------------------------------------------------------------------------------------------------------


def test_entry_points_reader_sees_only_public_top_level_functions(tmp_path: Path) -> None:
    source = tmp_path / "main.py"
    source.write_text(
        "import x\n\ndef alpha(r):\n    def inner():\n        pass\n\n"
        "async def beta(r):\n    pass\n\ndef _helper():\n    pass\n\nclass C:\n    def method(self):\n        pass\n"
    )
    assert entry_points(source) == {"alpha", "beta"}


def status_page_service() -> dict[str, Any]:
    return tf.resources("google_cloud_run_v2_service")["status_page"]


def test_every_entry_point_is_deployed_and_every_deployment_has_an_entry_point() -> None:
    # The four functions, and the status page: a Cloud Run service built from the same bundle (status.tf).
    deployed = set(tf.functions()) | {tf.unquote(status_page_service()["build_config"][0]["function_target"])}
    defined = entry_points(MAIN_PY)
    assert defined - deployed == set(), "entry points in functions/main.py that Terraform does not deploy"
    assert deployed - defined == set(), "functions Terraform deploys with no entry point in functions/main.py"


def test_each_deployment_runs_its_own_entry_point_on_python312() -> None:
    resource = function_resource()
    build = resource["build_config"][0]
    assert tf.expression(resource["for_each"]) == "local.functions"
    assert tf.expression(build["entry_point"]) == "each.key"
    assert tf.unquote(build["runtime"]) == "python312"


def test_every_setting_the_code_reads_is_set_for_every_function() -> None:
    needed = {env_var for env_var in settings_env_vars() if not is_local_only(env_var)}
    for function, secret_env in EXPECTED_SECRET_ENV.items():
        withheld = SECRET_SETTINGS - set(secret_env)
        missing = needed - withheld - configured_env(function)
        assert missing == set(), f"{function}: settings the code reads but Terraform does not set"


def test_terraform_sets_no_setting_the_code_does_not_read_and_no_local_only_one() -> None:
    known = settings_env_vars()
    for function in tf.functions():
        configured = configured_env(function)
        assert configured - known == set(), f"{function}: variables no Settings field reads (typo?)"
        assert {env_var for env_var in configured if is_local_only(env_var)} == set()


def test_local_only_list_names_real_settings() -> None:
    # A pattern matching nothing would mean a renamed setting slipped out of this list unnoticed.
    for pattern in LOCAL_ONLY_SETTINGS:
        assert fnmatch.filter(sorted(settings_env_vars()), pattern), f"{pattern} matches no setting"


def test_secrets_arrive_only_through_secret_manager_and_only_where_needed() -> None:
    assert SECRET_SETTINGS & (tf.local_map_keys("common_env") | tf.per_function_env_keys()) == set()
    for function, expected in EXPECTED_SECRET_ENV.items():
        assert tf.function_secret_env(function) == expected, function


def test_environment_and_secrets_are_wired_from_the_locals_the_tests_read() -> None:
    service = function_resource()["service_config"][0]
    assert tf.expression(service["environment_variables"]) == "merge(local.common_env, local.function_env[each.key])"
    dynamic = service["dynamic"][0]['"secret_environment_variables"']
    assert tf.expression(dynamic["for_each"]) == "each.value.secret_env"
    assert tf.expression(dynamic["content"][0]["key"]) == "secret_environment_variables.key"
    volume = service["secret_volumes"][0]
    assert tf.expression(volume["secret"]) == 'google_secret_manager_secret.secret["team_config"].secret_id'
    assert tf.expression(volume["mount_path"]) == "local.team_config_mount"
    assert tf.expression(volume["versions"][0]["path"]) == "local.team_config_file"
    mounted_file = "${local.team_config_mount}/${local.team_config_file}"
    assert tf.unquote(tf.local("common_env")["MW_TEAM_CONFIG"]) == mounted_file


def test_the_status_page_is_behind_iap_with_the_audience_its_code_checks() -> None:
    service = status_page_service()
    assert service["iap_enabled"] is True
    assert tf.unquote(service["ingress"]) == "INGRESS_TRAFFIC_ALL"
    assert tf.unquote(service["provider"]) == "google-beta"
    audience = tf.unquote(tf.local("common_env")["MW_IAP_AUDIENCE"])
    assert (
        audience
        == "/projects/${data.google_project.this.number}/locations/${var.region}/services/${local.status_page_name}"
    )
    assert tf.unquote(service["name"]) == "${local.status_page_name}"
    dynamic = service["template"][0]["containers"][0]["dynamic"][0]['"env"']
    assert tf.expression(dynamic["for_each"]) == "local.status_page_env"
    assert "secret" not in str(service["template"])  # it holds no secret at all


def test_calendar_settings_use_the_keyless_calendar_identity() -> None:
    env = tf.local("common_env")
    assert tf.unquote(env["MW_CALENDAR_CREDENTIALS"]) == "keyless"
    assert tf.expression(env["MW_CALENDAR_SERVICE_ACCOUNT"]) == "google_service_account.calendar.email"


def test_function_urls_come_from_one_place_and_the_scheduler_uses_the_planner_url() -> None:
    env = tf.local("common_env")
    for env_var, function in {
        "MW_PLAN_URL": "plan_windows",
        "MW_DISPATCH_URL": "dispatch_window",
        "MW_NOTIFICATIONS_URL": "calendar_notifications",
    }.items():
        assert tf.expression(env[env_var]) == f'local.function_urls["{function}"]'
    target = tf.resources("google_cloud_scheduler_job")["plan"]["http_target"][0]
    assert tf.expression(target["uri"]) == 'local.function_urls["plan_windows"]'
    oidc = target["oidc_token"][0]
    assert tf.expression(oidc["audience"]) == 'local.function_urls["plan_windows"]'
    assert tf.expression(oidc["service_account_email"]) == "google_service_account.scheduler.email"


@pytest.mark.parametrize("function", sorted(EXPECTED_SERVICE_CONFIG))
def test_service_limits_suit_each_function(function: str) -> None:
    concurrency, timeout, max_instances = EXPECTED_SERVICE_CONFIG[function]
    settings = tf.functions()[function]
    assert settings["concurrency"] == concurrency
    assert settings["timeout"] == timeout
    if max_instances is not None:
        assert settings["max"] == max_instances
    if concurrency > 1:
        # Cloud Run refuses concurrency above 1 with less than one vCPU.
        assert float(tf.unquote(settings["cpu"])) >= 1


# ------------------------------------------------------------------------------------------------------
# Access
# ------------------------------------------------------------------------------------------------------


def test_each_identity_has_exactly_the_expected_roles() -> None:
    actual: dict[str, set[tuple[str, str]]] = defaultdict(set)
    for grant in tf.grants():
        actual[grant.principal].add((grant.role, grant.scope))
    for principal in set(actual) | set(EXPECTED_ROLES):
        assert actual.get(principal, set()) == EXPECTED_ROLES.get(principal), principal


def calendar_building_functions(wiring_py: Path) -> set[str]:
    """Entry points whose wiring (wiring.py, `_WARMERS`) builds a GoogleCalendarAdapter, read from the AST:
    a builder builds one when it names the adapter or calls a builder of wiring.py that does."""
    tree = ast.parse(wiring_py.read_text(), filename=str(wiring_py))
    builders = {node.name: node for node in tree.body if isinstance(node, ast.FunctionDef)}
    (warmers,) = [
        node.value
        for node in tree.body
        if isinstance(node, ast.Assign) and any(isinstance(t, ast.Name) and t.id == "_WARMERS" for t in node.targets)
    ]
    assert isinstance(warmers, ast.Dict)

    def builds_calendar(name: str, seen: frozenset[str] = frozenset()) -> bool:
        names = {n.id for n in ast.walk(builders[name]) if isinstance(n, ast.Name)}
        names |= {a.name for n in ast.walk(builders[name]) if isinstance(n, ast.ImportFrom) for a in n.names}
        if "GoogleCalendarAdapter" in names:
            return True
        return any(builds_calendar(other, seen | {name}) for other in names & set(builders) - seen - {name})

    return {
        ast.literal_eval(key)
        for key, value in zip(warmers.keys, warmers.values, strict=True)
        if key is not None and isinstance(value, ast.Name) and builds_calendar(value.id)
    }


def test_only_functions_that_build_a_calendar_client_may_sign_as_the_calendar_identity() -> None:
    """An unused grant is blast radius: the calendar grant follows what the code builds, nothing more."""
    wiring_py = MAIN_PY.parent / "maintenance_windows" / "wiring.py"
    builders = calendar_building_functions(wiring_py)
    assert builders == {"plan_windows", "calendar_notifications"}  # the reader sees the adapter where it is
    assert set(tf.local_strings("calendar_callers")) == builders
    signers = {grant.principal for grant in tf.grants() if grant.scope == "serviceAccount:calendar"}
    assert signers == builders


def test_each_function_reads_exactly_the_secrets_it_mounts() -> None:
    readable: dict[str, set[str]] = defaultdict(set)
    for grant in tf.grants():
        if grant.role == ACCESSOR:
            readable[grant.principal].add(grant.scope.removeprefix("secret:"))
    for function in tf.functions():
        mounted = set(tf.function_secret_env(function).values()) | {"team_config"}
        assert readable[function] == mounted, function


def test_only_the_two_public_functions_are_open_to_all_users() -> None:
    public = {grant.scope for grant in tf.grants() if grant.principal in ("allUsers", "allAuthenticatedUsers")}
    assert public == {"run:fleet_webhook", "run:calendar_notifications"}


def test_no_service_account_key_and_no_secret_value_in_state() -> None:
    types = {resource_type for resource_type, _, _ in tf.all_resources()}
    assert "google_service_account_key" not in types
    for name, version in tf.resources("google_secret_manager_secret_version").items():
        assert "secret_data" not in version, f"{name} would store its value in the state; use secret_data_wo"


def test_grant_reader_refuses_shapes_it_does_not_understand() -> None:
    with pytest.raises(tf.UnsupportedExpression):
        tf._instances("${{for k in local.x : k => k}}", "test.resource")
    with pytest.raises(tf.UnsupportedExpression):
        tf._principal("${var.someone}", None, {}, "test.resource")


# ------------------------------------------------------------------------------------------------------
# Data and operations
# ------------------------------------------------------------------------------------------------------


def test_ttl_policies_cover_the_expiring_collections() -> None:
    ttl = tf.resources("google_firestore_field")["expires_at_ttl"]
    assert tf.expression(ttl["for_each"]) == "toset(local.ttl_collections)"
    assert set(tf.local_strings("ttl_collections")) == {"claims", "leases", "explanations", "webhook_chunks", "alerts"}
    assert tf.unquote(ttl["field"]) == "expires_at"
    assert "ttl_config" in ttl


def test_composite_indexes_lead_with_equality_fields() -> None:
    indexes = tf.local("firestore_composite_indexes")
    paths = {name: [tf.unquote(field["path"]) for field in index["fields"]] for name, index in indexes.items()}
    assert paths["windows_by_state_and_start"] == ["state", "start"]
    assert paths["windows_by_user_and_state"] == ["user_key", "state"]


def test_log_metrics_count_every_operational_event() -> None:
    events = {tf.unquote(entry["event"]) for entry in tf.local("logged_events").values()}
    assert events == {
        "window_booked",
        "window_moved",
        "window_dispatched",
        "dispatch_failed",
        "host_escalated",
        "plan_failed",
        "task_early",
    }
