"""Forward models: one full pass over all positions (and angles) of each TensorFlow AD model, the
numpy physics at equal discretisation, and the numpy simulator; time and peak memory.

Sizes scale from the quick datasets (common.thin_spec / common.volume_spec). The AD model of a
case is the one the kind's AD solver fits (steps.ad_model: chosen by the kind table, with that
solver's default config from the registry). Cases over the work
budget of common.py are skipped unless CDIBENCH_BENCH_SLOW=1. ``peakmem_`` is the peak resident
memory of the whole benchmark process, set-up included (for AD: the TensorFlow runtime too).
"""

from __future__ import annotations

from cdibench.harness.floor import plan_seconds, simulator_fft_plan
from cdibench.simulation import simulate

from . import common, steps

THIN_PARAMS = (["ptycho-far", "ptycho-near"], [64, 128, 256], list(common.SCALING["n_positions"].values), [1, 2, 4])
THIN_NAMES = ("kind", "pattern_px", "n_positions", "n_modes")
ANGLES = [4, 16, 64]
SLICES = [1, 4, 16, 64]


def _skip_thin(kind, pattern_px, n_positions, n_modes):
    common.skip_if_slow(common.thin_work(pattern_px, n_positions, n_modes), common.THIN_BUDGET,
                        f"{kind} {pattern_px} px x {n_positions} positions x {n_modes} modes")


def _thin_dataset(kind, pattern_px, n_positions, n_modes):
    return common.with_true_probe(common.dataset(common.thin_spec(kind, pattern_px, n_positions, n_modes)))


class ThinModel:
    """AD thin-object model (object x probe modes, subpixel shifts, far- or near-field detection):
    loss and gradients (object and probe) over every scan position, and the forward pass alone."""

    params = THIN_PARAMS
    param_names = THIN_NAMES
    timeout = 300

    def setup(self, kind, pattern_px, n_positions, n_modes):
        _skip_thin(kind, pattern_px, n_positions, n_modes)
        common.require_tensorflow()

        def build():
            ds = _thin_dataset(kind, pattern_px, n_positions, n_modes)
            model = steps.ad_model(ds, steps.ad_config(kind))
            return steps.ForwardBackward(model, ds), steps.ForwardBackward(model, ds, gradient=False)

        self.forward_backward, self.forward = steps.cached(("thin", kind, pattern_px, n_positions, n_modes),
                                                           build)

    def time_forward_backward(self, kind, pattern_px, n_positions, n_modes):
        self.forward_backward()

    def time_forward(self, kind, pattern_px, n_positions, n_modes):
        self.forward()

    def peakmem_forward_backward(self, kind, pattern_px, n_positions, n_modes):
        self.forward_backward()


class ThinNumpyForward:
    """The numpy physics of the same cases at the reconstruction grid (exit waves, detection):
    what one forward pass costs without TensorFlow."""

    params = THIN_PARAMS
    param_names = THIN_NAMES
    timeout = 300

    def setup(self, kind, pattern_px, n_positions, n_modes):
        _skip_thin(kind, pattern_px, n_positions, n_modes)

        def build():
            forward = steps.numpy_thin_forward(_thin_dataset(kind, pattern_px, n_positions, n_modes))
            forward()  # warm-up: first-call allocations, FFT plans
            return forward

        self.forward = steps.cached(("numpy-thin", kind, pattern_px, n_positions, n_modes), build)

    def time_forward(self, kind, pattern_px, n_positions, n_modes):
        self.forward()


class SimulateThin:
    """The numpy simulator on the thin-object cases: phantom, probe, 2x finer grid, noise."""

    params = THIN_PARAMS
    param_names = THIN_NAMES
    timeout = 300

    def setup(self, kind, pattern_px, n_positions, n_modes):
        _skip_thin(kind, pattern_px, n_positions, n_modes)
        self.spec = common.thin_spec(kind, pattern_px, n_positions, n_modes)

    def time_simulate(self, kind, pattern_px, n_positions, n_modes):
        simulate(self.spec)

    def peakmem_simulate(self, kind, pattern_px, n_positions, n_modes):
        simulate(self.spec)


