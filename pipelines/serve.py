"""Serve the scheduled deployments on this machine (no worker or work pool needed).

    python -m pipelines.serve        # or: sextant serve / sextant-forecast serve

The deployments mirror ``prefect.yaml`` (a test checks names, crons and parameters).
"""

from __future__ import annotations

NIGHTLY = "0 2 * * *"
NIGHTLY_LATE = "0 3 * * *"  # an hour after the forecasting retrain: two trainings never share the cores
NIGHTLY_VISION = "0 4 * * *"  # after molecules, for the same reason
NIGHTLY_SPEECH_ASR = "0 5 * * *"  # after vision; ASR and TTS an hour apart
NIGHTLY_SPEECH_TTS = "0 6 * * *"
NIGHTLY_OCR = "0 7 * * *"
NIGHTLY_SUMMARIZATION = "0 8 * * *"  # after the OCR retrain (about 50 minutes)
HOURLY = "0 * * * *"
HOURLY_VISION = "30 * * * *"
HOURLY_SPEECH = "15 * * * *"
HOURLY_OCR = "45 * * * *"
HOURLY_SUMMARIZATION = "50 * * * *"


def forecasting_deployments() -> list:
    """The forecasting deployments prefect.yaml declares, for ``serve()``."""
    from pipelines.forecasting import batch_forecast, retrain

    return [
        retrain.to_deployment(name="forecasting-nightly-retrain", cron=NIGHTLY,
                              parameters={"config": "default", "registry": "runs/registry"}),
        batch_forecast.to_deployment(name="forecasting-hourly-batch", cron=HOURLY,
                                     parameters={"input_path": "data/incoming/forecasting",
                                                 "output_dir": "runs/forecasting/batch", "registry": "runs/registry"}),
    ]


def molecules_deployments() -> list:
    """The molecules deployment prefect.yaml declares."""
    from pipelines.molecules import retrain

    return [retrain.to_deployment(name="molecules-nightly-retrain", cron=NIGHTLY_LATE,
                                  parameters={"config": "default", "overrides": ["dataset=freesolv", "split=random"],
                                              "registry": "runs/registry"})]


def vision_deployments() -> list:
    """The vision deployments prefect.yaml declares."""
    from pipelines.vision import batch_predict, retrain

    return [
        retrain.to_deployment(name="vision-nightly-retrain", cron=NIGHTLY_VISION,
                              parameters={"config": "default", "registry": "runs/registry"}),
        batch_predict.to_deployment(name="vision-hourly-batch", cron=HOURLY_VISION,
                                    parameters={"input_path": "data/incoming/vision", "output_dir": "runs/vision/batch",
                                                "registry": "runs/registry"}),
    ]


def speech_deployments() -> list:
    """The speech deployments prefect.yaml declares."""
    from pipelines.speech import batch_transcribe, retrain_asr, retrain_tts

    return [
        retrain_asr.to_deployment(name="speech-asr-nightly-retrain", cron=NIGHTLY_SPEECH_ASR,
                                  parameters={"config": "default", "registry": "runs/registry"}),
        retrain_tts.to_deployment(name="speech-tts-nightly-retrain", cron=NIGHTLY_SPEECH_TTS,
                                  parameters={"config": "default", "registry": "runs/registry"}),
        batch_transcribe.to_deployment(name="speech-hourly-transcribe", cron=HOURLY_SPEECH,
                                       parameters={"input_path": "data/incoming/speech",
                                                   "output_dir": "runs/speech/batch", "registry": "runs/registry"}),
    ]


def ocr_deployments() -> list:
    """The OCR deployments prefect.yaml declares."""
    from pipelines.ocr import batch_read, retrain

    return [
        retrain.to_deployment(name="ocr-nightly-retrain", cron=NIGHTLY_OCR,
                              parameters={"config": "default", "registry": "runs/registry"}),
        batch_read.to_deployment(name="ocr-hourly-batch", cron=HOURLY_OCR,
                                 parameters={"input_path": "data/incoming/ocr", "output_dir": "runs/ocr/batch",
                                             "registry": "runs/registry", "page": True, "overlay": True}),
    ]


def summarization_deployments() -> list:
    """The summarization deployments prefect.yaml declares."""
    from pipelines.summarization import batch_summarize, retrain

    return [
        retrain.to_deployment(name="summarization-nightly-retrain", cron=NIGHTLY_SUMMARIZATION,
                              parameters={"config": "default", "registry": "runs/registry"}),
        batch_summarize.to_deployment(name="summarization-hourly-batch", cron=HOURLY_SUMMARIZATION,
                                      parameters={"input_path": "data/incoming/summarization",
                                                  "output_dir": "runs/summarization/batch",
                                                  "registry": "runs/registry"}),
    ]


def all_deployments() -> list:
    return (forecasting_deployments() + molecules_deployments() + vision_deployments() + speech_deployments()
            + ocr_deployments() + summarization_deployments())


def serve_all() -> None:
    """Every scheduled deployment, in this process, until interrupted."""
    from prefect import serve

    serve(*all_deployments())


def serve_forecasting() -> None:
    """Only the forecasting deployments (``sextant-forecast serve``)."""
    from prefect import serve

    serve(*forecasting_deployments())


if __name__ == "__main__":
    serve_all()
