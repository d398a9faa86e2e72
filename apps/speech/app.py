"""The speech Apps: ``speech-asr`` (:data:`ASR`, a Conformer-CTC recogniser against pocketsphinx)
and ``speech-tts`` (:data:`TTS`, aligner + FastSpeech + Griffin-Lim, scored by round-trip WER
and mel-cepstral distortion). Both read the same data (:mod:`apps.speech.data`).

Data: the generated English set (flite, festival and espeak-ng voices reading real sentences),
the Fish Fillets NG voice-over (Dutch, Czech), or your NeMo JSONL manifests. One manifest
of yours is split here with a seeded hash: for ASR whole voices at a time when its rows name
at least three (``voice`` or ``speaker``), else by sentence, so no voice (or sentence) is on
two sides; for TTS (one voice) by sentence.

``sextant-speech`` is both: ``sextant-speech asr <verb>`` is ``sextant speech-asr <verb>``
and ``sextant-speech tts <verb>`` is ``sextant speech-tts <verb>``.
"""

# No ``from __future__ import annotations``: Typer reads the annotations of the ``synthesize``
# command built in ``TtsApp.commands`` at run time.
import json
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, Literal, Optional

from shared.app import DataReport, Evaluation, SampleFiles, TrainSummary
from shared.errors import ConfigError, DataError

if TYPE_CHECKING:
    from apps.speech.config import AsrConfig, TtsConfig
    from apps.speech.predict import AsrPredictor, TtsPredictor

MANIFEST_SUFFIXES = (".jsonl", ".json")
SPLIT_FILES = ("train.jsonl", "valid.jsonl", "test.jsonl")
SAMPLE_ASR_VOICES = ("flite-kal16", "flite-awb", "flite-rms", "flite-slt")
SAMPLE_TTS_VOICE = "flite-slt"


@dataclass
class AsrOptions:
    """``sextant speech-asr predict``'s options, and the batch flow's."""

    align: bool = field(default=False, metadata={"help": "add word start/end times (CTC forced alignment)"})
    decode: Literal["greedy", "beam", "attention"] = field(
        default="beam", metadata={"help": "CTC greedy, CTC beam search, or the attention decoder (if the model has one)"})
    beam: int = field(default=8, metadata={"help": "beam size (beam and attention decoding)"})
    lm: bool = field(default=True, metadata={"help": "fuse the model folder's character LM into beam search"})


@dataclass
class TtsOptions:
    """``sextant speech-tts predict``'s options, and the batch flow's."""

    speed: float = field(default=1.0, metadata={"help": "speaking rate (> 1 speaks faster)"})
    griffin_lim_iters: int = field(default=32, metadata={"help": "vocoder iterations (more: cleaner, slower)"})


