"""baselines.epie (ePIE, rPIE, probe modes) on noise-free far-field ptychography made here with
numpy.fft (independent of baselines._fft), plus one check that this simulation follows cdibench's
position convention, and input validation."""

import numpy as np
import pytest
from scipy.ndimage import gaussian_filter
from scipy.optimize import minimize

from baselines._fft import fft2, ifft2, shift_ramps
from baselines.epie import epie, rpie

N, W, PHOTONS = 96, 32, 1e5
FIXED = 10**6  # update_probe_after beyond n_iter: the probe stays fixed


def _smooth(rng, sigma):
    field = gaussian_filter(rng.standard_normal((N, N)), sigma)
    return (field - field.min()) / (field.max() - field.min())


def _fourier_shift(field, shift):
    k_y, k_x = np.fft.fftfreq(W)[:, None], np.fft.fftfreq(W)[None, :]
    return np.fft.ifft2(np.fft.fft2(field) * np.exp(-2j * np.pi * (shift[0] * k_y + shift[1] * k_x)))


def _simulate(obj, modes, positions):
    """I_j = sum_k |fft2c(shift(P_k, frac(p_j)) * O[floor(p_j) : floor(p_j) + W])|^2, float64."""
    patterns = []
    for p in positions:
        row, col = np.floor(p).astype(int)
        psi = _fourier_shift(modes, p - np.floor(p)) * obj[row:row + W, col:col + W]
        spectrum = np.fft.fftshift(np.fft.fft2(np.fft.ifftshift(psi, axes=(-2, -1)), norm="ortho"), axes=(-2, -1))
        patterns.append(np.sum(np.abs(spectrum) ** 2, axis=0))
    return np.asarray(patterns)


@pytest.fixture(scope="module")
def scene():
    """Object (amplitude 0.6..1, phase +-1 rad) 96 x 96; probe: soft-edged disk of radius 10 px with a
    quadratic phase 0.02 r^2 in a 32 x 32 window, 1e5 photons; 6 x 6 raster of 6 px step with
    uniform +-2 px offsets (subpixel, breaks the raster-grid pathology). The object has fine texture
    (1.5 px correlation length): with a very smooth one (3 px) the nearly centrosymmetric patterns let
    blind ePIE from a flat-phase guess stall in the conjugate-defocus basin for 1 of 10 seeds tried."""
    rng = np.random.default_rng(1)
    obj = (0.6 + 0.4 * _smooth(rng, 1.5)) * np.exp(1j * (2 * _smooth(rng, 2.5) - 1))
    y, x = np.mgrid[:W, :W] - W // 2
    r = np.hypot(y, x)
    disk = 1 / (1 + np.exp(r - 10.0))
    probe = disk * np.exp(0.02j * r**2)
    probe *= np.sqrt(PHOTONS / np.sum(np.abs(probe) ** 2))
    grid = np.arange(6) * 6 + 16.0
    positions = np.stack(np.meshgrid(grid, grid, indexing="ij"), -1).reshape(-1, 2) + rng.uniform(-2, 2, (36, 2))
    illumination = np.zeros((N, N))
    for row, col in np.floor(positions).astype(int):
        illumination[row:row + W, col:col + W] += np.abs(probe) ** 2
    return dict(obj=obj, probe=probe[None], positions=positions, intensities=_simulate(obj, probe[None], positions),
                region=illumination > 0.1 * illumination.max(), guess=disk * np.sqrt(PHOTONS / np.sum(disk**2)),
                probe_region=disk > 0.5, x=x, y=y)


def _phase_nrmse(recon, truth, region):
    """Closed-form global phase alignment, then NRMSE over region."""
    r, t = recon[region], truth[region]
    return float(np.linalg.norm(t - np.exp(1j * np.angle(np.vdot(r, t))) * r) / np.linalg.norm(t))


def _aligned_nrmse(recon, truth, region):
    """NRMSE over region after removing the exact ambiguities of blind ptychography: a complex scale
    (O -> cO, P -> P/c), a linear phase ramp (O e^{-ikr}, P e^{ikr}) and a subpixel shift of object and
    probe together. Shift and ramp by Powell search, the scale in closed form at each step."""
    spectrum = np.fft.fft2(recon)
    k_y, k_x = np.fft.fftfreq(recon.shape[0])[:, None], np.fft.fftfreq(recon.shape[1])[None, :]
    y, x = np.mgrid[:recon.shape[0], :recon.shape[1]]
    t = truth[region]

    def misfit(p):
        moved = np.fft.ifft2(spectrum * np.exp(-2j * np.pi * (p[0] * k_y + p[1] * k_x))) * np.exp(1j * (p[2] * y + p[3] * x))
        r = moved[region]
        return np.linalg.norm(t - np.vdot(r, t) / np.vdot(r, r) * r) / np.linalg.norm(t)

    return float(minimize(misfit, np.zeros(4), method="Powell").fun)


