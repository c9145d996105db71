"""CT intensities for a network: HU from stored values, clipping, windows mapped to [0, 255] or
[0, 1], several windows stacked as channels, and a metal mask by threshold and connected
components.

Taught in ``chapters/prep-ct-xray/ct-intensities.ipynb``. The physics (the Hounsfield scale, the
rescale, the display window) is Part I's :mod:`medlib.ct.hu_windowing`; this module calls it and
adds what deep learning needs: padding handled, the fraction of voxels a range throws away, a
byte or unit output, channel stacking. Tested against pydicom, NumPy and SciPy.
"""
from __future__ import annotations

import numpy as np
from scipy import ndimage

from .._validate import as_array, as_choice, as_int, as_scalar
from ..ct import hu_windowing as _hw

__all__ = [
    "SEED_WINDOWS",
    "body_mask",
    "clip_fractions",
    "clip_hu",
    "hu_from_stored_values",
    "metal_mask",
    "stack_windows",
    "window_image",
]

SEED_WINDOWS: dict[str, tuple[float, float]] = {
    "lung": (-600.0, 1500.0),
    "mediastinal": (50.0, 350.0),
    "bone": (300.0, 2000.0),
    "brain": (40.0, 80.0),
    "abdominal": (50.0, 400.0),
}
"""The seed's window table, (level, width) in HU. Part I's ``medlib.ct.CLINICAL_WINDOWS``
(Radiopaedia) agrees except for bone, where it uses level 400 and width 1800; both are in use."""


def hu_from_stored_values(stored, slope: float, intercept: float, *,
                          padding_value: int | None = None,
                          padding_hu: float = -1000.0) -> np.ndarray:
    """HU from a CT's stored values, with the scanner's padding replaced by air.

    Parameters
    ----------
    stored : array_like
        Stored pixel values (``ds.pixel_array``), any shape.
    slope : float
        Rescale Slope (0028,1053), non-zero.
    intercept : float
        Rescale Intercept (0028,1052), in HU.
    padding_value : int, optional
        Pixel Padding Value (0028,0120), an integer in *stored* units, or None (default)
        when the file declares none. Pixels equal to it lie outside the scan field: nothing
        was measured there.
    padding_hu : float, optional
        CT number given to padding pixels (default -1000 HU, air).

    Returns
    -------
    numpy.ndarray of float64
        slope * stored + intercept, with padding pixels set to ``padding_hu``.

    Raises
    ------
    ValueError
        If ``slope`` is zero or a value is not finite.

    Notes
    -----
    :formula:`pre.hu-rescale` HU = SV x RescaleSlope + RescaleIntercept, computed by
    :func:`medlib.ct.hu_from_stored` (the Modality LUT, as ``pydicom.pixels.apply_modality_lut``).
    Padding (often stored so that it maps to -3024 or -2048 HU) is not tissue: left in, it drags
    every mean, histogram and z-score of the volume down.
    """
    hu = _hw.hu_from_stored(stored, slope, intercept)
    fill = as_scalar(padding_hu, "padding_hu")
    if padding_value is None:
        return hu
    pad = as_int(padding_value, "padding_value")
    return np.where(as_array(stored, "stored") == pad, fill, hu)


def _range(low_hu, high_hu) -> tuple[float, float]:
    lo = as_scalar(low_hu, "low_hu")
    hi = as_scalar(high_hu, "high_hu")
    if not lo < hi:
        raise ValueError(f"low_hu must be below high_hu, got low_hu={lo}, high_hu={hi}")
    return lo, hi


def clip_hu(hu, low_hu: float = -1000.0, high_hu: float = 1000.0) -> np.ndarray:
    """Clip CT numbers to ``[low_hu, high_hu]``, returning a new array (the input is untouched).

    Parameters
    ----------
    hu : array_like
        CT numbers in HU, any shape.
    low_hu, high_hu : float, optional
        The range kept (default the seed's "full body" range, -1000 to 1000 HU); the seed also
        uses [-200, 400] (soft tissue), [-200, 3000] (bone) and [-1200, 600] (LUNA16-style
        lung pipelines).

    Returns
    -------
    numpy.ndarray of float64
        min(max(hu, low_hu), high_hu).

    Raises
    ------
    ValueError
        If ``low_hu >= high_hu`` or a value is not finite.

    Notes
    -----
    :formula:`pre.hu-clip` HU_clip = min(max(HU, L), H). What is clipped is gone: every voxel
    below L reads L, whatever it was; :func:`clip_fractions` says how many.
    """
    h = as_array(hu, "hu")
    lo, hi = _range(low_hu, high_hu)
    return np.clip(h, lo, hi)


