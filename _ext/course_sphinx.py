"""Local Sphinx extension of the course book.

1. Offline pages. MathJax, RequireJS and the ipywidgets embed manager are served by the site
   itself (``vendor/``) instead of CDNs. The packages and their sha256 are pinned in
   ``_ext/vendor.toml``; each is fetched once with ``npm pack`` into ``.vendor-cache/``, verified,
   and its listed parts copied into ``_build/site-extra/vendor``; ``_build/site-extra`` becomes an
   ``html_extra_path``, so the site gets ``vendor/``.
   The widget manager loads its fonts from ``<cdn>@jupyter-widgets/html-manager/dist/``: the
   vendored copy is laid out like a CDN (``vendor/npm/...``) and each page's script tag gets a
   ``data-jupyter-widgets-cdn`` pointing there, relative to the page.
2. Thebe fix. Jupyter Book 1.0.4 with Thebe enabled adds sphinx-thebe's configuration script to
   every page twice; the second copy redeclares a ``const`` and throws a JavaScript SyntaxError.
   The duplicate is dropped.
3. ``_static/mathjax2-shim.js`` gives MathJax 3 the ``MathJax.Hub.Queue`` that ipywidgets still
   calls to typeset widget labels.
4. Notebook execution stalls. The book executes notebooks with nbclient in this process. Its
   wait for a cell's reply is one ``zmq.asyncio`` poll on the shell socket, which sometimes misses
   the socket's edge-triggered wake-up while widget messages arrive on IOPub (nbclient issue
   #312, nbconvert #2029, pyzmq #2173): the reply is then only noticed when the poll times out,
   and the cell "takes" the full 120 s timeout. Seen here in about one run in six of a widget
   notebook. The wait is split into 0.25 s polls, so a missed wake-up costs at most that.
"""
from __future__ import annotations

import hashlib
import json
import re
import shutil
import subprocess
import sys
import tarfile
import tomllib
from pathlib import Path
from urllib.parse import quote, urlencode

from sphinx.errors import ExtensionError

POLL_SLICE = 0.25   # seconds

HERE = Path(__file__).resolve().parent
BOOK = HERE.parent
CACHE = BOOK / ".vendor-cache"
MATHJAX = "../vendor/mathjax/tex-mml-chtml.js"      # relative paths are joined to _static/
WIDGET_MANAGER = "../vendor/npm/@jupyter-widgets/html-manager/dist/embed-amd.js"
WIDGET_SCRIPTS = {"../vendor/require/require.js": {}, WIDGET_MANAGER: {}}


def _sha256(path: Path) -> str:
    with open(path, "rb") as fh:
        return hashlib.file_digest(fh, "sha256").hexdigest()


def _fetch(spec: str, sha256: str) -> Path:
    """The verified npm tarball of ``spec``, from the cache or ``npm pack``."""
    CACHE.mkdir(exist_ok=True)
    record = CACHE / (hashlib.sha1(spec.encode()).hexdigest()[:12] + ".json")
    if record.is_file():
        tarball = CACHE / json.loads(record.read_text())["file"]
        if tarball.is_file() and _sha256(tarball) == sha256:
            return tarball
    npm = shutil.which("npm")
    if npm is None:
        raise ExtensionError(f"npm is needed once to fetch {spec} for the offline book "
                             "(install Node.js/npm, or copy a filled .vendor-cache/)")
    result = subprocess.run([npm, "pack", spec, "--json", "--pack-destination", str(CACHE)],
                            capture_output=True, text=True)
    if result.returncode != 0:
        raise ExtensionError(f"npm pack {spec} failed:\n{result.stderr[-2000:]}")
    name = json.loads(result.stdout)[0]["filename"]
    tarball = CACHE / name
    digest = _sha256(tarball)
    if digest != sha256:
        tarball.unlink()
        raise ExtensionError(f"{spec}: sha256 {digest} does not match the pin {sha256} in "
                             "_ext/vendor.toml; refusing to serve it")
    record.write_text(json.dumps({"spec": spec, "file": name}))
    return tarball


