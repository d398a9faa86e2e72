"""Pictures of predictions: masks and boxes drawn on the input, and side-by-side panels."""

from __future__ import annotations

import numpy as np
from PIL import Image, ImageDraw

# Distinct colours (Okabe-Ito, then a few more); instance k uses PALETTE[k % len(PALETTE)].
PALETTE = np.array([(230, 159, 0), (86, 180, 233), (0, 158, 115), (240, 228, 66), (0, 114, 178),
                    (213, 94, 0), (204, 121, 167), (255, 255, 255), (120, 200, 80), (180, 80, 220)], dtype=np.float32)


def colour_labels(image: np.ndarray, labels: np.ndarray, alpha: float = 0.45) -> np.ndarray:
    """``image`` with every non-zero label blended in its palette colour and a 1-pixel outline."""
    out = image.astype(np.float32).copy()
    ids = labels.astype(np.int64)
    fg = ids > 0
    colours = PALETTE[(ids - 1) % len(PALETTE)]
    out[fg] = (1 - alpha) * out[fg] + alpha * colours[fg]
    edge = np.zeros_like(fg)
    edge[:-1] |= ids[:-1] != ids[1:]
    edge[:, :-1] |= ids[:, :-1] != ids[:, 1:]
    edge &= fg
    out[edge] = colours[edge]
    return out.clip(0, 255).astype(np.uint8)


def draw_boxes(image: np.ndarray, boxes: np.ndarray, labels: list[str] | None = None, colour_ids: np.ndarray | None = None,
               scale: int = 1) -> np.ndarray:
    """Boxes (xyxy pixels of the unscaled image) and optional text labels on an upscaled copy."""
    canvas = Image.fromarray(image).resize((image.shape[1] * scale, image.shape[0] * scale), Image.NEAREST)
    draw = ImageDraw.Draw(canvas)
    for i, (x0, y0, x1, y1) in enumerate(boxes):
        colour = tuple(int(c) for c in PALETTE[int(colour_ids[i] if colour_ids is not None else 0) % len(PALETTE)])
        left, top = x0 * scale, y0 * scale
        right, bottom = max(x1 * scale - 1, left), max(y1 * scale - 1, top)  # zero-width boxes are valid COCO
        draw.rectangle([left, top, right, bottom], outline=colour, width=max(1, scale // 2))
        if labels:
            draw.text((x0 * scale + 2, y0 * scale + 1), labels[i], fill=colour)
    return np.asarray(canvas)


def upscale(image: np.ndarray, scale: int) -> np.ndarray:
    """Nearest-neighbour enlargement (pixels stay crisp)."""
    return image if scale == 1 else np.asarray(Image.fromarray(image).resize(
        (image.shape[1] * scale, image.shape[0] * scale), Image.NEAREST))


def panel(images: list[np.ndarray], titles: list[str]) -> np.ndarray:
    """RGB images side by side, each under a title line."""
    tiles = []
    for image, title in zip(images, titles, strict=True):
        tile = Image.new("RGB", (image.shape[1], image.shape[0] + 14), (25, 25, 25))
        tile.paste(Image.fromarray(image), (0, 14))
        ImageDraw.Draw(tile).text((3, 1), title, fill=(240, 240, 240))
        tiles.append(np.asarray(tile))
    height = max(t.shape[0] for t in tiles)
    return np.concatenate([np.pad(t, ((0, height - t.shape[0]), (0, 4), (0, 0))) for t in tiles], axis=1)


def stack_rows(rows: list[np.ndarray]) -> np.ndarray:
    """Rows of possibly different widths, one under another."""
    width = max(r.shape[1] for r in rows)
    return np.concatenate([np.pad(r, ((0, 4), (0, width - r.shape[1]), (0, 0))) for r in rows], axis=0)
