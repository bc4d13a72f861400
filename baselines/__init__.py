"""Classical reference algorithms reimplemented on numpy/scipy, importing nothing of cdibench: an
independent check of cdibench's automatic-differentiation solvers.

Plain functions on plain arrays; every iterative one takes ``rng`` and ``callback(iteration, state)``
and returns its per-iteration data ``errors``. Conventions: centred unitary FFTs (zero frequency at
pixel (n_y // 2, n_x // 2)), fields complex64, ptychography positions as float (row, col) top-left
corners of the probe window in object pixels, masks nonzero = bad pixel.
"""

from baselines.cdi import er, hio, hio_er, shrinkwrap
from baselines.epie import epie, rpie
from baselines.fbp import angle_weights, fbp, filter_projections, fourier_filter
from baselines.pipeline import (angular_spectrum, illuminated_rim, normalise_transmission, projected_index,
                                ptycho_fbp)

__all__ = [
    "er", "hio", "hio_er", "shrinkwrap",
    "epie", "rpie",
    "fbp", "filter_projections", "fourier_filter", "angle_weights",
    "ptycho_fbp", "angular_spectrum", "normalise_transmission", "projected_index", "illuminated_rim",
]
