"""Molecules and graphs: RDKit featurisation, graph and SMILES transformers on the
shared core, compared with fingerprint/descriptor random forests (in progress)."""
