"""PET and SPECT: radioactive decay, the Poisson forward model, and MLEM/OSEM reconstruction.

Taught in ``chapters/pet-spect/`` (sections 6.1-6.3 of the key formulas): ``decay.ipynb``
(decay, half-life, activity, decay correction), ``forward-model.ipynb`` (a sparse parallel-beam
system matrix, expected counts with a randoms/scatter background, Poisson sampling, phantoms) and
``mlem-osem.ipynb`` (likelihood, MLEM, OSEM).

Layout of the data
------------------
An image of ``n x n`` pixels is the vector ``x = image.ravel()`` (row-major, ``(row, col)``).
A sinogram has the layout of :func:`skimage.transform.radon`, shape ``(n_bins, n_angles)``, and
its vector is ``sinogram.ravel()``: row ``i = bin * n_angles + angle`` of the system matrix.
Times are in seconds, activities in becquerel.
"""
from __future__ import annotations

from typing import NamedTuple

import numpy as np
from scipy import sparse, special

from . import noise
from ._validate import as_array, as_int, as_scalar
from .ct import circle_mask  # the reconstruction circle of the shared parallel-beam geometry

__all__ = [
    "NUCLIDES",
    "Nuclide",
    "activity",
    "brain_phantom",
    "circle_mask",
    "decay",
    "decay_constant",
    "decay_correction",
    "expected_counts",
    "half_life",
    "likelihood",
    "log_likelihood",
    "mlem",
    "osem",
    "sample_counts",
    "scale_to_counts",
    "system_matrix",
]


class Nuclide(NamedTuple):
    """Half-life of a radionuclide with its standard uncertainty and source."""

    half_life_s: float
    uncertainty_s: float
    source: str


#: Half-lives of the four workhorse nuclides of nuclear medicine (standard uncertainty, 1 sigma).
NUCLIDES: dict[str, Nuclide] = {
    "F-18": Nuclide(109.734 * 60, 0.008 * 60, "NUBASE2020 (Kondev et al. 2021): 109.734(8) min"),
    "Tc-99m": Nuclide(6.0072 * 3600, 0.0009 * 3600,
                      "ENSDF (Browne & Tuli 2017, Nucl. Data Sheets 145:25), NNDC: 6.0072(9) h"),
    "Ga-68": Nuclide(67.83 * 60, 0.20 * 60,
                     "DDEP evaluation (Kuzmenko 2019, Appl. Radiat. Isot. 152:188): 67.83(20) min"),
    "C-11": Nuclide(20.3402 * 60, 0.0053 * 60, "NUBASE2020 (Kondev et al. 2021): 20.3402(53) min"),
}


# --- 6.1 decay --------------------------------------------------------------------------------

def decay(n0, t_s, *, half_life_s: float) -> np.ndarray:
    """Number of nuclei left after a time t: N(t) = N0 exp(-lambda t).

    Parameters
    ----------
    n0 : array_like
        Initial number of nuclei N0 (>= 0); any quantity proportional to it (activity, counts
        per second) decays the same way.
    t_s : array_like
        Elapsed time t, s (negative values go back in time). Broadcast with ``n0``.
    half_life_s : float
        Half-life T1/2 (> 0), s; lambda = ln 2 / T1/2 (:func:`decay_constant`).

    Returns
    -------
    numpy.ndarray or float
        N(t).

    Raises
    ------
    ValueError
        If ``n0`` is negative or the half-life is not positive.

    Notes
    -----
    :formula:`pet.decay`. Each nucleus decays independently with probability lambda dt in dt, so
    dN/dt = -lambda N. After one half-life N = N0 / 2, after ten about N0 / 1000.
    """
    n = as_array(n0, "n0")
    t = as_array(t_s, "t_s")
    if np.any(n < 0):
        raise ValueError("n0 must be >= 0")
    lam = decay_constant(half_life_s)
    out = n * np.exp(-lam * t)
    return out if out.ndim else float(out)


