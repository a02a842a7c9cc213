"""Cold start: each function's import and wiring time over a bare functions-framework app.

Each sample is a fresh interpreter: `import main` with FUNCTION_TARGET set runs the wiring for that
function only (main.py warms it at import), exactly as an instance does before its first request.
"""

from __future__ import annotations

import json
import statistics
import subprocess
import sys
from typing import Any

from infra.bench.processes import ROOT, progress

FUNCTIONS = ("fleet_webhook", "plan_windows", "calendar_notifications", "dispatch_window")
HEAVY = ("googleapiclient", "google.genai", "google.cloud.tasks_v2", "google.cloud.firestore", "grpc")
PROBE = """
import json, sys, time
started = time.perf_counter()
{imports}
elapsed = time.perf_counter() - started
heavy = [name for name in {heavy!r} if name in sys.modules]
print(json.dumps({{"seconds": elapsed, "heavy": heavy}}))
"""
BARE = "import functions_framework, flask"
ENV = {
    "MW_PROJECT": "bench",
    "FIRESTORE_EMULATOR_HOST": "127.0.0.1:1",
    "MW_WEBHOOK_SECRETS": "x",
    "MW_FLEET_URL": "http://127.0.0.1:1",
    "MW_FLEET_API_TOKEN": "x",
    "MW_CALENDAR_CREDENTIALS": "local",
    "MW_CALENDAR_API_ENDPOINT": "http://127.0.0.1:1/calendar/v3/",
    "MW_TASKS_QUEUE": "projects/b/locations/l/queues/q",
    "MW_TASKS_EMULATOR_HOST": "127.0.0.1:1",
    "MW_DISPATCH_URL": "http://127.0.0.1:1/",
    "MW_PLAN_URL": "http://127.0.0.1:1/",
    "MW_TASK_INVOKER_SA": "t@b.iam.gserviceaccount.com",
    "MW_SCHEDULER_SA": "s@b.iam.gserviceaccount.com",
    "MW_NOTIFICATIONS_URL": "https://127.0.0.1:1/",
    "MW_GEMINI_BASE_URL": "http://127.0.0.1:1/",
    "MW_TEAM_CONFIG": str(ROOT / "infra" / "local" / "teams.yaml"),
    "MW_OIDC_CERTS_URL": "http://127.0.0.1:1/certs",
}


def _sample(imports: str, target: str | None) -> dict[str, Any]:
    env = {**ENV, "PATH": "/usr/bin:/bin"}
    if target:
        env["FUNCTION_TARGET"] = target
    completed = subprocess.run(
        [sys.executable, "-c", PROBE.format(imports=imports, heavy=HEAVY)],
        cwd=ROOT / "functions",
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    result: dict[str, Any] = json.loads(completed.stdout.strip().splitlines()[-1])
    return result


def run(repeat: int) -> dict[str, Any]:
    bare = statistics.median(_sample(BARE, None)["seconds"] for _ in range(repeat))
    results: dict[str, Any] = {"bare_functions_framework_seconds": round(bare, 3), "functions": {}}
    for target in FUNCTIONS:
        progress(f"cold start of {target}")
        samples = [_sample(f"{BARE}\nimport main", target) for _ in range(repeat)]
        median = statistics.median(sample["seconds"] for sample in samples)
        results["functions"][target] = {
            "median_seconds": round(median, 3),
            "over_bare_seconds": round(median - bare, 3),
            "heavy_modules_loaded": samples[0]["heavy"],
        }
    return results
