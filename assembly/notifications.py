"""The notifier: breaker changes, incidents, restarts and the daily summary to webhooks.

A RED that nobody sees is no safety, but a webhook that is down or hangs must never delay
the breaker, the order path or a shutdown. So every hook here only puts a small item on a
bounded queue and returns: one dispatcher thread turns it into a message (the breaker
state, the last reconciliation, the open orders) and hands it to one courier thread per
webhook, which posts it (``requests``, a short timeout) and retries with back-off (0.5 s
doubling, at most ``attempts`` tries, none started after ``give_up_s``). A full queue drops
its oldest message. A stop gives the queues ``shutdown_s`` and then gives up, auditing what
was not delivered.

Every delivery, failure and give-up is in the audit trail (``notify_sent``,
``notify_failed``, ``notify_gave_up``) with the webhook's index and its redacted URL: the
URL is a secret (a Slack/Discord webhook path, a Telegram bot token) and is never written
anywhere, errors included (``domain.notification.scrub``).
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any

import requests
from loguru import logger

from config.sections import NotifySettings, WebhookSettings
from domain.breaker import BreakerState
from domain.notification import (
    DAY_MS,
    Notification,
    body,
    breaker_event,
    day_text,
    incident_event,
    redact_url,
    scrub,
    secret_parts,
    summary_due,
)
from runtime.clock import now_ms

Audit = Callable[[str, dict[str, Any]], None]
TICK_S = 1.0  # how often the dispatcher looks at the daily summary's schedule


@dataclass(frozen=True)
class Context:
    """What a message tells beside its event: the latest known, read when it is sent."""

    level: str = "GREEN"
    reason: str = ""
    since_ms: int = 0
    reconciliation: str | None = None
    reconciliation_ms: int | None = None
    open_orders: int | None = None
    open_order_ids: tuple[str, ...] = ()


@dataclass(frozen=True)
class _Event:
    kind: str
    matches: frozenset[str]
    at_ms: int
    state: BreakerState | None = None  # the breaker's state the event is about
    detail: dict[str, Any] | None = None


class _SecretFilter(logging.Filter):
    """urllib3 logs each request line (with the path: a bot token) at DEBUG: scrubbed."""

    def __init__(self) -> None:
        super().__init__("vigil.notify")
        self.secrets: tuple[str, ...] = ()

    def filter(self, record: logging.LogRecord) -> bool:
        if self.secrets:
            message = record.getMessage()
            clean = scrub(message, self.secrets)
            if clean != message:
                record.msg, record.args = clean, None
        return True


_FILTER = _SecretFilter()


class Courier:
    """One webhook: its queue, its thread, its retries."""

    def __init__(self, index: int, hook: WebhookSettings, notifier: Notifier) -> None:
        self.index = index
        self.hook = hook
        self.url = redact_url(hook.url.get_secret_value())
        self.secrets = secret_parts(hook.url.get_secret_value())
        self.events = frozenset(hook.events)
        self._n = notifier
        self.queue: queue.Queue[Notification | None] = queue.Queue(notifier.settings.queue_size)
        self.current: Notification | None = None
        self.abandoned = False  # a stop gave up on this courier: it writes nothing more
        self._lock = threading.Lock()
        self.thread = threading.Thread(target=self._run, name=f"notify-{index}", daemon=True)

    def wants(self, n: Notification) -> bool:
        return bool(self.events & n.matches)

    def offer(self, n: Notification | None) -> None:
        """Never blocks: a full queue drops its oldest message (the newest matters most)."""
        while True:
            try:
                self.queue.put_nowait(n)
                return
            except queue.Full:
                try:
                    dropped = self.queue.get_nowait()
                except queue.Empty:
                    continue
                if dropped is not None:
                    self._n.record(
                        "notify_gave_up", self._fields(dropped, reason="queue full"), self
                    )

    def _fields(self, n: Notification, **more: Any) -> dict[str, Any]:
        return {"webhook": self.index, "url": self.url, "event": n.kind, **more}

    def _run(self) -> None:
        session = requests.Session()
        try:
            while True:
                n = self.queue.get()
                if n is None:
                    return
                with self._lock:
                    if self.abandoned:
                        return
                    self.current = n
                self._deliver(session, n)
                with self._lock:
                    self.current = None
        finally:
            session.close()

    def _deliver(self, session: requests.Session, n: Notification) -> None:
        s = self._n.settings
        payload = body(n, self.hook.format, self.hook.chat_id)
        give_up_at = time.monotonic() + s.give_up_s
        delay = s.backoff_s
        for attempt in range(1, s.attempts + 1):
            error, permanent = self._post(session, payload)
            if error is None:
                self._n.record("notify_sent", self._fields(n, attempts=attempt), self)
                return
            self._n.record("notify_failed", self._fields(n, attempt=attempt, error=error), self)
            logger.warning("notify: webhook {} ({}) failed: {}", self.index, self.url, error)
            retry_at = time.monotonic() + delay
            reason = None
            if permanent:
                reason = "refused"
            elif attempt == s.attempts or retry_at > give_up_at:
                reason = "retries exhausted"
            elif self._past_stop(retry_at):
                reason = "shutdown"
            elif self._n.stopping.wait(delay) and self._past_stop(retry_at):
                reason = "shutdown"  # a stop came during the wait: its deadline is first
            else:
                time.sleep(max(0.0, retry_at - time.monotonic()))
            if reason is not None:
                self._n.record(
                    "notify_gave_up", self._fields(n, attempts=attempt, reason=reason), self
                )
                logger.error("notify: gave up on webhook {} ({}): {}", self.index, self.url, reason)
                return
            delay *= 2

    def _past_stop(self, at: float) -> bool:
        deadline = self._n.deadline
        return deadline is not None and at > deadline

    def _post(self, session: requests.Session, payload: dict[str, Any]) -> tuple[str | None, bool]:
        """None on a 2xx; else the (scrubbed) error and whether retrying is pointless."""
        timeout = self._n.settings.timeout_s
        try:
            resp = session.post(self.hook.url.get_secret_value(), json=payload, timeout=timeout)
        except requests.RequestException as exc:
            return scrub(f"{type(exc).__name__}: {exc}", self.secrets)[:300], False
        try:
            if 200 <= resp.status_code < 300:
                return None, False
            permanent = 400 <= resp.status_code < 500 and resp.status_code not in (408, 429)
            return f"HTTP {resp.status_code}", permanent
        finally:
            resp.close()

    def abandon(self) -> list[Notification]:
        """A stop's give-up: what is in flight and queued, never to be sent by this one."""
        with self._lock:
            self.abandoned = True
            left = [] if self.current is None else [self.current]
        while True:
            try:
                item = self.queue.get_nowait()
            except queue.Empty:
                return left
            if item is not None:
                left.append(item)


