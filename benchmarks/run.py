"""Run every benchmark kernel under NumPy, ``.at[]`` JAX, ``jax.new_ref`` JAX and mutjax.

Usage (from the repository root)::

    python benchmarks/run.py            # full sizes: table, JSON, SVG, docs page
    python benchmarks/run.py --quick    # tiny sizes, a smoke run (used by the tests)
    python benchmarks/run.py --only lu,jacobi --reps 5

All variants of a kernel run in this one process, their repetitions
interleaved (repetition r runs the variants in an order rotated by r), and the
median is reported. Each variant's result is checked against NumPy's before it
is timed; a variant that raises or disagrees is reported as not available with
the reason. The memory kernel runs each variant in its own subprocess
(``benchmarks/memory.py``), since peak resident memory never goes down.

Beside its measurement, every kernel's first call is timed for each JAX
variant: trace and lower (``jax.jit(f).lower(*args)``), then XLA's compile
(``.compile()``), the median of three fresh compiles with JAX's caches
cleared before each and the kernel's functions made anew (mutjax keys its
caches on the function), the variants interleaved. Unrolled kernels (trace
and eager) are compiled at a smaller size (``Kernel.compile_sizes``): XLA
takes about half a minute for Gauss-Seidel's 484 unrolled updates.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import re
import statistics
import subprocess
import sys
import time
from typing import Any

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

import jax  # noqa: E402
import jax.extend  # noqa: E402
import jax.numpy as jnp  # noqa: E402
import numpy as np  # noqa: E402

from benchmarks import chart, report, timing  # noqa: E402
from benchmarks.kernels import KERNELS, VARIANTS, Kernel  # noqa: E402

# Within 5% counts as equal on a noisy machine, for the 1.0x goals.
TOLERANCE = 0.05
_ERROR_LINE = re.compile(r"^[\w.]+(Error|Exception)\b")


# mutjax's checkify hook on a traced index: it lowers to no operation at all.
NO_OP_PRIMITIVES = frozenset({"mutjax_index_check"})


def count_eqns(jaxpr: Any) -> int:
    """Equations of a jaxpr, counted recursively into every sub-jaxpr (loop bodies, jit calls).

    Markers that lower to no operation (``NO_OP_PRIMITIVES``) are not counted.
    """
    jaxpr = getattr(jaxpr, "jaxpr", jaxpr)
    total = 0
    for eqn in jaxpr.eqns:
        total += eqn.primitive.name not in NO_OP_PRIMITIVES
        for sub in jax.extend.core.jaxprs_in_params(eqn.params):
            total += count_eqns(sub)
    return total


def primitive_names(jaxpr: Any) -> set[str]:
    """Names of the primitives of a jaxpr and of all its sub-jaxprs."""
    jaxpr = getattr(jaxpr, "jaxpr", jaxpr)
    names = set()
    for eqn in jaxpr.eqns:
        names.add(eqn.primitive.name)
        for sub in jax.extend.core.jaxprs_in_params(eqn.params):
            names |= primitive_names(sub)
    return names


def _reason(e: BaseException) -> str:
    text = f"{type(e).__name__}: {e}".strip().splitlines()[0]
    return text if len(text) <= 160 else text[:157] + "..."


def _same(got: Any, expected: Any, rtol: float) -> bool:
    got, expected = np.asarray(got), np.asarray(expected)
    if got.shape != expected.shape or got.dtype != expected.dtype:
        return False
    if np.issubdtype(expected.dtype, np.inexact):
        return bool(np.allclose(got, expected, rtol=rtol, atol=rtol))
    return bool(np.array_equal(got, expected))


def _callable(kernel: Kernel, name: str, fn: Any, args: tuple[Any, ...]) -> Any:
    """A zero-argument call that performs one measured repetition."""
    if name == "numpy":
        return lambda: fn(*args)
    jargs = [jnp.asarray(a) for a in args]
    if kernel.kind == "runtime":
        jitted = jax.jit(fn)
        return lambda: jax.block_until_ready(jitted(*jargs))
    if kernel.kind == "trace":
        # make_jaxpr caches traces by function identity: a fresh wrapper per
        # repetition measures tracing, not a cache hit.
        return lambda: jax.make_jaxpr(lambda *a: fn(*a))(*jargs)
    return lambda: jax.block_until_ready(fn(*jargs))  # eager


# Repetitions past the first ``reps``: more while a kernel's calls (all its
# variants together) have taken under this many seconds, at most MAX_REPS.
# Eleven medians of a 10 ms kernel move by 10% from run to run here.
BUDGET_S = 3.0
MAX_REPS = 201


def measure_timed(kernel: Kernel, size: Any, reps: int, budget_s: float = 0.0) -> dict[str, Any]:
    args, variants = kernel.make(size)
    expected = variants["numpy"](*args)
    entries: dict[str, dict[str, Any]] = {}
    calls = {}
    # Extra variants (e.g. the .at[] code with NumPy's semantics for
    # duplicates) are measured alongside, for information.
    for name in [*VARIANTS, *(v for v in variants if v not in VARIANTS)]:
        fn = variants[name]
        entry: dict[str, Any] = {"status": "ok"}
        entries[name] = entry
        try:
            call = _callable(kernel, name, fn, args)
            t0 = time.perf_counter()
            out = call()
            entry["first_call_s"] = time.perf_counter() - t0
            if name != "numpy":
                jargs = [jnp.asarray(a) for a in args]
                closed = jax.make_jaxpr(fn)(*jargs)
                entry["eqns"] = count_eqns(closed)
                want = kernel.expect_primitive
                if name == "mutjax" and want and want not in primitive_names(closed):
                    entry["note"] = (
                        f"no {want} in mutjax's jaxpr: not the lowering the goal is about"
                    )
                if kernel.kind == "trace":
                    # Eagerly: XLA takes minutes to compile 484 unrolled scatters.
                    out = fn(*jargs)
            if not _same(out, expected, kernel.rtol):
                entry["matches_numpy"] = False
                if not (kernel.anchors_may_differ and name in kernel.anchors):
                    entry.update(status="not available", reason="result differs from NumPy's")
                    continue
            else:
                entry["matches_numpy"] = True
            calls[name] = call
        except Exception as e:  # a missing feature is reported, not fatal
            entry.update(status="not available", reason=_reason(e))
    for name, ts in timing.rounds(calls, reps, budget_s, MAX_REPS).items():
        entries[name].update(value=statistics.median(ts), min=min(ts), times=ts)
    return entries


def measure_memory(kernel: Kernel, size: Any) -> dict[str, Any]:
    script = os.path.join(ROOT, "benchmarks", "memory.py")
    entries: dict[str, dict[str, Any]] = {}
    for name in VARIANTS:
        try:
            proc = subprocess.run(
                [sys.executable, script, name, str(size)],
                capture_output=True,
                text=True,
                timeout=300,
                cwd=ROOT,
            )
            if proc.returncode != 0:
                errors = [ln for ln in proc.stderr.splitlines() if _ERROR_LINE.match(ln)]
                raise RuntimeError(errors[-1] if errors else f"exit status {proc.returncode}")
            got = json.loads(proc.stdout.strip().splitlines()[-1])
            if not got["ok"]:
                raise RuntimeError("result differs from NumPy's")
            extra = got["peak"] - got["baseline"]
            entries[name] = {
                "status": "ok",
                "value": extra / got["nbytes"],
                "peak_bytes": got["peak"],
                "baseline_bytes": got["baseline"],
                "extra_bytes": extra,
            }
        except Exception as e:  # a missing feature is reported, not fatal
            entries[name] = {"status": "not available", "reason": _reason(e)}
    return entries


# Fresh compiles per variant in a full run (a quick run does one); the
# median is reported.
COMPILE_REPS = 3


def _compile_args(kernel: Kernel, size: Any) -> tuple[list[Any], dict[str, Any]]:
    """Fresh variants and their arguments' shapes and dtypes (all that lowering needs)."""
    args, variants = kernel.make(size)
    if kernel.kind == "memory":
        # A memory kernel is made from an element count; its variants take
        # the array, which need not exist to be compiled for.
        (n,) = args
        return [jax.ShapeDtypeStruct((n,), jnp.float32)], variants
    canon = jax.dtypes.canonicalize_dtype
    return [jax.ShapeDtypeStruct(np.shape(a), canon(np.asarray(a).dtype)) for a in args], variants


