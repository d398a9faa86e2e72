"""The dense vision transformer: shapes, saving, and exact flip-equivariance of its predictions."""

import numpy as np
import pytest
import torch
from scipy.optimize import linear_sum_assignment

from apps.vision.model import DenseVisionTransformer, VisionModelConfig, normalise
from apps.vision.predict import dense_predict, detections
from shared.config import config_to_dict
from shared.model_folder import load_model, save_model


def _model(**kw) -> DenseVisionTransformer:
    cfg = VisionModelConfig(d_model=32, n_heads=4, layers=2, d_ff=64, stem_channels=[8, 16, 16],
                            decoder_channels=16, num_classes=3, num_det_classes=2, **kw)
    model = DenseVisionTransformer(cfg).eval()
    torch.nn.init.constant_(model.heat_head[-1].bias, 0.0)  # scores near 0.5: plenty of peaks to compare
    return model


@pytest.mark.parametrize("decoder_stride", [1, 2, 4])
def test_output_shapes_and_uneven_sizes(decoder_stride):
    model = _model(decoder_stride=decoder_stride)
    assert model.skip_strides == [s for s in (1, 2, 4) if s >= decoder_stride]
    assert hasattr(model, "up1") == (decoder_stride == 1) and hasattr(model, "up2") == (decoder_stride <= 2)
    out = model(normalise(torch.randint(0, 255, (2, 64, 96, 3), dtype=torch.uint8)))
    assert out.seg.shape == (2, 3, 64, 96) and out.heat.shape == (2, 2, 16, 24) and out.box.shape == (2, 4, 16, 24)
    assert (out.box >= 0).all()
    probs = dense_predict(model, torch.randint(0, 255, (1, 50, 70, 3), dtype=torch.uint8))  # padded, cropped back
    assert probs.seg.shape == (1, 3, 50, 70) and torch.allclose(probs.seg.sum(1), torch.ones(1, 50, 70), atol=1e-5)
    with pytest.raises(ValueError, match="multiples of 8"):
        model(torch.zeros(1, 3, 60, 64))
    with pytest.raises(ValueError, match="decoder_stride"):
        _model(decoder_stride=8)


def test_a_box_bins_model_predicts_each_edge_as_the_mean_of_its_distribution():
    from apps.vision.model import bin_distances

    model = _model(box_bins=6)
    out = model(normalise(torch.randint(0, 255, (2, 32, 64, 3), dtype=torch.uint8)))
    assert out.box_logits.shape == (2, 4, 6, 8, 16) and out.box.shape == (2, 4, 8, 16)
    mean = (out.box_logits.softmax(2) * bin_distances(6)[:, None, None]).sum(2)
    assert torch.allclose(out.box, mean) and out.box.min() >= 0 and out.box.max() <= 20  # bins: 0, 4, ..., 20 px
    assert _model().forward(normalise(torch.zeros(1, 32, 32, 3, dtype=torch.uint8))).box_logits is None
    with pytest.raises(ValueError, match="box_bins"):
        _model(box_bins=1)


def test_model_folder_round_trip(tmp_path):
    model = _model()
    save_model(tmp_path / "m", model, "vision-dense", config_to_dict(model.cfg))
    loaded = load_model(tmp_path / "m").model.eval()
    x = normalise(torch.randint(0, 255, (1, 32, 32, 3), dtype=torch.uint8))
    assert torch.equal(model(x).heat, loaded(x).heat)


@pytest.mark.parametrize("axis", [2, 1], ids=["left-right", "up-down"])
def test_predictions_are_flip_equivariant(axis):
    """Dense outputs of a flipped image are the flipped outputs (to float rounding), and the boxes
    decoded from flipped outputs are the flipped boxes."""
    model = _model()
    image = torch.randint(0, 255, (1, 64, 64, 3), dtype=torch.uint8)
    a, b = dense_predict(model, image), dense_predict(model, image.flip(axis))
    swap = [2, 1, 0, 3] if axis == 2 else [0, 3, 2, 1]
    assert torch.allclose(a.seg.flip(axis + 1), b.seg, atol=1e-5)
    assert torch.allclose(a.heat.flip(axis + 1), b.heat, atol=1e-5)
    assert torch.allclose(a.box.flip(axis + 1)[:, swap], b.box, atol=1e-4)

    found = detections(a.heat[0], a.box[0], 64, 64, score_threshold=0.0, max_detections=30)
    mirrored = detections(a.heat[0].flip(axis), a.box[0].flip(axis)[swap], 64, 64, score_threshold=0.0, max_detections=30)
    assert len(found.boxes) == len(mirrored.boxes) > 5
    boxes = found.boxes.copy()
    lo, hi = (0, 2) if axis == 2 else (1, 3)
    boxes[:, lo], boxes[:, hi] = 64 - found.boxes[:, hi], 64 - found.boxes[:, lo]
    # pair each box with its counterpart (the order may differ between equal scores), then compare
    rows, cols = linear_sum_assignment(np.abs(boxes[:, None] - mirrored.boxes[None]).sum(-1))
    np.testing.assert_allclose(boxes[rows], mirrored.boxes[cols], atol=1e-4)
    np.testing.assert_allclose(found.scores[rows], mirrored.scores[cols], atol=1e-6)
    np.testing.assert_array_equal(found.labels[rows], mirrored.labels[cols])


def test_without_flip_averaging_the_model_is_not_exactly_equivariant():
    """The property above comes from the averaging, so this test shows it is not vacuous."""
    model = _model()
    image = torch.randint(0, 255, (1, 64, 64, 3), dtype=torch.uint8)
    a, b = dense_predict(model, image, flips=False), dense_predict(model, image.flip(2), flips=False)
    assert not torch.allclose(a.heat.flip(3), b.heat, atol=1e-5)
