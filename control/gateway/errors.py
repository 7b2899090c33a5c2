"""The gateway's answers in Binance's shape: JSON bodies, and every failure as
``{"code", "msg"}`` with Binance's HTTP status (never a traceback)."""

from __future__ import annotations

import json
from typing import Any

from aiohttp import web

from exchange.protocol.errors import ApiError

MAX_BODY = 64 * 1024  # bytes: a bigger request is refused (-1101, HTTP 413)


def json_response(payload: Any, status: int = 200) -> web.Response:
    return web.Response(
        body=json.dumps(payload, separators=(",", ":")).encode(),
        status=status,
        content_type="application/json",
    )


def error_response(error: ApiError) -> web.Response:
    return json_response(error.body(), error.http_status)


def unknown_error() -> web.Response:
    return error_response(
        ApiError(-1000, "An unknown error occurred while processing the request.", 500)
    )


def too_large() -> ApiError:
    return ApiError(-1101, "Too many parameters sent for this endpoint.", 413)
