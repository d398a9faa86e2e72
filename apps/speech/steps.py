"""The speech app's pipeline steps, shared by the CLI and the Prefect flows.

A prepared dataset is a folder with ``dataset.json`` and NeMo-style manifests
``train.jsonl``, ``valid.jsonl`` and ``test.jsonl`` (each row may name its ``voice``).
The generated English set adds ``tts_train.jsonl``/``tts_valid.jsonl`` (the TTS voice
speaking training and validation sentences) and ``lm.txt`` (text for the character LM,
never a validation or test sentence).
"""

from __future__ import annotations

import hashlib
import json
import random
import time
from pathlib import Path

import numpy as np

from apps.speech.asr import fit_asr
from apps.speech.audio import SAMPLE_RATE, read_audio, write_wav
from apps.speech.batch import synthesize_paths, transcribe_paths
from apps.speech.config import SpeechConfig, load_speech_config
from apps.speech.corpus import english_sentences, sentence_splits, shared_data_dir
from apps.speech.data import Utterance, utterances
from apps.speech.fillets import build_fillets_set
from apps.speech.manifest import ManifestEntry, read_manifest
from apps.speech.metrics import cer, mel_cepstral_distortion, wer
from apps.speech.peers import PocketSphinx
from apps.speech.plots import spectrogram_png
from apps.speech.recognize import DecodeConfig, Recognizer, timed_transcribe
from apps.speech.synth import build_speech_set
from apps.speech.tts import Synthesizer, fit_tts
from shared.atomic import atomic_write_bytes, atomic_write_text
from shared.errors import ConfigError, DataError
from shared.paths import config_path
from shared.reporting import markdown_table as format_table

SPLITS = ("train", "valid", "test")
PEERS = ("pocketsphinx",)


def config(name: str = "default", overrides: list[str] | None = None) -> SpeechConfig:
    return load_speech_config(name, overrides)


def dataset_key(cfg: SpeechConfig) -> str:
    if cfg.dataset == "english":
        e = cfg.english
        return (f"english-d{e.max_documents}-{e.train_sentences}-{e.valid_sentences}-{e.test_sentences}-{e.lm_sentences}-"
                f"{e.tts_sentences}-{e.voices_per_sentence}-{len(e.train_voices)}v-s{e.seed}")
    if cfg.dataset == "fillets":
        return f"fillets-{cfg.fillets.language}-s{cfg.fillets.seed}"
    if cfg.dataset == "manifest":
        spec = json.dumps({k: str(config_path(v, f"manifests.{k}")) for k, v in sorted(cfg.manifests.items())})
        return f"manifest-{hashlib.sha256(spec.encode()).hexdigest()[:10]}"
    raise DataError(f"unknown dataset {cfg.dataset!r}; use english, fillets or manifest")


def prepared_dir(cfg: SpeechConfig, data_root: str | Path | None = None) -> Path:
    return Path(data_root or cfg.cache_dir) / dataset_key(cfg)


def _english_jobs(cfg: SpeechConfig) -> tuple[dict[str, list[tuple[str, list[str]]]], list[str]]:
    """Which voice speaks which sentence in each split, and the LM text."""
    e = cfg.english
    if e.voices_per_sentence > len(e.train_voices):
        raise ConfigError("voices_per_sentence is larger than the number of training voices")
    unseen = sorted(set(e.test_voices) - set(e.train_voices))
    sentences = english_sentences(shared_data_dir(), e.max_documents or None)
    sizes = {"valid": e.valid_sentences, "test": e.test_sentences, "train": e.train_sentences, "lm": e.lm_sentences}
    if sum(sizes.values()) > len(sentences):
        sizes["lm"] = max(0, len(sentences) - sizes["valid"] - sizes["test"] - sizes["train"])
    split = sentence_splits(sentences, sizes, e.seed)
    rng = random.Random(e.seed)
    jobs = {
        "train": [(s, rng.sample(e.train_voices, e.voices_per_sentence)) for s in split["train"]],
        "valid": [(s, [e.train_voices[i % len(e.train_voices)]]) for i, s in enumerate(split["valid"])],
        "test": [(s, list(e.test_voices)) for s in split["test"]],
        "tts_train": [(s, [cfg.tts_voice]) for s in split["train"][: e.tts_sentences]],
        "tts_valid": [(s, [cfg.tts_voice]) for s in split["valid"]],
    }
    if unseen and any(v in unseen for _, voices in jobs["train"] + jobs["valid"] for v in voices):
        raise AssertionError("a held-out test voice leaked into training")  # guarded by construction
    return jobs, split["train"] + split["lm"]


