"""N4 bias field correction (Tustison et al. 2010), the real algorithm, in NumPy.

Taught in ``chapters/prep-mri/n4.ipynb``. N4 alternates two steps in the log domain, where the
bias is an additive smooth term ``log I = log B + log I0``:

1. *Histogram sharpening* (from N3, Sled et al. 1998): the histogram of the current log image is
   modelled as the true histogram blurred by a Gaussian (the spread the field adds); it is
   deconvolved by a Wiener filter and every voxel is moved to the expected true intensity
   ``E[u | v]``. The difference ``v - E[u | v]`` is a noisy estimate of the residual log field.
2. *B-spline fitting*: that residual is smoothed by fitting a cubic tensor-product B-spline on a
   coarse lattice of control points, and added to the field estimate.

It iterates until the coefficient of variation of the field's update falls below a threshold,
over several fitting levels that double the lattice resolution, on an image shrunk by an
integer factor; the final smooth field is evaluated at full resolution.

Conventions follow ITK's ``N4BiasFieldCorrectionImageFilter`` (the implementation of the paper's
authors, which SimpleITK wraps): a 200-bin histogram built with triangular (linear) Parzen
windows between the minimum and maximum log intensity inside the mask, zero-padded to a power of
two; a Gaussian of FWHM 0.15 (log units) and a Wiener noise of 0.01; the mapping ``E[u | v]``
interpolated linearly; a convergence measure equal to the coefficient of variation of
``exp(old - new)`` over the mask; 4 control points per axis at the first level; each level's
lattice refines the previous one (mesh doubled). One difference, by design: ITK fits the
B-spline with ``BSplineScatteredDataPointSetToImageFilter`` (the multilevel B-spline
approximation of Lee, Wolberg and Shin 1997, a local weighted average of per-point solutions);
here each level's lattice is the ridge-regularised least-squares fit, solved exactly through the
normal equations, which are built from separable per-axis basis matrices (the Gram matrix is
computed once per level and factorised once).
"""
from __future__ import annotations

import dataclasses
import math
from collections.abc import Sequence

import numpy as np
from scipy import linalg

from .._validate import as_array, as_choice, as_int, as_mask, as_scalar

__all__ = [
    "N4Result",
    "bspline_basis",
    "fit_bspline_field",
    "evaluate_bspline_field",
    "n4_correct",
    "n4_histograms",
    "n4_sharpen",
]

MAX_CONTROL_POINTS = 6000  # unknowns of one level's dense normal equations (290 MB of float64)


# ---------------------------------------------------------------------------------------------
# Histogram sharpening
# ---------------------------------------------------------------------------------------------
def _check_sharpening(values, fwhm, wiener_noise, n_bins):
    v = as_array(values, "values", ndim=1)
    f = as_scalar(fwhm, "fwhm", low=0.0, high=10.0, low_inclusive=False)
    w = as_scalar(wiener_noise, "wiener_noise", low=0.0, high=10.0, low_inclusive=False)
    nb = as_int(n_bins, "n_bins", low=2, high=1 << 16)
    return v, f, w, nb