def measure_compile(kernel: Kernel, size: Any, reps: int = COMPILE_REPS) -> dict[str, Any]:
    """First-call cost of each JAX variant: trace + lower, and XLA's compile (medians).

    Every variant but NumPy's is timed: mutjax, the anchors, and the extra
    variants (the ``.at[]`` code with NumPy's semantics for duplicates).
    ``ratio`` divides mutjax's first call by the best anchor's.

    Every repetition makes the kernel's functions anew and clears JAX's
    caches before each variant, so each measurement is a real trace and a
    real compile (a fresh ``jax.jit`` of a fresh function, no cache hit).
    """
    entries: dict[str, dict[str, Any]] = {}
    order: list[str] = []
    for r in range(reps):
        jargs, variants = _compile_args(kernel, size)
        if not order:
            order = [v for v in variants if v != "numpy"]
            entries = {v: {"status": "ok", "trace_lower": [], "compile": []} for v in order}
        k = r % len(order)
        for name in order[k:] + order[:k]:
            entry = entries[name]
            if entry["status"] != "ok":
                continue
            fn = variants[name]
            jax.clear_caches()
            try:
                t0 = time.perf_counter()
                lowered = jax.jit(lambda *a, fn=fn: fn(*a)).lower(*jargs)
                t1 = time.perf_counter()
                lowered.compile()
                t2 = time.perf_counter()
            except Exception as e:  # a missing feature is reported, not fatal
                entries[name] = {"status": "not available", "reason": _reason(e)}
                continue
            entry["trace_lower"].append(t1 - t0)
            entry["compile"].append(t2 - t1)
    for entry in entries.values():
        if entry["status"] == "ok":
            tl, co = entry.pop("trace_lower"), entry.pop("compile")
            totals = [a + b for a, b in zip(tl, co)]
            entry.update(
                trace_lower_s=statistics.median(tl),
                compile_s=statistics.median(co),
                value=statistics.median(totals),
                times=totals,
                compile_times=co,
            )
    result: dict[str, Any] = {"size": kernel.describe(size), "variants": entries}
    anchors = [a for a in kernel.anchors if entries.get(a, {}).get("status") == "ok"]
    mut = entries.get("mutjax", {})
    if anchors and mut.get("status") == "ok":
        best = min(anchors, key=lambda a: entries[a]["value"])
        result.update(best_anchor=best, ratio=mut["value"] / entries[best]["value"])
    else:
        result.update(best_anchor=None, ratio=None)
    return result


