"""tools/grade.py: a class of five returned notebooks (correct, partly correct, broken, timing
out, hostile) is graded to the expected scores, within its limits, leaving the instructor's files
untouched."""
from __future__ import annotations

import csv
import hashlib
import os
import re
import subprocess
import sys
import time
from pathlib import Path

import nbformat
import pytest

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "tools"))
import grade  # noqa: E402
import student_version  # noqa: E402

MODE, WHY_NOT = grade.sandbox_mode()


@pytest.fixture
def sandbox():
    """Skip only where no mount namespace can be made at all (and say why); with
    COURSE_REQUIRE_SANDBOX=1 (CI, .ci/run) that is a failure instead."""
    if MODE is None:
        message = f"the grading sandbox cannot run here: {WHY_NOT}"
        if os.environ.get("COURSE_REQUIRE_SANDBOX") == "1":
            pytest.fail("COURSE_REQUIRE_SANDBOX=1 and " + message)
        print(message, file=sys.stderr)
        pytest.skip(message)
    return MODE


SETUP = "import numpy as np\nfrom medlib import ct\nx = np.arange(5.0)\n"
SOLUTION_1 = "total = float(x.sum())\n"
CHECK_1 = ('# Check exercise 1\nassert np.isclose(total, np.sum(x)), "add up every value of x"'
           '\nprint("Exercise 1: correct")\n')
SOLUTION_2 = "def hu(stored):\n    return ct.hu_from_stored(stored, slope=1.0, intercept=-1024.0)\n"
CHECK_2 = ("# Check exercise 2\nassert np.allclose(hu(x), ct.hu_from_stored(x, slope=1.0, "
           "intercept=-1024.0))\nprint('Exercise 2: correct')\n")
HIDDEN = """\
# %% exercise 1, 2 points
assert isinstance(total, float), "a float"
# %% exercise 2, 1 point
assert np.allclose(hu(np.array([24.0, -1.5])), [-1000.0, -1025.5])
"""


def _md(text, tags=()):
    return nbformat.v4.new_markdown_cell(text, metadata={"tags": list(tags)})


def _code(text, tags=()):
    return nbformat.v4.new_code_cell(text, metadata={"tags": list(tags)})


def _instructor_notebook():
    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3",
                                 "language": "python"}
    cells = [_md("# 0.1 Demo"), _code(SETUP)]
    for n, sol, check in ((1, SOLUTION_1, CHECK_1), (2, SOLUTION_2, CHECK_2)):
        cells += [_md(f"```{{exercise}}\n:label: demo-ex{n}\nExercise {n}.\n```"),
                  _md(f"```{{solution-start}} demo-ex{n}\n```", ["solution"]),
                  _code(sol, ["solution"]), _md("```{solution-end}\n```", ["solution"]),
                  _code(check)]
    nb.cells = cells
    return nb


def _submission(nb, answers: dict):
    """The student copy of ``nb`` with the placeholder of exercise n replaced by answers[n]."""
    student = student_version.student_copy(nb, nbformat.v4.new_code_cell("pass"))
    cells, n = [], 0
    for cell in student.cells:
        if "exercise" in cell.metadata.get("tags", []):
            n += 1
            answer = answers.get(n, cell.source)
            for source in [answer] if isinstance(answer, str) else answer:   # one or more cells
                cells.append(_code(source, ["exercise"]))
            continue
        cells.append(cell)
    student.cells = cells
    return student


def _digest(folder: Path) -> str:
    h = hashlib.sha256()
    for p in sorted(folder.rglob("*")):
        if p.is_file() and "__pycache__" not in p.parts:
            h.update(str(p).encode() + p.read_bytes())
    return h.hexdigest()


