"""Client order ids carry their Vigil instance's tag."""

from __future__ import annotations

from domain.instance import client_order_id, new_tag, other_instance


def test_an_id_of_ours_is_ours_and_another_instances_is_named() -> None:
    ours, theirs = "a1b2c3", "d4e5f6"
    mine = client_order_id(ours)
    assert len(mine) <= 36 and mine.startswith("vgl-a1b2c3-")
    assert other_instance(mine, ours) is None
    assert other_instance(client_order_id(theirs), ours) == theirs


def test_ids_not_made_by_a_vigil_are_no_instance() -> None:
    for cid in (None, "", "ghost-1", "web_abc", "vgl-short", "vgl-0123456789abcdef"):
        assert other_instance(cid, "a1b2c3") is None


def test_a_tag_is_six_hex_characters() -> None:
    tag = new_tag()
    assert len(tag) == 6 and int(tag, 16) >= 0
