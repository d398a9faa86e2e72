"""Held-out scores of our models next to the peers', with a metrics table, a spectrogram PNG and
(TTS) a few audio samples.

ASR: WER, CER and real-time factor of ours and of each peer (pocketsphinx, English only) on
the test split, per voice (one group ``all`` when rows name no voice). TTS: the test sentences
of the TTS voice are synthesised; round-trip WER (the synthesis transcribed by pocketsphinx,
and by our ASR when ``round_trip_asr`` names one), mel-cepstral distortion against the
voice's own recordings, real-time factor; the recordings themselves are scored as the
reference row.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import numpy as np

from apps.speech.audio import SAMPLE_RATE, read_audio, write_wav
from apps.speech.config import AsrConfig, TtsConfig
from apps.speech.data import load_split, speaker, split_rule, tts_entries
from apps.speech.manifest import ManifestEntry
from apps.speech.metrics import cer, mel_cepstral_distortion, wer
from apps.speech.peers import PEERS, PocketSphinx
from apps.speech.plots import spectrogram_png
from apps.speech.predict import Recognizer, Synthesizer, timed_transcribe
from shared.atomic import atomic_write_bytes, atomic_write_text
from shared.errors import DataError
from shared.reporting import markdown_table as format_table

HEADLINE = ("voice", "utterances", "wer", "cer", "rtf", "mcd_db", "wer_pocketsphinx", "cer_pocketsphinx",
            "wer_our_asr", "cer_our_asr")
COUNTS = ("utterances",)


def markdown_table(table: list[dict], columns: tuple[str, ...] = HEADLINE) -> str:
    """The app's metrics table (see :func:`shared.reporting.markdown_table`)."""
    return format_table(table, columns, COUNTS)


def read_entry_audio(entry: ManifestEntry) -> np.ndarray:
    return read_audio(entry.audio_filepath)


def held_out_groups(folder: str | Path, limit: int = 0) -> dict[str, list[ManifestEntry]]:
    """Test utterances per voice (one group ``all`` when rows name no voice), the first ``limit`` of each."""
    groups: dict[str, list[ManifestEntry]] = {}
    for e in load_split(folder, "test"):
        groups.setdefault(speaker(e) or "all", []).append(e)
    return {k: v[:limit] for k, v in groups.items()} if limit else groups


def _scores(refs: list[str], hyps: list[str], rtf: float) -> dict[str, float]:
    return {"wer": wer(refs, hyps), "cer": cer(refs, hyps), "rtf": rtf}


def _check_peers(names: list[str]) -> None:
    unknown = [p for p in names if p not in PEERS]
    if unknown:
        raise DataError(f"unknown peer {unknown[0]!r}; available: {', '.join(PEERS)}")


def evaluate_asr(cfg: AsrConfig, model_dir: str | Path, folder: str | Path, out_dir: str | Path,
                 peers: list[str] | None = None) -> dict:
    """Test metrics of ours next to each peer, a metrics table and a spectrogram PNG."""
    recognizer = Recognizer.from_folder(model_dir, cfg.decode)
    groups = held_out_groups(folder, cfg.data.test_limit)
    peer_names = list(cfg.peers if peers is None else peers)
    _check_peers(peer_names)
    if cfg.data.language != "en":
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
    if len(groups) > 1:  # the utterance-weighted overall rows, which carry the headline WER
        for name, per_voice in by_model.items():
            table.append({"model": name, "voice": "overall", "utterances": sum(len(v) for v in groups.values()),
                          **{k: v for k, v in _overall(per_voice, groups).items() if k in ("wer", "cer", "rtf")}})
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
            "split_rule": split_rule(folder), "metric": "wer", "mode": "min"}


def _overall(per_voice: dict[str, dict[str, float]], groups: dict[str, list]) -> dict[str, float]:
    """Utterance-weighted means over voices (plus each voice's WER as ``wer_<voice>``)."""
    n = {v: len(groups[v]) for v in per_voice}
    total = sum(n.values())
    out = {k: sum(per_voice[v][k] * n[v] for v in per_voice) / total for k in ("wer", "cer", "rtf")}
    out.update({f"wer_{v}": s["wer"] for v, s in per_voice.items()})
    return out


def evaluate_tts(cfg: TtsConfig, model_dir: str | Path, folder: str | Path, out_dir: str | Path,
                 peers: list[str] | None = None) -> dict:
    """Round-trip WER (pocketsphinx, and our ASR when one is given) of our synthesis and of the
    reference voice on held-out sentences, MCD against the reference, real-time factor."""
    synthesizer = Synthesizer(model_dir, cfg.griffin_lim_iters)
    reference = tts_entries(folder, "test", cfg.data.voice)
    if cfg.data.test_limit:
        reference = reference[: cfg.data.test_limit]
    if not reference:
        raise DataError(f"no test utterances of the TTS voice {cfg.data.voice} to compare with")
    voice = speaker(reference[0]) or "recordings"
    texts = [e.text for e in reference]
    ref_audio = [read_entry_audio(e) for e in reference]
    ours_audio, rtf = synthesizer.timed(texts)
    listener_names = list(cfg.peers if peers is None else peers)
    _check_peers(listener_names)
    listeners: dict[str, object] = {name: PocketSphinx() for name in listener_names}
    if cfg.round_trip_asr:
        listeners["our_asr"] = Recognizer.from_folder(cfg.round_trip_asr, cfg.decode)
    ref_name = f"reference ({voice})"
    rows = {"ours": {"rtf": rtf, "mcd_db": float(np.mean([mel_cepstral_distortion(r, s) for r, s in
                                                           zip(ref_audio, ours_audio, strict=True)]))},
            ref_name: {"rtf": float("nan"), "mcd_db": 0.0}}
    for name, listener in listeners.items():
        for row, audios in ((rows["ours"], ours_audio), (rows[ref_name], ref_audio)):
            hyps = ([listener.transcribe(a) for a in audios] if isinstance(listener, PocketSphinx)
                    else [t.text for t in listener.transcribe(audios)])
            row[f"wer_{name}"] = wer(texts, hyps)
            row[f"cer_{name}"] = cer(texts, hyps)
    table = [{"model": k, "utterances": len(texts), **v} for k, v in rows.items()]
    out = Path(out_dir)
    atomic_write_text(out / "metrics.json", json.dumps(table, indent=2) + "\n")
    atomic_write_text(out / "metrics.md", markdown_table(table))
    plot = out / "test_spectrogram.png"
    atomic_write_bytes(plot, spectrogram_png({ref_name: ref_audio[0], "synthesized": ours_audio[0]}, title=texts[0]))
    samples = out / "samples"
    for i in range(min(3, len(texts))):
        write_wav(samples / f"{i:02d}-ours.wav", ours_audio[i])
        write_wav(samples / f"{i:02d}-reference.wav", ref_audio[i])
    metric = "wer_pocketsphinx" if "pocketsphinx" in listeners else "mcd_db"
    return {"table": table, "ours": rows["ours"], "best_peer": None, "best_peer_scores": None, "plot": str(plot),
            "reference": rows[ref_name], "samples": str(samples), "metric": metric, "mode": "min",
            "split_rule": split_rule(folder)}
