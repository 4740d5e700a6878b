"""Largest-remainder rounding of the kecamatan allocations: the sum is exact, shares are proportional."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from models.rules.allocation import changes, largest_remainder

weights_strategy = st.dictionaries(
    st.text("abcdefgh", min_size=1, max_size=3), st.integers(0, 10_000), min_size=1, max_size=12
)


@given(st.integers(0, 5000), weights_strategy)
def test_sum_is_exact_shares_non_negative_and_proportional_within_one(total: int, weights: dict) -> None:
    shares = largest_remainder(total, weights)
    assert set(shares) == set(weights)
    assert sum(shares.values()) == total
    assert all(s >= 0 for s in shares.values())
    whole = sum(weights.values()) or len(weights)
    used = weights if sum(weights.values()) else dict.fromkeys(weights, 1)
    for key, share in shares.items():
        exact = total * used[key] / whole
        assert abs(share - exact) < 1


@given(st.integers(0, 5000), weights_strategy)
def test_the_order_given_does_not_matter(total: int, weights: dict) -> None:
    reversed_weights = dict(reversed(list(weights.items())))
    assert largest_remainder(total, weights) == largest_remainder(total, reversed_weights)


def test_the_largest_remainders_get_the_places_left() -> None:
    # 10 * (5, 3, 2) / 10 exact; 7 * (5, 3, 2) / 10 = 3.5, 2.1, 1.4: the place left goes to "a"
    assert largest_remainder(10, {"a": 5, "b": 3, "c": 2}) == {"a": 5, "b": 3, "c": 2}
    assert largest_remainder(7, {"a": 5, "b": 3, "c": 2}) == {"a": 4, "b": 2, "c": 1}


def test_equal_when_no_weights_and_nothing_to_share() -> None:
    assert largest_remainder(10, {"a": 0, "b": 0, "c": 0}) == {"a": 4, "b": 3, "c": 3}
    assert largest_remainder(0, {"a": 3}) == {"a": 0}
    assert largest_remainder(5, {}) == {}
    with pytest.raises(ValueError, match="negative"):
        largest_remainder(-1, {"a": 1})


def test_changes_list_before_after_and_difference() -> None:
    assert changes({"a": 5}, {"a": 3, "b": 2}) == [("a", 5, 3, -2), ("b", None, 2, 2)]
