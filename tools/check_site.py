#!/usr/bin/env python3
"""Check the built book the way a reader sees it: in a real browser, offline.

The site is served on 127.0.0.1 only; Chromium (Debian's /usr/bin/chromium, driven by Playwright
for Python) may resolve no other host, and every request to another address is blocked and
reported. For every page it checks:

- the page answers HTTP 200 and logs no JavaScript error (console errors, uncaught exceptions);
- every math element was typeset by MathJax (no raw TeX left, no MathJax error);
- every image loaded (``naturalWidth > 0``) and every figure has alt text;
- every internal link points to an existing file, and every ``#anchor`` to an existing id;
- notebook pages carry Binder, Colab and Live Code launch buttons for that notebook;
- every embedded ipywidget was rendered by the widget manager;

and it writes screenshots of a few representative pages. It exits non-zero on any fault, naming
the page and the fault.

    python tools/check_site.py _build/html --screenshots _build/site-check
    python tools/check_site.py _build/html --page chapters/foundations/geometry.html
"""
from __future__ import annotations

import argparse
import functools
import http.server
import os
import re
import sys
import threading
from dataclasses import dataclass, field
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import unquote, urljoin, urlsplit

CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
    "--disable-default-apps", "--disable-extensions", "--no-default-browser-check",
    # No name resolves except the local server: nothing can leave the machine.
    "--host-resolver-rules=MAP * ~NOTFOUND , EXCLUDE 127.0.0.1",
]
SCREENSHOT_PAGES = 4
LOCAL_HOSTS = {"127.0.0.1"}


@dataclass
class PageInfo:
    """What the static HTML of a page contains."""

    ids: set[str] = field(default_factory=set)
    links: list[str] = field(default_factory=list)


class _Collector(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.info = PageInfo()

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        for key in ("id", "name"):
            if attrs.get(key):
                self.info.ids.add(attrs[key])
        if tag == "a" and attrs.get("href"):
            self.info.links.append(attrs["href"])


@functools.cache
def _page_info(path: Path) -> PageInfo:
    collector = _Collector()
    collector.feed(path.read_text(encoding="utf-8", errors="replace"))
    return collector.info


def site_pages(site: Path) -> list[str]:
    """Every HTML page of the book (not the vendored assets), relative to the site root."""
    skip = ("vendor", "_static", "_sources", "_images")
    return sorted(p.relative_to(site).as_posix() for p in site.rglob("*.html")
                  if p.relative_to(site).parts[0] not in skip)


def check_links(site: Path, page: str) -> list[str]:
    """Faults of the internal links and anchors of one page (a static check, no browser)."""
    faults = []
    base = f"http://site/{page}"
    for href in _page_info(site / page).links:
        parts = urlsplit(href)
        if parts.scheme in ("http", "https", "mailto", "javascript", "data", "tel") or \
                href.startswith("//"):
            continue
        if href == "#":
            continue
        target = urlsplit(urljoin(base, href))
        rel = unquote(target.path).lstrip("/")
        file = site / rel
        if rel == "" or file.is_dir():
            file = file / "index.html"
        if not file.is_file():
            faults.append(f"broken link {href!r}: "
                          f"{file.relative_to(site).as_posix()} does not exist")
            continue
        if target.fragment and file.suffix == ".html":
            anchor = unquote(target.fragment)
            if anchor not in _page_info(file).ids:
                faults.append(f"broken anchor {href!r}: no id {anchor!r} in "
                              f"{file.relative_to(site).as_posix()}")
    return faults


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):  # noqa: D401 - silence the per-request log
        pass


def serve(site: Path):
    """Serve ``site`` on 127.0.0.1 on a free port, in a background thread."""
    handler = functools.partial(_QuietHandler, directory=str(site))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    return server


_MATH_JS = """async () => {
  const maths = [...document.querySelectorAll('div.math, span.math')];
  if (maths.length === 0) return {total: 0};
  const deadline = Date.now() + 8000;
  while (!(window.MathJax && MathJax.startup && MathJax.startup.promise)) {
    if (Date.now() > deadline) return {total: maths.length, loaded: false};
    await new Promise(r => setTimeout(r, 100));
  }
  await MathJax.startup.promise;
  const unrendered = maths.filter(m => !m.querySelector('mjx-container')).length;
  const errors = document.querySelectorAll('mjx-merror, [data-mjx-error]').length;
  return {total: maths.length, loaded: true, unrendered, errors};
}"""

