"""Published loop kernels under ``mutjax.jit`` against the same kernels hand-written in JAX.

Each kernel of :mod:`benchmarks.loop_kernels` (NPBench's NumPy ports of
PolyBench/C 4.2.1 and one PolyBench/C loop nest, from ``tests/corpus``)
runs unchanged under NumPy, under ``mutjax.jit`` (Python loops converted to
compiled loops) and, when Numba is installed, under ``numba.njit``; its
anchor is the same algorithm hand-written with ``lax.fori_loop`` and
in-place updates (:mod:`benchmarks.loop_kernels.anchors`).
Every result is checked against NumPy's before any time is reported. The
anchor and mutjax are measured side by side, interleaved, in one process:
the first call (trace, compile and the first run, from a fresh function) and
the run time of the compiled function.

Run (from the repository root)::

    PYTHONPATH=. python benchmarks/loops_bench.py            # writes the JSON and the page
    PYTHONPATH=. python benchmarks/loops_bench.py --quick    # tiny sizes, one repetition

``--json PATH`` and ``--md PATH`` choose where the results go (a full run
defaults to ``benchmarks/loops_results.json`` and ``docs/loops-benchmark.md``,
a quick run writes nothing unless asked); ``--only lu,adi`` runs some kernels;
``--page-from benchmarks/loops_results.json`` renders the page from saved results.
"""

from __future__ import annotations

import argparse
import collections
import datetime
import json
import math
import os
import platform
import re
import statistics
import sys
import time
import types
import warnings
from collections.abc import Callable, Mapping
from typing import Any

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
if ROOT not in sys.path:
    sys.path.insert(0, ROOT)

import jax  # noqa: E402
import jax.numpy as jnp  # noqa: E402
import jaxlib  # noqa: E402
import numpy as np  # noqa: E402

import mutjax  # noqa: E402
from benchmarks import timing  # noqa: E402
from benchmarks.loop_kernels import CASES, Case  # noqa: E402

# The kernels the loop tests and the recorded program sizes import from here.
from benchmarks.loop_kernels.variants import (  # noqa: E402, F401
    lu_loops,
    match,
    nussinov_acc_loops,
    nussinov_loops,
    seidel_loops,
)
from tests.corpus import Kernel  # noqa: E402
from tests.corpus.harness import Oracle, compare, fresh, run_case  # noqa: E402

try:
    import numba
except ImportError:  # an optional, benchmark-only dependency: its columns say "-"
    numba = None

# Seconds of run-time calls per kernel (all versions together) past the first rounds.
BUDGET_S = 2.0

JSON_PATH = os.path.join(ROOT, "benchmarks", "loops_results.json")
PAGE_PATH = os.path.join(ROOT, "docs", "loops-benchmark.md")


# -- the three compiled versions of a case --------------------------------------------


def _outputs(kernel: Kernel, out: Any, final: Mapping[str, Any]) -> tuple[Any, ...]:
    """The kernel's result leaves, then the arguments it mutates: what every version returns."""
    return (*jax.tree_util.tree_leaves(out), *(final[n] for n in kernel.mutates))


def mutjax_version(case: Case) -> Callable[..., Any]:
    """``mutjax.jit(kernel)``, keeping the kernel's result and the arguments it mutates.

    ``mutjax.jit(f, return_argnames=names)`` is ``jax.jit(mutjax.mutable(f,
    loops=True, return_argnames=names))``; the selection lives inside the one
    ``jax.jit`` so that neither side returns arrays the other does not.
    """
    kernel = case.kernel
    names = tuple(kernel.mutates)
    f = mutjax.mutable(kernel.fn, loops=True, return_argnames=names or None)

    def run(**kw: Any) -> tuple[Any, ...]:
        got = f(**kw)
        # The call gives (result, *mutated), or only the mutated arguments
        # when the kernel returns None: one bare array, or a tuple one shorter.
        if not names:
            out, mutated = got, ()
        elif isinstance(got, tuple) and len(got) == len(names) + 1:
            out, mutated = got[0], got[1:]
        else:
            out, mutated = None, (got,) if len(names) == 1 else tuple(got)
        return _outputs(kernel, out, dict(zip(names, mutated)))

    return jax.jit(run, static_argnames=kernel.static)


