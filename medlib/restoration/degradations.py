"""Where restoration data comes from: degraded images with their real clean partners.

Taught in ``chapters/restoration/degradations.ipynb`` (chapter 16.1).

The clean image a restoration network should output usually cannot be acquired: a second,
full-dose CT of the same patient doubles the dose, a fully sampled MR scan is the long scan the
network was meant to avoid. The course's answer is physical simulation from real images, with
Part I's own tools, so that every degraded image has an exact partner that differs from it only
by the degradation:

* :func:`simulate_low_dose_ct`: real CT slice in HU -> attenuation (``ct.mu_from_hu``) ->
  parallel-beam sinogram (``ct.radon``) -> Poisson photon counts at a chosen incident count I0
  per ray (``noise.poisson_noise``) -> log transform (``ct.log_transform``) -> filtered
  backprojection (``ct.fbp``) -> HU. The full-dose reference is the FBP of the *noiseless*
  sinogram through the same pipeline, so the pair differs by the photon noise only (the
  discretisation and the reconstruction filter's blur are in both).
* :func:`low_dose_ct_pairs`: paired sets from the two real chest CTs shipped with the course,
  training slices from one patient (``lung2``) and held-out slices from another (``lung1``).
* :func:`undersample_mr` and :func:`lower_resolution_mr`: a real MR slice with k-space lines
  left out (random phase-encoding lines plus a fully sampled centre, zero-filled) or with the
  outer k-space cut away (a lower resolution), with Part I's ``mri.kspace`` tools.

Slices are 2D arrays (rows, columns) = (y, x), displayed as a radiologist does: anterior at the
top, the patient's right on the viewer's left. Stacks are (slice, y, x).
"""
from __future__ import annotations

import dataclasses

import numpy as np

from .. import ct, mri, noise
from .._validate import as_array, as_choice, as_int, as_rng, as_scalar

__all__ = [
    "VOLUMES",
    "CTPairs",
    "load_slices",
    "simulate_low_dose_ct",
    "low_dose_ct_pairs",
    "undersample_mr",
    "lower_resolution_mr",
]

#: The real volumes this module reads (names for :func:`load_slices`), under ``medlib.data``.
VOLUMES = {
    "lung2": "nifti/chest_ct_lung2_256.nii.gz",      # training patient (chest CT, HU)
    "lung1": "nifti/chest_ct_lung1_256.nii.gz",      # held-out patient (chest CT, HU)
    "brain_mr1": "nifti/brain_mr1.nii.gz",           # clinical T1 MR, arbitrary units
    "brain_mr2": "nifti/brain_mr2.nii.gz",
}

_MAX_I0 = 1e15          # photons per ray: far beyond any scanner, still exact in Poisson sampling


def load_slices(volume: str, slices, *, size: int = 128) -> tuple[np.ndarray, float]:
    """Axial slices of one of the course's real volumes, reduced to ``size`` x ``size``.

    Parameters
    ----------
    volume : {"lung2", "lung1", "brain_mr1", "brain_mr2"}
        Which volume (see :data:`VOLUMES`; all are 256 x 256 in-plane).
    slices : int or sequence of int
        Axial slice indices (0 = the first slice of the file).
    size : {256, 128, 64, 32, 16, 8}, optional
        In-plane size of the result (default 128): 256 / size pixels are averaged per side (a
        block mean, the pixel a detector of that width would have seen).

    Returns
    -------
    stack : numpy.ndarray, shape (n_slices, size, size), float64
        The values (HU for CT, stored values for MR), rows anterior to posterior, columns
        from the patient's right to left.
    pixel_mm : float
        The in-plane pixel size of the result in mm.

    Raises
    ------
    ValueError
        On an unknown volume, a slice index outside the volume or a size that does not
        divide 256.
    """
    import nibabel as nib

    from .. import data

    name = as_choice(volume, "volume", VOLUMES)
    n = as_int(size, "size", low=8, high=256)
    if 256 % n:
        raise ValueError(f"size must divide 256 (256, 128, 64, 32, ...), got {n}")
    img = nib.load(data.path(VOLUMES[name]))
    nz = img.shape[2]
    if isinstance(slices, (int, np.integer)) and not isinstance(slices, bool):
        idx = [as_int(slices, "slices", low=0, high=nz - 1)]
    else:
        arr = as_array(slices, "slices", ndim=1)
        if arr.size == 0:
            raise ValueError("slices must name at least one slice")
        if np.any(arr != np.round(arr)) or np.any(arr < 0) or np.any(arr > nz - 1):
            raise ValueError(f"slices must be integers in [0, {nz - 1}] for {name}, got {arr}")
        idx = [int(k) for k in arr]
    f = 256 // n
    codes = nib.aff2axcodes(img.affine)
    if codes[0] not in ("L", "R") or codes[1] not in ("A", "P"):
        raise ValueError(f"{name}: expected axial slices with axes (x, y, z), got {codes}")
    vol = np.asarray(img.dataobj, dtype=np.float64)[:, :, idx]      # (i, j, k) of the file
    stack = np.transpose(vol, (2, 1, 0))                           # (k, j, i)
    # Radiological display: rows from anterior to posterior, columns from the patient's
    # right to left (the viewer faces the patient).
    if codes[1] == "A":
        stack = stack[:, ::-1, :]
    if codes[0] == "R":
        stack = stack[:, :, ::-1]
    stack = stack.reshape(len(idx), n, f, n, f).mean(axis=(2, 4))
    pixel_mm = float(img.header.get_zooms()[0]) * f
    return np.ascontiguousarray(stack), pixel_mm


