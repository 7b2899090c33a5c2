"""RecentKeys: a key is new once; the oldest are forgotten past the bound."""

from __future__ import annotations

import pytest

from domain.recent import RecentKeys


def test_a_key_is_new_once_and_the_oldest_are_forgotten_past_the_bound() -> None:
    recent = RecentKeys(size=3)
    assert [recent.first_time(k) for k in ("a", "b", "a", "c")] == [True, True, False, True]
    assert recent.first_time("d")  # "a" is forgotten now
    assert len(recent) == 3
    assert recent.first_time("a") and not recent.first_time("d")


def test_a_bound_below_one_is_refused() -> None:
    with pytest.raises(ValueError):
        RecentKeys(size=0)
