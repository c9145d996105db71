"""course.py: the two README commands depend on these helpers."""
from __future__ import annotations

import shutil
from pathlib import Path

import course

ROOT = Path(__file__).resolve().parents[2]


def _course():
    return course


def test_execution_digest_changes_when_medlib_changes(tmp_path, monkeypatch):
    course = _course()
    shutil.copytree(ROOT / "medlib", tmp_path / "medlib",
                    ignore=shutil.ignore_patterns("__pycache__"))
    (tmp_path / "data").mkdir()
    (tmp_path / "constraints.txt").write_text("numpy==2.0\n")
    monkeypatch.setattr(course, "ROOT", tmp_path)
    before = course._digest(course.EXECUTION_INPUTS)
    assert course._digest(course.EXECUTION_INPUTS) == before          # deterministic
    target = tmp_path / "medlib" / "noise.py"
    target.write_text(target.read_text() + "\n# changed\n")
    assert course._digest(course.EXECUTION_INPUTS) != before          # stale outputs detected


def test_install_digest_covers_pyproject_and_constraints():
    course = _course()
    assert set(course.INSTALL_INPUTS) == {"pyproject.toml", "constraints.txt"}
    assert {"medlib", "data"} <= set(course.EXECUTION_INPUTS)


def test_commands_are_the_readme_commands():
    readme = (ROOT / "README.md").read_text()
    assert "python3 course.py book" in readme
    assert "python3 course.py test" in readme
    ci = (ROOT / ".ci" / "run").read_text()
    assert "course.py test" in ci and "course.py book" in ci
