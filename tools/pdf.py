#!/usr/bin/env python3
"""Build a PDF of the whole book from the executed notebooks, without executing them again.

    python tools/pdf.py                 # or: python3 course.py pdf
    python tools/pdf.py --check         # then read it back (tests/book/test_pdf.py)

The notebooks' outputs come from the book's execution cache (``_build/.jupyter_cache``), which
``python3 course.py test`` (nbval's outputs) or ``python3 course.py book`` fills. If a notebook
of ``_toc.yml`` has no cached outputs for its current cells, this stops and says which (it never
executes a notebook; ``--execute-missing`` runs ``tools/execute.py`` for those first). Then
Jupyter Book 1.x writes the LaTeX book (``jupyter-book build --builder latex``; the ``latex:``
section of ``_config.yml`` and its ``latex_elements``: LaTeX numbers no heading, the titles
carry the book's numbers), :func:`add_parts` puts in the parts of ``_toc.yml`` (which Sphinx
drops), and XeLaTeX (``make all-pdf``, as ``--builder pdflatex`` would run) makes
``_build/latex/book.pdf``.

TeX comes from Debian packages (:data:`TEX_PACKAGES`), installed here with ``apt-get`` when a
program is missing (as root, or through ``sudo``). Nothing else needs them.
"""
from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CACHE = ROOT / "_build" / ".jupyter_cache"
PDF = ROOT / "_build" / "latex" / "book.pdf"
# The programs the PDF build and its read-back test run, and the Debian packages giving them.
TEX_PROGRAMS = ("xelatex", "latexmk", "pdftotext")
TEX_PACKAGES = ("texlive-latex-extra", "texlive-fonts-recommended", "texlive-xetex",
                "texlive-plain-generic", "latexmk", "tex-gyre", "fonts-freefont-otf",
                "poppler-utils")


def ensure_tex() -> None:
    """Install :data:`TEX_PACKAGES` with apt-get when one of :data:`TEX_PROGRAMS` is missing."""
    missing = [p for p in TEX_PROGRAMS if shutil.which(p) is None]
    if not missing:
        return
    if shutil.which("apt-get") is None:
        sys.exit(f"{', '.join(missing)} not found, and no apt-get to install "
                 f"{' '.join(TEX_PACKAGES)}: install TeX Live (xelatex, latexmk) and poppler.")
    sudo = [] if os.geteuid() == 0 else ["sudo"]
    env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
    install = [*sudo, "apt-get", "install", "-y", "-qq", "--no-install-recommends",
               *TEX_PACKAGES]
    print(f"Installing TeX for the PDF ({', '.join(missing)} missing): "
          f"{' '.join(TEX_PACKAGES)}", flush=True)
    if subprocess.run(install, env=env).returncode != 0:
        subprocess.run([*sudo, "apt-get", "update", "-qq"], env=env, check=True)
        subprocess.run(install, env=env, check=True)


def uncached_notebooks() -> list[Path]:
    """Notebooks of the book whose current cells have no executed outputs in the cache."""
    sys.path.insert(0, str(ROOT / "tools"))
    import execute

    return execute.uncached_notebooks()


def _latex_escape(text: str) -> str:
    return re.sub(r"([&%$#_{}])", r"\\\1", text).replace("~", r"\textasciitilde{}")


def add_parts(tex: str, toc_path: Path) -> str:
    """``tex`` with a ``\\part`` heading before the first chapter of each part of ``_toc.yml``
    (its caption, e.g. "Part I: Imaging physics and key formulas") and the table of contents
    titled "Contents" (Sphinx titles it with the first part's caption and prints no parts)."""
    import yaml

    toc = yaml.safe_load(toc_path.read_text())
    tex = re.sub(r"\\renewcommand\{\\contentsname\}\{[^{}]*\}",
                 lambda m: r"\renewcommand{\contentsname}{Contents}", tex)
    for part in toc.get("parts", []):
        first = part["chapters"][0]["file"]
        label = tex.find(r"\label{\detokenize{" + first + "::doc}}")
        chapter = tex.rfind("\n\\chapter{", 0, label)
        if label < 0 or chapter < 0:
            sys.exit(f"No chapter heading for {first} in the LaTeX: cannot place the part "
                     f"{part['caption']!r}")
        tex = (tex[:chapter] + "\n\\part{" + _latex_escape(part["caption"]) + "}\n" +
               tex[chapter:])
    return tex


