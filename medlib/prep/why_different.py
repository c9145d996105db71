"""Why medical images are different: what the stored numbers of an image are (dtype, range, bits
actually used, saturation) and what squeezing them into a natural image's 8 bits costs.

Taught in ``chapters/prep-ct-xray/why-different.ipynb``, on the course's real files (CT, CR, MR,
ultrasound, nuclear medicine) next to a natural photograph. Tested against NumPy and
scikit-image.
"""
from __future__ import annotations

import numpy as np

from .._validate import as_array, as_int, as_scalar

__all__ = ["intensity_summary", "requantise"]


def intensity_summary(image) -> dict:
    """What an image's stored numbers are: type, range, distinct values, bits used, saturation.

    Parameters
    ----------
    image : array_like
        Stored values of any shape and numeric dtype (``ds.pixel_array``, a NIfTI's data, a
        photograph's ``uint8`` RGB array), non-empty and finite. A list has no dtype of its
        own: NumPy's (int64 or float64) is reported.

    Returns
    -------
    dict
        ``dtype`` (str), ``min`` and ``max`` (float), ``distinct`` (number of distinct values),
        ``bits_used`` (bits an integer code needs for the range: ceil(log2(max - min + 1)) for
        integer data, None for non-integer values), ``dtype_bits`` (bits of the container,
        e.g. 16 for ``int16``; None for floats), ``at_min`` and ``at_max`` (fraction of the
        values equal to the minimum and to the maximum: clipping or padding shows up there).

    Raises
    ------
    TypeError
        If ``image`` is not numeric.
    ValueError
        If it is empty or not finite.

    Notes
    -----
    A 12-bit CT stored in ``int16`` uses 12 of its 16 bits; a 15-bit radiograph uses 15; a
    photograph uses 8 per channel. The range, not the container, says how many grey levels a
    network would need to keep every distinction the detector made.
    """
    raw = np.asarray(image)
    if raw.dtype == bool:
        raw = raw.astype(np.uint8)
    a = as_array(raw, "image", dtype=None)
    if np.iscomplexobj(a):
        raise TypeError(f"image must be real-valued, got dtype {a.dtype}")
    lo, hi = a.min(), a.max()
    integer = np.issubdtype(a.dtype, np.integer) or bool(np.all(a == np.round(a)))
    span = float(hi) - float(lo)
    return {
        "dtype": str(a.dtype),
        "min": float(lo),
        "max": float(hi),
        "distinct": int(np.unique(a).size),
        "bits_used": int(np.ceil(np.log2(span + 1))) if integer else None,
        "dtype_bits": int(a.dtype.itemsize * 8) if np.issubdtype(a.dtype, np.integer) else None,
        "at_min": float(np.mean(a == lo)),
        "at_max": float(np.mean(a == hi)),
    }


def requantise(image, bits: int = 8, *, low: float | None = None,
               high: float | None = None) -> tuple[np.ndarray, float]:
    """Squeeze an image into ``2**bits`` grey levels and map them back to its own units.

    Parameters
    ----------
    image : array_like
        Values in their physical unit (HU, detector counts, ...), any shape.
    bits : int, optional
        Bits of the target (default 8, a natural image's channel), 1 to 16.
    low, high : float, optional
        The range mapped onto the levels (default the image's minimum and maximum); values
        outside are clipped.

    Returns
    -------
    restored : numpy.ndarray of float64
        low + round((clip(image) - low) / step) * step: what survives the round trip, in the
        image's units.
    step : float
        (high - low) / (2**bits - 1), the size of one grey level in the image's units; the
        round-trip error inside the range is at most step / 2.

    Raises
    ------
    ValueError
        If ``bits`` is outside 1..16, ``low >= high`` (or the image is constant and no range
        is given), or a value is not finite.

    Notes
    -----
    The head CT's stored range (about 4500 HU) in 8 bits gives steps of about 18 HU: the
    difference between grey and white matter (a few HU) and between fresh blood and brain
    (about 25 HU) is one level or none.
    """
    a = as_array(image, "image")
    n = as_int(bits, "bits", low=1, high=16)
    lo = float(a.min()) if low is None else as_scalar(low, "low")
    hi = float(a.max()) if high is None else as_scalar(high, "high")
    if not lo < hi:
        raise ValueError(f"low must be below high (the image's range when not given), got "
                         f"low={lo}, high={hi}")
    step = (hi - lo) / (2 ** n - 1)
    levels = np.rint((np.clip(a, lo, hi) - lo) / step)
    return lo + levels * step, step
