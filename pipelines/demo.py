"""`make demo`: every domain's pipeline from nothing, in Prefect's local mode.

Each runs the full template (ingest, validate, train, evaluate against the
peers, register, batch-infer) on its `demo` config and prints its table and
where to look.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import pandas as pd


def _write_batch_input(path: Path, datasets: list[str]) -> Path:
    """The demo datasets as one long CSV, plus one broken series to show error rows."""
    from apps.forecasting.data import load_dataset

    frames = [load_dataset(name) for name in datasets]
    broken = frames[0].head(30).copy()
    broken["unique_id"] = "broken/duplicate-timestamps"
    broken.loc[broken.index[5], "ds"] = broken["ds"].iloc[4]
    path.parent.mkdir(parents=True, exist_ok=True)
    pd.concat([*frames, broken], ignore_index=True).to_csv(path, index=False)
    return path


def run_demo(out: str = "runs/demo") -> int:
    """Every domain's demo pipeline, one after another."""
    root = Path(out).resolve()
    forecasting_demo(root)
    molecules_demo(root)
    vision_demo(root)
    speech_demo(root)
    ocr_demo(root)
    summarization_demo(root)
    return 0


def molecules_demo(root: Path) -> None:
    from apps.molecules import steps
    from pipelines.molecules import retrain

    cfg = steps.config("demo")
    batch_input = root / "incoming" / "molecules.csv"
    batch_input.parent.mkdir(parents=True, exist_ok=True)
    pd.DataFrame({"smiles": ["CCO", "c1ccccc1O", "CC(=O)Nc1ccc(O)cc1", "definitely-not-smiles", "ClC(Cl)Cl"]}).to_csv(
        batch_input, index=False)
    print(f"\n# Molecules demo: graph transformer on {cfg.dataset} ({cfg.split} split) vs random forests")
    start = time.perf_counter()
    summary = retrain(config="demo", data_dir=str(root / "data" / "molecules"), run_root=str(root / "molecules"),
                      registry=str(root / "registry"), batch_input=str(batch_input))
    table = json.loads((Path(summary["run_dir"]) / "evaluate" / "metrics.json").read_text())
    print("\n| model | RMSE (kcal/mol) | MAE | R² |\n|---|---:|---:|---:|")
    for row in table:
        print(f"| {row['model']} | {row['rmse']:.3f} | {row['mae']:.3f} | {row['r2']:.3f} |")
    reg, batch = summary["registered"], summary.get("batch", {})
    print(f"\nRegistry: {reg['name']} {reg['version']} ({reg['reason']}). Batch predict: {batch.get('line', 'skipped')}")
    print(f"Finished in {(time.perf_counter() - start) / 60:.1f} min. Where to look:")
    print(f"  metrics          {Path(summary['run_dir']) / 'evaluate' / 'metrics.json'}")
    if summary.get("plot"):
        print(f"  best/worst grid  {summary['plot']}")
    print(f"  model folder     {summary['trained']['model_dir']}")
    print(f"  predictions      {batch.get('output_dir')}  (shards, errors.jsonl with the invalid SMILES)")


