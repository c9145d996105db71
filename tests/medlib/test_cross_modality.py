"""The CT projector (medlib.ct.radon) and the PET system matrix (medlib.pet.system_matrix) use the
same parallel-beam geometry: scikit-image's, with angles in radians.

They discretise the line integral differently (ct.radon spreads each pixel over the detector by
area; the PET matrix samples rays like skimage), so they agree to about 1 %, not bit for bit; but
every ray must be in the same place.
"""
from __future__ import annotations

import numpy as np
import pytest

from medlib import ct, pet, phantoms

N = 64
THETA = np.linspace(0.0, np.pi, 60, endpoint=False)
BINS = np.arange(N) - N // 2


def _centroids(sinogram):
    return (BINS[:, None] * sinogram).sum(axis=0) / sinogram.sum(axis=0)


@pytest.mark.formula("pet.forward-model-vector", "ct.radon-parametrized")
def test_pet_system_matrix_and_ct_projector_agree_on_a_phantom():
    image = phantoms.shepp_logan(N) * ct.circle_mask(N)
    s_pet = (pet.system_matrix(N, THETA) @ image.ravel()).reshape(N, THETA.size)
    s_ct = ct.radon(image, THETA)
    assert s_pet.shape == s_ct.shape
    rel = np.sqrt(np.mean((s_pet - s_ct) ** 2) / np.mean(s_ct**2))
    assert rel < 0.02
    assert np.max(np.abs(_centroids(s_pet) - _centroids(s_ct))) < 0.25


@pytest.mark.parametrize("row, col", [(20, 40), (32, 32), (45, 18)])
def test_a_point_traces_the_same_sinusoid_in_both(row, col):
    point = np.zeros((N, N))
    point[row, col] = 1.0
    c_pet = _centroids((pet.system_matrix(N, THETA) @ point.ravel()).reshape(N, THETA.size))
    c_ct = _centroids(ct.radon(point, THETA))
    # Closed form in skimage's frame: t = x cos(theta) - y sin(theta) with y pointing down.
    x, y = col - N // 2, row - N // 2
    expected = x * np.cos(THETA) - y * np.sin(THETA)
    assert np.max(np.abs(c_ct - expected)) < 0.25
    assert np.max(np.abs(c_pet - expected)) < 0.25
