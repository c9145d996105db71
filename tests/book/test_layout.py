"""The layout rule: one section notebook <-> one medlib module <-> one test module; the package
imports lazily, stays on its side of the torch boundary, and works when installed from a wheel."""
from __future__ import annotations

import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import api_reference
import course_map
import pytest

ROOT = Path(__file__).resolve().parents[2]
SECTIONS = [nb for nb in course_map.notebooks() if course_map.module_for(nb)]
IDS = [nb.relative_to(ROOT).with_suffix("").as_posix() for nb in SECTIONS]


def _python(code: str, cwd: Path = ROOT,
            path: list[str] | None = None) -> subprocess.CompletedProcess:
    """Run ``code`` in a fresh interpreter (nothing imported yet)."""
    prelude = f"import sys; sys.path[:0] = {path!r}\n" if path else ""
    return subprocess.run([sys.executable, "-c", prelude + code], cwd=cwd, capture_output=True,
                          text=True, timeout=300)


def test_every_chapter_of_the_book_has_a_package():
    chapters = {nb.parent.name for nb in course_map.notebooks() if nb.parent.parent.name ==
                "chapters" and nb.parent.name != "appendix"}
    assert chapters <= set(course_map.CHAPTER_PACKAGES), \
        "add the new chapters to course_map.CHAPTER_PACKAGES: " \
        f"{sorted(chapters - set(course_map.CHAPTER_PACKAGES))}"


@pytest.mark.parametrize("notebook", SECTIONS, ids=IDS)
def test_a_section_notebook_has_one_module_and_one_test_module(notebook):
    module = course_map.module_for(notebook)
    assert course_map.module_path(module).is_file(), \
        f"{notebook.relative_to(ROOT)} needs the module {module}"
    assert course_map.test_path(module).is_file(), f"{module} needs its tests at " \
        f"{course_map.test_path(module).relative_to(ROOT)}"


@pytest.fixture(scope="module")
def uses():
    return api_reference.usages()


@pytest.mark.parametrize("notebook", SECTIONS, ids=IDS)
def test_a_section_notebook_runs_the_code_of_its_module(notebook, uses):
    module = course_map.module_for(notebook)
    rel = notebook.relative_to(ROOT).as_posix()
    used = [q for q, u in uses.items() if q.startswith(module + ".") and rel in u["notebooks"]]
    assert used, f"{rel} uses nothing from {module}"


def test_every_public_module_belongs_to_a_lesson_or_is_shared_on_purpose():
    owned = {course_map.module_for(nb) for nb in SECTIONS}
    for module in api_reference.modules():
        if api_reference.is_package(module):
            continue    # a package re-exports; its modules are checked
        torch_side = module.startswith(course_map.TORCH_PACKAGES)
        assert module in owned or module in course_map.SHARED_MODULES or torch_side, \
            f"{module} is taught by no section notebook: move its code to the module of the " \
            "lesson that teaches it, or list it in course_map.SHARED_MODULES with the reason"


def test_a_test_module_tests_the_module_it_mirrors():
    for path in (ROOT / "tests" / "medlib").rglob("test_*.py"):
        parts = path.relative_to(ROOT / "tests").with_suffix("").parts
        module = ".".join(parts[:-1] + (parts[-1].removeprefix("test_"),))
        if module in ("medlib.argument_checks", "medlib.cross_modality"):
            continue   # cross-cutting: bad input of many functions; geometry shared by CT and PET
        assert course_map.module_path(module).is_file() or \
            course_map.module_path(module).with_suffix("").is_dir(), \
            f"{path.relative_to(ROOT)} mirrors no module of medlib"


def test_subpackages_are_imported_on_first_use():
    result = _python("import sys, medlib\n"
                     "assert 'medlib.ct' not in sys.modules\n"
                     "f = medlib.ct.fbp\n"
                     "assert callable(f) and f.__module__ == 'medlib.ct.fbp', f\n"
                     "print(sorted(m for m in dir(medlib) if not m.startswith('_'))[:3])")
    assert result.returncode == 0, result.stderr


