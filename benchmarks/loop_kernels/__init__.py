"""The loop benchmark's cases: a published NumPy kernel paired with its hand-written JAX anchor.

Every kernel comes unchanged from the published-kernel corpus
(``tests/corpus``: NPBench's NumPy ports of PolyBench/C 4.2.1, with their
provenance, license and sizes); its anchor is in :mod:`.anchors`. A case
runs at the corpus entry's ``published`` size (NPBench's ``S`` preset)
unless it names its own, and at its ``test`` size in quick mode. One case
is PolyBench/C's own loop nest (``floyd-warshall.c``), where NPBench's port
calls a NumPy function Numba does not compile.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from tests.corpus import BY_NAME, Kernel

from . import anchors


@dataclass(frozen=True)
class Case:
    """One row of the loop benchmark."""

    label: str
    kernel: Kernel
    anchor: Callable[..., Any]
    size: Mapping[str, int] | None = None  # instead of the corpus's published size
    size_note: str = ""  # why, when ``size`` is given

    @property
    def name(self) -> str:
        return self.kernel.name


def _case(label: str, corpus_name: str, anchor: Callable[..., Any], **kw: Any) -> Case:
    return Case(label, BY_NAME[corpus_name], anchor, **kw)


CASES: list[Case] = [
    _case("LU", "lu", anchors.lu),
    _case("Cholesky", "cholesky", anchors.cholesky),
    _case("trisolv", "trisolv", anchors.trisolv),
    _case("Durbin", "durbin", anchors.durbin),
    _case("Gram-Schmidt", "gramschmidt", anchors.gramschmidt),
    _case("symm", "symm", anchors.symm),
    _case("syrk", "syrk", anchors.syrk),
    _case("trmm", "trmm", anchors.trmm),
    _case("Seidel-2D", "seidel-2d", anchors.seidel_2d),
    _case("Jacobi-2D", "jacobi-2d", anchors.jacobi_2d),
    _case("FDTD-2D", "fdtd-2d", anchors.fdtd_2d),
    _case("ADI", "adi", anchors.adi),
    _case("Floyd-Warshall", "floyd-warshall", anchors.floyd_warshall),
    _case("Nussinov", "nussinov", anchors.nussinov),
    # PolyBench/C's loop nest, which NPBench's port replaces by np.add.outer
    # (a loop that Numba compiles), at NPBench's size for the port.
    _case(
        "Floyd-Warshall (C)",
        "floyd-warshall.c",
        anchors.floyd_warshall_c,
        size={"N": 200},
        size_note="N = 200, NPBench's S size for Floyd-Warshall, as in the row of its NumPy port",
    ),
]
BY_NAME_CASES: dict[str, Case] = {c.name: c for c in CASES}
