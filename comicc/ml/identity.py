"""Identity terms of the consistency loss: inside each present element's region, the styled
panel keeps the concept art's colours and its lines.

A classifier can be satisfied by texture that a reader does not see as the character; these
terms hold on to what a reader does see. Both compare the styled panel with the art it was
made from, only where an element is (its region: the manifest's box or the one found by the
classify stage), so the rest of the panel is free to take the style:

    colour  squared error of the large-scale chroma (YCbCr Cb, Cr), relative to the art's
            own chroma spread in the region: a red coat stays red, a grey cat grey. With
            the element's colour model, on the pixels drawn in its own colours only, so
            the sky inside its box is left to the style (`own_colour_masks`)
    edges   squared error of the Sobel edge magnitude of the luminance, relative to the
            art's: the outline and the features stay where the artist drew them
    identity  cosine of the frozen backbone's embeddings of the element's crop, styled vs
            art: what the network takes the element to be, not one classifier's verdict
    structure  the content loss (relative error of the backbone's two deepest content
            feature maps) of the element's crop, styled vs art: the panel's content term
            weighted up where an element is, so its shapes and parts stay put
    background  outside every present element's region, the chroma of the untuned
            network's rendering: one network styles every panel, so the colours the terms
            above pull back would otherwise spread to whatever shares their tone
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import torch
import torch.nn.functional as F
from torch import Tensor

from comicc.boxes import Box, pixel_bounds
from comicc.ml.backbone import Backbone
from comicc.ml.classifiers import crop_boxes
from comicc.ml.keep import low_pass, rgb_to_ycc
from comicc.ml.losses import CONTENT_TAPS, content_loss

# Colours are compared over cells of this share of the shorter side: colour, not texture.
COLOUR_SCALE = 1 / 24
# Floor of the relative errors' denominators (a flat grey region has no chroma spread).
COLOUR_FLOOR = 0.01
EDGE_FLOOR = 1e-3

_SOBEL_X = torch.tensor([[-1.0, 0.0, 1.0], [-2.0, 0.0, 2.0], [-1.0, 0.0, 1.0]]) / 4


def element_masks(regions: Sequence[Mapping[str, Box]], present: Sequence[Sequence[str]],
                  height: int, width: int) -> tuple[Tensor, Tensor]:
    """(rows [K], masks [K, 1, H, W]): one mask per (panel, present element), 1 inside the
    element's region (the whole panel without one), and the batch row it belongs to.

    One mask per element, not one per panel: each element's colours are then held against
    its own art, relative to its own chroma spread, so a small bird beside a large gardener
    counts as much as she does instead of a tenth of a shared mask."""
    rows, masks = [], []
    for b, elements in enumerate(present):
        for element in elements:
            mask = torch.zeros(1, height, width)
            box = regions[b].get(element) if b < len(regions) else None
            if box is None:
                mask[:] = 1.0
            else:
                left, top, right, bottom = pixel_bounds(box, width, height)
                mask[:, top:bottom, left:right] = 1.0
            rows.append(b)
            masks.append(mask)
    if not masks:
        return torch.zeros(0, dtype=torch.long), torch.zeros(0, 1, height, width)
    return torch.tensor(rows, dtype=torch.long), torch.stack(masks)


def own_colour_masks(masks: Tensor, pixels: Sequence[Tensor | None],
                     least: float = 0.02) -> Tensor:
    """[K,1,H,W]: each element's mask narrowed to the pixels drawn in its own colours
    (pixels[k] [H,W] bool, `classifiers.colour_pixels` on the art), where those cover at
    least `least` of the mask; the whole mask otherwise (no colour model, or its colours
    are not there: a silhouette at night)."""
    out = masks.clone()
    for k, own in enumerate(pixels):
        if own is None:
            continue
        narrowed = masks[k, 0] * own.to(masks)
        if narrowed.sum() >= least * masks[k, 0].sum().clamp_min(1.0):
            out[k, 0] = narrowed
    return out


def edge_magnitude(x: Tensor) -> Tensor:
    """[B, 1, H, W] Sobel gradient magnitude of the luminance of RGB [B, 3, H, W]."""
    luma = rgb_to_ycc(x)[:, :1]
    kx = _SOBEL_X.to(x).view(1, 1, 3, 3)
    padded = F.pad(luma, (1, 1, 1, 1), mode="replicate")
    gx, gy = F.conv2d(padded, kx), F.conv2d(padded, kx.transpose(-1, -2))
    return (gx.square() + gy.square() + 1e-8).sqrt()


def identity_terms(styled: Tensor, art: Tensor, masks: Tensor,
                   focus: Tensor | None = None) -> dict[str, Tensor]:
    """Per-panel {"colour": [B], "edges": [B]} errors of styled vs art [B,3,H,W] inside masks
    [B,1,H,W]; 0 for a panel whose mask is empty. `focus` [B,1,H,W] (within masks): the
    pixels whose colour error counts, e.g. the element's own colours without the sky
    behind it (`own_colour_masks`); its scale is still the chroma spread of the mask."""
    masks = masks.to(styled)
    focus = masks if focus is None else focus.to(styled)
    area = masks.flatten(1).sum(dim=1).clamp_min(1.0)

    def masked_mean(x: Tensor, where: Tensor = masks) -> Tensor:
        return (x * where).flatten(1).sum(dim=1) / where.flatten(1).sum(dim=1).clamp_min(1.0)

    chroma_s = low_pass(rgb_to_ycc(styled)[:, 1:], COLOUR_SCALE)
    chroma_a = low_pass(rgb_to_ycc(art.to(styled))[:, 1:], COLOUR_SCALE)
    mean_a = (chroma_a * masks).flatten(2).sum(dim=2) / area[:, None]
    spread = masked_mean((chroma_a - mean_a[..., None, None]).square().sum(dim=1, keepdim=True))
    colour = masked_mean((chroma_s - chroma_a).square().sum(dim=1, keepdim=True), focus)
    edges_s, edges_a = edge_magnitude(styled), edge_magnitude(art.to(styled))
    edges = masked_mean((edges_s - edges_a).square()) / (masked_mean(edges_a.square()) + EDGE_FLOOR)
    return {"colour": colour / (spread + COLOUR_FLOOR), "edges": edges}


def background_masks(rows: Tensor, masks: Tensor, count: int) -> Tensor:
    """[count,1,H,W]: per batch row, 1 where none of its present elements' masks (`rows`,
    `masks` from `element_masks`) is: the part of the panel left to the style alone. A row
    with no present element has none (all 0): no identity term acts on it, so there is
    nothing to spread, and holding a whole panel to the untuned network holds back the one
    network every panel shares, against the terms that act where the elements are."""
    union = masks.new_zeros(count, *masks.shape[1:])
    background = masks.new_zeros(count, *masks.shape[1:])
    for row in rows.unique().tolist():
        union[row] = masks[rows == row].amax(dim=0)
        background[row] = 1.0 - union[row]
    return background


def background_term(printed: Tensor, anchor: Tensor, background: Tensor) -> Tensor:
    """[B]: the error of the large-scale chroma of printed vs anchor [B,3,H,W] (the untuned
    network's rendering of the same panels, printed alike) where `background` [B,1,H,W] is
    1, relative to the anchor's chroma spread there: the identity terms pull an element's
    colours back, and this keeps the same network from painting them onto the rest of the
    panel (a cobalt bird's blue on every dark tree crown); 0 for an empty background."""
    background = background.to(printed)
    area = background.flatten(1).sum(dim=1).clamp_min(1.0)

    def masked_mean(x: Tensor) -> Tensor:
        return (x * background).flatten(1).sum(dim=1) / area

    chroma_p = low_pass(rgb_to_ycc(printed)[:, 1:], COLOUR_SCALE)
    chroma_u = low_pass(rgb_to_ycc(anchor.to(printed))[:, 1:], COLOUR_SCALE)
    mean_u = (chroma_u * background).flatten(2).sum(dim=2) / area[:, None]
    spread = masked_mean((chroma_u - mean_u[..., None, None]).square().sum(dim=1, keepdim=True))
    error = masked_mean((chroma_p - chroma_u).square().sum(dim=1, keepdim=True))
    return error / (spread + COLOUR_FLOOR)


WHOLE_PANEL: Box = (0.0, 0.0, 1.0, 1.0)


def crop_similarity(backbone: Backbone, styled: Tensor, art: Tensor,
                    regions: Sequence[Mapping[str, Box]], present: Sequence[Sequence[str]],
                    size: int, panels: Sequence[int] | None = None,
                    known: dict[tuple[int, str], Tensor] | None = None) -> Tensor:
    """[K] cosine of the backbone embeddings of each present element's crop (its region, or
    the whole panel without one), styled vs art, over every (panel, present element) of the
    batch; differentiable w.r.t. styled. regions[b] and present[b] are row b's.

    known: the art crops' embeddings by (panel, element), with `panels` giving row b's panel;
    the art of a fit never changes, so each is computed once and looked up after."""
    return crop_terms(backbone, styled, art, regions, present, size, panels, known)[0]


def crop_terms(backbone: Backbone, styled: Tensor, art: Tensor,
               regions: Sequence[Mapping[str, Box]], present: Sequence[Sequence[str]],
               size: int, panels: Sequence[int] | None = None,
               known: dict[tuple[int, str], Tensor] | None = None,
               known_content: dict[tuple[int, str], list[Tensor]] | None = None,
               structure: bool = False,
               similarity: bool = True) -> tuple[Tensor | None, Tensor | None]:
    """(similarity [K] or None, structure [K] or None) over every (panel, present element)
    of the batch, from one crop of the styled batch: with `similarity`, the cosine of the
    crops' embeddings (see `crop_similarity`); with `structure`, their content loss against
    the art's crop. known / known_content cache the art crops' embeddings and content
    features by (panel, element). The styled crops' feature maps are shared by both
    (`Backbone.sharing`); a figure not asked for costs no backbone pass."""
    cells = [(b, e, regions[b].get(e, WHOLE_PANEL)) for b, elements in enumerate(present)
             for e in elements]
    if not cells:
        return (styled.new_zeros(0) if similarity else None,
                styled.new_zeros(0) if structure else None)
    known = {} if known is None else known
    known_content = {} if known_content is None else known_content
    keys = [(panels[b] if panels is not None else b, e) for b, e, _ in cells]
    index = torch.tensor([b for b, _, _ in cells])
    boxes = torch.tensor([box for _, _, box in cells], dtype=torch.float32)
    missing = [k for k, key in enumerate(keys)
               if (similarity and key not in known) or (structure and key not in known_content)]
    if missing:
        with torch.no_grad():
            crops = crop_boxes(art, index[missing], boxes[missing], size)
            with backbone.sharing():
                content = backbone.features(crops) if structure else None
                embedded_art = backbone.embed(crops) if similarity else None
        for n, k in enumerate(missing):
            if embedded_art is not None:
                known[keys[k]] = embedded_art[n]
            if content is not None:
                known_content[keys[k]] = [content[t][n] for t in CONTENT_TAPS]
    crops = crop_boxes(styled, index, boxes, size)
    kept = cosine = None
    with backbone.sharing():
        if structure:
            features = backbone.features(crops)
            art_content = [torch.stack([known_content[key][t] for key in keys])
                           for t in range(len(CONTENT_TAPS))]
            kept = content_loss([features[t] for t in CONTENT_TAPS], art_content)
        if similarity:
            reference = torch.stack([known[key] for key in keys])
            cosine = F.cosine_similarity(backbone.embed(crops), reference, dim=1)
    return cosine, kept
