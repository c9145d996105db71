"""Notebook budgets, enforced while nbval runs the chapters.

Every chapter notebook must run top to bottom in at most 60 s and 1.5 GB of memory on the course
machines (2 cores). While nbval executes a notebook this plugin adds up the time of its cells and
reads the peak resident memory of its kernel (``VmHWM`` in ``/proc/<pid>/status``, Linux). After
the notebook's last cell it records both in ``_build/budgets/`` and raises a teardown error if
either exceeds the budget; at the end of the run it prints one table of every notebook and writes
it to ``_build/budgets.md``.
"""
from __future__ import annotations

import json
import os
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent
# The overrides exist for tests/test_budgets.py, which proves that an over-budget notebook fails.
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


@pytest.hookimpl(wrapper=True)
def pytest_runtest_call(item):
    if not _is_notebook_cell(item):
        return (yield)
    start = time.perf_counter()
    try:
        return (yield)
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