def clip_fractions(hu, low_hu: float, high_hu: float, *, mask=None) -> tuple[float, float]:
    """Fractions of voxels below and above a HU range (what clipping or a window throws away).

    Parameters
    ----------
    hu : array_like
        CT numbers in HU.
    low_hu, high_hu : float
        The range (for a window: level -+ width / 2).
    mask : array_like of bool, optional
        Count only these voxels (same shape as ``hu``), e.g. the body without the air around it.

    Returns
    -------
    below, above : float
        Fraction of the (masked) voxels with HU < low_hu, and with HU > high_hu.

    Raises
    ------
    ValueError
        If ``low_hu >= high_hu``, the mask does not match or selects nothing.
    """
    h = as_array(hu, "hu")
    lo, hi = _range(low_hu, high_hu)
    if mask is not None:
        m = as_array(mask, "mask", dtype=None, shape=h.shape)
        if m.dtype != bool:
            raise TypeError(f"mask must be boolean, got dtype {m.dtype}")
        if not m.any():
            raise ValueError("mask selects no voxel")
        h = h[m]
    return float(np.mean(h < lo)), float(np.mean(h > hi))


def window_image(hu, level: float, width: float, *, output: str = "byte") -> np.ndarray:
    """Window CT numbers for a network: [level - width/2, level + width/2] onto [0, 255] or [0, 1].

    Parameters
    ----------
    hu : array_like
        CT numbers in HU.
    level, width : float
        Window level (centre) and width (> 0), in HU.
    output : {"byte", "unit"}, optional
        "byte" (default): the seed's form, rounded to ``uint8`` grey levels 0..255;
        "unit": float64 in [0, 1] (Part I's :func:`medlib.ct.window`), what a network is fed.

    Returns
    -------
    numpy.ndarray
        ``uint8`` or ``float64``, same shape as ``hu``.

    Raises
    ------
    ValueError
        If ``width <= 0``, ``output`` is unknown, or a value is not finite.

    Notes
    -----
    :formula:`pre.window-255` I = clip((HU - (WL - WW/2)) / WW x 255, 0, 255). The byte form
    quantises: a 1500 HU lung window shares 256 grey levels, about 5.9 HU per level; the unit
    form keeps every HU distinct.
    """
    kind = as_choice(output, "output", ("byte", "unit"))
    unit = _hw.window(hu, level, width)
    if kind == "unit":
        return unit
    return np.rint(unit * 255.0).astype(np.uint8)


def stack_windows(hu, windows) -> np.ndarray:
    """Several windows of one image stacked as input channels, channels first, values in [0, 1].

    Parameters
    ----------
    hu : array_like
        CT numbers in HU, any shape S (a slice (y, x) or a volume (z, y, x)).
    windows : sequence of str or (level, width)
        Names of :data:`SEED_WINDOWS` ("lung", "mediastinal", "bone", "brain", "abdominal") or
        (level, width) pairs in HU; one channel each, in this order.

    Returns
    -------
    numpy.ndarray of float64, shape (len(windows),) + S
        Channel c is ``window_image(hu, *windows[c], output="unit")`` (PyTorch's channels-first
        layout for one sample).

    Raises
    ------
    ValueError
        If ``windows`` is empty, names an unknown window, or a width is not positive.
    TypeError
        If an entry is neither a name nor a pair of numbers.

    Notes
    -----
    :formula:`pre.multi-window` X_c = clip((HU - (WL_c - WW_c/2)) / WW_c, 0, 1). Each channel
    keeps what its window keeps; a voxel clipped in every channel is invisible to the network.
    """
    h = as_array(hu, "hu")
    if isinstance(windows, (str, bytes)) or not hasattr(windows, "__len__"):
        raise TypeError(f"windows must be a sequence of names or (level, width) pairs, got "
                        f"{type(windows).__name__}")
    if len(windows) == 0:
        raise ValueError("windows must name at least one window")
    pairs = []
    for i, w in enumerate(windows):
        if isinstance(w, str):
            pairs.append(SEED_WINDOWS[as_choice(w, f"windows[{i}]", tuple(SEED_WINDOWS))])
        else:
            pair = as_array(w, f"windows[{i}]", shape=(2,))
            if pair[1] <= 0:
                raise ValueError(f"windows[{i}] must have a positive width, got {pair[1]}")
            pairs.append((float(pair[0]), float(pair[1])))
    levels = np.array([p[0] for p in pairs]).reshape((-1,) + (1,) * h.ndim)
    widths = np.array([p[1] for p in pairs]).reshape((-1,) + (1,) * h.ndim)
    return np.clip((h[None] - (levels - widths / 2.0)) / widths, 0.0, 1.0)


