"""The formula catalogue and how each formula is traced through the course.

``formulas.tsv`` (at the top of the repository) lists every formula of the three seed documents
with a stable id, plus the formulas the course adds (seed ``course``). A formula is *covered*
when all three links exist, each declared in one obvious place:

label
    A labelled display equation in a chapter notebook whose label *is* the id:
    ``$$ ... $$ (geometry.voxel-to-world)``. Labels containing a dot are reserved for ids.
function
    A ``:formula:`id``` tag in the docstring of a public ``medlib`` function or class.
tests
    A ``@pytest.mark.formula("id", ...)`` marker on a test in ``tests/``.

In addition, the notebook that labels a formula must call one of the functions tagged with it:
that is where the formula is checked numerically.

Command line::

    python tools/formulas.py                  # coverage "covered/total" and what is missing
    python tools/formulas.py --json           # per id: id, notebook, label, function, tests
    python tools/formulas.py --check          # exit 1 on any broken link
    python tools/formulas.py --write-appendix # regenerate chapters/appendix/formulas.md
"""
from __future__ import annotations

import argparse
import ast
import csv
import importlib
import inspect
import json
import pkgutil
import re
import sys
from dataclasses import dataclass
from pathlib import Path

import course_map
import nbformat

__all__ = ["Formula", "catalogue", "problems", "trace", "appendix_markdown"]

ROOT = Path(__file__).resolve().parent.parent
CATALOGUE = ROOT / "formulas.tsv"
APPENDIX = Path("chapters/appendix/formulas.md")

_TAG = re.compile(r":formula:`([^`]+)`")
_DOLLAR_LABEL = re.compile(r"\$\$[ \t]*\(([^)\s]+)\)")
_DIRECTIVE_LABEL = re.compile(r"^:label:\s*(\S+)\s*$", re.MULTILINE)

SECTION_TITLES = {
    "2.1": "Coordinate systems and image geometry",
    "2.2": "Image sampling and convolution",
    "2.3": "Noise models",
    "3.1": "X-ray attenuation",
    "3.2": "Radon transform",
    "3.3": "Filtered backprojection",
    "3.4": "Hounsfield units and windowing",
    "3.5": "The polychromatic beam and beam hardening",
    "3.6": "Fan-beam geometry",
    "4.1": "Larmor precession and the Bloch equation",
    "4.2": "Relaxation and contrast",
    "4.3": "k-space",
    "4.4": "Slice selection",
    "4.5": "Frequency and phase encoding",
    "4.6": "Pulse sequences",
    "4.7": "Parallel imaging and compressed sensing",
    "4.8": "Signal-to-noise ratio",
    "5.1": "Sound waves",
    "5.2": "Attenuation, impedance and reflection",
    "5.3": "B-mode imaging",
    "5.4": "Beam formation",
    "5.5": "Resolution and artefacts",
    "5.6": "Doppler",
    "6.1": "Radioactive decay",
    "6.2": "The PET forward model",
    "6.3": "MLEM and OSEM",
    "6.4": "Quantitative PET",
    "6.5": "SPECT",
    "7.1": "Projection radiography",
    "7.2": "Detector response and flat-field correction",
    "7.3": "Scatter and geometry in radiography",
    "8.1": "Histogram and normalisation",
    "8.2": "Filtering and features",
    "8.3": "Resampling and alignment",
    "9.1": "Convolutional layers",
    "9.2": "Loss functions",
    "9.3": "Evaluation metrics",
    "10.1": "Resolution: PSF, LSF and MTF",
    "10.2": "Noise power and DQE",
    "10.3": "Contrast and detection",
    "10.4": "Dose",
    "preprocessing-modality-specific.txt": "Preprocessing for deep learning",
    "pixelwise-prediction-eth-notes.txt": "Pixel-wise prediction",
    "trustworthy": "Trustworthy AI for pixel-wise prediction (Part IV)",
}


@dataclass(frozen=True)
class Formula:
    """One row of the catalogue."""

    id: str
    seed: str
    section: str
    description: str
    latex: str

    @property
    def group(self) -> str:
        """The section that groups the formula in the quick reference."""
        return self.section.split(",")[0] if self.section not in ("", "-") else self.seed


