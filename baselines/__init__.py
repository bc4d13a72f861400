"""Classical reference algorithms reimplemented on numpy/scipy, importing nothing of cdibench: an
independent check of cdibench's automatic-differentiation solvers.

Plain functions on plain arrays; every iterative one takes ``rng`` and ``callback(iteration, state)``
and returns its per-iteration data ``errors``. The iterative ones also run one iteration at a time
(``*_setup`` validates and prepares the data, ``*_step`` / ``*_sweep`` runs one iteration), so that
a harness can time the iterations apart from the set-up. Conventions: centred unitary FFTs (zero
frequency at pixel (n_y // 2, n_x // 2)), fields complex64, ptychography positions as float (row,
col) top-left corners of the probe window in object pixels, masks nonzero = bad pixel.
"""

from baselines._positions import PositionCorrection
from baselines._propagate import NearField
from baselines.cdi import (
                                HioErRun,
                                er,
                                hio,
                                hio_er,
                                hio_er_setup,
                                hio_er_step,
                                shrinkwrap,
)
from baselines.epie import (
                                PieRun,
                                epie,
                                pie_estimate,
                                pie_positions,
                                pie_setup,
                                pie_sweep,
                                rpie,
)
from baselines.fbp import angle_weights, fbp, filter_projections, fourier_filter
from baselines.pipeline import (
                                PtychoFbpRun,
                                angular_spectrum,
                                illuminated_rim,
                                normalise_transmission,
                                projected_index,
                                ptycho_fbp,
                                ptycho_fbp_finish,
                                ptycho_fbp_setup,
                                ptycho_fbp_sweep,
)

__all__ = [
    "er", "hio", "hio_er", "shrinkwrap", "HioErRun", "hio_er_setup", "hio_er_step",
    "epie", "rpie", "NearField", "PositionCorrection", "PieRun", "pie_setup", "pie_sweep", "pie_estimate",
    "pie_positions",
    "fbp", "filter_projections", "fourier_filter", "angle_weights",
    "ptycho_fbp", "angular_spectrum", "normalise_transmission", "projected_index", "illuminated_rim",
    "PtychoFbpRun", "ptycho_fbp_setup", "ptycho_fbp_sweep", "ptycho_fbp_finish",
]