_IMAGES_JS = """async () => {
  const imgs = [...document.images];
  imgs.forEach(img => { img.loading = 'eager'; });
  await Promise.all(imgs.map(img => img.complete ? null :
      new Promise(r => { img.addEventListener('load', r); img.addEventListener('error', r);
                         setTimeout(r, 5000); })));
  return imgs.filter(img => !(img.complete && img.naturalWidth > 0))
             .map(img => img.getAttribute('src'));
}"""

_ALT_JS = """() => [...document.querySelectorAll('.cell_output img')]
  .filter(img => !img.closest('.jupyter-widgets, .widget-subarea'))
  .filter(img => { const alt = (img.getAttribute('alt') || '').trim();
                   return alt === '' || alt === img.getAttribute('src'); })
  .map(img => img.getAttribute('src'))"""

_WIDGETS_JS = """async () => {
  const views = document.querySelectorAll(
      'script[type="application/vnd.jupyter.widget-view+json"]');
  if (views.length === 0) return {views: 0};
  const deadline = Date.now() + 8000;
  const rendered = () => [...views].filter(s => s.previousElementSibling &&
      s.previousElementSibling.classList.contains('widget-subarea') ||
      (s.parentElement &&
       s.parentElement.querySelector('.jupyter-widgets, .widget-subarea'))).length;
  while (rendered() < views.length && Date.now() < deadline) {
    await new Promise(r => setTimeout(r, 200));
  }
  const empty = document.querySelectorAll('.jupyter-widgets-view:empty').length;
  return {views: views.length, rendered: rendered(), manager: typeof window.require === 'function',
          empty};
}"""


def _notebook_faults(site: Path, page: str, hrefs: list[str], has_thebe: bool) -> list[str]:
    stem = page[:-len(".html")]
    if not (site / "_sources" / f"{stem}.ipynb").is_file():
        return []
    faults = []
    nb = f"{stem}.ipynb"
    # The Binder link carries the notebook's path inside an nbgitpuller URL, quoted twice.
    hrefs = [unquote(unquote(h)) for h in hrefs]
    if not any("mybinder.org/v2/gh/" in h and nb in h for h in hrefs):
        faults.append("no Binder launch button for this notebook")
    if not any("colab.research.google.com/github/" in h and nb in h for h in hrefs):
        faults.append("no Colab launch button for this notebook")
    if not has_thebe:
        faults.append("no Live Code (Thebe) button")
    return faults


