"""Binance Spot: one implementation of ``exchange.contract.ExchangeAdapter``."""

from exchange.binance.adapter import BinanceSpotAdapter
from exchange.binance.config import AdapterConfig, ConfigError, load_adapter_config
from exchange.binance.market_stream import MarketDataStream
from exchange.binance.quantize import quantize_request, wire_decimal
from exchange.binance.rate_limits import RateLimitTracker
from exchange.binance.redact import Redactor
from exchange.binance.user_stream import UserDataStream

__all__ = [
    "AdapterConfig",
    "BinanceSpotAdapter",
    "ConfigError",
    "MarketDataStream",
    "RateLimitTracker",
    "Redactor",
    "UserDataStream",
    "load_adapter_config",
    "quantize_request",
    "wire_decimal",
]
