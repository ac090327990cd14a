"""Element classifiers: training on augmented views, region crops, persistence."""

from __future__ import annotations

import math

import pytest
import torch

from comicc.ml.classifiers import ClassifierBank, augment, crop_boxes, train_classifiers

ELEMENTS = ["ball", "box"]


def test_bank_recognises_the_training_panels(bank, comic):
    assert bank.element_ids == ELEMENTS
    assert set(bank.accuracy) == set(ELEMENTS)
    assert bank.weak == []
    with torch.no_grad():
        probs = bank.probabilities(torch.stack(comic.panels))
    assert probs.shape == (2, 4)
    assert torch.equal(probs > 0.5, comic.targets > 0.5)


def test_each_element_has_held_out_accuracy_of_at_least_0_9(bank):
    # Balanced accuracy on whole source images the head was not fitted on.
    assert set(bank.accuracy) == set(ELEMENTS)
    assert min(bank.accuracy.values()) >= 0.9, bank.accuracy


def test_bank_recognises_panels_of_comics_it_never_saw(bank, judges):
    # Separately seeded comics: new backgrounds and positions, never embedded in training.
    hits = []
    for judge in judges:
        with torch.no_grad():
            probs = bank.probabilities(torch.stack(judge.panels))
        hits.append((probs > 0.5) == (judge.targets > 0.5))
    per_element = torch.cat(hits, dim=1).float().mean(dim=1)
    assert per_element.min().item() >= 0.9, dict(zip(ELEMENTS, per_element.tolist(), strict=True))


def test_the_judge_bank_is_accurate_too(judge_bank, comic):
    assert min(judge_bank.accuracy.values()) >= 0.9, judge_bank.accuracy
    with torch.no_grad():
        probs = judge_bank.probabilities(torch.stack(comic.panels))
    assert torch.equal(probs > 0.5, comic.targets > 0.5)


RESTYLES = {
    "posterise": lambda x: torch.round(x * 3) / 3,
    "blur": lambda x: torch.nn.functional.avg_pool2d(x, 3, stride=1, padding=1),
    "darken": lambda x: 0.8 * x,
    "noise": lambda x: x + 0.05 * torch.randn(x.shape, generator=torch.Generator().manual_seed(0)),
}


@pytest.mark.parametrize("restyle", RESTYLES)
def test_bank_still_recognises_restyled_panels(restyle, bank, comic):
    restyled = RESTYLES[restyle](torch.stack(comic.panels)).clamp(0, 1)
    with torch.no_grad():
        probs = bank.probabilities(restyled)
    assert torch.equal(probs > 0.5, comic.targets > 0.5)


def test_probabilities_are_differentiable_with_and_without_regions(bank, comic):
    images = torch.stack(comic.panels).requires_grad_(True)
    probs = bank.probabilities(images, comic.regions)
    probs.sum().backward()
    assert images.grad is not None and images.grad.abs().sum() > 0
    # Region crops change what each element's classifier sees.
    with torch.no_grad():
        whole = bank.probabilities(torch.stack(comic.panels))
    assert not torch.allclose(whole, probs.detach())


def test_a_region_makes_the_classifier_look_at_that_crop(bank, comic):
    panel = comic.panels[2].unsqueeze(0)  # both elements present
    ball_box, box_box = comic.regions[2]["ball"], comic.regions[2]["box"]
    with torch.no_grad():
        on_ball = bank.probabilities(panel, [{"ball": ball_box, "box": ball_box}])
        on_box = bank.probabilities(panel, [{"ball": box_box, "box": box_box}])
    ball, box = 0, 1
    assert on_ball[ball, 0] > on_box[ball, 0]
    assert on_box[box, 0] > on_ball[box, 0]


def test_crop_boxes_matches_slicing_on_pixel_aligned_boxes():
    image = torch.rand(2, 3, 16, 16)
    crops = crop_boxes(image, torch.tensor([1]), torch.tensor([[0.25, 0.5, 0.5, 0.5]]), 8)
    assert torch.allclose(crops[0], image[1, :, 8:16, 4:12], atol=1e-6)


