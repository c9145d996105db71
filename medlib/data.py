"""The course's real data files, each checked against the sha256 in ``data/manifest.toml``.

Nothing is downloaded at run time: the files ship in the repository's ``data/`` folder, with
their source, licence and derivation in the manifest. A missing or corrupt file (a partial copy, a
Git LFS pointer, an edited file) fails loudly here rather than producing a wrong figure later.

    >>> from medlib import data
    >>> import pydicom
    >>> ds = pydicom.dcmread(data.path("dicom/ct_head_693.dcm"))   # doctest: +SKIP

The folder is ``data/`` next to the ``medlib`` package, or the one named by the environment
variable ``MEDLIB_DATA``.
"""
from __future__ import annotations

import difflib
import functools
import hashlib
import os
import tomllib
from pathlib import Path

__all__ = ["DataFileError", "data_dir", "manifest", "path", "verify_all"]


class DataFileError(RuntimeError):
    """A data file is missing or does not match its recorded sha256."""


def data_dir() -> Path:
    """The folder holding ``manifest.toml`` and the data files.

    Returns
    -------
    pathlib.Path
        ``$MEDLIB_DATA`` if set, else ``data/`` beside the ``medlib`` package.

    Raises
    ------
    DataFileError
        If the folder has no ``manifest.toml``.
    """
    env = os.environ.get("MEDLIB_DATA")
    folder = Path(env) if env else Path(__file__).resolve().parent.parent / "data"
    if not (folder / "manifest.toml").is_file():
        raise DataFileError(
            f"no data manifest at {folder / 'manifest.toml'}: run from a clone of the course "
            "repository (pip install -e .) or set MEDLIB_DATA to its data/ folder"
        )
    return folder


@functools.cache
def _manifest(folder: Path) -> dict[str, dict]:
    entries = tomllib.loads((folder / "manifest.toml").read_text(encoding="utf-8"))["file"]
    return {e["name"]: e for e in entries}


def manifest() -> list[dict]:
    """Every entry of the manifest: name, sha256, what it shows, source, licence, derivation.

    Returns
    -------
    list of dict
        Copies of the entries, in manifest order.
    """
    return [dict(e) for e in _manifest(data_dir()).values()]


def _sha256(file: Path) -> str:
    with open(file, "rb") as fh:
        return hashlib.file_digest(fh, "sha256").hexdigest()


def path(name: str) -> Path:
    """Path of a data file after checking it against its recorded sha256.

    The file is hashed on every call, not once per session: a file changed after a first check
    (even with its size and modification time restored) is refused the next time it is asked for.

    Parameters
    ----------
    name : str
        The file's name in the manifest, e.g. ``"dicom/ct_head_693.dcm"``.

    Returns
    -------
    pathlib.Path
        Absolute path of the verified file.

    Raises
    ------
    TypeError
        If ``name`` is not a string.
    ValueError
        If ``name`` is not in the manifest (close matches are suggested).
    DataFileError
        If the file is missing or its sha256 differs from the manifest.
    """
    if not isinstance(name, str):
        raise TypeError(f"name must be a string, got {type(name).__name__}")
    folder = data_dir()
    entries = _manifest(folder)
    if name not in entries:
        close = difflib.get_close_matches(name, entries, n=3)
        hint = f"; did you mean {', '.join(map(repr, close))}?" if close else ""
        raise ValueError(f"name {name!r} is not in data/manifest.toml{hint}")
    file = folder / name
    if not file.is_file():
        raise DataFileError(f"data file {name} is missing from {folder}; restore it with "
                            "`git checkout -- data` or rebuild it with `python data/derive.py`")
    digest = _sha256(file)          # on every call: the files are small (a few MB at most)
    if digest != entries[name]["sha256"]:
        raise DataFileError(
            f"data file {name} is corrupt: sha256 {digest[:12]}... differs from the manifest's "
            f"{entries[name]['sha256'][:12]}...; restore it with `git checkout -- data`"
        )
    return file


def verify_all() -> dict[str, Path]:
    """Check every file of the manifest.

    Returns
    -------
    dict
        Name -> verified path.

    Raises
    ------
    DataFileError
        At the first missing or corrupt file.
    """
    return {name: path(name) for name in _manifest(data_dir())}
