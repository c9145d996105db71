"""Benchmark of medlib.pet's MLEM and OSEM (a script, not a test).

    python benchmarks/bench_pet.py [--repeats 5]

Problem: a 128 x 128 Shepp-Logan activity phantom, 128 angles over [0, pi), about 1e6 expected
counts of which 10 % flat randoms/scatter, one Poisson draw.

1. One MLEM iteration with medlib (sparse CSR matrix and its transposed CSR copy) against one
   built on scikit-image, forward projection ``skimage.transform.radon`` and backprojection
   ``iradon(filter_name=None)`` (the sensitivity image is iradon of a sinogram of ones), in the
   same run. The target is a ratio of at least 5.
2. OSEM with 8 subsets against MLEM: how many OSEM iterations reach the log-likelihood of 80
   MLEM iterations, and the wall time of each call (setup included: matrix checks, transposes,
   subset slicing, log-likelihood bookkeeping). The target is OSEM time <= MLEM time / 4.

The CPU is shared: every timing is the minimum over ``--repeats`` runs (the least disturbed
one), and the medians are printed too.
"""
from __future__ import annotations

import argparse
import os
import statistics
import time

import numpy as np
from skimage.transform import iradon, radon

from medlib import pet, phantoms


def _timed(func, repeats):
    times, result = [], None
    for _ in range(repeats):
        start = time.perf_counter()
        result = func()
        times.append(time.perf_counter() - start)
    return min(times), statistics.median(times), result


def skimage_mlem_iteration(x, y, r, theta_deg, inv_sens):
    """One MLEM iteration with scikit-image's projector pair (x is an n x n image)."""
    lam = radon(x, theta_deg, circle=True) + r
    ratio = np.where(lam > 0, y / np.where(lam > 0, lam, 1), 0)
    return x * inv_sens * iradon(ratio, theta_deg, filter_name=None, circle=True)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args(argv)
    reps = args.repeats

    n, n_angles = 128, 128
    theta = np.linspace(0, np.pi, n_angles, endpoint=False)
    theta_deg = np.rad2deg(theta)
    print(f"load average before: {os.getloadavg()[0]:.2f} on {os.cpu_count()} CPUs")

    t_build, _, A = _timed(lambda: pet.system_matrix(n, theta), 1)
    truth = phantoms.shepp_logan(n) * pet.circle_mask(n)
    x_true, r = pet.scale_to_counts(A, truth.ravel(), 1e6, background_fraction=0.1)
    y = pet.sample_counts(pet.expected_counts(A, x_true, r), 2026)
    print(f"system matrix {A.shape}, {A.nnz} non-zeros, built in {t_build:.2f} s; "
          f"{y.sum():.0f} counts")

    # --- 1. one MLEM iteration ---------------------------------------------------------------
    A_t = A.T.tocsr()
    sens = A_t @ np.ones(A.shape[0])
    inv = np.where(sens > 0, 1 / np.where(sens > 0, sens, 1), 0)
    x0 = np.where(sens > 0, 1.0, 0.0)

    def medlib_iteration():
        lam = A @ x0 + r
        return x0 * (inv * (A_t @ np.where(lam > 0, y / lam, 0)))

    y_img, r_img = y.reshape(n, n_angles), r.reshape(n, n_angles)
    sens_sk = iradon(np.ones((n, n_angles)), theta_deg, filter_name=None, circle=True)
    inv_sk = np.where(sens_sk > 1e-12, 1 / np.where(sens_sk > 1e-12, sens_sk, 1), 0)
    x0_img = x0.reshape(n, n)
    best_m, med_m, _ = _timed(medlib_iteration, 10 * reps)
    best_s, med_s, _ = _timed(lambda: skimage_mlem_iteration(x0_img, y_img, r_img, theta_deg,
                                                            inv_sk), reps)
    print("\n1. one MLEM iteration (forward projection, ratio, backprojection, update)")
    print(f"   medlib sparse : {1e3 * best_m:7.2f} ms (median {1e3 * med_m:.2f})")
    print(f"   skimage       : {1e3 * best_s:7.2f} ms (median {1e3 * med_s:.2f})")
    print(f"   ratio         : {best_s / best_m:7.1f} x (medians {med_s / med_m:.1f} x)   "
          f"target >= 5")

    # --- 2. OSEM vs MLEM ---------------------------------------------------------------------
    best_ml, med_ml, (_, ll_ml) = _timed(lambda: pet.mlem(y, A, 80, r), reps)
    _, ll_probe = pet.osem(y, A, 30, 8, r, n_angles=n_angles)
    k = int(np.argmax(ll_probe >= ll_ml[-1]))
    if ll_probe[k] < ll_ml[-1]:
        print("OSEM did not reach the MLEM log-likelihood in 30 iterations")
        return 1
    best_os, med_os, (_, ll_os) = _timed(lambda: pet.osem(y, A, k, 8, r, n_angles=n_angles), reps)
    print("\n2. OSEM (8 subsets) to the log-likelihood of 80 MLEM iterations")
    print(f"   MLEM 80 iterations : {best_ml:6.3f} s (median {med_ml:.3f}), log L {ll_ml[-1]:.1f}")
    print(f"   OSEM {k:2d} iterations : {best_os:6.3f} s (median {med_os:.3f}), "
          f"log L {ll_os[-1]:.1f}")
    print(f"   time ratio         : {best_os / best_ml:6.3f} (medians {med_os / med_ml:.3f})   "
          f"target <= 0.25")
    print(f"\nload average after: {os.getloadavg()[0]:.2f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
