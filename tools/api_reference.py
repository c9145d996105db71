"""The book's API reference: one page per ``medlib`` module, generated from the code itself.

Each page documents the module's public functions and classes from their docstrings (Sphinx
autodoc with numpydoc; the highlighted source is one click away) and says, for each, where the
book teaches it and which tests check it. "Where" comes from reading the notebooks' code cells and
the test modules (with :mod:`ast`, resolving every ``medlib`` name they import to the object it
names), and formulas from the same trace as the formula quick reference (``tools/formulas.py``).

Command line::

    python tools/api_reference.py           # list every public object and where it is used
    python tools/api_reference.py --write   # regenerate chapters/appendix/api/
    python tools/api_reference.py --check   # exit 1 if the pages are not current
"""
from __future__ import annotations

import argparse
import ast
import importlib
import inspect
import json
import pkgutil
import re
import sys
from collections import defaultdict
from pathlib import Path

import course_map
import formulas

ROOT = Path(__file__).resolve().parent.parent
PAGES = Path("chapters/appendix/api")


# --- what medlib offers -------------------------------------------------------------------

def modules() -> list[str]:
    """The public modules and packages of medlib, in name order (packages before their modules)."""
    import medlib

    names = ["medlib"]
    for info in pkgutil.walk_packages(medlib.__path__, prefix="medlib."):
        if not any(part.startswith("_") for part in info.name.split(".")):
            names.append(info.name)
    return sorted(names)


def is_package(module_name: str) -> bool:
    return hasattr(importlib.import_module(module_name), "__path__")


def public_objects(module_name: str) -> list[str]:
    """Names of the public functions and classes a module defines, in source order."""
    module = importlib.import_module(module_name)
    names = getattr(module, "__all__", [n for n in vars(module) if not n.startswith("_")])
    objs = []
    for name in names:
        obj = getattr(module, name, None)
        if (inspect.isfunction(obj) or inspect.isclass(obj)) and obj.__module__ == module_name:
            objs.append((inspect.getsourcelines(obj)[1], name))
    return [name for _, name in sorted(objs)]


def public_constants(module_name: str) -> list[str]:
    """Names of the module-level constants (UPPER_CASE) it defines and exports or documents
    with ``#:`` comments, in source order."""
    module = importlib.import_module(module_name)
    source = inspect.getsource(module)
    exported = set(getattr(module, "__all__", ()))
    return [name for name in re.findall(r"^([A-Z][A-Z0-9_]*)\s*(?::[^=\n]*)?=", source, re.M)
            if name in exported or re.search(rf"^#:.*\n(?:#:.*\n)*{name}\b", source, re.M)]


def _qualname(obj) -> str | None:
    if (inspect.isfunction(obj) or inspect.isclass(obj)) and \
            getattr(obj, "__module__", "").startswith("medlib."):
        return f"{obj.__module__}.{obj.__qualname__}"
    return None


# --- where it is used: notebooks and tests, read with ast -------------------------------------

class _Uses(ast.NodeVisitor):
    """Collect the medlib objects a piece of code refers to, per enclosing test function."""

    def __init__(self, names: dict[str, object]):
        self.names = names            # local name -> the medlib module or object it is bound to
        self.scope: list[str] = []
        self.found: list[tuple[str, str]] = []   # (qualname, scope)

    def _record(self, obj) -> None:
        q = _qualname(obj)
        if q:
            self.found.append((q, "::".join(self.scope)))

    def _resolve(self, node):
        if isinstance(node, ast.Name):
            return self.names.get(node.id)
        if isinstance(node, ast.Attribute):
            base = self._resolve(node.value)
            if inspect.ismodule(base):
                return getattr(base, node.attr, None)
        return None

    def visit_Import(self, node):
        for alias in node.names:
            if alias.name == "medlib" or alias.name.startswith("medlib."):
                if alias.asname:
                    self.names[alias.asname] = _import(alias.name)
                else:
                    self.names["medlib"] = _import("medlib")

    def visit_ImportFrom(self, node):
        if node.module and (node.module == "medlib" or node.module.startswith("medlib.")):
            parent = _import(node.module)
            for alias in node.names:
                # As Python does: the package's attribute first (``from medlib.ct import fbp`` is
                # the function), then the submodule.
                target = getattr(parent, alias.name, None) if parent else None
                if target is None:
                    target = _import(f"{node.module}.{alias.name}")
                if target is not None:
                    self.names[alias.asname or alias.name] = target

    def _scoped(self, node):
        self.scope.append(node.name)
        self.generic_visit(node)
        self.scope.pop()

    visit_FunctionDef = visit_AsyncFunctionDef = visit_ClassDef = _scoped

    def visit_Attribute(self, node):
        obj = self._resolve(node)
        if obj is not None and not inspect.ismodule(obj):
            self._record(obj)
        else:
            self.generic_visit(node)

    def visit_Name(self, node):
        obj = self.names.get(node.id)
        if obj is not None and not inspect.ismodule(obj):
            self._record(obj)


