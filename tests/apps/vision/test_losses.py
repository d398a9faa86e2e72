"""Detection targets and losses: peaks where the centres are, zero loss for perfect boxes."""

import math

import numpy as np
import torch

from apps.vision.losses import decode_boxes, detection_targets, focal_heatmap_loss, segmentation_loss
from apps.vision.model import DenseOutputs
from apps.vision.losses import LossWeights, dense_loss


def test_heatmap_peaks_at_each_box_centre_and_boxes_are_regressed_around_it():
    boxes = np.array([[8, 8, 24, 20], [40, 36, 60, 60]], np.float32)  # centres (16, 14) and (50, 48)
    heat, target, weight = detection_targets(boxes, np.array([0, 1]), 64, 64, num_classes=2)
    assert heat.shape == (2, 16, 16) and target.shape == (4, 16, 16)
    assert heat[0, 3, 4] == 1.0 and heat[1, 12, 12] == 1.0  # cell = centre // 4
    assert heat[0].eq(1).sum() == 1 and heat[1].eq(1).sum() == 1
    assert heat[0, 12, 12] < 0.01  # each class map only holds its own objects
    assert torch.equal(target[:, 3, 4], torch.tensor([8.0, 8.0, 24.0, 20.0]))
    assert weight[3, 4] > 0 and weight[0, 15] == 0


def test_smaller_box_wins_shared_cells():
    boxes = np.array([[0, 0, 64, 64], [28, 28, 36, 36]], np.float32)
    _, target, _ = detection_targets(boxes, np.array([0, 0]), 64, 64, num_classes=1)
    assert torch.equal(target[:, 7, 7], torch.tensor([28.0, 28.0, 36.0, 36.0]))


def test_perfect_distances_give_zero_box_loss():
    boxes = np.array([[10, 12, 30, 28]], np.float32)
    heat, target, weight = detection_targets(boxes, np.array([0]), 32, 32, num_classes=1)
    cy, cx = torch.meshgrid(torch.arange(8) * 4 + 2.0, torch.arange(8) * 4 + 2.0, indexing="ij")
    exact = torch.stack([cx - 10, cy - 12, 30 - cx, 28 - cy])[None]
    assert torch.allclose(decode_boxes(exact)[0, :, 4, 4], torch.tensor([10.0, 12.0, 30.0, 28.0]))
    out = DenseOutputs(seg=torch.zeros(1, 2, 32, 32), heat=torch.zeros(1, 1, 8, 8), box=exact)
    _, parts = dense_loss(out, None, None, target[None], weight[None], LossWeights())
    assert parts["box"] < 1e-5
    _, worse = dense_loss(DenseOutputs(out.seg, out.heat, exact * 0.5), None, None, target[None], weight[None], LossWeights())
    assert worse["box"] > 0.1


def test_focal_and_segmentation_losses_prefer_the_truth():
    target = torch.zeros(1, 1, 8, 8)
    target[0, 0, 3, 3] = 1.0
    good = torch.full_like(target, -8.0)
    good[0, 0, 3, 3] = 8.0
    assert focal_heatmap_loss(good, target) < 0.01 < focal_heatmap_loss(torch.zeros_like(target), target)
    labels = torch.randint(0, 3, (2, 16, 16))
    perfect = torch.nn.functional.one_hot(labels, 3).permute(0, 3, 1, 2).float() * 20
    assert segmentation_loss(perfect, labels) < 0.01 < segmentation_loss(torch.zeros_like(perfect), labels)
    labels[:, :4] = 255  # ignored pixels do not count
    assert segmentation_loss(perfect, labels) < 0.01


def _exact(boxes=((10, 12, 30, 28),)):
    boxes = np.array(boxes, np.float32)
    heat, target, weight = detection_targets(boxes, np.zeros(len(boxes), np.int64), 32, 32, num_classes=1)
    cy, cx = torch.meshgrid(torch.arange(8) * 4 + 2.0, torch.arange(8) * 4 + 2.0, indexing="ij")
    x0, y0, x1, y1 = boxes[0]
    return torch.stack([cx - x0, cy - y0, x1 - cx, y1 - cy])[None], target[None], weight[None]


