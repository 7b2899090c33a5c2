"""A simulated Binance Spot exchange on loopback, with a fault-injection API.

It speaks Binance's own protocol (REST ``/api/v3``, the WebSocket API's user data stream,
market streams), so the real client code path is the one under test. See
``docs/simulator.md`` for the module map and the fault API.
"""

from exchange.simulator.config import SimulatorConfig, SymbolSpec, load_simulator_config
from exchange.simulator.engine import Engine
from exchange.simulator.errors import ApiError
from exchange.simulator.faults import FAULT_KINDS, FAULT_SCHEMA, FaultBook
from exchange.simulator.runner import SimulatedExchange
from exchange.simulator.server import SimServer

__all__ = [
    "FAULT_KINDS",
    "FAULT_SCHEMA",
    "ApiError",
    "Engine",
    "FaultBook",
    "SimServer",
    "SimulatedExchange",
    "SimulatorConfig",
    "SymbolSpec",
    "load_simulator_config",
]
