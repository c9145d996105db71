#!/usr/bin/env python3
"""Grade a class's returned notebooks: a CSV score table and one feedback file per student.

    python tools/grade.py returned/ --out grades/          # or: python3 course.py grade returned/

``returned/`` holds one folder per student with the notebooks they returned, under the names of
the chapter notebooks (``returned/ada/hu-windowing.ipynb``). For each returned notebook the
grader builds the program it runs from the **instructor's** notebook (found by name under
``chapters/``; where two chapters share a name, by the exercise labels): the instructor's cells,
except that each exercise's solution is replaced by the student's answer (the code cells just
above the student's ``# Check exercise N`` cell), followed by the instructor's public check and
the instructor-only hidden tests of that exercise (``grading/hidden/<chapter>/<notebook>.py``,
blocks headed ``# %% exercise N, P points``; the student branch leaves ``grading/hidden/`` out).
A check the student edited or deleted is therefore irrelevant: the instructor's is run. Points:
1 for the public check (``--check-points``) plus the points of each hidden block that passes.

Each notebook runs in its own process (``python tools/grade.py --run``, reading the program on
stdin and reporting on a pipe), isolated by what Linux offers without extra software:

- ``unshare --net --mount --pid`` (needs root, or unprivileged user namespaces with ``--user``):
  no network; its own process namespace (killed as a whole at the end, background processes
  included); every mount remounted read-only; a private, size-limited tmpfs on ``/tmp``,
  ``/var/tmp`` and ``/dev/shm`` as the working directory, with the course and the Python
  environment bound back read-only where they lived under those (a clone in a temporary
  directory, as CI makes: the sandbox works wherever the course is); ``chapters/``,
  ``grading/``, ``instructor/``, ``_build/``, the submissions, the output folder and every
  ``--hide`` path covered by empty tmpfs (no solutions or hidden tests to read);
- then ``setpriv`` to the unprivileged user ``nobody`` (when run as root; otherwise, in a user
  namespace, every capability dropped), so the code cannot undo the mounts or write anyone's
  files;
- ``resource.setrlimit``: address space (``--memory-gb``), CPU seconds, file size, processes;
  a time limit per cell (``--cell-timeout``, SIGALRM) and per notebook (``--timeout``, the
  process group killed).

Between an exercise's answer and its check the runner restores every name the instructor's cells
defined that the answer rebound (``np``, data, helpers), and compares the attributes of the
loaded modules checks compute with (``numpy``, ``medlib``, ``scipy``, ``builtins``...,
:data:`GUARDED`) with a snapshot: an answer that patches a
library scores 0 for that exercise, and the patch is undone. Known limit: the answer runs in the
same process as the runner, so a determined attacker with knowledge of the runner could forge its
report; the grader trusts nothing else from the submission (no files, no exit code).
"""
from __future__ import annotations

import argparse
import ast
import csv
import fcntl
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CHECK = re.compile(r"\s*#\s*Check exercise\s+(\d+)", re.IGNORECASE)
# `# %% exercise N[, P points][, label]`: the label (of the exercise's `{exercise}` directive)
# ties the block to its exercise if the notebook's exercises are renumbered (a book test).
HIDDEN_BLOCK = re.compile(r"^# %% exercise (\d+)(?:,\s*(\d+(?:\.\d+)?)\s*points?)?"
                          r"(?:,\s*([A-Za-z][\w.-]*))?\s*$", re.MULTILINE)
NOBODY = 65534
# Instructor-only paths of the course, hidden from submissions (besides --hide).
HIDDEN_PATHS = ("chapters", "grading", "instructor", "_build", "student")


# --------------------------------------------------------------------------------------------
# Building the program of one submission
# --------------------------------------------------------------------------------------------

def _tags(cell) -> list[str]:
    return cell.get("metadata", {}).get("tags", [])


def _source(cell) -> str:
    src = cell.get("source", "")
    return "".join(src) if isinstance(src, list) else src


def _check_number(cell) -> int | None:
    if cell.get("cell_type") != "code":
        return None
    m = CHECK.match(_source(cell))
    return int(m.group(1)) if m else None


