"""Forecasting data: real series in the long format ``unique_id, ds, y``.

Datasets come from installed packages (statsmodels, pmdarima; the recipes are in
:mod:`apps.forecasting.datasets`) or a user's
CSV/Parquet file in the same format (its frequency inferred unless given, its
season length the frequency's usual one unless given). :func:`validate` names every problem
(missing columns, non-numeric or missing values, duplicate timestamps,
irregular frequency, too-short series) and applies an explicit policy or
refuses. Series that cannot be used are dropped with a one-line reason;
the rest go on.
"""

from __future__ import annotations

import json
import re
from collections import Counter
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Literal

import numpy as np
import pandas as pd

from apps.forecasting.datasets import DATASETS
from shared.atomic import atomic_write_bytes, atomic_write_text
from shared.errors import DataError
from shared.paths import config_path

REQUIRED = ("unique_id", "ds", "y")
FillPolicy = Literal["interpolate", "ffill", "zero", "refuse"]
DuplicatePolicy = Literal["refuse", "mean", "last"]


def read_series_file(path: str | Path) -> pd.DataFrame:
    """Read a user's CSV or Parquet file (long format expected)."""
    path = Path(path)
    if not path.is_file():
        raise DataError(f"file not found: {path}")
    try:
        if path.suffix.lower() == ".parquet":
            frame = pd.read_parquet(path)
        elif path.suffix.lower() in (".csv", ".txt"):
            frame = pd.read_csv(path)
        else:
            raise DataError(f"{path}: expected a .csv or .parquet file")
    except pd.errors.EmptyDataError:
        raise DataError(f"{path}: the file is empty") from None
    except (pd.errors.ParserError, UnicodeDecodeError, OSError, ValueError) as err:
        raise DataError(f"{path}: cannot be read ({str(err).splitlines()[0]})") from None
    if frame.empty:
        raise DataError(f"{path}: no rows")
    return frame


@dataclass
class ValidationReport:
    """What :func:`validate` found and did."""

    series: int = 0
    rows: int = 0
    problems: list[str] = field(default_factory=list)
    dropped: dict[str, str] = field(default_factory=dict)
    filled_values: int = 0

    def to_dict(self) -> dict:
        return asdict(self)


def validate(
    frame: pd.DataFrame,
    freq: str | None = None,
    fill: FillPolicy = "interpolate",
    duplicates: DuplicatePolicy = "refuse",
    min_length: int = 1,
) -> tuple[pd.DataFrame, ValidationReport]:
    """Check and clean a long-format frame; returns the usable rows and a report.

    Frame-level problems (missing columns, nothing usable) raise
    :class:`DataError`. Series-level problems drop that series with a reason
    in ``report.dropped`` unless a policy repairs them.
    """
    report = ValidationReport()
    missing = [c for c in REQUIRED if c not in frame.columns]
    if missing:
        raise DataError(f"missing column(s) {missing}; expected columns {list(REQUIRED)}, got {list(frame.columns)}")
    df = frame[list(REQUIRED)].copy()
    df["unique_id"] = df["unique_id"].astype(str)
    y = pd.to_numeric(df["y"], errors="coerce")
    non_numeric = int((y.isna() & df["y"].notna()).sum())
    if non_numeric:
        report.problems.append(f"{non_numeric} non-numeric y value(s) treated as missing")
    infinite = int(np.isinf(y).sum())
    if infinite:
        report.problems.append(f"{infinite} infinite y value(s) treated as missing")
    df["y"] = y.replace([np.inf, -np.inf], np.nan)
    ds = pd.to_datetime(df["ds"], errors="coerce")
    bad_ds = int(ds.isna().sum())
    if bad_ds:
        report.problems.append(f"{bad_ds} row(s) with unparseable ds dropped")
    df["ds"] = ds
    df = df[df["ds"].notna()]

    cleaned = []
    for uid, series in df.groupby("unique_id", sort=True):
        try:
            cleaned.append(_clean_series(uid, series, freq, fill, duplicates, min_length, report))
        except DataError as err:
            report.dropped[uid] = str(err)
    if not cleaned:
        reasons = "; ".join(f"{k}: {v}" for k, v in list(report.dropped.items())[:3])
        raise DataError(f"no usable series ({reasons})" if reasons else "no usable rows")
    out = pd.concat(cleaned, ignore_index=True)
    report.series, report.rows = out["unique_id"].nunique(), len(out)
    return out, report