def anchor_version(case: Case) -> Callable[..., Any]:
    """The hand-written anchor under ``jax.jit``, a fresh function each call."""
    anchor = case.anchor
    return jax.jit(lambda **kw: anchor(**kw), static_argnames=case.kernel.static)


def numba_version(case: Case) -> Callable[..., Any]:
    """``numba.njit`` on the published kernel and on the module functions it calls.

    Nussinov calls its module's ``match``: a Numba user decorates both, so the
    kernel is compiled with those functions ``njit``-ed in its globals.
    """
    fn = case.kernel.fn
    scope = dict(fn.__globals__)
    for name in fn.__code__.co_names:
        value = scope.get(name)
        if isinstance(value, types.FunctionType) and value.__module__ == fn.__module__:
            scope[name] = numba.njit(value)
    plain = types.FunctionType(fn.__code__, scope, fn.__name__, fn.__defaults__, fn.__closure__)
    return numba.njit(plain)


# -- checks against NumPy ------------------------------------------------------------------


def oracle(case: Case, args: Mapping[str, Any]) -> Oracle:
    outcome, value = run_case(case.kernel, "numpy", args)
    if outcome.status != "match":
        raise RuntimeError(f"{case.name}: NumPy raised: {outcome.detail}")
    return value


def check(case: Case, expected: Oracle, outputs: tuple[Any, ...], args: Mapping[str, Any]) -> str:
    """'' when ``outputs`` (result leaves, mutated arguments) match NumPy's, else what differs."""
    kernel = case.kernel
    e_out, e_args = expected.value
    leaves, tree = jax.tree_util.tree_flatten(e_out)
    n = len(leaves)
    if len(outputs) != n + len(kernel.mutates):
        return f"{len(outputs)} outputs, NumPy has {n} results and {len(kernel.mutates)} mutated"
    got_out = jax.tree_util.tree_unflatten(tree, [np.asarray(o) for o in outputs[:n]])
    got_args = {k: np.asarray(args[k]) for k in e_args}  # unmutated arguments stay as given
    got_args |= {k: np.asarray(v) for k, v in zip(kernel.mutates, outputs[n:])}
    why, _ = compare((got_out, got_args), expected, kernel.rtol, kernel.int_rtol)
    return why or ""


def device_args(case: Case, args: Mapping[str, Any]) -> dict[str, Any]:
    """The arguments as JAX arrays (static sizes stay Python ints): no transfer in the timings."""
    static = set(case.kernel.static)
    return {k: (v if k in static else jnp.asarray(v)) for k, v in args.items()}


# -- timing ------------------------------------------------------------------------------


def _block(x: Any) -> Any:
    return jax.block_until_ready(x)


def _timed(call: Callable[[], Any]) -> tuple[float, Any]:
    t0 = time.perf_counter()
    value = call()
    return time.perf_counter() - t0, value


def operations(f: Callable[..., Any], args: Mapping[str, Any]) -> collections.Counter[str]:
    """The operations of ``f``'s optimized XLA program for ``args``, counted by name."""
    text = f.lower(**args).compile().as_text()
    return collections.Counter(re.findall(r"= \S+ ([a-z][\w-]*)\(", text))


def first_calls(
    makers: Mapping[str, Callable[[], Callable[..., Any]]], args: Mapping[str, Any], n: int
) -> tuple[dict[str, list[float]], dict[str, Callable[..., Any]], dict[str, Any]]:
    """``n`` first calls of a fresh function per version, interleaved round by round."""
    times: dict[str, list[float]] = {k: [] for k in makers}
    last: dict[str, Callable[..., Any]] = {}
    outs: dict[str, Any] = {}
    for _ in range(n):
        for key, make in makers.items():
            f = make()
            t, outs[key] = _timed(lambda f=f: _block(f(**args)))
            times[key].append(t)
            last[key] = f
    return times, last, outs


# Run-time rounds per kernel: at least ``reps``, more while under the budget, at most this.
MAX_ROUNDS = 400