def decay_constant(half_life_s: float) -> float:
    """Decay constant from the half-life: lambda = ln 2 / T1/2.

    Parameters
    ----------
    half_life_s : float
        Half-life (> 0), s.

    Returns
    -------
    float
        lambda in 1/s; 1/lambda is the mean life.

    Raises
    ------
    ValueError
        If the half-life is not positive.

    Notes
    -----
    :formula:`pet.half-life` (solved for lambda): exp(-lambda T1/2) = 1/2.
    """
    t_half = as_scalar(half_life_s, "half_life_s", low=0.0, low_inclusive=False)
    return float(np.log(2.0) / t_half)


def half_life(decay_constant_per_s: float) -> float:
    """Half-life from the decay constant: T1/2 = ln 2 / lambda (formula pet.half-life).

    Parameters
    ----------
    decay_constant_per_s : float
        lambda (> 0), 1/s.

    Returns
    -------
    float
        T1/2 in s.

    Raises
    ------
    ValueError
        If lambda is not positive.
    """
    lam = as_scalar(decay_constant_per_s, "decay_constant_per_s", low=0.0, low_inclusive=False)
    return float(np.log(2.0) / lam)


def activity(n_nuclei, *, half_life_s: float) -> np.ndarray:
    """Activity (decays per second) of N nuclei: A = lambda N.

    Parameters
    ----------
    n_nuclei : array_like
        Number of radioactive nuclei N (>= 0).
    half_life_s : float
        Half-life (> 0), s.

    Returns
    -------
    numpy.ndarray or float
        Activity in becquerel (1 Bq = 1 decay/s; 1 MBq = 1e6 Bq; 1 mCi = 37 MBq).

    Raises
    ------
    ValueError
        If N is negative or the half-life not positive.

    Notes
    -----
    :formula:`pet.activity`. A = -dN/dt. A 370 MBq FDG dose is only about 3.5e12 nuclei of F-18,
    some 1e-10 g: PET tracers are given in trace amounts.
    """
    n = as_array(n_nuclei, "n_nuclei")
    if np.any(n < 0):
        raise ValueError("n_nuclei must be >= 0")
    out = decay_constant(half_life_s) * n
    return out if out.ndim else float(out)


def decay_correction(t_s, *, half_life_s: float, frame_duration_s: float = 0.0) -> np.ndarray:
    """Factor that refers a measured activity back to a reference time.

    Parameters
    ----------
    t_s : array_like
        Time from the reference (e.g. injection) to the start of the measurement (>= 0), s.
    half_life_s : float
        Half-life (> 0), s.
    frame_duration_s : float, optional
        Length Delta of the acquisition frame (>= 0), s. The counts of a frame average the decaying
        activity over it, which adds the factor lambda Delta / (1 - exp(-lambda Delta)).

    Returns
    -------
    numpy.ndarray or float
        D = exp(lambda t) (times the frame factor); multiply the measured activity by D.

    Raises
    ------
    ValueError
        If a time is negative or the half-life not positive.

    Notes
    -----
    :formula:`pet.decay-correction`. An F-18 scan started 60 min after injection needs
    D = 2^(60 / 109.7) = 1.46. The frame factor is 1 + lambda Delta / 2 + ... for short frames.
    """
    t = as_array(t_s, "t_s")
    if np.any(t < 0):
        raise ValueError("t_s must be >= 0")
    lam = decay_constant(half_life_s)
    delta = as_scalar(frame_duration_s, "frame_duration_s", low=0.0)
    x = lam * delta
    frame = 1.0 if x == 0 else x / -np.expm1(-x)
    out = np.exp(lam * t) * frame
    return out if out.ndim else float(out)


# --- 6.2 forward model ------------------------------------------------------------------------

