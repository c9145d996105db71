"""The measuring instruments of the preprocessing pitfalls (section 13.3, ``pitfalls``).

The seed lists four pitfalls in a table: over-smoothing, global normalisation, leakage of test
statistics, excessive spatial transforms. Section 13.3 proves (or qualifies) each with an
experiment on real data; this module holds what those experiments measure:

- the contrast of a lesion against the tissue around it (:func:`lesion_contrast`);
- a local z-score, the "local normalisation" of the seed (:func:`local_zscore`), and the ROC AUC
  (:func:`roc_auc`), which no global monotone normalisation can change;
- a classical classifier and its scores for the split experiments (:func:`patch_features`,
  :func:`knn_scores`, :func:`best_threshold`, :func:`balanced_accuracy`);
- the topology of a mask (:func:`mask_topology`) and the Jacobian determinant of a displacement
  field (:func:`jacobian_determinant`), which tell whether a spatial transform tore or folded
  the anatomy.

Everything is NumPy/SciPy (and :func:`skimage.measure.euler_number`), vectorised, pure.
"""
from __future__ import annotations

import numpy as np
from scipy import ndimage

from .._validate import as_array, as_int, as_mask, as_scalar, as_spacing, check_size

__all__ = [
    "lesion_contrast",
    "local_zscore",
    "roc_auc",
    "best_threshold",
    "balanced_accuracy",
    "patch_features",
    "knn_scores",
    "mask_topology",
    "jacobian_determinant",
]


def lesion_contrast(image, lesion_mask, spacing_mm, *, shell_mm: float = 4.0) -> float:
    """Contrast of a lesion against a shell of tissue around it.

    Parameters
    ----------
    image : array_like
        2D or 3D image (HU, MR signal, any unit), axes (z, y, x) or (row, col).
    lesion_mask : array_like of bool
        The lesion, same shape.
    spacing_mm : float or array_like
        Voxel spacing in mm, per axis (or one number).
    shell_mm : float, optional
        Width of the surrounding shell in mm (default 4): the voxels outside the lesion whose
        distance to it is at most ``shell_mm``.

    Returns
    -------
    float
        mean(image in lesion) - mean(image in shell), in the image's unit. Its ratio before and
        after a filter is the fraction of contrast the filter kept.

    Raises
    ------
    ValueError
        If the shapes differ, the mask is empty or fills the image, or the shell is empty.
    """
    x = as_array(image, "image", ndim=(2, 3))
    m = as_mask(lesion_mask, "lesion_mask")
    if m.shape != x.shape:
        raise ValueError(f"lesion_mask must have the image's shape {x.shape}, got {m.shape}")
    if not m.any() or m.all():
        raise ValueError("lesion_mask must select some voxels, but not all of them")
    sp = as_spacing(spacing_mm, "spacing_mm", x.ndim)
    width = as_scalar(shell_mm, "shell_mm", low=0.0, low_inclusive=False)
    dist = ndimage.distance_transform_edt(~m, sampling=sp)
    shell = (dist > 0) & (dist <= width)
    if not shell.any():
        raise ValueError(f"shell_mm={width} is thinner than a voxel: the shell is empty")
    return float(x[m].mean() - x[shell].mean())


