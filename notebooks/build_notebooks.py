"""Generate the tutorial notebooks 01-03 from the cell sources written below.

The notebooks are build products: edit the cells here, then run

    python notebooks/build_notebooks.py [--out DIR]     (default DIR: notebooks/)

which rewrites ``01_spherical_harmonics.ipynb``, ``02_wigner_D.ipynb`` and ``03_clebsch_gordan.ipynb``
unexecuted (no outputs, fixed cell ids, so the files are byte-for-byte reproducible).
``tests/test_notebooks_and_figures.py`` checks that the committed notebooks match this script.

Each notebook follows the same plan: the equation, a naive implementation that reads like it,
a check against the library (``import macetutor as mt``), a picture, and a question for the reader.
"""

import argparse
import textwrap
from pathlib import Path

import nbformat
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

HERE = Path(__file__).resolve().parent


def md(text: str) -> tuple[str, str]:
    return "markdown", textwrap.dedent(text).strip("\n")


def code(text: str) -> tuple[str, str]:
    return "code", textwrap.dedent(text).strip("\n")


# --------------------------------------------------------------------------------------------
# 01: real spherical harmonics
# --------------------------------------------------------------------------------------------

NB01 = [
    md(r"""
    # 01 — Real spherical harmonics

    MACE describes the direction of every bond $\hat r_{ij}$ by the real spherical harmonics
    $Y_{lm}(\hat r_{ij})$. This notebook builds them naively from the textbook definition, checks
    them against `macetutor.spherical_harmonics`, and looks at them.

    **The textbook.** The complex harmonics (Condon–Shortley phase), with $\theta$ the polar and
    $\varphi$ the azimuthal angle, are

    $$Y_l^m(\theta, \varphi) = \sqrt{\frac{2l+1}{4\pi}\frac{(l-m)!}{(l+m)!}}\; P_l^m(\cos\theta)\, e^{i m \varphi},$$

    and the real ones (Wikipedia, *Spherical harmonics*, real form) are

    $$
    Y_{lm} = \begin{cases}
    \dfrac{i}{\sqrt 2}\left(Y_l^{m} - (-1)^m\, Y_l^{-m}\right) & m < 0,\\[4pt]
    Y_l^0 & m = 0,\\[4pt]
    \dfrac{1}{\sqrt 2}\left(Y_l^{-m} + (-1)^m\, Y_l^{m}\right) & m > 0.
    \end{cases}
    $$
    """),
    md(r"""
    **macetutor's (= e3nn's = MACE's) conventions.**

    * *Axes:* the textbook formula is evaluated at the cyclically permuted point
      $(x', y', z') = (z, x, y)$ (`mt.so3.PERMUTATION @ x`), so the polar axis is $y$:
      $\cos\theta = y/r$, $\varphi = \operatorname{atan2}(x, z)$.
    * *Order:* for each $l$ the $2l+1$ components are $m = -l, \dots, l$; with several degrees
      concatenated, $(l, m)$ sits at index $l^2 + l + m$.
    * *Normalisation* `"component"` (MACE's): $\sum_m Y_{lm}(\hat x)^2 = 2l+1$ on the unit sphere,
      i.e. $\sqrt{4\pi}$ times the textbook (integral-normalised) $Y_{lm}$.

    With these choices the $l = 1$ block is $\sqrt 3\,(x, y, z)/r$.
    """),
    code(r"""
    import matplotlib.pyplot as plt
    import numpy as np
    from scipy.special import sph_harm_y

    import macetutor as mt
    """),
    md(r"""
    ## A naive implementation

    `scipy.special.sph_harm_y(l, m, theta, phi)` is the complex $Y_l^m$ above (`theta` polar, `phi`
    azimuthal). We turn it real with the formula, literally, and evaluate it at the permuted point.
    """),
    code(r"""
    def textbook_real_Y(l, m, theta, phi):
        # Wikipedia's real form of the complex (Condon-Shortley) harmonics
        if m < 0:
            value = 1j / np.sqrt(2) * (sph_harm_y(l, m, theta, phi) - (-1) ** m * sph_harm_y(l, -m, theta, phi))
        elif m == 0:
            value = sph_harm_y(l, 0, theta, phi)
        else:
            value = 1 / np.sqrt(2) * (sph_harm_y(l, -m, theta, phi) + (-1) ** m * sph_harm_y(l, m, theta, phi))
        assert np.allclose(value.imag, 0.0)
        return value.real


    def naive_spherical_harmonics(l, x):
        # e3nn's Y_lm(x): the textbook real Y_lm at (x', y', z') = (z, x, y), component-normalised
        xp, yp, zp = x[:, 2], x[:, 0], x[:, 1]
        r = np.sqrt(xp**2 + yp**2 + zp**2)
        theta = np.arccos(zp / r)  # polar angle, from the y axis
        phi = np.arctan2(yp, xp)  # azimuth
        columns = [np.sqrt(4 * np.pi) * textbook_real_Y(l, m, theta, phi) for m in range(-l, l + 1)]
        return np.stack(columns, axis=-1)  # (n, 2l+1)
    """),
    md(r"""
    ## Check against the library

    `mt.spherical_harmonics` uses an exact recurrence on the Cartesian coordinates instead of angles
    (no `arccos`, no division by $\sin\theta$), but it must be the same function.
    """),
    code(r"""
    rng = np.random.default_rng(0)
    x = rng.standard_normal((1000, 3))

    for l in range(9):
        np.testing.assert_allclose(naive_spherical_harmonics(l, x), mt.spherical_harmonics(l, x), atol=1e-11)

    # several degrees at once: (l, m) sits at index l*l + l + m
    Y = mt.spherical_harmonics([0, 1, 2, 3], x)
    l, m = 3, -2
    np.testing.assert_allclose(Y[:, l * l + l + m], naive_spherical_harmonics(l, x)[:, m + l], atol=1e-11)
    print("naive == library for l = 0..8; shape of Y for l = 0..3:", Y.shape)
    """),
    md(r"""
    ## Two conventions we can see directly

    The $l = 1$ block is $\sqrt3\,\hat x$, and component normalisation makes $\sum_m Y_{lm}^2 = 2l+1$.
    The library also gives the exact polynomials $r^l Y_{lm}$ (sympy).
    """),
    code(r"""
    x_hat = x / np.linalg.norm(x, axis=1, keepdims=True)
    np.testing.assert_allclose(mt.spherical_harmonics(1, x), np.sqrt(3) * x_hat, atol=1e-14)
    for l in range(9):
        np.testing.assert_allclose((mt.spherical_harmonics(l, x) ** 2).sum(axis=1), 2 * l + 1, rtol=1e-13)

    mt.harmonic_polynomials(2)
    """),
    md(r"""
    ## Picture: $|Y_{lm}|$ as a surface

    The classic picture: the surface $r = |Y_{lm}(\hat x)|$, coloured by the sign of $Y_{lm}$
    (red positive, blue negative). The vertical axis of each plot is $y$, the polar axis, so the
    $m = 0$ harmonics are the ones symmetric about the vertical.
    """),
    code(r"""
    theta, phi = np.meshgrid(np.linspace(0, np.pi, 50), np.linspace(0, 2 * np.pi, 50), indexing="ij")
    directions = np.stack([np.sin(theta) * np.sin(phi), np.cos(theta), np.sin(theta) * np.cos(phi)], axis=-1)
    Y = mt.spherical_harmonics([0, 1, 2, 3], directions)  # (50, 50, 16)

    fig = plt.figure(figsize=(14, 8))
    for l in range(4):
        for m in range(-l, l + 1):
            values = Y[..., l * l + l + m]
            surface = np.abs(values)[..., None] * directions  # (50, 50, 3)
            ax = fig.add_subplot(4, 7, 7 * l + m + 4, projection="3d")
            colours = plt.cm.RdBu_r(0.5 + 0.5 * np.sign(values))
            ax.plot_surface(*surface.transpose(2, 0, 1), facecolors=colours, linewidth=0, shade=True)
            lim = np.abs(values).max()
            ax.set(xlim=(-lim, lim), ylim=(-lim, lim), zlim=(-lim, lim))
            ax.view_init(elev=20, azim=35, vertical_axis="y")
            ax.set_axis_off()
            ax.set_title(f"l={l}, m={m}", fontsize=9)
    fig.suptitle("|Y_lm| coloured by sign (red +, blue -); vertical axis: y (e3nn's polar axis)")
    plt.show()
    """),
    md(r"""
    ## Question for the reader

    1. Why is the $l = 1$ block proportional to $(x, y, z)$, in this order? Write $\sqrt{4\pi}\,Y_{1m}$
       of the textbook in Cartesian coordinates $(x', y', z')$ and substitute $(x', y', z') = (z, x, y)$.
    2. What would change with the textbook axis order (evaluate at $(x, y, z)$ itself)? Which component
       of the $l = 1$ block would then be $\sqrt3\, z$, and where would the $m = 0$ harmonics point?
       Does anything change for the *invariants* that MACE eventually computes?

    *Exercise.* Check numerically the parity $Y_{lm}(-x) = (-1)^l\, Y_{lm}(x)$ and the addition theorem
    $\sum_m Y_{lm}(\hat x) Y_{lm}(\hat y) = (2l+1)\, P_l(\hat x \cdot \hat y)$ (component normalisation;
    `scipy.special.eval_legendre`).
    """),
]