def build(execute_missing: bool = False) -> float:
    """Build ``_build/latex/book.pdf``; returns the seconds the LaTeX build took."""
    ensure_tex()
    missing = uncached_notebooks()
    if missing and execute_missing:
        subprocess.run([sys.executable, str(ROOT / "tools" / "execute.py")], cwd=ROOT,
                       check=True)
        missing = uncached_notebooks()
    if missing:
        names = "\n  ".join(str(p.relative_to(ROOT)) for p in missing)
        sys.exit(f"{len(missing)} notebooks have no executed outputs in {CACHE}:\n  {names}\n"
                 "Run `python3 course.py test` or `python3 course.py book` first (the PDF is "
                 "built from their outputs), or pass --execute-missing.")
    jb = Path(sys.executable).parent / "jupyter-book"
    start = time.perf_counter()
    PDF.unlink(missing_ok=True)
    log = ROOT / "_build" / "pdf-build.log"
    log.parent.mkdir(exist_ok=True)
    with open(log, "w") as f:
        def run(cmd: list[str], cwd: Path) -> int:
            proc = subprocess.Popen(cmd, cwd=cwd, stdout=subprocess.PIPE,
                                    stderr=subprocess.STDOUT, text=True)
            for line in proc.stdout:
                sys.stdout.write(line)
                f.write(line)
            return proc.wait()

        # The LaTeX first (what `--builder pdflatex` does before running make), then the book's
        # parts put in (Sphinx drops the captions of _toc.yml's parts), then the PDF.
        run([str(jb) if jb.exists() else "jupyter-book", "build", ".", "--builder", "latex",
             "--keep-going"], ROOT)
        tex = PDF.with_suffix(".tex")
        if tex.is_file():
            tex.write_text(add_parts(tex.read_text(), ROOT / "_toc.yml"))
            status = run([os.environ.get("MAKE", "make"), "all-pdf"], PDF.parent)
            if status != 0:
                # LaTeX may stop part-way and still leave a truncated PDF: that is a failure
                errors = [ln for ln in log.read_text(errors="replace").splitlines()
                          if ln.startswith("! ")][:5]
                sys.exit(f"LaTeX failed (make all-pdf exited with {status}); first errors:\n  "
                         + "\n  ".join(errors or ["(none found: see the log)"])
                         + f"\nFull log: {log} and {PDF.with_suffix('.log')}")
    elapsed = time.perf_counter() - start
    text = log.read_text(errors="replace")
    if "Executing notebook" in text:        # myst-nb's message when it runs a notebook
        sys.exit(f"A notebook was executed during the PDF build (see {log}): its cache entry "
                 "was stale.")
    print(f"{text.count('Using cached notebook')} notebooks read from the cache (the others "
          "unchanged since the last build), none executed")
    if not PDF.is_file():
        sys.exit(f"No PDF was written ({PDF}); see the LaTeX log in {PDF.parent}.")
    return elapsed


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--execute-missing", action="store_true",
                        help="execute notebooks without cached outputs first")
    parser.add_argument("--check", action="store_true",
                        help="then read the PDF back (tests/book/test_pdf.py)")
    args = parser.parse_args(argv)
    elapsed = build(args.execute_missing)
    print(f"\nThe PDF is {PDF} ({PDF.stat().st_size / 2**20:.1f} MB, built in {elapsed:.0f} s)")
    if args.check:
        env = dict(os.environ, COURSE_PDF="1")
        return subprocess.run([sys.executable, "-m", "pytest", "-p", "no:cacheprovider",
                               "-m", "pdf", "-q", "tests/book/test_pdf.py"], cwd=ROOT,
                              env=env).returncode
    return 0


if __name__ == "__main__":
    sys.exit(main())
