"""``policy.max_order_age_s`` (stale-order cleanup): off by default, positive when set."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from config.sections import PolicySettings


def test_stale_order_cleanup_is_off_by_default() -> None:
    assert PolicySettings().max_order_age_s is None


@pytest.mark.parametrize("bad", [0, -1, "soon"])
def test_a_max_order_age_that_is_not_positive_is_refused_naming_it(bad: object) -> None:
    with pytest.raises(ValidationError, match="max_order_age_s"):
        PolicySettings(max_order_age_s=bad)


def test_a_max_order_age_in_seconds() -> None:
    assert PolicySettings(max_order_age_s=90).max_order_age_s == 90.0
