"""Malformed input, kind by kind, for every app's batch CLI: one definition for
``tests/reliability/test_bad_input_kinds.py`` (CI) and ``benchmarks/reliability.py`` (the report).

Each :class:`BadInput` writes one input, the bad item next to two good ones, and says what the
app must do with it:

- ``"error"``: the bad item becomes an error row with a one-line reason, the good ones records;
- ``"record"``: the app repairs or accepts it (a 16-bit PNG, a series with gaps) and writes a
  record with finite numbers;
- ``"either"``: one of the two (say, a 1x1 image);
- ``"refused"``: the whole input is bad (a wrong column, a manifest escaping its folder): the
  CLI stops with a one-line ``error:`` message, or writes a file-level error row.

The CLI runs in-process (``main(argv)``), so the suite takes seconds, not a process start per
kind. A kind *crashed* when an exception escaped ``main``, a traceback was printed, a good item
was lost, or the bad one vanished; it was *handled cleanly* when the outcome is the expected one.
"""

from __future__ import annotations

import contextlib
import io
import json
import math
import os
import shutil
import struct
import wave
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from shared.inference import read_outputs
from tests.reliability.tiny_models import tiny_model

Writer = Callable[[Path], Path]  # case folder -> the input path to hand the CLI


@dataclass(frozen=True)
class BadInput:
    kind: str
    write: Writer
    bad_id: str | None  # the bad item's row id; None for a whole-input problem
    expect: str = "error"  # "error", "record", "either" or "refused"
    good_ids: tuple[str, ...] = ()
    env: dict[str, str] = field(default_factory=dict)  # e.g. a lowered size limit


@dataclass(frozen=True)
class AppBadInputs:
    app: str
    main: Callable[[list[str]], int]
    argv: Callable[[Path, Path], list[str]]  # (input, output folder) -> CLI arguments
    cases: list[BadInput]