def _per_op(kernel: Kernel, size: Any) -> int:
    return int(size) if kernel.kind == "eager" else 1


def evaluate(kernel: Kernel, entries: dict[str, Any]) -> dict[str, Any]:
    """The ratio of mutjax to the best JAX anchor, and whether the goal is met."""
    result: dict[str, Any] = {"goal": kernel.goal, "limit": kernel.limit}
    mut = entries["mutjax"]
    if kernel.kind == "memory":
        result["best_anchor"] = None
        result["ratio"] = mut.get("value")
        result["met"] = None if mut["status"] != "ok" else mut["value"] < kernel.limit
        return result
    anchors = [a for a in kernel.anchors if entries[a]["status"] == "ok"]
    if not anchors:
        result.update(best_anchor=None, ratio=None, met=None)
        return result
    best = min(anchors, key=lambda a: entries[a]["value"])
    result["best_anchor"] = best
    if mut["status"] != "ok":
        result.update(ratio=None, met=None)
        return result
    ratio = mut["value"] / entries[best]["value"]
    slack = TOLERANCE if kernel.limit == 1.0 else 0.0
    met = None if "note" in mut else ratio <= kernel.limit * (1 + slack)
    result.update(ratio=ratio, met=met)
    if "min" in mut:
        # On a shared machine the fastest repetition is the least disturbed:
        # reported beside the medians' ratio, never instead of it.
        result["ratio_min"] = mut["min"] / min(entries[a]["min"] for a in anchors)
    return result


