"""Run the published-kernel corpus under NumPy and mutjax, and say how often they agree.

Usage (from the repository root)::

    python benchmarks/corpus.py --size test                   # every kernel, every mode
    python benchmarks/corpus.py --size published --modes loops --timeout 60
    python benchmarks/corpus.py --only lu,gemm.c --modes jit --out /tmp/corpus.json

For each kernel of ``tests/corpus`` and each mode (``numpy``, the oracle;
``jit``; ``loops``; optionally ``eager``: see ``tests/corpus/harness.py``) the case is classified as
``match``, ``WRONG`` (it ran and differs from NumPy without raising),
``error: <type: first line>`` or ``timeout``. Each kernel runs in its own
worker process; a mode that runs past ``--timeout`` seconds (trace, compile,
run and the later timed calls) is killed and the worker restarted for the
modes after it. The first call's time (trace + compile + run) and the median
of later calls are recorded. A markdown table goes to stdout; the JSON to
``--out``.
"""

from __future__ import annotations

import argparse
import collections
import datetime
import json
import os
import platform
import re
import select
import subprocess
import sys
import tempfile
import time
from typing import Any

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

_MARK = "@@corpus "  # prefixes the worker's result lines; anything else on stdout is ignored


# -- worker: one kernel, several modes ---------------------------------------------


def _emit(event: dict[str, Any]) -> None:
    sys.stdout.write(_MARK + json.dumps(event) + "\n")
    sys.stdout.flush()


def worker(name: str, size: str, modes: list[str], reps: int) -> None:
    """Run one kernel in the given modes, one JSON line per event."""
    from tests.corpus import BY_NAME
    from tests.corpus.harness import run_case

    kernel = BY_NAME[name]
    args = kernel.init(kernel.sizes[size])
    _emit({"event": "start", "mode": "numpy"})
    oracle, expected = run_case(kernel, "numpy", args, reps=reps if "numpy" in modes else 0)
    _emit({"event": "done", "mode": "numpy", "outcome": oracle.as_dict()})
    for mode in modes:
        if mode == "numpy":
            continue
        _emit({"event": "start", "mode": mode})
        if oracle.status != "match":
            outcome = {"status": "skipped", "detail": "the NumPy oracle raised"}
        else:
            outcome = run_case(kernel, mode, args, expected, reps=reps)[0].as_dict()
        _emit({"event": "done", "mode": mode, "outcome": outcome})


# -- parent: workers with deadlines ------------------------------------------------


def _spawn(name: str, size: str, modes: list[str], reps: int, errfile: Any) -> subprocess.Popen:
    cmd = [sys.executable, os.path.abspath(__file__), "--worker", name, "--size", size]
    cmd += ["--modes", ",".join(modes), "--reps", str(reps)]
    env = dict(os.environ, PYTHONPATH=ROOT + os.pathsep + os.environ.get("PYTHONPATH", ""))
    return subprocess.Popen(
        cmd, stdout=subprocess.PIPE, stderr=errfile, env=env, start_new_session=True
    )


def _kill(proc: subprocess.Popen) -> None:
    try:
        os.killpg(proc.pid, 9)
    except ProcessLookupError:
        pass
    proc.wait()


def _events(proc: subprocess.Popen, timeout: float):
    """Yield (event, None) per worker line; ("timeout", mode) when a mode overruns.

    The pipe is read with ``os.read``: a buffered ``readline`` could hold a
    second line that ``select`` no longer reports.
    """
    assert proc.stdout is not None
    fd = proc.stdout.fileno()
    current, deadline, pending = None, time.monotonic() + timeout, b""
    while True:
        left = deadline - time.monotonic()
        if left <= 0:
            yield "timeout", current
            return
        ready, _, _ = select.select([fd], [], [], left)
        if not ready:
            continue
        chunk = os.read(fd, 1 << 16)
        if not chunk:
            return  # the worker exited
        pending += chunk
        *lines, pending = pending.split(b"\n")
        for raw in lines:
            line = raw.decode(errors="replace")
            if not line.startswith(_MARK):
                continue
            event = json.loads(line[len(_MARK) :])
            if event["event"] == "start":
                current, deadline = event["mode"], time.monotonic() + timeout
            yield event, None


def run_kernel(name: str, size: str, modes: list[str], timeout: float, reps: int) -> dict:
    """Outcomes of one kernel, mode by mode, each mode under its own deadline."""
    results: dict[str, dict] = {}
    todo = list(modes)
    while todo:
        with tempfile.TemporaryFile("w+") as err:
            proc = _spawn(name, size, todo, reps, err)
            for event, late in _events(proc, timeout):
                if event == "timeout":
                    mode = late or "numpy"
                    results.setdefault(mode, {"status": "timeout", "detail": f"> {timeout:g} s"})
                    if mode == "numpy":  # no oracle: nothing after it can be judged
                        for m in todo:
                            results.setdefault(
                                m, {"status": "skipped", "detail": "the NumPy oracle timed out"}
                            )
                    break
                if event["event"] == "done":
                    results[event["mode"]] = event["outcome"]
            _kill(proc)
            err.seek(0)
            tail = [ln for ln in err.read().strip().splitlines() if ln.strip()][-1:]
        left = [m for m in todo if m not in results]
        if left and left == todo:  # the worker died before finishing anything new
            detail = f"worker exited with {proc.returncode}: {tail[0] if tail else ''}"[:240]
            for m in left:
                results[m] = {"status": "error", "detail": detail}
            left = []
        todo = left
    return {m: results[m] for m in modes}


# -- report ----------------------------------------------------------------------------