def assigned_names(source: str) -> set[str]:
    """Names a cell binds (its answers), or the empty set if it does not parse."""
    try:
        tree = ast.parse(source)
    except SyntaxError:
        return set()
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store):
            names.add(node.id)
        elif isinstance(node, (ast.FunctionDef, ast.ClassDef, ast.AsyncFunctionDef)):
            names.add(node.name)
    return names


def student_answers(nb: dict) -> dict[int, list[str]]:
    """Exercise number -> the code of the cells just above the student's check of it."""
    cells = nb.get("cells", [])
    answers: dict[int, list[str]] = {}
    for i, cell in enumerate(cells):
        n = _check_number(cell)
        if n is None:
            continue
        code = []
        for prev in reversed(cells[:i]):
            if prev.get("cell_type") != "code" or _check_number(prev) is not None:
                break
            code.insert(0, _source(prev))
        answers.setdefault(n, code)
    return answers


def hidden_tests(path: Path) -> dict[int, list[tuple[float, str]]]:
    """Exercise number -> [(points, code)] from a hidden-test file (empty if none)."""
    if not path.is_file():
        return {}
    text = path.read_text()
    blocks: dict[int, list[tuple[float, str]]] = {}
    heads = list(HIDDEN_BLOCK.finditer(text))
    for k, m in enumerate(heads):
        end = heads[k + 1].start() if k + 1 < len(heads) else len(text)
        points = float(m.group(2)) if m.group(2) else 1.0
        blocks.setdefault(int(m.group(1)), []).append((points, text[m.end():end].strip() + "\n"))
    return blocks


def hidden_labels(path: Path) -> dict[int, set[str]]:
    """Exercise number -> the exercise labels its hidden blocks name (a set: all must agree)."""
    labels: dict[int, set[str]] = {}
    for m in HIDDEN_BLOCK.finditer(path.read_text() if path.is_file() else ""):
        labels.setdefault(int(m.group(1)), set()).add(m.group(3) or "")
    return labels


def exercise_labels(nb: dict) -> dict[int, str]:
    """Exercise number -> label: the k-th ``{exercise}`` directive of the notebook is checked
    by its ``# Check exercise k`` cell."""
    labels = [m for c in nb.get("cells", []) if c.get("cell_type") == "markdown"
              for m in re.findall(r"```\{exercise\}[^\n]*\n\s*:label:\s*(\S+)", _source(c))]
    return dict(enumerate(labels, start=1))


def program(source_nb: dict, student_nb: dict, hidden: dict[int, list[tuple[float, str]]],
            check_points: float = 1.0) -> tuple[list[dict], dict[int, float]]:
    """The cells to run for one submission, and the maximum points of each exercise."""
    answers = student_answers(student_nb)
    cells = source_nb["cells"]
    # The answer names of each exercise: what its solution cells bind.
    solution_names: dict[int, set[str]] = {}
    pending: set[str] = set()
    for cell in cells:
        if cell.get("cell_type") == "code" and "solution" in _tags(cell):
            pending |= assigned_names(_source(cell))
        n = _check_number(cell)
        if n is not None:
            solution_names[n], pending = pending, set()
    steps: list[dict] = []
    maximum: dict[int, float] = {}
    inserted: set[int] = set()
    upcoming = iter(sorted(solution_names))
    next_ex = next(upcoming, None)
    for cell in cells:
        if cell.get("cell_type") != "code" or "colab-setup" in _tags(cell):
            continue
        n = _check_number(cell)
        if "solution" in _tags(cell):
            if next_ex is not None and next_ex not in inserted:
                inserted.add(next_ex)
                steps.append({"kind": "answer", "exercise": next_ex,
                              "names": sorted(solution_names[next_ex]),
                              "cells": answers.get(next_ex)})
            continue
        if n is not None:
            if n not in inserted:          # an exercise without solution cells
                inserted.add(n)
                steps.append({"kind": "answer", "exercise": n,
                              "names": sorted(solution_names.get(n, ())),
                              "cells": answers.get(n)})
            steps.append({"kind": "check", "exercise": n, "points": check_points,
                          "source": _source(cell)})
            maximum[n] = check_points
            for points, code in hidden.get(n, []):
                steps.append({"kind": "hidden", "exercise": n, "points": points,
                              "source": code})
                maximum[n] += points
            next_ex = next(upcoming, None)
            while next_ex is not None and next_ex in inserted:
                next_ex = next(upcoming, None)
            continue
        steps.append({"kind": "setup", "source": _source(cell)})
    return steps, maximum


