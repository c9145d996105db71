"""The data manifest, its files, and medlib.data's checks."""
from __future__ import annotations

import hashlib
import os
import re
import shutil
from pathlib import Path

import course_map
import derive
import pytest

from medlib import data

ROOT = Path(__file__).resolve().parents[2]
NOT_DATA = {"manifest.toml", "derive.py", "README.md"}


def test_every_manifest_file_is_present_and_matches_its_hash():
    verified = data.verify_all()
    assert verified
    for name, path in verified.items():
        entry = next(e for e in data.manifest() if e["name"] == name)
        assert hashlib.sha256(path.read_bytes()).hexdigest() == entry["sha256"]


def test_every_manifest_entry_has_provenance():
    for entry in data.manifest():
        assert re.fullmatch(r"[0-9a-f]{64}", entry["sha256"]), entry["name"]
        for key in ("shows", "source", "licence", "derivation"):
            assert entry.get(key, "").strip(), f"{entry['name']} has no {key}"
        for nb in entry["used_in"]:
            assert (ROOT / nb).is_file(), f"{entry['name']} is used_in missing {nb}"
        assert len(set(entry["used_in"])) == len(entry["used_in"]), (
            f"{entry['name']} lists a notebook twice in used_in")
        for lic in re.findall(r"licenses/[\w.-]+", entry["licence"]):
            assert (ROOT / "data" / lic).is_file(), f"{entry['name']} names missing {lic}"


def test_every_file_in_data_is_in_the_manifest():
    names = {e["name"] for e in data.manifest()}
    files = {p.relative_to(ROOT / "data").as_posix() for p in (ROOT / "data").rglob("*")
             if p.is_file() and "__pycache__" not in p.parts}
    files = {f for f in files if f not in NOT_DATA and not f.startswith("licenses/")}
    assert files == names


def test_the_derivation_script_knows_every_file():
    assert set(derive.SOURCES) == {e["name"] for e in data.manifest()}


def test_unknown_name_suggests_close_matches():
    with pytest.raises(ValueError, match="did you mean 'dicom/ct_head_693.dcm'"):
        data.path("dicom/ct_head_639.dcm")
    with pytest.raises(TypeError, match="name"):
        data.path(42)


@pytest.fixture
def data_copy(tmp_path, monkeypatch):
    copy = tmp_path / "data"
    shutil.copytree(ROOT / "data", copy)
    monkeypatch.setenv("MEDLIB_DATA", str(copy))
    return copy


def test_a_corrupt_file_is_refused(data_copy):
    target = data_copy / "dicom" / "ct_head_693.dcm"
    raw = bytearray(target.read_bytes())
    raw[-1] ^= 0xFF
    target.write_bytes(bytes(raw))
    with pytest.raises(data.DataFileError, match="corrupt"):
        data.path("dicom/ct_head_693.dcm")


def test_a_file_corrupted_after_a_first_check_is_refused_the_next_time(data_copy):
    # The same size and modification time as the checked file: a cache keyed on them would miss
    # the change (issue 11: the check is repeated on every call).
    target = data_copy / "dicom" / "ct_head_693.dcm"
    assert data.path("dicom/ct_head_693.dcm") == target
    stat = target.stat()
    raw = bytearray(target.read_bytes())
    raw[len(raw) // 2] ^= 0xFF
    target.write_bytes(bytes(raw))
    os.utime(target, ns=(stat.st_atime_ns, stat.st_mtime_ns))
    assert target.stat().st_size == stat.st_size and target.stat().st_mtime_ns == stat.st_mtime_ns
    with pytest.raises(data.DataFileError, match="corrupt"):
        data.path("dicom/ct_head_693.dcm")


def test_a_missing_file_is_refused(data_copy):
    (data_copy / "nifti" / "mni152_t1_1mm.nii.gz").unlink()
    with pytest.raises(data.DataFileError, match="missing"):
        data.path("nifti/mni152_t1_1mm.nii.gz")


def test_a_folder_without_manifest_is_refused(tmp_path, monkeypatch):
    monkeypatch.setenv("MEDLIB_DATA", str(tmp_path))
    with pytest.raises(data.DataFileError, match="manifest"):
        data.path("dicom/ct_head_693.dcm")


def test_notebooks_use_only_manifest_files_and_are_listed_in_used_in():
    entries = {e["name"]: e for e in data.manifest()}
    for nb in course_map.notebooks():
        rel = nb.relative_to(ROOT).as_posix()
        for name in set(re.findall(r'data\.path\(\\?"([^"\\]+)', nb.read_text())):
            assert name in entries, f"{rel} reads {name}, which is not in the manifest"
            assert rel in entries[name]["used_in"], f"add {rel} to used_in of {name}"
