"""medlib.pet.decay against closed forms, scipy.stats and numerical integration."""
from __future__ import annotations

import numpy as np
import pytest
from helpers import bad_input_test
from scipy import integrate, stats

from medlib import pet

# Literature half-lives in minutes (see medlib.pet.NUCLIDES for the sources).
LITERATURE_MIN = {"F-18": 109.734, "Tc-99m": 6.0072 * 60, "Ga-68": 67.83, "C-11": 20.3402}


@pytest.mark.formula("pet.decay")
@pytest.mark.parametrize("name", sorted(pet.NUCLIDES))
def test_decay_halves_after_one_half_life_and_matches_the_exponential_law(name):
    t_half = pet.NUCLIDES[name].half_life_s
    assert t_half / 60 == pytest.approx(LITERATURE_MIN[name], rel=1e-9)
    assert pet.decay(1000.0, t_half, half_life_s=t_half) == pytest.approx(500.0)
    t = np.linspace(0, 5 * t_half, 11)
    # Independent: the survival function of an exponential lifetime with mean 1 / lambda.
    np.testing.assert_allclose(pet.decay(1.0, t, half_life_s=t_half),
                               stats.expon.sf(t, scale=t_half / np.log(2)), rtol=1e-12)


@pytest.mark.formula("pet.half-life")
@pytest.mark.parametrize("name", sorted(pet.NUCLIDES))
def test_half_life_is_recovered_from_simulated_decay_counts(name):
    t_half = pet.NUCLIDES[name].half_life_s
    lam = pet.decay_constant(t_half)
    assert pet.half_life(lam) == pytest.approx(t_half)
    assert lam == pytest.approx(np.log(2) / t_half)
    # Count 1e6 atoms' decay times (exponential lifetimes) and fit the survival curve.
    lifetimes = stats.expon.rvs(scale=1 / lam, size=1_000_000, random_state=5)
    t = np.linspace(0, 3 * t_half, 30)
    surviving = (lifetimes[None, :] > t[:, None]).mean(axis=1)
    slope = np.polyfit(t, np.log(surviving), 1)[0]
    assert pet.half_life(-slope) == pytest.approx(t_half, rel=0.01)


@pytest.mark.formula("pet.activity")
def test_activity_is_minus_the_rate_of_change_of_n():
    t_half = pet.NUCLIDES["F-18"].half_life_s
    t = np.linspace(0, 3600, 20001)
    n = pet.decay(2e11, t, half_life_s=t_half)
    np.testing.assert_allclose(pet.activity(n, half_life_s=t_half)[1:-1],
                               -np.gradient(n, t)[1:-1], rtol=1e-6)
    # 370 MBq of F-18 is about 3.5e12 nuclei, about 0.1 ng.
    n_dose = 370e6 / pet.decay_constant(t_half)
    assert n_dose == pytest.approx(3.515e12, rel=0.01)


@pytest.mark.formula("pet.decay-correction")
def test_decay_correction_undoes_decay_and_the_frame_average():
    t_half = pet.NUCLIDES["F-18"].half_life_s
    assert pet.decay_correction(3600.0, half_life_s=t_half) == pytest.approx(2 ** (60 / 109.734))
    a0 = 100.0
    assert pet.decay(a0, 1800.0, half_life_s=t_half) * pet.decay_correction(
        1800.0, half_life_s=t_half) == pytest.approx(a0)
    # A frame from t to t + D measures the mean activity over the frame (numerical integral).
    t0, dur = 3600.0, 900.0
    mean_activity = integrate.quad(lambda s: pet.decay(a0, s, half_life_s=t_half),
                                   t0, t0 + dur)[0] / dur
    d = pet.decay_correction(t0, half_life_s=t_half, frame_duration_s=dur)
    assert mean_activity * d == pytest.approx(a0, rel=1e-10)



def test_the_function_decay_wins_over_the_module_decay_in_the_package():
    import sys

    assert callable(pet.decay) and pet.decay.__module__ == "medlib.pet.decay"
    assert pet.decay is sys.modules["medlib.pet.decay"].decay


# issue 11, group 8: errors named an internal argument, or came from NumPy unnamed.
NAMED_CALLS = [
    (pet.decay, (np.ones(3), np.ones(4)), {"half_life_s": 10.0}, ValueError,
     r"n0 and t_s must have broadcastable shapes, got n0 \(3,\), t_s \(4,\)"),
]

test_errors_name_the_callers_argument = bad_input_test(NAMED_CALLS)


BAD_CALLS = [
    (pet.decay, (1.0, 1.0), {"half_life_s": 0.0}, ValueError, "half_life_s"),
    (pet.decay, (-1.0, 1.0), {"half_life_s": 1.0}, ValueError, "n0"),
    (pet.decay_constant, (-5.0,), {}, ValueError, "half_life_s"),
    (pet.activity, (-1.0,), {"half_life_s": 1.0}, ValueError, "n_nuclei"),
    (pet.decay_correction, (-1.0,), {"half_life_s": 1.0}, ValueError, "t_s"),
]

test_bad_input_raises_a_clear_error = bad_input_test(BAD_CALLS)


def test_functions_leave_their_inputs_unchanged(assert_inputs_unchanged, rng):
    x = rng.uniform(0, 10, 50)
    assert_inputs_unchanged(pet.decay, x, 10.0, half_life_s=100.0)
