"""``config/settings.py`` in process: the profiles load with their documented values, the
``VIGIL_`` environment overrides the profile, a typo or a bad value is refused naming the
field, money is ``Decimal``, and no secret shows in the settings' ``repr()`` / ``str()``.

(That ``run.py`` turns a ``SettingsError`` into exit status 2 is tested in
tests/test_run_sim.py and tests/system/test_operator_cli.py.)
"""

from __future__ import annotations

import os
from decimal import Decimal
from pathlib import Path

import pytest
from pydantic import SecretStr

from config.settings import (
    DEFAULT_PROFILE,
    SettingsError,
    VigilSettings,
    exchange_credentials,
    load_settings,
)
from domain.breaker import Level

CONFIG = DEFAULT_PROFILE.parent
TOKEN = "control-token-do-not-print-7f3a9c0e1b"
API_KEY = "binance-key-do-not-print-91c2"
API_SECRET = "binance-secret-do-not-print-4e8d"


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """No VIGIL_* or BINANCE_* of the caller's environment leaks into these tests."""
    for name in list(os.environ):
        if name.startswith(("VIGIL_", "BINANCE_")):
            monkeypatch.delenv(name)


def profile(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "profile.toml"
    path.write_text(text)
    return path


def refusal(path: Path) -> str:
    with pytest.raises(SettingsError) as raised:
        load_settings(path)
    return str(raised.value)


# --- the profiles ---------------------------------------------------------------------------


def test_the_default_profile_is_the_simulator_one() -> None:
    assert DEFAULT_PROFILE == CONFIG / "sim.toml"
    assert load_settings() == load_settings(CONFIG / "sim.toml")


def test_the_default_profile_loads_with_the_documented_defaults() -> None:
    s = load_settings()
    assert s.data_dir == Path("var")
    assert s.exchange.simulator is True and s.exchange.live is False
    assert s.exchange.symbols == ("BTCUSDT", "ETHUSDT")
    assert (s.exchange.rest_url, s.exchange.ws_api_url, s.exchange.stream_url) == (None,) * 3
    # the adapter tunables the profile leaves unset keep the adapter's defaults
    assert s.exchange.option("recv_window_ms") == 5000
    assert s.exchange.option("read_timeout_s") == 10.0
    assert s.exchange.option("throttle_share") == 0.8
    assert s.exchange.option("ws_max_connection_age_s") == 23 * 3600
    assert (s.control.host, s.control.port, s.control.token) == ("127.0.0.1", 0, None)
    sup = s.supervision
    assert (sup.heartbeat_interval_s, sup.hang_timeout_s) == (0.5, 1.0)
    assert (sup.max_restarts, sup.max_seconds, sup.ask_timeout_s) == (3, 60.0, 2.0)
    rec = s.reconciliation
    assert (rec.interval_s, rec.grace_s, rec.balance_grace_s) == (5.0, 10.0, 3.0)
    assert (rec.unsettled_grace_s, rec.max_age_intervals) == (60.0, 3.0)
    assert rec.epsilon == Decimal("1e-8")
    assert (s.broker.cancel_on_red, s.broker.on_start_existing) == (True, "halt")
    assert s.broker.unknown_window_s == 15.0
    pol = s.policy
    assert (pol.max_order_notional, pol.max_open_orders) == (Decimal("5000"), 50)
    assert (pol.fat_finger_pct, pol.denied_symbols) == (Decimal("5"), ())
    assert pol.max_reference_age_s == 30.0
    off = (
        pol.max_position_notional,
        pol.max_total_exposure,
        pol.max_directional_notional,
        pol.max_orders_per_minute,
        pol.max_orders_per_day,
        pol.max_daily_loss,
    )
    assert off == (None,) * 6  # off unless set
    assert (s.audit.flush_interval_s, s.audit.max_pages) == (0.05, None)
    brk = s.breaker
    assert (brk.tick_s, brk.yellow_cool_down_s, brk.yellow_max_orders_per_minute) == (0.25, 30, 6)
    assert brk.yellow_reduce_only is True
    assert brk.yellow_pause_on == ("market_data", "operator_heartbeat")
    assert (brk.market_data_report_s, brk.sample_infrastructure, brk.triggers) == (1.0, True, {})
    assert (s.poller.interval_s, s.poller.fast_interval_s) == (2.0, 0.5)
    assert s.demo.enabled is True
    assert (s.trace.level, s.trace.rotation, s.trace.retention) == ("summary", "20 MB", 5)
    # what sim.toml itself sets for the embedded simulator
    assert (s.simulator.seed, s.simulator.tick_interval, s.simulator.port) == (7, 0.5, 0)


def test_the_default_triggers_follow_the_catalogue_and_the_reconciliation_timers() -> None:
    s = load_settings()
    triggers = s.breaker.resolved_triggers(s.reconciliation)
    api = triggers["api_errors"]
    assert (api.threshold, api.window_s, api.level, api.red_threshold) == (
        Decimal(5),
        30,
        Level.YELLOW,
        Decimal(20),
    )
    stale = triggers["reconciliation_stale"]  # interval_s 5 x max_age_intervals 3
    assert (stale.threshold, stale.red_threshold) == (Decimal(15), Decimal(30))
    assert triggers["reconciliation_failures"].threshold == Decimal(3)
    silence = triggers["market_data"]
    assert (silence.threshold, silence.level, silence.red_threshold) == (
        Decimal(30),
        Level.YELLOW,
        Decimal(120),
    )


def test_a_trigger_override_in_the_profile_replaces_only_what_it_names(tmp_path: Path) -> None:
    s = load_settings(profile(tmp_path, "[breaker.triggers.api_errors]\nthreshold = 7\n"))
    api = s.breaker.resolved_triggers(s.reconciliation)["api_errors"]
    assert (api.threshold, api.window_s, api.red_threshold) == (Decimal(7), 30, Decimal(20))


def test_the_testnet_profile_points_at_the_testnet_without_keys_or_demo() -> None:
    s = load_settings(CONFIG / "testnet.toml")
    assert s.exchange.simulator is False and s.exchange.live is False
    assert s.exchange.rest_url == "https://testnet.binance.vision"
    assert s.exchange.ws_api_url == "wss://ws-api.testnet.binance.vision/ws-api/v3"
    assert s.exchange.stream_url == "wss://stream.testnet.binance.vision"
    assert s.exchange.symbols == ("BTCUSDT", "ETHUSDT")
    assert s.exchange.option("throttle_share") == 0.8
    assert s.exchange.option("reconnect_initial_s") == 0.5
    assert s.demo.enabled is False
    assert not {"api_key", "api_secret"} & set(s.exchange.adapter_options())


def test_the_live_profile_is_marked_live() -> None:
    s = load_settings(CONFIG / "live.toml")
    assert s.exchange.simulator is False and s.exchange.live is True
    assert s.exchange.rest_url == "https://api.binance.com"
    assert s.exchange.stream_url == "wss://stream.binance.com:9443"
    assert s.exchange.symbols == ("BTCUSDT",)
    assert s.exchange.option("throttle_share") == 0.7
    assert s.demo.enabled is False


def test_a_missing_or_broken_profile_is_a_settings_error(tmp_path: Path) -> None:
    assert "cannot read profile" in refusal(tmp_path / "nowhere.toml")
    assert "not valid TOML" in refusal(profile(tmp_path, "[control\nport = 1\n"))
    # a failed load leaves nothing behind: the next one reads its own profile
    assert load_settings().exchange.simulator is True


# --- environment overrides ------------------------------------------------------------------


def test_environment_overrides_win_over_the_profile(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = profile(
        tmp_path,
        'data_dir = "from-file"\n'
        '[control]\nhost = "127.0.0.2"\nport = 1111\n'
        '[policy]\nmax_order_notional = "100"\nmax_open_orders = 7\n',
    )
    assert load_settings(path).control.port == 1111
    monkeypatch.setenv("VIGIL_CONTROL__PORT", "8765")
    monkeypatch.setenv("VIGIL_DATA_DIR", str(tmp_path / "srv"))
    monkeypatch.setenv("VIGIL_POLICY__MAX_ORDER_NOTIONAL", "1234.50")
    s = load_settings(path)
    assert s.control.port == 8765
    assert s.data_dir == tmp_path / "srv"
    assert s.policy.max_order_notional == Decimal("1234.50")
    # a nested override changes its key only: the rest of the section stays the profile's
    assert s.control.host == "127.0.0.2"
    assert s.policy.max_open_orders == 7


def test_environment_points_vigil_at_an_external_exchange(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("VIGIL_EXCHANGE__SIMULATOR", "false")
    monkeypatch.setenv("VIGIL_EXCHANGE__REST_URL", "http://127.0.0.1:9999")
    monkeypatch.setenv("VIGIL_EXCHANGE__WS_API_URL", "ws://127.0.0.1:9999/ws-api/v3")
    monkeypatch.setenv("VIGIL_EXCHANGE__STREAM_URL", "ws://127.0.0.1:9999")
    monkeypatch.setenv("VIGIL_EXCHANGE__READ_TIMEOUT_S", "2")  # an adapter tunable
    s = load_settings()
    assert s.exchange.simulator is False
    assert s.exchange.rest_url == "http://127.0.0.1:9999"
    assert s.exchange.ws_api_url == "ws://127.0.0.1:9999/ws-api/v3"
    assert s.exchange.stream_url == "ws://127.0.0.1:9999"
    assert s.exchange.option("read_timeout_s") == 2.0


def test_a_bad_environment_value_is_refused_naming_the_field(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("VIGIL_CONTROL__PORT", "70000")
    with pytest.raises(SettingsError, match=r"control\.port"):
        load_settings()
    monkeypatch.setenv("VIGIL_CONTROL__PORT", "0")
    monkeypatch.setenv("VIGIL_EXCHANGE__READ_TIMEOUT_S", "soon")
    with pytest.raises(SettingsError, match=r"exchange\.read_timeout_s"):
        load_settings()


def test_an_unknown_nested_environment_key_is_refused_naming_it(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("VIGIL_CONTROL__PROT", "8765")
    with pytest.raises(SettingsError, match=r"control\.prot"):
        load_settings()


# --- typos and bad values in a profile ------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "field"),
    [
        ("bogus = 1\n", "bogus"),
        ("[control]\nprot = 8765\n", "control.prot"),
        ("[reconciliation]\nintervall_s = 5\n", "reconciliation.intervall_s"),
        ("[breaker.triggers.api_errors]\nthresold = 5\n", "breaker.triggers.api_errors.thresold"),
        ("[exchange]\nrecv_windw_ms = 5000\n", "'recv_windw_ms'"),
        ("[breaker.triggers.api_errros]\nthreshold = 5\n", "'api_errros'"),
        ('[breaker]\nyellow_pause_on = ["market_dta"]\n', "'market_dta'"),
    ],
)
def test_an_unknown_key_in_the_profile_is_refused_naming_it(
    tmp_path: Path, text: str, field: str
) -> None:
    assert field in refusal(profile(tmp_path, text))


@pytest.mark.parametrize(
    ("text", "field"),
    [
        ("[reconciliation]\ninterval_s = 0\n", "reconciliation.interval_s"),
        ("[poller]\ninterval_s = -1\n", "poller.interval_s"),
        ('[control]\nport = "eighty"\n', "control.port"),
        ("[control]\nport = 65536\n", "control.port"),
        ("[supervision]\nmax_restarts = -1\n", "supervision.max_restarts"),
        ('[broker]\non_start_existing = "ignore"\n', "broker.on_start_existing"),
        ('[trace]\nlevel = "verbose"\n', "trace.level"),
        ("[policy]\nmax_open_orders = 0\n", "policy.max_open_orders"),
        ('[policy]\nmax_order_notional = "lots"\n', "policy.max_order_notional"),
        ("[exchange]\nrecv_window_ms = 0\n", "exchange.recv_window_ms"),
        ('[breaker.triggers.rejects]\nlevel = "ORANGE"\n', "breaker.triggers.rejects.level"),
    ],
)
def test_a_bad_value_in_the_profile_is_refused_naming_the_field(
    tmp_path: Path, text: str, field: str
) -> None:
    assert field in refusal(profile(tmp_path, text))


def test_a_bad_value_is_not_echoed_in_the_refusal(tmp_path: Path) -> None:
    message = refusal(profile(tmp_path, f'[control]\nport = "{TOKEN}"\n'))
    assert "control.port" in message and TOKEN not in message


# --- the breaker's trigger checks -----------------------------------------------------------


@pytest.mark.parametrize("name", ["api_errors", "rejects", "timeouts", "reconnects"])
def test_a_counting_rule_needs_a_window(tmp_path: Path, name: str) -> None:
    message = refusal(profile(tmp_path, f"[breaker.triggers.{name}]\nwindow_s = 0\n"))
    assert f"triggers.{name}.window_s" in message


def test_a_rule_that_counts_nothing_over_a_window_may_have_none(tmp_path: Path) -> None:
    # ping_failures counts failures in a row: no window, so 0 is no mistake there
    s = load_settings(profile(tmp_path, "[breaker.triggers.ping_failures]\nwindow_s = 0\n"))
    assert s.breaker.triggers["ping_failures"].window_s == 0


def test_a_negative_window_is_refused(tmp_path: Path) -> None:
    message = refusal(profile(tmp_path, "[breaker.triggers.ping_failures]\nwindow_s = -1\n"))
    assert "breaker.triggers.ping_failures.window_s" in message


def test_the_yellow_cool_down_must_be_above_zero(tmp_path: Path) -> None:
    message = refusal(profile(tmp_path, "[breaker]\nyellow_cool_down_s = 0\n"))
    assert "breaker.yellow_cool_down_s" in message


@pytest.mark.parametrize(
    "text",
    [
        "[breaker]\nmarket_data_report_s = 30\n",  # at the default 30 s silence threshold
        "[breaker]\nmarket_data_report_s = 45\n",
        "[breaker]\nmarket_data_report_s = 5\n[breaker.triggers.market_data]\nthreshold = 5\n",
    ],
)
def test_market_data_must_be_reported_more_often_than_its_silence_trips(
    tmp_path: Path, text: str
) -> None:
    assert "market_data_report_s" in refusal(profile(tmp_path, text))


def test_market_data_reports_just_below_the_silence_threshold_are_accepted(
    tmp_path: Path,
) -> None:
    text = "[breaker]\nmarket_data_report_s = 4.5\n[breaker.triggers.market_data]\nthreshold = 5\n"
    assert load_settings(profile(tmp_path, text)).breaker.market_data_report_s == 4.5
    # with the silence switched off there is nothing to be below
    off = "[breaker]\nmarket_data_report_s = 60\n[breaker.triggers.market_data]\nthreshold = 0\n"
    assert load_settings(profile(tmp_path, off)).breaker.market_data_report_s == 60


# --- money is Decimal -----------------------------------------------------------------------


def test_money_fields_are_decimal_and_exact(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = profile(
        tmp_path,
        "[policy]\nmax_order_notional = 0.1\nfat_finger_pct = 2.5\nmax_daily_loss = 0.3\n"
        '[demo]\nquantity = "0.00123"\n'
        "[reconciliation]\nepsilon = 1e-9\n"
        "[breaker.triggers.slippage]\nthreshold = 0.7\n",
    )
    monkeypatch.setenv("VIGIL_POLICY__MAX_TOTAL_EXPOSURE", "100000.01")
    s = load_settings(path)
    money = {
        "max_order_notional": (s.policy.max_order_notional, Decimal("0.1")),
        "fat_finger_pct": (s.policy.fat_finger_pct, Decimal("2.5")),
        "max_daily_loss": (s.policy.max_daily_loss, Decimal("0.3")),
        "max_total_exposure": (s.policy.max_total_exposure, Decimal("100000.01")),
        "quantity": (s.demo.quantity, Decimal("0.00123")),
        "epsilon": (s.reconciliation.epsilon, Decimal("1e-9")),
        "slippage": (s.breaker.triggers["slippage"].threshold, Decimal("0.7")),
    }
    for name, (value, expected) in money.items():
        assert type(value) is Decimal, name
        assert value == expected, name  # a TOML float is read as its decimal text, not 0.1000..
    defaults = load_settings()
    assert type(defaults.policy.max_order_notional) is Decimal
    assert type(defaults.demo.quantity) is Decimal
    assert all(type(v) is Decimal for v in defaults.simulator.balances.values())


# --- secrets --------------------------------------------------------------------------------


def test_the_control_token_never_shows_in_repr_or_str(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("VIGIL_CONTROL__TOKEN", TOKEN)
    s = load_settings()
    assert isinstance(s.control.token, SecretStr)
    assert s.control.token.get_secret_value() == TOKEN  # it was read ...
    for shown in (repr(s), str(s), repr(s.control), str(s.control), s.model_dump_json()):
        assert TOKEN not in shown  # ... and is never printed


def test_the_simulator_secret_never_shows_in_repr_or_str() -> None:
    s = load_settings()
    secret = s.simulator.api_secret.get_secret_value()
    assert secret  # sim.toml sets one
    for shown in (repr(s), str(s), repr(s.simulator), s.model_dump_json()):
        assert secret not in shown


def test_exchange_credentials_come_only_from_the_environment(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    key, secret = exchange_credentials()
    assert (key.get_secret_value(), secret.get_secret_value()) == ("", "")
    monkeypatch.setenv("BINANCE_API_KEY", API_KEY)
    monkeypatch.setenv("BINANCE_API_SECRET", API_SECRET)
    key, secret = exchange_credentials()
    assert (key.get_secret_value(), secret.get_secret_value()) == (API_KEY, API_SECRET)
    for shown in (repr((key, secret)), str(key), str(secret), f"{key} {secret}"):
        assert API_KEY not in shown and API_SECRET not in shown
    # and the settings never pick them up
    s = load_settings()
    for shown in (repr(s), str(s), s.model_dump_json()):
        assert API_KEY not in shown and API_SECRET not in shown


def test_exchange_credentials_in_a_profile_are_refused(tmp_path: Path) -> None:
    message = refusal(profile(tmp_path, f'[exchange]\napi_key = "{API_KEY}"\n'))
    assert "api_key" in message and API_KEY not in message


def test_exchange_credentials_in_a_vigil_variable_are_refused(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("VIGIL_EXCHANGE__API_SECRET", API_SECRET)
    with pytest.raises(SettingsError) as raised:
        load_settings()
    assert "forbidden exchange setting" in str(raised.value)
    assert API_SECRET not in str(raised.value)


def test_settings_are_frozen() -> None:
    s = load_settings()
    with pytest.raises(ValueError, match="frozen"):
        s.control.port = 1  # type: ignore[misc]
    assert isinstance(s, VigilSettings)


# --- risk limits: fail closed for real money (issue 18) ---------------------------------

LIVE_TOML = (CONFIG / "live.toml").read_text()
LIMIT_LINES = {
    "policy.max_daily_loss": "max_daily_loss = 100",
    "policy.max_position_notional": "max_position_notional = 1000",
    "policy.max_total_exposure": "max_total_exposure = 2000",
    "policy.max_orders_per_minute": "max_orders_per_minute = 30",
    "policy.max_orders_per_day": "max_orders_per_day = 2000",
    "breaker.triggers.drawdown.threshold": "threshold = 5 ",
    "breaker.triggers.drawdown.red_threshold": "red_threshold = 10",
}


def without_line(text: str, start: str) -> str:
    lines = text.splitlines(keepends=True)
    kept = [line for line in lines if not line.startswith(start)]
    assert len(kept) == len(lines) - 1, start
    return "".join(kept)


@pytest.mark.parametrize("name", ["live.toml", "testnet.toml"])
def test_the_real_exchange_profiles_ship_conservative_risk_limits(name: str) -> None:
    s = load_settings(CONFIG / name)
    limits = s.policy.limits(s.exchange.symbols)
    assert limits.max_daily_loss == Decimal("100")
    assert limits.max_position_notional == Decimal("1000")
    assert limits.max_total_exposure == Decimal("2000")
    assert (limits.max_orders_per_minute, limits.max_orders_per_day) == (30, 2000)
    drawdown = s.breaker.resolved_triggers(s.reconciliation)["drawdown"]
    assert (drawdown.threshold, drawdown.level, drawdown.red_threshold) == (
        Decimal(5),
        Level.YELLOW,
        Decimal(10),
    )
    assert s.missing_live_limits() == []


def test_every_risk_limit_line_of_the_real_profiles_says_what_it_protects() -> None:
    for name in ("live.toml", "testnet.toml"):
        lines = (CONFIG / name).read_text().splitlines()
        for line in LIMIT_LINES.values():
            (found,) = [text for text in lines if text.startswith(line)]
            assert "#" in found and len(found.split("#", 1)[1].strip()) > 10, found


@pytest.mark.parametrize("key", list(LIMIT_LINES))
def test_a_live_profile_without_a_risk_limit_is_refused_naming_it(tmp_path: Path, key: str) -> None:
    text = without_line(LIVE_TOML, LIMIT_LINES[key])
    message = refusal(profile(tmp_path, text))
    assert key in message and "live profile" in message
    assert [k for k in LIMIT_LINES if k in message] == [key]


def test_a_live_profile_names_every_missing_limit_at_once(tmp_path: Path) -> None:
    text = LIVE_TOML.split("[policy]")[0]
    message = refusal(profile(tmp_path, text))
    assert all(key in message for key in LIMIT_LINES)


@pytest.mark.parametrize("key", list(LIMIT_LINES))
def test_off_switches_a_live_limit_off_explicitly(tmp_path: Path, key: str) -> None:
    field = LIMIT_LINES[key].split("=")[0].strip()
    text = LIVE_TOML.replace(LIMIT_LINES[key], f'{field} = "off" ')
    s = load_settings(profile(tmp_path, text))
    limits = s.policy.limits(s.exchange.symbols)
    if key.startswith("policy."):
        assert getattr(limits, field) is None  # no limit: the guard casts no verdict
    else:
        drawdown = s.breaker.resolved_triggers(s.reconciliation)["drawdown"]
        assert getattr(drawdown, field) == 0  # a trigger's 0: that step is off


def test_off_from_the_environment_switches_a_live_limit_off(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    text = without_line(LIVE_TOML, LIMIT_LINES["policy.max_daily_loss"])
    text = without_line(text, LIMIT_LINES["breaker.triggers.drawdown.red_threshold"])
    path = profile(tmp_path, text)
    assert "policy.max_daily_loss" in refusal(path)
    monkeypatch.setenv("VIGIL_POLICY__MAX_DAILY_LOSS", "OFF")
    monkeypatch.setenv("VIGIL_BREAKER__TRIGGERS__DRAWDOWN__RED_THRESHOLD", "off")
    s = load_settings(path)
    assert s.policy.limits(s.exchange.symbols).max_daily_loss is None
    assert s.breaker.resolved_triggers(s.reconciliation)["drawdown"].red_threshold == 0


@pytest.mark.parametrize("value", ['"of"', '"none"', "0", "-5", '""'])
def test_a_limit_is_a_positive_number_or_off(tmp_path: Path, value: str) -> None:
    message = refusal(profile(tmp_path, f"[policy]\nmax_daily_loss = {value}\n"))
    assert "policy.max_daily_loss" in message


def test_outside_live_an_unset_limit_stays_off() -> None:
    s = load_settings(DEFAULT_PROFILE)
    assert s.exchange.live is False and s.missing_live_limits() != []
    limits = s.policy.limits(s.exchange.symbols)
    assert limits.max_daily_loss is None and limits.max_orders_per_day is None
    assert s.breaker.resolved_triggers(s.reconciliation)["drawdown"].enabled is False


# --- settings refused because they are unsafe ------------------------------------------------


@pytest.mark.parametrize(
    ("text", "field"),
    [
        ("[policy]\nfat_finger_pct = -1\n", "policy.fat_finger_pct"),
        ("[policy]\nfat_finger_pct = 0\n", "policy.fat_finger_pct"),
        ('[policy]\nmax_order_notional = "0"\n', "policy.max_order_notional"),
        ("[policy]\nmax_open_orders = 0\n", "policy.max_open_orders"),
        ('[control]\ntoken = "a"\n', "control.token: at least 32 characters"),
        ('[control]\nhost = "0.0.0.0"\n', "control.allow_remote = true"),
        (
            '[control]\nhost = "0.0.0.0"\nallow_remote = true\n',
            "needs TLS (control.tls_cert and control.tls_key) or an explicit",
        ),
        ('[control]\ntls_cert = "cert.pem"\n', "set both or neither"),
    ],
)
def test_an_unsafe_setting_is_refused_naming_it(tmp_path: Path, text: str, field: str) -> None:
    assert field in refusal(profile(tmp_path, text))


def test_a_remote_control_api_is_accepted_with_tls_or_said_insecure(tmp_path: Path) -> None:
    with_tls = '[control]\nhost = "0.0.0.0"\nallow_remote = true\ntls_cert = "c"\ntls_key = "k"\n'
    assert load_settings(profile(tmp_path, with_tls)).control.allow_remote
    plain = '[control]\nhost = "0.0.0.0"\nallow_remote = true\ninsecure_http = true\n'
    assert load_settings(profile(tmp_path, plain)).control.insecure_http


@pytest.mark.parametrize("name", ["VIGIL_POLCY__MAX_ORDER_NOTIONAL", "VIGIL_DATADIR"])
def test_an_environment_variable_that_names_no_setting_is_refused(
    monkeypatch: pytest.MonkeyPatch, name: str
) -> None:
    monkeypatch.setenv(name, "5")
    with pytest.raises(SettingsError, match=name):
        load_settings()


def test_the_crash_drill_hook_is_not_a_setting(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("VIGIL_CRASH_AT", "after_send")
    load_settings()  # no refusal


def test_an_exchange_secret_too_short_to_redact_is_refused(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("VIGIL_EXCHANGE__SIMULATOR", "false")
    monkeypatch.setenv("BINANCE_API_KEY", API_KEY)
    monkeypatch.setenv("BINANCE_API_SECRET", "short")
    with pytest.raises(SettingsError, match="BINANCE_API_SECRET: shorter than 8"):
        load_settings()


def test_wire_lanes_default_to_4_and_are_refused_outside_1_to_16(tmp_path: Path) -> None:
    assert load_settings(profile(tmp_path, "")).exchange.wire_lanes == 4
    assert load_settings(profile(tmp_path, "[exchange]\nwire_lanes = 1\n")).exchange.wire_lanes == 1
    assert "wire_lanes" not in load_settings(profile(tmp_path, "")).exchange.adapter_options()
    for bad in ("0", "17", '"many"'):
        assert "exchange.wire_lanes" in refusal(
            profile(tmp_path, f"[exchange]\nwire_lanes = {bad}\n")
        )
