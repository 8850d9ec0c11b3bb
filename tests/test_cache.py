"""The on-disk coefficient cache: location, keys, atomic files, and recovery from corrupt files."""

import numpy as np
import pytest

import macetutor as mt
from macetutor import _cache


@pytest.fixture
def fresh_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("MACETUTOR_CACHE_DIR", str(tmp_path))
    _cache.clear_memory_cache()
    yield tmp_path / f"v{mt.__version__}"
    _cache.clear_memory_cache()


def test_cache_location_is_keyed_by_version_and_arguments(fresh_cache):
    C = mt.clebsch_gordan(2, 1, 3)
    path = fresh_cache / "clebsch_gordan-2-1-3.npy"
    assert _cache.cache_dir() == fresh_cache
    assert path.exists()
    np.testing.assert_array_equal(np.load(path), C)
    mt.spherical_harmonics(4, np.ones(3))
    assert (fresh_cache / "sh_recurrence-4.npy").exists()


def test_default_location_follows_xdg(monkeypatch, tmp_path):
    monkeypatch.delenv("MACETUTOR_CACHE_DIR", raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    assert _cache.cache_dir() == tmp_path / "macetutor" / f"v{mt.__version__}"


def test_a_warm_read_returns_the_cold_value(fresh_cache):
    cold = np.array(mt.clebsch_gordan(3, 3, 2))
    _cache.clear_memory_cache()
    warm = mt.clebsch_gordan(3, 3, 2)  # now read from disk
    np.testing.assert_array_equal(warm, cold)
    assert not warm.flags.writeable


@pytest.mark.parametrize(
    "corrupt",
    [b"", b"\x93NUMPY garbage", "truncate", "wrong shape", "nan"],
    ids=["empty", "garbage", "truncated", "wrong-shape", "nan"],
)
def test_corrupt_cache_files_are_recomputed_with_a_warning(fresh_cache, corrupt):
    good = np.array(mt.clebsch_gordan(2, 2, 2))
    path = fresh_cache / "clebsch_gordan-2-2-2.npy"
    if corrupt == "truncate":
        path.write_bytes(path.read_bytes()[:-40])
    elif corrupt == "wrong shape":
        np.save(path, np.zeros((3, 3)))
    elif corrupt == "nan":
        np.save(path, np.full(good.shape, np.nan))
    else:
        path.write_bytes(corrupt)
    _cache.clear_memory_cache()
    with pytest.warns(UserWarning, match="unreadable"):
        again = mt.clebsch_gordan(2, 2, 2)
    np.testing.assert_array_equal(again, good)
    np.testing.assert_array_equal(np.load(path), good)  # and the file was repaired


def test_unwritable_cache_directory_still_gives_correct_values(tmp_path, monkeypatch):
    blocker = tmp_path / "a-file"
    blocker.write_text("not a directory")
    monkeypatch.setenv("MACETUTOR_CACHE_DIR", str(blocker))
    _cache.clear_memory_cache()
    try:
        C = mt.clebsch_gordan(1, 1, 0)
        np.testing.assert_allclose(np.abs(C[:, :, 0]), np.eye(3) / np.sqrt(3), atol=1e-15)
    finally:
        _cache.clear_memory_cache()
