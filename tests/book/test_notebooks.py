"""Conventions every chapter notebook follows (GUIDE.md), checked statically.

Executing the notebooks is nbval's job (``python course.py test`` runs them all); these tests
check what execution cannot: no stored outputs, a title and learning goals, labelled equations,
seeded randomness, exercises with tagged solutions and a runnable check, a table of contents that
lists every notebook, and the student copies.
"""
from __future__ import annotations

import re
from pathlib import Path

import course_map
import nbformat
import pytest
import student_version

ROOT = Path(__file__).resolve().parents[2]
NOTEBOOKS = course_map.notebooks()
IDS = [p.relative_to(ROOT).as_posix() for p in NOTEBOOKS]


def _load(path):
    return nbformat.read(path, as_version=4)


def test_there_are_notebooks():
    assert len(NOTEBOOKS) >= 3


def test_table_of_contents_lists_exactly_the_chapter_notebooks():
    entries = course_map.toc_entries()
    for entry in entries:
        matches = [ROOT / f"{entry}{ext}" for ext in (".md", ".ipynb")]
        assert any(m.is_file() for m in matches), f"_toc.yml names missing file {entry}"
    listed = {e for e in entries if (ROOT / f"{e}.ipynb").is_file()}
    on_disk = {p.relative_to(ROOT).with_suffix("").as_posix()
               for p in (ROOT / "chapters").rglob("*.ipynb") if ".ipynb_checkpoints" not in p.parts}
    assert on_disk == listed, "every chapter notebook must be in _toc.yml and vice versa"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=IDS)
def test_notebook_is_valid_and_stored_without_outputs(path):
    nb = _load(path)
    nbformat.validate(nb)
    assert nb.metadata["kernelspec"]["name"] == "python3"
    for i, cell in enumerate(nb.cells):
        if cell.cell_type == "code":
            assert not cell.outputs, f"cell {i} has stored outputs"
            assert cell.execution_count is None, f"cell {i} has an execution count"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=IDS)
def test_notebook_opens_with_a_title_and_learning_goals(path):
    nb = _load(path)
    first = nb.cells[0]
    assert first.cell_type == "markdown" and first.source.startswith("# "), \
        "the first cell must be a markdown cell starting with a '# ' title"
    assert "**What you will learn**" in first.source


@pytest.mark.parametrize("path", NOTEBOOKS, ids=IDS)
def test_notebook_uses_medlib_and_seeded_randomness(path):
    code = "\n".join(c.source for c in _load(path).cells if c.cell_type == "code")
    assert re.search(r"^from medlib import|^import medlib", code, re.MULTILINE)
    assert "np.random.seed(" not in code, "use np.random.default_rng(seed)"
    assert not re.search(r"default_rng\(\s*\)", code), "default_rng() needs a seed"
    assert not re.search(r"np\.random\.(rand|randn|normal|poisson|uniform|randint)\(", code), \
        "draw random numbers from a seeded Generator, not the global numpy state"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=IDS)
def test_every_display_equation_is_labelled(path):
    for cell in _load(path).cells:
        if cell.cell_type != "markdown":
            continue
        blocks = re.findall(r"\$\$(.*?)\$\$([^\n]*)", cell.source, flags=re.DOTALL)
        for body, after in blocks:
            label = re.match(r"\s*\(([^)\s]+)\)", after)
            assert label, f"display equation without a label: $${body.strip()[:60]}$$"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=IDS)
def test_every_static_figure_has_alt_text(path):
    for i, cell in enumerate(_load(path).cells):
        if cell.cell_type != "code" or not re.search(r"^plt\.show\(\)", cell.source, re.M):
            continue   # figures drawn inside a widget's function are indented
        meta = cell.metadata.get("mystnb", {})
        alt = meta.get("image", {}).get("alt") or meta.get("figure", {}).get("caption")
        assert alt and len(alt) > 20, (
            f"cell {i} shows a figure without alt text: add cell metadata "
            '`mystnb: {"image": {"alt": "<what the figure shows>"}}`')


