"""Quantitative PET: attenuation from CT, normalisation, randoms, SUV, partial volume,
resolution modelling, time of flight and penalised (MAP) reconstruction.

Taught in ``chapters/pet-spect/quantitation.ipynb`` (section 6.4). The data layout is that of
:mod:`medlib.pet.forward_model`: an n x n image is ``image.ravel()``, sinogram row
``i = bin * n_angles + angle``, and :func:`~medlib.pet.forward_model.system_matrix` holds path
lengths in pixel widths.
"""
from __future__ import annotations

import numpy as np
from scipy import sparse, special

from .._validate import as_array, as_int, as_scalar, as_shape, as_size, check_size
from ._common import _as_matrix
from .decay import decay_correction
from .mlem_osem import _em_setup, _initial, _loglik_fast, _ratio

__all__ = [
    "CARNEY_BILINEAR",
    "SPEED_OF_LIGHT_MM_PER_PS",
    "attenuation_correction_factors",
    "corrected_system_matrix",
    "count_coincidences",
    "gaussian_blur_matrix",
    "map_osl",
    "mu511_from_hu",
    "quadratic_prior_gradient",
    "randoms_rate",
    "recovery_coefficient",
    "suv",
    "tof_resolution_mm",
    "tof_snr_gain",
    "tof_system_matrix",
]

#: Speed of light in vacuum, mm per picosecond (299 792 458 m/s, exact by definition of the metre).
SPEED_OF_LIGHT_MM_PER_PS = 0.299792458

#: Bilinear CT-to-511-keV conversion of Carney et al. 2006 (Med. Phys. 33:976, table 1), per
#: tube voltage (kVp): slope a (1/cm per HU), intercept b (1/cm) and breakpoint (HU) of the
#: bone segment mu = a (HU + 1000) + b; below the breakpoint mu = 9.6e-5 (HU + 1000).
CARNEY_BILINEAR: dict[int, tuple[float, float, float]] = {
    80: (3.64e-5, 6.26e-2, 50.0),
    100: (4.43e-5, 5.44e-2, 52.0),
    110: (4.92e-5, 4.88e-2, 43.0),
    120: (5.10e-5, 4.71e-2, 47.0),
    130: (5.51e-5, 4.24e-2, 37.0),
    140: (5.64e-5, 4.08e-2, 30.0),
}

_MU_WATER_511 = 0.096     # 1/cm, the water-air segment's 9.6e-5 per HU of Carney et al.


def mu511_from_hu(hu, *, kvp: int = 120) -> np.ndarray:
    """Linear attenuation coefficient at 511 keV from CT numbers (bilinear conversion).

    Parameters
    ----------
    hu : array_like
        CT numbers, HU (e.g. from :func:`medlib.ct.hu_from_stored`).
    kvp : int, optional
        Tube voltage of the CT scan, one of the keys of :data:`CARNEY_BILINEAR`
        (80, 100, 110, 120, 130, 140; default 120).

    Returns
    -------
    numpy.ndarray
        mu_511 in 1/cm, same shape, >= 0 (HU below -1000 give 0).

    Raises
    ------
    ValueError
        If ``kvp`` is not tabulated or ``hu`` is not finite.

    Notes
    -----
    :formula:`pet.hu-to-mu511`. A voxel below the breakpoint is taken as a mixture of water and
    air, whose CT number is linear in the water fraction, so mu_511 = mu_w (HU + 1000) / 1000 with
    mu_w = 0.096 /cm. Above it, a mixture of water and cortical bone: bone attenuates the CT beam
    (photo-electric effect of calcium at 60-80 keV) far more, relative to water, than it does
    511 keV photons (Compton scattering, proportional to electron density), so one HU of bone
    adds less mu_511 than one HU of soft tissue: a second, flatter line, whose slope depends on
    the CT spectrum (kVp). The two lines meet at the breakpoint.

    References
    ----------
    J. P. J. Carney, D. W. Townsend, V. Rappoport, B. Bendriem, "Method for transforming CT images
    for attenuation correction in PET/CT imaging", Med. Phys. 33(4):976, 2006. P. E. Kinahan,
    D. W. Townsend, T. Beyer, D. Sashin, "Attenuation correction for a combined 3D PET/CT
    scanner", Med. Phys. 25(10):2046, 1998.
    """
    h = as_array(hu, "hu")
    if isinstance(kvp, bool) or kvp not in CARNEY_BILINEAR:
        raise ValueError(f"kvp must be one of {sorted(CARNEY_BILINEAR)}, got {kvp!r}")
    a, b, brk = CARNEY_BILINEAR[kvp]
    mu = np.where(h <= brk, _MU_WATER_511 * (h + 1000.0) / 1000.0, a * (h + 1000.0) + b)
    return np.clip(mu, 0.0, None)