def numpy_run(case: Case, args: Mapping[str, Any], reps: int, budget_s: float) -> list[float]:
    """Run times of the kernel on NumPy arrays; the copies of its inputs are not timed.

    ``reps`` runs and more while under ``budget_s`` (50 at most); fewer, one
    at least, once four budgets are spent: NumPy's element-by-element loop
    nests take seconds a run.
    """
    times: list[float] = []
    while True:
        a = fresh(args)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            t, _ = _timed(lambda a=a: case.kernel.fn(**a))
        times.append(t)
        spent = sum(times)
        if len(times) >= 50 or spent >= 4 * budget_s or (len(times) >= reps and spent >= budget_s):
            return times


def _numba_reason(e: BaseException) -> str:
    """The line of a Numba error that names what it cannot compile."""
    text = re.sub(r"\x1b\[[0-9;]*m", "", str(e))
    lines = [ln.strip() for ln in text.splitlines() if ln.strip()]
    useful = [ln for ln in lines if not ln.startswith(("Failed in", "During:", "File "))]
    line = (useful or lines or [type(e).__name__])[0]
    return f"{type(e).__name__}: {line}"[:200]


def _numba_call(g: Callable[..., Any], args: Mapping[str, Any]) -> tuple[float, Any, dict]:
    """One timed call of a Numba dispatcher on fresh copies: (seconds, result, final arguments)."""
    a = fresh(args)
    with warnings.catch_warnings():
        # "np.dot() is faster on contiguous arrays": the published slices are what they are
        warnings.simplefilter("ignore", numba.NumbaPerformanceWarning)
        t, out = _timed(lambda: g(*a.values()))
    return t, out, a


def measure_numba(
    case: Case, args: Mapping[str, Any], expected: Oracle, compiles: int, reps: int, budget: float
) -> dict[str, Any]:
    if numba is None:
        return {"status": "not installed"}
    firsts: list[float] = []
    for _ in range(compiles):
        g = numba_version(case)  # a fresh dispatcher: it compiles on its first call
        try:
            t, out, final = _numba_call(g, args)
        except Exception as e:  # a kernel Numba cannot compile is a result to report
            return {"status": "fails", "reason": _numba_reason(e)}
        firsts.append(t)
    arrays = {k: v for k, v in final.items() if isinstance(v, np.ndarray)}
    why, _ = compare((out, arrays), expected, case.kernel.rtol, case.kernel.int_rtol)
    times: list[float] = []
    while len(times) < reps or (sum(times) < budget and len(times) < 50):
        times.append(_numba_call(g, args)[0])
    # A result that differs from NumPy's is timed too, and marked as differing.
    status = {"status": "differs", "reason": why} if why else {"status": "ok"}
    return {**status, "first_s": firsts, "run_s": times}


def case_size(case: Case, quick: bool) -> Mapping[str, Any]:
    """The corpus's test size in quick mode; else the case's own size or the published one."""
    return case.kernel.sizes["test"] if quick else (case.size or case.kernel.sizes["published"])


