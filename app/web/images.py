"""Images in and out of the web pages: drawings as PNG bytes, and uploaded or drawn images as targets.

An uploaded file is read by the same rules as `logo solve` reads an image file
(`dream.search.score.load_target_image`: transparency onto white, greyscale, dark-on-light inverted, padded to a
square, resized), after two bounds that a web server needs and a command line does not: at most
`MAX_UPLOAD_BYTES` bytes and `MAX_PIXELS` pixels (checked from the header, before any pixel is decoded,
so a small file that unpacks to 30000 x 30000 pixels costs nothing).
"""
from __future__ import annotations

import base64
import binascii
import io
import os
import tempfile
import warnings

import numpy as np

MAX_UPLOAD_BYTES = 4 * 1024 * 1024
MAX_PIXELS = 4096 * 4096
DATA_URL_PREFIX = "data:image/png;base64,"


class BadUpload(ValueError):
    """An uploaded image that cannot be used; the message is one line naming the file and the problem."""


def png_bytes(image: np.ndarray, scale: int = 1) -> bytes:
    """A (H, W) uint8 drawing (255 = ink) as a black-on-white PNG, each pixel `scale` x `scale`."""
    from PIL import Image
    img = Image.fromarray(255 - np.asarray(image, np.uint8), mode="L")
    if scale != 1:
        img = img.resize((img.width * scale, img.height * scale), Image.NEAREST)
    out = io.BytesIO()
    img.save(out, format="PNG")
    return out.getvalue()


def png_data_url(image: np.ndarray, scale: int = 1) -> str:
    return DATA_URL_PREFIX + base64.b64encode(png_bytes(image, scale)).decode("ascii")


def decode_data_url(text: str, name: str = "drawing") -> bytes:
    """The PNG bytes of a canvas's `toDataURL('image/png')`."""
    if not text.startswith(DATA_URL_PREFIX):
        raise BadUpload(f"{name}: not a PNG data URL (expected it to start with {DATA_URL_PREFIX!r})")
    body = text[len(DATA_URL_PREFIX):]
    if len(body) > MAX_UPLOAD_BYTES * 4 // 3 + 4:
        raise BadUpload(f"{name}: larger than {MAX_UPLOAD_BYTES} bytes")
    try:
        return base64.b64decode(body, validate=True)
    except (binascii.Error, ValueError):
        raise BadUpload(f"{name}: the data URL is not valid base64") from None


def check_image_header(data: bytes, name: str) -> tuple[int, int]:
    """(width, height) from the header; `BadUpload` if the bytes are not an image PIL knows or have too
    many pixels."""
    from PIL import Image, UnidentifiedImageError
    if len(data) > MAX_UPLOAD_BYTES:
        raise BadUpload(f"{name}: {len(data)} bytes is more than the {MAX_UPLOAD_BYTES} an upload may have")
    if not data:
        raise BadUpload(f"{name}: the file is empty")
    try:
        with warnings.catch_warnings():             # a large image is refused below, not warned about
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(data)) as im:   # reads the header only
                w, h = im.size
    except Image.DecompressionBombError as e:
        raise BadUpload(f"{name}: image too large to read ({e})") from None
    except (UnidentifiedImageError, OSError, ValueError, SyntaxError) as e:
        raise BadUpload(f"{name}: not an image file ({e})") from None
    if w * h > MAX_PIXELS:
        raise BadUpload(f"{name}: image is {w}x{h} pixels, more than the {MAX_PIXELS} an upload may have")
    return w, h


def read_target(data: bytes, name: str, sizes: tuple[int, ...]) -> list[np.ndarray]:
    """The uploaded image as one (s, s) uint8 ink image per size in `sizes`, read as `logo solve` reads
    an image file; `BadUpload` (one line naming `name`) if it cannot be used."""
    from logo.images import BadImage, load_target_image
    name = " ".join(str(name or "upload").split())[:200] or "upload"   # one line, whatever was sent
    check_image_header(data, name)
    fd, path = tempfile.mkstemp(suffix=".img", prefix="logo-serve-")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        return [load_target_image(path, s) for s in sizes]
    except BadImage as e:
        raise BadUpload(str(e).replace(path, name)) from None
    finally:
        os.unlink(path)
