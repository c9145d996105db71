"""Fixtures shared by the CT tests."""
from __future__ import annotations

import numpy as np
import pytest

from medlib import phantoms


@pytest.fixture(scope="module")
def shepp128():
    return phantoms.shepp_logan(128)


@pytest.fixture(scope="module")
def angles180():
    return np.linspace(0.0, np.pi, 180, endpoint=False)