def local_zscore(image, sigma_mm, spacing_mm, *, mask=None, min_std: float = 1e-6) -> np.ndarray:
    """Local normalisation: subtract a Gaussian-weighted local mean, divide by the local std.

    Parameters
    ----------
    image : array_like
        2D or 3D image.
    sigma_mm : float or array_like
        Standard deviation of the Gaussian window in mm, per axis or one number; 0 along an
        axis keeps the statistics within each slice along it.
    spacing_mm : float or array_like
        Voxel spacing in mm, per axis or one number.
    mask : array_like of bool, optional
        Foreground (the body or the head): the local statistics use only voxels inside it
        (normalised convolution), so the air outside does not drag the local mean down.
        Default: every voxel.
    min_std : float, optional
        Floor of the local standard deviation, in the image's unit (default 1e-6).

    Returns
    -------
    numpy.ndarray of float64
        (x - mu_local) / max(sigma_local, min_std), with mu_local = G*(m x) / G*m and
        sigma_local^2 = G*(m x^2) / G*m - mu_local^2; 0 outside the mask.

    Raises
    ------
    ValueError
        If a sigma is negative, the mask is empty or has another shape.

    Notes
    -----
    A global normalisation (any increasing map applied to all voxels alike) keeps the order of
    the intensities, so it cannot change how well a lesion's voxels are separated from the rest
    (:func:`roc_auc`). A local normalisation can: a nodule at -80 HU is ordinary soft tissue in
    the chest as a whole, but an outlier against the lung around it.
    """
    x = as_array(image, "image", ndim=(2, 3))
    sp = as_spacing(spacing_mm, "spacing_mm", x.ndim)
    s = as_array(sigma_mm, "sigma_mm", ndim=(0, 1), low=0.0, high=1e4)
    s = np.full(x.ndim, float(s)) if s.ndim == 0 else s
    if s.shape != (x.ndim,):
        raise ValueError(f"sigma_mm must have one value per axis ({x.ndim}), got {s.tolist()}")
    if not np.any(s > 0):
        raise ValueError("sigma_mm must be positive along at least one axis")
    floor = as_scalar(min_std, "min_std", low=0.0, low_inclusive=False)
    if mask is None:
        m = np.ones(x.shape, bool)
    else:
        m = as_mask(mask, "mask")
        if m.shape != x.shape:
            raise ValueError(f"mask must have the image's shape {x.shape}, got {m.shape}")
        if not m.any():
            raise ValueError("mask selects no voxel")
    scale = np.max(np.abs(x[m])) or 1.0                        # work in units of the image's max
    xs = np.where(m, x / scale, 0.0)
    sig = s / sp
    w = ndimage.gaussian_filter(m.astype(np.float64), sig)
    w = np.where(w > 1e-12, w, np.inf)                          # far from the mask: no weight
    mu = ndimage.gaussian_filter(xs, sig) / w
    var = np.maximum(ndimage.gaussian_filter(xs * xs, sig) / w - mu ** 2, 0.0)
    out = (xs - mu) / np.maximum(np.sqrt(var), floor / scale)
    return np.where(m, out, 0.0)


def _scores_labels(scores, labels):
    s = as_array(scores, "scores", ndim=1)
    y = as_mask(labels, "labels")
    if y.shape != s.shape:
        raise ValueError(f"labels must have the shape of scores {s.shape}, got {y.shape}")
    if y.all() or not y.any():
        raise ValueError("labels must contain both classes (True and False)")
    return s, y


def roc_auc(scores, labels) -> float:
    """Area under the ROC curve: the probability that a positive scores above a negative.

    Parameters
    ----------
    scores : array_like, shape (n,)
        Any real scores (higher means "more likely positive").
    labels : array_like of bool, shape (n,)
        True for positives; both classes must occur.

    Returns
    -------
    float
        AUC in [0, 1]; ties count one half (the Mann-Whitney U statistic over n_pos n_neg).
        Unchanged by any increasing function of the scores.

    Raises
    ------
    ValueError
        If the shapes differ or a class is missing.
    """
    s, y = _scores_labels(scores, labels)
    order = np.argsort(s, kind="mergesort")
    ss = s[order]
    ranks = np.empty(s.size)
    # average ranks of ties, vectorised: the first and last index of each run of equal scores
    starts = np.r_[0, np.flatnonzero(np.diff(ss)) + 1]
    ends = np.r_[starts[1:], s.size]
    run_rank = (starts + ends + 1) / 2.0                          # 1-based average rank
    ranks[order] = np.repeat(run_rank, ends - starts)
    n1, n0 = int(y.sum()), int((~y).sum())
    u = ranks[y].sum() - n1 * (n1 + 1) / 2.0
    return float(u / (n1 * n0))


def balanced_accuracy(scores, labels, threshold: float) -> float:
    """Balanced accuracy of the rule "positive when score > threshold".

    Parameters
    ----------
    scores : array_like, shape (n,)
    labels : array_like of bool, shape (n,)
        Both classes must occur.
    threshold : float

    Returns
    -------
    float
        (sensitivity + specificity) / 2, in [0, 1]; 0.5 for a rule that ignores the scores.

    Raises
    ------
    ValueError
        If the shapes differ, a class is missing or the threshold is not finite.
    """
    s, y = _scores_labels(scores, labels)
    t = as_scalar(threshold, "threshold")
    p = s > t
    return float(0.5 * (p[y].mean() + (~p[~y]).mean()))


