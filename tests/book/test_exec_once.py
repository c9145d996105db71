"""Each notebook is executed once: the book is built from the outputs nbval produced.

conftest.py passes the kernel messages nbval reads through nbclient's output handling and leaves
the executed notebook in ``_build/executed/``; ``tools/execute.py`` stores it in the book's cache
instead of executing the notebook again. These tests run nbval on a small notebook that has
what the chapters have (printed lines, a figure, an interactive widget with its figure, a display
updated in place, cleared output, an exercise check), execute the same notebook as the book
build does (``tools/execute.py``, nbclient), and require the same outputs and widget state; then
that the book's cache finds the notebook, and refuses it when its cells or medlib changed.
"""
from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import execute
import nbformat
import pytest

import course

ROOT = Path(__file__).resolve().parents[2]

CELLS = [
    ("code", "import ipywidgets as widgets\nimport matplotlib.pyplot as plt\n"
             "from IPython.display import clear_output, display"),
    ("markdown", "Some text."),
    ("code", "print('first line')\nprint('second line')"),
    ("code", "plt.plot([0, 1], [1, 0])\nplt.title('a line');"),       # ';' hides the value
    ("code", "@widgets.interact(n=widgets.IntSlider(value=3, min=1, max=5, description='n'),\n"
             "                  kind=widgets.Dropdown(options=['a', 'b'], value='b'))\n"
             "def show(n, kind):\n"
             "    print('n =', n, kind)\n"
             "    plt.plot(range(n))\n"
             "    plt.show()"),
    ("code", "handle = display('before the update', display_id=True)"),
    ("code", "handle.update('after the update')"),
    ("code", "print('cleared')\nclear_output()\nprint('kept')"),
    ("code", ""),
    ("code", "40 + 2"),
    ("solution", "answer = 42"),
    ("code", "# Check exercise 1\nverdict = answer == 42\nassert verdict\nprint('correct')"),
    ("code", "print('state after the check:', verdict)"),    # the probe must leave it True
]


def _notebook(folder: Path, cells=CELLS) -> Path:
    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3",
                                 "language": "python"}
    for kind, source in cells:
        if kind == "markdown":
            nb.cells.append(nbformat.v4.new_markdown_cell(source))
        else:
            cell = nbformat.v4.new_code_cell(source)
            if kind == "solution":
                cell.metadata["tags"] = ["solution"]
            nb.cells.append(cell)
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "once.ipynb"
    nbformat.write(nb, path)
    return path


def _nbval(path: Path, tmp_path: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "COURSE_BUDGET_DIR": str(tmp_path / "budgets"),
           "COURSE_EXECUTED_DIR": str(tmp_path / "executed")}
    return subprocess.run([sys.executable, "-m", "pytest", "--nbval-lax", "--nbval-current-env",
                           "-p", "no:cacheprovider", "-p", "no:xdist", str(path)],
                          cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)


def _rename_models(nb) -> dict:
    """Cells' outputs and widget state with model ids named by where they first appear."""
    state = nb.metadata.get("widgets", {}).get(
        "application/vnd.jupyter.widget-state+json", {}).get("state", {})
    names: dict[str, str] = {}

    def visit(model_id: str) -> None:
        if model_id in names or model_id not in state:
            return
        names[model_id] = f"model{len(names)}"
        for _, value in sorted(state[model_id]["state"].items()):
            for ref in value if isinstance(value, list) else [value]:
                if isinstance(ref, str) and ref.startswith("IPY_MODEL_"):
                    visit(ref[len("IPY_MODEL_"):])

    for cell in nb.cells:
        for out in cell.get("outputs", []):
            view = out.get("data", {}).get("application/vnd.jupyter.widget-view+json")
            if view:
                visit(view["model_id"])
    text = nbformat.writes(nb)
    for model_id, name in names.items():
        text = text.replace(model_id, name)
    renamed = nbformat.reads(text, as_version=4)
    state = renamed.metadata.get("widgets", {}).get(
        "application/vnd.jupyter.widget-state+json", {}).get("state", {})
    assert set(state) == set(names.values()), "a widget model that no output shows"
    outputs = []
    for cell in renamed.cells:
        if cell.cell_type == "code":
            merged = []                    # as conftest.py merges them (the split is timing)
            for out in cell.outputs:
                if merged and out["output_type"] == merged[-1]["output_type"] == "stream" \
                        and out["name"] == merged[-1]["name"]:
                    merged[-1]["text"] += out["text"]
                else:
                    merged.append(out)
            outputs.append((cell.execution_count, merged))
    return {"outputs": outputs, "state": state,
            "language": renamed.metadata["language_info"]["name"]}


@pytest.fixture(scope="module")
def executed_twice(tmp_path_factory):
    """The small notebook executed by nbval (through conftest.py) and by tools/execute.py."""
    tmp_path = tmp_path_factory.mktemp("once")
    path = _notebook(ROOT / "_build" / "exec-once-selftest" / tmp_path.name)
    result = _nbval(path, tmp_path)
    assert result.returncode == 0, result.stdout[-3000:]
    staged = tmp_path / "executed" / path.relative_to(ROOT)
    assert staged.is_file(), "conftest.py left no executed notebook"
    by_nbval = nbformat.read(staged, as_version=4)
    reference = execute.execute_one(str(path))
    assert reference["error"] is None, reference["error"]
    by_nbclient = nbformat.reads(reference["notebook"], as_version=4)
    return path, staged, by_nbval, by_nbclient


