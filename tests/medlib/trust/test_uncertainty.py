"""medlib.trust.uncertainty: Gaussian NLL against PyTorch, ECE and AUROC against torchmetrics and
SciPy, the entropy decomposition, temperature scaling and the risk-coverage curve against closed
forms, and the sampling predictors (MC dropout, ensembles, test-time augmentation)."""
from __future__ import annotations

import numpy as np
import pytest

torch = pytest.importorskip("torch")
torchmetrics = pytest.importorskip("torchmetrics")

from badinput import C, Entry  # noqa: E402
from helpers import bad_input_test  # noqa: E402
from scipy import special, stats  # noqa: E402
from torchmetrics.classification import (  # noqa: E402
    BinaryAUROC,
    BinaryCalibrationError,
    MulticlassCalibrationError,
)

from medlib.restoration import DnCNN  # noqa: E402
from medlib.segmentation import UNet  # noqa: E402
from medlib.trust import uncertainty as U  # noqa: E402

torch.set_num_threads(1)

_P = np.array([[[0.7, 0.2], [0.4, 0.9]], [[0.3, 0.8], [0.6, 0.1]]])[None]   # (1, 2, 2, 2)
_L = np.array([[[0, 1], [1, 0]]])                                              # (1, 2, 2)
_S = np.stack([_P, _P[:, ::-1]])                                               # (2, 1, 2, 2, 2)


def _net(seed=0, dropout=0.0):
    return UNet(1, 2, depth=1, base_channels=2, dropout=dropout, seed=seed)


def _x(n=1, size=4, seed=0):
    return np.random.default_rng(seed).normal(size=(n, 1, size, size)).astype(np.float32)


BAD_INPUT_CALLS = {
    "trust.uncertainty.gaussian_nll": Entry(
        lambda: C(np.array([0.1, 0.2]), np.array([-1.0, 0.5]), np.array([0.0, 0.4]))),
    "trust.uncertainty.HeteroscedasticDnCNN": Entry(lambda: C(2, 3, seed=1), mutate=False),
    "trust.uncertainty.sigma_calibration": Entry(
        lambda: C(np.array([0.1, 0.2, 0.3, 0.4]), np.array([0.0, -0.3, 0.2, 0.5]), n_bins=2)),
    "trust.uncertainty.mc_dropout_predict": Entry(
        lambda: C(_net(dropout=0.5), _x(), 2, 3), skip={"model"}),      # a network
    "trust.uncertainty.ensemble_predict": Entry(
        lambda: C([_net(0), _net(1)], _x()), skip={"models"}),          # networks
    "trust.uncertainty.tta_predict": Entry(
        lambda: C(_net(), _x(), ("identity", "rot90")), skip={"model"}),
    "trust.uncertainty.predictive_moments": Entry(lambda: C(_S)),
    "trust.uncertainty.entropy_decomposition": Entry(lambda: C(_S)),
    "trust.uncertainty.reliability_curve": Entry(lambda: C(_P, _L, n_bins=4)),
    "trust.uncertainty.expected_calibration_error": Entry(lambda: C(_P, _L, n_bins=4)),
    "trust.uncertainty.temperature_scale": Entry(lambda: C(np.log(_P), 2.0)),
    "trust.uncertainty.fit_temperature": Entry(lambda: C(np.log(_P) * 3, _L)),
    "trust.uncertainty.error_detection_auroc": Entry(
        lambda: C(np.array([0.1, 0.5, 0.3, 0.9]), np.array([False, True, False, True]))),
    "trust.uncertainty.risk_coverage": Entry(
        lambda: C(np.array([0.1, 0.5, 0.3, 0.9]), np.array([False, True, False, True]))),
}


# --- Gaussian NLL -------------------------------------------------------------------------------

