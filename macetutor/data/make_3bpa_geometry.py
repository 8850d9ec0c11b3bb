"""Make ``3bpa_start.xyz``: a starting geometry of 3-(benzyloxy)pyridin-2-amine (3BPA) from its SMILES.

RDKit embeds the molecule (ETKDG v3, fixed seed) and relaxes it with MMFF94; ``macetutor dataset make 3bpa-xtb``
then relaxes it again with GFN2-xTB before any dynamics, so only the conformer basin matters here. RDKit is needed
only to remake this file (``pip install rdkit ase``; not part of any extra):

    python macetutor/data/make_3bpa_geometry.py   # writes macetutor/data/3bpa_start.xyz

Atom order (RDKit's, from the SMILES, hydrogens last): 0 N (amine), 1 C2, 2 N1, 3 C6, 4 C5, 5 C4, 6 C3, 7 O, 8 CH2,
9 C ipso, 10-14 phenyl C, 15-26 H.
"""

from pathlib import Path

SMILES = "Nc1ncccc1OCc1ccccc1"
SEED = 20221011


def main() -> None:
    import rdkit
    from rdkit import Chem
    from rdkit.Chem import AllChem

    molecule = Chem.AddHs(Chem.MolFromSmiles(SMILES))
    parameters = AllChem.ETKDGv3()
    parameters.randomSeed = SEED
    if AllChem.EmbedMolecule(molecule, parameters) != 0:
        raise RuntimeError("RDKit could not embed the molecule")
    AllChem.MMFFOptimizeMolecule(molecule, maxIters=2000)
    conformer = molecule.GetConformer()
    lines = [
        str(molecule.GetNumAtoms()),
        f'comment="3-(benzyloxy)pyridin-2-amine, SMILES {SMILES}, RDKit {rdkit.__version__} ETKDGv3 seed {SEED} + MMFF94; '
        f'made by macetutor/data/make_3bpa_geometry.py"',
    ]
    for atom in molecule.GetAtoms():
        x = conformer.GetAtomPosition(atom.GetIdx())
        lines.append(f"{atom.GetSymbol():2s} {x.x:14.8f} {x.y:14.8f} {x.z:14.8f}")
    out = Path(__file__).with_name("3bpa_start.xyz")
    out.write_text("\n".join(lines) + "\n")
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
