"""The Cloud Tasks emulator (PyPI gcloud-tasks-emulator 0.6.2), on loopback only, passing on each task's OIDC identity.

    python -m infra.tasks_emulator --port=P --queue=projects/P/locations/L/queues/Q [--max-retries=N]

Three changes to the emulator, everything else (queues, schedule times, retries) is its own:

- It listens on the host given here (127.0.0.1 by default). Its own command line cannot choose one:
  `APIThread.run` in its server.py binds `[::]:{port}` (every interface) whatever host it is given.
- It ignores a task's `oidc_token` and sends no Authorization header. Cloud Tasks would mint a token for
  it; locally infra/tasks_relay does, so each delivery of a task that has an `oidc_token` carries its
  service account and audience in two headers for the relay (which never passes them on).
- Its queue thread survives a purge, and leaves tasks that are not due alone. The thread lists the queue,
  then hands each listed task on in turn: a purge (or delete) in between made the library raise NotFound,
  which ended the queue's only thread, and no task was delivered again until the emulator restarted (seen
  in the reliability suite, which purges the queue between tests). And every 0.1 s it popped each task not
  yet due (a linear search) and appended it again, logging two lines: with the few thousand tasks of the
  large reliability run that kept a core busy and wrote millions of log lines, and a listing could miss the
  task in its hands. Tasks that are not due are now skipped where they stand, as Cloud Tasks keeps them.

Options take the `--name=value` form in the stack, so a value is never read as an option.
"""

from __future__ import annotations

import argparse
import logging
import sys
import time
from concurrent import futures
from datetime import UTC, datetime
from typing import Any

import grpc
from gcloud_tasks_emulator import server as emulator
from gcloud_tasks_emulator.cloudtasks_pb2_grpc import add_CloudTasksServicer_to_server
from gcloud_tasks_emulator.server import DEFAULT_TARGET_HOST, DEFAULT_TARGET_PORT, APIThread, Greeter, Server
from google.api_core.exceptions import NotFound

from infra.tasks_relay.app import AUDIENCE_HEADER, SERVICE_ACCOUNT_HEADER

DEFAULT_HOST = "127.0.0.1"


class LoopbackApi(APIThread):  # type: ignore[misc]  # the emulator ships no types
    """The emulator's API thread, bound to one host instead of `[::]`. Its `run` is the library's, but for
    the address; the library's `join` stops it as before."""

    def __init__(self, state: Any, host: str, port: int) -> None:
        super().__init__(state, host, port)
        self._host = host

    def run(self) -> None:
        self._httpd = grpc.server(futures.ThreadPoolExecutor(max_workers=2))  # the library's pool size
        add_CloudTasksServicer_to_server(Greeter(self._state), self._httpd)
        address = f"{self._host}:{self._port}"
        if self._httpd.add_insecure_port(address) == 0:
            raise SystemExit(f"tasks emulator: cannot listen on {address}")
        logging.getLogger("gcloud-tasks-emulator").info("[API] Starting API server at %s", address)
        self._httpd.start()


class PurgeSafeProcessor(emulator.Processor):  # type: ignore[misc]
    """The emulator's task processor. `_process_queue` is the library's loop (copied: what changes sits in its
    middle), but a task that is not due yet is left where it is, and one gone since the listing is skipped
    instead of ending the thread."""

    def _process_queue(self, queue: str) -> None:
        while self._is_running.is_set():
            if queue not in self._state._queues or queue not in self._state._queue_tasks:
                break  # the queue was deleted
            if self._state.queue(queue).state == emulator.Queue.State.RUNNING:
                now = datetime.now(UTC)
                for task in self._state._queue_tasks[queue][:]:
                    if task.schedule_time and task.schedule_time >= now:
                        continue  # the library's own test in submit_task, without moving the task
                    emulator.logger.info("[TASKS] Processing next task %s", task.name)
                    try:
                        self._state.submit_task(task.name)
                    except NotFound:
                        continue  # purged or deleted since the listing
            time.sleep(emulator._LOOP_SLEEP_TIME)


class LoopbackServer(Server):  # type: ignore[misc]
    def __init__(self, host: str, port: int, queues: list[str], max_retries: int) -> None:
        super().__init__(host, port, DEFAULT_TARGET_HOST, DEFAULT_TARGET_PORT, queues, max_retries)
        self._api = LoopbackApi(self._state, host, port)
        self._processor = PurgeSafeProcessor(self._state)


def with_oidc_identity(make_request: Any) -> Any:
    """Wrap the emulator's `_make_task_request` so a task's oidc_token travels with each delivery."""

    def make_task_request(queue_name: str, task: Any, host: str, port: int) -> Any:
        oidc = task.http_request.oidc_token
        if task.http_request.url and oidc.service_account_email:
            task = type(task).deserialize(type(task).serialize(task))  # the queued task stays as created
            task.http_request.headers[SERVICE_ACCOUNT_HEADER] = oidc.service_account_email
            # Cloud Tasks: "If not specified, the URI specified in target will be used."
            task.http_request.headers[AUDIENCE_HEADER] = oidc.audience or task.http_request.url
        return make_request(queue_name, task, host, port)

    return make_task_request


def _parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m infra.tasks_emulator", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--host", default=DEFAULT_HOST, help="interface for the gRPC API (default: loopback)")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--queue", action="append", required=True, help="a queue to create (repeatable)")
    parser.add_argument("--max-retries", type=int, default=-1, help="attempts per task (-1: no limit)")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = _parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    # QueueState.submit_task looks the function up in its module at each delivery.
    emulator._make_task_request = with_oidc_identity(emulator._make_task_request)
    server = LoopbackServer(args.host, args.port, args.queue, args.max_retries)
    server.run()  # until SIGINT; SIGTERM's default action ends the process, as with the emulator's own CLI
    return 0


if __name__ == "__main__":
    sys.exit(main())
