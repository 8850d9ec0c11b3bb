"""macetutor: MACE (Batatia et al., NeurIPS 2022, arXiv:2206.07697) as readable, exact NumPy.

The public names below are a promise to users; see README.md for a tour and
docs/conventions.md for every convention (harmonic order, Clebsch-Gordan phases, rotations).
"""

from macetutor import exercises, gradcheck, irreps, reference
from macetutor._version import __version__
from macetutor.cg import clebsch_gordan, clebsch_gordan_complex, generalized_clebsch_gordan
from macetutor.model import MACE, Evaluation, MACEConfig
from macetutor.neighbors import neighbor_list
from macetutor.so3 import (
    harmonic_polynomials,
    random_rotation,
    real_from_complex,
    rotation_matrix,
    spherical_harmonics,
    spherical_harmonics_with_gradient,
    wigner_D,
    wigner_D_complex,
)

__all__ = [
    "__version__",
    "MACE",
    "MACEConfig",
    "Evaluation",
    "exercises",
    "generalized_clebsch_gordan",
    "gradcheck",
    "irreps",
    "neighbor_list",
    "reference",
    "clebsch_gordan",
    "clebsch_gordan_complex",
    "harmonic_polynomials",
    "random_rotation",
    "real_from_complex",
    "rotation_matrix",
    "spherical_harmonics",
    "spherical_harmonics_with_gradient",
    "wigner_D",
    "wigner_D_complex",
]
