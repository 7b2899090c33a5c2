"""The client: one ``requests.Session`` with the control API's bearer token, one method per
verb. Amounts go out as strings and come back as ``Decimal`` (never floats); a refusal is
an exception carrying Vigil's reason and the HTTP status."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any, TypedDict, cast

import requests

CONTROL_JSON = "control.json"  # in Vigil's data dir: {"url": ..., "pid": ..., ...}
CONTROL_TOKEN = "control.token"  # the bearer token (mode 0600)


class VigilError(Exception):
    """Vigil answered with an error (or not at all): ``status`` is the HTTP status (0: no
    answer), ``reason`` Vigil's words, ``body`` the answer as JSON (when it was JSON)."""

    def __init__(self, status: int, reason: str, body: Any = None) -> None:
        super().__init__(f"{status}: {reason}" if status else reason)
        self.status = status
        self.reason = reason
        self.body = body


class Refused(VigilError):
    """An order Vigil refused (policy, filters, breaker, duplicate: 409/422); nothing was
    sent to the exchange."""


class NotFound(VigilError):
    """No such order (404)."""


class Fill(TypedDict):
    trade_id: int
    price: str
    qty: str
    quote_qty: str
    commission: str
    commission_asset: str | None
    time_ms: int
    is_maker: bool
    is_buyer: bool


class Order(TypedDict, total=False):
    """One order as Vigil's book knows it (amounts as exact decimal strings)."""

    client_order_id: str
    strategy: str
    strategy_order_id: str | None
    order_id: int | None
    symbol: str
    side: str
    type: str
    time_in_force: str | None
    quantity: str
    price: str | None
    state: str  # PENDING_NEW, UNKNOWN, NEW, PARTIALLY_FILLED, FILLED, CANCELED, ...
    executed_qty: str
    cumulative_quote: str
    created_ms: int
    updated_ms: int
    fills: list[Fill]


@dataclass(frozen=True, slots=True)
class PlacedList:
    """An accepted order list: its id and its orders' client order ids by role."""

    list_client_order_id: str
    orders: dict[str, str]
    correlation_id: str


@dataclass(frozen=True, slots=True)
class Placed:
    """An accepted order: Vigil's client order id and what is sent (quantized to the
    exchange's filters; a MARKET order may go as a LIMIT IOC)."""

    client_order_id: str
    correlation_id: str
    type: str | None
    quantity: Decimal | None
    price: Decimal | None


@dataclass(frozen=True, slots=True)
class CancelResult:
    """``accepted``: the cancel is journaled and on its way (the CANCELED state follows);
    otherwise ``reason`` says why not (finished, not acknowledged yet, ...)."""

    accepted: bool
    client_order_id: str | None
    reason: str = ""


@dataclass(frozen=True, slots=True)
class Event:
    """One Server-Sent Event of ``GET /v1/events``: ``kind`` is ``breaker``, ``order``,
    ``fill``, ``execution``, ``account``, ``status`` or ``dropped``."""

    kind: str
    data: dict[str, Any] = field(default_factory=dict)


def _amount(value: Decimal | str | int | None) -> str | None:
    if value is None:
        return None
    if isinstance(value, float):
        raise TypeError("give amounts as Decimal or str, not float")
    return str(value)


def _decimal(value: Any) -> Decimal | None:
    return None if value is None else Decimal(str(value))


