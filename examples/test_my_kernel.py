"""An example property test of your own kernel with mutjax.testing.

Copy this file next to your code and run ``pytest examples/test_my_kernel.py``
(it needs hypothesis: ``pip install 'mutjax[test]'``). Each test runs the
kernel under NumPy and under mutjax eagerly, under ``jax.jit`` and under
``jax.vmap``, and fails with the mode, the element, and both values.
"""

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

import mutjax.testing as mt


def smooth(u, passes):
    """The kernel under test: in-place three-point smoothing of the interior."""
    for _ in range(passes):
        u[1:-1] = 0.25 * u[:-2] + 0.5 * u[1:-1] + 0.25 * u[2:]
    return u.max()


@given(
    u=mt.arrays(np.float32, shape=st.integers(3, 12).map(lambda n: (n,))), passes=st.integers(1, 3)
)
@settings(max_examples=6, deadline=None)
def test_smooth_matches_numpy(u, passes):
    mt.assert_matches_numpy(smooth, u, passes)


def test_smooth_gradient():
    u = np.linspace(0, 1, 8, dtype=np.float32) ** 2
    mt.assert_matches_numpy(smooth, u, 2, modes=("jit",), grad=True)


@given(data=st.data())
@settings(max_examples=6, deadline=None)
def test_any_assignment_matches_numpy(data):
    """Every index kind NumPy accepts, with a value that broadcasts to it."""
    x = data.draw(mt.arrays(np.float32, shape=(4, 5)))
    idx = data.draw(mt.indices(x.shape))
    v = data.draw(mt.values_for(x.shape, idx))

    def kernel(x, v):
        x[idx] = v
        return x[idx]

    mt.assert_matches_numpy(kernel, x, v)