class _SpeechApp:
    """What both speech Apps share: the data (shipped sets or your manifests), prepared alike."""

    name: str
    split_by: str  # how one manifest of yours is split: "voice" (ASR) or "text" (TTS, one voice)
    items = "utterances"
    recipe_modules = ("apps.speech.app", "apps.speech.data", "apps.speech.datasets.english",
                      "apps.speech.datasets.corpus", "apps.speech.datasets.synth", "apps.speech.datasets.fillets",
                      "apps.speech.text")

    def with_data(self, cfg: Any, source: str) -> Any:
        """``cfg`` reading your manifests: a folder with train/valid/test.jsonl, or one manifest to split."""
        from shared.paths import config_path

        path = config_path(source, "--data")
        if path.is_dir():
            missing = [name for name in SPLIT_FILES if not (path / name).is_file()]
            if missing:
                raise DataError(f"{path}: a data folder holds {', '.join(SPLIT_FILES)} (missing {', '.join(missing)}); "
                                "or pass one manifest, split here")
            manifests = {name.split(".")[0]: str(path / name) for name in SPLIT_FILES}
        elif not path.is_file():
            raise DataError(f"file not found: {path}")
        elif path.suffix.lower() not in MANIFEST_SUFFIXES:
            raise DataError(f"{path.name}: expected a NeMo JSONL manifest (.jsonl: audio_filepath, duration, text a line)")
        else:
            manifests = {"all": str(path)}
        return replace(cfg, data=replace(cfg.data, dataset="manifest", manifests=manifests))

    def prepared_dir(self, cfg: Any) -> Path:
        """``data.cache_dir/<key>``: the key names the shipped set's settings, or your manifests'
        paths, sizes and modification times (and the split settings), so a changed file is prepared again."""
        from apps.speech.data import dataset_key

        return Path(cfg.data.cache_dir) / dataset_key(cfg.data, self.split_by)

    def is_prepared(self, cfg: Any, data: Path) -> bool:
        return (Path(data) / "dataset.json").is_file()

    def prepare(self, cfg: Any, out: Path) -> Path:
        from apps.speech.data import prepare

        return prepare(cfg.data, out, by=self.split_by)

    def validate(self, cfg: Any, data: Path) -> DataReport:
        from apps.speech.data import split_rule, validate

        report = validate(data)
        details = {"hours": ", ".join(f"{k} {v}" for k, v in report["hours"].items()),
                   "language": report["language"], "held out": split_rule(data)}
        if report["voices"]:
            details["test voices"] = ", ".join(report["voices"])
        if report["test_texts_also_in_train"]:
            details["test texts also in train"] = report["test_texts_also_in_train"]
        return DataReport(items=sum(report["utterances"].values()), splits=dict(report["utterances"]), details=details)

    def _evaluation(self, cfg: Any, result: dict, out_dir: Path) -> Evaluation:
        out = Path(out_dir)
        artifacts = {"metrics_md": str(out / "metrics.md"), "plot": result["plot"]}
        if result.get("samples"):
            artifacts["samples"] = result["samples"]
        return Evaluation(table=result["table"], ours=result["ours"], metric=result["metric"], mode="min",
                          registry_name=self.registry_name(cfg), best_peer=result["best_peer"],
                          split_rule=result["split_rule"], artifacts=artifacts, markdown=(out / "metrics.md").read_text())

    @staticmethod
    def _summary(run_dir: Path, summary: TrainSummary, extra: dict) -> TrainSummary:
        """Keep the training numbers next to the run (``train_summary.json``) and return the summary."""
        from shared import distributed
        from shared.atomic import atomic_write_text

        if distributed.current().is_main:
            atomic_write_text(Path(run_dir) / "train_summary.json",
                              json.dumps({**summary.to_dict(), **extra}, indent=2) + "\n")
        return summary


