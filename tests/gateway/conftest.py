"""Fixtures for the strategy gateway: a Vigil on the simulator with its gateway running,
strategy keys made with ``run.py keys``' own code, and unmodified Binance clients pointed at
the gateway's URLs."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import pytest
from binance.client import Client

from control.gateway.server import GatewayServer
from storage.strategy_keys import add_key, keys_path
from tests.conftest import Vigil


@dataclass
class Gateway:
    vigil: Vigil
    server: GatewayServer

    @property
    def rest(self) -> str:
        return self.server.urls()["rest"]

    @property
    def ws_api(self) -> str:
        return self.server.urls()["ws_api"]

    @property
    def streams(self) -> str:
        return self.server.urls()["streams"]

    def add_key(self, name: str, **limits: Any) -> tuple[str, str]:
        """A new strategy key (as ``run.py keys add`` makes it): (api_key, secret)."""
        if "max_order_notional" in limits:
            limits["max_order_notional"] = Decimal(str(limits["max_order_notional"]))
        key = add_key(keys_path(self.vigil.system.data_dir), name, **limits)
        self.server.ring.reload()
        return key.api_key, key.secret

    def client(self, name: str = "bot1", **limits: Any) -> Client:
        """python-binance, unmodified, with a new key, pointed at the gateway."""
        api_key, secret = self.add_key(name, **limits)
        return self.client_for(api_key, secret)

    def client_for(self, api_key: str, secret: str) -> Client:
        client = Client(api_key, secret, ping=False, requests_params={"timeout": 10})
        client.API_URL = f"{self.rest}/api"
        return client


def start_gateway(vigil: Vigil) -> Gateway:
    server = GatewayServer(vigil.system).start()
    vigil.system.gateway = server
    vigil.system.write_control_files(vigil.url, vigil.token)
    return Gateway(vigil, server)


@pytest.fixture
def gateway_factory(
    vigil_factory: Callable[..., Vigil],
) -> Iterator[Callable[..., Gateway]]:
    def make(**overrides: Any) -> Gateway:
        vigil = vigil_factory(**overrides)
        vigil.wait_green()
        return start_gateway(vigil)  # stopped by the system's own stop()

    yield make


@pytest.fixture
def gateway(gateway_factory: Callable[..., Gateway]) -> Gateway:
    return gateway_factory()
