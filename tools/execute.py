"""Execute the book's notebooks in parallel, into the cache the book build reads.

Jupyter Book 1.x (myst-nb, ``execute_notebooks: cache``) executes a notebook while it reads the
page, one page after another. This script runs first (``python course.py book`` calls it): it
executes every notebook of ``_toc.yml`` that has no cached outputs yet, several at a time (one
kernel per core), and stores each executed notebook in ``_build/.jupyter_cache``, where myst-nb
finds it by the hash of its cells and renders it without executing it again. Widget state and
language info are stored as nbclient records them, so embedded widgets render as before.

A notebook that nbval has already executed is not executed again: ``python course.py test``
(conftest.py) leaves each notebook whose every cell passed in ``_build/executed/``, with the
digest of what outputs depend on (medlib, data, constraints.txt) when it ran. Given the current
digest (``--inputs``, which ``course.py book`` passes), this script stores each such notebook in
the cache if its digest is the current one and its cells are those of the notebook in
``chapters/`` (jupyter-cache's hash), and executes only the others.

It prints the time and the kernel's peak memory (VmHWM) of each notebook it ran and writes them
to ``_build/execution.json``, which also orders the next run (slowest first).

    python tools/execute.py            # execute what is not cached, on every core
    python tools/execute.py -j 1       # one at a time
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import time
from concurrent.futures import ProcessPoolExecutor, as_completed
from pathlib import Path

import course_map

ROOT = Path(__file__).resolve().parent.parent
CACHE = ROOT / "_build" / ".jupyter_cache"
RECORD = ROOT / "_build" / "execution.json"
EXECUTED = ROOT / "_build" / "executed"       # written by conftest.py while nbval runs
CELL_TIMEOUT = 120   # seconds, as in _config.yml


def _vmhwm(pid: int) -> int:
    """Peak resident memory of a process in bytes (0 where /proc is not available)."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024
    except OSError:
        pass
    return 0


def execute_one(path: str, timeout: int = CELL_TIMEOUT) -> dict:
    """Execute one notebook in its own folder; return it (as JSON text) with time and memory."""
    import nbformat
    from nbclient import NotebookClient
    from nbclient.exceptions import CellExecutionError

    sys.path.insert(0, str(ROOT / "_ext"))
    from course_sphinx import _patch_shell_polling

    _patch_shell_polling()       # the missed-wake-up fix the book build applies (see _ext)
    nb = nbformat.read(path, as_version=4)
    client = NotebookClient(nb, timeout=timeout, kernel_name="python3", allow_errors=False,
                            record_timing=False,
                            extra_arguments=["--IPKernelApp.log_level=ERROR"],
                            resources={"metadata": {"path": str(Path(path).parent)}})
    peak = 0

    def record_peak(**_):
        nonlocal peak
        process = getattr(client.km.provisioner, "process", None)
        if process is not None:
            peak = max(peak, _vmhwm(process.pid))

    client.on_cell_executed = record_peak
    start = time.perf_counter()
    error = None
    try:
        client.execute()
    except CellExecutionError as exc:
        error = str(exc)
    except Exception as exc:          # a kernel that died, a timeout: report, do not hang
        error = f"{type(exc).__name__}: {exc}"
    return {"path": path, "seconds": time.perf_counter() - start, "peak_bytes": peak,
            "error": error, "notebook": nbformat.writes(nb)}


def cache_nbval_outputs(cache, paths: list[Path], inputs: str, executed: Path = EXECUTED,
                        root: Path = ROOT) -> tuple[list[Path], list[dict]]:
    """Store in ``cache`` the notebooks nbval executed from these cells with these inputs.

    Returns the notebooks still to execute and a record (time, memory) of each one stored.
    """
    import nbformat
    from jupyter_cache.base import CacheBundleIn

    todo, records = [], []
    for path in paths:
        rel = path.relative_to(root)
        candidate = executed / rel
        try:
            nb = nbformat.read(candidate, as_version=4)
        except (OSError, ValueError):
            todo.append(path)
            continue
        run = nb.metadata.pop("course_execution", {})
        source = nbformat.read(path, as_version=4)
        same_cells = (cache.create_hashed_notebook(nb)[1]
                      == cache.create_hashed_notebook(source)[1])
        if run.get("executor") != "nbval" or run.get("inputs") != inputs or not same_cells:
            todo.append(path)
            continue
        cache.cache_notebook_bundle(
            CacheBundleIn(nb, str(path), data={"execution_seconds": run.get("seconds")}),
            check_validity=False, overwrite=True)
        records.append({"notebook": rel.as_posix(), "seconds": run.get("seconds") or 0.0,
                        "peak_bytes": run.get("peak_bytes") or 0, "executor": "nbval"})
    return todo, records