def test_nbval_leaves_the_outputs_and_widget_state_the_book_build_would(executed_twice):
    _, _, by_nbval, by_nbclient = executed_twice
    ours, theirs = _rename_models(by_nbval), _rename_models(by_nbclient)
    assert ours["outputs"] == theirs["outputs"]
    assert ours["state"] == theirs["state"]
    assert ours["language"] == theirs["language"] == "python"


def test_what_the_small_notebook_shows(executed_twice):
    """Pin the outputs themselves, so that both executors agreeing on nothing cannot pass."""
    _, _, by_nbval, _ = executed_twice
    code = [c for c in by_nbval.cells if c.cell_type == "code"]
    text = [[o.get("text") or o.get("data", {}).get("text/plain") for o in c.outputs]
            for c in code]
    assert text[1] == ["first line\nsecond line\n"]
    assert [o["output_type"] for o in code[2].outputs] == ["display_data"]   # no Text(...)
    assert "image/png" in code[2].outputs[0]["data"]
    assert text[4] == ["'after the update'"]        # the display updated in place
    assert text[5] == []                            # its own cell shows nothing
    assert text[6] == ["kept\n"]
    assert code[7].outputs == [] and code[7].execution_count is None      # empty: not run
    assert text[8] == ["42"]
    assert text[10] == ["correct\n"]
    assert text[11] == ["state after the check: True\n"]
    assert [c.execution_count for c in code if c.source] == list(range(1, 12))
    # The widget: an interact box whose Output widget holds the printed line and the figure.
    view = code[3].outputs[0]["data"]["application/vnd.jupyter.widget-view+json"]
    state = by_nbval.metadata["widgets"]["application/vnd.jupyter.widget-state+json"]["state"]
    box = state[view["model_id"]]["state"]
    children = [state[ref[len("IPY_MODEL_"):]] for ref in box["children"]]
    assert [c["model_name"] for c in children] == [
        "IntSliderModel", "DropdownModel", "OutputModel"]
    shown = children[2]["state"]["outputs"]
    assert shown[0]["text"] == "n = 3 b\n" and "image/png" in shown[1]["data"]
    assert "course_execution" in by_nbval.metadata


def test_the_book_cache_finds_the_notebook_nbval_executed(executed_twice, tmp_path):
    from jupyter_cache import get_cache

    path, staged, _, _ = executed_twice
    inputs = nbformat.read(staged, as_version=4).metadata["course_execution"]["inputs"]
    assert inputs == course._digest(course.EXECUTION_INPUTS)
    cache = get_cache(tmp_path / "jupyter_cache")
    todo, records = execute.cache_nbval_outputs(cache, [path], inputs, staged.parents[
        len(path.relative_to(ROOT).parts) - 1])
    assert todo == [] and [r["executor"] for r in records] == ["nbval"]
    # What myst-nb does when it renders the page: match the source notebook, merge the outputs.
    source = nbformat.read(path, as_version=4)
    _, merged = cache.merge_match_into_notebook(source)
    assert "widgets" in merged.metadata
    assert [c.get("outputs") for c in merged.cells if c.cell_type == "code"] == [
        c.outputs for c in nbformat.read(staged, as_version=4).cells if c.cell_type == "code"]


def test_outputs_from_other_inputs_or_other_cells_are_not_used(executed_twice, tmp_path):
    from jupyter_cache import get_cache

    path, staged, _, _ = executed_twice
    executed = staged.parents[len(path.relative_to(ROOT).parts) - 1]
    cache = get_cache(tmp_path / "jupyter_cache")
    todo, records = execute.cache_nbval_outputs(cache, [path], "another medlib", executed)
    assert todo == [path] and records == []
    changed = tmp_path / "changed"
    changed_path = _notebook(changed, CELLS[:-1] + [("code", "print('edited')")])
    (executed / changed_path.name).write_bytes(staged.read_bytes())
    inputs = course._digest(course.EXECUTION_INPUTS)
    todo, records = execute.cache_nbval_outputs(cache, [changed_path], inputs, executed,
                                                root=changed)
    assert todo == [changed_path] and records == []


def test_a_failing_notebook_leaves_nothing_for_the_book(tmp_path):
    path = _notebook(ROOT / "_build" / "exec-once-selftest" / tmp_path.name,
                     [("code", "x = 1"), ("code", "assert x == 2"), ("code", "print(x)")])
    earlier = tmp_path / "executed" / path.relative_to(ROOT)    # from a run that passed
    earlier.parent.mkdir(parents=True)
    earlier.write_text("{}")
    result = _nbval(path, tmp_path)
    assert result.returncode != 0
    assert not earlier.exists()
    assert re.search(r"1 failed", result.stdout)
