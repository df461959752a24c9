"""Render benchmark results (the JSON written by ``run.py``) as a table and a docs page.

``python benchmarks/report.py [results.json] [docs/benchmarks.md]`` regenerates
the docs page from a saved JSON without running anything.
"""

from __future__ import annotations

import json
import os
import sys
from typing import Any

COLUMNS = ("numpy", "at", "ref", "mutjax")
HEADERS = (
    "kernel",
    "size",
    "measure",
    "NumPy",
    ".at[]",
    "new_ref",
    "mutjax",
    "mutjax/best",
    "by min",
    "1st call/best",
    "goal",
)
LABEL = {"numpy": "NumPy", "at": ".at[]", "ref": "new_ref", "mutjax": "mutjax"}
MEASURE = {
    "runtime": "jit runtime",
    "trace": "make_jaxpr time",
    "eager": "time per update",
    "memory": "peak RSS over baseline",
}


def fmt_value(kernel: dict[str, Any], entry: dict[str, Any]) -> str:
    """One variant's measurement, with its unit; ``n/a`` when not available."""
    if entry.get("status") != "ok":
        return "n/a"
    v = entry["value"]
    if kernel["kind"] == "memory":
        extra = entry["extra_bytes"]
        return f"{extra / 2**30:.2f} GiB" if extra >= 2**29 else f"{extra / 2**20:.0f} MiB"
    if v >= 1e-3:
        return f"{v * 1e3:.1f} ms"
    return f"{v * 1e6:.0f} us" if v >= 1e-5 else f"{v * 1e6:.2f} us"


def fmt_ratio(kernel: dict[str, Any]) -> str:
    r = kernel.get("ratio")
    if r is None:
        return "n/a"
    if kernel["kind"] == "memory":
        return f"{r:.2f}x array"
    return f"{r:.2f}x {'.at[]' if kernel['best_anchor'] == 'at' else 'new_ref'}"


def fmt_compile_ratio(kernel: dict[str, Any]) -> str:
    """mutjax's first call (trace, lower, compile) over the best anchor's."""
    c = kernel.get("compile") or {}
    if c.get("ratio") is None:
        return "n/a"
    return f"{c['ratio']:.2f}x {LABEL[c['best_anchor']]}"


def fmt_first_call(entry: dict[str, Any] | None) -> str:
    """Trace + lower, then compile: ``total (trace + compile)`` in milliseconds."""
    if not entry or entry.get("status") != "ok":
        return "n/a"
    return (
        f"{entry['value'] * 1e3:.0f} ms ({entry['trace_lower_s'] * 1e3:.0f} + "
        f"{entry['compile_s'] * 1e3:.0f})"
    )


def fmt_met(kernel: dict[str, Any]) -> str:
    met = kernel.get("met")
    return "not measured" if met is None else ("met" if met else "MISSED")


def rows(results: dict[str, Any]) -> list[list[str]]:
    out = []
    for k in results["kernels"]:
        cells = [k["name"], k["size"], MEASURE[k["kind"]]]
        cells += [fmt_value(k, k["variants"][c]) for c in COLUMNS]
        rmin = k.get("ratio_min")
        cells += [fmt_ratio(k), "" if rmin is None else f"{rmin:.2f}x", fmt_compile_ratio(k)]
        cells += [f"{k['goal']}: {fmt_met(k)}"]
        out.append(cells)
    return out


def _text_table(headers: tuple[str, ...], body: list[list[str]]) -> list[str]:
    widths = [max(len(r[i]) for r in [list(headers), *body]) for i in range(len(headers))]
    lines = ["  ".join(h.ljust(w) for h, w in zip(headers, widths))]
    lines.append("  ".join("-" * w for w in widths))
    return lines + ["  ".join(c.ljust(w) for c, w in zip(r, widths)) for r in body]


