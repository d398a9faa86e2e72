"""Domain apps. Each ``apps/<domain>/`` owns its modality: data, adapter, head,
metrics and peers, and states what it is in one App object (``app.py``). Apps import
:mod:`shared`, never each other. An app is found through its ``sextant.apps`` entry
point, its model builders through ``sextant.builders`` (both in pyproject.toml)."""
