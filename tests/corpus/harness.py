"""Run a corpus kernel under NumPy and under mutjax, and classify the outcome.

A mode is ``numpy`` (the oracle: the kernel on NumPy arrays), ``jit``
(``jax.jit(mutjax.mutable(f, return_argnames=arrays))``, ``arrays`` the
names of its array arguments), ``loops`` (the same with ``loops=True``) or
``eager`` (the same ``mutjax.mutable`` without ``jit``: every value is
concrete). The kernel's static arguments
(``Kernel.static``) are closed over with ``functools.partial``; every other argument is passed to the
jitted function by keyword. An outcome is ``match``, ``WRONG`` (it ran and
differs from NumPy without raising) or ``error`` (it raised; the exception's
type and first line are kept).

What is compared: every leaf of the kernel's result and every NumPy array
argument after the call (the mutated arguments), for shape, dtype and value.
Dtypes are NumPy's, or NumPy's after JAX's narrowing of 64-bit types
(``float64`` is ``float32`` without ``jax_enable_x64``, as documented for
mutjax). Floating
values match when ``max|got - expected| <= rtol * max|expected|`` over each
array (NaN and infinity where NumPy has them), integers and booleans exactly.
Some kernels are ill-conditioned in 32 bits (durbin at n = 1000: NumPy's
float32 answer is 0.6 x max away from its float64 one), so NumPy also runs
on the inputs widened to 64 bits, and a floating array also matches when it
is no further from that answer than four times NumPy's own 32-bit error.
"""

from __future__ import annotations

import functools
import statistics
import time
import warnings
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import jax
import numpy as np

import mutjax

from .registry import Kernel

MODES = ("numpy", "jit", "loops", "eager")


@dataclass
class Outcome:
    """The result of one kernel in one mode."""

    status: str  # "match", "WRONG", "error" (or "timeout", set by the benchmark)
    detail: str = ""  # the exception's first line, or what differs
    max_err: float | None = None  # largest scaled error over all compared arrays
    first_s: float | None = None  # first call: trace, compile and run
    steady_s: float | None = None  # median of the later calls
    notes: list[str] = field(default_factory=list)  # warnings raised while tracing

    def as_dict(self) -> dict[str, Any]:
        return {
            "status": self.status,
            "detail": self.detail,
            "max_err": self.max_err,
            "first_s": self.first_s,
            "steady_s": self.steady_s,
            "notes": self.notes,
        }


def fresh(args: Mapping[str, Any]) -> dict[str, Any]:
    """A copy of the arguments whose arrays the kernel may mutate."""
    return {k: np.array(v) if isinstance(v, np.ndarray) else v for k, v in args.items()}


def array_names(args: Mapping[str, Any]) -> list[str]:
    return [k for k, v in args.items() if isinstance(v, np.ndarray)]


def error_line(e: BaseException) -> str:
    lines = str(e).strip().splitlines()
    text = f"{type(e).__name__}: {lines[0] if lines else ''}".strip()
    return text if len(text) <= 240 else text[:237] + "..."


def _block(tree: Any) -> Any:
    return jax.tree_util.tree_map(
        lambda x: x.block_until_ready() if isinstance(x, jax.Array) else x, tree
    )


def numpy_runner(kernel: Kernel, args: Mapping[str, Any]) -> Callable[[], Any]:
    """A call of the kernel on NumPy arrays: returns (result, final arrays)."""
    names = array_names(args)

    def run() -> Any:
        a = fresh(args)
        out = kernel.fn(**a)
        return out, {n: a[n] for n in names}

    return run


def mutjax_runner(kernel: Kernel, mode: str, args: Mapping[str, Any]) -> Callable[[], Any]:
    """A call of the jitted mutjax kernel: returns (result, final arrays)."""
    static = {k: args[k] for k in kernel.static}
    dynamic = {k: v for k, v in args.items() if k not in static}
    names = array_names(args)
    f = mutjax.mutable(kernel.fn, loops=(mode == "loops"), return_argnames=names or None)
    g = functools.partial(f, **static)
    if mode != "eager":
        g = jax.jit(g)

    def run() -> Any:
        out, final = _split(g(**fresh(dynamic)), len(names))
        return _block(out), {n: _block(a) for n, a in zip(names, final)}

    return run