def check_site(site: Path, pages: list[str] | None = None,
               screenshots: Path | None = None) -> tuple[dict[str, list[str]], list[str]]:
    """Run every check; return (faults per page, blocked requests to other hosts)."""
    from playwright.sync_api import sync_playwright

    site = site.resolve()
    pages = pages or site_pages(site)
    faults: dict[str, list[str]] = {p: check_links(site, p) for p in pages}
    external: list[str] = []
    server = serve(site)
    base = f"http://127.0.0.1:{server.server_address[1]}/"
    shots = set(_screenshot_choice(pages)) if screenshots else set()
    try:
        with sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
            context = browser.new_context(viewport={"width": 1280, "height": 900})
            current = {"page": None}

            def guard(route):
                url = route.request.url
                host = urlsplit(url).hostname
                if url.startswith(("data:", "blob:", "about:")) or host in LOCAL_HOSTS:
                    route.continue_()
                else:
                    external.append(f"{current['page']}: blocked request to {url}")
                    route.abort()

            context.route("**/*", guard)
            for rel in pages:
                current["page"] = rel
                redirect = _redirect_target(site / rel)
                if redirect is not None:             # a meta-refresh page: check its target
                    if not (site / rel).parent.joinpath(redirect).is_file():
                        faults[rel].append(f"redirect to missing {redirect}")
                    continue
                page = context.new_page()
                errors: list[str] = []
                # Failed resources are reported with their URL by the response handler.
                page.on("console", lambda m, e=errors: e.append(m.text) if m.type == "error"
                        and not m.text.startswith("Failed to load resource") else None)
                page.on("pageerror", lambda exc, e=errors: e.append(f"uncaught: {exc}"))
                page.on("response", lambda r, e=errors: e.append(
                    f"HTTP {r.status} for {r.url.split('/', 3)[-1]}") if r.status >= 400
                    else None)
                try:
                    response = page.goto(base + rel, wait_until="load", timeout=60000)
                    if response is None or response.status != 200:
                        faults[rel].append(f"HTTP {response.status if response else 'none'}")
                    math = page.evaluate(_MATH_JS)
                    if math["total"] and not math.get("loaded"):
                        faults[rel].append(f"MathJax did not load; {math['total']} math "
                                           "elements are raw TeX")
                    elif math["total"] and (math["unrendered"] or math["errors"]):
                        faults[rel].append(f"math not rendered: {math['unrendered']} of "
                                           f"{math['total']} elements, {math['errors']} TeX "
                                           "errors")
                    for src in page.evaluate(_IMAGES_JS):
                        faults[rel].append(f"image did not load: {src}")
                    for src in page.evaluate(_ALT_JS):
                        faults[rel].append(f"figure without alt text: {src}")
                    widgets = page.evaluate(_WIDGETS_JS)
                    if widgets["views"] and widgets["rendered"] < widgets["views"]:
                        faults[rel].append(f"widgets not rendered: {widgets['rendered']} of "
                                           f"{widgets['views']}")
                    hrefs = page.eval_on_selector_all("a[href]", "as => as.map(a => a.href)")
                    thebe = page.query_selector(".thebe-launch-button, button.btn-launch-thebe,"
                                                " [onclick*='initThebe']") is not None
                    faults[rel] += _notebook_faults(site, rel, hrefs, thebe)
                    page.wait_for_timeout(300)   # late console errors
                    if rel in shots:
                        screenshots.mkdir(parents=True, exist_ok=True)
                        name = rel.replace("/", "__").replace(".html", ".png")
                        page.screenshot(path=str(screenshots / name), full_page=True)
                except Exception as exc:  # a timeout or crash is a fault of this page
                    faults[rel].append(f"check failed: {type(exc).__name__}: {exc}")
                faults[rel] += [f"JavaScript error: {e}" for e in errors]
                page.close()
            browser.close()
    finally:
        server.shutdown()
        server.server_close()
    return faults, external


def _redirect_target(path: Path) -> str | None:
    """The target of a ``<meta http-equiv="refresh">`` page, or None."""
    text = path.read_text(encoding="utf-8", errors="replace")[:2000]
    match = re.search(r'http-equiv="refresh"\s+content="\d+;\s*url=([^"]+)"', text, re.I)
    return match.group(1) if match else None


def _screenshot_choice(pages: list[str]) -> list[str]:
    """The landing page, the first page of a few chapters, and the formula reference."""
    chosen = [p for p in pages if p in ("intro.html", "chapters/appendix/formulas.html")]
    seen = set()
    for p in pages:
        parts = p.split("/")
        if len(parts) == 3 and parts[0] == "chapters" and parts[2] != "index.html" \
                and parts[1] not in seen and len(seen) < SCREENSHOT_PAGES:
            seen.add(parts[1])
            chosen.append(p)
    return chosen


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("site", type=Path, help="the built site, e.g. _build/html")
    parser.add_argument("--page", action="append", help="check only this page (repeatable)")
    parser.add_argument("--screenshots", type=Path, help="folder for screenshots")
    args = parser.parse_args(argv)
    if not (args.site / "index.html").is_file():
        print(f"no site at {args.site} (build it with `python3 course.py book`)")
        return 2
    faults, external = check_site(args.site, args.page, args.screenshots)
    bad = {p: f for p, f in faults.items() if f}
    for page, problems in bad.items():
        for problem in problems:
            print(f"FAIL {page}: {problem}")
    for line in external:
        print(f"FAIL {line}")
    n_faults = sum(map(len, bad.values())) + len(external)
    print(f"site check: {len(faults)} pages, {n_faults} faults, "
          f"{len(external)} requests to other hosts blocked")
    return 1 if n_faults else 0


if __name__ == "__main__":
    sys.exit(main())
