"""Compose the photo sample from scikit-image's bundled sample photographs.

    python samples/photos/make_art.py            # rewrite samples/photos/art/
    python samples/photos/make_art.py OUT_DIR    # write the same files under OUT_DIR/art/

Eight panels cover every combination of the three elements (astronaut, cat, launch pad), each
photo pasted at its own position and scale over a simple background, so which element is in
which panel is known exactly. References are crops, flips and rescalings of the same photos;
the style image is painted with comicc's brush strokes. Photographs compress badly as PNG, so
the photos are saved as JPEG with fixed settings (quality 90, no metadata): running this again
gives byte-identical files with the same Pillow.
The photos' licences are in LICENSES.md.
"""

from __future__ import annotations

import random
import sys
from collections.abc import Callable
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageOps
from skimage import data

from comicc.starter import Box, Canvas, brush_texture, draw_stars, save_png

HERE = Path(__file__).resolve().parent
PANEL = (480, 640)
REFERENCE = (256, 256)
FRAME = (250, 248, 240)
# Primary inks on newsprint, for the style image.
POP_PALETTE = (
    (246, 238, 214),
    (222, 40, 44),
    (250, 206, 32),
    (28, 92, 188),
    (34, 30, 36),
    (246, 238, 214),
)
BORDER = 5  # px of white print border around a pasted photo

# Crops (left, upper, right, lower) of the sample photos; the astronaut crop leaves out the
# shuttle model on the right of the original, so only the launch pad shows a rocket.
ASTRONAUT_CROP = (100, 0, 350, 400)
ASTRONAUT_FACE_CROP = (140, 10, 310, 230)
CAT_CROP = (20, 0, 430, 300)
CAT_FACE_CROP = (100, 40, 380, 300)

# Where each character photo is pasted, [x, y, width, height] as fractions of the panel;
# comic.toml uses the same numbers as its `regions`.
REGIONS: dict[str, dict[str, Box]] = {
    "art/p1_2.jpg": {"astronaut": (0.14, 0.16, 0.72, 0.7)},
    "art/p1_3.jpg": {"cat": (0.08, 0.3, 0.84, 0.45)},
    "art/p1_4.jpg": {"astronaut": (0.06, 0.06, 0.6, 0.5), "cat": (0.34, 0.58, 0.6, 0.36)},
    "art/p2_1.jpg": {"astronaut": (0.5, 0.5, 0.44, 0.44)},
    "art/p2_2.jpg": {"cat": (0.05, 0.66, 0.5, 0.28)},
    "art/p2_3.jpg": {"astronaut": (0.05, 0.05, 0.36, 0.36), "cat": (0.55, 0.7, 0.4, 0.24)},
}


def photo(name: str, crop: tuple[int, int, int, int] | None = None) -> Image.Image:
    """A bundled scikit-image sample photo (never one fetched on demand), optionally cropped."""
    image = Image.fromarray(np.asarray(getattr(data, name)()))
    return image.crop(crop) if crop else image


def paste_photo(
    panel: Image.Image,
    source: Image.Image,
    box: Box,
    *,
    flip: bool = False,
    centering: tuple[float, float] = (0.5, 0.5),
) -> None:
    """Paste `source`, cropped to fill `box` (fractions of `panel`), inside a white border."""
    x, y, w, h = box
    left, top = round(x * panel.width), round(y * panel.height)
    size = (round(w * panel.width), round(h * panel.height))
    ImageDraw.Draw(panel).rectangle(
        (left, top, left + size[0] - 1, top + size[1] - 1), fill=FRAME, outline=(30, 30, 30)
    )
    inner = (size[0] - 2 * BORDER, size[1] - 2 * BORDER)
    fitted = ImageOps.fit(source, inner, Image.Resampling.LANCZOS, centering=centering)
    panel.paste(ImageOps.mirror(fitted) if flip else fitted, (left + BORDER, top + BORDER))


def launch_pad(crop_left: int, size: tuple[int, int] = PANEL, flip: bool = False) -> Image.Image:
    """The launch pad photo as a whole background, from a 320 px wide slice at `crop_left`."""
    source = photo("rocket", (crop_left, 0, crop_left + 320, 427))
    fitted = ImageOps.fit(source, size, Image.Resampling.LANCZOS)
    return ImageOps.mirror(fitted) if flip else fitted


def backdrop(
    top: tuple[int, int, int], bottom: tuple[int, int, int], stars: int = 0, seed: str = ""
) -> Image.Image:
    """A plain graded background, optionally starry."""
    canvas = Canvas(PANEL, (top, bottom))
    if stars:
        draw_stars(canvas, random.Random(seed), stars=stars, below=1.0)
    return canvas.finish()


def evening_pad() -> Image.Image:
    """Page 1, panel 1: the launch pad the evening before."""
    return launch_pad(160)


def astronaut_alone() -> Image.Image:
    """Page 1, panel 2: the astronaut against the stars."""
    panel = backdrop((6, 8, 30), (30, 40, 84), stars=90, seed="p1_2")
    paste_photo(
        panel,
        photo("astronaut", ASTRONAUT_CROP),
        REGIONS["art/p1_2.jpg"]["astronaut"],
        centering=(0.5, 0.3),
    )
    return panel