# --------------------------------------------------------------------------------------------
# 02: Wigner D-matrices
# --------------------------------------------------------------------------------------------

NB02 = [
    md(r"""
    # 02 — Wigner D-matrices

    Rotating the argument of a degree-$l$ harmonic mixes its $2l+1$ components linearly:

    $$Y_l(R x) = D^l(R)\, Y_l(x), \qquad
      D^l_{mm'}(R) = \int_{S^2} Y_{lm}(R x)\, Y_{lm'}(x)\, \mathrm{d}x \quad\text{(integral-normalised } Y\text{)}.$$

    `mt.wigner_D(l, R)` computes this integral with a quadrature that is exact for these polynomials.
    In array form (points as rows): `spherical_harmonics(l, x @ R.T) == spherical_harmonics(l, x) @ wigner_D(l, R).T`.
    Same conventions as notebook 01: e3nn order $m = -l..l$, polar axis $y$ (the textbook
    $(x', y', z') = (z, x, y)$), index $l^2 + l + m$; $D$ does not depend on the normalisation.
    """),
    md(r"""
    **The textbook (complex) D.** For z-y-z Euler angles, $R = R_z(\alpha) R_y(\beta) R_z(\gamma)$
    (`mt.rotation_matrix`), and the Condon–Shortley phase (Sakurai §3.5, Wigner's formula):

    $$D^j_{m'm}(\alpha,\beta,\gamma) = e^{-i m'\alpha}\, d^j_{m'm}(\beta)\, e^{-i m\gamma},$$

    $$d^j_{m'm}(\beta) = \sum_s \frac{(-1)^{m'-m+s}\sqrt{(j+m')!\,(j-m')!\,(j+m)!\,(j-m)!}}
      {(j+m-s)!\; s!\; (m'-m+s)!\; (j-m'-s)!}
      \left(\cos\tfrac\beta2\right)^{2j+m-m'-2s} \left(\sin\tfrac\beta2\right)^{m'-m+2s}.$$

    It acts on the complex harmonics as $Y^{\mathbb C}(Rx) = \overline{D}\, Y^{\mathbb C}(x)$, so in the
    textbook real basis $D_{\text{real}} = Q\, \overline{D}\, Q^\dagger$ with $Q$ = `mt.real_from_complex(l)`.
    """),
    code(r"""
    from math import factorial

    import matplotlib.pyplot as plt
    import numpy as np

    import macetutor as mt

    rng = np.random.default_rng(1)
    """),
    md(r"""
    ## Naive D, part 1: least squares

    $Y(R x_k) = D\, Y(x_k)$ at many random points $x_k$ is an over-determined linear system for $D$.
    """),
    code(r"""
    def naive_wigner_D_lstsq(l, R, n_points=300):
        x = rng.standard_normal((n_points, 3))
        A = mt.spherical_harmonics(l, x)  # (n, 2l+1): rows Y(x_k)
        B = mt.spherical_harmonics(l, x @ R.T)  # (n, 2l+1): rows Y(R x_k)
        D_transposed, *_ = np.linalg.lstsq(A, B, rcond=None)  # A @ D.T = B
        return D_transposed.T


    for improper in (False, True):
        R = mt.random_rotation(rng, improper=improper)
        for l in range(9):
            np.testing.assert_allclose(naive_wigner_D_lstsq(l, R), mt.wigner_D(l, R), atol=1e-11)
    print("least squares == library, l = 0..8, proper and improper R")
    """),
    md(r"""
    ## Naive D, part 2: Wigner's small-d formula

    The sum over $s$ runs over every integer for which all the factorials have non-negative arguments.
    """),
    code(r"""
    def small_d(j, beta):
        d = np.zeros((2 * j + 1, 2 * j + 1))
        for mp in range(-j, j + 1):
            for m in range(-j, j + 1):
                root = np.sqrt(factorial(j + mp) * factorial(j - mp) * factorial(j + m) * factorial(j - m))
                for s in range(max(0, m - mp), min(j + m, j - mp) + 1):
                    denominator = factorial(j + m - s) * factorial(s) * factorial(mp - m + s) * factorial(j - mp - s)
                    sign = (-1) ** (mp - m + s)
                    cos_power = np.cos(beta / 2) ** (2 * j + m - mp - 2 * s)
                    sin_power = np.sin(beta / 2) ** (mp - m + 2 * s)
                    d[mp + j, m + j] += sign * root / denominator * cos_power * sin_power
        return d


    def naive_wigner_D_complex(j, alpha, beta, gamma):
        m = np.arange(-j, j + 1)
        return np.exp(-1j * m * alpha)[:, None] * small_d(j, beta) * np.exp(-1j * m * gamma)[None, :]


    alpha, beta, gamma = 0.4, 1.3, -2.1
    for j in range(6):
        naive = naive_wigner_D_complex(j, alpha, beta, gamma)
        np.testing.assert_allclose(naive, mt.wigner_D_complex(j, alpha, beta, gamma), atol=1e-12)
    print("d^1(beta) =\n", small_d(1, beta).round(4))
    """),
    md(r"""
    ## From the complex textbook D to macetutor's real D

    Two steps: complex $\to$ real with $Q$, then textbook axes $\to$ e3nn axes. Since
    $Y(x) = Y^{\text{textbook}}(P x)$ with $P$ = `mt.so3.PERMUTATION`,
    $Y(Rx) = Y^{\text{textbook}}(P R P^{\mathsf T}\, P x)$: the textbook rotation is $P R P^{\mathsf T}$.
    """),
    code(r"""
    P = mt.so3.PERMUTATION
    R = P.T @ mt.rotation_matrix(alpha, beta, gamma) @ P  # textbook rotation P R P^T = R_z R_y R_z
    for l in range(6):
        Q = mt.real_from_complex(l)
        D_real = Q @ naive_wigner_D_complex(l, alpha, beta, gamma).conj() @ Q.conj().T
        np.testing.assert_allclose(D_real.imag, 0.0, atol=1e-12)
        np.testing.assert_allclose(D_real.real, mt.wigner_D(l, R), atol=1e-12)
    print("Q conj(D_complex) Q^dagger == wigner_D(l, P^T R_zyz P) for l = 0..5")
    """),
    md(r"""
    ## Properties

    $D^1(R) = R$ (the $l=1$ block is $\propto (x, y, z)$), $D$ is orthogonal, a homomorphism
    $D(R_1R_2) = D(R_1)D(R_2)$, and an inversion contributes the parity: $D(-R) = (-1)^l D(R)$.
    """),
    code(r"""
    R1, R2 = mt.random_rotation(rng), mt.random_rotation(rng)
    np.testing.assert_allclose(mt.wigner_D(1, R1), R1, atol=1e-14)
    for l in range(7):
        D1, D2 = mt.wigner_D(l, R1), mt.wigner_D(l, R2)
        np.testing.assert_allclose(D1.T @ D1, np.eye(2 * l + 1), atol=1e-13)
        np.testing.assert_allclose(mt.wigner_D(l, R1 @ R2), D1 @ D2, atol=1e-13)
        np.testing.assert_allclose(mt.wigner_D(l, -R1), (-1) ** l * D1, atol=1e-13)
    """),
    md(r"""
    ## Picture: structure of $D$, and the equivariance residual

    A rotation about the polar axis ($y$ here) multiplies the textbook $Y_l^{m}$ by a phase $e^{\mp im t}$,
    so in the real basis it only mixes $m$ with $-m$: an "X" inside each block. A generic rotation
    gives dense blocks. On the right: how exactly $Y(Rx) = D(R)Y(x)$ holds, up to $l = 12$, for the
    library (exact quadrature) and for the naive least-squares $D$.
    """),
    code(r"""
    t = 0.7
    R_y = np.array([[np.cos(t), 0, np.sin(t)], [0, 1, 0], [-np.sin(t), 0, np.cos(t)]])
    R_generic = mt.random_rotation(rng)
    ls = [0, 1, 2, 3, 4]

    x = rng.standard_normal((500, 3))
    degrees = np.arange(13)
    residual = {"library": [], "least squares": []}
    for l in degrees:
        Y_rotated = mt.spherical_harmonics(l, x @ R_generic.T)
        for name, D in (("library", mt.wigner_D(l, R_generic)), ("least squares", naive_wigner_D_lstsq(l, R_generic))):
            error = np.abs(Y_rotated - mt.spherical_harmonics(l, x) @ D.T).max() / np.abs(Y_rotated).max()
            residual[name].append(max(error, 1e-17))

    fig, axes = plt.subplots(1, 3, figsize=(15, 4.5), layout="constrained")
    for ax, R, title in ((axes[0], R_y, f"rotation by {t} about y"), (axes[1], R_generic, "generic rotation")):
        D = mt.wigner_D(ls, R)
        image = ax.imshow(D, cmap="RdBu_r", vmin=-1, vmax=1)
        ax.set_title(f"{title}: {np.sum(np.abs(D) > 1e-12)} non-zeros of {D.size}")
        ax.set_xticks([l * l + l for l in ls], ls)
        ax.set_yticks([l * l + l for l in ls], ls)
        ax.set_xlabel("block l (tick at m' = 0)")
    fig.colorbar(image, ax=axes[:2], shrink=0.8)
    for name, values in residual.items():
        axes[2].semilogy(degrees, values, "o-", label=name)
    axes[2].set(xlabel="l", ylabel="max |Y(Rx) - D Y(x)| / max |Y|", title="equivariance residual")
    axes[2].legend()
    plt.show()
    """),
    md(r"""
    ## Question for the reader

    Why is $D(-R) = (-1)^l D(R)$? (Hint: $-R$ is the rotation $R$ followed by the inversion
    $x \mapsto -x$, and $Y_{lm}$ is a homogeneous polynomial of degree $l$.) What does this imply for
    $D^l(-I)$, and why can no rotation (det $+1$) produce it for odd $l$?

    *Exercise.* For the rotation about $y$ above, read off the $2 \times 2$ block that couples $m$ and $-m$
    from the picture and check that it is $\begin{pmatrix}\cos mt & \pm\sin mt\\ \mp\sin mt & \cos mt\end{pmatrix}$.
    Which sign goes where, and why?
    """),
]


