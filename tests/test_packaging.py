"""A wheel that runs on its own: the non-editable wheel of this checkout, installed into a fresh venv,
runs the shipped suite and spec by name from a directory outside the checkout, and knows its version
and commit.

The fresh venv holds only the wheel; the test venv's packages (numpy, TensorFlow, ...) come after its
own on sys.path (a .pth file), so nothing is downloaded but the build backend, and the cdibench that
runs is the wheel's (asserted).
"""

import os
import subprocess
import sys
import sysconfig
from pathlib import Path

import numpy as np
import pytest

from cdibench.data.cxi import load_cxi
from cdibench.data.spec import load_spec
from cdibench.harness.runner import read_records
from cdibench.provenance import git_commit
from cdibench.simulation import simulate

ROOT = Path(__file__).resolve().parents[1]


def _run(argv: list, cwd: Path | None = None, env: dict | None = None) -> str:
    done = subprocess.run([str(a) for a in argv], cwd=cwd, env=env, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, f"{argv} exited {done.returncode}:\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}"
    return done.stdout


@pytest.fixture(scope="module")
def installed(tmp_path_factory) -> tuple[Path, Path]:
    """(fresh venv, wheel): ``pip wheel`` of the checkout installed into a venv in tmp."""
    tmp = tmp_path_factory.mktemp("wheel")
    # setuptools never empties its build folder: a module deleted from the source would linger in
    # the checkout's build/lib and ship, so build in tmp (DIST_EXTRA_CONFIG: an extra setup.cfg).
    (tmp / "build.cfg").write_text(f"[build]\nbuild_base = {tmp / 'build'}\n[egg_info]\negg_base = {tmp}\n")
    env = {**os.environ, "DIST_EXTRA_CONFIG": str(tmp / "build.cfg")}
    _run([sys.executable, "-m", "pip", "wheel", ROOT, "--no-deps", "-q", "-w", tmp / "dist"], env=env)
    (wheel,) = (tmp / "dist").glob("cdibench-*.whl")
    venv = tmp / "venv"
    _run([sys.executable, "-m", "venv", "--without-pip", venv])
    python = venv / "bin" / "python"
    _run([sys.executable, "-m", "pip", "--python", python, "install", "--no-deps", "-q", wheel])
    site = _run([python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"]).strip()
    (Path(site) / "zz_test_venv.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    module = _run([python, "-c", "import cdibench; print(cdibench.__file__)"], cwd=tmp).strip()
    assert Path(module).is_relative_to(venv), module
    return venv, wheel


@pytest.fixture
def outside(tmp_path) -> Path:
    """A working directory outside the checkout, with no dataset specs in it."""
    cwd = tmp_path / "elsewhere"
    cwd.mkdir()
    return cwd


def test_installed_wheel_runs_the_micro_suite_by_name(installed, outside):
    venv, _ = installed
    _run([venv / "bin" / "cdibench", "run", "micro", "-o", "out"], cwd=outside)
    records = read_records(outside / "out")
    assert len(records) == 3 and {r["status"] for r in records} == {"ok"}
    commits = {r["provenance"]["git_commit"] for r in records}
    # the commit written into the wheel when it was built: this checkout's HEAD
    assert commits == {git_commit()} and "unknown" not in commits


def test_installed_wheel_simulates_a_shipped_spec_by_name(installed, outside):
    venv, _ = installed
    _run([venv / "bin" / "cdibench", "simulate", "quick-cdi", "-o", "x.cxi"], cwd=outside)
    expected = simulate(load_spec(ROOT / "datasets" / "quick-cdi.toml"))
    assert np.array_equal(load_cxi(outside / "x.cxi").intensities, expected.intensities)


def test_installed_wheel_prints_its_version(installed, outside):
    venv, wheel = installed
    version = wheel.name.split("-")[1]  # setuptools-scm's, from git: e.g. 0.1.1.dev41+gd1404b8a0
    assert _run([venv / "bin" / "cdibench", "--version"], cwd=outside).strip() == f"cdibench {version}"


def test_specs_and_suites_are_found_by_name_from_any_directory(tmp_path, monkeypatch, capsys):
    from cdibench.cli import main
    from cdibench.harness.suite import load_suite

    monkeypatch.chdir(tmp_path)
    assert [c.name for c in load_suite("micro").cases] == ["quick-cdi", "quick-ptycho-far"]
    assert main(["simulate", "quick-cdi", "-o", "x.cxi"]) == 0 and (tmp_path / "x.cxi").is_file()
    assert main(["simulate", "quick-cdx", "-o", "y.cxi"]) == 2
    assert "'quick-cdx' does not exist" in capsys.readouterr().err


def test_a_suite_names_a_spec_beside_it_then_a_shipped_one_or_gives_its_path(tmp_path):
    from cdibench.harness.suite import load_suite

    shipped = (ROOT / "datasets" / "quick-cdi.toml").read_text()
    (tmp_path / "specs").mkdir()
    (tmp_path / "specs" / "mine.toml").write_text(shipped.replace("seed = 1", "seed = 7"))
    (tmp_path / "suites").mkdir()
    (tmp_path / "suites" / "quick-cdi.toml").write_text(shipped.replace("seed = 1", "seed = 5"))
    suite = tmp_path / "suites" / "suite-mine.toml"
    runs = 'runs = [{ solver = "hio" }]\n'
    suite.write_text(f'[[case]]\ndataset = "quick-cdi"\n{runs}'  # beside the suite: shadows the shipped one
                     f'[[case]]\ndataset = "../specs/mine.toml"\n{runs}'
                     f'[[case]]\ndataset = "quick-ptycho-far"\nruns = [{{ solver = "epie" }}]\n')
    cases = load_suite(str(suite)).cases
    assert [c.spec.seed for c in cases[:2]] == [5, 7] and cases[2].spec.kind == "ptycho-far"
    suite.write_text(f'[[case]]\ndataset = "no-such-spec"\n{runs}')
    with pytest.raises(ValueError, match=r"case\[0\]\.dataset: spec file 'no-such-spec' does not exist.*quick-cdi"):
        load_suite(str(suite))
