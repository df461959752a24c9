"""A weighted histogram, accumulated one sample at a time.

``counts[b] += w`` inside a loop over samples with a data-dependent bin ``b``
(a traced index under ``jit``) is the textbook way to accumulate; so is
NumPy's vectorized ``np.add.at(counts, bins, weights)``. The tempting
``counts[bins] += weights`` does NOT accumulate repeated bins, in NumPy as in
mutjax (NumPy's rule: the last write wins). Run ``python examples/histogram.py``.
"""

import jax
import numpy as np

import mutjax


def histogram(counts, samples, weights, lo, hi):
    """Add each sample's weight to its bin of ``counts``; clip samples to [lo, hi)."""
    nbins = counts.shape[0]
    bins = ((samples - lo) / (hi - lo) * nbins).astype(np.int32)
    bins = bins.clip(0, nbins - 1)
    for i in range(samples.shape[0]):
        counts[bins[i]] += weights[i]
    return counts


def histogram_at(counts, samples, weights, lo, hi):
    """The same histogram with one vectorized ``np.add.at``."""
    nbins = counts.shape[0]
    bins = ((samples - lo) / (hi - lo) * nbins).astype(np.int32).clip(0, nbins - 1)
    np.add.at(counts, bins, weights)
    return counts


def naive(counts, bins):
    counts[bins] += 1.0
    return counts


def main() -> None:
    rng = np.random.default_rng(2)
    samples = rng.normal(0.0, 1.0, 120).astype(np.float32)
    weights = rng.uniform(0.5, 1.5, 120).astype(np.float32)

    expected = histogram(np.zeros(12, np.float32), samples, weights, -3.0, 3.0)
    fast = jax.jit(mutjax.mutable(histogram), static_argnums=(3, 4))
    got = np.asarray(fast(np.zeros(12, np.float32), samples, weights, -3.0, 3.0))
    reference, _ = np.histogram(np.clip(samples, -3.0, 2.999), 12, (-3.0, 3.0), weights=weights)

    np.set_printoptions(precision=2, suppress=True, linewidth=120)
    print("NumPy loop      :", expected)
    print("mutjax          :", got)
    print("np.histogram    :", reference.astype(np.float32))
    with_at = jax.jit(mutjax.mutable(histogram_at), static_argnums=(3, 4))
    got_at = np.asarray(with_at(np.zeros(12, np.float32), samples, weights, -3.0, 3.0))
    print("mutjax np.add.at:", got_at)
    assert np.allclose(got_at, expected, atol=1e-4)
    # The vectorized `counts[bins] += 1` does not accumulate repeated bins:
    # each touched bin ends at 1, in NumPy as in mutjax.
    bins = np.clip(((samples + 3.0) / 6.0 * 12).astype(np.int32), 0, 11)
    naive_np = naive(np.zeros(12, np.float32), bins)
    naive_mj = np.asarray(jax.jit(mutjax.mutable(naive))(np.zeros(12, np.float32), bins))
    print("counts[bins] += 1  NumPy:", naive_np, " mutjax:", naive_mj)
    assert (naive_np == naive_mj).all()
    err = np.abs(got - expected).max()
    print(f"max |mutjax - NumPy| = {err:.2e}")
    assert err < 1e-3


if __name__ == "__main__":
    main()