def measure(case: Case, quick: bool) -> dict[str, Any]:
    """Every column of one kernel's row; raises if the anchor or mutjax differ from NumPy."""
    kernel = case.kernel
    size = case_size(case, quick)
    compiles, reps, budget = (1, 1, 0.0) if quick else (3, 5, BUDGET_S)
    args = kernel.init(size)
    expected = oracle(case, args)
    dev = device_args(case, args)
    makers = {"hand": lambda: anchor_version(case), "mutjax": lambda: mutjax_version(case)}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", mutjax.LoopConversionWarning)
        firsts, funs, outs = first_calls(makers, dev, compiles)
    # The noise floor: the anchor compiled once more, timed beside the two. Its
    # program is the anchor's, so its ratio to the anchor is what the machine
    # alone makes of two equal programs.
    funs = {**funs, "hand_again": anchor_version(case)}
    outs["hand_again"] = _block(funs["hand_again"](**dev))
    for key, out in outs.items():
        why = check(case, expected, out, args)
        if why:
            raise AssertionError(f"{case.name} ({key}) differs from NumPy: {why}")
    calls = {k: (lambda f=f: _block(f(**dev))) for k, f in funs.items()}
    runs = timing.rounds(calls, reps, budget, MAX_ROUNDS)
    row: dict[str, Any] = {
        "kernel": case.label,
        "corpus_name": kernel.name,
        "size": dict(size),
        "size_note": "" if quick else case.size_note,
        "numpy_run_s": numpy_run(case, args, reps, budget),
    }
    for key in makers:
        row[key] = {"first_s": firsts[key], "run_s": runs[key]}
    row["hand_again"] = {"run_s": runs["hand_again"]}
    # Whether XLA runs for mutjax no operation the anchor's program lacks: the
    # same program then, and a run ratio that only the noise moves from 1.0x.
    extra = operations(funs["mutjax"], dev) - operations(funs["hand"], dev)
    row["extra_operations"] = dict(sorted(extra.items()))
    row["numba"] = measure_numba(case, args, expected, compiles, reps, budget)
    row["source"] = {
        "suite": kernel.source.suite,
        "version": kernel.source.version,
        "path": kernel.source.path,
        "license": kernel.source.license,
        "published": kernel.source.published,
    }
    summarise(row)
    return row


def summarise(row: dict[str, Any]) -> None:
    """Add the table's numbers: first call and run = medians; the ratios.

    ``noise_ratio`` is the anchor's second compile against the anchor: two
    equal programs, so its distance from 1.0 is the noise of this run.
    Medians of the interleaved rounds: over 400 rounds of two equal programs
    they stayed within 2% of each other here, where the best runs differed
    by up to 6%.
    """
    for key in ("hand", "mutjax", "numba", "hand_again"):
        entry = row[key]
        if "run_s" in entry:
            entry["run"] = statistics.median(entry["run_s"])
            entry["run_best"] = min(entry["run_s"])
        if "first_s" in entry:
            entry["first"] = statistics.median(entry["first_s"])
    row["numpy_run"] = min(row["numpy_run_s"])
    row["first_ratio"] = row["mutjax"]["first"] / row["hand"]["first"]
    row["run_ratio"] = row["mutjax"]["run"] / row["hand"]["run"]
    row["noise_ratio"] = row["hand_again"]["run"] / row["hand"]["run"]


def geomean(values: list[float]) -> float:
    return math.exp(sum(math.log(v) for v in values) / len(values))


# -- report ------------------------------------------------------------------------------


def _t(seconds: float | None) -> str:
    if seconds is None:
        return "-"
    if seconds >= 1.0:
        return f"{seconds:.2f} s"
    if seconds >= 1e-3:
        return f"{seconds * 1e3:.1f} ms"
    return f"{seconds * 1e6:.0f} µs"


def _program(r: Mapping[str, Any]) -> str:
    """ "anchor's" where mutjax's program has no operation the anchor's lacks."""
    extra = r["extra_operations"]
    n = sum(extra.values())
    return "anchor's" if not n else f"{n} op{'s' if n > 1 else ''} more"


def _size(size: Mapping[str, Any]) -> str:
    return ", ".join(f"{k}={v}" for k, v in size.items())


def table(results: dict[str, Any]) -> str:
    """Two tables, each narrow enough for a 1280-pixel page: mutjax beside the
    hand-written JAX kernels, then beside NumPy and Numba."""
    lines = [
        "| kernel | size | hand first | hand run | mutjax first | mutjax run "
        "| first mutjax/hand | run mutjax/hand | run hand/hand | program |",
        "|" + "---|" * 10,
    ]
    for r in results["kernels"]:
        cells = [
            r["kernel"],
            _size(r["size"]),
            _t(r["hand"]["first"]),
            _t(r["hand"]["run"]),
            _t(r["mutjax"]["first"]),
            _t(r["mutjax"]["run"]),
            f"{r['first_ratio']:.2f}x",
            f"{r['run_ratio']:.2f}x",
            f"{r['noise_ratio']:.2f}x",
            _program(r),
        ]
        lines.append("| " + " | ".join(cells) + " |")
    g = results["geomean"]
    lines.append(
        f"| **geomean** | | | | | | **{g['first_ratio']:.2f}x** | **{g['run_ratio']:.2f}x** | | |"
    )
    lines += [
        "",
        "The same runs beside NumPy and Numba (`numba.njit` on the published code):",
        "",
        "| kernel | NumPy run | mutjax run | Numba first | Numba run |",
        "|" + "---|" * 5,
    ]
    for r in results["kernels"]:
        nb = r["numba"]
        cells = [
            r["kernel"],
            _t(r["numpy_run"]),
            _t(r["mutjax"]["run"]),
            _t(nb.get("first")),
            _t(nb.get("run")) + (" (differs)" if nb["status"] == "differs" else ""),
        ]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


