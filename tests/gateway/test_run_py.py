"""The gateway as a user meets it: ``python run.py`` (embedded simulator) starts it beside
the control API and names its URLs in control.json; ``run.py keys add`` makes a key the
running process honours; an unmodified python-binance places and cancels an order through
it; SIGTERM stops everything cleanly (exit 0, control.json gone); ``run.py trace --order``
follows the order by the bot's own id."""

from __future__ import annotations

import json
import signal
from pathlib import Path

import requests
from binance.client import Client
from binance.exceptions import BinanceAPIException

from tests.conftest import run_py, start_run_py, vigil_env, wait_for


def test_run_py_serves_the_gateway(tmp_path: Path) -> None:
    data_dir = tmp_path / "var"
    env = vigil_env(data_dir, VIGIL_DEMO__ENABLED="false")
    vigil = start_run_py(env)
    try:
        control_json = data_dir / "control.json"
        wait_for(control_json.exists, timeout=30, interval=0.1)
        document = json.loads(control_json.read_text())
        gateway = document["gateway"]
        assert set(gateway) == {"rest", "ws_api", "streams"}
        assert gateway["rest"].startswith("http://127.0.0.1:")
        token = (data_dir / "control.token").read_text()

        def green() -> bool:
            status = requests.get(
                document["url"] + "/v1/status",
                headers={"Authorization": f"Bearer {token}"},
                timeout=5,
            ).json()
            return bool(status["breaker"] == "GREEN" and status["reconciliation"]["result"])

        added = run_py(env, "keys", "add", "bot1")
        assert added.returncode == 0, added.stderr
        key = json.loads(added.stdout)
        client = Client(key["api_key"], key["api_secret"], ping=False)
        client.API_URL = gateway["rest"] + "/api"
        assert client.ping() == {}
        wait_for(green, timeout=30, interval=0.2)
        price = float(client.get_symbol_ticker(symbol="BTCUSDT")["price"]) * 0.98
        placed = wait_for(
            lambda: _place(client, f"{price:.2f}"), timeout=10, interval=0.2
        )  # (the first reference price may come a moment after GREEN)
        cancelled = client.cancel_order(symbol="BTCUSDT", orderId=placed["orderId"])
        assert cancelled["status"] == "CANCELED"
    finally:
        vigil.send_signal(signal.SIGTERM)
        out, err = vigil.communicate(timeout=30)
    assert vigil.returncode == 0, err
    assert "gateway http://127.0.0.1:" in out
    assert not (data_dir / "control.json").exists()
    # the bot's own id follows its order too (Vigil's id found in the audit trail)
    traced = run_py(env, "trace", "--order", "from-run-py")
    assert traced.returncode == 0, traced.stderr
    journey = [line for line in traced.stdout.splitlines() if " -> " in line]
    assert any("OrderIntent" in line for line in journey), traced.stdout
    assert any("CANCELED" in line for line in journey), traced.stdout


def _place(client: Client, price: str) -> dict[str, object] | None:
    try:
        return client.create_order(  # type: ignore[no-any-return]
            symbol="BTCUSDT", side="BUY", type="LIMIT", timeInForce="GTC",
            quantity="0.001", price=price, newClientOrderId="from-run-py",
        )  # fmt: skip
    except BinanceAPIException as exc:
        if "reference" in exc.message or "reconciliation" in exc.message:
            return None
        raise
