"""The speech apps' typed configs: ``speech-asr`` (:class:`AsrConfig`) and ``speech-tts`` (:class:`TtsConfig`).

Both read the same data (:class:`DataConfig`: the generated English set, the Fish Fillets
voice-over, or your own NeMo manifests) and have the same top-level ``data``, ``model`` and
``train``. TTS has two stages: ``train.align`` trains the CTC aligner over phonemes (its
architecture is the top-level ``aligner``) and ``train`` FastSpeech on the durations it finds.
Shipped configs: ``configs/asr/<name>.yaml`` and ``configs/tts/<name>.yaml``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from apps.speech.model import AsrModelConfig, TtsModelConfig
from shared.config import load_config
from shared.errors import ConfigError
from shared.training import TrainConfig

CONFIG_DIR = Path(__file__).parent / "configs"
DATASETS = ("english", "fillets", "manifest")
SPLITS = ("train", "valid", "test")

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
    tts_sentences: int = 2000  # training sentences also spoken by the TTS voice (data.voice)
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
class DataConfig:
    """Which speech, shared by both apps.

    ``dataset``: ``english`` (generated), ``fillets`` (real Dutch/Czech voice-over) or
    ``manifest`` (your own NeMo JSONL manifests: ``manifests: {train, valid, test}``, or
    ``manifests: {all: one.jsonl}`` split here by ``split_seed``, ``valid_fraction`` and
    ``test_fraction``, whole voices at a time for ASR when rows name a ``voice``/``speaker``).
    """

    dataset: Literal["english", "fillets", "manifest"] = "english"
    cache_dir: str = "data/cache/speech"
    english: EnglishSetConfig = field(default_factory=EnglishSetConfig)
    fillets: FilletsSetConfig = field(default_factory=FilletsSetConfig)
    manifests: dict[str, str] = field(default_factory=dict)
    language: str = "en"  # of the manifests' transcripts (fillets: fillets.language)
    voice: str = "flite-slt"  # the voice TTS learns (the English set renders its TTS sentences in it)
    split_seed: int = 0
    valid_fraction: float = 0.1
    test_fraction: float = 0.1
    test_limit: int = 0  # score only the first N test utterances per voice (0 = all)

    def __post_init__(self) -> None:
        if not (0 < self.valid_fraction < 1 and 0 < self.test_fraction < 1
                and self.valid_fraction + self.test_fraction < 1):
            raise ValueError("valid_fraction and test_fraction must be in (0, 1) and add up to less than 1")


@dataclass
class DecodeConfig:
    """How a recogniser turns CTC outputs into text."""

    method: Literal["greedy", "beam", "attention"] = "beam"
    beam_size: int = 8
    use_lm: bool = True  # shallow fusion with the model folder's lm.json (when there is one)
    lm_weight: float = 0.5
    word_bonus: float = 1.0
    max_seconds: float = 20.0  # longer audio is cut into pieces of at most this length
    batch_seconds: float = 120.0  # audio per forward pass


@dataclass
class AsrTrainConfig(TrainConfig):
    """The recogniser's training: the shared loop's settings plus augmentation, the joint
    CTC/attention weight and the character LM added to the best model."""

    ctc_weight: float = 1.0  # < 1 with model.decoder_layers > 0: joint CTC/attention training
    speeds: list[float] = field(default_factory=lambda: [0.9, 1.0, 1.1])  # speed perturbation
    gain_db: float = 6.0
    max_train_seconds: float = 16.0
    valid_limit: int = 200
    lm_order: int = 6  # 0 = no character LM


def _align_defaults() -> AsrTrainConfig:
    return AsrTrainConfig(max_steps=1500, batch_size=16, lr=1e-3, warmup_steps=100, eval_every=250,
                          speeds=[1.0], gain_db=0.0, lm_order=0)


def _aligner_model_defaults() -> AsrModelConfig:
    return AsrModelConfig(d_model=128, layers=4, d_ff=512, subsample=2, conv_kernel=15, spec_augment=False)


@dataclass
class TtsTrainConfig(TrainConfig):
    """FastSpeech's training (the last stage) and, under ``align``, the aligner's (the first)."""

    align: AsrTrainConfig = field(default_factory=_align_defaults)
    duration_loss_weight: float = 1.0


@dataclass
class AsrConfig:
    data: DataConfig = field(default_factory=DataConfig)
    model: AsrModelConfig = field(default_factory=AsrModelConfig)
    train: AsrTrainConfig = field(default_factory=AsrTrainConfig)
    decode: DecodeConfig = field(default_factory=DecodeConfig)
    peers: list[str] = field(default_factory=lambda: ["pocketsphinx"])


@dataclass
class TtsConfig:
    data: DataConfig = field(default_factory=DataConfig)
    model: TtsModelConfig = field(default_factory=TtsModelConfig)
    aligner: AsrModelConfig = field(default_factory=_aligner_model_defaults)  # the align stage's architecture
    train: TtsTrainConfig = field(default_factory=TtsTrainConfig)
    griffin_lim_iters: int = 32  # the vocoder's iterations when evaluating
    peers: list[str] = field(default_factory=lambda: ["pocketsphinx"])  # listeners for the round-trip WER
    round_trip_asr: str = ""  # also listen with our ASR model folder ("" = only the peers)
    decode: DecodeConfig = field(default_factory=DecodeConfig)  # how round_trip_asr decodes


def _path(kind: str, name: str) -> Path:
    return Path(name) if Path(name).suffix else CONFIG_DIR / kind / f"{name}.yaml"


def _check_data(data: DataConfig) -> None:
    if data.dataset == "fillets":
        data.language = data.fillets.language
    unknown = sorted(set(data.manifests) - {*SPLITS, "all"})
    if unknown:
        raise ConfigError(f"data.manifests: unknown key(s) {unknown}; use train, valid and test, or all (one manifest to split)")


def load_asr_config(name: str = "default", overrides: list[str] | None = None) -> AsrConfig:
    cfg = load_config(AsrConfig, _path("asr", name), overrides)
    _check_data(cfg.data)
    return cfg


def load_tts_config(name: str = "default", overrides: list[str] | None = None) -> TtsConfig:
    cfg = load_config(TtsConfig, _path("tts", name), overrides)
    _check_data(cfg.data)
    return cfg