# Why Numba's answer may differ, where the kernel explains it.
NUMBA_WHY = {
    "durbin": (
        "Durbin's recurrence is ill-conditioned in 32 bits at N = 1000 (NumPy's own"
        " float32 answer is 0.6 x max|y| from its float64 one); Numba types the"
        " Python floats `beta = 1.0` and `alpha` as float64, a different rounding"
    ),
}


def numba_notes(results: dict[str, Any]) -> str:
    if results["meta"]["versions"]["numba"] == "not installed":
        return "- Numba was not installed for this run."
    notes = [
        f"- {r['kernel']}: {r['numba']['status']}"
        + (f" ({r['numba']['reason']})" if r["numba"].get("reason") else "")
        + (f". {NUMBA_WHY[r['corpus_name']]}." if r["corpus_name"] in NUMBA_WHY else "")
        for r in results["kernels"]
        if r["numba"]["status"] != "ok"
    ]
    return "\n".join(notes) if notes else "- Numba compiled every kernel."


def misses(results: dict[str, Any]) -> str:
    """The kernels over the goal (run above 1.0x, first call above 1.5x), and the noise floor.

    Ratios are compared as the table prints them, to two decimals.
    """
    lines = []
    for key, goal, what in (("run_ratio", 1.0, "run"), ("first_ratio", 1.5, "first call")):
        over = sorted(
            (r for r in results["kernels"] if round(r[key], 2) > goal),
            key=lambda r: r[key],
            reverse=True,
        )
        listed = (
            ", ".join(
                f"{r['kernel']} {r[key]:.2f}x"
                + (
                    " (the anchor's program)"
                    if key == "run_ratio" and not r["extra_operations"]
                    else ""
                )
                for r in over
            )
            or "none"
        )
        lines.append(f"- {what} (goal {goal:.1f}x): {listed}.")
    noise = [r["noise_ratio"] for r in results["kernels"]]
    lines.append(
        f"- The anchor against a second compile of itself (equal programs, the"
        f" noise of this run): {min(noise):.2f}x to {max(noise):.2f}x."
    )
    return "\n".join(lines)


def provenance(results: dict[str, Any]) -> str:
    lines = ["| kernel | published file | license | published sizes |", "|---|---|---|---|"]
    for r in results["kernels"]:
        s = r["source"]
        lines.append(
            f"| {r['kernel']} | {s['suite']}, {s['version']}: `{s['path']}` "
            f"| {s['license']} | {s['published'].replace(chr(39), '')}"
            + (f"; run at {r['size_note']}" if r.get("size_note") else "")
            + " |"
        )
    return "\n".join(lines)


