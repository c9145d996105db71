"""Local Sphinx tweaks for the course book.

Jupyter Book 1.0.4 with Thebe enabled adds sphinx-thebe's configuration script to every page
twice; the second copy redeclares a ``const`` and throws a JavaScript SyntaxError. This extension
keeps the first copy of any script whose body is repeated on a page.
"""
from __future__ import annotations


def _drop_duplicate_scripts(app, pagename, templatename, context, doctree):
    scripts = context.get("script_files")
    if not scripts:
        return
    seen, kept = set(), []
    for script in scripts:
        body = getattr(script, "attributes", {}).get("body")
        key = ("body", body) if body else ("src", str(script))
        if key in seen:
            continue
        seen.add(key)
        kept.append(script)
    context["script_files"] = kept


def setup(app):
    app.connect("html-page-context", _drop_duplicate_scripts, priority=900)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