def table(results: dict[str, Any]) -> str:
    """Fixed-width text tables for the terminal: the measurements, then the first calls."""
    lines = _text_table(HEADERS, rows(results))
    lines.append(conditions(results["meta"]))
    lines += ["", "First call: total (trace + lower, XLA compile), medians of fresh compiles"]
    lines += _text_table(FIRST, first_rows(results))
    for k in results["kernels"]:
        for name, e in (k.get("compile") or {}).get("variants", {}).items():
            if e.get("status") != "ok":
                lines.append(f"  {k['name']}/{name} first call: not available: {e.get('reason')}")
        for name, e in k["variants"].items():
            if e.get("status") != "ok":
                lines.append(f"  {k['name']}/{name}: not available: {e.get('reason')}")
            elif e.get("matches_numpy") is False:
                lines.append(f"  {k['name']}/{name}: result differs from NumPy's (timed anyway)")
            if e.get("note"):
                lines.append(f"  {k['name']}/{name}: {e['note']}")
    return "\n".join(lines)


FIRST = ("kernel", "compiled at", ".at[]", "new_ref", "mutjax", "mutjax/best")


def first_rows(results: dict[str, Any]) -> list[list[str]]:
    """The first-call table: per JAX variant ``total ms (trace + lower, compile)``."""
    out = []
    for k in results["kernels"]:
        c = k.get("compile") or {}
        cells = [k["name"], c.get("size", "n/a")]
        cells += [fmt_first_call(c.get("variants", {}).get(v)) for v in COLUMNS[1:]]
        out.append([*cells, fmt_compile_ratio(k)])
    return out


def conditions(meta: dict[str, Any]) -> str:
    return (
        f"{meta['date']}, {meta['mode']} sizes; JAX {meta['jax']} (jaxlib {meta['jaxlib']}), "
        f"NumPy {meta['numpy']}, Python {meta['python']}, backend {meta['backend']} "
        f"({meta['device']}); {meta['cores']} cores ({meta['cores_usable']} usable), load "
        f"average {meta['load_before'][0]} before / {meta['load_after'][0]} after; "
        f"commit {meta['commit']}"
    )


def _md_row(cells: list[str]) -> str:
    return "| " + " | ".join(c.replace("|", "\\|") for c in cells) + " |"


# The page splits the terminal table in two, so that each fits a browser's
# content column: what was measured, then how it compares with the goal.
MEASURED = ("kernel", "size", "measure", "NumPy", ".at[]", "new_ref", "mutjax")
JUDGED = ("kernel", "goal", "mutjax/best", "by min", "1st call/best", "result")


def _md_table(headers: tuple[str, ...], body: list[list[str]]) -> list[str]:
    return [_md_row(list(headers)), _md_row(["---"] * len(headers)), *map(_md_row, body)]


def _md_tables(body: list[list[str]], first: list[list[str]]) -> list[str]:
    col = {h: i for i, h in enumerate(HEADERS)}
    judged = []
    for r in body:
        goal, _, result = r[col["goal"]].rpartition(": ")
        cells = {h: r[col[h]] for h in JUDGED[:-1]} | {"goal": goal, "result": result}
        judged.append([cells[h] for h in JUDGED])
    return [
        "Medians:",
        "",
        *_md_table(MEASURED, [[r[col[h]] for h in MEASURED] for r in body]),
        "",
        "Against the goals (1st call/best: mutjax's first call over the best anchor's):",
        "",
        *_md_table(JUDGED, judged),
        "",
        "First call, `jax.jit(f).lower(*args)` then `.compile()`: total (trace + lower, "
        "XLA compile), medians of three fresh compiles:",
        "",
        *_md_table(FIRST, first),
    ]


FLOOR_JSON = os.path.join(os.path.dirname(os.path.abspath(__file__)), "duplicates_floor.json")


def load_floor(path: str = FLOOR_JSON) -> dict[str, Any] | None:
    """The results of ``benchmarks/duplicates_floor.py``, or None if it has not run."""
    if not os.path.exists(path):
        return None
    with open(path) as f:
        return json.load(f)


