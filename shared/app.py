"""The App contract: what one domain states about itself, once.

Every ``apps/<d>/app.py`` holds an object that satisfies :class:`App`. The one
command line (:mod:`shared.cli`), the Prefect flows (``pipelines/template.py``)
and batch inference (:func:`run_predictor`) are generated from it, so a domain is
wired in one place. Apps are found through the ``sextant.apps`` entry-point group
(:func:`installed_apps`); nothing here names an app.

The life of a model, in the App's words::

    cfg  = app.load_config("default", ["train.max_steps=50"])
    cfg  = app.with_data(cfg, "my_files")          # the user's own data, in its ecosystem's format
    data = app.prepare(cfg, app.prepared_dir(cfg))  # read, validate, split; a prepared folder
    app.validate(cfg, data)                         -> DataReport
    app.train(cfg, data, run_dir, "train")          -> TrainSummary   (one call per stage)
    app.evaluate(cfg, model_dir, data, out_dir)     -> Evaluation     (ours next to the peers)
    run_predictor(app.predictor(model_dir, options), inputs, out_dir)  (resumable batch job)

An App's module is imported to build the CLI, so it keeps heavy imports (torch,
pandas, the domain libraries) inside its methods.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Sequence
from contextlib import AbstractContextManager, nullcontext
from dataclasses import asdict, dataclass, field
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, Protocol, runtime_checkable

from shared.errors import ConfigError

if TYPE_CHECKING:
    from shared.inference import InferenceSummary, InputRow, RowError

APPS_GROUP = "sextant.apps"
BUILDERS_GROUP = "sextant.builders"
Mode = Literal["min", "max"]


@dataclass(frozen=True)
class DataReport:
    """What validation found: how many items (the App's ``items``) in each split."""

    items: int
    splits: dict[str, int]
    details: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class TrainSummary:
    """What one training stage produced: the best model folder and its validation metric."""

    model_dir: str
    best_metric: float | None
    metric: str
    steps: int
    seconds: float

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class Evaluation:
    """Ours next to every peer on the same held-out data.

    ``table`` has one row per model (``{"model": name, metric: value, ...}``; apps that
    score several datasets or groups add a column for it). ``ours`` are our headline
    scores, ``metric``/``mode`` say which of them decides promotion, ``split_rule``
    says in one sentence which data was held out, and ``artifacts`` names the files
    written (``metrics_md``, ``plot``, ...).
    """

    table: list[dict[str, Any]]
    ours: dict[str, float]
    metric: str
    mode: Mode
    registry_name: str
    best_peer: str | None = None
    split_rule: str = ""
    artifacts: dict[str, str] = field(default_factory=dict)
    markdown: str = ""

    @property
    def best_peer_scores(self) -> dict[str, Any] | None:
        return self.peer_scores(self.best_peer) if self.best_peer else None

    def peer_scores(self, name: str) -> dict[str, Any] | None:
        """The row of ``name`` that carries the headline metric (an overall row where there are several)."""
        rows = [r for r in self.table if r.get("model") == name and self.metric in r]
        return rows[-1] if rows else None

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "best_peer_scores": self.best_peer_scores}


def best_of(scores: dict[str, float | None], mode: Mode) -> str | None:
    """The name with the best score (``None`` values and NaN never win), or ``None``."""
    usable = {k: v for k, v in scores.items() if v is not None and v == v}
    if not usable:
        return None
    return (min if mode == "min" else max)(usable, key=usable.__getitem__)


@runtime_checkable
class Predictor(Protocol):
    """One batch job's reader, model and finishing touches (like mmengine's ``BaseInferencer``,
    cut to what the runner needs). A predictor may also be a context manager (worker pools)."""

    shard_size: int  # rows per output shard (the unit of resume)
    batch_size: int  # rows per predict call
    fmt: str  # shard format: "parquet" or "jsonl"

    def rows(self, inputs: Sequence[str]) -> Iterable[InputRow]:
        """Every input row in a stable order; a bad input becomes a row with ``error`` set."""
        ...

    def predict(self, batch: list[InputRow]) -> list[list[dict] | RowError]:
        """For each row: its output records, or a :class:`~shared.inference.RowError`."""
        ...

    def finish(self, out_dir: Path, summary: InferenceSummary) -> dict[str, str]:
        """Files made from all outputs (plots, overlays, COCO JSON): ``{kind: path}``."""
        ...


def run_predictor(predictor: Predictor, inputs: str | Sequence[str], output_dir: str | Path, *,
                  progress: bool = True) -> dict[str, Any]:
    """Run a batch job (:func:`shared.inference.run_batch_inference`: shards, resume,
    ``errors.jsonl``), then the predictor's ``finish``; returns the summary as a dict with
    ``line`` (one line for people) and ``files`` (what ``finish`` wrote)."""
    from shared.inference import run_batch_inference

    inputs = [inputs] if isinstance(inputs, (str, Path)) else list(inputs)
    context: AbstractContextManager = predictor if isinstance(predictor, AbstractContextManager) else nullcontext()
    with context:
        summary = run_batch_inference(predictor.rows([str(i) for i in inputs]), predictor.predict, output_dir,
                                      shard_size=predictor.shard_size, batch_size=predictor.batch_size, fmt=predictor.fmt,
                                      progress=progress)
        files = predictor.finish(Path(output_dir), summary)
    return {**summary.to_dict(), "line": summary.line(), "files": files}


