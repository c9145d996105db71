"""The detector's response and noise, flat-field correction and display of a radiograph.

Taught in ``chapters/xray/flat-field.ipynb`` (section 7.2 of the key formulas): gain and dark
signal, a simulated flat panel, flat-field correction, normalisation for display, a real
MONOCHROME1 chest radiograph and its pixel spacing.
"""
from __future__ import annotations

import numpy as np

from .. import noise
from .._validate import as_array, as_choice, as_int, as_rng, as_scalar, as_shape

__all__ = [
    "detector_response",
    "flat_field_correct",
    "rescale_for_display",
    "pixel_spacing_mm",
    "simulate_detector",
    "simulate_exposure",
    "to_monochrome2",
]


def detector_response(signal, gain, dark) -> np.ndarray:
    """Raw detector reading: I_raw = G * I_signal + D, pixel by pixel.

    Parameters
    ----------
    signal : array_like
        Ideal signal I_signal reaching each pixel (>= 0), e.g. from :func:`transmission`.
    gain : array_like
        Pixel gain G (> 0), broadcast against ``signal``.
    dark : array_like
        Dark signal D (offset and dark current), broadcast against ``signal``.

    Returns
    -------
    numpy.ndarray
        The raw image, shape of the broadcast inputs.

    Raises
    ------
    ValueError
        If ``signal`` < 0, ``gain`` <= 0, a value is not finite, or shapes do not broadcast.

    Notes
    -----
    :formula:`xray.detector-model`, the noise-free mean. For a noisy frame use
    :func:`simulate_exposure`, which draws the quanta *before* applying the gain.
    """
    s = as_array(signal, "signal", low=0)
    g = as_array(gain, "gain", low=0, low_inclusive=False)
    d = as_array(dark, "dark")
    try:
        return g * s + d
    except ValueError:
        raise ValueError(f"signal {s.shape}, gain {g.shape} and dark {d.shape} must "
                         "broadcast to one shape") from None


def simulate_detector(shape, rng, *, pixel_gain_sd: float = 0.05,
                      column_gain_sd: float = 0.03, falloff: float = 0.15,
                      dark_mean: float = 100.0, dark_sd: float = 10.0):
    """Draw a plausible gain map and dark frame for a flat-panel detector.

    Parameters
    ----------
    shape : (int, int)
        Detector (rows, cols).
    rng : numpy.random.Generator or int
        Source of randomness.
    pixel_gain_sd : float, optional
        Relative spread of the pixel-to-pixel gain (default 5 %).
    column_gain_sd : float, optional
        Relative spread of the gain of each read-out column (default 3 %): the stripes of a
        real panel.
    falloff : float, optional
        Relative loss of gain from the centre to the corners (default 15 %), a smooth
        vignetting like the heel effect and the panel's own non-uniformity.
    dark_mean, dark_sd : float, optional
        Mean and pixel-to-pixel spread of the dark signal (default 100 and 10, counts).

    Returns
    -------
    gain : numpy.ndarray, shape ``shape``
        G > 0, mean about 1.
    dark : numpy.ndarray, shape ``shape``
        D, at least 0.

    Raises
    ------
    TypeError
        If ``shape`` is not a pair of integers.
    ValueError
        If a spread is negative, ``falloff`` outside [0, 0.9], or ``shape`` has not two
        positive entries or asks for more than 2**28 pixels.
    """
    rows, cols = as_shape(shape, "shape", ndim=2)
    gen = as_rng(rng)
    ps = as_scalar(pixel_gain_sd, "pixel_gain_sd", low=0.0, high=0.3)
    cs = as_scalar(column_gain_sd, "column_gain_sd", low=0.0, high=0.3)
    fo = as_scalar(falloff, "falloff", low=0.0, high=0.9)
    dm = as_scalar(dark_mean, "dark_mean", low=0.0)
    dsd = as_scalar(dark_sd, "dark_sd", low=0.0)
    y = np.linspace(-1, 1, rows)[:, None]
    x = np.linspace(-1, 1, cols)[None, :]
    smooth = 1.0 - fo * (x**2 + y**2) / 2.0
    column = 1.0 + cs * gen.standard_normal(cols)[None, :]
    pixel = 1.0 + ps * gen.standard_normal((rows, cols))
    gain = np.clip(smooth * column * pixel, 0.05, None)
    dark = np.clip(dm + dsd * gen.standard_normal((rows, cols)), 0.0, None)
    return gain, dark


