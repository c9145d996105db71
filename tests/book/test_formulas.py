"""The formula catalogue and its traceability: labels, functions, tests and the appendix."""
from __future__ import annotations

import csv
import io
import json
from contextlib import redirect_stdout
from pathlib import Path

import formulas
import nbformat
import pytest

ROOT = Path(__file__).resolve().parents[2]
SHARED = ROOT.parent / "shared" / "formulas.tsv"
COVERED_AT_LEAST = 265  # raise it as chapters land; it may never go down
SEED_IDS = 124          # formulas catalogued from the three seeds (the course may add, not drop)

# Sections whose chapters are written: every formula of these must be fully traced.
COMPLETE_SECTIONS = {"2.1", "2.2", "2.3", "3.1", "3.2", "3.3", "3.4", "4.1", "4.2", "4.3", "5.1",
                     "5.2", "5.3", "6.1", "6.2", "6.3", "7.1", "7.2", "8.1", "8.2", "8.3", "9.1",
                     "9.2", "9.3"}


def test_catalogue_is_well_formed():
    rows = formulas.catalogue()
    ids = [f.id for f in rows]
    assert len(ids) == len(set(ids))
    assert sum(f.seed != "course" for f in rows) == SEED_IDS
    for f in rows:
        assert f.id == f.id.strip() and "." in f.id and " " not in f.id
        assert f.description


def test_catalogue_keeps_every_seed_formula():
    ours = {f.id for f in formulas.catalogue()}
    if SHARED.is_file():   # the original catalogue, beside the repository on course machines
        with open(SHARED, encoding="utf-8", newline="") as fh:
            theirs = {row["id"] for row in csv.DictReader(fh, delimiter="\t",
                                                         quoting=csv.QUOTE_NONE)}
        assert theirs <= ours, f"dropped from the catalogue: {sorted(theirs - ours)}"
    else:
        assert len({f.id for f in formulas.catalogue() if f.seed != "course"}) == SEED_IDS


def test_no_broken_links():
    assert formulas.problems() == []


@pytest.mark.parametrize("formula", [f for f in formulas.catalogue()
                                     if set(f.section.split(",")) & COMPLETE_SECTIONS],
                         ids=lambda f: f.id)
def test_formulas_of_written_sections_are_fully_traced(formula):
    record = next(r for r in formulas.trace() if r["id"] == formula.id)
    assert record["notebook"], f"{formula.id}: no labelled equation in a notebook"
    assert record["function"], f"{formula.id}: no medlib function carries its :formula: tag"
    assert record["tests"], f"{formula.id}: no test is marked with it"
    assert record["covered"]


def test_traced_tests_exist_and_carry_the_marker():
    for record in formulas.trace():
        for node in record["tests"]:
            path, *names = node.split("::")
            source = (ROOT / path).read_text()
            assert f"def {names[-1]}(" in source
            assert record["id"] in source


def test_json_report_has_one_object_per_id():
    buf = io.StringIO()
    with redirect_stdout(buf):
        assert formulas.main(["--json"]) == 0
    report = json.loads(buf.getvalue())
    assert [r["id"] for r in report] == [f.id for f in formulas.catalogue()]
    for r in report:
        assert set(r) == {"id", "notebook", "label", "function", "tests"}
        assert isinstance(r["tests"], list)
        if r["label"] is not None:
            assert r["label"] == r["id"] and r["notebook"].endswith(".ipynb")


def test_text_report_counts_coverage():
    buf = io.StringIO()
    with redirect_stdout(buf):
        formulas.main([])
    first = buf.getvalue().splitlines()[0]
    covered = sum(r["covered"] for r in formulas.trace())
    assert first == f"formula coverage: {covered}/{len(formulas.catalogue())}"


def test_appendix_is_current():
    expected = formulas.appendix_markdown()
    actual = (ROOT / formulas.APPENDIX).read_text(encoding="utf-8")
    assert actual == expected, "run `python tools/formulas.py --write-appendix`"