def test_simulation_follows_cdibench_position_convention(scene):
    from cdibench.physics.fft import fft2c
    from cdibench.physics.ptychography import exit_waves

    waves = exit_waves(scene["obj"].astype(np.complex64), scene["probe"].astype(np.complex64), scene["positions"])
    reference = np.sum(np.abs(fft2c(waves)) ** 2, axis=1)
    np.testing.assert_allclose(reference, scene["intensities"], rtol=0, atol=1e-4 * scene["intensities"].max())


def test_shift_ramps_move_content_towards_larger_indices():
    field = np.zeros((2, 8, 10), np.complex64)
    field[:, 2, 3] = 1
    ramp_y, ramp_x = shift_ramps(np.array([[1.0, 2.0]]), (8, 10))
    moved = ifft2(fft2(field) * (ramp_y[0, :, None] * ramp_x[0, None, :]))
    assert moved.dtype == np.complex64
    np.testing.assert_allclose(np.abs(moved[:, 3, 5]), 1, atol=1e-6)


def test_epie_with_true_probe_fixed(scene):
    result = epie(scene["intensities"], scene["positions"], scene["probe"], (N, N), 30, rng=0,
                  update_probe_after=FIXED)
    assert result["object"].dtype == np.complex64 and result["probe"].dtype == np.complex64
    # untouched up to the float32 FFT round trip of the subpixel path
    np.testing.assert_allclose(result["probe"], scene["probe"], atol=1e-6 * np.abs(scene["probe"]).max())
    errors = result["errors"]
    assert errors.dtype == np.float64 and errors.shape == (30,)
    assert np.mean(np.diff(errors) < 0) >= 0.9 and errors[-1] < 0.01 * errors[0]  # measured 1.0, 1.6e-3
    nrmse = _phase_nrmse(result["object"], scene["obj"], scene["region"])
    assert nrmse <= 0.05, nrmse  # measured 0.013


def test_epie_recovers_object_and_improves_wrong_probe(scene):
    guess = scene["guess"][None]  # the disk without its quadratic phase
    result = epie(scene["intensities"], scene["positions"], guess, (N, N), 100, rng=0, update_probe_after=2)
    nrmse = _aligned_nrmse(result["object"], scene["obj"], scene["region"])
    assert nrmse <= 0.05, nrmse  # measured 0.0053 (0.068 with the global phase alone)
    truth, mask = scene["probe"][0], scene["probe_region"]
    before, after = _aligned_nrmse(guess[0], truth, mask), _aligned_nrmse(result["probe"][0], truth, mask)
    assert after < 0.2 * before, (before, after)  # measured 0.49 -> 0.0015


def test_rpie_converges(scene):
    fixed = rpie(scene["intensities"], scene["positions"], scene["probe"], (N, N), 30, alpha=0.1, rng=0,
                 update_probe_after=FIXED)
    assert _phase_nrmse(fixed["object"], scene["obj"], scene["region"]) <= 0.05  # measured 0.0081
    blind = rpie(scene["intensities"], scene["positions"], scene["guess"][None], (N, N), 100, alpha=0.1, rng=0,
                 update_probe_after=2)
    assert _aligned_nrmse(blind["object"], scene["obj"], scene["region"]) <= 0.05  # measured 0.0037


def test_rpie_with_alpha_one_is_epie(scene):
    args = (scene["intensities"], scene["positions"], scene["guess"][None], (N, N), 3)
    a = epie(*args, alpha=1.0, beta=1.0, rng=4)
    b = rpie(*args, alpha=1.0, beta=1.0, rng=4)
    np.testing.assert_allclose(b["object"], a["object"], rtol=1e-4, atol=1e-5)  # float32 step rounding
    np.testing.assert_allclose(b["errors"], a["errors"], rtol=1e-4)


