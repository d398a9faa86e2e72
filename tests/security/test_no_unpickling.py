"""Nothing the project reads is unpickled: a scan of every Python file in the repository.

Flags ``pickle``/``cPickle``/``dill``/``joblib``/``cloudpickle`` loads, ``pandas.read_pickle``,
``numpy.load(..., allow_pickle=True)``, ``torch.load`` without ``weights_only=True``, and
``yaml.load`` without a safe loader (``yaml.unsafe_load`` and ``full_load`` too).
"""

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SCANNED = ("apps", "shared", "pipelines", "benchmarks", "tests", "docker")
UNPICKLERS = {"pickle", "cPickle", "_pickle", "dill", "joblib", "cloudpickle"}
SAFE_YAML_LOADERS = {"SafeLoader", "CSafeLoader", "BaseLoader", "CBaseLoader"}


def _dotted(node: ast.AST) -> str:
    """``a.b.c`` for an attribute chain, ``""`` for anything else."""
    parts = []
    while isinstance(node, ast.Attribute):
        parts.append(node.attr)
        node = node.value
    if isinstance(node, ast.Name):
        parts.append(node.id)
        return ".".join(reversed(parts))
    return ""


def _keyword(call: ast.Call, name: str) -> ast.AST | None:
    return next((k.value for k in call.keywords if k.arg == name), None)


def unsafe_loads(source: str) -> list[tuple[int, str]]:
    """(line, what) for every unsafe deserialisation call in ``source``."""
    found = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.ImportFrom) and node.module in UNPICKLERS and any(
                a.name in ("load", "loads", "Unpickler") for a in node.names):
            found.append((node.lineno, f"from {node.module} import load"))
        if not isinstance(node, ast.Call):
            continue
        name = _dotted(node.func)
        module, _, func = name.rpartition(".")
        if module.split(".")[-1] in UNPICKLERS and func in ("load", "loads", "Unpickler"):
            found.append((node.lineno, name))
        elif func == "read_pickle":
            found.append((node.lineno, name))
        elif name in ("torch.load",):
            flag = _keyword(node, "weights_only")
            if not (isinstance(flag, ast.Constant) and flag.value is True):
                found.append((node.lineno, "torch.load without weights_only=True"))
        elif name in ("np.load", "numpy.load"):
            flag = _keyword(node, "allow_pickle")
            if isinstance(flag, ast.Constant) and flag.value is True:
                found.append((node.lineno, "numpy.load(allow_pickle=True)"))
        elif name in ("yaml.unsafe_load", "yaml.full_load", "yaml.load_all", "yaml.unsafe_load_all"):
            found.append((node.lineno, name))
        elif name == "yaml.load":
            loader = _keyword(node, "Loader") or (node.args[1] if len(node.args) > 1 else None)
            if loader is None or _dotted(loader).split(".")[-1] not in SAFE_YAML_LOADERS:
                found.append((node.lineno, "yaml.load without a safe Loader"))
    return found


def test_the_scanner_catches_each_unsafe_form():
    bad = """
import pickle, torch, yaml, numpy as np, pandas as pd
pickle.load(f); pickle.loads(b)
torch.load(p); torch.load(p, weights_only=False)
yaml.load(t); yaml.load(t, Loader=yaml.Loader); yaml.unsafe_load(t)
np.load(p, allow_pickle=True); pd.read_pickle(p)
from dill import loads
"""
    good = """
import torch, yaml, numpy as np
torch.load(p, weights_only=True); yaml.safe_load(t); yaml.load(t, Loader=yaml.SafeLoader); np.load(p)
"""
    assert len(unsafe_loads(bad)) == 10
    assert unsafe_loads(good) == []


@pytest.mark.parametrize("folder", SCANNED)
def test_no_unsafe_deserialisation_in(folder):
    problems = []
    for path in sorted((ROOT / folder).rglob("*.py")):
        if path.resolve() == Path(__file__).resolve():
            continue  # this file's examples
        problems += [f"{path.relative_to(ROOT)}:{line}: {what}" for line, what in unsafe_loads(path.read_text())]
    assert not problems, "\n".join(problems)
