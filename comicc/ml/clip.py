"""The `clip` style backend: a text-guided style loss as in CLIPstyler (Kwon & Ye, CVPR 2022).

    S_j = patch * mean_k reject(1 - cos(E(crop_k(f(x_j))) - E(x_j), T(t_j) - T(s_j)))
        + dir * (1 - cos(E(f(x_j)) - E(x_j), T(t_j) - T(s_j)))
        + content * |phi(f(x_j)) - phi(x_j)|^2 + tv * TV(f(x_j))

E and T are CLIP's (unit-norm) image and text encoders, t_j panel j's text direction, s_j the
source text, crop_k random perspective crops, reject() zeroes patch losses below the threshold,
phi the frozen backbone's features.

CLIP models come from `open_clip`: an architecture plus a pretrained tag (read from the local
cache only, never downloaded) or a local checkpoint file (safetensors, or a weights-only torch
file; arbitrary pickles are refused).
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import warnings
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from comicc.manifest.diagnostics import did_you_mean
from comicc.ml.backbone import Backbone, resize
from comicc.ml.losses import CONTENT_TAPS, content_loss, tv_loss

CONFIG_DIR = Path(__file__).parent / "configs"
TINY_CLIP_ARCH = "comicc-tiny-clip"
# File names open_clip uses for weights on the Hugging Face Hub.
HF_WEIGHTS_NAME = "open_clip_pytorch_model.bin"
HF_SAFE_WEIGHTS_NAME = "open_clip_model.safetensors"
# CLIPstyler's loss weights (lambda_patch, lambda_dir, lambda_c, lambda_tv).
DEFAULT_WEIGHTS: dict[str, float] = {"patch": 9000.0, "dir": 500.0, "content": 150.0, "tv": 2e-3}
# Prompt ensembling as in CLIPstyler: a text's embedding is its mean over these templates.
TEMPLATES: tuple[str, ...] = (
    "{}",
    "a photo of {}.",
    "a painting of {}.",
    "a drawing of {}.",
    "a rendering of {}.",
    "art of {}.",
    "a close-up picture of {}.",
    "an image in the style of {}.",
)
# RandomPerspective distortion used by CLIPstyler's patch augmentation.
PERSPECTIVE_DISTORTION = 0.5
# Floor on the norm of an image-embedding difference: a styled image that has barely moved
# from its source (a network starting at identity) would otherwise get an unbounded gradient.
DIRECTION_EPS = 1e-3
_HOW_TO_PROVIDE = (
    "comicc never downloads model weights during a build. Either fetch them once with network "
    "access, e.g. python -c \"import open_clip; open_clip.create_model('{arch}', "
    "pretrained='{tag}')\", or point [build] clip_checkpoint at a local weights file "
    '(.safetensors or a weights-only .pt/.bin), or use backend = "gram".'
)


class ClipError(ValueError):
    """A CLIP model cannot be used; the message says why and how to fix it.

    A ValueError: it always comes from a value the author configured (names, files).
    """


class ClipUnavailable(ClipError):
    """The requested CLIP weights are not on this machine (or the name is unknown)."""


class ClipCheckpointError(ClipError):
    """A checkpoint file is unsafe to load or does not fit the architecture."""


# ---------------------------------------------------------------------------------------------
# Model registry and loading


def tiny_clip_config() -> dict[str, Any]:
    """The tiny open_clip architecture used by tests (random weights, real code path)."""
    return json.loads((CONFIG_DIR / f"{TINY_CLIP_ARCH}.json").read_text())


def register_tiny_clip() -> str:
    """Add the tiny architecture to open_clip's registry (idempotent); returns its name."""
    import open_clip

    if TINY_CLIP_ARCH not in open_clip.list_models():
        open_clip.add_model_config(CONFIG_DIR / f"{TINY_CLIP_ARCH}.json")
    return TINY_CLIP_ARCH


