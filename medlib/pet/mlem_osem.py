"""Reconstruction by maximum likelihood: the Poisson likelihood of a sinogram, MLEM and OSEM.

Taught in ``chapters/pet-spect/mlem-osem.ipynb`` (section 6.3 of the key formulas). The data
layout is that of :mod:`medlib.pet.forward_model`.
"""
from __future__ import annotations

import numpy as np
from scipy import special

from .._validate import as_array, as_bool, as_int, check_size
from ._common import _as_background, _as_counts, _as_matrix

__all__ = [
    "likelihood",
    "log_likelihood",
    "mlem",
    "osem",
]


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
    TypeError
        If ``constant`` is not True or False (a string such as 'False' is refused).
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
    constant = as_bool(constant, "constant")
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


def _angle_of_rows(y, m: int, n_subsets: int, n_angles) -> np.ndarray:
    """The projection angle of every row of the system matrix, for angular subsets."""
    if n_angles is None:
        shape = np.shape(y)
        if len(shape) == 2:
            n_angles = shape[1]
        elif n_subsets == 1:
            n_angles = m
        else:
            raise ValueError(
                "n_angles is needed to build angular subsets from a vector y: pass the number of "
                "projection angles (rows are bin * n_angles + angle, as in system_matrix), or y "
                "as a 2-D sinogram (n_bins, n_angles); for rows that are independent views pass "
                "n_angles=M")
    n_ang = as_int(n_angles, "n_angles", low=1, high=m)
    if m % n_ang:
        raise ValueError(f"n_angles ({n_ang}) must divide the number of rows of A ({m})")
    if n_subsets > n_ang:
        raise ValueError(f"n_subsets ({n_subsets}) must be <= n_angles ({n_ang}): each subset "
                         "needs at least one angle")
    return np.arange(m) % n_ang


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
        ``n_iter`` < 1 or above 2**28 - 1 (the history would not fit the memory limit).

    Notes
    -----
    :formula:`pet.mlem` in the form with background (:formula:`pet.em-background`)

        x_j <- x_j / s_j * sum_i a_ij y_i / (sum_m a_im x_m + r_i),

    which is the seed's update when r = 0. Each iteration is one forward projection (A x), one
    division and one backprojection (A^T, kept as a transposed CSR matrix so that both products
    are fast row-wise gathers). Multiplicative updates keep x >= 0.

    The update is the EM algorithm for Poisson data (derived in ``mlem-osem.ipynb``): with the
    complete data z_ij ~ Poisson(a_ij x_j) (counts of bin i from pixel j) and z_i0 ~ Poisson(r_i),
    the E-step assigns E[z_ij | y] = y_i a_ij x_j / lambda_i, and the M-step maximises the
    expected complete-data log-likelihood Q, which gives x_j = sum_i E[z_ij | y] / s_j. Since Q
    minorises log L and touches it at the current estimate, each iteration increases the
    log-likelihood; the iterates converge to the maximum-likelihood estimate
    (:formula:`pet.mle`), whose fixed-point (KKT) conditions the update encodes. Noise grows
    with the iterations, since the ML estimate of noisy data is itself noisy: stop early,
    smooth afterwards or regularise.

    References
    ----------
    L. A. Shepp, Y. Vardi, "Maximum likelihood reconstruction for emission tomography", IEEE
    Trans. Med. Imaging 1(2):113, 1982. K. Lange, R. Carson, "EM reconstruction algorithms for
    emission and transmission tomography", J. Comput. Assist. Tomogr. 8(2):306, 1984.
    A. P. Dempster, N. M. Laird, D. B. Rubin, "Maximum likelihood from incomplete data via the EM
    algorithm", J. R. Stat. Soc. B 39(1):1, 1977. Y. Vardi, L. A. Shepp, L. Kaufman, "A
    statistical model for positron emission tomography", J. Am. Stat. Assoc. 80(389):8, 1985.
    """
    mat, counts, r, j = _em_setup(y, A, background, x0)
    n_iter = as_int(n_iter, "n_iter", low=1)
    check_size((n_iter + 1,), "n_iter")                 # the log-likelihood history
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


def osem(y, A, n_iter: int, n_subsets: int, background=None, *, x0=None,
         n_angles: int | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Ordered-subsets expectation maximisation (OSEM).

    Parameters
    ----------
    y, A, background, x0
        As in :func:`mlem`.
    n_iter : int
        Number of iterations (>= 1); one iteration is one pass over all subsets.
    n_subsets : int
        Number of subsets S (1 <= S <= the number of angles). The subsets are interleaved
        angles: angle a belongs to subset a mod S, so subset s holds every S-th angle starting
        at angle s, with all the detector bins of each of its angles. When S does not divide
        the number of angles the subsets differ in size by one angle (for 128 angles and S = 5:
        three subsets of 26 angles and two of 25); nothing else changes.
    n_angles : int, optional
        Number of projection angles in the row layout of :func:`system_matrix`
        (row i = bin * n_angles + angle, so angle = i mod n_angles); M must be a multiple of
        it. Default: ``y.shape[1]`` when ``y`` is a 2-D sinogram (n_bins, n_angles). Required
        when S > 1 and ``y`` is a vector, since the rows alone do not say which angle they
        belong to. For a matrix whose rows are independent views, not in this layout, pass
        ``n_angles=M``: every row is then its own "angle" and subset s holds the rows
        i mod S = s.

    Returns
    -------
    x : numpy.ndarray, shape (J,)
        The estimate after ``n_iter`` iterations.
    log_likelihood : numpy.ndarray, shape (n_iter + 1,)
        Log-likelihood of all the data for the initial estimate and after each full iteration.

    Raises
    ------
    ValueError
        As :func:`mlem` (for ``osem``, n_iter + 1 iterates of J voxels must fit in 2**28
        values); if ``n_subsets`` is out of range (below 1, above M or above the number
        of angles); if ``n_angles`` is needed but not given (S > 1 and ``y`` a vector), or does
        not divide M.

    Notes
    -----
    :formula:`pet.osem`, with background (:formula:`pet.em-background`): one sub-iteration per
    subset S_k,

        x_j <- x_j / sum_{i in S_k} a_ij * sum_{i in S_k} a_ij y_i / (sum_m a_im x_m + r_i),

    so S updates per pass over the data instead of one: early iterations progress about S times
    faster than MLEM. The seed's index k counts sub-iterations. With S = 1 OSEM is MLEM. OSEM
    is not guaranteed to increase the likelihood and, with S > 1, ends in a limit cycle near
    (not at) the ML estimate. Pixels that a subset does not see keep their value in its update.

    Subsets must be angular: a subset that held some bins of every angle would be a set of
    parallel strips, not a set of views, and its backprojection would not spread the
    correction over the image. The layout row = bin * n_angles + angle makes "rows i mod S"
    angular only when S divides the number of angles, which is why the angles are counted
    explicitly (``n_angles``).

    References
    ----------
    H. M. Hudson, R. S. Larkin, "Accelerated image reconstruction using ordered subsets of
    projection data", IEEE Trans. Med. Imaging 13(4):601, 1994.
    """
    mat, counts, r, j = _em_setup(y, A, background, x0)
    n_iter = as_int(n_iter, "n_iter", low=1)
    m = mat.shape[0]
    n_sub = as_int(n_subsets, "n_subsets", low=1, high=m)
    angle = _angle_of_rows(y, m, n_sub, n_angles)
    subsets = []
    sens_all = np.zeros(j)
    for s in range(n_sub):
        rows = np.flatnonzero(angle % n_sub == s)
        sub = mat[rows]
        sub_t = sub.T                     # CSC view: backprojection without a transposed copy
        sens = sub_t @ np.ones(rows.size)
        inv = np.zeros(j)
        inv[sens > 0] = 1.0 / sens[sens > 0]
        subsets.append((rows, sub, sub_t, inv, sens > 0))
        sens_all += sens
    x = _initial(x0, j, sens_all, counts, r)
    check_size((n_iter + 1, j), "n_iter (times the number of voxels)")     # every iterate
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
