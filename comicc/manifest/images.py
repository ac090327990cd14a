"""Reading the author's image files: one careful loader for art, references and style images."""

from __future__ import annotations

import stat
import warnings
from dataclasses import dataclass
from pathlib import Path

from PIL import Image, ImageOps, UnidentifiedImageError

from comicc.manifest.diagnostics import AuthorError, Diagnostic, DiagnosticSink

# Refuse anything that declares more pixels than this before decoding it (decompression bombs).
MAX_PIXELS = 12_000 * 12_000

# EXIF orientations 5-8 rotate by 90 degrees, swapping width and height.
_SWAPPING_ORIENTATIONS = {5, 6, 7, 8}
_ORIENTATION_TAG = 0x0112


class ImageProblem(Exception):
    """Why a file is not usable art; the caller says where (file or manifest key)."""

    def __init__(self, message: str, hint: str | None = None):
        super().__init__(message)
        self.message = message
        self.hint = hint


@dataclass(frozen=True)
class ImageInfo:
    """What an image's header says: its upright size and how many frames it holds."""

    width: int
    height: int
    frames: int

    @property
    def size(self) -> tuple[int, int]:
        return (self.width, self.height)


_TOO_LARGE_HINT = "downscale the art; 300 DPI at print size is plenty"
_UNREADABLE_HINT = "save the art as PNG or JPEG"


def _open(path: Path) -> Image.Image:
    """Image.open with every way a file can be refused turned into an ImageProblem."""
    try:
        mode = path.stat().st_mode
    except OSError as exc:
        raise ImageProblem(f"cannot read image: {exc.strerror}") from None
    if stat.S_ISDIR(mode):
        raise ImageProblem("expected an image file, found a directory")
    if not stat.S_ISREG(mode):
        raise ImageProblem("not a regular file (a device, pipe or socket)")
    if path.stat().st_size == 0:
        raise ImageProblem("image file is empty (0 bytes)")
    try:
        with warnings.catch_warnings():
            # MAX_PIXELS below is the limit comicc applies; Pillow's lower warning is noise.
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            image = Image.open(path)
    except Image.DecompressionBombError:
        raise ImageProblem(f"image declares more than {MAX_PIXELS // 1_000_000} megapixels, "
                           "too large to decode safely", _TOO_LARGE_HINT) from None
    except UnidentifiedImageError:
        raise ImageProblem("not an image file, or a format comicc cannot read",
                           _UNREADABLE_HINT) from None
    except PermissionError:
        raise ImageProblem("permission denied reading the image") from None
    except (OSError, SyntaxError, ValueError) as exc:
        raise ImageProblem(f"image file is damaged or truncated ({exc})",
                           _UNREADABLE_HINT) from None
    width, height = image.size
    if width * height > MAX_PIXELS:
        image.close()
        raise ImageProblem(f"image declares {width}x{height} pixels, more than comicc accepts "
                           f"({MAX_PIXELS // 1_000_000} megapixels)", _TOO_LARGE_HINT)
    return image


def _orientation(image: Image.Image) -> int:
    # A PNG's getexif() decodes the whole file unless the eXIf chunk came before the pixels.
    if image.format == "PNG" and "exif" not in image.info:
        return 1
    return int(image.getexif().get(_ORIENTATION_TAG, 1))


def probe_image(path: Path) -> ImageInfo:
    """Check an image without decoding its pixels; raise ImageProblem when it is unusable.

    Reads the header (size, frames, EXIF orientation) and, for PNG, every chunk's checksum,
    which catches truncated and damaged files cheaply.
    """
    with _open(path) as image:
        try:
            orientation = _orientation(image)
            frames = int(getattr(image, "n_frames", 1))
            if image.format == "PNG":
                image.verify()
        except (OSError, SyntaxError, ValueError, EOFError) as exc:
            raise ImageProblem(f"image file is damaged or truncated ({exc})",
                               _UNREADABLE_HINT) from None
        width, height = image.size
    if orientation in _SWAPPING_ORIENTATIONS:
        width, height = height, width
    return ImageInfo(width, height, frames)


def _fail(path: Path, problem: ImageProblem) -> AuthorError:
    return AuthorError(Diagnostic("error", problem.message, file=path, hint=problem.hint,
                                  code="image"))


def load_image(path: Path, sink: DiagnosticSink | None = None) -> Image.Image:
    """Open an image as 8-bit RGB, upright (EXIF orientation applied), alpha over white.

    Raises AuthorError naming the file for anything that is not a readable image.
    Warnings (animated files, unusual modes) go to `sink` when given.
    """
    try:
        image = _open(path)
        try:
            frames = getattr(image, "n_frames", 1)
            image.seek(0)
            image.load()
        except PermissionError:
            raise ImageProblem("permission denied reading the image") from None
        except (OSError, SyntaxError, ValueError, EOFError) as exc:
            raise ImageProblem(f"image file is damaged or truncated ({exc})",
                               _UNREADABLE_HINT) from None
    except ImageProblem as problem:
        raise _fail(path, problem) from None
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


def upright_size(path: Path) -> tuple[int, int]:
    """(width, height) of an image as `load_image` will return it, read from the header only.

    Raises AuthorError naming the file when it is not a usable image.
    """
    try:
        return probe_image(path).size
    except ImageProblem as problem:
        raise _fail(path, problem) from None
