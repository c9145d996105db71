"""Scatter and geometry in projection radiography: the contrast scatter costs, the anti-scatter
grid (transmission, contrast improvement, Bucky factor), the inverse-square law,
magnification, focal-spot blur and the heel effect.

Taught in ``chapters/xray/scatter.ipynb`` (section 7.3).

Distances are in mm (``sid_mm`` source-to-image, ``sod_mm`` source-to-object) unless the name
says otherwise; angles in radians. A scatter-to-primary ratio (SPR) is the scattered over the
primary signal reaching the detector at a point (dimensionless, >= 0).
"""
from __future__ import annotations

import numpy as np
from scipy import ndimage

from .._validate import as_array, as_int, as_scalar, check_broadcast

__all__ = [
    "bucky_factor",
    "contrast_with_scatter",
    "focal_spot_blur",
    "focal_spot_edge",
    "grid_contrast_improvement",
    "grid_transmission",
    "heel_effect",
    "inverse_square",
    "magnification",
    "scatter_field",
]


def _out(x):
    return x if x.ndim else float(x)


def contrast_with_scatter(contrast, spr) -> np.ndarray:
    """Subject contrast left when scatter adds a uniform background: C_s = C_0 / (1 + SPR).

    Parameters
    ----------
    contrast : array_like
        Contrast C_0 = (P_background - P_detail) / P_background of the primary signal alone.
    spr : array_like
        Scatter-to-primary ratio S / P_background (>= 0). Broadcasts with ``contrast``.

    Returns
    -------
    numpy.ndarray or float
        The contrast C_s of the detected (primary + scatter) signal.

    Raises
    ------
    ValueError
        If ``spr`` is negative, an argument is not finite, or the shapes do not broadcast.

    Notes
    -----
    :formula:`xray.scatter-contrast`. Scatter is spatially smooth: over a small detail it adds
    the same S to the detail and to its background, so the difference P_b - P_d is unchanged
    while the reference grows from P_b to P_b + S = P_b (1 + SPR).

    References
    ----------
    J. T. Bushberg et al., *The Essential Physics of Medical Imaging*, 3rd ed., 2012, ch. 7.
    """
    c0 = as_array(contrast, "contrast")
    s = as_array(spr, "spr", low=0.0)
    check_broadcast(contrast=c0, spr=s)
    return _out(c0 / (1.0 + s))