class ClipModel(nn.Module):
    """A frozen open_clip model with image/text encoders that take comicc's tensors."""

    def __init__(self, model: nn.Module, tokenizer: Any, description: str) -> None:
        super().__init__()
        self.model = model.eval().requires_grad_(False)
        self.tokenizer = tokenizer
        self.description = description
        cfg = model.visual.preprocess_cfg
        size = cfg["size"]
        self.image_size: tuple[int, int] = (size, size) if isinstance(size, int) else tuple(size)
        self.register_buffer("mean", torch.tensor(cfg["mean"]).view(1, 3, 1, 1))
        self.register_buffer("std", torch.tensor(cfg["std"]).view(1, 3, 1, 1))
        self.embed_dim = int(self.encode_text([""]).shape[-1])

    def train(self, mode: bool = True) -> ClipModel:
        """CLIP stays in eval mode: it is a frozen judge, never trained."""
        return super().train(False)

    @property
    def device(self) -> torch.device:
        return self.mean.device

    @torch.no_grad()
    def encode_text(self, texts: Sequence[str]) -> Tensor:
        """Unit-norm text embeddings [n, D] (constants: no gradient)."""
        tokens = self.tokenizer(list(texts)).to(self.device)
        return F.normalize(self.model.encode_text(tokens).float(), dim=-1)

    def encode_image(self, x: Tensor) -> Tensor:
        """Unit-norm image embeddings [B, D] of x [B,3,H,W] in [0,1]; differentiable in x."""
        x = resize(x, self.image_size)
        x = (x - self.mean) / self.std
        return F.normalize(self.model.encode_image(x).float(), dim=-1)


def clip_available(
    arch: str,
    pretrained: str | None = None,
    checkpoint: Path | None = None,
    *,
    cache_dir: Path | None = None,
) -> bool:
    """Cheap check (no model is built) that load_clip would find weights, for backend "auto"."""
    if checkpoint is not None:
        return Path(checkpoint).is_file() and _known_arch(arch)
    if pretrained is None or not _known_arch(arch):
        return False
    try:
        _cached_pretrained(arch, pretrained, cache_dir)
    except ClipUnavailable:
        return False
    return True


def load_clip(
    arch: str,
    pretrained: str | None = None,
    checkpoint: Path | None = None,
    device: torch.device | str = "cpu",
    *,
    cache_dir: Path | None = None,
    random_init: bool = False,
) -> ClipModel:
    """Build `arch` and load its weights from a cached pretrained tag or a checkpoint file.

    Nothing is downloaded: a tag whose weights are not in the local cache raises
    ClipUnavailable. `random_init=True` (tests only) skips the weights altogether.
    """
    if pretrained is not None and checkpoint is not None:
        raise ClipError("give either a pretrained tag or a checkpoint file for CLIP, not both")
    if not _known_arch(arch):
        hint = did_you_mean(arch, _open_clip().list_models())
        raise ClipUnavailable(
            f"unknown open_clip architecture {arch!r}" + (f"; {hint}" if hint else "")
        )
    if pretrained is None and checkpoint is None and not random_init:
        raise ClipUnavailable(
            f"no CLIP weights given for {arch}: set [build] clip_pretrained or clip_checkpoint. "
            + _HOW_TO_PROVIDE.format(arch=arch, tag="<tag>")
        )
    pcfg: dict[str, Any] = {}
    if pretrained is not None:
        weights_path, pcfg = _cached_pretrained(arch, pretrained, cache_dir)
        description = f"{arch} ({pretrained})"
    elif checkpoint is not None:
        weights_path = Path(checkpoint)
        if not weights_path.is_file():
            raise ClipUnavailable(f"CLIP checkpoint not found: {weights_path}")
        description = f"{arch} ({weights_path.name})"
    else:
        weights_path, description = None, f"{arch} (random weights)"

    with _offline():
        try:
            tokenizer = _open_clip().get_tokenizer(arch, cache_dir=_str(cache_dir))
        # Hugging Face tokenizers fail in several ways when their files are not cached.
        except (OSError, ImportError, ValueError, RuntimeError) as exc:
            raise ClipUnavailable(
                f"the tokenizer of {arch} is not available offline ({exc})"
            ) from exc
    model = _build(arch, pcfg)
    if weights_path is not None:
        _load_weights(model, weights_path, arch)
    return ClipModel(model, tokenizer, description).to(device)


def _open_clip() -> Any:
    import open_clip

    register_tiny_clip()
    return open_clip