def _sharpening(v: np.ndarray, fwhm: float, wiener_noise: float, n_bins: int):
    """Histogram, Wiener-deconvolved histogram and mapping E[u|v] on the bin centres."""
    lo, hi = float(v.min()), float(v.max())
    centres = np.linspace(lo, hi, n_bins)
    if not hi > lo:      # one value: nothing to sharpen
        h = np.zeros(n_bins)
        h[0] = v.size
        return centres, h, h.copy(), centres.copy()
    slope = (hi - lo) / (n_bins - 1)
    # Histogram with triangular Parzen windows: each value shares its unit weight between the
    # two nearest bin centres (ITK's scheme).
    cidx = (v - lo) / slope
    idx = np.minimum(np.floor(cidx).astype(np.int64), n_bins - 1)
    frac = cidx - idx
    h = np.bincount(idx, 1.0 - frac, minlength=n_bins + 1)
    h += np.bincount(idx + 1, frac, minlength=n_bins + 1)
    h = h[:n_bins]
    # Zero-pad to a power of two (twice the next one, as ITK), histogram in the middle.
    size = 2 ** (math.ceil(math.log2(n_bins)) + 1)
    offset = (size - n_bins) // 2
    padded = np.zeros(size)
    padded[offset:offset + n_bins] = h
    # The Gaussian that models the field's blur, in bins, on the circle of the padded FFT.
    fwhm_bins = fwhm / slope
    dist = np.minimum(np.arange(size), size - np.arange(size)).astype(float)
    gauss = (2.0 * math.sqrt(math.log(2.0) / math.pi) / fwhm_bins
             * np.exp(-4.0 * math.log(2.0) * dist ** 2 / fwhm_bins ** 2))
    gauss_f = np.fft.fft(gauss).real          # symmetric kernel: a real spectrum
    wiener = gauss_f / (gauss_f ** 2 + wiener_noise)
    u = np.maximum(np.fft.ifft(np.fft.fft(padded) * wiener).real, 0.0)
    # E[u | v]: the mean true intensity given the observed one, the ratio of two smoothings.
    bin_values = lo + (np.arange(size) - offset) * slope
    num = np.fft.ifft(np.fft.fft(bin_values * u) * gauss_f).real
    den = np.fft.ifft(np.fft.fft(u) * gauss_f).real
    with np.errstate(divide="ignore", invalid="ignore"):
        e = np.where(den != 0.0, num / den, 0.0)
    return centres, h, u[offset:offset + n_bins], e[offset:offset + n_bins]


def n4_histograms(values, *, fwhm: float = 0.15, wiener_noise: float = 0.01,
                  n_bins: int = 200) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """The histograms and the intensity mapping of one N4 sharpening step (for figures).

    Parameters
    ----------
    values : array_like, 1D
        Log intensities inside the mask (``log I - log B``, the current uncorrected estimate).
    fwhm : float, optional
        Full width at half maximum of the Gaussian that models the blur of the histogram by the
        field, in log-intensity units (default 0.15, ITK's).
    wiener_noise : float, optional
        The Wiener filter's noise term (default 0.01, ITK's): larger values deconvolve less.
    n_bins : int, optional
        Number of histogram bins between the minimum and the maximum (default 200).

    Returns
    -------
    centres : numpy.ndarray, shape (n_bins,)
        Bin centres (log intensity).
    observed : numpy.ndarray, shape (n_bins,)
        The histogram (triangular Parzen windows: each value splits its unit weight between the
        two nearest centres).
    deconvolved : numpy.ndarray, shape (n_bins,)
        The Wiener-deconvolved histogram ``U = F^* V / (|F|^2 + noise)``, clipped at 0, in the
        same (unnormalised) units as the FFT's round trip.
    mapping : numpy.ndarray, shape (n_bins,)
        ``E[u | v]`` at each centre: ``(F * (u U)) / (F * U)``.

    Raises
    ------
    ValueError
        If ``values`` is empty or not finite, or a parameter is out of range.

    Notes
    -----
    Implements the sharpening half of :formula:`pre.n4`.
    """
    v, f, w, nb = _check_sharpening(values, fwhm, wiener_noise, n_bins)
    return _sharpening(v, f, w, nb)


def n4_sharpen(values, *, fwhm: float = 0.15, wiener_noise: float = 0.01,
               n_bins: int = 200) -> np.ndarray:
    """Sharpen log intensities by Wiener deconvolution of their histogram (N3/N4's step 1).

    Parameters
    ----------
    values : array_like, 1D
        Log intensities inside the mask.
    fwhm, wiener_noise, n_bins
        As :func:`n4_histograms`.

    Returns
    -------
    numpy.ndarray, shape values.shape
        ``E[u | v]`` at each value, interpolated linearly between bin centres; ``values`` minus
        this is the residual log field that N4 then smooths.

    Raises
    ------
    ValueError
        If ``values`` is empty or not finite, or a parameter is out of range.

    Notes
    -----
    Implements :formula:`pre.n4` (sharpening): with ``V`` the histogram of ``v = log I``, ``F``
    a Gaussian of the given FWHM, the deconvolved histogram is
    ``U = F^* V / (|F|^2 + noise)`` (in Fourier space) and the mapping is
    ``E[u | v] = (F * (u U))(v) / (F * U)(v)``.

    References
    ----------
    J. G. Sled, A. P. Zijdenbos, A. C. Evans, "A nonparametric method for automatic correction
    of intensity nonuniformity in MRI data", IEEE TMI 17(1), 87-97, 1998.
    """
    v, f, w, nb = _check_sharpening(values, fwhm, wiener_noise, n_bins)
    centres, _, _, mapping = _sharpening(v, f, w, nb)
    if centres[-1] == centres[0]:
        return v.copy()
    return np.interp(v, centres, mapping)


