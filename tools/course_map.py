"""The course's map: which notebooks the book has, and which code and tests each one owns.

Every repository tool and book test that needs "the course's notebooks" asks this module, which
reads them from ``_toc.yml`` (the book's own list), so a JupyterLab checkpoint copy, a scratch
notebook or a student copy is never mistaken for a chapter.

The layout rule (GUIDE.md): a section notebook ``chapters/<chapter>/<section>.ipynb`` runs the code
of one ``medlib`` module and is tested by one test module::

    chapters/ct/fbp.ipynb            medlib/ct/fbp.py          tests/medlib/ct/test_fbp.py
    chapters/ct/hu-windowing.ipynb   medlib/ct/hu_windowing.py tests/medlib/ct/test_hu_windowing.py
    chapters/foundations/noise.ipynb medlib/noise.py           tests/medlib/test_noise.py

A chapter folder maps to a ``medlib`` subpackage through :data:`CHAPTER_PACKAGES` (the
foundations, used by every chapter, are top-level modules); a section's module is its file name
with hyphens as underscores.
"""
from __future__ import annotations

from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

#: chapter folder -> medlib subpackage ("" for top-level modules of the package itself).
CHAPTER_PACKAGES = {
    "foundations": "",
    "ct": "ct",
    "mri": "mri",
    "ultrasound": "ultrasound",
    "pet-spect": "pet",
    "xray": "xray",
    "image-processing": "processing",
    "dl-formulas": "dl",
    "image-quality": "quality",
    # Part II: three chapters, one package (section names are unique across them).
    "prep-ct-xray": "prep",
    "prep-mri": "prep",
    "prep-common": "prep",
    # Part III (PyTorch)
    "segmentation": "segmentation",
    "restoration": "restoration",
    # Part IV (PyTorch)
    "trustworthy": "trust",
}


def toc_entries(root: Path = ROOT) -> list[str]:
    """Every document of ``_toc.yml`` in book order, as paths without suffix (``chapters/ct/fbp``).

    Raises
    ------
    FileNotFoundError
        If ``root`` has no ``_toc.yml``.
    """
    import yaml

    entries: list[str] = []

    def visit(node) -> None:
        if isinstance(node, dict):
            for key in ("root", "file"):
                if key in node:
                    entries.append(str(node[key]))
            for key in ("parts", "chapters", "sections"):
                visit(node.get(key, []))
        elif isinstance(node, list):
            for item in node:
                visit(item)

    visit(yaml.safe_load((root / "_toc.yml").read_text(encoding="utf-8")))
    return entries


def notebooks(root: Path = ROOT) -> list[Path]:
    """The course's notebooks, as listed in ``_toc.yml``, in book order (absolute paths)."""
    return [root / f"{e}.ipynb" for e in toc_entries(root) if (root / f"{e}.ipynb").is_file()]


def module_for(notebook: Path, root: Path = ROOT) -> str | None:
    """The dotted name of the ``medlib`` module a section notebook owns, or None when its chapter
    has no package in :data:`CHAPTER_PACKAGES` (yet)."""
    rel = Path(notebook).resolve().relative_to(root.resolve())
    chapter, section = rel.parts[-2], rel.stem.replace("-", "_")
    if chapter not in CHAPTER_PACKAGES:
        return None
    package = CHAPTER_PACKAGES[chapter]
    return ".".join(p for p in ("medlib", package, section) if p)


def medlib_modules(root: Path = ROOT) -> list[str]:
    """Every module and package of ``medlib`` by its dotted name, read from the file tree (nothing
    is imported, so this is safe to call where PyTorch must not be imported)."""
    names = []
    for path in sorted((root / "medlib").rglob("*.py")):
        parts = path.relative_to(root).with_suffix("").parts
        if parts[-1] == "__init__":
            parts = parts[:-1]
        if "__pycache__" not in parts:
            names.append(".".join(parts))
    return names


def module_path(module: str, root: Path = ROOT) -> Path:
    """The source file of a dotted ``medlib`` module name."""
    return root.joinpath(*module.split(".")).with_suffix(".py")


def test_path(module: str, root: Path = ROOT) -> Path:
    """The test module of a dotted ``medlib`` module name (``tests/medlib/ct/test_fbp.py``)."""
    *package, name = module.split(".")
    return root.joinpath("tests", *package, f"test_{name}.py")


#: medlib modules that no single section notebook owns, and why (every other public module must be
#: the module of a section notebook).
SHARED_MODULES = {
    "medlib.data": "the course's data files, used by every chapter",
    "medlib.notebook": "display helpers for the notebooks",
    "medlib.plotting": "the course's figure style",
    "medlib.phantoms": "test objects with a known truth, used by several chapters",
}

#: Packages on the far side of the torch boundary: they, and only they, may import PyTorch.
TORCH_PACKAGES = ("medlib.nn", "medlib.segmentation", "medlib.restoration", "medlib.trust")
