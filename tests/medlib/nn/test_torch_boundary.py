"""The torch boundary: medlib imports without PyTorch except medlib.nn, which says how to install it."""
from __future__ import annotations

import pkgutil
import subprocess
import sys
import textwrap

import medlib

# Packages allowed to import PyTorch (GUIDE.md: the torch boundary is a package boundary); every
# other medlib module must import without it.
TORCH_MODULES = {"nn", "segmentation", "restoration", "trust"}
CORE_MODULES = sorted(m.name for m in pkgutil.iter_modules(medlib.__path__)
                      if not m.name.startswith("_") and m.name not in TORCH_MODULES)


def _run_without_torch(code: str) -> subprocess.CompletedProcess:
    prelude = "import sys\nsys.modules['torch'] = None   # any `import torch` now fails\n"
    return subprocess.run([sys.executable, "-c", prelude + textwrap.dedent(code)],
                          capture_output=True, text=True, timeout=120, check=False)


def test_medlib_core_imports_without_torch():
    result = _run_without_torch(f"""
        import importlib
        for name in {CORE_MODULES!r}:
            importlib.import_module("medlib." + name)
        assert "torch" not in [m for m in sys.modules if sys.modules[m] is not None]
        from medlib import dl, processing
        from medlib.dl import losses, metrics
        import numpy as np
        assert dl.output_size(64, 3, stride=2, padding=1) == 32
        assert losses.focal_loss(np.zeros(2), np.array([0.0, 1.0])) > 0
        assert metrics.dice([1, 0], [1, 0]) == 1.0
        print("ok")
    """)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "ok"


def test_nn_without_torch_says_how_to_install_it():
    result = _run_without_torch("""
        try:
            import medlib.nn
        except ImportError as exc:
            print(exc)
    """)
    assert result.returncode == 0, result.stderr
    assert 'pip install -c constraints.txt -e ".[dl]"' in result.stdout


def test_the_core_is_most_of_medlib():
    assert {"geometry", "processing", "dl", "sampling"} <= set(CORE_MODULES)
    assert "nn" not in CORE_MODULES