def best_threshold(scores, labels) -> tuple[float, float]:
    """The threshold that maximises the balanced accuracy on these scores and labels.

    Parameters
    ----------
    scores : array_like, shape (n,)
    labels : array_like of bool, shape (n,)

    Returns
    -------
    threshold : float
        The rule is "positive when score > threshold"; the threshold is a score value (the
        largest one classified negative) or just below the smallest score.
    balanced_accuracy : float
        Its balanced accuracy on these data.

    Raises
    ------
    ValueError
        If the shapes differ or a class is missing.

    Notes
    -----
    Chosen on training data, this is fitting; chosen on the test data, it is a statistic of the
    test set leaking into the score that is then reported.
    """
    s, y = _scores_labels(scores, labels)
    order = np.argsort(s, kind="mergesort")
    ss, yy = s[order], y[order]
    last = np.r_[np.flatnonzero(np.diff(ss)), s.size - 1]     # last index of each distinct score
    n1, n0 = y.sum(), (~y).sum()
    neg_at_or_below = np.cumsum(~yy)[last]
    pos_above = n1 - np.cumsum(yy)[last]
    ba = 0.5 * (pos_above / n1 + neg_at_or_below / n0)
    below = np.nextafter(ss[0], -np.inf)                       # everything positive
    ba_all = 0.5
    i = int(np.argmax(ba))
    if ba[i] >= ba_all:
        return float(ss[last[i]]), float(ba[i])
    return float(below), ba_all