def batch_job(name: str, model_dir: str, inputs: str | Sequence[str], output_dir: str | Path,
              options: dict[str, Any] | None = None, *, progress: bool = False) -> dict[str, Any]:
    """The installed App ``name``'s batch job (what ``sextant <name> predict`` runs); a JSON-ready summary."""
    app = get_app(name)
    result = run_predictor(app.predictor(model_dir, options_from(app.batch_options, options)), inputs, output_dir,
                           progress=progress)
    return {k: str(v) if isinstance(v, Path) else v for k, v in result.items()}


@dataclass(frozen=True)
class SampleFiles:
    """A small data set in the user's format (what ``--data`` takes) and a batch input for ``predict``."""

    data: str
    predict_input: str
    overrides: tuple[str, ...] = ()  # settings the sample needs, e.g. a shorter horizon


class App(Protocol):
    """What a domain states about itself. Implement it in ``apps/<d>/app.py``; see the module docstring."""

    name: str  # the CLI group, the flows' prefix and the registry name's first word
    title: str  # one line for --help
    items: str  # what one data item is called, in the domain's words (plural)
    stages: tuple[str, ...]  # training stages in the order they run; the last is "train"
    metric: str  # the headline metric that decides promotion, and whether lower or higher is better
    mode: Mode
    batch_options: type  # a dataclass: the predict command's flags and the batch flow's options
    data_help: str  # what --data takes, in the ecosystem's terms
    input_help: str  # what predict reads
    examples: tuple[str, ...]  # command lines for --help (without the leading "sextant <name>")
    configs: tuple[str, ...]  # shipped config names; --config also takes a YAML path
    recipe_modules: tuple[str, ...]  # modules whose source defines the prepared data (cache key)
    # Optional: ``in_demo = False`` keeps a slow App out of ``sextant demo`` (default True), and
    # ``commands()`` may return ``{name: function}`` for a genuinely extra CLI command.

    def load_config(self, name: str = "default", overrides: Sequence[str] = ()) -> Any: ...

    def with_data(self, cfg: Any, source: str) -> Any:
        """``cfg`` reading the user's own files at ``source``."""
        ...

    def prepared_dir(self, cfg: Any) -> Path:
        """Where ``cfg``'s data is prepared unless a folder is given."""
        ...

    def is_prepared(self, cfg: Any, data: Path) -> bool: ...

    def prepare(self, cfg: Any, out: Path) -> Path:
        """Read, validate and split the data ``cfg`` names into ``out``; returns ``out``."""
        ...

    def validate(self, cfg: Any, data: Path) -> DataReport: ...

    def train(self, cfg: Any, data: Path, run_dir: Path, stage: str = "train", *, resume: bool = False,
              init: str | None = None) -> TrainSummary:
        """Run one stage; ``init`` is the model folder of the stage before (if any)."""
        ...

    def evaluate(self, cfg: Any, model_dir: str, data: Path, out_dir: Path,
                 peers: Sequence[str] | None = None) -> Evaluation: ...

    def predictor(self, model_dir: str, options: Any) -> Predictor: ...

    def registry_name(self, cfg: Any) -> str: ...

    def sample_files(self, folder: Path) -> SampleFiles:
        """Write a small data set in the user's format and a batch input under ``folder``
        (used by the contract test, the README's examples and the demo)."""
        ...


def options_from(cls: type, values: dict[str, Any] | None) -> Any:
    """An instance of the options dataclass ``cls`` from a (possibly partial) dict; unknown keys
    are one-line errors."""
    values = dict(values or {})
    names = {f.name for f in dataclasses.fields(cls)}
    unknown = sorted(set(values) - names)
    if unknown:
        raise ConfigError(f"unknown option(s) {unknown}; available: {sorted(names)}")
    return cls(**values)


def options_dict(options: Any) -> dict[str, Any]:
    return asdict(options) if dataclasses.is_dataclass(options) else dict(options or {})


@cache
def installed_apps() -> dict[str, App]:
    """Every App the installed distributions declare in the ``sextant.apps`` entry-point group, by name."""
    from importlib.metadata import entry_points

    apps: dict[str, App] = {}
    for point in sorted(entry_points(group=APPS_GROUP), key=lambda p: p.name):
        app = point.load()
        if app.name != point.name:
            raise ConfigError(f"entry point {point.name!r} loads an App named {app.name!r}")
        apps[point.name] = app
    return apps


def app_names() -> list[str]:
    """The installed Apps' names, without importing them."""
    from importlib.metadata import entry_points

    return sorted(p.name for p in entry_points(group=APPS_GROUP))


def get_app(name: str) -> App:
    """The installed App called ``name``."""
    apps = installed_apps()
    if name not in apps:
        raise ConfigError(f"unknown app {name!r}; installed: {', '.join(apps) or 'none'}")
    return apps[name]


