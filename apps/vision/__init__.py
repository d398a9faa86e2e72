"""Vision: semantic segmentation, object detection and instance masks with a transformer trained
from scratch, against a classic Otsu + watershed peer (the App: :mod:`apps.vision.app`)."""
