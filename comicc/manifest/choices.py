"""The fixed choices of `[build]` and of the matching command-line flags, written once.

Plain `Literal` types without pydantic: the manifest models type their fields with them and
the command line offers their values, before any manifest is loaded.
"""

from __future__ import annotations

from typing import Literal, get_args

BackendChoice = Literal["auto", "gram", "clip", "none"]
Backend = Literal["gram", "clip", "none"]  # what `auto` resolves to
StyleNetName = Literal["pretrained", "unet"]
PresetName = Literal["draft", "standard", "final"]  # the keys of comicc.ml.presets.PRESETS
DeviceChoice = Literal["auto", "cpu", "cuda", "mps"]
# What of the artist's picture survives the restyle besides its strokes (comicc.ml.keep).
Keep = Literal["auto", "none", "colours", "lighting", "colours+lighting"]
# Whether an element's own colours survive the restyle inside its region (comicc.ml.palette).
ElementColours = Literal["keep", "restyle"]
# [build]'s: auto keeps the own colours of characters and props, restyles settings'.
ElementColoursChoice = Literal["auto", "keep", "restyle"]
# Print production: the CLI's flags and the preflight's printer table use them.
PdfFlavour = Literal["plain", "x4", "x1a"]
Printer = Literal["generic", "kdp", "ingramspark"]
RenderingIntent = Literal["perceptual", "relative", "saturation", "absolute"]


def choices(literal: object) -> list[str]:
    """The values of one of the Literal types above, e.g. for argparse's `choices`."""
    return [str(value) for value in get_args(literal)]
