"""Reading the author's image files: one careful loader for art, references and style images."""

from __future__ import annotations

import warnings
from pathlib import Path

from PIL import Image, ImageOps, UnidentifiedImageError

from comicc.manifest.diagnostics import AuthorError, Diagnostic, DiagnosticSink

# Refuse anything that declares more pixels than this before decoding it (decompression bombs).
MAX_PIXELS = 12_000 * 12_000


def _fail(path: Path, message: str, hint: str | None = None) -> AuthorError:
    return AuthorError(Diagnostic("error", message, file=path, hint=hint, code="image"))


def load_image(path: Path, sink: DiagnosticSink | None = None) -> Image.Image:
    """Open an image as 8-bit RGB, upright (EXIF orientation applied), alpha over white.

    Raises AuthorError naming the file for anything that is not a readable image.
    Warnings (animated files, unusual modes) go to `sink` when given.
    """
    if path.is_dir():
        raise _fail(path, "expected an image file, found a directory")
    if not path.is_file():
        raise _fail(path, "image file not found")
    try:
        size = path.stat().st_size
    except OSError as exc:
        raise _fail(path, f"cannot read image: {exc.strerror}") from None
    if size == 0:
        raise _fail(path, "image file is empty (0 bytes)")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            image = Image.open(path)
            width, height = image.size
            if width * height > MAX_PIXELS:
                raise _fail(
                    path,
                    f"image declares {width}x{height} pixels, more than comicc accepts "
                    f"({MAX_PIXELS // 1_000_000} megapixels)",
                    hint="downscale the art; 300 DPI at print size is plenty",
                )
            frames = getattr(image, "n_frames", 1)
            image.seek(0)
            image.load()
    except AuthorError:
        raise
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise _fail(path, "image is too large to decode safely (decompression bomb)") from None
    except UnidentifiedImageError:
        raise _fail(path, "not an image file, or a format comicc cannot read",
                    hint="save the art as PNG or JPEG") from None
    except PermissionError:
        raise _fail(path, "permission denied reading the image") from None
    except (OSError, SyntaxError, ValueError) as exc:
        raise _fail(path, f"image file is damaged or truncated ({exc})") from None
    if frames > 1 and sink is not None:
        sink.add(Diagnostic("warning", f"animated image with {frames} frames; using the first",
                            file=path, code="image"))
    return to_rgb(image)


def to_rgb(image: Image.Image) -> Image.Image:
    """Normalise any Pillow mode (CMYK, 16-bit, palette, alpha, grey) to upright 8-bit RGB."""
    image = ImageOps.exif_transpose(image) or image
    if image.mode in ("I;16", "I;16B", "I;16L", "I"):
        image = image.point(lambda v: v / 256).convert("L")
    if image.mode == "P":
        image = image.convert("RGBA")
    if image.mode in ("RGBA", "LA", "PA"):
        background = Image.new("RGB", image.size, "white")
        background.paste(image.convert("RGBA"), mask=image.convert("RGBA").getchannel("A"))
        return background
    return image.convert("RGB")


# EXIF orientations 5-8 rotate by 90 degrees, swapping width and height.
_SWAPPING_ORIENTATIONS = {5, 6, 7, 8}


def upright_size(path: Path) -> tuple[int, int]:
    """(width, height) of an image as `load_image` will return it, read from the header only."""
    with Image.open(path) as image:
        width, height = image.size
        orientation = image.getexif().get(0x0112, 1)
    return (height, width) if orientation in _SWAPPING_ORIENTATIONS else (width, height)
