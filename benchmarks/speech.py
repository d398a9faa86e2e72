"""Speech benchmark: our recogniser against pocketsphinx, Dutch ASR, and TTS round trips.

    python benchmarks/speech.py                         # train everything on the default/dutch configs
    python benchmarks/speech.py --reuse-asr runs/bench/speech-asr   # score an already trained English ASR run
    python benchmarks/speech.py --quick                 # tiny config, a smoke test of this script

English ASR: trained on the ``default`` config (4,000 sentences, each spoken by 2 of 10
flite/espeak-ng voices); scored on 200 unseen sentences spoken by festival's HTS slt voice
(never heard in training) and by flite slt (heard, but not these sentences). The LM weight and
word bonus of the beam search are chosen on the validation split only. pocketsphinx runs
with its own US-English acoustic model, dictionary and LM, on the same audio.

Dutch ASR: the Fish Fillets NG voice-over, whole game levels held out (``dutch`` config).

TTS: aligner + FastSpeech on flite slt, Griffin-Lim; the 200 test sentences are synthesised
and transcribed by pocketsphinx and by our English ASR, next to the reference voice's own
recordings of the same sentences; MCD against those recordings; real-time factors.

Speeds are given with the fp32 matmul peak measured in the same run, and the recogniser's
achieved GFLOP/s (counted by ``torch.utils.flop_counter``) as a fraction of it.

Writes ``benchmarks/results/speech.json`` and ``speech.md``.
"""

from __future__ import annotations

import argparse
import itertools
import json
import platform
import sys
import time
from dataclasses import replace
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from apps.speech.app import ASR, TTS  # noqa: E402
from apps.speech.audio import SAMPLE_RATE  # noqa: E402
from apps.speech.config import DecodeConfig  # noqa: E402
from apps.speech.data import load_split, pad_audio  # noqa: E402
from apps.speech.evaluate import markdown_table, read_entry_audio  # noqa: E402
from apps.speech.metrics import cer, wer  # noqa: E402
from apps.speech.peers import PocketSphinx  # noqa: E402
from apps.speech.predict import Recognizer, timed_transcribe  # noqa: E402
from benchmarks.core import cpu_name, matmul_peak  # noqa: E402

RESULTS = Path(__file__).parent / "results"
WORK = Path("runs/bench")


def recogniser_gflops(recognizer: Recognizer, audios: list, peak: float) -> dict[str, float]:
    """Achieved GFLOP/s of one batched forward pass over ``audios`` (best of 3), and of it vs ``peak``."""
    from torch.utils.flop_counter import FlopCounterMode

    audio, lengths = pad_audio(audios)
    batch = {"audio": audio, "audio_lengths": lengths}
    with torch.no_grad():
        with FlopCounterMode(display=False) as counter:
            recognizer.model(batch)
        flops = counter.get_total_flops()
        best = float("inf")
        for _ in range(3):
            start = time.perf_counter()
            recognizer.model(batch)
            best = min(best, time.perf_counter() - start)
    gflops = flops / best / 1e9
    return {"forward_gflop": flops / 1e9, "gflops": gflops, "fraction_of_peak": gflops / peak}


def tune_decoding(recognizer: Recognizer, data_dir: str, limit: int = 150) -> dict:
    """LM weight and word bonus chosen on validation utterances (never the test split)."""
    valid = load_split(data_dir, "valid")[:limit]
    audios, refs = [read_entry_audio(e) for e in valid], [e.text for e in valid]
    log_probs = recognizer.log_probs(audios)
    grid = []
    for weight, bonus in itertools.product((0.3, 0.5, 0.8, 1.1), (0.0, 1.0, 2.0, 3.0)):
        recognizer.decode = replace(recognizer.decode, method="beam", use_lm=True, lm_weight=weight, word_bonus=bonus)
        hyps = [recognizer.tokenizer.decode(recognizer.decode_ids(lp)) for lp in log_probs]
        grid.append({"lm_weight": weight, "word_bonus": bonus, "valid_wer": wer(refs, hyps), "valid_cer": cer(refs, hyps)})
        print(f"  lm_weight {weight} word_bonus {bonus}: valid WER {grid[-1]['valid_wer']:.4f}")
    best = min(grid, key=lambda g: (g["valid_wer"], g["valid_cer"]))
    return {"best": best, "grid": grid}


