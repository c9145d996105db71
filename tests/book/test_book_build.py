"""The book's local Sphinx extension (_ext/course_sphinx.py)."""
from __future__ import annotations

import asyncio
import time
import tomllib
from pathlib import Path
from queue import Empty

import course_sphinx as ext
import pytest

ROOT = Path(__file__).resolve().parents[2]


class FakeChannel:
    """A channel whose message is only noticed when a poll ends, like the missed zmq wake-up."""

    def __init__(self, ready_at: float | None):
        self.ready_at = ready_at
        self.polls = []

    async def get_msg(self, timeout=None):
        self.polls.append(timeout)
        await asyncio.sleep(timeout)
        if self.ready_at is not None and time.monotonic() >= self.ready_at:
            return {"msg": "reply"}
        raise Empty


def test_sliced_polling_notices_a_message_within_a_slice():
    channel = FakeChannel(ready_at=time.monotonic() + 0.3)
    get_msg = ext.sliced_get_msg(FakeChannel.get_msg)
    start = time.monotonic()
    reply = asyncio.run(get_msg(channel, timeout=60))
    assert reply == {"msg": "reply"}
    assert time.monotonic() - start < 0.3 + ext.POLL_SLICE + 0.2     # not the full 60 s
    assert all(t <= ext.POLL_SLICE for t in channel.polls)


def test_sliced_polling_still_times_out():
    channel = FakeChannel(ready_at=None)
    get_msg = ext.sliced_get_msg(FakeChannel.get_msg)
    start = time.monotonic()
    with pytest.raises(Empty):
        asyncio.run(get_msg(channel, timeout=0.6))
    assert 0.55 < time.monotonic() - start < 1.0


def test_the_patch_is_applied_once():
    from jupyter_client.channels import AsyncZMQSocketChannel

    before = AsyncZMQSocketChannel.get_msg
    try:
        ext._patch_shell_polling()
        patched = AsyncZMQSocketChannel.get_msg
        ext._patch_shell_polling()
        assert AsyncZMQSocketChannel.get_msg is patched and patched.course_sliced
    finally:
        AsyncZMQSocketChannel.get_msg = before


def test_vendored_packages_are_pinned_by_version_and_sha256():
    pins = tomllib.loads((ROOT / "_ext" / "vendor.toml").read_text())["package"]
    assert {p["spec"].rsplit("@", 1)[0] for p in pins} == {
        "mathjax", "@jupyter-widgets/html-manager", "requirejs"}
    for pin in pins:
        assert "@" in pin["spec"][1:] and len(pin["sha256"]) == 64


def test_a_tampered_tarball_is_refused(tmp_path, monkeypatch):
    fake = tmp_path / "pkg.tgz"
    fake.write_bytes(b"not the real package")
    monkeypatch.setattr(ext, "CACHE", tmp_path)
    (tmp_path / (__import__("hashlib").sha1(b"pkg@1.0").hexdigest()[:12] + ".json")).write_text(
        '{"spec": "pkg@1.0", "file": "pkg.tgz"}')
    monkeypatch.setattr(ext.shutil, "which", lambda name: None)    # no npm: cannot re-fetch
    with pytest.raises(ext.ExtensionError, match="npm is needed"):
        ext._fetch("pkg@1.0", "0" * 64)