def prepare_data(cfg: SpeechConfig, data_root: str | Path | None = None, progress: bool = True) -> str:
    """Build (or reference) the dataset's manifests; returns the prepared folder."""
    out = prepared_dir(cfg, data_root)
    if cfg.dataset == "english":
        jobs, lm_text = _english_jobs(cfg)
        manifests = build_speech_set(out, jobs, workers=cfg.english.workers, progress=progress)
        atomic_write_text(out / "lm.txt", "\n".join(lm_text) + "\n")
        spec = {"splits": {k: str(v) for k, v in manifests.items()}, "language": "en",
                "source": "flite / festival / espeak-ng speech of sentences from ../shared/data",
                "unseen_test_voices": sorted(set(cfg.english.test_voices) - set(cfg.english.train_voices))}
    elif cfg.dataset == "fillets":
        manifests = build_fillets_set(out, language=cfg.fillets.language, seed=cfg.fillets.seed, progress=progress)
        spec = {"splits": {k: str(v) for k, v in manifests.items()}, "language": cfg.fillets.language,
                "source": f"Fish Fillets NG voice-over ({cfg.fillets.language}, GPL-2), split by level"}
    else:
        missing = [s for s in SPLITS if s not in cfg.manifests]
        if missing:
            raise DataError(f"manifest needs files for {', '.join(missing)} (set manifests.<split>=path.jsonl)")
        spec = {"splits": {s: str(config_path(cfg.manifests[s], f"manifests.{s}")) for s in SPLITS}, "language": cfg.language,
                "source": "user manifests"}
    atomic_write_text(out / "dataset.json", json.dumps({"dataset": cfg.dataset, **spec}, indent=2) + "\n")
    return str(out)


def ensure_prepared(cfg: SpeechConfig, data_root: str | Path | None = None, progress: bool = True) -> str:
    out = prepared_dir(cfg, data_root)
    return str(out) if (out / "dataset.json").is_file() else prepare_data(cfg, data_root, progress)


def load_split(data_dir: str | Path, split: str) -> list[ManifestEntry]:
    spec_path = Path(data_dir) / "dataset.json"
    if not spec_path.is_file():
        raise DataError(f"no prepared dataset in {data_dir}: run prepare first")
    splits = json.loads(spec_path.read_text())["splits"]
    if split not in splits:
        raise DataError(f"{data_dir} has no {split} split (has {', '.join(splits)})")
    return read_manifest(splits[split])


def validate_data(cfg: SpeechConfig, data_dir: str | Path) -> dict:
    """Counts and hours per split; refuses empty splits, missing audio, empty text and a recording in two
    splits. In the generated English set, where sentences are the unit of splitting, the same sentence in
    two splits is refused too; in recorded speech, short lines ("yes", "what?") recur across levels
    naturally, so their count is reported (``test_texts_also_in_train``) instead."""
    report: dict = {"utterances": {}, "hours": {}}
    texts: dict[str, str] = {}
    recordings: dict[str, str] = {}
    repeated = 0
    for split in SPLITS:
        entries = load_split(data_dir, split)
        if not entries:
            raise DataError(f"the {split} split has no utterances")
        for e in entries:
            if not Path(e.audio_filepath).is_file():
                raise DataError(f"{split}: {e.audio_filepath} does not exist")
            if not e.text.strip():
                raise DataError(f"{split}: {e.audio_filepath} has empty text")
            audio = str(Path(e.audio_filepath).resolve())
            if recordings.setdefault(audio, split) != split:
                raise DataError(f"{e.audio_filepath} is in both {recordings[audio]} and {split}")
            first = texts.setdefault(e.text, split)
            if first != split and cfg.dataset == "english":
                raise DataError(f"the sentence {e.text[:60]!r} is in both {first} and {split}")
            repeated += first == "train" and split == "test"
        report["utterances"][split] = len(entries)
        report["hours"][split] = round(sum(e.duration for e in entries) / 3600, 3)
    report["test_texts_also_in_train"] = repeated
    report["voices"] = sorted({str(e.extra.get("voice")) for e in load_split(data_dir, "test") if e.extra.get("voice")})
    report["series"] = sum(report["utterances"].values())
    return report


