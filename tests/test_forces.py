"""Analytic derivatives: every block's vector-Jacobian product against finite differences (with the h^2 regime),
end-to-end forces and stress, and the physics they must obey (Newton's third law, smooth cutoff, energy conservation)."""

import numpy as np
import pytest
from test_model import CONFIG, NUMBERS, POSITIONS

import macetutor as mt
from macetutor import basis, product, radial
from macetutor.cg import generalized_clebsch_gordan
from macetutor.config import tensor_product_paths
from macetutor.gradcheck import check_vjp
from macetutor.irreps import spherical_harmonics_irreps
from macetutor.model import MACE, MACEConfig

FD_RTOL = 1e-8  # best error over the step sweep; a wrong derivative stays at O(1)


def assert_derivative(f, vjp, x, **kwargs):
    result = check_vjp(f, vjp, x, **kwargs)
    assert result.best_error < FD_RTOL, result.table()
    # a function that is linear (or quadratic) along the direction has no truncation error: round-off only
    assert result.shows_second_order() or result.best_error < 1e-12, result.table()
    return result


@pytest.fixture(scope="module")
def model():
    return MACE.init(CONFIG, seed=1)


# ---------------------------------------------------------------- block by block


def test_radial_blocks(rng):
    r = rng.uniform(0.5, 4.5, 20)
    assert_derivative(
        lambda r: radial.bessel_basis(r, 5.0, 8),
        lambda r, g: np.sum(g * radial.bessel_basis_derivative(r, 5.0, 8), 1),
        r,
    )
    assert_derivative(
        lambda r: radial.polynomial_envelope(r, 5.0, 5),
        lambda r, g: g * radial.polynomial_envelope_derivative(r, 5.0, 5),
        r,
    )
    weights = [rng.standard_normal((8, 16)), rng.standard_normal((16, 16)), rng.standard_normal((16, 12))]
    x = rng.standard_normal((10, 8))

    def vjp(x, g):
        _, pre = radial.radial_mlp(x, weights)
        return radial.radial_mlp_vjp(g, pre, weights)[0]

    assert_derivative(lambda x: radial.radial_mlp(x, weights)[0], vjp, x)


def test_linear_and_self_connection(rng):
    irreps = [(0, 1), (1, -1), (2, 1)]
    W = [rng.standard_normal((4, 3)) for _ in irreps]
    x = rng.standard_normal((5, 4, 9))
    assert_derivative(lambda x: basis.linear(x, irreps, W), lambda x, g: basis.linear_vjp(g, irreps, W), x)
    z = np.array([0, 1, 1, 0, 2])
    irreps_out = [(0, 1), (1, -1)]
    W_skip = [rng.standard_normal((4, 3, 6)) for _ in irreps_out]
    assert_derivative(
        lambda x: basis.self_connection(x, irreps, irreps_out, z, W_skip),
        lambda x, g: basis.self_connection_vjp(g, irreps, irreps_out, z, W_skip),
        x,
    )


def test_edge_tensor_product_and_atomic_basis(rng):
    irreps_h, irreps_Y = [(0, 1), (1, -1)], spherical_harmonics_irreps(2)
    target = spherical_harmonics_irreps(2)
    paths = tensor_product_paths(irreps_h, irreps_Y, target)
    couplings = [mt.clebsch_gordan(irreps_h[i1][0], irreps_Y[i2][0], irrep[0]) for i1, i2, irrep in paths]
    n_e, C = 7, 3
    h, Y, R = rng.standard_normal((n_e, C, 4)), rng.standard_normal((n_e, 9)), rng.standard_normal((n_e, len(paths), C))

    def phi(h, Y, R):
        return np.concatenate(
            [p.reshape(n_e, -1) for p in basis.edge_tensor_product(h, Y, R, irreps_h, irreps_Y, paths, couplings)], 1
        )

    def grads(h, Y, R, g):
        sizes = [C * (2 * irrep[0] + 1) for _, _, irrep in paths]
        blocks = np.split(g, np.cumsum(sizes)[:-1], axis=1)
        g_phi = [b.reshape(n_e, C, -1) for b in blocks]
        return basis.edge_tensor_product_vjp(g_phi, h, Y, R, irreps_h, irreps_Y, paths, couplings)

    assert_derivative(lambda h: phi(h, Y, R), lambda h, g: grads(h, Y, R, g)[0], h)
    assert_derivative(lambda Y: phi(h, Y, R), lambda Y, g: grads(h, Y, R, g)[1], Y)
    assert_derivative(lambda R: phi(h, Y, R), lambda R, g: grads(h, Y, R, g)[2], R)
    receivers = np.array([0, 0, 1, 2, 2, 2, 3])
    W = [rng.standard_normal((C, C)) for _ in paths]
    phis = basis.edge_tensor_product(h, Y, R, irreps_h, irreps_Y, paths, couplings)
    sizes = [p.size for p in phis]

    def A_of(flat):  # the neighbour sum, then the mixing of the paths
        parts = [p.reshape(q.shape) for p, q in zip(np.split(flat, np.cumsum(sizes)[:-1]), phis, strict=True)]
        return basis.mix_paths(basis.neighbor_sum(parts, receivers, 4), paths, target, W)

    def vjp(flat, g):
        grad_phi = basis.neighbor_sum_vjp(basis.mix_paths_vjp(g, paths, target, W), receivers)
        return np.concatenate([p.ravel() for p in grad_phi])

    assert_derivative(A_of, vjp, np.concatenate([p.ravel() for p in phis]))


