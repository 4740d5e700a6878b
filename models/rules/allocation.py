"""Sharing the year's new-participant quota among kecamatan: largest-remainder rounding. Pure."""

from __future__ import annotations

from collections.abc import Mapping


def largest_remainder(total: int, weights: Mapping[str, int]) -> dict[str, int]:
    """Split ``total`` in proportion to ``weights`` so the shares add up to exactly ``total``.

    Each share is the floor of its exact quota, and the places left go one each to the largest
    remainders (ties by key, so the result does not depend on the order given). All weights zero (or
    none positive): split equally. No keys: empty.
    """
    if total < 0:
        raise ValueError("total must not be negative")
    if any(w < 0 for w in weights.values()):
        raise ValueError("weights must not be negative")
    keys = sorted(weights)
    if not keys:
        return {}
    used = {k: weights[k] for k in keys}
    whole = sum(used.values())
    if whole == 0:
        used = dict.fromkeys(keys, 1)
        whole = len(keys)
    shares = {k: total * used[k] // whole for k in keys}
    # Remainders compared as integers (total * w mod whole): no float rounding decides a place.
    order = sorted(keys, key=lambda k: (-(total * used[k] % whole), k))
    for k in order[: total - sum(shares.values())]:
        shares[k] += 1
    return shares


def changes(before: Mapping[str, int], after: Mapping[str, int]) -> list[tuple[str, int | None, int, int]]:
    """(kecamatan, before or None, after, change) for every kecamatan in ``after``, in key order."""
    return [
        (code, before.get(code), after[code], after[code] - before.get(code, 0)) for code in sorted(after)
    ]