def attenuation_correction_factors(A, mu_map_per_cm, pixel_size_cm: float) -> np.ndarray:
    """Attenuation correction factor of every line of response: ACF_i = exp(int mu dl).

    Parameters
    ----------
    A : scipy.sparse matrix or array_like, shape (M, J)
        Geometric system matrix whose entries are path lengths in pixel widths
        (:func:`~medlib.pet.forward_model.system_matrix`).
    mu_map_per_cm : array_like
        Linear attenuation coefficients at 511 keV (>= 0), 1/cm, J values (an image is raveled).
    pixel_size_cm : float
        Pixel width (> 0), cm.

    Returns
    -------
    numpy.ndarray, shape (M,)
        ACF_i >= 1.

    Raises
    ------
    ValueError
        If sizes disagree, mu is negative, or the pixel size is not positive.

    Notes
    -----
    :formula:`pet.acf`. The two annihilation photons leave in opposite directions along the
    line; both must escape, so the survival probability is
    exp(-int_{s}^{L} mu) exp(-int_{0}^{s} mu) = exp(-int_0^L mu), the same wherever on the line
    the decay happened. That is why PET attenuation is a factor per line of response, measurable
    (or computed from a CT), and exactly correctable, unlike SPECT's.
    """
    mat = _as_matrix(A)
    mu = as_array(mu_map_per_cm, "mu_map_per_cm", low=0).ravel()
    if mu.size != mat.shape[1]:
        raise ValueError(f"mu_map_per_cm must have one value per column of A ({mat.shape[1]}), "
                         f"got {mu.size}")
    step = as_scalar(pixel_size_cm, "pixel_size_cm", low=0.0, low_inclusive=False)
    line = (mat @ mu) * step
    if not np.all(np.isfinite(np.exp(line))):
        raise ValueError("mu_map_per_cm * pixel_size_cm is so large that exp(int mu dl) overflows")
    return np.exp(line)


def corrected_system_matrix(A, *, acf=None, efficiency=None) -> sparse.csr_matrix:
    """System matrix with attenuation and detector efficiency: diag(eps / ACF) A.

    Parameters
    ----------
    A : scipy.sparse matrix or array_like, shape (M, J)
        Geometric system matrix.
    acf : array_like, optional
        Attenuation correction factors ACF_i (> 0, >= 1 for a physical mu map), M values;
        default none.
    efficiency : array_like, optional
        Detection efficiency eps_i of every line of response (> 0), M values (the inverse of the
        normalisation factors); default 1.

    Returns
    -------
    scipy.sparse.csr_matrix, shape (M, J)
        a'_ij = eps_i a_ij / ACF_i.

    Raises
    ------
    ValueError
        If a factor is not positive or the sizes disagree.

    Notes
    -----
    The attenuated model lambda = diag(eps / ACF) A x + r (:formula:`pet.acf`, in the forward
    model :formula:`pet.forward-model-vector`). Row factors keep the matrix as sparse as A;
    MLEM with it corrects attenuation and normalisation inside the reconstruction, with the
    Poisson statistics of the measured counts intact (pre-multiplying the counts by ACF would
    not keep them Poisson).
    """
    mat = _as_matrix(A)
    m = mat.shape[0]
    scale = np.ones(m)
    for value, name in ((acf, "acf"), (efficiency, "efficiency")):
        if value is None:
            continue
        arr = as_array(value, name, low=0).ravel()
        if arr.size != m:
            raise ValueError(f"{name} must have one value per row of A ({m}), got {arr.size}")
        if np.any(arr <= 0):
            raise ValueError(f"{name} must be > 0")
        scale = scale / arr if name == "acf" else scale * arr
    return sparse.diags(scale).tocsr() @ mat