# --------------------------------------------------------------------------------------------
# The runner (inside the sandbox)
# --------------------------------------------------------------------------------------------

class _CellTimeout(BaseException):
    pass


# Packages a check computes its expected values with: an answer must not rebind their names.
# (Others, e.g. matplotlib, legitimately rebind module names: `%matplotlib inline`.)
GUARDED = {"numpy", "math", "cmath", "operator", "functools", "medlib", "scipy", "skimage",
           "torch", "SimpleITK", "monai", "pydicom", "nibabel"}


def _snapshot_modules(user_ns: dict) -> dict[str, dict]:
    """The public attributes of the loaded :data:`GUARDED` modules."""
    return {name: {k: v for k, v in vars(mod).items() if not k.startswith("_")}
            for name, mod in list(sys.modules.items())
            if name.split(".")[0] in GUARDED and mod is not None and hasattr(mod, "__dict__")
            and vars(mod) is not user_ns}


def _restore_modules(snapshot: dict[str, dict]) -> list[str]:
    """Undo changes of existing module attributes since ``snapshot``; names of the changed."""
    changed = []
    ignore = {("sys", "last_type"), ("sys", "last_value"), ("sys", "last_traceback"),
              ("sys", "last_exc")}                  # set by IPython when a cell raises
    for name, before in snapshot.items():
        mod = sys.modules.get(name)
        if mod is None:
            continue
        now = vars(mod)
        for key, value in before.items():
            if (name, key) in ignore:
                continue
            if now.get(key, _MISSING) is not value:
                changed.append(f"{name}.{key}")
                try:
                    setattr(mod, key, value)
                except (AttributeError, TypeError):
                    pass
    return changed


_MISSING = object()


def run(steps: list[dict], report, cell_timeout: float) -> None:
    """Run ``steps`` in one namespace; ``report(dict)`` for every check and hidden test."""
    import builtins

    os.environ.setdefault("MPLBACKEND", "Agg")
    from IPython.core.interactiveshell import InteractiveShell

    shell = InteractiveShell.instance(colors="NoColor")
    shell.enable_gui = lambda gui=None: None        # `%matplotlib inline` without a kernel
    _real_report = report

    def on_alarm(signum, frame):
        raise _CellTimeout()

    def execute(code: str) -> str | None:
        """Run a cell; an error message, or None."""
        signal.signal(signal.SIGALRM, on_alarm)
        signal.setitimer(signal.ITIMER_REAL, cell_timeout)
        try:
            result = shell.run_cell(code, store_history=True, silent=False)
        except _CellTimeout:
            return f"the cell ran longer than {cell_timeout:.0f} s"
        finally:
            signal.setitimer(signal.ITIMER_REAL, 0)
        err = result.error_before_exec or result.error_in_exec
        if isinstance(err, _CellTimeout):
            return f"the cell ran longer than {cell_timeout:.0f} s"
        if err is not None:
            return f"{type(err).__name__}: {err}"[:500]
        return None

    tampered: dict[int, list[str]] = {}
    builtins_before = dict(vars(builtins))
    for step in steps:
        kind = step["kind"]
        if kind == "setup":
            execute(step["source"])
        elif kind == "answer":
            n = step["exercise"]
            ns = shell.user_ns
            keep = {k: v for k, v in ns.items() if not k.startswith("_")}
            modules = _snapshot_modules(ns)
            errors = []
            if step["cells"] is None:
                _real_report({"exercise": n, "kind": "answer", "passed": False,
                              "message": "no check cell for this exercise in the submission "
                                         "(write the answer just above '# Check exercise "
                                         f"{n}')"})
            for code in step["cells"] or []:
                err = execute(code)
                if err:
                    errors.append(err)
            changed = _restore_modules(modules)
            for key, value in builtins_before.items():
                if vars(builtins).get(key, _MISSING) is not value:
                    changed.append(f"builtins.{key}")
                    setattr(builtins, key, value)
            answers = set(step["names"])
            for k, v in keep.items():
                if k not in answers and ns.get(k, _MISSING) is not v:
                    ns[k] = v               # e.g. a rebound `np` or data array: restored
            if changed:
                tampered[n] = changed
            if errors:
                _real_report({"exercise": n, "kind": "answer", "passed": False,
                              "message": "; ".join(errors)[:500]})
        else:
            n = step["exercise"]
            err = execute(step["source"])
            if n in tampered:
                err = ("the answer changed library code (" + ", ".join(tampered[n][:3]) +
                       "): no points for this exercise")
            _real_report({"exercise": n, "kind": kind, "passed": err is None,
                          "points": step["points"] if err is None else 0.0,
                          "message": err or "passed"})