def _previous_seconds() -> dict[str, float]:
    try:
        return {r["notebook"]: r["seconds"] for r in json.loads(RECORD.read_text())}
    except (OSError, ValueError, KeyError, TypeError):
        return {}


def _write_record(before: dict[str, float], records: list[dict]) -> None:
    RECORD.parent.mkdir(parents=True, exist_ok=True)
    merged = {**{k: {"notebook": k, "seconds": v, "peak_bytes": 0} for k, v in before.items()},
              **{r["notebook"]: r for r in records}}
    RECORD.write_text(json.dumps(sorted(merged.values(), key=lambda r: r["notebook"]), indent=1))


def uncached_notebooks(cache=None) -> list[Path]:
    """The book's notebooks whose current cells have no executed outputs in ``cache`` (the
    book's jupyter-cache, opened here when None), in book order."""
    import nbformat
    from jupyter_cache import get_cache

    cache = get_cache(CACHE) if cache is None else cache
    missing = []
    for path in course_map.notebooks(ROOT):
        try:
            cache.match_cache_notebook(nbformat.read(path, as_version=4))
        except KeyError:
            missing.append(path)
    return missing


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python tools/execute.py",
                                     description=__doc__.split("\n\n")[0])
    parser.add_argument("-j", "--jobs", type=int, default=os.cpu_count() or 1,
                        help="notebooks executed at once (default: the number of cores)")
    parser.add_argument("--inputs", metavar="DIGEST",
                        help="the digest of medlib, data and constraints.txt (course.py's): "
                             "reuse the notebooks nbval executed with these inputs")
    args = parser.parse_args(argv)
    if args.jobs < 1:
        parser.error("--jobs must be at least 1")

    import nbformat
    from jupyter_cache import get_cache
    from jupyter_cache.base import CacheBundleIn

    cache = get_cache(CACHE)
    todo = uncached_notebooks(cache)
    before = _previous_seconds()
    reused = []
    if todo and args.inputs:
        todo, reused = cache_nbval_outputs(cache, todo, args.inputs)
        if reused:
            print(f"cached the outputs of {len(reused)} notebooks that nbval executed "
                  "(python course.py test); not executing them again", flush=True)
            _write_record(before, reused)
    if not todo:
        print("every notebook's outputs are cached")
        return 0
    before = _previous_seconds()
    rel = {str(p): p.relative_to(ROOT).as_posix() for p in todo}
    todo.sort(key=lambda p: -before.get(rel[str(p)], 60.0))      # slowest first
    print(f"executing {len(todo)} notebooks, {args.jobs} at a time", flush=True)
    start = time.perf_counter()
    records, failed = [], []
    with ProcessPoolExecutor(max_workers=args.jobs) as pool:
        futures = [pool.submit(execute_one, str(p)) for p in todo]
        for n, future in enumerate(as_completed(futures), start=1):
            r = future.result()
            name = rel[r["path"]]
            status = "FAILED" if r["error"] else "ok"
            print(f"[{n}/{len(todo)}] {name}: {r['seconds']:.1f} s, "
                  f"{r['peak_bytes'] / 2**20:.0f} MB {status}", flush=True)
            if r["error"]:
                failed.append((name, r["error"]))
                continue
            nb = nbformat.reads(r["notebook"], as_version=4)
            cache.cache_notebook_bundle(
                CacheBundleIn(nb, r["path"], data={"execution_seconds": r["seconds"]}),
                check_validity=False, overwrite=True)
            records.append({"notebook": name, "seconds": round(r["seconds"], 2),
                            "peak_bytes": r["peak_bytes"]})
    _write_record(before, records)
    print(f"executed {len(records)} notebooks in {time.perf_counter() - start:.0f} s "
          f"({sum(r['seconds'] for r in records):.0f} s of kernel time)")
    for name, error in failed:
        print(f"\n{name} failed:\n{error[-3000:]}", file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
