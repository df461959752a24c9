"""The documentation stays true: the generated semantics page is up to date,
every Python snippet of the site and the README runs, every page is in the
nav, and no page, docstring or comment speaks of the project's planning."""

from __future__ import annotations

import pathlib
import re
import runpy
import warnings

import pytest

import mutjax

ROOT = pathlib.Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs"


def _python_blocks(text: str) -> list[str]:
    """The ```python blocks of a page, except snippet includes (tested where they live)."""
    blocks = re.findall(r"^```python\n(.*?)^```", text, flags=re.S | re.M)
    return [b for b in blocks if not b.startswith("--8<--")]


# Every page with a Python block, and the README: each page's blocks run top
# to bottom in one namespace. The sharding page needs 8 devices before JAX is
# imported: tests/test_sharding.py runs its blocks in a subprocess.
ELSEWHERE = {"docs/sharding.md"}
RUNNABLE_PAGES = [
    page
    for p in [*sorted(DOCS.rglob("*.md")), ROOT / "README.md"]
    if _python_blocks(p.read_text()) and (page := p.relative_to(ROOT).as_posix()) not in ELSEWHERE
]


def _mutjax_agrees(page: str, header: tuple[str, ...]) -> dict[str, bool]:
    """Row number -> whether the mutjax column agrees with NumPy (no ✗)."""
    rows = re.findall(r"^\| (\d+) \|(.*)\|$", page, flags=re.M)
    column = header.index("mutjax") - 1  # the row number is matched apart
    wide = len(header) - 2
    return {
        n: "✗" not in cells.split(" | ")[column] for n, cells in rows if cells.count(" | ") == wide
    }


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
        header = gen["HEADER"]
        assert _mutjax_agrees(fresh, header) == _mutjax_agrees(committed, header)
        assert len(_mutjax_agrees(fresh, header)) == len(gen["CASES"])


def test_the_pages_with_snippets_are_found():
    # The guides and the README all show code; a parsing slip must not make
    # the snippet test below vacuous.
    assert {"README.md", "docs/index.md", "docs/getting-started.md", "docs/views.md"} <= set(
        RUNNABLE_PAGES
    )


@pytest.mark.parametrize("page", RUNNABLE_PAGES)
def test_page_snippets_run(page, tmp_path, capsys):
    blocks = _python_blocks((ROOT / page).read_text())
    namespace: dict = {"__name__": f"docs_{page}"}
    # Each block runs from a file of its own: `mutable(fun, loops=True)`
    # converts only functions whose source it can read, and a snippet whose
    # loops silently stayed Python would not show what its page says.
    with warnings.catch_warnings():
        warnings.simplefilter("error", mutjax.LoopConversionWarning)
        for n, block in enumerate(blocks, 1):
            source = tmp_path / f"{page.replace('/', '_')[:-3]}_block{n}.py"
            source.write_text(block)
            exec(compile(block, str(source), "exec"), namespace)  # our own docs


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


# Words about how the project was planned, which mean nothing to a reader of
# the code or the site: numbered tickets, work sessions, the planning document.
PLANNING = re.compile(
    r"(?<![a-z])issues?[ _]?#?\d+(?![a-z])"
    r"|\b(?:this|last|next|previous) session\b"
    r"|\bDESIGN\.md\b"
    r"|\b(?:the|this|that) issue\b"
    r"|\b(?:issue|design) notes\b",
    flags=re.I,
)
# Where to look: the site and the README (every line), and the comments,
# docstrings and test names of the code.
PLANNING_AREAS = {
    "docs": ["docs/**/*.md", "docs/**/*.py", "docs/**/*.css", "mkdocs.yml", "README.md"],
    "examples": ["examples/**/*.py"],
    "benchmarks": ["benchmarks/**/*.py"],
    "mutjax": ["mutjax/**/*.py"],
    "tests": ["tests/**/*.py", "tests/**/*.md"],
}