def _str(path: Path | None) -> str | None:
    return None if path is None else str(path)


def _known_arch(arch: str) -> bool:
    return arch in _open_clip().list_models()


def _cached_pretrained(arch: str, tag: str, cache_dir: Path | None) -> tuple[Path, dict[str, Any]]:
    """The local weights file of a pretrained tag and its config; never downloads."""
    open_clip = _open_clip()
    pcfg = open_clip.get_pretrained_cfg(arch, tag)
    if not pcfg:
        tags = open_clip.list_pretrained_tags_by_model(arch)
        hint = did_you_mean(tag, tags)
        raise ClipUnavailable(
            f"open_clip has no pretrained tag {tag!r} for {arch}"
            + (f"; {hint}" if hint else f" (known: {', '.join(tags) or 'none'})")
        )
    looked: list[str] = []
    candidates = [Path(pcfg["file"])] if pcfg.get("file") else []
    hub = pcfg.get("hf_hub", "")
    if hub:
        from huggingface_hub import try_to_load_from_cache

        repo, filename = os.path.split(hub)
        filename = filename or HF_WEIGHTS_NAME
        for name in [n for n in (_safetensors_twin(filename), filename) if n]:
            found = try_to_load_from_cache(repo, name, cache_dir=_str(cache_dir))
            looked.append(f"hf-hub {repo}/{name}")
            if isinstance(found, str):
                candidates.append(Path(found))
    if pcfg.get("url"):
        url_dir = Path(cache_dir) if cache_dir else Path.home() / ".cache" / "clip"
        candidates.append(url_dir / os.path.basename(pcfg["url"]))
        looked.append(str(candidates[-1]))
    for path in candidates:
        if path.is_file():
            return path, pcfg
    where = f" (looked for {', '.join(looked)})" if looked else ""
    raise ClipUnavailable(
        f"CLIP weights {arch}/{tag} are not in the local cache{where}. "
        + _HOW_TO_PROVIDE.format(arch=arch, tag=tag)
    )


def _safetensors_twin(filename: str) -> str | None:
    """The .safetensors file open_clip publishes beside a .bin/.pth one (preferred)."""
    if filename == HF_WEIGHTS_NAME:
        return HF_SAFE_WEIGHTS_NAME
    stem, ext = os.path.splitext(filename)
    return stem + ".safetensors" if ext in (".bin", ".pth") else None


def _build(arch: str, pcfg: Mapping[str, Any]) -> nn.Module:
    """The architecture with random weights; no tower weights are fetched."""
    open_clip = _open_clip()
    force_pp = {k: pcfg[k] for k in ("mean", "std") if k in pcfg}
    with _offline(), _quiet_random_init_warning():
        try:
            return open_clip.create_model(
                arch,
                pretrained=None,
                load_weights=False,
                pretrained_image=False,
                pretrained_text=False,
                force_quick_gelu=bool(pcfg.get("quick_gelu", False)),
                force_preprocess_cfg=force_pp or None,
            )
        except (OSError, ImportError, ValueError) as exc:
            raise ClipUnavailable(f"cannot build {arch} offline: {exc}") from exc


def _load_weights(model: nn.Module, path: Path, arch: str) -> None:
    """Load a weights file into `model` safely, with a clear error when it does not fit."""
    state = _read_state_dict(path)
    if "positional_embedding" in state and not hasattr(model, "positional_embedding"):
        from open_clip.model import convert_to_custom_text_state_dict

        # Older checkpoints keep the text tower at the top level; custom-text models nest it.
        state = convert_to_custom_text_state_dict(state)
    expected = model.state_dict()
    missing = sorted(set(expected) - set(state))
    unexpected = sorted(set(state) - set(expected))
    mismatched = [
        f"{k} {tuple(state[k].shape)} != {tuple(v.shape)}"
        for k, v in expected.items()
        if k in state and tuple(state[k].shape) != tuple(v.shape)
    ]
    if missing or unexpected or mismatched:
        parts = [
            f"{label} {len(keys)}: {', '.join(keys[:8])}" + (", ..." if len(keys) > 8 else "")
            for label, keys in (
                ("missing", missing),
                ("unexpected", unexpected),
                ("wrong shape", mismatched),
            )
            if keys
        ]
        raise ClipCheckpointError(
            f"{path} does not fit the open_clip architecture {arch}: {'; '.join(parts)}. "
            f"Is [build] clip_model the architecture this checkpoint was trained with?"
        )
    model.load_state_dict(state, strict=True)


