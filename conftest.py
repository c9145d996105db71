"""Notebook budgets and exercise checks, enforced while nbval runs the chapters.

Every chapter notebook must run top to bottom in at most 60 s and 1.5 GB of memory on the course
machines (2 cores). While nbval executes a notebook this plugin adds up the time of its cells and
reads the peak resident memory of its kernel (``VmHWM`` in ``/proc/<pid>/status``, Linux). After
the notebook's last cell it records both in ``_build/budgets/`` and raises a teardown error if
either exceeds the budget; at the end of the run it prints one table of every notebook and writes
it to ``_build/budgets.md``.

Exercise checks must reject a wrong answer, not only accept the right one. After a check cell
(a code cell starting with ``# Check``) passes, the plugin takes each name the check reads that
the exercise's solution cells define (the student's answer), replaces it in the kernel by a wrong
value (an integer plus one, a real number 10 % off, a flipped boolean, a function whose
result is off ...), runs the
check again, and fails the cell if the check still passes; the right answers are then restored.
"""
from __future__ import annotations

import ast
import json
import os
import time
from pathlib import Path
from queue import Empty

import pytest

ROOT = Path(__file__).resolve().parent
# The overrides exist for tests/book/test_budgets.py, which proves that an over-budget notebook
# fails.
RESULTS = Path(os.environ.get("COURSE_BUDGET_DIR", ROOT / "_build" / "budgets"))
TABLE = RESULTS.parent / (RESULTS.name + ".md")
BUDGET_SECONDS = float(os.environ.get("COURSE_BUDGET_SECONDS", 60.0))
BUDGET_BYTES = int(float(os.environ.get("COURSE_BUDGET_GB", 1.5)) * 2**30)


def _is_notebook_cell(item) -> bool:
    return type(item).__name__ == "IPyNbCell" and hasattr(item.parent, "kernel")


def _kernel_peak_bytes(nbfile) -> int | None:
    try:
        pid = nbfile.kernel.km.provisioner.process.pid
        status = Path(f"/proc/{pid}/status").read_text()
    except (AttributeError, OSError):
        return None
    for line in status.splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) * 1024
    return None


def pytest_sessionstart(session):
    if not hasattr(session.config, "workerinput"):      # the controller, not an xdist worker
        RESULTS.mkdir(parents=True, exist_ok=True)
        for old in RESULTS.glob("*.json"):
            old.unlink()


# Runs in the notebook's kernel: each answer made wrong in turn, the check must then fail.
_WRONG_ANSWER_PROBE = r"""
def __course_probe(check, names):
    import numbers
    import numpy as np

    def wrong(v):
        if isinstance(v, (bool, np.bool_)):
            return not v
        if isinstance(v, numbers.Integral) or (isinstance(v, np.ndarray) and v.dtype.kind in "iu"):
            return v + 1
        if isinstance(v, numbers.Number) or (isinstance(v, np.ndarray) and v.dtype != bool):
            return v * 1.1 + 0.1
        if isinstance(v, np.ndarray):
            return ~v
        if isinstance(v, (list, tuple)):
            return type(v)(wrong(x) for x in v)
        if isinstance(v, dict):
            return {k: wrong(x) for k, x in v.items()}
        if isinstance(v, str):
            return v + " (wrong)"
        if callable(v):
            return lambda *a, **k: wrong(v(*a, **k))
        return None

    g = globals()
    saved = {n: g[n] for n in names if n in g}
    accepted = []
    try:
        for n, v in saved.items():
            g[n] = wrong(v)
            try:
                exec(check, g)
            except Exception:
                pass
            else:
                accepted.append(n)
            g[n] = v
    finally:
        g.update(saved)
    if accepted:
        raise AssertionError("the check also accepts a wrong " + ", ".join(accepted))
"""


def _assigned(source: str) -> set[str]:
    names = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store):
            names.add(node.id)
        elif isinstance(node, (ast.FunctionDef, ast.ClassDef)):
            names.add(node.name)
    return names


def _loaded(source: str) -> set[str]:
    return {n.id for n in ast.walk(ast.parse(source))
            if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Load)}


def _is_check(cell) -> bool:
    return cell.get("cell_type") == "code" and cell["source"].lstrip().startswith("# Check")


def answer_names(cells: list, index: int) -> list[str]:
    """The names a check cell reads that the solution cells of its exercise define."""
    assigned: set[str] = set()
    for cell in reversed(cells[:index]):
        if _is_check(cell):
            break
        tags = cell.get("metadata", {}).get("tags", [])
        if cell.get("cell_type") == "code" and "solution" in tags:
            assigned |= _assigned(cell["source"])
    return sorted(assigned & _loaded(cells[index]["source"]))


