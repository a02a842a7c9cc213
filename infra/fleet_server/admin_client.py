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

    def set_policy(self, host_id: int, policy_id: int, response: str, *, on_device_only: bool = False) -> None:
        """Set what Fleet holds (and the device would report); on_device_only: the device changes, Fleet
        learns it when policies next run."""
        body = {"response": response, "on_device_only": on_device_only}
        self._call("PUT", f"/hosts/{host_id}/policies/{policy_id}", json=body)

    def policy_response(self, host_id: int, policy_id: int) -> str | None:
        """What Fleet currently reports for the policy on the host."""
        policies: dict[str, str] = self.host(host_id)["policies"]
        return policies.get(str(policy_id))

    def host(self, host_id: int) -> dict[str, Any]:
        """The simulated host: online, seen_time, next_check_in, refetch_requested, policies, queue, ..."""
        host: dict[str, Any] = self.state()["hosts"][str(host_id)]
        return host

    def pass_on_action(
        self,
        host_id: int,
        policy_id: int,
        kind: str,
        reference: str | int | None = None,
        takes_effect: str = "same_check_in",
    ) -> dict[str, Any]:
        """When an action of `kind` matching `reference` RUNS on the host (at a check-in), the policy is
        fixed on the device at that check-in or, with takes_effect="next_check_in", at the next one."""
        rule: dict[str, Any] = {"host_id": host_id, "policy_id": policy_id, "kind": kind, "takes_effect": takes_effect}
        if reference is not None:
            rule["reference"] = str(reference)
        return self._call("POST", "/pass_on_action", json=rule)

    def set_online(self, host_id: int, online: bool) -> dict[str, Any]:
        return self._call("PUT", f"/hosts/{host_id}/online", json={"online": online})

    def check_in(self, host_id: int) -> dict[str, Any]:
        """The host checks in now (as a push would wake it) instead of at its next interval."""
        return self._call("POST", f"/hosts/{host_id}/check_in")

    def update_now(self, host_id: int, version: str | None = None) -> dict[str, Any]:
        """The user clicked "Update Now": the host installs at its next check-in."""
        return self._call("POST", f"/hosts/{host_id}/update_now", json={} if version is None else {"version": version})

    def set_device(self, host_id: int, **changes: bool | None) -> dict[str, Any]:
        """push_fails, fleetd, scripts_enabled."""
        return self._call("PUT", f"/hosts/{host_id}/device", json=changes)

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