def randoms_rate(singles_a_cps, singles_b_cps, tau_s: float) -> np.ndarray:
    """Rate of random coincidences between two detectors: R = 2 tau S_a S_b.

    Parameters
    ----------
    singles_a_cps, singles_b_cps : array_like
        Singles rates of the two detectors (>= 0), counts per second; broadcast together.
    tau_s : float
        Coincidence window half-width tau (> 0), s: two singles are in coincidence when their
        times differ by at most tau (the window is 2 tau wide).

    Returns
    -------
    numpy.ndarray or float
        Randoms rate, counts per second.

    Raises
    ------
    ValueError
        If a rate is negative or tau not positive.

    Notes
    -----
    :formula:`pet.randoms`. For each single in detector a (rate S_a) the number of unrelated
    singles of b within +-tau is Poisson with mean 2 tau S_b. It grows with the square of the
    activity (true coincidences grow linearly), and a delayed window, which pairs a's singles
    with b's singles shifted by much more than tau, measures it directly
    (:func:`count_coincidences`).
    """
    sa = as_array(singles_a_cps, "singles_a_cps", low=0)
    sb = as_array(singles_b_cps, "singles_b_cps", low=0)
    tau = as_scalar(tau_s, "tau_s", low=0.0, low_inclusive=False)
    out = 2.0 * tau * sa * sb
    return out if out.ndim else float(out)


def count_coincidences(times_a_s, times_b_s, tau_s: float, *, delay_s: float = 0.0) -> int:
    """Count pairs of events (one per detector) whose times differ by at most tau.

    Parameters
    ----------
    times_a_s, times_b_s : array_like
        Event times of detector a and b, s (1-D, any order).
    tau_s : float
        Coincidence window half-width (> 0), s.
    delay_s : float, optional
        Delay added to b's times before pairing (default 0: prompt window). A delay much longer
        than tau (and than any true pair's time difference) gives the delayed window, which
        counts randoms only.

    Returns
    -------
    int
        Number of pairs (t_a, t_b) with |t_a - (t_b + delay)| <= tau.

    Raises
    ------
    ValueError
        If times are not finite or tau is not positive.

    Notes
    -----
    Vectorised with a sorted search: for every a-event, the number of b-events in
    [t_a - tau, t_a + tau]. Its expectation for independent Poisson streams is
    2 tau S_a S_b T (:formula:`pet.randoms`).
    """
    ta = as_array(times_a_s, "times_a_s", ndim=1, allow_empty=True)
    tb = np.sort(as_array(times_b_s, "times_b_s", ndim=1, allow_empty=True))
    tau = as_scalar(tau_s, "tau_s", low=0.0, low_inclusive=False)
    delay = as_scalar(delay_s, "delay_s")
    tb = tb + delay
    hi = np.searchsorted(tb, ta + tau, side="right")
    lo = np.searchsorted(tb, ta - tau, side="left")
    return int(np.sum(hi - lo))


def suv(concentration_bq_per_ml, injected_activity_bq: float, body_weight_kg: float, *,
        uptake_time_s: float, half_life_s: float) -> np.ndarray:
    """Standardised uptake value (body-weight SUV) with decay correction of the dose.

    Parameters
    ----------
    concentration_bq_per_ml : array_like
        Activity concentration C measured in the image at scan time (>= 0), Bq/mL.
    injected_activity_bq : float
        Injected activity A_0 at injection (> 0), Bq.
    body_weight_kg : float
        Body weight W (> 0), kg.
    uptake_time_s : float
        Time t from injection to the scan (>= 0), s.
    half_life_s : float
        Half-life of the tracer (> 0), s (``pet.NUCLIDES["F-18"].half_life_s``).

    Returns
    -------
    numpy.ndarray or float
        SUV = C / (A_0 exp(-lambda t) / W), dimensionless (with W in g and tissue at 1 g/mL).

    Raises
    ------
    ValueError
        If an argument is out of range.

    Notes
    -----
    :formula:`pet.suv`. The dose is decayed to the scan time with
    :func:`~medlib.pet.decay.decay_correction` (:formula:`pet.decay-correction`): A_0 exp(-lambda t)
    = A_0 / D(t). A tracer spread evenly through the body has SUV 1 everywhere; FDG in a tumour
    is typically 2.5 or more. Forgetting the decay correction of the dose at 60 min of F-18
    underestimates the SUV by the factor D = 1.46.
    """
    c = as_array(concentration_bq_per_ml, "concentration_bq_per_ml", low=0)
    dose = as_scalar(injected_activity_bq, "injected_activity_bq", low=0.0, low_inclusive=False)
    weight = as_scalar(body_weight_kg, "body_weight_kg", low=0.0, low_inclusive=False)
    t = as_scalar(uptake_time_s, "uptake_time_s", low=0.0)
    dose_at_scan = dose / decay_correction(t, half_life_s=half_life_s)
    out = c / (dose_at_scan / (weight * 1000.0))
    return out if out.ndim else float(out)


