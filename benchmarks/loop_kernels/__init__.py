"""The loop benchmark's cases: a published NumPy kernel paired with its hand-written JAX anchor.

Every kernel comes unchanged from the published-kernel corpus
(``tests/corpus``: NPBench's NumPy ports of PolyBench/C 4.2.1, with their
provenance, license and sizes); its anchor is in :mod:`.anchors`. A case
runs at the corpus entry's ``published`` size (NPBench's ``S`` preset), and
at its ``test`` size in quick mode.
"""

from __future__ import annotations

from collections.abc import Callable
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

    @property
    def name(self) -> str:
        return self.kernel.name


def _case(label: str, corpus_name: str, anchor: Callable[..., Any]) -> Case:
    return Case(label, BY_NAME[corpus_name], anchor)


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
]
BY_NAME_CASES: dict[str, Case] = {c.name: c for c in CASES}
