#!/usr/bin/env python3
"""Draw the book's logo and favicon from medlib's Shepp-Logan phantom and its sinogram.

    python tools/make_logo.py     # writes _static/logo.png and _static/favicon.png
"""
from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from skimage.transform import radon  # noqa: E402

from medlib import phantoms  # noqa: E402

STATIC = Path(__file__).resolve().parent.parent / "_static"


def main() -> None:
    phantom = phantoms.shepp_logan(256)
    sinogram = radon(phantom, np.linspace(0, 180, 256, endpoint=False))
    fig, axes = plt.subplots(1, 2, figsize=(4, 2), dpi=100)
    for ax, img, cmap in [(axes[0], phantom, "bone"), (axes[1], sinogram, "magma")]:
        ax.imshow(img, cmap=cmap, aspect="auto", interpolation="bilinear")
        ax.set_axis_off()
    fig.subplots_adjust(0, 0, 1, 1, wspace=0.04)
    fig.savefig(STATIC / "logo.png", transparent=True)
    plt.close(fig)
    plt.imsave(STATIC / "favicon.png", phantom[::4, ::4], cmap="bone")
    print("wrote _static/logo.png and _static/favicon.png")


if __name__ == "__main__":
    main()