def _extract(tarball: Path, member: str, target: Path) -> None:
    with tarfile.open(tarball) as tf:
        members = [m for m in tf.getmembers()
                   if (m.name == member or m.name.startswith(member + "/")) and m.isfile()
                   and not m.name.endswith(".map")]
        if not members:
            raise ExtensionError(f"{tarball.name} has no {member}")
        for m in members:
            rel = Path(m.name).relative_to(member) if m.name != member else Path()
            dest = target / rel if rel.parts else target
            dest.parent.mkdir(parents=True, exist_ok=True)
            with tf.extractfile(m) as src, open(dest, "wb") as dst:
                shutil.copyfileobj(src, dst)


def vendor(out: Path) -> Path:
    """Fill ``out`` (e.g. ``_build/site-extra/vendor``) with the pinned packages; return it."""
    pins = tomllib.loads((HERE / "vendor.toml").read_text())["package"]
    stamp = out / ".stamp"
    wanted = json.dumps(pins, sort_keys=True)
    if stamp.is_file() and stamp.read_text() == wanted:
        return out
    shutil.rmtree(out, ignore_errors=True)
    for pin in pins:
        tarball = _fetch(pin["spec"], pin["sha256"])
        for member, dest in pin["copy"]:
            _extract(tarball, member, out / dest)
    stamp.write_text(wanted)
    return out


def _config_inited(app, config) -> None:
    # html_extra_path copies a folder's *contents* to the site root: vendor/ sits inside it.
    extra = Path(app.outdir).parent / "site-extra"
    vendor(extra / "vendor")
    config.html_extra_path = list(config.html_extra_path) + [str(extra)]
    config.mathjax_path = MATHJAX
    config.nb_ipywidgets_js = WIDGET_SCRIPTS


def _fix_scripts(app, pagename, templatename, context, doctree) -> None:
    scripts = context.get("script_files")
    if not scripts:
        return
    root = context["pathto"]("", 1)            # relative path from this page to the site root
    seen, kept = set(), []
    for script in scripts:
        attributes = getattr(script, "attributes", {})
        body = attributes.get("body")
        key = ("body", body) if body else ("src", str(script))
        if key in seen:
            continue                            # the duplicated Thebe configuration
        seen.add(key)
        if str(getattr(script, "filename", "") or "").endswith(WIDGET_MANAGER.lstrip("./")):
            # The manager finds its fonts next to its RequireJS module URI: map the package to
            # the vendored copy, relative to this page (pages sit at different depths).
            package = f"{root}vendor/npm/@jupyter-widgets/html-manager"
            kept.append(type(script)(None, priority=script.priority, body=(
                "require.config({paths: {'@jupyter-widgets/html-manager': "
                f"{json.dumps(package)}}}}});")))
            script = type(script)(script.filename, priority=script.priority, **{
                **attributes, "data-jupyter-widgets-cdn": f"{root}vendor/npm/"})
        kept.append(script)
    context["script_files"] = kept


def _student_version():
    """tools/student_version.py, imported from the book's repository (the source directory)."""
    tools = str(Path(__file__).resolve().parent.parent / "tools")
    if tools not in sys.path:
        sys.path.insert(0, tools)
    import student_version

    return student_version


def binder_pull_url(binder_url: str, branch: str, binder_branch: str, repo_url: str,
                    student_branch: str) -> str:
    """The theme's Binder link of a page, made to start the environment-only ``binder_branch``
    and pull ``student_branch`` of ``repo_url`` into the session with nbgitpuller (the content
    lands in ``~/<repository name>``) before opening the page's notebook there."""
    match = re.fullmatch(rf"(.+/v2/gh/[^/]+/[^/]+)/{re.escape(branch)}\?urlpath=((?:lab/)?tree)/"
                         r"(.+)", binder_url)
    if not match:
        raise ExtensionError(f"unexpected Binder URL form: {binder_url}")
    prefix, ui, path = match.groups()
    name = repo_url.rstrip("/").rsplit("/", 1)[-1]
    pull = "git-pull?" + urlencode({"repo": repo_url, "branch": student_branch,
                                    "urlpath": f"{ui}/{name}/{path}"})
    return f"{prefix}/{binder_branch}?urlpath={quote(pull, safe='')}"


