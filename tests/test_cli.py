"""The command line: simulate -> inspect -> reconstruct -> score, and one-line errors."""

from pathlib import Path

import pytest

from cdibench.cli import main

DATASETS = Path(__file__).resolve().parent.parent / "datasets"


def test_simulate_reconstruct_score(tmp_path, capsys):
    cxi, out = tmp_path / "cdi.cxi", tmp_path / "rec.h5"
    assert main(["simulate", str(DATASETS / "quick-cdi.toml"), "-o", str(cxi), "--seed", "3"]) == 0
    assert main(["inspect", str(cxi), "--png", str(tmp_path / "cdi.png")]) == 0
    assert (tmp_path / "cdi.png").stat().st_size > 1000
    assert main(["reconstruct", str(cxi), "--solver", "hio", "--iterations", "100", "-o", str(out)]) == 0
    assert main(["score", str(out)]) == 0
    text = capsys.readouterr().out
    assert "kind:" in text and "nrmse" in text
    nrmse = float(text.rsplit("nrmse:", 1)[1].split()[0])
    assert nrmse < 0.05


@pytest.mark.parametrize("argv, field", [
    (["simulate", "missing.toml", "-o", "x.cxi"], "does not exist"),
    (["inspect", "missing.cxi"], "missing.cxi"),
    (["reconstruct", "missing.cxi", "--solver", "nope", "-o", "x.h5"], "solver = 'nope'"),
    (["reconstruct", "missing.cxi", "--solver", "hio", "--option", "bad", "-o", "x.h5"], "KEY=VALUE"),
    (["solvers", "nope"], "solver = 'nope' is unknown: expected one of hio, er, epie"),
])
def test_errors_are_one_line(tmp_path, capsys, monkeypatch, argv, field):
    monkeypatch.chdir(tmp_path)
    assert main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert field in err and len(err.splitlines()) == 1 and "Traceback" not in err


def test_bad_spec_value_is_one_line(tmp_path, capsys):
    spec = tmp_path / "bad.toml"
    spec.write_text((DATASETS / "quick-cdi.toml").read_text().replace("energy_kev = 8.0", "energy_kev = -8.0"))
    assert main(["simulate", str(spec), "-o", str(tmp_path / "x.cxi")]) == 2
    assert "geometry.energy_kev" in capsys.readouterr().err


def test_solvers_lists_every_solver_and_one_solvers_options(capsys):
    """`cdibench solvers` lists names, kinds and descriptions; `cdibench solvers NAME` each option
    with its type, the solver's effective default and its meaning, and the tunable ranges."""
    assert main(["solvers"]) == 0
    listing = capsys.readouterr().out
    assert "ad-ptycho" in listing and "ptycho-far" in listing and "error reduction" in listing
    assert main(["solvers", "ad-ptycho"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[1] == "kinds: ptycho-far"
    end = lines.index("tunable ranges:")
    options = {line.split()[0]: line.split(maxsplit=3)[1:] for line in lines[3:end]}
    assert options["learning_rate"][:2] == ["float", "0.05"]  # the solver's default, not FitConfig's 0.01
    assert options["optimizer"][:2] == ["str", '"adam"'] and options["jit_compile"][:2] == ["bool", "true"]
    assert "learning rate" in options["learning_rate"][2]
    tunable = lines[end + 1:]
    assert "  learning_rate          [0.0001, 1] log" in tunable