def scatter_field(line_integral, *, scatter_fraction: float, sigma_mm: float, spacing_mm,
                  i0: float = 1.0) -> np.ndarray:
    """A smooth scatter image: photons that interacted, survived and spread by a broad kernel.

    Parameters
    ----------
    line_integral : array_like, shape (rows, cols)
        Line integral p = int mu ds of each ray (>= 0), e.g. from :func:`drr`.
    scatter_fraction : float
        kappa (>= 0): scattered photons reaching the detector per photon removed from the
        primary beam, to first order in p (illustrative, a few tenths without a grid).
    sigma_mm : float
        Standard deviation of the scatter kernel (> 0), mm: tens of mm for a patient.
    spacing_mm : float or sequence of 2 floats
        Pixel spacing (row, col) in mm (> 0).
    i0 : float, optional
        Unattenuated intensity I0 (>= 0, default 1), the unit of the result.

    Returns
    -------
    numpy.ndarray
        S = kappa I0 (G_sigma * (p exp(-p))); the primary is P = I0 exp(-p) and the local
        scatter-to-primary ratio S / P.

    Raises
    ------
    ValueError
        If an argument is out of range or ``line_integral`` is not a 2-D image.

    Notes
    -----
    A single-scatter kernel model (the shape of convolution-based scatter estimates): along a
    ray of line integral p, a fraction of order p of the photons interacts, mostly by Compton
    scattering; the scattered photons that leave the patient are attenuated about as much as
    the primary, hence the source p exp(-p), and reach the detector spread over centimetres,
    hence the Gaussian kernel G_sigma. For a uniform slab the kernel changes nothing and
    SPR = kappa p: scatter grows with thickness. Behind dense structures (small P) the smooth
    scatter from their surroundings makes the SPR largest. Boundaries are mirrored.

    References
    ----------
    J. A. Seibert and J. M. Boone, "X-ray scatter removal by deconvolution", Med. Phys.
    15(4):567, 1988.
    """
    p = as_array(line_integral, "line_integral", ndim=2, low=0.0)
    kappa = as_scalar(scatter_fraction, "scatter_fraction", low=0.0)
    sig = as_scalar(sigma_mm, "sigma_mm", low=0.0, low_inclusive=False)
    sp = as_array(spacing_mm, "spacing_mm", low=0.0, low_inclusive=False)
    if sp.ndim > 1 or sp.size not in (1, 2):
        raise ValueError(f"spacing_mm must be a number or 2 numbers (row, col), got {sp.shape}")
    sp = np.broadcast_to(sp, (2,))
    intensity = as_scalar(i0, "i0", low=0.0)
    sigma_px = sig / sp
    source = p * np.exp(-p)
    # A kernel much wider than the (mirrored, hence 2n-periodic) image averages it out: take
    # the mean along such an axis (the Gaussian's deviation from it is below exp(-50)).
    flat_axes = tuple(ax for ax in (0, 1) if sigma_px[ax] > 5.0 * p.shape[ax])
    sigma_px = np.where(sigma_px > 5.0 * np.array(p.shape), 0.0, sigma_px)
    out = ndimage.gaussian_filter(source, sigma_px, mode="reflect", truncate=4.0)
    if flat_axes:
        out = np.broadcast_to(out.mean(axis=flat_axes, keepdims=True), out.shape).copy()
    return kappa * intensity * out


def grid_transmission(angle_rad, *, grid_ratio: float, interspace_mm: float,
                      strip_mm: float) -> np.ndarray:
    """Geometric transmission of a focused linear grid with ideal (opaque) lead strips.

    Parameters
    ----------
    angle_rad : array_like
        Angle phi (in (-pi/2, pi/2)) between a ray and the grid's focal direction, measured in
        the plane perpendicular to the strips, rad. Primary rays have phi = 0.
    grid_ratio : float
        r = h / D (>= 0): strip height h over the interspace width D.
    interspace_mm : float
        Interspace width D (> 0), mm.
    strip_mm : float
        Lead strip thickness d (>= 0), mm.

    Returns
    -------
    numpy.ndarray or float
        T(phi) = D / (D + d) max(0, 1 - r |tan phi|): the open fraction of the grid times the
        fraction of an interspace a ray at phi crosses without meeting a strip.

    Raises
    ------
    ValueError
        If an argument is out of range.

    Notes
    -----
    :formula:`xray.grid-transmission`. A ray tilted by phi drifts sideways by h tan(phi) while
    crossing the grid; it leaves an interspace of width D through a strip unless it entered
    within D - h tan(phi) of the far strip. Primary transmission T_p = T(0) = D / (D + d);
    scatter, arriving over a wide range of angles, is transmitted by the average of T over its
    angular distribution, T_s. Real strips are not opaque (septal penetration) and the
    interspace (aluminium, fibre) absorbs a little: measured T_p are some 5-15 % lower and T_s
    higher than this ideal geometry gives.
    """
    phi = as_array(angle_rad, "angle_rad", low=-np.pi / 2, high=np.pi / 2, low_inclusive=False,
                   high_inclusive=False)
    r = as_scalar(grid_ratio, "grid_ratio", low=0.0)
    dd = as_scalar(interspace_mm, "interspace_mm", low=0.0, low_inclusive=False)
    d = as_scalar(strip_mm, "strip_mm", low=0.0)
    with np.errstate(over="ignore", invalid="ignore"):
        open_part = np.clip(1.0 - r * np.abs(np.tan(phi)), 0.0, 1.0)
        open_part = np.where(phi == 0, 1.0, open_part)         # r = inf is not allowed anyway
    return _out(dd / (dd + d) * open_part)