def forecasting_demo(root: Path) -> None:
    from apps.forecasting import steps
    from pipelines.forecasting import retrain

    cfg = steps.config("demo")
    batch_input = _write_batch_input(root / "incoming" / "series.csv", cfg.data.datasets)
    print(f"Forecasting demo: {', '.join(cfg.data.datasets)}; {cfg.train.max_steps} training steps, "
          f"peers {', '.join(cfg.peers)}. Prefect runs in local mode (the first start takes ~20 s).")
    start = time.perf_counter()
    summary = retrain(config="demo", data_dir=str(root / "data"), run_root=str(root / "forecasting"),
                      registry=str(root / "registry"), batch_input=str(batch_input))
    minutes = (time.perf_counter() - start) / 60
    print(f"\n## Held-out backtest (MASE, lower is better; {cfg.data.n_windows} windows of {cfg.data.horizon} steps)\n")
    print(Path(summary["metrics_md"]).read_text())
    ours, peer = summary["ours"], summary["best_peer_scores"] or {}
    verdict = "beats" if ours["mase"] < peer.get("mase", float("inf")) else "does not beat"
    print(f"Ours: mean MASE {ours['mase']:.3f}, 80% interval coverage {ours['coverage80']:.0%}; "
          f"it {verdict} the best peer ({summary['best_peer']}, {peer.get('mase', float('nan')):.3f}).")
    reg = summary["registered"]
    print(f"Registry: {reg['version']} {'promoted to champion' if reg['promoted'] else 'kept as challenger'} ({reg['reason']}).")
    batch = summary.get("batch", {})
    print(f"Batch forecast: {batch.get('line', 'skipped')}")
    print(f"\nFinished in {minutes:.1f} min. Where to look:")
    print(f"  metrics table   {summary['metrics_md']}  (+ metrics.json, windows.csv)")
    print(f"  backtest plot   {summary['plot']}")
    print(f"  model folder    {summary['trained']['model_dir']}")
    print(f"  registry        {root / 'registry' / 'forecasting'}")
    if batch:
        print(f"  forecasts       {batch.get('output_dir')}  (shards, errors.jsonl, forecast.png)")
    print("  Prefect         artifacts 'forecasting-metrics' and 'forecasting-plot' on the flow run")
    (root / "summary.json").write_text(json.dumps(summary, indent=2, default=str) + "\n")


def _write_vision_batch_input(folder: Path) -> Path:
    """The whole 16-bit StarDist image (the tiles' source), an unlabelled scikit-image
    microscopy picture, and a truncated file that must become an error row."""
    import shutil

    from apps.vision.nuclei import stardist_files
    from shared.package_data import package_dir

    folder.mkdir(parents=True, exist_ok=True)
    shutil.copy(stardist_files()[0], folder / "stardist_full_16bit.tif")
    shutil.copy(package_dir("skimage") / "data" / "cell.png", folder / "skimage_cell.png")
    (folder / "truncated.png").write_bytes((folder / "skimage_cell.png").read_bytes()[:400])
    return folder


def vision_demo(root: Path) -> None:
    from apps.vision import steps
    from pipelines.vision import retrain

    cfg = steps.config("demo")
    batch_input = _write_vision_batch_input(root / "incoming" / "vision")
    print(f"\n# Vision demo: nuclei instances, boxes and masks from one transformer ({cfg.train.max_steps} steps) "
          "vs Otsu + watershed")
    start = time.perf_counter()
    summary = retrain(config="demo", data_dir=str(root / "data" / "vision"), run_root=str(root / "vision"),
                      registry=str(root / "registry"), batch_input=str(batch_input))
    evaluate = Path(summary["run_dir"]) / "evaluate"
    print("\nHeld-out test tiles (spatially disjoint from training; higher is better):\n")
    print((evaluate / "metrics.md").read_text())
    reg, batch = summary["registered"], summary.get("batch", {})
    print(f"Registry: {reg['name']} {reg['version']} ({reg['reason']}). Batch predict: {batch.get('line', 'skipped')}")
    print(f"Finished in {(time.perf_counter() - start) / 60:.1f} min. Where to look:")
    print(f"  metrics table    {evaluate / 'metrics.md'}  (+ metrics.json)")
    print(f"  test overlays    {summary['plot']}  (input | ground truth | ours | Otsu + watershed)")
    print(f"  model folder     {summary['trained']['model_dir']}")
    if batch:
        print(f"  batch outputs    {batch.get('output_dir')}/overlays/, masks/, instances/, detections.coco.json, "
              "errors.jsonl")


def _write_speech_batch_input(folder: Path, data_dir: str) -> Path:
    """Two held-out clips (one resampled to 44.1 kHz stereo), a corrupt file and a silent one."""
    import numpy as np
    import soundfile as sf

    from apps.speech.audio import read_audio, resample, write_wav
    from apps.speech.steps import load_split

    folder.mkdir(parents=True, exist_ok=True)
    first, second = load_split(data_dir, "test")[:2]
    write_wav(folder / "clip.wav", read_audio(first.audio_filepath))
    stereo = resample(read_audio(second.audio_filepath), 16000, 44100)
    sf.write(folder / "clip_44k_stereo.flac", np.stack([stereo, stereo], 1), 44100)
    (folder / "corrupt.wav").write_bytes(b"RIFF\x00\x00\x00\x00WAVEjunk")
    write_wav(folder / "silence.wav", np.zeros(16000, np.float32))
    return folder


