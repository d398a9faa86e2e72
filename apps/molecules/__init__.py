"""Molecules: RDKit featurisation, graph and SMILES transformers on the shared core, compared with
random forests on Morgan fingerprints and RDKit descriptors (the App: :mod:`apps.molecules.app`)."""
