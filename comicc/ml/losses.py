"""Loss terms of the Comic Book Loss and the style objectives that combine them.

    L = sum_j S_j(f(x_j), x_j) + lambda * sum_ij BCE(p_hat_ij, C_i(f(x_j)))

A style objective computes sum_j S_j for a batch of panels; `train.fit_comic` adds the
classifier term. Backends (Gram here, CLIP in `clip.py`) satisfy `StyleObjective`.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

import torch
from torch import Tensor

from comicc.ml.backbone import Backbone, resize_long_side

# Probabilities are clamped away from 0 and 1 so BCE stays finite.
PROB_EPS = 1e-6
# Keeps relative errors finite when a target is all zeros.
SCALE_EPS = 1e-8
# Backbone taps compared for content (deeper = more semantic): the last two of FEATURE_TAPS.
CONTENT_TAPS = (-2, -1)


class StyleObjective(Protocol):
    """A backend's style loss: named, already-weighted scalar terms for a batch.

    styled and source are [B,3,H,W] in [0,1]; panel_index [B] (long) says which panel of
    the comic each row is, so per-panel targets (text directions, style images) can be
    looked up. The terms' sum is sum_j S_j over the batch.
    """

    def __call__(
        self, styled: Tensor, source: Tensor, panel_index: Tensor
    ) -> dict[str, Tensor]: ...


def gram_matrix(f: Tensor) -> Tensor:
    """Channel correlations [B,C,C] of features [B,C,H,W], normalised by C*H*W."""
    flat = f.flatten(2)
    return flat @ flat.transpose(1, 2) / flat.shape[1:].numel()


def gram_style_loss(features_styled: Sequence[Tensor], grams_target: Sequence[Tensor]) -> Tensor:
    """Per-image style loss [B]: sum over layers of the relative squared Gram error.

    Each layer's mean squared Gram difference is divided by the mean square of its target
    Gram, so every layer counts about equally whatever its feature scale.
    grams_target[k] is [B,C,C] or [1,C,C] (one target for the whole batch).
    """
    per_layer = [
        (gram_matrix(f) - g).pow(2).mean(dim=(1, 2)) / (g.pow(2).mean(dim=(1, 2)) + SCALE_EPS)
        for f, g in zip(features_styled, grams_target, strict=True)
    ]
    return torch.stack(per_layer).sum(dim=0)


def content_loss(features_styled: Sequence[Tensor], features_source: Sequence[Tensor]) -> Tensor:
    """Per-image content loss [B]: sum over layers of the relative squared feature error."""
    per_layer = [
        (fs - fx).pow(2).flatten(1).mean(dim=1) / (fx.pow(2).flatten(1).mean(dim=1) + SCALE_EPS)
        for fs, fx in zip(features_styled, features_source, strict=True)
    ]
    return torch.stack(per_layer).sum(dim=0)


def tv_loss(x: Tensor) -> Tensor:
    """Per-image total variation [B], as CLIPstyler computes it: the sum of the L2 norms of
    the differences between neighbours along x, y and both diagonals."""
    shifts = (
        x[..., :, 1:] - x[..., :, :-1],
        x[..., 1:, :] - x[..., :-1, :],
        x[..., 1:, 1:] - x[..., :-1, :-1],
        x[..., 1:, :-1] - x[..., :-1, 1:],
    )
    return torch.stack([torch.linalg.vector_norm(d.flatten(1), dim=1) for d in shifts]).sum(dim=0)


def consistency_bce(probs: Tensor, targets: Tensor) -> Tensor:
    """Mean binary cross-entropy between classifier probabilities and p_hat, both [E,B]."""
    # Written out rather than F.binary_cross_entropy, which CUDA autocast refuses to run.
    p = probs.float().clamp(PROB_EPS, 1 - PROB_EPS)
    t = targets.to(p.dtype)
    return -(t * p.log() + (1 - t) * (1 - p).log()).mean()


class GramObjective:
    """Gatys-style loss on the frozen backbone: Gram style + content + total variation.

    The style target is one image for every panel, or one image per panel
    (`panel_styles`, e.g. the pretrained network's own stylisation of each panel).
    Target Grams are computed once, without gradients.
    """

    def __init__(
        self,
        backbone: Backbone,
        style_image: Tensor | None = None,
        style_weight: float = 1.0,
        content_weight: float = 1.0,
        tv_weight: float = 0.0,
        *,
        panel_styles: Sequence[Tensor] | None = None,
        style_size: int | None = None,
    ) -> None:
        if (style_image is None) == (panel_styles is None):
            raise ValueError("give exactly one of style_image or panel_styles")
        self.backbone = backbone
        self.style_weight, self.content_weight, self.tv_weight = (
            style_weight,
            content_weight,
            tv_weight,
        )
        images = [style_image] if style_image is not None else list(panel_styles or [])
        self.per_panel = panel_styles is not None
        self.grams = self._target_grams(images, style_size)
        # Content features of the fixed training sources, by panel (see prepare_sources).
        self._source_taps: dict[int, list[Tensor]] = {}
        self._source_shape: tuple[int, ...] | None = None

    @torch.no_grad()
    def prepare_sources(self, sources: Tensor, panel_index: Tensor) -> None:
        """Compute the content features of the training sources [M,3,s,s] once (fit_comic
        calls this); each step then looks them up instead of running the backbone on
        sources that never change."""
        device = self.backbone.mean.device
        self._source_taps.clear()
        for start in range(0, len(sources), 16):
            batch = sources[start : start + 16].to(device)
            taps = [self.backbone.features(batch)[k] for k in CONTENT_TAPS]
            for row, j in enumerate(panel_index[start : start + 16].tolist()):
                self._source_taps[j] = [t[row] for t in taps]
        self._source_shape = tuple(sources.shape[1:])

    @torch.no_grad()
    def _target_grams(self, images: Sequence[Tensor], size: int | None) -> list[Tensor]:
        """Per tap, the stacked target Grams [K,C,C] of the K style images."""
        device = self.backbone.mean.device
        per_image = []
        for image in images:
            x = image.to(device).unsqueeze(0)
            if size is not None:
                x = resize_long_side(x, size)
            per_image.append([gram_matrix(f) for f in self.backbone.features(x)])
        return [torch.cat(layer) for layer in zip(*per_image, strict=True)]

    def __call__(self, styled: Tensor, source: Tensor, panel_index: Tensor) -> dict[str, Tensor]:
        """Weighted {"style", "content", "tv"} terms, each summed over the batch."""
        feats = self.backbone.features(styled)
        source_taps = self._prepared(source, panel_index)
        if source_taps is None:
            with torch.no_grad():
                source_feats = self.backbone.features(source)
            source_taps = [source_feats[k] for k in CONTENT_TAPS]
        if self.per_panel:
            targets = [g[panel_index.to(g.device)] for g in self.grams]
        else:
            targets = self.grams
        content_taps = [feats[k] for k in CONTENT_TAPS]
        return {
            "style": self.style_weight * gram_style_loss(feats, targets).sum(),
            "content": self.content_weight * content_loss(content_taps, source_taps).sum(),
            "tv": self.tv_weight * tv_loss(styled).sum(),
        }

    def _prepared(self, source: Tensor, panel_index: Tensor) -> list[Tensor] | None:
        """The prepared content features of this batch's sources, or None if a panel was
        not prepared or the sources are not the prepared ones' size."""
        if self._source_shape != tuple(source.shape[1:]):
            return None
        rows = [self._source_taps.get(j) for j in panel_index.tolist()]
        if any(r is None for r in rows):
            return None
        return [torch.stack([r[k] for r in rows]) for k in range(len(CONTENT_TAPS))]


def random_view(x: Tensor, generator: torch.Generator | None = None) -> Tensor:
    """A random photometric and resampling view of a batch [B,3,H,W] in [0,1], the same for
    every row: a down-and-up resample, saturation, contrast and brightness.

    Expectation over transformations: a classifier judged on random views of the styled
    panel cannot be satisfied by a texture that only moves it at one exact rendering.
    Geometry is kept, so region boxes stay where they are. The view is a function of four
    numbers drawn from `generator`, so ranks of a distributed fit that share its seed judge
    their shards exactly as one process would judge the whole batch.
    """
    _, _, h, w = x.shape
    r = torch.rand(4, generator=generator).tolist()
    scale = 0.6 + 0.4 * r[0]
    small = (max(8, round(h * scale)), max(8, round(w * scale)))
    x = torch.nn.functional.interpolate(x, size=small, mode="bilinear", antialias=True,
                                        align_corners=False)
    x = torch.nn.functional.interpolate(x, size=(h, w), mode="bilinear", align_corners=False)
    grey = (0.299 * x[:, :1] + 0.587 * x[:, 1:2] + 0.114 * x[:, 2:]).expand_as(x)
    x = grey + (0.7 + 0.6 * r[1]) * (x - grey)  # saturation
    mean = x.mean(dim=(1, 2, 3), keepdim=True)
    x = mean + (0.85 + 0.3 * r[2]) * (x - mean) + (r[3] - 0.5) * 0.2  # contrast, brightness
    return x.clamp(0, 1)