@pytest.mark.formula("trust.gaussian-nll")
@pytest.mark.parametrize("full", [False, True])
@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
def test_gaussian_nll_equals_torch(full, reduction):
    g = torch.Generator().manual_seed(0)
    mu = torch.randn(3, 1, 5, 5, generator=g, dtype=torch.float64)
    s = torch.randn(3, 1, 5, 5, generator=g, dtype=torch.float64)
    y = torch.randn(3, 1, 5, 5, generator=g, dtype=torch.float64)
    ours = U.gaussian_nll(mu, s, y, reduction=reduction, full=full)
    ref = torch.nn.GaussianNLLLoss(full=full, reduction=reduction)(mu, y, torch.exp(s))
    assert torch.allclose(ours, ref, rtol=1e-12, atol=1e-12)


def test_gaussian_nll_differs_from_torch_only_below_eps():
    # torch clamps the variance at eps = 1e-6; predicting log-variance needs no clamp
    mu, y = torch.zeros(1, dtype=torch.float64), torch.full((1,), 1e-3, dtype=torch.float64)
    s = torch.full((1,), np.log(1e-8), dtype=torch.float64)
    ours = U.gaussian_nll(mu, s, y)
    ref = torch.nn.GaussianNLLLoss()(mu, y, torch.exp(s))
    closed = 0.5 * np.log(1e-8) + 0.5 * 1e-6 / 1e-8
    assert abs(float(ours) - closed) < 1e-9
    assert abs(float(ref) - (0.5 * np.log(1e-6) + 0.5 * 1e-6 / 1e-6)) < 1e-9


def test_gaussian_nll_minimised_at_the_true_variance_and_has_gradients():
    y = torch.tensor([0.3, -0.3], dtype=torch.float64)        # squared error 0.09 each
    grid = np.linspace(-5, 1, 601)
    losses = [float(U.gaussian_nll(torch.zeros(2), torch.full((2,), v), y)) for v in grid]
    assert abs(np.exp(grid[int(np.argmin(losses))]) - 0.09) < 0.002
    s = torch.zeros(2, requires_grad=True, dtype=torch.float64)
    U.gaussian_nll(torch.zeros(2, dtype=torch.float64), s, y).backward()
    assert torch.allclose(s.grad, 0.5 * (1 - 0.09) / 2 * torch.ones(2, dtype=torch.float64))


# --- the heteroscedastic network ----------------------------------------------------------------

def test_heteroscedastic_dncnn_mean_head_is_the_dncnn():
    net, ref = U.HeteroscedasticDnCNN(4, 3, seed=2), DnCNN(4, 3, seed=2)
    x = torch.as_tensor(_x(2, 8))
    with torch.no_grad():
        out = net(x)
        assert out.shape == (2, 2, 8, 8)
        assert torch.equal(out[:, :1], ref(x))
        assert torch.allclose(out[:, 1], torch.full_like(out[:, 1], np.log(0.05 ** 2)))


def test_heteroscedastic_training_is_deterministic_and_learns_the_noise_level():
    from medlib import nn

    g = np.random.default_rng(0)
    clean = np.zeros((4, 1, 16, 16), np.float32)
    sigma = np.where(np.arange(16) < 8, 0.05, 0.5).astype(np.float32)[None, None, None, :]
    noisy = (clean + sigma * g.standard_normal(clean.shape)).astype(np.float32)

    def loss(out, y):
        return U.gaussian_nll(out[:, :1], out[:, 1:], y)

    weights = []
    for _ in range(2):
        net = U.HeteroscedasticDnCNN(4, 3, seed=0)
        history = nn.fit(net, noisy, clean, loss, steps=200, batch_size=2, lr=3e-2, seed=0,
                         progress=False)
        weights.append(torch.cat([p.detach().ravel() for p in net.parameters()]))
    assert torch.equal(weights[0], weights[1])
    with torch.no_grad():
        s = net(torch.as_tensor(noisy))[:, 1].numpy()
    # the predicted sigma is larger on the noisier half (columns 8..15), and the NLL fell
    assert np.exp(0.5 * s[..., 10:14]).mean() > 1.5 * np.exp(0.5 * s[..., 2:6]).mean()
    assert np.mean(history.loss[-20:]) < np.mean(history.loss[:20])