def student_launch_urls(buttons: list[dict], branch: str, student_branch: str,
                        download_url: str, binder_branch: str, repo_url: str) -> list[dict]:
    """Point a page's launch and download buttons (sphinx-book-theme's header_buttons) at the
    student copy: Binder at the environment branch pulling ``student_branch``
    (:func:`binder_pull_url`), Colab at ``student_branch`` instead of ``branch``, the ``.ipynb``
    download at ``download_url``; the source download stays, labelled as the instructors'
    version. Returns the changed buttons; raises if the theme's URLs have an unexpected form."""
    for group in buttons:
        if group.get("label") == "launch-buttons":
            for button in group["buttons"]:
                url = button.get("url", "")
                if button.get("text") == "Binder":
                    new = binder_pull_url(url, branch, binder_branch, repo_url, student_branch)
                elif button.get("text") == "Colab":
                    new = url.replace(f"/blob/{branch}/", f"/blob/{student_branch}/", 1)
                elif button.get("type") == "link":
                    raise ExtensionError(f"launch button {button.get('text')!r} is not pointed "
                                         "at the student copy (course_sphinx.py)")
                else:
                    continue
                if new == url:
                    raise ExtensionError(f"unexpected {button['text']} URL form: {url}")
                button["url"] = new
                button["tooltip"] += " (student copy, without solutions)"
        elif group.get("label") == "download-buttons":
            for button in group["buttons"]:
                if button.get("label") == "download-source-button" and \
                        button.get("text") == ".ipynb":
                    button["text"] = ".ipynb (with solutions)"
                    button["tooltip"] = "Download the instructors' version (with solutions)"
                    button["label"] = "download-instructor-button"
            group["buttons"] = [b for b in group["buttons"]
                                if b.get("label") != "download-notebook-button"]
            group["buttons"].insert(0, {
                "type": "link", "url": download_url, "text": ".ipynb",
                "icon": "fas fa-code", "label": "download-notebook-button",
                "tooltip": "Download the notebook (student copy, without solutions)"})
    return buttons


def _student_copies(app, pagename, templatename, context, doctree) -> None:
    """Notebook pages: write the page's student copy into the site and point the buttons at it."""
    source = Path(app.srcdir) / f"{pagename}.ipynb"
    if not source.is_file() or "header_buttons" not in context:
        return
    import nbformat

    sv = _student_version()
    options = app.config.html_theme_options
    url = options.get("repository_url", "")
    student_branch = app.config.course_student_branch
    nb = sv.student_copy(nbformat.read(source, as_version=4), sv.colab_cell(url, student_branch))
    target = Path(app.outdir) / "_student" / f"{pagename}.ipynb"
    target.parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(nb, target)
    download = f"{context['pathto']('_student', 1)}/{pagename}.ipynb"
    student_launch_urls(context["header_buttons"], options.get("repository_branch", "main"),
                        student_branch, download, app.config.course_binder_branch, url)


def sliced_get_msg(get_msg):
    """Wrap an async ``get_msg(self, timeout)`` so that it polls in slices of ``POLL_SLICE``.

    The wrapper keeps the contract: it returns the first message, or raises ``queue.Empty``
    once ``timeout`` seconds have passed (``None`` waits forever).
    """
    import time
    from queue import Empty

    async def wrapper(self, timeout=None):
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            left = None if deadline is None else max(0.0, deadline - time.monotonic())
            step = POLL_SLICE if left is None else min(POLL_SLICE, left)
            try:
                return await get_msg(self, timeout=step)
            except Empty:
                if deadline is not None and time.monotonic() >= deadline:
                    raise

    wrapper.course_sliced = True
    return wrapper


def _patch_shell_polling() -> None:
    from jupyter_client.channels import AsyncZMQSocketChannel

    if not getattr(AsyncZMQSocketChannel.get_msg, "course_sliced", False):
        AsyncZMQSocketChannel.get_msg = sliced_get_msg(AsyncZMQSocketChannel.get_msg)


