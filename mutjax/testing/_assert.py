"""``assert_matches_numpy``: one kernel body, NumPy as the oracle, every mode."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, TypeVar

import jax
import jax.numpy as jnp
import numpy as np

from .._mutable import mutable

R = TypeVar("R")  # what the kernel returns

MODES = ("eager", "jit", "vmap")
"""The modes `assert_matches_numpy` runs by default: ``("eager", "jit", "vmap")``.

Example:
    ```python
    import numpy as np
    from mutjax.testing import MODES, assert_matches_numpy

    def double_tail(x):
        x[1:] *= 2

    # the default modes and jax.jit(jax.vmap(...)) too
    assert_matches_numpy(double_tail, np.arange(4.0), modes=(*MODES, "jit_vmap"))
    ```
"""

_KNOWN_MODES = ("eager", "jit", "vmap", "jit_vmap")


def _is_array(x: Any) -> bool:
    return isinstance(x, (np.ndarray, jax.Array))


def _expected_dtype(x: np.ndarray) -> np.dtype:
    # Without jax_enable_x64 JAX stores float64/int64 as float32/int32: NumPy's
    # answer is compared at the width JAX gives the same computation.
    return np.dtype(jax.dtypes.canonicalize_dtype(x.dtype))


class _Split:
    """The arguments split into array leaves (traced) and the rest (closed over)."""

    def __init__(self, args: tuple[Any, ...]) -> None:
        leaves, self.treedef = jax.tree_util.tree_flatten(args)
        self.leaves = leaves
        self.positions = [i for i, x in enumerate(leaves) if _is_array(x)]

    def arrays(self) -> list[np.ndarray]:
        return [np.array(self.leaves[i]) for i in self.positions]

    def array_leaves(self, args: tuple[Any, ...]) -> list[Any]:
        leaves = jax.tree_util.tree_leaves(args)
        return [leaves[i] for i in self.positions]

    def rebuild(self, arrays: Sequence[Any]) -> tuple[Any, ...]:
        leaves = list(self.leaves)
        for i, a in zip(self.positions, arrays):
            leaves[i] = a
        return jax.tree_util.tree_unflatten(self.treedef, leaves)


def _numpy_run(kernel: Callable[..., Any], split: _Split, arrays: Sequence[np.ndarray]) -> Any:
    args = split.rebuild([np.array(a) for a in arrays])
    out = kernel(*args)
    return _to_numpy((out, split.array_leaves(args)))


def _to_numpy(tree: Any) -> Any:
    return jax.tree_util.tree_map(lambda x: np.asarray(x) if hasattr(x, "shape") else x, tree)


def _leaf_names(tree: Any) -> list[str]:
    paths = jax.tree_util.tree_flatten_with_path(tree)[0]
    names = []
    for path, _ in paths:
        head, *rest = path
        if head.idx == 0:
            names.append("the result" + jax.tree_util.keystr(tuple(rest)))
        else:
            names.append(f"the final value of array argument {rest[0].idx}")
    return names


def _format_index(idx: tuple[int, ...]) -> str:
    return "[" + ", ".join(str(int(i)) for i in idx) + "]"


def _compare(
    mode: str, got: Any, expected: Any, rtol: float, atol: float, batch: bool = False
) -> None:
    """Raise AssertionError naming the mode, the leaf and the first bad element."""
    e_leaves, e_tree = jax.tree_util.tree_flatten(expected)
    g_leaves, g_tree = jax.tree_util.tree_flatten(got)
    if e_tree != g_tree:  # type: ignore[operator]
        raise AssertionError(
            f"mutjax.testing: mode {mode!r}: the result's structure differs from NumPy's:\n"
            f"  expected {e_tree}\n  got      {g_tree}"
        )
    for name, e, g in zip(_leaf_names(expected), e_leaves, g_leaves):
        scalar = not isinstance(e, (np.ndarray, np.generic))
        e = np.asarray(e)
        g = np.asarray(g)
        where = f"mode {mode!r}, {name}"
        if e.shape != g.shape:
            raise AssertionError(
                f"mutjax.testing: {where}: shape {g.shape}, NumPy gives {e.shape}"
                + (" (batch axis first)" if batch else "")
            )
        if not scalar and g.dtype != _expected_dtype(e):
            raise AssertionError(
                f"mutjax.testing: {where}: dtype {g.dtype}, NumPy gives {e.dtype}"
                + (
                    f" (JAX stores it as {_expected_dtype(e)})"
                    if e.dtype != _expected_dtype(e)
                    else ""
                )
            )
        if np.issubdtype(e.dtype, np.inexact):
            close = np.isclose(g, e.astype(g.dtype), rtol=rtol, atol=atol, equal_nan=True)
        else:
            close = g == e
        if not np.all(close):
            bad = np.argwhere(~np.asarray(close))
            first = tuple(bad[0])
            elem = f" at element {_format_index(first)}" if e.ndim else ""
            if batch:
                elem += " (the first index is the batch axis)"
            raise AssertionError(
                f"mutjax.testing: {where}{elem}: expected {e[first]!r}, got {g[first]!r} "
                f"({len(bad)} of {e.size} elements differ; rtol={rtol}, atol={atol})"
            )


def _default_batch(arrays: Sequence[np.ndarray], size: int) -> list[list[np.ndarray]]:
    # Example 0 is the caller's input; the others scale and shift the
    # floating-point arrays so that every batch element computes something
    # different. Integer and boolean arrays (often indices) are repeated.
    batch = []
    for b in range(size):
        example = []
        for a in arrays:
            if np.issubdtype(a.dtype, np.inexact) and b:
                a = (a * (1 + b / 4) + b / 8).astype(a.dtype)
            example.append(np.array(a))
        batch.append(example)
    return batch


def _with_final_args(
    kernel: Callable[..., Any], args: tuple[Any, ...]
) -> tuple[Any, tuple[Any, ...]]:
    """``kernel(*args)`` under ``mutable``: its result and the final values of ``args``."""

    def boxed(*a: Any) -> list[Any]:
        # Never None, so every call returns the result followed by all arguments.
        return [kernel(*a)]

    got = mutable(boxed, return_argnums=tuple(range(len(args))))(*args)
    if not args:
        return got[0], ()
    return got[0][0], tuple(got[1:])


def _run_mode(
    mode: str, kernel: Callable[..., Any], split: _Split, arrays: list[np.ndarray], batch: Any
) -> Any:
    def f(*arrs: Any) -> Any:
        out, args = _with_final_args(kernel, split.rebuild(arrs))
        return out, split.array_leaves(args)

    if mode == "eager":
        return f(*[jnp.asarray(a) for a in arrays])
    if mode == "jit":
        return jax.jit(f)(*[jnp.asarray(a) for a in arrays])
    stacked = [jnp.asarray(np.stack(col)) for col in zip(*batch)]
    g = jax.vmap(f)
    if mode == "jit_vmap":
        g = jax.jit(g)
    return g(*stacked)


def _loss_weights(tree: Any, rng: np.random.Generator) -> list[Any]:
    return [
        rng.uniform(0.5, 1.5, np.shape(x))
        if np.issubdtype(np.asarray(x).dtype, np.inexact)
        else None
        for x in jax.tree_util.tree_leaves(tree)
    ]


def _check_grad(
    kernel: Callable[..., Any],
    oracle: Callable[..., Any],
    split: _Split,
    arrays: list[np.ndarray],
    expected: Any,
    rtol: float,
    atol: float,
    seed: int,
) -> None:
    """Compare ``jax.grad`` through mutjax with NumPy central differences.

    The scalar differentiated is a fixed random weighting of every
    floating-point leaf of the result and of the final arguments; NumPy's
    side runs in float64.
    """
    rng = np.random.default_rng(seed)
    weights = _loss_weights(expected, rng)
    diff = [i for i, a in enumerate(arrays) if np.issubdtype(a.dtype, np.inexact)]
    if not diff:
        raise ValueError("mutjax.testing: grad=True needs a floating-point array argument")

    def loss(leaves: Sequence[Any], xp: Any) -> Any:
        total = 0.0
        for w, x in zip(weights, leaves):
            if w is not None:
                total = total + xp.sum(xp.asarray(w, dtype=xp.asarray(x).dtype) * x)
        return total

    def jax_loss(*diff_arrays: Any) -> Any:
        arrs: list[Any] = list(arrays)
        for i, d in zip(diff, diff_arrays):
            arrs[i] = d
        out, args = _with_final_args(kernel, split.rebuild(arrs))
        return loss(jax.tree_util.tree_leaves((out, split.array_leaves(args))), jnp)

    grads = jax.jit(jax.grad(jax_loss, argnums=tuple(range(len(diff)))))(
        *[jnp.asarray(arrays[i]) for i in diff]
    )

    def np_loss(arrs: list[np.ndarray]) -> float:
        return float(loss(jax.tree_util.tree_leaves(_numpy_run(oracle, split, arrs)), np))

    wide = [a.astype(np.float64) if np.issubdtype(a.dtype, np.inexact) else a for a in arrays]
    for k, i in enumerate(diff):
        g = np.asarray(grads[k])
        for pos in np.ndindex(arrays[i].shape):
            h = 1e-4 * max(1.0, abs(float(wide[i][pos])))
            plus = [a.copy() for a in wide]
            minus = [a.copy() for a in wide]
            plus[i][pos] += h
            minus[i][pos] -= h
            fd = (np_loss(plus) - np_loss(minus)) / (2 * h)
            if not np.isclose(g[pos], fd, rtol=rtol, atol=atol):
                raise AssertionError(
                    f"mutjax.testing: mode 'grad', gradient with respect to array argument "
                    f"{i} at element {_format_index(pos)}: expected {fd!r} (NumPy central "
                    f"difference), got {g[pos]!r} (jax.grad through mutjax)"
                )


def assert_matches_numpy(
    kernel: Callable[..., R],
    *args: Any,
    modes: Sequence[str] = MODES,
    grad: bool = False,
    reference: Callable[..., R] | None = None,
    batch: Sequence[Sequence[Any]] | None = None,
    batch_size: int = 3,
    rtol: float = 1e-5,
    atol: float = 1e-5,
    grad_rtol: float = 2e-2,
    grad_atol: float = 1e-3,
    seed: int = 0,
) -> R | None:
    """Assert that ``kernel`` gives NumPy's answer under mutjax in every mode.

    ``kernel`` (or ``reference``) is run once on copies of ``args`` as NumPy
    arrays (the oracle), then ``kernel`` under ``mutjax.mutable`` in each
    mode. Its return value and the final
    value of every argument (mutations included) must match NumPy's: same
    structure, shapes, dtypes (at the width JAX stores them) and values. The
    caller's arrays must not change. Array leaves of ``args`` (any pytree) are
    the kernel's inputs; every other leaf (ints, slices, index tuples) is
    passed as it is, so it stays static under ``jit``.

    Modes:

    - ``"eager"``: ``mutable(kernel)`` called directly;
    - ``"jit"``: under ``jax.jit``;
    - ``"vmap"``: under ``jax.vmap`` over a batch of inputs (``batch``, or
      ``batch_size`` variants of ``args``); each batch element is compared
      with NumPy run on that element;
    - ``"jit_vmap"``: ``jax.jit(jax.vmap(...))``.

    Args:
        kernel: a function written for NumPy arrays; it may mutate its
            arguments and return anything (arrays, tuples, None).
        *args: the inputs, NumPy or JAX arrays or pytrees containing them.
        modes: which of ``"eager"``, ``"jit"``, ``"vmap"``, ``"jit_vmap"`` to run;
            by default `MODES`, ``("eager", "jit", "vmap")``.
        grad: also compare ``jax.grad`` through mutjax with central
            differences of the NumPy kernel (in float64), element by element,
            for every floating-point array argument. The differentiated scalar
            is a fixed random weighting of all floating-point outputs and
            final arguments. Reported as mode ``"grad"``.
        reference: the NumPy oracle, when it cannot be ``kernel`` itself
            (a kernel using ``mutjax.fori_loop`` or other JAX-only code); it
            takes the same arguments and mutates them as ``kernel`` should.
            By default ``kernel`` runs on NumPy arrays.
        batch: for the vmap modes, the inputs of each batch element: a
            sequence of tuples, each holding the array leaves of ``args`` in
            order. By default example 0 is ``args`` and the others scale and
            shift its floating-point arrays (integer and boolean arrays are
            repeated, so index arrays stay valid).
        batch_size: the number of default batch elements.
        rtol: relative tolerance for floating-point values.
        atol: absolute tolerance for floating-point values.
        grad_rtol: relative tolerance of the gradient check.
        grad_atol: absolute tolerance of the gradient check.
        seed: seeds the weights of the gradient check.

    Returns:
        NumPy's result of ``kernel(*args)`` (of ``reference(*args)`` when
        given): what the kernel returns on NumPy arrays, for further checks;
        None when NumPy raised (and so did mutjax, in every mode).

    Raises:
        AssertionError: on the first disagreement, naming the mode, the output
            (the result or the final value of an argument), the element, the
            expected and the obtained value; or when mutjax raises where NumPy
            does not, or does not raise the exception type NumPy raises.
        ValueError: an unknown mode, or a vmap mode without array arguments.

    Example:
        ```python
        import numpy as np
        from mutjax.testing import assert_matches_numpy

        def smooth(u, passes):  # a NumPy kernel: mutates u, returns a scalar
            for _ in range(passes):
                u[1:-1] = 0.25 * u[:-2] + 0.5 * u[1:-1] + 0.25 * u[2:]
            return u.max()

        u = np.linspace(0.0, 1.0, 8, dtype=np.float32) ** 2
        assert_matches_numpy(smooth, u, 2)  # eager, jit and vmap
        assert_matches_numpy(smooth, u, 2, modes=("jit",), grad=True)

        def wrong(u):
            u[0] = 1.0 if isinstance(u, np.ndarray) else 2.0

        try:
            assert_matches_numpy(wrong, u, modes=("eager",))
        except AssertionError as err:
            message = str(err)
        assert "expected np.float32(1.0), got np.float32(2.0)" in message
        ```
    """
    for mode in modes:
        if mode not in _KNOWN_MODES:
            raise ValueError(f"mutjax.testing: unknown mode {mode!r}; choose from {_KNOWN_MODES}")
    oracle = kernel if reference is None else reference
    split = _Split(args)
    arrays = split.arrays()
    originals = [np.array(a) for a in arrays]
    try:
        expected = _numpy_run(oracle, split, arrays)
    except Exception as numpy_error:  # NumPy's error is the oracle
        _check_raises(kernel, split, arrays, modes, batch, batch_size, numpy_error)
        return None

    batched_expected = None
    for mode in modes:
        example_batch = None
        if mode in ("vmap", "jit_vmap"):
            if not arrays:
                raise ValueError("mutjax.testing: the vmap modes need at least one array argument")
            example_batch = (
                [list(map(np.asarray, ex)) for ex in batch]
                if batch is not None
                else _default_batch(arrays, batch_size)
            )
            if batched_expected is None:
                per_example = [_numpy_run(oracle, split, ex) for ex in example_batch]
                batched_expected = jax.tree_util.tree_map(
                    lambda *xs: np.stack([np.asarray(x) for x in xs]), *per_example
                )
        try:
            got = _run_mode(mode, kernel, split, arrays, example_batch)
        except Exception as e:
            raise AssertionError(
                f"mutjax.testing: mode {mode!r} raised {type(e).__name__}: {e}\n"
                "(NumPy ran the same kernel without error)"
            ) from e
        want = batched_expected if example_batch is not None else expected
        _compare(mode, _to_numpy(got), want, rtol, atol, batch=example_batch is not None)
        for k, (a, orig) in enumerate(zip(arrays, originals)):
            if not np.array_equal(a, orig, equal_nan=True):
                raise AssertionError(
                    f"mutjax.testing: mode {mode!r} changed the caller's array argument {k}"
                )
    if grad:
        _check_grad(kernel, oracle, split, arrays, expected, grad_rtol, grad_atol, seed)
    return expected[0]


def _check_raises(
    kernel: Callable[..., Any],
    split: _Split,
    arrays: list[np.ndarray],
    modes: Sequence[str],
    batch: Any,
    batch_size: int,
    numpy_error: Exception,
) -> None:
    """NumPy raised: every mode must raise the same exception type."""
    expected_type = type(numpy_error)
    # NumPy's UFuncTypeError and friends subclass TypeError / ValueError: the
    # builtin base is what user code catches and what mutjax promises.
    for base in (IndexError, TypeError, ValueError, KeyError):
        if issubclass(expected_type, base):
            expected_type = base
            break
    for mode in modes:
        example_batch = None
        if mode in ("vmap", "jit_vmap"):
            example_batch = batch if batch is not None else _default_batch(arrays, batch_size)
        try:
            _run_mode(mode, kernel, split, arrays, example_batch)
        except expected_type:
            continue
        except Exception as e:
            raise AssertionError(
                f"mutjax.testing: mode {mode!r} raised {type(e).__name__}: {e}\n"
                f"NumPy raised {type(numpy_error).__name__}: {numpy_error}"
            ) from e
        raise AssertionError(
            f"mutjax.testing: mode {mode!r} did not raise; NumPy raised "
            f"{type(numpy_error).__name__}: {numpy_error}"
        )