class AsrApp(_SpeechApp):
    name = "speech-asr"
    title = "Speech recognition: a Conformer-CTC transformer with a character LM, against pocketsphinx."
    split_by = "voice"
    stages = ("train",)
    metric, mode = "wer", "min"
    batch_options = AsrOptions
    data_help = ("NeMo JSONL manifests ({\"audio_filepath\", \"duration\", \"text\"} a line, audio paths relative to "
                 "the manifest's folder): a folder with train.jsonl, valid.jsonl and test.jsonl, or one manifest, split "
                 "here by a seeded hash (whole voices at a time when rows name 3 or more in voice/speaker, else by "
                 "sentence; data.test_fraction, data.valid_fraction, data.split_seed); data.language if not English")
    input_help = "audio files (WAV, FLAC, OGG, MP3, ...), folders of them, or .txt/.jsonl manifests listing them"
    examples = (
        "train --data my_speech.jsonl --run runs/asr-mine  # your NeMo manifest, split here by voice",
        "evaluate --data my_speech.jsonl --model runs/asr-mine/best  # ours next to pocketsphinx",
        "predict clips/ --model runs/asr-mine/best --out transcripts/ --align",
        "predict a.wav b.flac manifest.jsonl --model runs/asr-mine/best --out transcripts/ --decode greedy",
        "train --data my_corpus/ --set data.language=nl peers=[] --run runs/asr-nl  # train/valid/test.jsonl",
        "train --config demo --run runs/speech-asr  # generated English speech (flite, festival, espeak-ng)",
        "train --config demo --run runs/speech-asr --resume  # continue a killed run",
        "train --config demo --run runs/speech-ddp --nproc 2  # data-parallel (torchrun)",
        "train --config dutch --run runs/speech-nl  # real Dutch voice-over (Fish Fillets NG)",
    )
    configs = ("default", "demo", "tiny", "dutch")

    def load_config(self, name: str = "default", overrides: Sequence[str] = ()) -> "AsrConfig":
        from apps.speech.config import load_asr_config

        return load_asr_config(name, list(overrides))

    def train(self, cfg: "AsrConfig", data: Path, run_dir: Path, stage: str = "train", *, resume: bool = False,
              init: Optional[str] = None) -> TrainSummary:
        from apps.speech.data import lm_texts, load_split, utterances
        from apps.speech.train import fit_asr

        if stage != "train":
            raise ConfigError(f"{self.name} has one stage, train (got {stage!r})")
        if init is not None:
            raise ConfigError(f"{self.name} trains from scratch (its vocabulary is the data's characters): "
                              "--init is not supported")
        train = utterances(load_split(data, "train"), cfg.train.max_train_seconds)
        valid = utterances(load_split(data, "valid"))
        fitted = fit_asr(cfg.model, cfg.train, train, valid, run_dir, lm_texts(data, train), resume,
                         metadata={"dataset": cfg.data.dataset, "language": cfg.data.language})
        result = fitted.result
        summary = TrainSummary(str(fitted.model_dir), result.best_metric, "val_cer", result.step, result.seconds)
        return self._summary(run_dir, summary, {"train_hours": round(sum(u.duration for u in train) / 3600, 3)})

    def evaluate(self, cfg: "AsrConfig", model_dir: str, data: Path, out_dir: Path,
                 peers: Optional[Sequence[str]] = None) -> Evaluation:
        """WER, CER and real-time factor per test voice, ours next to pocketsphinx (English only)."""
        from apps.speech.evaluate import evaluate_asr

        result = evaluate_asr(cfg, model_dir, data, out_dir, None if peers is None else list(peers))
        return self._evaluation(cfg, result, out_dir)

    def predictor(self, model_dir: str, options: AsrOptions) -> "AsrPredictor":
        from apps.speech.config import DecodeConfig
        from apps.speech.predict import AsrPredictor

        if options.beam < 1:
            raise ConfigError(f"beam must be at least 1, got {options.beam}")
        decode = DecodeConfig(method=options.decode, beam_size=options.beam, use_lm=options.lm)
        return AsrPredictor(model_dir, decode, options.align)

    def registry_name(self, cfg: "AsrConfig") -> str:
        """``speech-asr-<dataset>``, with the language when it is not English (``speech-asr-fillets-nl``)."""
        d = cfg.data
        return f"{self.name}-{d.dataset}" + ("" if d.language == "en" else f"-{d.language}")

    def sample_files(self, folder: Path) -> SampleFiles:
        """A NeMo manifest of 12 generated clips (4 flite voices, 3 sentences each: split by voice), and a
        folder to transcribe: two of the clips and a corrupt WAV (an error row)."""
        import shutil

        from apps.speech.datasets.samples import write_sample_set

        manifest = write_sample_set(folder / "speech", SAMPLE_ASR_VOICES, per_voice=3)
        clips = sorted((folder / "speech").rglob("*.wav"))
        incoming = folder / "incoming"
        incoming.mkdir(parents=True, exist_ok=True)
        for i, clip in enumerate(clips[:2]):
            shutil.copy(clip, incoming / f"clip{i}.wav")
        (incoming / "corrupt.wav").write_bytes(b"RIFF\x00\x00\x00\x00WAVEjunk")
        return SampleFiles(str(manifest), str(incoming))


