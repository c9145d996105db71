# Hidden tests of chapters/image-processing/filtering.ipynb
# (instructor-only: the student branch leaves grading/hidden/ out).
# Each block runs after the public check of its exercise, in the notebook's namespace;
# tools/grade.py awards its points when it passes. They check what the public
# check does not: another input, an edge case, the physics of the answer.

# %% exercise 1, 1 point, image-processing-filtering-ex1
# Another input than the notebook's slice (a random image and an impulse): the kernel is the
# sharpening itself, not something fitted to one image; and it is symmetric (no shift).
import numpy as _np
from scipy import ndimage as _nd
_k = _np.asarray(sharpen_kernel, dtype=float)
_img = _np.random.default_rng(7).normal(size=(17, 23))
assert _np.allclose(_nd.correlate(_img, _k, mode="reflect"),
                    processing.laplacian_sharpen(_img, 0.5)), "sharpen another image the same way"
_impulse = _np.zeros((5, 5))
_impulse[2, 2] = 1.0
assert _np.allclose(processing.laplacian_sharpen(_impulse, 0.5)[1:4, 1:4], _k[::-1, ::-1])
assert _np.allclose(_k, _k[::-1, ::-1]) and _np.allclose(_k, _k.T), "a symmetric kernel"
assert _np.isclose(_k[1, 1], 3.0), "1 + 4 c at the centre for c = 0.5"
