"""Parallel imaging (SENSE, the g-factor) and compressed sensing (l1-Haar FISTA).

Taught in ``chapters/mri/acceleration.ipynb`` (section 4.7). Receive coils see the object
weighted by their sensitivities (:func:`coil_sensitivities`, the Biot-Savart field of a line
current); each coil's k-space is the signal equation of :mod:`medlib.mri.kspace` applied to
the weighted object (:func:`multicoil_kspace`). Keeping every R-th line folds R pixels onto
one; with several coils the fold is a small linear system per pixel group, solved by
:func:`sense_reconstruct`, whose noise amplification is :func:`g_factor`. Random undersampling
plus sparsity in an orthonormal Haar basis (:func:`haar_forward`) is reconstructed by
:func:`cs_reconstruct` (FISTA).

Conventions of this module
--------------------------
Images are 2D, (y, x) = (rows, columns), with 1 mm pixels in the k-space scaling of
:func:`~medlib.mri.kspace_forward` (``spacing_mm=1``); the phase-encoding axis is axis 0 (the
rows), as in :func:`~medlib.mri.regular_mask`. Multi-coil arrays have the coil first:
``(n_coils, ny, nx)``. Coil noise is assumed independent and of equal variance (a measured
noise covariance would first be whitened away).
"""
from __future__ import annotations

import numpy as np

from .._validate import as_array, as_int, as_mask, as_rng, as_scalar, as_shape
from .kspace import kspace_forward, kspace_inverse, regular_mask

__all__ = [
    "coil_sensitivities",
    "cs_reconstruct",
    "g_factor",
    "haar_forward",
    "haar_inverse",
    "multicoil_kspace",
    "sense_reconstruct",
    "variable_density_mask",
]


def coil_sensitivities(shape, n_coils: int, *, radius: float = 1.5) -> np.ndarray:
    """Complex receive sensitivities of line-current coils around the field of view.

    Parameters
    ----------
    shape : tuple of int
        Image shape (ny, nx).
    n_coils : int
        Number of coils (>= 1), equally spaced on a circle, coil 0 on the +x axis.
    radius : float, optional
        Radius of that circle in units of half the field of view (> 1: outside the image).

    Returns
    -------
    numpy.ndarray of complex, shape (n_coils, ny, nx)
        Sensitivities normalised so that their root-sum-of-squares is 1 at every pixel.

    Raises
    ------
    ValueError
        If the shape, number of coils or radius is invalid.

    Notes
    -----
    Each coil is a line current parallel to B0 (one rung of a birdcage, or the near side of a
    long surface loop). By Biot-Savart its field in the transverse plane falls as 1/r and
    points along the azimuth; written as a complex number, with
    :math:`w = (x - x_c) + i(y - y_c)` in units of half the field of view,
    :math:`B_x + iB_y \\propto i\\,w/|w|^2`, times the coil's own phase
    :math:`e^{-i 2\\pi c / n_c}` (the quadrature mode of a birdcage). Pixel coordinates are
    ``(index - n / 2) / (n / 2)``. This is the model of SigPy's ``sigpy.mri.birdcage_maps``
    (compared in the tests).
    """
    ny, nx = as_shape(shape, "shape", ndim=2)
    nc = as_int(n_coils, "n_coils", low=1, high=256)
    r = as_scalar(radius, "radius", low=1.0, high=1e3, low_inclusive=False)
    as_shape((nc, ny, nx), "shape")
    c = np.arange(nc)[:, None, None]
    y = (np.arange(ny)[None, :, None] - ny / 2.0) / (ny / 2.0)
    x = (np.arange(nx)[None, None, :] - nx / 2.0) / (nx / 2.0)
    w = (x - r * np.cos(2 * np.pi * c / nc)) + 1j * (y - r * np.sin(2 * np.pi * c / nc))
    maps = 1j * w / np.abs(w) ** 2 * np.exp(-2j * np.pi * c / nc)
    return maps / np.sqrt(np.sum(np.abs(maps) ** 2, axis=0))


def _image2d(image, name: str = "image") -> np.ndarray:
    return as_array(image, name, ndim=2, dtype=complex)


def _maps(sensitivities, shape=None) -> np.ndarray:
    s = as_array(sensitivities, "sensitivities", ndim=3, dtype=complex)
    if shape is not None and s.shape[1:] != tuple(shape):
        raise ValueError(f"sensitivities must have shape (n_coils, {shape[0]}, {shape[1]}), got "
                         f"{s.shape}")
    return s