def _split(got: Any, n_arrays: int) -> tuple[Any, tuple[Any, ...]]:
    """(result, final arrays) from a call that selects ``n_arrays`` array arguments.

    The call returns ``(result, *arrays)``, or only the arrays when the
    kernel returns None: one bare array, or a tuple one shorter.
    """
    if not n_arrays:
        return got, ()
    if isinstance(got, tuple) and len(got) == n_arrays + 1:
        return got[0], got[1:]
    return None, (got,) if n_arrays == 1 else tuple(got)


def runner(kernel: Kernel, mode: str, args: Mapping[str, Any]) -> Callable[[], Any]:
    if mode == "numpy":
        return numpy_runner(kernel, args)
    if mode in ("jit", "loops", "eager"):
        return mutjax_runner(kernel, mode, args)
    raise ValueError(f"unknown mode {mode!r}; the modes are {MODES}")


# -- comparison -----------------------------------------------------------------


def _canonical(dtype: np.dtype) -> np.dtype:
    return np.dtype(jax.dtypes.canonicalize_dtype(dtype))


@dataclass
class Oracle:
    """NumPy's (result, final arrays), on the inputs and on the inputs widened to 64 bits."""

    value: Any
    value64: Any = None  # None when the widened run raised or there is nothing to widen


def widen(args: Mapping[str, Any]) -> dict[str, Any] | None:
    """The arguments with float32/complex64 arrays and scalars in 64 bits; None if none are."""
    wide = {np.dtype(np.float32): np.float64, np.dtype(np.complex64): np.complex128}
    out, changed = {}, False
    for k, v in args.items():
        dtype = getattr(v, "dtype", None)
        if isinstance(v, np.ndarray | np.generic) and dtype in wide:
            out[k] = np.asarray(v, dtype=wide[dtype])
            out[k] = out[k] if isinstance(v, np.ndarray) else out[k][()]
            changed = True
        else:
            out[k] = v
    return out if changed else None


def _scaled_error(g: np.ndarray, e: np.ndarray) -> tuple[float, tuple[int, ...]]:
    """max|g - e| / max|e| over e's finite positions, and where it is largest."""
    finite = np.isfinite(e)
    if not finite.any():
        return 0.0, ()
    diff = np.abs(np.where(finite, g - np.where(finite, e, 0), 0))
    scale = float(np.max(np.abs(e[finite])))
    idx = tuple(int(i) for i in np.unravel_index(int(np.argmax(diff)), e.shape))
    err = float(diff[idx])
    return (err / scale if scale > 0 else err), idx


def compare_array(
    got: Any, expected: Any, rtol: float, exact: Any = None, int_rtol: float = 0.0
) -> tuple[str | None, float]:
    """None and the scaled error when ``got`` matches ``expected``, else what differs.

    ``exact`` is NumPy's answer in 64 bits: where NumPy's own 32-bit answer is
    far from it (an ill-conditioned problem), ``got`` matches when it is no
    further from ``exact`` than four times NumPy's 32-bit error.
    """
    g = np.asarray(got)
    e = np.asarray(expected)
    if g.shape != e.shape:
        return f"shape {g.shape} != NumPy's {e.shape}", float("inf")
    if g.dtype not in (e.dtype, _canonical(e.dtype)):  # eagerly NumPy arrays stay NumPy's
        return f"dtype {g.dtype} != NumPy's {e.dtype}", float("inf")
    if e.size == 0:
        return None, 0.0
    if not np.issubdtype(e.dtype, np.inexact):
        if np.issubdtype(e.dtype, np.bool_) or int_rtol == 0:
            bad = int(np.count_nonzero(g != e))
            return (f"{bad} of {e.size} elements differ", float("inf")) if bad else (None, 0.0)
        err, idx = _scaled_error(g.astype(np.float64), e.astype(np.float64))
        if err <= int_rtol:
            return None, err
        return f"max error {err:.3g} x max|NumPy| at {idx}: {g[idx]} != NumPy's {e[idx]}", err
    wide = np.complex128 if np.iscomplexobj(e) else np.float64
    e, g = e.astype(wide), g.astype(wide)
    finite = np.isfinite(e)
    if not np.array_equal(e[~finite], g[~finite], equal_nan=True) or not np.all(
        np.isfinite(g[finite])
    ):
        return "NaN/inf where NumPy has none, or the reverse", float("inf")
    err, idx = _scaled_error(g, e)
    if err <= rtol:
        return None, err
    why = f"max error {err:.3g} x max|NumPy| at {idx}: {g[idx]} != NumPy's {e[idx]}"
    x = None if exact is None else np.asarray(exact)
    if x is not None and x.shape == e.shape and np.issubdtype(x.dtype, np.inexact):
        x = x.astype(wide)
        own, _ = _scaled_error(e, x)  # NumPy's 32-bit rounding error on this problem
        mine, _ = _scaled_error(g, x)
        if mine <= max(rtol, 4 * own):
            return None, err
        why += f" (64-bit NumPy: {mine:.3g} from it, NumPy's 32-bit {own:.3g})"
    return why, err