def test_a_class_is_graded_to_the_expected_scores_and_harms_nothing(tmp_path, sandbox):
    chapters, hidden = tmp_path / "chapters", tmp_path / "grading" / "hidden"
    (chapters / "demo").mkdir(parents=True)
    (hidden / "demo").mkdir(parents=True)
    source = _instructor_notebook()
    nbformat.write(source, chapters / "demo" / "demo.ipynb")
    (hidden / "demo" / "demo.py").write_text(HIDDEN)
    returned = tmp_path / "returned"
    hostile_1 = f"""\
import os, shutil
shutil.rmtree({str(chapters)!r}, ignore_errors=True)      # delete the instructor's notebooks
for victim in ({str(ROOT / 'medlib' / '__init__.py')!r}, {str(hidden / 'demo' / 'demo.py')!r}):
    try:
        os.remove(victim)
    except OSError:
        pass
try:
    os.kill(os.getppid(), 9)
except OSError:
    pass
if os.fork() == 0:                               # a process that outlives the notebook
    os.setsid()
    import time
    time.sleep(600)
np.isclose = lambda *a, **k: True                # rewrite the check's helper
total = -1.0
"""
    hostile_2 = f"""\
import json
text = open({str(chapters / 'demo' / 'demo.ipynb')!r}).read()   # read the solutions
exec([c for c in json.loads(text)['cells'] if 'def hu' in ''.join(c['source'])][0]['source'])
"""
    memory_hog = "blocks = []\nwhile True:\n    blocks.append(np.empty(2**27))   # 1 GB each\n"
    class_ = {
        "ada": {1: SOLUTION_1, 2: SOLUTION_2},
        # Correct in another way (any correct answer passes the check), but an int: the hidden
        # test of exercise 1 fails; exercise 2 correct by a formula of one's own.
        "bob": {1: "%matplotlib inline\nimport matplotlib.pyplot as plt\nplt.plot(x)\n"
                   "total = int(sum(x))", 2: "def hu(s):\n    return np.asarray(s) - 1024.0"},
        "eve": {1: hostile_1, 2: [memory_hog, hostile_2]},
        "tim": {1: SOLUTION_1, 2: "while True:\n    pass\n" + SOLUTION_2},
    }
    for student, answers in class_.items():
        (returned / student).mkdir(parents=True)
        nbformat.write(_submission(source, answers), returned / student / "demo.ipynb")
    (returned / "kim").mkdir()
    (returned / "kim" / "demo.ipynb").write_text('{"cells": [ broken')
    (returned / "lin").mkdir()       # a link to the instructor's notebook is not a submission
    (returned / "lin" / "demo.ipynb").symlink_to(chapters / "demo" / "demo.ipynb")
    before = {p: _digest(p) for p in (chapters, hidden, ROOT / "medlib")}
    out = tmp_path / "grades"

    start = time.monotonic()
    results = grade.grade_folder(returned, out, chapters, hidden, timeout=60, cell_timeout=5,
                                 memory_gb=3.0)
    elapsed = time.monotonic() - start

    rows = list(csv.DictReader(open(out / "scores.csv")))
    totals = {r["student"]: (float(r["points"]), float(r["max_points"]))
              for r in rows if r["notebook"] == "TOTAL"}
    assert totals == {"ada": (5, 5), "bob": (3, 5), "eve": (0, 5), "kim": (0, 5),
                      "tim": (3, 5), "lin": (0, 0)}, totals
    per = {(r["student"], r["exercise"]): float(r["points"]) for r in rows if r["exercise"]}
    assert per[("bob", "1")] == 1 and per[("bob", "2")] == 2 and per[("tim", "2")] == 0
    assert {p: _digest(p) for p in before} == before, "the instructor's files changed"
    ps = subprocess.run(["ps", "-eo", "args"], capture_output=True, text=True).stdout
    assert "grade.py --run" not in ps, "a submission's process outlived grading"
    assert elapsed < 5 * 60, f"grading took {elapsed:.0f} s"
    assert all(r.seconds < 60 for r in results)
    feedback = {p.stem: p.read_text() for p in (out / "feedback").glob("*.md")}
    assert set(feedback) == set(totals) and "not graded" in feedback["lin"]
    assert "longer than 5 s" in feedback["tim"]
    assert "changed library code (numpy.isclose)" in feedback["eve"]
    # The memory limit stopped the hog; reading the instructor's notebook failed (hidden: the
    # file is not there, wherever the course and tmp_path live), so exercise 2 scored 0.
    assert "MemoryError" in feedback["eve"]
    assert re.search(r"Exercise 2, your code: .*(FileNotFoundError|PermissionError)",
                     feedback["eve"]), feedback["eve"]
    assert "could not be read" in feedback["kim"]
    assert "add up every value of x" not in feedback["ada"]
    assert "Exercise 1, hidden test" in feedback["bob"] and "a float" in feedback["bob"]


