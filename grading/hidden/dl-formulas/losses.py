# Hidden tests of chapters/dl-formulas/losses.ipynb (instructor-only: the student branch leaves
# grading/hidden/ out). Each block runs after the public check of its exercise, in the
# notebook's namespace; tools/grade.py awards its points when it passes. They check what the
# public check does not: another input, an edge case, the physics of the answer.

# %% exercise 2, 1 point, dl-formulas-losses-ex2
# The gradients by finite differences of the losses themselves (not medlib's gradient
# functions), and the focal loss's point: it moves the weight much more towards the hard pixel.
import numpy as _np


def _fl(z, gamma):
    p = 1 / (1 + _np.exp(-z))
    return -(1 - p) ** gamma * _np.log(p)                 # y = 1; gamma = 0: cross-entropy


def _ratio(gamma, h=1e-6):
    z = _np.log(_np.array([0.9, 0.1]) / _np.array([0.1, 0.9]))   # logits: easy, hard
    g = _np.abs((_fl(z + h, gamma) - _fl(z - h, gamma)) / (2 * h))
    return g[1] / g[0]


assert _np.isclose(float(ratio_ce), _ratio(0.0), rtol=1e-5), "|dL/dz| hard / easy, cross-entropy"
assert _np.isclose(float(ratio_focal), _ratio(2.0), rtol=1e-5), "|dL/dz| hard / easy, focal"
assert float(ratio_focal) > 10 * float(ratio_ce), "the focal loss favours the hard pixel"
