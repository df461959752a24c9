"""Converted loop bodies against the same loops written by hand with ``lax.fori_loop``.

Each published kernel (``tests/corpus``) runs unchanged under
``mutjax.jit`` (its Python loops become lax loops) beside a hand-written
version with the same loop structure: ``lax.fori_loop`` over the same
ranges, ``.at[]`` and ``lax.dynamic_slice`` for the reads and writes, and
``jnp.where`` masks for traced-bound slices, as an expert writes them with
static shapes. Both are timed in one process, interleaved, best of N, after
a first call that is timed on its own (trace, compile and run).

Run: ``PYTHONPATH=. python benchmarks/lean_bench.py [--quick] [--repeat N]``.
"""

from __future__ import annotations

import argparse
import dataclasses
import functools
import time
from collections.abc import Callable
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
from jax import lax

import mutjax
from tests.corpus import npbench_polybench as pb

# -- hand-written versions ----------------------------------------------------------


def _row(a: Any, i: Any, start: int, width: int) -> Any:
    """``a[i, start:start + width]`` at a traced row ``i``."""
    return lax.dynamic_slice(a, (i, start), (1, width))[0]


def _col(a: Any, j: Any, start: int, width: int) -> Any:
    """``a[start:start + width, j]`` at a traced column ``j``."""
    return lax.dynamic_slice(a, (start, j), (width, 1))[:, 0]


def _set_col(a: Any, j: Any, start: int, v: Any) -> Any:
    return lax.dynamic_update_slice(a, v[:, None], (start, j))


def _set_row(a: Any, i: Any, start: int, v: Any) -> Any:
    return lax.dynamic_update_slice(a, v[None, :], (i, start))


def adi_by_hand(TSTEPS: int, N: int, u: Any) -> Any:
    DX = 1.0 / N
    DY = 1.0 / N
    DT = 1.0 / TSTEPS
    mul1 = 2.0 * DT / (DX * DX)
    mul2 = 1.0 * DT / (DY * DY)
    a, b = -mul1 / 2.0, 1.0 + mul1
    c = a
    d, e = -mul2 / 2.0, 1.0 + mul2
    f = d
    m = N - 2
    z = jnp.zeros(u.shape, u.dtype)

    def step(t, st):
        u, v, p, q = st
        v = v.at[0, 1 : N - 1].set(1.0)
        p = p.at[1 : N - 1, 0].set(0.0)
        q = q.at[1 : N - 1, 0].set(v[0, 1 : N - 1])

        def fwd_v(j, pq):
            p, q = pq
            den = a * _col(p, j - 1, 1, m) + b
            p = _set_col(p, j, 1, -c / den)
            num = (
                -d * _row(u, j, 0, m)
                + (1.0 + 2.0 * d) * _row(u, j, 1, m)
                - f * _row(u, j, 2, m)
                - a * _col(q, j - 1, 1, m)
            )
            return p, _set_col(q, j, 1, num / den)

        p, q = lax.fori_loop(1, N - 1, fwd_v, (p, q))
        v = v.at[N - 1, 1 : N - 1].set(1.0)

        def back_v(k, v):
            j = N - 2 - k
            row = _col(p, j, 1, m) * _row(v, j + 1, 1, m) + _col(q, j, 1, m)
            return _set_row(v, j, 1, row)

        v = lax.fori_loop(0, N - 2, back_v, v)
        u = u.at[1 : N - 1, 0].set(1.0)
        p = p.at[1 : N - 1, 0].set(0.0)
        q = q.at[1 : N - 1, 0].set(u[1 : N - 1, 0])

        def fwd_u(j, pq):
            p, q = pq
            den = d * _col(p, j - 1, 1, m) + e
            p = _set_col(p, j, 1, -f / den)
            num = (
                -a * _col(v, j, 0, m)
                + (1.0 + 2.0 * a) * _col(v, j, 1, m)
                - c * _col(v, j, 2, m)
                - d * _col(q, j - 1, 1, m)
            )
            return p, _set_col(q, j, 1, num / den)

        p, q = lax.fori_loop(1, N - 1, fwd_u, (p, q))
        u = u.at[1 : N - 1, N - 1].set(1.0)

        def back_u(k, u):
            j = N - 2 - k
            col = _col(p, j, 1, m) * _col(u, j + 1, 1, m) + _col(q, j, 1, m)
            return _set_col(u, j, 1, col)

        u = lax.fori_loop(0, N - 2, back_u, u)
        return u, v, p, q

    return lax.fori_loop(1, TSTEPS + 1, step, (u, z, z, z))[0]


