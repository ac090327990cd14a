"""An independent check that each element still looks like itself across its panels.

The style fit was trained to satisfy the element classifiers, so their probabilities cannot
also serve as the judge. This measure uses none of them: it compares the element's crops
with each other in the feature space of an intermediate block of the frozen backbone (block
13, stride 32) — a layer that neither the classifier heads (which read the final 1280-d
head) nor the Gram style loss (blocks 0, 2, 4, 7, 10) optimise directly.

For each element:
  within   = mean pairwise cosine similarity of its crops' mean-pooled features;
  contrast = mean cosine between its crops and the same boxes cut from panels without it;
  margin   = within - contrast (a restyle that makes everything alike raises both).
Each figure is given for the styled panels and for the author's concept art, so the report
can show whether the restyling kept, lost or gained consistency.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from typing import Any

import numpy as np
from PIL import Image

from comicc.manifest.models import Comic
from comicc.report.pictures import CropSpec, crop_fraction

TAP = 13
SIZE = 160
# Crops per forward pass: one call per batch keeps the overhead low on a busy CPU.
BATCH = 16
# Panels without the element sampled for the contrast figure (evenly spaced, deterministic).
MAX_CONTRAST = 12
MEASURE = (
    f"Mean pairwise cosine similarity of the element's crops in the frozen EfficientNet-Lite0 "
    f"backbone's block-{TAP} features (mean-pooled, crops resized to {SIZE}x{SIZE} px). "
    f"This layer is used neither by the element classifiers nor by the Gram style loss. "
    f"'Contrast' compares the crops with the same boxes cut from panels where the element is "
    f"absent; 'margin' = consistency - contrast. Higher margin: the element is more "
    f"recognisably itself. The same figures on the concept art are shown for comparison."
)


def crop_features(images: Sequence[Image.Image], device: str) -> np.ndarray:
    """[N, C] mean-pooled block-TAP features of `images`, L2-normalised, in batches."""
    import torch

    from comicc.ml.backbone import load_backbone, resize

    backbone = load_backbone(device)
    rows = []
    with torch.no_grad():
        for start in range(0, len(images), BATCH):
            batch = torch.stack([
                resize(_tensor(image).unsqueeze(0), (SIZE, SIZE))[0]
                for image in images[start:start + BATCH]]).to(device)
            feature = backbone.features(batch, taps=(TAP,))[0].mean(dim=(2, 3))
            rows.append(torch.nn.functional.normalize(feature, dim=1).cpu().numpy())
    return np.concatenate(rows) if rows else np.zeros((0, 1), dtype=np.float32)


def _tensor(image: Image.Image):
    import torch

    array = np.asarray(image.convert("RGB"), dtype=np.uint8).copy()
    return torch.from_numpy(array).permute(2, 0, 1).float().div(255)


class _Features:
    """Features of (panel, box) crops of one set of panel images, each computed once."""

    def __init__(self, images: Sequence[Image.Image], device: str):
        self.images = images
        self.device = device
        self._seen: dict[tuple[int, Any], np.ndarray] = {}

    def prepare(self, crops: Sequence[CropSpec]) -> None:
        """Compute the features of all these crops together (few, full batches)."""
        self(crops)

    def __call__(self, crops: Sequence[CropSpec]) -> np.ndarray:
        missing = list(dict.fromkeys((c.panel, c.box) for c in crops
                                     if (c.panel, c.box) not in self._seen))
        if missing:
            new = crop_features([crop_fraction(self.images[panel], box) for panel, box in missing],
                                self.device)
            self._seen.update(zip(missing, new, strict=True))
        if not crops:
            return np.zeros((0, 1), dtype=np.float32)
        return np.stack([self._seen[(c.panel, c.box)] for c in crops])


def mean_pairwise(features: np.ndarray) -> float | None:
    """Mean cosine over all pairs of rows (rows are unit vectors); None for fewer than two."""
    pairs = list(itertools.combinations(range(len(features)), 2))
    if not pairs:
        return None
    return float(np.mean([features[a] @ features[b] for a, b in pairs]))


def mean_cross(a: np.ndarray, b: np.ndarray) -> float | None:
    """Mean cosine between every row of `a` and every row of `b`; None when either is empty."""
    if len(a) == 0 or len(b) == 0:
        return None
    return float(np.mean(a @ b.T))


def per_crop(features: np.ndarray) -> list[float | None]:
    """Each crop's mean cosine to the element's other crops (the odd one out scores lowest)."""
    n = len(features)
    if n < 2:
        return [None] * n
    sims = features @ features.T
    return [float((sims[i].sum() - sims[i, i]) / (n - 1)) for i in range(n)]


def contrast_specs(crops: Sequence[CropSpec], absent: Sequence[int]) -> list[CropSpec]:
    """The element's boxes cut from up to MAX_CONTRAST panels that do not contain it."""
    if not crops or not absent:
        return []
    count = min(MAX_CONTRAST, len(absent))
    chosen = [absent[round(i * (len(absent) - 1) / max(count - 1, 1))] for i in range(count)]
    return [CropSpec(panel, "", crops[i % len(crops)].box) for i, panel in enumerate(chosen)]


def _figures(crops: Sequence[CropSpec], contrast: Sequence[CropSpec],
             features: _Features) -> dict[str, Any]:
    own, other = features(crops), features(contrast)
    within, against = mean_pairwise(own), mean_cross(own, other)
    margin = within - against if within is not None and against is not None else None
    return {"within": _round(within), "contrast": _round(against), "margin": _round(margin),
            "per_crop": [_round(v) for v in per_crop(own)]}


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 4)


def element_consistency(comic: Comic, specs: dict[str, list[CropSpec]],
                        raw: Sequence[Image.Image], styled: Sequence[Image.Image],
                        device: str = "cpu") -> dict[str, dict[str, Any]]:
    """Consistency figures per element, on the styled panels and on the concept art."""
    panels = comic.panels()
    plans = {}
    for name, crops in specs.items():
        absent = [i for i, (_, _, panel) in enumerate(panels) if name not in panel.elements]
        plans[name] = (crops, contrast_specs(crops, absent))
    everything = [c for crops, contrast in plans.values() for c in (*crops, *contrast)]
    out = {}
    figures: dict[str, dict[str, Any]] = {name: {} for name in plans}
    for which, images in (("styled", styled), ("raw", raw)):
        features = _Features(images, device)
        features.prepare(everything)
        for name, (crops, contrast) in plans.items():
            figures[name][which] = _figures(crops, contrast, features)
    for name, (crops, contrast) in plans.items():
        out[name] = {"panels": len(crops), "contrast_panels": len(contrast), **figures[name]}
    return out