def _clean_series(uid: str, s: pd.DataFrame, freq: str | None, fill: FillPolicy, duplicates: DuplicatePolicy,
                  min_length: int, report: ValidationReport) -> pd.DataFrame:
    s = s.sort_values("ds")
    dup = int(s["ds"].duplicated().sum())
    if dup:
        if duplicates == "refuse":
            raise DataError(f"{dup} duplicate timestamp(s) (set duplicates=mean or last to merge them)")
        s = s.groupby("ds", as_index=False)["y"].agg("mean" if duplicates == "mean" else "last")
        s.insert(0, "unique_id", uid)
        report.problems.append(f"{uid}: merged {dup} duplicate timestamp(s) ({duplicates})")
    series_freq = freq or (pd.infer_freq(s["ds"]) if len(s) >= 3 else None)
    if series_freq is None:
        series_freq = _guess_freq(s["ds"])
    full = pd.date_range(s["ds"].iloc[0], s["ds"].iloc[-1], freq=series_freq)
    if len(full) != len(s) or not full.equals(pd.DatetimeIndex(s["ds"])):
        off_grid = int((~s["ds"].isin(full)).sum())
        if off_grid:
            raise DataError(f"irregular timestamps: {off_grid} not on a {series_freq} grid")
        report.problems.append(f"{uid}: {len(full) - len(s)} missing timestamp(s) inserted as missing values")
        s = s.set_index("ds").reindex(full).rename_axis("ds").reset_index()
        s["unique_id"] = uid
    gaps = int(s["y"].isna().sum())
    if gaps:
        if fill == "refuse":
            raise DataError(f"{gaps} missing value(s) (set fill=interpolate, ffill or zero to repair)")
        if fill == "interpolate":
            s["y"] = s["y"].interpolate(limit_direction="both")
        elif fill == "ffill":
            s["y"] = s["y"].ffill().bfill()
        else:
            s["y"] = s["y"].fillna(0.0)
        report.filled_values += gaps
        report.problems.append(f"{uid}: filled {gaps} missing value(s) ({fill})")
    if s["y"].isna().any():
        raise DataError("no observed values")
    if len(s) < min_length:
        raise DataError(f"too short: {len(s)} points, need at least {min_length}")
    return s[list(REQUIRED)].reset_index(drop=True)


def _guess_freq(ds: pd.Series, window: int = 4, samples: int = 64) -> str:
    """The frequency of a series pandas cannot infer whole (a gap, an off-grid timestamp): the one
    most runs of ``window`` consecutive timestamps agree on (so a monthly series with a missing
    month stays monthly, not "31D"), else the most common spacing."""
    if len(ds) < 2:
        raise DataError("too short to infer a frequency (set freq)")
    index = pd.DatetimeIndex(ds)
    if len(index) >= window:
        starts = np.unique(np.linspace(0, len(index) - window, num=min(samples, len(index) - window + 1)).astype(int))
        votes = Counter(f for i in starts if (f := pd.infer_freq(index[i:i + window])) is not None)
        if votes:
            return votes.most_common(1)[0][0]
    step = pd.Series(ds).diff().dropna().mode().iloc[0]
    return pd.tseries.frequencies.to_offset(step).freqstr


@dataclass
class PreparedDataset:
    """A validated dataset on disk plus what the models need to know about it."""

    name: str
    path: Path
    freq: str
    season_length: int
    report: dict

    def frame(self) -> pd.DataFrame:
        return pd.read_parquet(self.path)


USER_SUFFIXES = (".csv", ".parquet")
# The seasonal period implied by a frequency's base unit (pandas offset names without multiples
# or anchors), for a user's file that does not state its season length.
SEASONS = {"Y": 1, "YS": 1, "YE": 1, "A": 1, "AS": 1, "Q": 4, "QS": 4, "QE": 4, "M": 12, "MS": 12, "ME": 12,
           "W": 52, "D": 7, "B": 5, "h": 24, "H": 24, "min": 60, "T": 60, "s": 60, "S": 60}


def is_user_file(entry: str) -> bool:
    """Whether a ``data.datasets`` entry names a user's file rather than a shipped dataset."""
    return Path(entry).suffix.lower() in USER_SUFFIXES


def dataset_name(entry: str) -> str:
    """The name a dataset is prepared and reported under: a shipped name, or a user file's stem."""
    return Path(entry).stem if is_user_file(entry) else entry