def seidel_by_hand(TSTEPS: int, N: int, A: Any) -> Any:
    w = N - 2

    def row(i, A):
        up, mid, dn = (_row(A, i + o, 0, N) for o in (-1, 0, 1))
        s = up[:-2] + up[1:-1] + up[2:] + mid[2:] + dn[:-2] + dn[1:-1] + dn[2:]
        A = _set_row(A, i, 1, mid[1:-1] + s)

        def col(j, A):
            return A.at[i, j].set((A[i, j] + A[i, j - 1]) / 9.0)

        return lax.fori_loop(1, N - 1, col, A)

    del w
    return lax.fori_loop(0, TSTEPS - 1, lambda t, A: lax.fori_loop(1, N - 1, row, A), A)


def _flip_prefix(x: Any, k: Any) -> Any:
    """``np.flip(x[:k])`` front-packed in a vector of ``x``'s size (zeros after)."""
    n = x.shape[0]
    rev = jnp.where(jnp.arange(n) < k, x, 0)[::-1]
    return lax.dynamic_slice(jnp.pad(rev, (0, n)), (n - k,), (n,))


def durbin_by_hand(r: Any) -> Any:
    n = r.shape[0]
    idx = jnp.arange(n)
    y = jnp.zeros_like(r).at[0].set(-r[0])

    def body(k, st):
        y, alpha, beta = st
        beta = beta * (1.0 - alpha * alpha)
        yk = jnp.where(idx < k, y, 0)
        alpha = -(r[k] + jnp.dot(_flip_prefix(r, k), yk)) / beta
        y = jnp.where(idx < k, y + alpha * _flip_prefix(y, k), y)
        return y.at[k].set(alpha), alpha, beta

    return lax.fori_loop(1, n, body, (y, -r[0], jnp.float32(1.0)))[0]


def lu_by_hand(A: Any) -> Any:
    n = A.shape[0]
    idx = jnp.arange(n)

    def row(i, A):
        # As benchmarks/masked_lu.py writes it: a masked sum of products.
        def lower(j, A):
            s = jnp.sum(jnp.where(idx < j, A[i, :] * A[:, j], 0))
            return A.at[i, j].set((A[i, j] - s) / A[j, j])

        def upper(j, A):
            s = jnp.sum(jnp.where(idx < i, A[i, :] * A[:, j], 0))
            return A.at[i, j].add(-s)

        A = lax.fori_loop(0, i, lower, A)
        return lax.fori_loop(i, n, upper, A)

    return lax.fori_loop(0, n, row, A)


def lu_pivot(A: Any) -> Any:
    """The main demo's kernel (examples/lu.py): LU with partial pivoting, NumPy code."""
    n = A.shape[0]
    perm = np.arange(n)
    for k in range(n - 1):
        p = abs(A[k:, k]).argmax() + k
        A[[k, p]] = A[[p, k]]
        perm[[k, p]] = perm[[p, k]]
        A[k + 1 :, k] /= A[k, k]
        A[k + 1 :, k + 1 :] -= A[k + 1 :, k : k + 1] * A[k : k + 1, k + 1 :]
    return perm