def test_the_sandbox_hides_the_secrets_and_protects_the_course(tmp_path, sandbox):
    """Whatever the directories (the course may be cloned under /tmp, tmp_path is there): no
    network; the instructor's notebooks and hidden tests, other submissions and the output
    folder unreadable; the course and the Python environment read-only; medlib and the data
    still importable and readable."""
    chapters, hidden = tmp_path / "chapters", tmp_path / "grading" / "hidden"
    returned, out = tmp_path / "returned", tmp_path / "grades"
    for path, text in ((chapters / "demo" / "demo.ipynb", "{}"),
                       (hidden / "demo" / "demo.py", "# %% exercise 1"),
                       (returned / "bob" / "demo.ipynb", "{}"), (out / "scores.csv", "")):
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    secret = grade.secret_paths(chapters, hidden, returned, out)
    readable = [chapters / "demo" / "demo.ipynb", hidden / "demo" / "demo.py",
                returned / "bob" / "demo.ipynb", out / "scores.csv",
                *[p for p in (ROOT / "chapters" / "ct" / "hu-windowing.ipynb",
                              ROOT / "grading" / "hidden" / "ct" / "hu-windowing.py")
                  if p.is_file()]]
    writable = [ROOT / "medlib" / "grader-probe.txt", Path(sys.prefix) / "grader-probe.txt",
                out / "grader-probe.txt", returned / "bob" / "demo.ipynb"]
    probe = f"""
import os, pathlib, socket, sys
try:
    socket.create_connection(("1.1.1.1", 53), timeout=3)
    print("NET")
except OSError:
    pass
for p in {[str(p) for p in readable]!r}:
    try:
        open(p).read()
        print("READ", p)
    except OSError:
        pass
for p in {[str(p) for p in writable]!r}:
    try:
        open(p, "a").write("x")
        print("WROTE", p)
    except OSError:
        pass
print("SOLUTIONS", len(list(pathlib.Path({str(ROOT / "chapters")!r}).rglob("*.ipynb"))))
print("TMPPATH", os.path.exists({str(tmp_path)!r}))
import medlib
print("MEDLIB", pathlib.Path(medlib.__file__).is_relative_to({str(ROOT)!r}))
print("DATA", len(pathlib.Path({str(ROOT / "data" / "manifest.toml")!r}).read_text()) > 0)
"""
    cmd = [*grade.sandbox_command(secret), sys.executable, "-s", "-c", probe]
    result = subprocess.run(cmd, capture_output=True, text=True, timeout=120,
                            env={"PATH": "/usr/bin:/bin", "HOME": "/tmp/work",
                                 "PYTHONPATH": str(ROOT)})
    assert result.returncode == 0, result.stderr
    assert "NET" not in result.stdout
    assert "READ" not in result.stdout and "WROTE" not in result.stdout, result.stdout
    assert "SOLUTIONS 0" in result.stdout
    assert "TMPPATH False" in result.stdout, result.stdout      # not even the folder names
    assert "MEDLIB True" in result.stdout and "DATA True" in result.stdout, result.stderr
    assert not any(p.exists() for p in writable if p.name == "grader-probe.txt")
    assert (returned / "bob" / "demo.ipynb").read_text() == "{}"


HIDDEN_FILES = sorted((ROOT / "grading" / "hidden").rglob("*.py"))


def _source_of(hidden_file: Path) -> Path:
    rel = hidden_file.relative_to(ROOT / "grading" / "hidden").with_suffix(".ipynb")
    return ROOT / "chapters" / rel