def test_appendix_lists_every_formula():
    text = (ROOT / formulas.APPENDIX).read_text(encoding="utf-8")
    for f in formulas.catalogue():
        assert f"**`{f.id}`**" in text


# --- the checks can fail: a throw-away course tree with deliberate mistakes ----------------

def _fake_root(tmp_path, markdown: str, code: str = "", test_source: str = "") -> Path:
    root = tmp_path / "course"
    (root / "chapters").mkdir(parents=True)
    (root / "tests").mkdir()
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_markdown_cell(markdown), nbformat.v4.new_code_cell(code)]
    nbformat.write(nb, root / "chapters" / "x.ipynb")
    (root / "_toc.yml").write_text("format: jb-book\nroot: chapters/x\n")
    (root / "tests" / "test_x.py").write_text(test_source)
    return root


@pytest.mark.parametrize("function", [formulas.problems, formulas.trace, formulas.test_markers,
                                      formulas.notebook_labels])
def test_a_missing_course_folder_is_an_error_not_a_clean_report(tmp_path, function):
    # issue 11, group 9: problems() of a folder that does not exist reported no problems.
    with pytest.raises(FileNotFoundError, match="root .*missing.* no such directory"):
        function(tmp_path / "missing")
    (tmp_path / "empty").mkdir()
    with pytest.raises(FileNotFoundError, match="root .*empty.* is not a course folder"):
        function(tmp_path / "empty")


def test_a_dotted_label_that_is_no_id_is_reported(tmp_path):
    root = _fake_root(tmp_path, "$$\nx = 1\n$$ (geometry.voxel-to-wrld)")
    assert any("geometry.voxel-to-wrld" in p for p in formulas.problems(root))


def test_a_label_defined_twice_is_reported(tmp_path):
    root = _fake_root(tmp_path, "$$\nx\n$$ (dup-label)\n\n$$\ny\n$$ (dup-label)")
    assert any("more than once" in p for p in formulas.problems(root))


def test_a_test_marker_naming_no_id_is_reported(tmp_path):
    source = ("import pytest\n\n@pytest.mark.formula('noise.gausian')\n"
              "def test_x():\n    assert True\n")
    root = _fake_root(tmp_path, "# t", test_source=source)
    assert any("noise.gausian" in p for p in formulas.problems(root))
    assert formulas.test_markers(root) == {"noise.gausian": ["tests/test_x.py::test_x"]}


def test_a_formula_labelled_but_not_computed_in_its_notebook_is_reported(tmp_path):
    root = _fake_root(tmp_path, "$$\nS\n$$ (geometry.scaling)", code="print('no call')")
    assert any("never calls scaling_matrix" in p for p in formulas.problems(root))
    root2 = _fake_root(tmp_path / "ok", "$$\nS\n$$ (geometry.scaling)",
                       code="geometry.scaling_matrix([1, 2, 3])")
    assert not any("scaling" in p for p in formulas.problems(root2))


def test_module_level_and_class_markers_are_found(tmp_path):
    source = ("import pytest\npytestmark = pytest.mark.formula('noise.snr')\n\n"
              "@pytest.mark.formula('noise.poisson')\nclass TestX:\n"
              "    def test_a(self):\n        assert True\n")
    root = _fake_root(tmp_path, "# t", test_source=source)
    markers = formulas.test_markers(root)
    assert markers["noise.snr"] == ["tests/test_x.py::TestX::test_a"]
    assert markers["noise.poisson"] == ["tests/test_x.py::TestX::test_a"]


def test_the_catalogue_is_the_file_at_the_top_of_the_repository():
    assert formulas.CATALOGUE == ROOT / "formulas.tsv"
    assert formulas.CATALOGUE.is_file()


def test_coverage_never_drops():
    # 128 formulas were fully traced when medlib was split into one module per lesson: a tracer
    # that stops finding tags in subpackages (or a lost tag or marker) fails here.
    covered = sum(r["covered"] for r in formulas.trace())
    assert covered >= COVERED_AT_LEAST