PAGE = """# Loop benchmark: published kernels

How fast do published NumPy loop kernels run under `mutjax.jit`, unchanged,
against the same kernels written by hand in JAX with `lax.fori_loop` and
in-place updates? Each row is one PolyBench/C 4.2.1 kernel as NPBench ports
it to NumPy, at NPBench's published `S` size, run by
`benchmarks/loops_bench.py`; "Floyd-Warshall (C)" is PolyBench/C's own loop
nest, element by element, where NPBench's port calls `np.add.outer`. The
hand-written kernels (the anchors) are in `benchmarks/loop_kernels/anchors.py`.

{table}

The goal for mutjax: run time at most 1.0x the hand-written kernel's, and
first call at most 1.5x, for each kernel and in the geometric mean. Over it
in this run, and the run ratio two equal programs get here ("run hand/hand":
a ratio of mutjax's that far from 1.0 is noise):

{misses}

## What is measured

- **NumPy run**: the published kernel on NumPy arrays (copies of the inputs
  made outside the timer), best of at least {reps} runs (of one when a run
  takes seconds: the element-by-element Floyd-Warshall).
- **hand**: the anchor, the same loops as `lax.fori_loop` over the same
  bounds, static shapes, an element, row or block written with
  `lax.dynamic_update_slice` (what `x.at[i, j].set(v)` means; `.at[]` itself
  lowers to a scatter, which XLA's CPU backend runs slower in these loops:
  LU 3.4x, trmm 5.9x), a slice bounded by a loop index (`A[i, :j]`) read full width
  and masked with `jnp.where`, one write per element and iteration (a value
  the NumPy code updates several times is kept in a local first), under
  `jax.jit`.
- **mutjax**: the published kernel, unchanged, under
  `mutjax.jit(kernel, return_argnames=mutated)` (that is
  `jax.jit(mutjax.mutable(kernel, loops=True, return_argnames=mutated))`), keeping,
  inside the same `jax.jit`, the kernel's result and the arguments it
  mutates: what the anchor returns.
- **first**: one call of a fresh jitted function (trace, lower, compile and
  the first run), median of {compiles}; anchor and mutjax interleaved.
  mutjax converts a Python function's source once and caches it, so only
  the first of these calls pays for the conversion; the JSON keeps all of them.
- **run**: the compiled function on JAX arrays, median of at least {reps}
  calls (more while under {budget} s per kernel, at most {max_rounds}), anchor,
  mutjax and the anchor once more interleaved call by call, the order
  rotated each round; the JSON keeps every time and the best.
- **program**: "anchor's" where the optimized XLA program XLA runs for
  mutjax has no operation the anchor's lacks (counted by name: the same
  loop, perhaps less index arithmetic), else how many operations more. Such
  a kernel runs the anchor's program: its run ratio is 1.0x but for noise.
- **run hand/hand**: the noise floor. The anchor is compiled a second time,
  into a function of its own, and timed in the same rounds: its median run
  against the anchor's. Equal programs, so any distance from 1.0x is the
  machine's.
- **Numba**: `numba.njit` on the same published kernel (and on the module
  functions it calls: Nussinov's `match`), first call (compile and run)
  median of {compiles} fresh dispatchers, run median of at least {reps}. Numba is
  an optional benchmark dependency (`pip install -e '.[bench]'`); without
  it these columns say "-". Where Numba did not compile a kernel, or its
  result differs from NumPy's (the time is then marked "differs"):

{numba_notes}

Every output (the kernel's result and every argument it mutates) of the
anchor, of mutjax and of Numba is checked against NumPy's before a time is
recorded, with the corpus's tolerance (`tests/corpus/harness.py`); the run
stops if one differs. Inputs follow each benchmark's initialisation in 32-bit
types.

## Machine and versions

{machine}

Other processes shared the machine (the load average above); the
ratios compare the two sides measured interleaved in one process, and are
the numbers to read. Rerun with:

```bash
PYTHONPATH=. python benchmarks/loops_bench.py          # about {minutes} minutes here
PYTHONPATH=. python benchmarks/loops_bench.py --quick  # tiny sizes, one repetition
```

It writes `benchmarks/loops_results.json` and this page.

## Provenance

The kernels are those of the published-kernel corpus (`tests/corpus/`,
written for it by transcription, nothing copied), run unchanged:

{provenance}
"""


def _load(load: list[float]) -> str:
    return ", ".join(f"{x:.2f}" for x in load)


def machine(meta: Mapping[str, Any]) -> str:
    v = meta["versions"]
    return "\n".join(
        [
            f"- Measured {meta['date']} on {meta['processor']} ({meta['machine']}),"
            f" {meta['cores']} cores; JAX device: {meta['device']}.",
            f"- Load average (1, 5, 15 min): {_load(meta['load_before'])} before the run,"
            f" {_load(meta['load_after'])} after; the run took {meta['wall_s']:.0f} s.",
            f"- Python {v['python']}, JAX {v['jax']}, jaxlib {v['jaxlib']}, NumPy {v['numpy']},"
            f" Numba {v['numba']}, mutjax {v['mutjax']}.",
        ]
    )