def test_a_function_named_like_its_module_wins_in_the_package():
    result = _python("from medlib import ct, pet\n"
                     "import types\n"
                     "assert callable(ct.fbp) and not isinstance(ct.fbp, types.ModuleType)\n")
    assert result.returncode == 0, result.stderr


def test_everything_outside_the_torch_packages_works_without_torch():
    # PyTorch blocked: any `import torch` fails. Every module on this side of the boundary must
    # import, and a few functions must run (a module that imported torch lazily would fail here).
    core = [m for m in course_map.medlib_modules()
            if not m.startswith(course_map.TORCH_PACKAGES)]
    code = ("import importlib, sys\n"
            "sys.modules['torch'] = None\n"
            f"for name in {core!r}:\n"
            "    importlib.import_module(name)\n"
            "leaked = sorted(m for m in sys.modules if m.split('.')[0] in ('torch', 'monai')\n"
            "                and sys.modules[m] is not None)\n"
            "assert not leaked, leaked[:5]\n"
            "import numpy as np\n"
            "from medlib import ct, dl, processing\n"
            "from medlib.dl import losses, metrics\n"
            "assert dl.output_size(64, 3, stride=2, padding=1) == 32\n"
            "assert metrics.dice([1, 0], [1, 0]) == 1.0\n"
            "assert losses.focal_loss(np.zeros(2), np.array([0.0, 1.0])) > 0\n"
            "print(len(sys.argv) and len([n for n in sys.modules if n.startswith('medlib.')]))")
    result = _python(code)
    assert result.returncode == 0, result.stderr
    assert len(core) >= 30 and int(result.stdout) >= 30


def test_the_torch_packages_say_how_to_install_torch_when_it_is_missing():
    for package in ("medlib.nn",):
        code = ("import sys; sys.modules['torch'] = None\n"
                f"try:\n    import {package}\nexcept ImportError as e:\n    print(e)\n"
                f"else:\n    raise SystemExit('{package} imported without torch')\n")
        result = _python(code)
        assert result.returncode == 0, result.stderr
        assert "PyTorch" in result.stdout
        assert 'pip install -c constraints.txt -e ".[dl]"' in result.stdout


def test_the_wheel_installs_every_module(tmp_path):
    # Build from a copy of what the wheel is made of: an in-tree build would leave build/ and
    # *.egg-info in the clone.
    src = tmp_path / "src"
    shutil.copytree(ROOT / "medlib", src / "medlib",
                    ignore=shutil.ignore_patterns("__pycache__"))
    for name in ("pyproject.toml", "README.md", "LICENSE"):
        shutil.copy(ROOT / name, src / name)
    build = subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps",
                            "--no-build-isolation", "-q", "-w", str(tmp_path), str(src)],
                           capture_output=True, text=True, timeout=600)
    assert build.returncode == 0, build.stderr[-2000:]
    wheel = next(tmp_path.glob("medlib-*.whl"))
    site = tmp_path / "site"
    with zipfile.ZipFile(wheel) as zf:
        zf.extractall(site)
        names = zf.namelist()
    assert not any(n.startswith(("tests/", "tools/", "chapters/")) for n in names)
    code = ("import importlib, pkgutil, medlib\n"
            f"assert medlib.__file__.startswith({str(site)!r}), medlib.__file__\n"
            "mods = [m.name for m in pkgutil.walk_packages(medlib.__path__, 'medlib.')]\n"
            "for m in mods: importlib.import_module(m)\n"
            "from medlib import data\n"
            "try:\n    data.path('dicom/ct_head_693.dcm')\nexcept data.DataFileError as e:\n"
            "    assert 'MEDLIB_DATA' in str(e)\n"
            "else:\n    raise SystemExit('data found outside a clone?')\n"
            "print(len(mods))")
    result = _python(code, cwd=tmp_path, path=[str(site)])
    assert result.returncode == 0, result.stderr[-3000:]
    assert int(result.stdout) >= 20
