#!/usr/bin/env python3
"""Benchmark medlib.ct against scikit-image (a script, not a test).

    .venv/bin/python benchmarks/bench_ct.py            # 512 x 512 Shepp-Logan, 360 angles
    .venv/bin/python benchmarks/bench_ct.py --size 256 --angles 180 --repeat 5

Times each function on the same input in one process (best of ``--repeat`` runs, so a busy
shared CPU disturbs the ratio as little as possible) and prints the speed ratios and the accuracy
figures of the course's bars (issue 4):

* ``ct.radon`` at least 3x faster than ``skimage.transform.radon``, with at most 1 % relative
  RMS difference between the two sinograms;
* ``ct.fbp`` at least 4x faster than ``skimage.transform.iradon`` (same sinogram, ramp filter),
  with an RMSE against the phantom inside the reconstruction circle no worse than iradon's
  plus 1 % (relative).

Both libraries use the same geometry (see ``medlib/ct/radon.py``); scikit-image takes degrees.
"""
from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

import numpy as np
from skimage.transform import iradon, radon

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from medlib import ct, phantoms  # noqa: E402


def best_time(func, *args, repeat: int = 3, **kwargs):
    """Smallest wall time of ``repeat`` calls, and the last result."""
    times, result = [], None
    for _ in range(repeat):
        start = time.perf_counter()
        result = func(*args, **kwargs)
        times.append(time.perf_counter() - start)
    return min(times), result


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--size", type=int, default=512, help="phantom size N (default 512)")
    parser.add_argument("--angles", type=int, default=360, help="number of angles (default 360)")
    parser.add_argument("--repeat", type=int, default=3, help="timing repetitions (default 3)")
    args = parser.parse_args(argv)

    n, n_angles = args.size, args.angles
    image = phantoms.shepp_logan(n)
    theta = np.linspace(0.0, np.pi, n_angles, endpoint=False)
    theta_deg = np.rad2deg(theta)
    inside = ct.circle_mask(n)
    load = os.getloadavg() if hasattr(os, "getloadavg") else (float("nan"),) * 3
    print(f"Shepp-Logan {n} x {n}, {n_angles} angles over [0, pi); best of {args.repeat} runs")
    print(f"CPU cores: {os.cpu_count()}, load average before: "
          f"{load[0]:.2f} {load[1]:.2f} {load[2]:.2f}")

    t_sk_radon, sino_sk = best_time(radon, image, theta_deg, repeat=args.repeat)
    t_radon, sino = best_time(ct.radon, image, theta, repeat=args.repeat)
    rel_rms = np.sqrt(np.mean((sino - sino_sk) ** 2) / np.mean(sino_sk**2))

    t_sk_fbp, rec_sk = best_time(iradon, sino_sk, theta_deg, repeat=args.repeat)
    t_fbp, rec = best_time(ct.fbp, sino_sk, theta, repeat=args.repeat)
    rmse_sk = np.sqrt(np.mean((rec_sk - image)[inside] ** 2))
    rmse = np.sqrt(np.mean((rec - image)[inside] ** 2))
    rmse_own = np.sqrt(np.mean((ct.fbp(sino, theta) - image)[inside] ** 2))

    radon_ratio, fbp_ratio = t_sk_radon / t_radon, t_sk_fbp / t_fbp
    ok_radon = radon_ratio >= 3 and rel_rms <= 0.01
    ok_fbp = fbp_ratio >= 4 and rmse <= 1.01 * rmse_sk
    print()
    print(f"radon : skimage {t_sk_radon:7.3f} s | medlib {t_radon:7.3f} s | "
          f"speed-up {radon_ratio:5.1f}x (bar 3x) | relative RMS difference "
          f"{100 * rel_rms:.3f} % (bar 1 %)  -> {'PASS' if ok_radon else 'FAIL'}")
    print(f"fbp   : iradon  {t_sk_fbp:7.3f} s | medlib {t_fbp:7.3f} s | "
          f"speed-up {fbp_ratio:5.1f}x (bar 4x) | RMSE in circle {rmse:.5f} vs iradon "
          f"{rmse_sk:.5f} ({100 * (rmse / rmse_sk - 1):+.2f} %, bar +1 %)  "
          f"-> {'PASS' if ok_fbp else 'FAIL'}")
    print(f"        (medlib fbp of medlib's own sinogram: RMSE {rmse_own:.5f})")
    load = os.getloadavg() if hasattr(os, "getloadavg") else (float("nan"),) * 3
    print(f"load average after: {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}")
    return 0 if (ok_radon and ok_fbp) else 1


if __name__ == "__main__":
    sys.exit(main())
