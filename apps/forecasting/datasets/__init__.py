"""The shipped forecasting datasets: real series from installed packages (statsmodels, pmdarima),
each in the long format ``unique_id, ds, y`` with its frequency, season length and licence.

pmdarima's ``ausbeer``, ``woolyrnq``, ``lynx``, ``austres`` and ``heartrate`` are reserved for
independent evaluation and never loaded here.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from shared.errors import DataError


@dataclass(frozen=True)
class DatasetInfo:
    """A shipped dataset: its frequency, seasonal period and default horizon."""

    name: str
    freq: str
    season_length: int
    source: str
    licence: str
    loader: Callable[[], pd.DataFrame] = field(compare=False, repr=False)


def _single(name: str, values: np.ndarray, ds: pd.DatetimeIndex) -> pd.DataFrame:
    return pd.DataFrame({"unique_id": name, "ds": ds, "y": np.asarray(values, dtype="float64")})


def _co2() -> pd.DataFrame:
    from statsmodels.datasets import co2

    data = co2.load_pandas().data
    return _single("co2", data["co2"].to_numpy(), pd.DatetimeIndex(data.index))


def _sunspots() -> pd.DataFrame:
    from statsmodels.datasets import sunspots

    data = sunspots.load_pandas().data
    ds = pd.to_datetime(data["YEAR"].astype(int).astype(str), format="%Y")
    return _single("sunspots", data["SUNACTIVITY"].to_numpy(), pd.DatetimeIndex(ds))


def _elec_equip() -> pd.DataFrame:
    from statsmodels.datasets import elec_equip

    data = elec_equip.load_pandas().data
    return _single("elec_equip", data.iloc[:, 0].to_numpy(), pd.DatetimeIndex(data.index))


MACRO_SERIES = ("realgdp", "realcons", "realinv", "cpi", "unemp", "tbilrate")


def _macrodata() -> pd.DataFrame:
    from statsmodels.datasets import macrodata

    data = macrodata.load_pandas().data
    ds = pd.PeriodIndex.from_fields(year=data["year"].astype(int), quarter=data["quarter"].astype(int), freq="Q").to_timestamp()
    return pd.concat([_single(f"macrodata/{c}", data[c].to_numpy(), ds) for c in MACRO_SERIES], ignore_index=True)


def _pmdarima(loader: str, name: str, start: str, freq: str) -> pd.DataFrame:
    import pmdarima.datasets as datasets

    values = getattr(datasets, loader)(as_series=False)
    return _single(name, values, pd.date_range(start, periods=len(values), freq=freq))


DATASETS: dict[str, DatasetInfo] = {
    info.name: info
    for info in [
        DatasetInfo("co2", "W-SAT", 52, "statsmodels.datasets.co2 (Mauna Loa, weekly)", "public domain (NOAA)", _co2),
        DatasetInfo("sunspots", "YS", 11, "statsmodels.datasets.sunspots (yearly)", "public domain", _sunspots),
        DatasetInfo("elec_equip", "MS", 12, "statsmodels.datasets.elec_equip (monthly)", "Eurostat, reuse permitted", _elec_equip),
        DatasetInfo("macrodata", "QS", 4, "statsmodels.datasets.macrodata (quarterly US macro)", "public domain (US gov)", _macrodata),
        DatasetInfo("airpassengers", "MS", 12, "pmdarima.datasets.load_airpassengers (monthly)", "public domain (Box-Jenkins)",
                    lambda: _pmdarima("load_airpassengers", "airpassengers", "1949-01-01", "MS")),
        DatasetInfo("wineind", "MS", 12, "pmdarima.datasets.load_wineind (monthly)", "public (ABS, via R forecast)",
                    lambda: _pmdarima("load_wineind", "wineind", "1980-01-01", "MS")),
        DatasetInfo("taylor", "30min", 48, "pmdarima.datasets.load_taylor (half-hourly electricity)", "public (Taylor 2003, via R forecast)",
                    lambda: _pmdarima("load_taylor", "taylor", "2000-06-05", "30min")),
    ]
}


def load_dataset(name: str) -> pd.DataFrame:
    """A shipped dataset in long format."""
    if name not in DATASETS:
        raise DataError(f"unknown dataset {name!r}; available: {', '.join(DATASETS)}")
    return DATASETS[name].loader()
