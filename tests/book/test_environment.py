"""The three places that name dependencies agree: pyproject.toml (lower bounds), constraints.txt
(exact versions, what CI and the README install) and environment.yml (Binder, conda-forge)."""
from __future__ import annotations

import re
import tomllib
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[2]
# PyPI name -> conda-forge name, where they differ (conda-forge's CPU-only PyTorch).
CONDA_NAMES = {"torch": "pytorch-cpu", "simpleitk": "simpleitk"}
# Extras that notebooks need at run time (Binder must have them); book/test/dev are tooling.
RUNTIME_EXTRAS = ("notebooks", "lab", "dl", "reference", "hub")


def _name(requirement: str) -> str:
    return re.split(r"[<>=!\[; ]", requirement, maxsplit=1)[0].lower().replace("_", "-")


def _pyproject():
    return tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]


def _constraints() -> dict[str, str]:
    pins = {}
    for line in (ROOT / "constraints.txt").read_text().splitlines():
        line = line.split("#")[0].strip()
        if line:
            name, version = line.split("==")
            pins[_name(name)] = version
    return pins


def _conda() -> dict[str, str]:
    env = yaml.safe_load((ROOT / "environment.yml").read_text())
    assert env["channels"] == ["conda-forge"]
    deps = {}
    for dep in env["dependencies"]:
        if isinstance(dep, str):
            name, _, version = dep.partition("=")
            deps[name.lower()] = version
        elif isinstance(dep, dict):   # a pip: list, for what conda-forge lacks; exact pins
            for req in dep["pip"]:
                name, _, version = req.partition("==")
                deps[_name(name)] = ".".join(version.split(".")[:2])
    return deps


def test_constraints_pin_every_dependency_exactly():
    pins = _constraints()
    project = _pyproject()
    wanted = list(project["dependencies"])
    for reqs in project["optional-dependencies"].values():
        wanted += [r for r in reqs if not r.startswith("medlib")]
    for req in wanted:
        assert _name(req) in pins, f"{_name(req)} is missing from constraints.txt"
    assert all(re.fullmatch(r"[\w.+!-]+", v) for v in pins.values())
    assert "medlib" not in pins


def test_pyproject_has_lower_bounds_only():
    project = _pyproject()
    reqs = list(project["dependencies"])
    for extra in project["optional-dependencies"].values():
        reqs += extra
    for req in reqs:
        assert "==" not in req, f"exact pin {req!r} belongs in constraints.txt"


def test_binder_environment_matches_the_runtime_dependencies():
    conda = _conda()
    pins = _constraints()
    assert conda["python"] == "3.11"
    project = _pyproject()
    runtime = project["dependencies"] + [
        r for extra in RUNTIME_EXTRAS for r in project["optional-dependencies"][extra]
        if not r.startswith("medlib")]
    for req in runtime:
        name = _name(req)
        conda_name = CONDA_NAMES.get(name, name)
        assert conda_name in conda, f"{conda_name} (for {name}) is missing from environment.yml"
        major_minor = ".".join(pins[name].split(".")[:2])
        assert conda[conda_name] == major_minor, \
            f"{name}: environment.yml {conda_name}={conda[conda_name]} vs {pins[name]}"


def test_pytorch_is_the_cpu_build_and_a_runtime_dependency():
    project = _pyproject()
    assert any(_name(r) == "torch" for r in project["optional-dependencies"]["dl"])
    dev_extras = re.search(r"\[(.*)\]", project["optional-dependencies"]["dev"][0]).group(1)
    assert "dl" in dev_extras.split(","), "dev must include the dl extra"
    # conda-forge's plain "pytorch" may pull CUDA; the CPU package keeps Binder small.
    assert "pytorch" not in _conda() and "pytorch-cpu" in _conda()


def test_binder_installs_medlib_without_rebuilding_the_environment():
    post = (ROOT / "postBuild").read_text()
    assert "pip install --no-deps -e ." in post
    assert (ROOT / "postBuild").stat().st_mode & 0o111, "postBuild must be executable"


def test_binder_renders_myst_in_jupyterlab():
    # Without the extension, JupyterLab shows the exercise blocks and {eq}/{term} roles as text.
    assert "jupyterlab-myst" in _conda()
    lab = _pyproject()["optional-dependencies"]["lab"]
    assert any(_name(r) == "jupyterlab-myst" for r in lab)


# notebook 7.x pins jupyterlab's minor version; repo2docker's base image has notebook 7.4
# (jupyterlab < 4.5), so environment.yml must move notebook with jupyterlab or Binder cannot solve.
NOTEBOOK_FOR_LAB = {"4.6": "7.6"}


def test_binder_notebook_moves_with_jupyterlab():
    conda = _conda()
    assert conda.get("notebook") == NOTEBOOK_FOR_LAB[conda["jupyterlab"]]