def _runner_main(cell_timeout: float) -> int:
    fd = int(os.environ.pop("GRADE_REPORT_FD"))
    out = os.fdopen(fd, "w", buffering=1)
    steps = json.loads(sys.stdin.read())
    sys.stdin = open(os.devnull)

    def report(entry: dict) -> None:
        out.write(json.dumps(entry) + "\n")
        out.flush()

    run(steps, report, cell_timeout)
    report({"kind": "done"})
    return 0


# --------------------------------------------------------------------------------------------
# The sandbox
# --------------------------------------------------------------------------------------------

def _limits(memory_bytes: int, cpu_seconds: int):
    import resource

    def apply() -> None:
        os.setsid()
        resource.setrlimit(resource.RLIMIT_AS, (memory_bytes, memory_bytes))
        resource.setrlimit(resource.RLIMIT_CPU, (cpu_seconds, cpu_seconds))
        resource.setrlimit(resource.RLIMIT_FSIZE, (256 * 2**20, 256 * 2**20))
        resource.setrlimit(resource.RLIMIT_NPROC, (256, 256))
        resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    return apply


# The directories a private tmpfs covers inside the sandbox.
TMP_DIRS = ("/tmp", "/var/tmp", "/dev/shm")


def needed_paths() -> list[Path]:
    """What the runner needs to see, read-only: the course and the Python environment (the
    venv and the interpreter it was made from), without paths nested in another."""
    paths = {ROOT.resolve(), Path(sys.prefix).resolve(), Path(sys.base_prefix).resolve(),
             Path(sys.executable).resolve().parent}
    return sorted(p for p in paths if not any(q != p and q in p.parents for q in paths))


def _under_tmp(path: Path) -> bool:
    return any(path == Path(os.path.realpath(t)) or Path(os.path.realpath(t)) in path.parents
               for t in TMP_DIRS)


_MODE: list = []


def sandbox_mode() -> tuple[str | None, str]:
    """``("root", "")`` when namespaces can be made as root, ``("user", "")`` with unprivileged
    user namespaces, else ``(None, why)``: the one condition under which grading cannot run."""
    if _MODE:
        return _MODE[0]
    missing = [p for p in ("unshare", "setpriv", "mount") if shutil.which(p) is None]
    if sys.platform != "linux" or missing:
        _MODE.append((None, f"grading needs Linux and util-linux ({', '.join(missing)} missing "
                            f"on {sys.platform})"))
        return _MODE[0]
    probe = ["--mount", "--propagation", "private", "--pid", "--fork", "--net", "--",
             "mount", "-t", "tmpfs", "tmpfs", "/dev/shm"]
    tried = []
    for mode, user in (("root", []), ("user", ["--user", "--map-root-user"])):
        if mode == "root" and os.geteuid() != 0:
            continue
        r = subprocess.run(["unshare", *user, *probe], capture_output=True, text=True,
                           timeout=60)
        if r.returncode == 0:
            _MODE.append((mode, ""))
            return _MODE[0]
        tried.append(f"unshare {' '.join(user) or '(as root)'}: {r.stderr.strip()[-200:]}")
    knobs = []
    for knob in ("/proc/sys/user/max_user_namespaces", "/proc/sys/kernel/unprivileged_userns_clone",
                 "/proc/sys/kernel/apparmor_restrict_unprivileged_userns"):
        try:
            knobs.append(f"{knob} = {Path(knob).read_text().strip()}")
        except OSError:
            pass
    _MODE.append((None, "no mount namespace can be made here (" + "; ".join(tried) + "); " +
                  ", ".join(knobs) + ". Run as root, or enable unprivileged user namespaces "
                  "(sysctl kernel.unprivileged_userns_clone=1, user.max_user_namespaces > 0, "
                  "kernel.apparmor_restrict_unprivileged_userns=0; in Docker: --security-opt "
                  "seccomp=unconfined or --privileged)."))
    return _MODE[0]


