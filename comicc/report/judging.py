"""The independent judge's measures of a build, for the report (torch: ML builds only).

The style fit is trained to satisfy the element classifiers, so their probabilities cannot
also serve as the judge. `comicc.ml.judge` is a second pretrained network (EfficientNet-Lite2)
that the Comic Book Loss never sees; here it measures every element x panel of the styled
comic against the author's concept art and references.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
from PIL import Image

from comicc.manifest.matrix import target_matrix
from comicc.manifest.models import Comic

# Bump when what the judge learns from the concept art changes (its stage is then rerun).
JUDGE_VERSION = 2
# Panels and references are read at this long side: region crops keep enough pixels for the
# judge's 260 px input without holding print-size art.
LONG_SIDE = 640
MEASURE = (
    "An independent judge: EfficientNet-Lite2 with its own ImageNet weights, a network the "
    "Comic Book Loss never sees. Presence: the judge's own logistic-regression heads, trained "
    "on the references and the concept art with p̂ as labels, applied to the styled crop "
    "(the element's region: the manifest's, else for a character or prop the box the build "
    "found for it; else the whole panel). Identity: cosine of the judge's embeddings "
    "of the styled crop and the concept-art crop (1 = unchanged). Retrieved: the element whose "
    "references are nearest to the styled crop (a region's crop among every element, a whole "
    "panel among it and the elements absent from the panel). A warning marks a cell where the "
    "build's classifier and the judge disagree."
)


def _tensor(image: Image.Image):
    import torch

    image = image.convert("RGB")
    if max(image.size) > LONG_SIDE:
        scale = LONG_SIDE / max(image.size)
        image = image.resize((max(1, round(image.width * scale)),
                              max(1, round(image.height * scale))), Image.Resampling.LANCZOS)
    array = np.asarray(image, dtype=np.uint8).copy()
    return torch.from_numpy(array).permute(2, 0, 1).float().div(255)


class _Tensors(Sequence):
    """Images as judge tensors at LONG_SIDE, converted when asked for (the latest kept):
    the judge reads a long comic's panels one at a time."""

    def __init__(self, images: Sequence[Image.Image]) -> None:
        self.images = images
        self._latest: tuple[int, Any] | None = None

    def __len__(self) -> int:
        return len(self.images)

    def __getitem__(self, index: int):  # type: ignore[override]
        index = range(len(self))[index]
        if self._latest is None or self._latest[0] != index:
            self._latest = (index, _tensor(self.images[index]))
        return self._latest[1]


def learn_judge_reference(comic: Comic, raw: Sequence[Image.Image],
                          references: dict[str, list[Image.Image]], device: str = "cpu",
                          regions: Sequence[Mapping[str, Sequence[float]]] | None = None
                          ) -> bytes:
    """What the judge learns from the concept art, references, p̂ and regions, as bytes.

    regions: per panel, where each element is cropped (the build's `judge_regions`: the
    manifest's, else the box the build found for a character or prop); default the
    manifest's."""
    import torch

    from comicc.ml.judge import learn_reference, load_judge

    matrix = target_matrix(comic)
    if regions is None:
        regions = [panel.regions for _, _, panel in comic.panels()]
    boxes = [{name: (box[0], box[1], box[2], box[3]) for name, box in panel.items()}
             for panel in regions]
    reference = learn_reference(
        load_judge(device), _Tensors(raw),
        {name: [_tensor(i) for i in drawn] for name, drawn in references.items()},
        matrix.elements, torch.tensor(matrix.values, dtype=torch.float32), boxes)
    return reference.to_bytes()


def judge_build(comic: Comic, styled: Sequence[Image.Image], reference: bytes,
                device: str = "cpu") -> dict[str, Any]:
    """The judge's cells and summaries of the styled panels as JSON-able data, panels by
    label ("1.2"); `reference` is `learn_judge_reference`'s."""
    from comicc.ml.judge import JudgeReference, judge_styled, load_judge

    panels = target_matrix(comic).panels
    result = judge_styled(load_judge(device), JudgeReference.from_bytes(reference),
                          _Tensors(styled))
    data = result.to_json()
    for cell in data["cells"]:
        cell["panel"] = panels[cell["panel"]]
        for key in ("presence", "identity"):
            cell[key] = None if cell[key] is None else round(cell[key], 4)
    return {"measure": MEASURE, **data}
