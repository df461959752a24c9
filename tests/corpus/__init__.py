"""A corpus of published NumPy kernels that nobody on this project wrote.

It measures how often mutjax gives NumPy's answer on code as users find it:
the PolyBench/C 4.2.1 kernels as NPBench ports them to NumPy
(:mod:`.npbench_polybench`), NPBench's other NumPy kernels
(:mod:`.npbench_apps`), and PolyBench/C loop nests transcribed element by
element (:mod:`.polybench_c`). Every kernel is plain NumPy (``import numpy as
np``, nothing from mutjax), keeps its published style (out-parameters mutated
in place, Python loops, scratch buffers made with ``np.zeros``/``np.empty``),
and is a transcription written for this corpus: no published file is copied.

Each entry (:class:`.registry.Kernel`) records its provenance (suite, version,
the published file, its license and the published dataset sizes); the table
``PROVENANCE`` gathers them. The inputs follow the suite's initialisation,
stored in 32-bit types (JAX's types without ``jax_enable_x64``).

Entries tagged with one of ``EXPECTED_FAIL_TAGS`` need what mutjax cannot do
under ``jit`` (a result shape that depends on the data, Python objects built
from data, run-time asserts); they are counted separately. The run-and-compare
logic shared by the test and the benchmark lives in :mod:`.harness`.
"""

from . import npbench_apps, npbench_polybench, polybench_c
from .registry import EXPECTED_FAIL_TAGS, Kernel, Source

KERNELS: list[Kernel] = [*npbench_polybench.KERNELS, *polybench_c.KERNELS, *npbench_apps.KERNELS]
BY_NAME: dict[str, Kernel] = {k.name: k for k in KERNELS}
if len(BY_NAME) != len(KERNELS):
    raise RuntimeError("two corpus entries share a name")

# name -> where it comes from; the one provenance table of the corpus.
PROVENANCE: dict[str, Source] = {k.name: k.source for k in KERNELS}

__all__ = ["BY_NAME", "EXPECTED_FAIL_TAGS", "KERNELS", "PROVENANCE", "Kernel", "Source"]
