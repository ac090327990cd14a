"""The clip backend on a tiny, randomly initialised open_clip model (real code path, no weights)."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from comicc.ml.clip import (
    DEFAULT_WEIGHTS,
    TINY_CLIP_ARCH,
    ClipCheckpointError,
    ClipModel,
    ClipObjective,
    ClipUnavailable,
    clip_available,
    direction_embeddings,
    load_clip,
    register_tiny_clip,
    reject_patches,
    tiny_clip_config,
)

TEXTS = ["ink wash, muted teal", "starry night", "pop art, halftone dots"]


@pytest.fixture(scope="module")
def clip() -> ClipModel:
    torch.manual_seed(0)
    return load_clip(TINY_CLIP_ARCH, random_init=True)


def save_safetensors(model: ClipModel, path: Path) -> Path:
    from safetensors.torch import save_file

    save_file({k: v.contiguous() for k, v in model.model.state_dict().items()}, str(path))
    return path


def test_tiny_config_is_registered_with_the_real_vocabulary(clip):
    import open_clip

    assert register_tiny_clip() == register_tiny_clip() == TINY_CLIP_ARCH
    assert open_clip.list_models().count(TINY_CLIP_ARCH) == 1
    config = tiny_clip_config()
    assert config["text_cfg"]["vocab_size"] == clip.tokenizer.vocab_size == 49408
    assert config["text_cfg"]["context_length"] == 77
    assert clip.embed_dim == config["embed_dim"]


def test_encoders_are_normalised_and_differentiable(clip):
    text = clip.encode_text(TEXTS)
    assert text.shape == (3, clip.embed_dim)
    assert torch.allclose(text.norm(dim=-1), torch.ones(3), atol=1e-5)
    x = torch.rand(2, 3, 45, 70, requires_grad=True)
    image = clip.encode_image(x)
    assert image.shape == (2, clip.embed_dim)
    assert torch.allclose(image.norm(dim=-1), torch.ones(2), atol=1e-5)
    image[:, 0].sum().backward()
    assert x.grad is not None and x.grad.abs().sum() > 0
    assert all(not p.requires_grad for p in clip.parameters())


@pytest.mark.parametrize("fmt", ["safetensors", "pt"])
def test_checkpoint_round_trip(clip, tmp_path, fmt):
    if fmt == "safetensors":
        path = save_safetensors(clip, tmp_path / "tiny.safetensors")
    else:
        path = tmp_path / "tiny.pt"
        torch.save({"state_dict": clip.model.state_dict()}, path)
    assert clip_available(TINY_CLIP_ARCH, checkpoint=path)
    torch.manual_seed(123)  # a different random init, overwritten by the checkpoint
    loaded = load_clip(TINY_CLIP_ARCH, checkpoint=path)
    x = torch.rand(2, 3, 32, 32)
    assert torch.allclose(loaded.encode_image(x), clip.encode_image(x), atol=1e-6)
    assert torch.allclose(loaded.encode_text(TEXTS), clip.encode_text(TEXTS), atol=1e-6)
    assert loaded.description == f"{TINY_CLIP_ARCH} ({path.name})"


def test_pretrained_tag_is_read_from_the_local_cache_only(clip, tmp_path, monkeypatch):
    import huggingface_hub
    import open_clip.pretrained

    def no_network(*args, **kwargs):
        raise AssertionError("tried to download")

    monkeypatch.setattr(huggingface_hub, "hf_hub_download", no_network)
    monkeypatch.setattr(open_clip.pretrained, "hf_hub_download", no_network, raising=False)
    monkeypatch.setattr("urllib.request.urlopen", no_network)
    monkeypatch.setitem(
        open_clip.pretrained._PRETRAINED, TINY_CLIP_ARCH, {"cached": {"hf_hub": "comicc/tiny/"}}
    )
    assert not clip_available(TINY_CLIP_ARCH, "cached", cache_dir=tmp_path)
    with pytest.raises(ClipUnavailable, match="not in the local cache"):
        load_clip(TINY_CLIP_ARCH, "cached", cache_dir=tmp_path)

    # The Hugging Face cache layout: refs/main names the snapshot holding the files.
    repo = tmp_path / "models--comicc--tiny"
    (repo / "refs").mkdir(parents=True)
    (repo / "refs" / "main").write_text("0" * 40)
    snapshot = repo / "snapshots" / ("0" * 40)
    snapshot.mkdir(parents=True)
    save_safetensors(clip, snapshot / "open_clip_model.safetensors")
    assert clip_available(TINY_CLIP_ARCH, "cached", cache_dir=tmp_path)
    loaded = load_clip(TINY_CLIP_ARCH, "cached", cache_dir=tmp_path)
    assert torch.allclose(loaded.encode_text(TEXTS), clip.encode_text(TEXTS), atol=1e-6)


def test_uncached_pretrained_tag_is_unavailable(tmp_path):
    assert not clip_available("ViT-B-32", "laion2b_s34b_b79k", cache_dir=tmp_path)
    with pytest.raises(ClipUnavailable) as info:
        load_clip("ViT-B-32", "laion2b_s34b_b79k", cache_dir=tmp_path)
    message = str(info.value)
    assert "not in the local cache" in message and "clip_checkpoint" in message
    assert not clip_available("ViT-B-32", None, None)
    assert not clip_available("ViT-B-32", checkpoint=tmp_path / "missing.safetensors")


def test_unknown_names_suggest_a_fix():
    with pytest.raises(ClipUnavailable, match='did you mean "ViT-B-32"'):
        load_clip("ViT-B-23", "laion2b_s34b_b79k")
    with pytest.raises(ClipUnavailable, match='did you mean "laion2b_s34b_b79k"'):
        load_clip("ViT-B-32", "laion2b_s43b_b79k")
    assert not clip_available("ViT-B-23", "laion2b_s34b_b79k")


def test_configuration_errors_are_value_errors(tmp_path):
    # The build reports ValueErrors from here as the author's configuration errors.
    assert issubclass(ClipUnavailable, ValueError) and issubclass(ClipCheckpointError, ValueError)
    with pytest.raises(ValueError, match="not both"):
        load_clip(TINY_CLIP_ARCH, "cached", tmp_path / "w.safetensors")
    with pytest.raises(ClipUnavailable, match="no CLIP weights given"):
        load_clip(TINY_CLIP_ARCH)
    with pytest.raises(ClipUnavailable, match="checkpoint not found"):
        load_clip(TINY_CLIP_ARCH, checkpoint=tmp_path / "missing.safetensors")


class Payload:
    """A pickle that runs code when loaded unsafely: it writes a marker file."""

    def __init__(self, marker: Path):
        self.marker = marker

    def __reduce__(self):
        return (exec, (f"open({str(self.marker)!r}, 'w').write('ran')",))


def test_malicious_pickle_is_refused_without_running_it(tmp_path):
    marker = tmp_path / "marker"
    path = tmp_path / "evil.pt"
    torch.save({"visual.proj": Payload(marker)}, path)
    with pytest.raises(ClipCheckpointError, match="not a weights-only file"):
        load_clip(TINY_CLIP_ARCH, checkpoint=path)
    assert not marker.exists()
    # The payload is real: an unsafe load would have run it.
    torch.load(path, weights_only=False)
    assert marker.read_text() == "ran"


def test_wrong_architecture_checkpoint_names_the_keys(clip, tmp_path):
    from safetensors.torch import save_file

    state = {k: v.contiguous() for k, v in clip.model.state_dict().items()}
    del state["visual.proj"]
    state["visual.head.weight"] = torch.zeros(3)
    state["text_projection"] = torch.zeros(5, 7)
    path = tmp_path / "other.safetensors"
    save_file(state, str(path))
    with pytest.raises(ClipCheckpointError) as info:
        load_clip(TINY_CLIP_ARCH, checkpoint=path)
    message = str(info.value)
    assert "does not fit the open_clip architecture" in message
    assert "missing 1: visual.proj" in message
    assert "unexpected 1: visual.head.weight" in message
    assert "text_projection (5, 7) != (64, 32)" in message


def test_direction_embeddings_are_per_panel(clip):
    cond = direction_embeddings(clip, TEXTS)
    assert cond.shape == (3, clip.embed_dim)
    assert torch.allclose(cond.norm(dim=-1), torch.ones(3), atol=1e-5)
    assert (cond[0] - cond[1]).abs().max() > 1e-3


def test_objective_terms_are_finite_and_reach_the_image(clip, backbone):
    torch.manual_seed(0)
    objective = ClipObjective(
        clip, backbone, ["a drawing"], TEXTS, n_crops=4, crop_size=24, patch_threshold=0.0
    )
    source = torch.rand(2, 3, 48, 40)
    panels = torch.tensor([0, 2])
    # Identity (the U-Net's starting point) and a changed image.
    for styled in (source.clone(), (source * 0.7 + 0.1)):
        styled.requires_grad_(True)
        terms = objective(styled, source, panels)
        assert set(terms) == set(DEFAULT_WEIGHTS)
        assert all(t.dim() == 0 and torch.isfinite(t) for t in terms.values())
        (patch_grad,) = torch.autograd.grad(terms["patch"], styled, retain_graph=True)
        assert patch_grad.abs().sum() > 0  # through the random perspective crops
        sum(terms.values()).backward()
        assert torch.isfinite(styled.grad).all() and styled.grad.abs().sum() > 0
    assert terms["content"] > 0 and terms["dir"] > 0 and terms["tv"] > 0


def test_reject_patches_known_values():
    losses = torch.tensor([[0.2, 0.9, 1.3], [0.69, 0.7, 2.0]])
    kept = reject_patches(losses, 0.7)
    assert torch.equal(kept, torch.tensor([[0.0, 0.9, 1.3], [0.0, 0.7, 2.0]]))


def test_patch_threshold_drops_patches(clip, backbone):
    source = torch.rand(2, 3, 48, 48)
    styled = (1 - source).requires_grad_(True)
    panels = torch.tensor([1, 0])
    patch_terms = {}
    for threshold in (0.0, 1.0, 2.01):
        objective = ClipObjective(
            clip,
            backbone,
            ["a drawing"],
            TEXTS,
            n_crops=6,
            crop_size=24,
            patch_threshold=threshold,
        )
        torch.manual_seed(7)  # the same crops for every threshold
        patch_terms[threshold] = objective(styled, source, panels)["patch"].item()
    torch.manual_seed(7)
    raw = objective.patch_losses(
        styled, clip.encode_image(source), objective.text_directions[panels]
    ).detach()
    # The random model gives some patch losses on each side of 1, so threshold 1 drops some.
    assert (raw < 1).any() and (raw >= 1).any()
    weight = DEFAULT_WEIGHTS["patch"]
    assert patch_terms[0.0] == pytest.approx(weight * raw.mean(dim=1).sum().item(), rel=1e-5)
    expected_1 = weight * (raw * (raw >= 1)).mean(dim=1).sum().item()
    assert patch_terms[1.0] == pytest.approx(expected_1, rel=1e-5)
    assert patch_terms[1.0] < patch_terms[0.0]
    assert patch_terms[2.01] == 0.0


def test_objective_rejects_bad_arguments(clip, backbone):
    with pytest.raises(ValueError, match="no text direction"):
        ClipObjective(clip, backbone, ["a drawing"], ["ink", "  "])
    with pytest.raises(ValueError, match="unknown CLIP loss weights"):
        ClipObjective(clip, backbone, ["a drawing"], ["ink"], weights={"style": 1.0})
    with pytest.raises(ValueError, match="one source text"):
        ClipObjective(clip, backbone, ["a", "b"], ["ink", "wash", "pop"])
