"""Key hygiene: the exchange key's permissions (``GET /sapi/v1/account/apiRestrictions``),
served by the simulator, read by the adapter, judged at start-up."""

from __future__ import annotations

import pytest
import requests
from binance.exceptions import BinanceAPIException

from exchange.contract import (
    UNSAFE_KEY_PERMISSIONS,
    ApiRestrictions,
    MalformedPayload,
    UnsafeApiKey,
    check_api_key,
    judge_api_key,
)
from exchange.simulator import SimulatorConfig
from exchange.simulator.config import ApiRestrictionsConfig
from tests.conftest import SimHandle
from tests.exchange.adapter_helpers import make_adapter

SAFE = {
    "ipRestrict": True,
    "createTime": 1623840271000,
    "enableReading": True,
    "enableSpotAndMarginTrading": True,
    "enableWithdrawals": False,
    "enableInternalTransfer": False,
    "permitsUniversalTransfer": False,
    "enableMargin": False,
    "enableFutures": False,
    "enableVanillaOptions": False,
}


def snake(name: str) -> str:
    return "".join(f"_{c.lower()}" if c.isupper() else c for c in name)


def test_python_binance_reads_the_documented_shape_from_the_simulator(sim: SimHandle) -> None:
    client = sim.client()
    client.MARGIN_API_URL = f"{sim.rest}/sapi"
    answer = client.get_account_api_permissions()
    assert answer == {
        **SAFE,
        "createTime": 1704067200000,
        "enablePortfolioMarginTrading": False,
        "enableFixApiTrade": False,
        "enableFixReadOnly": False,
    }
    assert client.response is not None
    assert client.response.headers["X-MBX-USED-WEIGHT-1M"] == "1"


def test_the_endpoint_is_signed(sim: SimHandle) -> None:
    resp = requests.get(f"{sim.rest}/sapi/v1/account/apiRestrictions", timeout=5)
    assert resp.status_code == 401
    assert resp.json() == {"code": -2014, "msg": "API-key format invalid."}


def test_the_adapter_reads_the_safe_default_key(sim: SimHandle) -> None:
    adapter, _ = make_adapter(sim)
    try:
        restrictions = adapter.get_api_restrictions()
        report = check_api_key(adapter, live=True)
    finally:
        adapter.close()
    assert restrictions.ip_restrict is True
    assert restrictions.enable_spot_and_margin_trading is True
    assert restrictions.granted(UNSAFE_KEY_PERMISSIONS) == []
    assert report.warnings == () and report.restrictions == restrictions


def test_the_dangerous_key_fault_turns_the_named_permissions_on_until_cleared(
    sim: SimHandle,
) -> None:
    sim.arm("dangerous_key", params={"enable_withdrawals": False, "enable_futures": True})
    adapter, _ = make_adapter(sim)
    try:
        for _ in range(2):  # stays armed: every read sees it
            assert adapter.get_api_restrictions().granted(UNSAFE_KEY_PERMISSIONS) == [
                "enableFutures"
            ]
        with pytest.raises(UnsafeApiKey) as refused:
            check_api_key(adapter, live=False)
        assert refused.value.permissions == ("enableFutures",)
        assert "enableFutures" in str(refused.value)
        sim.clear()
        assert adapter.get_api_restrictions().granted(UNSAFE_KEY_PERMISSIONS) == []
    finally:
        adapter.close()


def test_the_dangerous_key_fault_turns_on_withdrawals_by_default(sim: SimHandle) -> None:
    armed = sim.arm("dangerous_key")
    assert armed["armed"]["params"]["enable_withdrawals"] is True
    client = sim.client()
    client.MARGIN_API_URL = f"{sim.rest}/sapi"
    assert client.get_account_api_permissions()["enableWithdrawals"] is True


@pytest.mark.parametrize(
    "sim_config",
    [SimulatorConfig(tick_interval=0, api_restrictions=ApiRestrictionsConfig(ip_restrict=False))],
)
def test_the_config_knob_sets_the_key_and_no_ip_restriction_is_a_warning(
    sim: SimHandle,
) -> None:
    adapter, _ = make_adapter(sim)
    try:
        report = check_api_key(adapter, live=True)
    finally:
        adapter.close()
    assert report.restrictions is not None and report.restrictions.ip_restrict is False
    assert len(report.warnings) == 1 and "no IP restriction" in report.warnings[0]


def test_the_config_knob_refuses_an_unknown_permission() -> None:
    with pytest.raises(ValueError, match="enable_everything"):
        SimulatorConfig(api_restrictions={"enable_everything": True})  # type: ignore[arg-type]


def test_unreadable_permissions_refuse_a_live_start_and_warn_elsewhere(sim: SimHandle) -> None:
    sim.arm("outage", count=100)
    adapter, _ = make_adapter(sim, read_retries=0)
    try:
        with pytest.raises(UnsafeApiKey, match="cannot be read"):
            check_api_key(adapter, live=True)
        report = check_api_key(adapter, live=False)
    finally:
        adapter.close()
    assert report.restrictions is None
    assert "could not be read" in report.warnings[0]


@pytest.mark.parametrize("permission", UNSAFE_KEY_PERMISSIONS)
def test_each_unsafe_permission_refuses_the_key(permission: str) -> None:
    fields = {snake(k): v for k, v in {**SAFE, permission: True}.items()}
    restrictions = ApiRestrictions(**fields)
    with pytest.raises(UnsafeApiKey) as refused:
        judge_api_key(restrictions)
    assert refused.value.permissions == (permission,)
    assert permission in str(refused.value)


def test_a_key_that_cannot_trade_spot_is_a_warning() -> None:
    fields = {snake(k): v for k, v in {**SAFE, "enableSpotAndMarginTrading": False}.items()}
    report = judge_api_key(ApiRestrictions(**fields))
    assert report.warnings and "cannot trade spot" in report.warnings[0]


@pytest.mark.parametrize("missing", ["ipRestrict", "enableWithdrawals", "enableFutures"])
def test_an_answer_without_a_documented_permission_is_malformed(missing: str) -> None:
    from exchange.binance.parse import api_restrictions

    with pytest.raises(MalformedPayload, match=missing):
        api_restrictions({k: v for k, v in SAFE.items() if k != missing})
    with pytest.raises(MalformedPayload, match=missing):
        api_restrictions({**SAFE, missing: "false"})


def test_an_unsigned_request_never_reaches_the_permissions(sim: SimHandle) -> None:
    client = sim.client()
    client.MARGIN_API_URL = f"{sim.rest}/sapi"
    client.API_SECRET = "not-the-secret"
    with pytest.raises(BinanceAPIException) as exc:
        client.get_account_api_permissions()
    assert (exc.value.status_code, exc.value.code) == (400, -1022)
