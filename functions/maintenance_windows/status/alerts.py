"""Chat alerts after each planning run: needs attention at once, paused teams after some days, a daily digest.

Each alert is claimed in the `alerts` collection with `create()` under an id derived from its fact
(domain/alerts.py) before it is posted, so a rerun, a retried run or a second instance never sends it again.
A post the webhook refuses releases the claim, and the next run tries once more. A crash between claim and
post loses that one alert rather than risking a duplicate; the status page still lists the fact.
Alerting never fails the planning run: any problem is logged and the run's answer stands.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta

from maintenance_windows.domain import alerts as alert_rules
from maintenance_windows.domain.windows import Window
from maintenance_windows.observability import get_logger
from maintenance_windows.ports.chat import ChatError, ChatPort
from maintenance_windows.ports.store import DocumentStore, Write
from maintenance_windows.service.context import PlanningContext
from maintenance_windows.service.planner import PlanReport
from maintenance_windows.status import view

ALERTS = "alerts"
#: Claims outlive any fact worth alerting about; the TTL policy on expires_at removes them after that.
CLAIM_DAYS = 90
_logger = get_logger(__name__)


class ChatAlerts:
    """An after-plan hook (service/planner.py `AfterPlanHook`)."""

    def __init__(
        self,
        chat: ChatPort,
        chat_format: alert_rules.ChatFormat,
        *,
        status_url: str | None = None,
        pause_alert_days: int = 3,
    ) -> None:
        self._chat = chat
        self._format = chat_format
        self._status_url = status_url.rstrip("/") if status_url else None
        self._pause_after = timedelta(days=pause_alert_days)

    def __call__(self, ctx: PlanningContext, open_windows: Sequence[Window], report: PlanReport) -> None:  # noqa: ARG002  # the hook's signature; alerts read the whole store
        try:
            sent = self.send(ctx.store, ctx.clock())
        except Exception as problem:  # noqa: BLE001  # alerts are a side channel: a failure must not fail the plan
            _logger.error("chat alerts failed", event="chat_alert_failed", error=type(problem).__name__)
            return
        if sent:
            _logger.info("chat alerts sent", event="chat_alerts_sent", alerts=sent)

    def due(self, store: DocumentStore, now: datetime) -> list[alert_rules.Alert]:
        """Every alert the stored facts call for now, sent before or not."""
        overview = view.overview(store, now)
        found = [
            alert_rules.attention_alert(a.kind, a.host_id, a.user, a.reason, self._link(f"host/{a.host_id}"))
            for a in overview.attention
        ]
        for pause in overview.paused:
            alert = alert_rules.pause_alert(pause.team, pause.since, pause.reason, now, self._pause_after)
            found += [alert] if alert else []
        lines = overview.figures.summary_lines()
        found.append(alert_rules.digest_alert(now.date().isoformat(), lines, self._link("")))
        return found

    def send(self, store: DocumentStore, now: datetime) -> int:
        """Post the alerts not sent before; returns how many were posted."""
        sent = 0
        for alert in self.due(store, now):
            claim = {
                "kind": alert.kind,
                "text": alert.text,
                "claimed_at": now,
                "expires_at": now + timedelta(days=CLAIM_DAYS),
            }
            if not store.create(ALERTS, alert.alert_id, claim):
                continue
            try:
                self._chat.post(alert_rules.message(alert, self._format))
            except ChatError as refused:
                store.commit([Write("delete", ALERTS, alert.alert_id)])
                _logger.warning(
                    "chat alert not taken", event="chat_alert_failed", kind=alert.kind, problem=str(refused)
                )
                continue
            store.update(ALERTS, alert.alert_id, {"sent_at": now})
            sent += 1
        return sent

    def _link(self, path: str) -> str | None:
        return f"{self._status_url}/{path}" if self._status_url else None