def _lm_texts(data_dir: str | Path, train: list[Utterance]) -> list[str]:
    path = Path(data_dir) / "lm.txt"
    lines = path.read_text().splitlines() if path.is_file() else []
    return [x for x in lines if x.strip()] or [u.text for u in train]


def train_model(cfg: SpeechConfig, data_dir: str | Path, run_dir: str | Path, resume: bool = False) -> dict:
    """Train the config's task; returns the model folder and training numbers."""
    if cfg.task == "tts":
        return train_tts(cfg, data_dir, run_dir, resume)
    train = utterances(load_split(data_dir, "train"), cfg.asr.max_train_seconds)
    valid = utterances(load_split(data_dir, "valid"))
    fitted = fit_asr(cfg.asr, train, valid, run_dir, _lm_texts(data_dir, train), resume,
                     metadata={"dataset": cfg.dataset, "language": cfg.language})
    return _summary(run_dir, {"model_dir": str(fitted.model_dir), "val_metric": fitted.result.best_metric,
                              "steps": fitted.result.step, "train_seconds": fitted.result.seconds,
                              "train_hours": round(sum(u.duration for u in train) / 3600, 3)})


def _summary(run_dir: str | Path, summary: dict) -> dict:
    """Keep the training summary next to the run (``train_summary.json``) and return it."""
    atomic_write_text(Path(run_dir) / "train_summary.json", json.dumps(summary, indent=2) + "\n")
    return summary


def _tts_split(data_dir: str | Path, split: str, voice: str) -> list[Utterance]:
    name = f"tts_{split}"
    spec = json.loads((Path(data_dir) / "dataset.json").read_text())
    entries = load_split(data_dir, name) if name in spec["splits"] else [
        e for e in load_split(data_dir, split) if e.extra.get("voice", voice) == voice]
    return utterances(entries, 16.0)


def train_tts(cfg: SpeechConfig, data_dir: str | Path, run_dir: str | Path, resume: bool = False) -> dict:
    if cfg.language != "en":
        raise ConfigError("TTS uses the English phoneme front end: train it on dataset=english or English manifests")
    train, valid = _tts_split(data_dir, "train", cfg.tts_voice), _tts_split(data_dir, "valid", cfg.tts_voice)
    fitted = fit_tts(cfg.tts, train, valid, run_dir, resume)
    return _summary(run_dir, {"model_dir": str(fitted.model_dir), "aligner_dir": str(fitted.aligner_dir),
                              "aligner_val_per": fitted.aligner_per, "val_metric": fitted.result.best_metric,
                              "steps": fitted.result.step, "train_seconds": fitted.result.seconds,
                              "aligner_seconds": fitted.aligner_seconds,
                              "train_hours": round(sum(u.duration for u in train) / 3600, 3)})


def _test_groups(cfg: SpeechConfig, data_dir: str | Path) -> dict[str, list[ManifestEntry]]:
    """Test utterances per voice (one group ``all`` when rows name no voice)."""
    groups: dict[str, list[ManifestEntry]] = {}
    for e in load_split(data_dir, "test"):
        groups.setdefault(str(e.extra.get("voice", "all")), []).append(e)
    if cfg.test_limit:
        groups = {k: v[: cfg.test_limit] for k, v in groups.items()}
    return groups


