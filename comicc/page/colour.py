"""Print colour: the output intent's ICC profile, RGB art to the printer's CMYK, ink limits.

A plain PDF stays RGB. PDF/X-4 without a CMYK profile keeps RGB under an sRGB output intent;
PDF/X-1a (and X-4 with a CMYK profile) converts the art through LittleCMS (Pillow's
ImageCms) into the profile's CMYK, then caps total area coverage at the ink limit. Pure black
lettering and outlines become K only (0/0/0/100), never four-colour black.
"""

from __future__ import annotations

import hashlib
import io
from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image, ImageCms

from comicc.manifest.choices import PdfFlavour, Printer, RenderingIntent
from comicc.manifest.diagnostics import AuthorError, Diagnostic
from comicc.manifest.models import Comic
from comicc.page.printers import PRINTERS

ICC_DIR = Path(__file__).resolve().parent / "icc"
GRACOL = ICC_DIR / "GRACoL2006.icc"
SRGB = ICC_DIR / "sRGB.icc"

_INTENTS: dict[RenderingIntent, ImageCms.Intent] = {
    "perceptual": ImageCms.Intent.PERCEPTUAL,
    "relative": ImageCms.Intent.RELATIVE_COLORIMETRIC,
    "saturation": ImageCms.Intent.SATURATION,
    "absolute": ImageCms.Intent.ABSOLUTE_COLORIMETRIC,
}


@dataclass(frozen=True)
class OutputIntent:
    """The printing condition a PDF/X file is made for, with its profile embedded."""

    profile: bytes
    condition: str  # OutputConditionIdentifier (an ICC registry name where there is one)
    info: str  # the profile's description, for people
    components: int  # 3 (RGB) or 4 (CMYK)


@dataclass(frozen=True)
class PrintSettings:
    """How the PDF is made for press, resolved once from [comic] and `--pdf`."""

    pdf: PdfFlavour
    printer: Printer
    intent: OutputIntent | None  # None for a plain PDF
    rendering_intent: RenderingIntent
    ink_limit: int  # total area coverage, percent

    @property
    def cmyk(self) -> bool:
        """Art and colours go out as DeviceCMYK in the output intent's space."""
        return self.intent is not None and self.intent.components == 4

    def key(self) -> dict[str, Any]:
        """Every value that changes the written bytes (the profile by its digest)."""
        profile = hashlib.sha256(self.intent.profile).hexdigest() if self.intent else None
        return {"pdf": self.pdf, "profile": profile, "rendering_intent": self.rendering_intent,
                "ink_limit": self.ink_limit}


PLAIN = PrintSettings("plain", "generic", None, "relative", PRINTERS["generic"].ink_limit)

Locate = Callable[[Diagnostic], Diagnostic]


def resolve_print(comic: Comic, root: Path, pdf: PdfFlavour | None = None,
                  locate: Locate = lambda d: d) -> PrintSettings:
    """The print settings of `comic` (its files relative to `root`); `pdf` overrides [comic].

    A bad `icc_profile` raises AuthorError located by `locate` (the manifest's line).
    """
    meta = comic.comic
    flavour = pdf or meta.pdf
    ink_limit = meta.ink_limit or PRINTERS[meta.printer].ink_limit
    if flavour == "plain":
        return PrintSettings("plain", meta.printer, None, meta.rendering_intent, ink_limit)
    if meta.icc_profile is None and flavour == "x4":
        intent = _intent_from(SRGB.read_bytes(), "sRGB IEC61966-2.1")
    elif meta.icc_profile is None:
        intent = _intent_from(GRACOL.read_bytes(), "CGATS TR 006")
    else:
        intent = _user_profile(root / meta.icc_profile, locate)
    return PrintSettings(flavour, meta.printer, intent, meta.rendering_intent, ink_limit)


def _intent_from(profile: bytes, condition: str) -> OutputIntent:
    opened = _open(profile)
    components = 4 if opened.profile.xcolor_space.strip() == "CMYK" else 3
    info = ImageCms.getProfileDescription(opened).strip()
    return OutputIntent(profile, condition or info, info, components)