def run(
    names: list[str] | None, quick: bool, reps: int | None, compile_reps: int | None = None
) -> dict[str, Any]:
    mode = "quick" if quick else "full"
    load_before = os.getloadavg()
    t_start = time.time()
    kernels_out = []
    creps = compile_reps if compile_reps is not None else (1 if quick else COMPILE_REPS)
    for kernel in KERNELS:
        if names and kernel.name not in names:
            continue
        size = kernel.sizes[mode]
        per = _per_op(kernel, size)
        print(f"[{kernel.name}] {kernel.describe(size)} ...", file=sys.stderr, flush=True)
        if kernel.kind == "memory":
            entries = measure_memory(kernel, size)
        else:
            n = reps if reps is not None else (2 if quick else 11)
            entries = measure_timed(kernel, size, n, 0.0 if quick else BUDGET_S)
            for e in entries.values():
                for key in ("value", "min"):
                    if key in e:
                        e[key] /= per
        csize = (kernel.compile_sizes or kernel.sizes)[mode]
        kernels_out.append(
            {
                "name": kernel.name,
                "title": kernel.title,
                "kind": kernel.kind,
                "size": kernel.describe(size),
                "variants": entries,
                **evaluate(kernel, entries),
                "compile": measure_compile(kernel, csize, creps),
            }
        )
    try:
        affinity = len(os.sched_getaffinity(0))
    except AttributeError:
        affinity = os.cpu_count()
    meta = {
        "date": datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "mode": mode,
        "jax": jax.__version__,
        "jaxlib": jax.lib.__version__,
        "numpy": np.__version__,
        "python": platform.python_version(),
        "backend": jax.default_backend(),
        "device": str(jax.devices()[0].device_kind),
        "cores": os.cpu_count(),
        "cores_usable": affinity,
        "load_before": [round(x, 2) for x in load_before],
        "load_after": [round(x, 2) for x in os.getloadavg()],
        "wall_s": round(time.time() - t_start, 1),
        "commit": _git_commit(),
    }
    return {"meta": meta, "kernels": kernels_out}


def _git_commit() -> str | None:
    try:
        out = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True, cwd=ROOT
        )
        return out.stdout.strip() or None
    except OSError:
        return None


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--quick", action="store_true", help="tiny sizes, 2 repetitions")
    p.add_argument("--only", help="comma-separated kernel names")
    p.add_argument(
        "--reps",
        type=int,
        help=f"repetitions per variant at least (default 11, quick 2; a full run adds"
        f" more while under {BUDGET_S:g} s a kernel, at most {MAX_REPS})",
    )
    p.add_argument(
        "--compile-reps",
        type=int,
        help=f"fresh compiles per variant (default {COMPILE_REPS}, quick 1)",
    )
    p.add_argument("--json", default=os.path.join(ROOT, "benchmarks", "results.json"))
    p.add_argument("--svg", default=os.path.join(ROOT, "docs", "benchmarks.svg"))
    p.add_argument("--md", default=os.path.join(ROOT, "docs", "benchmarks.md"))
    a = p.parse_args(argv)
    names = a.only.split(",") if a.only else None
    results = run(names, a.quick, a.reps, a.compile_reps)
    print(report.table(results))
    for path in (a.json, a.svg, a.md):
        os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    with open(a.json, "w") as f:
        json.dump(results, f, indent=1)
    with open(a.svg, "w") as f:
        f.write(chart.svg(results))
    with open(a.md, "w") as f:
        svg = os.path.relpath(a.svg, os.path.dirname(a.md))
        f.write(report.markdown(results, svg, floor=report.load_floor()))
    print(f"wrote {a.json}, {a.svg}, {a.md}", file=sys.stderr)


if __name__ == "__main__":
    main()