# ---------------------------------------------------------------------------------------------
# Cubic B-splines on a uniform lattice
# ---------------------------------------------------------------------------------------------
def _basis(positions: np.ndarray, length: int, n_control: int) -> np.ndarray:
    mesh = n_control - 3
    u = positions * (mesh / max(length - 1, 1))
    span = np.clip(np.floor(u).astype(np.int64), 0, mesh - 1)
    t = u - span
    weights = np.stack([(1 - t) ** 3, 3 * t ** 3 - 6 * t ** 2 + 4,
                        -3 * t ** 3 + 3 * t ** 2 + 3 * t + 1, t ** 3], axis=1) / 6.0
    out = np.zeros((positions.size, n_control))
    rows = np.arange(positions.size)[:, None]
    out[rows, span[:, None] + np.arange(4)] = weights
    return out


def bspline_basis(positions, length: int, n_control: int) -> np.ndarray:
    """Uniform cubic B-spline basis functions of one axis, sampled at positions.

    Parameters
    ----------
    positions : array_like, 1D
        Voxel indices along the axis (fractional allowed), within ``[0, length - 1]``.
    length : int
        Number of voxels of the axis; the spline's domain is ``[0, length - 1]``.
    n_control : int
        Number of control points, >= 4 (``n_control - 3`` spline spans over the domain).

    Returns
    -------
    numpy.ndarray, shape (len(positions), n_control)
        Row ``i`` holds the values of the ``n_control`` basis functions at ``positions[i]``:
        four non-zero entries, the cubic B-spline weights
        ``((1-t)^3, 3t^3 - 6t^2 + 4, -3t^3 + 3t^2 + 3t + 1, t^3) / 6`` of the local coordinate
        ``t`` in the span; every row sums to 1.

    Raises
    ------
    ValueError
        If a position is outside the domain, or ``length`` < 1, or ``n_control`` < 4.

    Notes
    -----
    Supports :formula:`pre.n4` (the smooth field). The same functions as SciPy's
    ``BSpline.design_matrix`` with uniform knots ``-3, ..., n_control`` in span units.
    """
    n = as_int(length, "length", low=1, high=1 << 24)
    nc = as_int(n_control, "n_control", low=4, high=4096)
    p = as_array(positions, "positions", ndim=1, low=0.0)
    if p.max() > n - 1:
        raise ValueError(f"positions must lie in the domain [0, length - 1] = [0, {n - 1}] of "
                         f"length={n}, got a maximum of {p.max()}")
    return _basis(p, n, nc)


def _project(values: np.ndarray, bases: Sequence[np.ndarray]) -> np.ndarray:
    """``Phi^T values`` for the tensor-product basis: one contraction per axis."""
    out = values
    for b in bases:
        out = np.tensordot(out, b, axes=([0], [0]))    # axis consumed in front, c_d appended
    return out


def _evaluate(coefficients: np.ndarray, bases: Sequence[np.ndarray]) -> np.ndarray:
    """``Phi c`` for the tensor-product basis."""
    out = coefficients
    for b in bases:
        out = np.tensordot(out, b, axes=([0], [1]))
    return out


def _gram(weights: np.ndarray, bases: Sequence[np.ndarray]) -> np.ndarray:
    """``Phi^T W Phi`` (dense, control points in C order), by separable contractions."""
    nd = len(bases)
    g = weights
    for d in reversed(range(nd)):
        b = bases[d]
        g = np.tensordot(g, b[:, :, None] * b[:, None, :], axes=([d], [0]))
    # g's axes: (c_{D-1}, c'_{D-1}, ..., c_0, c'_0) -> (c_0, ..., c_{D-1}, c'_0, ..., c'_{D-1})
    order = [2 * (nd - 1 - d) for d in range(nd)] + [2 * (nd - 1 - d) + 1 for d in range(nd)]
    size = int(np.prod([b.shape[1] for b in bases]))
    return g.transpose(order).reshape(size, size)


