"""The numpy simulator: DatasetSpec -> Dataset, one simulator per kind family.

- seeds: the named random streams, children of ``SeedSequence(spec.seed)``;
- scene: the sample and the beam of transmission kinds (phantom, truth, support, probe, scan);
- transmission: thin and volume kinds (CDI, ptychography, multislice, full field);
- bragg: the crystal of kind 'bragg' in Bragg geometry;
- measurement: the tail every simulator shares (flux fluctuation, noise, detector).

The simulator may work on a finer grid than the reconstructions (``simulation.grid_upsample``) and
with more multislice steps (``simulation.slices_per_voxel``); the ground truth it stores is on the
reconstruction grid. The same spec and seed give bit-identical data.
"""

from __future__ import annotations

from cdibench.data.dataset import Dataset
from cdibench.data.spec import DatasetSpec
from cdibench.kinds import kind
from cdibench.simulation.bragg import simulate_bragg
from cdibench.simulation.transmission import simulate_transmission

_SIMULATORS = {"thin": simulate_transmission, "volume": simulate_transmission, "crystal": simulate_bragg}


def simulate(spec: DatasetSpec, progress: bool = True, timings: dict | None = None) -> Dataset:
    """Simulate the experiment described by ``spec``; deterministic in ``spec.seed``.

    The simulator is chosen by the sample of the spec's kind (cdibench.kinds). timings: if given,
    receives ``forward_s``, the wall time of the noise-free forward model (what
    cdibench.harness.floor.simulator_fft_plan counts), kept out of the dataset so files stay reproducible."""
    return _SIMULATORS[kind(spec.kind).sample](spec, progress, timings)