def _exercise_structure(nb):
    exercises, solutions, checks = [], [], 0
    for i, cell in enumerate(nb.cells):
        tags = cell.metadata.get("tags", [])
        if cell.cell_type == "markdown" and "```{exercise}" in cell.source:
            label = re.search(r":label:\s*(\S+)", cell.source)
            assert label, f"exercise in cell {i} has no :label:"
            exercises.append(label.group(1))
        if cell.cell_type == "markdown" and "{solution-start}" in cell.source:
            assert "solution" in tags, f"solution-start in cell {i} is not tagged 'solution'"
            solutions.append(re.search(r"\{solution-start\}\s*(\S+)", cell.source).group(1))
        if cell.cell_type == "markdown" and "{solution-end}" in cell.source:
            assert "solution" in tags, f"solution-end in cell {i} is not tagged 'solution'"
            nxt = nb.cells[i + 1]
            assert nxt.cell_type == "code" and nxt.source.startswith("# Check"), \
                f"the cell after the solution ending in cell {i} must be a '# Check' cell"
            checks += 1
    return exercises, solutions, checks


@pytest.mark.parametrize("path", NOTEBOOKS, ids=IDS)
def test_every_section_ends_with_checked_exercises(path):
    exercises, solutions, checks = _exercise_structure(_load(path))
    assert 1 <= len(exercises) <= 3, "one to three exercises per section"
    assert solutions == exercises, "every exercise needs its solution, in order"
    assert checks == len(exercises)


@pytest.mark.parametrize("path", NOTEBOOKS, ids=IDS)
def test_code_solutions_are_tagged_and_fenced(path):
    nb = _load(path)
    inside = False
    for i, cell in enumerate(nb.cells):
        tags = cell.metadata.get("tags", [])
        if "{solution-start}" in cell.source:
            inside = True
        elif "{solution-end}" in cell.source:
            inside = False
        elif inside:
            assert "solution" in tags, f"cell {i} sits inside a solution but is not tagged"
        else:
            assert "solution" not in tags, f"cell {i} is tagged 'solution' outside a solution"


def _student_module():
    return student_version


@pytest.mark.parametrize("path", NOTEBOOKS, ids=IDS)
def test_student_copy_has_no_solutions_but_keeps_exercises_and_checks(path):
    nb = _load(path)
    student = _student_module().student_copy(nb)
    nbformat.validate(student)
    text = "\n".join(c.source for c in student.cells)
    assert "solution-start" not in text and "solution-end" not in text
    assert all("solution" not in c.metadata.get("tags", []) for c in student.cells)
    original_solutions = [c.source for c in nb.cells
                          if c.cell_type == "code" and "solution" in c.metadata.get("tags", [])]
    for source in original_solutions:
        assert source not in text, "a solution's code leaked into the student copy"
    exercises, _, _ = _exercise_structure(nb)
    assert text.count("```{exercise}") == len(exercises)
    assert sum(c.source.startswith("# Check") for c in student.cells) == len(exercises)
    assert sum("exercise" in c.metadata.get("tags", []) for c in student.cells) == len(exercises)


def test_student_command_writes_copies(tmp_path):
    module = _student_module()
    assert module.main(["--out", str(tmp_path), str(NOTEBOOKS[0])]) == 0
    written = list(tmp_path.rglob("*.ipynb"))
    assert len(written) == 1
    assert "solution-start" not in written[0].read_text()


_EQ_LABEL = re.compile(r"\$\$[ \t]*\(([^)\s]+)\)")
_EQ_WHERE = re.compile(r"\{eq\}`([^`<]+)`\s*(below|above)")


@pytest.mark.parametrize("path", NOTEBOOKS, ids=IDS)
def test_an_equation_called_below_or_above_is_where_the_text_says(path):
    # "{eq}`x` below" must point forward and "{eq}`x` above" backward, in the same notebook.
    text = "\n".join(c.source for c in _load(path).cells if c.cell_type == "markdown")
    defined = {m.group(1): m.start() for m in _EQ_LABEL.finditer(text)}
    for m in _EQ_WHERE.finditer(text):
        label, word = m.groups()
        if label in defined:
            actual = "below" if defined[label] > m.start() else "above"
            assert word == actual, f"{{eq}}`{label}` is {actual} this sentence, not {word}"
