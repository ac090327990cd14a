"""The frozen EfficientNet-Lite0 backbone and device resolution."""

from __future__ import annotations

import contextlib
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from comicc.ml.backbone import EMBED_DIM, FEATURE_TAPS, load_backbone, resize, resize_long_side
from comicc.ml.device import resolve_device

DATA = Path(__file__).parent / "data"

# ImageNet classes 281-285: tabby, tiger cat, Persian, Siamese, Egyptian cat.
CAT_CLASSES = set(range(281, 286))


def load_photo(name: str) -> torch.Tensor:
    array = np.asarray(Image.open(DATA / name).convert("RGB"), dtype=np.float32) / 255
    return torch.from_numpy(array.copy()).permute(2, 0, 1)


def test_pretrained_weights_classify_a_real_photo(backbone):
    cat = load_photo("chelsea.jpg").unsqueeze(0)
    with torch.no_grad():
        top5 = backbone.imagenet_logits(resize(cat, (224, 224))).topk(5).indices[0].tolist()
    assert top5[0] in CAT_CLASSES, f"top-5 ImageNet classes were {top5}"


def test_backbone_is_frozen_and_stays_in_eval_mode(backbone):
    assert all(not p.requires_grad for p in backbone.parameters())
    backbone.train()
    assert not backbone.training
    assert not any(m.training for m in backbone.modules())


def test_features_at_several_depths_for_any_size(backbone):
    x = torch.rand(2, 3, 45, 70)
    features = backbone.features(x)
    assert len(features) == len(FEATURE_TAPS)
    assert [f.shape[1] for f in features] == [32, 24, 40, 80, 112]
    sides = [f.shape[-1] for f in features]
    assert sides == sorted(sides, reverse=True)
    assert backbone.embed(x).shape == (2, EMBED_DIM)


def test_gradients_flow_to_the_image_not_the_weights(backbone):
    x = torch.rand(1, 3, 32, 32, requires_grad=True)
    (sum(f.mean() for f in backbone.features(x)) + backbone.embed(x).mean()).backward()
    assert x.grad is not None and x.grad.abs().sum() > 0
    assert all(p.grad is None for p in backbone.parameters())


def test_backbone_is_loaded_once_per_device(backbone):
    assert load_backbone("cpu") is backbone
    assert load_backbone(torch.device("cpu")) is backbone


def test_resize_long_side_keeps_aspect():
    assert resize_long_side(torch.rand(1, 3, 30, 60), 20).shape == (1, 3, 10, 20)
    assert resize_long_side(torch.rand(1, 3, 90, 45), 30).shape == (1, 3, 30, 15)


def test_resolve_device():
    assert resolve_device("cpu") == torch.device("cpu")
    assert resolve_device("auto").type in {"cpu", "cuda", "mps"}
    with pytest.raises(ValueError, match="unknown device"):
        resolve_device("tpu")
    if not torch.cuda.is_available():
        with pytest.raises(ValueError, match="cuda"):
            resolve_device("cuda")


def _counting_stem(backbone):
    calls = []
    handle = backbone.net._conv_stem.register_forward_hook(lambda *a: calls.append(1))
    return calls, handle


def test_sharing_resumes_embed_from_the_features_pass(backbone):
    """Inside `sharing()` the classifiers' embedding reuses the Gram pass's activations:
    the same values and gradients, one stem pass instead of two."""
    torch.manual_seed(0)
    x0 = torch.rand(2, 3, 64, 64)
    results = []
    for share in (False, True):
        x = x0.clone().requires_grad_(True)
        calls, handle = _counting_stem(backbone)
        with backbone.sharing() if share else contextlib.nullcontext():
            feats = backbone.features(x)
            with torch.no_grad():
                backbone.features(torch.rand(2, 3, 64, 64))  # another tensor: never reused
            embedding = backbone.embed(x)
        handle.remove()
        (sum(f.mean() for f in feats) + embedding.square().mean()).backward()
        results.append((embedding.detach(), x.grad, len(calls)))
    (plain, plain_grad, plain_calls), (shared, shared_grad, shared_calls) = results
    assert torch.allclose(plain, shared, atol=1e-6)
    assert torch.allclose(plain_grad, shared_grad, atol=1e-7)
    assert (plain_calls, shared_calls) == (3, 2)
    assert backbone._shared is None  # nothing is kept after the block


def test_sharing_never_lends_a_no_grad_pass_to_a_grad_one(backbone):
    x = torch.rand(1, 3, 64, 64, requires_grad=True)
    with backbone.sharing():
        with torch.no_grad():
            backbone.features(x)
        embedding = backbone.embed(x)
    assert embedding.requires_grad
