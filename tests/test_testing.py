"""Tests of mutjax.testing: its strategies draw valid input, its assertion
passes on correct kernels and catches kernels that are wrong in any one mode."""

from __future__ import annotations

import re

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from hypothesis import find, given, settings
from hypothesis import strategies as st

import mutjax
import mutjax.testing as mt

# -- strategies ------------------------------------------------------------------

STRATEGIES = ["basic_indices", "integer_array_indices", "mask_indices", "mixed_indices", "indices"]


@pytest.mark.parametrize("name", STRATEGIES)
@given(data=st.data())
def test_strategies_draw_indices_and_values_numpy_accepts(name, data):
    x = data.draw(mt.arrays(max_side=4))
    idx = data.draw(getattr(mt, name)(x.shape))
    v = data.draw(mt.values_for(x.shape, idx))
    y = x.copy()
    y[idx] = v  # raises if the strategies drew something NumPy refuses
    assert x[idx].shape == y[idx].shape


def _kinds(idx):
    entries = idx if isinstance(idx, tuple) else (idx,)
    out = []
    for e in entries:
        if isinstance(e, np.ndarray):
            out.append("mask" if e.dtype == bool else "array")
        elif isinstance(e, slice):
            out.append("slice")
        elif e is None:
            out.append("none")
        elif e is Ellipsis:
            out.append("ellipsis")
        else:
            out.append("int")
    return out


@pytest.mark.parametrize(
    "strategy, wanted",
    [
        # advanced indices separated by a slice: NumPy moves them to the front
        (mt.mixed_indices((3, 4, 5)), lambda k: k[:3] == ["array", "slice", "array"]),
        (mt.mixed_indices((3, 4, 5)), lambda k: "mask" in k and "array" in k and "none" in k),
        (mt.basic_indices((5, 6)), lambda k: "ellipsis" in k and "none" in k),
        (mt.indices((4, 4)), lambda k: k == ["mask"]),
    ],
)
def test_strategies_reach_the_hard_cases(strategy, wanted):
    find(strategy, lambda idx: wanted(_kinds(idx)), settings=settings(max_examples=2000))


def test_integer_indices_draw_duplicates_negatives_and_unsigned():
    find(
        mt.integer_array_indices((5,)),
        lambda idx: len(np.unique(idx[0] % 5)) < idx[0].size and (idx[0] < 0).any(),
        settings=settings(max_examples=2000),
    )
    find(
        mt.integer_array_indices((5,)),
        lambda idx: idx[0].dtype == np.uint8,
        settings=settings(max_examples=2000),
    )


@given(
    scalar=mt.values_for((3, 4), (1, -2)),
    masked=mt.values_for((3, 4), np.eye(3, 4, dtype=bool)),
)
def test_values_for_keeps_numpy_refusals_out(scalar, masked):
    # A full-integer index takes only a 0-d value; a lone full mask at most 1-d.
    assert scalar.shape == ()
    assert masked.ndim <= 1


@pytest.mark.parametrize("dtype", [np.float32, np.int32, np.uint8, np.bool_, np.complex64])
def test_arrays_of_each_dtype(dtype):
    x = find(mt.arrays(dtype, shape=(2, 3)), lambda a: True)
    assert x.dtype == dtype and x.shape == (2, 3)


# -- the assertion passes on correct kernels ---------------------------------------