def sandbox_command(hide: list[Path]) -> list[str]:
    """``unshare`` + mounts + ``setpriv``: the prefix that runs the runner isolated.

    Inside a new mount namespace: every mount is made read-only; :func:`needed_paths` are bound
    read-only over themselves;
    every directory of :data:`TMP_DIRS` gets a fresh private tmpfs, and the needed paths that
    lived under it (a course cloned to /tmp, as CI does) are bound back, read-only, through a
    file descriptor opened before the tmpfs hid them (so the sandbox works wherever the course
    is cloned); then the ``hide`` paths are covered by empty read-only tmpfs. Anything else of
    the temporary directories (pytest's ``tmp_path``, another student's folder) is invisible.
    """
    mode, why = sandbox_mode()
    if mode is None:
        raise RuntimeError(why)
    keep = needed_paths()
    if len(keep) > 7:
        raise RuntimeError(f"too many separate paths to bind into the sandbox: {keep}")
    # Every mount read-only first (the course, the environment, home directories, the
    # instructor's files wherever they are); the private tmpfs mounted after stay writable.
    q = ["umask 022",
         "for m in $(awk '{print $5}' /proc/self/mountinfo); do "
         "mount -o remount,bind,ro \"$m\" 2>/dev/null || true; done"]
    fds: dict[Path, int] = {}
    for path in keep:
        if _under_tmp(path):
            fds[path] = 3 + len(fds)              # 3..9: the report pipe is at 10 or above
            q.append(f"exec {fds[path]}<{_sh(path)}")
        else:
            q.append(f"mount --bind {_sh(path)} {_sh(path)}")
            q.append(f"mount -o remount,bind,ro {_sh(path)}")
    for tmp in sorted({os.path.realpath(t) for t in TMP_DIRS}):
        q.append(f"if [ -d {tmp} ]; then mount -t tmpfs -o size=256m,mode=1777 tmpfs {tmp}; fi")
    for path, fd in fds.items():
        q += [f"mkdir -p {_sh(path)}",
              f"mount --no-canonicalize --bind /proc/self/fd/{fd} {_sh(path)}",
              f"exec {fd}<&-",
              f"mount -o remount,bind,ro {_sh(path)}"]
    for path in hide:
        q.append(f"if [ -d {_sh(path)} ]; then mount -t tmpfs -o size=1k,ro tmpfs {_sh(path)}; "
                 "fi")
    q.append("mkdir -p /tmp/work && cd /tmp/work")
    if mode == "root":
        q.append(f"chown {NOBODY}:{NOBODY} /tmp/work")
        q.append(f'exec setpriv --reuid={NOBODY} --regid={NOBODY} --clear-groups '
                 f'--inh-caps=-all --bounding-set=-all --no-new-privs "$@"')
        user = []
    else:
        # Root of a user namespace: drop every capability, so the mounts stay as they are.
        q.append('exec setpriv --inh-caps=-all --bounding-set=-all --no-new-privs "$@"')
        user = ["--user", "--map-root-user"]
    return ["unshare", *user, "--net", "--mount", "--propagation", "private", "--pid",
            "--fork", "--kill-child", "--mount-proc", "--",
            "sh", "-c", "set -e; " + "; ".join(q), "sandbox"]


