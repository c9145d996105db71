# Hidden tests of chapters/segmentation/losses.ipynb (instructor-only: the student branch leaves
# grading/hidden/ out). Each block runs after the public check of its exercise, in the
# notebook's namespace; tools/grade.py awards its points when it passes. They check what the
# public check does not: another input, an edge case, the physics of the answer.

# %% exercise 2, 1 point, segmentation-losses-ex2
# Plain numbers (not tensors), and the physics: the background class's Dice, recovered from the
# two answers, is higher than the foreground's and is what dilutes the mean.
import numpy as _np
assert isinstance(loss_two_classes, float) and _np.ndim(dsc_hand) == 0, "plain numbers"
_background = 2 * (1 - loss_two_classes) - float(dsc_hand)
assert _np.isclose(_background, 2 * (0.8 + 0.9) / (2 + 0.64 + 0.01 + 0.16 + 0.81)), \
    "the mean of the two classes' Dice"
assert float(dsc_hand) < _background <= 1, "the background's Dice is the higher"
