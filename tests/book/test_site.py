"""The rendered book, checked in a real browser (tools/check_site.py).

The static checks run everywhere. The browser checks need the built site and Debian's Chromium;
they use the `site` fixture, which marks them `site` (conftest.py), and `python3 course.py test`
runs them last, after it has built the book from nbval's outputs. Without a site or Chromium they
are skipped on a developer machine and fail in CI (.ci/run installs Chromium and sets CI). The
breakage tests prove that each
kind of fault (a broken link or anchor, missing MathJax, a missing image, a JavaScript error, a
request to another host, an unrendered widget) makes the check fail.
"""
from __future__ import annotations

import importlib.util
import os
import re
import shutil
from pathlib import Path

import check_site
import pytest

ROOT = Path(__file__).resolve().parents[2]
SITE = ROOT / "_build" / "html"
SHOTS = ROOT / "_build" / "site-check"


@pytest.fixture(scope="module")
def site():
    missing = []
    if not (SITE / "index.html").is_file():
        missing.append("no built site in _build/html (run `python3 course.py book`)")
    if not Path(check_site.CHROMIUM).exists():
        missing.append(f"no Chromium at {check_site.CHROMIUM} (apt-get install chromium)")
    if importlib.util.find_spec("playwright") is None:
        missing.append("playwright is not installed")
    if missing:
        message = "; ".join(missing)
        if os.environ.get("CI"):
            pytest.fail(f"the browser check must run in CI: {message}")
        pytest.skip(message)
    return SITE


# --- static checks: no browser needed ----------------------------------------------------------

def _write(root: Path, rel: str, html: str) -> None:
    path = root / rel
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(f"<html><body>{html}</body></html>")


def test_link_check_accepts_good_links_and_reports_broken_ones(tmp_path):
    _write(tmp_path, "index.html", '<a href="a/b.html#sec">ok</a> <a href="#top">self</a>'
                                   '<span id="top"></span> <a href="https://example.org">ext</a>')
    _write(tmp_path, "a/b.html", '<h1 id="sec">x</h1> <a href="../index.html">up</a>'
                                 ' <a href="c.html">missing</a>'
                                 ' <a href="../index.html#nope">bad</a>')
    assert check_site.check_links(tmp_path, "index.html") == []
    faults = check_site.check_links(tmp_path, "a/b.html")
    assert len(faults) == 2
    assert any("broken link" in f and "c.html" in f for f in faults)
    assert any("broken anchor" in f and "nope" in f for f in faults)


def test_redirect_pages_are_recognised(tmp_path):
    page = tmp_path / "index.html"
    page.write_text('<meta http-equiv="Refresh" content="0; url=intro.html" />')
    assert check_site._redirect_target(page) == "intro.html"


def test_site_pages_skip_vendored_assets(tmp_path):
    _write(tmp_path, "index.html", "")
    _write(tmp_path, "vendor/mathjax/x.html", "")
    _write(tmp_path, "chapters/a.html", "")
    assert check_site.site_pages(tmp_path) == ["chapters/a.html", "index.html"]


# --- the real book in the browser --------------------------------------------------------------

def test_the_whole_book_passes_the_browser_check(site):
    faults, external = check_site.check_site(site, screenshots=SHOTS)
    bad = {page: problems for page, problems in faults.items() if problems}
    assert bad == {}, "\n".join(f"{p}: {x}" for p, xs in bad.items() for x in xs)
    assert external == [], "requests left 127.0.0.1"
    assert len(faults) >= 5
    assert list(SHOTS.glob("*.png")), "no screenshots written"


NOTEBOOK_PAGE = "chapters/foundations/sampling.html"   # math, images, a widget, launch buttons


@pytest.fixture
def copy_of_site(site, tmp_path):
    target = tmp_path / "html"
    shutil.copytree(site, target)
    return target


def _faults(site_dir: Path, page: str = NOTEBOOK_PAGE) -> tuple[list[str], list[str]]:
    faults, external = check_site.check_site(site_dir, pages=[page])
    return faults[page], external


def test_the_unbroken_notebook_page_passes(copy_of_site):
    faults, external = _faults(copy_of_site)
    assert faults == [] and external == []


def _edit(site_dir: Path, edit) -> None:
    page = site_dir / NOTEBOOK_PAGE
    page.write_text(edit(page.read_text()))


def test_a_broken_link_fails(copy_of_site):
    # Point the first link to another page of the book at a page that does not exist.
    _edit(copy_of_site, lambda h: re.sub(r'(<a [^>]*href=")(?!https?:|#)[^"#]+\.html',
                                         r"\1no-such-page.html", h, count=1))
    faults, _ = _faults(copy_of_site)
    assert any("broken link" in f and "no-such-page.html" in f for f in faults)


def test_a_broken_anchor_fails(copy_of_site):
    _edit(copy_of_site, lambda h: h.replace('href="#', 'href="#no-such-anchor-', 1))
    faults, _ = _faults(copy_of_site)
    assert any("broken anchor" in f for f in faults)


def test_removing_mathjax_fails(copy_of_site):
    shutil.rmtree(copy_of_site / "vendor" / "mathjax")
    faults, _ = _faults(copy_of_site)
    assert any("MathJax did not load" in f for f in faults)


def test_a_missing_image_fails(copy_of_site):
    html = (copy_of_site / NOTEBOOK_PAGE).read_text()
    image = re.search(r'<img[^>]+src="\.\./\.\./(_images/[^"]+)"', html).group(1)
    (copy_of_site / image).unlink()
    faults, _ = _faults(copy_of_site)
    assert any("image did not load" in f and Path(image).name in f for f in faults)


def test_a_javascript_error_fails(copy_of_site):
    _edit(copy_of_site, lambda h: h.replace("</body>",
                                            "<script>throw new Error('boom')</script></body>"))
    faults, _ = _faults(copy_of_site)
    assert any("boom" in f for f in faults)


def test_a_request_to_another_host_is_blocked_and_reported(copy_of_site):
    _edit(copy_of_site, lambda h: h.replace(
        "</body>", '<img src="https://example.com/tracker.png" alt="x"></body>'))
    faults, external = _faults(copy_of_site)
    assert any("example.com" in line for line in external)


def test_unrendered_widgets_fail(copy_of_site):
    shutil.rmtree(copy_of_site / "vendor" / "npm")
    faults, _ = _faults(copy_of_site)
    assert any("widgets not rendered" in f for f in faults)


def test_a_notebook_page_without_launch_buttons_fails(copy_of_site):
    _edit(copy_of_site, lambda h: h.replace("mybinder.org", "example.invalid"))
    faults, _ = _faults(copy_of_site)
    assert any("Binder" in f for f in faults)