def _sh(path: Path) -> str:
    return "'" + str(path).replace("'", "'\\''") + "'"


@dataclass
class Result:
    student: str
    notebook: str
    points: dict[int, float] = field(default_factory=dict)
    maximum: dict[int, float] = field(default_factory=dict)
    messages: list[str] = field(default_factory=list)
    seconds: float = 0.0


def grade_notebook(student: str, path: Path, source: Path, chapters: Path, hidden_dir: Path,
                   hide: list[Path],
                   timeout: float, cell_timeout: float, memory_gb: float,
                   check_points: float = 1.0) -> Result:
    """Run one returned notebook in the sandbox; its points per exercise and feedback."""
    source_nb = json.loads(source.read_text())
    rel = source.resolve().relative_to(chapters.resolve())
    hidden = hidden_tests(hidden_dir / rel.with_suffix(".py"))
    result = Result(student, rel.as_posix())
    try:
        student_nb = json.loads(path.read_text(errors="replace"))
        if not isinstance(student_nb, dict) or not isinstance(student_nb.get("cells"), list):
            raise ValueError("not a notebook")
    except (ValueError, OSError) as exc:
        student_nb = {"cells": []}
        result.messages.append(f"The notebook could not be read ({exc}): it is graded as "
                               "empty.")
    steps, result.maximum = program(source_nb, student_nb, hidden, check_points)
    result.points = {n: 0.0 for n in result.maximum}
    env = {"PATH": "/usr/bin:/bin", "HOME": "/tmp/work", "PYTHONPATH": str(ROOT),
           "PYTHONDONTWRITEBYTECODE": "1", "MPLBACKEND": "Agg", "MPLCONFIGDIR": "/tmp/work",
           "OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1", "MKL_NUM_THREADS": "1",
           "LANG": "C.UTF-8", "MEDLIB_DATA": str(ROOT / "data")}
    read_fd, pipe_fd = os.pipe()
    write_fd = fcntl.fcntl(pipe_fd, fcntl.F_DUPFD_CLOEXEC, 10)   # the sandbox uses fds 3..9
    os.close(pipe_fd)
    env["GRADE_REPORT_FD"] = str(write_fd)
    cmd = [*sandbox_command(hide), sys.executable, "-s", str(Path(__file__).resolve()), "--run",
           "--cell-timeout", str(cell_timeout)]
    start = time.monotonic()
    proc = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE, env=env, pass_fds=(write_fd,),
                            preexec_fn=_limits(int(memory_gb * 2**30),
                                               int(timeout) + 5))
    os.close(write_fd)
    try:
        proc.stdin.write(json.dumps(steps).encode())
        proc.stdin.close()
    except BrokenPipeError:
        pass
    done, buf = False, b""
    os.set_blocking(read_fd, False)
    while True:
        try:
            chunk = os.read(read_fd, 65536)
        except BlockingIOError:
            chunk = None
        if chunk:
            if len(buf) < 2**22:                    # a flood of output is not kept
                buf += chunk
        elif chunk == b"":
            break
        if time.monotonic() - start > timeout:
            result.messages.append(f"The notebook did not finish within {timeout:.0f} s; "
                                   "it was stopped (later exercises score 0).")
            break
        if chunk is None:
            time.sleep(0.05)
    _kill(proc)
    os.close(read_fd)
    stderr = proc.stderr.read()[-2000:].decode(errors="replace")
    proc.stderr.close()
    result.seconds = time.monotonic() - start
    for line in buf.decode(errors="replace").splitlines():
        try:
            entry = json.loads(line)
        except ValueError:
            continue
        if not isinstance(entry, dict):
            continue
        if entry.get("kind") == "done":
            done = True
            continue
        n = entry.get("exercise")
        if n not in result.maximum or entry.get("kind") not in ("check", "hidden", "answer"):
            continue
        label = {"check": "check", "hidden": "hidden test", "answer": "your code"}[entry["kind"]]
        if entry["kind"] != "answer" and entry.get("passed"):
            step_max = next(s["points"] for s in steps if s.get("exercise") == n
                            and s["kind"] == entry["kind"])
            result.points[n] += min(float(entry.get("points", 0)), step_max)
        result.messages.append(f"Exercise {n}, {label}: {entry.get('message', '')}")
    if not done and not any("did not finish" in m for m in result.messages):
        why = "memory or CPU limit, or it exited" if proc.returncode else "it exited early"
        result.messages.append(f"The notebook stopped before its end ({why}); "
                               "exercises after that point score 0.")
        if "unshare" in stderr or "setpriv" in stderr:
            result.messages.append("(sandbox: " + stderr.strip()[-300:] + ")")
    for n in result.maximum:
        result.points[n] = min(result.points[n], result.maximum[n])
    return result