def _one_slice(hu, i0, gen, pixel_cm, theta, mu_water, filter_name, top):
    n = hu.shape[0]
    mu = ct.mu_from_hu(np.maximum(hu, -1000.0), mu_water)          # air -> 0 /cm, never below
    p = ct.radon(ct.pad_to_circle(mu), theta) * pixel_cm            # line integrals, no unit
    counts = noise.poisson_noise(i0 * np.exp(-p), gen)
    p_noisy = ct.log_transform(counts, i0, floor=min(1.0, i0))      # starved rays: 1 count
    out = []
    for sino in (p_noisy, p):
        mu_rec = ct.fbp(sino, theta, filter_name)[top:top + n, top:top + n] / pixel_cm
        out.append(ct.hu_from_mu(mu_rec, mu_water))
    return out


def simulate_low_dose_ct(hu, i0: float, rng, *, pixel_mm: float, n_angles: int = 180,
                         energy_kev: float = 60.0,
                         filter_name: str = "ramp") -> tuple[np.ndarray, np.ndarray]:
    """Simulate a low-dose CT of real slices and its full-dose partner (same pipeline, no noise).

    Parameters
    ----------
    hu : array_like, shape (N, N) or (n_slices, N, N)
        Real CT slice(s) in HU, at most 1e5 (values below -1000 HU, the scanner's padding, are
        read as air).
    i0 : float
        Incident photons per detector bin and view, I0 in [1, 1e15]: the dose. Halving I0
        halves the dose and multiplies the noise variance by 2.
    rng : numpy.random.Generator or int
        Source of the photon noise.
    pixel_mm : float
        In-plane pixel size in mm (the line integrals are in pixels times this).
    n_angles : int, optional
        Views uniformly over [0, pi) (default 180).
    energy_kev : float, optional
        Monochromatic beam energy for the attenuation of water (default 60 keV, ``ct``'s
        NIST table); the HU of the input are converted to mu at that energy.
    filter_name : str, optional
        Reconstruction filter of :func:`medlib.ct.fbp` (default "ramp"), the same for both.

    Returns
    -------
    low_dose : numpy.ndarray, the shape of ``hu``
        FBP of the noisy sinogram, in HU.
    full_dose : numpy.ndarray, the shape of ``hu``
        FBP of the noiseless sinogram, in HU: the reference (the limit I0 -> infinity).

    Raises
    ------
    ValueError
        If ``hu`` is not a finite square slice or stack of them, or an argument is out of
        range.

    Notes
    -----
    Lambert-Beer (``ct.beer-lambert``) and Poisson counting (``noise.poisson``): the expected
    count of a ray with line integral p is I0 exp(-p); the measured count N ~ Poisson(I0
    exp(-p)); p_hat = -ln(N / I0) (``ct.log-transform``, counts of 0 clipped to 1) has variance
    about exp(p) / I0 (``ct.log-variance``): the noise is largest behind the most attenuating
    paths (streaks along the shoulders) and, FBP being linear, its variance in the image
    scales as 1 / I0. The slice is padded to its circumscribed circle before projecting (the
    body fills the square) and cropped back after the reconstruction.

    This is the common simulation of low-dose CT for learning (monochromatic, no electronic
    noise, no scatter, parallel beam); real scanners' noise also has electronic and
    quantisation parts and is shaped by the scanner's own filters.
    """
    img = as_array(hu, "hu", high=1e5)          # above any metal's HU; keeps mu finite
    if img.ndim not in (2, 3) or img.shape[-1] != img.shape[-2] or img.shape[-1] < 2:
        raise ValueError(f"hu must be a square slice (N, N) or a stack (n, N, N), got shape "
                         f"{img.shape}")
    if img.size == 0:
        raise ValueError("hu is empty")
    dose = as_scalar(i0, "i0", low=1.0, high=_MAX_I0)
    gen = as_rng(rng)
    pix = as_scalar(pixel_mm, "pixel_mm", low=0.01, high=100.0)
    na = as_int(n_angles, "n_angles", low=2, high=4096)
    mu_water = ct.attenuation_coefficient("water", energy_kev)
    filt = as_choice(filter_name, "filter_name",
                     ("ramp", "ram-lak", "shepp-logan", "cosine", "hamming", "hann"))
    theta = np.linspace(0.0, np.pi, na, endpoint=False)
    stack = img.reshape((-1,) + img.shape[-2:])
    n = stack.shape[-1]
    top = ct.pad_to_circle(np.zeros((n, n))).shape[0] // 2 - n // 2
    low, full = np.empty(stack.shape), np.empty(stack.shape)
    for k, sl in enumerate(stack):            # one slice per step, each step vectorised
        low[k], full[k] = _one_slice(sl, dose, gen, pix / 10.0, theta, mu_water, filt, top)
    return low.reshape(img.shape), full.reshape(img.shape)


