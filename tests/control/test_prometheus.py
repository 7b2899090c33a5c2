"""The deploy files (``deploy/``) with the real tools: ``promtool`` checks the scrape config
and the alert rules, and a real Prometheus on loopback scrapes a running Vigil with the
bearer token from its data directory, evaluates the alert rules and answers queries over
Vigil's series. Every metric name the alerts and the Grafana dashboard use exists.

Without ``promtool``/``prometheus`` (Debian's ``prometheus`` package) these are skipped,
but never in CI (``CI`` set): ``.ci/run`` installs the package.
"""

from __future__ import annotations

import configparser
import json
import os
import re
import shutil
import socket
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
from prometheus_client.parser import text_string_to_metric_families

from tests.conftest import ROOT, Vigil, wait_for

DEPLOY = ROOT / "deploy"
PROMETHEUS_YML = DEPLOY / "prometheus.yml"
ALERTS_YML = DEPLOY / "alerts.yml"
DASHBOARD = DEPLOY / "grafana-dashboard.json"
UNIT = DEPLOY / "vigil.service"
MARKET = {"symbol": "BTCUSDT", "side": "BUY", "type": "MARKET", "quantity": "0.001"}


def tool(name: str) -> str:
    """The tool's path; skipped when it is not installed, but a failure in CI."""
    path = shutil.which(name)
    if path is None:
        if os.environ.get("CI"):
            pytest.fail(f"{name} is not installed, and CI must run it (.ci/run installs it)")
        pytest.skip(f"{name} is not installed (apt-get install prometheus); CI runs this test")
    return path


def promtool(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [tool("promtool"), *args], capture_output=True, text=True, timeout=60, check=False
    )


# --- promtool ------------------------------------------------------------------------------


def test_promtool_checks_the_scrape_config() -> None:
    """The file as shipped: its token file exists only on the server, so syntax only (the
    full check follows on a copy)."""
    shipped = promtool("check", "config", "--syntax-only", str(PROMETHEUS_YML))
    assert shipped.returncode == 0, shipped.stdout + shipped.stderr


def test_promtool_checks_the_scrape_config_in_full(tmp_path: Path) -> None:
    """A copy whose token file exists, beside the alert rules: checked in full (the rule
    file loaded and checked, the token file found)."""
    token = tmp_path / "control.token"
    token.write_text("t")
    text = PROMETHEUS_YML.read_text()
    assert "credentials_file: /var/lib/vigil/control.token" in text
    (tmp_path / "prometheus.yml").write_text(
        text.replace("/var/lib/vigil/control.token", str(token))
    )
    shutil.copy(ALERTS_YML, tmp_path / "alerts.yml")
    full = promtool("check", "config", str(tmp_path / "prometheus.yml"))
    assert full.returncode == 0, full.stdout + full.stderr
    assert "SUCCESS" in full.stdout + full.stderr


def test_promtool_checks_the_alert_rules() -> None:
    result = promtool("check", "rules", str(ALERTS_YML))
    assert result.returncode == 0, result.stdout + result.stderr
    assert re.search(r"SUCCESS: \d+ rules found", result.stdout + result.stderr)


def test_the_scrape_config_uses_the_control_token() -> None:
    text = PROMETHEUS_YML.read_text()
    assert re.search(r"authorization:\s*\n\s*type: Bearer\s*\n\s*credentials_file: \S+", text)
    assert re.search(r"targets: \[\"127\.0\.0\.1:\d+\"\]", text)
    assert "metrics_path: /metrics" in text


# --- the names the alerts and the dashboard use ------------------------------------------


def families(vigil: Vigil) -> set[str]:
    """Every sample name a scrape may show (a histogram's _bucket/_sum/_count included)."""
    text = vigil.api("GET", "/metrics").text
    names = set()
    for family in text_string_to_metric_families(text):
        names.add(family.name)
        if family.type == "counter":
            names.add(f"{family.name}_total")
        if family.type == "histogram":
            names |= {f"{family.name}_{s}" for s in ("bucket", "sum", "count")}
    return names


def dashboard_exprs() -> list[str]:
    board = json.loads(DASHBOARD.read_text())
    return [t["expr"] for p in board["panels"] for t in p.get("targets", [])]


def test_alerts_and_dashboard_name_only_existing_metrics(vigil: Vigil) -> None:
    exposed = families(vigil)
    used = set(re.findall(r"\bvigil_[a-z_]+", ALERTS_YML.read_text()))
    for expr in dashboard_exprs():
        used |= set(re.findall(r"\bvigil_[a-z_]+", expr))
    assert used, "no vigil_ metric used"
    assert used <= exposed, f"not exposed: {sorted(used - exposed)}"
    # the three pinned histograms are on the dashboard
    for name in ("intent_to_wire", "place_to_ack", "reconciliation_cycle"):
        assert any(f"vigil_{name}_seconds_bucket" in e for e in dashboard_exprs()), name


def test_the_alert_rules_cover_red_yellow_stale_and_down() -> None:
    text = ALERTS_YML.read_text()
    fors = dict(re.findall(r"- alert: (\w+)\n\s+(?:#.*\n\s+)?expr: .+\n\s+for: (\S+)", text))
    exprs = dict(re.findall(r"- alert: (\w+)\n\s+(?:#.*\n\s+)?expr: (.+)", text))
    assert exprs["VigilRed"] == "vigil_breaker_level == 2" and fors["VigilRed"] == "0s"
    assert exprs["VigilYellowTooLong"] == "vigil_breaker_level == 1"
    assert fors["VigilYellowTooLong"] == "10m"
    assert "vigil_reconciliation_age_seconds" in exprs["VigilReconciliationStale"]
    assert exprs["VigilDown"] == 'up{job="vigil"} == 0'