class _Fitter:
    """One lattice's fit on one grid and mask: least squares (factorised once) or ITK's MBA."""

    def __init__(self, bases, mask: np.ndarray, method: str, ridge: float):
        self.bases = bases
        self.mask = mask
        self.method = method
        self.shape = tuple(b.shape[1] for b in bases)
        if method == "lstsq":
            gram = _gram(mask.astype(float), bases)
            scale = float(np.mean(np.diag(gram)))
            gram[np.diag_indices_from(gram)] += ridge * scale
            self.factor = linalg.cho_factor(gram, lower=True, check_finite=False)
        else:
            # Multilevel B-spline approximation (Lee et al. 1997), one level: every point p asks
            # each of its control points c for phi_pc = w_pc r_p / sum_c' w_pc'^2 (the smallest
            # change that interpolates it alone); a control point takes the w_pc^2-weighted
            # mean of the requests. sum_c' w_pc'^2 and both sums over p are separable.
            self.squares = [b ** 2 for b in bases]
            self.cubes = [b ** 3 for b in bases]
            norm = np.ones(())
            for sq in self.squares:
                norm = np.multiply.outer(norm, sq.sum(axis=1))
            self.inv_norm = np.where(mask, 1.0 / norm, 0.0)
            den = _project(mask.astype(float), self.squares)
            self.inv_den = np.where(den > 0, 1.0 / np.where(den > 0, den, 1.0), 0.0)

    def fit(self, values: np.ndarray) -> np.ndarray:
        if self.method == "lstsq":
            rhs = _project(np.where(self.mask, values, 0.0), self.bases).ravel()
            return linalg.cho_solve(self.factor, rhs, check_finite=False).reshape(self.shape)
        return _project(values * self.inv_norm, self.cubes) * self.inv_den


def _check_lattice(n_control, ndim: int, name: str = "n_control") -> tuple[int, ...]:
    if isinstance(n_control, (list, tuple, np.ndarray)):
        counts = tuple(as_int(c, f"{name}[{i}]", low=4, high=4096)
                       for i, c in enumerate(n_control))
        if len(counts) != ndim:
            raise ValueError(f"{name} must have one entry per axis ({ndim}), got {len(counts)}")
    else:
        counts = (as_int(n_control, name, low=4, high=4096),) * ndim
    return counts


def _check_field_inputs(values, mask):
    v = as_array(values, "values", ndim=(2, 3))
    if mask is None:
        m = np.ones(v.shape, bool)
    else:
        m = as_mask(mask, "mask")
        if m.shape != v.shape:
            raise ValueError(f"mask must have the shape of values {v.shape}, got {m.shape}")
    if not m.any():
        raise ValueError("mask selects no voxel")
    return v, m


