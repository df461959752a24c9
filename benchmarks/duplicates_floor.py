"""What a deterministic last-write-wins scatter costs: each building block timed alone.

Usage (from the repository root)::

    python benchmarks/duplicates_floor.py            # 1M elements, 4M updates (about a minute)
    python benchmarks/duplicates_floor.py --quick    # tiny sizes, a smoke run

NumPy's ``x[idx] = v`` keeps the value written last at a repeated position;
XLA's scatter leaves the winner unspecified. Any lowering that is right by
construction must find, for every element, the last update writing it, with
an operation whose result does not depend on the order XLA applies updates
in: a reduction (scatter-max of positions, ``segment_max``) or a stable sort.
This script times each such building block and each whole construction in one
process, repetitions interleaved, every one divided by the raw
(nondeterministic) scatter of the values, which is the benchmark's anchor.
Every construction is checked against NumPy before it is timed. Two groups
run in subprocesses, each with its own raw scatter to divide by: the packed
64-bit construction (it needs ``jax_enable_x64``), and the one-scatter winner
table with glibc's malloc told to reuse big blocks (``REUSE_BIG_BLOCKS``),
which shows what the page faults of big fresh temporaries cost. Writes ``benchmarks/duplicates_floor.json``;
``benchmarks/report.py`` puts its table on the benchmarks page.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from typing import Any

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

import jax  # noqa: E402
import jax.numpy as jnp  # noqa: E402
import numpy as np  # noqa: E402
from jax import lax  # noqa: E402

import mutjax  # noqa: E402
from benchmarks import report  # noqa: E402
from mutjax import _duplicates  # noqa: E402

SIZES = {"full": (1 << 20, 1 << 22), "quick": (1000, 4000)}
JSON = os.path.join(ROOT, "benchmarks", "duplicates_floor.json")


def inputs(n: int, k: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The benchmark's ``scatter_dups`` inputs: ``x`` (n,), ``idx`` (k,) with repeats, ``v`` (k,)."""
    rng = np.random.default_rng(6)
    x = rng.random(n, dtype=np.float32)
    idx = rng.integers(0, n, k).astype(np.int32)
    v = rng.random(k, dtype=np.float32)
    return x, idx, v


def _positions(k: int) -> Any:
    return lax.iota(jnp.int32, k)


def _winners(n: int, idx: Any) -> Any:
    return jnp.full(n, -1, jnp.int32).at[idx].max(_positions(idx.shape[0]))


def winner_table(n: int, k: int) -> np.ndarray:
    """The true winner table of the inputs, by NumPy (whose ``x[idx] = v`` is last-wins)."""
    table = np.full(n, -1, np.int32)
    table[inputs(n, k)[1]] = np.arange(k, dtype=np.int32)
    return table


