"""Handwriting OCR: rendered handwriting-font lines and real digit strings, a CTC line model on the shared core, page segmentation, tesseract comparison and batch reading."""