@pytest.mark.parametrize("nu", [1, 2, 3])
@pytest.mark.parametrize("irrep_out", [(0, 1), (1, -1)])
def test_product_basis_and_message(nu, irrep_out, rng):
    irreps_A = spherical_harmonics_irreps(2)
    A = rng.standard_normal((3, 2, 9))
    U = generalized_clebsch_gordan(irreps_A, irrep_out, nu)
    assert_derivative(
        lambda A: product.product_basis(A, U),
        lambda A, g: product.product_basis_vjp(g, A, U),
        A,
    )
    B = {nu: product.product_basis(A, U)}
    W = {nu: rng.standard_normal((2, B[nu].shape[2], 2))}
    z = np.array([1, 0, 1])
    assert_derivative(lambda b: product.message({nu: b}, W, z), lambda b, g: product.message_vjp(g, W, z)[nu], B[nu])


# ---------------------------------------------------------------- end to end


def test_forces_against_finite_differences(model, capsys):
    def energy(x):
        return np.array(model.evaluate(x, NUMBERS).interaction_energy)

    def vjp(x, g):
        return -g * model.evaluate(x, NUMBERS, forces=True).forces

    result = assert_derivative(energy, vjp, POSITIONS, steps=np.logspace(-1, -7, 7))
    print("finite-difference sweep of the forces:\n" + result.table())


def test_stress_against_finite_differences_of_a_strained_cell(model):
    cell = np.array([[5.5, 0.0, 0.0], [0.8, 6.0, 0.0], [0.3, 0.5, 6.2]])
    positions = (POSITIONS + 0.5) @ np.eye(3)

    def energy(eps):
        strain = np.eye(3) + 0.5 * (eps + eps.T)  # symmetric strain
        return np.array(model.evaluate(positions @ strain.T, NUMBERS, cell @ strain.T, True).interaction_energy)

    result = model.evaluate(positions, NUMBERS, cell, True, stress=True)
    volume = abs(np.linalg.det(cell))
    # dE/d(eps) = V stress (ASE's sign); the symmetric parametrisation gives the symmetric part
    assert_derivative(energy, lambda eps, g: g * volume * result.stress, np.zeros((3, 3)))
    np.testing.assert_allclose(result.virial, -volume * result.stress, rtol=1e-14)


def test_stress_of_a_partly_periodic_cell_is_not_defined(model):
    """A slab (periodic in x and y only, the third cell row zero): no volume, so no stress -- not inf or NaN -- while
    the virial is finite and equals -sum_e g_e (x) v_e checked by straining in-plane; the calculator agrees."""
    cell = np.array([[5.5, 0.0, 0.0], [0.8, 6.0, 0.0], [0.0, 0.0, 0.0]])
    result = model.evaluate(POSITIONS, NUMBERS, cell, [True, True, False], forces=True, stress=True)
    assert result.stress is None
    assert result.virial.shape == (3, 3) and np.all(np.isfinite(result.virial))

    def energy(eps):  # an in-plane strain of the slab
        strain = np.eye(3) + np.pad(0.5 * (eps + eps.T), ((0, 1), (0, 1)))
        return np.array(
            model.evaluate(POSITIONS @ strain.T, NUMBERS, cell @ strain.T, [True, True, False]).interaction_energy
        )

    assert_derivative(energy, lambda eps, g: -g * result.virial[:2, :2], np.zeros((2, 2)))
    ase = pytest.importorskip("ase")
    from ase.calculators.calculator import PropertyNotImplementedError

    from macetutor.calculator import MACECalculator

    atoms = ase.Atoms(numbers=NUMBERS, positions=POSITIONS, cell=cell, pbc=[True, True, False])
    atoms.calc = MACECalculator(model, backend="numpy")
    with pytest.raises(PropertyNotImplementedError):
        atoms.get_stress()