# name -> (what it is, function of (x, idx, v), whether its result is x[idx] = v).
# The building blocks compute only a part of the answer; the constructions
# compute all of it.
def blocks(n: int, k: int) -> dict[str, tuple[str, Callable[..., Any], bool]]:
    table = jnp.asarray(winner_table(n, k))

    def raw(x, idx, v):
        return x.at[idx].set(v)

    def raw_add(x, idx, v):
        return x.at[idx].add(v)

    def max_f32(x, idx, v):
        return x.at[idx].max(v)

    def max_i32(x, idx, v):
        return _winners(n, idx)

    def max_u16(x, idx, v):
        # 4M positions do not fit 16 bits: this times only the narrower table.
        pos = lax.convert_element_type(_positions(idx.shape[0]) >> 6, jnp.uint16)
        return jnp.zeros(n, jnp.uint16).at[idx].max(pos)

    def halves(x, idx, v):
        # Two independent scatter-maxes that two cores could run at once.
        h = idx.shape[0] // 2
        pos = _positions(idx.shape[0])
        a = jnp.full(n, -1, jnp.int32).at[idx[:h]].max(pos[:h])
        return jnp.maximum(a, jnp.full(n, -1, jnp.int32).at[idx[h:]].max(pos[h:]))

    def set_i32(x, idx, v):
        return jnp.full(n, -1, jnp.int32).at[idx].set(_positions(idx.shape[0]))

    def segment(x, idx, v):
        return jax.ops.segment_max(_positions(idx.shape[0]), idx, num_segments=n)

    def chunked_table(x, idx, v):
        # mutjax's winner table alone, scatter-maxed in chunks as on CPU.
        m = min(_duplicates.WINNER_CHUNK, idx.shape[0])

        def chunk(i, w):
            keys = lax.dynamic_slice_in_dim(idx, i * m, m)
            keys = jnp.where(keys < 0, keys + n, keys)
            return w.at[keys].max(_positions(m) + i * m, mode="drop")

        return lax.fori_loop(0, idx.shape[0] // m, chunk, jnp.full(n, -1, jnp.int32))

    def gather_dense(x, idx, v):
        # The dense lowering's second half, given the true winner table (a
        # constant here, so only the gather and the select are timed). Its
        # positions spread over all of v: 1M reads at random in 16 MiB.
        got = v.at[jnp.maximum(table, 0)].get(mode="promise_in_bounds")
        return jnp.where(table >= 0, got, x)

    def gather_local(x, idx, v):
        # The same gather with in-order positions: what the random reads cost.
        local = lax.iota(jnp.int32, n) * (idx.shape[0] // n)
        got = v.at[local].get(mode="promise_in_bounds")
        return jnp.where(table >= 0, got, x)

    def gather_sparse(x, idx, v):
        # The sparse lowering's extra read: each update looks up its winner.
        return x.at[idx].get(mode="promise_in_bounds")

    def dense(x, idx, v):
        # mutjax's lowering (mutjax._duplicates.dense_write) by hand.
        w = _winners(n, idx)
        got = v.at[jnp.maximum(w, 0)].get(mode="promise_in_bounds")
        return jnp.where(w >= 0, got, x)

    def winners_then_scatter(x, idx, v):
        w = _winners(n, idx)
        keep = w.at[idx].get(mode="promise_in_bounds") == _positions(idx.shape[0])
        return x.at[jnp.where(keep, idx, n)].set(v, mode="drop", unique_indices=True)

    def segment_then_gather(x, idx, v):
        w = jax.ops.segment_max(_positions(idx.shape[0]), idx, num_segments=n)
        got = v.at[jnp.maximum(w, 0)].get(mode="promise_in_bounds")
        return jnp.where(w >= 0, got, x)

    def lexicographic(x, idx, v):
        # One scatter-max of complex64 (position, value): JAX's complex max is
        # lexicographic, so the winner's value comes along and no gather is
        # needed. Exact while positions fit float32's 24-bit significand.
        pos = lax.convert_element_type(_positions(idx.shape[0]), jnp.float32)
        init = lax.complex(jnp.full(n, -1.0, jnp.float32), x)
        return lax.imag(init.at[idx].max(lax.complex(pos, v)))

    def mut(x, idx, v):
        x[idx] = v
        return x

    return {
        "raw": ("raw scatter of the values (`x.at[idx].set(v)`), the anchor", raw, False),
        "raw_add": ("scatter-add of the values", raw_add, False),
        "max_f32": ("scatter-max of the float32 values", max_f32, False),
        "set_i32": ("raw scatter of int32 positions", set_i32, False),
        "max_i32": ("scatter-max of int32 positions: the winner table", max_i32, False),
        "max_u16": ("scatter-max of uint16 (position >> 6): a 2x smaller table", max_u16, False),
        "halves": ("two half scatter-maxes + elementwise max", halves, False),
        "segment_max": ("`jax.ops.segment_max` of positions", segment, False),
        "chunked_table": (
            "the winner table alone, in 256K-update chunks (mutjax's on CPU)",
            chunked_table,
            False,
        ),
        "gather_dense": (
            "gather `v[table]` + select, one per element, the true table",
            gather_dense,
            False,
        ),
        "gather_local": (
            "the same gather + select with in-order positions",
            gather_local,
            False,
        ),
        "gather_sparse": ("gather `table[idx]`, one per update", gather_sparse, False),
        "dense": ("one winner-table scatter-max + gather + select", dense, True),
        "mutjax": (
            "`x[idx] = v` under `mutjax.mutable`: the table in 256K-update chunks",
            mutjax.mutable(mut),
            True,
        ),
        "segment_dense": ("`segment_max` + gather + select", segment_then_gather, True),
        "winners_scatter": (
            "winner table + gather `table[idx]` + unique scatter",
            winners_then_scatter,
            True,
        ),
        "lexicographic": (
            "scatter-max of complex64 (position, value), no gather",
            lexicographic,
            True,
        ),
    }


def sorts(n: int) -> dict[str, tuple[str, Callable[..., Any], bool]]:
    """The sort-based construction: seconds a call, so timed with few repetitions."""

    def sort_only(x, idx, v):
        return lax.sort((idx, _positions(idx.shape[0])), num_keys=1, is_stable=True)

    def sorted_last(x, idx, v):
        s_idx, s_pos = lax.sort((idx, _positions(idx.shape[0])), num_keys=1, is_stable=True)
        last = jnp.append(s_idx[1:] != s_idx[:-1], True)
        vals = v.at[s_pos].get(mode="promise_in_bounds")
        return x.at[jnp.where(last, s_idx, n)].set(
            vals, mode="drop", unique_indices=True, indices_are_sorted=True
        )

    return {
        "sort": ("stable `lax.sort` of (idx, position) alone", sort_only, False),
        "sorted": ("stable sort + last of each run + unique scatter", sorted_last, True),
    }


def packed(n: int) -> dict[str, tuple[str, Callable[..., Any], bool]]:
    """Under x64: one scatter-max of (position << 32 | value bits) words, then unpack."""

    def raw(x, idx, v):
        return x.at[idx].set(v)

    def pack(x, idx, v):
        bits = lax.convert_element_type(lax.bitcast_convert_type(v, jnp.uint32), jnp.int64)
        pos = lax.iota(jnp.int64, idx.shape[0])
        words = jnp.full(n, -1, jnp.int64).at[idx].max((pos << 32) | bits)
        low = lax.convert_element_type(words & 0xFFFFFFFF, jnp.uint32)
        return jnp.where(words >= 0, lax.bitcast_convert_type(low, jnp.float32), x)

    return {
        "raw_x64": ("raw scatter of the values, x64 on (the packed row's anchor)", raw, False),
        "packed_x64": (
            "scatter-max of int64 (position << 32 | value bits) + unpack, x64 on",
            pack,
            True,
        ),
    }


def measure(
    funs: dict[str, tuple[str, Callable[..., Any], bool]], size: tuple[int, int], reps: int
) -> dict[str, dict[str, Any]]:
    """Each jitted function's median wall and CPU seconds, repetitions interleaved.

    CPU time (the process's, all threads) is reported beside wall time: on a
    shared machine it is the steadier of the two, since waiting for a core
    is not counted.
    """
    x, idx, v = inputs(*size)
    expected = x.copy()
    expected[idx] = v
    jargs = [jnp.asarray(a) for a in (x, idx, v)]
    calls, out = {}, {}
    for name, (what, fn, complete) in funs.items():
        jitted = jax.jit(fn)
        got = jax.block_until_ready(jitted(*jargs))
        if complete and not np.array_equal(np.asarray(got), expected):
            raise AssertionError(f"{name} differs from NumPy's x[idx] = v")
        calls[name] = jitted
        out[name] = {"what": what, "complete": complete, "times": [], "cpu_times": []}
    order = list(calls)
    for r in range(reps):
        k = r % len(order)
        for name in order[k:] + order[:k]:
            t0, c0 = time.perf_counter(), time.process_time()
            jax.block_until_ready(calls[name](*jargs))
            out[name]["cpu_times"].append(time.process_time() - c0)
            out[name]["times"].append(time.perf_counter() - t0)
    for e in out.values():
        e.update(value=statistics.median(e["times"]), cpu=statistics.median(e["cpu_times"]))
    return out


# Big blocks reused by glibc's malloc instead of mapped afresh at every call
# (its default stops reusing blocks above 32 MiB).
REUSE_BIG_BLOCKS = {"MALLOC_MMAP_THRESHOLD_": str(1 << 30), "MALLOC_TRIM_THRESHOLD_": str(1 << 31)}


def _child(group: str, size: tuple[int, int], reps: int) -> dict[str, dict[str, Any]]:
    env = dict(os.environ, **(REUSE_BIG_BLOCKS if group == "reuse" else {}))
    proc = subprocess.run(
        [sys.executable, os.path.abspath(__file__), "--child", group, f"{size[0]},{size[1]}"]
        + ["--reps", str(reps)],
        capture_output=True,
        text=True,
        check=True,
        cwd=ROOT,
        env=env,
    )
    return json.loads(proc.stdout.strip().splitlines()[-1])


def reuse(n: int, k: int) -> dict[str, tuple[str, Callable[..., Any], bool]]:
    """Run with big blocks reused: what the one-scatter table costs without page faults."""
    b = blocks(n, k)
    return {
        f"{name}_reuse": (f"{b[name][0]}, big blocks reused", b[name][1], b[name][2])
        for name in ("raw", "max_i32", "chunked_table", "gather_dense", "dense", "mutjax")
    }


def _ratios(rows: dict[str, dict[str, Any]], anchor: dict[str, Any]) -> None:
    for e in rows.values():
        e["ratio"] = e["value"] / anchor["value"]
        e["cpu_ratio"] = e["cpu"] / anchor["cpu"]


def run(size: tuple[int, int], reps: int) -> dict[str, Any]:
    load_before = os.getloadavg()
    rows = measure(blocks(*size), size, reps)
    _ratios(rows, rows["raw"])
    # A sort takes seconds: a few repetitions, beside a raw scatter of their own.
    slow = measure({"raw": blocks(*size)["raw"], **sorts(size[0])}, size, 3)
    anchor = slow.pop("raw")
    _ratios(slow, anchor)
    rows.update(slow)
    for group, anchor in (("x64", "raw_x64"), ("reuse", "raw_reuse")):
        more = _child(group, size, reps)
        _ratios(more, more[anchor])
        rows.update(more)
    return {
        "size": list(size),
        "reps": reps,
        "jax": jax.__version__,
        "backend": jax.default_backend(),
        "cores": os.cpu_count(),
        "load_before": round(load_before[0], 2),
        "load_after": round(os.getloadavg()[0], 2),
        "rows": rows,
    }


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--quick", action="store_true", help="tiny sizes, 3 repetitions")
    p.add_argument("--reps", type=int, help="repetitions per operation (default 15, quick 3)")
    p.add_argument("--json", default=JSON)
    p.add_argument("--child", nargs=2, help=argparse.SUPPRESS)
    a = p.parse_args(argv)
    reps = a.reps if a.reps is not None else (3 if a.quick else 15)
    if a.child:
        group, size = a.child
        n, k = (int(s) for s in size.split(","))
        if group == "x64":
            jax.config.update("jax_enable_x64", True)
        print(json.dumps(measure((packed(n) if group == "x64" else reuse(n, k)), (n, k), reps)))
        return
    results = run(SIZES["quick" if a.quick else "full"], reps)
    print("\n".join(report.floor_table(results)))
    print(f"load average {results['load_before']} before / {results['load_after']} after")
    with open(a.json, "w") as f:
        json.dump(results, f, indent=1)
    print(f"wrote {a.json}", file=sys.stderr)


if __name__ == "__main__":
    main()
