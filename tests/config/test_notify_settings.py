"""``[[notify.webhooks]]`` and ``[instance]``: what loads, what is refused naming the field
and the bad value, and that a webhook URL (a secret) shows in no error and no repr."""

from __future__ import annotations

import json
import os
import socket
from pathlib import Path

import pytest
from pydantic import ValidationError

from config.settings import SettingsError, VigilSettings, load_settings

SECRET = "T0000/B0000/XXXXsecretXXXX"


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in list(os.environ):
        if name.startswith(("VIGIL_", "BINANCE_")):
            monkeypatch.delenv(name)


def profile(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "profile.toml"
    path.write_text("[exchange]\nsimulator = true\n\n" + text)
    return path


def refusal(tmp_path: Path, text: str) -> str:
    with pytest.raises(SettingsError) as info:
        load_settings(profile(tmp_path, text))
    message = str(info.value)
    assert SECRET not in message and SECRET not in repr(info.value)
    return message


def test_webhooks_and_the_instance_name_load_from_the_profile(tmp_path: Path) -> None:
    settings = load_settings(
        profile(
            tmp_path,
            f"""
[instance]
name = "prod-eu-1"

[[notify.webhooks]]
url = "https://hooks.slack.com/services/{SECRET}"
format = "slack"
events = ["red", "halt", "daily_summary"]

[[notify.webhooks]]
url = "https://api.telegram.org/bot{SECRET}/sendMessage"
format = "telegram"
chat_id = -1001234567890
""",
        )
    )
    slack, telegram = settings.notify.webhooks
    assert settings.instance.name == "prod-eu-1"
    assert (slack.format, slack.events) == ("slack", ("red", "halt", "daily_summary"))
    assert telegram.chat_id == "-1001234567890"
    assert "halt" in telegram.events and "yellow" not in telegram.events  # the default set
    assert SECRET not in repr(settings) and SECRET not in str(settings)


def test_the_instance_name_defaults_to_the_host_name(tmp_path: Path) -> None:
    assert load_settings(profile(tmp_path, "")).instance.name == socket.gethostname()


def test_webhooks_come_from_the_environment_too(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    hooks = [{"url": f"https://discord.com/api/webhooks/{SECRET}", "format": "discord"}]
    monkeypatch.setenv("VIGIL_NOTIFY__WEBHOOKS", json.dumps(hooks))
    monkeypatch.setenv("VIGIL_INSTANCE__NAME", "from-env")
    settings = load_settings(profile(tmp_path, ""))
    assert settings.notify.webhooks[0].format == "discord"
    assert settings.instance.name == "from-env"


@pytest.mark.parametrize(
    "url",
    [
        f"http://hooks.example.com/{SECRET}",  # plain http off loopback
        f"ftp://127.0.0.1/{SECRET}",
        f"file:///{SECRET}",
        f"https:///{SECRET}",  # no host
    ],
)
def test_a_url_other_than_https_or_loopback_http_is_refused_naming_the_field(
    tmp_path: Path, url: str
) -> None:
    message = refusal(tmp_path, f'[[notify.webhooks]]\nurl = "{url}"\n')
    assert "notify.webhooks.0.url" in message and "https" in message


@pytest.mark.parametrize("host", ["127.0.0.1", "127.0.0.2", "[::1]", "localhost"])
def test_loopback_http_is_allowed(tmp_path: Path, host: str) -> None:
    text = f'[[notify.webhooks]]\nurl = "http://{host}:8080/{SECRET}"\n'
    assert load_settings(profile(tmp_path, text)).notify.webhooks[0].format == "json"


def test_an_unknown_format_is_refused_naming_it(tmp_path: Path) -> None:
    text = f'[[notify.webhooks]]\nurl = "https://x.example/{SECRET}"\nformat = "teams"\n'
    message = refusal(tmp_path, text)
    assert "notify.webhooks.0.format" in message and "'teams'" in message


def test_an_unknown_event_is_refused_naming_it(tmp_path: Path) -> None:
    text = f'[[notify.webhooks]]\nurl = "https://x.example/{SECRET}"\nevents = ["red", "purple"]\n'
    message = refusal(tmp_path, text)
    assert "notify.webhooks.0.events" in message and "'purple'" in message


def test_telegram_needs_a_chat_id_and_only_telegram_takes_one(tmp_path: Path) -> None:
    base = f'[[notify.webhooks]]\nurl = "https://api.telegram.org/bot{SECRET}/sendMessage"\n'
    message = refusal(tmp_path, base + 'format = "telegram"\n')
    assert "notify.webhooks.0.chat_id" in message and "telegram" in message
    message = refusal(tmp_path, base + 'format = "slack"\nchat_id = "1"\n')
    assert "notify.webhooks.0.chat_id" in message


def test_a_bad_summary_time_is_refused(tmp_path: Path) -> None:
    message = refusal(tmp_path, '[notify]\ndaily_summary_utc = "24:10"\n')
    assert "daily_summary_utc" in message


def test_a_refused_webhook_is_not_repeated_by_pydantics_own_error() -> None:
    hooks = [{"url": f"http://hooks.example.com/{SECRET}", "format": "slack"}]
    with pytest.raises(ValidationError) as info:
        VigilSettings(notify={"webhooks": hooks})
    assert "notify.webhooks.0.url" in str(info.value)
    assert "XXXXsecret" not in str(info.value)  # (pydantic shortens a long input: a part)