def _import(name: str):
    try:
        return importlib.import_module(name)
    except ImportError:
        return None


def _notebook_code(path: Path) -> list[str]:
    import nbformat

    nb = nbformat.read(path, as_version=4)
    cells = []
    for cell in nb.cells:
        if cell.cell_type == "code":
            # IPython magics and shell escapes are not Python.
            cells.append("\n".join("" if line.lstrip().startswith(("%", "!")) else line
                                   for line in cell.source.splitlines()))
    return cells


def usages(root: Path = ROOT) -> dict[str, dict[str, list[str]]]:
    """Where each medlib object is used.

    Returns
    -------
    dict
        Qualified name (``medlib.ct.fbp.fbp``) -> ``{"notebooks": [...], "tests": [...]}``:
        notebooks as paths relative to ``root`` in book order, tests as node ids
        (``tests/medlib/ct/test_fbp.py::test_x``; a module-level table of cases is reported
        as the file alone).
    """
    found: dict[str, dict[str, list[str]]] = defaultdict(lambda: {"notebooks": [], "tests": []})
    for nb in course_map.notebooks(root):
        visitor = _Uses({})
        for code in _notebook_code(nb):
            try:
                visitor.visit(ast.parse(code))
            except SyntaxError:
                continue
        rel = nb.relative_to(root).as_posix()
        for q, _ in visitor.found:
            if rel not in found[q]["notebooks"]:
                found[q]["notebooks"].append(rel)
    for path in sorted((root / "tests").rglob("test_*.py")):
        visitor = _Uses({})
        visitor.visit(ast.parse(path.read_text(encoding="utf-8")))
        rel = path.relative_to(root).as_posix()
        for q, scope in visitor.found:
            node = f"{rel}::{scope}" if scope else rel
            if node not in found[q]["tests"]:
                found[q]["tests"].append(node)
    return {q: {"notebooks": v["notebooks"], "tests": sorted(v["tests"])}
            for q, v in found.items()}


# --- the pages -------------------------------------------------------------------------------

def _doc(path: str) -> str:
    return "/" + str(Path(path).with_suffix(""))


def module_page(module_name: str, uses: dict, formula_ids: dict[str, list[str]],
                root: Path = ROOT) -> str:
    """MyST Markdown for one module's (or package's) page."""
    module = importlib.import_module(module_name)
    src = Path(inspect.getsourcefile(module)).resolve().relative_to(root).as_posix()
    lines = [f"# `{module_name}`", "",
             "<!-- Generated by `python tools/api_reference.py --write`; do not edit by hand. -->",
             "", "```{eval-rst}", f".. automodule:: {module_name}", "   :no-members:", "```", ""]
    if is_package(module_name):
        children = [m for m in modules() if m.rsplit(".", 1)[0] == module_name]
        lines += [f"Source: `{src}`. Its modules:", ""]
        lines += [f"- {{doc}}`{c} <{c}>`" for c in children]
        return "\n".join(lines).rstrip() + "\n"
    owner = [nb for nb in course_map.notebooks(root) if course_map.module_for(nb, root) ==
             module_name]
    facts = [f"Source: `{src}`."]
    if owner:
        facts.append(f"The lesson: {{doc}}`{_doc(owner[0].relative_to(root).as_posix())}`.")
    test_file = course_map.test_path(module_name, root)
    if test_file.is_file():
        facts.append(f"Its tests: `{test_file.relative_to(root).as_posix()}`.")
    lines += [" ".join(facts), ""]
    for name in public_constants(module_name):
        lines += ["```{eval-rst}", f".. autodata:: {module_name}.{name}", "   :no-value:", "```",
                  ""]
    for name in public_objects(module_name):
        obj = getattr(module, name)
        qual = f"{module_name}.{name}"
        kind = "autoclass" if inspect.isclass(obj) else "autofunction"
        lines += ["```{eval-rst}", f".. {kind}:: {qual}", "```", ""]
        u = uses.get(qual, {"notebooks": [], "tests": []})
        where = []
        lesson = [n for n in u["notebooks"] if owner and n == owner[0].relative_to(root).as_posix()]
        others = [n for n in u["notebooks"] if n not in lesson]
        if lesson:
            where.append(f"**Taught in** {{doc}}`{_doc(lesson[0])}`" + (
                "; also used in " + ", ".join(f"{{doc}}`{_doc(n)}`" for n in others)
                if others else "") + ".")
        elif others:
            where.append("**Used in** " + ", ".join(f"{{doc}}`{_doc(n)}`" for n in others) + ".")
        else:
            where.append("**Used in** no notebook directly (a building block of the others).")
        fids = formula_ids.get(qual, [])
        if fids:
            where.append("**Formulas** " + ", ".join(f"{{formula}}`{i}`" for i in fids) + ".")
        tests = u["tests"]
        if tests:
            files = sorted({t.split("::")[0] for t in tests})
            named = [t.split("::", 1)[1] for t in tests if "::" in t]
            shown = ", ".join(f"`{t}`" for t in named[:3])
            more = f" and {len(named) - 3} more" if len(named) > 3 else ""
            tables = len(tests) - len(named)
            plural = "s" if tables > 1 else ""
            cases = (f"{'; ' if named else ''}cases in the module-level table{plural}"
                     if tables else "")
            where.append("**Tested in** " + ", ".join(f"`{f}`" for f in files)
                         + f" ({shown}{more}{cases}).")
        else:
            where.append("**Tested** by no test that names it directly.")
        lines += [" ".join(where), ""]
    return "\n".join(lines).rstrip() + "\n"


