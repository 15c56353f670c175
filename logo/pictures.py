"""PNG output: single drawings and labelled contact sheets (ink is dark on white, as people expect)."""
from __future__ import annotations

from pathlib import Path
from typing import Sequence

import numpy as np
from PIL import Image, ImageDraw, ImageFont

from .files import atomic_write


def _to_pil(image: np.ndarray, scale: int = 1) -> Image.Image:
    img = Image.fromarray(255 - np.asarray(image, np.uint8), mode="L")
    if scale != 1:
        img = img.resize((img.width * scale, img.height * scale), Image.NEAREST)
    return img


def atomic_save(img: Image.Image, path: str | Path) -> Path:
    """Write a PNG so that readers never see a half-written file."""
    with atomic_write(path) as f:
        img.save(f, format="PNG")
    return Path(path)


def save_png(image: np.ndarray, path: str | Path, scale: int = 1) -> Path:
    """Save one uint8 drawing (255 = ink) as a black-on-white PNG."""
    return atomic_save(_to_pil(image, scale), path)


def contact_sheet(images: Sequence[np.ndarray], labels: Sequence[str] | None = None,
                  columns: int = 10, scale: int = 3) -> Image.Image:
    """A grid of drawings, each framed and labelled underneath."""
    n = len(images)
    if n == 0:
        return Image.new("L", (200, 40), 255)
    h, w = np.asarray(images[0]).shape
    cell_w, cell_h = w * scale + 8, h * scale + (16 if labels else 8)
    columns = max(1, min(columns, n))
    rows = (n + columns - 1) // columns
    sheet = Image.new("L", (columns * cell_w, rows * cell_h), 255)
    draw = ImageDraw.Draw(sheet)
    font = ImageFont.load_default()
    label_chars = max(4, (w * scale + 6) // 6)  # the default bitmap font is about 6 px a character
    for k, image in enumerate(images):
        r, c = divmod(k, columns)
        x, y = c * cell_w + 4, r * cell_h + 4
        sheet.paste(_to_pil(image, scale), (x, y))
        draw.rectangle([x - 1, y - 1, x + w * scale, y + h * scale], outline=180)
        if labels:
            draw.text((x, y + h * scale + 1), str(labels[k])[:label_chars], fill=0, font=font)
    return sheet


def save_sheet(images, path, labels=None, columns: int = 10, scale: int = 3) -> Path:
    return atomic_save(contact_sheet(images, labels, columns, scale), path)
