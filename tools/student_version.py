#!/usr/bin/env python3
"""Write student copies of chapter notebooks: solutions removed, outputs cleared.

Solutions are the cells tagged ``solution``: the ``{solution-start}``/``{solution-end}`` markdown
fences and the code between them. Each run of solution code cells is replaced by one empty
exercise cell, so a student has a place to write, followed (as in the source) by the check cell.
Hiding a solution with a tag alone would still ship it in the .ipynb; this removes it.

    python tools/student_version.py --out student/                 # every chapter notebook
    python tools/student_version.py --out student/ chapters/foundations/geometry.ipynb
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

import course_map
import nbformat

ROOT = Path(__file__).resolve().parent.parent
TAG = "solution"
PLACEHOLDER = "# Your solution here: define the names the exercise asks for, then run the check.\n"


def student_copy(nb: nbformat.NotebookNode) -> nbformat.NotebookNode:
    """Return a copy of ``nb`` without solution cells and without outputs."""
    out = nbformat.v4.new_notebook(metadata=nb.metadata)
    in_solution_code = False
    for cell in nb.cells:
        tags = cell.get("metadata", {}).get("tags", [])
        if TAG in tags:
            if cell.cell_type == "code" and not in_solution_code:
                out.cells.append(nbformat.v4.new_code_cell(PLACEHOLDER,
                                                           metadata={"tags": ["exercise"]}))
                in_solution_code = True
            continue
        in_solution_code = False
        new = nbformat.from_dict(dict(cell))
        if new.cell_type == "code":
            new.outputs = []
            new.execution_count = None
        out.cells.append(new)
    for i, cell in enumerate(out.cells):
        cell["id"] = f"s{i:03d}"
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", default="student", help="output folder (default student/)")
    parser.add_argument("notebooks", nargs="*", type=Path,
                        help="notebooks to convert (default: every notebook of the book)")
    args = parser.parse_args(argv)
    notebooks = args.notebooks or course_map.notebooks(ROOT)
    out_root = Path(args.out)
    for path in notebooks:
        path = path.resolve()
        if ".ipynb_checkpoints" in path.parts:
            continue
        nb = nbformat.read(path, as_version=4)
        try:
            rel = path.relative_to(ROOT)
        except ValueError:
            rel = Path(path.name)
        target = out_root / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        nbformat.write(student_copy(nb), target)
        print(f"{rel} -> {target}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
