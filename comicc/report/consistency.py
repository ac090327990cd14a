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
LONG_SIDE = 224
# Panels without the element sampled for the contrast figure (evenly spaced, deterministic).
MAX_CONTRAST = 12
MEASURE = (
    f"Mean pairwise cosine similarity of the element's crops in the frozen EfficientNet-Lite0 "
    f"backbone's block-{TAP} features (mean-pooled, crops resized to {LONG_SIDE} px on the long "
    f"side). This layer is used neither by the element classifiers nor by the Gram style loss. "
    f"'Contrast' compares the crops with the same boxes cut from panels where the element is "
    f"absent; 'margin' = consistency - contrast. Higher margin: the element is more "
    f"recognisably itself. The same figures on the concept art are shown for comparison."
)


def crop_feature(image: Image.Image, device: str) -> np.ndarray:
    """The mean-pooled block-TAP feature of one image, L2-normalised."""
    import torch

    from comicc.ml.backbone import load_backbone, resize_long_side

    backbone = load_backbone(device)
    array = np.asarray(image.convert("RGB"), dtype=np.uint8).copy()
    x = torch.from_numpy(array).permute(2, 0, 1).float().div(255).unsqueeze(0)
    with torch.no_grad():
        x = resize_long_side(x.to(backbone.mean.device), LONG_SIDE)
        feature = backbone.features(x, taps=(TAP,))[0].mean(dim=(2, 3))[0]
        return torch.nn.functional.normalize(feature, dim=0).cpu().numpy()


class _Features:
    """Features of (panel, box) crops of one set of panel images, each computed once."""

    def __init__(self, images: Sequence[Image.Image], device: str):
        self.images = images
        self.device = device
        self._seen: dict[tuple[int, Any], np.ndarray] = {}

    def __call__(self, crops: Sequence[CropSpec]) -> np.ndarray:
        rows = []
        for c in crops:
            key = (c.panel, c.box)
            if key not in self._seen:
                self._seen[key] = crop_feature(crop_fraction(self.images[c.panel], c.box),
                                               self.device)
            rows.append(self._seen[key])
        return np.stack(rows) if rows else np.zeros((0, 1), dtype=np.float32)


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
    styled_features, raw_features = _Features(styled, device), _Features(raw, device)
    out = {}
    for name, crops in specs.items():
        absent = [i for i, (_, _, panel) in enumerate(panels) if name not in panel.elements]
        contrast = contrast_specs(crops, absent)
        out[name] = {"panels": len(crops), "contrast_panels": len(contrast),
                     "styled": _figures(crops, contrast, styled_features),
                     "raw": _figures(crops, contrast, raw_features)}
    return out
