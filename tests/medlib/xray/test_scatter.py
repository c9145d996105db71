"""medlib.xray.scatter against closed forms, ray tracing, scipy.ndimage and xraydb."""
from __future__ import annotations

import numpy as np
import pytest
from badinput import C, Entry
from scipy import ndimage

from medlib import xray

xraydb = pytest.importorskip("xraydb")


@pytest.mark.formula("xray.scatter-contrast")
def test_scatter_contrast_on_a_simulated_radiograph():
    # primary: 20 cm of water with a 1 cm aluminium (bone-like) detail, mu from xraydb, 60 keV
    mu_w = xraydb.material_mu("water", 60e3, density=1.0)
    mu_b = xraydb.material_mu("aluminum", 60e3)
    thick = np.full((64, 64), 20.0)
    detail = np.zeros((64, 64), bool)
    detail[28:36, 28:36] = True
    p = mu_w * (thick - detail) + mu_b * detail
    primary = xray.transmission(p, 1.0)
    c0 = 1 - primary[32, 32] / primary[5, 5]
    for kappa in (0.1, 0.3, 0.6):
        scatter = xray.scatter_field(p, scatter_fraction=kappa, sigma_mm=60.0, spacing_mm=1.0)
        total = primary + scatter
        local = scatter[32, 32] / primary[5, 5]            # scatter over the background primary
        cs = 1 - total[32, 32] / total[5, 5]
        # the scatter field is smooth: the same S over detail and background within 1 %
        assert abs(scatter[32, 32] / scatter[5, 5] - 1) < 0.01
        assert cs == pytest.approx(xray.contrast_with_scatter(c0, local), rel=0.01)
        assert xray.contrast_with_scatter(c0, local) < c0


def test_scatter_of_a_uniform_slab_is_kappa_p_times_the_primary():
    slab = np.full((20, 30), 4.0)                  # p = 4: e.g. 20 cm of water at 50 keV
    s = xray.scatter_field(slab, scatter_fraction=0.4, sigma_mm=25.0, spacing_mm=0.5, i0=3.0)
    np.testing.assert_allclose(s / xray.transmission(slab, 3.0), 0.4 * 4.0, rtol=1e-12)
    rng = np.random.default_rng(0)
    p = rng.uniform(0.1, 5.0, (40, 50))
    s = xray.scatter_field(p, scatter_fraction=0.3, sigma_mm=10.0, spacing_mm=(1.0, 2.0))
    ref = ndimage.gaussian_filter(p * np.exp(-p), (10.0, 5.0), mode="reflect")
    np.testing.assert_allclose(s, 0.3 * ref, rtol=1e-12)


@pytest.mark.formula("xray.grid-transmission")
def test_grid_transmission_matches_a_ray_tracing_through_the_strips():
    rng = np.random.default_rng(1)
    r, big_d, d = 8.0, 0.25, 0.05
    h = r * big_d
    period = big_d + d
    for phi in (0.0, 0.02, 0.06, 0.1, 0.2):
        x0 = rng.uniform(0, period, 200_000)             # entry position at the grid's top
        x1 = x0 + h * np.tan(phi)                          # exit position at the bottom
        # the ray passes if it enters and leaves through the same interspace [0, D) + k period
        k0 = np.floor(x0 / period)
        passes = (x0 - k0 * period < big_d) & (x1 - k0 * period < big_d) & (x1 >= k0 * period)
        got = xray.grid_transmission(phi, grid_ratio=r, interspace_mm=big_d, strip_mm=d)
        assert got == pytest.approx(passes.mean(), abs=0.004)
    assert xray.grid_transmission(0.0, grid_ratio=r, interspace_mm=big_d,
                                  strip_mm=d) == pytest.approx(big_d / period)
    assert xray.grid_transmission(np.arctan(1 / r), grid_ratio=r, interspace_mm=big_d,
                                  strip_mm=d) == pytest.approx(0.0, abs=1e-12)


