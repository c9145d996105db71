"""course.py: the two README commands depend on these helpers."""
from __future__ import annotations

import shutil
from pathlib import Path

import pytest

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
    # CI runs the README's test command, which builds the book itself from nbval's outputs: a
    # separate `course.py book` would execute every notebook a second time.
    assert "course.py test" in ci and "course.py book" not in ci


def test_the_test_command_runs_the_notebooks_then_builds_the_book_then_checks_it(monkeypatch):
    course = _course()
    calls = []
    monkeypatch.setattr(course, "ensure_environment", lambda: Path("python"))
    monkeypatch.setattr(course.subprocess, "run", lambda argv, **kw: (
        calls.append(("pytest", argv[argv.index("-m", 3) + 1])),
        type("Done", (), {"returncode": 0})())[1])
    monkeypatch.setattr(course, "cmd_book", lambda args: calls.append(("book", args.all)))
    course.main(["test"])
    # nbval first; the book from its outputs (not --all, which would execute them again);
    # then the tests that need the built site.
    assert calls == [("pytest", "not site"), ("book", False), ("pytest", "site")]


def test_a_failing_test_run_builds_no_book(monkeypatch):
    course = _course()
    calls = []
    monkeypatch.setattr(course, "ensure_environment", lambda: Path("python"))
    monkeypatch.setattr(course.subprocess, "run", lambda argv, **kw: (
        calls.append("pytest"), type("Failed", (), {"returncode": 1})())[1])
    monkeypatch.setattr(course, "cmd_book", lambda args: calls.append("book"))
    with pytest.raises(SystemExit, match="not built"):
        course.main(["test"])
    assert calls == ["pytest"]


def test_a_pytest_selection_runs_pytest_alone(monkeypatch):
    course = _course()
    calls = []
    monkeypatch.setattr(course, "ensure_environment", lambda: Path("python"))
    monkeypatch.setattr(course, "_run", lambda *argv, **kw: calls.append(argv))
    monkeypatch.setattr(course, "cmd_book", lambda args: calls.append("book"))
    course.main(["test", "--", "-k", "geometry"])
    assert len(calls) == 1 and calls[0][-2:] == ("-k", "geometry")
