"""Key hygiene at start-up: the exchange key may trade spot and nothing more.

:func:`check_api_key` reads the key's permissions through the adapter and judges them:

* a key that can move money off the spot account or trade anything but spot (withdrawals,
  internal or universal transfers, margin, portfolio margin, futures, options) is refused
  with :class:`UnsafeApiKey` naming each such permission;
* permissions that cannot be read refuse a live start (fail closed); elsewhere (the Spot
  testnet has no ``/sapi`` endpoints) they are a warning;
* a key without an IP restriction, or one that cannot trade spot, is a warning.

Pure judgement over one adapter call; the caller logs and audits the warnings.
"""

from __future__ import annotations

from dataclasses import dataclass

from exchange.contract._errors import ExchangeError, UnsafeApiKey
from exchange.contract._models import ApiRestrictions
from exchange.contract._protocol import ExchangeAdapter

#: permissions (Binance's names) that refuse a key: money could leave the spot account,
#: or positions could be opened where Vigil does not look
UNSAFE_KEY_PERMISSIONS: tuple[str, ...] = (
    "enableWithdrawals",
    "enableInternalTransfer",
    "permitsUniversalTransfer",
    "enableMargin",
    "enablePortfolioMarginTrading",
    "enableFutures",
    "enableVanillaOptions",
)


@dataclass(frozen=True)
class KeyReport:
    """The key's permissions (None if they could not be read) and the warnings about it."""

    restrictions: ApiRestrictions | None
    warnings: tuple[str, ...]


def judge_api_key(restrictions: ApiRestrictions) -> KeyReport:
    """Refuse (``UnsafeApiKey``) or accept ``restrictions``, with warnings."""
    unsafe = restrictions.granted(UNSAFE_KEY_PERMISSIONS)
    if unsafe:
        raise UnsafeApiKey(
            "refusing to start: the exchange key has "
            + ", ".join(unsafe)
            + " enabled; use a key that can only read and trade spot (turn these off in "
            "Binance's API management)",
            tuple(unsafe),
        )
    warnings: list[str] = []
    if not restrictions.ip_restrict:
        warnings.append(
            "the exchange key has no IP restriction (ipRestrict false): anyone holding it "
            "can use it from anywhere; restrict it to this host's IP addresses"
        )
    if not restrictions.enable_spot_and_margin_trading:
        warnings.append(
            "the exchange key cannot trade spot (enableSpotAndMarginTrading false): "
            "orders will be refused"
        )
    return KeyReport(restrictions, tuple(warnings))


def check_api_key(adapter: ExchangeAdapter, *, live: bool) -> KeyReport:
    """Read the key's permissions and judge them (see the module's docstring)."""
    try:
        restrictions = adapter.get_api_restrictions()
    except ExchangeError as exc:
        if live:
            raise UnsafeApiKey(
                f"refusing to start: the exchange key's permissions cannot be read ({exc}); "
                "a live key must be checked before trading"
            ) from None
        return KeyReport(
            None,
            (
                f"the exchange key's permissions could not be read ({exc}) and were not "
                "checked (the Spot testnet has no /sapi endpoints)",
            ),
        )
    return judge_api_key(restrictions)