def _scores(refs: list[str], hyps: list[str], rtf: float) -> dict[str, float]:
    return {"wer": wer(refs, hyps), "cer": cer(refs, hyps), "rtf": rtf}


def evaluate_model(cfg: SpeechConfig, model_dir: str | Path, data_dir: str | Path, out_dir: str | Path,
                   peers: list[str] | None = None) -> dict:
    """Test metrics of ours next to each peer, a metrics table and a spectrogram PNG."""
    if cfg.task == "tts":
        return evaluate_tts(cfg, model_dir, data_dir, out_dir, peers)
    recognizer = Recognizer.from_folder(model_dir, cfg.decode)
    groups = _test_groups(cfg, data_dir)
    peer_names = cfg.peers if peers is None else peers
    unknown = [p for p in peer_names if p not in PEERS]
    if unknown:
        raise DataError(f"unknown peer {unknown[0]!r}; available: {', '.join(PEERS)}")
    if cfg.language != "en":
        peer_names = []  # pocketsphinx ships an English model only; no offline Dutch/Czech peer exists
    table, by_model = [], {"ours": {}, **{p: {} for p in peer_names}}
    for voice, entries in groups.items():
        audios = [read_entry_audio(e) for e in entries]
        refs = [e.text for e in entries]
        hyps, rtf = timed_transcribe(recognizer, audios)
        by_model["ours"][voice] = _scores(refs, hyps, rtf)
        table.append({"model": "ours", "voice": voice, "utterances": len(entries), **by_model["ours"][voice]})
        for name in peer_names:
            peer = PocketSphinx()
            start = time.perf_counter()
            peer_hyps = [peer.transcribe(a) for a in audios]
            rtf = (time.perf_counter() - start) / (sum(len(a) for a in audios) / SAMPLE_RATE)
            by_model[name][voice] = _scores(refs, peer_hyps, rtf)
            table.append({"model": name, "voice": voice, "utterances": len(entries), **by_model[name][voice]})
    out = Path(out_dir)
    atomic_write_text(out / "metrics.json", json.dumps(table, indent=2) + "\n")
    atomic_write_text(out / "metrics.md", markdown_table(table))
    first = next(iter(groups.values()))[0]
    plot = out / "test_spectrogram.png"
    atomic_write_bytes(plot, spectrogram_png({f"input: {Path(first.audio_filepath).name}": read_entry_audio(first)},
                                             title=f"ours: {recognizer.transcribe([read_entry_audio(first)])[0].text}"))
    ours = _overall(by_model["ours"], groups)
    best_peer = min(peer_names, key=lambda p: _overall(by_model[p], groups)["wer"]) if peer_names else None
    return {"table": table, "ours": ours, "best_peer": best_peer,
            "best_peer_scores": _overall(by_model[best_peer], groups) if best_peer else None, "plot": str(plot),
            "registry_name": f"speech-asr-{cfg.dataset}" + ("" if cfg.dataset != "fillets" else f"-{cfg.language}"),
            "metric": "wer", "mode": "min"}


def read_entry_audio(entry: ManifestEntry) -> np.ndarray:
    return read_audio(entry.audio_filepath)


def _overall(per_voice: dict[str, dict[str, float]], groups: dict[str, list]) -> dict[str, float]:
    """Utterance-weighted means over voices (plus each voice's WER as ``wer_<voice>``)."""
    n = {v: len(groups[v]) for v in per_voice}
    total = sum(n.values())
    out = {k: sum(per_voice[v][k] * n[v] for v in per_voice) / total for k in ("wer", "cer", "rtf")}
    out.update({f"wer_{v}": s["wer"] for v, s in per_voice.items()})
    return out