@pytest.mark.parametrize("area", sorted(PLANNING_AREAS))
def test_no_planning_words(area):
    files = sorted({f for pattern in PLANNING_AREAS[area] for f in ROOT.glob(pattern)})
    assert files, f"no files found for {area}"
    hits = [
        f"{f.relative_to(ROOT)}:{n}: {line.strip()}"
        for f in files
        for n, line in enumerate(f.read_text().splitlines(), 1)
        if PLANNING.search(line)
    ]
    assert not hits, "planning words (say what the code does instead):\n" + "\n".join(hits)


# -- the API reference: every public name has a docstring with a runnable example.


def _source_docstrings(module) -> dict[str, str]:
    """The docstrings of a module's constants (a string right after ``NAME = ...``)."""
    import ast

    body = ast.parse(pathlib.Path(module.__file__).read_text()).body
    return {
        target.id: node.value.value
        for stmt, node in zip(body, body[1:])
        if isinstance(stmt, ast.Assign)
        for target in stmt.targets
        if isinstance(target, ast.Name)
        and isinstance(node, ast.Expr)
        and isinstance(node.value, ast.Constant)
        and isinstance(node.value.value, str)
    }


def _public_docstrings() -> dict[str, str | None]:
    """Qualified public name -> its own docstring (None where it has none)."""
    import inspect

    import mutjax._creation
    import mutjax.numpy
    import mutjax.testing
    import mutjax.testing._assert

    def own(obj):
        # A class without a docstring of its own must not borrow its base's.
        doc = obj.__dict__.get("__doc__") if inspect.isclass(obj) else obj.__doc__
        return inspect.cleandoc(doc) if doc else None

    constants = _source_docstrings(mutjax.testing._assert)
    found = {f"mutjax.{n}": own(getattr(mutjax, n)) for n in mutjax.__all__}
    for n in [*mutjax._creation.NAMES, "ndarray"]:
        found[f"mutjax.numpy.{n}"] = own(getattr(mutjax.numpy, n))
    for n in mutjax.testing.__all__:
        obj = getattr(mutjax.testing, n)
        is_api = callable(obj) or inspect.ismodule(obj)
        found[f"mutjax.testing.{n}"] = own(obj) if is_api else constants.get(n)
    return found


PUBLIC = _public_docstrings()


def test_every_public_name_is_found():
    # mutjax's 22 names, mutjax.numpy's 23 creation functions and `ndarray`,
    # mutjax.testing's 9: a slip in finding them must not make the tests vacuous.
    assert len(PUBLIC) == 22 + 24 + 9, sorted(PUBLIC)
    assert {"mutjax.mutable", "mutjax.numpy.zeros", "mutjax.testing.MODES"} <= set(PUBLIC)


def _examples(doc: str) -> list[str]:
    """The ```python blocks of a docstring's ``Example:`` / ``Examples:`` section."""
    match = re.search(r"^Examples?:\n((?:[ \t]+.*\n|\n)+)", doc + "\n", flags=re.M)
    if not match:
        return []
    import textwrap

    section = textwrap.dedent(match.group(1))
    return re.findall(r"^```python\n(.*?)^```", section, flags=re.S | re.M)


def test_every_public_name_has_an_example():
    missing = [name for name, doc in PUBLIC.items() if not doc or not _examples(doc)]
    assert not missing, f"public names without an Example: section: {missing}"
    assert sum(len(_examples(doc or "")) for doc in PUBLIC.values()) >= len(PUBLIC)


@pytest.mark.parametrize("name", sorted(PUBLIC))
def test_docstring_examples_run(name, tmp_path):
    blocks = _examples(PUBLIC[name] or "")
    assert blocks, f"{name} has no example"
    namespace: dict = {"__name__": f"doc_{name}"}
    with warnings.catch_warnings():
        warnings.simplefilter("error", mutjax.LoopConversionWarning)
        for n, block in enumerate(blocks, 1):
            # A file of its own, so that `loops=True` can read the source.
            source = tmp_path / f"{name.replace('.', '_')}_example{n}.py"
            source.write_text(block)
            exec(compile(block, str(source), "exec"), namespace)  # our own docs