class VigilClient:
    """Vigil's control API at ``url`` with ``token``. ``timeout`` (seconds) bounds each
    request; ``verify`` is requests' (a CA bundle path for a self-signed TLS certificate)."""

    def __init__(
        self, url: str, token: str, *, timeout: float = 10.0, verify: bool | str = True
    ) -> None:
        self.url = url.rstrip("/")
        self.timeout = timeout
        self._session = requests.Session()
        self._session.headers["Authorization"] = f"Bearer {token}"
        self._session.verify = verify

    def __repr__(self) -> str:  # never the token
        return f"VigilClient({self.url!r})"

    @classmethod
    def from_data_dir(cls, path: str | Path, **kwargs: Any) -> VigilClient:
        """The client of the Vigil running on data dir ``path`` (its ``control.json`` and
        ``control.token``, written when its control API started)."""
        folder = Path(path)
        document = json.loads((folder / CONTROL_JSON).read_text())
        token = (folder / CONTROL_TOKEN).read_text().strip()
        return cls(str(document["url"]), token, **kwargs)

    def close(self) -> None:
        self._session.close()

    def __enter__(self) -> VigilClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ---------------------------------------------------------------- plumbing

    def _request(
        self,
        method: str,
        path: str,
        body: dict[str, Any] | None = None,
        params: dict[str, str] | None = None,
    ) -> tuple[int, Any]:
        try:
            resp = self._session.request(
                method, self.url + path, json=body, params=params or None, timeout=self.timeout
            )
        except requests.RequestException as exc:
            raise VigilError(0, f"no answer from Vigil: {exc}") from exc
        try:
            answer = resp.json()
        except ValueError:
            answer = None
        return resp.status_code, answer

    @staticmethod
    def _error(status: int, answer: Any) -> str:
        if isinstance(answer, dict):
            return str(answer.get("error") or answer.get("reason") or answer)
        return f"HTTP {status}"

    def _ok(self, method: str, path: str, body: dict[str, Any] | None = None) -> Any:
        status, answer = self._request(method, path, body)
        if status >= 400:
            raise VigilError(status, self._error(status, answer), answer)
        return answer

    # ---------------------------------------------------------------- orders

    def place(
        self,
        symbol: str,
        side: str,
        type: str,
        quantity: Decimal | str | int,
        price: Decimal | str | int | None = None,
        *,
        time_in_force: str | None = None,
        client_order_id: str | None = None,
    ) -> Placed:
        """Place an order (``type`` LIMIT, MARKET or LIMIT_MAKER; ``time_in_force`` GTC, IOC
        or FOK for a LIMIT). Raises ``Refused`` with Vigil's reason when it is refused."""
        body: dict[str, Any] = {
            "symbol": symbol,
            "side": side,
            "type": type,
            "quantity": _amount(quantity),
        }
        if price is not None:
            body["price"] = _amount(price)
        if time_in_force is not None:
            body["time_in_force"] = time_in_force
        if client_order_id is not None:
            body["client_order_id"] = client_order_id
        status, answer = self._request("POST", "/v1/orders", body)
        if status != 202:
            kind = Refused if status in (409, 422) else VigilError
            raise kind(status, self._error(status, answer), answer)
        return Placed(
            client_order_id=answer["client_order_id"],
            correlation_id=answer["correlation_id"],
            type=answer.get("type"),
            quantity=_decimal(answer.get("quantity")),
            price=_decimal(answer.get("price")),
        )

    def place_order_list(self, list_type: str, symbol: str, **fields: Any) -> PlacedList:
        """Place an OCO, OTO or OTOCO as one intent (``POST /v1/order-lists``): ``fields``
        are the body's (``side``, ``quantity``, ``above``, ``below``, ``working``,
        ``pending``, ``pending_side``, ``pending_quantity``, ``pending_above``,
        ``pending_below``, ``list_client_order_id``), amounts as strings or Decimals.
        Raises ``Refused`` with Vigil's reason when the list is refused (whole)."""
        body = {"symbol": symbol, "list_type": list_type, **_amounts(fields)}
        status, answer = self._request("POST", "/v1/order-lists", body)
        if status != 202:
            kind = Refused if status in (409, 422) else VigilError
            raise kind(status, self._error(status, answer), answer)
        return PlacedList(
            list_client_order_id=answer["list_client_order_id"],
            orders=dict(answer["orders"]),
            correlation_id=answer["correlation_id"],
        )

    def cancel(self, client_order_id: str, reason: str | None = None) -> CancelResult:
        """Cancel one order. ``accepted`` False (with the reason) when it cannot be
        cancelled now; raises ``NotFound`` when Vigil has no such order."""
        params = {} if reason is None else {"reason": reason}
        status, answer = self._request("DELETE", f"/v1/orders/{client_order_id}", None, params)
        if status == 404:
            raise NotFound(status, self._error(status, answer), answer)
        if status not in (202, 409):
            raise VigilError(status, self._error(status, answer), answer)
        return CancelResult(
            accepted=status == 202,
            client_order_id=answer.get("client_order_id"),
            reason=answer.get("error", ""),
        )

    def order(self, client_order_id: str) -> Order:
        """One order with its fills; raises ``NotFound`` when Vigil has no such order."""
        status, answer = self._request("GET", f"/v1/orders/{client_order_id}")
        if status == 404:
            raise NotFound(status, self._error(status, answer), answer)
        if status != 200:
            raise VigilError(status, self._error(status, answer), answer)
        return cast(Order, answer)

    def orders(self) -> dict[str, dict[str, Any]]:
        """Every order in the book, by client order id (``GET /v1/orders``)."""
        return cast(dict[str, dict[str, Any]], self._ok("GET", "/v1/orders")["orders"])

    # ---------------------------------------------------------------- the system

    def status(self) -> dict[str, Any]:
        return cast(dict[str, Any], self._ok("GET", "/v1/status"))

    def halt(self, reason: str) -> dict[str, Any]:
        """Trip the breaker RED: no new order goes out until an operator resets it."""
        return cast(dict[str, Any], self._ok("POST", "/v1/halt", {"reason": reason}))

    def events(
        self, kinds: set[str] | frozenset[str] | None = None, timeout: float | None = None
    ) -> Iterator[Event]:
        """The live events (``GET /v1/events``), those of ``kinds`` only when given, until
        ``timeout`` seconds have passed (None: until the caller stops iterating or Vigil
        closes the stream). Vigil sends a status event every second, so the deadline is
        noticed within about a second even when nothing else happens.

        The stream is opened here, before this returns: an order placed after the call is
        seen from its first event, even if the caller only starts iterating later."""
        deadline = None if timeout is None else time.monotonic() + timeout
        read_timeout = self.timeout if timeout is None else max(timeout, 1.0) + 5.0
        try:
            resp = self._session.get(
                self.url + "/v1/events", stream=True, timeout=(self.timeout, read_timeout)
            )
        except requests.RequestException as exc:
            raise VigilError(0, f"no answer from Vigil: {exc}") from exc
        if resp.status_code != 200:
            resp.close()
            raise VigilError(resp.status_code, f"HTTP {resp.status_code}")
        return self._read_events(resp, kinds, deadline)

    @staticmethod
    def _read_events(
        resp: requests.Response,
        kinds: set[str] | frozenset[str] | None,
        deadline: float | None,
    ) -> Iterator[Event]:
        with resp:
            kind, data = "message", ""
            try:
                for raw in resp.iter_lines():
                    if deadline is not None and time.monotonic() > deadline:
                        return
                    line = raw.decode() if isinstance(raw, bytes) else str(raw or "")
                    if line.startswith(":"):
                        continue  # a comment (keep-alive)
                    if line.startswith("event:"):
                        kind = line[6:].strip()
                    elif line.startswith("data:"):
                        data += line[5:].strip()
                    elif not line and data:
                        event = Event(kind, json.loads(data))
                        kind, data = "message", ""
                        if kinds is None or event.kind in kinds:
                            yield event
            except requests.RequestException as exc:
                if deadline is not None and time.monotonic() > deadline:
                    return
                raise VigilError(0, f"the event stream broke: {exc}") from exc


def _amounts(value: Any) -> Any:
    """Decimals (and ints) as strings, all the way down (Vigil refuses floats)."""
    if isinstance(value, dict):
        return {k: _amounts(v) for k, v in value.items()}
    if isinstance(value, Decimal) or (isinstance(value, int) and not isinstance(value, bool)):
        return str(value)
    return value
