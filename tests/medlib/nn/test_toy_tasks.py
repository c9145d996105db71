"""medlib.nn.toy_tasks: the synthetic lesion task is reproducible and has a rare foreground."""
from __future__ import annotations

import numpy as np
import pytest
from helpers import bad_input_test

from medlib import nn


def test_lesion_task_is_reproducible_with_a_rare_foreground():
    x1, y1 = nn.lesion_task(6, 32, 5)
    x2, y2 = nn.lesion_task(6, 32, np.random.default_rng(5))
    np.testing.assert_array_equal(x1, x2)
    np.testing.assert_array_equal(y1, y2)
    assert x1.shape == y1.shape == (6, 1, 32, 32) and x1.dtype == np.float32
    assert set(np.unique(y1)) <= {0.0, 1.0}
    x, y = nn.lesion_task(40, 40, 1)
    assert 0.005 < y.mean() < 0.06
    assert x[y == 1].mean() - x[y == 0].mean() == pytest.approx(1.0, abs=0.1)   # the contrast


BAD_CALLS = [
    (nn.lesion_task, (0, 32, 1), {}, ValueError, "n_images"),
    (nn.lesion_task, (2, 4, 1), {}, ValueError, "size"),
    (nn.lesion_task, (2, 32, None), {}, TypeError, "rng"),
    (nn.lesion_task, (2, 32, 1), {"radius_px": (3.0, 1.0)}, ValueError, "radius_px"),
]


test_bad_input_raises_a_clear_error = bad_input_test(BAD_CALLS)