def simulate_exposure(photons, gain, dark, rng, *, read_noise_sd: float = 0.0,
                      bits_stored: int | None = None) -> np.ndarray:
    """One noisy raw frame, in the order a detector makes it: count, convert, add, digitise.

    Parameters
    ----------
    photons : array_like
        Expected number of X-ray quanta absorbed in each pixel (0 to 1e18, the limit of
        :func:`medlib.noise.poisson_noise`), e.g. ``I0 * transmission``.
    gain : array_like
        Conversion gain G of each pixel (> 0): raw units per absorbed quantum (a map from
        :func:`simulate_detector` times the panel's mean conversion gain), broadcast against
        ``photons``.
    dark : array_like
        Dark signal D (offset and dark current) in raw units, broadcast against ``photons``.
    rng : numpy.random.Generator or int
        Source of randomness.
    read_noise_sd : float, optional
        Standard deviation sigma_e of the electronic (read-out) noise, raw units (>= 0,
        default 0).
    bits_stored : int, optional
        If given (1-32), the analogue-to-digital converter: round to integers and clip to
        [0, 2^B - 1] (saturation). Default: no digitisation, float output.

    Returns
    -------
    numpy.ndarray
        The raw frame, shape of the broadcast inputs.

    Raises
    ------
    ValueError
        If ``photons`` < 0 or > 1e18, ``gain`` <= 0, ``read_noise_sd`` < 0, ``bits_stored``
        is out of range, or shapes do not broadcast.
    TypeError
        If ``rng`` is not a generator or seed.

    Notes
    -----
    :formula:`xray.detector-model` with its noise, in the physical order:

    1. photons: the number of absorbed quanta is n ~ Poisson(q)
       (:func:`medlib.noise.poisson_noise`);
    2. conversion and gain: G n (each quantum becomes G raw units, on average);
    3. electronics: + D + e, e ~ Normal(0, sigma_e^2);
    4. digitisation: round and clip to the converter's range.

    Hence mean G q + D and variance G^2 q + sigma_e^2 (+ 1/12 from rounding): after the dark is
    subtracted, Var = G * mean + sigma_e^2. Applying the gain before the Poisson draw,
    Poisson(G q), would give Var = mean, as if every raw unit were a counted quantum: it
    misstates the noise by the factor G and makes the image's SNR depend on the gain map,
    whereas the SNR of a quantum-limited detector is sqrt(q) whatever its gain.

    References
    ----------
    J. T. Bushberg et al., *The Essential Physics of Medical Imaging*, 3rd ed., 2012: ch. 4
    (image quality, quantum noise) and ch. 7 (radiography, flat-panel detectors).
    """
    q = as_array(photons, "photons", low=0, high=noise._MAX_POISSON_MEAN)
    g = as_array(gain, "gain", low=0, low_inclusive=False)
    d = as_array(dark, "dark")
    sigma = as_scalar(read_noise_sd, "read_noise_sd", low=0.0)
    bits = None if bits_stored is None else as_int(bits_stored, "bits_stored", low=1, high=32)
    try:
        shape = np.broadcast_shapes(q.shape, g.shape, d.shape)
    except ValueError:
        raise ValueError(f"photons {q.shape}, gain {g.shape} and dark {d.shape} must "
                         "broadcast to one shape") from None
    gen = as_rng(rng)
    quanta = noise.poisson_noise(np.broadcast_to(q, shape), gen)      # 1. counting
    raw = g * quanta + d                                               # 2. gain, dark signal
    if sigma > 0:
        raw = raw + sigma * gen.standard_normal(shape)                 # 3. electronic noise
    if bits is not None:
        raw = np.clip(np.round(raw), 0.0, float(2**bits - 1))         # 4. digitisation
    return raw


def flat_field_correct(raw, flat, dark) -> np.ndarray:
    """Flat-field (gain and offset) correction: (I_raw - I_dark) / (I_flat - I_dark).

    Parameters
    ----------
    raw : array_like
        Image of the patient.
    flat : array_like
        Flat (gain) frame: the same exposure without the patient, ideally the average of
        many frames; broadcast against ``raw``.
    dark : array_like
        Dark frame: no X-rays, same integration time; broadcast against ``raw``.

    Returns
    -------
    numpy.ndarray
        The corrected image: the fraction of the flat exposure that reached each pixel, i.e.
        the transmission I / I0, free of the gain map G and the offset D.

    Raises
    ------
    ValueError
        If at some pixel ``flat`` <= ``dark`` (a dead pixel, or a dark frame equal to the flat
        frame): the correction divides by zero there. Such pixels must be masked and
        interpolated from their neighbours before correcting.

    Notes
    -----
    :formula:`xray.flat-field`. With I_raw = G S + D and I_flat = G S0 + D the result is
    S / S0 exactly; noise in the flat and dark frames does not cancel, so both are averaged
    over many acquisitions.
    """
    r = as_array(raw, "raw")
    f = as_array(flat, "flat")
    d = as_array(dark, "dark")
    try:
        denominator = f - d
        numerator = r - d
        np.broadcast_shapes(numerator.shape, denominator.shape)
    except ValueError:
        raise ValueError(f"raw {r.shape}, flat {f.shape} and dark {d.shape} must broadcast "
                         "to one shape") from None
    bad = int(np.count_nonzero(denominator <= 0))
    if bad:
        raise ValueError(
            f"flat must exceed dark at every pixel; {bad} pixel(s) have flat <= dark (dead "
            "pixels, or a dark frame equal to the flat frame), where the correction divides "
            "by zero: mask and interpolate them first"
        )
    return numerator / denominator