def _user_profile(path: Path, locate: Locate) -> OutputIntent:
    def fail(message: str, hint: str) -> AuthorError:
        return AuthorError(locate(Diagnostic("error", message, key_path=("comic", "icc_profile"),
                                             hint=hint, code="icc")))

    try:
        data = path.read_bytes()
    except OSError as exc:
        raise fail(f"cannot read the ICC profile {path}: {exc.strerror}",
                   "give the path of a .icc file relative to comic.toml") from None
    try:
        opened = _open(data)
    except (OSError, ImageCms.PyCMSError):
        raise fail(f"{path.name} is not an ICC profile LittleCMS can read",
                   "use the printer's CMYK .icc file, or leave icc_profile out") from None
    if opened.profile.xcolor_space.strip() != "CMYK" or opened.profile.device_class != "prtr":
        raise fail(f"{path.name} is not a CMYK printer profile "
                   f"({opened.profile.xcolor_space.strip()}, class {opened.profile.device_class})",
                   "PDF/X output needs the printer's CMYK output profile")
    return _intent_from(data, "")


@lru_cache(maxsize=8)
def _open(profile: bytes) -> ImageCms.ImageCmsProfile:
    return ImageCms.ImageCmsProfile(io.BytesIO(profile))


@lru_cache(maxsize=8)
def _transform(profile: bytes, intent: RenderingIntent) -> ImageCms.ImageCmsTransform:
    # Black point compensation keeps shadow detail: the art's black maps to the press's black.
    return ImageCms.buildTransform(_open(SRGB.read_bytes()), _open(profile), "RGB", "CMYK",
                                   renderingIntent=_INTENTS[intent],
                                   flags=ImageCms.Flags.BLACKPOINTCOMPENSATION)


def to_cmyk(image: Image.Image, settings: PrintSettings) -> Image.Image:
    """RGB art in the output intent's CMYK, its total coverage capped at the ink limit."""
    assert settings.intent is not None
    converted = ImageCms.applyTransform(image.convert("RGB"),
                                        _transform(settings.intent.profile,
                                                   settings.rendering_intent))
    assert converted is not None
    return Image.fromarray(limit_ink(np.asarray(converted), settings.ink_limit), "CMYK")


def limit_ink(cmyk: np.ndarray, limit: int) -> np.ndarray:
    """Scale C, M and Y down where C+M+Y+K exceeds `limit` percent; K (the detail) is kept.

    `cmyk` is uint8 (..., 4). The result never exceeds the limit, so a coverage check of the
    written file agrees with it exactly.
    """
    ink = cmyk.astype(np.int32)
    budget = limit * 255 // 100
    black = np.minimum(ink[..., 3], budget)
    colour = ink[..., :3]
    room = budget - black
    total = colour.sum(axis=-1)
    over = total > room
    scale = np.where(over, room / np.maximum(total, 1), 1.0)
    scaled = np.floor(colour * scale[..., None]).astype(np.int32)
    out = np.concatenate([scaled, black[..., None]], axis=-1)
    return out.astype(np.uint8)


def cmyk_colour(hex_colour: str, settings: PrintSettings) -> tuple[float, float, float, float]:
    """A lettering or balloon colour in CMYK (0..1): black is K only and white no ink."""
    rgb = tuple(int(hex_colour.lstrip("#")[i:i + 2], 16) for i in (0, 2, 4))
    if rgb == (0, 0, 0):
        return 0.0, 0.0, 0.0, 1.0
    if rgb == (255, 255, 255):
        return 0.0, 0.0, 0.0, 0.0
    pixel = to_cmyk(Image.new("RGB", (1, 1), rgb), settings).getpixel((0, 0))
    assert isinstance(pixel, tuple)
    return tuple(round(v / 255, 4) for v in pixel)  # type: ignore[return-value]