class SimulatorFloorRatio:
    """The simulator's noise-free forward model (``simulate(spec, timings=...)["forward_s"]``) over
    its FFT floor (cdibench.harness.floor.simulator_fft_plan: exactly its FFTs, scipy.fft, same shapes),
    both measured here and now, best of 3; 1 = nothing but FFTs."""

    params = (["quick-ptycho-far", "quick-ptycho-near", "quick-multislice", "quick-multislice-tomo",
               "std-ptycho-far"],)
    param_names = ("case",)
    timeout = 300

    def setup(self, case):
        self.spec = common.base_spec(case)
        self.floor = plan_seconds(simulator_fft_plan(self.spec, simulate(self.spec, progress=False)))

    def track_floor_ratio(self, case):
        samples = []
        for _ in range(3):
            timings = {}
            simulate(self.spec, progress=False, timings=timings)
            samples.append(timings["forward_s"])
        return min(samples) / self.floor

    track_floor_ratio.unit = "x FFT floor"


class MultisliceModel:
    """AD multislice model, one angle (quick-multislice: 16 positions, 32 px, 64 x 64 object),
    reconstructed with ``n_slices`` slices: loss and gradients (the solver's default unknowns)."""

    params = [SLICES]
    param_names = ["n_slices"]
    timeout = 300

    def setup(self, n_slices):
        spec = common.volume_spec("multislice")
        common.skip_if_slow(common.volume_work(spec, n_slices), common.VOLUME_BUDGET, f"{n_slices} slices")
        common.require_tensorflow()

        def build():
            ds = common.dataset(spec)
            model = steps.ad_model(ds, steps.ad_config(ds.kind, n_slices=n_slices))
            return steps.ForwardBackward(model, ds)

        self.forward_backward = steps.cached(("multislice", n_slices), build)

    def time_forward_backward(self, n_slices):
        self.forward_backward()

    def peakmem_forward_backward(self, n_slices):
        self.forward_backward()


class SimulateMultislice:
    """The numpy simulator on quick-multislice with a phantom ``n_slices`` voxels thick (two
    multislice steps per voxel)."""

    params = [SLICES]
    param_names = ["n_slices"]
    timeout = 300

    def setup(self, n_slices):
        self.spec = common.volume_spec("multislice", n_slices=n_slices)
        common.skip_if_slow(common.volume_work(self.spec), common.VOLUME_BUDGET, f"{n_slices} slices")

    def time_simulate(self, n_slices):
        simulate(self.spec)

    def peakmem_simulate(self, n_slices):
        simulate(self.spec)


def _tomo_cases():
    """(kind, n_angles) -> spec of the enabled multi-angle cases."""
    out = {}
    for kind in ("multislice-tomo", "fullfield-tomo"):
        for n_angles in ANGLES:
            spec = common.volume_spec(kind, n_angles=n_angles)
            if common.slow_enabled() or common.volume_work(spec) <= common.VOLUME_BUDGET:
                out[kind, n_angles] = spec
    return out


class TomoModel:
    """AD volume models over ``n_angles`` angles: multi-angle multislice ptychography
    (quick-multislice-tomo: 6 positions, 48 slices, 32 px) and full-field projection tomography
    (quick-fullfield-tomo: 64^3, contact plane). One pass = every angle once, all positions."""

    params = (["multislice-tomo", "fullfield-tomo"], ANGLES)
    param_names = ("kind", "n_angles")
    timeout = 300

    def setup_cache(self):
        return {key: simulate(spec) for key, spec in _tomo_cases().items()}

    setup_cache.timeout = 900

    def setup(self, datasets, kind, n_angles):
        if (kind, n_angles) not in datasets:
            raise NotImplementedError(f"{kind} {n_angles} angles: slow case; set {common.SLOW_ENV}=1 to run it")
        common.require_tensorflow()

        def build():
            ds = datasets[kind, n_angles]
            return steps.ForwardBackward(steps.ad_model(ds, steps.ad_config(kind)), ds)

        self.forward_backward = steps.cached(("tomo", kind, n_angles), build)

    def time_forward_backward(self, datasets, kind, n_angles):
        self.forward_backward()

    def peakmem_forward_backward(self, datasets, kind, n_angles):
        self.forward_backward()


class SimulateTomo:
    """The numpy simulator on the multi-angle cases (rotation by cubic splines, two multislice
    steps per voxel for multislice-tomo, padded full field)."""

    params = (["multislice-tomo", "fullfield-tomo"], ANGLES)
    param_names = ("kind", "n_angles")
    timeout = 300

    def setup(self, kind, n_angles):
        self.spec = common.volume_spec(kind, n_angles=n_angles)
        common.skip_if_slow(common.volume_work(self.spec), common.VOLUME_BUDGET, f"{kind} {n_angles} angles")

    def time_simulate(self, kind, n_angles):
        simulate(self.spec)

    def peakmem_simulate(self, kind, n_angles):
        simulate(self.spec)
