"""Speech flows: the template filled with the speech app's steps, one pipeline each for ASR and TTS."""

from __future__ import annotations

from typing import Any

from prefect import flow

from apps.speech import steps
from pipelines.template import DomainPipeline, data_to_model, register_pipeline, run_batch
from shared.registry import ModelRegistry

RECIPES = ("apps.speech.corpus", "apps.speech.synth", "apps.speech.fillets", "apps.speech.text", "apps.speech.steps")


def _cfg(params: dict[str, Any], task: str):
    return steps.config(params.get("config", "default"), [*(params.get("overrides") or []), f"task={task}"])


def _transcribe(params: dict[str, Any], model_dir: str, input_path: str, output_dir: str) -> dict:
    return steps.transcribe_path(model_dir, input_path, output_dir, params.get("align", False), progress=False)


SPEECH_ASR = register_pipeline(DomainPipeline(
    name="speech-asr",
    ingest=lambda p: steps.prepare_data(_cfg(p, "asr"), p.get("data_dir"), progress=False),
    validate=lambda p, data: steps.validate_data(_cfg(p, "asr"), data),
    train=lambda p, data, run_dir: steps.train_model(_cfg(p, "asr"), data, run_dir),
    evaluate=lambda p, model, data, out: steps.evaluate_model(_cfg(p, "asr"), model, data, out),
    batch_infer=_transcribe,
    metric="wer",
    mode="min",
    recipe_modules=RECIPES,
))

SPEECH_TTS = register_pipeline(DomainPipeline(
    name="speech-tts",
    ingest=lambda p: steps.prepare_data(_cfg(p, "tts"), p.get("data_dir"), progress=False),
    validate=lambda p, data: steps.validate_data(_cfg(p, "tts"), data),
    train=lambda p, data, run_dir: steps.train_model(_cfg(p, "tts"), data, run_dir),
    evaluate=lambda p, model, data, out: steps.evaluate_model(_cfg(p, "tts"), model, data, out),
    batch_infer=lambda p, model, inp, out: steps.synthesize_path(model, inp, out, progress=False),
    metric="wer_pocketsphinx",
    mode="min",
    recipe_modules=RECIPES,
))


@flow(name="speech-asr-retrain", log_prints=True)
def retrain_asr(config: str = "default", overrides: list[str] | None = None, data_dir: str | None = None,
                run_root: str = "runs/speech-asr", registry: str = "runs/registry", batch_input: str | None = None) -> dict:
    """Prepare speech, validate, train the recogniser, compare with pocketsphinx, register (champion if
    its test WER is lower), and optionally transcribe the audio under ``batch_input`` with the champion."""
    params = {"config": config, "overrides": overrides or [], "data_dir": data_dir}
    return data_to_model("speech-asr", params, run_root, registry, batch_input)


@flow(name="speech-tts-retrain", log_prints=True)
def retrain_tts(config: str = "default", overrides: list[str] | None = None, data_dir: str | None = None,
                run_root: str = "runs/speech-tts", registry: str = "runs/registry", batch_input: str | None = None) -> dict:
    """Prepare speech, train the aligner and FastSpeech, score round-trip WER and MCD against the reference
    voice, register (champion if better), and optionally speak the texts under ``batch_input``."""
    params = {"config": config, "overrides": overrides or [], "data_dir": data_dir}
    return data_to_model("speech-tts", params, run_root, registry, batch_input)


@flow(name="speech-batch-transcribe", log_prints=True)
def batch_transcribe(input_path: str, output_dir: str, dataset: str = "english", registry: str = "runs/registry",
                     model: str = "champion", align: bool = False, dask: str | None = None) -> dict:
    """Transcribe every audio file under ``input_path`` with a registered model (resumable; bad files are error rows).
    ``dask``: fan the shards out over Dask ("local", or a scheduler address; see pipelines/fanout.py)."""
    entry = ModelRegistry(registry).verified(f"speech-asr-{dataset}", model)
    return run_batch("speech-asr", {"align": align}, str(entry.path), input_path, output_dir, dask)
