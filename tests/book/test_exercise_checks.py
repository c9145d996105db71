"""Exercise checks must reject wrong answers: the probe in conftest.py, proved on small
notebooks."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import nbformat

ROOT = Path(__file__).resolve().parents[2]


def _exercise_notebook(folder: Path, solution: str, check: str) -> Path:
    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3",
                                 "language": "python"}
    sol = nbformat.v4.new_code_cell(solution)
    sol.metadata["tags"] = ["solution"]
    nb.cells = [nbformat.v4.new_code_cell("import numpy as np"), sol,
                nbformat.v4.new_code_cell("# Check exercise 1\n" + check)]
    path = folder / "exercise.ipynb"
    nbformat.write(nb, path)
    return path


def _nbval(path: Path, tmp_path: Path) -> subprocess.CompletedProcess:
    env = {"COURSE_BUDGET_DIR": str(tmp_path / "budgets"),
           "COURSE_EXECUTED_DIR": str(tmp_path / "executed")}
    return subprocess.run([sys.executable, "-m", "pytest", "--nbval-lax", "--nbval-current-env",
                           "-p", "no:cacheprovider", "-p", "no:xdist", str(path)],
                          cwd=ROOT, env={**os.environ, **env}, capture_output=True, text=True,
                          timeout=300)


def _folder(tmp_path: Path) -> Path:
    folder = ROOT / "_build" / "exercise-selftest" / tmp_path.name
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def test_a_check_that_pins_the_answer_passes(tmp_path):
    path = _exercise_notebook(_folder(tmp_path), "n_angles = 402\nratio = 0.25",
                              "assert n_angles == 402 and abs(ratio - 0.25) < 1e-9")
    result = _nbval(path, tmp_path)
    assert result.returncode == 0, result.stdout[-3000:]


def test_a_check_that_accepts_a_wrong_answer_fails(tmp_path):
    path = _exercise_notebook(_folder(tmp_path), "n_angles = 402\nratio = 0.25",
                              "assert n_angles == 402 and ratio > 0")
    result = _nbval(path, tmp_path)
    assert result.returncode != 0
    assert "accepts a wrong ratio" in result.stdout


def test_a_check_that_reads_no_answer_fails(tmp_path):
    path = _exercise_notebook(_folder(tmp_path), "answer = 3", "assert np.pi > 3")
    result = _nbval(path, tmp_path)
    assert result.returncode != 0
    assert "reads no answer" in result.stdout


def test_the_answers_are_the_names_the_solution_defines_and_the_check_reads():
    import conftest as course_conftest

    cells = [
        {"cell_type": "code", "source": "# Check exercise 0\nassert old == 1", "metadata": {}},
        {"cell_type": "code", "source": "x = 2\ndef f(t):\n    return t",
         "metadata": {"tags": ["solution"]}},
        {"cell_type": "code", "source": "helper = 5", "metadata": {}},
        {"cell_type": "code", "source": "# Check exercise 1\nassert f(x) == 2 and helper and old",
         "metadata": {}},
    ]
    assert course_conftest.answer_names(cells, 3) == ["f", "x"]