def patch_features(volume, positions, half_width: int) -> np.ndarray:
    """The in-plane patches around given voxels of a volume, one row per voxel.

    Parameters
    ----------
    volume : array_like, shape (z, y, x)
    positions : array_like of int, shape (n, 3)
        Voxel indices (z, y, x); each patch must lie inside the volume.
    half_width : int
        Patches are (2 h + 1) x (2 h + 1) pixels of the voxel's slice, centred on it.

    Returns
    -------
    numpy.ndarray, shape (n, (2 h + 1)**2)
        Each row is one patch, raveled in (y, x) order.

    Raises
    ------
    ValueError
        If the volume is not 3D, a position is not an integer index or its patch leaves the
        volume.
    """
    v = as_array(volume, "volume", ndim=3)
    h = as_int(half_width, "half_width", low=0, high=min(v.shape[1:]) // 2)
    p = as_array(positions, "positions", ndim=2, dtype=None)
    if np.iscomplexobj(p):
        raise TypeError("positions must be integer voxel indices, got complex values")
    if p.dtype == bool or p.shape[1:] != (3,) or not np.all(np.mod(p, 1) == 0):
        raise ValueError(f"positions must be integer voxel indices of shape (n, 3), got "
                         f"{p.shape} of {p.dtype}")
    p = p.astype(np.int64)
    lo = np.array([0, h, h])
    hi = np.array(v.shape) - 1 - np.array([0, h, h])
    if np.any(p < lo) or np.any(p > hi):
        raise ValueError(f"positions must keep every patch of half_width={h} inside the volume "
                         f"{v.shape}")
    check_size((p.shape[0], (2 * h + 1) ** 2), "positions")
    offsets = np.arange(-h, h + 1)
    rows = p[:, 1, None, None] + offsets[None, :, None]
    cols = p[:, 2, None, None] + offsets[None, None, :]
    return v[p[:, 0, None, None], rows, cols].reshape(p.shape[0], -1)


def knn_scores(train_features, train_labels, test_features, *, k: int = 5) -> np.ndarray:
    """k-nearest-neighbour scores: the fraction of positives among each test sample's k
    nearest training samples (Euclidean distance).

    Parameters
    ----------
    train_features : array_like, shape (n_train, d)
    train_labels : array_like of bool, shape (n_train,)
    test_features : array_like, shape (n_test, d)
    k : int, optional
        Number of neighbours (default 5), at most n_train.

    Returns
    -------
    numpy.ndarray, shape (n_test,)
        Scores in [0, 1]; "positive when score > 0.5" is the majority vote.

    Raises
    ------
    ValueError
        If the shapes disagree or k is out of range.

    Notes
    -----
    A k-NN classifier memorises its training set; it is the clearest instrument for leakage:
    a test voxel whose neighbouring slice, or neighbouring voxel, was in the training set finds
    a near copy of itself there.
    """
    a = as_array(train_features, "train_features", ndim=2)
    y = as_mask(train_labels, "train_labels")
    b = as_array(test_features, "test_features", ndim=2)
    if y.shape != (a.shape[0],):
        raise ValueError(f"train_labels must have shape ({a.shape[0]},), got {y.shape}")
    if b.shape[1] != a.shape[1]:
        raise ValueError(f"test_features must have {a.shape[1]} columns like train_features, "
                         f"got {b.shape[1]}")
    kk = as_int(k, "k", low=1, high=a.shape[0])
    check_size((b.shape[0], a.shape[0]), "test_features")
    scale = max(float(np.max(np.abs(a))), float(np.max(np.abs(b))), 1e-300)
    a, b = a / scale, b / scale                              # no overflow of the squares
    d = (b * b).sum(1)[:, None] - 2.0 * b @ a.T + (a * a).sum(1)[None, :]
    nearest = np.argpartition(d, kk - 1, axis=1)[:, :kk]
    return y[nearest].mean(axis=1)


def mask_topology(mask) -> dict:
    """Components, Euler number and size of a binary mask: what a spatial transform must keep.

    Parameters
    ----------
    mask : array_like of bool
        2D or 3D.

    Returns
    -------
    dict
        ``components`` (connected components), ``euler_number`` (components - holes in 2D,
        components - tunnels + cavities in 3D), both with full connectivity of the mask (8
        neighbours in 2D, 26 in 3D), and ``voxels`` (count).

    Raises
    ------
    ValueError
        If the mask is not 2D or 3D.

    Notes
    -----
    A solid ball has Euler number 1, a hollow ball 2, a torus 0. A transform that keeps
    anatomy keeps these numbers; one that tears an organ apart adds components, one that folds
    it punches holes.
    """
    from skimage.measure import euler_number

    m = as_mask(mask, "mask")
    if m.ndim not in (2, 3):
        raise ValueError(f"mask must have 2 or 3 dimensions, got shape {m.shape}")
    _, n = ndimage.label(m, structure=np.ones((3,) * m.ndim, bool))
    return {"components": int(n), "euler_number": int(euler_number(m, connectivity=m.ndim)),
            "voxels": int(m.sum())}


def jacobian_determinant(displacement_mm, spacing_mm) -> np.ndarray:
    """Jacobian determinant of the map x -> x + u(x) given by a displacement field.

    Parameters
    ----------
    displacement_mm : array_like, shape ``(d, *grid)``
        Displacement u in mm, one component per axis (in the grid's axis order), d = 2 or 3.
    spacing_mm : float or array_like
        Grid spacing in mm, per axis or one number.

    Returns
    -------
    numpy.ndarray, shape grid
        det(I + du/dx) at every grid point (central differences, one-sided at the border).
        1 where the transform keeps local volume, between 0 and 1 where it compresses, > 1
        where it expands, <= 0 where it folds space onto itself: there the warped anatomy is
        no longer a one-to-one image of the original.

    Raises
    ------
    ValueError
        If the field does not have d components on a d-dimensional grid, or a grid axis has
        fewer than 2 points.
    """
    u = as_array(displacement_mm, "displacement_mm", ndim=(3, 4))
    d = u.ndim - 1
    if u.shape[0] != d:
        raise ValueError(f"displacement_mm must have shape ({d}, *grid) for a {d}D grid, got "
                         f"{u.shape}")
    if min(u.shape[1:]) < 2:
        raise ValueError(f"displacement_mm needs at least 2 points per grid axis, got {u.shape}")
    sp = as_spacing(spacing_mm, "spacing_mm", d)
    jac = np.empty((d, d) + u.shape[1:])
    for i in range(d):
        grads = np.gradient(u[i], *sp)
        for j in range(d):
            jac[i, j] = grads[j] + (1.0 if i == j else 0.0)
    return np.linalg.det(np.moveaxis(jac, (0, 1), (-2, -1)))