def english_asr(cfg, data_dir: str, model_dir: str, peak: float, train_info: dict) -> dict:
    recognizer = Recognizer.from_folder(model_dir, replace(cfg.decode, method="greedy"))
    tuning = tune_decoding(recognizer, data_dir)
    chosen = DecodeConfig(method="beam", beam_size=cfg.decode.beam_size, use_lm=True,
                          lm_weight=tuning["best"]["lm_weight"], word_bonus=tuning["best"]["word_bonus"])
    variants = {"ours (greedy)": DecodeConfig(method="greedy"),
                "ours (beam, no LM)": DecodeConfig(method="beam", beam_size=cfg.decode.beam_size, use_lm=False),
                "ours (beam + char LM)": chosen}
    rows = []
    groups: dict[str, list] = {}
    for e in load_split(data_dir, "test"):
        groups.setdefault(e.extra["voice"], []).append(e)
    sphinx = PocketSphinx()
    for voice, entries in groups.items():
        audios, refs = [read_entry_audio(e) for e in entries], [e.text for e in entries]
        seconds = sum(len(a) for a in audios) / SAMPLE_RATE
        for name, decode in variants.items():
            recognizer.decode = decode
            hyps, rtf = timed_transcribe(recognizer, audios)
            rows.append({"model": name, "voice": voice, "utterances": len(entries), "wer": wer(refs, hyps),
                         "cer": cer(refs, hyps), "rtf": rtf})
            print(rows[-1])
        start = time.perf_counter()
        hyps = [sphinx.transcribe(a) for a in audios]
        rows.append({"model": "pocketsphinx", "voice": voice, "utterances": len(entries), "wer": wer(refs, hyps),
                     "cer": cer(refs, hyps), "rtf": (time.perf_counter() - start) / seconds})
        print(rows[-1])
    sample = [read_entry_audio(e) for e in next(iter(groups.values()))[:16]]
    return {"rows": rows, "decode_tuning": tuning, "train": train_info, "speed": recogniser_gflops(recognizer, sample, peak)}


def dutch_asr(quick: bool) -> dict:
    cfg = ASR.load_config("dutch", ["train.max_steps=20", "train.valid_limit=20", "data.test_limit=20"] if quick else [])
    data = ASR.prepare(cfg, WORK / "data" / ASR.prepared_dir(cfg).name)
    report = ASR.validate(cfg, data)
    summary = ASR.train(cfg, data, WORK / ("speech-nl-quick" if quick else "speech-nl"))
    trained = _train_info(summary)
    recognizer = Recognizer.from_folder(trained["model_dir"], cfg.decode)
    test = load_split(data, "test")[: cfg.data.test_limit or None]
    audios, refs = [read_entry_audio(e) for e in test], [e.text for e in test]
    rows = []
    for name, decode in (("ours (greedy)", DecodeConfig(method="greedy")), ("ours (beam + char LM)", cfg.decode)):
        recognizer.decode = decode
        hyps, rtf = timed_transcribe(recognizer, audios)
        rows.append({"model": name, "voice": "fillets-nl (held-out levels)", "utterances": len(test),
                     "wer": wer(refs, hyps), "cer": cer(refs, hyps), "rtf": rtf})
        print(rows[-1])
    examples = [{"ref": r, "hyp": h} for r, h in list(zip(refs, hyps, strict=True))[:5]]
    return {"rows": rows, "data": {"hours": _hours(report)}, "train": trained, "examples": examples}


def tts(config: str, data_dir: Path, asr_model: str | None, reuse: str | None, quick: bool) -> dict:
    tts_cfg = TTS.load_config(config, [f"round_trip_asr={asr_model or ''}"])
    if reuse:
        trained = {"model_dir": str(Path(reuse) / "best"), "reused": reuse}
    else:  # both stages: the aligner's RUN/best is FastSpeech's --init
        run = WORK / ("speech-tts-quick" if quick else "speech-tts")
        aligner = TTS.train(tts_cfg, data_dir, run / "align", "align")
        trained = {**_train_info(TTS.train(tts_cfg, data_dir, run / "train", "train", init=aligner.model_dir)),
                   "aligner_seconds": aligner.seconds}
    result = TTS.evaluate(tts_cfg, trained["model_dir"], data_dir, WORK / "speech-tts-evaluate")
    return {"rows": result.table, "train": trained, "plot": result.artifacts["plot"], "samples": result.artifacts["samples"]}


def _train_info(summary) -> dict:
    """A stage's summary with the numbers ``train_summary.json`` keeps beside the run (hours, aligner PER),
    under the names this report uses."""
    extra = json.loads((Path(summary.model_dir).parent / "train_summary.json").read_text())
    return {**extra, "model_dir": summary.model_dir, "val_metric": summary.best_metric, "train_seconds": summary.seconds}


def _hours(report) -> dict:
    """``{"train": 1.2, ...}`` from a DataReport's ``hours`` detail (``train 1.2, valid 0.1, test 0.1``)."""
    return {k: float(v) for k, v in (part.split() for part in report.details["hours"].split(", "))}


COLUMNS = ("voice", "utterances", "wer", "cer", "rtf")
TTS_COLUMNS = ("utterances", "wer_pocketsphinx", "cer_pocketsphinx", "wer_our_asr", "cer_our_asr", "mcd_db", "rtf")


