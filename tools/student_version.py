#!/usr/bin/env python3
"""Write student copies of chapter notebooks: solutions removed, outputs cleared, checks kept.

Solutions are the cells tagged ``solution``: the ``{solution-start}``/``{solution-end}`` markdown
fences and the code between them. Each run of solution code cells is replaced by one empty
exercise cell, so a student has a place to write, followed (as in the source) by the check cell.
Hiding a solution with a tag alone would still ship it in the .ipynb; this removes it. Every
student copy starts with the Colab set-up cell (:func:`colab_cell`, a no-op elsewhere).

Student copies are what every launch route hands out (the one source stays the instructors'
version):

- the **student branch** of the repository (``course_student_branch`` in ``_config.yml``,
  default ``student``): the repository's tree with every chapter notebook replaced by its student
  copy, so Colab (and a local clone) open it unchanged;
- the **Binder branch** (``course_binder_branch``, default ``binder``): the environment alone
  (environment.yml, a postBuild that makes ~/<repository>/medlib importable), committed only when
  the environment changes; Binder builds it once and nbgitpuller pulls the student branch into the
  session, so content commits start from the cached image. CI writes both with ``--branches``
  and publishes them with ``git push origin student binder``;
- the **book**: the Sphinx extension ``_ext/course_sphinx.py`` writes each page's student copy to
  ``_build/html/_student/<page>.ipynb`` and points the page's Binder, Colab and ``.ipynb``
  download buttons at the student copy.

    python tools/student_version.py --out student/                 # every chapter notebook
    python tools/student_version.py --out student/ chapters/foundations/geometry.ipynb
    python tools/student_version.py --branches     # commit the student and Binder branches
"""
from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import nbformat
import yaml

ROOT = Path(__file__).resolve().parent.parent
TAG = "solution"
PLACEHOLDER = "# Your solution here: define the names the exercise asks for, then run the check.\n"
COLAB_TAG = "colab-setup"
# Paths of the repository that the student branch leaves out (instructor-only material, e.g.
# hidden grading tests). Chapter notebooks are replaced by their student copies.
STUDENT_EXCLUDE = ("grading/hidden", "instructor")
COLAB_TEMPLATE = """\
# Set-up for Google Colab (does nothing anywhere else): installs the course, medlib and its data,
# into this kernel. Run it first; no restart is needed.
import sys

if "google.colab" in sys.modules:
    import importlib
    import os
    import subprocess

    COURSE = {dest!r}
    if not os.path.isdir(COURSE):
        subprocess.run(["git", "clone", "--quiet", "--depth", "1", "--branch", {ref!r},
                        {url!r}, COURSE], check=True)
        # Not an editable install: the running kernel sees a regular install at once.
        subprocess.run([sys.executable, "-m", "pip", "install", "--quiet",
                        COURSE + "[notebooks,dl,reference]"], check=True)
    os.environ["MEDLIB_DATA"] = COURSE + "/data"
    importlib.invalidate_caches()
"""


def _config(root: Path) -> dict:
    """``_config.yml`` of the work tree, or of HEAD in a clone without one."""
    path = root / "_config.yml"
    text = path.read_text() if path.is_file() else _git(root, "show", "HEAD:_config.yml")
    return yaml.safe_load(text)


def launch_settings(root: Path = ROOT) -> tuple[str, str]:
    """The repository URL and the student branch, from ``_config.yml`` (the one place)."""
    config = _config(root)
    url = config["repository"]["url"]
    branch = config.get("sphinx", {}).get("config", {}).get("course_student_branch", "student")
    return url, branch


COLAB_DEST = "/content/medical-imaging-course"


def colab_cell(url: str | None = None, ref: str | None = None,
               dest: str = COLAB_DEST) -> nbformat.NotebookNode:
    """The first cell of every student copy: on Colab only, clone ``ref`` of ``url``, install it."""
    if url is None or ref is None:
        default_url, default_ref = launch_settings()
        url, ref = url or default_url, ref or default_ref
    return nbformat.v4.new_code_cell(COLAB_TEMPLATE.format(url=url, ref=ref, dest=dest),
                                     metadata={"tags": [COLAB_TAG]})