def formula_role(name, rawtext, text, lineno, inliner, options=None, content=None):
    """``:formula:`ct.fbp``` (in docstrings) / ``{formula}`ct.fbp``` (in MyST): a link to the
    formula's entry in the quick reference (its target ``formula-<id>``); an unknown id is a
    broken reference, which the book's nitpicky build reports."""
    from docutils import nodes
    from sphinx.addnodes import pending_xref

    fid = text.strip()
    node = pending_xref(rawtext, refdomain="std", reftype="ref", reftarget=f"formula-{fid}".lower(),
                        refexplicit=True, refwarn=True)
    node += nodes.literal(rawtext, fid, classes=["xref", "formula"])
    return [node], []


_LITERAL = re.compile(r"(``.+?``|`[^`]+`)")


def escape_bars(app, what, name, obj, options, lines):
    """Docstrings write absolute values and set notation with bars (``|x|``, ``|A n B|``), which
    reStructuredText reads as substitution references; escape every bar outside literals."""
    for i, line in enumerate(lines):
        if "|" in line:
            parts = _LITERAL.split(line)
            lines[i] = "".join(p if j % 2 else p.replace("|", "\\|") for j, p in enumerate(parts))


_UNDERLINE = re.compile(r"^\s*([-=~^])\1{2,}\s*$")


def flatten_headings(app, what, name, obj, options, lines):
    """Module docstrings use underlined headings ("Conventions of this module" / "-----") that
    read well in a terminal; on a page they would become sections with clashing labels. Turn each
    into a bold paragraph (a heading may wrap over several lines)."""
    if what != "module":
        return
    i = 0
    while i < len(lines):
        if _UNDERLINE.match(lines[i]) and i > 0 and lines[i - 1].strip():
            start = i - 1
            while start > 0 and lines[start - 1].strip():
                start -= 1
            title = " ".join(line.strip() for line in lines[start:i])
            lines[start:i + 1] = [f"**{title}**", ""]
            i = start + 2
        else:
            i += 1


def _python_object(dotted: str):
    """The object a dotted name refers to (a module or an attribute of one), or None."""
    import importlib

    parts = dotted.split(".")
    for cut in range(len(parts), 0, -1):
        try:
            obj = importlib.import_module(".".join(parts[:cut]))
        except ImportError:
            continue
        try:
            for attr in parts[cut:]:
                obj = getattr(obj, attr)
        except AttributeError:
            return None
        return obj
    return None


def resolve_reexports(app, env, node, contnode):
    """Resolve a Python cross-reference that names a function where the reader meets it: through
    its chapter package (``medlib.ct.log_transform``), or unqualified from a sibling module of the
    same package (``system_matrix`` in ``medlib.pet.mlem_osem``). The reference is pointed at the
    module that defines the object, where the API reference documents it."""
    import inspect

    if node.get("refdomain") != "py":
        return None
    target = node["reftarget"].lstrip("~.")
    module = node.get("py:module") or ""
    candidates = [target]
    parts = module.split(".") if module else []
    candidates += [".".join(parts[:i] + [target]) for i in range(len(parts), 0, -1)]
    for candidate in candidates:
        if not candidate.startswith("medlib"):
            continue
        obj = _python_object(candidate)
        if obj is None:
            continue
        if inspect.ismodule(obj):
            real, reftype = obj.__name__, "mod"
        elif hasattr(obj, "__module__") and hasattr(obj, "__qualname__"):
            real, reftype = f"{obj.__module__}.{obj.__qualname__}", "obj"
        else:
            continue
        domain = env.get_domain("py")
        found = domain.resolve_xref(env, node["refdoc"], app.builder, reftype, real, node,
                                    contnode)
        if found is not None:
            return found
    return None


def setup(app):
    _patch_shell_polling()
    app.add_role("formula", formula_role)
    app.connect("autodoc-process-docstring", escape_bars)
    app.connect("autodoc-process-docstring", flatten_headings, priority=100)
    app.connect("missing-reference", resolve_reexports)
    app.connect("config-inited", _config_inited, priority=900)
    app.connect("html-page-context", _fix_scripts, priority=900)
    app.add_config_value("course_student_branch", "student", "html")
    app.add_config_value("course_binder_branch", "binder", "html")
    app.connect("html-page-context", _student_copies, priority=900)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