def markdown(r: dict) -> str:
    e = r["english"]
    best = e["decode_tuning"]["best"]
    lines = [
        "# Speech benchmark", "",
        f"Machine: {r['machine']}, {r['threads']} threads; fp32 matmul peak measured in this run: "
        f"**{r['matmul_peak_gflops']:.1f} GFLOP/s**. Command: `{r['command']}`.", "",
        "## English ASR: unseen voice (festival HTS slt) and unseen sentences", "",
        f"Trained {e['train'].get('steps')} steps ({e['train'].get('train_seconds', 0) / 60:.1f} min) on "
        f"{e['train'].get('train_hours')} h of flite/espeak-ng speech. Beam + LM settings chosen on validation: "
        f"LM weight {best['lm_weight']}, word bonus {best['word_bonus']} (valid WER {best['valid_wer']:.3f})."
        + (f" The run was trained by `sextant speech-asr train --config default --run {e['train']['reused']}` "
           "(the same code path) and scored here." if e["train"].get("reused") else ""), "",
        markdown_table(e["rows"], COLUMNS),
        f"Recogniser forward pass: {e['speed']['gflops']:.1f} GFLOP/s, "
        f"{e['speed']['fraction_of_peak']:.0%} of the matmul peak. RTF = compute seconds per audio second.", "",
    ]
    if "dutch" in r:
        d = r["dutch"]
        lines += ["## Dutch ASR: Fish Fillets NG voice-over, held-out game levels", "",
                  f"Train {d['data']['hours']['train']} h, test {d['data']['hours']['test']} h; "
                  f"{d['train']['steps']} steps ({d['train']['train_seconds'] / 60:.1f} min). No offline Dutch peer.", "",
                  markdown_table(d["rows"], COLUMNS)]
    if "tts" in r:
        t = r["tts"]
        lines += ["## TTS: FastSpeech + Griffin-Lim on the flite slt voice, 200 held-out sentences", "",
                  "Round-trip WER: the synthesised audio transcribed by pocketsphinx and by our English ASR; the "
                  "reference row is flite slt's own audio of the same sentences. MCD (dB) against that audio, DTW-aligned.",
                  "", markdown_table(t["rows"], TTS_COLUMNS)]
        tr = t["train"]
        if "steps" in tr:
            lines += [f"Aligner: validation phoneme error rate {tr['aligner_val_per']:.3f}, "
                      f"{(tr['aligner_seconds'] + tr['align_seconds']) / 60:.1f} min with the alignment of "
                      f"{tr['train_hours']} h; FastSpeech: "
                      f"{tr['steps']} steps, {tr['train_seconds'] / 60:.1f} min. The synthesis RTF includes Griffin-Lim.", ""]
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="tiny config: checks the script, not the models")
    parser.add_argument("--reuse-asr", default=None, help="an English ASR run folder (its best/) to score instead of training")
    parser.add_argument("--reuse-tts", default=None, help="a TTS train-stage run folder (its best/) to score instead of training")
    parser.add_argument("--skip", nargs="*", default=[], choices=["dutch", "tts"])
    args = parser.parse_args()
    torch.set_num_threads(2)
    peak = matmul_peak((512,) if args.quick else (1024, 2048, 3072))
    print(f"matmul peak: {peak:.1f} GFLOP/s")
    config = "tiny" if args.quick else "default"
    cfg = ASR.load_config(config)
    data = WORK / "data" / ASR.prepared_dir(cfg).name if args.quick else ASR.prepared_dir(cfg)
    if not ASR.is_prepared(cfg, data):
        ASR.prepare(cfg, data)
    validation = ASR.validate(cfg, data)
    report: dict = {"machine": cpu_name(), "python": platform.python_version(), "threads": torch.get_num_threads(),
                    "matmul_peak_gflops": peak, "command": " ".join(["python benchmarks/speech.py", *sys.argv[1:]]),
                    "data": {**validation.to_dict(), "hours": _hours(validation)}}
    if args.reuse_asr:
        summary = Path(args.reuse_asr) / "train_summary.json"
        asr = {**(json.loads(summary.read_text()) if summary.is_file() else {}),
               "model_dir": str(Path(args.reuse_asr) / "best"), "reused": args.reuse_asr}
    else:
        asr = _train_info(ASR.train(cfg, data, WORK / ("speech-asr-quick" if args.quick else "speech-asr")))
    asr.setdefault("train_hours", report["data"]["hours"]["train"])
    report["english"] = english_asr(cfg, data, asr["model_dir"], peak, asr)
    if "dutch" not in args.skip:
        report["dutch"] = dutch_asr(args.quick)
    if "tts" not in args.skip:
        report["tts"] = tts(config, data, asr["model_dir"], args.reuse_tts, args.quick)
    RESULTS.mkdir(exist_ok=True)
    name = "speech-quick" if args.quick else "speech"
    (RESULTS / f"{name}.json").write_text(json.dumps(report, indent=2, default=str) + "\n")
    (RESULTS / f"{name}.md").write_text(markdown(report))
    print(markdown(report))


def rewrite_markdown() -> None:
    """Re-render ``speech.md`` from ``speech.json`` (after a change to :func:`markdown`)."""
    (RESULTS / "speech.md").write_text(markdown(json.loads((RESULTS / "speech.json").read_text())))


if __name__ == "__main__":
    main()
