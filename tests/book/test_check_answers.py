"""Checks accept any correct answer (a static test over the notebooks, issue 18).

Every exercise has exactly one check, ``# Check exercise N`` (numbered in order: the grader,
tools/grade.py, matches a student's answer to the instructor's check by it). A check reads the
student's own values (names the exercise text asks for) and compares them with what medlib or the
physics gives, computed in the check or by the notebook: never with a fixed string, and never a
real number with ``==`` (except 0 and 1, which clipping gives exactly): a correct answer computed
in another order differs in the last bits. Whether a check also rejects wrong answers is tested
when the notebooks run (conftest.py)."""
from __future__ import annotations

import ast
import builtins
import re
from pathlib import Path

import course_map
import nbformat
import pytest

ROOT = Path(__file__).resolve().parents[2]
NOTEBOOKS = course_map.notebooks()
IDS = [p.relative_to(ROOT).as_posix() for p in NOTEBOOKS]
CHECK = re.compile(r"# Check exercise (\d+)\b")
STRING_TESTS = {"startswith", "endswith", "lower", "upper", "strip", "format"}


def _bound(tree: ast.AST) -> set[str]:
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Name) and isinstance(node.ctx, (ast.Store, ast.Del)):
            names.add(node.id)
        elif isinstance(node, (ast.FunctionDef, ast.ClassDef, ast.Lambda)):
            if not isinstance(node, ast.Lambda):
                names.add(node.name)
            names |= {a.arg for a in node.args.args} if not isinstance(node, ast.ClassDef) \
                else set()
    return names


def _loaded(tree: ast.AST) -> set[str]:
    return {n.id for n in ast.walk(tree) if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Load)}


def _uses(node: ast.AST, names: set[str]) -> bool:
    return bool(_loaded(node) & names)


def _is_str(node: ast.AST) -> bool:
    return (isinstance(node, ast.Constant) and isinstance(node.value, str)) or \
        isinstance(node, ast.JoinedStr) or \
        (isinstance(node, (ast.Tuple, ast.List, ast.Set)) and any(map(_is_str, node.elts)))


def _is_float(node: ast.AST) -> bool:
    """A real literal other than 0.0 and 1.0 (exact results of clipping, saturation)."""
    if isinstance(node, ast.UnaryOp):
        node = node.operand
    return isinstance(node, ast.Constant) and isinstance(node.value, float) and \
        node.value not in (0.0, 1.0)


def check_problems(nb) -> list[str]:
    """What keeps the checks of ``nb`` from accepting any correct answer (empty: fine)."""
    problems = []
    cells = nb.cells
    exercises = [i for i, c in enumerate(cells)
                 if c.cell_type == "markdown" and "```{exercise}" in c.source]
    checks = [i for i, c in enumerate(cells)
              if c.cell_type == "code" and c.source.lstrip().startswith("# Check")]
    if len(checks) != len(exercises):
        problems.append(f"{len(exercises)} exercises but {len(checks)} checks")
    for k, i in enumerate(checks, start=1):
        src = cells[i].source
        m = CHECK.match(src.lstrip())
        if not m or int(m.group(1)) != k:
            problems.append(f"cell {i}: the check of exercise {k} must start "
                            f"'# Check exercise {k}'")
        before = [e for e in exercises if e < i]
        if not before:
            problems.append(f"cell {i}: a check before any exercise")
            continue
        text = cells[before[-1]].source
        solution = set()
        for c in cells[before[-1]:i]:
            if c.cell_type == "code" and "solution" in c.metadata.get("tags", []):
                solution |= _bound(ast.parse(c.source))
        tree = ast.parse(src)
        answers = (_loaded(tree) - _bound(tree)) & solution
        if not answers:
            problems.append(f"cell {i}: the check reads none of the student's values")
        for name in sorted(answers):
            if not re.search(rf"\b{re.escape(name)}\b", text):
                problems.append(f"cell {i}: the check reads `{name}`, which the exercise "
                                "text does not ask for")
        for node in ast.walk(tree):
            if isinstance(node, ast.Compare):
                sides = [node.left, *node.comparators]
                if any(_uses(s, answers) for s in sides):
                    if any(_is_str(s) for s in sides):
                        problems.append(f"cell {i}: compares a student's value with a fixed "
                                        f"string: {ast.unparse(node)}")
                    if any(isinstance(op, (ast.Eq, ast.NotEq)) for op in node.ops) and \
                            any(_is_float(s) for s in sides):
                        problems.append(f"cell {i}: a real number compared with ==: "
                                        f"{ast.unparse(node)} (use a tolerance)")
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and \
                    node.func.attr in STRING_TESTS and _uses(node.func.value, answers):
                problems.append(f"cell {i}: tests the text of a student's value: "
                                f"{ast.unparse(node)}")
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and \
                    node.func.id in ("str", "repr") and _uses(node, answers):
                problems.append(f"cell {i}: compares the printed form of a student's value: "
                                f"{ast.unparse(node)}")
    return problems


@pytest.mark.parametrize("path", NOTEBOOKS, ids=IDS)
def test_every_check_compares_the_students_values_with_medlib_or_physics(path):
    assert check_problems(nbformat.read(path, as_version=4)) == []


def _nb(solution: str, check: str | None, text: str = "Store the answer in `answer`."):
    cells = [nbformat.v4.new_code_cell("import numpy as np"),
             nbformat.v4.new_markdown_cell("```{exercise}\n:label: x\n" + text + "\n```"),
             nbformat.v4.new_code_cell(solution, metadata={"tags": ["solution"]})]
    if check is not None:
        cells.append(nbformat.v4.new_code_cell("# Check exercise 1\n" + check))
    nb = nbformat.v4.new_notebook()
    nb.cells = cells
    return nb


@pytest.mark.parametrize("solution, check, problem", [
    ("answer = 0.25", None, "1 exercises but 0 checks"),
    ("answer = 'left'", "assert answer == 'left'", "fixed string"),
    ("answer = 'LEFT'", "assert answer.lower() in ('left',)", "fixed string"),
    ("answer = 0.1 + 0.2", "assert answer == 0.3", "with =="),
    ("answer = 3.0", "assert str(answer) == '3.0'", "printed form"),
    ("answer = 3\nother = 4", "assert other == 4", "does not ask for"),
    ("answer = 3", "assert np.pi > 3", "none of the student's values"),
])
def test_a_check_that_pins_a_form_rather_than_a_value_is_caught(solution, check, problem):
    problems = check_problems(_nb(solution, check))
    assert any(problem in p for p in problems), problems


def test_a_check_against_the_physics_passes():
    nb = _nb("answer = 1540 / 5e6 * 1e3",
             "assert abs(answer - 1540 / 5e6 * 1e3) < 1e-9, 'λ = c / f'\n"
             "assert isinstance(int(3), int) and all(v > 0 for v in [answer])")
    assert check_problems(nb) == []


def test_builtins_are_not_answers():
    assert "print" in dir(builtins)
