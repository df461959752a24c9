"""The NumPy oracle used throughout the tests.

``check_kernel`` runs one kernel body on NumPy arrays and under mutjax
(eagerly and under ``jax.jit``) and compares everything the kernel returns and
every argument it mutated: values, shapes and dtypes.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

import mutjax


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


def canonical(tree: Any) -> Any:
    """NumPy arrays and scalars in ``tree`` narrowed to the dtypes JAX stores (x64 off)."""

    def one(x: Any) -> Any:
        if isinstance(x, (np.ndarray, np.generic)):
            return np.asarray(x).astype(jax.dtypes.canonicalize_dtype(x.dtype))
        return x

    return jax.tree_util.tree_map(one, tree)


def check_kernel(
    kernel: Callable[..., Any],
    *args: Any,
    modes: tuple[str, ...] = ("eager", "jit"),
    static_argnums: tuple[int, ...] = (),
    rtol: float = 1e-5,
    atol: float = 1e-5,
) -> Any:
    """Run ``kernel`` under NumPy and mutjax; assert results and final args agree."""
    np_args = [np.array(a) if isinstance(a, np.ndarray) else a for a in args]
    expected_out = kernel(*np_args)
    expected = (_as_numpy(expected_out), [a for a in np_args])
    for mode in modes:
        f = mutjax.mutable(kernel, return_args=True)
        if mode == "jit":
            f = jax.jit(f, static_argnums=static_argnums)
        jx_args = [jnp.asarray(a) if isinstance(a, np.ndarray) else a for a in args]
        out, final_args, _ = f(*jx_args)
        assert_same((_as_numpy(out), list(_as_numpy(final_args))), expected, mode, rtol, atol)
        for a, orig in zip(jx_args, args):
            if isinstance(orig, np.ndarray):
                np.testing.assert_array_equal(np.asarray(a), orig, err_msg="caller's array changed")
    return expected_out


def benchmark_setup(kernel: Any) -> tuple[tuple[Any, ...], dict[str, Callable[..., Any]]]:
    """Inputs and variants of a ``benchmarks.kernels.Kernel`` at its ``test`` size."""
    args, variants = kernel.make(kernel.sizes["test"])
    if kernel.kind == "memory":
        # A memory kernel is made from a byte count; its variants take the array.
        (n,) = args
        args = (np.arange(n, dtype=np.float32),)
    return args, variants


def all_primitives(jaxpr: Any) -> list[str]:
    """Primitive names of ``jaxpr``'s equations, sub-jaxprs (loop bodies) included."""
    names = []
    for e in jaxpr.eqns:
        names.append(e.primitive.name)
        for sub in jax.extend.core.jaxprs_in_params(e.params):
            names += all_primitives(sub)
    return names