def compare(
    got: Any, expected: Oracle, rtol: float, int_rtol: float = 0.0
) -> tuple[str | None, float]:
    """Compare (result, final arrays) with NumPy's; None and the largest error when all match."""
    (g_out, g_args), (e_out, e_args) = got, expected.value
    g_leaves, g_tree = jax.tree_util.tree_flatten(g_out)
    e_leaves, e_tree = jax.tree_util.tree_flatten(e_out)
    if g_tree != e_tree:
        return f"result structure {g_tree} != NumPy's {e_tree}", float("inf")
    x_leaves: list[Any] = [None] * len(e_leaves)
    x_args: Mapping[str, Any] = {}
    if expected.value64 is not None:
        x_out, x_args = expected.value64
        leaves, tree = jax.tree_util.tree_flatten(x_out)
        x_leaves = leaves if tree == e_tree else x_leaves
    pairs = [
        (f"result[{i}]", g, e, x) for i, (g, e, x) in enumerate(zip(g_leaves, e_leaves, x_leaves))
    ]
    pairs += [(f"argument {n}", g_args[n], e_args[n], x_args.get(n)) for n in e_args]
    worst = 0.0
    for what, g, e, x in pairs:
        why, err = compare_array(g, e, rtol, x, int_rtol)
        if why is not None:
            return f"{what}: {why}", err
        worst = max(worst, err)
    return None, worst


# -- one case -------------------------------------------------------------------


def _timed(call: Callable[[], Any]) -> tuple[Any, float]:
    t0 = time.perf_counter()
    value = call()
    return value, time.perf_counter() - t0


def steady_time(call: Callable[[], Any], reps: int, budget_s: float) -> float:
    """Median of up to ``reps`` calls, stopping once ``budget_s`` is spent."""
    times: list[float] = []
    spent = 0.0
    while len(times) < reps and (not times or spent < budget_s):
        _, t = _timed(call)
        times.append(t)
        spent += t
    return statistics.median(times)


def run_case(
    kernel: Kernel,
    mode: str,
    args: Mapping[str, Any],
    expected: Any = None,
    *,
    reps: int = 0,
    budget_s: float = 2.0,
) -> tuple[Outcome, Any]:
    """Run ``kernel`` in ``mode``; compare with ``expected`` (NumPy's) unless mode is numpy.

    Returns the outcome and the value computed (None when it raised); for
    ``numpy`` that value is the :class:`Oracle` the other modes compare with.
    ``reps`` > 0 also measures the steady time of later calls.
    """
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            call = runner(kernel, mode, args)
            value, first = _timed(call)
        except Exception as e:  # every failure is an outcome to report
            return Outcome("error", error_line(e), notes=_notes(caught)), None
    if mode == "numpy":
        outcome = Outcome("match", first_s=first)
        value = Oracle(value, _widened_value(kernel, args))
    else:
        why, err = compare(value, expected, kernel.rtol, kernel.int_rtol)
        outcome = Outcome(
            "match" if why is None else "WRONG",
            "" if why is None else why,
            max_err=err,
            first_s=first,
        )
    outcome.notes = _notes(caught)
    if reps and outcome.status == "match":
        outcome.steady_s = steady_time(call, reps, budget_s)
    return outcome, value


def _widened_value(kernel: Kernel, args: Mapping[str, Any]) -> Any:
    wide = widen(args)
    if wide is None:
        return None
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return numpy_runner(kernel, wide)()
    except Exception:  # without it, the 32-bit answer is the only reference
        return None


def _notes(caught: list[warnings.WarningMessage]) -> list[str]:
    seen: list[str] = []
    for w in caught:
        if issubclass(w.category, mutjax.LoopConversionWarning | UserWarning):
            text = f"{w.category.__name__}: {str(w.message).splitlines()[0]}"[:240]
            if text not in seen:
                seen.append(text)
    return seen[:5]