def test_sigma_calibration_of_a_calibrated_gaussian():
    g = np.random.default_rng(1)
    sigma = g.uniform(0.5, 3.0, 200_000)
    error = sigma * g.standard_normal(sigma.size)
    ms, rmse, count = U.sigma_calibration(sigma, error, n_bins=5)
    assert count.sum() == sigma.size and np.all(np.diff(ms) > 0)
    assert np.allclose(rmse, ms, rtol=0.02)


# --- sampling predictors ------------------------------------------------------------------------

def test_mc_dropout_with_p_zero_is_the_plain_prediction_and_restores_modes():
    net = _net()
    net.train()
    x = _x(2, 8)
    samples = U.mc_dropout_predict(net, x, 3, 0)
    assert net.training                                     # mode restored
    net.eval()
    with torch.no_grad():
        plain = torch.softmax(net(torch.as_tensor(x)), 1).double().numpy()
    assert samples.shape == (3, 2, 2, 8, 8)
    assert np.array_equal(samples[0], samples[2]) and np.allclose(samples[1], plain, atol=1e-7)


def test_mc_dropout_samples_differ_are_seeded_and_freeze_batch_norm():
    net = _net(dropout=0.5)
    before = {k: v.clone() for k, v in net.state_dict().items()}
    state = torch.random.get_rng_state()
    a = U.mc_dropout_predict(net, _x(1, 8), 4, 7)
    b = U.mc_dropout_predict(net, _x(1, 8), 4, 7)
    assert torch.equal(state, torch.random.get_rng_state())
    assert np.array_equal(a, b) and not np.allclose(a[0], a[1])
    for k, v in net.state_dict().items():                   # running stats untouched
        assert torch.equal(v, before[k]), k


def test_ensemble_predict_stacks_each_members_prediction():
    nets = [_net(0), _net(1)]
    x = _x(1, 8)
    out = U.ensemble_predict(nets, x, activation="none")
    for m, net in enumerate(nets):
        net.eval()
        with torch.no_grad():
            assert np.allclose(out[m], net(torch.as_tensor(x)).double().numpy(), atol=1e-7)
    assert not np.allclose(out[0], out[1])


class _Identity(torch.nn.Module):
    def forward(self, x):
        return x


@pytest.mark.parametrize("name", U.TTA_TRANSFORMS)
def test_tta_inverse_is_exact(name):
    x = _x(2, 6, seed=3)
    out = U.tta_predict(_Identity(), x, (name,), activation="none")
    assert np.array_equal(out[0], x.astype(np.float64))


def test_tta_with_identity_is_the_plain_prediction_and_sees_the_transform():
    net = _net(1)
    x = _x(1, 8)
    net.eval()
    with torch.no_grad():
        plain = torch.softmax(net(torch.as_tensor(x)), 1).double().numpy()
    out = U.tta_predict(net, x, ("identity", "flip_cols"))
    assert np.array_equal(out[0], plain)
    assert not np.allclose(out[1], plain)      # a CNN is not exactly flip-equivariant

    class Column(torch.nn.Module):              # depends on the column index: not equivariant
        def forward(self, t):
            return t * torch.arange(t.shape[-1], dtype=t.dtype)

    out = U.tta_predict(Column(), np.ones((1, 1, 3, 3)), ("flip_cols",), activation="none")
    assert np.array_equal(out[0, 0, 0, 0], [2.0, 1.0, 0.0])


# --- moments and entropies ----------------------------------------------------------------------

@pytest.mark.formula("trust.predictive-moments")
def test_predictive_moments_equal_numpy_population_moments():
    p = np.random.default_rng(2).uniform(size=(5, 2, 3, 4, 4))
    mean, var = U.predictive_moments(p)
    assert np.allclose(mean, p.sum(axis=0) / 5)
    assert np.allclose(var, ((p - mean) ** 2).sum(axis=0) / 5)
    assert np.allclose(var, torch.var(torch.as_tensor(p), dim=0, correction=0).numpy())


