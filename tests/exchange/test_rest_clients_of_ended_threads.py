"""The REST transport keeps one python-binance Client (a requests Session with its pooled
keep-alive connection) per calling thread. A thread that ends — an actor instance the
supervisor replaced, a broker's wire lanes after a restart — must not leave its Client and
its socket open for the rest of the process: over months of restarts that is a steady leak
of file descriptors toward the process limit."""

from __future__ import annotations

import gc
import os
import threading

from tests.conftest import SimHandle
from tests.exchange.adapter_helpers import make_adapter


def open_fds() -> int:
    return len(os.listdir("/proc/self/fd"))


def test_clients_of_threads_that_ended_do_not_keep_sockets_open(sim: SimHandle) -> None:
    adapter, _ = make_adapter(sim)
    try:

        def calls_from_new_threads(count: int) -> None:
            for _ in range(count):
                thread = threading.Thread(target=adapter.get_open_orders)
                thread.start()
                thread.join()

        calls_from_new_threads(3)  # (the first connections, the sim's own sockets)
        gc.collect()
        before = open_fds()
        calls_from_new_threads(40)  # as 40 actor restarts would
        gc.collect()
        assert open_fds() <= before + 10, f"{before} descriptors open, then {open_fds()}"
        adapter.get_open_orders()  # this (live) thread's client still works
    finally:
        adapter.close()