def season_for(freq: str) -> int:
    """The usual seasonal period of ``freq`` (30min -> 48 per day, 15min -> 96, MS -> 12, ...)."""
    offset = pd.tseries.frequencies.to_offset(freq)
    base = re.sub(r"-.*$", "", offset.name)  # "W-SAT" -> "W", "QS-OCT" -> "QS"
    n = max(int(offset.n), 1)
    if base in ("min", "T") and 1440 % n == 0:
        return 1440 // n  # one day of minutes-level data
    if base in ("h", "H") and 24 % n == 0:
        return 24 // n
    season = SEASONS.get(base)
    if season is None:
        raise DataError(f"no usual season length for frequency {freq!r} (set data.season_length)")
    return max(season // n, 1)


def dataset_freq(frame: pd.DataFrame) -> str:
    """The frequency most series of a long-format frame agree on (inferred from the longest series)."""
    ds = pd.to_datetime(frame["ds"], errors="coerce")
    lengths = ds.groupby(frame["unique_id"].astype(str)).count()
    if lengths.empty or lengths.max() < 2:
        raise DataError("too few timestamps to infer a frequency (set data.freq)")
    longest = ds[frame["unique_id"].astype(str) == lengths.idxmax()].dropna().sort_values().drop_duplicates()
    freq = pd.infer_freq(longest) if len(longest) >= 3 else None
    return freq or _guess_freq(longest)


@dataclass(frozen=True)
class Source:
    """Where one dataset comes from: a shipped dataset, or a user's long-format file."""

    name: str
    frame: Callable[[], pd.DataFrame]
    freq: str
    season_length: int
    origin: str
    licence: str


def source_for(entry: str, freq: str | None = None, season_length: int | None = None) -> Source:
    """The :class:`Source` a ``data.datasets`` entry names. A user file's frequency is ``freq``
    or inferred, its season length ``season_length`` or the frequency's usual one."""
    if not is_user_file(entry):
        info = DATASETS.get(entry)
        if info is None:
            raise DataError(f"unknown dataset {entry!r}; available: {', '.join(DATASETS)}, "
                            f"or a long-format file ({' or '.join(USER_SUFFIXES)}) with columns {', '.join(REQUIRED)}")
        return Source(entry, info.loader, freq or info.freq, season_length or info.season_length, info.source, info.licence)
    path = config_path(entry, "data.datasets")
    frame = read_series_file(path)
    missing = [c for c in REQUIRED if c not in frame.columns]
    if missing:
        raise DataError(f"{path.name}: missing column(s) {missing}; expected columns {list(REQUIRED)}, got {list(frame.columns)}")
    freq = freq or dataset_freq(frame)
    return Source(dataset_name(entry), lambda: frame, freq, season_length or season_for(freq), str(path), "user data")


def prepare(entries: list[str], out_dir: str | Path, fill: FillPolicy = "interpolate", min_length: int = 24,
            freq: str | None = None, season_length: int | None = None) -> list[PreparedDataset]:
    """Load, validate and write each dataset (a shipped name or a user's CSV/Parquet file) as
    ``<out_dir>/<name>.parquet`` + ``.json``. ``freq`` and ``season_length`` override every
    dataset's (a user file's are otherwise inferred)."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    names = [dataset_name(e) for e in entries]
    repeated = sorted({n for n in names if names.count(n) > 1})
    if repeated:
        raise DataError(f"two datasets are named {repeated[0]!r}: rename one of the files")
    prepared = []
    for entry in entries:
        source = source_for(entry, freq, season_length)
        frame, report = validate(source.frame(), freq=source.freq, fill=fill, min_length=min_length)
        path = out_dir / f"{source.name}.parquet"
        atomic_write_bytes(path, frame.to_parquet(index=False))
        meta = {"name": source.name, "freq": source.freq, "season_length": source.season_length,
                "source": source.origin, "licence": source.licence, "report": report.to_dict()}
        atomic_write_text(out_dir / f"{source.name}.json", json.dumps(meta, indent=2) + "\n")
        prepared.append(PreparedDataset(source.name, path, source.freq, source.season_length, report.to_dict()))
    return prepared


def load_prepared(out_dir: str | Path, entries: list[str]) -> list[PreparedDataset]:
    """Prepared datasets written by :func:`prepare` (``entries`` as given to it)."""
    result = []
    for name in map(dataset_name, entries):
        meta_path = Path(out_dir) / f"{name}.json"
        if not meta_path.is_file():
            raise DataError(f"dataset {name!r} is not prepared in {out_dir} (run prepare first)")
        meta = json.loads(meta_path.read_text())
        result.append(PreparedDataset(name, Path(out_dir) / f"{name}.parquet", meta["freq"], meta["season_length"], meta["report"]))
    return result