def _grid_args(primary_transmission, scatter_transmission, spr):
    tp = as_array(primary_transmission, "primary_transmission", low=0.0, high=1.0,
                  low_inclusive=False)
    ts = as_array(scatter_transmission, "scatter_transmission", low=0.0, high=1.0)
    s = as_array(spr, "spr", low=0.0)
    check_broadcast(primary_transmission=tp, scatter_transmission=ts, spr=s)
    return tp, ts, s


def grid_contrast_improvement(primary_transmission, scatter_transmission, spr) -> np.ndarray:
    """Contrast improvement factor of a grid: K = T_p (1 + SPR) / (T_p + T_s SPR).

    Parameters
    ----------
    primary_transmission : array_like
        Grid transmission of primary radiation T_p, in (0, 1].
    scatter_transmission : array_like
        Grid transmission of scatter T_s, in [0, 1].
    spr : array_like
        Scatter-to-primary ratio without the grid (>= 0). The three broadcast.

    Returns
    -------
    numpy.ndarray or float
        K = C_grid / C_no grid (>= 1 when T_s <= T_p).

    Raises
    ------
    ValueError
        If an argument is out of range or the shapes do not broadcast.

    Notes
    -----
    :formula:`xray.grid-cif`. Behind the grid the primary is T_p P and the scatter T_s S, so
    the SPR becomes SPR T_s / T_p and, by formula xray.scatter-contrast, the contrast
    C_0 / (1 + SPR T_s / T_p). Dividing by C_0 / (1 + SPR) gives K. Without scatter
    (SPR = 0) a grid cannot improve contrast (K = 1); as SPR grows K tends to T_p / T_s.

    References
    ----------
    J. T. Bushberg et al., *The Essential Physics of Medical Imaging*, 3rd ed., 2012, ch. 7.
    """
    tp, ts, s = _grid_args(primary_transmission, scatter_transmission, spr)
    return _out(tp * (1.0 + s) / (tp + ts * s))


def bucky_factor(primary_transmission, scatter_transmission, spr) -> np.ndarray:
    """Bucky factor: the exposure increase a grid needs for the same detector signal.

    Parameters
    ----------
    primary_transmission : array_like
        Grid transmission of primary radiation T_p, in (0, 1].
    scatter_transmission : array_like
        Grid transmission of scatter T_s, in [0, 1].
    spr : array_like
        Scatter-to-primary ratio without the grid (>= 0).

    Returns
    -------
    numpy.ndarray or float
        B = (1 + SPR) / (T_p + T_s SPR) (>= 1): the factor on the tube current-time product
        (mAs), hence on the patient's entrance dose.

    Raises
    ------
    ValueError
        If an argument is out of range or the shapes do not broadcast.

    Notes
    -----
    :formula:`xray.bucky-factor`. Without a grid the detector receives P + S = P (1 + SPR);
    with it T_p P + T_s S = P (T_p + T_s SPR). Equal signals need the exposure, which scales P
    and S together, multiplied by the ratio, B = 1 / T_total with T_total the grid's
    transmission of the total radiation. B grows with SPR: a grid costs most where it helps
    most.
    """
    tp, ts, s = _grid_args(primary_transmission, scatter_transmission, spr)
    return _out((1.0 + s) / (tp + ts * s))


