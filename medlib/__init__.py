"""medlib: the algorithms of the course *Medical Imaging, from Physics to Deep Learning*.

The notebooks of the book narrate, derive and show; ``medlib`` computes. Every algorithm lives
here once, with tests, and every function says in its docstring which formula of the course it
implements (a ``:formula:`id``` tag naming an id of ``medlib/formulas.tsv``) and where the book
teaches it. ``python -m medlib.formulas`` reports how every formula is traced.

Conventions (followed by every module)
--------------------------------------
Arrays
    Axes in NumPy order: a 2D image is ``(row, col)``, a volume ``(z, y, x)`` = ``(slice, row,
    col)``. Spacings are given in mm and in the same order as the axes.
Affines
    A 4x4 (or, in 2D, 3x3) homogeneous matrix maps the indices of the array it belongs to, in the
    order of that array's axes, to world coordinates ``(x, y, z)`` in mm. DICOM's own matrix uses
    the index order ``(i, j, k) = (column, row, slice)`` and the LPS world; NIfTI (as read by
    nibabel) uses the file's ``(i, j, k)`` and the RAS world. :mod:`medlib.geometry` converts.
Angles
    Radians, unless the argument's name ends in ``_deg``.
Units
    SI or the clinical unit named in the argument (``te_ms``, ``b0_t``, ``mu_per_cm``).
Randomness
    Only through an ``rng`` argument: a :class:`numpy.random.Generator` or an integer seed.
Purity
    Functions never modify their inputs; they return new arrays. Bad input raises
    :class:`ValueError` or :class:`TypeError` naming the argument and what is allowed.

Modules
-------
geometry   voxel-to-world mapping, DICOM/NIfTI affines, rotation, scaling, affine transforms
sampling   convolution, down/up-sampling, interpolation, Fourier transforms
noise      Gaussian, Poisson and Rician noise, SNR
ct         attenuation, Radon transform, filtered backprojection, Hounsfield units, windows
mri        Larmor frequency, a fast Bloch simulator, relaxation and contrast, k-space
ultrasound wave relations, attenuation, reflection, RF simulation, envelope, TGC, B-mode, speckle
pet        decay, sparse parallel-beam system matrix, Poisson forward model, MLEM and OSEM
xray       transmission, DRR, detector response, flat-field correction, display
phantoms   Shepp-Logan and test patterns with known ground truth
processing normalisation, histograms and equalisation, Gaussian/Sobel/Laplacian filters, resampling
dl         convolution layers (stride, padding, dilation) and their output size, in NumPy
losses     Dice, cross-entropy and focal losses with their gradients, in NumPy
metrics    Dice, IoU, confusion matrix, sensitivity, specificity, with defined edge cases
dltorch    PyTorch glue: train a small network with medlib's NumPy losses (the only module
           that imports torch; install the ``dl`` extra)
data       the course's real data files, checked against their sha256
formulas   the formula catalogue and its traceability report
notebook   display helpers for the book (show a function's source)
plotting   the course's matplotlib style
"""
from __future__ import annotations

__version__ = "0.1.0"

__all__ = ["ct", "data", "dl", "dltorch", "formulas", "geometry", "losses", "metrics", "mri",
           "noise", "notebook", "pet", "phantoms", "plotting", "processing", "sampling",
           "ultrasound", "xray"]
