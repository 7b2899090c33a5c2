"""Configuration of the simulated exchange (the ``[simulator]`` table of a profile)."""

from __future__ import annotations

import tomllib
from decimal import Decimal
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, SecretStr


class SymbolSpec(BaseModel):
    """One tradable symbol: its assets, filters and the start of its price process."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    symbol: str
    base_asset: str
    quote_asset: str
    start_price: Decimal
    tick_size: Decimal = Decimal("0.01")
    step_size: Decimal = Decimal("0.00001")
    min_qty: Decimal = Decimal("0.00001")
    max_qty: Decimal = Decimal("9000")
    market_max_qty: Decimal = Decimal("100")
    min_price: Decimal = Decimal("0.01")
    max_price: Decimal = Decimal("1000000")
    min_notional: Decimal = Decimal("5")
    max_notional: Decimal = Decimal("9000000")
    percent_up: Decimal = Decimal("5")
    percent_down: Decimal = Decimal("0.2")
    max_num_orders: int = 200
    max_num_algo_orders: int = Field(default=5, ge=0, description="open conditional orders")
    max_num_order_lists: int = Field(default=20, ge=0, description="open order lists")
    min_trailing_delta: int = Field(default=10, ge=1, description="BIPS, both directions")
    max_trailing_delta: int = Field(default=2000, ge=1, description="BIPS, both directions")
    # price process and synthetic book
    volatility_ticks: int = Field(default=3, ge=0, description="stdev of one price step, in ticks")
    spread_ticks: int = Field(default=1, ge=1, description="best bid to best ask, in ticks")
    level_gap_ticks: int = Field(default=1, ge=1)
    level_qty: Decimal = Field(default=Decimal("0.05"), gt=0, description="base qty per level")

    def exchange_info_entry(self) -> dict[str, Any]:
        """This symbol as one element of exchangeInfo's ``symbols`` array (Binance's shape)."""

        def s(d: Decimal) -> str:
            return f"{d:.8f}"

        return {
            "symbol": self.symbol,
            "status": "TRADING",
            "baseAsset": self.base_asset,
            "baseAssetPrecision": 8,
            "quoteAsset": self.quote_asset,
            "quotePrecision": 8,
            "quoteAssetPrecision": 8,
            "baseCommissionPrecision": 8,
            "quoteCommissionPrecision": 8,
            "orderTypes": [
                "LIMIT",
                "LIMIT_MAKER",
                "MARKET",
                "STOP_LOSS",
                "STOP_LOSS_LIMIT",
                "TAKE_PROFIT",
                "TAKE_PROFIT_LIMIT",
            ],
            "icebergAllowed": False,
            "ocoAllowed": True,
            "otoAllowed": True,
            "opoAllowed": False,
            "quoteOrderQtyMarketAllowed": True,
            "allowTrailingStop": True,
            "cancelReplaceAllowed": True,
            "amendAllowed": False,
            "pegInstructionsAllowed": False,
            "isSpotTradingAllowed": True,
            "isMarginTradingAllowed": False,
            "filters": [
                {
                    "filterType": "PRICE_FILTER",
                    "minPrice": s(self.min_price),
                    "maxPrice": s(self.max_price),
                    "tickSize": s(self.tick_size),
                },
                {
                    "filterType": "LOT_SIZE",
                    "minQty": s(self.min_qty),
                    "maxQty": s(self.max_qty),
                    "stepSize": s(self.step_size),
                },
                {
                    "filterType": "MARKET_LOT_SIZE",
                    "minQty": s(Decimal(0)),
                    "maxQty": s(self.market_max_qty),
                    "stepSize": s(Decimal(0)),
                },
                {
                    "filterType": "NOTIONAL",
                    "minNotional": s(self.min_notional),
                    "applyMinToMarket": True,
                    "maxNotional": s(self.max_notional),
                    "applyMaxToMarket": False,
                    "avgPriceMins": 0,
                },
                {
                    "filterType": "PERCENT_PRICE_BY_SIDE",
                    "bidMultiplierUp": s(self.percent_up),
                    "bidMultiplierDown": s(self.percent_down),
                    "askMultiplierUp": s(self.percent_up),
                    "askMultiplierDown": s(self.percent_down),
                    "avgPriceMins": 0,
                },
                {"filterType": "MAX_NUM_ORDERS", "maxNumOrders": self.max_num_orders},
                {"filterType": "MAX_NUM_ALGO_ORDERS", "maxNumAlgoOrders": self.max_num_algo_orders},
                {"filterType": "MAX_NUM_ORDER_LISTS", "maxNumOrderLists": self.max_num_order_lists},
                {
                    "filterType": "TRAILING_DELTA",
                    "minTrailingAboveDelta": self.min_trailing_delta,
                    "maxTrailingAboveDelta": self.max_trailing_delta,
                    "minTrailingBelowDelta": self.min_trailing_delta,
                    "maxTrailingBelowDelta": self.max_trailing_delta,
                },
            ],
            "permissions": [],
            "permissionSets": [["SPOT"]],
            "defaultSelfTradePreventionMode": "NONE",
            "allowedSelfTradePreventionModes": ["NONE"],
        }


class ApiRestrictionsConfig(BaseModel):
    """The demo key's permissions, as ``GET /sapi/v1/account/apiRestrictions`` reports them
    (Binance's field names in snake_case). The default is a safe key: IP-restricted, reading
    and spot trading only. The ``dangerous_key`` fault turns permissions on."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    ip_restrict: bool = True
    create_time: int = Field(default=1_704_067_200_000, ge=0, description="epoch ms")
    enable_reading: bool = True
    enable_spot_and_margin_trading: bool = True
    enable_withdrawals: bool = False
    enable_internal_transfer: bool = False
    permits_universal_transfer: bool = False
    enable_margin: bool = False
    enable_portfolio_margin_trading: bool = False
    enable_futures: bool = False
    enable_vanilla_options: bool = False
    enable_fix_api_trade: bool = False
    enable_fix_read_only: bool = False

    def as_binance(self, turned_on: frozenset[str] = frozenset()) -> dict[str, Any]:
        """Binance's JSON (camelCase), with the permissions named in ``turned_on`` set."""

        def camel(name: str) -> str:
            head, *rest = name.split("_")
            return head + "".join(part.capitalize() for part in rest)

        values = self.model_dump()
        return {
            camel(name): (True if name in turned_on else value) for name, value in values.items()
        }


def _default_symbols() -> list[SymbolSpec]:
    return [
        SymbolSpec(
            symbol="BTCUSDT",
            base_asset="BTC",
            quote_asset="USDT",
            start_price=Decimal("60000"),
            volatility_ticks=100,
        ),
        SymbolSpec(
            symbol="ETHUSDT",
            base_asset="ETH",
            quote_asset="USDT",
            start_price=Decimal("3000"),
            step_size=Decimal("0.0001"),
            min_qty=Decimal("0.0001"),
            market_max_qty=Decimal("1000"),
            level_qty=Decimal("0.5"),
            volatility_ticks=20,
        ),
    ]


class SimulatorConfig(BaseModel):
    """Everything the simulated exchange needs; defaults give a working demo account."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    host: str = "127.0.0.1"
    port: int = Field(default=0, ge=0, le=65535, description="0 picks a free port")
    seed: int = 7
    # the demo account's local-only credentials (never valid anywhere but this simulator)
    api_key: str = "vigil-sim-demo-key"
    api_secret: SecretStr = SecretStr("vigil-sim-demo-secret-not-for-real-use")
    balances: dict[str, Decimal] = Field(
        default_factory=lambda: {
            "USDT": Decimal("100000"),
            "BTC": Decimal("1"),
            "ETH": Decimal("10"),
            "BNB": Decimal("0"),
        }
    )
    symbols: list[SymbolSpec] = Field(default_factory=_default_symbols)
    depth_levels: int = Field(default=10, ge=1, le=1000)
    maker_commission: Decimal = Decimal("0.001")
    taker_commission: Decimal = Decimal("0.001")
    tick_interval: float = Field(
        default=0.5, ge=0, description="seconds between price steps; 0 = manual (POST /_sim/tick)"
    )
    # rate limits (exchangeInfo rateLimits)
    request_weight_per_minute: int = 6000
    orders_per_10s: int = 100
    orders_per_day: int = 200000
    ban_after_violations: int = Field(
        default=5, ge=1, description="requests sent while rate limited before a 418 ban"
    )
    ban_seconds: int = 120
    max_recv_window_ms: int = 60000
    api_restrictions: ApiRestrictionsConfig = Field(default_factory=ApiRestrictionsConfig)


def load_simulator_config(path: Path | None, **overrides: Any) -> SimulatorConfig:
    """Read the ``[simulator]`` table of a TOML profile (missing table = defaults)."""
    data: dict[str, Any] = {}
    if path is not None:
        with path.open("rb") as fh:
            data = dict(tomllib.load(fh).get("simulator", {}))
    data.update({k: v for k, v in overrides.items() if v is not None})
    return SimulatorConfig.model_validate(data)
