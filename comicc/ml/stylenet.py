"""The style network f: image (+ per-panel condition) in, styled image out.

Any `nn.Module` whose `forward(x, cond)` maps x [B,3,H,W] in [0,1] (with cond [B,D] or
None) to a styled image of the same shape in [0,1] can be fine-tuned by `train.fit_comic`;
`StyleNetwork` states that contract. `UNetStyleNet` is the CLIPstyler-style U-Net trained
from identity.
"""

from __future__ import annotations

from typing import Protocol, runtime_checkable

import torch
import torch.nn.functional as F
from torch import Tensor, nn

# Three 2x down-samplings: inputs are padded to a multiple of 8 (at least 16) and cropped back.
DOWNSCALE = 8
# Scale of the output layer's initial weights: small enough that f(x) ~= x, non-zero so
# every layer receives gradient from the first step.
OUTPUT_INIT_SCALE = 1e-5


@runtime_checkable
class StyleNetwork(Protocol):
    """What the Comic Book Loss loop fine-tunes: an `nn.Module` with this forward.

    x is [B,3,H,W] in [0,1] of any H, W; cond is [B, D] (one row per panel) or None for an
    unconditioned network; the result is the styled image, same shape, in [0,1].
    """

    def forward(self, x: Tensor, cond: Tensor | None = None) -> Tensor: ...


class FiLM(nn.Module):
    """Feature-wise affine modulation from a condition vector, identity at init."""

    def __init__(self, cond_dim: int, channels: int) -> None:
        super().__init__()
        self.proj = nn.Linear(cond_dim, 2 * channels)
        nn.init.zeros_(self.proj.weight)  # gamma = 1, beta = 0 until training says otherwise
        nn.init.zeros_(self.proj.bias)

    def forward(self, h: Tensor, cond: Tensor) -> Tensor:
        gamma, beta = self.proj(cond).unsqueeze(-1).unsqueeze(-1).chunk(2, dim=1)
        return h * (1 + gamma) + beta


class ConvBlock(nn.Module):
    """conv-norm-act, conv-norm, FiLM, act: the condition modulates normalised features
    before the non-linearity, so the next block's normalisation cannot undo it."""

    def __init__(self, c_in: int, c_out: int, cond_dim: int) -> None:
        super().__init__()
        self.body = nn.Sequential(
            nn.Conv2d(c_in, c_out, 3, padding=1, padding_mode="reflect"),
            nn.InstanceNorm2d(c_out, affine=True),
            nn.LeakyReLU(0.2),
            nn.Conv2d(c_out, c_out, 3, padding=1, padding_mode="reflect"),
            nn.InstanceNorm2d(c_out, affine=True),
        )
        self.film = FiLM(cond_dim, c_out) if cond_dim > 0 else None

    def forward(self, h: Tensor, cond: Tensor | None) -> Tensor:
        h = self.body(h)
        if self.film is not None:
            if cond is None:
                raise ValueError("this network is conditioned: pass cond [B, cond_dim]")
            h = self.film(h, cond)
        return F.leaky_relu(h, 0.2)


class UNetStyleNet(nn.Module):
    """CLIPstyler-style U-Net (~0.6 M parameters at width 16) predicting a residual.

    f(x) = clamp(x + U(x, cond), 0, 1); the last layer starts near zero so f(x) ~= x.
    """

    def __init__(self, width: int = 16, cond_dim: int = 0) -> None:
        super().__init__()
        self.width, self.cond_dim = width, cond_dim
        c1, c2, c3, c4 = width, 2 * width, 4 * width, 8 * width
        self.enc1 = ConvBlock(3, c1, cond_dim)
        self.down1 = nn.Conv2d(c1, c1, 3, stride=2, padding=1, padding_mode="reflect")
        self.enc2 = ConvBlock(c1, c2, cond_dim)
        self.down2 = nn.Conv2d(c2, c2, 3, stride=2, padding=1, padding_mode="reflect")
        self.enc3 = ConvBlock(c2, c3, cond_dim)
        self.down3 = nn.Conv2d(c3, c3, 3, stride=2, padding=1, padding_mode="reflect")
        self.mid = ConvBlock(c3, c4, cond_dim)
        self.up3 = Upsample(c4, c3)
        self.dec3 = ConvBlock(2 * c3, c3, cond_dim)
        self.up2 = Upsample(c3, c2)
        self.dec2 = ConvBlock(2 * c2, c2, cond_dim)
        self.up1 = Upsample(c2, c1)
        self.dec1 = ConvBlock(2 * c1, c1, cond_dim)
        self.out = nn.Conv2d(c1, 3, 1)
        nn.init.uniform_(self.out.weight, -OUTPUT_INIT_SCALE, OUTPUT_INIT_SCALE)
        nn.init.zeros_(self.out.bias)

    def forward(self, x: Tensor, cond: Tensor | None = None) -> Tensor:
        """Style x [B,3,H,W] in [0,1] under cond [B, cond_dim] (None when cond_dim is 0)."""
        h, w = x.shape[-2:]
        # The bottleneck must stay >= 2 px for its reflect-padded convolutions.
        pad_h = max(h + (-h) % DOWNSCALE, 2 * DOWNSCALE) - h
        pad_w = max(w + (-w) % DOWNSCALE, 2 * DOWNSCALE) - w
        xp = F.pad(x, (0, pad_w, 0, pad_h), mode="replicate") if pad_h or pad_w else x
        e1 = self.enc1(xp, cond)
        e2 = self.enc2(self.down1(e1), cond)
        e3 = self.enc3(self.down2(e2), cond)
        m = self.mid(self.down3(e3), cond)
        d3 = self.dec3(torch.cat([self.up3(m), e3], dim=1), cond)
        d2 = self.dec2(torch.cat([self.up2(d3), e2], dim=1), cond)
        d1 = self.dec1(torch.cat([self.up1(d2), e1], dim=1), cond)
        residual = self.out(d1)[..., :h, :w]
        return (x + residual).clamp(0.0, 1.0)


class Upsample(nn.Module):
    """Bilinear 2x then a 3x3 convolution (no transposed-conv checkerboards)."""

    def __init__(self, c_in: int, c_out: int) -> None:
        super().__init__()
        self.conv = nn.Conv2d(c_in, c_out, 3, padding=1, padding_mode="reflect")

    def forward(self, h: Tensor) -> Tensor:
        h = F.interpolate(h, scale_factor=2.0, mode="bilinear", align_corners=False)
        return self.conv(h)


def count_parameters(net: nn.Module) -> int:
    """Number of trainable parameters."""
    return sum(p.numel() for p in net.parameters() if p.requires_grad)
