"""The course figure style."""
from __future__ import annotations

import matplotlib

from medlib import plotting


def test_use_course_style_sets_every_parameter():
    with matplotlib.rc_context():
        plotting.use_course_style()
        for key, value in plotting.COURSE_STYLE.items():
            current = matplotlib.rcParams[key]
            if key.endswith("facecolor"):
                assert matplotlib.colors.to_rgba(current) == matplotlib.colors.to_rgba(value)
            else:
                assert current == value, key


def test_course_style_keys_are_valid_rc_parameters():
    assert set(plotting.COURSE_STYLE) <= set(matplotlib.rcParams)
