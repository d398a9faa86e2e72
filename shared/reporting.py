"""Metric tables as markdown: one row per model, the same format in every app and benchmark."""

from __future__ import annotations

from collections.abc import Sequence


def markdown_table(rows: Sequence[dict], columns: Sequence[str], counts: Sequence[str] = (), key: str = "model") -> str:
    """A markdown table of ``rows`` (``{key: name, column: value, ...}``) over the ``columns`` some row has.

    Numbers get 3 decimals (``counts`` columns: whole numbers), text is shown as is, and a
    missing value or NaN is shown as "–".
    """
    keys = [k for k in columns if any(k in row for row in rows)]
    lines = [f"| {key} | " + " | ".join(keys) + " |", "|---|" + "---:|" * len(keys)]
    for row in rows:
        cells = []
        for k in keys:
            value = row.get(k)
            if isinstance(value, str):
                cells.append(value)
            elif not isinstance(value, (int, float)) or value != value:
                cells.append("–")
            else:
                cells.append(f"{value:.0f}" if k in counts else f"{value:.3f}")
        lines.append(f"| {row[key]} | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"