def catalogue(path: Path = CATALOGUE) -> list[Formula]:
    """Read the catalogue.

    Returns
    -------
    list of Formula
        In file order.

    Raises
    ------
    ValueError
        If a row is malformed or an id repeats.
    """
    with open(path, encoding="utf-8", newline="") as fh:
        rows = list(csv.DictReader(fh, delimiter="\t", quoting=csv.QUOTE_NONE))
    formulas, seen = [], set()
    for n, row in enumerate(rows, start=2):
        if None in row or any(v is None for v in row.values()):
            raise ValueError(f"{path.name} line {n}: expected 5 tab-separated fields")
        f = Formula(**{k: v.strip() for k, v in row.items()})
        if f.id in seen:
            raise ValueError(f"{path.name} line {n}: duplicate id {f.id!r}")
        seen.add(f.id)
        formulas.append(f)
    return formulas


def _course_root(root, *, need: str = "_toc.yml") -> Path:
    """``root`` as a Path to a course folder holding ``need``, or a FileNotFoundError saying so.

    A missing folder must not look like a course without problems (nothing found, nothing
    wrong): every public function that reads ``root`` checks it first.
    """
    path = Path(root)
    if not path.is_dir():
        raise FileNotFoundError(f"root {str(path)!r} is not a course folder: no such directory")
    if not (path / need).exists():
        raise FileNotFoundError(f"root {str(path)!r} is not a course folder: it has no {need}")
    return path


def _notebooks(root: Path) -> list[Path]:
    return course_map.notebooks(_course_root(root))


def _cells(notebook: Path) -> list:
    return nbformat.read(notebook, as_version=4).cells


def _source(cell) -> str:
    return cell.get("source", "")


def notebook_labels(root: Path = ROOT) -> dict[str, list[str]]:
    """Equation labels defined in the chapter notebooks.

    Returns
    -------
    dict
        Label -> notebooks (paths relative to ``root``) that define it.
    """
    labels: dict[str, list[str]] = {}
    for nb in _notebooks(root):
        rel = nb.relative_to(root).as_posix()
        for cell in _cells(nb):
            if cell.get("cell_type") != "markdown":
                continue
            text = _source(cell)
            for label in _DOLLAR_LABEL.findall(text) + _DIRECTIVE_LABEL.findall(text):
                labels.setdefault(label, []).append(rel)
    return labels


def _notebook_code(root: Path, rel: str) -> str:
    return "\n".join(_source(c) for c in _cells(root / rel) if c.get("cell_type") == "code")


def function_tags() -> tuple[dict[str, list[str]], list[str]]:
    """``:formula:`` tags in the docstrings of medlib's public functions and classes.

    Returns
    -------
    tags : dict
        Formula id -> dotted names of the functions that carry its tag.
    errors : list of str
        Modules that could not be imported (e.g. an optional dependency is missing).
    """
    import medlib

    tags: dict[str, list[str]] = {}
    errors: list[str] = []
    for info in pkgutil.walk_packages(medlib.__path__, prefix="medlib.",
                                      onerror=lambda name: errors.append(f"{name} failed")):
        modname = info.name
        if any(part.startswith("_") for part in modname.split(".")):
            continue
        try:
            module = importlib.import_module(modname)
        except ImportError as exc:
            errors.append(f"{modname} could not be imported: {exc}")
            continue
        names = getattr(module, "__all__", [n for n in vars(module) if not n.startswith("_")])
        objects = [getattr(module, name, None) for name in names]
        objects = [o for o in objects if (inspect.isfunction(o) or inspect.isclass(o))
                   and getattr(o, "__module__", None) == modname]
        # Source order: the function a module defines first for an id is its main implementer.
        objects.sort(key=lambda o: inspect.getsourcelines(o)[1])
        for obj in objects:
            name = obj.__name__
            for fid in _TAG.findall(inspect.getdoc(obj) or ""):
                tags.setdefault(fid, []).append(f"{modname}.{name}")
    return tags, errors