def fit_bspline_field(values, n_control, *, mask=None, method: str = "mba",
                      ridge: float = 1e-3) -> np.ndarray:
    """Fit a smooth cubic B-spline field to an image's values inside a mask.

    Parameters
    ----------
    values : array_like, 2D or 3D
        The samples to approximate (N4 passes the residual log field).
    n_control : int or sequence of int
        Control points per axis (>= 4), one number for every axis or one per axis.
    mask : array_like of bool, optional
        The voxels that count (default: all).
    method : {"mba", "lstsq"}, optional
        ``"mba"`` (default): one level of the B-spline approximation of Lee, Wolberg and Shin
        (1997) that ITK's ``BSplineScatteredDataPointSetToImageFilter`` (and so N4) uses: each
        voxel ``p`` asks each of its 4^d control points ``c`` for
        ``phi_pc = w_pc r_p / sum_c' w_pc'^2``, and a control point takes the mean of its
        requests weighted by ``w_pc^2``; a smoothing approximation, not a best fit.
        ``"lstsq"``: the control-point lattice ``c`` minimising
        ``sum_mask (values - Phi c)^2 + ridge * mean(diag(Phi^T Phi)) * |c|^2``.
    ridge : float, optional
        For ``"lstsq"``: Tikhonov weight relative to the mean diagonal of the normal matrix
        (default 1e-3), > 0, which keeps control points that no masked voxel supports at 0.

    Returns
    -------
    numpy.ndarray, shape (n_control per axis)
        The control-point lattice; evaluate it with :func:`evaluate_bspline_field`. Control
        points that no masked voxel touches are 0.

    Raises
    ------
    ValueError
        If values are not finite, the mask is empty or of another shape, ``method`` is unknown,
        or a least-squares lattice has more than 6000 control points.

    Notes
    -----
    Supports :formula:`pre.n4` (the smooth field). Both methods are computed from per-axis basis
    matrices (:func:`bspline_basis`): the sums over voxels of products of basis functions are
    separable, one tensor contraction per axis, with no loop over voxels.

    References
    ----------
    S. Lee, G. Wolberg, S. Y. Shin, "Scattered data interpolation with multilevel B-splines",
    IEEE TVCG 3(3), 228-244, 1997.
    """
    v, m = _check_field_inputs(values, mask)
    counts = _check_lattice(n_control, v.ndim)
    how = as_choice(method, "method", ("mba", "lstsq"))
    if how == "lstsq" and math.prod(counts) > MAX_CONTROL_POINTS:
        raise ValueError(f"n_control gives {math.prod(counts)} control points, more than "
                         f"{MAX_CONTROL_POINTS}")
    lam = as_scalar(ridge, "ridge", low=0.0, high=1e6, low_inclusive=False)
    bases = [_basis(np.arange(n, dtype=float), n, c) for n, c in zip(v.shape, counts)]
    return _Fitter(bases, m, how, lam).fit(v)


def evaluate_bspline_field(coefficients, shape) -> np.ndarray:
    """Evaluate a cubic B-spline control-point lattice on an image grid.

    Parameters
    ----------
    coefficients : array_like, 2D or 3D, >= 4 control points per axis
        The lattice (as returned by :func:`fit_bspline_field`).
    shape : tuple of int
        The image's shape; the lattice spans the whole grid, voxel 0 to voxel n - 1 per axis.

    Returns
    -------
    numpy.ndarray, shape ``shape``
        ``sum_ijk c_ijk B_i(z) B_j(y) B_k(x)``.

    Raises
    ------
    ValueError
        If the lattice and the shape have different numbers of axes, or an axis of the lattice
        has fewer than 4 control points.
    """
    c = as_array(coefficients, "coefficients", ndim=(2, 3))
    if isinstance(shape, (str, bytes)) or not hasattr(shape, "__len__"):
        raise TypeError(f"shape must be a tuple of integers, got {type(shape).__name__}")
    if len(shape) != c.ndim:
        raise ValueError(f"shape must have {c.ndim} entries (the lattice's axes), got {len(shape)}")
    dims = tuple(as_int(s, f"shape[{i}]", low=1, high=1 << 14) for i, s in enumerate(shape))
    if min(c.shape) < 4:
        raise ValueError(f"coefficients must have at least 4 control points per axis, "
                         f"got {c.shape}")
    if math.prod(dims) > 1 << 28:
        raise ValueError(f"shape {dims} is too large")
    bases = [_basis(np.arange(n, dtype=float), n, k) for n, k in zip(dims, c.shape)]
    return _evaluate(c, bases)


# ---------------------------------------------------------------------------------------------
# N4
# ---------------------------------------------------------------------------------------------
@dataclasses.dataclass(frozen=True, eq=False)
class N4Result:
    """What :func:`n4_correct` returns.

    Attributes
    ----------
    corrected : numpy.ndarray
        ``image / field``, full resolution.
    field : numpy.ndarray
        The estimated multiplicative bias field ``B = exp(log_field)``, full resolution, defined
        up to a constant factor (N4 does not fix the mean).
    log_field : numpy.ndarray
        Its logarithm.
    convergence : tuple of numpy.ndarray
        Per fitting level, the convergence measure after each iteration (the coefficient of
        variation of ``exp(old - new)`` over the mask).
    mask : numpy.ndarray of bool
        The voxels used, at the working (shrunk) resolution.
    """

    corrected: np.ndarray
    field: np.ndarray
    log_field: np.ndarray
    convergence: tuple
    mask: np.ndarray

    @property
    def n_iterations(self) -> tuple[int, ...]:
        """Iterations run at each fitting level."""
        return tuple(len(c) for c in self.convergence)


