"""The experiments' comparison with mace-torch (macetutor.experiments): macetutor, started from mace_run_train's own
initial model and fed its batches in its order, trains along mace_run_train's path -- stage one, EMA, the plateau
scheduler and stage two included -- so the two trained models agree to round-off. The golden values are
mace_run_train's own trained weights (it is run here, as the experiment scripts run it)."""

from __future__ import annotations

import pytest

pytestmark = [pytest.mark.verify, pytest.mark.slow]


@pytest.fixture(scope="module")
def ethanol():
    pytest.importorskip("mace")
    from macetutor import datasets
    from macetutor.experiments import structures_from_atoms
    from macetutor.trainer import average_E0s

    pool = datasets.load("ethanol-xtb", "train")
    train_frames, valid_frames = pool[:10], pool[-5:]
    E0 = dict(zip((1, 6, 8), average_E0s(structures_from_atoms(train_frames), (1, 6, 8)), strict=True))
    return train_frames, valid_frames, E0


def test_macetutor_trains_along_mace_run_trains_path(ethanol, tmp_path):
    """4 epochs (stage two from epoch 3), batches of 5 from 10 frames: the trained weights agree to 1e-10, and
    taking the batches in macetutor's own shuffled order instead (same start) ends elsewhere -- the replayed order is
    what makes the paths one."""
    from macetutor.experiments import (
        Recipe,
        parameter_difference,
        structures_from_atoms,
        train_both,
        train_macetutor,
    )

    train_frames, valid_frames, E0 = ethanol
    recipe = Recipe(max_num_epochs=4, num_channels=8, MLP_irreps="8x0e", radial_MLP=(16, 16))
    trained = train_both(recipe, train_frames, valid_frames, E0, tmp_path)
    assert trained["parameter_difference"] < 1e-10
    theirs = trained["mace-torch"][0]

    from macetutor.experiments import mace_run_train_initial_model

    initial = mace_run_train_initial_model(recipe, train_frames, valid_frames, E0, tmp_path / "again")
    assert parameter_difference(initial, theirs) > 1e-3  # training moved the weights
    shuffled, _ = train_macetutor(
        recipe,
        structures_from_atoms(train_frames),
        structures_from_atoms(valid_frames),
        E0,
        tmp_path / "shuffled",
        initial=initial,
    )
    assert parameter_difference(shuffled, theirs) > 1e-6


def test_the_batch_order_is_a_partition_of_the_training_set_per_epoch():
    pytest.importorskip("torch")
    from macetutor.experiments import Recipe, mace_run_train_batches

    batches = mace_run_train_batches(23, Recipe(batch_size=5))
    for epoch in range(3):
        drawn = [k for batch in batches(epoch) for k in batch]
        assert len(drawn) == 20 and len(set(drawn)) == 20  # drop_last: 4 batches of 5, no repeats
        assert set(drawn) <= set(range(23))
    assert batches(0) != batches(1)
    assert batches(0) == mace_run_train_batches(23, Recipe(batch_size=5))(0)  # seeded