def speech_demo(root: Path) -> None:
    """ASR only: TTS (aligner + FastSpeech, ~4.5 min more) is one command away, printed at the end, so that
    the whole demo stays within 15 minutes on 2 cores."""
    from apps.speech import steps
    from pipelines.speech import retrain_asr

    cfg = steps.config("demo")
    data_root = root / "data" / "speech"
    print(f"\n# Speech demo: ASR ({cfg.asr.train.max_steps} steps) vs pocketsphinx, on speech generated by flite, "
          "festival and espeak-ng")
    start = time.perf_counter()
    data_dir = steps.prepare_data(cfg, data_root, progress=False)
    batch_input = _write_speech_batch_input(root / "incoming" / "speech", data_dir)
    asr = retrain_asr(config="demo", data_dir=str(data_root), run_root=str(root / "speech-asr"),
                      registry=str(root / "registry"), batch_input=str(batch_input))
    evaluate = Path(asr["run_dir"]) / "evaluate"
    print("\nHeld-out test sentences; festival-hts-slt is a voice never heard in training (lower is better):\n")
    print((evaluate / "metrics.md").read_text())
    print(f"(a short demo run: the default config, benchmarks/speech.py, trains {steps.config().asr.train.max_steps} "
          "steps on 10x the data)")
    reg, batch = asr["registered"], asr.get("batch", {})
    print(f"Registry: {reg['name']} {reg['version']} ({reg['reason']}). Batch transcribe: {batch.get('line', 'skipped')}")
    print(f"Finished in {(time.perf_counter() - start) / 60:.1f} min. Where to look:")
    print(f"  ASR metrics      {evaluate / 'metrics.md'}  (+ metrics.json, test_spectrogram.png)")
    print(f"  transcripts      {batch.get('output_dir')}/transcripts.jsonl  (errors.jsonl: corrupt and silent files)")
    print(f"  model folder     {asr['trained']['model_dir']}")
    print(f"  TTS (~4.5 min)   sextant-speech train --task tts --config demo --data {data_root} --run runs/speech-tts")
    print(f"                   sextant-speech evaluate --task tts --config demo --data {data_root} "
          f"--model runs/speech-tts/tts/best --set round_trip_asr={asr['trained']['model_dir']}")


def _write_ocr_batch_input(folder: Path, data_dir: str) -> Path:
    """A page of held-out test lines (skewed 2 degrees) and a corrupt image that must become an error row."""
    import numpy as np

    from apps.ocr.images import read_image, write_png
    from apps.ocr.page import compose_page
    from apps.ocr.steps import load_split

    folder.mkdir(parents=True, exist_ok=True)
    rows = [r for r in load_split(data_dir, "test") if r.group == "training fonts"][:5]
    page = compose_page([read_image(r.image) for r in rows], np.random.default_rng(0), skew_degrees=2.0)
    write_png(folder / "page.png", page.image)
    (folder / "page.txt").write_text("\n".join(r.text for r in rows) + "\n")
    (folder / "corrupt.png").write_bytes(b"\x89PNG\r\n\x1a\nnot an image")
    return folder