def student_copy(nb: nbformat.NotebookNode, colab: nbformat.NotebookNode | None = None
                 ) -> nbformat.NotebookNode:
    """Return a copy of ``nb`` without solution cells and without outputs.

    ``colab`` (default :func:`colab_cell` with the settings of ``_config.yml``) becomes the first
    cell, replacing one the source may already have.
    """
    out = nbformat.v4.new_notebook(metadata=nb.metadata)
    out.cells.append(colab if colab is not None else colab_cell())
    in_solution_code = False
    for cell in nb.cells:
        tags = cell.get("metadata", {}).get("tags", [])
        if TAG in tags:
            if cell.cell_type == "code" and not in_solution_code:
                out.cells.append(nbformat.v4.new_code_cell(PLACEHOLDER,
                                                           metadata={"tags": ["exercise"]}))
                in_solution_code = True
            continue
        in_solution_code = False
        if COLAB_TAG in tags:
            continue
        new = nbformat.from_dict(dict(cell))
        if new.cell_type == "code":
            new.outputs = []
            new.execution_count = None
        out.cells.append(new)
    for i, cell in enumerate(out.cells):
        cell["id"] = f"s{i:03d}"
    return out


def has_solution(nb: nbformat.NotebookNode) -> bool:
    """Whether any cell of ``nb`` is a solution (tagged, or a solution fence)."""
    for cell in nb.cells:
        if TAG in cell.get("metadata", {}).get("tags", []):
            return True
        if cell.cell_type == "markdown" and "{solution-start}" in cell.source:
            return True
    return False


def _git(repo: Path, *args: str, env: dict | None = None, input: bytes | None = None) -> str:
    result = subprocess.run(["git", "-C", str(repo), *args], check=True, capture_output=True,
                            env=env, input=input)
    return result.stdout.decode().strip()


def write_branch(repo: Path = ROOT, branch: str | None = None, base: str = "HEAD") -> str:
    """Commit the student tree of ``base`` to ``branch`` (no checkout, the work tree untouched).

    The tree is ``base``'s with every ``chapters/**.ipynb`` replaced by its student copy and the
    :data:`STUDENT_EXCLUDE` paths removed; the commit's parent is the branch's previous tip, so
    the branch can be pushed without force. Returns the new commit's sha.
    """
    url, default_branch = launch_settings(repo)
    branch = branch or default_branch
    colab = colab_cell(url, branch)
    base_sha = _git(repo, "rev-parse", "--verify", f"{base}^{{commit}}")
    with tempfile.TemporaryDirectory() as tmp:
        env = dict(os.environ, GIT_INDEX_FILE=str(Path(tmp) / "index"))
        _git(repo, "read-tree", base_sha, env=env)
        for path in _git(repo, "ls-tree", "-r", "--name-only", base_sha).splitlines():
            if any(path == x or path.startswith(x + "/") for x in STUDENT_EXCLUDE):
                _git(repo, "rm", "--cached", "--quiet", "--", path, env=env)
            elif path.startswith("chapters/") and path.endswith(".ipynb"):
                source = _git(repo, "show", f"{base_sha}:{path}")
                nb = student_copy(nbformat.reads(source, as_version=4), colab)
                blob = _git(repo, "hash-object", "-w", "--stdin",
                            input=(nbformat.writes(nb) + "\n").encode())
                _git(repo, "update-index", "--cacheinfo", f"100644,{blob},{path}", env=env)
        tree = _git(repo, "write-tree", env=env)
    message = f"Student copies of {base_sha[:12]} (tools/student_version.py)"
    return _commit(repo, branch, tree, message)


