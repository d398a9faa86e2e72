"""``sextant-speech``: prepare, train and evaluate ASR and TTS; transcribe and synthesize."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from shared import distributed
from shared.errors import SextantError

EXAMPLES = """examples:
  sextant-speech prepare --config demo                       # English speech from flite/festival/espeak-ng
  sextant-speech train --task asr --config demo --run runs/speech-asr
  sextant-speech train --task asr --config demo --run runs/speech-ddp --nproc 2  # data-parallel, 2 processes (torchrun)
  sextant-speech evaluate --task asr --config demo --model runs/speech-asr/best
  sextant-speech transcribe clips/ --model runs/speech-asr/best --out transcripts/ --align
  sextant-speech transcribe a.wav b.flac manifest.jsonl --model runs/speech-asr/best --decode greedy
  sextant-speech train --task tts --config demo --run runs/speech-tts
  sextant-speech synthesize "Hello there, 42 fish." -o hello.wav --model runs/speech-tts/tts/best
  echo "Read from standard input." | sextant-speech synthesize -o out.wav --model runs/speech-tts/tts/best
  sextant-speech train --task asr --config dutch --run runs/speech-nl  # real Dutch voice-over
  sextant-speech train --task asr --set dataset=manifest manifests.train=train.jsonl \\
      manifests.valid=valid.jsonl manifests.test=test.jsonl language=nl

Manifests are NeMo-style JSONL: {"audio_filepath": ..., "duration": ..., "text": ...} per line.
transcribe writes transcripts.jsonl (pred_text, duration, compute seconds, words with --align)
and errors.jsonl for unreadable or silent files; a rerun resumes where a killed job stopped.
"""


def _parser() -> argparse.ArgumentParser:
    fmt = argparse.RawDescriptionHelpFormatter
    parser = argparse.ArgumentParser(prog="sextant-speech", description="Speech recognition and synthesis with "
                                     "transformers trained from scratch.", epilog=EXAMPLES, formatter_class=fmt)
    sub = parser.add_subparsers(dest="command", required=True)
    for name, text in (("prepare", "build a dataset's manifests"), ("train", "train ASR or TTS (best: RUN/best)"),
                       ("evaluate", "test metrics next to the peers, with a spectrogram PNG")):
        p = sub.add_parser(name, help=text, epilog=EXAMPLES, formatter_class=fmt)
        p.add_argument("--task", choices=["asr", "tts"], default=None, help="default: the config's (asr)")
        p.add_argument("--config", default="default", help="default, demo, dutch, tiny, or a YAML path")
        p.add_argument("--set", nargs="*", default=[], metavar="KEY=VALUE", help="overrides, e.g. asr.train.max_steps=100")
        p.add_argument("--data", default=None, help="data root (default: the config's cache_dir)")
        if name == "train":
            p.add_argument("--run", default="runs/speech/cli")
            p.add_argument("--resume", action="store_true")
            distributed.add_nproc_option(p)
        if name == "evaluate":
            p.add_argument("--model", required=True)
            p.add_argument("--out", default=None)
    p = sub.add_parser("transcribe", help="speech to text for files, folders or manifests (resumable)",
                       epilog=EXAMPLES, formatter_class=fmt)
    p.add_argument("inputs", nargs="+", help="audio files, folders, or .txt/.jsonl manifests")
    p.add_argument("--model", required=True, help="an ASR model folder")
    p.add_argument("--out", default="transcripts")
    p.add_argument("--align", action="store_true", help="add word start/end times (CTC forced alignment)")
    p.add_argument("--decode", choices=["greedy", "beam", "attention"], default="beam")
    p.add_argument("--beam", type=int, default=8)
    p.add_argument("--no-lm", action="store_true", help="beam search without the character LM")
    p = sub.add_parser("synthesize", help="text to a 16 kHz WAV", epilog=EXAMPLES, formatter_class=fmt)
    p.add_argument("text", nargs="?", default=None, help="the text; omit (or '-') to read standard input")
    p.add_argument("--file", default=None, help="read the text from this file")
    p.add_argument("-o", "--output", required=True, help="output .wav")
    p.add_argument("--model", required=True, help="a TTS model folder")
    p.add_argument("--speed", type=float, default=1.0, help="> 1 speaks faster")
    return parser


def _read_text(args: argparse.Namespace) -> str:
    if args.file:
        return Path(args.file).read_text(encoding="utf-8")
    if args.text and args.text != "-":
        return args.text
    if sys.stdin.isatty():
        raise ValueError("no text: pass it as an argument, with --file, or on standard input")
    return sys.stdin.read()


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        if args.command == "transcribe":
            from apps.speech.batch import transcribe_paths
            from apps.speech.recognize import DecodeConfig, Recognizer

            decode = DecodeConfig(method=args.decode, beam_size=args.beam, use_lm=not args.no_lm)
            summary = transcribe_paths(Recognizer.from_folder(args.model, decode), args.inputs, args.out, args.align)
            print(summary.line())
            print(f"transcripts: {args.out}/transcripts.jsonl (errors: {args.out}/errors.jsonl)")
            return summary.exit_code
        if args.command == "synthesize":
            from apps.speech.synthesize import synthesize_to_file

            result = synthesize_to_file(args.model, _read_text(args), args.output, args.speed)
            print(f"wrote {args.output}: {result['seconds']:.2f} s of audio in {result['compute_seconds']:.2f} s "
                  f"(real-time factor {result['rtf']:.3f})")
            return 0
        from apps.speech import steps

        overrides = list(args.set) + ([f"task={args.task}"] if args.task else [])
        cfg = steps.config(args.config, overrides)
        data = (steps.prepare_data if args.command == "prepare" else steps.ensure_prepared)(cfg, args.data)
        if args.command == "prepare":
            print(json.dumps({"data": data, **steps.validate_data(cfg, data)}, indent=2))
            return 0
        if args.command == "train":
            if (code := distributed.run_under_torchrun_if_asked(args.nproc, "apps.speech.cli", argv)) is not None:
                return code
            result = steps.train_model(cfg, data, args.run, resume=args.resume)
            if distributed.current().is_main:
                print(json.dumps(result, indent=2))
            return 0
        out = args.out or str(Path(args.model).parent / "evaluate")
        result = steps.evaluate_model(cfg, args.model, data, out)
        print(Path(out, "metrics.md").read_text(), end="")
        print(f"tables: {out}/metrics.md; spectrogram: {result['plot']}")
        return 0
    except (SextantError, ValueError, OSError, KeyError) as err:
        print(f"error: {str(err).splitlines()[0] if str(err) else type(err).__name__}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
