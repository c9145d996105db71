"""medlib.nn.networks: the tiny segmenter is reproducible and keeps the image size."""
from __future__ import annotations

import torch
from helpers import bad_input_test

from medlib import nn

torch.set_num_threads(1)


def test_tiny_segmenter_is_reproducible_and_keeps_the_image_size():
    a, b = nn.tiny_segmenter(4, seed=3), nn.tiny_segmenter(4, seed=3)
    for pa, pb in zip(a.parameters(), b.parameters()):
        assert torch.equal(pa, pb)
    assert a(torch.zeros(2, 1, 17, 13)).shape == (2, 1, 17, 13)


def test_tiny_segmenter_leaves_the_global_random_state_unchanged():
    # issue 11, group 10: it called torch.manual_seed(seed), resetting the caller's stream.
    torch.manual_seed(1234)
    torch.rand(5)
    before = torch.get_rng_state()
    a = nn.tiny_segmenter(4, seed=3)
    assert torch.equal(torch.get_rng_state(), before)
    after_a = torch.rand(3)
    torch.set_rng_state(before)
    b = nn.tiny_segmenter(4, seed=3)                  # still a function of its seed only
    assert torch.equal(torch.rand(3), after_a)
    for pa, pb in zip(a.parameters(), b.parameters()):
        assert torch.equal(pa, pb)
    c = nn.tiny_segmenter(4, seed=4)
    assert not torch.equal(next(a.parameters()), next(c.parameters()))


BAD_CALLS = [
    (nn.tiny_segmenter, (0,), {}, ValueError, "channels"),
]


test_bad_input_raises_a_clear_error = bad_input_test(BAD_CALLS)


def test_channels_of_2_63_are_refused_by_name():
    import pytest
    with pytest.raises(ValueError, match="^channels asks for an array"):   # issue 11
        nn.tiny_segmenter(2 ** 63)
