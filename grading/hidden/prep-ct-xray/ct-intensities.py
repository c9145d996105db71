# Hidden tests of chapters/prep-ct-xray/ct-intensities.ipynb
# (instructor-only: the student branch leaves grading/hidden/ out).
# Each block runs after the public check of its exercise, in the notebook's namespace;
# tools/grade.py awards its points when it passes. They check what the public
# check does not: another input, an edge case, the physics of the answer.

# %% exercise 1, 1 point, prep-ct-intensities-ex1
# The level itself (the public check tests the edges and the width), the grey level as medlib
# renders it (an integer byte), and the middle of the window at mid-grey.
assert abs(float(level_ok) + 450) < 1e-9, "the level is the centre, (-1200 + 300) / 2"
assert float(grey_200) == float(prep.window_image(200.0, -450.0, 1500.0)), "medlib's grey level"
assert float(grey_200) == int(grey_200) and 0 <= int(grey_200) <= 255, "a byte"
assert int(prep.window_image(float(level_ok), level_ok, width_ok)) in (127, 128)
