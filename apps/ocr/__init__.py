"""Handwriting OCR: page images, line segmentation and pictures of what was read."""
