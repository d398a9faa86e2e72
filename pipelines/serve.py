"""Serve the scheduled deployments on this machine (no worker or work pool needed).

    python -m pipelines.serve        # or: sextant serve / sextant-forecast serve
"""

from __future__ import annotations

NIGHTLY = "0 2 * * *"
HOURLY = "0 * * * *"


def forecasting_deployments() -> list:
    """The same two deployments prefect.yaml declares, for ``serve()``."""
    from pipelines.forecasting import batch_forecast, retrain

    return [
        retrain.to_deployment(name="forecasting-nightly-retrain", cron=NIGHTLY,
                              parameters={"config": "default", "registry": "runs/registry"}),
        batch_forecast.to_deployment(name="forecasting-hourly-batch", cron=HOURLY,
                                     parameters={"input_path": "data/incoming/forecasting",
                                                 "output_dir": "runs/forecasting/batch", "registry": "runs/registry"}),
    ]


def serve_forecasting() -> None:
    from prefect import serve

    serve(*forecasting_deployments())


if __name__ == "__main__":
    serve_forecasting()
