"""The Otsu + watershed peer splits touching nuclei and finds the shipped ones."""

import numpy as np
from skimage.draw import disk

from apps.vision.datasets.nuclei import load_stardist_nuclei
from apps.vision.metrics import instance_f1
from apps.vision.peers import otsu_foreground, otsu_watershed_instances


def test_two_touching_discs_become_two_instances():
    image = np.zeros((40, 60), np.uint8)
    for centre in ((20, 20), (20, 37)):  # radii 9: the discs touch
        image[disk(centre, 9)] = 200
    labels = otsu_watershed_instances(image)
    assert len(np.unique(labels)) - 1 == 2
    assert not otsu_watershed_instances(np.zeros((10, 10), np.uint8)).any()


def test_finds_most_shipped_nuclei():
    image, labels = load_stardist_nuclei()
    pred = otsu_watershed_instances(image)
    masks = lambda lab: np.stack([lab == v for v in np.unique(lab) if v])  # noqa: E731
    assert instance_f1(masks(pred), masks(labels))["f1"] > 0.5
    assert (otsu_foreground(image) == (labels > 0)).mean() > 0.9
