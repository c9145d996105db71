"""Import the repository's scripts (course.py, tools/, data/derive.py, _ext/) in tests."""
from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def load_script(relpath: str):
    """Import ``ROOT/relpath`` as a module named after its file, registered in ``sys.modules``
    (dataclasses look their module up while the file executes)."""
    path = ROOT / relpath
    name = path.stem.replace("-", "_")
    if name in sys.modules and getattr(sys.modules[name], "__file__", None) == str(path):
        return sys.modules[name]
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module