def system_matrix(n: int, angles_rad, *, dtype=np.float64) -> sparse.csr_matrix:
    """Sparse system matrix of parallel-beam projection, in the geometry of skimage's radon.

    Parameters
    ----------
    n : int
        The image is n x n pixels (>= 2) and each projection has n detector bins of one pixel.
    angles_rad : array_like, shape (n_angles,)
        Projection angles theta, radians (skimage's ``theta`` is the same angles in degrees).
    dtype : numpy dtype, optional
        float64 (default) or float32 (half the memory, slightly faster products).

    Returns
    -------
    scipy.sparse.csr_matrix, shape (n * n_angles, n * n)
        a_ij: the contribution of pixel j (``image.ravel()`` index ``row * n + col``) to sinogram
        entry i = ``bin * n_angles + angle`` (``sinogram.ravel()`` of a sinogram shaped
        ``(n, n_angles)``). For an image that is zero outside :func:`circle_mask`,
        ``(A @ image.ravel()).reshape(n, n_angles)`` equals
        ``skimage.transform.radon(image, np.rad2deg(angles_rad), circle=True)`` to rounding
        (differences of order 1e-14 of the maximum in float64; the tests allow 1e-9, and 1e-5
        relative for float32).

    Raises
    ------
    ValueError
        If ``n`` < 2 or the angles are empty or not finite.

    Notes
    -----
    Geometry (the convention of :func:`skimage.transform.radon`, ``circle=True``): the rotation
    centre is pixel ``(n//2, n//2)``; with X = col - n//2 to the right and Y = row - n//2 *down*,
    detector bin b measures the line integral along the ray
    s = X cos theta - Y sin theta = b - n//2, i.e. the usual Radon transform in a frame whose
    y axis points up (theta = 0 projects onto the column axis, summing down the rows). Pixels
    outside the inscribed circle get no column entries (their columns are empty). The ray is
    sampled at unit steps u = -n//2, ..., n - 1 - n//2 at the points X = s cos theta + u sin theta,
    Y = -s sin theta + u cos theta, and each sample is spread over its four neighbouring pixels
    with bilinear weights: exactly skimage's rotate-and-sum, so the matrix and its transpose (the
    exact adjoint needed by MLEM) are built once and reused. The construction is vectorised over
    all rays and samples of one angle; entries of the same (ray, pixel) are summed.

    This module is the PET chapter's projector; the CT chapter follows the same convention.
    """
    n = as_int(n, "n", low=2)
    theta = as_array(angles_rad, "angles_rad", ndim=1)
    dtype = np.dtype(dtype)
    if dtype not in (np.float32, np.float64):
        raise ValueError("dtype must be float32 or float64")
    n_angles = theta.size
    ctr = n // 2
    inside = circle_mask(n).ravel()
    grid = np.arange(n) - ctr
    u, s = np.meshgrid(grid, grid, indexing="ij")      # u: sample along the ray, s: bin offset
    s, u = s.ravel(), u.ravel()
    bins = s + ctr
    rows_all, cols_all, vals_all = [], [], []
    for k, t in enumerate(theta):
        cos_t, sin_t = np.cos(t), np.sin(t)
        x_in = s * cos_t + u * sin_t + ctr               # column coordinate of the sample
        y_in = -s * sin_t + u * cos_t + ctr              # row coordinate
        c0 = np.floor(x_in).astype(np.int64)
        r0 = np.floor(y_in).astype(np.int64)
        dx, dy = x_in - c0, y_in - r0
        for ddr, ddc, w in ((0, 0, (1 - dy) * (1 - dx)), (0, 1, (1 - dy) * dx),
                            (1, 0, dy * (1 - dx)), (1, 1, dy * dx)):
            rr, cc = r0 + ddr, c0 + ddc
            ok = (rr >= 0) & (rr < n) & (cc >= 0) & (cc < n) & (w > 0)
            pix = rr[ok] * n + cc[ok]
            keep = inside[pix]
            rows_all.append((bins[ok][keep] * n_angles + k).astype(np.int32))
            cols_all.append(pix[keep].astype(np.int32))
            vals_all.append(w[ok][keep].astype(dtype))
    matrix = sparse.coo_matrix(
        (np.concatenate(vals_all), (np.concatenate(rows_all), np.concatenate(cols_all))),
        shape=(n * n_angles, n * n))
    return matrix.tocsr()      # sums duplicate (ray, pixel) entries


def _as_matrix(A):
    if sparse.issparse(A):
        mat = sparse.csr_matrix(A)
    else:
        mat = sparse.csr_matrix(as_array(A, "A", ndim=2))
    if mat.ndim != 2 or min(mat.shape) == 0:
        raise ValueError("A must be a non-empty 2-D matrix")
    if not np.issubdtype(mat.dtype, np.floating):
        mat = mat.astype(np.float64)
    if mat.nnz and (not np.all(np.isfinite(mat.data)) or mat.data.min() < 0):
        raise ValueError("A must have finite, non-negative entries")
    return mat