def inverse_square(intensity, distance_mm, new_distance_mm) -> np.ndarray:
    """Intensity of a point source at another distance: I_2 = I_1 (d_1 / d_2)^2.

    Parameters
    ----------
    intensity : array_like
        Intensity (or air kerma, exposure rate) I_1 at distance d_1 (>= 0).
    distance_mm : array_like
        d_1 (> 0), mm, from the focal spot.
    new_distance_mm : array_like
        d_2 (> 0), mm. The three broadcast.

    Returns
    -------
    numpy.ndarray or float
        I_2, in the unit of ``intensity``.

    Raises
    ------
    ValueError
        If an argument is out of range or the shapes do not broadcast.

    Notes
    -----
    :formula:`xray.inverse-square`. The photons leaving the focal spot into a solid angle
    cross an area growing as d^2 (in air, where attenuation over a metre is < 0.1 % at
    diagnostic energies). Doubling the SID needs four times the mAs for the same detector
    signal.
    """
    i1 = as_array(intensity, "intensity", low=0.0)
    d1 = as_array(distance_mm, "distance_mm", low=0.0, low_inclusive=False)
    d2 = as_array(new_distance_mm, "new_distance_mm", low=0.0, low_inclusive=False)
    check_broadcast(intensity=i1, distance_mm=d1, new_distance_mm=d2)
    return _out(i1 * (d1 / d2) ** 2)


def magnification(sid_mm, sod_mm) -> np.ndarray:
    """Geometric magnification of an object in a point-source projection: M = SID / SOD.

    Parameters
    ----------
    sid_mm : array_like
        Source-to-image (detector) distance (> 0), mm.
    sod_mm : array_like
        Source-to-object distance (> 0, <= SID), mm.

    Returns
    -------
    numpy.ndarray or float
        M >= 1: an object of size a appears with size M a on the detector.

    Raises
    ------
    ValueError
        If a distance is not positive, the object lies beyond the detector, or the shapes do
        not broadcast.

    Notes
    -----
    :formula:`xray.magnification`, from similar triangles. For a chest PA at SID 1.8-2 m the
    heart, some 10 cm in front of the detector, is magnified by about 5 %; an AP film at 1 m
    with the heart 15 cm from the detector magnifies it by 18 %.
    """
    sid = as_array(sid_mm, "sid_mm", low=0.0, low_inclusive=False)
    sod = as_array(sod_mm, "sod_mm", low=0.0, low_inclusive=False)
    check_broadcast(sid_mm=sid, sod_mm=sod)
    if np.any(sod > sid):
        raise ValueError("sod_mm must not exceed sid_mm (the object lies between source and "
                         "detector)")
    return _out(sid / sod)


def focal_spot_blur(focal_spot_mm, magnification_factor) -> np.ndarray:
    """Width of the geometric unsharpness (penumbra) of an edge: b = f (M - 1).

    Parameters
    ----------
    focal_spot_mm : array_like
        Focal spot size f (>= 0), mm (its width along the direction considered).
    magnification_factor : array_like
        Magnification M = SID / SOD (>= 1) of the edge. The two broadcast.

    Returns
    -------
    numpy.ndarray or float
        The penumbra width b at the detector, mm (b / M referred to the object plane).

    Raises
    ------
    ValueError
        If an argument is out of range or the shapes do not broadcast.

    Notes
    -----
    :formula:`xray.focal-spot-blur`. Each point of the focal spot projects the edge to a
    different place; the edge's shadows from the two ends of the spot are f (SID - SOD) / SOD
    = f (M - 1) apart (similar triangles through the edge). An object on the detector (M = 1)
    is not blurred; magnification radiography needs a small (0.1 mm) focal spot.
    """
    f = as_array(focal_spot_mm, "focal_spot_mm", low=0.0)
    m = as_array(magnification_factor, "magnification_factor", low=1.0)
    check_broadcast(focal_spot_mm=f, magnification_factor=m)
    return _out(f * (m - 1.0))