def recovery_coefficient(diameter_mm, fwhm_mm: float, *, ndim: int = 2) -> np.ndarray:
    """Recovery coefficient (centre value) of a uniform disk or sphere blurred by a Gaussian.

    Parameters
    ----------
    diameter_mm : array_like
        Diameter of the disk (ndim 2) or sphere (ndim 3) (> 0), mm.
    fwhm_mm : float
        Full width at half maximum of the isotropic Gaussian point-spread function (> 0), mm.
    ndim : int, optional
        2 (disk in a plane, default) or 3 (sphere).

    Returns
    -------
    numpy.ndarray or float
        RC = measured / true activity at the centre, in (0, 1).

    Raises
    ------
    ValueError
        If a size is not positive or ``ndim`` is not 2 or 3.

    Notes
    -----
    :formula:`pet.recovery-coefficient`. The centre of the blurred object is the probability
    that a Gaussian displacement of standard deviation sigma = FWHM / sqrt(8 ln 2) stays within
    the radius R: a chi distribution with ndim degrees of freedom,

        RC_2 = 1 - exp(-R^2 / (2 sigma^2)),
        RC_3 = erf(R / (sqrt 2 sigma)) - sqrt(2/pi) (R / sigma) exp(-R^2 / (2 sigma^2)).

    Objects smaller than about three FWHM lose activity to their surroundings (partial-volume
    effect); a sphere loses more than a disk of the same diameter.

    References
    ----------
    E. J. Hoffman, S.-C. Huang, M. E. Phelps, "Quantitation in positron emission computed
    tomography: 1. Effect of object size", J. Comput. Assist. Tomogr. 3(3):299, 1979.
    """
    d = as_array(diameter_mm, "diameter_mm", low=0)
    if np.any(d <= 0):
        raise ValueError("diameter_mm must be > 0")
    fwhm = as_scalar(fwhm_mm, "fwhm_mm", low=0.0, low_inclusive=False)
    nd = as_int(ndim, "ndim", low=2, high=3)
    q = (d / 2.0) / (fwhm / np.sqrt(8.0 * np.log(2.0)))
    if nd == 2:
        out = -np.expm1(-q * q / 2.0)
    else:
        out = special.erf(q / np.sqrt(2.0)) - np.sqrt(2.0 / np.pi) * q * np.exp(-q * q / 2.0)
    return out if out.ndim else float(out)


def _gauss_1d(n: int, sigma: float, truncate: float) -> sparse.csr_matrix:
    radius = int(truncate * sigma + 0.5)
    offsets = np.arange(-radius, radius + 1)
    w = np.exp(-0.5 * (offsets / sigma) ** 2)
    w /= w.sum()
    return sparse.diags([np.full(n - abs(o), wk) for o, wk in zip(offsets, w) if abs(o) < n],
                        [int(o) for o in offsets if abs(o) < n], shape=(n, n)).tocsr()


