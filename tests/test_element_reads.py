"""Reads of one element after waiting element writes give NumPy's values.

A read of ``x[i]`` after writes at ``x[i]`` and ``x[j]`` (traced ``i``,
``j``) takes the last write that surely hit it and, after it, each later
write that may hit (equal traced indices) with a select. Each kernel runs
on NumPy arrays (the oracle) and under ``jax.jit(mutable(..., loops=True))``
with indices that coincide and indices that differ.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from helpers import assert_same

import mutjax


def rewrites(x, y, j):
    for i in range(x.shape[0]):
        x[i] = y[i]
        x[j] = 2.0 * y[i]  # may be x[i]
        x[i] = x[i] + 1.0  # reads after both writes
        x[j] = x[j] + x[i]  # reads x[j] after a write that may be it
        y[i] = x[i] * 3.0 + x[j]
    return x, y


@pytest.mark.parametrize("j", [0, 2, 4])
def test_element_read_after_surely_and_maybe_hitting_writes_matches_numpy(j):
    x = np.arange(5.0, dtype=np.float32)
    y = np.arange(1.0, 6.0, dtype=np.float32)
    expected = rewrites(x.copy(), y.copy(), j)
    got = jax.jit(mutjax.mutable(rewrites, loops=True))(jnp.asarray(x), jnp.asarray(y), j)
    assert_same(jax.tree_util.tree_map(np.asarray, got), expected, "jit")