def ocr_demo(root: Path) -> None:
    from apps.ocr import steps
    from pipelines.ocr import retrain

    cfg = steps.config("demo")
    data_root = root / "data" / "ocr"
    print(f"\n# OCR demo: handwriting lines ({cfg.fit.train.max_steps} steps) vs tesseract, on Debian handwriting "
          "fonts and real MNIST/UCI digits")
    start = time.perf_counter()
    data_dir = steps.prepare_data(cfg, data_root, progress=False)
    batch_input = _write_ocr_batch_input(root / "incoming" / "ocr", data_dir)
    summary = retrain(config="demo", data_dir=str(data_root), run_root=str(root / "ocr"), registry=str(root / "registry"),
                      batch_input=str(batch_input), page=True)
    evaluate = Path(summary["run_dir"]) / "evaluate"
    print(f"\nHeld-out test lines; {', '.join(cfg.rendered.held_out)} are font families never seen in training "
          "(lower CER is better):\n")
    print((evaluate / "metrics.md").read_text())
    print(f"(a short demo run: the default config, benchmarks/ocr.py, trains {steps.config().fit.train.max_steps} steps)")
    reg, batch = summary["registered"], summary.get("batch", {})
    print(f"Registry: {reg['name']} {reg['version']} ({reg['reason']}). Batch read (page mode): "
          f"{batch.get('line', 'skipped')}")
    print(f"Finished in {(time.perf_counter() - start) / 60:.1f} min. Where to look:")
    print(f"  metrics table    {evaluate / 'metrics.md'}  (+ metrics.json)")
    print(f"  test lines       {summary['plot']}  (each line, our reading and confidence, the reference)")
    if batch:
        print(f"  page reading     {batch.get('output_dir')}/lines.jsonl and overlays/page.png "
              "(errors.jsonl: the corrupt image)")
    print(f"  model folder     {summary['trained']['model_dir']}")


def _write_summarization_batch_input(path: Path) -> Path:
    """Three research abstracts, a long Wikipedia article, an empty document and a line of bad bytes."""
    from apps.summarization.data import abstract_pairs
    from apps.summarization.wiki import article_pairs
    from shared.given_data import shared_data_dir

    docs = [(p.id, p.document) for p in abstract_pairs(shared_data_dir())[:3]]
    docs += [(a["id"], a["document"]) for a in article_pairs()[:1]]
    path.parent.mkdir(parents=True, exist_ok=True)
    lines = [json.dumps({"id": doc_id, "document": text}).encode() for doc_id, text in docs]
    lines += [b'{"id": "empty", "document": ""}', b'{"id": "latin-1", "document": "caf\xe9"}']
    path.write_bytes(b"\n".join(lines) + b"\n")
    return path


def summarization_demo(root: Path) -> None:
    from apps.summarization import steps
    from pipelines.summarization import retrain

    cfg = steps.config("demo")
    data_root = root / "data" / "summarization"
    print(f"\n# Summarization demo: gap-sentence pretraining ({cfg.fit.pretrain.max_steps} steps) and fine-tuning "
          f"({cfg.fit.finetune.max_steps} steps) on Debian descriptions, vs lead-k, LexRank, TextRank and LSA")
    start = time.perf_counter()
    summary = retrain(config="demo", data_dir=str(data_root), run_root=str(root / "summarization"),
                      registry=str(root / "registry"),
                      batch_input=str(_write_summarization_batch_input(root / "incoming" / "summarization.jsonl")))
    evaluate = Path(summary["run_dir"]) / "evaluate"
    print(f"\nROUGE F1 x 100 on the first {cfg.test_limit} documents of each test set (higher is better); "
          "`test` is the Debian test split, `abstracts` abstract -> title, `wikipedia` long article -> lead:\n")
    print((evaluate / "metrics.md").read_text())
    print("(a short demo run: the default config, benchmarks/summarization.py, trains a larger model much longer)")
    reg, batch = summary["registered"], summary.get("batch", {})
    print(f"Registry: {reg['name']} {reg['version']} ({reg['reason']}). Batch summarize: {batch.get('line', 'skipped')}")
    print(f"Finished in {(time.perf_counter() - start) / 60:.1f} min. Where to look:")
    print(f"  metrics table    {evaluate / 'metrics.md'}  (+ metrics.json)")
    print(f"  ROUGE-L chart    {summary['plot']}")
    print(f"  sample summaries {evaluate / 'samples.md'}")
    if batch:
        print(f"  batch summaries  {batch.get('output_dir')}/summaries.jsonl (errors.jsonl: the empty and non-UTF-8 documents)")
    print(f"  model folder     {summary['trained']['model_dir']}")
