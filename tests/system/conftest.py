"""A whole Vigil system against an in-process simulator, with fast timers for tests."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
import requests

from assembly.system import VigilSystem
from config.settings import VigilSettings
from control.server import ControlServer
from exchange.simulator import SimulatedExchange, SimulatorConfig
from runtime.messages import OrderIntent
from tests.conftest import SimHandle, wait_for

FAST: dict[str, Any] = {
    "exchange": {"read_timeout_s": 1.0, "connect_timeout_s": 1.0, "read_retries": 1},
    "supervision": {
        "heartbeat_interval_s": 0.1,
        "hang_timeout_s": 0.5,
        "io_hang_timeout_s": 1.0,
        "ask_timeout_s": 2.0,
    },
    "reconciliation": {
        "interval_s": 0.3,
        "grace_s": 2.0,
        "balance_grace_s": 0.5,
        "max_age_intervals": 10,
    },
    "poller": {"interval_s": 0.3, "fast_interval_s": 0.2},
    "broker": {"unknown_window_s": 1.0},
    "demo": {"enabled": False},
    # the manual-clock simulator sends a ticker only when a test moves the market: a mid
    # stays a reference for the length of any test (tests/system/test_policy_guard.py
    # shortens it)
    "policy": {"max_reference_age_s": 600},
    # the manual-clock simulator sends no more tickers: the market-data switch stays off
    # here (tests/system/test_breaker_triggers.py turns it on)
    # and a loaded 2-core test machine is not a reason to slow trading (the CPU trigger)
    "breaker": {
        "triggers": {
            "market_data": {"threshold": 0, "red_threshold": 0},
            "cpu": {"threshold": 0},
        }
    },
}


def make_settings(data_dir: Path, **overrides: Any) -> VigilSettings:
    data: dict[str, Any] = {k: dict(v) for k, v in FAST.items()}
    for key, value in overrides.items():
        if isinstance(value, dict):
            data.setdefault(key, {}).update(value)
        else:
            data[key] = value
    return VigilSettings(data_dir=data_dir, **data)


class Vigil:
    """A running system plus the helpers tests need."""

    def __init__(self, system: VigilSystem, sim: SimHandle, token: str) -> None:
        self.system = system
        self.sim = sim
        self.token = token
        self.url = system.control.url

    def api(self, method: str, path: str, body: dict[str, Any] | None = None) -> requests.Response:
        return requests.request(
            method,
            self.url + path,
            json=body,
            headers={"Authorization": f"Bearer {self.token}"},
            timeout=10,
        )

    def status(self) -> dict[str, Any]:
        return self.api("GET", "/v1/status").json()

    def intent(
        self,
        side: str = "BUY",
        type: str = "MARKET",
        quantity: str = "0.001",
        price: str | None = None,
        symbol: str = "BTCUSDT",
        **kw: Any,
    ) -> OrderIntent:
        return OrderIntent(
            symbol=symbol,
            side=side,
            type=type,
            quantity=Decimal(quantity),
            price=None if price is None else Decimal(price),
            **kw,
        )

    def submit(self, **kw: Any) -> Any:
        return self.system.ask("order_broker", self.intent(**kw))

    def wait_green(self, timeout: float = 10.0) -> None:
        """Trading allowed, and the broker has a reference price (the policy needs one;
        the first bookTicker can come after the first HEALTHY reconciliation)."""
        wait_for(
            lambda: (
                self.system.gate.refusal() is None and "BTCUSDT" in self.system.book.book.prices
            ),
            timeout=timeout,
        )

    def sim_orders(self) -> int:
        return len(self.sim.state()["orders"])


def audited(vigil: Vigil, kind: str, **match: Any) -> list[dict[str, Any]]:
    """The audit trail's records of ``kind`` whose fields equal ``match`` (flushed first)."""
    vigil.system.trail.flush()
    records = vigil.system.trail.query(kind=kind, limit=10**6)
    return [r for r in records if all(r.get(k) == v for k, v in match.items())]


def wait_audited(vigil: Vigil, kind: str, timeout: float = 3.0, **match: Any) -> dict[str, Any]:
    """The first such record, waiting up to ``timeout`` for one to be written."""
    return wait_for(lambda: audited(vigil, kind, **match), timeout=timeout)[0]  # type: ignore[no-any-return]


@pytest.fixture
def vigil_factory(tmp_path: Path) -> Iterator[Callable[..., Vigil]]:
    started: list[tuple[VigilSystem, SimulatedExchange | None]] = []

    def start(
        data_dir: Path | None = None,
        sim: SimulatedExchange | None = None,
        own_sim: bool = False,
        **overrides: Any,
    ) -> Vigil:
        """``own_sim``: stop the given simulator at teardown too (after the system)."""
        own = sim is None or own_sim
        exchange = sim or SimulatedExchange(SimulatorConfig(tick_interval=0, seed=3)).start()
        settings = make_settings(data_dir or tmp_path / "var", **overrides)
        system = VigilSystem(settings, simulator=exchange).start()
        token = VigilSystem.new_token()
        system.control = ControlServer(system, "127.0.0.1", 0, token).start()
        system.write_control_files(system.control.url, token)
        started.append((system, exchange if own else None))
        return Vigil(system, SimHandle(exchange), token)

    yield start
    for system, exchange in reversed(started):
        system.stop(cancel_open=False)
        if exchange is not None:
            exchange.stop()


@pytest.fixture
def vigil(vigil_factory: Callable[..., Vigil]) -> Vigil:
    v = vigil_factory()
    v.wait_green()
    return v
