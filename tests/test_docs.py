"""The documentation stays true: the generated semantics page is up to date,
every Python snippet on the pages we own runs, and every page is in the nav."""

from __future__ import annotations

import linecache
import pathlib
import re
import runpy

import pytest

ROOT = pathlib.Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs"

# Pages whose ```python blocks are executed, top to bottom in one namespace.
# (Pages written by other features' authors carry their own tests.)
RUNNABLE_PAGES = ["index.md", "getting-started.md", "sharp-bits.md", "migrating.md", "testing.md"]


def _mutjax_agrees(page: str) -> dict[str, bool]:
    """Row number -> whether the mutjax column agrees with NumPy (no ✗)."""
    rows = re.findall(r"^\| (\d+) \|(.*)\|$", page, flags=re.M)
    return {n: "✗" not in cells.split(" | ")[-1] for n, cells in rows if cells.count(" | ") == 5}


def test_semantics_page_is_up_to_date():
    gen = runpy.run_path(str(DOCS / "gen_semantics.py"))
    fresh = gen["render"]()
    committed = (DOCS / "semantics.md").read_text()
    if gen["versions_line"]() in committed:
        assert committed == fresh, (
            "docs/semantics.md is out of date with what mutjax, NumPy and JAX do now: "
            "run `python docs/gen_semantics.py` and commit the page (check the rows that changed)."
        )
    else:
        # Other NumPy/JAX versions than the page's (CI's lowest-versions run):
        # messages may be worded differently, but mutjax must agree with
        # NumPy on exactly the rows where the page says it does.
        assert _mutjax_agrees(fresh) == _mutjax_agrees(committed)
        assert len(_mutjax_agrees(fresh)) == len(gen["CASES"])


def _python_blocks(text: str) -> list[str]:
    return re.findall(r"^```python\n(.*?)^```", text, flags=re.S | re.M)


@pytest.mark.parametrize("page", RUNNABLE_PAGES)
def test_page_snippets_run(page, capsys):
    blocks = [b for b in _python_blocks((DOCS / page).read_text()) if not b.startswith("--8<--")]
    assert blocks, f"{page} has no python snippet"
    namespace: dict = {"__name__": f"docs_{page}"}
    for n, block in enumerate(blocks):
        name = f"{page} (python block {n + 1})"
        # As if each block were a file: `mutjax.jit` reads a function's source.
        linecache.cache[name] = (len(block), None, block.splitlines(True), name)
        code = compile(block, name, "exec")
        exec(code, namespace)  # our own documentation


def test_every_page_is_in_the_nav():
    nav = (ROOT / "mkdocs.yml").read_text()
    linked = set(re.findall(r":\s*([\w./-]+\.md)\s*$", nav, flags=re.M))
    pages = {p.relative_to(DOCS).as_posix() for p in DOCS.rglob("*.md")}
    assert pages <= linked, f"pages missing from mkdocs.yml nav: {sorted(pages - linked)}"
    assert linked <= pages, f"nav entries without a page: {sorted(linked - pages)}"


def test_examples_page_lists_every_example():
    text = (DOCS / "examples.md").read_text()
    for script in sorted((ROOT / "examples").glob("*.py")):
        assert f"examples/{script.name}" in text, f"docs/examples.md does not mention {script.name}"
