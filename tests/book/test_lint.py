"""The linter (ruff, settings in pyproject.toml) passes on the library, the tools, the tests and
the notebooks."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def _ruff(*args: str, cwd: Path = ROOT) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "ruff", *args], cwd=cwd, capture_output=True,
                          text=True, timeout=300)


def test_ruff_is_clean():
    result = _ruff("check", "--no-cache", ".")
    assert result.returncode == 0, result.stdout[-5000:] + result.stderr[-2000:]


def test_ruff_reads_notebooks_and_would_catch_a_mistake(tmp_path):
    nb = ('{"cells": [{"cell_type": "code", "execution_count": null, "metadata": {}, '
          '"outputs": [], "source": ["import os\\n", "x = undefined_name\\n"]}], '
          '"metadata": {}, "nbformat": 4, "nbformat_minor": 5}')
    (tmp_path / "bad.ipynb").write_text(nb)
    (tmp_path / "pyproject.toml").write_text((ROOT / "pyproject.toml").read_text())
    result = _ruff("check", "--no-cache", ".", cwd=tmp_path)
    assert result.returncode == 1 and "F821" in result.stdout and "F401" in result.stdout