@pytest.mark.formula("xray.grid-cif")
@pytest.mark.formula("xray.bucky-factor")
@pytest.mark.parametrize("tp, ts, spr", [(0.7, 0.1, 3.0), (0.85, 0.25, 1.0), (0.6, 0.05, 6.0)])
def test_contrast_improvement_and_bucky_factor_from_signals(tp, ts, spr):
    p_bg, p_detail = 1.0, 0.8                      # primary behind background and detail
    s = spr * p_bg                                 # smooth scatter, same behind both
    c_no = 1 - (p_detail + s) / (p_bg + s)
    c_grid = 1 - (tp * p_detail + ts * s) / (tp * p_bg + ts * s)
    assert xray.grid_contrast_improvement(tp, ts, spr) == pytest.approx(c_grid / c_no, rel=1e-12)
    # same detector signal: scale the exposure (P and S together) by B
    b = xray.bucky_factor(tp, ts, spr)
    assert b * (tp * p_bg + ts * s) == pytest.approx(p_bg + s, rel=1e-12)


@pytest.mark.formula("xray.grid-cif")
def test_grid_limits():
    assert xray.grid_contrast_improvement(0.7, 0.1, 0.0) == pytest.approx(1.0)
    assert xray.grid_contrast_improvement(0.7, 0.1, 1e9) == pytest.approx(7.0, rel=1e-6)
    assert xray.bucky_factor(0.7, 0.1, 0.0) == pytest.approx(1 / 0.7)


@pytest.mark.formula("xray.inverse-square")
def test_inverse_square_matches_the_solid_angle_of_a_detector_pixel():
    def solid_angle(a, b, dist):               # exact solid angle of an a x b rectangle, on axis
        return 4 * np.arcsin(a * b / np.sqrt((a**2 + 4 * dist**2) * (b**2 + 4 * dist**2)))
    for d1, d2 in ((1000.0, 1800.0), (1000.0, 500.0)):
        ratio = solid_angle(0.1, 0.1, d2) / solid_angle(0.1, 0.1, d1)
        assert xray.inverse_square(1.0, d1, d2) == pytest.approx(ratio, rel=1e-8)
    assert xray.inverse_square(8.0, 1000.0, 2000.0) == pytest.approx(2.0)


@pytest.mark.formula("xray.magnification")
def test_magnification_by_projecting_a_segment():
    sid, sod = 1800.0, 1650.0
    a = np.array([-12.0, 30.0])                 # ends of a segment in the object plane, mm
    projected = a * sid / sod                   # rays from the point source at x = 0
    assert np.ptp(projected) / np.ptp(a) == pytest.approx(xray.magnification(sid, sod))
    assert xray.magnification(1000.0, 1000.0) == 1.0


@pytest.mark.formula("xray.focal-spot-blur")
@pytest.mark.parametrize("f, sid, sod", [(1.2, 1000.0, 700.0), (0.6, 1800.0, 1500.0),
                                         (0.3, 1000.0, 500.0)])
def test_focal_spot_edge_width_is_f_m_minus_1(f, sid, sod):
    m = xray.magnification(sid, sod)
    b = xray.focal_spot_blur(f, m)
    u = np.linspace(-3 * b, 3 * b, 3001)
    prof = xray.focal_spot_edge(u, focal_spot_mm=f, sid_mm=sid, sod_mm=sod, n_source_points=2001)
    # a uniform spot gives a linear ramp: 10-90 % width = 0.8 b
    w = u[np.argmin(np.abs(prof - 0.1))] - u[np.argmin(np.abs(prof - 0.9))]
    assert abs(w) == pytest.approx(0.8 * b, rel=0.01)
    # and equals the sharp magnified edge convolved with a box of width b (scipy.ndimage)
    du = u[1] - u[0]
    sharp = (u < 0).astype(float)
    conv = ndimage.uniform_filter1d(sharp, int(round(b / du)) | 1, mode="nearest")
    assert np.max(np.abs(conv - prof)) < 0.01


def test_focal_spot_edge_without_blur():
    u = np.array([-1.0, -0.01, 0.01, 1.0])
    np.testing.assert_array_equal(
        xray.focal_spot_edge(u, focal_spot_mm=0.0, sid_mm=1000.0, sod_mm=800.0), [1, 1, 0, 0])
    assert xray.focal_spot_blur(1.0, 1.0) == 0.0


