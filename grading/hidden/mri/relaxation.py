# Hidden tests of chapters/mri/relaxation.ipynb (instructor-only: the student branch leaves
# grading/hidden/ out). Each block runs after the public check of its exercise, in the
# notebook's namespace; tools/grade.py awards its points when it passes. They check what the
# public check does not: another input, an edge case, the physics of the answer.

# %% exercise 1, 1 point, mri-relaxation-ex1
# The exact optimum (the public check compares with a 0.1 ms grid to 1 ms), and its physics: a
# T1-weighted spin echo wants a TR shorter than both tissues' T1.
import numpy as _np
_w, _g = tissues["wm"], tissues["gm"]
_a, _b = _w.pd * _np.exp(-15 / _w.t2_ms), _g.pd * _np.exp(-15 / _g.t2_ms)
_tr = _np.log((_a / _w.t1_ms) / (_b / _g.t1_ms)) / (1 / _w.t1_ms - 1 / _g.t1_ms)
assert _np.ndim(tr_best) == 0, "one TR, in ms"
assert abs(float(tr_best) - _tr) < 0.5, "where d(S_WM - S_GM)/dTR = 0"
assert float(tr_best) < min(_w.t1_ms, _g.t1_ms), "T1 contrast: TR shorter than both T1"

# %% exercise 2, 1 point, mri-relaxation-ex2
# The stationary point itself (to 0.01 ms, the public grid allows 0.1 ms), a maximum, and below
# both T2: the optimum trades separation of the decays against the signal left.
import numpy as _np
_w, _g = tissues["wm"], tissues["gm"]


def _contrast(te):
    return (mri.spin_echo_signal(4000.0, te, _g.t1_ms, _g.t2_ms, pd=_g.pd)
            - mri.spin_echo_signal(4000.0, te, _w.t1_ms, _w.t2_ms, pd=_w.pd))


_te = float(te_best)
assert _np.ndim(te_best) == 0, "one TE, in ms"
assert _contrast(_te) >= max(_contrast(_te - 0.01), _contrast(_te + 0.01)), "not the maximum"
assert _te < min(_w.t2_ms, _g.t2_ms), "the optimum TE lies below both T2"