@pytest.mark.formula("trust.entropy-decomposition")
def test_entropy_decomposition_closed_forms():
    same = np.repeat(np.array([0.2, 0.5, 0.3])[None, None, :, None], 4, axis=0)   # (4, 1, 3, 1)
    total, expected, mi = U.entropy_decomposition(same)
    h = -np.sum(np.array([0.2, 0.5, 0.3]) * np.log([0.2, 0.5, 0.3]))
    assert np.allclose(total, h) and np.allclose(expected, h) and np.allclose(mi, 0.0)
    opposite = np.array([[[1.0, 0.0]], [[0.0, 1.0]]])                           # (2, 1, 2)
    total, expected, mi = U.entropy_decomposition(opposite)
    assert np.allclose(expected, 0.0) and np.allclose(mi, np.log(2)) and np.allclose(total,
                                                                                     np.log(2))
    p = special.softmax(np.random.default_rng(3).normal(size=(6, 2, 4, 5)), axis=2)
    total, expected, mi = U.entropy_decomposition(p)
    assert np.allclose(total, stats.entropy(p.mean(axis=0), axis=1))
    assert np.allclose(expected, stats.entropy(p, axis=2).mean(axis=0))
    assert np.all(mi >= 0) and np.allclose(total, expected + mi)


# --- calibration --------------------------------------------------------------------------------

def _torchmetrics_ece(probs, labels, n_bins):
    k = probs.shape[1]
    metric = MulticlassCalibrationError(num_classes=k, n_bins=n_bins, norm="l1")
    return float(metric(torch.as_tensor(probs, dtype=torch.float32), torch.as_tensor(labels)))


@pytest.mark.formula("trust.ece")
@pytest.mark.parametrize("n_bins", [1, 5, 15, 32])
def test_ece_equals_torchmetrics(n_bins):
    g = np.random.default_rng(n_bins)
    logits = g.normal(size=(4, 3, 8, 8)) * 3
    probs = special.softmax(logits, axis=1).astype(np.float32).astype(np.float64)
    labels = g.integers(0, 3, size=(4, 8, 8))
    assert abs(U.expected_calibration_error(probs, labels, n_bins=n_bins)
               - _torchmetrics_ece(probs, labels, n_bins)) < 1e-6


def test_ece_binning_convention_on_edges_and_at_one():
    # confidences exactly on bin edges, and exactly 1: torchmetrics' left-closed bins and the
    # extra bin for 1.0
    conf = np.array([0.5, 0.6, 0.8, 1.0, 1.0, 0.75, 0.6, 0.8])
    probs = np.stack([conf, 1 - conf], axis=1)                      # (8, 2)
    labels = np.array([0, 1, 0, 0, 1, 0, 0, 1])
    ours = U.expected_calibration_error(probs, labels, n_bins=5)
    assert abs(ours - _torchmetrics_ece(probs, labels, 5)) < 1e-6
    acc, mean_conf, count = U.reliability_curve(probs, labels, n_bins=5)
    assert count.tolist() == [0, 0, 1, 3, 2, 2]     # [.4,.6) [.6,.8) [.8,1) and {1}
    assert np.allclose(mean_conf[5], 1.0) and acc[5] == 0.5