def test_forces_of_an_isolated_system_sum_to_zero_and_rotate(model, rng):
    result = model.evaluate(POSITIONS, NUMBERS, forces=True)
    assert np.max(np.abs(result.forces.sum(axis=0))) < 1e-13 * np.max(np.abs(result.forces))
    R = mt.random_rotation(rng, improper=True)
    rotated = model.evaluate(POSITIONS @ R.T, NUMBERS, forces=True)
    np.testing.assert_allclose(rotated.forces, result.forces @ R.T, atol=1e-13 * np.max(np.abs(result.forces)))


def test_energy_and_forces_go_smoothly_to_zero_at_the_cutoff(model):
    """A dimer: the interaction energy and force approach the separated-atom values continuously at r_max."""
    r_max = CONFIG.r_max
    apart = model.evaluate(np.array([[0.0, 0, 0], [2 * r_max, 0, 0]]), [6, 8]).interaction_energy

    def dimer(r):
        res = model.evaluate(np.array([[0.0, 0, 0], [r, 0, 0]]), [6, 8], forces=True)
        return res.interaction_energy - apart, res.forces[1, 0]

    for delta in (1e-1, 1e-2, 1e-3):
        dE, F = dimer(r_max - delta)
        # the envelope is zero with its first two derivatives at r_max: E ~ delta^3, F ~ delta^2
        assert abs(dE) < 50 * delta**3 and abs(F) < 50 * delta**2
    dE, F = dimer(r_max)
    assert dE == 0.0 and F == 0.0  # exactly at the cutoff the pair is not a neighbour


def velocity_verlet(model, positions, numbers, masses, velocities, dt, n_steps):
    """NVE molecular dynamics; returns the total energy at every step (eV). Units: Å, eV, amu; dt in fs."""
    to_internal = 0.09822694788464063  # 1 fs in units of Å sqrt(amu / eV)
    dt = dt * to_internal
    x, v = positions.copy(), velocities.copy()
    result = model.evaluate(x, numbers, forces=True)
    energies = []
    for _ in range(n_steps):
        v = v + 0.5 * dt * result.forces / masses[:, None]
        x = x + dt * v
        result = model.evaluate(x, numbers, forces=True)
        v = v + 0.5 * dt * result.forces / masses[:, None]
        energies.append(result.interaction_energy + 0.5 * np.sum(masses[:, None] * v**2))
    return np.array(energies)


SMALL = MACEConfig(
    elements=(1, 8),
    hidden_irreps="4x0e+4x1o",
    max_ell=2,
    correlation=(2, 2),
    r_max=3.0,
    num_bessel=4,
    radial_mlp=(8,),
    mlp_width=4,
    avg_num_neighbors=2.0,
    atomic_energies=(0.0, 0.0),
    scale=0.3,
)


@pytest.mark.slow
def test_nve_molecular_dynamics_conserves_energy(capsys):
    """10^4 velocity-Verlet steps of a water-like molecule: the energy drift must stay far below what a force
    error of 1% produces (measured in the same test)."""
    model = MACE.init(SMALL, seed=4)
    positions = np.array([[0.0, 0.0, 0.0], [0.96, 0.0, 0.0], [-0.24, 0.93, 0.0]])
    numbers, masses = np.array([8, 1, 1]), np.array([15.999, 1.008, 1.008])
    velocities = np.random.default_rng(0).normal(0, 0.005, (3, 3))  # Å/(internal time)
    velocities -= velocities.mean(axis=0)
    E = velocity_verlet(model, positions, numbers, masses, velocities, dt=0.25, n_steps=10_000)
    drift = abs(E[-1] - E[0])
    fluctuation = np.std(E)
    print(f"NVE, 10^4 steps of 0.25 fs: drift {drift:.2e} eV, std {fluctuation:.2e} eV, range {np.ptp(E):.2e} eV")

    class WrongForces:  # the same model with every force 1% too large
        def evaluate(self, x, z, forces=True):
            res = model.evaluate(x, z, forces=True)
            res.forces = 1.01 * res.forces
            return res

    E_wrong = velocity_verlet(WrongForces(), positions, numbers, masses, velocities, dt=0.25, n_steps=2_000)
    drift_wrong = np.max(np.abs(E_wrong - E_wrong[0]))
    print(f"with 1% wrong forces, 2000 steps: max energy deviation {drift_wrong:.2e} eV")
    assert drift < 1e-5  # eV, over 10^4 steps (measured: ~6e-7)
    assert drift_wrong > 100 * drift  # the bound would catch a force that is 1% off
