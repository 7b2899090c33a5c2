"""REST transport: python-binance's Client plus classification, clock, rate limits and audit.

``RestTransport.call`` sends one endpoint and returns the decoded JSON, or raises exactly one of
the contract's failures. What it retries, and nothing else:

* a ``-1021`` once, after re-measuring the server clock (the request provably did not execute);
* idempotent reads (``Endpoint.idempotent``) on ``NotSent`` / ``UnknownOutcome``, up to
  ``read_retries`` times with backoff. Orders and cancels are never re-sent.

Every request, response and error is logged (loguru, scrubbed) and handed to the audit sink.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import requests
from binance.client import Client
from binance.exceptions import BinanceAPIException, BinanceRequestException
from loguru import logger
from urllib3.exceptions import ConnectTimeoutError, NewConnectionError

from exchange.binance.clock import ServerClock
from exchange.binance.config import AdapterConfig
from exchange.binance.rate_limits import RateLimitTracker
from exchange.binance.redact import Redactor
from exchange.contract import (
    AuditRecord,
    AuditSink,
    AuthError,
    ClockSkew,
    DuplicateClientOrderId,
    ExchangeError,
    FilterRejected,
    MalformedPayload,
    NotSent,
    OrderNotFound,
    RateLimited,
    Rejected,
    UnknownOutcome,
)

__all__ = ["ENDPOINTS", "Endpoint", "RestTransport"]

_UNKNOWN_CODES = frozenset({-1006, -1007})
_AUTH_CODES = frozenset({-1002, -1022, -2014, -2015})
_NOT_FOUND_CODES = frozenset({-2011, -2013})


@dataclass(frozen=True)
class Endpoint:
    """One REST endpoint: how to call it through python-binance and what it costs."""

    name: str
    method: str
    path: str
    weight: int
    signed: bool
    client_call: str
    is_order: bool = False
    idempotent: bool = True


ENDPOINTS: dict[str, Endpoint] = {
    e.name: e
    for e in (
        Endpoint("ping", "GET", "/api/v3/ping", 1, False, "ping"),
        Endpoint("time", "GET", "/api/v3/time", 1, False, "get_server_time"),
        Endpoint("exchange_info", "GET", "/api/v3/exchangeInfo", 20, False, "get_exchange_info"),
        Endpoint("account", "GET", "/api/v3/account", 20, True, "get_account"),
        Endpoint(
            "new_order", "POST", "/api/v3/order", 1, True, "create_order", True, idempotent=False
        ),
        Endpoint("query_order", "GET", "/api/v3/order", 4, True, "get_order"),
        Endpoint(
            "cancel_replace",
            "POST",
            "/api/v3/order/cancelReplace",
            1,
            True,
            "cancel_replace_order",
            True,
            idempotent=False,
        ),
        Endpoint(
            "cancel_order", "DELETE", "/api/v3/order", 1, True, "cancel_order", idempotent=False
        ),
        Endpoint("open_orders", "GET", "/api/v3/openOrders", 6, True, "get_open_orders"),
        Endpoint(
            "new_oco",
            "POST",
            "/api/v3/orderList/oco",
            1,
            True,
            "create_oco_order",
            True,
            idempotent=False,
        ),
        Endpoint(
            "new_oto",
            "POST",
            "/api/v3/orderList/oto",
            1,
            True,
            "v3_post_order_list_oto",
            True,
            idempotent=False,
        ),
        Endpoint(
            "new_otoco",
            "POST",
            "/api/v3/orderList/otoco",
            1,
            True,
            "v3_post_order_list_otoco",
            True,
            idempotent=False,
        ),
        Endpoint("query_order_list", "GET", "/api/v3/orderList", 4, True, "v3_get_order_list"),
        Endpoint(
            "cancel_order_list",
            "DELETE",
            "/api/v3/orderList",
            1,
            True,
            "v3_delete_order_list",
            idempotent=False,
        ),
        Endpoint(
            "open_order_lists", "GET", "/api/v3/openOrderList", 6, True, "get_open_oco_orders"
        ),
        Endpoint(
            "all_order_lists", "GET", "/api/v3/allOrderList", 20, True, "v3_get_all_order_list"
        ),
        Endpoint("all_orders", "GET", "/api/v3/allOrders", 20, True, "get_all_orders"),
        Endpoint("my_trades", "GET", "/api/v3/myTrades", 20, True, "get_my_trades"),
        Endpoint("depth", "GET", "/api/v3/depth", 5, False, "get_order_book"),
        Endpoint(
            "api_restrictions",
            "GET",
            "/sapi/v1/account/apiRestrictions",
            1,
            True,
            "get_account_api_permissions",
        ),
    )
}


class RestTransport:
    """Thread-safe (one request at a time). Builds its Client on first use: no I/O before."""

    def __init__(
        self,
        config: AdapterConfig,
        *,
        clock: ServerClock,
        limits: RateLimitTracker,
        redact: Redactor,
        audit: AuditSink,
        on_filter_reject: Callable[[], None] | None = None,
    ) -> None:
        self._config = config
        self._clock = clock
        self._limits = limits
        self._redact = redact
        self._audit = audit
        self._on_filter_reject = on_filter_reject
        self._lock = threading.Lock()  # guards _clients
        self._closed = threading.Event()
        # one python-binance Client per calling thread: a Client keeps the last response
        # and the clock offset on itself, so two threads must not share one; with one each,
        # the wire's lanes, the reconciler and the poller call the exchange side by side
        # instead of queueing behind each other's round trips
        self._local = threading.local()
        # (the thread that made it, its client): a client whose thread has ended is closed
        # and dropped when the next one is made (an actor restart must not leak sockets)
        self._clients: list[tuple[threading.Thread, Client]] = []

    def __repr__(self) -> str:
        return f"RestTransport({self._config.rest_url!r})"

    def close(self) -> None:
        self._closed.set()
        with self._lock:
            for _, client in self._clients:
                client.session.close()

    def _binance(self) -> Client:
        """This thread's own client (made on its first call)."""
        client: Client | None = getattr(self._local, "client", None)
        if client is None:
            cfg = self._config
            client = Client(
                cfg.api_key.get_secret_value() or None,
                cfg.api_secret.get_secret_value() or None,
                requests_params={"timeout": (cfg.connect_timeout_s, cfg.read_timeout_s)},
                ping=False,
            )
            client.API_URL = cfg.rest_url.rstrip("/") + "/api"
            client.MARGIN_API_URL = cfg.rest_url.rstrip("/") + "/sapi"
            client.REQUEST_RECVWINDOW = cfg.recv_window_ms
            # requests reads the environment again on every request (the proxy variables,
            # ~/.netrc, the CA bundle variables: a scan of os.environ and file stats, about
            # a tenth of the wire's CPU per order): read it once, here, for our one host
            session = client.session
            env = session.merge_environment_settings(cfg.rest_url, {}, None, None, None)
            session.proxies.update(env["proxies"])
            session.verify = env["verify"]
            session.trust_env = False
            with self._lock:
                ended = [c for t, c in self._clients if not t.is_alive()]
                self._clients = [(t, c) for t, c in self._clients if t.is_alive()]
                self._clients.append((threading.current_thread(), client))
            for old in ended:  # nobody can be using them: their threads are gone
                old.session.close()
            self._local.client = client
        return client

    # --- public -------------------------------------------------------------------------------

    def sync_clock(self) -> int:
        """Measure the server clock offset now (GET /api/v3/time)."""
        from exchange.binance.parse import server_time

        offset = self._clock.measure(lambda: server_time(self.call(ENDPOINTS["time"])))
        logger.bind(component="binance.rest", offset_ms=offset).info(
            "server clock offset {} ms", offset
        )
        return offset

    def call(
        self,
        endpoint: Endpoint,
        params: dict[str, str] | None = None,
        *,
        weight: int | None = None,
        client_order_id: str | None = None,
    ) -> Any:
        params = dict(params or {})
        if endpoint.signed and not self._clock.measured:
            self.sync_clock()
        retries, skew_retried = 0, False
        while True:
            try:
                return self._once(endpoint, params, weight or endpoint.weight, client_order_id)
            except ClockSkew:
                if skew_retried:
                    raise
                skew_retried = True
                self.sync_clock()
            except RateLimited:
                raise
            except (NotSent, UnknownOutcome):
                if not endpoint.idempotent or retries >= self._config.read_retries:
                    raise
                retries += 1
                if self._closed.wait(self._config.retry_backoff_s * retries):
                    raise
            except Rejected:
                raise

    # --- one attempt --------------------------------------------------------------------------

    def _gate(self, endpoint: Endpoint, weight: int) -> None:
        blocked, banned = self._limits.blocked_for()
        if blocked > 0:
            what = "banned (418)" if banned else "backing off after 429"
            self._limits.emit("gate_closed", blocked, f"{endpoint.name}: {what}")
            raise RateLimited(
                f"{endpoint.name} not sent: {what}, {blocked:.1f} s left",
                retry_after_s=blocked,
                banned=banned,
                local=True,
                backing_off=True,
            )
        delay = self._limits.throttle_delay(weight, endpoint.is_order)
        if delay > 0:
            self._limits.emit("throttled", delay, f"{endpoint.name}: near the rate limit")
            if delay > self._config.throttle_max_wait_s:
                raise RateLimited(
                    f"{endpoint.name} not sent: throttled for {delay:.1f} s",
                    retry_after_s=delay,
                    local=True,
                )
            if self._closed.wait(delay):
                raise NotSent(f"{endpoint.name} not sent: adapter closed")

    def _once(
        self, endpoint: Endpoint, params: dict[str, str], weight: int, client_order_id: str | None
    ) -> Any:
        if self._closed.is_set():
            raise NotSent(f"{endpoint.name} not sent: adapter closed")
        client = self._binance()
        try:
            self._gate(endpoint, weight)
        except NotSent as exc:
            self._record("error", endpoint, params, outcome=type(exc).__name__, message=str(exc))
            raise
        self._record("request", endpoint, params, weight=weight)
        started = time.monotonic()
        try:
            self._limits.record_sent(weight, endpoint.is_order)
            client.timestamp_offset = self._clock.offset_ms
            result = getattr(client, endpoint.client_call)(**params)
            response = client.response
        except BinanceAPIException as exc:
            latency = (time.monotonic() - started) * 1000
            error = self._api_error(endpoint, exc, client_order_id)
            self._fail(endpoint, params, error, latency)
            raise error from None
        except (requests.RequestException, BinanceRequestException) as exc:
            latency = (time.monotonic() - started) * 1000
            error = self._transport_error(endpoint, exc, client_order_id)
            self._fail(endpoint, params, error, latency)
            raise error from None
        latency = (time.monotonic() - started) * 1000
        status = response.status_code if response is not None else None
        if response is not None:
            self._limits.observe(response.headers)
        used = self._limits.used_weight_1m
        logger.bind(
            component="binance.rest",
            op=endpoint.name,
            status=status,
            used_weight_1m=used,
            latency_ms=round(latency, 1),
        ).info("rest {} {} -> {} in {:.1f} ms", endpoint.method, endpoint.path, status, latency)
        self._record("response", endpoint, params, status=status, weight=used, latency_ms=latency)
        return result

    # --- classification -----------------------------------------------------------------------

    def _api_error(
        self, endpoint: Endpoint, exc: BinanceAPIException, client_order_id: str | None
    ) -> ExchangeError:
        status = int(exc.status_code)
        code = int(exc.code) if isinstance(exc.code, int) else None
        msg = self._redact(str(exc.message or ""))
        headers = getattr(exc.response, "headers", None) or {}
        self._limits.observe(headers)
        text = f"{endpoint.name}: HTTP {status} code {code}: {msg}"
        if status in (418, 429) or code == -1015:
            retry_after = _retry_after(headers.get("Retry-After"), default=1.0)
            self._limits.refused(http_status=status, code=code, retry_after_s=retry_after)
            return RateLimited(
                text,
                retry_after_s=retry_after,
                banned=status == 418,
                code=code,
                http_status=status,
            )
        if status >= 500 or code in _UNKNOWN_CODES:
            return UnknownOutcome(
                text, client_order_id=client_order_id, code=code, http_status=status
            )
        if code == -1021:
            return ClockSkew(text, code=code, http_status=status)
        if status == 401 or code in _AUTH_CODES:
            return AuthError(text, code=code, http_status=status)
        if code == -2010 and "duplicate order" in msg.lower():
            return DuplicateClientOrderId(text, code=code, http_status=status)
        if code in _NOT_FOUND_CODES:
            return OrderNotFound(text, code=code, http_status=status)
        if code == -1013:
            if self._on_filter_reject is not None:
                self._on_filter_reject()
            return FilterRejected(text, code=code, http_status=status)
        return Rejected(text, code=code, http_status=status)

    def _transport_error(
        self, endpoint: Endpoint, exc: Exception, client_order_id: str | None
    ) -> ExchangeError:
        detail = self._redact(f"{type(exc).__name__}: {exc}")
        if isinstance(exc, BinanceRequestException):
            text = f"{endpoint.name}: unreadable response: {detail}"
            if endpoint.idempotent:
                return MalformedPayload(text)
            return UnknownOutcome(text, client_order_id=client_order_id)
        if _never_connected(exc):
            return NotSent(f"{endpoint.name} not sent: {detail}")
        return UnknownOutcome(
            f"{endpoint.name}: no answer after sending: {detail}", client_order_id=client_order_id
        )

    # --- reporting ----------------------------------------------------------------------------

    def _fail(
        self, endpoint: Endpoint, params: dict[str, str], error: ExchangeError, latency: float
    ) -> None:
        logger.bind(
            component="binance.rest",
            op=endpoint.name,
            status=error.http_status,
            code=error.code,
            outcome=type(error).__name__,
            latency_ms=round(latency, 1),
        ).warning("rest {} {} failed: {}", endpoint.method, endpoint.path, error.message)
        self._record(
            "error",
            endpoint,
            params,
            status=error.http_status,
            code=error.code,
            message=error.message,
            latency_ms=latency,
            outcome=type(error).__name__,
        )

    def _record(
        self,
        kind: str,
        endpoint: Endpoint,
        params: dict[str, str],
        *,
        status: int | None = None,
        code: int | None = None,
        message: str | None = None,
        weight: int | None = None,
        latency_ms: float | None = None,
        outcome: str | None = None,
    ) -> None:
        record = AuditRecord(
            kind=kind,  # type: ignore[arg-type]
            at_ms=int(time.time() * 1000),
            operation=endpoint.name,
            method=endpoint.method,
            path=endpoint.path,
            params={k: self._redact(str(v)) for k, v in params.items()},
            status=status,
            code=code,
            message=message,
            weight=weight,
            latency_ms=None if latency_ms is None else round(latency_ms, 3),
            outcome=outcome,
        )
        try:
            self._audit(record)
        except Exception as exc:  # the audit sink's failure must not change an outcome
            logger.error("audit sink failed: {}", self._redact(repr(exc)))


def _retry_after(value: str | None, default: float) -> float:
    try:
        return max(float(value), 0.0) if value is not None else default
    except ValueError:
        return default


def _never_connected(exc: Exception) -> bool:
    """True if the request provably never reached the server (no connection was made)."""
    if isinstance(exc, requests.exceptions.ConnectTimeout):
        return True
    if not isinstance(exc, requests.exceptions.ConnectionError):
        return False
    seen: set[int] = set()
    stack: list[object] = [exc]
    while stack:
        item = stack.pop()
        if id(item) in seen or item is None:
            continue
        seen.add(id(item))
        if isinstance(item, NewConnectionError | ConnectTimeoutError | ConnectionRefusedError):
            return True
        if isinstance(item, BaseException):
            stack.extend(item.args)
            stack.append(getattr(item, "reason", None))
    return False
