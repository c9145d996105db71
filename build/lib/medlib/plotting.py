"""The course's figure style: one look for every chapter, readable in light and dark themes."""
from __future__ import annotations

__all__ = ["COURSE_STYLE", "use_course_style"]

COURSE_STYLE = {
    # Layout: colour bars and suptitles never collide with their neighbours.
    "figure.constrained_layout.use": True,
    # An opaque white figure keeps black labels readable when the book is in dark mode.
    "figure.facecolor": "white",
    "savefig.facecolor": "white",
    "axes.facecolor": "white",
    "figure.dpi": 100,
    "font.size": 10,
    "axes.titlesize": 11,
    "axes.labelsize": 10,
    "legend.fontsize": 8,
    "xtick.labelsize": 9,
    "ytick.labelsize": 9,
    "image.interpolation": "nearest",   # show pixels as they are; no display smoothing
    "axes.spines.top": False,
    "axes.spines.right": False,
}


def use_course_style() -> None:
    """Apply :data:`COURSE_STYLE` to matplotlib (call once, after importing pyplot).

    Returns
    -------
    None
        The global ``matplotlib.rcParams`` are updated in place (the one intended side effect).
    """
    import matplotlib

    matplotlib.rcParams.update(COURSE_STYLE)