@dataclasses.dataclass(frozen=True)
class CTPairs:
    """Paired low-dose / full-dose CT slices of one patient (made by :func:`low_dose_ct_pairs`).

    Attributes
    ----------
    low_dose, full_dose : numpy.ndarray, shape (n_slices, N, N)
        The input and the target, in HU.
    patient : str
        The volume's name in :data:`VOLUMES`.
    slices : tuple of int
        The axial slice indices used.
    pixel_mm : float
        In-plane pixel size in mm.
    i0 : float
        Incident photons per ray (the dose).
    """

    low_dose: np.ndarray
    full_dose: np.ndarray
    patient: str
    slices: tuple
    pixel_mm: float
    i0: float


def _even_slices(volume: str, count: int) -> list[int]:
    import nibabel as nib

    from .. import data

    nz = nib.load(data.path(VOLUMES[volume])).shape[2]
    if count > nz:
        raise ValueError(f"{volume} has {nz} slices, cannot take {count}")
    # Evenly spaced, leaving out the outermost 10 % at both ends (the lung apices and bases
    # hold little lung); distinct because count <= nz.
    lo, hi = 0.1 * (nz - 1), 0.9 * (nz - 1)
    idx = np.unique(np.rint(np.linspace(lo, hi, count)).astype(int))
    if idx.size < count:
        idx = np.unique(np.rint(np.linspace(0, nz - 1, count)).astype(int))
    return [int(k) for k in idx]


