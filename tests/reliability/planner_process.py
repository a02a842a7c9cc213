"""One planning pass in a process of its own, wired exactly as the plan_windows function wires it (same
wiring.planning_context, same after-plan hooks, same settings from the environment), so a test can kill
it with SIGKILL at any point. Run with the stack's function_env:

    python -m tests.reliability.planner_process       prints the run's report as one JSON line
"""

from __future__ import annotations

import json

from maintenance_windows import wiring
from maintenance_windows.service.planner import PlanOptions, plan_windows


def main() -> None:
    ctx, _, settings = wiring.planner()
    report = plan_windows(ctx, PlanOptions(time_budget=settings.time_budget), wiring.plan_hooks())
    print(json.dumps(report.as_dict()), flush=True)


if __name__ == "__main__":
    main()
