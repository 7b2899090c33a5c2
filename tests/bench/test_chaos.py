"""bench.chaos's schedule and table: every simulator fault kind covered, every armed body
valid for the strict fault API, the schedule a function of the seed alone."""

from __future__ import annotations

import itertools
import json

from bench.chaos import ACTOR_EVENTS, EXPECT, FAULT_KINDS, PROCESS_EVENTS, schedule
from exchange.simulator.faults import FAULT_SCHEMA, parse_arm
from exchange.simulator.schema import read_body


def test_every_simulator_fault_kind_is_in_the_bench_and_its_table() -> None:
    assert set(FAULT_KINDS) == set(FAULT_SCHEMA)
    assert set(EXPECT) == {*FAULT_KINDS, *ACTOR_EVENTS, *PROCESS_EVENTS}
    assert all(e.red in ("always", "maybe", "never") for e in EXPECT.values())


def test_the_schedule_is_the_seeds_and_its_bodies_pass_the_strict_fault_api() -> None:
    first = list(itertools.islice(schedule(7), 60))
    again = list(itertools.islice(schedule(7), 60))
    assert first == again
    assert first != list(itertools.islice(schedule(8), 60))
    kinds = {e.kind for e in first}
    assert set(FAULT_KINDS) <= kinds and "sigkill" in kinds
    for event in first:
        if event.kind in FAULT_SCHEMA:
            # as the simulator reads it off the wire; BadField on a bad or unknown parameter
            parse_arm(read_body(json.dumps(event.spec)))