def gaussian_blur_matrix(n: int, fwhm_px: float, *, truncate: float = 4.0) -> sparse.csr_matrix:
    """Sparse matrix B of an isotropic Gaussian blur of an n x n image (resolution modelling).

    Parameters
    ----------
    n : int
        The image is n x n pixels (>= 2).
    fwhm_px : float
        FWHM of the Gaussian (> 0), pixels.
    truncate : float, optional
        The kernel stops at ``truncate`` standard deviations (default 4, as scipy.ndimage).

    Returns
    -------
    scipy.sparse.csr_matrix, shape (n * n, n * n)
        B with ``(B @ image.ravel()).reshape(n, n)`` equal to
        ``scipy.ndimage.gaussian_filter(image, sigma, mode="constant", truncate=truncate)``,
        sigma = FWHM / sqrt(8 ln 2). B is symmetric (B^T = B).

    Raises
    ------
    ValueError
        If ``n`` < 2 or a width is not positive.

    Notes
    -----
    Resolution modelling puts the scanner's blur (positron range, photon non-collinearity,
    detector size) into the system matrix: lambda = A B x + r. MLEM with A B then reconstructs
    the unblurred activity x, which raises recovery coefficients of small objects at the price
    of slower convergence, correlated noise and edge overshoot (Gibbs-like ringing).
    The separable kernel is the Kronecker product of two 1-D convolution matrices.
    """
    n = as_size(n, "n", low=2, ndim=2)
    fwhm = as_scalar(fwhm_px, "fwhm_px", low=0.0, low_inclusive=False, high=float(64 * n))
    trunc = as_scalar(truncate, "truncate", low=0.0, low_inclusive=False, high=64.0)
    g = _gauss_1d(n, fwhm / np.sqrt(8.0 * np.log(2.0)), trunc)
    return sparse.kron(g, g, format="csr")


def tof_resolution_mm(timing_fwhm_ps) -> np.ndarray:
    """Spatial uncertainty along the line of response from the coincidence timing resolution.

    Parameters
    ----------
    timing_fwhm_ps : array_like
        Coincidence timing resolution Delta t (FWHM, >= 0), picoseconds.

    Returns
    -------
    numpy.ndarray or float
        Delta x = c Delta t / 2, mm (FWHM along the line).

    Raises
    ------
    ValueError
        If a timing is negative.

    Notes
    -----
    :formula:`pet.tof-resolution`. A decay at distance x from the middle of the line makes one
    photon travel x further and the other x less: their arrival times differ by 2 x / c, hence
    the factor 1/2. 500 ps gives 75 mm, 200 ps 30 mm: TOF localises an event to a segment of
    the line, not to a point.
    """
    dt = as_array(timing_fwhm_ps, "timing_fwhm_ps", low=0)
    out = SPEED_OF_LIGHT_MM_PER_PS * dt / 2.0
    return out if out.ndim else float(out)


def tof_snr_gain(diameter_mm, timing_fwhm_ps) -> np.ndarray:
    """Approximate SNR gain of time-of-flight PET for an object of diameter D: sqrt(D / Delta x).

    Parameters
    ----------
    diameter_mm : array_like
        Diameter D of the emitting object (> 0), mm.
    timing_fwhm_ps : array_like
        Coincidence timing resolution (FWHM, > 0), ps; broadcast with D.

    Returns
    -------
    numpy.ndarray or float
        sqrt(D / Delta x), with Delta x from :func:`tof_resolution_mm`.

    Raises
    ------
    ValueError
        If a value is not positive.

    Notes
    -----
    :formula:`pet.tof-snr-gain`. Without TOF each event is backprojected along the whole chord
    D through the object; with TOF along about Delta x of it, so the noise of D / Delta x
    independent segments no longer adds up in each pixel: the variance falls by D / Delta x
    (the effective-count gain), the SNR by its square root. An approximation for a uniform
    object and analytic (or converged, matched-resolution) reconstruction; the gain grows with
    the patient.

    References
    ----------
    T. F. Budinger, "Time-of-flight positron emission tomography: status relative to
    conventional PET", J. Nucl. Med. 24(1):73, 1983. S. Surti, "Update on time-of-flight PET
    imaging", J. Nucl. Med. 56(1):98, 2015.
    """
    d = as_array(diameter_mm, "diameter_mm", low=0)
    dt = as_array(timing_fwhm_ps, "timing_fwhm_ps", low=0)
    if np.any(d <= 0):
        raise ValueError("diameter_mm must be > 0")
    if np.any(dt <= 0):
        raise ValueError("timing_fwhm_ps must be > 0")
    out = np.sqrt(d / tof_resolution_mm(dt))
    return out if out.ndim else float(out)