def test_ciou_is_zero_for_perfect_boxes_and_punishes_a_shifted_centre_more_than_giou():
    exact, target, weight = _exact()
    seg, heat = torch.zeros(1, 2, 32, 32), torch.zeros(1, 1, 8, 8)
    ciou = LossWeights(box_loss="ciou")
    _, perfect = dense_loss(DenseOutputs(seg, heat, exact), None, None, target, weight, ciou)
    assert perfect["box"] < 1e-5
    shifted = exact + torch.tensor([2.0, 0.0, -2.0, 0.0])[None, :, None, None]  # same size, moved right
    _, c = dense_loss(DenseOutputs(seg, heat, shifted), None, None, target, weight, ciou)
    _, g = dense_loss(DenseOutputs(seg, heat, shifted), None, None, target, weight, LossWeights())
    assert c["box"] > g["box"] > 0


def test_the_iou_map_learns_the_iou_of_each_cells_box():
    from apps.vision.losses import paired_iou

    a = torch.tensor([[0.0, 0, 10, 10], [0, 0, 10, 10], [0, 0, 10, 10]])
    b = torch.tensor([[0.0, 0, 10, 10], [5, 0, 15, 10], [20, 20, 30, 30]])
    assert torch.allclose(paired_iou(a, b), torch.tensor([1.0, 1 / 3, 0.0]))
    exact, target, weight = _exact()
    seg, heat = torch.zeros(1, 2, 32, 32), torch.zeros(1, 1, 8, 8)
    right = DenseOutputs(seg, heat, exact, iou=torch.full((1, 1, 8, 8), 8.0))  # "IoU 1" where boxes are perfect
    wrong = DenseOutputs(seg, heat, exact, iou=torch.full((1, 1, 8, 8), -8.0))
    _, good = dense_loss(right, None, None, target, weight, LossWeights())
    _, bad = dense_loss(wrong, None, None, target, weight, LossWeights())
    assert good["iou"] < 0.01 < 1.0 < bad["iou"]
    _, none = dense_loss(right, None, None, target, weight, LossWeights(iou=0.0))
    assert "iou" not in none


def test_distribution_focal_loss_is_least_for_the_two_bins_around_the_true_distance():
    from apps.vision.losses import distribution_focal_loss

    distance = torch.tensor([[5.0, 0.0, 8.0, 100.0]])  # pixels: bins are 0, 4, 8, 12
    right = torch.full((1, 4, 4), -20.0)
    right[0, 0, 1], right[0, 0, 2] = math.log(0.75), math.log(0.25)  # 5 px = 3/4 of bin 1 + 1/4 of bin 2
    right[0, 1, 0] = right[0, 2, 2] = right[0, 3, 3] = 0.0  # 100 px is clipped to the last bin
    assert distribution_focal_loss(right, distance) < 0.2
    lopsided = right.clone()
    lopsided[0, 0, 1], lopsided[0, 0, 2] = 0.0, -20.0  # all on bin 1: the optimum splits 3:1
    assert distribution_focal_loss(lopsided, distance) > distribution_focal_loss(right, distance) + 0.1
    assert distribution_focal_loss(torch.zeros(1, 4, 4), distance) > 1.0  # uniform: log 4 per edge


def test_a_box_bins_model_trains_its_distributions_where_boxes_are_regressed():
    from apps.vision.model import bin_distances

    exact, target, weight = _exact()
    bins = 16
    position = (exact / 4).clamp(0, bins - 1 - 1e-3)  # [1, 4, 8, 8] in bins
    left = position.floor()
    spread = torch.stack([(1 - (position - left)) * (left == b) + (position - left) * (left + 1 == b)
                          for b in range(bins)], dim=2)  # the ideal distribution, [1, 4, bins, 8, 8]
    ideal = torch.log(spread + 1e-9)
    box = (ideal.softmax(2) * bin_distances(bins)[:, None, None]).sum(2)
    seg, heat = torch.zeros(1, 2, 32, 32), torch.zeros(1, 1, 8, 8)
    cells = weight[0] > 0
    assert torch.allclose(box[0][:, cells], exact.clamp(max=4 * (bins - 1))[0][:, cells], atol=1e-3)
    _, parts = dense_loss(DenseOutputs(seg, heat, box, box_logits=ideal), None, None, target, weight, LossWeights())
    _, flat = dense_loss(DenseOutputs(seg, heat, box, box_logits=torch.zeros_like(ideal)), None, None, target, weight,
                         LossWeights())
    assert parts["box"] < 1e-3 and parts["dfl"] < flat["dfl"] - 1.0
    _, off = dense_loss(DenseOutputs(seg, heat, box, box_logits=ideal), None, None, target, weight, LossWeights(dfl=0.0))
    assert "dfl" not in off
