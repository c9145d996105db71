"""Benchmark: SSIM of a real CT volume with medlib.prep against scikit-image, in one run.

    python benchmarks/bench_validation.py       # prints the timings and the ratios

Three timings on the chest CT (61 x 256 x 256, uniform 7-voxel windows, data range 1):
3D SSIM (``prep.ssim`` against ``skimage.metrics.structural_similarity``), the 2D SSIM of every
slice (``prep.slicewise_ssim``, one vectorised pass, against a loop of scikit-image calls), and
the whole ``prep.validation_report`` (3D and slice-wise SSIM from one shared filtering, plus
statistics and correlation) against scikit-image's 3D SSIM plus its slice loop. The values must
agree to 1e-12. Not a test: the CPU is shared, so the numbers depend on the machine's load
(printed at the end).
"""
from __future__ import annotations

import os
import statistics
import time

import nibabel as nib
import numpy as np
from skimage.metrics import structural_similarity

from medlib import ct, data, prep

REPEATS = 3


def best_of(fn) -> tuple[float, object]:
    times, out = [], None
    for _ in range(REPEATS):
        start = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - start)
    return min(times), out


def main() -> None:
    img = nib.load(data.path("nifti/chest_ct_lung2_256.nii.gz"))
    hu = np.asarray(img.dataobj, dtype=np.float64).transpose(2, 1, 0)
    a = ct.window(hu, -600.0, 1500.0)
    b = np.clip(a + np.random.default_rng(0).normal(0, 0.03, a.shape), 0, 1)

    t_ours3, s_ours3 = best_of(lambda: prep.ssim(a, b, data_range=1.0))
    t_sk3, s_sk3 = best_of(lambda: structural_similarity(a, b, data_range=1.0))
    assert abs(s_ours3 - s_sk3) < 1e-12

    t_ours2, s_ours2 = best_of(lambda: prep.slicewise_ssim(a, b, data_range=1.0))
    t_sk2, s_sk2 = best_of(lambda: np.array([structural_similarity(x, y, data_range=1.0)
                                             for x, y in zip(a, b)]))
    assert np.allclose(s_ours2, s_sk2, atol=1e-12)

    t_report, rep = best_of(lambda: prep.validation_report(a * 1500.0 - 1350.0, b,
                                                           data_range=1.0))
    assert rep["worst_slice"] is not None and len(rep["slice_ssim"]) == a.shape[0]

    print(f"volume {a.shape}, uniform 7-voxel windows, best of {REPEATS}")
    print(f"3D SSIM          medlib {t_ours3 * 1e3:8.1f} ms   scikit-image {t_sk3 * 1e3:8.1f} ms"
          f"   ratio medlib/skimage {t_ours3 / t_sk3:.2f}")
    print(f"SSIM per slice   medlib {t_ours2 * 1e3:8.1f} ms   scikit-image loop "
          f"{t_sk2 * 1e3:8.1f} ms   ratio {t_ours2 / t_sk2:.2f}")
    print(f"whole report     medlib {t_report * 1e3:8.1f} ms   scikit-image 3D + loop "
          f"{(t_sk3 + t_sk2) * 1e3:8.1f} ms   ratio {t_report / (t_sk3 + t_sk2):.2f}")
    print(f"(load average {statistics.mean(os.getloadavg()):.1f} on {os.cpu_count()} cores)")


if __name__ == "__main__":
    main()
