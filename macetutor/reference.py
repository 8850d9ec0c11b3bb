"""Reference dumps: every intermediate array of a MACE evaluation, named, for another implementation to compare against.

``dump(model, positions, numbers, cell, pbc, path)`` writes one ``.npz`` (no pickle) holding

* ``index``: a JSON string listing every array with its shape, its layout and the equation it belongs to;
* the structure and the edges (``edges/senders``, ``edges/vectors`` = r_i - r_j, ``edges/Y``, ``edges/radial_basis``...);
* per layer t: ``layer{t}/h_in``, ``h_up``, ``R``, ``A`` (eq. 8), ``B/{L}/nu{nu}`` (eq. 10), ``message`` (eq. 11),
  ``self_connection``, ``h`` (eq. 12), ``node_energy``; ``A`` and ``h`` also in e3nn's flattened layout
  (``A_e3nn``, ``h_e3nn``), which is what mace-torch holds in memory;
* ``U/layer{t}/{L}/nu{nu}``: the generalised Clebsch-Gordan tensors that define B (B depends on this basis: another
  code with other U tensors must compare messages, A or h, or transform its B with its own U);
* energies: ``energy``, ``interaction_energy``, ``node_energies``.

Read it back with ``numpy.load(path)``; ``json.loads(str(data["index"]))`` is the table of contents.
"""

from __future__ import annotations

import json

import numpy as np

from macetutor.irreps import to_e3nn_layout

__all__ = ["dump"]

_LAYOUT = "(n_atoms, K, sum(2l+1)): channels, then the irrep blocks side by side, m = -l..l (macetutor layout)"


def dump(model, positions, numbers, cell=None, pbc=False, path="reference.npz") -> dict:
    """Evaluate ``model`` (NumPy backend: B is formed) and write every intermediate to ``path``; returns the index."""
    result = model.evaluate(positions, numbers, cell, pbc)
    arrays, index = {}, {}

    def put(name, value, description):
        value = np.asarray(value)
        arrays[name] = value
        index[name] = {"shape": list(value.shape), "description": description}

    put("positions", np.asarray(positions, dtype=np.float64), "(n_atoms, 3) Å")
    put("numbers", np.asarray(numbers), "(n_atoms,) atomic numbers")
    put(
        "cell",
        np.zeros((3, 3)) if cell is None else np.asarray(cell, dtype=np.float64),
        "(3, 3) lattice vectors as rows",
    )
    put("pbc", np.broadcast_to(np.asarray(pbc, dtype=bool), (3,)), "(3,) periodic directions")
    put("energy", result.energy, "total energy, eV")
    put("interaction_energy", result.interaction_energy, "sum_i E_i^int, eV")
    put("node_energies", result.node_energies, "(n_atoms,) E0_{z_i} + E_i^int, eV")
    edge_text = {
        "senders": "(n_edges,) neighbour j of each edge",
        "receivers": "(n_edges,) centre i of each edge",
        "shifts": "(n_edges, 3) periodic shift S @ cell, Å",
        "vectors": "(n_edges, 3) r_i - r_j + shift, Å",
        "lengths": "(n_edges,) |vectors|, Å",
        "Y": "(n_edges, (max_ell+1)^2) spherical harmonics, 'component'",
        "radial_basis": "(n_edges, num_bessel) Bessel basis times envelope",
    }
    for key, text in edge_text.items():
        put(f"edges/{key}", getattr(result.graph, key), text)
    for t, (layer, w) in enumerate(zip(result.intermediates, model.weights.layers, strict=True)):
        _put_layer(put, t, layer, w)
    with open(path, "wb") as f:
        np.savez(
            f,
            index=np.array(json.dumps(index, indent=1)),
            config=np.array(json.dumps(model.config.to_json())),
            **arrays,
        )
    return index


def _put_layer(put, t: int, layer, w) -> None:
    """The arrays of layer t (a :class:`macetutor.layer.LayerValues`) and its U tensors, under ``layer{t}/`` and ``U/``."""
    p = f"layer{t}/"
    put(p + "h_in", layer.h_in, f"h^({t}) {_LAYOUT}; irreps {layer.irreps_in}")
    put(p + "h_up", layer.h_up, f"linear_up(h^({t})) {_LAYOUT}")
    put(p + "R", layer.R, "(n_edges, n_paths, K) radial weights of each tensor-product path")
    put(p + "A", layer.A, f"atomic basis, eq. (8) {_LAYOUT}; irreps {layer.irreps_A}")
    put(p + "A_e3nn", to_e3nn_layout(layer.A, layer.irreps_A), "A in e3nn's layout (n_atoms, sum K(2l+1))")
    for product in w.products:
        L = str(product.irrep)
        for nu, U in enumerate(product.U, start=1):
            put(
                p + f"B/{L}/nu{nu}",
                layer.B[product.irrep][nu],
                f"product basis, eq. (10): (n_atoms, K, n_paths, 2L+1), L = {L}",
            )
            put(f"U/layer{t}/{L}/nu{nu}", U, "generalised Clebsch-Gordan U[M, a_1..a_nu, path] defining B")
    put(p + "message", layer.message, f"message m, eq. (11) {_LAYOUT}; irreps {layer.irreps_out}")
    if layer.self_connection is not None:
        put(p + "self_connection", layer.self_connection, f"W_z h^({t}) of eq. (12) {_LAYOUT}")
    put(p + "h", layer.h, f"h^({t + 1}), eq. (12) {_LAYOUT}; irreps {layer.irreps_out}")
    put(p + "h_e3nn", to_e3nn_layout(layer.h, layer.irreps_out), "h in e3nn's layout (n_atoms, sum K(2l+1))")
    put(p + "node_energy", layer.node_energy, f"(n_atoms,) readout E_i^({t}) before scale and shift")
