"""Every launch route hands out the student copy (issue 18).

A tiny book, built with the course's Sphinx extension from a repository of its own, has one
notebook page with an exercise; the test opens the page's Binder path, Colab URL and ``.ipynb``
download link, resolves each against what they name (the student branch that
``tools/student_version.py --branch`` commits, the file in the built site) and finds the student
copy there: no solution cell, the check kept, the Colab set-up cell first. The student copies of
every chapter notebook are generated from the one source each time the book is built or the branch
is written, so they cannot fall behind it; the test of the real notebooks is in test_notebooks.py.
"""
from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path
from urllib.parse import parse_qs, unquote

import nbformat
import pytest
import student_version

ROOT = Path(__file__).resolve().parents[2]
URL = "https://github.com/example-org/example-course"

CONFIG = f"""\
title: tiny
only_build_toc_files: true
execute:
  execute_notebooks: "off"
repository:
  url: {URL}
  branch: main
launch_buttons:
  notebook_interface: jupyterlab
  binderhub_url: https://mybinder.org
  colab_url: https://colab.research.google.com
  thebe: true
html:
  use_repository_button: true
sphinx:
  extra_extensions:
    - sphinx_exercise
    - tiny_student
  local_extensions:
    tiny_student: _ext
  config:
    course_student_branch: student
    course_binder_branch: binder
"""

# Loads only the student-copy hook of the course's extension (the rest vendors JavaScript).
EXTENSION = f"""\
import sys
sys.path.insert(0, {str(ROOT / "_ext")!r})
import course_sphinx


def setup(app):
    app.add_config_value("course_student_branch", "student", "html")
    app.add_config_value("course_binder_branch", "binder", "html")
    app.connect("html-page-context", course_sphinx._student_copies, priority=900)
    return {{"parallel_read_safe": True}}
"""

SOLUTION = "answer = 6 * 7  # the solution"


def _notebook() -> nbformat.NotebookNode:
    md, code = nbformat.v4.new_markdown_cell, nbformat.v4.new_code_cell
    sol = {"tags": ["solution"]}
    nb = nbformat.v4.new_notebook(cells=[
        md("# 1.1 A section\n\nText."),
        code("import math\nprint(math.pi)"),
        md("```{exercise} Forty-two\n:label: ex-42\nStore 6 times 7 in `answer`.\n```"),
        md("```{solution-start} ex-42\n:class: dropdown\n```", metadata=sol),
        code(SOLUTION, metadata=sol),
        md("```{solution-end}\n```", metadata=sol),
        code("# Check exercise 1\nassert answer == 42\nprint('Exercise 1: correct')"),
    ])
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3",
                                 "language": "python"}
    return nb


def _git(repo: Path, *args: str) -> str:
    return subprocess.run(["git", "-C", str(repo), *args], check=True, capture_output=True,
                          text=True).stdout


