"""Vision: semantic segmentation and object detection (work in progress: data layer only)."""
