"""The Cloud Tasks emulator (PyPI gcloud-tasks-emulator 0.6.2), listening on loopback only.

    python -m infra.tasks_emulator --port=P --queue=projects/P/locations/L/queues/Q [--max-retries=N]

The emulator's own command line cannot choose an interface: `APIThread.run` in its server.py binds
`[::]:{port}` (every interface, IPv4 and IPv6) and ignores the host it is given. This launcher runs the same
emulator, queues and task processing unchanged, with the gRPC API bound to the host given here
(127.0.0.1 by default). Options take the `--name=value` form in the stack, so a value is never read as an
option.
"""

from __future__ import annotations

import argparse
import logging
import sys
from concurrent import futures
from typing import Any

import grpc
from gcloud_tasks_emulator.cloudtasks_pb2_grpc import add_CloudTasksServicer_to_server
from gcloud_tasks_emulator.server import DEFAULT_TARGET_HOST, DEFAULT_TARGET_PORT, APIThread, Greeter, Server

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


class LoopbackServer(Server):  # type: ignore[misc]
    def __init__(self, host: str, port: int, queues: list[str], max_retries: int) -> None:
        super().__init__(host, port, DEFAULT_TARGET_HOST, DEFAULT_TARGET_PORT, queues, max_retries)
        self._api = LoopbackApi(self._state, host, port)


def _parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m infra.tasks_emulator", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)  # fmt: skip
    parser.add_argument("--host", default=DEFAULT_HOST, help="interface for the gRPC API (default: loopback)")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--queue", action="append", required=True, help="a queue to create (repeatable)")
    parser.add_argument("--max-retries", type=int, default=-1, help="attempts per task (-1: no limit)")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = _parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    server = LoopbackServer(args.host, args.port, args.queue, args.max_retries)
    server.run()  # until SIGINT; SIGTERM's default action ends the process, as with the emulator's own CLI
    return 0


if __name__ == "__main__":
    sys.exit(main())