def lu_pivot_by_hand(A: Any) -> Any:
    n = A.shape[0]
    idx = jnp.arange(n)

    def body(k, st):
        A, perm = st
        p = jnp.argmax(jnp.where(idx >= k, jnp.abs(A[:, k]), -jnp.inf))
        rk, rp = A[k], A[p]
        A = A.at[k].set(rp).at[p].set(rk)
        pk, pp = perm[k], perm[p]
        perm = perm.at[k].set(pp).at[p].set(pk)
        below = idx > k
        colk = jnp.where(below, A[:, k] / A[k, k], A[:, k])
        A = A.at[:, k].set(colk)
        upd = jnp.where(below[:, None] & below[None, :], colk[:, None] * A[k][None, :], 0)
        return A - upd, perm

    return lax.fori_loop(0, n - 1, body, (A, jnp.arange(n)))


def jacobi_by_hand(TSTEPS: int, A: Any, B: Any) -> Any:
    def step(t, st):
        A, B = st
        B = B.at[1:-1, 1:-1].set(
            0.2 * (A[1:-1, 1:-1] + A[1:-1, :-2] + A[1:-1, 2:] + A[2:, 1:-1] + A[:-2, 1:-1])
        )
        A = A.at[1:-1, 1:-1].set(
            0.2 * (B[1:-1, 1:-1] + B[1:-1, :-2] + B[1:-1, 2:] + B[2:, 1:-1] + B[:-2, 1:-1])
        )
        return A, B

    return lax.fori_loop(1, TSTEPS, step, (A, B))


def fdtd_by_hand(TMAX: int, ex: Any, ey: Any, hz: Any, _fict_: Any) -> Any:
    def step(t, st):
        ex, ey, hz = st
        ey = ey.at[0, :].set(_fict_[t])
        ey = ey.at[1:, :].add(-0.5 * (hz[1:, :] - hz[:-1, :]))
        ex = ex.at[:, 1:].add(-0.5 * (hz[:, 1:] - hz[:, :-1]))
        hz = hz.at[:-1, :-1].add(-0.7 * (ex[:-1, 1:] - ex[:-1, :-1] + ey[1:, :-1] - ey[:-1, :-1]))
        return ex, ey, hz

    return lax.fori_loop(0, TMAX, step, (ex, ey, hz))


def floyd_warshall_by_hand(path: Any) -> Any:
    n = path.shape[0]

    def relax(k, path):
        return jnp.minimum(path, _col(path, k, 0, n)[:, None] + _row(path, k, 0, n)[None, :])

    return lax.fori_loop(0, n, relax, path)


# -- the table -------------------------------------------------------------------


def _corpus(name: str) -> Any:
    return next(k for k in pb.KERNELS if k.name == name)


# Per kernel: the hand-written version and what it returns, in order: the
# names of the arrays the kernel mutates, "return" for the kernel's result.
HAND: dict[str, tuple[Callable[..., Any], tuple[str, ...]]] = {
    "adi": (adi_by_hand, ("u",)),
    "seidel-2d": (seidel_by_hand, ("A",)),
    "durbin": (durbin_by_hand, ("return",)),
    "lu": (lu_by_hand, ("A",)),
    "jacobi-2d": (jacobi_by_hand, ("A", "B")),
    "fdtd-2d": (fdtd_by_hand, ("ex", "ey", "hz")),
    "floyd-warshall": (floyd_warshall_by_hand, ("path",)),
    "lu-pivot": (lu_pivot_by_hand, ("A", "return")),
}


