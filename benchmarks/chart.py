"""A horizontal bar chart of benchmark results, as hand-written SVG (no plotting dependency).

One row per kernel, one bar per JAX variant: its measurement divided by the
kernel's best JAX anchor (so the best anchor is 1.0 and smaller is better),
with the kernel's goal drawn as a tick. The memory row instead shows the
resident-memory increase divided by the array's size.
"""

from __future__ import annotations

from typing import Any
from xml.sax.saxutils import escape

BARS = (
    ("at", ".at[] JAX", "#8c8c8c"),
    ("ref", "jax.new_ref", "#c9a227"),
    ("mutjax", "mutjax", "#2a6fb0"),
)
XMAX = 3.0  # bars longer than this are clipped and labelled with their value
LEFT, RIGHT, TOP = 270, 70, 50
PLOT_W = 460
BAR_H, GAP = 11, 12


def _normalized(kernel: dict[str, Any], name: str) -> float | None:
    entry = kernel["variants"][name]
    if entry.get("status") != "ok":
        return None
    if kernel["kind"] == "memory":
        return entry["value"]
    best = kernel.get("best_anchor")
    if best is None:
        return None
    return entry["value"] / kernel["variants"][best]["value"]


def svg(results: dict[str, Any]) -> str:
    """The chart for ``results`` (the dict that ``run.py`` writes as JSON)."""
    kernels = results["kernels"]
    row_h = len(BARS) * BAR_H + GAP
    height = TOP + row_h * len(kernels) + 60
    width = LEFT + PLOT_W + RIGHT

    def x(v: float) -> float:
        return LEFT + PLOT_W * min(v, XMAX) / XMAX

    out = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}" font-family="sans-serif" font-size="11">',
        f'<rect width="{width}" height="{height}" fill="white"/>',
        f'<text x="{LEFT}" y="18" font-size="13" font-weight="bold">'
        "Relative to the best JAX anchor (lower is better)</text>",
    ]
    for i, (_, label, color) in enumerate(BARS):
        lx = LEFT + i * 120
        out.append(f'<rect x="{lx}" y="28" width="10" height="10" fill="{color}"/>')
        out.append(f'<text x="{lx + 14}" y="37">{escape(label)}</text>')
    bottom = TOP + row_h * len(kernels)
    for tick in (0, 0.5, 1, 1.5, 2, 2.5, 3):
        tx = x(tick)
        dash = "" if tick == 1 else ' stroke-dasharray="2,3"'
        out.append(
            f'<line x1="{tx:.1f}" y1="{TOP - 4}" x2="{tx:.1f}" y2="{bottom}" stroke="#bbb"{dash}/>'
        )
        out.append(f'<text x="{tx:.1f}" y="{bottom + 14}" text-anchor="middle">{tick:g}x</text>')
    for r, k in enumerate(kernels):
        y0 = TOP + r * row_h
        name = f"{k['title']}" if k["kind"] != "memory" else f"{k['title']} (/ array size)"
        out.append(
            f'<text x="{LEFT - 8}" y="{y0 + row_h / 2 - 2}" text-anchor="end">{escape(name)}</text>'
        )
        out.append(
            f'<text x="{LEFT - 8}" y="{y0 + row_h / 2 + 10}" text-anchor="end" fill="#666" '
            f'font-size="9">{escape(k["size"])}</text>'
        )
        for b, (vname, _, color) in enumerate(BARS):
            by = y0 + b * BAR_H
            v = _normalized(k, vname)
            if v is None:
                out.append(
                    f'<text x="{LEFT + 4}" y="{by + 9}" fill="#999" font-size="9">n/a</text>'
                )
                continue
            w = x(v) - LEFT
            out.append(
                f'<rect x="{LEFT}" y="{by + 1}" width="{w:.1f}" height="{BAR_H - 2}" fill="{color}"/>'
            )
            out.append(f'<text x="{LEFT + w + 3:.1f}" y="{by + 9}" font-size="9">{v:.2f}</text>')
        gx = x(k["limit"])
        out.append(
            f'<line x1="{gx:.1f}" y1="{y0 - 2}" x2="{gx:.1f}" y2="{y0 + len(BARS) * BAR_H + 1}" '
            'stroke="#d62728" stroke-width="2"/>'
        )
    meta = results["meta"]
    out.append(
        f'<text x="{LEFT}" y="{bottom + 32}" fill="#444">Red tick: goal. JAX {escape(meta["jax"])}, '
        f"{meta['backend']}, {meta['cores']} cores, {escape(meta['mode'])} sizes, "
        f"{escape(meta['date'])}</text>"
    )
    out.append("</svg>")
    return "\n".join(out) + "\n"
