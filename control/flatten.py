"""``POST /v1/flatten``: the emergency flatten (``assembly.flatten``) over the control API.

Body ``{"confirm": true, "reason": "...", "force": false, "timeout_s": 15}``: without
``confirm`` it is refused (409) before anything happens; ``force`` flattens even when the
last reconciliation is not HEALTHY; ``timeout_s`` bounds each wait (the cancels, then the
sells). Answers the report — what was cancelled, sold (client order id, quantity, status),
the dust and the errors — with 200 when every step completed, 409 when refused, 502 when
the exchange did not confirm a step in time, 503 while shutting down.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING

from aiohttp import web
from pydantic import BaseModel, ConfigDict, Field

from assembly.flatten import flatten

if TYPE_CHECKING:
    from control.server import ControlServer

MAX_TEXT = 500


class FlattenBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    confirm: bool = False
    reason: str = Field(min_length=1, max_length=MAX_TEXT)
    force: bool = False
    timeout_s: float = Field(default=15.0, gt=0, le=120)


def handler(server: ControlServer) -> Callable[[web.Request], Awaitable[web.Response]]:
    """The route's handler, bound to ``server``."""

    async def post(request: web.Request) -> web.Response:
        return await post_flatten(server, request)

    return post


async def post_flatten(server: ControlServer, request: web.Request) -> web.Response:
    body = await server._body(request, FlattenBody)
    if not body.confirm:
        return web.json_response(
            {
                "ok": False,
                "refused": True,
                "error": "a flatten cancels every order and sells every position Vigil "
                "holds: it needs confirm",
            },
            status=409,
        )
    status, report = await server._call(
        lambda: flatten(server.system, body.reason, force=body.force, timeout_s=body.timeout_s)
    )
    return web.json_response(report, status=status)