def test_elements_that_cannot_be_separated_are_weak(backbone, comic):
    panel = comic.panels[0]
    # "twin" is marked present in one copy of a panel and absent from an identical copy;
    # "everywhere" has no negatives at all.
    targets = torch.tensor([[1.0, 0.0, 1.0, 0.0], [1.0, 1.0, 1.0, 1.0]])
    bank = train_classifiers(
        backbone,
        ["twin", "everywhere"],
        {},
        [panel, panel, panel, panel],
        targets,
        [{}, {}, {}, {}],
        seed=0,
        steps=50,
        size=48,
        device="cpu",
        # Two sources per class: each fold holds out a quarter of their views, and over the
        # folds every view is held out once: 64 coin flips, which stay far below 0.75.
        views_per_image=16,
    )
    assert set(bank.weak) == {"twin", "everywhere"}
    assert bank.accuracy["twin"] < 0.75
    assert math.isnan(bank.accuracy["everywhere"])


def test_save_and_load_round_trip_through_safetensors(bank, comic, backbone, tmp_path):
    import copy

    path = tmp_path / "bank.safetensors"
    bank = copy.copy(bank)
    bank.colour_models = {"a.b": torch.linspace(-1, 1, 6 * 12**3).view(-1, 6)}  # any id, dots included
    bank.save(path)
    header_length = int.from_bytes(path.read_bytes()[:8], "little")
    assert path.read_bytes()[8:9] == b"{" and header_length < path.stat().st_size  # not a pickle
    loaded = ClassifierBank.load(path, backbone)
    assert loaded.element_ids == bank.element_ids
    assert loaded.size == bank.size and loaded.weak == bank.weak
    assert loaded.accuracy == pytest.approx(bank.accuracy, nan_ok=True)
    assert set(loaded.colour_models) == {"a.b"}
    assert torch.equal(loaded.colour_models["a.b"], bank.colour_models["a.b"])
    images = torch.stack(comic.panels)
    with torch.no_grad():
        # The same heads; stored contiguous, so a sum may differ in its last bit.
        assert torch.allclose(loaded.probabilities(images), bank.probabilities(images),
                              rtol=0, atol=1e-6)


def test_load_state_dict_checks_shapes(bank):
    state = bank.state_dict()
    state["weight"] = state["weight"][:1]
    with pytest.raises(ValueError, match="weight"):
        bank.load_state_dict(state)


def test_augment_is_seeded_and_stays_in_range(comic):
    a = augment(comic.panels[0], 32, torch.Generator().manual_seed(5))
    b = augment(comic.panels[0], 32, torch.Generator().manual_seed(5))
    c = augment(comic.panels[0], 32, torch.Generator().manual_seed(6))
    assert a.shape == (3, 32, 32)
    assert torch.equal(a, b) and not torch.equal(a, c)
    assert 0.0 <= a.min().item() and a.max().item() <= 1.0


def test_cross_validation_holds_out_every_view_once():
    from comicc.ml.classifiers import FOLDS, _folds, _Source, _split

    image = torch.zeros(3, 4, 4)
    positives = [_Source(f"ref:{k}", image) for k in range(5)]  # enough to hold out whole ones
    negatives = [_Source(f"panel:{k}", image) for k in range(2)]  # too few: views held out
    rows = {source.key: range(8 * k, 8 * k + 8) for k, source in enumerate(positives + negatives)}
    gen = torch.Generator().manual_seed(0)
    folds = [a | b for a, b in zip(_folds(positives, gen), _folds(negatives, gen), strict=True)]
    assert len(folds) == FOLDS and set().union(*folds) == {s.key for s in positives}
    assert sum(len(fold) for fold in folds) == len(positives)  # disjoint
    splits = [_split(positives, negatives, rows, held, 56, k) for k, held in enumerate(folds)]
    tested = torch.stack([test for _, _, test in splits])
    assert torch.equal(tested.sum(dim=0), torch.ones(56))  # every view held out exactly once
    for _, train, test in splits:
        assert not (train * test).any()  # never trained on in the fold that measures it
        assert torch.equal(train + test, torch.ones(56))
