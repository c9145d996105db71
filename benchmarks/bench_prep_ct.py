"""Benchmark for the CT preprocessing notebooks (chapters/prep-ct-xray/ct-intensities.ipynb and
lung-pipeline.ipynb), one run:

1. Metal detection: ``prep.metal_mask`` (one labelling, one ``np.bincount``, one look-up)
   against the seed's per-label loop, on the same volume: the real chest CT (lung2, 61 slices)
   with two steel rods inserted, every slice projected with Poisson noise and reconstructed
   (``ct.radon``, ``ct.fbp``), so that the streaks are real. The masks must be identical; the
   bar of issue 12 is a ratio >= 20.
2. The lung mask of the whole real volume (``prep.lung_mask``) on its acquired grid and on the
   notebook's isotropic grid, its time (the bar: within the notebook budget of 60 s).

    python benchmarks/bench_prep_ct.py

Not a test: the CPU is shared, so the numbers depend on the machine's load (printed at the end).
"""
from __future__ import annotations

import os
import time

import nibabel as nib
import numpy as np
from scipy import ndimage

from medlib import ct, data, geometry, prep

E_KEV = 60.0
I0 = 2e5                      # photons per ray: a low-dose scan, many starved rays
MU_STEEL = 1.205 * 7.87       # 1/cm: iron at 60 keV (NIST mu/rho) x steel density


def seed_detect_metal_artifacts(image, threshold=3000):
    """The seed's listing, verbatim (the thing measured)."""
    metal_mask = image > threshold
    labeled_mask, num_features = ndimage.label(metal_mask)
    significant_metal = np.zeros_like(metal_mask)
    for i in range(1, num_features + 1):
        if np.sum(labeled_mask == i) > 100:
            significant_metal[labeled_mask == i] = True
    return significant_metal


def volume_with_metal(rng):
    img = nib.load(data.path("nifti/chest_ct_lung2_256.nii.gz"))
    vol = np.asarray(img.dataobj, dtype=np.float64).transpose(2, 1, 0)
    spacing = geometry.voxel_spacing(geometry.transpose_affine(img.affine, (2, 1, 0)))
    pixel_cm = spacing[1] / 10
    mu_water = ct.attenuation_coefficient("water", E_KEV)
    yy, xx = np.indices(vol.shape[1:])
    rods = np.zeros(vol.shape[1:], dtype=bool)
    for row, col in [(190, 112), (190, 144)]:
        rods |= (yy - row) ** 2 + (xx - col) ** 2 <= (5.0 / spacing[1]) ** 2
    theta = np.linspace(0.0, np.pi, 360, endpoint=False)
    out = np.empty_like(vol)
    for k, hu in enumerate(vol):
        mu = ct.mu_from_hu(np.clip(hu, -1000, None), mu_water)
        mu[rods] = MU_STEEL
        padded = ct.pad_to_circle(mu)
        counts = rng.poisson(I0 * np.exp(-ct.radon(padded, theta) * pixel_cm)).astype(float)
        rec = ct.fbp(ct.log_transform(counts, I0, floor=1.0), theta) / pixel_cm
        m = padded.shape[0]
        out[k] = ct.hu_from_mu(rec[m // 2 - 128:, m // 2 - 128:][:256, :256], mu_water)
    return vol, spacing, out


def best_of(f, repeats):
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        result = f()
        times.append(time.perf_counter() - start)
    return min(times), result


def main() -> None:
    rng = np.random.default_rng(0)
    start = time.perf_counter()
    vol, spacing, recon = volume_with_metal(rng)
    print(f"volume {recon.shape} with steel rods reconstructed in "
          f"{time.perf_counter() - start:.1f} s")
    n = ndimage.label(recon > 3000)[1]
    t_seed, seed = best_of(lambda: seed_detect_metal_artifacts(recon), 1)
    t_ours, ours = best_of(lambda: prep.metal_mask(recon), 5)
    same = np.array_equal(seed, ours)
    print(f"metal mask: {n} components above 3000 HU, {ours.sum()} voxels kept; "
          f"identical masks: {same}")
    print(f"  seed's per-label loop {t_seed * 1e3:9.1f} ms")
    print(f"  prep.metal_mask       {t_ours * 1e3:9.1f} ms   ratio {t_seed / t_ours:6.1f}x "
          f"(bar >= 20)")
    assert same

    img = nib.load(data.path("nifti/chest_ct_lung2_256.nii.gz"))
    affine = geometry.transpose_affine(img.affine, (2, 1, 0))
    t_lung, lungs = best_of(lambda: prep.lung_mask(vol, spacing), 3)
    print(f"lung mask of the whole real volume {vol.shape} at {np.round(spacing, 3)} mm: "
          f"{t_lung:.2f} s, {lungs.sum() * np.prod(spacing) / 1e6:.2f} L")
    iso, iso_affine = prep.resample_isotropic(vol, affine, float(spacing[1]))
    t_iso, lungs_iso = best_of(lambda: prep.lung_mask(iso, float(spacing[1])), 1)
    print(f"lung mask of the isotropic volume {iso.shape} (the notebook's grid): {t_iso:.2f} s, "
          f"{lungs_iso.sum() * float(spacing[1]) ** 3 / 1e6:.2f} L (bar: within the 60 s "
          "notebook budget)")
    print(f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs")


if __name__ == "__main__":
    main()
