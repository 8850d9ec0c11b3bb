"""The `macetutor` command: the tour runs, prints its checks, and its residuals meet the bounds."""

import shutil
import subprocess
import sys

import pytest
from conftest import EQUIVARIANCE_RTOL

from macetutor import cli


def test_tour_in_process_measures_small_residuals(capsys):
    residuals = cli.tour(seed=3)
    out = capsys.readouterr().out
    assert {
        "equivariance_proper",
        "equivariance_improper",
        "cg_invariance",
        "model_equivariance",
        "energy_invariance",
        "force_equivariance",
        "finite_difference_forces",
    } <= set(residuals)
    assert residuals["finite_difference_forces"] <= 1e-6
    assert max(v for k, v in residuals.items() if k != "finite_difference_forces") <= EQUIVARIANCE_RTOL
    # the l3 = 0 coupling of the two O-H bond harmonics is sqrt(3) cos(angle): the tour recovers 104.52 degrees
    assert "the invariant recovers the bond angle: 104.52 degrees" in out
    for step in (
        "1. A molecule",
        "2. Real spherical harmonics",
        "3. A rotation R",
        "4. Coupling",
        "5. A MACE model",
        "6. Radial basis",
        "7. Product basis",
        "8. Equivariance",
        "9. Energy and forces",
        "10. Agreement",
        "11. Summary",
    ):
        assert step in out


def test_tour_as_a_command():
    command = (
        [shutil.which("macetutor"), "tour"]
        if shutil.which("macetutor")
        else [sys.executable, "-m", "macetutor", "tour"]
    )
    done = subprocess.run(command, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    assert "equivariance residual" in done.stdout


def test_unknown_command_is_an_error():
    with pytest.raises(SystemExit) as info:
        cli.main(["no-such-command"])
    assert info.value.code == 2
