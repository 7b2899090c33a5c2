"""A simulated Binance Spot exchange on loopback, with a fault-injection API.

It speaks Binance's own protocol (REST ``/api/v3``, the WebSocket API's user data stream,
market streams), so the real client code path is the one under test.
"""

from exchange.simulator.config import SimulatorConfig, SymbolSpec, load_simulator_config
from exchange.simulator.engine import ApiError, Engine
from exchange.simulator.faults import FAULT_KINDS, FaultBook
from exchange.simulator.server import SimServer, SimulatedExchange

__all__ = [
    "FAULT_KINDS",
    "ApiError",
    "Engine",
    "FaultBook",
    "SimServer",
    "SimulatedExchange",
    "SimulatorConfig",
    "SymbolSpec",
    "load_simulator_config",
]
