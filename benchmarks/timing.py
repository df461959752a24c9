"""Interleaved timing: what the benchmark scripts share."""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from typing import Any


def rounds(
    calls: Mapping[str, Callable[[], Any]], reps: int, budget_s: float, most: int
) -> dict[str, list[float]]:
    """Seconds of each call, round by round: at least ``reps`` rounds, more while under ``budget_s``.

    At most ``most`` rounds, each calling every one once (``budget_s`` counts
    them all). Round ``r`` calls them in an order rotated by ``r``, so that
    none always runs first (after the Python of the loop) or always right
    after another.
    """
    times: dict[str, list[float]] = {k: [] for k in calls}
    order = list(calls)
    spent, r = 0.0, 0
    while order and (r < reps or (spent < budget_s and r < most)):
        k = r % len(order)
        for key in order[k:] + order[:k]:
            t0 = time.perf_counter()
            calls[key]()
            t = time.perf_counter() - t0
            times[key].append(t)
            spent += t
        r += 1
    return times
