#!/usr/bin/env python3
"""One entry point for readers, instructors and maintainers of the course.

    python course.py book      build the book into _build/html (creates .venv if missing)
    python course.py test      run every test: the unit tests and every notebook under nbval, then
                               the book built from nbval's outputs and checked in a browser
    python course.py lab       open the notebooks in JupyterLab
    python course.py student   write student copies of the notebooks (solutions removed) to student/
                               (--branches: commit the student and Binder branches to publish)
    python course.py check-site   check the built book in a headless browser (needs Chromium)
    python course.py pdf       build a PDF of the book from the executed notebooks (no execution;
                               installs TeX from Debian packages if missing); --check reads it back
    python course.py grade DIR    grade a class's returned notebooks (DIR/<student>/*.ipynb):
                               scores.csv and feedback per student in grades/ (tools/grade.py)

Each command creates the virtual environment ``.venv`` on first use and installs the course
(``pip install -c constraints.txt -e ".[dev]"``: the package ``medlib`` with lower-bound
dependencies from ``pyproject.toml``, pinned to the exact versions of ``constraints.txt``). It
reinstalls by itself when either file changes. Only the Python standard library is used here, so the
script runs with any Python >= 3.11 before anything is installed.
"""
from __future__ import annotations

import argparse
import hashlib
import os
import shutil
import subprocess
import sys
import time
import venv
from pathlib import Path

ROOT = Path(__file__).resolve().parent
VENV = ROOT / ".venv"
BUILD = ROOT / "_build"
INSTALL_INPUTS = ("pyproject.toml", "constraints.txt")
# What notebook outputs depend on besides their own cells: a change here re-executes every page.
EXECUTION_INPUTS = ("medlib", "data", "constraints.txt")


def _venv_python() -> Path:
    sub = "Scripts/python.exe" if os.name == "nt" else "bin/python"
    return VENV / sub


def _digest(paths: tuple[str, ...], suffixes: tuple[str, ...] | None = None) -> str:
    """sha256 over the named files and the files below the named folders (sorted, by content)."""
    h = hashlib.sha256()
    for name in paths:
        p = ROOT / name
        files = sorted(q for q in p.rglob("*") if q.is_file()) if p.is_dir() else [p]
        for f in files:
            if "__pycache__" in f.parts or (suffixes and f.suffix not in suffixes):
                continue
            h.update(str(f.relative_to(ROOT)).encode())
            h.update(f.read_bytes())
    return h.hexdigest()


def _run(*args: str | Path, env: dict[str, str] | None = None) -> None:
    print("+", " ".join(str(a) for a in args), flush=True)
    result = subprocess.run([str(a) for a in args], cwd=ROOT, env=env)
    if result.returncode != 0:
        sys.exit(result.returncode)


def ensure_environment() -> Path:
    """Create .venv if missing and (re)install the course when pyproject/constraints changed."""
    if sys.version_info < (3, 11):  # noqa: UP036 (this script may be started by an older Python)
        sys.exit(f"The course needs Python >= 3.11; this is {sys.version.split()[0]}. "
                 "Run this script with python3.11.")
    python = _venv_python()
    if not python.exists():
        print(f"Creating the virtual environment {VENV.relative_to(ROOT)} ...", flush=True)
        venv.EnvBuilder(with_pip=True, clear=True).create(VENV)
    stamp = VENV / ".course-install"
    wanted = _digest(INSTALL_INPUTS)
    if not stamp.exists() or stamp.read_text().strip() != wanted:
        _run(python, "-m", "pip", "install", "--quiet", "--upgrade", "pip")
        _run(python, "-m", "pip", "install", "--quiet", "-c", "constraints.txt", "-e", ".[dev]")
        stamp.write_text(wanted)
    return python


def _quiet_threads_env() -> dict[str, str]:
    """One BLAS/OpenMP thread per process: steadier timings with two workers on two cores."""
    env = dict(os.environ)
    for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        env.setdefault(var, "1")
    return env


def cmd_book(args: argparse.Namespace) -> None:
    python = ensure_environment()
    # The formula quick reference and the errata page are generated from the same data the
    # tests check.
    _run(python, "tools/formulas.py", "--write-appendix")
    _run(python, "tools/errata.py", "--write")
    _run(python, "tools/api_reference.py", "--write")
    # Jupyter Book caches a page's outputs by the notebook's own cells; outputs also depend on
    # medlib and data, so clear the cache whenever those change (no stale outputs).
    stamp = BUILD / ".execution-inputs"
    wanted = _digest(EXECUTION_INPUTS)
    if args.all or not stamp.exists() or stamp.read_text().strip() != wanted:
        for stale in (".jupyter_cache", ".doctrees", "jupyter_execute", "html"):
            shutil.rmtree(BUILD / stale, ignore_errors=True)
    jb = python.parent / ("jupyter-book.exe" if os.name == "nt" else "jupyter-book")
    start = time.perf_counter()
    # Execute the notebooks that have no cached outputs, one per core, into the cache the build
    # reads (Jupyter Book itself would execute them one after another). A notebook that nbval
    # executed with the same cells and inputs (`course.py test`) is cached, not executed again;
    # --all executes every one.
    reuse = () if args.all else ("--inputs", wanted)
    _run(python, "tools/execute.py", "--jobs", str(args.jobs), *reuse, env=_quiet_threads_env())
    _run(jb, "build", "-W", "-n", "--keep-going", ".", env=_quiet_threads_env())
    elapsed = time.perf_counter() - start
    stamp.parent.mkdir(exist_ok=True)
    stamp.write_text(wanted)
    print(f"\nThe book is in {BUILD / 'html' / 'index.html'} (built in {elapsed:.0f} s)")
    if args.max_seconds is not None and elapsed > args.max_seconds:
        sys.exit(f"The book took {elapsed:.0f} s to build, over the budget of "
                 f"{args.max_seconds:.0f} s.")


