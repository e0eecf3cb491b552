"""Build the notebooks from their sources and execute them, keeping (small) outputs.

Sources are `notebooks/src/<name>.py` with cells separated by `# %%` lines (`# %% [markdown]` starts a
markdown cell whose lines are `# `-prefixed). The executed notebooks `notebooks/<name>.ipynb` are
committed, so their plots render in the repository. Usage:

    .venv/bin/python notebooks/build.py            # all notebooks
    .venv/bin/python notebooks/build.py 01_crb     # one

The test suite (`tests/test_notebooks.py`) executes each built notebook again from a clean kernel.
"""

from __future__ import annotations

import pathlib
import sys

import nbformat
from nbclient import NotebookClient

HERE = pathlib.Path(__file__).resolve().parent


def source_to_notebook(text: str) -> nbformat.NotebookNode:
    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    cells: list[tuple[str, list[str]]] = []
    for line in text.splitlines():
        if line.startswith("# %%"):
            cells.append(("markdown" if "[markdown]" in line else "code", []))
            continue
        if not cells:
            cells.append(("code", []))
        cells[-1][1].append(line)
    for kind, lines in cells:
        while lines and not lines[-1].strip():
            lines.pop()
        while lines and not lines[0].strip():
            lines.pop(0)
        if not lines:
            continue
        if kind == "markdown":
            body = "\n".join(l[2:] if l.startswith("# ") else l.lstrip("#") for l in lines)
            nb.cells.append(nbformat.v4.new_markdown_cell(body))
        else:
            nb.cells.append(nbformat.v4.new_code_cell("\n".join(lines)))
    return nb


def execute(nb: nbformat.NotebookNode, cwd: pathlib.Path, timeout: int = 600) -> nbformat.NotebookNode:
    client = NotebookClient(nb, timeout=timeout, kernel_name="python3", resources={"metadata": {"path": str(cwd)}})
    client.execute()
    return nb


def build(name: str) -> pathlib.Path:
    src = HERE / "src" / f"{name}.py"
    nb = execute(source_to_notebook(src.read_text()), HERE)
    out = HERE / f"{name}.ipynb"
    nbformat.write(nb, str(out))
    return out


if __name__ == "__main__":
    names = sys.argv[1:] or sorted(p.stem for p in (HERE / "src").glob("*.py"))
    for n in names:
        print("built", build(n).relative_to(HERE.parent))