def evaluate_tts(cfg: SpeechConfig, model_dir: str | Path, data_dir: str | Path, out_dir: str | Path,
                 peers: list[str] | None = None) -> dict:
    """Round-trip WER (pocketsphinx, and our ASR when one is given) of our synthesis and of the
    reference voice on held-out sentences, MCD against the reference, real-time factor."""
    synthesizer = Synthesizer(model_dir, cfg.tts.griffin_lim_iters)
    reference = [e for e in load_split(data_dir, "test") if e.extra.get("voice", cfg.tts_voice) == cfg.tts_voice]
    if cfg.test_limit:
        reference = reference[: cfg.test_limit]
    if not reference:
        raise DataError(f"no test utterances of the TTS voice {cfg.tts_voice} to compare with")
    texts = [e.text for e in reference]
    ref_audio = [read_entry_audio(e) for e in reference]
    ours_audio, rtf = synthesizer.timed(texts)
    listeners: dict[str, object] = {}
    if "pocketsphinx" in (cfg.peers if peers is None else peers):
        listeners["pocketsphinx"] = PocketSphinx()
    if cfg.round_trip_asr:
        listeners["our_asr"] = Recognizer.from_folder(cfg.round_trip_asr, cfg.decode)
    rows = {"ours": {"rtf": rtf, "mcd_db": float(np.mean([mel_cepstral_distortion(r, s) for r, s in
                                                           zip(ref_audio, ours_audio, strict=True)]))},
            f"reference ({cfg.tts_voice})": {"rtf": float("nan"), "mcd_db": 0.0}}
    for name, listener in listeners.items():
        for row, audios in ((rows["ours"], ours_audio), (rows[f"reference ({cfg.tts_voice})"], ref_audio)):
            hyps = ([listener.transcribe(a) for a in audios] if isinstance(listener, PocketSphinx)
                    else [t.text for t in listener.transcribe(audios)])
            row[f"wer_{name}"] = wer(texts, hyps)
            row[f"cer_{name}"] = cer(texts, hyps)
    table = [{"model": k, "utterances": len(texts), **v} for k, v in rows.items()]
    out = Path(out_dir)
    atomic_write_text(out / "metrics.json", json.dumps(table, indent=2) + "\n")
    atomic_write_text(out / "metrics.md", markdown_table(table))
    plot = out / "test_spectrogram.png"
    atomic_write_bytes(plot, spectrogram_png({f"reference ({cfg.tts_voice})": ref_audio[0], "synthesized": ours_audio[0]},
                                             title=texts[0]))
    samples = out / "samples"
    for i in range(min(3, len(texts))):
        write_wav(samples / f"{i:02d}-ours.wav", ours_audio[i])
        write_wav(samples / f"{i:02d}-reference.wav", ref_audio[i])
    ours = rows["ours"]
    return {"table": table, "ours": ours, "best_peer": None, "best_peer_scores": None, "plot": str(plot),
            "reference": rows[f"reference ({cfg.tts_voice})"], "samples": str(samples),
            "registry_name": "speech-tts", "metric": "wer_pocketsphinx" if "pocketsphinx" in listeners else "mcd_db",
            "mode": "min"}


HEADLINE = ("voice", "utterances", "wer", "cer", "rtf", "mcd_db", "wer_pocketsphinx", "cer_pocketsphinx",
            "wer_our_asr", "cer_our_asr")
COUNTS = ("utterances",)


def markdown_table(table: list[dict], columns: tuple[str, ...] = HEADLINE) -> str:
    """The app's metrics table (see :func:`shared.reporting.markdown_table`)."""
    return format_table(table, columns, COUNTS)


def transcribe_path(model_dir: str | Path, input_path: str | Path, output_dir: str | Path, align: bool = False,
                    decode: DecodeConfig | None = None, progress: bool = True) -> dict:
    """Batch transcription (see :mod:`apps.speech.batch`); returns the summary and its one-line form."""
    summary = transcribe_paths(Recognizer.from_folder(model_dir, decode), [input_path], output_dir, align, progress)
    return {**summary.to_dict(), "line": summary.line()}


def synthesize_path(model_dir: str | Path, input_path: str | Path, output_dir: str | Path, progress: bool = True) -> dict:
    """Batch synthesis of every .txt file under ``input_path``."""
    summary = synthesize_paths(Synthesizer(model_dir), [input_path], output_dir, progress)
    return {**summary.to_dict(), "line": summary.line()}
