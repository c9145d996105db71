# Hidden tests of chapters/ct/hu-windowing.ipynb (instructor-only: the student branch leaves
# grading/hidden/ out). Each block runs after the public check of its exercise, in the
# notebook's namespace; tools/grade.py awards its points when it passes.

# %% exercise 1, 1 point, ct-hu-windowing-ex1
# Consistent with medlib on other values: the displayed contrast is 1 / width per HU.
assert abs(contrast_brain / contrast_soft - 400 / 80) < 1e-9, "the ratio of the two widths"

# %% exercise 2, 2 points, ct-hu-windowing-ex2
# The raw value really comes from the file's Rescale tags, and the window from medlib.
assert abs(raw_brain * float(ds.RescaleSlope) + float(ds.RescaleIntercept) - 31) < 1e-9
assert abs(shown - float(ct.window(raw_brain, 40, 400))) < 1e-12
