"""A strategy's user stream outlives a moment without the broker (its restart after a crash,
when the directory has no ``order_broker`` and an ask raises ``ActorDeadError``): a list's
status change that cannot be looked up then is skipped, and the events after it still reach
the strategy — the stream is never silently dead behind an open socket."""

from __future__ import annotations

from tests.conftest import UserStream
from tests.gateway.conftest import Gateway
from tests.gateway.test_sdk_and_user_stream import Endpoint


def test_user_stream_goes_on_while_the_broker_restarts(gateway: Gateway) -> None:
    api_key, secret = gateway.add_key("streamer")
    stream = UserStream(Endpoint(gateway.ws_api, api_key, secret))  # type: ignore[arg-type]
    system = gateway.vigil.system
    broker = system.directory.ref("order_broker")
    assert broker is not None
    system.directory.unregister("order_broker")  # the restart window
    try:
        # what the book publishes when a list changes, then a balance change
        system.events.publish(
            "order_list", {"list_client_order_id": "vgl-000000-000000000000", "updated_ms": 1}
        )
        system.events.publish(
            "account",
            {"event": "balanceUpdate", "asset": "USDT", "delta": "5", "event_ms": 2},
        )
        event = stream.next_event(timeout=5.0)
        assert event["e"] == "balanceUpdate" and event["a"] == "USDT"
    finally:
        system.directory.register("order_broker", broker)
        stream.close()
