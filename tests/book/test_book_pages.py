"""The book-wide pages: generated pages are current, citations resolve both ways."""
from __future__ import annotations

import re
from pathlib import Path

import course_map
import errata

ROOT = Path(__file__).resolve().parents[2]


def _errata():
    return errata


def test_errata_page_is_current():
    errata = _errata()
    assert errata.PAGE.read_text(encoding="utf-8") == errata.render(), \
        "run `python tools/errata.py --write`"


def test_errata_links_resolve_from_the_appendix():
    fix = _errata()._from_appendix
    assert fix("see {doc}`fbp` and {doc}`the radon page <radon>`", "ct") == \
        "see {doc}`../ct/fbp` and {doc}`the radon page <../ct/radon>`"
    for kept in ("{doc}`../mri/bloch`", "{doc}`/chapters/ct/fbp`", "{doc}`text </intro>`"):
        assert fix(kept, "ct") == kept


def test_every_seed_erratum_is_collected():
    errata = _errata()
    found = errata.notebook_errata()
    boxes = sum(p.read_text(encoding="utf-8").count("{admonition} Seed erratum")
                for p in course_map.notebooks())
    assert len(found) == boxes >= 2
    for e in found:
        assert e["body"] and e["section"]


def test_bibliography_parses():
    from pybtex.database import parse_file

    entries = parse_file(str(ROOT / "references.bib"), bib_format="bibtex").entries
    assert set(entries) == _bib_keys()
    for key, entry in entries.items():
        assert entry.fields.get("title"), key
        # A living web page may have no year; everything else must have one.
        undated_web = entry.type == "misc" and "url" in entry.fields
        assert entry.fields.get("year") or undated_web, key


def _bib_keys() -> set[str]:
    return set(re.findall(r"^@\w+\{([^,]+),", (ROOT / "references.bib").read_text(), re.M))


def _cited_keys() -> set[str]:
    sources = [ROOT / f"{e}{ext}" for e in course_map.toc_entries() for ext in (".ipynb", ".md")]
    sources = [p for p in sources if p.is_file()]
    sources.append(ROOT / "intro.md")
    keys = set()
    for path in sources:
        for group in re.findall(r"\{cite(?::[pt])?\}`([^`]+)`", path.read_text(encoding="utf-8")):
            keys.update(k.strip() for k in group.split(","))
    return keys


def test_every_citation_is_in_the_bibliography():
    missing = _cited_keys() - _bib_keys()
    assert not missing, f"cited but not in references.bib: {sorted(missing)}"


def test_every_bibliography_entry_is_cited():
    uncited = _bib_keys() - _cited_keys()
    assert not uncited, f"in references.bib but cited nowhere: {sorted(uncited)}"


def test_glossary_terms_used_in_chapters_exist():
    glossary = (ROOT / "chapters" / "appendix" / "glossary.md").read_text()
    terms = {t.strip().lower() for t in re.findall(r"^(\S[^\n]*)\n  \S", glossary, re.M)
             if not t.startswith("```")}
    used = set()
    for path in course_map.notebooks():
        used.update(t.lower() for t in re.findall(r"\{term\}`([^`<]+)`", path.read_text()))
    assert used, "chapters should link their key terms to the glossary"
    assert used <= terms, f"terms used but not in the glossary: {sorted(used - terms)}"
