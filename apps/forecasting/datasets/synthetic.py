"""Synthetic series generated on the fly, for pretraining a base model.

Four families, each a function ``(rng, length, season) -> values``:

- :func:`trend_season_noise`: a trend (linear, damped or piecewise) with a seasonal
  profile, added or multiplied, plus noise;
- :func:`kernel_synth`: a draw from a Gaussian process whose kernel is a random
  composition (sums and products) of linear, RBF, periodic, rational-quadratic,
  constant and white-noise kernels, as KernelSynth does (Ansari et al., 2024, Chronos);
- :func:`arima_ets`: a simulated seasonal ARIMA or an ETS (level, trend, season) state
  space model with random, stable parameters;
- :func:`shifts_and_intermittent`: level shifts over a seasonal base, or intermittent
  demand (Bernoulli occurrences with gamma sizes, as Croston's method assumes).

:func:`generate` picks a family and a season; the same ``(seed, index)`` always gives the
same series, so training on these resumes exactly.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

SEASONS = (1, 4, 7, 12, 24, 52)  # none, quarterly, daily-in-week, monthly, hourly-in-day, weekly-in-year


def _seasonal_profile(rng: np.random.Generator, length: int, season: int) -> np.ndarray:
    """A smooth random seasonal pattern (a few harmonics), or zeros for ``season`` 1."""
    if season <= 1:
        return np.zeros(length)
    t = np.arange(length)
    profile = np.zeros(length)
    for k in range(1, int(rng.integers(1, min(4, season // 2 + 1) + 1)) + 1):
        profile += rng.normal(0, 1 / k) * np.sin(2 * np.pi * k * t / season + rng.uniform(0, 2 * np.pi))
    return profile / max(np.abs(profile).max(), 1e-8)


def trend_season_noise(rng: np.random.Generator, length: int, season: int) -> np.ndarray:
    t = np.arange(length) / length
    kind = rng.integers(3)
    if kind == 0:
        trend = rng.normal(0, 1) * t
    elif kind == 1:  # damped: growth that levels off
        trend = rng.normal(0, 1) * (1 - np.exp(-t * rng.uniform(1, 8)))
    else:  # piecewise linear with a change point
        knot = rng.uniform(0.2, 0.8)
        trend = rng.normal(0, 1) * t + rng.normal(0, 1.5) * np.maximum(t - knot, 0)
    season_part = _seasonal_profile(rng, length, season) * rng.uniform(0.1, 1.0)
    noise = rng.normal(0, rng.uniform(0.01, 0.3), length)
    if rng.random() < 0.5:
        return 5 + trend + season_part + noise
    level = np.exp(trend * 0.5)  # multiplicative: the season and noise grow with the level
    return 5 * level * (1 + 0.3 * season_part) * (1 + 0.3 * noise)


def _kernel(rng: np.random.Generator, season: int, length: int) -> Callable[[np.ndarray], np.ndarray]:
    """One random base kernel as a function of the time grid ``t`` (in steps) -> ``[L, L]`` matrix."""
    kind = rng.choice(["linear", "rbf", "periodic", "rq", "constant", "white"], p=[0.15, 0.25, 0.3, 0.15, 0.05, 0.1])
    if kind == "linear":
        c = rng.uniform(0, 1)
        return lambda t: np.outer(t / length - c, t / length - c)
    if kind == "rbf":
        scale = rng.choice([0.02, 0.05, 0.1, 0.3, 1.0]) * length
        return lambda t: np.exp(-((t[:, None] - t[None]) ** 2) / (2 * scale**2))
    if kind == "periodic":
        period = season if season > 1 and rng.random() < 0.7 else rng.choice([4, 7, 12, 24, 30, 52, 90]) * 1.0
        smooth = rng.uniform(0.5, 2.0)
        return lambda t: np.exp(-2 * np.sin(np.pi * np.abs(t[:, None] - t[None]) / period) ** 2 / smooth**2)
    if kind == "rq":
        scale, alpha = rng.choice([0.05, 0.1, 0.3]) * length, rng.uniform(0.5, 5)
        return lambda t: (1 + (t[:, None] - t[None]) ** 2 / (2 * alpha * scale**2)) ** -alpha
    if kind == "constant":
        return lambda t: np.ones((len(t), len(t)))
    sigma = rng.uniform(0.01, 0.2)
    return lambda t: np.eye(len(t)) * sigma**2


def kernel_synth(rng: np.random.Generator, length: int, season: int, max_kernels: int = 4) -> np.ndarray:
    """A GP draw with a random composition of up to ``max_kernels`` base kernels (KernelSynth)."""
    t = np.arange(length, dtype=np.float64)
    cov = _kernel(rng, season, length)(t)
    for _ in range(int(rng.integers(0, max_kernels))):
        other = _kernel(rng, season, length)(t)
        cov = cov + other if rng.random() < 0.5 else cov * other
    cov = cov + np.eye(length) * 1e-6
    try:
        chol = np.linalg.cholesky(cov)
    except np.linalg.LinAlgError:
        eigval, eigvec = np.linalg.eigh(cov)
        chol = eigvec * np.sqrt(np.clip(eigval, 0, None))
    return 5 + chol @ rng.normal(size=length)


def _stable_coefficients(rng: np.random.Generator, order: int) -> np.ndarray:
    """AR (or MA) coefficients whose characteristic roots lie inside the unit circle."""
    if order == 0:
        return np.zeros(0)
    pairs = rng.uniform(0.1, 0.9, order // 2) * np.exp(1j * rng.uniform(0, np.pi, order // 2))
    roots = np.concatenate([pairs, pairs.conj(), rng.uniform(-0.9, 0.9, order % 2)])  # real polynomial
    poly = np.real(np.poly(roots))  # z^p + c_1 z^(p-1) + ... + c_p, so phi_k = -c_k
    return -poly[1:]


def arima_ets(rng: np.random.Generator, length: int, season: int) -> np.ndarray:
    burn = 50
    n = length + burn
    if rng.random() < 0.5:  # seasonal ARIMA(p, d, q)(P, 0, 0)_m by direct recursion
        phi = _stable_coefficients(rng, int(rng.integers(0, 3)))
        theta = _stable_coefficients(rng, int(rng.integers(0, 3)))
        seasonal_phi = rng.uniform(0.3, 0.9) if season > 1 and rng.random() < 0.7 else 0.0
        e = rng.normal(size=n)
        x = np.zeros(n)
        for i in range(n):
            ar = sum(phi[k] * x[i - k - 1] for k in range(len(phi)) if i - k - 1 >= 0)
            ma = sum(theta[k] * e[i - k - 1] for k in range(len(theta)) if i - k - 1 >= 0)
            sar = seasonal_phi * x[i - season] if season > 1 and i >= season else 0.0
            x[i] = ar + ma + sar + e[i]
        for _ in range(int(rng.choice([0, 0, 1, 1, 2], p=[0.3, 0.2, 0.2, 0.2, 0.1]))):
            x = np.cumsum(x) / np.sqrt(n)  # integrate (scaled so the series stays in range)
        return 5 + x[burn:] / max(np.std(x[burn:]), 1e-8)
    # ETS(A, Ad, A): level, damped trend and additive season, with random smoothing weights
    alpha, beta, gamma, damp = rng.uniform(0.05, 0.6), rng.uniform(0, 0.2), rng.uniform(0, 0.3), rng.uniform(0.8, 1.0)
    level, trend = 5.0, rng.normal(0, 0.05)
    seasonal = list(_seasonal_profile(rng, max(season, 1), season)) if season > 1 else [0.0]
    sigma = rng.uniform(0.05, 0.3)
    out = np.zeros(n)
    for i in range(n):
        s = seasonal[i % len(seasonal)]
        error = rng.normal(0, sigma)
        out[i] = level + damp * trend + s + error
        level, trend = level + damp * trend + alpha * error, damp * trend + beta * error
        seasonal[i % len(seasonal)] = s + gamma * error
    return out[burn:]


def shifts_and_intermittent(rng: np.random.Generator, length: int, season: int) -> np.ndarray:
    if rng.random() < 0.5:  # intermittent demand: mostly zeros, gamma-sized when it occurs
        p = rng.uniform(0.05, 0.6)
        sizes = rng.gamma(rng.uniform(0.5, 3), rng.uniform(1, 10), length)
        return np.where(rng.random(length) < p, np.round(sizes), 0.0)
    base = 5 + _seasonal_profile(rng, length, season) * rng.uniform(0, 0.5) + rng.normal(0, rng.uniform(0.05, 0.3), length)
    shifts = np.zeros(length)
    for _ in range(int(rng.integers(1, 4))):
        shifts[int(rng.integers(1, length)):] += rng.normal(0, 2)
    return base + shifts


FAMILIES: dict[str, Callable[[np.random.Generator, int, int], np.ndarray]] = {
    "trend_season_noise": trend_season_noise,
    "kernel_synth": kernel_synth,
    "arima_ets": arima_ets,
    "shifts_and_intermittent": shifts_and_intermittent,
}


def generate(seed: int, index: int, length: int = 256) -> tuple[np.ndarray, int, str]:
    """Series ``index`` of stream ``seed``: ``(float32 values, season length, family name)``.
    Pure in ``(seed, index, length)``. Values are rescaled to a random level and scale, so the
    model's instance normalisation sees the range real series span."""
    rng = np.random.default_rng([seed, index])
    family = list(FAMILIES)[int(rng.integers(len(FAMILIES)))]
    season = int(rng.choice(SEASONS))
    values = FAMILIES[family](rng, length, season)
    values = values * 10 ** rng.uniform(-1, 3) if family != "shifts_and_intermittent" else values
    return values.astype(np.float32), season, family