def test_two_probe_modes(scene):
    """Data from two orthogonal modes (40 % power in a vortex-like second mode); a two-mode blind
    reconstruction recovers the object, a one-mode one cannot explain the data."""
    first = scene["probe"][0]
    second = first * (scene["x"] + 1j * scene["y"]) / 10
    second -= np.vdot(first, second) / np.vdot(first, first) * first
    second *= np.sqrt(0.4 * np.sum(np.abs(first) ** 2) / np.sum(np.abs(second) ** 2))
    intensities = _simulate(scene["obj"], np.stack([first, second]), scene["positions"])
    tilt = scene["guess"] * scene["x"]
    guess = np.stack([scene["guess"], tilt * np.sqrt(0.3 * PHOTONS / np.sum(tilt**2))])  # 30 % power
    two = epie(intensities, scene["positions"], guess, (N, N), 150, rng=0, update_probe_after=2)
    one = epie(intensities, scene["positions"], guess[:1], (N, N), 150, rng=0, update_probe_after=2)
    two_nrmse = _aligned_nrmse(two["object"], scene["obj"], scene["region"])
    one_nrmse = _aligned_nrmse(one["object"], scene["obj"], scene["region"])
    assert two["probe"].shape == (2, W, W)
    assert two_nrmse <= 0.03, two_nrmse  # measured 0.0095
    assert one_nrmse > 2 * two_nrmse and one["errors"][-1] > 10 * two["errors"][-1]  # measured 0.067; 200x


def test_mask_per_position_ignores_bad_pixels(scene):
    rng = np.random.default_rng(2)
    bad = rng.random(scene["intensities"].shape) < 0.03
    corrupted = scene["intensities"].copy()
    corrupted[bad] = rng.random(bad.sum()) * corrupted.max()
    args = (corrupted, scene["positions"], scene["probe"], (N, N), 30)
    masked = epie(*args, mask=bad.astype(np.uint32), rng=0, update_probe_after=FIXED)
    unmasked = epie(*args, rng=0, update_probe_after=FIXED)
    assert _phase_nrmse(masked["object"], scene["obj"], scene["region"]) <= 0.05  # measured 0.0133
    assert _phase_nrmse(unmasked["object"], scene["obj"], scene["region"]) > 0.5  # measured 1.0


def test_callback_gets_copies_and_stops_early(scene):
    states = []

    def callback(iteration, state):
        states.append((iteration, state))
        return iteration == 3

    result = epie(scene["intensities"], scene["positions"], scene["guess"][None], (N, N), 10, rng=0,
                  callback=callback)
    assert [i for i, _ in states] == [0, 1, 2, 3] and len(result["errors"]) == 4
    assert states[-1][1]["error"] == result["errors"][-1]
    assert not np.array_equal(states[0][1]["object"], states[-1][1]["object"])  # copies, not live views
    np.testing.assert_array_equal(states[-1][1]["probe"], result["probe"])


def _bad(scene, **change):
    kwargs = dict(intensities=scene["intensities"].copy(), positions_px=scene["positions"], probe=scene["probe"],
                  object_shape=(N, N), n_iter=1)
    kwargs.update(change)
    return kwargs


@pytest.mark.parametrize("name, make", [
    ("positions_px", lambda s: dict(positions_px=s["positions"] + [[0, N - 30]])),
    ("positions_px", lambda s: dict(positions_px=s["positions"] - [[20, 0]])),
    ("positions_px", lambda s: dict(positions_px=s["positions"][:5])),
    ("probe", lambda s: dict(probe=np.stack([s["probe"][0], 0 * s["probe"][0]]))),
    ("probe", lambda s: dict(probe=s["probe"][0])),
    ("intensities", lambda s: dict(intensities=np.where(np.arange(W) == 3, -1.0, s["intensities"]))),
    ("intensities", lambda s: dict(intensities=np.where(np.arange(W) == 3, np.nan, s["intensities"]))),
    ("intensities", lambda s: dict(intensities=s["intensities"][:, :30, :30])),
    ("mask", lambda s: dict(mask=np.zeros((W, W + 1), bool))),
    ("mask", lambda s: dict(mask=np.zeros((W, W)))),
    ("object0", lambda s: dict(object0=np.ones((N, N - 1)))),
    ("object_shape", lambda s: dict(object_shape=(N, 0))),
    ("n_iter", lambda s: dict(n_iter=-1)),
    ("alpha", lambda s: dict(alpha=0.0)),
    ("beta", lambda s: dict(beta=1.5)),
    ("update_probe_after", lambda s: dict(update_probe_after=-1)),
])
@pytest.mark.parametrize("engine", [epie, rpie])
def test_bad_inputs_raise_naming_the_argument(scene, engine, name, make):
    with pytest.raises(ValueError, match=f"^{name}: got .*expected"):
        engine(**_bad(scene, **make(scene)))
