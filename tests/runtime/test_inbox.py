"""The two-lane inbox, and that pykka really uses it (it plugs into an underscore name)."""

from __future__ import annotations

import threading
from importlib.metadata import version
from typing import Any

from pykka import messages as pykka_messages

from runtime.actor import ActorContext, VigilActor
from runtime.directory import Directory
from runtime.inbox import ControlAwareInbox
from runtime.messages import BreakerChanged, Heartbeat, OrderIntent
from runtime.trace import MessageTrace


class Envelope:
    def __init__(self, message: Any) -> None:
        self.message = message


def intent(n: int) -> OrderIntent:
    from decimal import Decimal

    return OrderIntent(symbol="BTCUSDT", side="BUY", type="MARKET", quantity=Decimal(n))


def test_control_messages_are_taken_before_queued_work() -> None:
    inbox = ControlAwareInbox()
    for n in range(3):
        inbox.put(Envelope(intent(n)))
    inbox.put(Envelope(BreakerChanged(level="RED", reason="x")))
    inbox.put(Envelope(Heartbeat()))
    taken = [inbox.get().message for _ in range(5)]
    assert [type(m).__name__ for m in taken] == [
        "BreakerChanged", "Heartbeat", "OrderIntent", "OrderIntent", "OrderIntent"
    ]  # fmt: skip
    assert [m.quantity for m in taken[2:]] == [0, 1, 2], "FIFO within a lane"
    assert inbox.empty()


def test_pykka_stop_message_goes_in_the_control_lane() -> None:
    inbox = ControlAwareInbox()
    inbox.put(Envelope(intent(1)))
    inbox.put(Envelope(pykka_messages._ActorStop()))
    assert isinstance(inbox.get().message, pykka_messages._ActorStop)


def test_get_blocks_until_a_message_arrives() -> None:
    inbox = ControlAwareInbox()
    got: list[Any] = []
    reader = threading.Thread(target=lambda: got.append(inbox.get().message))
    reader.start()
    inbox.put(Envelope(Heartbeat()))
    reader.join(timeout=5)
    assert got and isinstance(got[0], Heartbeat)


class Probe(VigilActor):
    name = "probe"


def test_pykka_builds_vigil_actors_with_the_control_aware_inbox() -> None:
    """Guards the pinned pykka minor version: _create_actor_inbox is an underscore name."""
    assert version("pykka").startswith("4.5")
    ctx = ActorContext(
        directory=Directory(),
        gate=None,  # type: ignore[arg-type]
        trace=MessageTrace(None),
        report_crash=lambda *args: None,
        services={},
    )
    ref = Probe.start(ctx, 7)
    try:
        assert ref.ask(Heartbeat(), timeout=5) == 7
        assert isinstance(ref.actor_inbox, ControlAwareInbox)
    finally:
        ref.stop()