def _marker_ids(node: ast.expr) -> list[str]:
    """Formula ids of a ``pytest.mark.formula("a", "b")`` expression (or a list of marks)."""
    if isinstance(node, (ast.List, ast.Tuple)):
        return [i for elt in node.elts for i in _marker_ids(elt)]
    if not isinstance(node, ast.Call):
        return []
    func = node.func
    if not (isinstance(func, ast.Attribute) and func.attr == "formula"):
        return []
    base = func.value
    if not (isinstance(base, ast.Attribute) and base.attr == "mark"
            or isinstance(base, ast.Name) and base.id == "mark"):
        return []
    return [a.value for a in node.args if isinstance(a, ast.Constant) and isinstance(a.value, str)]


def test_markers(root: Path = ROOT) -> dict[str, list[str]]:
    """``@pytest.mark.formula`` markers of the tests.

    Returns
    -------
    dict
        Formula id -> test node ids (``tests/test_x.py::test_y`` or ``::Class::test_y``).
    """
    root = _course_root(root, need="tests")
    found: dict[str, list[str]] = {}

    def visit(body, prefix: str, inherited: list[str]) -> None:
        for node in body:
            if isinstance(node, ast.ClassDef) and node.name.startswith("Test"):
                ids = inherited + [i for d in node.decorator_list for i in _marker_ids(d)]
                visit(node.body, f"{prefix}::{node.name}", ids)
            elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and \
                    node.name.startswith("test"):
                ids = inherited + [i for d in node.decorator_list for i in _marker_ids(d)]
                for fid in dict.fromkeys(ids):
                    found.setdefault(fid, []).append(f"{prefix}::{node.name}")

    for path in sorted((root / "tests").rglob("test_*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        module_ids: list[str] = []
        for node in tree.body:
            if isinstance(node, ast.Assign) and any(
                isinstance(t, ast.Name) and t.id == "pytestmark" for t in node.targets
            ):
                module_ids += _marker_ids(node.value)
        visit(tree.body, path.relative_to(root).as_posix(), module_ids)
    return found


def trace(root: Path = ROOT) -> list[dict]:
    """One record per catalogued formula: where it is taught, computed and tested.

    Returns
    -------
    list of dict
        Keys ``id``, ``notebook``, ``label`` (None when missing), ``function`` (the main
        implementer: the first tagged function in its module's source order, or None),
        ``functions`` (all), ``tests`` (list), ``covered`` (bool).

    Raises
    ------
    FileNotFoundError
        If ``root`` is not a course folder (no such directory, or no ``_toc.yml`` or ``tests``).
    """
    root = _course_root(root)
    labels = notebook_labels(root)
    tags, _ = function_tags()
    markers = test_markers(root)
    records = []
    for f in catalogue():
        notebooks = labels.get(f.id, [])
        functions = tags.get(f.id, [])
        tests = sorted(markers.get(f.id, []))
        records.append({
            "id": f.id,
            "notebook": notebooks[0] if notebooks else None,
            "label": f.id if notebooks else None,
            "function": functions[0] if functions else None,
            "functions": functions,
            "tests": tests,
            "covered": bool(notebooks and functions and tests),
        })
    return records


def problems(root: Path = ROOT) -> list[str]:
    """Broken links: anything that names a formula id the catalogue does not have, labels
    defined twice, modules that fail to import, and formulas labelled in a notebook that never
    calls their functions.

    Returns
    -------
    list of str
        Empty when every link resolves.

    Raises
    ------
    FileNotFoundError
        If ``root`` is not a course folder (no such directory, or no ``_toc.yml`` or ``tests``):
        a missing folder is not a course without problems.
    """
    root = _course_root(root)
    ids = {f.id for f in catalogue()}
    out: list[str] = []
    labels = notebook_labels(root)
    for label, notebooks in sorted(labels.items()):
        if "." in label and label not in ids:
            out.append(f"label {label!r} in {', '.join(notebooks)} is not a catalogued formula id "
                       "(labels with a dot are reserved for ids of formulas.tsv)")
        if len(notebooks) > 1:
            out.append(f"label {label!r} is defined more than once: {', '.join(notebooks)}")
    tags, errors = function_tags()
    out += errors
    for fid, functions in sorted(tags.items()):
        if fid not in ids:
            out.append(f":formula:`{fid}` in {', '.join(functions)} names no catalogued id")
    for fid, tests in sorted(test_markers(root).items()):
        if fid not in ids:
            out.append(f"pytest.mark.formula({fid!r}) on {', '.join(tests)} names no catalogued id")
    for fid in sorted(ids & set(labels) & set(tags)):
        code = _notebook_code(root, labels[fid][0])
        names = [name.rsplit(".", 1)[1] for name in tags[fid]]
        if not any(re.search(rf"\b{re.escape(n)}\s*\(", code) for n in names):
            out.append(f"{labels[fid][0]} labels {fid} but never calls {' or '.join(names)} "
                       "(check the formula numerically where it is taught)")
    return out


def appendix_markdown(records: list[dict] | None = None, root: Path = ROOT) -> str:
    """The quick-reference page: every formula, rendered, with where it is taught and computed.

    Returns
    -------
    str
        MyST Markdown for ``chapters/appendix/formulas.md``.
    """
    records = trace(root) if records is None else records
    by_id = {r["id"]: r for r in records}
    formulas = catalogue()
    covered = sum(r["covered"] for r in records)
    lines = [
        "# Formula quick reference",
        "",
        "<!-- Generated by `python tools/formulas.py --write-appendix` from formulas.tsv;",
        "     do not edit by hand (a test checks that this page is current). -->",
        "",
        "Every formula of the course, as catalogued in `formulas.tsv`: the key formulas of",
        "imaging physics and deep learning, the preprocessing recipes and the losses of pixel-wise",
        "prediction, plus the formulas the course adds. Each entry links to the section that",
        "derives it and names the `medlib` function that computes it and the tests that check that",
        "function against an independent reference.",
        "",
        f"So far **{covered} of {len(formulas)}** formulas are taught, implemented and tested; the",
        "others belong to chapters still being written.",
        "",
    ]
    group = None
    for f in formulas:
        if f.group != group:
            group = f.group
            title = SECTION_TITLES.get(group, group)
            heading = f"{group} {title}" if group[0].isdigit() else title
            lines += [f"## {heading}", ""]
        r = by_id[f.id]
        origin = " (added by the course)" if f.seed == "course" else ""
        lines += [f"(formula-{f.id})=", f"**`{f.id}`** {f.description}{origin}", ""]
        if f.latex:
            lines += ["$$", f.latex, "$$", ""]
        if r["covered"]:
            page = Path(r["notebook"]).relative_to("chapters").with_suffix("").as_posix()
            funcs = ", ".join(f"{{py:obj}}`{name}`" for name in r["functions"])
            ntests = len(r["tests"])
            lines += [
                f"Taught in {{doc}}`../{page}`, equation {{eq}}`{f.id}`. "
                f"Computed by {funcs}; checked by {ntests} test{'s' if ntests != 1 else ''} "
                f"(`{r['tests'][0]}`{' and others' if ntests > 1 else ''}).",
                "",
            ]
        else:
            lines += ["*Not yet taught in the book.*", ""]
    return "\n".join(lines).rstrip() + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python tools/formulas.py",
                                     description="Report how the course's formulas are traced.")
    parser.add_argument("--json", action="store_true", help="print one JSON object per id")
    parser.add_argument("--check", action="store_true", help="exit 1 on any broken link")
    parser.add_argument("--write-appendix", action="store_true",
                        help=f"regenerate {APPENDIX.as_posix()}")
    args = parser.parse_args(argv)
    records = trace()
    if args.write_appendix:
        (ROOT / APPENDIX).write_text(appendix_markdown(records), encoding="utf-8")
        print(f"wrote {APPENDIX.as_posix()}")
    if args.json:
        keys = ("id", "notebook", "label", "function", "tests")
        print(json.dumps([{k: r[k] for k in keys} for r in records], indent=1))
    elif not args.write_appendix:
        covered = [r for r in records if r["covered"]]
        print(f"formula coverage: {len(covered)}/{len(records)}")
        for r in records:
            if not r["covered"]:
                missing = [k for k in ("label", "function") if r[k] is None]
                missing += [] if r["tests"] else ["tests"]
                print(f"  missing {', '.join(missing):<22} {r['id']}")
    found = problems()
    if found:
        print("\nbroken links:", file=sys.stderr)
        for p in found:
            print("  " + p, file=sys.stderr)
    return 1 if (args.check and found) else 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except BrokenPipeError:          # e.g. piped into `head`: stop quietly
        sys.stderr.close()
        sys.exit(0)