@pytest.mark.formula("xray.heel-effect")
def test_heel_effect_matches_a_ray_traced_path_through_the_target():
    mu_w = xraydb.material_mu("W", 60e3)            # tungsten at 60 keV, 1/cm
    theta, depth_um = np.deg2rad(12.0), 2.0
    psi = np.deg2rad(np.array([-10.0, -5.0, 0.0, 5.0, 10.0]))
    got = xray.heel_effect(psi, anode_angle_rad=theta, depth_um=depth_um, mu_per_cm=mu_w)
    # ray trace in the target's frame: surface y = 0, emission point at y = -d; the ray leaves
    # at the take-off angle theta - psi to the surface: path length = d / sin(theta - psi)
    d = depth_um * 1e-4
    paths = []
    for a in theta - psi:
        direction = np.array([np.cos(a), np.sin(a)])
        t = d / direction[1]                        # where y reaches 0
        paths.append(np.linalg.norm(t * direction))
    paths = np.array(paths)
    np.testing.assert_allclose(got, np.exp(-mu_w * (paths - paths[2])), rtol=1e-12)
    assert np.all(np.diff(got) < 0)                 # dimmer towards the anode
    assert xray.heel_effect(theta + 0.01, anode_angle_rad=theta, depth_um=depth_um,
                            mu_per_cm=mu_w) == 0.0


BAD_CALLS = [
    (xray.contrast_with_scatter, (0.1, -1.0), {}, "spr"),
    (xray.scatter_field, (-np.ones((4, 4)),),
     {"scatter_fraction": 0.3, "sigma_mm": 5.0, "spacing_mm": 1.0}, "line_integral"),
    (xray.scatter_field, (np.ones((4, 4)),),
     {"scatter_fraction": 0.3, "sigma_mm": 0.0, "spacing_mm": 1.0}, "sigma_mm"),
    (xray.grid_transmission, (0.0,), {"grid_ratio": -1.0, "interspace_mm": 0.2, "strip_mm": 0.05},
     "grid_ratio"),
    (xray.grid_contrast_improvement, (0.0, 0.1, 1.0), {}, "primary_transmission"),
    (xray.bucky_factor, (0.7, 1.5, 1.0), {}, "scatter_transmission"),
    (xray.magnification, (1000.0, 1200.0), {}, "sod_mm"),
    (xray.focal_spot_blur, (1.0, 0.5), {}, "magnification_factor"),
    (xray.inverse_square, (1.0, 0.0, 1.0), {}, "distance_mm"),
    (xray.heel_effect, (0.0,), {"anode_angle_rad": 0.0, "depth_um": 1.0, "mu_per_cm": 10.0},
     "anode_angle_rad"),
]


@pytest.mark.parametrize("func, args, kwargs, name", BAD_CALLS)
def test_bad_input_names_the_argument(func, args, kwargs, name):
    with pytest.raises(ValueError, match=name):
        func(*args, **kwargs)


def test_inputs_are_not_modified():
    p = np.linspace(0.1, 1.0, 36).reshape(6, 6)
    keep = p.copy()
    xray.scatter_field(p, scatter_fraction=0.3, sigma_mm=3.0, spacing_mm=1.0)
    np.testing.assert_array_equal(p, keep)


BAD_INPUT_CALLS = {
    "xray.scatter.contrast_with_scatter": Entry(lambda: C(np.array([0.1, 0.3]), 1.5)),
    "xray.scatter.scatter_field": Entry(
        lambda: C(np.linspace(0.1, 4.0, 30).reshape(5, 6), scatter_fraction=0.3, sigma_mm=3.0,
                  spacing_mm=1.0)),
    "xray.scatter.grid_transmission": Entry(
        lambda: C(np.array([0.0, 0.03, 0.3]), grid_ratio=10.0, interspace_mm=0.2, strip_mm=0.05)),
    "xray.scatter.grid_contrast_improvement": Entry(lambda: C(0.7, 0.1, 3.0)),
    "xray.scatter.bucky_factor": Entry(lambda: C(0.7, 0.1, 3.0)),
    "xray.scatter.inverse_square": Entry(lambda: C(2.0, 1000.0, 1500.0)),
    "xray.scatter.magnification": Entry(lambda: C(1800.0, 1600.0)),
    "xray.scatter.focal_spot_blur": Entry(lambda: C(1.2, 1.25)),
    "xray.scatter.focal_spot_edge": Entry(
        lambda: C(np.linspace(-1.0, 1.0, 5), focal_spot_mm=1.0, sid_mm=1000.0, sod_mm=700.0,
                  n_source_points=11)),
    "xray.scatter.heel_effect": Entry(
        lambda: C(np.array([-0.1, 0.0, 0.1]), anode_angle_rad=0.2, depth_um=2.0, mu_per_cm=70.0)),
}
