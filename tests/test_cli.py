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
    assert f"all {len(residuals)} checks passed" in out  # the verdict
    assert "Warning" not in out and "warn" not in out.lower()  # optional dependencies' warnings are silenced
    assert "-0.0000" not in out and "Next:" in out
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
    assert "equivariance residual" in done.stdout and "checks passed" in done.stdout
    assert "Warning" not in done.stdout


def test_unknown_command_is_an_error():
    with pytest.raises(SystemExit) as info:
        cli.main(["no-such-command"])
    assert info.value.code == 2


# ---------------------------------------------------------------- verify and convert as users meet them


@pytest.fixture(scope="module")
def cu_model_file(tmp_path_factory):
    """A one-element (Cu) mace-torch model file and a two-element (H, C, O) one."""
    pytest.importorskip("mace", reason="needs the `verify` extra")
    import torch
    from mace_torch_models import build

    folder = tmp_path_factory.mktemp("models")
    torch.save(build("C_three_layers"), folder / "Cu.model")  # elements (29,)
    torch.save(build("A_default_like"), folder / "HCO.model")  # elements (1, 6, 8)
    return folder


def write(path, atoms_list):
    import ase.io

    ase.io.write(path, atoms_list)
    return str(path)


@pytest.mark.verify
def test_verify_passes_where_forces_vanish_by_symmetry(cu_model_file, tmp_path, capsys):
    """A perfect fcc crystal (forces ~1e-17 on both sides), a single atom and a dimer: all agree, exit 0; the table
    states the criterion and the scale."""
    from ase import Atoms
    from ase.build import bulk

    crystal = bulk("Cu", "fcc", a=3.61, cubic=True)
    frames = [crystal, Atoms("Cu", positions=[[0, 0, 0]]), Atoms("Cu2", positions=[[0, 0, 0], [2.3, 0, 0]])]
    structure = write(tmp_path / "frames.extxyz", frames)
    assert cli.main(["verify", str(cu_model_file / "Cu.model"), structure]) == cli.EXIT_OK
    out = capsys.readouterr().out
    assert "criterion: max |diff| <= 1e-09 x scale" in out and "3 frame(s)" in out
    assert out.count("frame ") >= 3 and "EXCEEDS" not in out
    assert cli.main(["verify", str(cu_model_file / "Cu.model"), structure, "--index", "1"]) == cli.EXIT_OK
    assert "1 frame(s)" in capsys.readouterr().out
    assert cli.main(["verify", str(cu_model_file / "Cu.model"), structure, "--tolerance", "0"]) == cli.EXIT_TOLERANCE


@pytest.mark.verify
def test_verify_and_convert_errors_are_one_line_with_distinct_exit_codes(cu_model_file, tmp_path, capsys):
    import torch
    from ase import Atoms

    text = tmp_path / "notes.txt"
    text.write_text("not a model\n")
    water = write(tmp_path / "water.xyz", [Atoms("OH2", positions=[[0, 0, 0], [0.96, 0, 0], [-0.24, 0.93, 0]])])
    copper = write(tmp_path / "cu.xyz", [Atoms("Cu2", positions=[[0, 0, 0], [2.3, 0, 0]])])
    npz = tmp_path / "ours.npz"
    from macetutor.interop import from_mace_torch

    from_mace_torch(torch.load(cu_model_file / "HCO.model", weights_only=False)).save(npz)
    torch.save({"model": {"w": torch.zeros(2)}, "optimizer": {}, "epoch": 3}, tmp_path / "checkpoint.pt")
    scripted = torch.jit.script(torch.nn.Linear(2, 2))
    torch.jit.save(scripted, tmp_path / "MACE_compiled.model")
    hco = str(cu_model_file / "HCO.model")
    cases = [
        (["verify", str(tmp_path / "missing.model"), water], cli.EXIT_INPUT, "no such file"),
        (["verify", str(text), water], cli.EXIT_INPUT, "not a PyTorch model file"),
        (["verify", str(npz), water], cli.EXIT_INPUT, "is a macetutor model (.npz)"),
        (["verify", hco, copper], cli.EXIT_INPUT, "element(s) [29] are not in the model"),
        (["verify", hco, hco], cli.EXIT_INPUT, "looks like a model file, not a structure"),
        (["verify", str(tmp_path / "MACE_compiled.model"), water], cli.EXIT_INPUT, "compiled TorchScript model"),
        (["verify", str(tmp_path / "checkpoint.pt"), water], cli.EXIT_INPUT, "training checkpoint"),
        (["verify", hco, water, "--head", "nope"], cli.EXIT_USAGE, "unknown head 'nope'"),
        (["convert", str(text), str(tmp_path / "out.npz")], cli.EXIT_INPUT, "not a PyTorch model file"),
        (["convert", hco, str(tmp_path / "no" / "dir" / "out.npz")], cli.EXIT_INPUT, "cannot write"),
    ]
    for argv, code, message in cases:
        assert cli.main(argv) == code, argv
        err = capsys.readouterr().err
        assert message in err and err.count("\n") == 1 and "Traceback" not in err, (argv, err)


@pytest.mark.verify
def test_an_unsupported_model_is_refused_naming_every_feature(tmp_path, capsys):
    import torch
    from ase import Atoms

    from macetutor.interop.mace_torch import random_mace_torch_model

    try:
        model = random_mace_torch_model(
            (1, 8), "4x0e+4x1o", 2, 2, 2, radial_mlp=(8,), interaction="RealAgnosticAttResidualInteractionBlock"
        )
    except Exception as err:  # noqa: BLE001
        pytest.skip(f"mace-torch cannot build the attention block here: {err}")
    model.use_embedding_readout = True  # a second feature macetutor does not implement
    torch.save(model, tmp_path / "att.model")
    water = write(tmp_path / "water.xyz", [Atoms("OH2", positions=[[0, 0, 0], [0.96, 0, 0], [-0.24, 0.93, 0]])])
    assert cli.main(["verify", str(tmp_path / "att.model"), water]) == cli.EXIT_UNSUPPORTED
    err = capsys.readouterr().err
    assert "RealAgnosticAttResidualInteractionBlock" in err and "use_embedding_readout" in err and err.count("\n") == 1


def test_missing_optional_dependency_is_exit_5(monkeypatch, tmp_path, capsys):
    pytest.importorskip("ase", reason="writes the structure with ase")
    from ase import Atoms

    water = write(tmp_path / "water.xyz", [Atoms("OH2", positions=[[0, 0, 0], [0.96, 0, 0], [-0.24, 0.93, 0]])])
    (tmp_path / "m.model").write_bytes(b"\x80\x04 something")
    monkeypatch.setitem(sys.modules, "mace", None)  # import mace -> ImportError
    assert cli.main(["verify", str(tmp_path / "m.model"), water]) == cli.EXIT_DEPENDENCY
    assert "needs the `verify` extra" in capsys.readouterr().err


@pytest.mark.verify
def test_verify_output_is_macetutors_own(cu_model_file, tmp_path):
    """As a command in a fresh process: mace-torch's import-time notice ("cuequivariance ... not available") and
    torch's warnings do not reach the user; the first line is macetutor's header."""
    import sys

    from ase.build import bulk

    structure = write(tmp_path / "cu.extxyz", [bulk("Cu", "fcc", a=3.61)])
    command = [sys.executable, "-m", "macetutor", "verify", str(cu_model_file / "Cu.model"), structure]
    done = subprocess.run(command, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("macetutor verify:"), done.stdout[:300]
    assert "cuequivariance" not in done.stdout + done.stderr