@dataclasses.dataclass
class Case:
    """One kernel at one size: NumPy's function, its static and traced inputs."""

    label: str
    fn: Callable[..., Any]
    static: dict[str, Any]
    args: dict[str, Any]
    hand: Callable[..., Any]
    outputs: tuple[str, ...]

    def converted(self) -> Any:
        # `mutjax.jit(f)` is `jax.jit(mutable(f, loops=True))`; the static sizes
        # are bound after `mutable`, which needs the kernel's own module globals.
        f = mutjax.mutable(self.fn, loops=True, return_argnames=self._mutated() or None)
        return jax.jit(functools.partial(f, **self.static))

    def _mutated(self) -> list[str]:
        return [n for n in self.outputs if n != "return"]

    def by_hand(self) -> Any:
        return jax.jit(functools.partial(self.hand, **self.static))

    def numpy(self) -> list[np.ndarray]:
        args = {k: np.array(v) if isinstance(v, np.ndarray) else v for k, v in self.args.items()}
        out = self.fn(**self.static, **args)
        return [np.asarray(out if n == "return" else args[n]) for n in self.outputs]

    def pick_converted(self, got: Any) -> list[np.ndarray]:
        # The call gives (result, *mutated), or only the mutated arguments when
        # the kernel returns None: one bare array, or a tuple.
        names = self._mutated()
        if not names:
            out, mutated = got, ()
        elif isinstance(got, tuple) and len(got) == len(names) + 1:
            out, mutated = got[0], tuple(got[1:])
        else:
            out, mutated = None, (got,) if len(names) == 1 else tuple(got)
        kwargs = dict(zip(names, mutated, strict=True))
        return [np.asarray(out if n == "return" else kwargs[n]) for n in self.outputs]

    def pick_by_hand(self, got: Any) -> list[np.ndarray]:
        return [np.asarray(g) for g in (got if isinstance(got, tuple) else (got,))]


def cases(quick: bool) -> list[Case]:
    """Every kernel at its published size (``quick``: the corpus' test size)."""
    out = []
    for k in pb.KERNELS:
        if k.name in HAND:
            args = k.init(k.sizes["test" if quick else "published"])
            static = {s: args.pop(s) for s in k.static}
            out.append(Case(k.name, k.fn, static, args, *HAND[k.name]))
    n = 8 if quick else 200
    A = np.random.default_rng(0).standard_normal((n, n)).astype(np.float32)
    out.append(Case(f"lu-pivot (examples, n={n})", lu_pivot, {}, {"A": A}, *HAND["lu-pivot"]))
    return out


def check(case: Case) -> None:
    """Both versions give NumPy's result (relative error 1e-3 of the largest value)."""
    jargs = {k: jnp.asarray(v) if isinstance(v, np.ndarray) else v for k, v in case.args.items()}
    expected = case.numpy()
    for got in (
        case.pick_converted(case.converted()(**jargs)),
        case.pick_by_hand(case.by_hand()(**jargs)),
    ):
        for g, e in zip(got, expected, strict=True):
            scale = max(float(np.abs(e).max()), 1.0)
            assert g.shape == e.shape and np.abs(g - e).max() <= 1e-3 * scale, case.label


def _block(x: Any) -> Any:
    return jax.block_until_ready(x)


def measure(
    conv: Any, hand: Any, args: dict[str, Any], repeat: int
) -> tuple[float, float, float, float]:
    """(converted first call s, by hand first call s, converted best s, by hand best s)."""
    jargs = {k: jnp.asarray(v) if isinstance(v, np.ndarray) else v for k, v in args.items()}
    first = []
    for f in (conv, hand):
        t = time.perf_counter()
        _block(f(**jargs))
        first.append(time.perf_counter() - t)
    best = [float("inf"), float("inf")]
    for _ in range(repeat):
        for i, f in enumerate((conv, hand)):
            t = time.perf_counter()
            _block(f(**jargs))
            best[i] = min(best[i], time.perf_counter() - t)
    return first[0], first[1], best[0], best[1]


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="test sizes, 3 repeats")
    ap.add_argument("--repeat", type=int, default=20)
    ap.add_argument("--only", default="", help="kernels whose label contains this")
    opts = ap.parse_args(argv)
    repeat = 3 if opts.quick else opts.repeat
    print(f"device: {jax.devices()[0].device_kind}; best of {repeat}, interleaved")
    print(
        f"{'kernel':<28} {'mutjax ms':>10} {'by hand ms':>11} {'ratio':>6} {'first s mj/hand':>16}"
    )
    for case in cases(opts.quick):
        if opts.only not in case.label:
            continue
        if opts.quick:
            check(case)
        fc, fh, bc, bh = measure(case.converted(), case.by_hand(), case.args, repeat)
        print(
            f"{case.label:<28} {bc * 1e3:>10.3f} {bh * 1e3:>11.3f} {bc / bh:>6.2f} {fc:>7.2f}/{fh:.2f}"
        )


if __name__ == "__main__":
    main()
