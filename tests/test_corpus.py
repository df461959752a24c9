"""Published NumPy kernels under mutjax: never silently wrong.

Every kernel of ``tests/corpus`` runs at its small ``test`` size under
``jax.jit(mutjax.mutable(f, return_argnames=arrays))`` and with ``loops=True``, and
is compared with NumPy (result and mutated arguments: values, shapes, dtypes).
The invariant, for every case: it matches NumPy or it raises. A case that runs
and differs (``WRONG``) fails with what differs. Many cases raise today; that
is measured, not asserted: set ``MUTJAX_CORPUS_REPORT=path.json`` to write the
outcome of every case (``benchmarks/corpus.py`` gives the full table).
"""

from __future__ import annotations

import ast
import functools
import inspect
import json
import os

import numpy as np
import pytest
from helpers import sampled

from tests import corpus
from tests.corpus import KERNELS, harness
from tests.corpus.registry import Kernel

_OUTCOMES: dict[str, dict[str, dict]] = {}


@functools.cache
def _oracle(name: str):
    kernel = corpus.BY_NAME[name]
    args = kernel.init(kernel.sizes["test"])
    outcome, expected = harness.run_case(kernel, "numpy", args)
    return args, outcome, expected


@pytest.fixture(scope="module", autouse=True)
def _report():
    yield
    path = os.environ.get("MUTJAX_CORPUS_REPORT")
    if path and _OUTCOMES:
        with open(path, "w") as f:
            json.dump(_OUTCOMES, f, indent=1, sort_keys=True)


@pytest.mark.parametrize("mode", ["jit", "loops"])
@sampled("kernel", KERNELS, every=5, ids=lambda k: k.name)
def test_matches_numpy_or_raises(kernel: Kernel, mode: str) -> None:
    args, oracle, expected = _oracle(kernel.name)
    assert oracle.status == "match", f"the NumPy oracle itself failed: {oracle.detail}"
    outcome, _ = harness.run_case(kernel, mode, args, expected)
    _OUTCOMES.setdefault(kernel.name, {})[mode] = outcome.as_dict()
    assert outcome.status in ("match", "error"), (
        f"{kernel.name} under {mode} ran and differs from NumPy "
        f"(max error {outcome.max_err:.3g}): {outcome.detail}"
    )


# -- the corpus itself ------------------------------------------------------------


def test_corpus_is_large_and_named_once() -> None:
    assert len(KERNELS) >= 40
    assert len(corpus.BY_NAME) == len(KERNELS) == len(corpus.PROVENANCE)


@pytest.mark.parametrize("kernel", KERNELS, ids=lambda k: k.name)
def test_entry_is_well_formed(kernel: Kernel) -> None:
    src = kernel.source
    assert all([src.suite, src.version, src.kernel, src.path, src.license, src.published])
    for size in ("test", "published"):
        args = kernel.init(kernel.sizes[size])
        params = list(inspect.signature(kernel.fn).parameters)
        assert set(args) <= set(params), f"{size}: init gives {sorted(set(args) - set(params))}"
        assert set(kernel.static) <= set(args)
        for name in kernel.static:
            assert isinstance(args[name], int), f"static {name} must be a Python int"
        for name in kernel.mutates:
            assert isinstance(args[name], np.ndarray), f"mutated {name} must be an array"


@pytest.mark.parametrize("kernel", KERNELS, ids=lambda k: k.name)
def test_mutates_lists_what_numpy_changes(kernel: Kernel) -> None:
    # A kernel that writes but changes nothing at its test size could not show a lost write.
    args, oracle, expected = _oracle(kernel.name)
    assert oracle.status == "match", oracle.detail
    _, final = expected.value
    changed = {
        n
        for n in harness.array_names(args)
        if not np.array_equal(final[n], args[n], equal_nan=True)
    }
    assert changed <= set(kernel.mutates), f"undeclared: {sorted(changed - set(kernel.mutates))}"
    assert bool(changed) == bool(kernel.mutates), "declared mutations change nothing"


def test_kernels_are_plain_numpy() -> None:
    # The kernel modules import NumPy as users do, and nothing from mutjax.
    from tests.corpus import npbench_apps, npbench_polybench, polybench_c

    for module in (npbench_apps, npbench_polybench, polybench_c):
        tree = ast.parse(inspect.getsource(module))
        imports = [n for n in ast.walk(tree) if isinstance(n, ast.Import | ast.ImportFrom)]
        plain = [(a.name, a.asname) for n in imports if isinstance(n, ast.Import) for a in n.names]
        assert plain == [("numpy", "np")], module.__name__
        assert all(n.level == 1 for n in imports if isinstance(n, ast.ImportFrom)), module.__name__
