"""X-ray contrast and the lung field: CLAHE from its definition, a classical lung-field mask and
normalisation with statistics inside the field only.

Taught in ``chapters/prep-ct-xray/xray-contrast.ipynb`` (Part II, the seed's "X-ray
preprocessing techniques"). :func:`clahe` follows the conventions of scikit-image's
:func:`skimage.exposure.equalize_adapthist` (version 0.26, ``skimage/exposure/_adapthist.py``,
itself after Zuiderveld 1994) exactly: the same quantisation, tile grid, padding, clip limit,
redistribution of the excess and interpolation, so the two agree to one grey level in 16384;
the code here is a separate, vectorised implementation (all tile histograms in one
:func:`numpy.bincount`, the redistribution run on all tiles at once, the four neighbouring tile
mappings blended for the whole image in four gathers).
"""
from __future__ import annotations

import math
import numbers

import numpy as np
from scipy import ndimage
from skimage.filters import threshold_otsu

from .._validate import as_array, as_bool, as_int, as_mask, as_scalar

__all__ = [
    "clahe",
    "clahe_tile_mappings",
    "clip_histogram",
    "lung_field_mask",
    "lung_field_normalize",
    "lung_field_stages",
]

#: Grey levels the image is quantised to before binning (scikit-image's ``NR_OF_GRAY``).
GREY_LEVELS = 2 ** 14


# ---------------------------------------------------------------------------------------------
# CLAHE
# ---------------------------------------------------------------------------------------------
def clip_histogram(hist, clip_limit) -> np.ndarray:
    """Clip histograms at ``clip_limit`` counts and redistribute the excess over the bins.

    Parameters
    ----------
    hist : array_like of int, shape (..., nbins)
        Histogram counts (non-negative integers), bins along the last axis; several histograms
        (one per tile) are clipped at once.
    clip_limit : int
        Largest count a bin may keep, >= 1.

    Returns
    -------
    numpy.ndarray of int64, shape of ``hist``
        The clipped histograms. Each keeps its total count whenever the bins below the limit
        can absorb the excess (always, unless ``clip_limit * nbins`` is smaller than the total).

    Raises
    ------
    TypeError
        If ``hist`` holds non-integers or ``clip_limit`` is not an integer.
    ValueError
        If ``hist`` is negative or has no bins, or ``clip_limit`` < 1.

    Notes
    -----
    :formula:`pre.clahe` (the clip step). With :math:`\\beta` the limit and :math:`E` the excess
    :math:`\\sum_b \\max(h(b) - \\beta, 0)`, every bin is first cut to :math:`\\beta`; then
    every bin below :math:`\\beta - \\lfloor E/B \\rfloor` receives :math:`\\lfloor E/B \\rfloor`
    counts (:math:`B` bins) and the bins that would overflow are filled to :math:`\\beta`; the
    counts left over are handed out one at a time, sweeping the bins below the limit with a stride
    of (number of such bins) // (counts left), from the first bin on, until none is left or
    no bin can take one. This is Zuiderveld's scheme as scikit-image 0.26 implements it
    (``skimage.exposure._adapthist.clip_histogram``), done here for all histograms at once: the
    sweep is a loop over the starting bin, each step vectorised over the histograms.

    References
    ----------
    K. Zuiderveld, "Contrast limited adaptive histogram equalization", Graphics Gems IV,
    Academic Press, 1994, pp. 474-485.
    """
    h = as_array(hist, "hist", dtype=None, low=0)
    if h.ndim == 0:
        raise ValueError("hist must have at least one axis (the bins), got a scalar")
    if h.dtype == bool or not (np.issubdtype(h.dtype, np.integer)
                               or np.all(np.mod(h, 1) == 0)):
        raise TypeError("hist must hold integer counts")
    if h.dtype.kind == "f" and h.max() >= 2 ** 62:
        raise ValueError(f"hist must hold counts below 2**62, got a maximum of {h.max()}")
    if h.dtype.kind == "u" and h.max() >= 2 ** 62:
        raise ValueError(f"hist must hold counts below 2**62, got a maximum of {h.max()}")
    limit = as_int(clip_limit, "clip_limit", low=1, high=2 ** 62)
    shape = h.shape
    return _clip_redistribute(h.astype(np.int64).reshape(-1, shape[-1]), limit).reshape(shape)


