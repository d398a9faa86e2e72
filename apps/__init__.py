"""Domain apps. Each ``apps/<domain>/`` owns its modality: data, adapter, head,
metrics, peers and CLI. Apps import :mod:`shared`, never each other."""
