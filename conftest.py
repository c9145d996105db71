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
check again, and fails the cell if the check still passes; every name of the kernel is then
restored, so the later cells see the notebook's own state.

Each notebook is executed once in CI, by nbval. While nbval runs a notebook, this plugin passes
every kernel message nbval reads through nbclient's own output handling (the code the book build
runs: outputs, ``clear_output``, display updates, the Output-widget mimic and the widget state
of ``metadata.widgets``) and, when every code cell has passed, writes the executed notebook to
``_build/executed/`` with the digest of what outputs depend on (``course.EXECUTION_INPUTS``).
``tools/execute.py`` then stores it in the book's cache instead of executing the notebook again.
"""
from __future__ import annotations

import ast
import copy
import json
import os
import time
from pathlib import Path
from queue import Empty

import pytest

ROOT = Path(__file__).resolve().parent
# The overrides exist for the self-tests (tests/book/test_budgets.py: an over-budget notebook
# fails; tests/book/test_exec_once.py: the executed notebook nbval leaves for the book).
RESULTS = Path(os.environ.get("COURSE_BUDGET_DIR", ROOT / "_build" / "budgets"))
TABLE = RESULTS.parent / (RESULTS.name + ".md")
BUDGET_SECONDS = float(os.environ.get("COURSE_BUDGET_SECONDS", 60.0))
BUDGET_BYTES = int(float(os.environ.get("COURSE_BUDGET_GB", 1.5)) * 2**30)
# Notebooks executed by nbval, for the book build (tools/execute.py reads them).
EXECUTED = Path(os.environ.get("COURSE_EXECUTED_DIR", ROOT / "_build" / "executed"))


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


def pytest_configure(config):
    config.addinivalue_line("markers", "site: needs the built book (_build/html); "
                                       "`python3 course.py test` builds it before these run")


def pytest_collection_modifyitems(config, items):
    for item in items:
        if "site" in getattr(item, "fixturenames", ()):      # tests/book/test_site.py's fixture
            item.add_marker(pytest.mark.site)


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
    before = dict(g)      # every name, restored after: the later cells see the notebook's own state
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
        for n in [n for n in g if n not in before]:
            del g[n]
        g.update(before)
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
    index = _cell_index(item)                   # not item.cell_num, which counts code cells only
    names = answer_names(cells, index)
    if not names:
        raise AssertionError("this check reads no answer that its exercise's solution defines "
                             "(tag the solution cells 'solution' and check their result)")
    code = (_WRONG_ANSWER_PROBE + f"\ntry:\n    __course_probe({item.cell['source']!r}, {names!r})"
            "\nfinally:\n    del __course_probe\n")
    reply = _run_in_kernel(item.parent.kernel, code)
    if reply.get("status") != "ok":
        raise AssertionError(f"exercise check: {reply.get('ename')}: {reply.get('evalue')}")


class _Recorder:
    """The executed notebook, built from the kernel messages nbval reads, as the book build would.

    nbval keeps only what it compares (no widget state, no ``clear_output``, no display
    updates), so every iopub message it reads is also passed, for the cell it belongs to, to
    nbclient's ``NotebookClient.process_message``: the same code that executes the book's
    notebooks in ``tools/execute.py``, which fills ``cell.outputs``, mimics the Output widget
    (whose outputs it syncs back to the kernel, as a browser would) and collects the widget
    state. Messages of the exercise probe (no cell's) are left out.
    """

    def __init__(self, nbfile):
        from nbclient import NotebookClient

        kernel = nbfile.kernel
        self.nb = copy.deepcopy(nbfile.nb)
        self.client = NotebookClient(self.nb, record_timing=False)
        self.client.kc = kernel.kc
        self.cell_of_msg: dict[str, int] = {}
        self.next_cell: int | None = None
        self.passed: set[int] = set()
        get_message, execute = kernel.get_message, kernel.execute_cell_input
        msg_id = kernel.kc.kernel_info()
        while True:
            reply = get_message("shell", timeout=60)
            if reply["parent_header"].get("msg_id") == msg_id:
                self.nb.metadata["language_info"] = reply["content"]["language_info"]
                break

        def tee(stream, timeout=None):
            msg = get_message(stream, timeout=timeout)
            if stream == "iopub":
                self.feed(msg)
            return msg

        def execute_cell_input(cell_input, allow_stdin=None):
            if self.next_cell is None:              # the exercise probe's request
                return execute(cell_input, allow_stdin=allow_stdin)
            # nbval's request for the cell. nbval asks for store_history=False, under which
            # IPython ignores a trailing ';' (it looks for it in the history) and shows the
            # value, and In/Out/_ stay empty; Jupyter and the book store history, so do we.
            msg_id = kernel.kc.execute(cell_input, store_history=True, allow_stdin=allow_stdin,
                                       stop_on_error=False)
            self.cell_of_msg[msg_id] = self.next_cell
            self.next_cell = None
            return msg_id

        kernel.get_message = tee
        kernel.execute_cell_input = execute_cell_input

    def start(self, index: int) -> None:
        self.next_cell = index
        self.nb.cells[index].outputs = []
        self.client.clear_before_next_output = False

    def feed(self, msg) -> None:
        from nbclient.exceptions import CellExecutionComplete

        index = self.cell_of_msg.get(msg["parent_header"].get("msg_id"))
        if index is None:
            return
        try:
            self.client.process_message(msg, self.nb.cells[index], index)
        except CellExecutionComplete:
            pass

    def executed_notebook(self):
        """The notebook as nbclient leaves it, or None unless every code cell ran and passed."""
        count = 0
        for index, cell in enumerate(self.nb.cells):
            if cell.cell_type != "code":
                continue
            if index not in self.passed:
                return None
            if cell.source.strip():                  # nbclient skips empty cells
                count += 1
                cell.execution_count = count
                cell.outputs = _merge_adjacent_streams(cell.outputs)
            else:
                cell.execution_count, cell.outputs = None, []
        self.client.set_widgets_metadata()
        return self.nb


def _merge_adjacent_streams(outputs: list) -> list:
    """One output for consecutive text on the same stream, as JupyterLab shows it.

    The kernel flushes a stream every 0.2 s, so where one cell's printed lines are cut into
    messages depends on the machine's load; merged, the page is the same every run.
    """
    merged = []
    for out in outputs:
        last = merged[-1] if merged else None
        if (last is not None and out["output_type"] == last["output_type"] == "stream"
                and out["name"] == last["name"]):
            last["text"] += out["text"]
        else:
            merged.append(out)
    return merged


def _cell_index(item) -> int:
    return next(i for i, c in enumerate(item.parent.nb.cells) if c is item.cell)


_INPUTS_DIGEST: list[str] = []


def _inputs_digest() -> str:
    """The digest of what outputs depend on (course.py), as the notebooks started running."""
    if not _INPUTS_DIGEST:
        import course

        _INPUTS_DIGEST.append(course._digest(course.EXECUTION_INPUTS))
    return _INPUTS_DIGEST[0]


def _write_executed(nbfile, seconds: float, peak: int | None) -> None:
    path = Path(nbfile.path).resolve()
    if not path.is_relative_to(ROOT):
        return
    target = EXECUTED / path.relative_to(ROOT)
    recorder = getattr(nbfile, "course_recorder", None)
    nb = recorder.executed_notebook() if recorder is not None else None
    if nb is None:                     # a cell failed or did not run: no outputs for the book,
        target.unlink(missing_ok=True)     # not even those of an earlier run
        return
    import nbformat

    nb.metadata["course_execution"] = {"executor": "nbval", "inputs": _inputs_digest(),
                                       "seconds": round(seconds, 2), "peak_bytes": peak}
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_name(f".{target.name}.{os.getpid()}")
    nbformat.write(nb, partial)
    partial.replace(target)            # whole files only: the book build may read it any time


@pytest.hookimpl(wrapper=True)
def pytest_runtest_call(item):
    if not _is_notebook_cell(item):
        return (yield)
    nbfile = item.parent
    if getattr(nbfile, "course_recorder", None) is None:
        _inputs_digest()
        nbfile.course_recorder = _Recorder(nbfile)
    index = _cell_index(item)
    nbfile.course_recorder.start(index)
    start = time.perf_counter()
    try:
        result = yield
        if _is_check(item.cell):
            _probe_check(item)
        nbfile.course_recorder.passed.add(index)
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
        _write_executed(nbfile, seconds, peak)
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
