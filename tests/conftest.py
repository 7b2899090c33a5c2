"""Shared fixtures: a seeded simulated exchange on loopback, real Binance clients, and a whole
Vigil system against an in-process simulator with fast timers for tests (``vigil_factory``,
``vigil``), used by tests/system and tests/control."""

from __future__ import annotations

import contextlib
import decimal
import json
import os
import queue
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
import requests
import websocket
from binance.client import Client

from assembly.system import VigilSystem
from config.settings import VigilSettings
from control.server import ControlServer
from exchange.simulator import SimulatedExchange, SimulatorConfig
from exchange.simulator.auth import hmac_hex, ws_payload
from runtime.messages import OrderIntent


@pytest.fixture(autouse=True)
def _decimal_context() -> Iterator[None]:
    """Each test starts with Python's default decimal context and leaves it so. A client
    library used in-process (ccxt sets its calling thread's rounding to ROUND_HALF_UP and
    traps Underflow) must not change how a later test's amounts round."""
    decimal.setcontext(decimal.Context())
    yield
    decimal.setcontext(decimal.Context())


def wait_for(predicate: Callable[[], Any], timeout: float = 5.0, interval: float = 0.01) -> Any:
    """Poll until ``predicate()`` is truthy; fail with a clear message at the deadline."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not met within {timeout}s")
        time.sleep(interval)


class SimHandle:
    """A running simulator plus helpers to drive its fault API over HTTP."""

    def __init__(self, exchange: SimulatedExchange) -> None:
        self.exchange = exchange
        self.rest = exchange.rest_url
        self.ws_api = exchange.ws_api_url
        self.streams = exchange.streams_url
        self.api_key = exchange.config.api_key
        self.api_secret = exchange.config.api_secret.get_secret_value()

    def state(self) -> dict[str, Any]:
        return requests.get(f"{self.rest}/_sim/state", timeout=5).json()

    def arm(self, kind: str, **spec: Any) -> dict[str, Any]:
        resp = requests.post(f"{self.rest}/_sim/faults", json={"kind": kind, **spec}, timeout=5)
        assert resp.status_code == 200, resp.text
        return resp.json()

    def clear(self) -> None:
        requests.delete(f"{self.rest}/_sim/faults", timeout=5).raise_for_status()

    def tick(self, steps: int = 1) -> dict[str, Any]:
        return requests.post(f"{self.rest}/_sim/tick", json={"steps": steps}, timeout=5).json()

    def set_price(self, symbol: str, price: str) -> None:
        resp = requests.post(
            f"{self.rest}/_sim/price", json={"symbol": symbol, "price": price}, timeout=5
        )
        assert resp.status_code == 200, resp.text

    def client(self, timeout: float = 5.0) -> Client:
        client = Client(
            self.api_key, self.api_secret, ping=False, requests_params={"timeout": timeout}
        )
        client.API_URL = f"{self.rest}/api"
        return client

    def balance(self, asset: str) -> dict[str, str]:
        return self.state()["balances"][asset]


@pytest.fixture
def sim_config() -> SimulatorConfig:
    """Manual clock (tick_interval 0) and a fixed seed: fully deterministic."""
    return SimulatorConfig(tick_interval=0, seed=11)


@pytest.fixture
def sim(sim_config: SimulatorConfig) -> Iterator[SimHandle]:
    exchange = SimulatedExchange(sim_config).start()
    try:
        yield SimHandle(exchange)
    finally:
        exchange.stop()


@pytest.fixture
def client(sim: SimHandle) -> Client:
    return sim.client()


class UserStream:
    """websocket-client subscribed with userDataStream.subscribe.signature."""

    def __init__(self, sim: SimHandle) -> None:
        self.sim = sim
        self.events: queue.Queue[dict[str, Any]] = queue.Queue()
        self.responses: queue.Queue[dict[str, Any]] = queue.Queue()
        self.ws = websocket.create_connection(sim.ws_api, timeout=5)
        self._closed = threading.Event()
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()
        self.subscription_id = self.subscribe()

    def _read(self) -> None:
        while not self._closed.is_set():
            try:
                raw = self.ws.recv()
            except Exception:
                self._closed.set()
                return
            if not raw:
                continue
            message = json.loads(raw)
            (self.events if "event" in message else self.responses).put(message)

    def request(self, method: str, params: dict[str, Any] | None = None) -> dict[str, Any]:
        body: dict[str, Any] = {"id": f"req-{time.monotonic_ns()}", "method": method}
        if params is not None:
            body["params"] = params
        self.ws.send(json.dumps(body))
        return self.responses.get(timeout=5)

    def subscribe(self) -> int:
        params: dict[str, Any] = {"apiKey": self.sim.api_key, "timestamp": int(time.time() * 1000)}
        params["signature"] = hmac_hex(self.sim.api_secret, ws_payload(params))
        response = self.request("userDataStream.subscribe.signature", params)
        assert response["status"] == 200, response
        return int(response["result"]["subscriptionId"])

    def next_event(self, timeout: float = 5.0) -> dict[str, Any]:
        return self.events.get(timeout=timeout)["event"]

    def drain(self, settle: float = 0.3) -> list[dict[str, Any]]:
        """Every event until none arrives for ``settle`` seconds."""
        out = []
        while True:
            try:
                out.append(self.events.get(timeout=settle)["event"])
            except queue.Empty:
                return out

    def wait_event(
        self, predicate: Callable[[dict[str, Any]], bool], timeout: float = 5.0
    ) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                raise AssertionError("expected event did not arrive")
            try:
                event = self.events.get(timeout=left)["event"]
            except queue.Empty:
                continue
            if predicate(event):
                return event

    @property
    def closed(self) -> bool:
        return self._closed.is_set()

    def close(self) -> None:
        self._closed.set()
        try:
            self.ws.close()
        except Exception:
            pass


@pytest.fixture
def user_stream(sim: SimHandle) -> Iterator[UserStream]:
    stream = UserStream(sim)
    try:
        yield stream
    finally:
        stream.close()


ROOT = Path(__file__).resolve().parent.parent


@contextlib.contextmanager
def simulator_process(*args: str) -> Iterator[dict[str, str]]:
    """``python run.py sim`` as its own process; yields its JSON line (URLs, demo keys)."""
    proc = subprocess.Popen(
        [sys.executable, "run.py", "sim", "--port", "0", *args],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert proc.stdout is not None
    try:
        yield json.loads(proc.stdout.readline())
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=10)


def run_py(
    env: dict[str, str] | None, *args: str, timeout: float = 60
) -> subprocess.CompletedProcess[str]:
    """``python run.py ARGS`` to completion, output captured."""
    return subprocess.run(
        [sys.executable, "run.py", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def start_run_py(env: dict[str, str] | None, *args: str) -> subprocess.Popen[str]:
    """``python run.py ARGS`` in the background, stdout and stderr piped."""
    return subprocess.Popen(
        [sys.executable, "run.py", *args],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def vigil_env(data_dir: Path, **variables: str) -> dict[str, str]:
    """This environment without any VIGIL_* of the caller's, with the data dir set."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("VIGIL_")}
    return {**env, "VIGIL_DATA_DIR": str(data_dir), **variables}


def external_exchange_env(info: dict[str, str], data_dir: Path, **settings: str) -> dict[str, str]:
    """The environment of a Vigil process pointed at a simulator process (no VIGIL_* leaks
    in from the caller's environment)."""
    env = vigil_env(data_dir)
    env.update(
        {
            "VIGIL_EXCHANGE__SIMULATOR": "false",
            "VIGIL_EXCHANGE__REST_URL": info["rest"],
            "VIGIL_EXCHANGE__WS_API_URL": info["ws_api"],
            "VIGIL_EXCHANGE__STREAM_URL": info["streams"],
            "VIGIL_EXCHANGE__READ_TIMEOUT_S": "2",
            "BINANCE_API_KEY": info["api_key"],
            "BINANCE_API_SECRET": info["api_secret"],
            **{f"VIGIL_{k.upper()}": v for k, v in settings.items()},
        }
    )
    return env


# --- a whole Vigil system against an in-process simulator, with fast timers for tests ---

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