# --------------------------------------------------------------------------------------------
# 03: Clebsch-Gordan coefficients
# --------------------------------------------------------------------------------------------

NB03 = [
    md(r"""
    # 03 — Clebsch–Gordan coefficients

    MACE builds higher-order features by multiplying equivariant features and projecting the product
    back onto a single degree. The projection is the Clebsch–Gordan (CG) coefficient. For the complex
    (Condon–Shortley) states

    $$|l_3 m_3\rangle = \sum_{m_1 m_2} \langle l_1 m_1\, l_2 m_2 | l_3 m_3\rangle\, |l_1 m_1\rangle |l_2 m_2\rangle,$$

    non-zero only if $m_3 = m_1 + m_2$ and $|l_1 - l_2| \le l_3 \le l_1 + l_2$.

    **Real basis.** With $Q_l$ = `mt.real_from_complex(l)` ($Y_{\text{real}} = Q\, Y_{\mathbb C}$), the
    real coefficients of `mt.clebsch_gordan(l1, l2, l3)` are

    $$C[a, b, c] = i^{\,l_1+l_2-l_3} \sum_{m_1, m_2, m_3} Q_3[c, m_3]\,
      \langle l_1 m_1\, l_2 m_2 | l_3 m_3\rangle\, \overline{Q_1[a, m_1]}\, \overline{Q_2[b, m_2]},$$

    where $a, b, c$ index $m = -l..l$ in the e3nn order of notebooks 01–02. The phase $i^{\,l_1+l_2-l_3}$
    makes $C$ real. The defining property (equivariance):

    $$\sum_{ab} C[a,b,c]\, Y_{l_1 a}(Rx)\, Y_{l_2 b}(Ry)
      = \sum_{c'} D^{l_3}_{cc'}(R) \sum_{ab} C[a,b,c']\, Y_{l_1 a}(x)\, Y_{l_2 b}(y).$$
    """),
    code(r"""
    import matplotlib.pyplot as plt
    import numpy as np
    from sympy.physics.wigner import clebsch_gordan as sympy_cg

    import macetutor as mt
    """),
    md(r"""
    ## A naive implementation: the formula as loops

    `sympy.physics.wigner.clebsch_gordan(l1, l2, l3, m1, m2, m3)` is the exact complex coefficient.
    """),
    code(r"""
    def naive_real_cg(l1, l2, l3, phase=True):
        Q1, Q2, Q3 = mt.real_from_complex(l1), mt.real_from_complex(l2), mt.real_from_complex(l3)
        C = np.zeros((2 * l1 + 1, 2 * l2 + 1, 2 * l3 + 1), dtype=complex)
        for m1 in range(-l1, l1 + 1):
            for m2 in range(-l2, l2 + 1):
                for m3 in range(-l3, l3 + 1):
                    cg = float(sympy_cg(l1, l2, l3, m1, m2, m3))  # zero unless m3 = m1 + m2
                    # C[a, b, c] += Q3[c, m3] <l1 m1 l2 m2 | l3 m3> conj(Q1[a, m1]) conj(Q2[b, m2])
                    q1, q2, q3 = Q1[:, m1 + l1].conj(), Q2[:, m2 + l2].conj(), Q3[:, m3 + l3]
                    C += cg * q1[:, None, None] * q2[None, :, None] * q3[None, None, :]
        return 1j ** (l1 + l2 - l3) * C if phase else C
    """),
    code(r"""
    triples = [(l1, l2, l3) for l1 in range(4) for l2 in range(4) for l3 in range(abs(l1 - l2), l1 + l2 + 1)]
    for l1, l2, l3 in triples:
        C = naive_real_cg(l1, l2, l3)
        np.testing.assert_allclose(C.imag, 0.0, atol=1e-14)
        np.testing.assert_allclose(C.real, mt.clebsch_gordan(l1, l2, l3), atol=1e-14)
    print(f"naive == library for all {len(triples)} triples with l1, l2 <= 3")

    # without the phase i^(l1+l2-l3), an odd l1+l2+l3 gives a purely imaginary array
    C_no_phase = naive_real_cg(1, 1, 1, phase=False)
    real_part, imaginary_part = np.abs(C_no_phase.real).max(), np.abs(C_no_phase.imag).max()
    print(f"(1,1,1) without the phase: max |Re| = {real_part:.3g}, max |Im| = {imaginary_part:.3g}")
    """),
    md(r"""
    ## Check the defining property

    Couple $Y_{l_1}(x)$ and $Y_{l_2}(y)$ into degree $l_3$, rotate both points, compare with $D^{l_3}$.
    For an improper $R$ (a rotation times the inversion) the product has parity $(-1)^{l_1+l_2}$ while
    $D^{l_3}(R)$ carries $(-1)^{l_3}$, hence the extra sign $(-1)^{l_1+l_2+l_3}$.
    """),
    code(r"""
    rng = np.random.default_rng(2)
    x, y = rng.standard_normal((2, 100, 3))


    def couple(C, l1, l2, x, y):
        return np.einsum("abc,na,nb->nc", C, mt.spherical_harmonics(l1, x), mt.spherical_harmonics(l2, y))


    for improper in (False, True):
        R = mt.random_rotation(rng, improper=improper)
        for l1, l2, l3 in triples:
            C = mt.clebsch_gordan(l1, l2, l3)
            sign = (-1) ** (l1 + l2 + l3) if improper else 1
            expected = sign * couple(C, l1, l2, x, y) @ mt.wigner_D(l3, R).T
            np.testing.assert_allclose(couple(C, l1, l2, x @ R.T, y @ R.T), expected, atol=1e-12)
    print("equivariant for every triple, proper and improper R")
    """),
    md(r"""
    ## $1 \otimes 1 \to 1$ is the cross product

    The $l = 1$ block is $\sqrt3\,\hat x$ (notebook 01), so $C(1,1,1)$ should be a multiple of the
    Levi-Civita symbol $\varepsilon_{abc}$.
    """),
    code(r"""
    epsilon = np.zeros((3, 3, 3))
    for a, b, c in [(0, 1, 2), (1, 2, 0), (2, 0, 1)]:
        epsilon[a, b, c], epsilon[b, a, c] = 1.0, -1.0

    C111 = mt.clebsch_gordan(1, 1, 1)
    scale = C111[0, 1, 2] / epsilon[0, 1, 2]
    np.testing.assert_allclose(C111, scale * epsilon, atol=1e-15)
    u, v = rng.standard_normal((2, 3))
    np.testing.assert_allclose(np.einsum("abc,a,b->c", C111, u, v), scale * np.cross(u, v), atol=1e-14)
    print(f"C(1,1,1) = {scale:+.6f} * epsilon   (1/sqrt(2) = {1 / np.sqrt(2):.6f})")
    """),
    md(r"""
    ## Picture: sparsity

    In the complex basis only $m_3 = m_1 + m_2$ survives. In the real basis $\cos$ and $\sin$ of $m\varphi$
    replace $e^{im\varphi}$, and the product rules of $\cos$/$\sin$ allow
    $|m_3| \in \{|m_1| + |m_2|,\ \big||m_1| - |m_2|\big|\}$: a little denser, but still sparse.
    """),
    code(r"""
    shown = [(1, 1, 1), (1, 1, 2), (2, 2, 2), (2, 2, 4)]
    widths = [(2 * l1 + 1) * (2 * l2 + 1) for l1, l2, _ in shown]
    fig, axes = plt.subplots(1, len(shown), figsize=(15, 3), layout="constrained", width_ratios=widths)
    for ax, (l1, l2, l3) in zip(axes, shown, strict=True):
        C = mt.clebsch_gordan(l1, l2, l3)
        ax.spy(C.reshape(-1, 2 * l3 + 1).T, markersize=4)
        ax.set_title(f"({l1},{l2},{l3}): {np.count_nonzero(C)} of {C.size}")
        ax.set_xlabel("(a, b) flattened")
        ax.set_ylabel("c")
    plt.show()

    # the count of non-zeros, and the real-basis selection rule
    counts = []
    for l1, l2, l3 in triples:
        C = mt.clebsch_gordan(l1, l2, l3)
        for a, b, c in zip(*np.nonzero(C), strict=True):
            m1, m2, m3 = a - l1, b - l2, c - l3
            assert abs(m3) in (abs(m1) + abs(m2), abs(abs(m1) - abs(m2)))
        counts.append(np.count_nonzero(C) / C.size)
    print(f"selection rule holds; non-zero fraction: min {min(counts):.3f}, max {max(counts):.3f}")

    fig, ax = plt.subplots(figsize=(12, 3))
    ax.bar(range(len(triples)), counts)
    ax.set_xticks(range(len(triples)), [f"{t[0]}{t[1]}{t[2]}" for t in triples], rotation=90, fontsize=7)
    ax.set(xlabel="triple l1 l2 l3", ylabel="fraction of non-zero C")
    plt.show()
    """),
    md(r"""
    ## Question for the reader

    1. Why is the real CG for $(1, 1, 1)$ the cross product? (Hint: the only $3 \times 3 \times 3$ array
       invariant under all rotations, up to a factor, is $\varepsilon_{abc}$; and why is the factor
       $\pm 1/\sqrt2$? Use $\sum_{ab} C[a,b,c]^2 = 1$.)
    2. Why is the coupling zero when $|m_3| \notin \{|m_1| + |m_2|,\ \big||m_1| - |m_2|\big|\}$?
       (Hint: about the polar axis the real $Y_{lm}$ depend on $\varphi$ as $\cos(m\varphi)$ or
       $\sin(|m|\varphi)$; expand $\cos(m_1\varphi)\sin(m_2\varphi)$, then integrate against
       $\cos(m_3\varphi)$ and $\sin(m_3\varphi)$.)

    *Exercise.* Check that $C(l, l, 0)[a, b, 0] = \pm\,\delta_{ab}/\sqrt{2l+1}$: coupling to $l_3 = 0$ is
    the dot product. Which sign appears, and does it depend on $l$?
    """),
]


