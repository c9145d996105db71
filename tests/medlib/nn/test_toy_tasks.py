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


def test_lesion_task_accepts_every_size_it_does_not_refuse():
    # issue 11, group 3: size=8 passed validation, then failed with NumPy's "high - low < 0"
    # whenever a disc radius exceeded 3 (most seeds).
    with pytest.raises(ValueError, match=r"size must be at least 2 \* radius_px\[1\] \+ 2 = 9"):
        nn.lesion_task(4, 8, 0)
    for seed in range(20):                      # the smallest accepted sizes work for every seed
        _, y = nn.lesion_task(4, 9, seed, lesions_per_image=3.0)
        assert y.shape == (4, 1, 9, 9)
        nn.lesion_task(2, 4, seed, radius_px=(1.0, 1.0), lesions_per_image=3.0)
    x, _ = nn.lesion_task(2, 8, 0, radius_px=(1.0, 3.0))
    assert x.shape == (2, 1, 8, 8)


BAD_CALLS = [
    (nn.lesion_task, (0, 32, 1), {}, ValueError, "n_images"),
    (nn.lesion_task, (2, 4, 1), {}, ValueError, "size"),
    (nn.lesion_task, (2, 0, 1), {}, ValueError, "size"),
    (nn.lesion_task, (2, 32, None), {}, TypeError, "rng"),
    (nn.lesion_task, (2, 32, 1), {"radius_px": (3.0, 1.0)}, ValueError, "radius_px"),
]


test_bad_input_raises_a_clear_error = bad_input_test(BAD_CALLS)


# issue 11: sizes of 2**63 and a mean of 1e300 lesions are refused by name (NumPy said "Maximum
# allowed dimension exceeded" and "lam value too large")
HUGE_CALLS = [
    (nn.lesion_task, (2 ** 63, 16, 0), {}, ValueError, "^n_images and size asks for"),
    (nn.lesion_task, (2, 2 ** 63, 0), {}, ValueError, "^n_images and size asks for"),
    (nn.lesion_task, (2, 16, 0), {"lesions_per_image": 1e300}, ValueError,
     "^lesions_per_image=1e\\+300 discs"),
]

test_sizes_and_counts_too_large_are_refused = bad_input_test(HUGE_CALLS)


def test_as_many_lesions_as_fit_the_image_are_accepted():
    _, masks = nn.lesion_task(1, 16, 0, radius_px=(1.0, 1.0), lesions_per_image=16 * 16 / np.pi)
    assert masks.mean() > 0.3          # the image is largely covered, but no error
