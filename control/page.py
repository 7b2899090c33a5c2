"""The status page (``GET /``): one static HTML file with its CSS and JS inline, no data in
it, no CDN, no build step. It asks for the control token once (kept in the tab's
``sessionStorage``, never in a URL), then reads ``GET /v1/status``, ``/v1/orders``,
``/v1/balances``, ``/v1/incidents`` and streams ``GET /v1/events`` with ``fetch`` and the
``Authorization`` header.

Served with a Content-Security-Policy that allows exactly its own inline script and style
(by hash) and connections to its own origin: text from the exchange or an incident cannot
run as script, and the page cannot send anything elsewhere.
"""

from __future__ import annotations

import base64
import functools
import hashlib
import re
from importlib import resources

PAGE = ("static", "status.html")


def _hash(text: str) -> str:
    return "'sha256-" + base64.b64encode(hashlib.sha256(text.encode()).digest()).decode() + "'"


@functools.cache
def response() -> tuple[bytes, dict[str, str]]:
    """The page's bytes and its headers."""
    html = resources.files("control").joinpath(*PAGE).read_text(encoding="utf-8")
    scripts = " ".join(_hash(s) for s in re.findall(r"<script>(.*?)</script>", html, re.S))
    styles = " ".join(_hash(s) for s in re.findall(r"<style>(.*?)</style>", html, re.S))
    csp = (
        "default-src 'none'; "
        f"script-src {scripts}; style-src {styles}; "
        "connect-src 'self'; img-src 'self' data:; "
        "base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
    )
    return html.encode(), {
        "Content-Type": "text/html; charset=utf-8",
        "Content-Security-Policy": csp,
        "Cache-Control": "no-store",
        "Referrer-Policy": "no-referrer",
        "X-Content-Type-Options": "nosniff",
        "X-Frame-Options": "DENY",
    }