def _solutions(nb) -> dict[int, list[str]]:
    """Exercise number -> the instructor's solution code cells (those above its check)."""
    answers, pending = {}, []
    for cell in nb.cells:
        if cell.cell_type == "code" and "solution" in cell.metadata.get("tags", []):
            pending.append(cell.source)
        n = grade._check_number(cell)
        if n is not None:
            answers[n], pending = pending, []
    return answers


def test_the_hidden_tests_pass_on_the_solutions_and_fail_without_them(tmp_path, sandbox):
    """Every notebook with hidden tests, graded through the sandbox twice: returned with the
    instructor's solutions (full marks: every public check and hidden block passes) and as the
    unsolved student copy (0: no hidden block passes without its answer)."""
    returned = tmp_path / "returned"
    sources = {}
    for path in HIDDEN_FILES:
        source = nbformat.read(_source_of(path), as_version=4)
        sources[_source_of(path).relative_to(ROOT / "chapters").as_posix()] = path
        for student, answers in (("ada", _solutions(source)), ("nil", {})):
            folder = returned / f"{student}-{path.parent.name}"   # losses.ipynb: two chapters
            folder.mkdir(parents=True, exist_ok=True)
            nbformat.write(_submission(source, answers), folder / path.with_suffix(".ipynb").name)
    start = time.monotonic()
    results = grade.grade_folder(returned, tmp_path / "grades", timeout=240, cell_timeout=120)
    elapsed = time.monotonic() - start
    assert len(results) == 2 * len(HIDDEN_FILES)
    for r in results:
        hidden = grade.hidden_tests(sources[r.notebook])
        most = {n: 1 + sum(p for p, _ in blocks) for n, blocks in hidden.items()}
        assert all(r.maximum[n] == m for n, m in most.items()), (r.notebook, r.maximum)
        if r.student.startswith("ada-"):
            assert r.points == r.maximum, (r.notebook, r.points, r.messages)
            assert sum("hidden test: passed" in m for m in r.messages) == \
                sum(len(b) for b in hidden.values()), r.messages
        else:
            assert sum(r.points.values()) == 0, (r.notebook, r.points, r.messages)
            assert not any("hidden test: passed" in m for m in r.messages), r.messages
    print(f"{len(results)} notebooks graded in {elapsed:.0f} s: " +
          ", ".join(f"{r.student}/{r.notebook} {r.seconds:.0f} s" for r in results))


def test_every_hidden_test_file_belongs_to_an_exercise_of_a_chapter_notebook():
    files = sorted((ROOT / "grading" / "hidden").rglob("*.py"))
    assert files
    for path in files:
        rel = path.relative_to(ROOT / "grading" / "hidden").with_suffix(".ipynb")
        source = ROOT / "chapters" / rel
        assert source.is_file(), f"{path}: no chapter notebook chapters/{rel}"
        nb = nbformat.read(source, as_version=4)
        checks = {grade._check_number(c) for c in nb.cells} - {None}
        blocks = grade.hidden_tests(path)
        assert blocks and set(blocks) <= checks, f"{path.name}: exercises {sorted(blocks)}"
        labels = grade.exercise_labels(nb)
        named = grade.hidden_labels(path)
        for n, names in named.items():      # each block names its exercise's label
            assert names == {labels[n]}, f"{path}: exercise {n} is {labels[n]}, not {names}"
        for blocks_of in blocks.values():
            for _, code in blocks_of:
                compile(code, str(path), "exec")
    assert any(x.startswith("grading/hidden") for x in student_version.STUDENT_EXCLUDE)


def test_notebooks_sharing_a_name_are_told_apart_by_their_exercise_labels(tmp_path):
    sources = grade.find_sources(ROOT / "chapters")
    shared = {name: paths for name, paths in sources.items() if len(paths) > 1}
    for name, paths in shared.items():
        for source in paths:
            returned = tmp_path / name
            nbformat.write(_submission(nbformat.read(source, as_version=4), {}), returned)
            assert grade.match_source(returned, paths) == source