def multicoil_kspace(image, sensitivities) -> np.ndarray:
    """Fully sampled k-space of every coil: the signal equation of the weighted object.

    Parameters
    ----------
    image : array_like, shape (ny, nx)
        The object (real or complex), 1 mm pixels.
    sensitivities : array_like, shape (n_coils, ny, nx)
        Coil sensitivities (e.g. :func:`coil_sensitivities`).

    Returns
    -------
    numpy.ndarray of complex, shape (n_coils, ny, nx)
        ``kspace_forward(sensitivities[c] * image)`` for each coil, centred.

    Raises
    ------
    ValueError
        If the shapes disagree or a value is not finite.
    """
    img = _image2d(image)
    s = _maps(sensitivities, img.shape)
    return np.stack([kspace_forward(sc * img) for sc in s])


def _unfolding_system(s: np.ndarray, r: int):
    """E[..., c, k] = S_c(y0 + k ny / R, x), batched over (y0, x): shape (ny/R, nx, nc, R)."""
    nc, ny, nx = s.shape
    return s.reshape(nc, r, ny // r, nx).transpose(2, 3, 0, 1)


def _acceleration(acceleration, s: np.ndarray) -> int:
    r = as_int(acceleration, "acceleration", low=1)
    nc, ny = s.shape[:2]
    if ny % r:
        raise ValueError(f"acceleration ({r}) must divide the {ny} phase-encoding lines")
    if r > nc:
        raise ValueError(f"acceleration ({r}) must not exceed the number of coils ({nc}): the "
                         "unfolding has more unknowns than equations")
    return r


def _normal_matrix(e: np.ndarray):
    eh = np.conj(np.swapaxes(e, -1, -2))
    ehe = eh @ e
    try:
        inv = np.linalg.inv(ehe)
    except np.linalg.LinAlgError:
        raise ValueError("sensitivities cannot unfold this acceleration: E^H E is singular "
                         "for some pixel group (coils with identical sensitivities there)") \
            from None
    if not np.all(np.isfinite(inv)):
        raise ValueError("sensitivities cannot unfold this acceleration: E^H E is singular")
    return eh, ehe, inv


def sense_reconstruct(kspace, sensitivities, acceleration: int) -> np.ndarray:
    """SENSE: unfold regularly undersampled multi-coil k-space, one small system per pixel group.

    Parameters
    ----------
    kspace : array_like, shape (n_coils, ny, nx)
        Centred multi-coil k-space. Only the lines of ``regular_mask((ny, nx), acceleration)``
        are used (every R-th line along axis 0, the k = 0 line included); others are ignored.
    sensitivities : array_like, shape (n_coils, ny, nx)
        Coil sensitivities.
    acceleration : int
        R, dividing ny and at most n_coils.

    Returns
    -------
    numpy.ndarray of complex, shape (ny, nx)
        The unfolded image (for R = 1, the optimal coil combination
        :math:`\\sum_c S_c^* I_c / \\sum_c |S_c|^2`).

    Raises
    ------
    ValueError
        If the shapes disagree, R does not divide ny or exceeds the number of coils, or the
        sensitivities cannot separate the folded pixels.

    Notes
    -----
    :formula:`mri.sense` -- keeping every R-th line, each coil's zero-filled image is periodic
    with period ny/R and equals :math:`\\tfrac1R\\sum_k S_c(y_k)\\rho(y_k)`,
    :math:`y_k = y_0 + k\\,n_y/R`. Stacking the coils, :math:`\\mathbf a = E\\boldsymbol\\rho`
    with :math:`E_{ck} = S_c(y_k)` (n_c x R), solved in the least-squares sense,
    :math:`\\hat{\\boldsymbol\\rho} = (E^HE)^{-1}E^H\\mathbf a`, for all (y0, x) at once
    (batched NumPy linear algebra).

    References
    ----------
    K. P. Pruessmann, M. Weiger, M. B. Scheidegger, P. Boesiger, SENSE: sensitivity encoding
    for fast MRI, Magn. Reson. Med. 42, 952-962 (1999).
    """
    k = as_array(kspace, "kspace", ndim=3, dtype=complex)
    s = _maps(sensitivities, k.shape[1:])
    if s.shape[0] != k.shape[0]:
        raise ValueError(f"kspace has {k.shape[0]} coils but sensitivities {s.shape[0]}")
    r = _acceleration(acceleration, s)
    nc, ny, nx = s.shape
    mask = regular_mask((ny, nx), r)
    folded = np.stack([kspace_inverse(kc * mask) for kc in k])[:, : ny // r] * r
    a = folded.transpose(1, 2, 0)[..., None]                       # (ny/R, nx, nc, 1)
    eh, _, inv = _normal_matrix(_unfolding_system(s, r))
    rho = (inv @ (eh @ a))[..., 0]                                   # (ny/R, nx, R)
    return rho.transpose(2, 0, 1).reshape(ny, nx)


def g_factor(sensitivities, acceleration: int) -> np.ndarray:
    """The SENSE geometry factor: the noise amplification of the unfolding at each pixel.

    Parameters
    ----------
    sensitivities : array_like, shape (n_coils, ny, nx)
        Coil sensitivities.
    acceleration : int
        R, dividing ny and at most n_coils.

    Returns
    -------
    numpy.ndarray, shape (ny, nx)
        g >= 1 at every pixel (1 everywhere for R = 1).

    Raises
    ------
    ValueError
        As for :func:`sense_reconstruct`.

    Notes
    -----
    :formula:`mri.g-factor` -- with independent coil noise of equal variance,
    :math:`g_\\rho = \\sqrt{[(E^HE)^{-1}]_{\\rho\\rho}\\,[E^HE]_{\\rho\\rho}}` and
    :math:`\\mathrm{SNR}_R = \\mathrm{SNR}_{\\mathrm{full}} / (g\\sqrt R)`: the factor
    :math:`\\sqrt R` because fewer samples are averaged, g because the folded pixels must be
    separated with sensitivities that are not orthogonal.
    """
    s = _maps(sensitivities)
    r = _acceleration(acceleration, s)
    nc, ny, nx = s.shape
    _, ehe, inv = _normal_matrix(_unfolding_system(s, r))
    diag = np.real(np.diagonal(inv, axis1=-2, axis2=-1) * np.diagonal(ehe, axis1=-2, axis2=-1))
    g = np.sqrt(np.clip(diag, 1.0, None))                            # >= 1 up to rounding
    return g.transpose(2, 0, 1).reshape(ny, nx)


# ---------------------------------------------------------------------------------------------
# Compressed sensing: an orthonormal Haar transform and FISTA
# ---------------------------------------------------------------------------------------------

def _levels(levels, shape) -> int:
    lv = as_int(levels, "levels", low=1, high=16)
    for n in shape:
        if n % (2 ** lv):
            raise ValueError(f"levels={lv} needs every image size divisible by {2 ** lv}, got "
                             f"shape {tuple(shape)}")
    return lv


def _haar_step(a: np.ndarray, axis: int) -> np.ndarray:
    even = np.take(a, np.arange(0, a.shape[axis], 2), axis=axis)
    odd = np.take(a, np.arange(1, a.shape[axis], 2), axis=axis)
    return np.concatenate([(even + odd), (even - odd)], axis=axis) / np.sqrt(2)


def _haar_step_inverse(a: np.ndarray, axis: int) -> np.ndarray:
    n = a.shape[axis] // 2
    low = np.take(a, np.arange(n), axis=axis)
    high = np.take(a, np.arange(n, 2 * n), axis=axis)
    out = np.empty_like(a)
    idx = [slice(None)] * a.ndim
    idx[axis] = slice(0, None, 2)
    out[tuple(idx)] = (low + high) / np.sqrt(2)
    idx[axis] = slice(1, None, 2)
    out[tuple(idx)] = (low - high) / np.sqrt(2)
    return out


def haar_forward(image, levels: int = 3) -> np.ndarray:
    """Orthonormal 2D Haar wavelet transform (Mallat layout, same shape as the image).

    Parameters
    ----------
    image : array_like, shape (ny, nx)
        Real or complex image; ny and nx divisible by 2**levels.
    levels : int, optional
        Number of decomposition levels (>= 1).

    Returns
    -------
    numpy.ndarray, shape (ny, nx)
        Coefficients: the approximation in the top-left ``(ny, nx) / 2**levels`` block, the
        details of level j around it (float64, or complex for complex input).

    Raises
    ------
    ValueError
        If the image is not 2D, not finite, or not divisible by 2**levels.

    Notes
    -----
    Each step maps pairs :math:`(a, b)` to :math:`((a + b)/\\sqrt2, (a - b)/\\sqrt2)` along
    rows then columns of the current approximation: an orthonormal transform W, so
    :math:`\\|W x\\| = \\|x\\|` and :math:`W^{-1} = W^T` (:func:`haar_inverse`).
    """
    x = as_array(image, "image", ndim=2, dtype=None)
    if not np.issubdtype(x.dtype, np.number) or x.dtype == bool:
        raise TypeError(f"image must be numeric, got dtype {x.dtype}")
    x = x.astype(complex if np.iscomplexobj(x) else float)
    lv = _levels(levels, x.shape)
    out = x.copy()
    ny, nx = x.shape
    for _ in range(lv):
        block = out[:ny, :nx]
        out[:ny, :nx] = _haar_step(_haar_step(block, 0), 1)
        ny, nx = ny // 2, nx // 2
    return out


def haar_inverse(coefficients, levels: int = 3) -> np.ndarray:
    """Inverse of :func:`haar_forward` (its transpose: the transform is orthonormal).

    Parameters
    ----------
    coefficients : array_like, shape (ny, nx)
        Haar coefficients in the layout of :func:`haar_forward`.
    levels : int, optional
        The number of levels used in the forward transform.

    Returns
    -------
    numpy.ndarray, shape (ny, nx)
        The image (float64, or complex for complex coefficients).

    Raises
    ------
    ValueError
        As for :func:`haar_forward`.
    """
    c = as_array(coefficients, "coefficients", ndim=2, dtype=None)
    if not np.issubdtype(c.dtype, np.number) or c.dtype == bool:
        raise TypeError(f"coefficients must be numeric, got dtype {c.dtype}")
    c = c.astype(complex if np.iscomplexobj(c) else float)
    lv = _levels(levels, c.shape)
    out = c.copy()
    for j in reversed(range(lv)):
        ny, nx = c.shape[0] >> j, c.shape[1] >> j
        out[:ny, :nx] = _haar_step_inverse(_haar_step_inverse(out[:ny, :nx], 1), 0)
    return out


def variable_density_mask(shape, acceleration: float, rng, *, power: float = 2.0,
                          center_radius: float = 0.04) -> np.ndarray:
    """Random 2D k-space sampling whose density falls from the centre outwards.

    Parameters
    ----------
    shape : tuple of int
        Shape (ny, nx) of the centred k-space, both axes phase-encoded (the two phase-encoding
        axes of a 3D acquisition; a 2D slice can only be undersampled along lines,
        :func:`~medlib.mri.random_mask`).
    acceleration : float
        R >= 1: round(ny nx / R) samples are kept.
    rng : numpy.random.Generator or int
        Source of randomness.
    power : float, optional
        The density is proportional to (1 - r)^power, r = |k| / |k|max in [0, 1] (>= 0; 0 is
        uniform).
    center_radius : float, optional
        Radius, as a fraction of |k|max, of a fully sampled disc around k = 0 (in [0, 1)).

    Returns
    -------
    numpy.ndarray of bool, shape ``shape``
        The mask, with exactly round(ny nx / R) True entries.

    Raises
    ------
    ValueError
        If R < 1 or the fully sampled centre alone exceeds the samples R allows.

    Notes
    -----
    The samples outside the centre are drawn without replacement with probabilities
    proportional to the density, so low frequencies, which carry most of the energy
    (``mri.kspace``), are sampled densely, and the aliasing of the rest is incoherent
    (Lustig et al. 2007).
    """
    ny, nx = as_shape(shape, "shape", ndim=2)
    r_acc = as_scalar(acceleration, "acceleration", low=1.0, high=float(ny * nx))
    gen = as_rng(rng)
    pw = as_scalar(power, "power", low=0.0, high=100.0)
    rc = as_scalar(center_radius, "center_radius", low=0.0, high=1.0, high_inclusive=False)
    ky = (np.arange(ny) - ny // 2) / max(ny // 2, 1)
    kx = (np.arange(nx) - nx // 2) / max(nx // 2, 1)
    r = np.sqrt(ky[:, None] ** 2 + kx[None, :] ** 2) / np.sqrt(2)
    total = max(int(round(ny * nx / r_acc)), 1)
    centre = r <= rc * np.max(r)
    n_centre = int(centre.sum())
    if n_centre > total:
        raise ValueError(f"center_radius={rc} fully samples {n_centre} points, more than the "
                         f"{total} that acceleration={r_acc} keeps")
    density = np.where(centre, 0.0, (1 - r) ** pw + 1e-12).ravel()
    chosen = gen.choice(ny * nx, size=total - n_centre, replace=False,
                        p=density / density.sum())
    mask = centre.ravel().copy()
    mask[chosen] = True
    return mask.reshape(ny, nx)


def cs_reconstruct(kspace, mask, lam: float, *, n_iter: int = 100, levels: int = 3,
                   ) -> np.ndarray:
    """Compressed-sensing reconstruction: l1 in an orthonormal Haar basis, solved by FISTA.

    Parameters
    ----------
    kspace : array_like, shape (ny, nx)
        Centred single-coil k-space (``kspace_forward(image)``, 1 mm pixels); only the samples
        where ``mask`` is True are used.
    mask : array_like of bool, shape (ny, nx)
        The sampling pattern (e.g. :func:`~medlib.mri.random_mask`).
    lam : float
        Regularisation weight lambda >= 0, relative to the image's scale (the data term uses
        the unitary DFT, so lambda is in the units of the image times a pixel).
    n_iter : int, optional
        Number of FISTA iterations (>= 1).
    levels : int, optional
        Haar decomposition levels; ny and nx must be divisible by 2**levels. The approximation
        coefficients are not penalised.

    Returns
    -------
    numpy.ndarray of complex, shape (ny, nx)
        The reconstructed image (lam = 0 and n_iter = 1 give the zero-filled reconstruction).

    Raises
    ------
    ValueError
        On mismatched shapes, a negative lambda, or sizes not divisible by 2**levels.

    Notes
    -----
    :formula:`mri.cs-l1` -- solves
    :math:`\\min_x \\tfrac12\\|M F x - y\\|_2^2 + \\lambda\\|\\Psi x\\|_1` with F the unitary
    centred DFT, M the mask and :math:`\\Psi` the Haar transform. With
    :math:`c = \\Psi x` the operator :math:`MF\\Psi^T` has norm <= 1, so the proximal gradient
    step of size 1 is :math:`c \\leftarrow \\mathrm{soft}_\\lambda(c + \\Psi F^H M^H(y - MF
    \\Psi^T c))`, with the complex soft threshold :math:`\\mathrm{soft}_\\lambda(c) = c\\,
    \\max(0, 1 - \\lambda/|c|)`; FISTA adds Nesterov's momentum (Beck & Teboulle 2009).

    References
    ----------
    M. Lustig, D. Donoho, J. M. Pauly, Sparse MRI: the application of compressed sensing for
    rapid MR imaging, Magn. Reson. Med. 58, 1182-1195 (2007).
    A. Beck, M. Teboulle, A fast iterative shrinkage-thresholding algorithm for linear inverse
    problems, SIAM J. Imaging Sci. 2, 183-202 (2009).
    """
    y = as_array(kspace, "kspace", ndim=2, dtype=complex)
    m = as_mask(mask, "mask")
    if m.shape != y.shape:
        raise ValueError(f"mask must have the shape of kspace {y.shape}, got {m.shape}")
    lmb = as_scalar(lam, "lam", low=0.0, high=1e12)
    its = as_int(n_iter, "n_iter", low=1, high=100_000)
    lv = _levels(levels, y.shape)
    scale = np.sqrt(y.size)                       # kspace_forward (1 mm) = sqrt(N) unitary DFT
    y_u = np.where(m, y, 0) / scale
    ny, nx = y.shape
    penal = np.ones(y.shape, dtype=bool)
    penal[: ny >> lv, : nx >> lv] = False          # the approximation is not penalised

    def grad_step(c):
        x = haar_inverse(c, lv)
        resid = y_u - m * (kspace_forward(x) / scale)
        return c + haar_forward(kspace_inverse(resid * scale), lv)

    def soft(c):
        mag = np.abs(c)
        with np.errstate(divide="ignore", invalid="ignore"):
            shrink = np.where(mag > lmb, 1 - lmb / mag, 0.0)
        return np.where(penal, c * shrink, c)

    c = haar_forward(kspace_inverse(y_u * scale), lv)     # the zero-filled start
    z, t = c.copy(), 1.0
    for _ in range(its):
        c_new = soft(grad_step(z))
        t_new = (1 + np.sqrt(1 + 4 * t * t)) / 2
        z = c_new + (t - 1) / t_new * (c_new - c)
        c, t = c_new, t_new
    return haar_inverse(c, lv)