def status_text(outcome: dict) -> str:
    s = outcome["status"]
    if s in ("error", "skipped"):
        return f"{s}: {outcome['detail']}"
    return s


def _fmt_s(x: float | None) -> str:
    if x is None:
        return ""
    if x < 1e-3:
        return f"{x * 1e6:.0f} µs"
    return f"{x * 1e3:.1f} ms" if x < 1 else f"{x:.2f} s"


def error_category(detail: str) -> str:
    """The exception type and message with paths, code, numbers and shapes taken out."""
    text = re.sub(r"`[^`]*`", "`…`", detail)
    text = re.sub(r"(?:/[\w.\-<>]+)+(?::\d+)?", "<file>", text)
    text = re.sub(r"\b(?:float|int|uint|bool|complex)\d*\[[\d,]*\]", "<aval>", text)
    text = re.sub(r"\d+", "N", text)
    return text[:120]


def summarize(kernels: dict, modes: list[str]) -> dict:
    counts: dict[str, dict[str, collections.Counter]] = {}
    groups: dict[str, dict[str, list[str]]] = {}
    for mode in modes:
        counts[mode] = {"all": collections.Counter(), "regular": collections.Counter()}
        groups[mode] = collections.defaultdict(list)
        for name, rec in kernels.items():
            o = rec["modes"][mode]
            counts[mode]["all"][o["status"]] += 1
            if not rec["expected_to_fail"]:
                counts[mode]["regular"][o["status"]] += 1
            if o["status"] in ("error", "WRONG"):
                key = o["status"] if o["status"] == "WRONG" else error_category(o["detail"])
                groups[mode][key].append(name)
    return {
        "counts": {m: {k: dict(c) for k, c in v.items()} for m, v in counts.items()},
        "error_groups": {m: dict(g) for m, g in groups.items()},
    }


def markdown(report: dict) -> str:
    modes = report["meta"]["modes"]
    head = ["kernel", "tags"]
    for m in modes:
        head += [m, f"{m} first", f"{m} steady"]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for name, rec in report["kernels"].items():
        row = [name, ", ".join(sorted(rec["tags"]))]
        for m in modes:
            o = rec["modes"][m]
            text = status_text(o).replace("|", "\\|")
            row += [text[:110], _fmt_s(o.get("first_s")), _fmt_s(o.get("steady_s"))]
        lines.append("| " + " | ".join(row) + " |")
    out = ["\n".join(lines), ""]
    summary = report["summary"]
    out.append("| mode | kernels | match | WRONG | error | timeout | regular: match / of |")
    out.append("|---|---|---|---|---|---|---|")
    for m in modes:
        c, r = summary["counts"][m]["all"], summary["counts"][m]["regular"]
        out.append(
            f"| {m} | {sum(c.values())} | {c.get('match', 0)} | {c.get('WRONG', 0)} | "
            f"{c.get('error', 0)} | {c.get('timeout', 0)} | "
            f"{r.get('match', 0)} / {sum(r.values())} |"
        )
    for m in modes:
        g = summary["error_groups"][m]
        if not g:
            continue
        out.append(f"\n**{m}: failures grouped**\n")
        for key, names in sorted(g.items(), key=lambda kv: -len(kv[1])):
            out.append(f"- {len(names)} x `{key}`: {', '.join(names)}")
    return "\n".join(out)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--size", choices=("test", "published"), default="test")
    p.add_argument("--only", default="", help="comma-separated kernel names")
    p.add_argument("--modes", default="numpy,jit,loops")
    p.add_argument("--timeout", type=float, default=60.0, help="seconds per kernel per mode")
    p.add_argument("--reps", type=int, default=3, help="timed calls after the first")
    p.add_argument("--out", default="", help="write the JSON report here")
    p.add_argument("--worker", default="", help=argparse.SUPPRESS)
    a = p.parse_args(argv)
    modes = [m for m in a.modes.split(",") if m]
    if a.worker:
        worker(a.worker, a.size, modes, a.reps)
        return 0

    import jax
    import numpy as np

    from tests.corpus import KERNELS
    from tests.corpus.harness import MODES

    unknown = set(modes) - set(MODES)
    if unknown:
        p.error(f"unknown modes {sorted(unknown)}; the modes are {', '.join(MODES)}")
    only = {n for n in a.only.split(",") if n}
    chosen = [k for k in KERNELS if not only or k.name in only]
    if only - {k.name for k in chosen}:
        p.error(f"unknown kernels: {sorted(only - {k.name for k in chosen})}")

    kernels = {}
    for k in chosen:
        t0 = time.monotonic()
        outcomes = run_kernel(k.name, a.size, modes, a.timeout, a.reps)
        kernels[k.name] = {
            "source": {**vars(k.source)},
            "tags": sorted(k.tags),
            "expected_to_fail": k.expected_to_fail,
            "size": dict(k.sizes[a.size]),
            "modes": outcomes,
        }
        summary = "  ".join(f"{m}={outcomes[m]['status']}" for m in modes)
        print(f"{k.name:28s} {summary}  ({time.monotonic() - t0:.1f} s)", file=sys.stderr)

    report = {
        "meta": {
            "size": a.size,
            "modes": modes,
            "timeout_s": a.timeout,
            "date": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
            "jax": jax.__version__,
            "numpy": np.__version__,
            "python": platform.python_version(),
            "machine": platform.machine(),
            "backend": jax.default_backend(),
        },
        "kernels": kernels,
    }
    report["summary"] = summarize(kernels, modes)
    print(markdown(report))
    if a.out:
        with open(a.out, "w") as f:
            json.dump(report, f, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