def _as_counts(y, m: int, name: str = "y") -> np.ndarray:
    arr = as_array(y, name).ravel()
    if arr.size != m:
        raise ValueError(f"{name} must have one value per row of A ({m}), got {arr.size}")
    if np.any(arr < 0):
        raise ValueError(f"{name} must be >= 0 (counts cannot be negative)")
    return arr


def _as_background(background, m: int) -> np.ndarray:
    if background is None:
        return np.zeros(m)
    r = as_array(background, "background")
    if r.ndim == 0:
        r = np.full(m, float(r))
    r = r.ravel()
    if r.size != m:
        raise ValueError(f"background must be a scalar or have one value per row of A ({m}), "
                         f"got {r.size}")
    if np.any(r < 0):
        raise ValueError("background must be >= 0")
    return r


def expected_counts(A, activity_image, background=None) -> np.ndarray:
    """Expected counts of every detector bin: lambda = A x + r.

    Parameters
    ----------
    A : scipy.sparse matrix or array_like, shape (M, J)
        System matrix (non-negative), e.g. :func:`system_matrix`.
    activity_image : array_like
        Activity x (>= 0) with J values (an image is raveled row-major).
    background : float or array_like, optional
        Randoms and scatter r (>= 0): a scalar for a flat background or one value per bin.

    Returns
    -------
    numpy.ndarray, shape (M,)
        lambda_i = sum_j a_ij x_j + r_i.

    Raises
    ------
    ValueError
        If shapes disagree or any value is negative.

    Notes
    -----
    :formula:`pet.forward-model` and, as one matrix product, :formula:`pet.forward-model-vector`.
    The seed's a_ij also carries attenuation, detector efficiency and normalisation; the geometric
    matrix here models the line integrals only.
    """
    mat = _as_matrix(A)
    x = _as_counts(activity_image, mat.shape[1], "activity_image")
    return mat @ x + _as_background(background, mat.shape[0])


def sample_counts(expected, rng) -> np.ndarray:
    """Draw measured counts y_i ~ Poisson(lambda_i), independently per bin.

    Parameters
    ----------
    expected : array_like
        Expected counts lambda (>= 0), any shape.
    rng : numpy.random.Generator or int
        Source of randomness.

    Returns
    -------
    numpy.ndarray of float
        Integer-valued counts, same shape.

    Raises
    ------
    ValueError
        If an expected count is negative or not finite.

    Notes
    -----
    :formula:`pet.poisson-model`. Counting independent decays gives Poisson statistics: variance
    equal to the mean (section 2.3), so a bin expecting 4 counts has 50 % noise.
    """
    return noise.poisson_noise(expected, rng)      # the Poisson sampler of section 2.3


def scale_to_counts(A, activity_image, total_counts: float, *,
                    background_fraction: float = 0.0) -> tuple[np.ndarray, np.ndarray]:
    """Scale an activity image to a count level and add a flat randoms/scatter background.

    Parameters
    ----------
    A : scipy.sparse matrix or array_like, shape (M, J)
        System matrix.
    activity_image : array_like
        Relative activity (>= 0, not all zero), J values.
    total_counts : float
        Expected total counts sum_i lambda_i (> 0).
    background_fraction : float, optional
        Fraction in [0, 1) of the counts that are randoms and scatter, spread evenly over the bins.

    Returns
    -------
    activity : numpy.ndarray, shape (J,)
        Scaled activity (counts per unit of the matrix), so that sum(A x) = (1 - f) total.
    background : numpy.ndarray, shape (M,)
        r_i = f total / M.

    Raises
    ------
    ValueError
        If the activity projects to zero counts or a parameter is out of range.
    """
    mat = _as_matrix(A)
    x = _as_counts(activity_image, mat.shape[1], "activity_image")
    total = as_scalar(total_counts, "total_counts", low=0.0, low_inclusive=False)
    f = as_scalar(background_fraction, "background_fraction", low=0.0, high=1.0,
                  high_inclusive=False)
    projected = float((mat @ x).sum())
    if projected <= 0:
        raise ValueError("activity_image projects to zero counts (is it inside the circle?)")
    return x * (1 - f) * total / projected, np.full(mat.shape[0], f * total / mat.shape[0])