def _run_in_kernel(kernel, code: str, timeout: float = 120) -> dict:
    msg_id = kernel.execute_cell_input(code, allow_stdin=False)
    while True:
        msg = kernel.get_message(stream="shell", timeout=timeout)
        if msg["parent_header"].get("msg_id") == msg_id:
            break
    try:
        kernel.await_idle(msg_id, timeout)
    except Empty:
        pass
    return msg["content"]


def _probe_check(item) -> None:
    cells = item.parent.nb.cells
    index = next(i for i, c in enumerate(cells) if c is item.cell)   # cell_num counts code only
    names = answer_names(cells, index)
    if not names:
        raise AssertionError("this check reads no answer that its exercise's solution defines "
                             "(tag the solution cells 'solution' and check their result)")
    code = (_WRONG_ANSWER_PROBE + f"\ntry:\n    __course_probe({item.cell['source']!r}, {names!r})"
            "\nfinally:\n    del __course_probe\n")
    reply = _run_in_kernel(item.parent.kernel, code)
    if reply.get("status") != "ok":
        raise AssertionError(f"exercise check: {reply.get('ename')}: {reply.get('evalue')}")


@pytest.hookimpl(wrapper=True)
def pytest_runtest_call(item):
    if not _is_notebook_cell(item):
        return (yield)
    start = time.perf_counter()
    try:
        result = yield
        if _is_check(item.cell):
            _probe_check(item)
        return result
    finally:
        nbfile = item.parent
        nbfile.budget_seconds = getattr(nbfile, "budget_seconds", 0.0) + (
            time.perf_counter() - start)
        peak = _kernel_peak_bytes(nbfile)
        if peak is not None:
            nbfile.budget_peak = max(getattr(nbfile, "budget_peak", 0), peak)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_teardown(item, nextitem):
    last = _is_notebook_cell(item) and (nextitem is None or nextitem.parent is not item.parent)
    result = yield
    if last:
        nbfile = item.parent
        seconds = getattr(nbfile, "budget_seconds", 0.0)
        peak = getattr(nbfile, "budget_peak", None)
        rel = Path(nbfile.path).resolve().relative_to(ROOT).as_posix()
        RESULTS.mkdir(parents=True, exist_ok=True)
        (RESULTS / (rel.replace("/", "__") + ".json")).write_text(json.dumps(
            {"notebook": rel, "seconds": seconds, "peak_bytes": peak}))
        over = []
        if seconds > BUDGET_SECONDS:
            over.append(f"{seconds:.1f} s > {BUDGET_SECONDS:.0f} s")
        if peak is not None and peak > BUDGET_BYTES:
            over.append(f"peak memory {peak / 2**30:.2f} GB > {BUDGET_BYTES / 2**30:.1f} GB")
        if over:
            raise AssertionError(f"{rel} is over its budget: {'; '.join(over)}")
    return result


def budget_table() -> str | None:
    """The Markdown table of the recorded notebooks, or None if none ran."""
    records = [json.loads(p.read_text()) for p in sorted(RESULTS.glob("*.json"))]
    if not records:
        return None
    lines = ["| notebook | time (s) | peak memory (MB) | within budget |",
             "|---|---:|---:|:---:|"]
    for r in sorted(records, key=lambda r: r["notebook"]):
        peak = r["peak_bytes"]
        ok = r["seconds"] <= BUDGET_SECONDS and (peak is None or peak <= BUDGET_BYTES)
        mb = "n/a" if peak is None else f"{peak / 2**20:.0f}"
        lines.append(f"| {r['notebook']} | {r['seconds']:.1f} | {mb} | {'yes' if ok else 'NO'} |")
    total = sum(r["seconds"] for r in records)
    lines.append(f"| **{len(records)} notebooks** | **{total:.1f}** | | |")
    return "\n".join(lines)


def pytest_terminal_summary(terminalreporter, exitstatus, config):
    if hasattr(config, "workerinput"):
        return
    table = budget_table()
    if table is None:
        return
    TABLE.write_text(f"Notebook budgets: {BUDGET_SECONDS:.0f} s and "
                     f"{BUDGET_BYTES / 2**30:.1f} GB each.\n\n{table}\n")
    terminalreporter.write_sep("-", f"notebook budgets ({BUDGET_SECONDS:.0f} s, "
                                    f"{BUDGET_BYTES / 2**30:.1f} GB each)")
    terminalreporter.write_line(table)