@pytest.fixture(scope="module")
def tiny_book(tmp_path_factory):
    book = tmp_path_factory.mktemp("book")
    (book / "_config.yml").write_text(CONFIG)
    (book / "_toc.yml").write_text("format: jb-book\nroot: intro\nchapters:\n"
                                   "  - file: chapters/demo/section\n")
    (book / "intro.md").write_text("# Tiny\n\nA book.\n")
    (book / ".gitignore").write_text("_build/\n")
    (book / "_ext").mkdir()
    (book / "_ext" / "tiny_student.py").write_text(EXTENSION)
    (book / "chapters" / "demo").mkdir(parents=True)
    nbformat.write(_notebook(), book / "chapters" / "demo" / "section.ipynb")
    for cmd in (("init", "-q", "-b", "main"), ("add", "-A"),
                ("-c", "user.name=t", "-c", "user.email=t@t", "commit", "-q", "-m", "book")):
        _git(book, *cmd)
    (book / "environment.yml").write_text("name: tiny\ndependencies:\n  - python=3.11\n")
    (book / "instructor").mkdir()             # instructor-only material (e.g. hidden tests)
    (book / "instructor" / "hidden_tests.py").write_text("EXPECTED = 42\n")
    (book / "postBuild").write_text("#!/bin/bash\npip install --no-deps -e .\n")
    for cmd in (("add", "-A"), ("-c", "user.name=t", "-c", "user.email=t@t", "commit", "-q",
                                "-m", "environment")):
        _git(book, *cmd)
    # What CI publishes with `git push origin student binder`.
    student_version.write_branch(book)
    student_version.write_binder_branch(book)
    jb = Path(sys.executable).parent / "jupyter-book"
    if not jb.exists():
        jb = shutil.which("jupyter-book")
    # Warnings are errors, as in the course's own build.
    result = subprocess.run([str(jb), "build", "-W", "-n", "--keep-going", "--quiet", str(book)],
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    return book


def _links(html: str) -> dict[str, str]:
    hrefs = re.findall(r'href="([^"]+)"', html)
    out = {}
    for href in hrefs:
        href = href.replace("&amp;", "&")
        if "mybinder.org/v2/gh/" in href:
            out["binder"] = href
        elif "colab.research.google.com/github/" in href:
            out["colab"] = href
        elif href.endswith(".ipynb") and "_student/" in href:
            out["download"] = href
    return out


def _assert_student_copy(nb: nbformat.NotebookNode, source: nbformat.NotebookNode) -> None:
    """``nb`` is the student copy of ``source``: no solution, checks and exercises kept."""
    assert not student_version.has_solution(nb)
    text = "\n".join(c.source for c in nb.cells)
    for cell in source.cells:
        if "solution" in cell.get("metadata", {}).get("tags", []) and cell.cell_type == "code" \
                and cell.source.strip():
            assert cell.source not in text, "a solution's code is in the student copy"
    checks = [c.source for c in source.cells if c.source.startswith("# Check")]
    assert [c.source for c in nb.cells if c.source.startswith("# Check")] == checks
    assert text.count("{exercise}") == sum(c.source.count("{exercise}") for c in source.cells)
    assert student_version.COLAB_TAG in nb.cells[0].metadata["tags"]
    assert "google.colab" in nb.cells[0].source
    assert all(c.get("outputs", []) == [] for c in nb.cells if c.cell_type == "code")


def follow_routes(page: Path, notebook: str, url: str, open_ref, environment: str) -> None:
    """Open the Binder, Colab and download targets of the built ``page`` (of the source
    ``notebook``, a path in the repository) and check each is the student copy.

    ``open_ref(ref, path)`` returns the text of ``path`` on branch ``ref`` of the repository
    ``url`` (what Binder and Colab open); ``environment`` is the expected environment.yml."""
    html = page.read_text()
    links = _links(html)
    assert set(links) == {"binder", "colab", "download"}, (page, links)
    org_repo = url.removeprefix("https://github.com/")
    _, student = student_version.launch_settings(ROOT)
    source = nbformat.reads(open_ref("main", notebook), as_version=4)
    # Binder: the environment branch, with nbgitpuller pulling the student branch into
    # ~/<repository name> and opening the page's notebook there.
    binder = re.fullmatch(rf"https://mybinder\.org/v2/gh/{org_repo}/([^?]+)\?urlpath=(.+)",
                          links["binder"])
    assert binder, links["binder"]
    env_ref, pull = unquote(binder.group(1)), unquote(binder.group(2))
    assert env_ref == student_version.binder_branch(ROOT)
    assert open_ref(env_ref, "environment.yml") == environment
    assert pull.startswith("git-pull?"), pull
    query = parse_qs(pull.removeprefix("git-pull?"))
    assert query["repo"] == [url]
    name = url.rsplit("/", 1)[-1]
    assert query["urlpath"][0].startswith(f"lab/tree/{name}/")
    binder_target = (query["branch"][0], query["urlpath"][0].removeprefix(f"lab/tree/{name}/"))
    colab = re.fullmatch(rf"https://colab\.research\.google\.com/github/{org_repo}/blob/"
                         r"([^/]+)/(.+)", links["colab"])
    assert colab, links["colab"]
    copies = []
    for ref, target in (binder_target, colab.groups()):
        assert (unquote(ref), unquote(target)) == (student, notebook)
        # What Binder and Colab open: that file on that branch of the repository.
        copies.append(nbformat.reads(open_ref(unquote(ref), unquote(target)), as_version=4))
    download = (page.parent / links["download"]).resolve()
    copies.append(nbformat.read(download, as_version=4))
    for nb in copies:
        _assert_student_copy(nb, source)
    # The site's copy and the branch's copy are the same notebook.
    assert [c.source for c in copies[-1].cells] == [c.source for c in copies[0].cells]
    # Instructors still get the full version, labelled as such.
    assert "with solutions" in html


def test_every_launch_target_of_a_page_is_the_student_copy(tiny_book):
    page = tiny_book / "_build" / "html" / "chapters" / "demo" / "section.html"
    follow_routes(page, "chapters/demo/section.ipynb", URL,
                  lambda ref, path: _git(tiny_book, "show", f"{ref}:{path}"),
                  (tiny_book / "environment.yml").read_text())
    assert "binder" in _git(tiny_book, "branch", "--list", "binder")
    assert "chapters" not in _git(tiny_book, "ls-tree", "--name-only", "binder")


def test_a_page_with_launch_buttons_on_main_fails_the_check(tiny_book, tmp_path):
    page = tiny_book / "_build" / "html" / "chapters" / "demo" / "section.html"
    bad = tmp_path / "chapters" / "demo" / "section.html"
    bad.parent.mkdir(parents=True)
    bad.write_text(page.read_text().replace("/blob/student/", "/blob/main/"))
    with pytest.raises(AssertionError):
        follow_routes(bad, "chapters/demo/section.ipynb", URL,
                      lambda ref, path: _git(tiny_book, "show", f"{ref}:{path}"),
                      (tiny_book / "environment.yml").read_text())


def test_the_site_check_finds_the_student_launch_buttons(tiny_book):
    import check_site

    html = tiny_book / "_build" / "html"
    page = "chapters/demo/section.html"
    hrefs = [h.replace("&amp;", "&") for h in
             re.findall(r'href="([^"]+)"', (html / page).read_text())]
    assert check_site._notebook_faults(html, page, hrefs, True) == []


@pytest.fixture(scope="module")
def site():
    """The book as last built (marked `site` by conftest.py, run after `course.py book`)."""
    html = ROOT / "_build" / "html"
    if not (html / "index.html").is_file():
        message = "no built site in _build/html (run `python3 course.py book`)"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    return html


def test_built_book_hands_out_student_copies_on_every_notebook_page(site):
    """Every notebook page of the real book: its launch targets are the student copy. The
    branches are what `course.py student --branches` commits from this tree, generated here."""
    import course_map

    url, student = student_version.launch_settings(ROOT)
    colab = student_version.colab_cell(url, student)

    def open_ref(ref, path):
        if ref == "main":
            return (ROOT / path).read_text()
        if ref == student_version.binder_branch(ROOT):
            assert path == "environment.yml"
            return (ROOT / path).read_text()
        assert ref == student
        nb = nbformat.read(ROOT / path, as_version=4)
        return nbformat.writes(student_version.student_copy(nb, colab))

    notebooks = course_map.notebooks(ROOT)
    assert notebooks
    for path in notebooks:
        rel = path.relative_to(ROOT).as_posix()
        follow_routes(site / rel.replace(".ipynb", ".html"), rel, url, open_ref,
                      (ROOT / "environment.yml").read_text())


def test_student_branch_replaces_notebooks_and_keeps_the_rest(tiny_book):
    files = set(_git(tiny_book, "ls-tree", "-r", "--name-only", "student").split())
    main = set(_git(tiny_book, "ls-tree", "-r", "--name-only", "main").split())
    assert "instructor/hidden_tests.py" in main
    assert files == main - {"instructor/hidden_tests.py"}   # STUDENT_EXCLUDE
    config = (tiny_book / "_config.yml").read_text()
    assert _git(tiny_book, "show", "student:_config.yml") == config
    source = nbformat.read(tiny_book / "chapters/demo/section.ipynb", as_version=4)
    assert student_version.has_solution(source)     # the source is untouched
    assert _git(tiny_book, "status", "--porcelain").strip() == ""


def test_student_branch_unchanged_without_a_content_change(tiny_book):
    first = _git(tiny_book, "rev-parse", "student").strip()
    assert student_version.write_branch(tiny_book) == first


def test_a_fresh_clone_continues_the_published_branches(tiny_book, tmp_path):
    clone = tmp_path / "clone"
    subprocess.run(["git", "clone", "--quiet", str(tiny_book), str(clone)], check=True)
    assert student_version.write_branch(clone) == _git(clone, "rev-parse", "origin/student").strip()
    assert student_version.write_binder_branch(clone) == \
        _git(clone, "rev-parse", "origin/binder").strip()
    assert _git(clone, "rev-parse", "student") == _git(clone, "rev-parse", "origin/student")


def test_binder_branch_is_rebuilt_only_when_the_environment_changes(tiny_book):
    first = student_version.write_binder_branch(tiny_book)
    post = _git(tiny_book, "ls-tree", first, "postBuild").split()
    assert post[0] == "100755"                      # repo2docker runs it
    assert ".pth" in _git(tiny_book, "show", f"{first}:postBuild")
    section = tiny_book / "chapters/demo/section.ipynb"
    original = section.read_text()
    try:
        section.write_text(original.replace("Text.", "Text, changed."))
        _git(tiny_book, "-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qam", "content")
        assert student_version.write_binder_branch(tiny_book) == first     # no new image
        tip = _git(tiny_book, "rev-parse", "student").strip()
        new = student_version.write_branch(tiny_book)
        assert new != tip and _git(tiny_book, "rev-parse", f"{new}^").strip() == tip  # no force
        assert "Text, changed." in _git(tiny_book, "show", "student:chapters/demo/section.ipynb")
    finally:
        section.write_text(original)
        _git(tiny_book, "-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qam", "back")


def test_real_config_names_the_branches():
    url, branch = student_version.launch_settings(ROOT)
    assert url.startswith("https://github.com/") and branch == "student"
    assert student_version.binder_branch(ROOT) == "binder"


def test_every_student_copy_starts_with_the_colab_cell():
    """The tool puts the Colab set-up cell first in the student copy of every chapter notebook
    (the sources stay without it: instructors run a clone)."""
    import course_map

    url, student = student_version.launch_settings(ROOT)
    expected = student_version.colab_cell(url, student).source
    for path in course_map.notebooks(ROOT):
        source = nbformat.read(path, as_version=4)
        copy = student_version.student_copy(source)
        assert copy.cells[0].source == expected, path
        assert sum(student_version.COLAB_TAG in c.metadata.get("tags", [])
                   for c in copy.cells) == 1, path
        assert not student_version.has_solution(copy), path