def _clip_redistribute(hist: np.ndarray, clim: int) -> np.ndarray:
    """The clip and redistribution on the rows of a 2D int64 array (modified copy returned)."""
    h = hist.copy()
    n_bins = h.shape[1]
    excess = np.maximum(h - clim, 0).sum(axis=1)
    np.minimum(h, clim, out=h)
    # First pass: the average increment to every bin that can take it in full ...
    incr = excess // n_bins
    upper = (clim - incr)[:, None]
    low = h < upper
    excess -= low.sum(axis=1) * incr
    h += np.where(low, incr[:, None], 0)
    # ... and the bins between upper and the limit filled to the limit (scikit-image tests this
    # on the incremented histogram; so do we, to agree bin for bin).
    mid = (h >= upper) & (h < clim)
    excess -= np.where(mid, clim - h, 0).sum(axis=1)
    h[mid] = clim
    # Second pass: the remainder, one count at a time, in strided sweeps over the bins.
    bins = np.arange(n_bins)
    active = excess > 0
    while active.any():
        before = excess.copy()
        running = active.copy()
        for start in range(n_bins):
            rows = np.flatnonzero(running)
            if rows.size == 0:
                break
            sub = h[rows]
            under = sub < clim
            step = np.maximum(1, under.sum(axis=1) // excess[rows])
            offset = bins - start
            take = under & (offset >= 0) & (offset % step[:, None] == 0)
            h[rows] = sub + take
            excess[rows] -= take.sum(axis=1)
            running[rows] = excess[rows] > 0
        active = (excess > 0) & (excess != before)
    return h


def _check_clahe_args(image, clip_limit, kernel_size, nbins):
    img = as_array(image, "image", ndim=2, low=0.0, high=1.0)
    clip = as_scalar(clip_limit, "clip_limit", low=0.0, high=1.0)
    bins = as_int(nbins, "nbins", low=2, high=GREY_LEVELS)
    if kernel_size is None:
        kernel = tuple(max(s // 8, 1) for s in img.shape)
    else:
        if isinstance(kernel_size, numbers.Number) or (
                isinstance(kernel_size, np.ndarray) and kernel_size.ndim == 0):
            sizes = [kernel_size] * 2
        elif isinstance(kernel_size, (str, bytes)):
            raise TypeError(f"kernel_size must be None, an integer or two integers, got "
                            f"{kernel_size!r}")
        else:
            try:
                sizes = list(kernel_size)
            except TypeError:
                raise TypeError(f"kernel_size must be None, an integer or two integers, got "
                                f"{kernel_size!r}") from None
            if len(sizes) != 2:
                raise ValueError(f"kernel_size must give one size per axis of the 2D image, got "
                                 f"{kernel_size!r}")
        kernel = tuple(as_int(k, "kernel_size", low=1, high=s) for k, s in zip(sizes, img.shape))
    return img, clip, kernel, bins


def _quantise(img: np.ndarray, nbins: int) -> np.ndarray:
    """Bin index (uint16) of every pixel, as ``equalize_adapthist`` makes it.

    scikit-image takes the image to 16 bits (``rint(x * 65535)``), stretches those to
    [0, 2**14 - 1] between their own minimum and maximum, rounds, and bins by
    ``1 + 2**14 // nbins`` levels. All but the first step depend on the 16-bit value only, so
    they are one lookup table of 65536 entries (the extremes come from the image's, as ``rint``
    is monotone).
    """
    qmin, qmax = np.rint(img.min() * 65535.0), np.rint(img.max() * 65535.0)
    q = np.arange(65536.0)
    if qmin != qmax:
        v = (q - qmin) / (qmax - qmin) * (GREY_LEVELS - 1)
    else:
        v = q
    levels = np.clip(np.round(v), 0, GREY_LEVELS - 1)
    lut = (levels // (1 + GREY_LEVELS // nbins)).astype(np.uint16)
    sixteen = img * 65535.0
    np.rint(sixteen, out=sixteen)
    return np.take(lut, sixteen.astype(np.uint16))


def _tile_maps(bins: np.ndarray, kernel, clip: float, nbins: int):
    """Tile mappings (n0, n1, nbins) in grey levels 0..GREY_LEVELS-1, and the tile grid."""
    shape = bins.shape
    (k0, k1) = kernel
    n0, n1 = (math.ceil(s / k) for s, k in zip(shape, kernel))
    # scikit-image pads by half a kernel before and to a whole number of kernels plus half a
    # kernel after (mirror), so the tiles start at the image's first pixel and the last ones
    # reach into the mirrored border.
    pad = [(k // 2, (k - s % k) % k + math.ceil(k / 2)) for k, s in zip(kernel, shape)]
    padded = np.pad(bins, pad, mode="reflect")
    region = padded[k0 // 2:k0 // 2 + n0 * k0, k1 // 2:k1 // 2 + n1 * k1]
    # All tile histograms of a strip of tiles in one bincount of (tile column * nbins + bin).
    column_offset = np.repeat(np.arange(n1, dtype=np.intp) * nbins, k1)[None, :]
    hist = np.empty((n0, n1 * nbins), dtype=np.int64)
    for i in range(n0):
        strip = region[i * k0:(i + 1) * k0]
        hist[i] = np.bincount((strip + column_offset).ravel(), minlength=n1 * nbins)
    n_pixels = k0 * k1
    clim = int(max(clip * n_pixels, 1)) if clip > 0 else n_pixels
    hist = _clip_redistribute(hist.reshape(n0 * n1, nbins), clim)
    cdf = np.cumsum(hist, axis=1).astype(float)
    cdf *= (GREY_LEVELS - 1) / n_pixels
    np.minimum(cdf, GREY_LEVELS - 1, out=cdf)
    return cdf.astype(np.int64).reshape(n0, n1, nbins), (n0, n1)


def clahe_tile_mappings(image, *, clip_limit: float = 0.01, kernel_size=None,
                        nbins: int = 256) -> np.ndarray:
    """The grey-level mapping of every CLAHE tile (before the blending between tiles).

    Parameters
    ----------
    image, clip_limit, kernel_size, nbins
        As for :func:`clahe`.

    Returns
    -------
    numpy.ndarray of float64, shape (n_rows, n_cols, nbins)
        ``ceil(shape / kernel_size)`` tiles along each axis; entry ``[i, j, b]`` is where tile
        ``(i, j)`` sends histogram bin ``b``, in [0, 1] (the clipped cumulative histogram,
        scaled). Bins past ``(2**14 - 1) // (1 + 2**14 // nbins)`` hold no grey level.

    Raises
    ------
    TypeError, ValueError
        As for :func:`clahe`.

    Notes
    -----
    :formula:`pre.clahe` (the tile mappings :math:`T_t`).
    """
    img, clip, kernel, nb = _check_clahe_args(image, clip_limit, kernel_size, nbins)
    maps, _ = _tile_maps(_quantise(img, nb), kernel, clip, nb)
    return maps / (GREY_LEVELS - 1)


def clahe(image, *, clip_limit: float = 0.01, kernel_size=None, nbins: int = 256) -> np.ndarray:
    """Contrast-limited adaptive histogram equalisation (CLAHE) of a 2D image.

    Parameters
    ----------
    image : array_like, shape (rows, cols)
        Grey levels in [0, 1] (for a radiograph: MONOCHROME2 values divided by 2^BitsStored - 1;
        the scale hardly matters, as the image is stretched to its own minimum and maximum
        first; it enters only through the rounding to 16 bits that precedes the stretch).
    clip_limit : float, optional
        Clip limit in [0, 1] as a fraction of a tile's pixel count (scikit-image's
        normalisation; default 0.01). 0 means no clipping (plain adaptive equalisation).
    kernel_size : int or (int, int), optional
        Tile size in pixels along (rows, cols), each in [1, image size]; an int is used for both
        axes. Default: 1/8 of each dimension (``max(size // 8, 1)``), an 8 x 8 grid of tiles
        (9 along a side that is not a multiple of 8: the last tile reaches into the mirror).
    nbins : int, optional
        Number of histogram bins, in [2, 16384] (default 256).

    Returns
    -------
    numpy.ndarray of float64, shape of ``image``
        The equalised image, stretched to [0, 1] (a constant image gives a constant 1, as in
        scikit-image).

    Raises
    ------
    TypeError
        If an argument has the wrong type (a string, a complex image, a float ``nbins``).
    ValueError
        If ``image`` is not 2D, is empty, holds NaN/inf or values outside [0, 1], or another
        argument is out of range.

    Notes
    -----
    :formula:`pre.clahe`. The image is quantised to :math:`G = 2^{14}` levels (after a stretch
    to its own range) and binned into bins of :math:`1 + \\lfloor G/B \\rfloor` levels. Tile
    :math:`t` (of :math:`N_t = k_0 k_1` pixels; the grid starts at the first pixel and the last
    tiles reach into a mirrored border) has histogram :math:`h_t`, clipped at
    :math:`\\beta = \\max(\\lfloor c N_t \\rfloor, 1)` with the excess redistributed
    (:func:`clip_histogram`), and mapping
    :math:`T_t(b) = \\lfloor \\tfrac{G - 1}{N_t} \\sum_{b' \\le b} \\tilde h_t(b') \\rfloor`.
    A pixel of bin :math:`b` gets the bilinear blend of the mappings of its four nearest tiles,
    :math:`\\sum_{i, j \\in \\{0, 1\\}} w^{(0)}_i w^{(1)}_j T_{t_{ij}}(b)`, with weights
    :math:`w_1 = r / k`, :math:`w_0 = 1 - w_1` from the pixel's offset :math:`r` past the
    earlier tile's reference row (or column) ``k // 2`` (tiles beyond the border repeat the last
    one). The result is truncated to an integer level and stretched to [0, 1].

    These are exactly the conventions of :func:`skimage.exposure.equalize_adapthist` (0.26)
    (including its float32 accumulation of the blend), which serves as the reference in the
    tests; note that its ``clip_limit`` is relative to the tile's pixel count, whereas OpenCV's
    ``clipLimit`` is relative to the mean bin count (pixel count / bins).

    References
    ----------
    S. M. Pizer et al., "Adaptive histogram equalization and its variations", Computer Vision,
    Graphics, and Image Processing 39 (1987) 355-368. K. Zuiderveld, "Contrast limited adaptive
    histogram equalization", Graphics Gems IV, 1994.
    """
    img, clip, kernel, nb = _check_clahe_args(image, clip_limit, kernel_size, nbins)
    bins = _quantise(img, nb)
    maps, (n0, n1) = _tile_maps(bins, kernel, clip, nb)
    flat = maps.ravel().astype(np.float64)

    def axis_weights(size, k, n):
        p = np.arange(size) + k // 2          # position in scikit-image's padded image
        frac = (np.arange(k) / k)[p % k]      # weight of the later tile
        later = np.minimum(p // k, n - 1)     # tiles beyond the border repeat the last one
        earlier = np.clip(p // k - 1, 0, n - 1)
        return (earlier, later), (1.0 - frac, frac)

    (r_tiles, r_w) = axis_weights(img.shape[0], kernel[0], n0)
    (c_tiles, c_w) = axis_weights(img.shape[1], kernel[1], n1)
    bins = bins.astype(np.intp)
    r_base = [r_tiles[i] * (n1 * nb) for i in (0, 1)]
    c_base = [(c_tiles[j] * nb)[None, :] for j in (0, 1)]
    levels = np.empty(img.shape, dtype=np.uint16)
    rows = max(1, 131072 // img.shape[1])     # blend a band of rows at a time, in cache
    for start in range(0, img.shape[0], rows):
        band = slice(start, start + rows)
        acc = np.zeros(bins[band].shape, dtype=np.float32)
        for i in (0, 1):
            tile_and_bin = bins[band] + r_base[i][band, None]
            for j in (0, 1):
                term = np.take(flat, tile_and_bin + c_base[j])
                term *= r_w[i][band, None] * c_w[j][None, :]
                acc += term.astype(np.float32)    # scikit-image sums in float32
        levels[band] = acc                         # truncated to an integer level
    lo, hi = int(levels.min()), int(levels.max())
    if lo == hi:
        return np.full(img.shape, min(float(lo), 1.0))
    stretch = (np.arange(GREY_LEVELS, dtype=np.float64) - lo) / (hi - lo)
    return stretch[levels]


# ---------------------------------------------------------------------------------------------
# The lung field
# ---------------------------------------------------------------------------------------------
def _closing_by_disc(mask: np.ndarray, radius: float) -> np.ndarray:
    """Binary closing by a Euclidean disc of ``radius`` pixels (two distance transforms)."""
    if radius <= 0 or not mask.any():
        return mask.copy()
    dilated = ndimage.distance_transform_edt(~mask) <= radius
    if dilated.all():          # a disc wider than the image: nothing left to erode from
        return dilated
    return ndimage.distance_transform_edt(dilated) > radius


def lung_field_mask(image, *, threshold: float | None = None, smoothing_px: float = 2.0,
                    closing_px: float = 20.0) -> np.ndarray:
    """A classical lung-field mask of a frontal chest radiograph (MONOCHROME2 sense).

    Parameters
    ----------
    image : array_like, shape (rows, cols)
        The radiograph with higher values brighter (more attenuation), as
        :func:`medlib.xray.to_monochrome2` returns it (any scale).
    threshold : float or None, optional
        Pixels of the smoothed image below it are candidate lung (air is dark). Default
        ``None``: Otsu's threshold of the smoothed image (:func:`skimage.filters.threshold_otsu`).
    smoothing_px : float, optional
        Standard deviation, in pixels, of the Gaussian applied before thresholding, >= 0
        (default 2).
    closing_px : float, optional
        Radius, in pixels, of the disc that closes the mask (vessels, nodules and rib edges that
        the threshold cut out), >= 0 (default 20, for a radiograph of about 1000 pixels across).

    Returns
    -------
    numpy.ndarray of bool, shape of ``image``
        The (at most) two largest dark components that do not touch the image border, closed
        and with their holes filled. All False if the threshold finds no such component.

    Raises
    ------
    TypeError
        If ``image`` is not a real array or an option is not a real number.
    ValueError
        If ``image`` is not 2D, is empty or holds NaN/inf, or an option is negative, or
        ``smoothing_px`` exceeds the image size.

    Notes
    -----
    Threshold, drop the dark regions connected to the border (the air around the patient and
    above the shoulders), keep the two largest components (the lungs), close and fill. Its limits
    are those of any threshold: it finds dark, aerated lung only. Lung behind the heart and
    below the domes of the diaphragm, and any lung made dense by disease (consolidation,
    effusion, a large mass) are left out, that is the mask fails where a model most needs it; a
    lung touching the image edge is discarded with the background, and a gas-filled stomach or
    bowel can win the place of a collapsed lung. A learned segmentation (trained on a labelled
    set such as JSRT or Montgomery) is what a real pipeline uses.

    References
    ----------
    N. Otsu, "A threshold selection method from gray-level histograms", IEEE Trans. Systems,
    Man, and Cybernetics 9 (1979) 62-66. B. van Ginneken, M. B. Stegmann, M. Loog,
    "Segmentation of anatomical structures in chest radiographs using supervised methods",
    Medical Image Analysis 10 (2006) 19-40.
    """
    return lung_field_stages(image, threshold=threshold, smoothing_px=smoothing_px,
                             closing_px=closing_px)["mask"]


def lung_field_stages(image, *, threshold: float | None = None, smoothing_px: float = 2.0,
                      closing_px: float = 20.0) -> dict:
    """Every stage of :func:`lung_field_mask`, for display and inspection.

    Parameters
    ----------
    image, threshold, smoothing_px, closing_px
        As for :func:`lung_field_mask`.

    Returns
    -------
    dict
        ``"threshold"`` (float, in the units of ``image``: the one given, or Otsu's),
        ``"candidates"`` (bool array: smoothed image below the threshold), ``"inside"``
        (candidates not connected to the border), ``"lungs"`` (the two largest of those),
        ``"mask"`` (closed and filled: the result of :func:`lung_field_mask`).

    Raises
    ------
    TypeError, ValueError
        As for :func:`lung_field_mask`.
    """
    img = as_array(image, "image", ndim=2)
    sigma = as_scalar(smoothing_px, "smoothing_px", low=0.0, high=float(max(img.shape)))
    radius = as_scalar(closing_px, "closing_px", low=0.0)
    t = None if threshold is None else as_scalar(threshold, "threshold")
    # Work on the image scaled to [0, 1] so that huge or tiny scales neither overflow nor vanish.
    lo, span = float(img.min()), float(np.ptp(img))
    unit = (img - lo) / span if span > 0 else np.zeros_like(img)
    smooth = ndimage.gaussian_filter(unit, sigma) if sigma > 0 else unit
    if t is None:
        cut = threshold_otsu(smooth) if span > 0 else 0.0
        t = lo + cut * span
    else:
        cut = (t - lo) / span if span > 0 else (np.inf if t > lo else -np.inf)
    candidates = smooth < cut
    labels, n = ndimage.label(candidates)
    on_border = np.unique(np.concatenate([labels[0], labels[-1], labels[:, 0], labels[:, -1]]))
    sizes = np.bincount(labels.ravel(), minlength=n + 1)
    sizes[0] = 0                             # the background
    sizes[on_border] = 0
    inside = sizes[labels] > 0
    largest = np.argsort(sizes, kind="stable")[::-1][:2]
    largest = largest[sizes[largest] > 0]
    lungs = np.isin(labels, largest)
    mask = ndimage.binary_fill_holes(_closing_by_disc(lungs, radius))
    return {"threshold": float(t), "candidates": candidates, "inside": inside, "lungs": lungs,
            "mask": mask}


def lung_field_normalize(image, mask, *, keep_outside: bool = False) -> np.ndarray:
    """Normalise a radiograph with the mean and standard deviation inside the lung field only.

    Parameters
    ----------
    image : array_like, shape (rows, cols)
        The radiograph (any real values, any scale).
    mask : array_like of bool, shape of ``image``
        The lung field (True inside), e.g. from :func:`lung_field_mask`.
    keep_outside : bool, optional
        False (default): pixels outside the field are set to exactly 0, the field's mean, so they
        carry no signal. True: the same map is applied to every pixel, so the surroundings keep
        their contrast on the field's scale.

    Returns
    -------
    numpy.ndarray of float64, shape of ``image``
        :math:`(I - \\mu_L) / \\sigma_L` inside the field (mean 0, standard deviation 1 there),
        0 or the same map outside.

    Raises
    ------
    TypeError
        If ``image`` or ``mask`` is not a numeric array or ``keep_outside`` is not a bool.
    ValueError
        If the shapes differ, ``image`` holds NaN/inf, ``mask`` is not boolean or selects no
        pixel, or the image is constant inside the field.

    Notes
    -----
    :formula:`pre.lung-field-normalize`. With :math:`L` the field and :math:`|L|` its pixel count,
    :math:`\\mu_L = \\frac{1}{|L|}\\sum_{r \\in L} I(r)` and
    :math:`\\sigma_L^2 = \\frac{1}{|L|}\\sum_{r \\in L} (I(r) - \\mu_L)^2` (population variance).
    Values outside the field never enter the statistics, so a collimator edge, a marker or the
    air around the patient cannot shift the lung values. The seed multiplies by the mask first
    and normalises afterwards, which sends the outside to :math:`-\\mu_L/\\sigma_L`, not to 0.
    """
    img = as_array(image, "image", ndim=2)
    field = as_mask(mask, "mask")
    if field.shape != img.shape:
        raise ValueError(f"mask must have the shape of image {img.shape}, got {field.shape}")
    keep = as_bool(keep_outside, "keep_outside")
    if not field.any():
        raise ValueError("mask selects no pixel: the lung field is empty")
    inside = img[field]
    scale = float(np.abs(inside).max())   # divide first: no overflow for huge values
    z = inside / scale if scale > 0 else inside
    mu = z.mean()
    sigma = np.sqrt(np.mean((z - mu) ** 2))
    if not sigma > 0 or sigma < 1e-12 * max(abs(mu), 1e-300):
        raise ValueError("image is constant inside the lung field (mask): its standard deviation "
                         "is 0, nothing to normalise by")
    out = (img / (scale if scale > 0 else 1.0) - mu) / sigma
    if not keep:
        out[~field] = 0.0
    return out