def focal_spot_edge(detector_mm, *, focal_spot_mm: float, sid_mm: float, sod_mm: float,
                    edge_mm: float = 0.0, n_source_points: int = 401) -> np.ndarray:
    """Detector signal behind an opaque edge, summed over rays from a uniform focal spot.

    Parameters
    ----------
    detector_mm : array_like
        Detector positions u, mm, perpendicular to the edge (0 on the central ray).
    focal_spot_mm : float
        Width f (>= 0) of a uniform (top-hat) focal spot, mm.
    sid_mm, sod_mm : float
        Source-to-detector and source-to-edge distances (0 < SOD <= SID), mm.
    edge_mm : float, optional
        Position of the edge in the object plane, mm: the object absorbs everything at x > edge.
    n_source_points : int, optional
        Number of equally spaced points sampling the focal spot (>= 1, default 401).

    Returns
    -------
    numpy.ndarray
        Fraction of the focal spot that sees each detector position (1: open field, 0: full
        shadow), same shape as ``detector_mm``.

    Raises
    ------
    ValueError
        If an argument is out of range.

    Notes
    -----
    A ray from the source point s to the detector point u crosses the object plane at
    x = s + (u - s) SOD / SID. The signal is the fraction of source points whose ray passes at
    x < edge: a ramp from the full shadow to the open field, of width f (M - 1) (formula
    xray.focal-spot-blur), centred at the magnified edge M edge. It equals the sharp, magnified
    edge convolved with the focal spot projected through the edge, reversed and scaled by
    (M - 1).
    """
    u = as_array(detector_mm, "detector_mm")
    f = as_scalar(focal_spot_mm, "focal_spot_mm", low=0.0)
    sid = as_scalar(sid_mm, "sid_mm", low=0.0, low_inclusive=False)
    sod = as_scalar(sod_mm, "sod_mm", low=0.0, low_inclusive=False)
    if sod > sid:
        raise ValueError("sod_mm must not exceed sid_mm")
    e = as_scalar(edge_mm, "edge_mm")
    n = as_int(n_source_points, "n_source_points", low=1, high=100_000)
    s = (np.arange(n) + 0.5) / n * f - f / 2 if f > 0 else np.zeros(1)
    x = s + (u[..., None] - s) * (sod / sid)
    return np.mean(x < e, axis=-1)


def heel_effect(angle_rad, *, anode_angle_rad: float, depth_um: float,
                mu_per_cm: float) -> np.ndarray:
    """Relative intensity across the field along the anode-cathode axis (a simple heel model).

    Parameters
    ----------
    angle_rad : array_like
        Angle psi of the ray from the central ray, rad, positive towards the anode.
    anode_angle_rad : float
        Target (anode) angle theta in (0, pi/2), rad (typically 7-17 degrees).
    depth_um : float
        Mean depth d (>= 0) below the target surface at which the X-rays are produced, um.
    mu_per_cm : float
        Linear attenuation coefficient of the target (tungsten) at the effective energy
        (>= 0), 1/cm.

    Returns
    -------
    numpy.ndarray or float
        I(psi) / I(0) = exp(-mu d (1 / sin(theta - psi) - 1 / sin(theta))) for psi < theta;
        0 at and beyond psi = theta (the ray would leave through the target).

    Raises
    ------
    ValueError
        If an argument is out of range.

    Notes
    -----
    :formula:`xray.heel-effect`. A photon produced at depth d leaves the target at the take-off
    angle theta - psi to its surface and crosses d / sin(theta - psi) of tungsten. Rays towards
    the anode leave at grazing angles and are absorbed more: the field is dimmer on the anode
    side. The model is illustrative (one depth, one energy, no spectral hardening); real heel
    curves are measured.

    References
    ----------
    J. T. Bushberg et al., *The Essential Physics of Medical Imaging*, 3rd ed., 2012, ch. 6.
    """
    psi = as_array(angle_rad, "angle_rad", low=-np.pi / 2, high=np.pi / 2)
    th = as_scalar(anode_angle_rad, "anode_angle_rad", low=0.0, high=np.pi / 2,
                   low_inclusive=False, high_inclusive=False)
    d_cm = as_scalar(depth_um, "depth_um", low=0.0) * 1e-4
    mu = as_scalar(mu_per_cm, "mu_per_cm", low=0.0)
    take_off = th - psi
    ok = take_off > 0
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        extra = mu * d_cm * (1.0 / np.sin(np.where(ok, take_off, 1.0)) - 1.0 / np.sin(th))
        out = np.where(ok, np.exp(-np.where(ok, extra, 0.0)), 0.0)
    return _out(out)
