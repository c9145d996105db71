"""The notebook budget plugin (conftest.py) reports every notebook and fails one over budget."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import nbformat

ROOT = Path(__file__).resolve().parents[2]


def _run(tmp_path, code: str, seconds: float, gigabytes: float):
    folder = ROOT / "_build" / "budget-selftest" / tmp_path.name
    folder.mkdir(parents=True, exist_ok=True)
    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3",
                                 "language": "python"}
    nb.cells = [nbformat.v4.new_code_cell(code), nbformat.v4.new_code_cell("x = 1")]
    path = folder / "selftest.ipynb"
    nbformat.write(nb, path)
    env = dict(os.environ, COURSE_BUDGET_DIR=str(tmp_path / "budgets"),
               COURSE_EXECUTED_DIR=str(tmp_path / "executed"),
               COURSE_BUDGET_SECONDS=str(seconds), COURSE_BUDGET_GB=str(gigabytes))
    result = subprocess.run([sys.executable, "-m", "pytest", "--nbval-lax", "--nbval-current-env",
                             "-p", "no:cacheprovider", "-p", "no:xdist", str(path)],
                            cwd=ROOT, env=env, capture_output=True, text=True)
    table = (tmp_path / "budgets.md")
    return result, table.read_text() if table.is_file() else ""


def test_a_notebook_within_budget_passes_and_is_tabulated(tmp_path):
    result, table = _run(tmp_path, "import time; time.sleep(0.2)", seconds=30, gigabytes=1.5)
    assert result.returncode == 0, result.stdout[-2000:]
    assert "selftest.ipynb" in table and "| yes |" in table


def test_a_slow_notebook_fails(tmp_path):
    result, table = _run(tmp_path, "import time; time.sleep(1.5)", seconds=1.0, gigabytes=1.5)
    assert result.returncode != 0
    assert "over its budget" in result.stdout and "> 1 s" in result.stdout
    assert "| NO |" in table


def test_a_memory_hungry_notebook_fails(tmp_path):
    code = "import numpy as np; big = np.ones(80 * 2**20 // 8); big.sum()"   # 80 MB
    result, table = _run(tmp_path, code, seconds=60, gigabytes=0.05)        # 51 MB budget
    assert result.returncode != 0
    assert "peak memory" in result.stdout