def low_dose_ct_pairs(i0: float, rng, *, n_train: int = 16, n_test: int = 8, size: int = 128,
                      n_angles: int = 180) -> dict[str, CTPairs]:
    """Paired low-dose / full-dose CT slices: training from one patient, held-out from another.

    Parameters
    ----------
    i0 : float
        Incident photons per ray (see :func:`simulate_low_dose_ct`), the same for both sets.
    rng : numpy.random.Generator or int
        Source of the photon noise. Two independent streams are spawned from it, one per set,
        so the held-out noise does not depend on ``n_train``.
    n_train : int, optional
        Slices of patient ``lung2`` (61 slices, 1.25 mm pixels at 256), evenly spaced over the
        middle 80 % of the volume (default 16).
    n_test : int, optional
        Slices of patient ``lung1`` (48 slices, 1.14 mm pixels at 256), likewise (default 8).
    size : int, optional
        In-plane size (default 128; see :func:`load_slices`).
    n_angles : int, optional
        Views over [0, pi) (default 180).

    Returns
    -------
    dict
        ``{"train": CTPairs, "test": CTPairs}``. The split is by patient: no held-out slice
        is a neighbour of a training slice.

    Raises
    ------
    ValueError
        On an argument out of range (more slices than a volume has, a bad size or dose).
    """
    dose = as_scalar(i0, "i0", low=1.0, high=_MAX_I0)
    gen = as_rng(rng)
    counts = {"train": as_int(n_train, "n_train", low=1, high=61),
              "test": as_int(n_test, "n_test", low=1, high=48)}
    n = as_int(size, "size", low=8, high=256)
    if 256 % n:
        raise ValueError(f"size must divide 256 (256, 128, 64, 32, ...), got {n}")
    streams = dict(zip(("train", "test"), gen.spawn(2)))
    out = {}
    for split, patient in (("train", "lung2"), ("test", "lung1")):
        idx = _even_slices(patient, counts[split])
        hu, pixel_mm = load_slices(patient, idx, size=n)
        low, full = simulate_low_dose_ct(hu, dose, streams[split], pixel_mm=pixel_mm,
                                         n_angles=n_angles)
        out[split] = CTPairs(low, full, patient, tuple(idx), pixel_mm, dose)
    return out


def undersample_mr(image, acceleration: float, rng, *, center_lines: int = 8,
                   axis: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Zero-filled reconstruction of a real MR slice from randomly undersampled k-space.

    Parameters
    ----------
    image : array_like, shape (Ny, Nx)
        The fully sampled magnitude image (any unit).
    acceleration : float
        R >= 1: about one phase-encoding line in R is kept (``mri.random_mask``).
    rng : numpy.random.Generator or int
        Chooses the lines.
    center_lines : int, optional
        Central lines always kept (default 8; the low frequencies carry the contrast).
    axis : int, optional
        The phase-encoding axis (default 0, the rows: whole k-space rows are kept or skipped).

    Returns
    -------
    zero_filled : numpy.ndarray, shape (Ny, Nx)
        The magnitude of the inverse FFT of the masked k-space, in the image's unit.
    mask : numpy.ndarray of bool, shape (Ny, Nx)
        The sampling mask on centred k-space.

    Raises
    ------
    ValueError
        If the image is not 2D and finite, or as :func:`medlib.mri.random_mask`.

    Notes
    -----
    ``mri.kspace-discrete``: S = F(image) on the centred grid (``mri.kspace_forward``); the
    unmeasured lines are set to zero and the image is ``|F^-1(M S)|``
    (``mri.kspace_inverse``). Leaving lines out shrinks the field of view along ``axis``
    (``mri.fov-aliasing``); random lines spread that aliasing into noise-like streaks
    instead of sharp ghosts. With R = 1 the image comes back unchanged (up to rounding).
    """
    img = as_array(image, "image", ndim=2)
    mask = mri.random_mask(img.shape, acceleration, rng, axis=axis, center_lines=center_lines)
    k = mri.kspace_forward(img)
    return np.abs(mri.kspace_inverse(np.where(mask, k, 0.0))), mask


def lower_resolution_mr(image, factor: int) -> np.ndarray:
    """A real MR slice at a lower resolution: only the central 1/factor of k-space per axis kept.

    Parameters
    ----------
    image : array_like, shape (Ny, Nx)
        The fully sampled magnitude image.
    factor : int
        Resolution loss per axis, in [1, min(Ny, Nx)].

    Returns
    -------
    numpy.ndarray, shape (Ny, Nx)
        The magnitude of the zero-filled reconstruction from the central
        ``(Ny // factor, Nx // factor)`` k-space samples (``mri.truncate_kspace``): the image a
        scan with ``factor`` times larger voxels gives, interpolated back onto the fine grid
        (with Gibbs ringing at sharp edges, as a real low-resolution scan has).

    Raises
    ------
    ValueError
        If the image is not 2D and finite or the factor is out of range.
    """
    img = as_array(image, "image", ndim=2)
    f = as_int(factor, "factor", low=1, high=min(img.shape))
    keep = (max(1, img.shape[0] // f), max(1, img.shape[1] // f))
    k = mri.truncate_kspace(mri.kspace_forward(img), keep)
    return np.abs(mri.kspace_inverse(k))
