"""Reading one SMILES string into an RDKit molecule, with a one-line reason when it cannot be read."""

from __future__ import annotations

from rdkit import Chem, RDLogger


def parse_smiles(smiles: object) -> tuple[Chem.Mol | None, str | None]:
    """An RDKit molecule, or ``None`` and a one-line reason."""
    if not isinstance(smiles, str) or not smiles.strip():
        return None, "empty SMILES"
    if any(c.isspace() for c in smiles.strip()):  # RDKit would read "CC O" as ethane named "O"
        return None, f"SMILES contains whitespace: {smiles.strip()[:60]!r}"
    RDLogger.DisableLog("rdApp.*")
    try:
        mol = Chem.MolFromSmiles(smiles.strip())
    finally:
        RDLogger.EnableLog("rdApp.*")
    if mol is None:
        return None, f"invalid SMILES {smiles.strip()[:60]!r}"
    if mol.GetNumAtoms() == 0:
        return None, "SMILES has no atoms"
    return mol, None