def _read_state_dict(path: Path) -> dict[str, Tensor]:
    """Tensors of a safetensors or weights-only torch file; pickled code is never run."""
    import pickle

    if path.suffix == ".safetensors":
        from safetensors import SafetensorError
        from safetensors.torch import load_file

        try:
            state: Any = load_file(str(path), device="cpu")
        except (SafetensorError, OSError) as exc:
            raise ClipCheckpointError(f"{path} is not a readable safetensors file: {exc}") from exc
    else:
        try:
            with warnings.catch_warnings():  # torch's own pickle warnings are not for authors
                warnings.simplefilter("ignore")
                state = torch.load(path, map_location="cpu", weights_only=True)
        except pickle.UnpicklingError as exc:
            raise ClipCheckpointError(
                f"refusing to load {path}: it is not a weights-only file (it holds pickled "
                "objects other than tensors, which could run code). Convert it to .safetensors."
            ) from exc
        except (RuntimeError, OSError, EOFError) as exc:
            raise ClipCheckpointError(
                f"{path} is not a readable torch weights file: {exc}"
            ) from exc
    if isinstance(state, Mapping) and isinstance(state.get("state_dict"), Mapping):
        state = state["state_dict"]
    if not isinstance(state, Mapping) or not all(isinstance(v, Tensor) for v in state.values()):
        raise ClipCheckpointError(f"{path} does not hold a state dict of tensors")
    # DataParallel checkpoints prefix every key with "module."
    return {k.removeprefix("module."): v for k, v in state.items()}


@contextlib.contextmanager
def _offline() -> Iterator[None]:
    """Forbid Hugging Face downloads while a model or tokenizer is built."""
    names = ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE")
    saved = {n: os.environ.get(n) for n in names}
    os.environ.update({n: "1" for n in names})
    constants = None
    with contextlib.suppress(ImportError):
        from huggingface_hub import constants
    previous = getattr(constants, "HF_HUB_OFFLINE", None)
    if constants is not None:
        constants.HF_HUB_OFFLINE = True  # read at call time by huggingface_hub
    try:
        yield
    finally:
        if constants is not None:
            constants.HF_HUB_OFFLINE = previous
        for n, v in saved.items():
            if v is None:
                os.environ.pop(n, None)
            else:
                os.environ[n] = v


@contextlib.contextmanager
def _quiet_random_init_warning() -> Iterator[None]:
    """open_clip warns that a model built without weights is random; ours get weights next."""

    def keep(record: logging.LogRecord) -> bool:
        return "initialized randomly" not in record.getMessage()

    root = logging.getLogger()
    root.addFilter(keep)
    try:
        yield
    finally:
        root.removeFilter(keep)


# ---------------------------------------------------------------------------------------------
# Text directions and the style objective


def text_embeddings(clip: ClipModel, texts: Sequence[str]) -> Tensor:
    """Unit-norm embeddings [N, D], each the mean over TEMPLATES (prompt ensembling)."""
    prompts = [template.format(text) for text in texts for template in TEMPLATES]
    per_prompt = clip.encode_text(prompts).view(len(texts), len(TEMPLATES), -1)
    return F.normalize(per_prompt.mean(dim=1), dim=-1)


def direction_embeddings(clip: ClipModel, texts: Sequence[str]) -> Tensor:
    """Per-panel conditions [N, D] for the style network: the panels' text embeddings."""
    return text_embeddings(clip, texts)


def directional_loss(image_direction: Tensor, text_direction: Tensor) -> Tensor:
    """1 - cos(image direction, unit text direction) over the last dim, in [0, 2]."""
    norm = image_direction.norm(dim=-1).clamp_min(DIRECTION_EPS)
    return 1 - (image_direction * text_direction).sum(dim=-1) / norm


