# Hidden tests of chapters/restoration/metrics.ipynb (instructor-only: the student branch leaves
# grading/hidden/ out). Each block runs after the public check of its exercise, in the
# notebook's namespace; tools/grade.py awards its points when it passes. They check what the
# public check does not: another input, an edge case, the physics of the answer.

# %% exercise 1, 1 point, restoration-metrics-ex1
# The definition by hand (not scikit-image), and the point of the exercise: the stated window
# shifts PSNR by 20 log10(R_window / R_data) dB whatever the noise, so R must be reported.
import numpy as _np
_y, _f = _np.asarray(y, dtype=float), _np.asarray(f_noise, dtype=float)
_mse = _np.mean((_y - _f) ** 2)
assert _np.ndim(psnr_paper) == 0, "one number, in dB"
assert abs(float(psnr_paper) - 10 * _np.log10(2000.0 ** 2 / _mse)) < 1e-6, "10 log10(R^2 / MSE)"
_r = float(_np.ptp(_y))
assert abs(float(psnr_paper) - restoration.psnr(_y, _f, data_range=_r)
           - 20 * _np.log10(2000.0 / _r)) < 1e-6, "R enters as 20 log10 R"

# %% exercise 2, 1 point, restoration-metrics-ex2
# The physics: MSE(y, y + b) = b^2, so b is the RMSE of the noise, computed here by hand; and
# the same MSE does not mean the same SSIM (the offset keeps every structure).
import numpy as _np
_y, _f = _np.asarray(y, dtype=float), _np.asarray(f_noise, dtype=float)
assert _np.ndim(offset_hu) == 0, "one offset, in HU"
assert abs(float(offset_hu) / _np.sqrt(_np.mean((_y - _f) ** 2)) - 1) < 1e-9, "b = RMSE"
assert (restoration.ssim(_y, _y + float(offset_hu), data_range=2000.0)
        > restoration.ssim(_y, _f, data_range=2000.0)), "an offset keeps the structure"
