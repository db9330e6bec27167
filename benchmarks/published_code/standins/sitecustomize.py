"""Loaded at start-up (standins/ is on PYTHONPATH): NumPy 2.4 removed ``np.in1d``, which the published
code's data split calls; ``np.isin`` is its documented replacement and gives the same mask on 1-D input."""

import numpy

if not hasattr(numpy, "in1d"):
    numpy.in1d = numpy.isin
