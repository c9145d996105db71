"""Small helpers for the book's notebooks (display only; no algorithm lives here)."""
from __future__ import annotations

import ast
import html
import inspect
import textwrap
from pathlib import Path

from ._validate import as_bool

__all__ = ["Source", "show_source"]

#: Where a chapter page finds the API reference, relative to the page (chapters/<ch>/<page>.html).
API_REFERENCE = "../appendix/api"


class Source:
    """The source code of a medlib function or class, as a notebook shows it.

    Attributes
    ----------
    code : str
        The code as displayed (docstring folded to its summary line unless asked for).
    path : str
        The file, relative to the package's parent folder (``medlib/ct/fbp.py``).
    first_line, last_line : int
        The lines of ``path`` that hold the definition (1-based, inclusive).
    qualname : str
        The dotted name of the defining module and the object (``medlib.ct.fbp.backproject``).
    public : bool
        Whether the object is documented in the API reference (its name has no leading ``_``).
    module : str
        The dotted name of the defining module, whose API reference page documents the object
        (a method's too).
    """

    def __init__(self, code: str, path: str, first_line: int, last_line: int, qualname: str,
                 public: bool, module: str | None = None):
        self.code, self.path = code, path
        self.first_line, self.last_line = first_line, last_line
        self.qualname, self.public = qualname, public
        self.module = module if module is not None else qualname.rsplit(".", 1)[0]

    @property
    def caption(self) -> str:
        """``medlib/ct/fbp.py, lines 120-160``: where the code shown lives."""
        return f"{self.path}, lines {self.first_line}\u2013{self.last_line}"

    @property
    def api_url(self) -> str | None:
        """The object's entry in the book's API reference, relative to a chapter page."""
        if not self.public:
            return None
        # One page per module; a method (Pipeline.apply) links to its class's entry, the
        # reference documents classes, not each method.
        top = self.qualname[len(self.module) + 1:].split(".")[0]
        return f"{API_REFERENCE}/{self.module}.html#{self.module}.{top}"

    def __repr__(self) -> str:
        return f"# {self.caption}\n{self.code}"

    def _repr_html_(self) -> str:
        from IPython.display import Code

        caption = html.escape(self.caption)
        if self.api_url:
            caption += (f' \u00b7 <a href="{html.escape(self.api_url)}">'
                        f"<code>{html.escape(self.qualname)}</code> in the API reference</a>")
        return (f'<div class="medlib-source"><p class="medlib-source-caption">{caption}</p>'
                f"{Code(self.code, language='python')._repr_html_()}</div>")


def _fold_docstring(source: str, summary: str) -> str:
    """Replace the docstring of the first definition in ``source`` by its summary line."""
    tree = ast.parse(source)
    node = tree.body[0]
    first = node.body[0] if node.body else None
    if not (isinstance(first, ast.Expr) and isinstance(first.value, ast.Constant)
            and isinstance(first.value.value, str)):
        return source
    lines = source.splitlines(keepends=True)
    indent = lines[first.lineno - 1][: first.col_offset]
    folded = f'{indent}"""{summary} (Full docstring: API reference.)"""\n' if summary else ""
    return "".join(lines[: first.lineno - 1] + [folded] + lines[first.end_lineno:])


def show_source(obj, *, docstring: bool = False) -> Source:
    """Display the code of a medlib function or class, so a notebook shows the code it runs.

    The docstring (parameters, units, references) is folded to its summary line: the lesson is
    the code, and the full docstring is one click away in the API reference. The caption names the
    file and the lines the code lives at.

    Parameters
    ----------
    obj : function or class
        Any object :func:`inspect.getsource` accepts, usually a ``medlib`` function.
    docstring : bool, optional
        Show the whole docstring too (default False).

    Returns
    -------
    Source
        Rendered as highlighted code under its caption (HTML in the book), as text elsewhere.

    Raises
    ------
    TypeError
        If ``obj`` is not a function, method or class, or ``docstring`` is not a bool.
    """
    if not (inspect.isfunction(obj) or inspect.isclass(obj) or inspect.ismethod(obj)):
        raise TypeError(f"obj must be a function, method or class, got {type(obj).__name__}")
    docstring = as_bool(docstring, "docstring")
    lines, first = inspect.getsourcelines(obj)
    source = textwrap.dedent("".join(lines))
    if not docstring:
        doc = inspect.getdoc(obj) or ""
        source = _fold_docstring(source, doc.strip().split("\n\n")[0].replace("\n", " "))
    file = Path(inspect.getsourcefile(obj)).resolve()
    package_root = Path(__file__).resolve().parent.parent      # the folder holding medlib/
    try:
        path = file.relative_to(package_root).as_posix()
    except ValueError:
        path = file.name
    qualname = f"{obj.__module__}.{obj.__qualname__}"
    public = not any(part.startswith("_") for part in qualname.split("."))
    return Source(source.rstrip("\n"), path, first, first + len(lines) - 1, qualname, public,
                  obj.__module__)
