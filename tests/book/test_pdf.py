"""The PDF of the book, read back: every part, chapter and section title present, no unresolved
reference or citation, the figures in it.

Slow (the PDF is built from the executed notebooks by ``python3 course.py pdf``), so these run
only in their own CI step: ``python3 course.py pdf --check`` (which sets ``COURSE_PDF=1`` and
selects ``-m pdf``)."""
from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
PDF = ROOT / "_build" / "latex" / "book.pdf"

pytestmark = [pytest.mark.pdf,
              pytest.mark.skipif(os.environ.get("COURSE_PDF") != "1",
                                 reason="the PDF's own CI step: python3 course.py pdf --check")]


def _norm(text: str) -> str:
    """Lower-case letters and digits only: line breaks, hyphenation and markup do not matter."""
    text = text.replace("-\n", "")
    return re.sub(r"[^0-9a-z]", "", text.lower())


def _title(entry: str) -> str:
    path = ROOT / entry
    for suffix in (".md", ".ipynb"):
        if path.with_suffix(suffix).is_file():
            path = path.with_suffix(suffix)
            break
    if path.suffix == ".ipynb":
        nb = json.loads(path.read_text())
        text = "\n".join("".join(c["source"]) for c in nb["cells"] if c["cell_type"] == "markdown")
    else:
        text = re.sub(r"\A---\n.*?\n---\n", "", path.read_text(), flags=re.S)
    heading = re.search(r"^# (.+)$", text, flags=re.M)
    assert heading, f"{entry} has no title"
    # Roles and math as they print: {term}`x` -> x, $T_1$ -> T1.
    return re.sub(r"\{[a-z:-]+\}`([^`<]*?)(\s*<[^>]*>)?`", r"\1", heading.group(1))


def _toc_titles() -> list[str]:
    toc = yaml.safe_load((ROOT / "_toc.yml").read_text())
    titles = []

    def walk(entries):
        for e in entries or []:
            if "file" in e:
                titles.append(_title(e["file"]))
            walk(e.get("sections"))

    for part in toc.get("parts", []):
        titles.append(part["caption"])
        walk(part.get("chapters"))
    return titles


@pytest.fixture(scope="module")
def pdf_text() -> str:
    assert PDF.is_file(), f"no {PDF}: run python3 course.py pdf"
    assert shutil.which("pdftotext"), "pdftotext (poppler-utils) is missing"
    return subprocess.run(["pdftotext", str(PDF), "-"], capture_output=True, text=True,
                          check=True).stdout


def test_every_part_chapter_and_section_title_is_in_the_pdf(pdf_text):
    text = _norm(pdf_text)
    titles = _toc_titles()
    assert len(titles) > 30
    missing = [t for t in titles if _norm(t) not in text]
    assert not missing, f"not in the PDF: {missing}"


def test_no_unresolved_reference_or_citation(pdf_text):
    assert "??" not in pdf_text
    log = (PDF.parent / "book.log").read_text(errors="replace")
    undefined = re.findall(r"LaTeX Warning: (?:Reference|Citation) `[^']*' on page \d+ "
                           r"undefined", log)
    assert not undefined, undefined[:10]


def test_the_bibliography_and_figures_are_in_the_pdf(pdf_text):
    assert "Bibliography" in pdf_text
    images = subprocess.run(["pdfimages", "-list", str(PDF)], capture_output=True, text=True,
                            check=True).stdout.splitlines()[2:]
    notebooks = sum(1 for t in ROOT.glob("chapters/*/*.ipynb"))
    assert len(images) >= notebooks, "fewer figures than notebooks: outputs are missing"


# fncychap's chapter label (Sphinx's default Bjarne style spells LaTeX's counter out).
_LATEX_CHAPTER = re.compile(r"^\s*CHAPTER\s+(?:[A-Z]+(?:-[A-Z]+)?|\d+)\s*$", re.M)


def _words(text: str) -> str:
    """Lower case, numbers keep their dots, everything else a single space."""
    return " ".join(re.sub(r"[^0-9a-z.]+", " ", text.lower()).split())


def _numbering_problems(pdf_text: str, titles: list[str]) -> list[str]:
    """Headings that do not carry the book's number exactly once: a LaTeX chapter label
    ("CHAPTER EIGHT"), a second number before the book's ("8.1 3.1 X-ray attenuation" as a
    heading or table-of-contents line), or a numbered title never printed with its number."""
    problems = [f"LaTeX's chapter label {m.group(0).strip()!r}"
                for m in _LATEX_CHAPTER.finditer(pdf_text)]
    # Headings and table-of-contents lines; list items (prose: the intro's course map) aside.
    lines = [_words(line) for line in pdf_text.splitlines() if not line.lstrip().startswith("•")]
    for title in titles:
        m = re.match(r"(\d+(?:\.\d+)*\.?)\s+(\S+)", title)
        if not m:
            continue
        start = _words(f"{m.group(1)} {m.group(2)}")
        twice = re.compile(r"^(?:chapter [a-z]+ )?\d+(?:\.\d+)*\.? " + re.escape(start) + r"\b")
        problems += [f"{title!r} printed as {line!r}" for line in lines if twice.match(line)]
        if not any(line.startswith(start) for line in lines):
            problems.append(f"{title!r}: no heading starts with its number {m.group(1)}")
    return problems


def test_every_heading_carries_the_books_number_once(pdf_text):
    titles = _toc_titles()
    numbered = [t for t in titles if re.match(r"\d", t)]
    assert len(numbered) > 30, numbered
    # The check itself catches the numbering it guards against (LaTeX's counters added to ours).
    assert len(_numbering_problems("CHAPTER EIGHT\n\n3. COMPUTED TOMOGRAPHY\n"
                                   "8.1 3.1 X-ray attenuation . . . 63\n",
                                   ["3. Computed tomography", "3.1 X-ray attenuation"])) == 3
    problems = _numbering_problems(pdf_text, titles)
    assert not problems, problems[:10]
    # The chapter heading itself: its number and title on one line, e.g. "3. COMPUTED TOMOGRAPHY".
    lines = {_words(line) for line in pdf_text.splitlines()}
    assert _words("3. Computed tomography") in lines


def test_the_parts_are_headings_and_the_contents_is_titled_contents(pdf_text):
    """Each part of _toc.yml is a heading of its own (a line of its own, in the table of contents
    and on its part page), and the table of contents is not titled with Part I's caption."""
    toc = yaml.safe_load((ROOT / "_toc.yml").read_text())
    lines = [_words(line) for line in pdf_text.splitlines()]
    text = _norm(pdf_text)
    for part in toc["parts"]:
        caption = part["caption"]
        assert _words(caption) in lines, f"{caption}: no line of its own (contents)"
        # The contents, the part's page (where a long caption may wrap) and the intro's course
        # map, which names every part: without part headings only the last is there.
        assert text.count(_norm(caption)) >= 3, f"{caption}: no part heading"
    before_first_chapter = lines[:lines.index(_words("2. Foundations: geometry, sampling and "
                                                     "noise"))]
    assert "contents" in before_first_chapter