def cmd_test(args: argparse.Namespace) -> None:
    python = ensure_environment()
    # The unit tests in tests/ and every notebook in chapters/ (nbval, no stored outputs
    # compared; a raising cell or failing assert fails). loadscope keeps each notebook on one
    # worker.
    pytest = (python, "-m", "pytest", "-n", str(args.workers))
    nbval = ("--dist", "loadscope", "--nbval-lax", "--nbval-current-env",
             "--nbval-cell-timeout", "120")
    env = _quiet_threads_env()
    if args.pytest_args:
        # A chosen selection: one pytest run; the site tests check the book as last built.
        _run(*pytest, *nbval, *args.pytest_args, env=env)
        return
    # Every test, each notebook executed once: nbval runs the notebooks (conftest.py keeps what
    # they produce), the book is built from those outputs without executing anything again, and
    # the tests marked `site` check the built book in a browser.
    times = {}
    start = time.perf_counter()
    result = subprocess.run([str(a) for a in (*pytest, *nbval, "-m", "not site")], cwd=ROOT,
                            env=env)
    times["tests and notebooks"] = time.perf_counter() - start
    if result.returncode != 0:
        sys.exit(f"Tests failed (above); the book was not built and the site not checked.\n"
                 f"time: {times['tests and notebooks']:.0f} s")
    start = time.perf_counter()
    cmd_book(argparse.Namespace(all=False, jobs=os.cpu_count() or 1,
                                max_seconds=args.book_max_seconds))
    times["book"] = time.perf_counter() - start
    start = time.perf_counter()
    result = subprocess.run([str(a) for a in (*pytest, "-m", "site", "tests")], cwd=ROOT,
                            env=env)
    times["site check"] = time.perf_counter() - start
    print("test times: " + ", ".join(f"{k} {v:.0f} s" for k, v in times.items()), flush=True)
    if result.returncode != 0:
        sys.exit(result.returncode)


def cmd_check_site(args: argparse.Namespace) -> None:
    python = ensure_environment()
    _run(python, "tools/check_site.py", "_build/html", "--screenshots", "_build/site-check")


def cmd_lab(args: argparse.Namespace) -> None:
    python = ensure_environment()
    _run(python, "-m", "jupyterlab", "chapters")


def cmd_student(args: argparse.Namespace) -> None:
    python = ensure_environment()
    if args.branches:
        _run(python, "tools/student_version.py", "--branches")
        return
    _run(python, "tools/student_version.py", "--out", args.out, *args.notebooks)


def cmd_pdf(args: argparse.Namespace) -> None:
    python = ensure_environment()
    _run(python, "tools/pdf.py", *(["--check"] if args.check else []),
         *(["--execute-missing"] if args.execute_missing else []))


def cmd_grade(args: argparse.Namespace) -> None:
    python = ensure_environment()
    _run(python, "tools/grade.py", *args.grade_args)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("book", help="build the book (HTML) into _build/html")
    p.add_argument("--all", action="store_true", help="re-execute every notebook")
    p.add_argument("--max-seconds", type=float, help="fail if the build takes longer")
    p.add_argument("-j", "--jobs", type=int, default=os.cpu_count() or 1,
                   help="notebooks executed at once (default: the number of cores)")
    p.set_defaults(func=cmd_book)
    p = sub.add_parser("test", help="run the unit tests and every notebook")
    p.add_argument("-n", "--workers", default="2", help="pytest-xdist workers (default 2)")
    p.add_argument("--book-max-seconds", type=float,
                   help="fail if building the book (after the notebooks ran) takes longer")
    p.add_argument("pytest_args", nargs="*", help="extra arguments for pytest, after --")
    p.set_defaults(func=cmd_test)
    p = sub.add_parser("check-site", help="check the built book in a headless browser")
    p.set_defaults(func=cmd_check_site)
    p = sub.add_parser("lab", help="open the notebooks in JupyterLab")
    p.set_defaults(func=cmd_lab)
    p = sub.add_parser("student", help="write student copies without solutions")
    p.add_argument("--out", default="student", help="output folder (default: student/)")
    p.add_argument("notebooks", nargs="*", help="notebooks (default: every chapter notebook)")
    p.add_argument("--branches", action="store_true",
                   help="commit the student branch and the Binder environment branch from HEAD "
                        "(what the launch buttons open; then git push origin student binder)")
    p.set_defaults(func=cmd_student)
    p = sub.add_parser("pdf", help="build a PDF of the book into _build/latex/book.pdf")
    p.add_argument("--check", action="store_true",
                   help="then read it back (tests/book/test_pdf.py)")
    p.add_argument("--execute-missing", action="store_true",
                   help="execute notebooks that have no cached outputs first")
    p.set_defaults(func=cmd_pdf)
    p = sub.add_parser("grade", help="grade returned notebooks (see tools/grade.py --help)",
                       add_help=False)
    p.add_argument("grade_args", nargs=argparse.REMAINDER,
                   help="SUBMISSIONS [--out grades/] [--timeout S] [--memory-gb G] ...")
    p.set_defaults(func=cmd_grade)
    args = parser.parse_args(argv)
    args.func(args)


if __name__ == "__main__":
    main()