def test_binary_calibration_error_is_another_quantity():
    # torchmetrics' BinaryCalibrationError bins p(class 1) against the label, not the top-label
    # confidence against correctness; our 2-class top-label ECE is the multiclass one
    g = np.random.default_rng(9)
    p1 = g.uniform(size=400).astype(np.float32).astype(np.float64)
    labels = (g.uniform(size=400) < p1 ** 2).astype(int)       # miscalibrated
    probs = np.stack([1 - p1, p1], axis=1)
    ours = U.expected_calibration_error(probs, labels)
    binary = float(BinaryCalibrationError(n_bins=15)(torch.as_tensor(p1, dtype=torch.float32),
                                                     torch.as_tensor(labels)))
    assert abs(ours - _torchmetrics_ece(probs, labels, 15)) < 1e-6
    assert abs(ours - binary) > 1e-3
    # the binary quantity is the bin-weighted |mean label - mean p1| over bins of p1
    idx = np.minimum(np.floor(p1 * 15).astype(int), 15)
    gap = sum(abs(labels[idx == b].mean() - p1[idx == b].mean()) * np.sum(idx == b)
              for b in np.unique(idx)) / p1.size
    assert abs(gap - binary) < 1e-6


def test_ece_closed_forms():
    g = np.random.default_rng(5)
    conf = g.uniform(0.5, 1.0, 200_000)               # perfectly calibrated: P(right) = conf
    right = g.uniform(size=conf.size) < conf
    labels = np.where(right, 0, 1)
    probs = np.stack([conf, 1 - conf], axis=1)
    assert U.expected_calibration_error(probs, labels, n_bins=10) < 0.01
    constant = np.stack([np.full(1000, 0.9), np.full(1000, 0.1)], axis=1)
    labels = (np.arange(1000) >= 700).astype(int)    # 70 % accurate at confidence 0.9
    assert abs(U.expected_calibration_error(constant, labels) - 0.2) < 1e-12


@pytest.mark.formula("trust.temperature-scaling")
@pytest.mark.parametrize("t_true", [0.5, 2.5])
def test_fit_temperature_recovers_the_generating_temperature(t_true):
    g = np.random.default_rng(6)
    true_logits = g.normal(size=(20_000, 4)) * 2.0
    p = special.softmax(true_logits, axis=1)
    labels = (g.uniform(size=(p.shape[0], 1)) > np.cumsum(p, axis=1)).sum(axis=1)
    # the network reports logits multiplied by 1 / t_true (over-confident when t_true > 1)
    reported = true_logits * t_true
    t = U.fit_temperature(reported, labels)
    assert abs(t - t_true) / t_true < 0.05
    before = U.expected_calibration_error(U.temperature_scale(reported, 1.0), labels)
    after = U.expected_calibration_error(U.temperature_scale(reported, t), labels)
    assert after < before


def test_fit_temperature_matches_lbfgs_in_torch():
    g = np.random.default_rng(7)
    logits = g.normal(size=(3, 3, 6, 6)) * 4
    p = special.softmax(logits / 3.0, axis=1)            # labels drawn at T = 3
    labels = (g.uniform(size=(3, 1, 6, 6)) > np.cumsum(p, axis=1)).sum(axis=1)
    t = U.fit_temperature(logits, labels)
    z = torch.as_tensor(np.moveaxis(logits, 1, -1).reshape(-1, 3))
    y = torch.as_tensor(labels.ravel())
    log_t = torch.zeros(1, dtype=torch.float64, requires_grad=True)
    opt = torch.optim.LBFGS([log_t], lr=0.5, max_iter=200, line_search_fn="strong_wolfe")

    def closure():
        opt.zero_grad()
        loss = torch.nn.functional.cross_entropy(z / torch.exp(log_t), y)
        loss.backward()
        return loss

    opt.step(closure)
    t_lbfgs = float(torch.exp(log_t.detach()))
    assert abs(t - t_lbfgs) / t_lbfgs < 1e-4

    def nll(temperature):
        return float(torch.nn.functional.cross_entropy(z / temperature, y))

    assert nll(t) <= nll(t_lbfgs) + 1e-9
    assert np.allclose(U.temperature_scale(logits, 1.0), special.softmax(logits, axis=1))


# --- error detection ----------------------------------------------------------------------------

