"""Names of the pretrained network's 26 styles (no torch here: `comicc check` uses them)."""

NUM_STYLES = 26

# Readable names, chosen by rendering every style on photographs (see docs/styles.md).
STYLE_NAMES: list[str] = [
    "sunny-pastel",  # 0
    "bold-line-yellow",  # 1
    "ink-wash",  # 2
    "ribbon-abstract",  # 3
    "red-and-cream",  # 4
    "autumn-strokes",  # 5
    "indigo-spots",  # 6
    "bold-primaries",  # 7
    "pastel-sketch",  # 8
    "mosaic",  # 9
    "brown-oil",  # 10
    "gold-engraving",  # 11
    "soft-lilac",  # 12
    "lime-and-teal",  # 13
    "pale-blue-wash",  # 14
    "stained-glass",  # 15
    "blue-hatching",  # 16
    "brick-weave",  # 17
    "sepia-woodcut",  # 18
    "starry-night",  # 19
    "crimson",  # 20
    "cut-paper",  # 21
    "ink-and-red",  # 22
    "green-poster",  # 23
    "blue-on-cream",  # 24
    "tapestry",  # 25
]