class TtsApp(_SpeechApp):
    name = "speech-tts"
    title = "Speech synthesis: aligner + FastSpeech + Griffin-Lim, scored by round-trip WER and MCD."
    split_by = "text"
    stages = ("align", "train")
    metric, mode = "wer_pocketsphinx", "min"
    batch_options = TtsOptions
    data_help = ("NeMo JSONL manifests ({\"audio_filepath\", \"duration\", \"text\"} a line, audio paths relative to "
                 "the manifest's folder) of one English voice (or set data.voice): a folder with train.jsonl, "
                 "valid.jsonl and test.jsonl, or one manifest, split here by sentence with a seeded hash "
                 "(data.test_fraction, data.valid_fraction, data.split_seed)")
    input_help = "text files (.txt: one text a line; .jsonl: a \"text\" field a line) or folders of them"
    examples = (
        "align --data my_voice.jsonl --run runs/tts-mine/align  # your voice's manifest: the aligner first",
        "train --data my_voice.jsonl --init runs/tts-mine/align/best --run runs/tts-mine/train  # FastSpeech",
        "evaluate --data my_voice.jsonl --model runs/tts-mine/train/best  # round-trip WER and MCD",
        "predict lines.txt --model runs/tts-mine/train/best --out speech/  # one WAV per line",
        "synthesize \"Hello there, 42 fish.\" -o hello.wav --model runs/tts-mine/train/best",
        "train --config demo --run runs/speech-tts  # generated English; without --init the aligner is trained first",
        "evaluate --config demo --model runs/speech-tts/best --set round_trip_asr=runs/speech-asr/best",
    )
    configs = ("default", "demo", "tiny")
    in_demo = False  # its demo config takes ~5 min more on 2 cores: `sextant speech-tts train --config demo`

    def load_config(self, name: str = "default", overrides: Sequence[str] = ()) -> "TtsConfig":
        from apps.speech.config import load_tts_config

        return load_tts_config(name, list(overrides))

    def validate(self, cfg: "TtsConfig", data: Path) -> DataReport:
        from apps.speech.data import tts_entries

        report = super().validate(cfg, data)
        counts = {split: len(tts_entries(data, split, cfg.data.voice)) for split in ("train", "valid", "test")}
        return replace(report, details={**report.details, "TTS utterances": ", ".join(f"{k} {v}" for k, v in counts.items())})

    def _utterances(self, cfg: "TtsConfig", data: Path) -> tuple[list, list]:
        from apps.speech.data import tts_entries, utterances

        if cfg.data.language != "en":
            raise ConfigError("TTS uses the English phoneme front end: train it on data.dataset=english or English manifests")
        return (utterances(tts_entries(data, "train", cfg.data.voice), 16.0),
                utterances(tts_entries(data, "valid", cfg.data.voice), 16.0))

    def train(self, cfg: "TtsConfig", data: Path, run_dir: Path, stage: str = "train", *, resume: bool = False,
              init: Optional[str] = None) -> TrainSummary:
        """``align``: the CTC aligner over phonemes. ``train``: FastSpeech on the durations the aligner
        finds (``init``: the align stage's RUN/best; without it the aligner is trained first, in RUN/aligner)."""
        from apps.speech.train import fit_aligner, fit_fastspeech

        if stage not in self.stages:
            raise ConfigError(f"{self.name} stages are {', '.join(self.stages)} (got {stage!r})")
        train, valid = self._utterances(cfg, data)
        hours = {"train_hours": round(sum(u.duration for u in train) / 3600, 3)}
        if stage == "align":
            if init is not None:
                raise ConfigError("the align stage trains from scratch: --init is for the train stage (the aligner's RUN/best)")
            fitted = fit_aligner(cfg.aligner, cfg.train.align, train, valid, run_dir, resume)
            r = fitted.result
            return self._summary(run_dir, TrainSummary(str(fitted.model_dir), r.best_metric, "val_per", r.step, r.seconds),
                                 hours)
        extra: dict = {}
        if init is None:
            aligner = fit_aligner(cfg.aligner, cfg.train.align, train, valid, Path(run_dir) / "aligner", resume)
            init = str(aligner.model_dir)
            extra = {"aligner_dir": init, "aligner_seconds": aligner.result.seconds}
        fitted = fit_fastspeech(cfg.model, cfg.train, init, train, valid, run_dir, resume)
        r = fitted.result
        summary = TrainSummary(str(fitted.model_dir), r.best_metric, "val_mel_l1", r.step, r.seconds)
        return self._summary(run_dir, summary, {**hours, **extra, "aligner_val_per": fitted.aligner_per,
                                                "align_seconds": fitted.align_seconds})

    def evaluate(self, cfg: "TtsConfig", model_dir: str, data: Path, out_dir: Path,
                 peers: Optional[Sequence[str]] = None) -> Evaluation:
        """Round-trip WER (pocketsphinx; our ASR with round_trip_asr) and MCD of our synthesis of the
        voice's test sentences, next to the voice's own recordings of them (the reference row)."""
        from apps.speech.evaluate import evaluate_tts

        result = evaluate_tts(cfg, model_dir, data, out_dir, None if peers is None else list(peers))
        return self._evaluation(cfg, result, out_dir)

    def predictor(self, model_dir: str, options: TtsOptions) -> "TtsPredictor":
        from apps.speech.predict import TtsPredictor

        if options.griffin_lim_iters < 1:
            raise ConfigError(f"griffin_lim_iters must be at least 1, got {options.griffin_lim_iters}")
        return TtsPredictor(model_dir, options.speed, options.griffin_lim_iters)

    def registry_name(self, cfg: "TtsConfig") -> str:
        """``speech-tts`` for the generated English voice, ``speech-tts-<dataset>`` for others."""
        return self.name if cfg.data.dataset == "english" else f"{self.name}-{cfg.data.dataset}"

    def sample_files(self, folder: Path) -> SampleFiles:
        """A NeMo manifest of 10 generated clips of one voice (flite slt), and a text file to speak
        whose second line is empty (an error row)."""
        from apps.speech.datasets.samples import write_sample_set

        manifest = write_sample_set(folder / "voice", (SAMPLE_TTS_VOICE,), per_voice=10)
        texts = folder / "lines.txt"
        texts.write_text("Hello there, forty two fish.\n\nThe small fish swims to the big one.\n", encoding="utf-8")
        return SampleFiles(str(manifest), str(texts))

    def commands(self) -> dict:
        """``synthesize``: one text (an argument, a file or standard input) to one WAV."""
        import typer

        def synthesize(
            output: Annotated[Path, typer.Option("--output", "-o", help="the .wav to write")],
            model: Annotated[Path, typer.Option("--model", "-m", help="a TTS model folder, e.g. RUN/best")],
            text: Annotated[Optional[str], typer.Argument(help="the text; omit (or '-') to read standard input")] = None,
            file: Annotated[Optional[Path], typer.Option("--file", help="read the text from this file")] = None,
            speed: Annotated[float, typer.Option("--speed", help="speaking rate (> 1 speaks faster)")] = 1.0,
        ) -> None:
            """Speak one text (an argument, --file, or standard input) into one 16 kHz WAV."""
            from apps.speech.predict import synthesize_to_file

            result = synthesize_to_file(str(model), _read_text(text, file), output, speed)
            print(f"wrote {output}: {result['seconds']:.2f} s of audio in {result['compute_seconds']:.2f} s "
                  f"(real-time factor {result['rtf']:.3f})")

        return {"synthesize": synthesize}


