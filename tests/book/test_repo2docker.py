"""repo2docker (what Binder and a BinderHub/JupyterHub run) accepts the repository and installs
the environment before the content (issue 18).

``repo2docker --no-build --debug`` prints the Dockerfile it would build, without Docker, in a few
seconds. Checked for the main branch (JupyterHub from the repository: environment.yml, then the
content, then postBuild's ``pip install --no-deps -e .``) and for the Binder branch that
``tools/student_version.py --branches`` writes (the environment alone; the content is pulled by
nbgitpuller at launch). repo2docker comes with the ``test`` extra (pinned in constraints.txt);
without it the tests are skipped on a developer machine and fail in CI.
"""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import student_version

ROOT = Path(__file__).resolve().parents[2]


def _repo2docker() -> str:
    exe = Path(sys.executable).parent / "repo2docker"
    found = str(exe) if exe.exists() else shutil.which("repo2docker")
    if found is None:
        message = "repo2docker is not installed (pip install -c constraints.txt -e '.[test]')"
        if os.environ.get("CI"):
            pytest.fail(f"the repo2docker check must run in CI: {message}")
        pytest.skip(message)
    return found


def _dockerfile(path: Path) -> str:
    result = subprocess.run([_repo2docker(), "--no-build", "--debug", str(path)],
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    return result.stdout + result.stderr


def _position(text: str, needle: str) -> int:
    assert needle in text, f"{needle!r} is not in repo2docker's Dockerfile"
    return text.index(needle)


def test_repo2docker_accepts_the_repository_environment_before_content():
    assert not (ROOT / "binder").exists(), "a binder/ folder would hide environment.yml"
    text = _dockerfile(ROOT)
    env = _position(text, '--file "environment.yml"')
    content = _position(text, "COPY --chown=0:0 src/ ${REPO_DIR}/")
    post = _position(text, "./postBuild")
    assert env < content < post


def test_repo2docker_accepts_the_binder_branch(tmp_path):
    repo = tmp_path / "repo"
    subprocess.run(["git", "clone", "--quiet", "--shared", "--no-checkout", str(ROOT), str(repo)],
                   check=True)
    branch = student_version.binder_branch(repo)
    student_version.write_binder_branch(repo)
    subprocess.run(["git", "-C", str(repo), "checkout", "--quiet", branch], check=True)
    assert sorted(p.name for p in repo.iterdir() if p.name != ".git") == \
        ["README.md", "environment.yml", "postBuild"]
    text = _dockerfile(repo)
    assert _position(text, '--file "environment.yml"') < _position(text, "./postBuild")
