"""Every script in examples/ runs, prints its result next to NumPy's, and passes
its own checks against NumPy (each ends with assertions)."""

from __future__ import annotations

import pathlib
import runpy

import pytest

EXAMPLES = pathlib.Path(__file__).resolve().parent.parent / "examples"
SCRIPTS = sorted(p for p in EXAMPLES.glob("*.py") if not p.name.startswith("test_"))


def test_there_are_at_least_eight_examples():
    assert len(SCRIPTS) >= 8, [p.name for p in SCRIPTS]


@pytest.mark.slow
@pytest.mark.parametrize("script", SCRIPTS, ids=lambda p: p.stem)
def test_example_runs_and_matches_numpy(script, capsys):
    # In process (runpy) rather than a subprocess: JAX is imported once.
    runpy.run_path(str(script), run_name="__main__")
    out = capsys.readouterr().out
    assert "NumPy" in out and "mutjax" in out, out


@pytest.mark.slow
def test_example_property_test_file_passes():
    tests = runpy.run_path(str(EXAMPLES / "test_my_kernel.py"))
    names = [n for n in tests if n.startswith("test_")]
    assert len(names) == 3
    for name in names:
        tests[name]()