def floor_table(floor: dict[str, Any]) -> list[str]:
    """The duplicates components (``benchmarks/duplicates_floor.py``) as Markdown rows."""
    lines = [
        "| operation | whole result | wall | / raw | CPU | / raw |",
        "| --- | --- | --- | --- | --- | --- |",
    ]
    for e in floor["rows"].values():
        lines.append(
            _md_row(
                [
                    e["what"],
                    "yes" if e["complete"] else "part",
                    f"{e['value'] * 1e3:.1f} ms",
                    f"{e['ratio']:.2f}x",
                    f"{e['cpu'] * 1e3:.1f} ms",
                    f"{e['cpu_ratio']:.2f}x",
                ]
            )
        )
    return lines


def duplicates_section(floor: dict[str, Any] | None) -> list[str]:
    """The page's section on the cost of deterministic duplicates, with the measured components."""
    lines = ["## Why duplicates cost what they cost", "", _DUPLICATES, ""]
    if floor is None:
        return lines + ["(Run `python benchmarks/duplicates_floor.py` for the table.)", ""]
    n, k = floor["size"]
    return lines + [
        f"Measured by `python benchmarks/duplicates_floor.py` ({n:,} elements, {k:,} updates; "
        f"JAX {floor['jax']}, {floor['backend']}, {floor['cores']} cores, load average "
        f"{floor['load_before']} before / {floor['load_after']} after), medians of "
        f"{floor['reps']} interleaved repetitions; CPU time is the process's, all threads:",
        "",
        *floor_table(floor),
        "",
    ]


def markdown(
    results: dict[str, Any], svg_path: str = "benchmarks.svg", floor: dict[str, Any] | None = None
) -> str:
    """The docs page, generated from the results (do not edit the page by hand)."""
    meta = results["meta"]
    lines = [
        "# Benchmarks",
        "",
        "<!-- Generated by benchmarks/run.py (or benchmarks/report.py) from "
        "benchmarks/results.json; do not edit by hand. -->",
        "",
        "mutjax against hand-written JAX, side by side in one process. Run it with",
        "",
        "```bash",
        "python benchmarks/run.py           # full sizes (a few minutes)",
        "python benchmarks/run.py --quick   # tiny sizes, a smoke run",
        "```",
        "",
        f"**Conditions:** {conditions(meta)}.",
        "",
        *_md_tables(rows(results), first_rows(results)),
    ]
    lines += ["", f"![mutjax and JAX anchors relative to the best JAX anchor]({svg_path})", ""]
    missing = []
    for k in results["kernels"]:
        for name, e in k["variants"].items():
            if e.get("status") != "ok":
                missing.append(f"- `{k['name']}` / {name}: not available: {e.get('reason')}")
            elif e.get("matches_numpy") is False:
                missing.append(
                    f"- `{k['name']}` / {name}: result differs from NumPy's "
                    "(a raw scatter leaves the winner among duplicates unspecified); timed anyway"
                )
    for k in results["kernels"]:
        for name, e in k["variants"].items():
            if name not in COLUMNS and e.get("status") == "ok":
                lines += [
                    f"Also measured for `{k['name']}`: `{name}` (see `benchmarks/kernels.py`) "
                    f"{fmt_value(k, e)}, {e['value'] / k['variants']['at']['value']:.2f}x "
                    "the raw `.at[]` anchor.",
                    "",
                ]
        if k["kind"] == "eager":
            first = [
                f"{LABEL[c]} {k['variants'][c]['first_call_s'] * 1e3:.0f} ms"
                for c in COLUMNS
                if "first_call_s" in k["variants"][c]
            ]
            lines += [
                f"First eager call of `{k['name']}` ({k['size']}), compilation included: "
                + ", ".join(first)
                + ". The table shows the median of the later calls.",
                "",
            ]
    for k in results["kernels"]:
        for name, e in k["variants"].items():
            if e.get("note"):
                missing.append(f"- `{k['name']}` / {name}: {e['note']}; goal not judged")
    if missing:
        lines += [
            "## Not available, not NumPy's answer, or not the lowering meant",
            "",
            *missing,
            "",
        ]
    eq = [
        f"| {k['name']} | "
        + " | ".join(str(k["variants"][c].get("eqns", "n/a")) for c in COLUMNS[1:])
        + " |"
        for k in results["kernels"]
        if k["kind"] != "memory"
    ]
    lines += [
        "## Jaxpr size",
        "",
        "Equations, counted recursively into every sub-jaxpr (loop bodies, `jit` calls),",
        "except mutjax's checkify hook `mutjax_index_check`, which lowers to no operation:",
        "",
        "| kernel | .at[] | new_ref | mutjax |",
        "| --- | --- | --- | --- |",
        *eq,
        "",
    ]
    lines += [_METHOD, *duplicates_section(floor)]
    return "\n".join(lines)