def metal_mask(hu, *, threshold_hu: float = 3000.0, min_voxels: int = 100,
               connectivity: int = 1) -> np.ndarray:
    """Metal mask: voxels above a HU threshold, in connected components of more than
    ``min_voxels`` voxels.

    Parameters
    ----------
    hu : array_like, 2D or 3D
        CT numbers in HU, axes (y, x) or (z, y, x).
    threshold_hu : float, optional
        Voxels with HU > threshold are candidates (default 3000 HU, the seed's).
    min_voxels : int, optional
        A component is kept when it has more than this many voxels (default 100, the seed's;
        a number of voxels, so its volume depends on the spacing).
    connectivity : int, optional
        Neighbourhood of :func:`scipy.ndimage.generate_binary_structure`: 1 (default, faces,
        as the seed's ``ndimage.label``) up to ``hu.ndim`` (faces, edges and corners).

    Returns
    -------
    numpy.ndarray of bool, same shape as ``hu``

    Raises
    ------
    ValueError
        If ``hu`` is not 2D or 3D or not finite, ``min_voxels`` is negative or ``connectivity``
        is outside 1..ndim.

    Notes
    -----
    :formula:`pre.metal-mask` M = union of the components C of {HU > T} with |C| > N_min.
    All component sizes come from one ``np.bincount`` of the label image, and the mask from one
    look-up ``keep[labels]``: a single pass, where the seed's loop compares the whole volume
    with every label in turn (2 K passes for K components). Only the bounding box of the
    voxels above the threshold is labelled (components cannot extend beyond it), which makes
    the cost of a volume with a little metal that of one threshold and a few reductions.
    """
    h = as_array(hu, "hu", ndim=(2, 3))
    t = as_scalar(threshold_hu, "threshold_hu")
    n_min = as_int(min_voxels, "min_voxels", low=0)
    conn = as_int(connectivity, "connectivity", low=1, high=h.ndim)
    above = h > t
    out = np.zeros(h.shape, dtype=bool)
    # Label only the bounding box of the voxels above the threshold: metal is local, and the
    # box (found with one reduction per axis) is usually a small part of the volume.
    box = []
    for axis in range(h.ndim):
        hit = np.flatnonzero(above.any(axis=tuple(a for a in range(h.ndim) if a != axis)))
        if hit.size == 0:
            return out
        box.append(slice(hit[0], hit[-1] + 1))
    box = tuple(box)
    labels, n = ndimage.label(above[box],
                              structure=ndimage.generate_binary_structure(h.ndim, conn))
    sizes = np.bincount(labels.ravel(), minlength=n + 1)
    keep = sizes > n_min
    keep[0] = False
    out[box] = keep[labels]
    return out


def body_mask(hu, *, threshold_hu: float = -500.0) -> np.ndarray:
    """The patient's body: the largest connected region above a HU threshold, holes filled.

    Parameters
    ----------
    hu : array_like, 2D or 3D
        CT numbers in HU, axes (y, x) or (z, y, x).
    threshold_hu : float, optional
        Voxels with HU > threshold are tissue (default -500 HU, between air and soft tissue).

    Returns
    -------
    numpy.ndarray of bool, same shape as ``hu``
        The largest face-connected component of {HU > threshold}, with the holes of every
        axial slice filled (the lungs, the airways): everything inside the skin. The table the
        patient lies on is left out when it does not touch the body. All False when no voxel
        exceeds the threshold.

    Raises
    ------
    ValueError
        If ``hu`` is not 2D or 3D or not finite.

    Notes
    -----
    Statistics "of the image" should usually be statistics of the body: outside it a chest CT
    holds a third of its voxels in air, which any mean, percentile or clipping fraction over
    the whole volume counts as heavily as the patient.
    """
    h = as_array(hu, "hu", ndim=(2, 3))
    t = as_scalar(threshold_hu, "threshold_hu")
    labels, n = ndimage.label(h > t)
    if n == 0:
        return np.zeros(h.shape, dtype=bool)
    sizes = np.bincount(labels.ravel())
    sizes[0] = 0
    body = labels == np.argmax(sizes)
    if h.ndim == 2:
        return ndimage.binary_fill_holes(body)
    # Fill holes slice by slice: in 3D the lungs open onto the volume's top and bottom faces
    # and are no holes. One 2D structure per slice, applied to the whole stack at once.
    in_plane = np.zeros((3, 3, 3), dtype=bool)
    in_plane[1] = ndimage.generate_binary_structure(2, 1)
    return ndimage.binary_fill_holes(body, structure=in_plane)