def _kill(proc: subprocess.Popen) -> None:
    """Kill the sandbox: its PID namespace's first process (which takes every process of the
    namespace with it, also those that left the process group), then the group."""
    try:
        children = Path(f"/proc/{proc.pid}/task/{proc.pid}/children").read_text().split()
    except OSError:
        children = []
    for child in children:
        try:
            os.kill(int(child), signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass
    proc.wait()


# --------------------------------------------------------------------------------------------
# The class
# --------------------------------------------------------------------------------------------

def find_sources(chapters: Path) -> dict[str, list[Path]]:
    """File name -> the instructor's notebooks of that name (several chapters may share one)."""
    sources: dict[str, list[Path]] = {}
    for p in sorted(chapters.rglob("*.ipynb")):
        if ".ipynb_checkpoints" not in p.parts:
            sources.setdefault(p.name, []).append(p)
    return sources


LABEL = re.compile(r":label:\s*(\S+)")


def match_source(path: Path, candidates: list[Path]) -> Path:
    """The candidate whose exercise labels the returned notebook shares most (by name alone
    when there is one candidate or the submission cannot be read)."""
    if len(candidates) == 1:
        return candidates[0]

    def labels(p: Path) -> set[str]:
        try:
            nb = json.loads(p.read_text(errors="replace"))
            return {m for c in nb.get("cells", []) if c.get("cell_type") == "markdown"
                    for m in LABEL.findall(_source(c))}
        except (ValueError, OSError, AttributeError, TypeError):
            return set()

    mine = labels(path)
    return max(candidates, key=lambda c: len(labels(c) & mine))


def secret_paths(chapters: Path, hidden_dir: Path, submissions: Path, out: Path,
                 hide: tuple[Path, ...] = ()) -> list[Path]:
    """What a submission must not see: the instructor's notebooks and hidden tests, the
    course's instructor-only folders, every submission, the output folder, ``hide``."""
    secret = [ROOT / p for p in HIDDEN_PATHS] + [Path(p).resolve() for p in
                                                 (chapters, hidden_dir, submissions, out)]
    needed = [Path(sys.prefix).resolve(), ROOT / "medlib", ROOT / "data"]
    for path in map(Path, hide):
        path = path.resolve()
        if any(n == path or path in n.parents for n in needed):
            raise ValueError(f"hide: {path} holds the Python environment or medlib/data that "
                             "the submissions need; hide its instructor-only folders instead")
        secret.append(path)
    return secret


def grade_folder(submissions: Path, out: Path, chapters: Path = ROOT / "chapters",
                 hidden_dir: Path = ROOT / "grading" / "hidden", hide: tuple[Path, ...] = (),
                 timeout: float = 300, cell_timeout: float = 60, memory_gb: float = 3.0,
                 check_points: float = 1.0) -> list[Result]:
    """Grade every student folder of ``submissions``; write ``out/scores.csv`` and
    ``out/feedback/<student>.md``. Returns the results."""
    submissions, out = submissions.resolve(), out.resolve()
    sources = find_sources(chapters)
    secret = secret_paths(chapters, hidden_dir, submissions, out, hide)
    results: list[Result] = []
    for folder in sorted(p for p in submissions.iterdir() if p.is_dir()):
        for path in sorted(folder.glob("*.ipynb")):
            if path.is_symlink() or submissions not in path.resolve().parents:
                results.append(Result(folder.name, path.name, messages=[
                    "A link, not a returned file: not graded."]))
                continue
            if path.name not in sources:
                results.append(Result(folder.name, path.name, messages=[
                    "Not a notebook of the course: not graded."]))
                continue
            source = match_source(path, sources[path.name])
            print(f"grading {folder.name}/{path.name} ...", flush=True)
            results.append(grade_notebook(folder.name, path, source, chapters, hidden_dir,
                                          secret, timeout, cell_timeout, memory_gb,
                                          check_points))
    write_reports(results, out)
    return results


def write_reports(results: list[Result], out: Path) -> None:
    out.mkdir(parents=True, exist_ok=True)
    (out / "feedback").mkdir(exist_ok=True)
    with open(out / "scores.csv", "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["student", "notebook", "exercise", "points", "max_points"])
        for r in results:
            for n in sorted(r.maximum):
                w.writerow([r.student, r.notebook, n, f"{r.points[n]:g}", f"{r.maximum[n]:g}"])
        totals: dict[str, list[float]] = {}
        for r in results:
            t = totals.setdefault(r.student, [0.0, 0.0])
            t[0] += sum(r.points.values())
            t[1] += sum(r.maximum.values())
        for student, (got, most) in sorted(totals.items()):
            w.writerow([student, "TOTAL", "", f"{got:g}", f"{most:g}"])
    by_student: dict[str, list[Result]] = {}
    for r in results:
        by_student.setdefault(r.student, []).append(r)
    for student, rs in by_student.items():
        lines = [f"# Feedback for {student}", ""]
        for r in rs:
            lines += [f"## {r.notebook}: {sum(r.points.values()):g} of "
                      f"{sum(r.maximum.values()):g} points ({r.seconds:.0f} s)", ""]
            for n in sorted(r.maximum):
                lines.append(f"- Exercise {n}: {r.points[n]:g} / {r.maximum[n]:g}")
            lines += [""] + [f"- {m}" for m in r.messages] + [""]
        (out / "feedback" / f"{student}.md").write_text("\n".join(lines))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("submissions", nargs="?", type=Path,
                        help="folder with one sub-folder of returned notebooks per student")
    parser.add_argument("--out", type=Path, default=Path("grades"),
                        help="where scores.csv and feedback/ go (default grades/)")
    parser.add_argument("--chapters", type=Path, default=ROOT / "chapters",
                        help="the instructor's notebooks (default chapters/)")
    parser.add_argument("--hidden", type=Path, default=ROOT / "grading" / "hidden",
                        help="hidden tests, <chapter>/<notebook>.py (default grading/hidden/)")
    parser.add_argument("--hide", type=Path, action="append", default=[],
                        help="another path to hide from submissions (e.g. another clone)")
    parser.add_argument("--timeout", type=float, default=300, help="seconds per notebook")
    parser.add_argument("--cell-timeout", type=float, default=60, help="seconds per cell")
    parser.add_argument("--memory-gb", type=float, default=3.0,
                        help="address-space limit per notebook in GB (default 3)")
    parser.add_argument("--check-points", type=float, default=1.0,
                        help="points for passing an exercise's public check (default 1)")
    parser.add_argument("--run", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.run:
        sys.path.insert(0, str(ROOT))
        return _runner_main(args.cell_timeout)
    if args.submissions is None:
        parser.error("the submissions folder is required")
    try:
        results = grade_folder(args.submissions, args.out, args.chapters, args.hidden,
                               tuple(args.hide), args.timeout, args.cell_timeout,
                               args.memory_gb, args.check_points)
    except (ValueError, RuntimeError) as exc:
        parser.error(str(exc))
    print(f"{len(results)} notebooks graded: {args.out / 'scores.csv'}, "
          f"{args.out / 'feedback'}/")
    return 0


if __name__ == "__main__":
    sys.exit(main())