def reject_patches(losses: Tensor, threshold: float) -> Tensor:
    """Zero the patch losses below `threshold`, as CLIPstyler does (keep the hard patches)."""
    return torch.where(losses < threshold, torch.zeros_like(losses), losses)


def random_perspective_crops(x: Tensor, n_crops: int, crop_size: int) -> Tensor:
    """n_crops random crops per image, each warped by RandomPerspective: [B*n_crops,3,s,s].

    Rows are grouped by image (image 0's crops first). Crops are clipped to the image size.
    """
    from torchvision import transforms

    warp = transforms.RandomPerspective(distortion_scale=PERSPECTIVE_DISTORTION, p=1.0, fill=0)
    h, w = x.shape[-2:]
    size_h, size_w = min(crop_size, h), min(crop_size, w)
    crops = []
    for image in x:
        for _ in range(n_crops):
            top = int(torch.randint(0, h - size_h + 1, ()))
            left = int(torch.randint(0, w - size_w + 1, ()))
            crops.append(warp(image[:, top : top + size_h, left : left + size_w]))
    return torch.stack(crops)


class ClipObjective:
    """CLIPstyler's loss for a batch of panels, as named weighted terms summed over the batch.

    Terms: "patch" (patch-wise directional CLIP loss with rejection), "dir" (global
    directional CLIP loss), "content" (frozen backbone features), "tv" (total variation).
    Text directions are embedded once, at construction.
    """

    def __init__(
        self,
        clip: ClipModel,
        backbone: Backbone,
        source_texts: Sequence[str],
        target_texts: Sequence[str],
        *,
        n_crops: int = 64,
        crop_size: int = 128,
        patch_threshold: float = 0.7,
        weights: Mapping[str, float] | None = None,
    ) -> None:
        unknown = set(weights or {}) - set(DEFAULT_WEIGHTS)
        if unknown:
            raise ValueError(
                f"unknown CLIP loss weights {sorted(unknown)}; known: {sorted(DEFAULT_WEIGHTS)}"
            )
        blank = [j for j, text in enumerate(target_texts) if not text.strip()]
        if blank:
            raise ValueError(f"panels {blank} have no text direction for the clip backend")
        if len(source_texts) not in (1, len(target_texts)):
            raise ValueError("give one source text, or one per target text")
        self.clip, self.backbone = clip, backbone
        self.n_crops, self.crop_size, self.patch_threshold = n_crops, crop_size, patch_threshold
        self.weights = {**DEFAULT_WEIGHTS, **(weights or {})}
        target = text_embeddings(clip, target_texts)
        source = text_embeddings(clip, source_texts)
        # One unit text direction per panel: where the target text lies from the source text.
        self.text_directions = F.normalize(target - source, dim=-1)

    def __call__(self, styled: Tensor, source: Tensor, panel_index: Tensor) -> dict[str, Tensor]:
        """Weighted {"patch", "dir", "content", "tv"} terms, each summed over the batch."""
        directions = self.text_directions[panel_index.to(self.text_directions.device)]
        with torch.no_grad():
            source_embed = self.clip.encode_image(source)
            source_feats = self.backbone.features(source)
        glob = directional_loss(self.clip.encode_image(styled) - source_embed, directions)
        patch = reject_patches(
            self.patch_losses(styled, source_embed, directions), self.patch_threshold
        ).mean(dim=1)
        feats = self.backbone.features(styled)
        content = content_loss(
            [feats[k] for k in CONTENT_TAPS], [source_feats[k] for k in CONTENT_TAPS]
        )
        w = self.weights
        return {
            "patch": w["patch"] * patch.sum(),
            "dir": w["dir"] * glob.sum(),
            "content": w["content"] * content.sum(),
            "tv": w["tv"] * tv_loss(styled).sum(),
        }

    def patch_losses(self, styled: Tensor, source_embed: Tensor, directions: Tensor) -> Tensor:
        """Directional loss of each random crop against its whole source image: [B, n_crops]."""
        crops = random_perspective_crops(styled, self.n_crops, self.crop_size)
        crop_embed = self.clip.encode_image(crops).view(styled.shape[0], self.n_crops, -1)
        return directional_loss(crop_embed - source_embed[:, None], directions[:, None])