_METHOD = """## Method

- Every variant of a kernel runs in the same process. Each is first called
  once (compilation, warm-up) and its result is compared with NumPy's; a
  variant that raises or disagrees is reported as not available, with the
  reason, and not timed. Then the repetitions are interleaved: repetition r
  runs the variants in an order rotated by r; at least 11, and more while a
  kernel's calls have taken under 3 s, up to 201 (eleven medians of a 10 ms
  kernel moved by 10% from run to run). The table shows medians.
- **runtime**: a `jax.jit` call including `block_until_ready`, compiled
  beforehand. **trace**: one `jax.make_jaxpr` of the unrolled kernel.
  **eager**: the whole kernel without `jit`, divided by its number of updates.
  **memory**: each variant in a fresh subprocess; JAX is warmed up on a tiny
  array, the resident-set peak (`ru_maxrss`) is read as the baseline, then a
  `jit(..., donate_argnums=0)` call updating 1,024 elements of the big array
  runs twice; the table shows the peak minus the baseline. The goal "peak
  memory below 1.2 GiB" for the 1 GiB array is judged on that increase (the
  Python interpreter and JAX runtime themselves take a few hundred MiB that
  no variant can avoid); absolute peaks are in the JSON.
- **first call**: for every JAX variant, `jax.jit(f).lower(*args)` (trace
  and lower) and then `.compile()` (XLA), timed apart; the median of three
  fresh compiles, JAX's caches cleared and the kernel's functions made anew
  before each, the variants interleaved. The unrolled kernels (Gauss-Seidel,
  eager) are compiled at a smaller size, given in the table: XLA takes about
  half a minute for 484 unrolled updates. **1st call/best** divides mutjax's
  first call by the best anchor's.
- **mutjax/best** divides mutjax's median by the best (smallest) JAX anchor
  that can express the kernel and gives NumPy's answer: `.at[]` or
  `jax.new_ref`. For the trace-time goal the anchor is `.at[]` only; for the
  duplicates kernel it is the raw (non-deterministic) `.at[].set` scatter.
  Runtime goals of 1.0x count as met within 5%, since repetitions on a
  noisy machine vary by more. **by min** is the same ratio between the fastest
  repetitions: on a shared machine the least disturbed run; the goals are
  judged on the medians.
- The kernels are written the way each style's user would write them; the
  same algorithm in every variant (see `benchmarks/kernels.py`). LU runs its
  elimination in a `fori_loop` with a traced step `k`, so it uses masks
  instead of the shrinking slices of the NumPy version, and swaps rows through
  a copied row (`row = A[k].copy(); A[k] = A[p]; A[p] = row`), which is what a
  JAX expert writes with `.at[]` too. Edit distance fills the table row by row;
  the horizontal moves of a row are a running minimum (`lax.cummin`).

## Reading the numbers (measured 2026-11-25 on 2 shared cores)

- With other jobs on the same 2 cores, repetitions of one variant vary by
  +-30%; a ratio within about 15% of 1.0 is not a difference. The compiled
  programs settle it: for Jacobi, LU and edit distance, the optimized HLO of
  mutjax has the same operations as the `.at[]` version's (Jacobi: as
  `jax.new_ref`'s too), and prefix sum's jaxpr is the `.at[]` jaxpr.
- A write at a traced index: `.at[i].set` is one scatter; `jax.new_ref`
  lowers it to a bare `dynamic_update_slice` (which clamps an out-of-bounds
  index); mutjax emits the same window scatter as `.at[]` (`mode="drop"`),
  or, when the index is a loop index known to be in bounds (`mutjax._ranges`),
  the bare `dynamic_update_slice` with nothing to normalize or drop. Its
  jaxpr is never larger than `.at[]`'s (see the jaxpr table and
  `tests/test_benchmarks.py`): 10/57/29 equations for prefix sum/LU/edit
  distance against `.at[]`'s 22/98/44. Where the index is not known to be
  in bounds, the write stays one scatter, and XLA's CPU scatter of one
  element is slower than a bare update: lowered that way, prefix sum ran
  at 1.09x `jax.new_ref` (19/84/38 equations) instead of about 0.6x.
- Gauss-Seidel trace time: profiled with cProfile. Of mutjax's time, about
  40% went to the five reads per update (a `slice` and a `reshape` each,
  0.15 ms per read). A cell now remembers the scalars read or written at
  static positions of its current value (`Cell.element`), so each element
  is sliced once per sweep and later reads reuse it: about 0.6x `.at[]`
  with it, 0.85-0.90x without, and 176 equations at the test size instead
  of 272.
- Deterministic duplicates: see "Why duplicates cost what they cost" below.
- The eager kernel also profits from known elements: `x[i - 1]` read right
  after `x[i - 1]` was written costs nothing (42 equations instead of 60).

## Choices

- The sizes are those the goals were set for. Compiled on a CPU, some of
  them (prefix sum, Jacobi) run in milliseconds, not a fraction of a second;
  medians of interleaved repetitions still separate the variants. `--quick` uses tiny sizes and is a
  smoke test only: its numbers mean nothing.
- The eager kernel is a first-order recurrence, `x[i] = 0.5 * x[i - 1] + 1`,
  so that no vectorized form or accumulating `.at[].add` can stand in for it.
  Its first call (compilation included) is reported next to the table: a
  user's eager loop usually runs once.
- Gauss-Seidel is one 5-point sweep of a 24 x 24 grid (484 scalar updates),
  a trace-time test: every update is unrolled. Its correctness check runs the
  variants eagerly, since XLA needs minutes to compile 484 unrolled scatters.
- `jax.new_ref` expresses every kernel here; a Ref does not broadcast a
  scalar on assignment, so its memory variant assigns a filled array.
- The tests (`tests/test_benchmarks.py`) check, at small sizes, that every
  kernel's mutjax result equals NumPy's and that its jaxpr has no more
  equations than the `.at[]` version, counted recursively for both. For the
  duplicates kernel the `.at[]` version with NumPy's semantics (a hand-written
  winner table, `at_same_semantics` in `benchmarks/kernels.py`) is the
  reference, since a raw scatter is not deterministic. The tests never time
  anything.
"""