def _check_iterations(n_iterations) -> tuple[int, ...]:
    if isinstance(n_iterations, (str, bytes)) or not isinstance(
            n_iterations, (list, tuple, np.ndarray)):
        raise TypeError("n_iterations must be a sequence of iteration counts, one per fitting "
                        f"level, got {type(n_iterations).__name__}")
    its = tuple(as_int(n, f"n_iterations[{i}]", low=1, high=10_000)
                for i, n in enumerate(np.asarray(n_iterations, dtype=object).ravel()))
    if not 1 <= len(its) <= 8:
        raise ValueError(f"n_iterations must have 1 to 8 entries (fitting levels), got {len(its)}")
    return its


def n4_correct(image, *, mask=None, shrink=4, n_iterations=(50, 50, 50, 50),
               convergence_threshold: float = 0.001, n_control=4, fwhm: float = 0.15,
               wiener_noise: float = 0.01, n_bins: int = 200, fit: str = "mba",
               ridge: float = 1e-3) -> N4Result:
    """N4 bias field correction (Tustison et al. 2010) of a 2D or 3D MR image.

    Parameters
    ----------
    image : array_like, 2D or 3D
        The MR image (any positive units); voxels <= 0 have no logarithm and are left out of
        the estimation.
    mask : array_like of bool, optional
        The voxels that estimate the field (e.g. the brain); intersected with ``image > 0``
        (default: ``image > 0``). The field is evaluated and the image corrected everywhere.
    shrink : int or sequence of int, optional
        Integer subsampling factor of the working grid, one for all axes or one per axis in
        ``(z, y, x)`` order (default 4, ANTs' usual; use 1 along thick slices). The field is a
        smooth B-spline, evaluated at full resolution at the end.
    n_iterations : sequence of int, optional
        Maximum iterations per fitting level; its length is the number of levels (default
        ``(50, 50, 50, 50)``, SimpleITK's). Each level doubles the lattice's mesh.
    convergence_threshold : float, optional
        A level stops when the coefficient of variation of ``exp(old - new)`` over the mask
        falls to or below this (default 0.001; 0 runs every iteration).
    n_control : int or sequence of int, optional
        Control points per axis at the first level (default 4: one cubic span; level ``l`` has
        ``(n_control - 3) 2^l + 3``).
    fwhm, wiener_noise, n_bins
        Histogram sharpening, as :func:`n4_sharpen` (defaults 0.15, 0.01, 200, ITK's).
    fit : {"mba", "lstsq"}, optional
        How each residual is fitted by the level's B-spline (:func:`fit_bspline_field`):
        ``"mba"`` (default) as ITK, or regularised least squares.
    ridge : float, optional
        Relative Tikhonov weight of the ``"lstsq"`` fit.

    Returns
    -------
    N4Result
        The corrected image, the field and its log, the convergence curve per level, the mask.

    Raises
    ------
    ValueError
        If the image is not finite, the mask selects no positive voxel, ``shrink`` leaves an
        axis with fewer than 2 samples, or a parameter is out of range.

    Notes
    -----
    Implements :formula:`pre.n4`. With ``v = log I - log B_hat`` (the current log estimate of
    the true image) at the masked voxels, one iteration computes the sharpened ``E[u | v]``
    (:func:`n4_sharpen`), the residual ``r = v - E[u | v]``, fits the B-spline ``Phi dc ~ r``
    on the level's lattice and updates ``log B_hat += Phi dc``; convergence is measured by
    ``CV(exp(-Phi dc))`` over the mask, as ITK does. The lattice of the final field is the sum
    of the levels' lattices (each level's space contains the previous one, as ITK's refinement).

    References
    ----------
    N. J. Tustison, B. B. Avants, P. A. Cook, Y. Zheng, A. Egan, P. A. Yushkevich, J. C. Gee,
    "N4ITK: improved N3 bias correction", IEEE TMI 29(6), 1310-1320, 2010.
    """
    img = as_array(image, "image", ndim=(2, 3))
    if isinstance(shrink, (list, tuple, np.ndarray)):
        factors = tuple(as_int(f_, f"shrink[{i}]", low=1, high=64) for i, f_ in enumerate(shrink))
        if len(factors) != img.ndim:
            raise ValueError(f"shrink must have one factor per axis ({img.ndim}), got "
                             f"{len(factors)}")
    else:
        factors = (as_int(shrink, "shrink", low=1, high=64),) * img.ndim
    its = _check_iterations(n_iterations)
    threshold = as_scalar(convergence_threshold, "convergence_threshold", low=0.0, high=1.0)
    counts0 = _check_lattice(n_control, img.ndim)
    f = as_scalar(fwhm, "fwhm", low=0.0, high=10.0, low_inclusive=False)
    w = as_scalar(wiener_noise, "wiener_noise", low=0.0, high=10.0, low_inclusive=False)
    nb = as_int(n_bins, "n_bins", low=2, high=1 << 16)
    how = as_choice(fit, "fit", ("mba", "lstsq"))
    lam = as_scalar(ridge, "ridge", low=0.0, high=1e6, low_inclusive=False)
    if mask is None:
        full_mask = img > 0
    else:
        full_mask = as_mask(mask, "mask")
        if full_mask.shape != img.shape:
            raise ValueError(f"mask must have the shape of image {img.shape}, got "
                             f"{full_mask.shape}")
        full_mask = full_mask & (img > 0)
    if not full_mask.any():
        raise ValueError("mask selects no voxel where image > 0")
    if any(n // f_ < 2 for n, f_ in zip(img.shape, factors)):
        raise ValueError(f"shrink={shrink} leaves fewer than 2 samples along an axis of an image "
                         f"of shape {img.shape}")
    levels = [tuple((c - 3) * 2 ** lev + 3 for c in counts0) for lev in range(len(its))]
    if how == "lstsq" and math.prod(levels[-1]) > MAX_CONTROL_POINTS:
        raise ValueError(f"n_iterations gives {len(its)} fitting levels and {levels[-1]} control "
                         f"points at the last, more than {MAX_CONTROL_POINTS} in all; use fewer "
                         f"levels or a smaller n_control")

    # The working grid: every f-th voxel, centred in its block; positions in full-res indices.
    positions = [(f_ - 1) // 2 + f_ * np.arange(n // f_, dtype=float)
                 for n, f_ in zip(img.shape, factors)]
    index = np.ix_(*[p.astype(np.int64) for p in positions])
    work = img[index]
    m = full_mask[index]
    if not m.any():
        raise ValueError(f"mask selects no voxel on the grid shrunk by shrink={shrink}")
    log_input = np.zeros(work.shape)
    log_input[m] = np.log(work[m])

    log_field = np.zeros(work.shape)
    lattices = []
    curves = []
    for lattice_shape, max_it in zip(levels, its):
        bases = [_basis(p, n, c) for p, n, c in zip(positions, img.shape, lattice_shape)]
        fitter = _Fitter(bases, m, how, lam)
        coefficients = np.zeros(lattice_shape)
        curve = []
        measure = np.inf
        while len(curve) < max_it and measure > threshold:
            v = log_input[m] - log_field[m]
            residual = np.zeros(work.shape)
            residual[m] = v - _sharpen_values(v, f, w, nb)
            delta = fitter.fit(residual)
            coefficients += delta
            update = _evaluate(delta, bases)
            log_field += update
            ratio = np.exp(-update[m])
            measure = float(ratio.std(ddof=1) / ratio.mean()) if ratio.size > 1 else 0.0
            curve.append(measure)
        lattices.append(coefficients)
        curves.append(np.asarray(curve))

    full = np.zeros(img.shape)
    for coefficients in lattices:
        full_bases = [_basis(np.arange(n, dtype=float), n, c)
                      for n, c in zip(img.shape, coefficients.shape)]
        full += _evaluate(coefficients, full_bases)
    field = np.exp(full)
    return N4Result(corrected=img / field, field=field, log_field=full,
                    convergence=tuple(curves), mask=m)


def _sharpen_values(v: np.ndarray, fwhm: float, wiener_noise: float, n_bins: int) -> np.ndarray:
    centres, _, _, mapping = _sharpening(v, fwhm, wiener_noise, n_bins)
    if centres[-1] == centres[0]:
        return v.copy()
    return np.interp(v, centres, mapping)