@pytest.mark.slow
@given(data=st.data())
# Each example compiles three times (eager, jit, vmap): half the profile's count.
@settings(max_examples=max(1, settings.default.max_examples // 2))
def test_assignment_property_in_every_mode(data):
    x = data.draw(mt.arrays(max_side=4))
    idx = data.draw(mt.indices(x.shape))
    v = data.draw(mt.values_for(x.shape, idx))

    def kernel(x, v):
        x[idx] = v
        x[idx] *= 2
        return x[idx]

    mt.assert_matches_numpy(kernel, x, v, modes=("eager", "jit", "vmap"))


def heat_step(u, steps):
    for _ in range(steps):
        u[1:-1] += 0.25 * (u[2:] - 2 * u[1:-1] + u[:-2])
    return u.sum()


def test_real_kernel_with_static_argument_and_gradient():
    u = np.sin(np.linspace(0, np.pi, 12)).astype(np.float32)
    expected = mt.assert_matches_numpy(
        heat_step, u, 5, modes=("eager", "jit", "vmap", "jit_vmap"), grad=True
    )
    assert np.isclose(expected, heat_step(u.copy(), 5))


def test_out_parameter_kernel_and_pytree_arguments():
    def fill(out, params):
        out[params["rows"]] = params["value"]

    out = np.zeros((4, 3), np.float32)
    params = {"rows": slice(1, None, 2), "value": np.arange(3, dtype=np.float32)}
    assert mt.assert_matches_numpy(fill, out, params) is None


def test_numpy_errors_must_be_raised_in_every_mode():
    def kernel(x):
        x[5] = 1.0  # out of bounds for a static index: IndexError everywhere

    mt.assert_matches_numpy(kernel, np.zeros(3, np.float32))


def test_explicit_batch():
    def kernel(x, i):
        x[i] = -x[i]
        return x

    x = np.arange(4, dtype=np.float32)
    batch = [(x, np.int32(0)), (x + 1, np.int32(3)), (x * 2, np.int32(-1))]
    mt.assert_matches_numpy(kernel, x, np.int32(2), modes=("vmap",), batch=batch)


# -- the assertion catches wrong kernels --------------------------------------------


def _mode_of(x):
    """Which mode a kernel body runs in: eager, jit, vmap (test-only introspection)."""
    if isinstance(x, np.ndarray):
        return "numpy"
    value = x._read()
    if "Batch" in type(value).__name__:
        return "vmap"
    if isinstance(value, jax.core.Tracer):
        return "jit"
    return "eager"


def _wrong_in(bad_mode):
    def kernel(x):
        x[1:] += x[:-1]
        if _mode_of(x) == bad_mode:
            x[2] += 1  # the deliberate bug
        return x[0]

    return kernel


def test_reference_for_a_kernel_using_mutjax_loops():
    def prefix_sum(x):
        def body(i, carry):
            x[i] += x[i - 1]
            return carry

        mutjax.fori_loop(1, x.shape[0], body, None)

    def prefix_sum_numpy(x):
        for i in range(1, x.shape[0]):
            x[i] += x[i - 1]

    x = np.arange(1, 7, dtype=np.float32)
    mt.assert_matches_numpy(prefix_sum, x, reference=prefix_sum_numpy, grad=True)

    def off_by_one(x):
        for i in range(2, x.shape[0]):
            x[i] += x[i - 1]

    with pytest.raises(AssertionError, match="mode 'eager'.* at element \\[1\\]"):
        mt.assert_matches_numpy(prefix_sum, x, reference=off_by_one)


@pytest.mark.parametrize("mode", ["eager", "jit", "vmap", "jit_vmap"])
def test_catches_a_kernel_wrong_in_one_mode(mode):
    x = np.arange(5, dtype=np.float32)
    kernel = _wrong_in("vmap" if mode == "jit_vmap" else mode)
    modes = ("eager", "jit", mode if mode == "jit_vmap" else "vmap")
    # The other modes pass ...
    mt.assert_matches_numpy(kernel, x, modes=tuple(m for m in modes if m != mode))
    # ... and the failure names the mode, the output, the element and both values.
    with pytest.raises(AssertionError) as info:
        mt.assert_matches_numpy(kernel, x, modes=modes)
    msg = str(info.value)
    assert f"mode {mode!r}" in msg
    assert "the result" in msg or "final value" in msg
    if mode in ("vmap", "jit_vmap"):
        assert "batch axis" in msg
    else:
        assert "the final value of array argument 0 at element [2]" in msg
        assert "expected np.float32(3.0), got np.float32(4.0)" in msg


def test_catches_a_wrong_batching_rule_under_vmap():
    @jax.custom_batching.custom_vmap
    def double(v):
        return 2 * v

    @double.def_vmap
    def _double_vmap(axis_size, in_batched, v):
        return 3 * v, in_batched[0]  # wrong: the batched rule triples

    def kernel(x):
        x[::2] = double(x[::2])

    x = np.arange(6, dtype=np.float32)

    def numpy_double(v):
        return 2 * v

    def reference(x):
        x[::2] = numpy_double(x[::2])

    mt.assert_matches_numpy(reference, x)
    mt.assert_matches_numpy(kernel, x, modes=("eager", "jit"))
    with pytest.raises(AssertionError, match="mode 'vmap', the final value of array argument 0"):
        mt.assert_matches_numpy(kernel, x, modes=("eager", "jit", "vmap"))


def test_catches_a_wrong_gradient():
    @jax.custom_jvp
    def square(v):
        return v * v

    @square.defjvp
    def _square_jvp(primals, tangents):
        (v,), (t,) = primals, tangents
        return v * v, 3 * v * t  # wrong: should be 2 v t

    def kernel(x):
        x[1:] = square(x[1:]) if not isinstance(x, np.ndarray) else x[1:] * x[1:]
        return x

    x = np.array([1.0, 2.0, 3.0], np.float32)
    mt.assert_matches_numpy(kernel, x)  # the values are right
    with pytest.raises(AssertionError) as info:
        mt.assert_matches_numpy(kernel, x, grad=True)
    msg = str(info.value)
    assert "mode 'grad'" in msg and "argument 0 at element [1]" in msg
    assert "central difference" in msg


def test_reports_dtype_and_shape_mismatches():
    def wrong_dtype(x):
        return x.astype(np.int32) if _mode_of(x) == "jit" else x.astype(np.float32)

    def wrong_shape(x):
        return x[None] if _mode_of(x) == "eager" else x

    x = np.ones(3, np.float32)
    with pytest.raises(
        AssertionError, match="mode 'jit', the result: dtype int32, NumPy gives float32"
    ):
        mt.assert_matches_numpy(wrong_dtype, x)
    with pytest.raises(AssertionError, match=re.escape("mode 'eager', the result: shape (1, 3)")):
        mt.assert_matches_numpy(wrong_shape, x)


def test_reports_errors_numpy_does_not_raise_and_missing_errors():
    def raises_under_jit(x):
        if _mode_of(x) == "jit":
            raise RuntimeError("boom")
        x[0] = 1

    def numpy_only_error(x):
        if _mode_of(x) == "numpy":
            x[7] = 0
        x[0] = 1

    x = np.zeros(3, np.float32)
    with pytest.raises(AssertionError, match="mode 'jit' raised RuntimeError: boom"):
        mt.assert_matches_numpy(raises_under_jit, x)
    with pytest.raises(AssertionError, match="mode 'eager' did not raise; NumPy raised IndexError"):
        mt.assert_matches_numpy(numpy_only_error, x)


def test_bad_arguments():
    with pytest.raises(ValueError, match="unknown mode 'pmap'"):
        mt.assert_matches_numpy(lambda x: x, np.ones(2), modes=("pmap",))
    with pytest.raises(ValueError, match="need at least one array"):
        mt.assert_matches_numpy(lambda n: n + 1, 3, modes=("vmap",))
    with pytest.raises(AttributeError, match="no attribute 'nope'"):
        mt.nope


def test_assertion_works_on_jax_inputs_and_leaves_them_alone():
    x = jnp.arange(4.0)

    def kernel(x):
        x[::-1] = x.copy()
        return x

    mt.assert_matches_numpy(kernel, x)
    assert (np.asarray(x) == np.arange(4.0)).all()
    assert mutjax.mutable(kernel)(x).tolist() == [3.0, 2.0, 1.0, 0.0]