def rescale_for_display(image, *, percentiles: tuple[float, float] | None = None) -> np.ndarray:
    """Linear rescaling to [0, 1] for display, with the image's own range: (I - min) / (max - min).

    Not to be confused with :func:`medlib.processing.minmax_normalize`, which applies statistics
    fitted on training data to any image (a preprocessing step); this one only prepares one image
    for the screen, from its own minimum and maximum or percentiles.

    Parameters
    ----------
    image : array_like
        Any real image.
    percentiles : (float, float), optional
        If given, use these percentiles (0 <= low < high <= 100) instead of the minimum and
        maximum, and clip to [0, 1]: a robust variant that one hot or dead pixel cannot
        wreck.

    Returns
    -------
    numpy.ndarray
        Values in [0, 1]; the minimum (or low percentile) maps to 0, the maximum to 1.

    Raises
    ------
    ValueError
        If the image is constant (max = min) or has non-finite values, or the percentiles
        are invalid.

    Notes
    -----
    :formula:`xray.minmax-display`. Min-max normalisation depends on the two most extreme
    pixels, so images normalised this way are not comparable with one another: use a fixed
    window (:func:`medlib.ct.window`) when the values have a physical meaning.
    """
    img = as_array(image, "image")
    if percentiles is None:
        lo, hi = float(img.min()), float(img.max())
    else:
        if len(percentiles) != 2:
            raise ValueError("percentiles must be a pair (low, high)")
        p_lo = as_scalar(percentiles[0], "percentiles[0]", low=0.0, high=100.0)
        p_hi = as_scalar(percentiles[1], "percentiles[1]", low=0.0, high=100.0)
        if p_lo >= p_hi:
            raise ValueError(f"percentiles must satisfy low < high, got {percentiles}")
        lo, hi = (float(v) for v in np.percentile(img, [p_lo, p_hi]))
    if hi <= lo:
        raise ValueError("image is constant over the chosen range: max = min, cannot normalise")
    out = (img - lo) / (hi - lo)
    return out if percentiles is None else np.clip(out, 0.0, 1.0)


def to_monochrome2(pixels, photometric: str, bits_stored: int) -> np.ndarray:
    """Stored values in the MONOCHROME2 sense (higher = brighter), whatever the file's convention.

    Parameters
    ----------
    pixels : array_like
        Stored values (``ds.pixel_array``), unsigned integers.
    photometric : {"MONOCHROME1", "MONOCHROME2"}
        Photometric Interpretation (0028,0004).
    bits_stored : int
        Bits Stored (0028,0101), 1-32.

    Returns
    -------
    numpy.ndarray of float64
        ``pixels`` unchanged for MONOCHROME2; (2^B - 1) - pixels for MONOCHROME1, where the
        minimum stored value is meant to be displayed white.

    Raises
    ------
    ValueError
        If the interpretation is neither, or a value lies outside [0, 2^B - 1].

    Notes
    -----
    :formula:`xray.monochrome1`. Many computed radiographs are MONOCHROME1. Skipping the
    inversion shows the lungs white and the bones dark, and a model trained on a mixture of
    both conventions learns the file format instead of the anatomy. Any VOI window stored in
    the file applies to the stored values, before this inversion.
    """
    kind = as_choice(photometric, "photometric", ("MONOCHROME1", "MONOCHROME2"))
    bits = as_int(bits_stored, "bits_stored", low=1, high=32)
    sv = as_array(pixels, "pixels")
    top = float(2**bits - 1)
    if sv.size and (sv.min() < 0 or sv.max() > top):
        raise ValueError(f"pixels must lie in [0, 2^{bits} - 1 = {top:.0f}] for "
                         f"bits_stored={bits}; got [{sv.min()}, {sv.max()}]")
    return top - sv if kind == "MONOCHROME1" else sv.copy()


def pixel_spacing_mm(ds):
    """The pixel spacing of a radiograph in mm, or None when the file does not know it.

    Parameters
    ----------
    ds : pydicom.Dataset
        A projection radiograph (CR, DX) or any 2D image.

    Returns
    -------
    tuple of float (row spacing, column spacing) or None
        Pixel Spacing (0028,0030) if present and positive, else Imager Pixel Spacing
        (0018,1164) (measured at the detector, so objects appear magnified by the
        source-to-detector over source-to-object distance), else None. Zeros, as in some
        real files, mean "unknown", not "0 mm".

    Raises
    ------
    TypeError
        If ``ds`` has no ``get`` method (is not a pydicom Dataset).
    """
    if not hasattr(ds, "get"):
        raise TypeError(f"ds must be a pydicom Dataset, got {type(ds).__name__}")
    for keyword in ("PixelSpacing", "ImagerPixelSpacing"):
        value = ds.get(keyword)
        if value is None:
            continue
        try:
            spacing = tuple(float(v) for v in value)
        except (TypeError, ValueError):
            continue
        if len(spacing) == 2 and all(np.isfinite(s) and s > 0 for s in spacing):
            return spacing
    return None
