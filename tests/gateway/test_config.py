"""``[gateway]``: its defaults, loopback unless ``allow_remote``, its bounds, and the
environment override a user reaches for; a profile with the gateway off starts none."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from config.settings import SettingsError, load_settings
from tests.conftest import Vigil


def load(tmp_path: Path, text: str) -> object:
    path = tmp_path / "profile.toml"
    path.write_text(text)
    return load_settings(path)


def test_defaults(tmp_path: Path) -> None:
    gateway = load(tmp_path, "").gateway  # type: ignore[attr-defined]
    assert (gateway.enabled, gateway.host, gateway.port) == (True, "127.0.0.1", 0)


@pytest.mark.parametrize(
    ("text", "named"),
    [
        ('[gateway]\nhost = "0.0.0.0"\n', "gateway.allow_remote = true"),
        ("[gateway]\nweight_share = 0.95\n", "weight_share"),
        ("[gateway]\nport = 70000\n", "port"),
        ("[gateway]\ncolour = 1\n", "colour"),
        ("[gateway]\nweight_share = 0.8\n", "must be below exchange.throttle_share"),
    ],
)
def test_refused_naming_the_field(tmp_path: Path, text: str, named: str) -> None:
    with pytest.raises(SettingsError) as refused:
        load(tmp_path, text)
    assert named in str(refused.value)


def test_remote_on_purpose_and_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    assert load(tmp_path, '[gateway]\nhost = "0.0.0.0"\nallow_remote = true\n').gateway.allow_remote  # type: ignore[attr-defined]
    monkeypatch.setenv("VIGIL_GATEWAY__PORT", "18765")
    monkeypatch.setenv("VIGIL_GATEWAY__ENABLED", "false")
    gateway = load(tmp_path, "").gateway  # type: ignore[attr-defined]
    assert gateway.port == 18765 and gateway.enabled is False


def test_control_json_without_a_gateway(vigil: Vigil) -> None:
    """A system that runs no gateway writes no "gateway" into control.json."""
    document = json.loads((vigil.system.data_dir / "control.json").read_text())
    assert "gateway" not in document and set(document) >= {"url", "pid", "exchange"}
