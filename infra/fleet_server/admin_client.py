"""A small HTTP client for the stand-in's /_admin API (tests, demo, local stack)."""

from __future__ import annotations

from typing import Any

import requests


class FleetAdmin:
    def __init__(self, base_url: str, *, timeout: float = 5.0) -> None:
        self._base = base_url.rstrip("/") + "/_admin"
        self._timeout = timeout
        self._session = requests.Session()
        self._session.trust_env = False

    def seed(self, seed: dict[str, Any]) -> None:
        self._call("POST", "/seed", json=seed)

    def reset(self) -> None:
        self._call("POST", "/reset")

    def state(self) -> dict[str, Any]:
        return self._call("GET", "/state")

    def set_policy(self, host_id: int, policy_id: int, response: str) -> None:
        self._call("PUT", f"/hosts/{host_id}/policies/{policy_id}", json={"response": response})

    def policy_response(self, host_id: int, policy_id: int) -> str | None:
        policies: dict[str, str] = self.state()["hosts"][str(host_id)]["policies"]
        return policies.get(str(policy_id))

    def pass_on_action(
        self,
        host_id: int,
        policy_id: int,
        kind: str,
        reference: str | int | None = None,
        apply: str = "refetch",
    ) -> dict[str, Any]:
        rule = {"host_id": host_id, "policy_id": policy_id, "kind": kind, "apply": apply}
        if reference is not None:
            rule["reference"] = str(reference)
        return self._call("POST", "/pass_on_action", json=rule)

    def faults(self, **config: Any) -> dict[str, Any]:
        return self._call("PUT", "/faults", json=config)

    def clear_faults(self) -> None:
        self._call("DELETE", "/faults")

    def requests(self, **filters: str | int) -> list[dict[str, Any]]:
        params = {key: str(value) for key, value in filters.items()}
        entries: list[dict[str, Any]] = self._call("GET", "/requests", params=params)["requests"]
        return entries

    def clear_requests(self) -> None:
        self._call("DELETE", "/requests")

    def actions_by_host(self) -> dict[str, dict[str, int]]:
        by_host: dict[str, dict[str, int]] = self._call("GET", "/actions")["by_host"]
        return by_host

    def hook_requests(self, name: str) -> list[dict[str, Any]]:
        received: list[dict[str, Any]] = self._call("GET", f"/hooks/{name}")["requests"]
        return received

    def hook_faults(self, name: str, *, fail_next: int, status: int = 429, retry_after: int | None = 0) -> None:
        self._call(
            "PUT",
            f"/hooks/{name}/faults",
            json={"fail_next": fail_next, "status": status, "retry_after": retry_after},
        )

    def hook_url(self, name: str) -> str:
        return f"{self._base}/hooks/{name}"

    def close(self) -> None:
        self._session.close()

    def _call(self, method: str, path: str, **kwargs: Any) -> dict[str, Any]:
        response = self._session.request(method, self._base + path, timeout=self._timeout, **kwargs)
        response.raise_for_status()
        body: dict[str, Any] = response.json()
        return body
