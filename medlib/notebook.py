"""Small helpers for the book's notebooks (display only; no algorithm lives here)."""
from __future__ import annotations

import inspect

__all__ = ["show_source"]


def show_source(obj):
    """Display the source code of a medlib function, so a notebook shows the code it runs.

    Parameters
    ----------
    obj : function or class
        Any object :func:`inspect.getsource` accepts.

    Returns
    -------
    IPython.display.Code
        Syntax-highlighted source (rendered as HTML in the book, as text elsewhere).

    Raises
    ------
    TypeError
        If ``obj`` has no retrievable source (a builtin, a lambda typed at the prompt ...).
    """
    from IPython.display import Code

    if not (inspect.isfunction(obj) or inspect.isclass(obj) or inspect.ismethod(obj)):
        raise TypeError(f"obj must be a function, method or class, got {type(obj).__name__}")
    return Code(inspect.getsource(obj), language="python")
