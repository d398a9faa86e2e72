"""Batch OCR of files, folders or manifests on the shared batch-inference contract.

Each image is one row (``row_id`` = its path relative to the folder or manifest it
came from). In line mode an image is one text line; in page mode (``page=True``)
it is deskewed and cut into lines (:mod:`apps.ocr.page`), which are read in one
batch and reported in reading order. Every record holds the text and a confidence
per line (page mode adds the line number and its box in the deskewed page). An
unreadable or corrupt image becomes an error row and the job carries on. With
``overlay``, ``overlays/<row_id>.png`` shows the recognised text under each line.
At the end ``lines.jsonl`` gathers all records in input order. Reruns skip finished
shards: a killed job resumes without losing or duplicating a row.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path

from apps.ocr.images import IMAGE_SUFFIXES, read_image
from apps.ocr.overlay import lines_overlay_png, overlay_png
from apps.ocr.page import read_page_lines
from apps.ocr.read import LineReader
from shared.atomic import atomic_write_bytes, atomic_write_text
from shared.errors import DataError
from shared.inference import InferenceSummary, InputRow, RowError, file_rows, read_outputs, run_batch_inference


def _overlay_path(output_dir: Path, row_id: str) -> Path:
    safe = Path(*[p for p in Path(row_id).parts if p not in ("..", "/")])
    return output_dir / "overlays" / safe.with_suffix(".png")


def make_predict_fn(reader: LineReader, page: bool, output_dir: Path, overlay: bool):
    def predict(rows: list[InputRow]) -> list[list[dict] | RowError]:
        results: list[list[dict] | RowError | None] = [None] * len(rows)
        crops, owners, layouts = [], [], {}
        for i, row in enumerate(rows):
            try:
                image = read_image(row.payload)
                if page:
                    lines, boxes, straight, angle = read_page_lines(image)
                    layouts[i] = (straight, boxes, angle)
                else:
                    lines = [image]
            except DataError as err:
                results[i] = RowError(str(err))
                continue
            crops += lines
            owners += [i] * len(lines)
            results[i] = []
        found = reader.read(crops)
        for k, (i, line) in enumerate(zip(owners, found, strict=True)):
            record = {"image": str(rows[i].payload), "text": line.text, "confidence": round(line.confidence, 4)}
            if page:
                straight, boxes, angle = layouts[i]
                record.update({"line": len(results[i]), "box": list(map(int, boxes[len(results[i])])),
                               "skew_degrees": round(angle, 2)})
            results[i].append(record)  # type: ignore[union-attr]
        if overlay:
            for i, records in enumerate(results):
                if isinstance(records, list):
                    texts = [r["text"] for r in records]
                    confidences = [r["confidence"] for r in records]
                    png = (overlay_png(layouts[i][0], layouts[i][1], texts, confidences) if page
                           else lines_overlay_png([crops[owners.index(i)]], texts, confidences))
                    atomic_write_bytes(_overlay_path(output_dir, rows[i].row_id), png)
        return results  # type: ignore[return-value]

    return predict


def read_paths(reader: LineReader, paths: Sequence[str | Path], output_dir: str | Path, page: bool = False,
               overlay: bool = False, progress: bool = True, shard_size: int = 64,
               batch_size: int = 32) -> InferenceSummary:
    """OCR everything under ``paths`` into ``output_dir`` (resumable); writes lines.jsonl."""
    out = Path(output_dir)
    rows = [row for path in paths for row in file_rows(path, IMAGE_SUFFIXES)]
    summary = run_batch_inference(rows, make_predict_fn(reader, page, out, overlay), out, shard_size=shard_size,
                                  batch_size=batch_size if not page else 4, fmt="jsonl", progress=progress)
    records = read_outputs(out)
    atomic_write_text(out / "lines.jsonl", "".join(json.dumps(r) + "\n" for r in records))
    return summary
