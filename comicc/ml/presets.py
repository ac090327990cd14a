"""Named quality/time trade-offs for the style stage: plain values, one dataclass."""

from __future__ import annotations

from dataclasses import dataclass, replace


@dataclass(frozen=True)
class Preset:
    """Every knob of classifier training and style fine-tuning for one quality level."""

    name: str
    size: int  # training resolution: panels are resized to size x size
    long_side: int  # art is read at most this long for training (print size: frame x dpi)
    steps: int  # optimisation steps of the Comic Book Loss
    lr: float  # Adam learning rate of the style network
    lam: float  # lambda, weight of the classifier (consistency) term
    colour_weight: float  # identity: element regions keep the art's chroma (times lambda)
    edge_weight: float  # identity: element regions keep the art's edges (times lambda)
    identity_weight: float  # identity: each present element's crop keeps its backbone embedding
    structure_weight: float  # identity: each present element's crop keeps the art's content features
    background_weight: float  # outside the elements' regions, the chroma of the untuned style
    consistency_views: int  # random views of the print the classifiers judge (0: the print itself)
    style_weight: float  # Gram style loss weight (gram backend)
    content_weight: float  # content loss weight
    tv_weight: float  # total-variation weight
    patch_weight: float  # patch-wise directional CLIP loss weight (clip backend)
    direction_weight: float  # global directional CLIP loss weight (clip backend)
    classifier_steps: int  # optimisation steps of each element's head
    classifier_size: int  # side of the augmented views the classifiers see, px
    classifier_views: int  # augmented views per source image
    crops: int  # random patches per panel for the patch-wise CLIP loss
    crop_size: int  # side of each patch, px
    patch_threshold: float  # patches whose directional loss is below this are rejected
    panels_per_step: int  # mini-batch of panels per optimisation step
    unet_width: int  # base channel width of the U-Net style network
    learn_conds: bool  # pretrained network: per-panel style mixes learn with the network
    warm_start_fraction: float  # fraction of steps run when resuming from a previous build

    def warm_steps(self) -> int:
        """Steps to run when a previous build's network is resumed."""
        return max(1, round(self.steps * self.warm_start_fraction))

    def with_overrides(self, **changes: object) -> Preset:
        """A copy with some fields replaced (None values are ignored)."""
        return replace(self, **{k: v for k, v in changes.items() if v is not None})


# Loss weights share CLIPstyler's scale (content 150, tv 2e-3 on its TV definition); the
# Gram style weight matches the content weight. lambda = 50: on both samples under a
# destructive style it brings the matrix agreement close to the raw art's while the style
# loss stays within 10 % of lambda = 0's (150 cost up to 32 %; docs/pretrained.md).
# background_weight = 1: the bird's blue no longer spreads to the meadow's tree crowns, at
# the judge's identity and style similarity of 0 within a seed's spread (three samples,
# three seeds; 4 removed a little more of the spread at the same figures).
PRESETS: dict[str, Preset] = {
    # CPU minutes: 8 panels and their classifiers in one to two minutes on 2 cores. The
    # pretrained network styles at its training size (brought to print size by
    # comicc.ml.print_render), so `size` sets how fine its strokes are against the panel:
    # 192 keeps the sample's figures legible, 128 did not.
    # Classifier views at the training size: the classifier term then reads the styled
    # batch as it is and resumes from the Gram objective's backbone pass (Backbone.sharing).
    # 3 panels per step: each draft step costs a quarter less than with 4, and on both
    # samples lambda > 0 still beats lambda = 0 several times over (docs/pretrained.md).
    "draft": Preset(
        name="draft",
        size=192,
        long_side=768,
        steps=60,
        lr=5e-3,
        lam=50.0,
        colour_weight=2.0,
        edge_weight=0.0,
        identity_weight=5.0,
        structure_weight=2.0,
        background_weight=1.0,
        consistency_views=1,
        style_weight=150.0,
        content_weight=150.0,
        tv_weight=2e-3,
        patch_weight=9000.0,
        direction_weight=500.0,
        classifier_steps=150,
        classifier_size=192,
        classifier_views=8,
        crops=16,
        crop_size=64,
        patch_threshold=0.7,
        panels_per_step=3,
        unet_width=8,
        learn_conds=True,
        warm_start_fraction=0.15,
    ),
    # A laptop GPU, or a patient CPU.
    "standard": Preset(
        name="standard",
        size=256,
        long_side=1600,
        steps=120,
        lr=2e-3,
        lam=50.0,
        colour_weight=2.0,
        edge_weight=0.0,
        identity_weight=5.0,
        structure_weight=2.0,
        background_weight=1.0,
        consistency_views=1,
        style_weight=150.0,
        content_weight=150.0,
        tv_weight=2e-3,
        patch_weight=9000.0,
        direction_weight=500.0,
        classifier_steps=250,
        classifier_size=160,
        classifier_views=16,
        crops=32,
        crop_size=96,
        patch_threshold=0.7,
        panels_per_step=8,
        unet_width=16,
        learn_conds=True,
        warm_start_fraction=0.3,
    ),
    # CLIPstyler scale, for one GPU.
    "final": Preset(
        name="final",
        size=512,
        long_side=3072,
        steps=200,
        lr=5e-4,
        lam=50.0,
        colour_weight=2.0,
        edge_weight=0.0,
        identity_weight=5.0,
        structure_weight=2.0,
        background_weight=1.0,
        consistency_views=1,
        style_weight=150.0,
        content_weight=150.0,
        tv_weight=2e-3,
        patch_weight=9000.0,
        direction_weight=500.0,
        classifier_steps=400,
        classifier_size=224,
        classifier_views=32,
        crops=64,
        crop_size=128,
        patch_threshold=0.7,
        panels_per_step=8,
        unet_width=16,
        learn_conds=True,
        warm_start_fraction=0.3,
    ),
}
