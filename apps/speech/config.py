"""The speech app's typed config: which data, which task, and how to train and decode."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from apps.speech.asr import AsrTrainConfig
from apps.speech.recognize import DecodeConfig
from apps.speech.tts import TtsTrainConfig
from shared.config import load_config
from shared.errors import ConfigError

CONFIG_DIR = Path(__file__).parent / "configs"

FLITE_VOICES = ["flite-kal", "flite-kal16", "flite-awb", "flite-rms", "flite-slt"]


@dataclass
class EnglishSetConfig:
    """English speech generated from real text by real synthesizers.

    Test sentences are spoken by ``test_voices`` only; ``festival-hts-slt`` is never heard
    in training or validation, so its scores measure an unseen voice on unseen sentences.
    """

    train_sentences: int = 3000
    valid_sentences: int = 150
    test_sentences: int = 200
    max_documents: int = 0  # read only the first N documents of ../shared/data (0 = all; 60k take ~16 s)
    lm_sentences: int = 30000  # extra text for the character LM; never a valid or test sentence
    tts_sentences: int = 2000  # training sentences also spoken by the TTS voice
    train_voices: list[str] = field(default_factory=lambda: FLITE_VOICES + [
        "espeak-us-160", "espeak-en-140", "espeak-us-f3-180", "espeak-en-m3-150", "espeak-us-f2-200"])
    voices_per_sentence: int = 2
    test_voices: list[str] = field(default_factory=lambda: ["festival-hts-slt", "flite-slt"])
    seed: int = 0
    workers: int = 2


@dataclass
class FilletsSetConfig:
    """Real Dutch (or Czech) voice-over of Fish Fillets NG, split by whole game level."""

    language: str = "nl"
    seed: int = 0


@dataclass
class SpeechConfig:
    task: Literal["asr", "tts"] = "asr"
    # english (generated), fillets (real Dutch/Czech voice-over) or manifest (your own JSONL manifests)
    dataset: str = "english"
    cache_dir: str = "data/cache/speech"
    english: EnglishSetConfig = field(default_factory=EnglishSetConfig)
    fillets: FilletsSetConfig = field(default_factory=FilletsSetConfig)
    manifests: dict[str, str] = field(default_factory=dict)  # dataset=manifest: {train, valid, test} paths
    language: str = "en"
    asr: AsrTrainConfig = field(default_factory=AsrTrainConfig)
    decode: DecodeConfig = field(default_factory=DecodeConfig)
    tts: TtsTrainConfig = field(default_factory=TtsTrainConfig)
    tts_voice: str = "flite-slt"  # the voice TTS learns; its test renders are the MCD reference
    round_trip_asr: str = ""  # our ASR model folder for TTS round-trip WER ("" = the registry's champion, if any)
    peers: list[str] = field(default_factory=lambda: ["pocketsphinx"])
    test_limit: int = 0  # score only the first N test utterances per voice (0 = all)


def load_speech_config(name: str = "default", overrides: list[str] | None = None) -> SpeechConfig:
    path = Path(name) if Path(name).suffix else CONFIG_DIR / f"{name}.yaml"
    cfg = load_config(SpeechConfig, path, overrides)
    if cfg.task not in ("asr", "tts"):
        raise ConfigError(f"task must be asr or tts, got {cfg.task!r}")
    if cfg.dataset == "fillets":
        cfg.language = cfg.fillets.language
    return cfg