def render_page(results: dict[str, Any]) -> str:
    meta = results["meta"]
    return PAGE.format(
        table=table(results),
        numba_notes=numba_notes(results),
        misses=misses(results),
        machine=machine(meta),
        provenance=provenance(results),
        compiles=meta["compiles"],
        reps=meta["reps"],
        budget=meta["budget_s"],
        max_rounds=meta.get("max_rounds", 50),
        minutes=max(1, round(meta["wall_s"] / 60)),
    )


def _processor() -> str:
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown CPU"


def run(names: list[str] | None, quick: bool) -> dict[str, Any]:
    cases = [c for c in CASES if names is None or c.name in names or c.label in names]
    load_before = [round(x, 2) for x in os.getloadavg()]
    t0 = time.perf_counter()
    rows = []
    for case in cases:
        rows.append(measure(case, quick))
        r = rows[-1]
        print(
            f"{r['kernel']:<15} first {r['mutjax']['first']:.3f} / {r['hand']['first']:.3f} s"
            f" = {r['first_ratio']:.2f}x   run {_t(r['mutjax']['run'])} / {_t(r['hand']['run'])}"
            f" = {r['run_ratio']:.2f}x (hand/hand {r['noise_ratio']:.2f}x)"
            f"   numba {r['numba']['status']}",
            flush=True,
        )
    meta = {
        "date": datetime.date.today().isoformat(),
        "quick": quick,
        "compiles": 1 if quick else 3,
        "reps": 1 if quick else 5,
        "budget_s": 0.0 if quick else BUDGET_S,
        "max_rounds": MAX_ROUNDS,
        "processor": _processor(),
        "machine": platform.machine(),
        "cores": os.cpu_count(),
        "device": jax.devices()[0].device_kind,
        "load_before": load_before,
        "load_after": [round(x, 2) for x in os.getloadavg()],
        "wall_s": time.perf_counter() - t0,
        "versions": {
            "python": platform.python_version(),
            "jax": jax.__version__,
            "jaxlib": jaxlib.__version__,
            "numpy": np.__version__,
            "numba": numba.__version__ if numba is not None else "not installed",
            "mutjax": getattr(mutjax, "__version__", "?"),
        },
    }
    geo = {
        "first_ratio": geomean([r["first_ratio"] for r in rows]),
        "run_ratio": geomean([r["run_ratio"] for r in rows]),
    }
    return {"meta": meta, "geomean": geo, "kernels": rows}


def _rounded(value: Any) -> Any:
    """Floats to four significant digits: the timings' noise is larger."""
    if isinstance(value, float):
        return float(f"{value:.4g}")
    if isinstance(value, dict):
        return {k: _rounded(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_rounded(v) for v in value]
    return value


def main(argv: list[str] | None = None) -> dict[str, Any]:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--quick", action="store_true", help="tiny sizes, one repetition")
    p.add_argument("--only", help="comma-separated kernels (corpus names or labels)")
    p.add_argument("--json", help="where the results go (JSON)")
    p.add_argument("--md", help="where the docs page goes (markdown)")
    p.add_argument("--page-from", help="render the page from this JSON; run nothing")
    opts = p.parse_args(argv)
    if opts.page_from:
        with open(opts.page_from) as f:
            results = json.load(f)
        with open(opts.md or PAGE_PATH, "w") as f:
            f.write(render_page(results))
        return results
    # Rounded before anything is written, so that the page renders from the JSON alone.
    results = _rounded(run(opts.only.split(",") if opts.only else None, opts.quick))
    print()
    print(table(results))
    full = not opts.quick and not opts.only
    json_path = opts.json or (JSON_PATH if full else None)
    md_path = opts.md or (PAGE_PATH if full else None)
    if json_path:
        with open(json_path, "w") as f:
            json.dump(results, f, indent=1)
            f.write("\n")
    if md_path:
        with open(md_path, "w") as f:
            f.write(render_page(results))
    return results


if __name__ == "__main__":
    main()