def cat_alone() -> Image.Image:
    """Page 1, panel 3: the cat at home."""
    panel = backdrop((236, 208, 170), (176, 128, 88))
    ImageDraw.Draw(panel).rectangle((0, 520, PANEL[0], PANEL[1]), fill=(120, 84, 56))
    paste_photo(panel, photo("chelsea", CAT_CROP), REGIONS["art/p1_3.jpg"]["cat"])
    return panel


def video_call() -> Image.Image:
    """Page 1, panel 4: astronaut and cat on the two halves of a video call."""
    panel = backdrop((40, 48, 64), (14, 18, 26))
    boxes = REGIONS["art/p1_4.jpg"]
    paste_photo(panel, photo("astronaut", ASTRONAUT_CROP), boxes["astronaut"], centering=(0.5, 0.2))
    paste_photo(panel, photo("chelsea", CAT_CROP), boxes["cat"], flip=True)
    return panel


def suited_up() -> Image.Image:
    """Page 2, panel 1: the astronaut at the pad."""
    panel = launch_pad(40)
    paste_photo(
        panel,
        photo("astronaut", ASTRONAUT_CROP),
        REGIONS["art/p2_1.jpg"]["astronaut"],
        flip=True,
        centering=(0.5, 0.2),
    )
    return panel


def cat_watches() -> Image.Image:
    """Page 2, panel 2: the cat watching the pad."""
    panel = launch_pad(280)
    paste_photo(panel, photo("chelsea", CAT_FACE_CROP), REGIONS["art/p2_2.jpg"]["cat"])
    return panel


def lift_off() -> Image.Image:
    """Page 2, panel 3: all three together."""
    panel = launch_pad(200, flip=True)
    boxes = REGIONS["art/p2_3.jpg"]
    paste_photo(panel, photo("astronaut", ASTRONAUT_FACE_CROP), boxes["astronaut"])
    paste_photo(panel, photo("chelsea", CAT_CROP), boxes["cat"])
    return panel


def coffee_break() -> Image.Image:
    """Page 2, panel 4: neither character nor the pad, only a cup of coffee."""
    panel = backdrop((196, 226, 222), (120, 160, 160))
    paste_photo(panel, photo("coffee"), (0.1, 0.3, 0.8, 0.45))
    return panel


def reference(
    source: Image.Image,
    *,
    flip: bool = False,
    scale: float = 1.0,
    background: tuple[int, int, int] = (236, 232, 222),
    centering: tuple[float, float] = (0.5, 0.5),
) -> Image.Image:
    """A square reference: the photo filling the square, or scaled down on a plain ground."""
    if scale >= 1.0:
        image = ImageOps.fit(source, REFERENCE, Image.Resampling.LANCZOS, centering=centering)
    else:
        image = Image.new("RGB", REFERENCE, background)
        small = ImageOps.contain(
            source, (round(REFERENCE[0] * scale),) * 2, Image.Resampling.LANCZOS
        )
        image.paste(small, ((REFERENCE[0] - small.width) // 2, (REFERENCE[1] - small.height) // 2))
    return ImageOps.mirror(image) if flip else image


ART: dict[str, Callable[[], Image.Image]] = {
    "art/p1_1.jpg": evening_pad,
    "art/p1_2.jpg": astronaut_alone,
    "art/p1_3.jpg": cat_alone,
    "art/p1_4.jpg": video_call,
    "art/p2_1.jpg": suited_up,
    "art/p2_2.jpg": cat_watches,
    "art/p2_3.jpg": lift_off,
    "art/p2_4.jpg": coffee_break,
    "art/ref/astronaut_face.jpg": lambda: reference(photo("astronaut", ASTRONAUT_FACE_CROP)),
    "art/ref/astronaut_flip.jpg": lambda: reference(
        photo("astronaut", ASTRONAUT_CROP), flip=True, centering=(0.5, 0.3)
    ),
    "art/ref/astronaut_small.jpg": lambda: reference(
        photo("astronaut", ASTRONAUT_CROP), scale=0.6, background=(60, 64, 80)
    ),
    "art/ref/cat_face.jpg": lambda: reference(photo("chelsea", CAT_FACE_CROP)),
    "art/ref/cat_flip.jpg": lambda: reference(photo("chelsea", CAT_CROP), flip=True),
    "art/ref/cat_small.jpg": lambda: reference(photo("chelsea", CAT_CROP), scale=0.55),
    "art/ref/launchpad_rocket.jpg": lambda: reference(photo("rocket", (200, 100, 440, 427))),
    "art/ref/launchpad_flip.jpg": lambda: reference(photo("rocket"), flip=True),
    "art/ref/launchpad_small.jpg": lambda: reference(
        photo("rocket"), scale=0.8, background=(20, 24, 40)
    ),
    "art/style.png": lambda: brush_texture(256, POP_PALETTE, seed=5, strokes=200),
}


def save(image: Image.Image, path: Path) -> None:
    """Save as PNG or JPEG (by suffix) with fixed settings and no metadata, reproducibly."""
    if path.suffix == ".png":
        save_png(image, path)
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    image.convert("RGB").save(path, format="JPEG", quality=90)


def main(out: Path = HERE) -> None:
    for name, draw in ART.items():
        save(draw(), out / name)
        print(out / name)


if __name__ == "__main__":
    main(Path(sys.argv[1]) if len(sys.argv) > 1 else HERE)