def test_auroc_equals_torchmetrics_and_mann_whitney():
    g = np.random.default_rng(8)
    errors = g.uniform(size=500) < 0.3
    u = np.round(g.normal(size=500) + errors, 1)          # rounded: many ties
    ours = U.error_detection_auroc(u, errors)
    ref = float(BinaryAUROC()(torch.as_tensor(u), torch.as_tensor(errors.astype(int))))
    mw = stats.mannwhitneyu(u[errors], u[~errors]).statistic / (errors.sum() * (~errors).sum())
    assert abs(ours - ref) < 1e-6 and abs(ours - mw) < 1e-12
    assert U.error_detection_auroc([0.1, 0.2, 0.9], [0, 0, 1]) == 1.0
    assert U.error_detection_auroc([0.5, 0.5, 0.5], [0, 1, 1]) == 0.5


def test_risk_coverage_closed_form_and_ties():
    cov, risk = U.risk_coverage([0.1, 0.2, 0.3, 0.4], [0, 0, 1, 1])
    assert np.allclose(cov, [0.25, 0.5, 0.75, 1.0]) and np.allclose(risk, [0, 0, 1 / 3, 0.5])
    cov, risk = U.risk_coverage([0.1, 0.2, 0.2, 0.4], [0, 1, 0, 1])
    assert np.allclose(cov, [0.25, 0.75, 1.0]) and np.allclose(risk, [0.0, 1 / 3, 0.5])


# --- purity and bad input -----------------------------------------------------------------------

def test_inputs_untouched():
    p, lab = _P.copy(), _L.copy()
    U.expected_calibration_error(p, lab)
    U.fit_temperature(np.log(p), lab)
    U.entropy_decomposition(_S)
    assert np.array_equal(p, _P) and np.array_equal(lab, _L)
    x = _x(1, 8)
    x0 = x.copy()
    U.tta_predict(_net(), x, U.TTA_TRANSFORMS)
    assert np.array_equal(x, x0)


BAD_CALLS = [
    (U.gaussian_nll, (np.zeros(2), np.zeros(3), np.zeros(2)), {}, ValueError, "log_var"),
    (U.gaussian_nll, (np.zeros(2), np.zeros(2), np.zeros(2)), {"reduction": "avg"}, ValueError,
     "reduction"),
    (U.expected_calibration_error, (_P, _L[..., :1]), {}, ValueError, "labels"),
    (U.expected_calibration_error, (_P * 2, _L), {}, ValueError, "probs"),
    (U.expected_calibration_error, (_P, _L + 0.5), {}, TypeError, "labels"),
    (U.expected_calibration_error, (_P, _L), {"n_bins": 0}, ValueError, "n_bins"),
    (U.entropy_decomposition, (_S * 0.5,), {}, ValueError, "probs"),
    (U.fit_temperature, (np.log(_P), _L + 2), {}, ValueError, "labels"),
    (U.temperature_scale, (np.log(_P), 0.0), {}, ValueError, "temperature"),
    (U.error_detection_auroc, ([0.1, 0.2], [0, 0]), {}, ValueError, "errors"),
    (U.error_detection_auroc, ([0.1, 0.2], [0, 2]), {}, ValueError, "errors"),
    (U.risk_coverage, ([0.1, 0.2, 0.3], [0, 1]), {}, ValueError, "uncertainty and errors"),
    (U.mc_dropout_predict, ("net", _x(), 2, 0), {}, TypeError, "model"),
    (U.mc_dropout_predict, (_net(), _x(), 0, 0), {}, ValueError, "n_samples"),
    (U.ensemble_predict, ([], _x()), {}, ValueError, "models"),
    (U.tta_predict, (_net(), _x(), ("mirror",)), {}, ValueError, "transforms"),
    (U.tta_predict, (_net(), np.zeros((1, 1, 4, 8), np.float32), ("rot90",)), {}, ValueError,
     "square"),
    (U.sigma_calibration, ([-0.1, 0.2], [0.0, 0.1]), {}, ValueError, "sigma"),
]
test_bad_input_raises_a_clear_error = bad_input_test(BAD_CALLS)
