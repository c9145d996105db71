# Hidden tests of chapters/pet-spect/decay.ipynb (instructor-only: the student branch leaves
# grading/hidden/ out). Each block runs after the public check of its exercise, in the
# notebook's namespace; tools/grade.py awards its points when it passes. They check what the
# public check does not: another input, an edge case, the physics of the answer.

# %% exercise 2, 1 point, pet-spect-decay-ex2
# The physics of the answer: 5 % is log2(20) = 4.32 half-lives of C-11 (20.34 min, NUBASE2020),
# whatever the starting activity, and the answer is in minutes.
import numpy as _np
assert _np.ndim(t_5pct_min) == 0, "one time, in minutes"
assert 80 < float(t_5pct_min) < 95, "in minutes (about 88), not seconds or hours"
assert abs(float(t_5pct_min) / 20.3402 - _np.log2(20)) < 1e-3, "log2(1/0.05) half-lives"
