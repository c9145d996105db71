"""Synthetic training tasks with a known ground truth, reproducible from a seed.

Used in ``chapters/dl-formulas/losses.ipynb`` (section 9.2 of the key formulas):
:func:`lesion_task` makes a small segmentation problem with a rare foreground, on which the losses
are compared. NumPy only; it lives in :mod:`medlib.nn` beside the networks it feeds.
"""
from __future__ import annotations

import numpy as np

from .._validate import as_array, as_int, as_rng, as_scalar, check_size

__all__ = ["lesion_task"]


def lesion_task(n_images: int, size: int, rng, *, lesions_per_image: float = 1.5,
                radius_px: tuple[float, float] = (1.5, 3.5), contrast: float = 1.0,
                noise_sigma: float = 0.6):
    """Noisy images with a few small bright discs, and their masks: a rare foreground.

    Parameters
    ----------
    n_images : int
        Number of images (>= 1).
    size : int
        Height and width in pixels, at least 2 * radius_px[1] + 2 (9 for the default radii) so
        that the largest disc fits with a one-pixel margin.
    rng : numpy.random.Generator or int
        Source of randomness.
    lesions_per_image : float, optional
        Mean number of discs per image (Poisson; default 1.5): some images have none. At most
        size^2 / (pi radius_px[0]^2), the number of the smallest discs that cover the image.
    radius_px : pair of float, optional
        Range of disc radii in pixels (uniform; default 1.5 to 3.5).
    contrast : float, optional
        Disc intensity above the background (default 1).
    noise_sigma : float, optional
        Standard deviation of the white Gaussian noise (default 0.6); the background also gets
        a smooth random shading of amplitude ~0.5 so that a plain threshold does not suffice.

    Returns
    -------
    images : numpy.ndarray of float32, shape (n_images, 1, size, size)
    masks : numpy.ndarray of float32, shape (n_images, 1, size, size)
        1 inside a disc, 0 elsewhere; typically 1-3 % of the pixels are foreground.

    Raises
    ------
    ValueError
        On out-of-range arguments, a ``size`` too small for the largest disc, more images or
        pixels than 2**28 in all, or more lesions than the image holds.
    """
    n = as_int(n_images, "n_images", low=1)
    s = as_int(size, "size", low=1)
    check_size((n, 1, s, s), "n_images and size")
    gen = as_rng(rng)
    lam = as_scalar(lesions_per_image, "lesions_per_image", low=0.0)
    r_lo, r_hi = as_array(radius_px, "radius_px", shape=(2,))
    if not 0 < r_lo <= r_hi:
        raise ValueError(f"radius_px must satisfy 0 < low <= high, got {[r_lo, r_hi]}")
    if s < 2 * r_hi + 2:        # a disc's centre is drawn in [r + 1, size - r - 1]
        raise ValueError(f"size must be at least 2 * radius_px[1] + 2 = {2 * r_hi + 2:g} pixels "
                         f"for the largest disc to fit, got {s}")
    if lam * np.pi * r_lo**2 > s * s:     # the smallest discs would cover the image on average
        raise ValueError(f"lesions_per_image={lam} discs of radius >= {r_lo} px cover more than "
                         f"an image of size {s} x {s}: at most {s * s / (np.pi * r_lo**2):.3g}")
    c = as_scalar(contrast, "contrast")
    sigma = as_scalar(noise_sigma, "noise_sigma", low=0.0)
    yy, xx = np.mgrid[0:s, 0:s].astype(np.float64)
    masks = np.zeros((n, 1, s, s))
    shading = np.zeros((n, 1, s, s))
    for i in range(n):                                    # loop over images, not pixels
        for _ in range(gen.poisson(lam)):
            r = gen.uniform(r_lo, r_hi)
            cy, cx = gen.uniform(r + 1, s - r - 1, size=2)
            masks[i, 0][(yy - cy) ** 2 + (xx - cx) ** 2 <= r**2] = 1.0
        fy, fx, phase = gen.uniform(0.5, 2.0), gen.uniform(0.5, 2.0), gen.uniform(0, 2 * np.pi)
        shading[i, 0] = 0.5 * np.sin(2 * np.pi * (fy * yy + fx * xx) / s + phase)
    images = c * masks + shading + gen.normal(0.0, sigma, masks.shape)
    return images.astype(np.float32), masks.astype(np.float32)