def tof_system_matrix(A, n: int, angles_rad, n_tof_bins: int, tof_fwhm_px: float
                      ) -> sparse.csr_matrix:
    """Split every line of response of a parallel-beam system matrix into TOF bins.

    Parameters
    ----------
    A : scipy.sparse matrix, shape (n * n_angles, n * n)
        :func:`~medlib.pet.forward_model.system_matrix` ``(n, angles_rad)``.
    n : int
        Image size (the image is n x n).
    angles_rad : array_like, shape (n_angles,)
        The angles A was built with, radians.
    n_tof_bins : int
        Number of TOF bins T (>= 1) of equal width n / T pixels along each line, centred on it.
    tof_fwhm_px : float
        FWHM of the Gaussian TOF kernel along the line (> 0), pixels (Delta x of
        :func:`tof_resolution_mm` divided by the pixel size).

    Returns
    -------
    scipy.sparse.csr_matrix, shape (T * M, n * n)
        Row ``t * M + i`` is TOF bin t of line i (so the angle of a row is still
        row mod n_angles, and :func:`~medlib.pet.mlem_osem.osem` accepts it with
        ``n_angles=``): a_ij times the probability that the measured position of an event at
        pixel j falls in bin t. The end bins extend to infinity, so the T bins of a line add up
        exactly to A.

    Raises
    ------
    ValueError
        If the sizes disagree or a parameter is out of range.

    Notes
    -----
    A pixel at (X, Y) (X to the right, Y down from the rotation centre) lies at
    u = X sin theta + Y cos theta along the line of angle theta (the ray parameter of
    :func:`~medlib.pet.forward_model.system_matrix`); its weight in bin t of centre u_t and
    width w is Phi((u_t + w/2 - u) / sigma) - Phi((u_t - w/2 - u) / sigma), with
    sigma = FWHM / sqrt(8 ln 2) (:formula:`pet.tof-resolution` gives the FWHM).
    """
    mat = _as_matrix(A)
    n = as_size(n, "n", low=2, ndim=2)
    theta = as_array(angles_rad, "angles_rad", ndim=1)
    m, j = mat.shape
    if j != n * n or m != n * theta.size:
        raise ValueError(f"A must have shape (n * n_angles, n * n) = ({n * theta.size}, {n * n}),"
                         f" got {mat.shape}")
    n_tof = as_int(n_tof_bins, "n_tof_bins", low=1, high=4 * n)
    fwhm = as_scalar(tof_fwhm_px, "tof_fwhm_px", low=0.0, low_inclusive=False)
    sigma = fwhm / np.sqrt(8.0 * np.log(2.0))
    check_size((mat.nnz, n_tof), "n_tof_bins (times the non-zeros of A)")
    coo = mat.tocoo()
    ctr = n // 2
    x_pix = (coo.col % n - ctr).astype(float)
    y_pix = (coo.col // n - ctr).astype(float)
    ang = theta[coo.row % theta.size]
    u = x_pix * np.sin(ang) + y_pix * np.cos(ang)
    width = n / n_tof
    edges = (np.arange(n_tof + 1) - n_tof / 2.0) * width
    edges[0], edges[-1] = -np.inf, np.inf
    cdf = special.ndtr((edges[None, :] - u[:, None]) / sigma)
    weights = np.diff(cdf, axis=1)                          # (nnz, T)
    keep = weights > 1e-12
    t_idx = np.nonzero(keep)[1]
    rows = (t_idx * m + np.repeat(coo.row, keep.sum(axis=1))).astype(np.int64)
    cols = np.repeat(coo.col, keep.sum(axis=1))
    vals = (weights * coo.data[:, None])[keep]
    return sparse.csr_matrix((vals, (rows, cols)), shape=(n_tof * m, j))


def quadratic_prior_gradient(image) -> np.ndarray:
    """Gradient of the quadratic smoothness prior U(x) = 1/2 sum over neighbour pairs (x_j - x_k)^2.

    Parameters
    ----------
    image : array_like, shape (rows, cols)
        Image x (2-D).

    Returns
    -------
    numpy.ndarray, same shape
        dU/dx_j = sum over the 4-neighbours k of j of (x_j - x_k) (minus the discrete Laplacian,
        with no neighbours outside the image).

    Raises
    ------
    ValueError
        If the image is not 2-D or not finite.

    Notes
    -----
    Each unordered pair of horizontally or vertically adjacent pixels appears once in U; the
    gradient is what :func:`map_osl` evaluates at the previous estimate (:formula:`pet.osl-map`).
    """
    x = as_array(image, "image", ndim=2)
    grad = np.zeros_like(x)
    dr = np.diff(x, axis=0)
    dc = np.diff(x, axis=1)
    grad[:-1] -= dr
    grad[1:] += dr
    grad[:, :-1] -= dc
    grad[:, 1:] += dc
    return grad


def map_osl(y, A, n_iter: int, beta: float, image_shape, background=None, *, x0=None
            ) -> tuple[np.ndarray, np.ndarray]:
    """MAP-EM with a quadratic smoothness prior, by Green's one-step-late (OSL) algorithm.

    Parameters
    ----------
    y, A, background, x0
        As in :func:`~medlib.pet.mlem_osem.mlem`.
    n_iter : int
        Number of iterations (>= 1).
    beta : float
        Prior strength beta (>= 0); 0 gives MLEM.
    image_shape : tuple of int
        (rows, cols) of the image, rows * cols = J, for the neighbourhoods of the prior.

    Returns
    -------
    x : numpy.ndarray, shape (J,)
        The estimate.
    objective : numpy.ndarray, shape (n_iter + 1,)
        Penalised log-likelihood log L(x) - beta U(x) (with the constant of
        :func:`~medlib.pet.mlem_osem.log_likelihood`) of each iterate.

    Raises
    ------
    ValueError
        As :func:`~medlib.pet.mlem_osem.mlem`; if ``beta`` is negative or ``image_shape`` does
        not match A; if beta is so large that a denominator s_j + beta dU/dx_j is no longer
        positive (OSL's known failure: lower beta).

    Notes
    -----
    :formula:`pet.osl-map`:

        x_j <- x_j / (s_j + beta dU/dx_j(x^old)) * sum_i a_ij y_i / (sum_m a_im x_m + r_i),

    the MLEM update with the prior's gradient, evaluated at the current estimate ("one step
    late"), added to the sensitivity. Its fixed points are the stationary points of the
    penalised log-likelihood log L - beta U. The prior couples only pixels in the support
    (sensitivity > 0). Convergence is not guaranteed for large beta; for the moderate values
    that a bias-variance curve selects it behaves like MLEM.

    References
    ----------
    P. J. Green, "Bayesian reconstructions from emission tomography data using a modified EM
    algorithm", IEEE Trans. Med. Imaging 9(1):84, 1990.
    """
    mat, counts, r, j = _em_setup(y, A, background, x0)
    n_iter = as_int(n_iter, "n_iter", low=1)
    check_size((n_iter + 1,), "n_iter")
    b = as_scalar(beta, "beta", low=0.0)
    shape = as_shape(image_shape, "image_shape", ndim=2)
    if shape[0] * shape[1] != j:
        raise ValueError(f"image_shape {shape} must hold the {j} columns of A")
    mat_t = mat.T.tocsr()
    sens = mat_t @ np.ones(mat.shape[0])
    support = sens > 0
    x = _initial(x0, j, sens, counts, r)
    const = float(np.sum(special.gammaln(counts + 1)))
    sup_img = support.reshape(shape)
    n_pairs_r = sup_img[:-1] & sup_img[1:]
    n_pairs_c = sup_img[:, :-1] & sup_img[:, 1:]

    def grad_u(v):
        img = v.reshape(shape)
        g = np.zeros(shape)
        dr = np.where(n_pairs_r, np.diff(img, axis=0), 0.0)
        dc = np.where(n_pairs_c, np.diff(img, axis=1), 0.0)
        g[:-1] -= dr
        g[1:] += dr
        g[:, :-1] -= dc
        g[:, 1:] += dc
        return g.ravel(), 0.5 * float(np.sum(dr ** 2) + np.sum(dc ** 2))

    history = np.empty(n_iter + 1)
    for k in range(n_iter + 1):
        lam = mat @ x + r
        g, u = grad_u(x)
        history[k] = _loglik_fast(counts, lam, const)[0] - b * u
        if k == n_iter:
            break
        denom = sens + b * g
        if np.any(denom[support] <= 0):
            raise ValueError(f"beta = {b} is too large for one-step-late with these counts y "
                             "and this A: a denominator s_j + beta dU/dx_j became <= 0; lower "
                             "beta (its useful scale is that of s_j / |dU/dx_j|)")
        x = np.where(support, x * (mat_t @ _ratio(counts, lam)) / np.where(support, denom, 1),
                     0.0)
    return x, history
