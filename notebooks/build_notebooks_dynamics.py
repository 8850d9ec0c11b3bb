"""Generate notebook 10 (molecular dynamics through the ASE calculator); same conventions as build_notebooks.py.

python notebooks/build_notebooks_dynamics.py [--out DIR]
"""

import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from build_notebooks import cli, code, md  # noqa: E402

NB10 = [
    md(r"""
    # 10 — Molecular dynamics with a MACE potential

    A potential is used for its forces. With $F_i = -\partial E / \partial r_i$ exact (notebook 08), Newton's equations
    integrated by **velocity Verlet**

    $$v_{n+1/2} = v_n + \tfrac{\Delta t}{2m} F(x_n),\qquad x_{n+1} = x_n + \Delta t\, v_{n+1/2},\qquad
    v_{n+1} = v_{n+1/2} + \tfrac{\Delta t}{2m} F(x_{n+1})$$

    conserve the total energy $E_\mathrm{pot} + E_\mathrm{kin}$ up to an $O(\Delta t^2)$ fluctuation, with no drift
    (NVE). A thermostat (Langevin, NVT) instead holds the temperature. Both run here through
    `macetutor.calculator.MACECalculator`, an ordinary ASE calculator. The model has random weights: the dynamics is not
    chemistry, but energy conservation tests the forces all the same.
    """),
    code(r"""
    import importlib.util

    HAVE_ASE = importlib.util.find_spec("ase") is not None
    print("ase installed:", HAVE_ASE, "(the `verify` extra); without it the cells below only print a note")
    """),
    code(r"""
    import matplotlib.pyplot as plt
    import numpy as np

    import macetutor as mt

    config = mt.MACEConfig(
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
    model = mt.MACE.init(config, seed=4)
    positions = np.array([[0.0, 0.0, 0.0], [0.96, 0.0, 0.0], [-0.24, 0.93, 0.0]])
    numbers = [8, 1, 1]
    """),
    md(r"""
    ## A naive velocity Verlet, next to ASE's

    The loop below is the equation above, line by line, in ASE's units (Å, eV, amu, and ASE's time unit). It must give
    the same trajectory as ASE's `VelocityVerlet` driving the calculator.
    """),
    code(r"""
    if HAVE_ASE:
        from ase import Atoms, units
        from ase.md.verlet import VelocityVerlet

        from macetutor.calculator import MACECalculator

        def naive_verlet(x, v, masses, dt, n_steps):
            F = model.evaluate(x, numbers, forces=True).forces
            for _ in range(n_steps):
                v = v + 0.5 * dt * F / masses[:, None]
                x = x + dt * v
                F = model.evaluate(x, numbers, forces=True).forces
                v = v + 0.5 * dt * F / masses[:, None]
            return x, v

        atoms = Atoms(numbers=numbers, positions=positions)
        atoms.calc = MACECalculator(model, backend="numba")
        velocities = np.random.default_rng(0).normal(0.0, 0.02, (3, 3))
        velocities -= velocities.mean(axis=0)
        atoms.set_velocities(velocities)
        masses = atoms.get_masses()
        dt = 0.25 * units.fs
        x_naive, v_naive = naive_verlet(positions.copy(), velocities.copy(), masses, dt, 50)
        VelocityVerlet(atoms, timestep=dt).run(50)
        np.testing.assert_allclose(atoms.positions, x_naive, rtol=1e-10, atol=1e-12)
        np.testing.assert_allclose(atoms.get_velocities(), v_naive, rtol=1e-10, atol=1e-12)
        print("the naive loop and ASE agree after 50 steps")
    """),
    md(r"""
    ## NVE: the total energy is conserved
    """),
    code(r"""
    if HAVE_ASE:
        atoms = Atoms(numbers=numbers, positions=positions)
        atoms.calc = MACECalculator(model, backend="numba")
        atoms.set_velocities(velocities)
        record = {"t": [], "potential": [], "kinetic": []}

        def log():
            record["t"].append(len(record["t"]) * 0.25)
            record["potential"].append(atoms.get_potential_energy())
            record["kinetic"].append(atoms.get_kinetic_energy())

        dyn = VelocityVerlet(atoms, timestep=0.25 * units.fs)
        dyn.attach(log, interval=1)
        dyn.run(2000)
        total = np.array(record["potential"]) + np.array(record["kinetic"])
        print(
            f"2000 steps: total energy range {np.ptp(total):.2e} eV, drift {total[-1] - total[0]:.2e} eV, "
            f"kinetic energy range {np.ptp(record['kinetic']):.2e} eV"
        )
        assert np.ptp(total) < 0.05 * np.ptp(record["kinetic"])

        fig, ax = plt.subplots(figsize=(7, 3.5))
        ax.plot(record["t"], record["potential"], label="potential")
        ax.plot(record["t"], record["kinetic"], label="kinetic")
        ax.plot(record["t"], total, label="total", color="k")
        ax.set_xlabel("time (fs)")
        ax.set_ylabel("energy (eV)")
        ax.legend()
        ax.set_title("NVE: potential and kinetic energy exchange, the total stays put")
        plt.show()
    """),
    md(r"""
    ## NVT: a Langevin thermostat holds the temperature
    """),
    code(r"""
    if HAVE_ASE:
        from ase.md.langevin import Langevin

        atoms = Atoms(numbers=numbers, positions=positions)
        atoms.calc = MACECalculator(model, backend="numba")
        temperatures = []
        dyn = Langevin(atoms, timestep=0.25 * units.fs, temperature_K=300, friction=0.05, rng=np.random.default_rng(1))
        dyn.attach(lambda: temperatures.append(atoms.get_temperature()), interval=1)
        dyn.run(2000)
        print(
            f"mean temperature over the last 1000 steps: {np.mean(temperatures[1000:]):.0f} K (target 300 K;"
            " three atoms fluctuate a lot)"
        )
        fig, ax = plt.subplots(figsize=(7, 3))
        ax.plot(np.arange(len(temperatures)) * 0.25, temperatures, lw=0.5)
        ax.axhline(300, color="k", ls="--")
        ax.set_xlabel("time (fs)")
        ax.set_ylabel("T (K)")
        ax.set_title("NVT (Langevin, 300 K)")
        plt.show()
    """),
    md(r"""
    ## Question for the reader

    1. Halve the time step and rerun the NVE cell: by how much does the range of the total energy shrink? Which power of
       $\Delta t$ do you find, and why does velocity Verlet give that power?
    2. Multiply the forces by 1.01 inside `naive_verlet` (a "slightly wrong" force). What happens to the total energy
       now? Why is energy conservation such a sensitive test of a force implementation?
    """),
]

NOTEBOOKS = {"10_molecular_dynamics.ipynb": NB10}


if __name__ == "__main__":
    cli(NOTEBOOKS, __doc__)
