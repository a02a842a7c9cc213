"""`make bench` / `python -m infra.bench [NAME ...]`: planning, graph_planning, ingestion, coldstart, lateness,
batch_size, full_sync, steady_state, slots, caldav (all of them by default)."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from infra.bench.processes import ROOT

RESULTS = ROOT / ".local" / "bench"


def _planning(args: argparse.Namespace) -> dict[str, Any]:
    from infra.bench import planning

    return {
        "ours_warm": planning.run_planner(args.users),
        "ours_cold": planning.run_planner(args.cold_users, warm_time_zones=False),
        "ours_first_run": planning.run_planner(args.first_run_users, warm_time_zones=False, with_channels=True),
        "naive": planning.run_naive(args.naive_users),
    }


def _graph(args: argparse.Namespace) -> dict[str, Any]:
    from infra.bench import graph_planning

    return {"graph_warm": graph_planning.run_graph_planner(args.users)}


def _ingestion(args: argparse.Namespace) -> dict[str, Any]:
    from infra.bench import ingestion

    return ingestion.run(args.hosts, args.stored_timeout)


def _coldstart(args: argparse.Namespace) -> dict[str, Any]:
    from infra.bench import coldstart

    return coldstart.run(args.repeat)


def _lateness(args: argparse.Namespace) -> dict[str, Any]:
    from infra.bench import lateness

    return lateness.run(args.windows)


def _batch_size(args: argparse.Namespace) -> dict[str, Any]:
    from infra.bench import calendar_adapter

    return calendar_adapter.batch_sizes(args.batch_users)


def _full_sync(_args: argparse.Namespace) -> dict[str, Any]:
    from infra.bench import calendar_adapter

    return calendar_adapter.full_sync()


def _steady_state(args: argparse.Namespace) -> dict[str, Any]:
    from infra.bench import steady_state

    return steady_state.run(args.steady_people)


def _slots(args: argparse.Namespace) -> dict[str, Any]:
    from infra.bench import slot_quality

    return slot_quality.run(args.calendars)


def _caldav(args: argparse.Namespace) -> dict[str, Any]:
    from infra.bench import caldav

    return caldav.run(args.caldav_people)


BENCHMARKS: dict[str, Callable[[argparse.Namespace], dict[str, Any]]] = {
    "planning": _planning,
    "graph_planning": _graph,
    "ingestion": _ingestion,
    "coldstart": _coldstart,
    "lateness": _lateness,
    "batch_size": _batch_size,
    "full_sync": _full_sync,
    "steady_state": _steady_state,
    "slots": _slots,
    "caldav": _caldav,
}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m infra.bench", description=__doc__)
    parser.add_argument(
        "names", nargs="*", metavar="NAME", help=f"one or more of {', '.join(BENCHMARKS)}; default: all"
    )
    parser.add_argument("--users", type=int, default=10_000)
    parser.add_argument("--cold-users", type=int, default=10_000)
    parser.add_argument("--first-run-users", type=int, default=2_000)
    parser.add_argument("--naive-users", type=int, default=1_000)
    parser.add_argument(
        "--hosts",
        type=int,
        nargs="+",
        default=[10_000, 50_000],
        help="ingestion: webhook sizes (hosts), each on an empty emulator",
    )
    parser.add_argument(
        "--stored-timeout", type=float, default=900.0, help="ingestion: seconds to follow each design's storing"
    )
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--windows", type=int, default=20)
    parser.add_argument("--batch-users", type=int, default=2_000)
    parser.add_argument("--steady-people", type=int, default=1_000)
    parser.add_argument("--caldav-people", type=int, default=20, help="people on the Radicale server (caldav)")
    parser.add_argument("--calendars", type=int, default=None, help="slot-quality corpus size (default 60)")
    args = parser.parse_args(argv)
    unknown = set(args.names) - set(BENCHMARKS)
    if unknown:
        parser.error(f"unknown benchmark(s): {', '.join(sorted(unknown))}")
    RESULTS.mkdir(parents=True, exist_ok=True)
    for name in args.names or list(BENCHMARKS):
        print(f"benchmark: {name}", flush=True)
        result = BENCHMARKS[name](args)
        path = RESULTS / f"{name}.json"
        path.write_text(json.dumps(result, indent=2, default=str))
        print(json.dumps(result, indent=2, default=str), flush=True)
        print(f"  → {Path(path).relative_to(ROOT)}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