# ------------------------------------------------------------------ running and judging
@contextlib.contextmanager
def _environ(values: dict[str, str]) -> Iterator[None]:
    saved = {k: os.environ.get(k) for k in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


def _number(value) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _sane(records: list[dict], reference: list[dict]) -> bool:
    """Every record finite, and numeric wherever the good rows' records are numeric (parquet reads
    a NaN back as None, so a missing number counts as a bad one)."""
    numeric = {k for r in reference for k, v in r.items() if _number(v)}
    for record in records:
        for key, value in record.items():
            if _number(value) and not math.isfinite(value):
                return False
            if key in numeric and not _number(value):
                return False
    return True


def _one_line_error(stderr: str) -> bool:
    lines = [line for line in stderr.splitlines() if line.strip().startswith("error:")]
    return len(lines) == 1 and "Traceback" not in stderr


def _invoke(suite: AppBadInputs, case: BadInput, source: Path, out: Path) -> tuple[int | None, str, str | None]:
    """The CLI's exit code, what it printed on stderr, and the exception that escaped it (if any)."""
    stdout, stderr = io.StringIO(), io.StringIO()
    crash = None
    with _environ(case.env), contextlib.redirect_stdout(stdout), contextlib.redirect_stderr(stderr):
        try:
            code = suite.main(suite.argv(source, out))
        except SystemExit as exit:
            code = exit.code if isinstance(exit.code, int) else 1
        except Exception as err:  # noqa: BLE001 - any escape is what the suite counts
            code, crash = None, f"{type(err).__name__}: {str(err).splitlines()[0] if str(err) else ''}"
    if crash is None and "Traceback" in stderr.getvalue():
        crash = "a traceback was printed"
    return code, stderr.getvalue(), crash


def judge(suite: AppBadInputs, case: BadInput, work: Path) -> dict:
    """Run ``case`` through the app's CLI in ``work``; what happened, and whether it was clean.

    Crashed: an exception escaped, a traceback was printed, a good row was lost, the bad row
    vanished, or an error row says ``internal error`` (an exception the app did not expect).
    """
    work.mkdir(parents=True, exist_ok=True)
    source, out = case.write(work), work / "out"
    code, stderr, crash = _invoke(suite, case, source, out)
    result = {"app": suite.app, "kind": case.kind, "expect": case.expect, "exit_code": code}

    def crashed(detail: str) -> dict:
        return {**result, "outcome": "crashed", "clean": False, "crashed": True, "detail": detail}

    if crash is not None:
        return crashed(crash)
    if code == 2:
        message = next((line for line in stderr.splitlines() if line.startswith("error:")), "")
        clean = case.expect == "refused" and _one_line_error(stderr)
        return {**result, "outcome": "refused", "clean": clean, "crashed": False, "detail": message}
    records = read_outputs(out) if out.is_dir() else []
    errors = [json.loads(x) for x in (out / "errors.jsonl").read_text().splitlines()] if (out / "errors.jsonl").is_file() else []
    reasons = {e["row_id"]: e["reason"] for e in errors}
    if internal := [r for r in reasons.values() if r.startswith("internal error")]:
        return crashed(internal[0])
    one_line = all(r.strip() and "\n" not in r.strip() for r in reasons.values())
    if case.expect == "refused":  # a file-level error row, or every row an error; exit code 1 either way
        file_errors = [reason for row_id, reason in reasons.items() if row_id.endswith("<file>")]
        refused = bool(reasons) and not records
        outcome = ("file error row" if file_errors else "all rows errors") if refused else "accepted"
        detail = next(iter(file_errors or reasons.values()), f"{len(records)} records")
        return {**result, "outcome": outcome, "clean": refused and code == 1 and one_line, "crashed": False,
                "detail": detail}
    ids = {r["row_id"] for r in records}
    if lost := [g for g in case.good_ids if g not in ids]:
        return crashed(f"good rows lost: {lost}")
    good = [r for r in records if r["row_id"] in case.good_ids]
    bad = [r for r in records if r["row_id"] == case.bad_id]
    if case.bad_id in reasons:
        outcome, detail, allowed = "error row", reasons[case.bad_id], ("error", "either")
        clean = not bad
    elif bad:
        outcome, detail, allowed = "record", "", ("record", "either")
        clean = _sane(bad, good)
        detail = "" if clean else "a record with NaN, inf or a missing number"
    else:
        return crashed(f"the bad row {case.bad_id!r} is in neither the records nor errors.jsonl")
    clean = clean and case.expect in allowed and code == 0 and one_line
    return {**result, "outcome": outcome, "clean": clean, "crashed": False, "detail": detail}


def run_app(suite: AppBadInputs, work: Path) -> list[dict]:
    """Every kind of ``suite``, each in its own folder under ``work``."""
    return [judge(suite, case, work / f"case{i:02d}") for i, case in enumerate(suite.cases)]


# ------------------------------------------------------------------ shared writers
def _copy_into(folder: Path, files: dict[str, Path | bytes]) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for name, content in files.items():
        if isinstance(content, Path):
            shutil.copy(content, folder / name)
        else:
            (folder / name).write_bytes(content)
    return folder


def _folder(good: list[Path], suffix: str, bad_name: str | None, bad: Callable[[Path], None] | bytes | None) -> Writer:
    """A folder of ``good1<suffix>``, ``good2<suffix>`` and the bad file ``bad_name``."""
    def write(work: Path) -> Path:
        folder = _copy_into(work / "in", {f"good{i + 1}{suffix}": good[i] for i in range(2)})
        if bad_name is not None:
            if callable(bad):
                bad(folder / bad_name)
            else:
                (folder / bad_name).write_bytes(bad or b"")
        return folder

    return write


def _manifest(good: list[Path], suffix: str, lines: list[str], manifest_name: str = "list.txt",
              raw: bytes | None = None) -> Writer:
    """Two good files and a manifest listing them plus ``lines`` (or holding ``raw`` bytes)."""
    def write(work: Path) -> Path:
        folder = _copy_into(work / "in", {f"good{i + 1}{suffix}": good[i] for i in range(2)})
        manifest = folder / manifest_name
        if raw is not None:
            manifest.write_bytes(raw)
        else:
            manifest.write_text("\n".join([f"good1{suffix}", f"good2{suffix}", *lines]) + "\n")
        return manifest

    return write


def _missing(work: Path) -> Path:
    return work / "no-such-input"


def _file_cases(good: list[Path], suffix: str, good_ids: tuple[str, ...]) -> list[BadInput]:
    """Manifest and path kinds every file-based app shares."""
    return [
        BadInput("manifest listing a missing file", _manifest(good, suffix, [f"gone{suffix}"]), f"gone{suffix}",
                 good_ids=good_ids),
        BadInput("manifest escaping its folder (../)", _manifest(good, suffix, ["../" * 24 + f"etc/passwd{suffix}"]),
                 None, "refused"),  # deep enough to leave any temporary folder an allowed root may name
        BadInput("manifest entry starting with ~ (not expanded)", _manifest(good, suffix, [f"~nobody/gone{suffix}"]),
                 f"~nobody/gone{suffix}", good_ids=good_ids),
        BadInput("manifest entry with a NUL byte", _manifest(good, suffix, [f"bad\x00name{suffix}"]), None, "refused"),
        BadInput("manifest that is not UTF-8", _manifest(good, suffix, [], raw=b"good1" + suffix.encode() + b"\n\xff\xfe\n"),
                 None, "refused"),
        BadInput("input path that does not exist", _missing, None, "refused"),
    ]


# ------------------------------------------------------------------ images (vision, OCR)
def _png(array: np.ndarray) -> Callable[[Path], None]:
    from PIL import Image

    return lambda path: Image.fromarray(array).save(path, format="PNG")


def _bomb(path: Path) -> None:
    from PIL import Image

    Image.new("1", (10_000, 10_000)).save(path)  # 100 Mpixel in about 15 KB


def _cmyk_jpeg(source: Path) -> Callable[[Path], None]:
    from PIL import Image

    return lambda path: Image.open(source).convert("CMYK").save(path, format="JPEG")


def _palette_png(source: Path) -> Callable[[Path], None]:
    from PIL import Image

    def write(path: Path) -> None:
        image = Image.open(source).convert("RGB").quantize(16)
        image.save(path, format="PNG", transparency=0)

    return write


def _float_tiff_with_nan(source: Path) -> Callable[[Path], None]:
    from PIL import Image

    def write(path: Path) -> None:
        pixels = np.asarray(Image.open(source).convert("L"), dtype=np.float32)
        pixels[::3, ::3] = np.nan
        pixels[1::5, 1::5] = np.inf
        Image.fromarray(pixels, "F").save(path, format="TIFF")

    return write


def _sixteen_bit(source: Path) -> Callable[[Path], None]:
    from PIL import Image

    def write(path: Path) -> None:
        pixels = np.asarray(Image.open(source).convert("L"), dtype=np.uint16) * 257
        Image.fromarray(pixels).save(path, format="PNG")

    return write


def _image_cases(good: list[Path]) -> list[BadInput]:
    ids = ("good1.png", "good2.png")
    first = good[0]
    return [
        BadInput("truncated PNG", _folder(good, ".png", "bad.png", first.read_bytes()[:100]), "bad.png", good_ids=ids),
        BadInput("zero-length file", _folder(good, ".png", "bad.png", b""), "bad.png", good_ids=ids),
        BadInput("random bytes named .png", _folder(good, ".png", "bad.png", np.random.default_rng(0).bytes(4000)),
                 "bad.png", good_ids=ids),
        BadInput("text file named .jpg", _folder(good, ".png", "bad.jpg", b"name,value\na,1\n" * 50), "bad.jpg",
                 good_ids=ids),
        BadInput("decompression bomb (10,000 x 10,000 px PNG of 15 KB)", _folder(good, ".png", "bad.png", _bomb),
                 "bad.png", good_ids=ids),
        BadInput("1 x 1 pixel image", _folder(good, ".png", "bad.png", _png(np.zeros((1, 1, 3), np.uint8))), "bad.png",
                 "either", ids),
        BadInput("extreme aspect ratio (3 x 3,000 px)", _folder(good, ".png", "bad.png",
                                                              _png(np.full((3, 3000), 200, np.uint8))),
                 "bad.png", "either", ids),
        BadInput("16-bit grayscale PNG", _folder(good, ".png", "bad.png", _sixteen_bit(first)), "bad.png", "record",
                 ids),
        BadInput("CMYK JPEG", _folder(good, ".png", "bad.jpg", _cmyk_jpeg(first)), "bad.jpg", "record", ids),
        BadInput("palette PNG with transparency", _folder(good, ".png", "bad.png", _palette_png(first)), "bad.png",
                 "record", ids),
        BadInput("32-bit float TIFF with NaN and inf pixels", _folder(good, ".png", "bad.tif", _float_tiff_with_nan(first)),
                 "bad.tif", "either", ids),
        BadInput("image over a lowered pixel limit", _folder(good, ".png", "bad.png", _png(np.zeros((300, 400), np.uint8))),
                 "bad.png", good_ids=ids, env={"SEXTANT_MAX_IMAGE_PIXELS": "100000"}),
        *_file_cases(good, ".png", ids),
    ]


def vision_bad_inputs(models: Path) -> AppBadInputs:
    from apps.vision.app import main

    tiny = tiny_model("vision", models)
    good = sorted(Path(tiny.data, "test").glob("*.png"))[:2]
    return AppBadInputs("vision", main, lambda src, out: ["predict", str(src), "--model", str(tiny.model), "--out",
                                                          str(out), "--no-flips"], _image_cases(good))


def ocr_bad_inputs(models: Path) -> AppBadInputs:
    from apps.ocr.app import main

    tiny = tiny_model("ocr", models)
    good = sorted(Path(tiny.data, "images", "test").glob("*.png"))[:2]
    return AppBadInputs("ocr", main, lambda src, out: ["predict", str(src), "--model", str(tiny.model), "--out", str(out),
                                                       "--format", "jsonl", "--decode", "greedy"], _image_cases(good))


# ------------------------------------------------------------------ audio (speech)
def _wav(samples: np.ndarray, rate: int = 16000, subtype: str = "FLOAT") -> Callable[[Path], None]:
    import soundfile as sf

    return lambda path: sf.write(path, samples, rate, subtype=subtype, format="WAV")


def _lying_wav_header(path: Path) -> None:
    """A 16-bit WAV whose header declares 10 hours but which holds half a second of a tone."""
    tone = (8000 * np.sin(np.arange(8000) * 2 * np.pi * 220 / 16000)).astype(np.int16)
    with wave.open(str(path), "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(16000)
        out.writeframes(tone.tobytes())
    data = bytearray(path.read_bytes())
    declared = 10 * 3600 * 16000 * 2
    data[4:8] = struct.pack("<I", min(declared + 36, 2**32 - 1))
    data[40:44] = struct.pack("<I", min(declared, 2**32 - 37))
    path.write_bytes(bytes(data))


def _audio_cases(good: list[Path]) -> list[BadInput]:
    ids = ("good1.wav", "good2.wav")
    speech = _read_wav(good[0])
    longest = max(len(_read_wav(g)) for g in good) / 16000
    noise = np.random.default_rng(0).normal(0, 0.1, int(16000 * 3 * longest)).astype(np.float32)
    with_nan, with_inf = speech.copy(), speech.copy()
    with_nan[::50] = np.nan
    with_inf[::70] = np.inf
    stereo_8k = np.stack([speech[::2], speech[::2] * 0.5], 1)
    tone = 0.5 * np.sin(np.arange(16000) * 2 * np.pi * 220 / 16000).astype(np.float32)
    square = np.sign(np.sin(np.linspace(0, 2000, 32000))).astype(np.float32)
    return [
        BadInput("truncated WAV", _folder(good, ".wav", "bad.wav", good[0].read_bytes()[:30]), "bad.wav", good_ids=ids),
        BadInput("zero-length file", _folder(good, ".wav", "bad.wav", b""), "bad.wav", good_ids=ids),
        BadInput("random bytes named .wav", _folder(good, ".wav", "bad.wav", np.random.default_rng(1).bytes(4000)),
                 "bad.wav", good_ids=ids),
        BadInput("text file named .flac", _folder(good, ".wav", "bad.flac", b"hello world\n" * 40), "bad.flac",
                 good_ids=ids),
        BadInput("silence", _folder(good, ".wav", "bad.wav", _wav(np.zeros(16000, np.float32))), "bad.wav",
                 good_ids=ids),
        BadInput("NaN samples", _folder(good, ".wav", "bad.wav", _wav(with_nan)), "bad.wav", "either", ids),
        BadInput("infinite samples", _folder(good, ".wav", "bad.wav", _wav(with_inf)), "bad.wav", "either", ids),
        BadInput("audio over a lowered duration limit", _folder(good, ".wav", "bad.wav", _wav(noise)), "bad.wav",
                 good_ids=ids, env={"SEXTANT_MAX_AUDIO_SECONDS": f"{2 * longest:.1f}"}),
        BadInput("WAV header declaring 10 hours", _folder(good, ".wav", "bad.wav", _lying_wav_header), "bad.wav",
                 "either", ids),
        BadInput("10 ms of a tone", _folder(good, ".wav", "bad.wav", _wav(tone[:160])), "bad.wav", "either", ids),
        BadInput("8 kHz stereo", _folder(good, ".wav", "bad.wav", _wav(stereo_8k, 8000, "PCM_16")), "bad.wav", "record",
                 ids),
        BadInput("full-scale clipped square wave", _folder(good, ".wav", "bad.wav", _wav(square, 16000, "PCM_16")),
                 "bad.wav", "record", ids),
        *_file_cases(good, ".wav", ids),
    ]


def _read_wav(path: Path) -> np.ndarray:
    import soundfile as sf

    audio, _ = sf.read(path, dtype="float32")
    return audio


def speech_bad_inputs(models: Path) -> AppBadInputs:
    from apps.speech.app import main
    from apps.speech.data import load_split

    tiny = tiny_model("speech-asr", models)
    good = [Path(e.audio_filepath) for e in load_split(tiny.data, "test")[:2]]
    return AppBadInputs("speech-asr", lambda argv: main(["asr", *argv]),  # sextant-speech asr ... is sextant speech-asr ...
                        lambda src, out: ["predict", str(src), "--model", str(tiny.model), "--out", str(out),
                                          "--decode", "greedy"], _audio_cases(good))


# ------------------------------------------------------------------ documents (summarization)
def _jsonl(good: list[str], bad_lines: list[bytes]) -> Writer:
    def write(work: Path) -> Path:
        lines = [json.dumps({"id": f"good{i + 1}", "document": doc}).encode() for i, doc in enumerate(good)]
        path = work / "docs.jsonl"
        path.write_bytes(b"\n".join([lines[0], *bad_lines, lines[1]]) + b"\n")
        return path

    return write


def _raw(content: bytes, name: str = "docs.jsonl") -> Writer:
    def write(work: Path) -> Path:
        (work / name).write_bytes(content)
        return work / name

    return write


def _doc(document) -> bytes:
    return json.dumps({"id": "bad", "document": document}).encode()


def _text_folder(good: list[str], bad: bytes) -> Writer:
    def write(work: Path) -> Path:
        folder = work / "texts"
        folder.mkdir()
        for i, doc in enumerate(good):
            (folder / f"good{i + 1}.txt").write_text(doc)
        (folder / "bad.txt").write_bytes(bad)
        return folder

    return write


def summarization_bad_inputs(models: Path) -> AppBadInputs:
    from apps.summarization.app import main
    from apps.summarization.data import load_set

    tiny = tiny_model("summarization", models)
    good = [p.document for p in load_set(tiny.data, "test")[:2]]
    ids = ("good1", "good2")
    long_doc = " ".join(good * 40)
    cases = [
        BadInput("empty document", _jsonl(good, [_doc("")]), "bad", good_ids=ids),
        BadInput("whitespace-only document", _jsonl(good, [_doc(" \n\t ")]), "bad", good_ids=ids),
        BadInput("number instead of text", _jsonl(good, [_doc(12345)]), "bad", good_ids=ids),
        BadInput("null document", _jsonl(good, [_doc(None)]), "bad", good_ids=ids),
        BadInput("missing 'document' key", _jsonl(good, [json.dumps({"id": "bad", "text": good[0]}).encode()]), "bad",
                 good_ids=ids),
        BadInput("malformed JSON line", _jsonl(good, [b'{"id": "x", "document": "unclosed']), "line-2", good_ids=ids),
        BadInput("line that is not UTF-8", _jsonl(good, [b'{"id": "x", "document": "caf\xe9"}']), "line-2",
                 good_ids=ids),
        BadInput("JSON array instead of an object", _jsonl(good, [b'["bad", "document"]']), "line-2", good_ids=ids),
        BadInput("binary content (NUL and control bytes)", _jsonl(good, [_doc("ab\x00\x01\x02" * 50)]), "bad",
                 good_ids=ids),
        BadInput("document over a lowered length limit", _jsonl(good, [_doc(long_doc)]), "bad", good_ids=ids,
                 env={"SEXTANT_MAX_DOCUMENT_BYTES": "4000"}),
        BadInput("emoji and punctuation only", _jsonl(good, [_doc("!!! ... 🙂🙂 ??? —")]), "bad", "either", ids),
        BadInput("one 20,000-character word", _jsonl(good, [_doc("x" * 20_000)]), "bad", "either", ids),
        BadInput(".txt file that is not UTF-8", _text_folder(good, b"caf\xe9 au lait " * 20), "bad.txt",
                 good_ids=("good1.txt", "good2.txt")),
        BadInput("zero-length JSONL file", _raw(b""), None, "refused"),
        BadInput("binary file named .jsonl", _raw(np.random.default_rng(2).bytes(3000)), None, "refused"),
        BadInput("input path that does not exist", _missing, None, "refused"),
    ]
    return AppBadInputs("summarization", main, lambda src, out: ["predict", str(src), "--model", str(tiny.model),
                                                                 "--out", str(out), "--format", "jsonl", "--beams", "1",
                                                                 "--max-length", "8"], cases)


# ------------------------------------------------------------------ molecules (SMILES CSV)
def _smiles_csv(bad: str) -> Writer:
    def write(work: Path) -> Path:
        import pandas as pd

        path = work / "mols.csv"
        pd.DataFrame({"smiles": ["CCO", bad, "c1ccccc1O"]}).to_csv(path, index=False)
        return path

    return write


def molecules_bad_inputs(models: Path) -> AppBadInputs:
    from apps.molecules.app import main

    tiny = tiny_model("molecules", models)
    ids = ("mols:0", "mols:2")
    cases = [
        BadInput(kind, _smiles_csv(smiles), "mols:1", expect, ids)
        for kind, smiles, expect in [
            ("SMILES syntax error", "C1CC(", "error"),
            ("empty SMILES cell", "", "error"),
            ("valence violation (pentavalent carbon)", "C(C)(C)(C)(C)C", "error"),
            ("unclosed ring", "C1CC", "error"),
            ("impossible aromatic ring", "c1cccc1", "error"),
            ("unknown element", "[Xx]CC", "error"),
            ("number instead of SMILES", "12345", "error"),
            ("'nan' in the SMILES column", "nan", "error"),
            ("SMILES with an embedded newline", "CC\nO", "error"),
            ("SMILES with a space (RDKit reads the rest as a name)", "CC O", "error"),
            ("single atom, no bonds", "[Na+]", "record"),
            ("salt with two fragments", "CC(=O)[O-].[Na+]", "record"),
            ("1,500-atom chain", "C" * 1500, "either"),
        ]
    ]
    cases += [
        BadInput("wrong column name", _raw(b"smi\nCCO\nCCN\n", "mols.csv"), None, "refused"),
        BadInput("zero-length CSV", _raw(b"", "mols.csv"), None, "refused"),
        BadInput("CSV that is not UTF-8", _raw(b"smiles\nCCO\nC\xe9C\n", "mols.csv"), None, "refused"),
        BadInput("input path that does not exist", _missing, None, "refused"),
    ]
    return AppBadInputs("molecules", main, lambda src, out: ["predict", str(src), "--model", str(tiny.model), "--out",
                                                             str(out), "--mc-samples", "2"], cases)


# ------------------------------------------------------------------ forecasting (long-format CSV)
def _series_csv(base, bad_rows: list[tuple[str, str]] | None = None, header: str = "unique_id,ds,y") -> Writer:
    def write(work: Path) -> Path:
        lines = [header]
        for uid, scale in (("good1", 1.0), ("good2", 2.0)):
            lines += [f"{uid},{ds:%Y-%m-%d},{y * scale}" for ds, y in zip(base["ds"], base["y"])]
        lines += [f"bad,{ds},{y}" for ds, y in bad_rows or []]
        path = work / "series.csv"
        path.write_text("\n".join(lines) + "\n")
        return path

    return write


def forecasting_bad_inputs(models: Path) -> AppBadInputs:
    import pandas as pd

    from apps.forecasting.app import main

    tiny = tiny_model("forecasting", models)
    base = pd.read_parquet(tiny.data / "airpassengers.parquet")[["ds", "y"]].reset_index(drop=True)
    dates = [f"{d:%Y-%m-%d}" for d in base["ds"]]
    values = [str(v) for v in base["y"]]

    def series(edit: Callable[[list[str], list[str]], tuple[list[str], list[str]]]) -> list[tuple[str, str]]:
        d, v = edit(list(dates), list(values))
        return list(zip(d, v))

    def at(i: int, value: str):
        return lambda d, v: (d, v[:i] + [value] + v[i + 1:])

    ids = ("good1", "good2")
    cases = [
        BadInput("NaN values", _series_csv(base, series(at(40, "nan"))), "bad", "record", ids),
        BadInput("infinite values", _series_csv(base, series(at(50, "inf"))), "bad", "record", ids),
        BadInput("non-numeric value", _series_csv(base, series(at(60, "abc"))), "bad", "record", ids),
        BadInput("no observed values", _series_csv(base, series(lambda d, v: (d, [""] * len(v)))), "bad", good_ids=ids),
        BadInput("duplicate timestamps", _series_csv(base, series(lambda d, v: (d[:50] + [d[49]] + d[50:],
                                                                                v[:50] + [v[49]] + v[50:]))),
                 "bad", good_ids=ids),
        BadInput("too short (3 points)", _series_csv(base, series(lambda d, v: (d[:3], v[:3]))), "bad", good_ids=ids),
        BadInput("irregular timestamps", _series_csv(base, series(lambda d, v: (d[:70] + ["1955-03-17"] + d[71:], v))),
                 "bad", good_ids=ids),
        BadInput("missing timestamps (a gap)", _series_csv(base, series(lambda d, v: (d[:30] + d[33:], v[:30] + v[33:]))),
                 "bad", "record", ids),
        BadInput("unparseable dates", _series_csv(base, series(lambda d, v: (d[:20] + ["yesterday"] + d[21:], v))),
                 "bad", "either", ids),
        BadInput("values near the float limit (1e300)",
                 _series_csv(base, series(lambda d, v: (d, [str(float(x) * 1e298) for x in v]))), "bad", "either", ids),
        BadInput("constant series", _series_csv(base, series(lambda d, v: (d, ["7"] * len(v)))), "bad", "record", ids),
        BadInput("wrong column names", _series_csv(base, header="id,date,value"), None, "refused"),
        BadInput("zero-length CSV", _raw(b"", "series.csv"), None, "refused"),
        BadInput("UTF-16 encoded CSV", _raw("unique_id,ds,y\na,2020-01-01,1\n".encode("utf-16"), "series.csv"), None,
                 "refused"),
        BadInput("input path that does not exist", _missing, None, "refused"),
    ]
    return AppBadInputs("forecasting", main, lambda src, out: ["predict", str(src), "--model", str(tiny.model),
                                                               "--out", str(out)], cases)


BUILDERS: dict[str, Callable[[Path], AppBadInputs]] = {
    "forecasting": forecasting_bad_inputs,
    "molecules": molecules_bad_inputs,
    "speech-asr": speech_bad_inputs,
    "vision": vision_bad_inputs,
    "ocr": ocr_bad_inputs,
    "summarization": summarization_bad_inputs,
}


def tally(results: list[dict]) -> dict:
    """Kinds tried, handled cleanly and crashed, for one app's results."""
    return {"tried": len(results), "clean": sum(r["clean"] for r in results),
            "crashed": sum(r["crashed"] for r in results)}