class Notifier:
    """Hooks (``breaker_changed``, ``incident``, ``restart``) that only enqueue; a
    dispatcher thread; a courier per webhook. ``clock`` (wall ms) is injectable: the daily
    summary's schedule runs on it (``tick``)."""

    def __init__(
        self,
        settings: NotifySettings,
        instance: str,
        *,
        audit: Audit,
        context: Callable[[], Context],
        summary: Callable[[int], dict[str, Any]],
        clock: Callable[[], int] = now_ms,
        level: str = "GREEN",
    ) -> None:
        self.settings = settings
        self.instance = instance
        self.clock = clock
        self._audit = audit
        self._context = context
        self._summary = summary
        self._level = level  # the breaker's level as last heard (a change is from it)
        self._inbox: queue.Queue[_Event | None] = queue.Queue(settings.queue_size * 4)
        self.couriers = [Courier(i, h, self) for i, h in enumerate(settings.webhooks)]
        self.stopping = threading.Event()
        self.deadline: float | None = None
        self._summary_day: int | None = None
        self._summary_lock = threading.Lock()
        self._closed = False
        self._dispatcher = threading.Thread(target=self._dispatch, name="notify", daemon=True)
        self._started = False

    @property
    def enabled(self) -> bool:
        return bool(self.couriers)

    def start(self) -> Notifier:
        if not self.enabled:
            return self
        secrets = tuple(p for c in self.couriers for p in c.secrets)
        _FILTER.secrets = tuple(sorted({*_FILTER.secrets, *secrets}, key=len, reverse=True))
        urllib3 = logging.getLogger("urllib3.connectionpool")
        if _FILTER not in urllib3.filters:
            urllib3.addFilter(_FILTER)
        # a start after today's summary time waits for tomorrow's (a restart sends no second)
        now = self.clock()
        if summary_due(now, self.settings.daily_summary_minute, None) is not None:
            self._summary_day = now // DAY_MS
        self._started = True
        for courier in self.couriers:
            courier.thread.start()
        self._dispatcher.start()
        return self

    # ------------------------------------------------------------------ hooks (never block)

    def breaker_changed(self, state: BreakerState) -> None:
        """The gate's listener: called in the order the changes were made."""
        found = breaker_event(self._level, state.level.value, state.source)
        self._level = state.level.value
        if found is not None:
            kind, matches = found
            self._put(_Event(kind, matches, self.clock(), state=state))

    def still_red(self, state: BreakerState) -> None:
        """At start-up: RED latched by an earlier run (its reason and time)."""
        self._put(
            _Event("red", frozenset({"red"}), self.clock(), state=state, detail={"latched": True})
        )

    def incident(self, incident_id: int, kind: str, reason: str) -> None:
        event, matches = incident_event(kind)
        detail = {"incident": incident_id, "incident_kind": kind, "reason": reason}
        self._put(_Event(event, matches, self.clock(), detail=detail))

    def restart(self, actor: str, failure: str, detail: str, restarted: bool) -> None:
        info = {"actor": actor, "failure": failure, "detail": detail, "restarted": restarted}
        self._put(_Event("restart", frozenset({"restart"}), self.clock(), detail=info))

    def _put(self, event: _Event) -> None:
        if not self._started or self.stopping.is_set():
            return
        try:
            self._inbox.put_nowait(event)
        except queue.Full:
            self.record(
                "notify_gave_up", {"webhook": None, "event": event.kind, "reason": "queue full"}
            )

    # ------------------------------------------------------------------ the daily summary

    def tick(self) -> bool:
        """Send the daily summary if it is due (once per UTC day, from
        ``daily_summary_utc`` on); True when one was queued."""
        with self._summary_lock:
            now = self.clock()
            day = summary_due(now, self.settings.daily_summary_minute, self._summary_day)
            if day is None or self._summary_day == day:
                return False
            self._summary_day = day
        try:
            figures = self._summary(now)
        except Exception as exc:  # the figures are best effort; the message still goes
            figures = {"error": type(exc).__name__}
        detail = {"day": day_text(day), **figures}
        self._put(_Event("daily_summary", frozenset({"daily_summary"}), now, detail=detail))
        return True

    # ------------------------------------------------------------------ the dispatcher

    def _dispatch(self) -> None:
        next_tick = time.monotonic()
        while True:
            try:
                event = self._inbox.get(timeout=max(0.0, next_tick - time.monotonic()))
            except queue.Empty:
                event = None
                try:
                    self.tick()
                except Exception as exc:
                    logger.error("notify: daily summary check failed: {}", exc)
                next_tick = time.monotonic() + TICK_S
                continue
            if event is None:
                for courier in self.couriers:
                    courier.queue.put(None)  # after everything queued before the stop
                return
            try:
                message = self._message(event)
            except Exception as exc:  # a broken message must not stop the notifier
                logger.error("notify: message for {} not built: {}", event.kind, exc)
                continue
            for courier in self.couriers:
                if courier.wants(message):
                    courier.offer(message)

    def _message(self, event: _Event) -> Notification:
        try:
            ctx = self._context()
        except Exception:
            ctx = Context()
        if event.state is not None:
            ctx = replace(
                ctx,
                level=event.state.level.value,
                reason=event.state.reason,
                since_ms=event.state.since_ms,
            )
        return Notification(
            kind=event.kind,
            matches=event.matches,
            instance=self.instance,
            at_ms=event.at_ms,
            level=ctx.level,
            reason=ctx.reason,
            since_ms=ctx.since_ms,
            reconciliation=ctx.reconciliation,
            reconciliation_ms=ctx.reconciliation_ms,
            open_orders=ctx.open_orders,
            open_order_ids=ctx.open_order_ids,
            detail=dict(event.detail or {}),
        )

    # ------------------------------------------------------------------ audit and stop

    def record(self, kind: str, data: dict[str, Any], courier: Courier | None = None) -> None:
        if self._closed or (courier is not None and courier.abandoned):
            return
        try:
            self._audit(kind, data)
        except Exception as exc:
            logger.error("notify: {} not audited: {}", kind, exc)

    def stop(self, timeout: float | None = None) -> list[dict[str, Any]]:
        """Give the queues ``shutdown_s`` (or ``timeout``), then give up on the rest and
        audit it (``notify_gave_up``, reason ``shutdown``). Returns what was given up."""
        if not self._started or self.stopping.is_set():
            return []
        limit = self.settings.shutdown_s if timeout is None else timeout
        self.deadline = time.monotonic() + limit
        self.stopping.set()
        try:
            self._inbox.put_nowait(None)
        except queue.Full:  # the dispatcher is far behind: the couriers stop on their own
            for courier in self.couriers:
                courier.offer(None)
        self._dispatcher.join(max(0.0, self.deadline - time.monotonic()))
        for courier in self.couriers:
            courier.thread.join(max(0.0, self.deadline - time.monotonic()))
        given_up: list[dict[str, Any]] = []
        pending: list[_Event] = []
        while True:
            try:
                item = self._inbox.get_nowait()
            except queue.Empty:
                break
            if item is not None:
                pending.append(item)
        for event in pending:
            given_up.append({"webhook": None, "event": event.kind, "reason": "shutdown"})
        for courier in self.couriers:
            for n in courier.abandon():
                given_up.append(courier._fields(n, reason="shutdown"))
        for record in given_up:
            self._audit_safely("notify_gave_up", record)
        self._closed = True
        if given_up:
            logger.warning("notify: {} message(s) not delivered at shutdown", len(given_up))
        return given_up

    def _audit_safely(self, kind: str, data: dict[str, Any]) -> None:
        try:
            self._audit(kind, data)
        except Exception as exc:
            logger.error("notify: {} not audited: {}", kind, exc)


def watch_incidents(store: Any, notifier: Notifier) -> None:
    """Every incident row the store adds is an ``incident`` (or a
    ``reconciliation_critical``) for the notifier, once it is written."""
    add = store.add_incident

    def add_incident(at_ms: int, kind: str, reason: str, detail: dict[str, Any]) -> int:
        incident_id: int = add(at_ms, kind, reason, detail)
        notifier.incident(incident_id, kind, reason)
        return incident_id

    store.add_incident = add_incident
