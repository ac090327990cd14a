"""samples/meadow with its characters in other colours: a comic the build was not tuned on.

    python benchmarks/recoloured_meadow.py OUT_DIR
    python benchmarks/bench_consistency.py OUT_DIR --style starry-night \
        --variants lambda=0,default --seeds 1,2,3

The same drawings, panels and truth.json as the meadow (samples/meadow/make_art.py), but the
fox is purple, the bird red and the gardener in teal: colours no sample wears, so the
element colours, the colour term and the boxes found by colour meet them for the first time.
Writes comic.toml, art/ and truth.json into OUT_DIR.
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

MEADOW = Path(__file__).resolve().parents[1] / "samples" / "meadow"
SCHEMA = Path(__file__).resolve().parents[1] / "schemas" / "comic.schema.json"

COLOURS = {
    "FOX": (150, 70, 190), "FOX_DARK": (70, 40, 90),  # a purple fox
    "BIRD": (214, 40, 60), "BIRD_DARK": (140, 24, 40),  # a red bird
    "HAT": (30, 170, 180), "DRESS": (24, 150, 160),  # a gardener in teal
}


def main(out: Path) -> None:
    spec = importlib.util.spec_from_file_location("meadow_art", MEADOW / "make_art.py")
    assert spec is not None and spec.loader is not None
    art = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(art)
    for name, colour in COLOURS.items():  # the drawing functions read these at call time
        setattr(art, name, colour)
    out.mkdir(parents=True, exist_ok=True)
    art.main(out)
    manifest = (MEADOW / "comic.toml").read_text()
    manifest = manifest.replace("#:schema ../../schemas/comic.schema.json", f"#:schema {SCHEMA}")
    (out / "comic.toml").write_text(manifest)
    print(out / "comic.toml")


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    main(Path(sys.argv[1]))
