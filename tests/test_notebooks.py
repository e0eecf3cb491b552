"""Every committed notebook executes from a clean kernel, and is up to date with its source."""

import pathlib

import nbformat
import pytest

ROOT = pathlib.Path(__file__).resolve().parent.parent
NB_DIR = ROOT / "notebooks"
SOURCES = sorted((NB_DIR / "src").glob("*.py"))


def _build_module():
    import importlib.util

    spec = importlib.util.spec_from_file_location("nb_build", NB_DIR / "build.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def test_every_source_has_a_built_notebook():
    built = {p.stem for p in NB_DIR.glob("*.ipynb")}
    assert {p.stem for p in SOURCES} <= built, "run `.venv/bin/python notebooks/build.py` and commit the notebooks"


@pytest.mark.notebook
@pytest.mark.parametrize("src", SOURCES, ids=[p.stem for p in SOURCES])
def test_notebook_executes_and_matches_source(src):
    build = _build_module()
    committed = nbformat.read(str(NB_DIR / f"{src.stem}.ipynb"), as_version=4)
    fresh = build.source_to_notebook(src.read_text())
    assert [c.source for c in committed.cells] == [c.source for c in fresh.cells], "notebook is stale: rebuild it"
    executed = build.execute(fresh, NB_DIR)
    errors = [o for c in executed.cells if c.cell_type == "code" for o in c.get("outputs", []) if o.output_type == "error"]
    assert not errors
    # the story ends with checks: each notebook's last code cell asserts its claims
    assert "assert" in [c for c in fresh.cells if c.cell_type == "code"][-1].source