NOTEBOOKS = {
    "01_spherical_harmonics.ipynb": NB01,
    "02_wigner_D.ipynb": NB02,
    "03_clebsch_gordan.ipynb": NB03,
}


def build(cells: list[tuple[str, str]], prefix: str) -> nbformat.NotebookNode:
    """A notebook with no outputs and fixed cell ids ``{prefix}-{index}``."""
    nb = new_notebook()
    for index, (kind, source) in enumerate(cells):
        cell_id = f"{prefix}-{index:02d}"
        make = new_markdown_cell if kind == "markdown" else new_code_cell
        nb.cells.append(make(source, id=cell_id))
    nb.metadata["kernelspec"] = {"display_name": "Python 3", "language": "python", "name": "python3"}
    nb.metadata["language_info"] = {"name": "python"}
    nbformat.validate(nb)
    return nb


def write(notebooks: dict, out_dir: Path) -> list[Path]:
    """Write each {filename: cells} notebook into ``out_dir``; shared by every build_notebooks*.py generator."""
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = []
    for filename, cells in notebooks.items():
        path = out_dir / filename
        nbformat.write(build(cells, prefix=f"nb{filename[:2]}"), path)
        paths.append(path)
    return paths


def cli(notebooks: dict, doc: str) -> None:
    """The command line of a generator: ``--out DIR`` (default: notebooks/)."""
    parser = argparse.ArgumentParser(description=doc, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", type=Path, default=HERE, help="output directory (default: notebooks/)")
    for written in write(notebooks, parser.parse_args().out):
        print(written)


if __name__ == "__main__":
    cli(NOTEBOOKS, __doc__)