_DUPLICATES = """NumPy's `x[idx] = v` keeps the value written last at a repeated
position; XLA's scatter leaves the winner unspecified, so the raw `.at[].set`
anchor is not NumPy's answer. mutjax never relies on the order in which a
scatter applies its updates. Its result needs two operations:

1. an order-independent reduction that finds, for every element, the last
   update writing it: a scatter-max of update positions into a winner table
   (int32, one entry per element);
2. the winners' values: one gather `v[table]` and a select with the old
   values where no update landed (the dense path, at least one update per
   four elements; no scatter of values runs at all).

The floor is the sum of those two, against the anchor's one scatter, and
mutjax's compiled program is just that: a fill of the table, a loop of
scatter-maxes, and one fused gather and select (read with `as_text()` of the
compiled HLO; nothing else runs). Each piece alone (table below; the rows
"big blocks reused" are the steadiest): the table costs about what the raw
scatter costs (0.9-1.1x; the raw scatter stores, the table reads, compares and
stores). The gather is dearer than it looks: the winners' positions spread
over all 4M updates (the last of about four writes, so mostly late ones),
and 1M reads at random out of the 16 MiB of `v` cost 0.3-0.5x the raw
scatter, against 0.1x for the same gather and select with in-order
positions. (An earlier stand-in table, the first 1M indices, put the gather
at a fifth.) So the floor on two cores is 1.2-1.4x, and `x[idx] = v`
measures there: 1.2-1.5x by the fastest call, and 1.2-1.55x by CPU time,
in seven interleaved runs on 2 shared cores (load average 1-8). Medians
over eleven calls move between 0.8x and 1.8x on a loaded machine, a
spread of the machine, not of the lowering: a program identical to
mutjax's, written by hand and timed beside it, differed from it by as
much.

What cost the one-scatter table 2.5x was memory, not the reduction: its
scatter needs the normalized keys (negative indices wrapped) and the
positions of all 4M updates at once, two 16 MiB temporaries, and XLA's CPU
runtime allocates temporaries at every call; above 32 MiB glibc's malloc
maps fresh pages each time, and their first-touch page faults double the
time. A raw scatter of int32 positions, with no max at all, costs as much as
the scatter-max; run with `MALLOC_MMAP_THRESHOLD_` raised the scatter-max is
back at the raw scatter's cost. `segment_max` escapes only because it does
not wrap negative indices (it drops them), which NumPy's semantics forbid.
So on CPU, for many updates, mutjax scatter-maxes the table in a loop over
chunks of 256K updates (`lax.platform_dependent`; one scatter on other
backends): every temporary stays at 1 MiB (5 MiB in all with the table,
against the raw scatter's 16 MiB), and max does not depend on the chunks'
order either. Max is also idempotent, so when the updates are not a whole
number of chunks the last chunk ends at the last update and overlaps the
one before, instead of a remainder scatter after the loop: one body
compiles, and with 4M + 1000 updates lowering and compiling take 157 ms of
CPU instead of 213 ms (medians of seven), the calls as fast as before. The
chunks share the updates evenly, rounded up to 1024 (so fewer than 1024 per
step are scatter-maxed twice): an unrounded share, 246,783 updates, made the
loop 2.5x slower. The first call still pays for the loop: about 110 ms of
compile against the raw scatter's 40 ms (each kernel, the loop's three and
its counter and test, is compiled on its own).

Rejected constructions: a stable sort of (index, position) takes seconds;
a scatter of packed 64-bit words (position << 32 | value bits) with max
needs `jax_enable_x64` and is slower than the table; a complex64
scatter-max (JAX's complex max is lexicographic, so the value rides along
with its position) makes XLA call a general comparator per update; the
table followed by a unique scatter of the winners adds a 4M-element gather
and a second scatter; two half tables merged by an elementwise max gain
nothing, and neither do two independent chunk loops (XLA's CPU runtime runs
them one after the other: CPU time equals wall time); a 16-bit table is
cheaper but 4M positions do not fit 16 bits. Measured by hand beside
mutjax, not in the table: a two-operand scatter of (position, value) with
a combiner that keeps the newer pair needs no gather and no select, but
costs 1.8x the raw scatter in all (a hand-written lowering, since JAX has
no such scatter); the gather split into two passes over halves of `v`, so that
each pass reads a smaller region, 0.57x against one pass's 0.40x (four
passes: worse); the chunk loop fully unrolled, 2.8x (XLA computes every
chunk's keys and positions before the scatters: 35 MiB of temporaries
again); chunks of 128K or 1M updates, a little slower than 256K or 512K,
which tie.
"""


def main(argv: list[str] | None = None) -> None:
    argv = sys.argv[1:] if argv is None else argv
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    src = argv[0] if argv else os.path.join(root, "benchmarks", "results.json")
    dst = argv[1] if len(argv) > 1 else os.path.join(root, "docs", "benchmarks.md")
    with open(src) as f:
        results = json.load(f)
    with open(dst, "w") as f:
        f.write(markdown(results, floor=load_floor()))


if __name__ == "__main__":
    main()