def test_the_systemd_unit() -> None:
    unit = configparser.ConfigParser(strict=False, interpolation=None)
    unit.optionxform = str  # type: ignore[assignment,method-assign]
    text = UNIT.read_text()
    unit.read_string(text)
    service = unit["Service"]
    assert service["Restart"] == "on-failure"
    assert re.fullmatch(r"/\S+/\.venv/bin/python run\.py --config \S+\.toml", service["ExecStart"])
    assert service["User"] not in ("", "root") and service["WorkingDirectory"].startswith("/")
    environment = re.findall(r"^Environment=(\S+)$", text, re.M)
    assert any(e.startswith("VIGIL_DATA_DIR=/") for e in environment)
    port = next(e for e in environment if e.startswith("VIGIL_CONTROL__PORT="))
    assert f"127.0.0.1:{port.split('=')[1]}" in PROMETHEUS_YML.read_text()
    assert re.search(r"^#.*RED.*survives", text, re.M | re.I)
    assert unit["Install"]["WantedBy"] == "multi-user.target"


# --- a real Prometheus -------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Prometheus:
    def __init__(self, url: str) -> None:
        self.url = url

    def get(self, path: str, **params: str) -> Any:
        resp = requests.get(f"{self.url}{path}", params=params, timeout=5)
        assert resp.status_code == 200, resp.text
        body = resp.json()
        assert body["status"] == "success", body
        return body["data"]

    def query(self, expr: str) -> list[dict[str, Any]]:
        data = self.get("/api/v1/query", query=expr)
        return data["result"]  # type: ignore[no-any-return]

    def value(self, expr: str) -> float | None:
        result = self.query(expr)
        return float(result[0]["value"][1]) if result else None


@pytest.fixture
def prometheus(vigil: Vigil, tmp_path: Path) -> Iterator[Prometheus]:
    """A real Prometheus on loopback scraping ``vigil`` every second with the token from its
    data directory, with the deploy's alert rules; stopped at the end."""
    binary = tool("prometheus")
    host_port = vigil.url.removeprefix("http://")
    token_file = vigil.system.data_dir / "control.token"
    shutil.copy(ALERTS_YML, tmp_path / "alerts.yml")
    config = {  # JSON is YAML
        "global": {"scrape_interval": "1s", "evaluation_interval": "1s"},
        "rule_files": [str(tmp_path / "alerts.yml")],
        "scrape_configs": [
            {
                "job_name": "vigil",
                "metrics_path": "/metrics",
                "authorization": {"type": "Bearer", "credentials_file": str(token_file)},
                "static_configs": [{"targets": [host_port]}],
            }
        ],
    }
    (tmp_path / "prometheus.yml").write_text(json.dumps(config))
    port = free_port()
    log = (tmp_path / "prometheus.log").open("w")
    proc = subprocess.Popen(
        [
            binary,
            f"--config.file={tmp_path / 'prometheus.yml'}",
            f"--storage.tsdb.path={tmp_path / 'tsdb'}",
            f"--web.listen-address=127.0.0.1:{port}",
            "--web.enable-lifecycle",
        ],
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}"

    def ready() -> bool:
        assert proc.poll() is None, (tmp_path / "prometheus.log").read_text()[-2000:]
        try:
            return requests.get(f"{url}/-/ready", timeout=1).status_code == 200
        except requests.ConnectionError:
            return False

    try:
        wait_for(ready, timeout=30, interval=0.1)
        yield Prometheus(url)
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=5)
        log.close()


def test_prometheus_scrapes_vigil_with_its_token(vigil: Vigil, prometheus: Prometheus) -> None:
    resp = vigil.api("POST", "/v1/orders", {**MARKET, "client_order_id": "prom-fill"})
    assert resp.status_code == 202, resp.text
    wait_for(lambda: vigil.status()["orders"]["filled"] == 1, timeout=5)

    wait_for(lambda: prometheus.value('up{job="vigil"}') == 1.0, timeout=15, interval=0.2)
    assert prometheus.value("vigil_breaker_level") == 0.0
    for name in (
        "vigil_intent_to_wire_seconds",
        "vigil_place_to_ack_seconds",
        "vigil_reconciliation_cycle_seconds",
    ):
        wait_for(lambda n=name: (prometheus.value(f"{n}_count") or 0) >= 1, timeout=10)
    fills = 'vigil_fills_total{symbol="BTCUSDT",side="BUY"}'
    wait_for(lambda: prometheus.value(fills) == 1.0, timeout=10, interval=0.2)
    # Prometheus's own reading of a histogram: a p99 of the place→ack latency
    p99 = prometheus.value(
        "histogram_quantile(0.99, sum by (le) (vigil_place_to_ack_seconds_bucket))"
    )
    assert p99 is not None and 0 < p99 <= 30

    # every expression of the alerts and the dashboard evaluates (PromQL that parses)
    rules = prometheus.get("/api/v1/rules")["groups"]
    alerts = {r["name"]: r for g in rules for r in g["rules"]}
    assert {"VigilRed", "VigilYellowTooLong", "VigilReconciliationStale", "VigilDown"} <= set(
        alerts
    )
    assert all(r["health"] in ("ok", "unknown") for r in alerts.values()), alerts
    for expr in [r["query"] for r in alerts.values()] + dashboard_exprs():
        prometheus.query(expr)

    # RED for more than 0 s: the alert fires
    assert vigil.api("POST", "/v1/halt", {"reason": "prometheus test"}).ok

    def red_alert() -> bool:
        firing = prometheus.get("/api/v1/alerts")["alerts"]
        return any(
            a["labels"]["alertname"] == "VigilRed" and a["state"] == "firing" for a in firing
        )

    wait_for(red_alert, timeout=15, interval=0.2)
    assert prometheus.value("vigil_breaker_level") == 2.0