def _read_text(text: Optional[str], file: Optional[Path]) -> str:
    import sys

    if file is not None:
        return Path(file).read_text(encoding="utf-8")
    if text and text != "-":
        return text
    if sys.stdin.isatty():
        raise ValueError("no text: pass it as an argument, with --file, or on standard input")
    return sys.stdin.read()


ASR = AsrApp()
TTS = TtsApp()


def main(argv: Optional[list[str]] = None) -> int:
    """``sextant-speech``: ``asr <verb>`` is ``sextant speech-asr <verb>``, ``tts <verb>`` is ``sextant speech-tts <verb>``."""
    import sys

    import typer

    from shared.cli import app_cli, run

    prog = Path(sys.argv[0]).name if argv is None else "sextant-speech"
    cli = typer.Typer(name=prog, help="Speech recognition (asr) and synthesis (tts) with transformers trained from "
                      "scratch: the same verbs as `sextant speech-asr` and `sextant speech-tts`.",
                      no_args_is_help=True, add_completion=False, rich_markup_mode=None, pretty_exceptions_enable=False)
    cli.add_typer(app_cli(ASR, f"{prog} asr"), name="asr", help=ASR.title)
    cli.add_typer(app_cli(TTS, f"{prog} tts"), name="tts", help=TTS.title)
    return run(cli, argv, prog=prog)