def brain_phantom(grey_matter, white_matter, *, n: int = 128, grey_activity: float = 4.0,
                  white_activity: float = 1.0) -> np.ndarray:
    """Activity phantom from grey- and white-matter probability maps of a real brain slice.

    Parameters
    ----------
    grey_matter, white_matter : array_like, shape (rows, cols)
        Tissue probabilities of one slice, in [0, 1] (divide uint8 maps by 255 first).
    n : int, optional
        Output size n x n (default 128).
    grey_activity, white_activity : float, optional
        Activity concentration of pure grey and white matter (>= 0); FDG's grey:white uptake is
        roughly 4:1 at rest (defaults 4 and 1).

    Returns
    -------
    numpy.ndarray, shape (n, n)
        grey_activity p_GM + white_activity p_WM, padded to a square, resampled (area-averaged)
        to n x n, and zeroed outside :func:`circle_mask`.

    Raises
    ------
    ValueError
        If the maps differ in shape or hold values outside [0, 1].
    """
    from skimage.transform import resize

    gm = as_array(grey_matter, "grey_matter", ndim=2)
    wm = as_array(white_matter, "white_matter", shape=gm.shape)
    for arr, name in ((gm, "grey_matter"), (wm, "white_matter")):
        if arr.min() < 0 or arr.max() > 1:
            raise ValueError(f"{name} must hold probabilities in [0, 1]")
    n = as_int(n, "n", low=2)
    a_gm = as_scalar(grey_activity, "grey_activity", low=0.0)
    a_wm = as_scalar(white_activity, "white_activity", low=0.0)
    act = a_gm * gm + a_wm * wm
    side = max(act.shape)
    pad = [((side - s) // 2, side - s - (side - s) // 2) for s in act.shape]
    square = np.pad(act, pad)
    small = resize(square, (n, n), order=1, anti_aliasing=True, preserve_range=True)
    return np.where(circle_mask(n), np.clip(small, 0, None), 0.0)


# --- 6.3 likelihood and reconstruction --------------------------------------------------------

def log_likelihood(y, expected, *, constant: bool = True) -> float:
    """Poisson log-likelihood of counts y given expected counts lambda.

    Parameters
    ----------
    y : array_like
        Measured counts (>= 0).
    expected : array_like
        Expected counts lambda (>= 0), same number of values.
    constant : bool, optional
        True (default): include C = -sum_i ln(y_i!), so that the result is the log of
        :func:`likelihood`. False: only sum_i [y_i ln lambda_i - lambda_i], what MLEM maximises.

    Returns
    -------
    float
        log L; minus infinity if some lambda_i = 0 where y_i > 0 (a count the model forbids).

    Raises
    ------
    ValueError
        If the sizes differ or any value is negative.

    Notes
    -----
    :formula:`pet.log-likelihood`. The constant does not depend on the activity, so it changes no
    estimate, but it is what makes log L comparable with scipy.stats.poisson.logpmf. Terms with
    y_i = 0 contribute -lambda_i (0 ln 0 is taken as 0).
    """
    yy = as_array(y, "y").ravel()
    lam = as_array(expected, "expected").ravel()
    if yy.size != lam.size:
        raise ValueError(f"y and expected must have the same size, got {yy.size} and {lam.size}")
    if np.any(yy < 0):
        raise ValueError("y must be >= 0 (counts cannot be negative)")
    if np.any(lam < 0):
        raise ValueError("expected must be >= 0")
    if np.any((lam == 0) & (yy > 0)):
        return float("-inf")
    value = float(np.sum(special.xlogy(yy, lam) - lam))
    if constant:
        value -= float(np.sum(special.gammaln(yy + 1)))
    return value


def likelihood(y, expected) -> float:
    """Poisson likelihood L = prod_i lambda_i^y_i exp(-lambda_i) / y_i!.

    Parameters
    ----------
    y : array_like
        Measured counts (>= 0).
    expected : array_like
        Expected counts lambda (>= 0), same number of values.

    Returns
    -------
    float
        L in [0, 1]. For any realistic sinogram it underflows to 0.0: work with
        :func:`log_likelihood`.

    Raises
    ------
    ValueError
        As :func:`log_likelihood`.

    Notes
    -----
    :formula:`pet.likelihood`, with lambda_i = sum_j a_ij x_j + r_i (the seed's where-clause
    omits r_i; see :func:`expected_counts`). Computed as exp(log L) so that it is exact where it
    is representable.
    """
    return float(np.exp(log_likelihood(y, expected)))


def _em_setup(y, A, background, x0):
    mat = _as_matrix(A)
    m, j = mat.shape
    counts = _as_counts(y, m)
    r = _as_background(background, m)
    return mat, counts, r, j


def _initial(x0, j, sens, counts, r):
    if x0 is None:
        support = sens > 0
        net = max(float(counts.sum() - r.sum()), 0.0)
        total = net if net > 0 else float(counts.sum())
        value = total / float(sens.sum()) if total > 0 and sens.sum() > 0 else 1.0
        return np.where(support, value, 0.0)
    x = as_array(x0, "x0").ravel()
    if x.size != j:
        raise ValueError(f"x0 must have one value per column of A ({j}), got {x.size}")
    if np.any(x < 0):
        raise ValueError("x0 must be >= 0")
    return np.where(sens > 0, x, 0.0)


def _loglik_fast(counts, lam, constant):
    """log_likelihood without re-validation, for arrays the caller has checked; lam may be 2-D
    (one column per estimate)."""
    if lam.ndim == 1:
        lam = lam[:, None]
    bad = np.any((lam == 0) & (counts[:, None] > 0), axis=0)
    values = np.sum(special.xlogy(counts[:, None], lam) - lam, axis=0) - constant
    return np.where(bad, -np.inf, values)


def _ratio(counts, lam):
    out = np.zeros_like(lam)
    np.divide(counts, lam, out=out, where=lam > 0)
    return out


def mlem(y, A, n_iter: int, background=None, *, x0=None) -> tuple[np.ndarray, np.ndarray]:
    """Maximum-likelihood expectation-maximisation (MLEM) reconstruction.

    Parameters
    ----------
    y : array_like
        Measured counts (>= 0), M values in the row order of ``A`` (a sinogram of
        :func:`system_matrix`'s layout, shape (n_bins, n_angles), can be passed as is).
    A : scipy.sparse matrix or array_like, shape (M, J)
        System matrix (non-negative).
    n_iter : int
        Number of iterations (>= 1).
    background : float or array_like, optional
        Expected randoms and scatter r (>= 0), scalar or M values; default none.
    x0 : array_like, optional
        Initial estimate (> 0 where it may become non-zero; MLEM never revives a zero pixel).
        Default: uniform, scaled so that sum_j s_j x_j = sum_i (y_i - r_i), zero where the
        sensitivity s_j = sum_i a_ij is zero.

    Returns
    -------
    x : numpy.ndarray, shape (J,)
        The estimate after ``n_iter`` iterations (reshape to the image).
    log_likelihood : numpy.ndarray, shape (n_iter + 1,)
        Poisson log-likelihood (with its constant, :func:`log_likelihood`) of the initial estimate
        and after each iteration; it never decreases.

    Raises
    ------
    ValueError
        If ``y`` has the wrong size or negative counts, ``A`` has negative entries, or
        ``n_iter`` < 1.

    Notes
    -----
    :formula:`pet.mlem` in the form with background (:formula:`pet.em-background`)

        x_j <- x_j / s_j * sum_i a_ij y_i / (sum_m a_im x_m + r_i),

    which is the seed's update when r = 0. Each iteration is one forward projection (A x), one
    division and one backprojection (A^T, kept as a transposed CSR matrix so that both products
    are fast row-wise gathers). Multiplicative updates keep x >= 0, and each iteration increases
    the log-likelihood (an EM algorithm), converging to the maximum-likelihood estimate
    (:formula:`pet.mle`). Noise grows with the iterations, since the ML estimate of noisy data is
    itself noisy: stop early or regularise.

    References
    ----------
    L. A. Shepp, Y. Vardi, "Maximum likelihood reconstruction for emission tomography", IEEE
    Trans. Med. Imaging 1(2):113, 1982. K. Lange, R. Carson, "EM reconstruction algorithms for
    emission and transmission tomography", J. Comput. Assist. Tomogr. 8(2):306, 1984.
    """
    mat, counts, r, j = _em_setup(y, A, background, x0)
    n_iter = as_int(n_iter, "n_iter", low=1)
    mat_t = mat.T.tocsr()
    sens = mat_t @ np.ones(mat.shape[0])
    x = _initial(x0, j, sens, counts, r)
    pos = sens > 0
    inv_sens = np.zeros(j)
    inv_sens[pos] = 1.0 / sens[pos]
    const = float(np.sum(special.gammaln(counts + 1)))
    history = np.empty(n_iter + 1)
    for k in range(n_iter):
        lam = mat @ x + r
        history[k] = _loglik_fast(counts, lam, const)[0]
        x = x * (inv_sens * (mat_t @ _ratio(counts, lam)))
    history[n_iter] = _loglik_fast(counts, mat @ x + r, const)[0]
    return x, history


def osem(y, A, n_iter: int, n_subsets: int, background=None, *,
         x0=None) -> tuple[np.ndarray, np.ndarray]:
    """Ordered-subsets expectation maximisation (OSEM).

    Parameters
    ----------
    y, A, background, x0
        As in :func:`mlem`.
    n_iter : int
        Number of iterations (>= 1); one iteration is one pass over all subsets.
    n_subsets : int
        Number of subsets S (1 <= S <= M). Subset s holds the rows i with i mod S = s. With the
        layout of :func:`system_matrix` (row = bin * n_angles + angle) and S dividing the number
        of angles, that is every S-th angle starting at angle s: interleaved angular subsets.

    Returns
    -------
    x : numpy.ndarray, shape (J,)
        The estimate after ``n_iter`` iterations.
    log_likelihood : numpy.ndarray, shape (n_iter + 1,)
        Log-likelihood of all the data for the initial estimate and after each full iteration.

    Raises
    ------
    ValueError
        As :func:`mlem`, or if ``n_subsets`` is out of range.

    Notes
    -----
    :formula:`pet.osem`, with background (:formula:`pet.em-background`): one sub-iteration per
    subset S_k,

        x_j <- x_j / sum_{i in S_k} a_ij * sum_{i in S_k} a_ij y_i / (sum_m a_im x_m + r_i),

    so S updates per pass over the data instead of one: early iterations progress about S times
    faster than MLEM. The seed's index k counts sub-iterations. With S = 1 OSEM is MLEM. OSEM
    is not guaranteed to increase the likelihood and, with S > 1, ends in a limit cycle near
    (not at) the ML estimate. Pixels that a subset does not see keep their value in its update.

    References
    ----------
    H. M. Hudson, R. S. Larkin, "Accelerated image reconstruction using ordered subsets of
    projection data", IEEE Trans. Med. Imaging 13(4):601, 1994.
    """
    mat, counts, r, j = _em_setup(y, A, background, x0)
    n_iter = as_int(n_iter, "n_iter", low=1)
    m = mat.shape[0]
    n_sub = as_int(n_subsets, "n_subsets", low=1, high=m)
    subsets = []
    sens_all = np.zeros(j)
    for s in range(n_sub):
        rows = np.arange(s, m, n_sub)
        sub = mat[rows]
        sub_t = sub.T                     # CSC view: backprojection without a transposed copy
        sens = sub_t @ np.ones(rows.size)
        inv = np.zeros(j)
        inv[sens > 0] = 1.0 / sens[sens > 0]
        subsets.append((rows, sub, sub_t, inv, sens > 0))
        sens_all += sens
    x = _initial(x0, j, sens_all, counts, r)
    iterates = np.empty((n_iter + 1, j))
    iterates[0] = x
    for k in range(n_iter):
        for rows, sub, sub_t, inv, seen in subsets:
            lam = sub @ x + r[rows]
            x = np.where(seen, x * (inv * (sub_t @ _ratio(counts[rows], lam))), x)
        iterates[k + 1] = x
    # The log-likelihood of every iterate, projected in blocks: one pass over the matrix serves
    # many estimates (a sparse matrix times a dense matrix), which is much cheaper than one
    # projection per iteration.
    const = float(np.sum(special.gammaln(counts + 1)))
    history = np.empty(n_iter + 1)
    for start in range(0, n_iter + 1, 32):
        block = iterates[start:start + 32]
        history[start:start + block.shape[0]] = _loglik_fast(
            counts, mat @ block.T + r[:, None], const)
    return x, history
