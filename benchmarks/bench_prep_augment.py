"""Benchmark: medlib.prep's augmentation and physical resampling against TorchIO and SimpleITK.
Not a test.

    python benchmarks/bench_prep_augment.py [--draws 100]

1. A 3D elastic deformation (plus a random affine) of a 128^3 volume with its label map, drawn
   ``--draws`` times: the label set must be exact every time (no new values; no label lost
   while its ball stays in the field of view). Then the time of one draw (field + image +
   label map) against TorchIO's ``RandomElasticDeformation`` on the same image and label map
   at a comparable displacement (best of 3, one thread each; ratio > 1: medlib is slower).
2. Resampling to a target spacing on the course's real volumes against SimpleITK's
   ``ResampleImageFilter`` on the same grid: max |difference| / intensity range over the new
   voxels inside the old grid (the bar: below 1e-6), and the time ratio.
"""
from __future__ import annotations

import argparse
import os
import time
import warnings

os.environ.setdefault("OMP_NUM_THREADS", "1")

import numpy as np  # noqa: E402
import SimpleITK as sitk  # noqa: E402
import torch  # noqa: E402
import torchio as tio  # noqa: E402

from medlib import data, geometry, prep  # noqa: E402

torch.set_num_threads(1)
sitk.ProcessObject.SetGlobalDefaultNumberOfThreads(1)

N = 128
SIGMA = 8.0                                          # voxels
SD_VOX = 3.0                                         # wanted sd of each displacement component
ALPHA = SD_VOX * (2 * np.sqrt(np.pi) * SIGMA) ** 1.5  # pre.elastic in 3D


def best(fn, repeat=3):
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)


def phantom(rng):
    """A 128^3 label map of five balls (labels 3, 7, 20, 41, 250) and a noisy image of it."""
    z, y, x = np.indices((N, N, N), dtype=np.float64)
    labels = np.zeros((N, N, N), dtype=np.uint8)
    centres = []
    for value in (3, 7, 20, 41, 250):
        c = N / 2 + rng.uniform(-24, 24, 3)
        labels[(z - c[0]) ** 2 + (y - c[1]) ** 2 + (x - c[2]) ** 2 <= 10.0 ** 2] = value
        centres.append((value, c))
    image = labels.astype(np.float64) + rng.normal(0, 5.0, labels.shape)
    return image, labels, centres


def one_draw(image, labels, rng):
    a, b = prep.random_affine(image.shape, rng, rotation_deg=15.0, scale_range=(0.9, 1.1),
                              translation_mm=5.0)
    u = prep.elastic_displacement(image.shape, rng, alpha=ALPHA, sigma_vox=SIGMA)
    coords = prep.sampling_coordinates(image.shape, a, b, u)
    out, (lab,) = prep.spatial_augment(image, coords, (labels,))
    return out, lab, a, b, u


def label_sets(draws):
    rng = np.random.default_rng(2026)
    image, labels, centres = phantom(rng)
    allowed = set(np.unique(labels).tolist())
    new_values = lost = checked = 0
    start = time.perf_counter()
    for _ in range(draws):
        _, lab, a, b, u = one_draw(image, labels, rng)
        present = set(np.unique(lab).tolist())
        new_values += len(present - allowed - {0})
        # a ball of radius 10 must remain if an output voxel o reads a point within
        # 10 - sqrt(3)/2 of its centre: o = round(T^-1(centre)) of the affine part is within
        # sqrt(3)/2 of it, moved by at most sqrt(3)/2 / scale + |u(o)| in the input
        scale_min = np.sqrt(np.max(np.linalg.eigvalsh(a @ a.T))) ** -1
        for value, c in centres:
            o = np.rint(np.linalg.solve(a, c - b)).astype(int)
            if np.all(o >= 0) and np.all(o <= N - 1):
                reach = np.sqrt(3) / 2 / scale_min + np.linalg.norm(u[(slice(None), *o)])
                if reach > 10.0 - np.sqrt(3) / 2:
                    continue
                checked += 1
                lost += value not in present
    elapsed = time.perf_counter() - start
    print(f"1. label set over {draws} random affine + elastic transforms of {N}^3 "
          f"(sd(u) = {SD_VOX} voxels): {new_values} new values, {lost} of {checked} "
          f"in-view labels lost ({elapsed / draws:.2f} s per draw)")
    return new_values == 0 and lost == 0


