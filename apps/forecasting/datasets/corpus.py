"""More real series from installed packages, for pretraining a base model (not in the benchmark).

Each entry is a :class:`~apps.forecasting.datasets.DatasetInfo` (frequency, season, source,
licence) like the shipped benchmark datasets, but none of them is one of those seven or
another view of the same measurements (pmdarima's monthly sunspots and the unused
macrodata columns are left out for that reason), so a base model pretrained on this
corpus has not seen a benchmark series.

pmdarima's ``ausbeer``, ``woolyrnq``, ``lynx``, ``austres`` and ``heartrate`` are reserved
for independent evaluation and never loaded here.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from apps.forecasting.datasets import DatasetInfo, _single

MONTHS = ("JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC")


def _nile() -> pd.DataFrame:
    from statsmodels.datasets import nile

    data = nile.load_pandas().data
    return _single("nile", data["volume"].to_numpy(), pd.date_range(f"{int(data['year'].iloc[0])}", periods=len(data), freq="YS"))


def _elnino() -> pd.DataFrame:
    from statsmodels.datasets import elnino

    data = elnino.load_pandas().data
    values = data[list(MONTHS)].to_numpy().ravel()  # year by year, January to December
    return _single("elnino", values, pd.date_range(f"{int(data['YEAR'].iloc[0])}-01-01", periods=len(values), freq="MS"))


def _interest_inflation() -> pd.DataFrame:
    from statsmodels.datasets import interest_inflation

    data = interest_inflation.load_pandas().data
    ds = pd.PeriodIndex.from_fields(year=data["year"].astype(int), quarter=data["quarter"].astype(int), freq="Q").to_timestamp()
    return pd.concat([_single(f"interest_inflation/{c}", data[c].to_numpy(), ds) for c in ("Dp", "R")], ignore_index=True)


def _danish_data() -> pd.DataFrame:
    from statsmodels.datasets import danish_data

    data = danish_data.load_pandas().data
    ds = pd.date_range(pd.Timestamp(data.index[0]), periods=len(data), freq="QS")
    return pd.concat([_single(f"danish_data/{c}", data[c].to_numpy(), ds) for c in data.columns], ignore_index=True)


def _fertility() -> pd.DataFrame:
    """World Bank fertility rates, one series per country (years with no value dropped at the ends)."""
    from statsmodels.datasets import fertility

    data = fertility.load_pandas().data
    years = [c for c in data.columns if str(c).isdigit()]
    frames = []
    for _, row in data.iterrows():
        values = pd.Series(row[years].to_numpy(dtype="float64"), index=pd.to_datetime(years, format="%Y"))
        values = values.loc[values.first_valid_index() : values.last_valid_index()] if values.notna().any() else values.iloc[:0]
        if len(values) and values.notna().all():
            frames.append(_single(f"fertility/{row['Country Code']}", values.to_numpy(), pd.DatetimeIndex(values.index)))
    return pd.concat(frames, ignore_index=True)


def _msft() -> pd.DataFrame:
    """Microsoft's daily close and volume (trading days, numbered as business days)."""
    import pmdarima.datasets as datasets

    data = datasets.load_msft()
    ds = pd.bdate_range(pd.Timestamp(data["Date"].iloc[0]), periods=len(data))
    return pd.concat([_single("msft/close", data["Close"].to_numpy(), ds),
                      _single("msft/volume", np.log1p(data["Volume"].to_numpy(dtype="float64")), ds)], ignore_index=True)


def _stocks() -> pd.DataFrame:
    """Monthly closes of 10 tickers and indices, 1990-2022, from matplotlib's sample data."""
    import matplotlib

    path = Path(matplotlib.get_data_path()) / "sample_data" / "Stocks.csv"
    data = pd.read_csv(path, comment="#", parse_dates=["Date"]).set_index("Date")
    frames = []
    for ticker in data.columns:
        values = data[ticker].dropna()
        frames.append(_single(f"stocks/{ticker}", values.to_numpy(), pd.DatetimeIndex(values.index)))
    return pd.concat(frames, ignore_index=True)


CORPUS: dict[str, DatasetInfo] = {
    info.name: info
    for info in [
        DatasetInfo("nile", "YS", 1, "statsmodels.datasets.nile (yearly Nile flow, 1871-1970)", "public domain", _nile),
        DatasetInfo("elnino", "MS", 12, "statsmodels.datasets.elnino (monthly Nino 1+2 sea surface temperature, NOAA)",
                    "public domain (NOAA)", _elnino),
        DatasetInfo("interest_inflation", "QS", 4, "statsmodels.datasets.interest_inflation (German quarterly, JMulTi)",
                    "as shipped with statsmodels (BSD-3); statsmodels states no separate copyright", _interest_inflation),
        DatasetInfo("danish_data", "QS", 4, "statsmodels.datasets.danish_data (Johansen and Juselius money demand)",
                    "public domain", _danish_data),
        DatasetInfo("fertility", "YS", 1, "statsmodels.datasets.fertility (World Bank, births per woman by country)",
                    "World Bank terms of use (statsmodels' COPYRIGHT note)", _fertility),
        DatasetInfo("msft", "B", 5, "pmdarima.datasets.load_msft (daily close and log volume, 1986-2017, Kaggle)",
                    "shipped with pmdarima (MIT); from a Kaggle stock dataset (its docstring)", _msft),
        DatasetInfo("stocks", "MS", 12, "matplotlib sample_data/Stocks.csv (monthly closes, Yahoo Finance)",
                    "shipped with matplotlib (its licence); data from Yahoo Finance (the file's header)", _stocks),
    ]
}


MIN_LENGTH = 24  # shorter series (a few countries' fertility records) give too few windows to keep


def load_corpus(names: list[str] | None = None) -> pd.DataFrame:
    """The corpus (or the named parts of it) in long format, with a ``dataset`` column; series
    shorter than :data:`MIN_LENGTH` are left out."""
    chosen = list(CORPUS) if names is None else names
    unknown = sorted(set(chosen) - set(CORPUS))
    if unknown:
        raise KeyError(f"not in the corpus: {', '.join(unknown)}; available: {', '.join(CORPUS)}")
    frame = pd.concat([CORPUS[n].loader().assign(dataset=n) for n in chosen], ignore_index=True)
    lengths = frame.groupby("unique_id")["y"].transform("size")
    return frame[lengths >= MIN_LENGTH].reset_index(drop=True)