def index_page(names: list[str], root: Path = ROOT) -> str:
    lines = ["# API reference", "",
             "<!-- Generated by `python tools/api_reference.py --write`; do not edit by hand. -->",
             "",
             "Every public function and class of `medlib`, documented from its docstring, with "
             "where the book teaches it, the formulas it implements and the tests that check it. "
             "A notebook's code captions link here; each entry links on to its highlighted "
             "source ([source]).", "",
             "| module | what it holds |", "| --- | --- |"]
    for name in names:
        module = importlib.import_module(name)
        summary = (inspect.getdoc(module) or "").split("\n")[0].rstrip(".").replace("|", "\\|")
        indent = "&emsp;" * (name.count(".") - 1) if name.count(".") > 1 else ""
        lines.append(f"| {indent}{{doc}}`{name} <{name}>` | {summary} |")
    return "\n".join(lines) + "\n"


def pages(root: Path = ROOT) -> dict[Path, str]:
    """Every page of the API reference: path relative to ``root`` -> content."""
    names = modules()
    uses = usages(root)
    formula_ids: dict[str, list[str]] = defaultdict(list)
    for fid, funcs in formulas.function_tags()[0].items():
        for q in funcs:
            formula_ids[q].append(fid)
    names = [n for n in names if n != "medlib"]       # the index page is the package's page
    out = {PAGES / "index.md": index_page(names, root)}
    for name in names:
        out[PAGES / f"{name}.md"] = module_page(name, uses, formula_ids, root)
    return out


def stale(root: Path = ROOT) -> list[str]:
    """Pages that are missing, different, or left over (relative paths); empty when current."""
    wanted = pages(root)
    out = [p.as_posix() for p, text in wanted.items()
           if not (root / p).is_file() or (root / p).read_text(encoding="utf-8") != text]
    present = {p.relative_to(root) for p in (root / PAGES).glob("*.md")}
    out += [p.as_posix() for p in sorted(present - set(wanted))]
    return out


def write(root: Path = ROOT) -> None:
    wanted = pages(root)
    (root / PAGES).mkdir(parents=True, exist_ok=True)
    for p in (root / PAGES).glob("*.md"):
        if p.relative_to(root) not in wanted:
            p.unlink()
    for p, text in wanted.items():
        (root / p).write_text(text, encoding="utf-8")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python tools/api_reference.py",
                                     description=__doc__.split("\n\n")[0])
    parser.add_argument("--write", action="store_true", help=f"regenerate {PAGES.as_posix()}/")
    parser.add_argument("--check", action="store_true", help="exit 1 if the pages are stale")
    args = parser.parse_args(argv)
    if args.write:
        write()
        print(f"wrote {PAGES.as_posix()}/")
        return 0
    if args.check:
        bad = stale()
        for p in bad:
            print(f"stale: {p}", file=sys.stderr)
        return 1 if bad else 0
    print(json.dumps(usages(), indent=1, sort_keys=True))
    return 0


if __name__ == "__main__":
    sys.exit(main())
