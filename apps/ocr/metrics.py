"""OCR scores: character and word error rates (CER, WER), ours next to the peers on the same test images.

CER and WER are corpus-level (total edits over total reference length, :mod:`shared.text_metrics`),
case-sensitive and caseless; ``exact`` is the share of lines read exactly (whitespace collapsed).
Every test group (a held-out font family, the training fonts, digit strings, or the user's
``group`` column) is scored on its own; with several groups each model also gets an ``overall`` row,
the line-weighted mean over the groups. CER decides promotion (lower is better).
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import TYPE_CHECKING

from shared.atomic import atomic_write_bytes, atomic_write_text
from shared.errors import DataError
from shared.reporting import markdown_table as format_table
from shared.text_metrics import cer, wer

if TYPE_CHECKING:
    from apps.ocr.config import OcrConfig

METRIC, MODE = "cer", "min"
OVERALL = "overall"
HEADLINE = ("group", "lines", "cer", "wer", "cer_caseless", "wer_caseless", "exact", "lines_per_s")
AVERAGED = ("cer", "wer", "cer_caseless", "wer_caseless", "exact", "lines_per_s")


def scores(refs: list[str], hyps: list[str]) -> dict[str, float]:
    """CER and WER, case-sensitive and caseless, and the share of lines read exactly."""
    return {"cer": cer(refs, hyps), "wer": wer(refs, hyps), "cer_caseless": cer(refs, hyps, caseless=True),
            "wer_caseless": wer(refs, hyps, caseless=True),
            "exact": sum(" ".join(r.split()) == " ".join(h.split()) for r, h in zip(refs, hyps)) / len(refs)}


def overall(per_group: dict[str, dict[str, float]], sizes: dict[str, int]) -> dict[str, float]:
    """Line-weighted means over all groups, plus each group's CER as ``cer_<group>``."""
    total = sum(sizes[g] for g in per_group)
    out = {k: sum(per_group[g][k] * sizes[g] for g in per_group) / total for k in AVERAGED}
    out.update({f"cer_{g.replace(' ', '_')}": s["cer"] for g, s in per_group.items()})
    return out


def markdown_table(table: list[dict]) -> str:
    """The app's metrics table (see :func:`shared.reporting.markdown_table`)."""
    return format_table(table, HEADLINE, ("lines",))


def evaluate_lines(cfg: OcrConfig, model_dir: str | Path, data_dir: str | Path, out_dir: str | Path,
                   peers: list[str] | None = None) -> dict:
    """Per-group scores of ours (decoded as ``cfg.decode`` says) next to every peer on the same test image
    files; writes ``metrics.json``, ``metrics.md`` and ``test_lines.png`` (a few test lines with our
    reading and the reference) into ``out_dir``."""
    from apps.ocr.config import PEERS
    from apps.ocr.data import test_groups
    from apps.ocr.peers import Tesseract
    from apps.ocr.plots import lines_overlay_png
    from apps.ocr.predict import LineReader, timed_read

    reader = LineReader.from_folder(model_dir, cfg.decode)
    peer_names = list(cfg.peers if peers is None else peers)
    if unknown := [p for p in peer_names if p not in PEERS]:
        raise DataError(f"unknown peer {unknown[0]!r}; available: {', '.join(PEERS)}")
    peer_readers = {name: Tesseract() for name in peer_names}
    groups = test_groups(data_dir, cfg.evaluate.test_limit)
    sizes = {g: len(rows) for g, rows in groups.items()}
    table, by_model, samples = [], {"ours": {}, **{p: {} for p in peer_names}}, []
    for group, rows in groups.items():
        refs = [r.text for r in rows]
        images = [r.load() for r in rows]
        found, speed = timed_read(reader, images)
        by_model["ours"][group] = {**scores(refs, [f.text for f in found]), "lines_per_s": speed}
        table.append({"model": "ours", "group": group, "lines": len(rows), **by_model["ours"][group]})
        samples += [(images[i], found[i], refs[i]) for i in range(min(2, len(rows)))]
        for name, peer in peer_readers.items():
            start = time.perf_counter()
            peer_texts = peer.read_files([r.image for r in rows])
            speed = len(rows) / max(time.perf_counter() - start, 1e-9)
            by_model[name][group] = {**scores(refs, peer_texts), "lines_per_s": speed}
            table.append({"model": name, "group": group, "lines": len(rows), **by_model[name][group]})
    totals = {name: overall(results, sizes) for name, results in by_model.items()}
    if len(groups) > 1:
        table += [{"model": name, "group": OVERALL, "lines": sum(sizes.values()),
                   **{k: totals[name][k] for k in AVERAGED}} for name in by_model]
    out = Path(out_dir)
    atomic_write_text(out / "metrics.json", json.dumps(table, indent=2) + "\n")
    atomic_write_text(out / "metrics.md", markdown_table(table))
    plot = out / "test_lines.png"
    atomic_write_bytes(plot, lines_overlay_png([s[0] for s in samples], [s[1].text for s in samples],
                                               [s[1].confidence for s in samples], [s[2] for s in samples],
                                               title="test lines: ours (blue) and the reference (grey)"))
    best_peer = min(peer_names, key=lambda p: totals[p][METRIC]) if peer_names else None
    return {"table": table, "ours": totals["ours"], "best_peer": best_peer,
            "best_peer_scores": totals[best_peer] if best_peer else None, "plot": str(plot),
            "metrics_md": str(out / "metrics.md"), "metrics_json": str(out / "metrics.json")}
