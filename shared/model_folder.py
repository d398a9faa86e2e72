"""Model folders: a model rebuilt from its folder alone, with nothing unpickled.

A folder holds ``model.safetensors`` (weights), ``config.json`` (which
builder made the model, its config and free-form metadata) and, when the
model reads or writes text, ``tokenizer.json``. Apps register a *builder*
(``config dict, tokenizer -> nn.Module``) under a name; ``config.json``
records the name and the module that registers it, and loading imports that
module only if the installed metadata declares it for that name (``sextant.builders``).
"""

from __future__ import annotations

import importlib
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from safetensors.torch import load_model as load_safetensors_into
from safetensors.torch import save_model as save_safetensors_from
from torch import nn

from shared.atomic import atomic_directory
from shared.config import config_from_dict
from shared.errors import ModelFolderError
from shared.tokenizers import Tokenizer, load_tokenizer

FORMAT = "sextant-model/1"
WEIGHTS, CONFIG, TOKENIZER = "model.safetensors", "config.json", "tokenizer.json"
# The only modules a model folder can make us import, by builder name: a folder's config.json
# names its builder, and an arbitrary import string there would run arbitrary code on load.
# The core's own builders are here; the apps declare theirs in the ``sextant.builders``
# entry-point group of the installed metadata (tests/shared/test_model_folder.py checks that
# every registered builder is declared).
CORE_BUILDER_MODULES: dict[str, str] = {"encoder-decoder": "shared.model_folder", "decoder": "shared.model_folder"}


def builder_modules() -> dict[str, str]:
    """Builder name -> the module that registers it: the core's plus the declared entry points."""
    from importlib.metadata import entry_points

    from shared.app import BUILDERS_GROUP

    declared = {point.name: point.value for point in entry_points(group=BUILDERS_GROUP)}
    return {**declared, **CORE_BUILDER_MODULES}

Builder = Callable[[dict[str, Any], Tokenizer | None], nn.Module]
_BUILDERS: dict[str, tuple[Builder, str]] = {}


def register_builder(name: str) -> Callable[[Builder], Builder]:
    """Decorator: make ``fn(config, tokenizer) -> nn.Module`` loadable as ``name``."""

    def decorate(fn: Builder) -> Builder:
        _BUILDERS[name] = (fn, fn.__module__)
        return fn

    return decorate


def build_model(builder: str, config: dict[str, Any], tokenizer: Tokenizer | None = None) -> nn.Module:
    """Build a fresh (untrained) model with a registered builder."""
    if builder not in _BUILDERS:
        raise ModelFolderError(f"no model builder named {builder!r}; known: {sorted(_BUILDERS)}")
    return _BUILDERS[builder][0](config, tokenizer)


@dataclass
class LoadedModel:
    """What :func:`load_model` returns."""

    model: nn.Module
    builder: str
    config: dict[str, Any]
    tokenizer: Tokenizer | None
    metadata: dict[str, Any] = field(default_factory=dict)


def write_model_files(
    folder: Path, model: nn.Module, builder: str, config: dict[str, Any],
    tokenizer: Tokenizer | None = None, metadata: dict[str, Any] | None = None,
) -> None:
    """Write the model files into an existing folder (callers make it atomic)."""
    if builder not in _BUILDERS:
        raise ModelFolderError(f"register a builder named {builder!r} before saving")
    save_safetensors_from(model, str(folder / WEIGHTS))
    spec = {
        "format": FORMAT,
        "builder": builder,
        "builder_module": _BUILDERS[builder][1],
        "config": config,
        "metadata": metadata or {},
    }
    (folder / CONFIG).write_text(json.dumps(spec, indent=2, sort_keys=True) + "\n")
    if tokenizer is not None:
        tokenizer.save(folder / TOKENIZER)


def save_model(
    folder: str | Path, model: nn.Module, builder: str, config: dict[str, Any],
    tokenizer: Tokenizer | None = None, metadata: dict[str, Any] | None = None,
) -> Path:
    """Atomically write a model folder; returns its path."""
    folder = Path(folder)
    with atomic_directory(folder) as tmp:
        write_model_files(tmp, model, builder, config, tokenizer, metadata)
    return folder


def read_model_spec(folder: str | Path) -> dict[str, Any]:
    """The parsed ``config.json`` of a model folder."""
    folder = Path(folder)
    path = folder / CONFIG
    if not path.is_file():
        raise ModelFolderError(f"{folder} is not a model folder (no {CONFIG})")
    try:
        spec = json.loads(path.read_text())
    except json.JSONDecodeError as err:
        raise ModelFolderError(f"{path}: not valid JSON ({err.msg})") from None
    if spec.get("format") != FORMAT:
        raise ModelFolderError(f"{path}: unsupported format {spec.get('format')!r}")
    return spec


def _ensure_builder(spec: dict[str, Any]) -> None:
    """Register the folder's builder, importing only the module :func:`builder_modules` names for it
    (the folder's own ``builder_module`` is informational and never imported)."""
    name = spec["builder"]
    if name in _BUILDERS:
        return
    allowed = builder_modules()
    module = allowed.get(name)
    if module is None:
        raise ModelFolderError(f"unknown model builder {name!r}; known: {', '.join(sorted(allowed))}")
    try:
        importlib.import_module(module)
    except ImportError as err:
        raise ModelFolderError(f"cannot import builder module {module!r}: {err}") from None
    if name not in _BUILDERS:
        raise ModelFolderError(f"module {module!r} does not register builder {name!r}")


def load_model(folder: str | Path, device: str = "cpu") -> LoadedModel:
    """Rebuild a model from its folder: config -> builder -> safetensors weights."""
    folder = Path(folder)
    spec = read_model_spec(folder)
    _ensure_builder(spec)
    tokenizer = load_tokenizer(folder / TOKENIZER) if (folder / TOKENIZER).is_file() else None
    model = build_model(spec["builder"], spec["config"], tokenizer)
    if not (folder / WEIGHTS).is_file():
        raise ModelFolderError(f"{folder} has no {WEIGHTS}")
    missing, unexpected = load_safetensors_into(model, str(folder / WEIGHTS), strict=False, device=device)
    if missing or unexpected:
        raise ModelFolderError(f"{folder}: weights do not match the model (missing {missing[:3]}, unexpected {unexpected[:3]})")
    model.eval()
    return LoadedModel(model, spec["builder"], spec["config"], tokenizer, spec.get("metadata", {}))


@register_builder("encoder-decoder")
def _build_encoder_decoder(config: dict[str, Any], tokenizer: Tokenizer | None) -> nn.Module:
    from shared.models import EncoderDecoder, TransformerConfig

    return EncoderDecoder(config_from_dict(TransformerConfig, config))


@register_builder("decoder")
def _build_decoder(config: dict[str, Any], tokenizer: Tokenizer | None) -> nn.Module:
    from shared.models import Decoder, TransformerConfig

    return Decoder(config_from_dict(TransformerConfig, config), cross_attention=False)