def elastic_timing():
    rng = np.random.default_rng(7)
    image, labels, _ = phantom(rng)
    subject = tio.Subject(im=tio.ScalarImage(tensor=torch.tensor(image[None])),
                          lab=tio.LabelMap(tensor=torch.tensor(labels[None])))
    # TorchIO: uniform control-point displacements up to 7.5 mm on a 7-point grid (sd about
    # 7.5 / sqrt(3) = 4.3 mm at the control points, less between them): comparable to 3 voxels
    transform = tio.RandomElasticDeformation(num_control_points=7, max_displacement=7.5)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        t_tio = best(lambda: transform(subject))
    t_ours = best(lambda: one_draw(image, labels, rng))
    print(f"   one draw, image + label map, {N}^3: medlib {t_ours:.2f} s, TorchIO "
          f"RandomElasticDeformation {t_tio:.2f} s, ratio {t_ours / t_tio:.2f}")
    return t_ours / t_tio


def _sitk_resample(image, shape, affine_lps):
    spacing = geometry.voxel_spacing(affine_lps)
    f = sitk.ResampleImageFilter()
    f.SetSize([int(n) for n in shape[::-1]])
    f.SetOutputSpacing(spacing[::-1].tolist())
    f.SetOutputOrigin(affine_lps[:3, 3].tolist())
    f.SetOutputDirection((affine_lps[:3, :3] / spacing)[:, ::-1].ravel().tolist())
    f.SetInterpolator(sitk.sitkLinear)
    return sitk.GetArrayFromImage(f.Execute(image))


def resampling():
    print("2. resampling to spacing against SimpleITK ResampleImageFilter (same grid)")
    print(f"   {'volume':<36}{'target':>8}{'shape':>18}{'max|diff|/range':>17}"
          f"{'medlib':>9}{'SimpleITK':>10}{'ratio':>7}")
    worst = 0.0
    for name, target in [("nifti/chest_ct_lung1_256.nii.gz", 1.5),
                         ("nifti/chest_ct_lung2_256.nii.gz", 1.5),
                         ("nifti/brain_mr1.nii.gz", 1.0),
                         ("nifti/brain_mr2.nii.gz", 1.0),
                         ("nifti/colin27_t1_brain_1mm.nii.gz", 1.5)]:
        s = sitk.ReadImage(str(data.path(name)), sitk.sitkFloat64)
        direction = np.array(s.GetDirection()).reshape(3, 3)
        img = prep.physical_image(sitk.GetArrayFromImage(s), np.array(s.GetSpacing())[::-1],
                                  s.GetOrigin(), direction[:, ::-1])
        start = time.perf_counter()
        out = prep.resample_physical(img, target)
        t_ours = time.perf_counter() - start
        start = time.perf_counter()
        ref = _sitk_resample(s, out.shape, out.affine)
        t_ref = time.perf_counter() - start
        old = [np.arange(n) * target / sp for n, sp in zip(out.shape, img.spacing_mm)]
        inside = np.ix_(*[np.flatnonzero(i <= n - 1) for i, n in zip(old, img.shape)])
        err = np.max(np.abs(out.array[inside] - ref[inside])) / np.ptp(img.array)
        worst = max(worst, err)
        print(f"   {name:<36}{target:>6.1f}mm{str(out.shape):>18}{err:>17.1e}"
              f"{t_ours:>8.2f}s{t_ref:>9.2f}s{t_ours / t_ref:>7.1f}")
    return worst


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--draws", type=int, default=100)
    args = parser.parse_args()
    exact = label_sets(args.draws)
    ratio = elastic_timing()
    worst = resampling()
    print()
    print(f"bars: label set exact over {args.draws} draws: {'yes' if exact else 'NO'}; "
          f"elastic time ratio medlib / TorchIO {ratio:.2f} (bar <= 1): "
          f"{'yes' if ratio <= 1 else 'NO'}; resampling max |diff| / range {worst:.1e} "
          f"(bar < 1e-6): {'yes' if worst < 1e-6 else 'NO'}")


if __name__ == "__main__":
    main()
