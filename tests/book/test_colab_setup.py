"""The Colab set-up cell works as written: simulated in a fresh environment (issue 18).

Every student copy starts with a cell that, only when ``google.colab`` is imported, clones the
student branch and pip-installs the course (not editable: an editable install is not seen by the
running kernel until a restart) and points ``MEDLIB_DATA`` at the clone's ``data/``. The
simulation: a new venv whose preinstalled packages stand in for Colab's (the test environment's
site-packages added by a ``.pth`` path, without its editable ``medlib``), a repository with the
student branch in place of GitHub, pip without an index (no network); then, in one Python process
as in one kernel: a stand-in ``google.colab`` module, the cell exactly as generated (only the URL
and the clone's folder differ), the notebook's own imports and a data file read through
``medlib.data``. ``medlib`` must come from the fresh install, not from this repository. The
Binder route is simulated the same way: the binder branch's postBuild, the student branch where
nbgitpuller puts it, then a new kernel's imports.
"""
from __future__ import annotations

import os
import subprocess
import sys
import sysconfig
import textwrap
import venv
from pathlib import Path

import nbformat
import student_version

ROOT = Path(__file__).resolve().parents[2]
NOTEBOOK = "chapters/ct/hu-windowing.ipynb"


def _imports(nb: nbformat.NotebookNode) -> list[str]:
    lines = []
    for cell in nb.cells[1:]:
        if cell.cell_type == "code":
            lines += [ln for ln in cell.source.splitlines()
                      if ln.startswith(("import ", "from ")) and "(" not in ln]
    return lines


def test_colab_cell_installs_the_course_into_the_running_kernel(tmp_path):
    # The "GitHub" repository: this repository's HEAD, with the student branch written into it.
    remote = tmp_path / "remote"
    subprocess.run(["git", "clone", "--quiet", "--shared", str(ROOT), str(remote)], check=True)
    student_version.write_branch(remote)
    # A fresh environment with Colab's preinstalled stack standing in.
    env_dir = tmp_path / "venv"
    venv.EnvBuilder(with_pip=False).create(env_dir)
    python = env_dir / "bin" / "python"
    purelib = subprocess.run([str(python), "-c", "import sysconfig; "
                              "print(sysconfig.get_paths()['purelib'])"],
                             capture_output=True, text=True, check=True).stdout.strip()
    Path(purelib, "colab_stack.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")

    student = nbformat.reads(subprocess.run(
        ["git", "-C", str(remote), "show", f"student:{NOTEBOOK}"], capture_output=True,
        text=True, check=True).stdout, as_version=4)
    dest = str(tmp_path / "content" / "medical-imaging-course")
    shipped = student.cells[0].source
    cell = student_version.colab_cell(remote.as_uri(), "student", dest).source
    # The shipped cell differs from the simulated one only in the URL and the folder.
    url, branch = student_version.launch_settings(remote)
    assert shipped == student_version.colab_cell(url, branch).source
    assert shipped.replace(url, remote.as_uri()).replace(student_version.COLAB_DEST, dest) == cell
    imports = "\n".join(_imports(student))
    assert "medlib" in imports
    script = textwrap.dedent("""\
        import sys, types
        sys.modules["google.colab"] = types.ModuleType("google.colab")
        exec(compile({cell!r}, "colab-cell", "exec"))
        exec(compile({imports!r}, "notebook-imports", "exec"))
        import medlib, medlib.data, pydicom
        assert medlib.__file__.startswith({prefix!r}), medlib.__file__
        ds = pydicom.dcmread(medlib.data.path("dicom/ct_head_693.dcm"))
        assert ds.pixel_array.ndim == 2
        print("OK", medlib.__file__)
        """).format(cell=cell, imports=imports, prefix=str(env_dir))
    env = {k: v for k, v in os.environ.items()
           if k not in ("PYTHONPATH", "MEDLIB_DATA", "VIRTUAL_ENV")}
    # No network: pip finds every dependency installed; PIP_NO_BUILD_ISOLATION="0" is pip's
    # (inverted) spelling of --no-build-isolation, so setuptools comes from the stand-in stack.
    env.update(PIP_NO_INDEX="1", PIP_NO_BUILD_ISOLATION="0", PIP_DISABLE_PIP_VERSION_CHECK="1",
               MPLBACKEND="Agg")
    work = tmp_path / "content"
    work.mkdir()
    result = subprocess.run([str(python), "-c", script], cwd=work, env=env, capture_output=True,
                            text=True, timeout=600)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    assert "OK" in result.stdout
    assert (Path(dest) / "data" / "manifest.toml").is_file()


def test_colab_cell_does_nothing_elsewhere():
    cell = student_version.colab_cell("file:///nonexistent", "student").source
    namespace: dict = {}
    exec(compile(cell, "colab-cell", "exec"), namespace)   # no google.colab here: no clone
    assert "COURSE" not in namespace
    assert "google.colab" not in sys.modules


def test_binder_postbuild_makes_the_pulled_student_copy_importable(tmp_path):
    """The Binder route, simulated: the binder branch's postBuild run in a fresh environment,
    then the student branch cloned where nbgitpuller puts it (~/<repository name>), then a new
    Python process (a kernel started after the pull) imports medlib from it and reads data."""
    remote = tmp_path / "remote"
    subprocess.run(["git", "clone", "--quiet", "--shared", "--no-checkout", str(ROOT),
                    str(remote)], check=True)
    binder = student_version.write_binder_branch(remote)
    student_version.write_branch(remote)
    env_dir = tmp_path / "venv"
    venv.EnvBuilder(with_pip=False).create(env_dir)
    python = env_dir / "bin" / "python"
    purelib = subprocess.run([str(python), "-c", "import sysconfig; "
                              "print(sysconfig.get_paths()['purelib'])"],
                             capture_output=True, text=True, check=True).stdout.strip()
    Path(purelib, "conda_stack.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    home = tmp_path / "home"
    home.mkdir()
    env = {k: v for k, v in os.environ.items()
           if k not in ("PYTHONPATH", "MEDLIB_DATA", "VIRTUAL_ENV")}
    env.update(HOME=str(home), PATH=f"{env_dir / 'bin'}:{env['PATH']}", MPLBACKEND="Agg")
    post = tmp_path / "postBuild"
    post.write_text(subprocess.run(["git", "-C", str(remote), "show", f"{binder}:postBuild"],
                                   capture_output=True, text=True, check=True).stdout)
    subprocess.run(["bash", str(post)], env=env, check=True, cwd=home)
    url, branch = student_version.launch_settings(remote)
    name = url.rstrip("/").rsplit("/", 1)[-1]
    subprocess.run(["git", "clone", "--quiet", "--branch", branch, remote.as_uri(),
                    str(home / name)], check=True)
    script = textwrap.dedent(f"""\
        import medlib, medlib.data, nbformat
        assert medlib.__file__.startswith({str(home / name)!r}), medlib.__file__
        assert medlib.data.path("dicom/ct_head_693.dcm").is_file()
        nb = nbformat.read({str(home / name / NOTEBOOK)!r}, as_version=4)
        assert not any("solution" in c.metadata.get("tags", []) for c in nb.cells)
        print("OK")
        """)
    result = subprocess.run([str(python), "-c", script], cwd=home / name / "chapters", env=env,
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    assert "OK" in result.stdout
