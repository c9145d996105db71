"""Benchmark: medlib's image-processing and deep-learning formulas against the libraries a user
would otherwise call (SciPy, scikit-image, nibabel, PyTorch on the CPU). Not a test.

    python benchmarks/bench_proc_dl.py

Prints, per operation, the best of a few runs for medlib and the reference and their ratio
(> 1: medlib is slower). Runs on one thread for both sides.
"""
from __future__ import annotations

import os
import time

os.environ.setdefault("OMP_NUM_THREADS", "1")

import nibabel as nib  # noqa: E402
import numpy as np  # noqa: E402
import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402
from scipy import ndimage  # noqa: E402
from skimage import exposure  # noqa: E402

from medlib import data, dl, geometry, processing  # noqa: E402
from medlib.dl import losses  # noqa: E402

torch.set_num_threads(1)


def best(fn, repeat=3):
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)


def main():
    rng = np.random.default_rng(0)
    img = nib.load(data.path("nifti/chest_ct_lung2_256.nii.gz"))
    ct = np.asarray(img.dataobj, dtype=np.float64).transpose(2, 1, 0)
    affine = geometry.transpose_affine(img.affine, (2, 1, 0))
    hu = ct[20]
    levels = rng.integers(0, 4096, size=(1024, 1024))
    x = rng.normal(size=(8, 16, 64, 64))
    w = rng.normal(size=(32, 16, 3, 3))
    z = rng.normal(size=(16, 1, 128, 128))
    y = (rng.uniform(size=z.shape) < 0.05).astype(float)
    label = (ct > 0).astype(np.uint8)
    iso_shape = processing.resample_to_spacing(label, affine, 2.5, order=0)[0].shape
    iso_affine = processing.resample_to_spacing(label, affine, 2.5, order=0)[1]
    cases = [
        ("gaussian_filter 256x256, sigma 2",
         lambda: processing.gaussian_filter(hu, 2.0),
         lambda: ndimage.gaussian_filter(hu, 2.0, mode="reflect")),
        ("sobel gradient magnitude 256x256",
         lambda: processing.gradient_magnitude(hu),
         lambda: np.hypot(ndimage.sobel(hu, 0), ndimage.sobel(hu, 1))),
        ("equalize_histogram 1024x1024, L=4096",
         lambda: processing.equalize_histogram(levels, 4096),
         lambda: exposure.equalize_hist(levels)),
        ("resample CT to 2.5 mm, trilinear",
         lambda: processing.resample_to_spacing(ct, affine, 2.5, order=1),
         lambda: ndimage.affine_transform(ct, np.diag(2.5 / geometry.voxel_spacing(affine)),
                                          output_shape=iso_shape, order=1, mode="nearest")),
        ("resample label to 2.5 mm, nearest",
         lambda: processing.resample_to_spacing(label, affine, 2.5, order=0),
         lambda: nib.processing.resample_from_to(nib.Nifti1Image(label, affine),
                                                 (iso_shape, iso_affine), order=0,
                                                 mode="nearest")),
        ("conv2d 8x16x64x64 -> 32 ch, 3x3",
         lambda: dl.conv2d(x, w, padding=1),
         lambda: F.conv2d(torch.from_numpy(x), torch.from_numpy(w), padding=1)),
        ("focal loss + gradient 16x128x128",
         lambda: (losses.focal_loss(z, y), losses.focal_loss_gradient(z, y)),
         lambda: torch_focal_and_grad(z, y)),
        ("cross-entropy 16x4x128x128",
         lambda: losses.cross_entropy(np.repeat(z, 4, axis=1), y[:, 0].astype(int)),
         lambda: F.cross_entropy(torch.from_numpy(np.repeat(z, 4, axis=1)),
                                 torch.from_numpy(y[:, 0].astype(np.int64)))),
    ]
    print(f"{'operation':<40}{'medlib':>10}{'reference':>11}{'ratio':>8}")
    for name, ours, ref in cases:
        t_ours, t_ref = best(ours), best(ref)
        print(f"{name:<40}{1e3 * t_ours:>8.1f}ms{1e3 * t_ref:>9.1f}ms{t_ours / t_ref:>8.2f}")


def torch_focal_and_grad(z, y):
    zt = torch.tensor(z, requires_grad=True)
    yt = torch.from_numpy(y)
    p = torch.sigmoid(zt)
    p_t = p * yt + (1 - p) * (1 - yt)
    ce = F.binary_cross_entropy_with_logits(zt, yt, reduction="none")
    loss = ((0.25 * yt + 0.75 * (1 - yt)) * (1 - p_t) ** 2 * ce).mean()
    loss.backward()
    return loss, zt.grad


if __name__ == "__main__":
    import nibabel.processing  # noqa: F401
    main()