def _commit(repo: Path, branch: str, tree: str, message: str) -> str:
    """Commit ``tree`` on top of ``branch`` unless its tip has that tree; returns the tip."""
    parents, tip = [], None
    # A fresh clone (CI) has the published branch only as origin's: continue from it.
    for ref in (f"refs/heads/{branch}", f"refs/remotes/origin/{branch}"):
        try:
            tip = _git(repo, "rev-parse", "--verify", "--quiet", f"{ref}^{{commit}}")
            break
        except subprocess.CalledProcessError:
            continue
    if tip is not None:
        if _git(repo, "rev-parse", f"{tip}^{{tree}}") == tree:
            # Unchanged: no new commit, so Binder builds nothing new.
            _git(repo, "update-ref", f"refs/heads/{branch}", tip)
            return tip
        parents = ["-p", tip]
    commit = _git(repo, "commit-tree", tree, *parents, "-m", message)
    _git(repo, "update-ref", f"refs/heads/{branch}", commit)
    return commit


BINDER_POSTBUILD = """\
#!/bin/bash
# The course's Binder environment (tools/student_version.py writes this branch). The content, the
# student branch, is pulled at launch by nbgitpuller into ~/{name}; medlib is imported from there
# (and finds data/ beside it), so content commits do not rebuild this environment.
set -euo pipefail
python - <<'PY'
import os, pathlib, site
pathlib.Path(site.getsitepackages()[0], "course-content.pth").write_text(
    os.path.expanduser("~/{name}") + "\\n")
PY
"""
BINDER_README = """\
# The Binder environment of the course

This branch holds only the environment (`environment.yml`, `postBuild`), copied from the main
branch by `tools/student_version.py --branches`. Binder builds its image once and reuses it until
the environment changes; the notebooks (the student copies, branch `{student}`) are pulled into
the running session by nbgitpuller, so a change of content starts from the cached image.
"""


def binder_branch(root: Path = ROOT) -> str:
    """The environment-only branch that Binder builds (``course_binder_branch``)."""
    config = _config(root)
    return config.get("sphinx", {}).get("config", {}).get("course_binder_branch", "binder")


def write_binder_branch(repo: Path = ROOT, branch: str | None = None, base: str = "HEAD") -> str:
    """Commit the environment of ``base`` alone to the Binder branch (a new commit only when the
    environment changed). Returns the branch's tip."""
    url, student = launch_settings(repo)
    branch = branch or binder_branch(repo)
    name = url.rstrip("/").rsplit("/", 1)[-1]
    env_blob = _git(repo, "rev-parse", f"{base}:environment.yml")

    def blob(text: str) -> str:
        return _git(repo, "hash-object", "-w", "--stdin", input=text.encode())

    entries = (f"100644 blob {env_blob}\tenvironment.yml\n"
               f"100755 blob {blob(BINDER_POSTBUILD.format(name=name))}\tpostBuild\n"
               f"100644 blob {blob(BINDER_README.format(student=student))}\tREADME.md\n")
    tree = _git(repo, "mktree", input=entries.encode())
    return _commit(repo, branch, tree, "Binder environment (tools/student_version.py)")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", default="student", help="output folder (default student/)")
    parser.add_argument("notebooks", nargs="*", type=Path,
                        help="notebooks to convert (default: every notebook of the book)")
    parser.add_argument("--branches", action="store_true",
                        help="instead, commit the student branch (HEAD's tree, student copies) "
                             "and the Binder environment branch (course_student_branch and "
                             "course_binder_branch of _config.yml); push them to publish")
    args = parser.parse_args(argv)
    if args.branches:
        print(f"student branch -> {write_branch(ROOT)}")
        print(f"binder branch -> {write_binder_branch(ROOT)}")
        return 0
    import course_map

    notebooks = args.notebooks or course_map.notebooks(ROOT)
    out_root = Path(args.out)
    for path in notebooks:
        path = path.resolve()
        if ".ipynb_checkpoints" in path.parts:
            continue
        nb = nbformat.read(path, as_version=4)
        try:
            rel = path.relative_to(ROOT)
        except ValueError:
            rel = Path(path.name)
        target = out_root / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        nbformat.write(student_copy(nb), target)
        print(f"{rel} -> {target}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
