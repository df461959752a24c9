"""The NumPy oracle used throughout the tests.

Whole kernels are compared with ``mutjax.testing.assert_matches_numpy``;
``assert_same`` compares two results leaf by leaf: values, shapes and dtypes.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import jax
import numpy as np
import pytest
from hypothesis import settings

_ParameterSet = type(pytest.param(None))


def _as_numpy(tree: Any) -> Any:
    return jax.tree_util.tree_map(lambda x: np.array(x) if hasattr(x, "shape") else x, tree)


def assert_same(
    got: Any, expected: Any, what: str = "", rtol: float = 1e-5, atol: float = 1e-5
) -> None:
    g_leaves, g_tree = jax.tree_util.tree_flatten(got)
    e_leaves, e_tree = jax.tree_util.tree_flatten(expected)
    assert g_tree == e_tree, f"{what}: structure {g_tree} != {e_tree}"
    for g, e in zip(g_leaves, e_leaves):
        g = np.asarray(g)
        e = np.asarray(e)
        assert g.shape == e.shape, f"{what}: shape {g.shape} != {e.shape}"
        assert g.dtype == e.dtype, f"{what}: dtype {g.dtype} != {e.dtype}"
        if np.issubdtype(e.dtype, np.inexact):
            np.testing.assert_allclose(g, e, rtol=rtol, atol=atol, err_msg=what)
        else:
            np.testing.assert_array_equal(g, e, err_msg=what)


# The modes most whole-kernel tests compare (vmap has its own tests).
EAGER_JIT = ("eager", "jit")


def canonical(tree: Any) -> Any:
    """NumPy arrays and scalars in ``tree`` narrowed to the dtypes JAX stores (x64 off)."""

    def one(x: Any) -> Any:
        if isinstance(x, (np.ndarray, np.generic)):
            return np.asarray(x).astype(jax.dtypes.canonicalize_dtype(x.dtype))
        return x

    return jax.tree_util.tree_map(one, tree)


def benchmark_setup(kernel: Any) -> tuple[tuple[Any, ...], dict[str, Callable[..., Any]]]:
    """Inputs and variants of a ``benchmarks.kernels.Kernel`` at its ``test`` size."""
    args, variants = kernel.make(kernel.sizes["test"])
    if kernel.kind == "memory":
        # A memory kernel is made from a byte count; its variants take the array.
        (n,) = args
        args = (np.arange(n, dtype=np.float32),)
    return args, variants


def loop_kinds(jaxpr: Any) -> set[str]:
    """How the loops of ``jaxpr`` run: ``while``/``scan`` loops, and ``batched`` for
    converted loops run as one batched operation (their named scope)."""
    kinds = set()
    for e in jaxpr.eqns:
        if e.primitive.name in ("while", "scan"):
            kinds.add(e.primitive.name)
        if "mutjax_batched_loop" in str(e.source_info.name_stack):
            kinds.add("batched")
        for sub in jax.extend.core.jaxprs_in_params(e.params):
            kinds |= loop_kinds(sub)
    return kinds


def count_whiles(jaxpr: Any) -> int:
    """The number of ``while`` loops in ``jaxpr``, sub-jaxprs included."""
    n = 0
    for e in jaxpr.eqns:
        n += e.primitive.name == "while"
        for sub in jax.extend.core.jaxprs_in_params(e.params):
            n += count_whiles(sub)
    return n


def all_primitives(jaxpr: Any) -> list[str]:
    """Primitive names of ``jaxpr``'s equations, sub-jaxprs (loop bodies) included."""
    names = []
    for e in jaxpr.eqns:
        names.append(e.primitive.name)
        for sub in jax.extend.core.jaxprs_in_params(e.params):
            names += all_primitives(sub)
    return names


def returning_args(n_args: int) -> dict[str, Any]:
    """The ``mutjax.mutable`` keywords that return all ``n_args`` positional arguments."""
    return {"return_argnums": tuple(range(n_args))} if n_args else {}


def split_returned(got: Any, n_args: int, numpy_out: Any) -> tuple[Any, list[Any]]:
    """``(result, [final arguments])`` from a call made with `returning_args(n_args)`.

    Such a call returns only the arguments when the kernel returns None;
    NumPy's result for the same kernel says which form to expect. A mutjax
    call that returned something else has another structure, which the
    comparison with NumPy's then reports.
    """
    if not n_args:
        return got, []
    if numpy_out is None:
        return None, [got] if n_args == 1 else list(got)
    return got[0], list(got[1:])


def sampled(
    argnames: str,
    argvalues: Any,
    every: int,
    ids: Callable[[Any], str] | Sequence[str] | None = None,
) -> Any:
    """``pytest.mark.parametrize`` of which the default ``pytest`` runs a sample.

    The first case and one in ``every`` after it run by default; the others
    are marked ``slow``, so that ``pytest -m ""`` and CI run the whole family.
    ``ids`` names each plain value (a function of it, or a list), as
    ``parametrize``'s own would; a ``pytest.param`` keeps its id and marks.
    """
    several = "," in argnames
    params = []
    for i, v in enumerate(argvalues):
        if not isinstance(v, _ParameterSet):
            name = None if ids is None else ids(v) if callable(ids) else ids[i]
            v = pytest.param(*(v if several else (v,)), id=name)
        if i % every:
            v = pytest.param(*v.values, marks=[*v.marks, pytest.mark.slow], id=v.id)
        params.append(v)
    return pytest.mark.parametrize(argnames, params)


# The profile's max_examples at which a test's own count stands as written.
_FULL_EXAMPLES = 40


def examples(n: int) -> int:
    """A property's own example count, scaled to the loaded hypothesis profile.

    ``n`` under the ``ci`` profile (what CI runs), fewer under the quick
    default profile, 50 times ``n`` under ``fuzz``; never below 2.
    """
    return max(2, round(n * settings.default.max_examples / _FULL_EXAMPLES))
